"""What the gateway reads from the store: runs, accounts, orders, fills, trades, signals, the
saga's decisions and the audit trail, with filters and keyset pagination (a cursor names the last
row a page held, so pages stay stable while the desk appends)."""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Select, and_, func, literal_column, or_, select

from cluster.storage import audit
from cluster.storage import models as m
from cluster.storage.reads import reading
from cluster.storage.rows import stored
from serve.problems import Problem
from serve.schemas import AuditRecord

runs_t = m.Run.__table__
accounts_t = m.Account.__table__
signals_t = m.SignalRow.__table__
decisions_t = m.DecisionRow.__table__
orders_t = m.OrderRow.__table__
reports_t = m.ReportRow.__table__
fills_t = m.FillRow.__table__
trades_t = m.TradeRow.__table__
positions_t = m.PositionRow.__table__
equity_t = m.EquityRow.__table__
headroom_t = m.HeadroomRow.__table__
breaker_t = m.BreakerEventRow.__table__
bars_t = m.BarRow.__table__
# the run recorded last first (runs from before revision 0004 have no recorded_ns: they come after)
AUDIT_FIELDS = tuple(AuditRecord.model_fields)  # what an audit record shows: its columns but the chain's link
LATEST_FIRST = (runs_t.c.recorded_ns.is_(None), runs_t.c.recorded_ns.desc(), runs_t.c.started_ns.desc(), runs_t.c.run_id)


def exact(row: dict[str, Any]) -> dict[str, Any]:
    """Decimals as their exact strings."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


def matching(table: Any, **values: str | None) -> list[Any]:
    """The filters ``column == value`` of ``table`` for the values given (empty ones filter nothing)."""
    return [table.c[name] == value for name, value in values.items() if value]


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    """The key a cursor holds, or a 422 problem (a cursor is opaque: only one this API gave is valid)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Problem("invalid-request", "cursor: not a cursor this API gave") from None
    def fits(k: object, t: type) -> bool:  # a key the store can compare: a 64-bit int, a short string
        if isinstance(k, bool) or not isinstance(k, t):
            return False
        return 0 <= k < 2**63 if isinstance(k, int) else len(str(k)) <= 200

    if not isinstance(key, list) or len(key) != len(types) or not all(
            fits(k, t) for k, t in zip(key, types, strict=True)):
        raise Problem("invalid-request", "cursor: not a cursor this API gave")
    return key


ACK_BATCH = 500  # alerts read at a time while walking past those acknowledged (``Reader.alerts``)


class Reader:
    def __init__(self, engine: Engine) -> None:
        self.engine = reading(engine)  # reads only: never the write lock the desk needs (SQLite)

    def _all(self, q: Select[Any]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- runs ---------------------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        t = runs_t
        return self._all(select(t.c.run_id, t.c.status, t.c.started_ns, t.c.ticks, t.c.batches, t.c.elapsed_s,
                                t.c.recorded_ns).order_by(*LATEST_FIRST))

    def run(self, run_id: str) -> dict[str, Any]:
        t = runs_t
        rows = self._all(select(t.c.run_id, t.c.status, t.c.started_ns, t.c.ticks, t.c.batches, t.c.elapsed_s,
                                t.c.recorded_ns, t.c.summary).where(t.c.run_id == run_id))
        if not rows:
            raise Problem("not-found", f"no run {run_id!r}")
        return rows[0]

    def resolve(self, run_id: str | None, current: str | None) -> str:
        """The run asked for (it must exist), else the desk's current run, else the latest one."""
        if run_id:
            self.run(run_id)
            return run_id
        if current:
            with self.engine.connect() as conn:
                if conn.execute(select(runs_t.c.run_id).where(runs_t.c.run_id == current)).first():
                    return current
        with self.engine.connect() as conn:
            last = conn.execute(select(runs_t.c.run_id).order_by(*LATEST_FIRST).limit(1)).first()
        if last is None:
            raise Problem("not-found", "no run is recorded yet")
        return str(last[0])

    # -- accounts -----------------------------------------------------------------------------------
    def accounts(self, run_id: str, account_id: str | None = None) -> list[dict[str, Any]]:
        """Each account as of the run's last flush: balance and equity, headroom with each rule's
        floor and the worst case with open stops, open positions, and its breakers' last state."""
        q = select(accounts_t).order_by(accounts_t.c.account_id)
        if account_id is not None:
            q = q.where(accounts_t.c.account_id == account_id)
        with self.engine.connect() as conn:
            accounts = [dict(r) for r in conn.execute(q).mappings()]
            if account_id is not None and not accounts:
                raise Problem("not-found", f"no account {account_id!r}")
            last_eq = select(func.max(equity_t.c.id)).where(equity_t.c.run_id == run_id) \
                .group_by(equity_t.c.account_id)
            equity = {r["account_id"]: r for r in conn.execute(
                select(equity_t).where(equity_t.c.id.in_(last_eq))).mappings()}
            last_hr = select(func.max(headroom_t.c.id)).where(headroom_t.c.run_id == run_id) \
                .group_by(headroom_t.c.account_id)
            headroom = {r["account_id"]: r for r in conn.execute(
                select(headroom_t).where(headroom_t.c.id.in_(last_hr))).mappings()}
            positions: dict[str, list[dict[str, Any]]] = {}
            for r in conn.execute(select(positions_t).where(positions_t.c.run_id == run_id)
                                  .order_by(positions_t.c.position_id)).mappings():
                positions.setdefault(r["account_id"], []).append(exact(stored(r)))
            last_br = select(func.max(breaker_t.c.id)).where(breaker_t.c.run_id == run_id) \
                .group_by(breaker_t.c.tier, breaker_t.c.scope)
            breakers = [exact(stored(r)) for r in conn.execute(
                select(breaker_t).where(breaker_t.c.id.in_(last_br)).order_by(breaker_t.c.id)).mappings()]
        out = []
        for a in accounts:
            acc = a["account_id"]
            eq, hr = equity.get(acc), headroom.get(acc)
            out.append({
                "account_id": acc, "firm": a["firm"], "currency": a["currency"],
                "initial_balance": str(a["initial_balance"]),
                "balance": str(eq["balance"]) if eq else None, "equity": str(eq["equity"]) if eq else None,
                "as_of_ns": eq["ts_ns"] if eq else None,
                "headroom": {k: v for k, v in exact(stored(hr)).items() if k != "account_id"} if hr else None,
                "positions": positions.get(acc, []),
                "breakers": [b for b in breakers if b["scope"] in (acc, "desk", "*")],
            })
        return out

    def positions(self, run_id: str, account_id: str | None) -> list[dict[str, Any]]:
        q = select(positions_t).where(positions_t.c.run_id == run_id, *matching(positions_t, account_id=account_id))
        return [exact(stored(r)) for r in self._all(q.order_by(positions_t.c.account_id, positions_t.c.position_id))]

    def equity(self, run_id: str, account_id: str, points: int) -> dict[str, Any]:
        """The equity curve in at most ``points`` points: the rows split into that many spans of
        consecutive rows, each shown by its last row, with the lowest equity of the span."""
        t = equity_t
        with self.engine.connect() as conn:
            if conn.execute(select(accounts_t.c.account_id).where(accounts_t.c.account_id == account_id)).first() is None:
                raise Problem("not-found", f"no account {account_id!r}")
            rows = conn.execute(select(t.c.ts_ns, t.c.balance, t.c.equity, t.c.min_equity)
                                .where(t.c.run_id == run_id, t.c.account_id == account_id)
                                .order_by(t.c.ts_ns, t.c.id)).all()
        n = len(rows)
        out = []
        spans = min(points, n)
        for k in range(spans):
            a, b = k * n // spans, (k + 1) * n // spans
            span = rows[a:b]
            last = span[-1]
            lows = [r.min_equity if r.min_equity is not None else r.equity for r in span]
            out.append({"ts_ns": last.ts_ns, "balance": str(last.balance), "equity": str(last.equity),
                        "min_equity": str(min(lows))})
        return {"run_id": run_id, "account_id": account_id, "points_in_store": n, "items": out}

    # -- orders, fills, trades, signals ----------------------------------------------------------------
    def orders(self, run_id: str, account: str | None, symbol: str | None, status: str | None,
               from_ns: int | None, to_ns: int | None, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        r = reports_t
        first = select(r.c.client_order_id, func.min(r.c.ts_ns).label("placed_ns"), func.max(r.c.id).label("last_id")) \
            .where(r.c.run_id == run_id).group_by(r.c.client_order_id).subquery()
        last = r.alias("last_report")
        placed = func.coalesce(first.c.placed_ns, 0)
        q = select(orders_t, first.c.placed_ns, last.c.status) \
            .select_from(orders_t.outerjoin(first, first.c.client_order_id == orders_t.c.client_order_id)
                         .outerjoin(last, last.c.id == first.c.last_id)) \
            .where(orders_t.c.run_id == run_id, *matching(orders_t, account_id=account, symbol=symbol))
        if status:
            q = q.where(last.c.status == status)
        if from_ns is not None:
            q = q.where(placed >= from_ns)
        if to_ns is not None:
            q = q.where(placed < to_ns)
        if cursor:
            at, coid = decode_cursor(cursor, (int, str))
            q = q.where(or_(placed > at, and_(placed == at, orders_t.c.client_order_id > coid)))
        rows = self._all(q.order_by(placed, orders_t.c.client_order_id).limit(limit + 1))
        items = [exact(stored(x)) for x in rows[:limit]]
        nxt = encode_cursor(rows[limit - 1]["placed_ns"] or 0, rows[limit - 1]["client_order_id"]) \
            if len(rows) > limit else None
        return items, nxt

    def _by_id(self, table: Any, run_id: str, filters: list[Any], time_col: Any, from_ns: int | None,
               to_ns: int | None, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        q = select(table).where(table.c.run_id == run_id, *filters)
        if from_ns is not None:
            q = q.where(time_col >= from_ns)
        if to_ns is not None:
            q = q.where(time_col < to_ns)
        if cursor:
            (last_id,) = decode_cursor(cursor, (int,))
            q = q.where(table.c.id > last_id)
        rows = self._all(q.order_by(table.c.id).limit(limit + 1))
        items = [exact(stored(x)) for x in rows[:limit]]
        return items, (encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None)

    def fills(self, run_id: str, account: str | None, symbol: str | None, from_ns: int | None, to_ns: int | None,
              limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        t = fills_t
        return self._by_id(t, run_id, matching(t, account_id=account, symbol=symbol), t.c.ts_ns, from_ns, to_ns, limit,
                           cursor)

    def bars(self, symbol: str, seconds: int, from_ns: int | None, to_ns: int | None,
             limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Bars of ``symbol`` of ``seconds`` (a multiple of 60: made from the 1-minute bars, each
        starting on a multiple of its length) in time order from ``from_ns``, at most ``limit``; and
        whether more were in the window. Prices in points of the instrument's precision."""
        t = bars_t
        per, span = seconds // 60, seconds * 1_000_000_000
        where = [t.c.symbol == symbol, t.c.seconds == 60]
        if from_ns is not None:
            where.append(t.c.ts_ns >= from_ns - from_ns % span)
        if to_ns is not None:
            where.append(t.c.ts_ns < to_ns)
        cap = (limit + 1) * per  # the minutes read: enough for limit bars and one more
        if per == 1:
            out = self._all(select(t.c.ts_ns, t.c.open, t.c.high, t.c.low, t.c.close, t.c.volume).where(*where)
                            .order_by(t.c.ts_ns).limit(cap))
            return out[:limit], len(out) > limit
        # the same minutes as ever (the first ``cap``), made into bars by the database, not one row at a time here
        # (5,000 hourly bars were 300,000 rows through Python: 3.6 s)
        bucket = (t.c.ts_ns - t.c.ts_ns % literal_column(str(span))).label("bucket")  # a literal: GROUP BY matches it
        o, c = t.alias("o"), t.alias("c")
        with self.engine.connect() as conn:  # one transaction for both: the minutes counted are the ones made into bars
            cut = conn.execute(select(t.c.ts_ns).where(*where).order_by(t.c.ts_ns).offset(cap - 1).limit(1)).scalar()
            if cut is not None:
                where.append(t.c.ts_ns <= cut)
            g = select(bucket, func.max(t.c.high).label("high"), func.min(t.c.low).label("low"),
                       func.sum(t.c.volume).label("volume"), func.min(t.c.ts_ns).label("first_ts"),
                       func.max(t.c.ts_ns).label("last_ts")).where(*where).group_by(bucket).subquery()
            out = [dict(r) for r in conn.execute(
                select(g.c.bucket.label("ts_ns"), o.c.open, g.c.high, g.c.low, c.c.close, g.c.volume)
                .join(o, and_(o.c.symbol == symbol, o.c.seconds == 60, o.c.ts_ns == g.c.first_ts))
                .join(c, and_(c.c.symbol == symbol, c.c.seconds == 60, c.c.ts_ns == g.c.last_ts))
                .order_by(g.c.bucket)).mappings()]
        for b in out:
            b["volume"] = int(b["volume"])
        if cut is not None and len(out) > 1:
            out.pop()  # the last may lack minutes past the rows read
        return out[:limit], len(out) > limit or cut is not None

    def alerts(self, run_id: str, unacked: bool, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """What the operator must see in the run, oldest first: each breaker that opened, and each alert the desk
        raised ahead of a firm's deadline (the audit trail's ``warning``: an inactivity deadline, the news
        calendar's end), with its acknowledgement (the desk's audit record of an operator's ``ack``), if any;
        ``unacked``: only those without one, a page filled past those acknowledged (the last page may hold fewer).
        The two are merged by time; the cursor holds where each of them stopped."""
        b, a = breaker_t, audit.audit
        last_breaker, last_warning = decode_cursor(cursor, (int, int)) if cursor else (0, 0)
        acked = self._acked(run_id) if unacked else set()  # ids only: no alert given has an acknowledgement
        # those acknowledged are walked past in batches of at least ACK_BATCH, whatever ``limit`` (a query per
        # acknowledged alert otherwise); a full page looks ahead for one more left to give before it promises more
        batch = max(limit, ACK_BATCH) if unacked else limit
        items: list[dict[str, Any]] = []
        mark: str | None = None  # the cursor after the page's last item, once the page is full
        while True:
            breakers = self._all(select(b).where(b.c.run_id == run_id, b.c.to_state == "open", b.c.id > last_breaker)
                                 .order_by(b.c.id).limit(batch + 1))
            warnings = self._all(select(a.c.seq, a.c.ts_ns, a.c.account_id, a.c.payload)
                                 .where(a.c.run_id == run_id, a.c.kind == "warning", a.c.seq > last_warning)
                                 .order_by(a.c.seq).limit(batch + 1))
            merged: list[tuple[int, int, int, dict[str, Any]]] = []  # (ts_ns, breaker first, id, item)
            for r in breakers:
                merged.append((r["ts_ns"], 0, r["id"], {
                    "alert_id": f"breaker-{r['id']}", "kind": "breaker", "ts_ns": r["ts_ns"], "tier": r["tier"],
                    "scope": r["scope"], "trigger": r["trigger"], "action": r["action"]}))
            for w in warnings:
                pay = w["payload"] or {}
                merged.append((w["ts_ns"], 1, w["seq"], {
                    "alert_id": f"warning-{w['seq']}", "kind": "warning", "ts_ns": w["ts_ns"],
                    "tier": "account" if w["account_id"] else "system", "scope": w["account_id"] or "desk",
                    "trigger": str(pay.get("rule", "")), "action": str(pay.get("text", "")),
                    "due_ns": pay.get("due_ns"), "accounts": pay.get("accounts") or None}))
            merged.sort(key=lambda m: m[:3])
            acks = {} if unacked else self._acks(run_id, [m[3]["alert_id"] for m in merged[:batch]])
            # the first ``batch`` merged are the run's next ones in order: each source gave one more than that
            for _, source, ident, item in merged[:batch]:
                if item["alert_id"] in acked:
                    pass
                elif mark is not None:  # one more to give after a full page
                    return items, mark
                else:
                    items.append({**item, **(acks.get(item["alert_id"]) or {})})
                if source == 0:
                    last_breaker = ident
                else:
                    last_warning = ident
                if mark is None and len(items) == limit:
                    mark = encode_cursor(last_breaker, last_warning)
            if len(merged) <= batch:
                return items, None
            if mark is not None and not unacked:  # every one is given: one more is there
                return items, mark

    def _ack_records(self, run_id: str) -> Select[Any]:
        """The run's acknowledgements: the desk's audit records of an operator's ``ack`` (the refused ones too: their
        ``outcome`` does not start with ``acknowledged``), oldest first."""
        a = audit.audit
        return select(a.c.ts_ns, a.c.payload).where(a.c.run_id == run_id, a.c.kind == "operator",
                                                    a.c.payload["action"].as_string() == "ack").order_by(a.c.seq)

    def _acked(self, run_id: str) -> set[str]:
        """The ids of the run's alerts acknowledged: one column of the acknowledgements, not their notes."""
        a = audit.audit
        q = self._ack_records(run_id).with_only_columns(a.c.payload["alert_id"].as_string().label("alert_id"))
        q = q.where(a.c.payload["outcome"].as_string().like("acknowledged%"))
        return {str(r["alert_id"]) for r in self._all(q)}

    def _acks(self, run_id: str, alert_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The first acknowledgement of each of ``alert_ids`` in the run, read for those ids only: a long run's
        acknowledgements are not all read at every page."""
        a, acks = audit.audit, dict[str, dict[str, Any]]()
        for i in range(0, len(alert_ids), ACK_BATCH):
            for rec in self._all(self._ack_records(run_id)
                                 .where(a.c.payload["alert_id"].as_string().in_(alert_ids[i:i + ACK_BATCH]))):
                pay = rec["payload"] or {}
                if str(pay.get("outcome", "")).startswith("acknowledged"):
                    acks.setdefault(str(pay.get("alert_id")), {"acked_by": pay.get("who"), "acked_ns": rec["ts_ns"],
                                                               "ack_note": pay.get("reason")})
        return acks

    def alert_exists(self, alert_id: str, run_id: str | None) -> bool:
        """Whether ``alert_id`` is an alert of ``run_id`` (the desk's run, which records the acknowledgement;
        None: no desk, any run)."""
        kind, _, number = alert_id.partition("-")
        n = int(number)
        if n >= 2**63:
            return False
        if kind == "warning":
            a = audit.audit
            q = select(a.c.seq).where(a.c.seq == n, a.c.kind == "warning")
            return bool(self._all(q if run_id is None else q.where(a.c.run_id == run_id)))
        b = breaker_t
        q = select(b.c.id).where(b.c.id == n, b.c.to_state == "open")
        return bool(self._all(q if run_id is None else q.where(b.c.run_id == run_id)))

    def signals_between(self, run_id: str, symbol: str, from_ns: int, to_ns: int) -> list[dict[str, Any]]:
        t = signals_t
        q = select(t).where(t.c.run_id == run_id, t.c.symbol == symbol, t.c.ts_ns >= from_ns, t.c.ts_ns < to_ns)
        return [exact(stored(x)) for x in self._all(q.order_by(t.c.id).limit(1000))]

    def signals(self, run_id: str, symbol: str | None, setup: str | None, from_ns: int | None, to_ns: int | None,
                limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        t = signals_t
        return self._by_id(t, run_id, matching(t, symbol=symbol, setup=setup), t.c.ts_ns, from_ns, to_ns, limit, cursor)

    def trades(self, run_id: str, account: str | None, symbol: str | None, from_ns: int | None, to_ns: int | None,
               limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        t = trades_t
        q = select(t).where(t.c.run_id == run_id, *matching(t, account_id=account, symbol=symbol))
        if from_ns is not None:
            q = q.where(t.c.closed_ns >= from_ns)
        if to_ns is not None:
            q = q.where(t.c.closed_ns < to_ns)
        if cursor:
            at, pid = decode_cursor(cursor, (int, str))
            q = q.where(or_(t.c.closed_ns > at, and_(t.c.closed_ns == at, t.c.position_id > pid)))
        rows = self._all(q.order_by(t.c.closed_ns, t.c.position_id).limit(limit + 1))
        items = [exact(stored(x)) for x in rows[:limit]]
        nxt = encode_cursor(rows[limit - 1]["closed_ns"], rows[limit - 1]["position_id"]) if len(rows) > limit else None
        return items, nxt

    def decisions(self, run_id: str, signal_id: str) -> list[dict[str, Any]]:
        t = decisions_t
        with self.engine.connect() as conn:
            if conn.execute(select(signals_t.c.id).where(signals_t.c.run_id == run_id,
                                                         signals_t.c.signal_id == signal_id).limit(1)).first() is None:
                raise Problem("not-found", f"no signal {signal_id!r} in run {run_id!r}")
        return [exact(stored(x)) for x in self._all(select(t).where(t.c.run_id == run_id, t.c.signal_id == signal_id)
                                                    .order_by(t.c.id))]

    def operator(self, run_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """The run's operator records (audit records of kind ``operator``), oldest first."""
        a = audit.audit
        q = select(a).where(a.c.run_id == run_id, a.c.kind == "operator")
        if cursor:
            (last,) = decode_cursor(cursor, (int,))
            q = q.where(a.c.seq > last)
        rows = self._all(q.order_by(a.c.seq).limit(limit + 1))
        items = [{k: r[k] for k in AUDIT_FIELDS} for r in rows[:limit]]
        return items, (encode_cursor(rows[limit - 1]["seq"]) if len(rows) > limit else None)

    def story(self, client_order_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
        records = audit.story(self.engine, client_order_id, run_id)
        if not records:
            raise Problem("not-found", f"no audit record of order {client_order_id!r}"
                          + (f" in run {run_id!r}" if run_id is not None else ""))
        return [{k: getattr(r, k) for k in AUDIT_FIELDS} for r in records]

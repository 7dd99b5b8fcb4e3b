"""ComplianceAgent: pre-trade veto on the worst case and every firm rule, cross-account conduct,
and the post-trade headroom monitor."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from actors.execution import ExecUpdate
from trading.closures import MarketClosures
from trading.compliance import AccountRules, ComplianceDecision, CostAllowance, Headroom
from trading.conduct import CrossAccountConduct, firm_of
from trading.errors import InvalidValue
from trading.fx import rates_from
from trading.instruments import InstrumentRegistry
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.market import utc_text
from trading.news import NewsCalendar
from trading.orders import FillKind, Order, OrderStatus
from trading.passodds import MonitorSettings, PassOddsMonitor, prior_from_trades_csv
from trading.rules import FirmRules

SETTLED = frozenset({OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})


@dataclass(frozen=True, slots=True)
class Complied:
    """The saga's compliance step: each account's decision, and the orders of those allowed (by
    account, in the order checked) that the execution step sends."""

    decisions: dict[str, ComplianceDecision] = field(default_factory=dict)
    approved: dict[str, list[Order]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FilesRead:
    """The files a running desk read again (``ComplianceAgent.reload_files``): the news calendar and the market
    closures now in force, and for each file that could not be read, (its setting, why): the one before stays."""

    news: NewsCalendar
    closures: MarketClosures
    errors: tuple[tuple[str, str], ...] = ()


def _why(exc: BaseException, path: str | None) -> str:
    """A file's read error in one line of at most 240 characters, naming the file by its name only (the alert is
    for viewers): the reader's words (a row and why), or the system's (no such file)."""
    if isinstance(exc, OSError):
        text = f"{exc.strerror or type(exc).__name__}: {exc.filename}" if exc.filename else str(exc)
    else:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if path:
        text = text.replace(str(path), Path(path).name)
    return text if len(text) <= 240 else text[:239] + "…"


class ComplianceAgent:
    def __init__(self, registry: InstrumentRegistry, rules: dict[str, FirmRules],
                 costs: dict[str, CostAllowance], owners: Mapping[str, str] | None = None,
                 news_calendar: str | None = None, pass_odds: MonitorSettings | None = None,
                 risk_pct: Mapping[str, float] | None = None, prior_trades: str | None = None,
                 consistency_guard: bool = True, news_tz: str | None = None,
                 capital: Mapping[str, tuple[Decimal, str]] | None = None, closures: str | None = None,
                 idle_since: Mapping[str, int] | None = None) -> None:
        self.registry = registry
        self.accounts = {acc: AccountRules(rules[acc], costs[acc], registry, None, consistency_guard,
                                           idle_since_ns=(idle_since or {}).get(acc, 0))
                         for acc in rules}
        self._files(news_calendar, news_tz, closures)
        self.conduct = CrossAccountConduct(rules, owners, capital)
        self.last: dict[str, AccountSnapshot] = {}
        self.last_events = 0
        settings = pass_odds or MonitorSettings(enabled=False)
        priors = {acc: prior_from_trades_csv(Path(prior_trades), rules[acc], settings.block_days)
                  for acc in rules} if prior_trades and settings.enabled else {}
        self.odds = PassOddsMonitor(settings, {acc: float((risk_pct or {}).get(acc, 0.5)) for acc in rules}, priors,
                                    consistency_guard)

    def _files(self, news_calendar: str | None, news_tz: str | None, closures: str | None) -> None:
        """Read the news calendar and the market closures (files the operator edits: next week's export,
        the breaks a firm announces) into every account's rules."""
        self.news = NewsCalendar.from_csv(Path(news_calendar), news_tz) if news_calendar else NewsCalendar()
        breaks = MarketClosures.from_csv(Path(closures)) if closures else MarketClosures()
        for rules in self.accounts.values():
            rules.news, rules.closures = self.news, breaks

    def reload_files(self, news_calendar: str | None, news_tz: str | None, closures: str | None) -> FilesRead:
        """The news calendar and the market closures read again, as the operator has written them since (a running
        desk's ``reload``), checked as `desk start` checks them (a break of an instrument the desk does not have is
        refused). All or nothing: if either cannot be read (missing, cut short, not a calendar), both stay as they
        were and the answer says why. The desk takes what this answers, so that it, this agent and the breaker hold
        the same (and a replayed unit gets this answer back, whatever the files hold by then)."""
        errors: list[tuple[str, str]] = []
        news, breaks = self.news, self._closures()
        try:
            read_news = NewsCalendar.from_csv(Path(news_calendar), news_tz) if news_calendar else NewsCalendar()
        except (OSError, ValueError) as exc:
            errors.append(("news_calendar", _why(exc, news_calendar)))
        try:
            read_breaks = MarketClosures.from_csv(Path(closures)) if closures else MarketClosures()
            for brk in read_breaks.closures:
                unknown = sorted((brk.symbols or frozenset()) - set(self.registry.symbols))
                if unknown:  # a break of a symbol the desk does not know protects nothing: a typo
                    raise InvalidValue(f"{closures}:{brk.line}", ", ".join(unknown),
                                       f"unknown instrument (known: {', '.join(self.registry.symbols)})")
        except (OSError, ValueError) as exc:
            errors.append(("market_closures", _why(exc, closures)))
        if errors:
            return FilesRead(news, breaks, tuple(errors))
        self.news = read_news
        for rules in self.accounts.values():
            rules.news, rules.closures = read_news, read_breaks
        return FilesRead(read_news, read_breaks)

    def _closures(self) -> MarketClosures:
        """The market closures its firm rules hold (every account's are the same)."""
        return next(iter(self.accounts.values())).closures if self.accounts else MarketClosures()

    def calendars(self) -> dict[str, object]:
        """The files it reads the news and the market closures from, and how many events and breaks each held."""
        closures = self._closures()
        return {"news_calendar": self.news.source, "news_events": len(self.news),
                "market_closures": closures.source, "closures": len(closures)}

    def refresh(self, *args: object) -> None:
        """A resumed desk's agent, given its settings again (``actors.shell``): the files as they are now,
        not as they were when its state was saved, and each account's last trade before the desk."""
        bound = inspect.signature(ComplianceAgent.__init__).bind(self, *args)
        bound.apply_defaults()
        a = bound.arguments
        self._files(a["news_calendar"], a["news_tz"], a["closures"])
        for acc, rules in self.accounts.items():  # an account's last trade given (or corrected) since
            rules.restart_clock((a["idle_since"] or {}).get(acc, 0))

    def _with_odds(self, acc: str, snap: AccountSnapshot, head: Headroom, trades: Sequence[ClosedTrade]) -> Headroom:
        """The headroom with the pass-odds monitor's answer, re-run after closed trades (at most
        once per ``every_minutes``) and at each new firm day."""
        rules = self.accounts[acc]
        traded = self.odds.record(acc, rules.rules, trades)
        if self.odds.due(acc, rules.rules, snap.ts_ns, traded):
            self.odds.evaluate(acc, rules.rules, rules.challenge_state(snap, self.odds.settings.horizon_days),
                               snap.ts_ns)
        report = self.odds.accounts[acc].report
        if report is None:
            return head
        current = report.current
        return replace(head, pass_probability=current.p_pass if report.has_target else None,
                       hard_breach_probability=current.p_hard_breach,
                       pass_risk_pct=None if report.best_risk_fraction is None else report.best_risk_fraction * 100)

    def observe(self, snapshots: Mapping[str, AccountSnapshot], mids: Mapping[str, Decimal],
                trades: Sequence[ClosedTrade] = ()) -> dict[str, Headroom]:
        rates = rates_from(self.registry, mids)
        self.last_events = len(snapshots)
        self.last.update(snapshots)
        out = {}
        for acc, snap in snapshots.items():
            mine = [t for t in trades if t.account_id == acc]
            out[acc] = self._with_odds(acc, snap, self.accounts[acc].observe(snap, rates, mine), mine)
        return out

    def observe_update(self, update: ExecUpdate) -> dict[str, Headroom]:
        """``observe`` for an execution agent's update, which the desk passes on as Ray's reference
        to it: the headroom is worked out as soon as the update exists, while the desk books it."""
        for report in update.reports:  # what the legs allowed did: the snapshot now holds what filled of them
            rules = self.accounts.get(report.account_id)
            if rules is None:
                continue
            opening = report.fill is not None and report.fill.kind is FillKind.OPEN
            if report.status is OrderStatus.FILLED and not opening:
                continue  # a closing fill of a position, reported under the order that opened it
            if report.status in SETTLED:
                rules.settled(report.client_order_id)
            elif opening and report.fill is not None:
                rules.filled(report.client_order_id, report.fill.lots)
        return self.observe(update.snapshots, update.mids, update.trades)

    def check(self, orders: Mapping[str, list[Order]], snapshots: Mapping[str, AccountSnapshot],
              mids: Mapping[str, Decimal]) -> dict[str, ComplianceDecision]:
        rates = rates_from(self.registry, mids)
        self.last_events = len(orders)
        out = {}
        due = self.idle_due(orders, snapshots)
        for acc in [*due, *sorted(set(orders) - set(due))]:
            legs = orders[acc]
            decision = self.accounts[acc].check(legs, snapshots[acc], rates)
            if decision.allowed:
                reason, note = self.conduct.judge(acc, legs, snapshots)
                if reason:
                    rule, _, why = reason.partition(": ")
                    decision = replace(decision, allowed=False, rule=rule, reason=why)
                else:
                    self.conduct.placed(acc, legs)
                    self.accounts[acc].placed(legs, snapshots[acc], rates)  # held, for the size rules, until settled
                    if due.get(acc):  # why it, and not an account judged before it until now, took a contested order
                        note = "; ".join(filter(None, [note, due[acc]]))
                    if note:  # what a firm restricts and allowed here goes into the audit with the decision
                        decision = replace(decision, reason=f"{decision.reason}; {note}")
            out[acc] = decision
        self.conduct.forget_old()
        return {acc: out[acc] for acc in sorted(out)}

    def idle_due(self, orders: Mapping[str, object], snapshots: Mapping[str, AccountSnapshot]) -> dict[str, str]:
        """The accounts of ``orders`` judged first, nearest deadline first, each with a note for the audit ('' where
        no other account of its firm is judged with it): those whose firm's inactivity rule has run past half its
        days without a trade entered. When a conduct rule
        lets only one of an owner's accounts at a firm take an order (copy trading), the first judged takes it:
        by id alone, the same account would take every order of a strategy all of them run, and the others would
        be closed for inactivity. The rest keep the order of their ids."""
        due: list[tuple[int, str]] = []
        for acc in orders:
            deadline, limit = self.accounts[acc].idle_deadline_ns(), self.accounts[acc].rules.activity.limit_ns
            if deadline and 2 * (deadline - snapshots[acc].ts_ns) <= limit:
                due.append((deadline, acc))
        if not due:  # the common case: no note to write
            return {}
        firms = Counter(firm_of(self.accounts[acc].rules) for acc in orders)

        # the note only where another account of its firm was judged with it: the order it may have taken
        return {acc: "" if firms[firm_of(self.accounts[acc].rules)] < 2 else
                f"inactivity: judged before the firm's other accounts, as no trade has been entered since "
                f"{utc_text(self.accounts[acc].state.last_entry_ns)} and its firm closes it if none is by {utc_text(deadline)}"
                for deadline, acc in sorted(due)}

    def check_styled(self, styled: Mapping[str, list[Order]], snapshots: Mapping[str, AccountSnapshot],
                     mids: Mapping[str, Decimal]) -> Complied:
        """The saga's step after the execution style, handed its output: ``check`` on the accounts
        with legs. No account with legs: an empty answer at once, the conduct rules untouched."""
        orders = {acc: legs for acc, legs in styled.items() if legs}
        if not orders:
            return Complied()
        decisions = self.check(orders, snapshots, mids)
        return Complied(decisions, {acc: orders[acc] for acc, d in decisions.items() if d.allowed})

    def pass_odds(self, acc: str) -> dict[str, object]:
        """The monitor's last answer for ``acc``, or why there is none."""
        if not self.odds.settings.enabled:
            return {"enabled": False}
        odds = self.odds.accounts[acc]
        if odds.report is None:
            return {"enabled": True, "why_none": odds.why_none or "not evaluated yet", "at_ns": odds.last_ns}
        return {"enabled": True, "at_ns": odds.last_ns, **odds.report.as_dict()}

    def report(self) -> dict[str, dict[str, object]]:
        return {
            acc: {"breaches": list(r.state.breaches), "soft_breaches": list(r.state.soft_breaches),
                  "violations": list(r.state.violations),
                  "min_daily_headroom": r.state.min_daily_headroom,
                  "min_max_loss_headroom": r.state.min_max_loss_headroom, "rules": r.rules.name,
                  "day_references": {str(day): {"at_ns": at, "reference": ref}
                                     for day, (at, ref) in sorted(r.state.references.items())},
                  "objectives": r.objectives(self.last[acc]) if acc in self.last else {},
                  "day_profit_cap": r.day_profit_cap(self.last[acc]) if acc in self.last else None,
                  # the inactivity rule: the firm closes the account if no trade is entered by then
                  "max_idle_days": r.rules.activity.max_idle_days, "last_entry_ns": r.state.last_entry_ns or None,
                  "idle_deadline_ns": r.idle_deadline_ns() or None,
                  "idle_ran_out": r.state.idle_breached,  # the stretch to that deadline has run out
                  "pass_odds": self.pass_odds(acc)}
            for acc, r in self.accounts.items()
        }

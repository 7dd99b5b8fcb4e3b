//! The order state machine, the last-line limits and the paper venue.
//!
//! Deterministic: it reads no clock and no randomness, only the commands it is given, so
//! replaying the journal's commands rebuilds exactly the same orders, positions and reports.
//!
//! An order moves new -> accepted -> partially filled -> filled / cancelled / expired, or
//! new -> rejected, or accepted -> rejected when the fill price moved past its slippage limit.
//! Every transition is an execution report with the next sequence number. A filled order's
//! position is protected by its stop-loss and take-profit, which close it on the first quote that
//! crosses them, at that quote's price: a gap fills worse than the stop, as in a market. When both
//! would trigger on one quote, the stop wins.

use crate::config::{AccountConfig, Config};
use crate::pb::{
    self, CloseReason, FillKind, OrderStatus, OrderType, RejectCode, ReportEvent, Side,
};
use crate::snapshot as sn;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A refused command: the code, the message, and for orders the report that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub code: RejectCode,
    pub message: String,
    pub report: Option<Box<pb::ExecutionReport>>,
}

impl Reject {
    fn new(code: RejectCode, message: impl Into<String>) -> Reject {
        Reject { code, message: message.into(), report: None }
    }
}

/// What a submit returned the first time; a duplicate submit returns it again.
pub type SubmitResult = Result<pb::ExecutionReport, Reject>;

#[derive(Debug, Clone)]
struct OrderRec {
    order: pb::Order,
    /// The order as first submitted (`order` follows modifies): what a resubmit is compared with.
    submitted: pb::Order,
    status: OrderStatus,
    filled: i64,
    avg_price: i64,
    /// The first result, its report by sequence number (every report is in `Engine::reports`).
    first: First,
    /// The sequence number of the order's last report (0 = none yet).
    last_seq: u64,
}

/// What a submit returned the first time, without a copy of its report.
#[derive(Debug, Clone)]
enum First {
    Accepted(u64),
    Refused { code: RejectCode, message: String, seq: u64 },
}

#[derive(Debug, Clone)]
struct PositionRec {
    id: String,
    account: String,
    symbol: String,
    side: Side,
    quantity: i64,
    entry: i64,
    stop_loss: i64,
    take_profit: i64,
    opened_ns: i64,
    /// Non-empty: a flatten at the next quote is pending, for this reason, sent at `closing_ns`.
    closing: String,
    closing_ns: i64,
}

impl PositionRec {
    fn to_pb(&self) -> pb::Position {
        pb::Position {
            position_id: self.id.clone(),
            account_id: self.account.clone(),
            symbol: self.symbol.clone(),
            side: self.side as i32,
            quantity: self.quantity,
            entry_price: self.entry,
            stop_loss: self.stop_loss,
            take_profit: self.take_profit,
            opened_ns: self.opened_ns,
            closing: self.closing.clone(),
            closing_ns: self.closing_ns,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Quote {
    ts: i64,
    bid: i64,
    ask: i64,
}

pub struct Engine {
    cfg: Config,
    instruments: HashMap<String, usize>,
    accounts: HashMap<String, AccountConfig>,
    orders: HashMap<String, OrderRec>,
    /// Working (accepted, not yet done) orders per symbol, ordered by (not_before, id).
    working: HashMap<String, BTreeMap<(i64, String), ()>>,
    /// Open positions per symbol, ordered by (opened, id).
    positions: HashMap<String, BTreeMap<(i64, String), PositionRec>>,
    last_quote: HashMap<String, Quote>,
    /// Units per (account, symbol) in open positions and working orders: the notional check
    /// reads this instead of walking every order.
    exposure: HashMap<(String, String), i64>,
    reports: Vec<pb::ExecutionReport>,
    halted: Option<String>,
    halted_accounts: BTreeMap<String, String>,
    /// Per quote stream (a client's `stream_id`): its newest batch and the recent batches' reports.
    last_batch: HashMap<String, u64>,
    batch_reports: HashMap<String, BTreeMap<u64, (u64, u64)>>,
    /// When each stream last pushed (a counter): past `MAX_STREAMS` the least recent is forgotten.
    stream_used: HashMap<String, u64>,
    stream_clock: u64,
    flatten_reports: HashMap<String, (u64, u64)>,
    now: i64,
    /// Symbols whose last quote was invalid: the next one does not continue a path (not kept in a
    /// snapshot: after a restart the next quote continues from the last valid one).
    path_broken: HashSet<String>,
}

/// Quote streams whose batch records are kept (one per client: a session's desk, a benchmark).
pub const MAX_STREAMS: usize = 256;

fn sign(side: Side) -> i64 {
    if side == Side::Sell {
        -1
    } else {
        1
    }
}

fn opposite(side: Side) -> Side {
    if side == Side::Buy {
        Side::Sell
    } else {
        Side::Buy
    }
}

pub fn is_done(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected | OrderStatus::Expired
    )
}

impl Engine {
    pub fn new(cfg: Config) -> Engine {
        Engine {
            instruments: HashMap::new(),
            accounts: HashMap::new(),
            cfg,
            orders: HashMap::new(),
            working: HashMap::new(),
            positions: HashMap::new(),
            last_quote: HashMap::new(),
            exposure: HashMap::new(),
            reports: Vec::new(),
            halted: None,
            halted_accounts: BTreeMap::new(),
            last_batch: HashMap::new(),
            batch_reports: HashMap::new(),
            stream_used: HashMap::new(),
            stream_clock: 0,
            flatten_reports: HashMap::new(),
            now: 0,
            path_broken: HashSet::new(),
        }
        .configured()
    }

    fn configured(mut self) -> Engine {
        self.instruments = self.cfg.instruments.iter().enumerate().map(|(i, x)| (x.symbol.clone(), i)).collect();
        self.accounts = self.cfg.accounts.iter().map(|a| (a.id.clone(), a.clone())).collect();
        self
    }

    /// The configuration in force: the limits and venue model that the next command meets.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// A configuration change (a journaled command): it applies to the commands after it only.
    /// The caller has checked it with `Config::check_change_from`.
    pub fn set_config(&mut self, cfg: Config) {
        let this = std::mem::replace(self, Engine::new(cfg.clone()));
        *self = Engine { cfg, ..this }.configured();
    }

    // ----- reading -------------------------------------------------------------------------

    pub fn last_seq(&self) -> u64 {
        self.reports.len() as u64
    }

    /// Reports with from < seq <= to (sequence numbers start at 1).
    pub fn reports_between(&self, from: u64, to: u64) -> &[pb::ExecutionReport] {
        let to = to.min(self.last_seq());
        if from >= to {
            return &[];
        }
        &self.reports[from as usize..to as usize]
    }

    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    pub fn halted_accounts(&self) -> Vec<String> {
        self.halted_accounts.keys().cloned().collect()
    }

    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    pub fn open_positions(&self) -> usize {
        self.positions.values().map(|m| m.len()).sum()
    }

    /// Whether a quote batch could change anything but the latest quotes.
    pub fn has_live_orders(&self) -> bool {
        self.working.values().any(|m| !m.is_empty()) || self.open_positions() > 0
    }

    pub fn get_order(&self, id: &str) -> Option<pb::OrderReply> {
        let rec = self.orders.get(id)?;
        let open = self
            .positions
            .get(&rec.order.symbol)
            .map(|m| m.values().any(|p| p.id == id))
            .unwrap_or(false);
        Some(pb::OrderReply {
            order: Some(rec.order.clone()),
            status: rec.status as i32,
            filled_quantity: rec.filled,
            average_price: rec.avg_price,
            position_open: open,
            last_report: self.report(rec.last_seq),
        })
    }

    pub fn list_positions(&self, account: &str) -> Vec<pb::Position> {
        let mut out: Vec<pb::Position> = self
            .positions
            .values()
            .flat_map(|m| m.values())
            .filter(|p| account.is_empty() || p.account == account)
            .map(PositionRec::to_pb)
            .collect();
        out.sort_by(|a, b| (a.opened_ns, &a.position_id).cmp(&(b.opened_ns, &b.position_id)));
        out
    }

    /// The first result of a submit with this id, if any: what a duplicate submit returns.
    pub fn previous_submit(&self, id: &str) -> Option<SubmitResult> {
        let rec = self.orders.get(id)?;
        Some(match &rec.first {
            First::Accepted(seq) => Ok(self.report(*seq).unwrap_or_default()),
            First::Refused { code, message, seq } => Err(Reject {
                code: *code,
                message: message.clone(),
                report: self.report(*seq).map(Box::new),
            }),
        })
    }

    /// Report `seq` (from 1), if there is one.
    fn report(&self, seq: u64) -> Option<pb::ExecutionReport> {
        (seq > 0).then(|| self.reports.get(seq as usize - 1).cloned()).flatten()
    }

    /// What a batch of this stream already applied returned, if it was applied: a re-sent batch
    /// is answered from it. Another stream's batch of the same number is a batch of its own.
    pub fn previous_batch(&self, stream_id: &str, batch_seq: u64) -> Option<Vec<pb::ExecutionReport>> {
        let last = self.last_batch.get(stream_id).copied().unwrap_or(0);
        if batch_seq == 0 || batch_seq > last {
            return None;
        }
        let (a, b) = self.batch_reports.get(stream_id).and_then(|m| m.get(&batch_seq)).copied().unwrap_or((0, 0));
        Some(self.reports_between(a, b).to_vec())
    }

    /// A submit that reuses a placed order's id for another order: what the two are, to refuse it.
    /// The same order again (a retry, a replay) is not a conflict: it is answered from the first.
    pub fn conflicting_submit(&self, o: &pb::Order) -> Option<String> {
        let first = &self.orders.get(&o.client_order_id)?.submitted;
        if first == o {
            return None;
        }
        let show = |x: &pb::Order| {
            format!("{} {} {} {} units, stop {}, take profit {}, limit {}, signal {}", x.account_id, x.symbol,
                    if x.side == Side::Sell as i32 { "sell" } else { "buy" }, x.quantity, x.stop_loss, x.take_profit,
                    x.limit_price, x.signal_id)
        };
        Some(format!("client order id {} was placed as [{}] and is now sent as [{}]", o.client_order_id,
                     show(first), show(o)))
    }

    pub fn previous_flatten(&self, request_id: &str) -> Option<Vec<pb::ExecutionReport>> {
        let (a, b) = *self.flatten_reports.get(request_id)?;
        Some(self.reports_between(a, b).to_vec())
    }

    // ----- snapshots -----------------------------------------------------------------------

    /// The whole state, for a snapshot (see `snapshot`). Maps are written in key order, so the
    /// same state gives the same bytes.
    pub fn to_state(&self) -> sn::State {
        let mut ids: Vec<&String> = self.orders.keys().collect();
        ids.sort();
        let orders = ids
            .into_iter()
            .map(|id| {
                let r = &self.orders[id];
                let (first_ok, first_seq, reject_code, reject_message) = match &r.first {
                    First::Accepted(seq) => (true, *seq, 0, String::new()),
                    First::Refused { code, message, seq } => (false, *seq, *code as i32, message.clone()),
                };
                sn::OrderState {
                    order: Some(r.order.clone()),
                    submitted: (r.submitted != r.order).then(|| r.submitted.clone()),
                    status: r.status as i32,
                    filled: r.filled,
                    avg_price: r.avg_price,
                    first_ok,
                    first_seq,
                    reject_code,
                    reject_message,
                    last_seq: r.last_seq,
                }
            })
            .collect();
        let mut symbols: Vec<&String> = self.positions.keys().collect();
        symbols.sort();
        let positions = symbols
            .into_iter()
            .flat_map(|s| self.positions[s].values())
            .map(PositionRec::to_pb)
            .collect();
        let mut quotes: Vec<sn::QuoteState> = self
            .last_quote
            .iter()
            .map(|(s, q)| sn::QuoteState { symbol: s.clone(), ts: q.ts, bid: q.bid, ask: q.ask })
            .collect();
        quotes.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let mut exposure: Vec<sn::ExposureState> = self
            .exposure
            .iter()
            .map(|((a, s), &u)| sn::ExposureState { account: a.clone(), symbol: s.clone(), units: u })
            .collect();
        exposure.sort_by(|a, b| (&a.account, &a.symbol).cmp(&(&b.account, &b.symbol)));
        let mut streams: Vec<sn::StreamState> = self
            .last_batch
            .iter()
            .map(|(id, &last)| sn::StreamState {
                stream_id: id.clone(),
                last_batch: last,
                used: self.stream_used.get(id).copied().unwrap_or(0),
                batches: self
                    .batch_reports
                    .get(id)
                    .map(|m| m.iter().map(|(&k, &(from, to))| sn::RangeState { key: k, id: String::new(), from, to }).collect())
                    .unwrap_or_default(),
            })
            .collect();
        streams.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
        let mut flattens: Vec<sn::RangeState> = self
            .flatten_reports
            .iter()
            .map(|(id, &(from, to))| sn::RangeState { key: 0, id: id.clone(), from, to })
            .collect();
        flattens.sort_by(|a, b| a.id.cmp(&b.id));
        sn::State {
            config_json: self.cfg.to_json(),
            orders,
            positions,
            quotes,
            exposure,
            reports: self.reports.clone(),
            halted: self.halted.clone(),
            halted_accounts: self
                .halted_accounts
                .iter()
                .map(|(a, r)| sn::HaltState { account: a.clone(), reason: r.clone() })
                .collect(),
            streams,
            stream_clock: self.stream_clock,
            flattens,
            now: self.now,
        }
    }

    /// The engine a snapshot describes; the working-order index is rebuilt from the orders.
    pub fn from_state(s: sn::State) -> Result<Engine, String> {
        let cfg = Config::from_json(&s.config_json)?;
        let mut e = Engine::new(cfg);
        for (k, r) in s.reports.iter().enumerate() {
            if r.seq != k as u64 + 1 {
                return Err(format!("report {} has sequence number {}", k + 1, r.seq));
            }
        }
        let n = s.reports.len() as u64;
        let seq = |seq: u64| if seq <= n { Ok(seq) } else { Err(format!("no report {seq}")) };
        for o in s.orders {
            let Some(order) = o.order else {
                return Err("an order record without its order".into());
            };
            let submitted = o.submitted.unwrap_or_else(|| order.clone());
            let status = OrderStatus::try_from(o.status).map_err(|_| format!("order status {}", o.status))?;
            let first = if o.first_ok {
                First::Accepted(seq(o.first_seq)?)
            } else {
                First::Refused {
                    code: RejectCode::try_from(o.reject_code).unwrap_or(RejectCode::Unspecified),
                    message: o.reject_message,
                    seq: seq(o.first_seq)?,
                }
            };
            let last_seq = seq(o.last_seq)?;
            let id = order.client_order_id.clone();
            if matches!(status, OrderStatus::Accepted | OrderStatus::PartiallyFilled) {
                e.working.entry(order.symbol.clone()).or_default().insert((order.not_before_ns, id.clone()), ());
            }
            e.orders.insert(
                id,
                OrderRec { order, submitted, status, filled: o.filled, avg_price: o.avg_price, first, last_seq },
            );
        }
        for p in s.positions {
            let rec = PositionRec {
                id: p.position_id,
                account: p.account_id,
                symbol: p.symbol,
                side: Side::try_from(p.side).unwrap_or(Side::Buy),
                quantity: p.quantity,
                entry: p.entry_price,
                stop_loss: p.stop_loss,
                take_profit: p.take_profit,
                opened_ns: p.opened_ns,
                closing: p.closing,
                closing_ns: p.closing_ns,
            };
            e.positions.entry(rec.symbol.clone()).or_default().insert((rec.opened_ns, rec.id.clone()), rec);
        }
        for q in s.quotes {
            e.last_quote.insert(q.symbol, Quote { ts: q.ts, bid: q.bid, ask: q.ask });
        }
        for x in s.exposure {
            e.exposure.insert((x.account, x.symbol), x.units);
        }
        e.reports = s.reports;
        e.halted = s.halted;
        e.halted_accounts = s.halted_accounts.into_iter().map(|h| (h.account, h.reason)).collect();
        for st in s.streams {
            e.last_batch.insert(st.stream_id.clone(), st.last_batch);
            e.stream_used.insert(st.stream_id.clone(), st.used);
            e.batch_reports.insert(st.stream_id, st.batches.into_iter().map(|b| (b.key, (b.from, b.to))).collect());
        }
        e.stream_clock = s.stream_clock;
        e.flatten_reports = s.flattens.into_iter().map(|f| (f.id, (f.from, f.to))).collect();
        e.now = s.now;
        Ok(e)
    }

    // ----- reporting -----------------------------------------------------------------------

    fn emit(&mut self, id: &str, event: ReportEvent, ts: i64, reason: String, code: RejectCode,
            fill: Option<pb::Fill>) -> pb::ExecutionReport {
        let rec = self.orders.get(id).expect("reports are about known orders");
        let report = pb::ExecutionReport {
            seq: self.reports.len() as u64 + 1,
            client_order_id: id.to_string(),
            account_id: rec.order.account_id.clone(),
            symbol: rec.order.symbol.clone(),
            event: event as i32,
            status: rec.status as i32,
            ts_ns: ts,
            reason,
            reject_code: code as i32,
            fill,
            filled_quantity: rec.filled,
            stop_loss: rec.order.stop_loss,
            take_profit: rec.order.take_profit,
        };
        self.reports.push(report.clone());
        self.orders.get_mut(id).unwrap().last_seq = report.seq;
        report
    }

    fn set_status(&mut self, id: &str, status: OrderStatus) {
        let rec = self.orders.get_mut(id).unwrap();
        debug_assert!(!is_done(rec.status), "a finished order never changes status");
        let was_working = matches!(rec.status, OrderStatus::Accepted | OrderStatus::PartiallyFilled);
        rec.status = status;
        if is_done(status) && was_working {
            let (account, symbol) = (rec.order.account_id.clone(), rec.order.symbol.clone());
            let rest = rec.order.quantity - rec.filled;
            if let Some(m) = self.working.get_mut(&symbol) {
                m.remove(&(rec.order.not_before_ns, id.to_string()));
            }
            self.expose(account, symbol, -rest);
        }
    }

    fn expose(&mut self, account: String, symbol: String, units: i64) {
        if units != 0 {
            *self.exposure.entry((account, symbol)).or_default() += units;
        }
    }

    // ----- submit ----------------------------------------------------------------------------

    fn validate(&self, o: &pb::Order) -> Result<(), Reject> {
        let bad = |m: String| Err(Reject::new(RejectCode::Invalid, m));
        let side = Side::try_from(o.side).unwrap_or(Side::Unspecified);
        if side == Side::Unspecified {
            return bad("side must be buy or sell".into());
        }
        let kind = OrderType::try_from(o.order_type).unwrap_or(OrderType::Unspecified);
        if kind == OrderType::Unspecified {
            return bad("order_type must be market or limit".into());
        }
        if o.quantity <= 0 {
            return bad(format!("quantity must be positive, got {}", o.quantity));
        }
        if o.reference_price <= 0 {
            return bad(format!("reference_price must be positive, got {}", o.reference_price));
        }
        if o.stop_loss <= 0 || (o.reference_price - o.stop_loss) * sign(side) <= 0 {
            return bad(format!(
                "stop_loss {} must lie on the loss side of the reference price {}",
                o.stop_loss, o.reference_price
            ));
        }
        if o.take_profit != 0 && (o.take_profit - o.reference_price) * sign(side) <= 0 {
            return bad(format!(
                "take_profit {} must lie on the profit side of the reference price {}",
                o.take_profit, o.reference_price
            ));
        }
        if kind == OrderType::Limit && o.limit_price <= 0 {
            return bad("a limit order needs a positive limit_price".into());
        }
        if o.expires_ns <= o.not_before_ns {
            return bad(format!("expires_ns {} must be after not_before_ns {}", o.expires_ns, o.not_before_ns));
        }
        if o.max_slippage_points < 0 {
            return bad("max_slippage_points must not be negative".into());
        }
        Ok(())
    }

    /// USD per unit of `ccy` as an exact fraction (numerator, denominator > 0), from the latest
    /// quotes' mid, or `fallback` = this order's own pair at its reference price. The first
    /// instrument (in configuration order) that prices `ccy` against USD gives the rate.
    fn usd_rate(&self, ccy: &str, fallback: Option<(&str, &str, i64, u32)>) -> Option<(i128, i128)> {
        if ccy == "USD" {
            return Some((1, 1));
        }
        for inst in &self.cfg.instruments {
            let scale = 10i128.pow(inst.price_precision);
            // mid = (bid + ask) / 2 points = (bid + ask) / (2 * 10^precision) quote currency
            let mid = self
                .last_quote
                .get(&inst.symbol)
                .map(|q| (q.bid as i128 + q.ask as i128, 2 * scale))
                .or_else(|| {
                    fallback
                        .filter(|f| f.0 == inst.base && f.1 == inst.quote)
                        .map(|f| (f.2 as i128, 10i128.pow(f.3)))
                });
            let Some((num, den)) = mid else { continue };
            if num <= 0 {
                continue;
            }
            if inst.base == ccy && inst.quote == "USD" {
                return Some((num, den));
            }
            if inst.base == "USD" && inst.quote == ccy {
                return Some((den, num));
            }
        }
        None
    }

    fn check_limits(&self, o: &pb::Order, acc: &AccountConfig) -> Result<(), Reject> {
        let inst = &self.cfg.instruments[self.instruments[&o.symbol]];
        // lots = quantity / contract_size <= max_order_lots_e6 / 1e6, in integers.
        let order_e6 = o.quantity as i128 * 1_000_000;
        if order_e6 > acc.max_order_lots_e6 as i128 * inst.contract_size as i128 {
            return Err(Reject::new(
                RejectCode::OrderTooLarge,
                format!("order of {} lots is over account {}'s limit of {} lots",
                        decimal(order_e6 / inst.contract_size as i128, 6), acc.id,
                        decimal(acc.max_order_lots_e6 as i128, 6)),
            ));
        }
        // Notional in micro-USD, exact but for a rate through an inverse pair (USD/XXX), whose
        // term is rounded up to the next micro-USD: rounding can only refuse at the edge, never admit.
        let own = (inst.base.as_str(), inst.quote.as_str(), o.reference_price, inst.price_precision);
        let value = |symbol: &str, qty: i64| -> Result<i128, Reject> {
            let i = &self.cfg.instruments[self.instruments[symbol]];
            self.usd_rate(&i.base, Some(own)).map(|(num, den)| ceil_div(qty as i128 * num * 1_000_000, den)).ok_or_else(|| {
                Reject::new(
                    RejectCode::NotionalLimit,
                    format!("no USD rate to value {} notional of {symbol}: push a quote first", i.base),
                )
            })
        };
        let mut notional = value(&o.symbol, o.quantity)?;
        for ((account, symbol), &units) in &self.exposure {
            if account == &acc.id && units != 0 {
                notional += value(symbol, units)?;
            }
        }
        let limit = acc.max_open_notional_usd_cents as i128 * 10_000;
        if notional > limit {
            return Err(Reject::new(
                RejectCode::NotionalLimit,
                format!(
                    "open notional would be {} USD, over account {}'s limit of {} USD",
                    decimal(notional, 6), acc.id, decimal(acc.max_open_notional_usd_cents as i128, 2)
                ),
            ));
        }
        Ok(())
    }

    fn admit(&self, o: &pb::Order) -> Result<(), Reject> {
        if let Some(reason) = &self.halted {
            return Err(Reject::new(RejectCode::Halted, format!("venue halted: {reason}")));
        }
        if let Some(reason) = self.halted_accounts.get(&o.account_id) {
            return Err(Reject::new(RejectCode::Halted, format!("account {} halted: {reason}", o.account_id)));
        }
        self.validate(o)?;
        let Some(acc) = self.accounts.get(&o.account_id) else {
            return Err(Reject::new(RejectCode::UnknownAccount, format!("unknown account {}", o.account_id)));
        };
        if !self.instruments.contains_key(&o.symbol) {
            return Err(Reject::new(RejectCode::UnknownInstrument, format!("unknown instrument {}", o.symbol)));
        }
        if !acc.instruments.is_empty() && !acc.instruments.contains(&o.symbol) {
            return Err(Reject::new(
                RejectCode::InstrumentNotAllowed,
                format!("account {} may not trade {}", acc.id, o.symbol),
            ));
        }
        self.check_limits(o, acc)
    }

    /// Place an order. The caller has already answered duplicates from `previous_submit`, and
    /// refuses an empty client order id before this.
    pub fn submit(&mut self, o: pb::Order) -> SubmitResult {
        if let Some(first) = self.previous_submit(&o.client_order_id) {
            return first;
        }
        let id = o.client_order_id.clone();
        let ts = o.not_before_ns.max(0);
        let verdict = self.admit(&o);
        self.orders.insert(
            id.clone(),
            OrderRec {
                order: o.clone(),
                submitted: o.clone(),
                status: OrderStatus::New,
                filled: 0,
                avg_price: 0,
                first: First::Accepted(0),
                last_seq: 0,
            },
        );
        let result = match verdict {
            Ok(()) => {
                self.set_status(&id, OrderStatus::Accepted);
                self.expose(o.account_id.clone(), o.symbol.clone(), o.quantity);
                self.working.entry(o.symbol.clone()).or_default().insert((o.not_before_ns, id.clone()), ());
                Ok(self.emit(&id, ReportEvent::Status, ts, String::new(), RejectCode::Unspecified, None))
            }
            Err(mut reject) => {
                self.set_status(&id, OrderStatus::Rejected);
                let report = self.emit(&id, ReportEvent::Status, ts, reject.message.clone(), reject.code, None);
                reject.report = Some(Box::new(report));
                Err(reject)
            }
        };
        self.orders.get_mut(&id).unwrap().first = match &result {
            Ok(r) => First::Accepted(r.seq),
            Err(j) => First::Refused { code: j.code, message: j.message.clone(), seq: j.report.as_ref().map(|r| r.seq).unwrap_or(0) },
        };
        result
    }

    // ----- cancel and modify ---------------------------------------------------------------

    pub fn cancel(&mut self, id: &str, ts: i64, reason: &str) -> Result<pb::ExecutionReport, Reject> {
        let Some(rec) = self.orders.get(id) else {
            return Err(Reject::new(RejectCode::Invalid, format!("unknown order {id}")));
        };
        if is_done(rec.status) {
            return Err(Reject::new(
                RejectCode::Invalid,
                format!("order {id} is {} and can no longer be cancelled", status_name(rec.status)),
            ));
        }
        self.set_status(id, OrderStatus::Cancelled);
        let ts = if ts > 0 { ts } else { self.now };
        Ok(self.emit(id, ReportEvent::Status, ts, reason.to_string(), RejectCode::Unspecified, None))
    }

    pub fn modify(&mut self, req: &pb::ModifyOrderRequest) -> Result<pb::ExecutionReport, Reject> {
        let id = req.client_order_id.as_str();
        let Some(rec) = self.orders.get(id) else {
            return Err(Reject::new(RejectCode::Invalid, format!("unknown order {id}")));
        };
        let symbol = rec.order.symbol.clone();
        let side = Side::try_from(rec.order.side).unwrap_or(Side::Buy);
        let working = !is_done(rec.status);
        let position = self.positions.get(&symbol).and_then(|m| m.values().find(|p| p.id == id)).cloned();
        if !working && position.is_none() {
            return Err(Reject::new(
                RejectCode::Invalid,
                format!("order {id} has neither a working order nor an open position to modify"),
            ));
        }
        let anchor = match (&position, self.last_quote.get(&symbol)) {
            (Some(_), Some(q)) => if side == Side::Buy { q.bid } else { q.ask },
            (Some(p), None) => p.entry,
            (None, _) => rec.order.reference_price,
        };
        let stop = if req.stop_loss != 0 { req.stop_loss } else { rec.order.stop_loss };
        let tp = match req.take_profit { 0 => rec.order.take_profit, -1 => 0, v => v };
        if stop <= 0 || (anchor - stop) * sign(side) <= 0 {
            return Err(Reject::new(
                RejectCode::Invalid,
                format!("stop_loss {stop} must lie on the loss side of the current price {anchor}"),
            ));
        }
        if tp != 0 && (tp - anchor) * sign(side) <= 0 {
            return Err(Reject::new(
                RejectCode::Invalid,
                format!("take_profit {tp} must lie on the profit side of the current price {anchor}"),
            ));
        }
        let rec = self.orders.get_mut(id).unwrap();
        let reason = format!(
            "stop_loss {} -> {stop}, take_profit {} -> {tp}",
            rec.order.stop_loss, rec.order.take_profit
        );
        rec.order.stop_loss = stop;
        rec.order.take_profit = tp;
        if let Some(p) = position {
            let m = self.positions.get_mut(&symbol).unwrap();
            let p = m.get_mut(&(p.opened_ns, p.id.clone())).unwrap();
            p.stop_loss = stop;
            p.take_profit = tp;
        }
        let ts = if req.ts_ns > 0 { req.ts_ns } else { self.now };
        Ok(self.emit(id, ReportEvent::Modified, ts, reason, RejectCode::Unspecified, None))
    }

    // ----- the paper venue -----------------------------------------------------------------

    /// Apply one batch of quotes (in time order). Returns the reports it produced; a batch whose
    /// sequence number was already applied is not applied again (see `previous_batch`).
    pub fn push_quotes(&mut self, req: &pb::PushQuotesRequest) -> Result<Vec<pb::ExecutionReport>, Reject> {
        let n = req.ts_ns.len();
        if req.bid.len() != n || req.ask.len() != n || req.symbol_index.len() != n {
            return Err(Reject::new(RejectCode::Invalid, "ts_ns, bid, ask and symbol_index differ in length"));
        }
        if !req.continuous.is_empty() && req.continuous.len() != n {
            return Err(Reject::new(RejectCode::Invalid, "continuous is neither empty nor one flag per quote"));
        }
        let mut syms = Vec::with_capacity(req.symbols.len());
        for s in &req.symbols {
            if !self.instruments.contains_key(s) {
                return Err(Reject::new(RejectCode::UnknownInstrument, format!("unknown instrument {s}")));
            }
            syms.push(s.clone());
        }
        if let Some(i) = req.symbol_index.iter().find(|&&i| i as usize >= syms.len()) {
            return Err(Reject::new(RejectCode::Invalid, format!("symbol_index {i} is out of range")));
        }
        let start = self.last_seq();
        for k in 0..n {
            let q = Quote { ts: req.ts_ns[k], bid: req.bid[k], ask: req.ask[k] };
            // The last line: a quote with a side at or below zero, or crossed, is skipped (the
            // service counts it, `octet_exec_quotes_invalid_total`): it fills nothing, moves no
            // stop, is not the latest quote and does not advance the venue's clock. The rest of
            // the batch applies, so that a valid quote after it still protects every position.
            if !valid_quote(q.bid, q.ask) {
                // nor does the next quote continue a path from the last valid one: the price between
                // is unknown
                self.path_broken.insert(syms[req.symbol_index[k] as usize].clone());
                continue;
            }
            let continuous = req.continuous.get(k).copied().unwrap_or(false);
            self.on_quote(&syms[req.symbol_index[k] as usize], q, continuous);
        }
        if req.batch_seq > 0 {
            if !self.last_batch.contains_key(&req.stream_id) && self.last_batch.len() >= MAX_STREAMS {
                // Keep the streams that pushed most recently: an old session's batches are done with.
                let oldest = self.stream_used.iter().min_by_key(|(_, &t)| t).map(|(s, _)| s.clone());
                if let Some(oldest) = oldest {
                    self.last_batch.remove(&oldest);
                    self.batch_reports.remove(&oldest);
                    self.stream_used.remove(&oldest);
                }
            }
            self.stream_clock += 1;
            self.stream_used.insert(req.stream_id.clone(), self.stream_clock);
            let last = self.last_batch.entry(req.stream_id.clone()).or_insert(0);
            *last = (*last).max(req.batch_seq);
            let end = self.last_seq();
            let recent = self.batch_reports.entry(req.stream_id.clone()).or_default();
            recent.insert(req.batch_seq, (start, end));
            while recent.len() > 1024 {
                recent.pop_first();
            }
        }
        Ok(self.reports_between(start, self.last_seq()).to_vec())
    }

    /// One quote of one symbol. `continuous`: the price moved here from the symbol's previous
    /// quote through every level between (a bar's modelled path), so a price level crossed on the
    /// way fills at that level, or where the move began if it began beyond it; otherwise (a tick,
    /// a gap) at the quote.
    fn on_quote(&mut self, symbol: &str, q: Quote, continuous: bool) {
        self.now = self.now.max(q.ts);
        let broken = self.path_broken.remove(symbol);
        let from = if continuous && !broken { self.last_quote.get(symbol).copied() } else { None };
        self.last_quote.insert(symbol.to_string(), q);
        // Closes asked for at the next quote (a flatten with at_next_quote) go first, at this
        // quote (once the venue's latency has passed since they were sent, as for an entry): the
        // first price after they were sent, as a market order's; unless the move here crossed the
        // position's own stop or target first, which then fills as it would have.
        let closing: Vec<(i64, String)> = match self.positions.get(symbol) {
            Some(m) if !m.is_empty() => m.iter().filter(|(_, p)| !p.closing.is_empty()).map(|(k, _)| k.clone()).collect(),
            _ => Vec::new(),
        };
        for key in closing {
            if let Some((reason, price)) = from.and_then(|f| self.protective_exit(symbol, &key, q, Some(f))) {
                self.close(symbol, &key, price, q.ts, reason);
                continue;
            }
            let p = &self.positions[symbol][&key];
            if q.ts < p.closing_ns.saturating_add(self.cfg.venue.latency_ns) {
                continue; // not yet: its stop and target still protect it below
            }
            let exit = if p.side == Side::Buy { q.bid } else { q.ask };
            let text = p.closing.clone();
            self.close_as(symbol, &key, exit, q.ts, CloseReason::Flatten, text);
        }
        let mut filled_now: Vec<String> = Vec::new();
        let ids: Vec<String> = match self.working.get(symbol) {
            Some(m) if !m.is_empty() => m.keys().map(|k| k.1.clone()).collect(),
            _ => Vec::new(),
        };
        for id in ids {
            if self.work(&id, q, from) {
                filled_now.push(id);
            }
        }
        let protect: Vec<(i64, String)> = match self.positions.get(symbol) {
            Some(m) if !m.is_empty() => m.keys().cloned().collect(),
            _ => return,
        };
        for key in protect {
            if filled_now.contains(&key.1) {
                continue; // protection starts with the quote after the fill
            }
            if let Some((reason, price)) = self.protective_exit(symbol, &key, q, from) {
                self.close(symbol, &key, price, q.ts, reason);
            }
        }
    }

    /// Whether this quote closes the position by its stop or its target, and at what price: at the
    /// quote; or, on a continuous move (`from`), where the move first reached the level, which is
    /// where it began if it began beyond it (the position opened there, on a gap) and the level
    /// already applied then (a target held back by the minimum hold is taken at the quote).
    fn protective_exit(&self, symbol: &str, key: &(i64, String), q: Quote, from: Option<Quote>) -> Option<(CloseReason, i64)> {
        let p = &self.positions[symbol][key];
        let exit = if p.side == Side::Buy { q.bid } else { q.ask };
        let s = sign(p.side);
        let min_hold = self.orders.get(&p.id).map_or(0, |r| r.order.min_hold_ns);
        let hit_stop = (exit - p.stop_loss) * s <= 0;
        let held = q.ts.saturating_sub(p.opened_ns) >= min_hold;
        let hit_tp = p.take_profit != 0 && held && (exit - p.take_profit) * s >= 0;
        if !hit_stop && !hit_tp {
            return None;
        }
        let reason = if hit_stop { CloseReason::StopLoss } else { CloseReason::TakeProfit };
        let level = if hit_stop { p.stop_loss } else { p.take_profit };
        let price = match from {
            Some(f) => {
                let start = if p.side == Side::Buy { f.bid } else { f.ask };
                let beyond = if hit_stop { (start - level) * s <= 0 } else { (start - level) * s >= 0 };
                let held_then = hit_stop || f.ts.saturating_sub(p.opened_ns) >= min_hold;
                if !beyond {
                    level
                } else if held_then {
                    start
                } else {
                    exit
                }
            }
            None => exit,
        };
        Some((reason, price))
    }

    /// Work one order against one quote; true if it filled (in part or whole).
    fn work(&mut self, id: &str, q: Quote, from: Option<Quote>) -> bool {
        let rec = &self.orders[id];
        let o = rec.order.clone();
        if q.ts >= o.expires_ns {
            self.set_status(id, OrderStatus::Expired);
            self.emit(id, ReportEvent::Status, o.expires_ns, "no fill before expiry".into(), RejectCode::Unspecified, None);
            return false;
        }
        if q.ts < o.not_before_ns.saturating_add(self.cfg.venue.latency_ns) {
            return false;
        }
        let side = Side::try_from(o.side).unwrap_or(Side::Buy);
        let s = sign(side);
        let quoted = if side == Side::Buy { q.ask } else { q.bid };
        let limit = o.order_type == OrderType::Limit as i32;
        if limit && (quoted - o.limit_price) * s > 0 {
            return false;
        }
        // On a continuous move a limit fills where the move first reached its price (where it began,
        // if it began beyond the limit and the order was live then; at the quote if it was not).
        let live_from = o.not_before_ns.saturating_add(self.cfg.venue.latency_ns);
        let quoted = match from {
            Some(f) if limit && f.ts < live_from => quoted, // live only during the move: its price then is unknown
            Some(f) if limit => {
                let start = if side == Side::Buy { f.ask } else { f.bid };
                if (start - o.limit_price) * s <= 0 { start } else { o.limit_price }
            }
            _ => quoted,
        };
        let mut price = quoted + s * self.cfg.venue.slippage_points;
        if limit && (price - o.limit_price) * s > 0 {
            price = o.limit_price; // a limit never fills beyond its price, slippage or not
        }
        let slip = (price - o.reference_price) * s;
        if slip > o.max_slippage_points {
            let reason = format!(
                "price moved {slip} points against the reference, more than {}",
                o.max_slippage_points
            );
            if rec.filled == 0 {
                self.set_status(id, OrderStatus::Rejected);
                self.emit(id, ReportEvent::Status, q.ts, reason, RejectCode::Slippage, None);
            } else {
                self.set_status(id, OrderStatus::Cancelled);
                self.emit(id, ReportEvent::Status, q.ts, format!("rest cancelled: {reason}"), RejectCode::Slippage, None);
            }
            return false;
        }
        let remaining = o.quantity - rec.filled;
        let contract = self.cfg.instruments[self.instruments[&o.symbol]].contract_size;
        let liquidity = (self.cfg.venue.liquidity_lots * contract as f64).round() as i64;
        let qty = if liquidity > 0 { remaining.min(liquidity) } else { remaining };
        let rec = self.orders.get_mut(id).unwrap();
        rec.avg_price = (rec.avg_price as i128 * rec.filled as i128 + price as i128 * qty as i128)
            .checked_div((rec.filled + qty) as i128)
            .unwrap_or(price as i128) as i64;
        rec.filled += qty;
        let done = rec.filled == o.quantity;
        let avg = rec.avg_price;
        let book = self.positions.entry(o.symbol.clone()).or_default();
        match book.values_mut().find(|p| p.id == id) {
            Some(p) => {
                p.quantity += qty;
                p.entry = avg;
            }
            None => {
                book.insert(
                    (q.ts, id.to_string()),
                    PositionRec {
                        id: id.to_string(),
                        account: o.account_id.clone(),
                        symbol: o.symbol.clone(),
                        side,
                        quantity: qty,
                        entry: avg,
                        stop_loss: o.stop_loss,
                        take_profit: o.take_profit,
                        opened_ns: q.ts,
                        closing: String::new(),
                        closing_ns: 0,
                    },
                );
            }
        }
        self.set_status(id, if done { OrderStatus::Filled } else { OrderStatus::PartiallyFilled });
        let fill = pb::Fill {
            kind: FillKind::Open as i32,
            reason: CloseReason::Entry as i32,
            side: side as i32,
            quantity: qty,
            price,
            ts_ns: q.ts,
        };
        self.emit(id, ReportEvent::Fill, q.ts, String::new(), RejectCode::Unspecified, Some(fill));
        true
    }

    fn close(&mut self, symbol: &str, key: &(i64, String), price: i64, ts: i64, reason: CloseReason) {
        self.close_as(symbol, key, price, ts, reason, String::new())
    }

    /// `close` with the report's reason text (empty: the close reason's name).
    fn close_as(&mut self, symbol: &str, key: &(i64, String), price: i64, ts: i64, reason: CloseReason, text: String) {
        let p = self.positions.get_mut(symbol).unwrap().remove(key).unwrap();
        if p.closing.is_empty() {
            self.expose(p.account.clone(), p.symbol.clone(), -p.quantity); // (a closing one left them already)
        }
        let fill = pb::Fill {
            kind: FillKind::Close as i32,
            reason: reason as i32,
            side: opposite(p.side) as i32,
            quantity: p.quantity,
            price,
            ts_ns: ts,
        };
        let text = if !text.is_empty() {
            text
        } else {
            match reason {
                CloseReason::StopLoss => "stop_loss",
                CloseReason::TakeProfit => "take_profit",
                CloseReason::Flatten => "flatten",
                _ => "close",
            }
            .to_string()
        };
        self.emit(&p.id, ReportEvent::Fill, ts, text, RejectCode::Unspecified, Some(fill));
    }

    // ----- flatten, halt, resume -----------------------------------------------------------

    fn flatten_scope(&mut self, account: &str, ts: i64, reason: &str) {
        self.flatten_only(account, "", ts, reason, false)
    }

    /// Cancel the working orders and close the positions of one account (empty: all), or with
    /// `only` the one position (or working order) of that id.
    /// With `at_next`, each position is marked to close at the next quote of its symbol instead.
    fn flatten_only(&mut self, account: &str, only: &str, ts: i64, reason: &str, at_next: bool) {
        let ts = if ts > 0 { ts } else { self.now };
        let mut working: Vec<(i64, String)> = self.working.values().flat_map(|m| m.keys().cloned()).collect();
        working.sort_by(|a, b| a.1.cmp(&b.1));
        for (_, id) in working {
            if (account.is_empty() || self.orders[&id].order.account_id == account) && (only.is_empty() || id == only) {
                let _ = self.cancel(&id, ts, &format!("cancelled: {reason}"));
            }
        }
        let mut open: Vec<(String, (i64, String))> = self
            .positions
            .iter()
            .flat_map(|(s, m)| {
                m.iter()
                    .filter(|(k, p)| (account.is_empty() || p.account == account) && (only.is_empty() || k.1 == only))
                    .map(|(k, _)| (s.clone(), k.clone()))
            })
            .collect();
        open.sort_by(|a, b| a.1 .1.cmp(&b.1 .1));
        for (symbol, key) in open {
            if at_next {
                let p = self.positions.get_mut(&symbol).unwrap().get_mut(&key).unwrap();
                if p.closing.is_empty() {
                    p.closing = if reason.is_empty() { "flatten".to_string() } else { reason.to_string() };
                    p.closing_ns = ts;
                    // on its way out: the limits no longer count it (an entry the other way may take its room)
                    let (account, sym, units) = (p.account.clone(), p.symbol.clone(), p.quantity);
                    self.expose(account, sym, -units);
                }
                continue;
            }
            let Some(q) = self.last_quote.get(&symbol).copied() else { continue };
            let side = self.positions[&symbol][&key].side;
            let price = if side == Side::Buy { q.bid } else { q.ask };
            self.close(&symbol, &key, price, ts, CloseReason::Flatten);
        }
    }

    pub fn flatten(&mut self, req: &pb::FlattenRequest) -> Vec<pb::ExecutionReport> {
        if let Some(previous) = self.previous_flatten(&req.request_id) {
            return previous;
        }
        let start = self.last_seq();
        self.flatten_only(&req.account_id, &req.position_id, req.ts_ns, &req.reason, req.at_next_quote);
        if !req.request_id.is_empty() {
            self.flatten_reports.insert(req.request_id.clone(), (start, self.last_seq()));
        }
        self.reports_between(start, self.last_seq()).to_vec()
    }

    pub fn halt(&mut self, req: &pb::HaltRequest) -> Vec<pb::ExecutionReport> {
        let reason = if req.reason.is_empty() { "halted".to_string() } else { req.reason.clone() };
        if req.account_id.is_empty() {
            self.halted = Some(reason.clone());
        } else {
            self.halted_accounts.insert(req.account_id.clone(), reason.clone());
        }
        let start = self.last_seq();
        if req.flatten {
            self.flatten_scope(&req.account_id, req.ts_ns, &reason);
        } else if req.cancel_working {
            let ts = if req.ts_ns > 0 { req.ts_ns } else { self.now };
            let mut ids: Vec<String> = self.working.values().flat_map(|m| m.keys().map(|k| k.1.clone())).collect();
            ids.sort();
            for id in ids {
                if req.account_id.is_empty() || self.orders[&id].order.account_id == req.account_id {
                    let _ = self.cancel(&id, ts, &format!("cancelled: {reason}"));
                }
            }
        }
        self.reports_between(start, self.last_seq()).to_vec()
    }

    pub fn resume(&mut self, account: &str) {
        if account.is_empty() {
            self.halted = None;
        } else {
            self.halted_accounts.remove(account);
        }
    }
}

/// ceil(a / b) for b > 0.
fn ceil_div(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

/// `v / 10^digits` written as a decimal without trailing zeros (2500000, 6 -> "2.5").
fn decimal(v: i128, digits: u32) -> String {
    let scale = 10i128.pow(digits);
    let (sign, a) = if v < 0 { ("-", -v) } else { ("", v) };
    let frac = format!("{:0width$}", a % scale, width = digits as usize);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{}", a / scale)
    } else {
        format!("{sign}{}.{frac}", a / scale)
    }
}

/// A quote rust_exec acts on: both sides positive and not crossed (bid <= ask).
pub fn valid_quote(bid: i64, ask: i64) -> bool {
    bid > 0 && ask > 0 && bid <= ask
}

pub fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "new",
        OrderStatus::Accepted => "accepted",
        OrderStatus::PartiallyFilled => "partially filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Expired => "expired",
        OrderStatus::Unspecified => "unspecified",
    }
}

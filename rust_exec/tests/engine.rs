//! The state machine, idempotency, limits and the paper venue, on the engine alone.

mod common;

use common::{config, order, path_quotes, quotes};
use octet_exec::config::VenueConfig;
use octet_exec::engine::Engine;
use octet_exec::pb::{self, CloseReason, FillKind, OrderStatus, OrderType, RejectCode, ReportEvent, Side};

fn status(r: &pb::ExecutionReport) -> OrderStatus {
    OrderStatus::try_from(r.status).unwrap()
}

#[test]
fn an_order_is_accepted_filled_at_the_ask_and_stopped_out_at_a_gapped_bid() {
    let mut e = Engine::new(config(VenueConfig::default()));
    let acc = e.submit(order("o1", "a", Side::Buy, 100_000)).unwrap();
    assert_eq!((status(&acc), acc.seq), (OrderStatus::Accepted, 1));
    // before not_before: nothing; then the fill at the ask of the first eligible quote.
    let r = e.push_quotes(&quotes(&[(500, 108_490, 108_500), (2_000, 108_495, 108_505)], 1)).unwrap();
    assert_eq!(r.len(), 1);
    let fill = r[0].fill.unwrap();
    assert_eq!((status(&r[0]), fill.price, fill.ts_ns, fill.kind), (OrderStatus::Filled, 108_505, 2_000, FillKind::Open as i32));
    assert_eq!(e.list_positions("a").len(), 1);
    // a gap through the stop closes at the gapped bid, not at the stop.
    let r = e.push_quotes(&quotes(&[(3_000, 108_100, 108_110), (4_000, 107_950, 107_960)], 2)).unwrap();
    assert_eq!(r.len(), 1);
    let close = r[0].fill.unwrap();
    assert_eq!((close.price, close.reason, close.side), (107_950, CloseReason::StopLoss as i32, Side::Sell as i32));
    assert!(e.list_positions("").is_empty());
    let seqs: Vec<u64> = e.reports_between(0, 99).iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3], "every transition is a report, numbered without gaps");
}

#[test]
fn stop_wins_over_take_profit_and_take_profit_closes_a_sell() {
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("s1", "a", Side::Sell, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(1_000, 108_500, 108_510)], 1)).unwrap();
    let r = e.push_quotes(&quotes(&[(2_000, 107_990, 107_995)], 2)).unwrap();
    let f = r[0].fill.unwrap();
    assert_eq!((f.price, f.reason), (107_995, CloseReason::TakeProfit as i32));

    let mut o = order("b1", "a", Side::Buy, 100_000);
    o.take_profit = 108_400 + 1; // invalid: below the reference for a buy
    let err = e.submit(o).unwrap_err();
    assert_eq!(err.code, RejectCode::Invalid);
    assert!(err.message.contains("take_profit"), "{}", err.message);
}

#[test]
fn a_second_submit_of_one_id_returns_the_first_result_and_never_a_second_order() {
    let mut e = Engine::new(config(VenueConfig::default()));
    let first = e.submit(order("dup", "a", Side::Buy, 100_000)).unwrap();
    let mut changed = order("dup", "a", Side::Sell, 300_000);
    changed.signal_id = "other".into();
    assert_eq!(e.submit(changed).unwrap(), first);
    assert_eq!(e.order_count(), 1);
    assert_eq!(e.last_seq(), 1);
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    assert_eq!(e.list_positions("a")[0].quantity, 100_000);

    // a rejection is a first result too
    let mut bad = order("bad", "a", Side::Buy, 100_000);
    bad.stop_loss = 0;
    let r1 = e.submit(bad.clone()).unwrap_err();
    bad.stop_loss = 108_000;
    let r2 = e.submit(bad).unwrap_err();
    assert_eq!(r1, r2);
}

#[test]
fn limits_refuse_with_their_codes() {
    let mut e = Engine::new(config(VenueConfig::default()));
    let code = |e: &mut Engine, o: pb::Order| e.submit(o).unwrap_err().code;
    assert_eq!(code(&mut e, order("x1", "b", Side::Buy, 200_000)), RejectCode::OrderTooLarge);
    let mut o = order("x2", "b", Side::Buy, 100_000);
    o.symbol = "USDJPY".into();
    o.reference_price = 150_000;
    o.stop_loss = 149_000;
    o.take_profit = 151_000;
    assert_eq!(code(&mut e, o), RejectCode::InstrumentNotAllowed);
    assert_eq!(code(&mut e, order("x3", "nobody", Side::Buy, 100_000)), RejectCode::UnknownAccount);
    let mut o = order("x4", "a", Side::Buy, 100_000);
    o.symbol = "XAUUSD".into();
    assert_eq!(code(&mut e, o), RejectCode::UnknownInstrument);
    // notional: 2,500,000 USD limit; EURUSD at 1.085 -> 1,000,000 EUR = 1,085,000 USD each
    e.submit(order("n1", "a", Side::Buy, 1_000_000)).unwrap();
    e.submit(order("n2", "a", Side::Buy, 1_000_000)).unwrap();
    let err = e.submit(order("n3", "a", Side::Buy, 1_000_000)).unwrap_err();
    assert_eq!(err.code, RejectCode::NotionalLimit);
    assert!(err.message.contains("over account a's limit"), "{}", err.message);
    // a cross needs a USD rate for its base currency; EURUSD's quote provides it
    let mut o = order("x5", "a", Side::Buy, 100_000);
    o.symbol = "EURGBP".into();
    o.reference_price = 86_000;
    o.stop_loss = 85_000;
    o.take_profit = 87_000;
    assert!(e.submit(o).unwrap_err().message.contains("no USD rate"));
    e.push_quotes(&quotes(&[(500, 108_495, 108_505)], 10)).unwrap();
    let mut o = order("x6", "a", Side::Buy, 100_000);
    o.symbol = "EURGBP".into();
    o.reference_price = 86_000;
    o.stop_loss = 85_000;
    o.take_profit = 87_000;
    assert!(e.submit(o).is_ok());
    // cancelling a working order frees its notional; so does closing a position
    e.cancel("n1", 900, "by desk").unwrap();
    e.submit(order("n4", "a", Side::Buy, 1_000_000)).unwrap();
    assert_eq!(e.submit(order("n5", "a", Side::Buy, 1_000_000)).unwrap_err().code, RejectCode::NotionalLimit);
    e.push_quotes(&quotes(&[(1_500, 108_495, 108_505), (1_600, 107_900, 107_910)], 11)).unwrap();
    assert!(e.list_positions("a").is_empty(), "both stopped out");
    e.submit(order("n5b", "a", Side::Buy, 1_000_000)).unwrap();
    e.submit(order("n6", "a", Side::Buy, 1_000_000)).unwrap();
    for id in ["x1", "x2", "x3", "x4", "n3", "n5"] {
        assert_eq!(e.get_order(id).unwrap().status, OrderStatus::Rejected as i32);
    }
}

#[test]
fn halt_refuses_new_orders_cancels_and_flattens_then_resume_reopens() {
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("p1", "a", Side::Buy, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    e.submit(order("w1", "a", Side::Buy, 100_000)).unwrap();
    let mut later = order("w2", "b", Side::Buy, 100_000);
    later.not_before_ns = 900_000;
    e.submit(later).unwrap();
    let reports = e.halt(&pb::HaltRequest { reason: "kill switch".into(), flatten: true, ts_ns: 2_500, ..Default::default() });
    let kinds: Vec<(String, i32)> = reports.iter().map(|r| (r.client_order_id.clone(), r.status)).collect();
    assert!(kinds.contains(&("w1".into(), OrderStatus::Cancelled as i32)));
    assert!(kinds.contains(&("w2".into(), OrderStatus::Cancelled as i32)));
    let close = reports.iter().find(|r| r.client_order_id == "p1").unwrap().fill.unwrap();
    assert_eq!((close.price, close.reason), (108_495, CloseReason::Flatten as i32));
    let err = e.submit(order("after", "a", Side::Buy, 100_000)).unwrap_err();
    assert_eq!(err.code, RejectCode::Halted);
    assert!(err.message.contains("kill switch"));
    e.resume("");
    assert!(e.submit(order("again", "a", Side::Buy, 100_000)).is_ok());
    // an account halt stops that account only
    e.halt(&pb::HaltRequest { reason: "daily headroom".into(), account_id: "b".into(), ..Default::default() });
    assert_eq!(e.submit(order("bx", "b", Side::Buy, 100_000)).unwrap_err().code, RejectCode::Halted);
    assert!(e.submit(order("ax", "a", Side::Buy, 100_000)).is_ok());
}

#[test]
fn slippage_expiry_latency_partial_fills_and_limits_orders() {
    // slippage beyond the order's limit rejects at fill time
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("s", "a", Side::Buy, 100_000)).unwrap();
    let r = e.push_quotes(&quotes(&[(2_000, 108_530, 108_540)], 1)).unwrap();
    assert_eq!((status(&r[0]), r[0].reject_code), (OrderStatus::Rejected, RejectCode::Slippage as i32));
    assert!(r[0].reason.contains("40 points"), "{}", r[0].reason);

    // expiry is reported at the order's expiry time
    let mut o = order("x", "a", Side::Buy, 100_000);
    o.order_type = OrderType::Limit as i32;
    o.limit_price = 108_400;
    o.expires_ns = 5_000;
    e.submit(o).unwrap();
    assert!(e.push_quotes(&quotes(&[(3_000, 108_450, 108_460)], 2)).unwrap().is_empty());
    let r = e.push_quotes(&quotes(&[(6_000, 108_450, 108_460)], 3)).unwrap();
    assert_eq!((status(&r[0]), r[0].ts_ns), (OrderStatus::Expired, 5_000));

    // venue latency, venue slippage and limited liquidity: partial fills at a weighted price
    let mut e = Engine::new(config(VenueConfig { slippage_points: 1, latency_ns: 1_500, liquidity_lots: 0.6 }));
    e.submit(order("p", "a", Side::Buy, 100_000)).unwrap();
    assert!(e.push_quotes(&quotes(&[(2_000, 108_495, 108_500)], 1)).unwrap().is_empty(), "latency holds it");
    let r = e.push_quotes(&quotes(&[(2_500, 108_495, 108_500), (2_600, 108_497, 108_502)], 2)).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!((status(&r[0]), r[0].filled_quantity, r[0].fill.as_ref().unwrap().price), (OrderStatus::PartiallyFilled, 60_000, 108_501));
    assert_eq!((status(&r[1]), r[1].filled_quantity, r[1].fill.as_ref().unwrap().price), (OrderStatus::Filled, 100_000, 108_503));
    let p = &e.list_positions("a")[0];
    assert_eq!((p.quantity, p.entry_price), (100_000, (108_501 * 60_000 + 108_503 * 40_000) / 100_000));
}

#[test]
fn cancel_and_modify_follow_the_state_machine() {
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("c", "a", Side::Buy, 100_000)).unwrap();
    assert_eq!(status(&e.cancel("c", 10, "by desk").unwrap()), OrderStatus::Cancelled);
    assert!(e.cancel("c", 11, "again").unwrap_err().message.contains("no longer be cancelled"));
    assert!(e.cancel("nope", 11, "x").unwrap_err().message.contains("unknown order"));

    e.submit(order("m", "a", Side::Buy, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    let req = |sl, tp| pb::ModifyOrderRequest { client_order_id: "m".into(), stop_loss: sl, take_profit: tp, ts_ns: 2_100 };
    assert!(e.modify(&req(108_600, 0)).is_err(), "a buy's stop above the bid is refused");
    let r = e.modify(&req(108_300, -1)).unwrap();
    assert_eq!((r.event, r.stop_loss, r.take_profit), (ReportEvent::Modified as i32, 108_300, 0));
    // the moved stop is the one that triggers
    assert!(e.push_quotes(&quotes(&[(3_000, 108_310, 108_320)], 2)).unwrap().is_empty());
    let r = e.push_quotes(&quotes(&[(3_100, 108_299, 108_309)], 3)).unwrap();
    assert_eq!(r[0].fill.as_ref().unwrap().reason, CloseReason::StopLoss as i32);
}

#[test]
fn a_batch_or_flatten_applied_twice_changes_nothing_the_second_time() {
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("q", "a", Side::Buy, 100_000)).unwrap();
    let batch = quotes(&[(2_000, 108_495, 108_505)], 7);
    let first = e.push_quotes(&batch).unwrap();
    assert_eq!(e.previous_batch("test", 7).unwrap(), first);
    assert!(e.previous_batch("test", 8).is_none());
    assert!(e.previous_batch("another session", 7).is_none(), "batch numbers count per stream");
    let f = pb::FlattenRequest { request_id: "f1".into(), ts_ns: 2_100, reason: "eod".into(), ..Default::default() };
    let closed = e.flatten(&f);
    assert_eq!(closed.len(), 1);
    assert_eq!(e.flatten(&f), closed);
    assert_eq!(e.last_seq(), 3);
}

#[test]
fn a_flatten_of_one_position_closes_that_one_and_leaves_the_others() {
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("p1", "a", Side::Buy, 100_000)).unwrap();
    e.submit(order("p2", "a", Side::Buy, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    let f = pb::FlattenRequest { request_id: "one".into(), account_id: "a".into(), ts_ns: 2_100,
                                 reason: "reconcile".into(), position_id: "p2".into(), ..Default::default() };
    let closed = e.flatten(&f);
    assert_eq!(closed.iter().map(|r| r.client_order_id.as_str()).collect::<Vec<_>>(), vec!["p2"]);
    let open: Vec<String> = e.list_positions("a").iter().map(|p| p.position_id.clone()).collect();
    assert_eq!(open, vec!["p1".to_string()]);
}

#[test]
fn a_minimum_hold_delays_the_take_profit_but_never_the_stop() {
    let mut e = Engine::new(config(VenueConfig::default()));
    let mut o = order("h", "a", Side::Buy, 100_000);
    o.min_hold_ns = 60_000;
    e.submit(o.clone()).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    assert!(e.push_quotes(&quotes(&[(30_000, 109_100, 109_110)], 2)).unwrap().is_empty(), "too soon for the target");
    let r = e.push_quotes(&quotes(&[(62_000, 109_050, 109_060)], 3)).unwrap();
    assert_eq!(r[0].fill.unwrap().reason, CloseReason::TakeProfit as i32);
    o.client_order_id = "h2".into();
    e.submit(o).unwrap();
    e.push_quotes(&quotes(&[(63_000, 108_495, 108_505)], 4)).unwrap();
    let r = e.push_quotes(&quotes(&[(64_000, 107_990, 108_000)], 5)).unwrap();
    assert_eq!(r[0].fill.unwrap().reason, CloseReason::StopLoss as i32, "the stop protects at once");
}

#[test]
fn a_reused_client_order_id_for_another_order_is_a_conflict_and_the_same_order_is_not() {
    let mut e = Engine::new(config(VenueConfig::default()));
    let first = order("dup", "a", Side::Buy, 100_000);
    e.submit(first.clone()).unwrap();
    assert!(e.conflicting_submit(&first).is_none(), "the same order again is a retry");
    let mut other = first.clone();
    other.side = Side::Sell as i32;
    other.quantity = 300_000;
    let why = e.conflicting_submit(&other).expect("another order under the same id");
    assert!(why.contains("was placed as [a EURUSD buy 100000 units") && why.contains("now sent as [a EURUSD sell 300000"),
            "{why}");
    assert!(e.conflicting_submit(&order("fresh", "a", Side::Buy, 100_000)).is_none());
}

#[test]
fn a_resubmit_is_compared_with_the_order_as_first_submitted_not_as_modified() {
    let mut e = Engine::new(config(VenueConfig::default()));
    let first = order("m", "a", Side::Buy, 100_000);
    e.submit(first.clone()).unwrap();
    e.modify(&pb::ModifyOrderRequest { client_order_id: "m".into(), stop_loss: 107_900, take_profit: 0, ts_ns: 1_100 })
        .unwrap();
    assert!(e.conflicting_submit(&first).is_none(), "a retry of the original submit is not a conflict");
}

#[test]
fn only_the_most_recent_quote_streams_are_kept() {
    let mut e = Engine::new(config(VenueConfig::default()));
    for k in 0..(octet_exec::engine::MAX_STREAMS + 10) {
        let mut q = quotes(&[(2_000 + k as i64, 108_495, 108_505)], 1);
        q.stream_id = format!("s{k}");
        e.push_quotes(&q).unwrap();
    }
    assert!(e.previous_batch("s0", 1).is_none(), "the oldest stream is forgotten");
    assert!(e.previous_batch(&format!("s{}", octet_exec::engine::MAX_STREAMS + 9), 1).is_some());
}

#[test]
fn a_crossed_or_non_positive_quote_fills_nothing_and_triggers_no_stop() {
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("mkt", "a", Side::Buy, 100_000)).unwrap();
    let mut lim = order("lim", "a", Side::Buy, 100_000);
    lim.order_type = OrderType::Limit as i32;
    lim.limit_price = 108_400;
    e.submit(lim).unwrap();
    // crossed (bid > ask), a zero bid, a zero ask, a negative bid: none fills the market order, and
    // the crossed ask under the limit does not fill the limit order either
    let bad = [(2_000, 108_450, 108_300), (2_100, 0, 108_505), (2_200, 108_495, 0), (2_300, -5, 108_505)];
    assert!(e.push_quotes(&quotes(&bad, 1)).unwrap().is_empty(), "an invalid quote fills nothing");
    assert_eq!(e.get_order("mkt").unwrap().status, OrderStatus::Accepted as i32);
    assert_eq!(e.get_order("lim").unwrap().status, OrderStatus::Accepted as i32);
    // the valid quote after them in the same batch applies
    let r = e.push_quotes(&quotes(&[(2_400, 108_450, 108_300), (2_500, 108_495, 108_505)], 2)).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].client_order_id.as_str(), r[0].fill.unwrap().price), ("mkt", 108_505));
    e.cancel("lim", 2_600, "by desk").unwrap();
    // the open position (stop 108,000): a zero bid or a crossed bid under the stop closes nothing
    let r = e.push_quotes(&quotes(&[(3_000, 0, 108_500), (3_100, 107_900, 107_800), (3_200, 107_950, -1)], 3)).unwrap();
    assert!(r.is_empty(), "no stop triggered: {r:?}");
    assert_eq!(e.list_positions("a").len(), 1);
    // nor is an invalid quote the latest one: a flatten closes at the last valid bid
    let closed = e.flatten(&pb::FlattenRequest { request_id: "f".into(), ts_ns: 3_300, reason: "eod".into(), ..Default::default() });
    assert_eq!(closed[0].fill.unwrap().price, 108_495);
}

#[test]
fn limits_are_exact_at_the_edge() {
    use octet_exec::config::AccountConfig;
    // EURUSD at 1.08002 / 1.08012: mid 1.08007. 700,000 EUR = 756,049 USD exactly, where f64 makes
    // 1.08007 * 700000 = 756049.0000000001 and would refuse an order exactly at a 756,049 USD limit.
    let edge = |lots_e6: i64, cents: i64| {
        let mut cfg = config(VenueConfig::default());
        cfg.accounts.push(AccountConfig { id: "edge".into(), max_order_lots_e6: lots_e6, max_open_notional_usd_cents: cents,
                                          instruments: vec![] });
        let mut e = Engine::new(cfg);
        e.push_quotes(&quotes(&[(500, 108_002, 108_012)], 1)).unwrap();
        e
    };
    let code = |e: &mut Engine, id: &str, qty: i64| e.submit(order(id, "edge", Side::Buy, qty)).err().map(|r| r.code);
    // open notional: at the limit accepted, one unit (1.08 USD) above refused
    assert_eq!(code(&mut edge(100_000_000, 75_604_900), "at", 700_000), None, "exactly at the notional limit");
    let mut e = edge(100_000_000, 75_604_900);
    assert_eq!(code(&mut e, "over", 700_001), Some(RejectCode::NotionalLimit));
    let msg = e.get_order("over").unwrap().last_report.unwrap().reason;
    assert!(msg.contains("open notional would be 756050.08007 USD, over account edge's limit of 756049 USD"), "{msg}");
    // with exposure already open: 300,000 + 400,000 at the limit, then one unit more refused
    let mut e = edge(100_000_000, 75_604_900);
    assert_eq!(code(&mut e, "w1", 300_000), None);
    assert_eq!(code(&mut e, "w2", 400_000), None);
    assert_eq!(code(&mut e, "w3", 1), Some(RejectCode::NotionalLimit));
    // order size: 7 lots at a 7-lot limit accepted, 7 lots and one unit refused
    assert_eq!(code(&mut edge(7_000_000, i64::MAX / 2), "l1", 700_000), None);
    let mut e = edge(7_000_000, i64::MAX / 2);
    assert_eq!(code(&mut e, "l2", 700_001), Some(RejectCode::OrderTooLarge));
    assert!(e.get_order("l2").unwrap().last_report.unwrap().reason.contains("order of 7.00001 lots is over account edge's limit of 7 lots"));
}

#[test]
fn on_a_continuous_move_a_stop_or_target_fills_at_its_own_price_and_a_gap_at_the_quote() {
    // A buy with its stop at 108_000 and target at 109_000: the bar's path falls from 108_500 to
    // 107_900 through the stop, so it fills at the stop, not at the bar's low.
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("c1", "a", Side::Buy, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    let r = e.push_quotes(&path_quotes(&[(3_000, 108_500, 108_510), (4_000, 107_900, 107_910)], &[false, true], 2)).unwrap();
    let f = r[0].fill.unwrap();
    assert_eq!((f.price, f.reason, f.ts_ns), (108_000, CloseReason::StopLoss as i32, 4_000));
    // The same fall without the flag (ticks): at the quote.
    e.submit(order("c2", "a", Side::Buy, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(5_000, 108_495, 108_505)], 3)).unwrap();
    let r = e.push_quotes(&quotes(&[(6_000, 108_500, 108_510), (7_000, 107_900, 107_910)], 4)).unwrap();
    assert_eq!(r[0].fill.unwrap().price, 107_900);
    // A continuous rise through a sell's target fills at the target (a sell exits at the ask).
    let mut s = order("c3", "a", Side::Sell, 100_000);
    s.take_profit = 108_000;
    e.submit(s).unwrap();
    e.push_quotes(&quotes(&[(8_000, 108_495, 108_505)], 5)).unwrap();
    let r = e.push_quotes(&path_quotes(&[(9_000, 108_200, 108_210), (10_000, 107_800, 107_810)], &[true, true], 6)).unwrap();
    let f = r[0].fill.unwrap();
    assert_eq!((f.price, f.reason), (108_000, CloseReason::TakeProfit as i32));
    // A move that begins beyond the stop (the entry filled on a gap past it) fills where it begins.
    let mut g = order("c4", "a", Side::Buy, 100_000);
    g.max_slippage_points = 1_000;
    e.submit(g).unwrap();
    e.push_quotes(&quotes(&[(11_000, 107_950, 107_950)], 7)).unwrap(); // filled at 107_950, below its stop
    let r = e.push_quotes(&path_quotes(&[(12_000, 107_800, 107_800)], &[true], 8)).unwrap();
    assert_eq!(r[0].fill.unwrap().price, 107_950);
    // A flag list of the wrong length is refused whole.
    let bad = path_quotes(&[(13_000, 108_000, 108_010), (14_000, 108_000, 108_010)], &[true], 9);
    assert_eq!(e.push_quotes(&bad).unwrap_err().code, RejectCode::Invalid);
}

#[test]
fn a_limit_crossed_on_a_continuous_move_fills_at_its_price() {
    let mut e = Engine::new(config(VenueConfig::default()));
    e.push_quotes(&quotes(&[(1_500, 108_600, 108_610)], 1)).unwrap(); // the order is live from 1_000
    let mut o = order("l1", "a", Side::Buy, 100_000);
    o.order_type = OrderType::Limit as i32;
    o.limit_price = 108_500;
    e.submit(o).unwrap();
    let r = e.push_quotes(&path_quotes(&[(2_000, 108_390, 108_400)], &[true], 2)).unwrap();
    let f = r[0].fill.unwrap();
    assert_eq!((f.price, f.kind), (108_500, FillKind::Open as i32));
}

#[test]
fn a_flatten_at_the_next_quote_closes_there_first_and_survives_nothing_else() {
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("n1", "a", Side::Buy, 100_000)).unwrap();
    e.submit(order("n2", "a", Side::Buy, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    let f = pb::FlattenRequest { request_id: "next".into(), account_id: "a".into(), ts_ns: 2_100,
                                 reason: "opposite signal".into(), position_id: "n1".into(), at_next_quote: true };
    assert!(e.flatten(&f).is_empty(), "nothing closes before the next quote");
    let open = e.list_positions("a");
    assert_eq!(open.iter().map(|p| (p.position_id.as_str(), p.closing.as_str())).collect::<Vec<_>>(),
               vec![("n1", "opposite signal"), ("n2", "")]);
    // An entry sent now fills at the same next quote, after the close.
    let mut s = order("n3", "a", Side::Sell, 100_000);
    s.not_before_ns = 2_100;
    e.submit(s).unwrap();
    let r = e.push_quotes(&quotes(&[(3_000, 108_600, 108_610)], 2)).unwrap();
    let got: Vec<(&str, i64, i32)> = r.iter().filter_map(|x| x.fill.map(|f| (x.client_order_id.as_str(), f.price, f.kind))).collect();
    assert_eq!(got, vec![("n1", 108_600, FillKind::Close as i32), ("n3", 108_600, FillKind::Open as i32)]);
    assert_eq!(r[0].reason, "opposite signal");
    assert!(e.flatten(&f).is_empty(), "a second call with its id changes nothing");
    // The pending close survives a snapshot and restore.
    let g = pb::FlattenRequest { request_id: "next2".into(), position_id: "n2".into(), at_next_quote: true, ..Default::default() };
    e.flatten(&g);
    let mut back = Engine::from_state(e.to_state()).unwrap();
    let r = back.push_quotes(&quotes(&[(4_000, 108_700, 108_710)], 3)).unwrap();
    assert!(r.iter().any(|x| x.client_order_id == "n2" && x.fill.is_some_and(|f| f.price == 108_700)));
}

#[test]
fn a_path_fill_never_uses_a_price_from_before_the_order_or_target_applied() {
    // a limit live only from 6_000 (latency 5_000): the move from 3_000 fills it at the quote, not
    // at the price of 3_000, when it did not exist yet
    let mut e = Engine::new(config(VenueConfig { latency_ns: 5_000, ..Default::default() }));
    let mut o = order("l1", "a", Side::Buy, 100_000);
    (o.order_type, o.limit_price) = (OrderType::Limit as i32, 108_500);
    e.submit(o).unwrap();
    e.push_quotes(&quotes(&[(3_000, 108_350, 108_360)], 1)).unwrap();
    let r = e.push_quotes(&path_quotes(&[(7_000, 108_450, 108_460)], &[true], 2)).unwrap();
    assert_eq!(r[0].fill.unwrap().price, 108_460);
    // a target held back by the minimum hold at the move's start is taken at the quote, not there
    let mut e = Engine::new(config(VenueConfig::default()));
    let mut h = order("h1", "a", Side::Buy, 100_000);
    (h.take_profit, h.min_hold_ns) = (108_600, 10_000);
    e.submit(h).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap(); // opened at 2_000
    e.push_quotes(&quotes(&[(5_000, 109_000, 109_010)], 2)).unwrap(); // beyond, not yet held
    let r = e.push_quotes(&path_quotes(&[(13_000, 108_700, 108_710)], &[true], 3)).unwrap();
    let f = r[0].fill.unwrap();
    assert_eq!((f.price, f.reason), (108_700, CloseReason::TakeProfit as i32));
    // with slippage a limit still never fills beyond its price
    let mut e = Engine::new(config(VenueConfig { slippage_points: 5, ..Default::default() }));
    e.push_quotes(&quotes(&[(1_500, 108_600, 108_610)], 1)).unwrap();
    let mut o = order("l2", "a", Side::Buy, 100_000);
    (o.order_type, o.limit_price) = (OrderType::Limit as i32, 108_500);
    e.submit(o).unwrap();
    let r = e.push_quotes(&path_quotes(&[(2_000, 108_390, 108_400)], &[true], 2)).unwrap();
    assert_eq!(r[0].fill.unwrap().price, 108_500);
    // an invalid quote breaks the path: the next one is a jump, filled at the quote
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("g1", "a", Side::Buy, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    let r = e.push_quotes(&path_quotes(&[(3_000, 0, 108_510), (4_000, 107_900, 107_910)], &[true, true], 2)).unwrap();
    assert_eq!(r[0].fill.unwrap().price, 107_900);
}

#[test]
fn a_pending_close_yields_to_a_stop_crossed_first_waits_for_latency_and_frees_its_room() {
    // a stop crossed on the move to the next quote fills at the stop, not at the later quote
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("p1", "a", Side::Buy, 100_000)).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    let f = pb::FlattenRequest { request_id: "x".into(), position_id: "p1".into(), at_next_quote: true,
                                 ts_ns: 2_100, ..Default::default() };
    e.flatten(&f);
    let r = e.push_quotes(&path_quotes(&[(4_000, 107_500, 107_510)], &[true], 2)).unwrap();
    let fill = r[0].fill.unwrap();
    assert_eq!((fill.price, fill.reason), (108_000, CloseReason::StopLoss as i32));
    // the close waits for the venue's latency, as an entry sent with it does
    let mut e = Engine::new(config(VenueConfig { latency_ns: 5_000, ..Default::default() }));
    let mut o = order("p2", "a", Side::Buy, 100_000);
    o.not_before_ns = 0;
    e.submit(o).unwrap();
    e.push_quotes(&quotes(&[(6_000, 108_495, 108_505)], 1)).unwrap();
    e.flatten(&pb::FlattenRequest { request_id: "y".into(), position_id: "p2".into(), at_next_quote: true,
                                    ts_ns: 6_100, ..Default::default() });
    assert!(e.push_quotes(&quotes(&[(8_000, 108_400, 108_410)], 2)).unwrap().is_empty(), "too soon");
    let r = e.push_quotes(&quotes(&[(11_200, 108_450, 108_460)], 3)).unwrap();
    assert_eq!((r[0].fill.unwrap().price, r[0].reason.as_str()), (108_450, "flatten"));
    // a position on its way out leaves the account's notional room to the order that reverses it
    // (account a: 2,500,000 USD; 2,000,000 EUR at 1.085 is 2,170,000 USD)
    let mut e = Engine::new(config(VenueConfig::default()));
    e.submit(order("big", "a", Side::Buy, 1_000_000)).unwrap();
    e.submit(order("big2", "a", Side::Buy, 1_000_000)).unwrap();
    e.push_quotes(&quotes(&[(2_000, 108_495, 108_505)], 1)).unwrap();
    assert_eq!(e.submit(order("rev", "a", Side::Sell, 1_000_000)).unwrap_err().code, RejectCode::NotionalLimit);
    for id in ["big", "big2"] {
        e.flatten(&pb::FlattenRequest { request_id: format!("z-{id}"), position_id: id.into(), at_next_quote: true,
                                        ts_ns: 2_100, ..Default::default() });
    }
    assert!(e.submit(order("rev2", "a", Side::Sell, 1_000_000)).is_ok());
    let r = e.push_quotes(&quotes(&[(3_000, 108_495, 108_505)], 2)).unwrap();
    assert_eq!(r.iter().filter(|x| x.fill.is_some()).count(), 3);
    assert_eq!(e.list_positions("a").iter().map(|p| p.position_id.as_str()).collect::<Vec<_>>(), vec!["rev2"]);
    // and once closed nothing of them is counted twice: two more of 1,000,000 fit beside rev2, a third does not
    e.submit(order("n1", "a", Side::Sell, 1_000_000)).unwrap();
    assert_eq!(e.submit(order("n2", "a", Side::Sell, 1_000_000)).unwrap_err().code, RejectCode::NotionalLimit);
}

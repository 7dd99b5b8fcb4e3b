//! Shared fixtures of the engine and journal tests.
#![allow(dead_code)]

use octet_exec::config::{AccountConfig, Config, InstrumentConfig, VenueConfig};
use octet_exec::pb::{self, OrderType, Side};

pub fn config(venue: VenueConfig) -> Config {
    let inst = |s: &str, b: &str, q: &str, p: u32| InstrumentConfig {
        symbol: s.into(), base: b.into(), quote: q.into(), price_precision: p, contract_size: 100_000,
    };
    Config {
        instruments: vec![inst("EURUSD", "EUR", "USD", 5), inst("USDJPY", "USD", "JPY", 3), inst("EURGBP", "EUR", "GBP", 5)],
        accounts: vec![
            AccountConfig { id: "a".into(), max_order_lots_e6: 10_000_000, max_open_notional_usd_cents: 250_000_000, instruments: vec![] },
            AccountConfig { id: "b".into(), max_order_lots_e6: 1_000_000, max_open_notional_usd_cents: 100_000_000_000, instruments: vec!["EURUSD".into()] },
        ],
        venue,
    }
}

pub fn order(id: &str, account: &str, side: Side, qty: i64) -> pb::Order {
    let buy = side == Side::Buy;
    pb::Order {
        client_order_id: id.into(),
        account_id: account.into(),
        symbol: "EURUSD".into(),
        side: side as i32,
        order_type: OrderType::Market as i32,
        quantity: qty,
        stop_loss: if buy { 108_000 } else { 109_000 },
        take_profit: if buy { 109_000 } else { 108_000 },
        limit_price: 0,
        reference_price: 108_500,
        max_slippage_points: 20,
        not_before_ns: 1_000,
        expires_ns: 1_000_000,
        signal_id: "sig".into(),
        min_hold_ns: 0,
    }
}

pub fn quotes(q: &[(i64, i64, i64)], batch: u64) -> pb::PushQuotesRequest {
    pb::PushQuotesRequest {
        batch_seq: batch,
        symbols: vec!["EURUSD".into()],
        symbol_index: vec![0; q.len()],
        ts_ns: q.iter().map(|x| x.0).collect(),
        bid: q.iter().map(|x| x.1).collect(),
        ask: q.iter().map(|x| x.2).collect(),
        stream_id: "test".into(),
        continuous: vec![],
    }
}

/// `quotes` whose moves are continuous (a bar's modelled path) where `path[i]` is true.
pub fn path_quotes(q: &[(i64, i64, i64)], path: &[bool], batch: u64) -> pb::PushQuotesRequest {
    pb::PushQuotesRequest { continuous: path.to_vec(), ..quotes(q, batch) }
}


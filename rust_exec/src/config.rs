//! The service's configuration: instruments, accounts with their last-line limits, and the paper
//! venue's behaviour. Read from a JSON file that the desk writes from `octet.yaml`.
//!
//! The configuration is itself a journaled command (see `journal`): a fresh journal begins with
//! it, and a restart under a file that differs from the last journaled one journals the new one as
//! a configuration change that applies from then on. Every command is replayed under the
//! configuration that was in force when it was acknowledged.
//!
//! The limits are integers, compared exactly: the largest order in millionths of a lot
//! (`max_order_lots_e6`: 2.5 lots = 2500000) and the largest open notional in US cents
//! (`max_open_notional_usd_cents`). No float decides whether an order at the edge passes.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentConfig {
    pub symbol: String,
    pub base: String,
    pub quote: String,
    pub price_precision: u32,
    #[serde(default = "default_contract")]
    pub contract_size: i64,
}

fn default_contract() -> i64 {
    100_000
}

/// Limits checked on every order of one account, after every check of the desk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub id: String,
    /// Largest single order, in millionths of a lot (lots = quantity / the instrument's contract
    /// size): an order passes when `quantity * 1e6 <= max_order_lots_e6 * contract_size`.
    pub max_order_lots_e6: i64,
    /// Largest open notional (open positions plus working orders plus this order), in US cents.
    pub max_open_notional_usd_cents: i64,
    /// Instruments this account may trade; empty = every configured instrument.
    #[serde(default)]
    pub instruments: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// Points added against the order on every fill (0 = fill at the quote).
    #[serde(default)]
    pub slippage_points: i64,
    /// Venue time between an order's not_before and the first quote that may fill it.
    #[serde(default)]
    pub latency_ns: i64,
    /// Lots that one quote can fill (0 = unlimited); larger orders fill in parts.
    #[serde(default)]
    pub liquidity_lots: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub instruments: Vec<InstrumentConfig>,
    pub accounts: Vec<AccountConfig>,
    #[serde(default)]
    pub venue: VenueConfig,
}

impl Config {
    pub fn from_json(text: &str) -> Result<Config, String> {
        let cfg: Config = serde_json::from_str(text).map_err(|e| format!("config: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), String> {
        let mut seen = HashMap::new();
        for i in &self.instruments {
            if seen.insert(i.symbol.clone(), ()).is_some() {
                return Err(format!("config: instrument {} is defined twice", i.symbol));
            }
            if i.price_precision > 8 || i.contract_size <= 0 {
                return Err(format!("config: instrument {} has an invalid precision or contract size", i.symbol));
            }
        }
        for a in &self.accounts {
            for s in &a.instruments {
                if !seen.contains_key(s) {
                    return Err(format!("config: account {} allows unknown instrument {s}", a.id));
                }
            }
            if a.max_order_lots_e6 <= 0 || a.max_open_notional_usd_cents <= 0 {
                return Err(format!("config: account {} needs positive limits", a.id));
            }
        }
        if self.venue.slippage_points < 0 || self.venue.latency_ns < 0 || self.venue.liquidity_lots.is_nan() || self.venue.liquidity_lots < 0.0 {
            return Err("config: venue settings must not be negative".into());
        }
        Ok(())
    }

    /// The configuration as journaled: canonical JSON (the same configuration, the same text).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a configuration always serializes")
    }

    /// Whether `self` may follow `old` in a journal: journaled orders and positions refer to their
    /// instruments, so an instrument may be added but never removed or redefined.
    pub fn check_change_from(&self, old: &Config) -> Result<(), String> {
        for o in &old.instruments {
            match self.instruments.iter().find(|n| n.symbol == o.symbol) {
                None => {
                    return Err(format!("instrument {} is in the journal's configuration and not in the new one: \
                                        journaled orders refer to it", o.symbol))
                }
                Some(n) if n != o => {
                    return Err(format!("instrument {} is defined differently ({:?} in the journal, {:?} now): \
                                        journaled orders and positions were priced with the first", o.symbol, o, n))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

//! Writes a journal of N commands through the service's own code (store::start, Core::execute:
//! the engine, the journal writer, snapshots and compaction), for `bench/exec_restart.py`.
//!
//! ```text
//! journal_gen --config exec.json --journal-dir DIR --commands 1000000 [--snapshot-every 50000] [--seed 7]
//! ```
//! A realistic mix, deterministic for a seed: about 80% quote batches (8 quotes over EURUSD and
//! GBPUSD, orders live most of the time so the batches are journaled whole), 12% orders (market and
//! limit, account `bench`), and cancels, modifies, flattens, halts and resumes. Counts journaled
//! frames (refused commands are not journaled). No fsync: the bench measures the restart, not this.
//! Prints one JSON line: frames, orders, reports, seconds, and the longest time a command that took
//! a snapshot held the engine (the state is copied under the service's lock).

use octet_exec::config::Config;
use octet_exec::journal::{Command, Retention, SyncObserver};
use octet_exec::pb::{self, OrderType, Side};
use octet_exec::service::Core;
use octet_exec::store::{self, Options};
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Quiet;
impl SyncObserver for Quiet {
    fn synced(&self, _: usize, _: f64) {}
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut config, mut dir, mut commands, mut every, mut seed) = (None, None, 1_000_000u64, 50_000u64, 7u64);
    while let Some(a) = args.next() {
        let v = args.next().expect("every option takes a value");
        match a.as_str() {
            "--config" => config = Some(PathBuf::from(v)),
            "--journal-dir" => dir = Some(PathBuf::from(v)),
            "--commands" => commands = v.parse().expect("--commands"),
            "--snapshot-every" => every = v.parse().expect("--snapshot-every"),
            "--seed" => seed = v.parse().expect("--seed"),
            other => panic!("unknown option {other}"),
        }
    }
    let cfg = Config::from_json(&std::fs::read_to_string(config.expect("--config")).unwrap()).unwrap();
    let dir = dir.expect("--journal-dir");
    let opts = Options { fsync: false, snapshot_every: every, retention: Retention { keep_snapshots: 2 } };
    let started = store::start(&dir, cfg, opts, Box::new(Quiet)).unwrap_or_else(|e| panic!("{e}"));
    let mut core = Core::new(started.engine, started.journal, every);

    let t = Instant::now();
    let mut rng = Rng(seed);
    let symbols = ["EURUSD".to_string(), "GBPUSD".to_string()];
    let mut mid = [108_000i64, 127_000i64];
    let mut ts: i64 = 1_772_409_600_000_000_000;
    let (mut batch, mut orders, mut flattens) = (0u64, 0u64, 0u64);
    let mut recent: Vec<String> = Vec::new();
    let mut snapshot_state_ms = 0f64;
    while core.journal.last_frame() < commands {
        let roll = rng.below(100);
        let cmd = if roll < 80 {
            batch += 1;
            let mut q = pb::PushQuotesRequest { batch_seq: batch, symbols: symbols.to_vec(), stream_id: "bench".into(), ..Default::default() };
            for _ in 0..8 {
                let s = rng.below(2) as usize;
                mid[s] += rng.below(7) as i64 - 3;
                ts += 100_000_000;
                q.symbol_index.push(s as u32);
                q.ts_ns.push(ts);
                q.bid.push(mid[s] - 5);
                q.ask.push(mid[s] + 5);
            }
            Command::Quotes(q)
        } else if roll < 92 {
            orders += 1;
            let s = rng.below(2) as usize;
            let buy = rng.below(2) == 0;
            let sign = if buy { 1 } else { -1 };
            let limit = rng.below(5) == 0;
            let id = format!("bench-{orders:08}");
            recent.push(id.clone());
            if recent.len() > 64 {
                recent.remove(0);
            }
            Command::Submit(pb::Order {
                client_order_id: id,
                account_id: "bench".into(),
                symbol: symbols[s].clone(),
                side: if buy { Side::Buy } else { Side::Sell } as i32,
                order_type: if limit { OrderType::Limit } else { OrderType::Market } as i32,
                quantity: 10_000 * (1 + rng.below(10) as i64),
                stop_loss: mid[s] - sign * (20 + rng.below(40) as i64),
                take_profit: mid[s] + sign * (20 + rng.below(40) as i64),
                limit_price: if limit { mid[s] - sign * 5 } else { 0 },
                reference_price: mid[s],
                max_slippage_points: 50,
                not_before_ns: ts,
                expires_ns: ts + 3_600_000_000_000,
                signal_id: "bench".into(),
                min_hold_ns: 0,
            })
        } else if roll < 96 && !recent.is_empty() {
            let id = recent[rng.below(recent.len() as u64) as usize].clone();
            Command::Cancel(pb::CancelOrderRequest { client_order_id: id, ts_ns: ts })
        } else if roll < 98 && !recent.is_empty() {
            let id = recent[rng.below(recent.len() as u64) as usize].clone();
            let stop = core.engine.get_order(&id).and_then(|o| o.order).map(|o| {
                let buy = o.side == Side::Buy as i32;
                if buy { o.stop_loss - 3 } else { o.stop_loss + 3 }
            });
            Command::Modify(pb::ModifyOrderRequest { client_order_id: id, stop_loss: stop.unwrap_or(1), take_profit: 0, ts_ns: ts })
        } else if roll < 99 {
            flattens += 1;
            Command::Flatten(pb::FlattenRequest { request_id: format!("f{flattens}"), account_id: "bench".into(), ts_ns: ts,
                                                  reason: "bench".into(), ..Default::default() })
        } else if rng.below(2) == 0 {
            Command::Halt(pb::HaltRequest { reason: "bench".into(), account_id: "bench".into(), ..Default::default() })
        } else {
            Command::Resume(pb::ResumeRequest { account_id: "bench".into() })
        };
        let snapshot_due = every > 0 && core.since_snapshot + 1 >= every;
        let t = Instant::now();
        core.execute(cmd);
        if snapshot_due {
            // the state is taken under the engine's lock: how long a snapshot holds the service up
            snapshot_state_ms = snapshot_state_ms.max(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let last = core.journal.last_frame();
    core.journal.wait_durable(last);
    // the last snapshot queued covers the frame before the commands executed since
    let queued = last - core.since_snapshot;
    if every > 0 && queued > 1 {
        assert!(core.journal.wait_snapshot(queued, Duration::from_secs(300)), "snapshot of frame {queued} written");
    }
    println!(
        "{{\"frames\": {last}, \"orders\": {}, \"reports\": {}, \"open_positions\": {}, \"seconds\": {:.2}, \
         \"snapshot_state_ms_max\": {snapshot_state_ms:.1}}}",
        core.engine.order_count(),
        core.engine.last_seq(),
        core.engine.open_positions(),
        t.elapsed().as_secs_f64()
    );
}

//! Prometheus metrics: counters and latency histograms, served as text on `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BUCKETS: [f64; 14] = [
    50e-6, 100e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 2e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 1.0,
];

#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; 15],
    sum_ns: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        let i = BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add((seconds * 1e9) as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cum = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.counts[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cum}");
        }
        cum += self.counts[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cum}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_ns.load(Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "{name}_count {cum}");
    }
}

/// Every number the service exposes. Reject counts are kept per reject code.
#[derive(Default)]
pub struct Metrics {
    pub orders_submitted: AtomicU64,
    pub orders_accepted: AtomicU64,
    pub orders_duplicate: AtomicU64,
    pub rejects: [AtomicU64; 9],
    pub fills: AtomicU64,
    pub reports: AtomicU64,
    pub quotes: AtomicU64,
    pub quotes_invalid: AtomicU64,
    pub halts: AtomicU64,
    pub journal_syncs: AtomicU64,
    pub journal_frames: AtomicU64,
    pub halted: AtomicU64,
    pub submit_latency: Histogram,
    pub fsync_latency: Histogram,
}

const REJECT_NAMES: [&str; 9] = [
    "unspecified", "halted", "invalid", "unknown_account", "unknown_instrument",
    "instrument_not_allowed", "order_too_large", "notional_limit", "slippage",
];

impl Metrics {
    pub fn reject(&self, code: i32) {
        let i = (code.max(0) as usize).min(self.rejects.len() - 1);
        self.rejects[i].fetch_add(1, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter("octet_exec_orders_submitted_total", "SubmitOrder calls with a new client order id.", self.orders_submitted.load(Relaxed));
        counter("octet_exec_orders_accepted_total", "Orders accepted.", self.orders_accepted.load(Relaxed));
        counter("octet_exec_orders_duplicate_total", "Submits answered from the first result of their id.", self.orders_duplicate.load(Relaxed));
        counter("octet_exec_fills_total", "Fills, opening and closing.", self.fills.load(Relaxed));
        counter("octet_exec_reports_total", "Execution reports emitted.", self.reports.load(Relaxed));
        counter("octet_exec_quotes_total", "Quotes pushed to the paper venue.", self.quotes.load(Relaxed));
        counter("octet_exec_quotes_invalid_total", "Quotes skipped: a side at or below zero, or crossed (bid > ask).",
                self.quotes_invalid.load(Relaxed));
        counter("octet_exec_halts_total", "Halt calls.", self.halts.load(Relaxed));
        counter("octet_exec_journal_syncs_total", "Journal fsyncs (group commits).", self.journal_syncs.load(Relaxed));
        counter("octet_exec_journal_frames_total", "Journal frames written.", self.journal_frames.load(Relaxed));
        let _ = writeln!(out, "# HELP octet_exec_orders_rejected_total Orders rejected, by reason.\n# TYPE octet_exec_orders_rejected_total counter");
        for (i, name) in REJECT_NAMES.iter().enumerate().skip(1) {
            let _ = writeln!(out, "octet_exec_orders_rejected_total{{code=\"{name}\"}} {}", self.rejects[i].load(Relaxed));
        }
        let _ = writeln!(out, "# HELP octet_exec_halted 1 while the venue is halted.\n# TYPE octet_exec_halted gauge\noctet_exec_halted {}", self.halted.load(Relaxed));
        self.submit_latency.render(&mut out, "octet_exec_submit_latency_seconds", "SubmitOrder handling time, journal fsync included.");
        self.fsync_latency.render(&mut out, "octet_exec_journal_fsync_seconds", "Time of one journal write and fsync.");
        out
    }
}

pub struct SyncMetrics(pub Arc<Metrics>);

impl crate::journal::SyncObserver for SyncMetrics {
    fn synced(&self, frames: usize, seconds: f64) {
        self.0.journal_syncs.fetch_add(1, Relaxed);
        self.0.journal_frames.fetch_add(frames as u64, Relaxed);
        self.0.fsync_latency.observe(seconds);
    }
}

/// Serve `GET /metrics` (anything else: 404) on `listener` until the process ends.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else { continue };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if head.starts_with("GET /metrics") {
                ("200 OK", metrics.render())
            } else {
                ("404 Not Found", "try GET /metrics\n".to_string())
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        });
    }
}

//! The gRPC service: each call applies one command to the engine under a lock, queues it on the
//! journal in the same order, and replies only once the journal has made it durable.

use crate::engine::{Engine, Reject};
use crate::journal::{Command, Durable, Journal};
use crate::metrics::Metrics;
use crate::pb::{self, execution_server::Execution, RejectCode, ReportEvent};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// The result of applying one command.
pub enum Outcome {
    Submit(crate::engine::SubmitResult),
    One(Result<pb::ExecutionReport, Reject>),
    Many(Result<Vec<pb::ExecutionReport>, Reject>),
    Done,
}

/// Apply one command: the same code serves live calls and the replay of the journal.
pub fn apply(engine: &mut Engine, cmd: &Command) -> Outcome {
    match cmd {
        Command::Submit(o) => Outcome::Submit(engine.submit(o.clone())),
        Command::Cancel(c) => Outcome::One(engine.cancel(&c.client_order_id, c.ts_ns, "cancelled")),
        Command::Modify(m) => Outcome::One(engine.modify(m)),
        Command::Quotes(q) => Outcome::Many(engine.push_quotes(q)),
        Command::Flatten(f) => Outcome::Many(Ok(engine.flatten(f))),
        Command::Halt(h) => Outcome::Many(Ok(engine.halt(h))),
        Command::Resume(r) => {
            engine.resume(&r.account_id);
            Outcome::Done
        }
        // Journaled at start-up only (see `store`); checked there before it is journaled.
        Command::Config(c) => {
            match crate::config::Config::from_json(&c.json) {
                Ok(cfg) => engine.set_config(cfg),
                Err(e) => tracing::error!(error = %e, "a journaled configuration does not parse"),
            }
            Outcome::Done
        }
    }
}

/// Replay journal commands into an engine (`store::recover` does this after the newest snapshot).
pub fn recover(engine: &mut Engine, commands: &[Command]) {
    for cmd in commands {
        let _ = apply(engine, cmd);
    }
}

pub struct Core {
    pub engine: Engine,
    pub journal: Journal,
    /// A snapshot after every this many journaled commands (0 = never).
    pub snapshot_every: u64,
    pub since_snapshot: u64,
}

impl Core {
    pub fn new(engine: Engine, journal: Journal, snapshot_every: u64) -> Core {
        Core { engine, journal, snapshot_every, since_snapshot: 0 }
    }

    /// Queue a snapshot of the state after the last journaled command; returns the frame it covers.
    /// The state is taken under the engine's lock; encoding and writing happen on the snapshot thread.
    pub fn snapshot(&mut self) -> u64 {
        self.since_snapshot = 0;
        let t = Instant::now();
        let state = self.engine.to_state();
        let frame = self.journal.snapshot(state);
        tracing::info!(frame, state_ms = t.elapsed().as_millis() as u64, "snapshot state taken (under the engine lock)");
        frame
    }

    /// Apply a command and queue it on the journal (a refused one is not journaled), with a
    /// snapshot when one is due; returns the outcome and the frame to wait for before replying.
    /// A quote batch is journaled as an equivalent, smaller one when no order is live.
    pub fn execute(&mut self, cmd: Command) -> (Outcome, u64) {
        let compact = match &cmd {
            Command::Quotes(q) if !self.engine.has_live_orders()
                && [q.bid.len(), q.ask.len(), q.symbol_index.len()].iter().all(|&l| l == q.ts_ns.len()) =>
            {
                Some(Command::Quotes(last_quotes(q)))
            }
            _ => None,
        };
        let outcome = apply(&mut self.engine, &cmd);
        let refused = matches!(&outcome, Outcome::One(Err(_)) | Outcome::Many(Err(_)));
        if refused {
            return (outcome, self.journal.last_frame());
        }
        let seq = self.engine.last_seq();
        let frame = self.journal.append(compact.unwrap_or(cmd), seq);
        self.since_snapshot += 1;
        if self.snapshot_every > 0 && self.since_snapshot >= self.snapshot_every {
            self.snapshot();
        }
        (outcome, frame)
    }
}

#[derive(Clone)]
pub struct ExecService {
    core: Arc<Mutex<Core>>,
    durable: watch::Receiver<Durable>,
    metrics: Arc<Metrics>,
    started: Instant,
    recovered: u64,
}

pub fn status_for(r: &Reject) -> Status {
    let mut status = match r.code {
        RejectCode::Halted => Status::failed_precondition(r.message.clone()),
        RejectCode::UnknownAccount | RejectCode::UnknownInstrument => Status::not_found(r.message.clone()),
        RejectCode::InstrumentNotAllowed => Status::permission_denied(r.message.clone()),
        RejectCode::OrderTooLarge | RejectCode::NotionalLimit => Status::resource_exhausted(r.message.clone()),
        _ => Status::invalid_argument(r.message.clone()),
    };
    let code = r.code.as_str_name().trim_start_matches("REJECT_CODE_").to_ascii_lowercase();
    if let Ok(v) = code.parse() {
        status.metadata_mut().insert("octet-reject-code", v);
    }
    if let Some(report) = &r.report {
        if let Ok(v) = report.seq.to_string().parse() {
            status.metadata_mut().insert("octet-report-seq", v);
        }
    }
    status
}

fn lock_err() -> Status {
    Status::internal("engine lock poisoned")
}

impl ExecService {
    pub fn new(core: Core, metrics: Arc<Metrics>, recovered: u64) -> ExecService {
        metrics.halted.store(core.engine.halted().is_some() as u64, Relaxed);
        let durable = core.journal.durable.clone();
        ExecService { core: Arc::new(Mutex::new(core)), durable, metrics, started: Instant::now(), recovered }
    }

    /// At a clean shutdown: a snapshot of the final state (if snapshots are on and anything was
    /// journaled since the last), waited for up to `timeout`. Whether one was written.
    pub fn snapshot_at_shutdown(&self, timeout: std::time::Duration) -> bool {
        let (frame, mut done) = {
            let Ok(mut core) = self.core.lock() else { return false };
            if core.snapshot_every == 0 || core.since_snapshot == 0 {
                return false;
            }
            (core.snapshot(), core.journal.snapshots.clone())
        };
        let t = Instant::now();
        while *done.borrow_and_update() < frame {
            if t.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        true
    }

    /// Close the journal (see `Journal::close`): nothing is written in its directory after this.
    /// For an owner that lets go of the directory without exiting (rust_exec/py).
    pub fn close_journal(&self) {
        let mut core = self.core.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        core.journal.close();
    }

    /// The durable reports with `from < seq <= until`, at most `max`, in sequence order: what
    /// StreamReports sends, for a caller in the same process (py/).
    pub fn durable_reports(&self, from: u64, until: u64, max: usize) -> Result<Vec<pb::ExecutionReport>, Status> {
        let upto = self.durable.borrow().report_seq.min(until);
        if upto <= from {
            return Ok(Vec::new());
        }
        let core = self.core.lock().map_err(|_| lock_err())?;
        Ok(core.engine.reports_between(from, upto.min(from.saturating_add(max as u64))).to_vec())
    }

    fn run(&self, cmd: Command) -> Result<(Outcome, u64), Status> {
        let mut core = self.core.lock().map_err(|_| lock_err())?;
        Ok(core.execute(cmd))
    }

    async fn durable(&self, frame: u64) -> Result<(), Status> {
        let mut rx = self.durable.clone();
        rx.wait_for(|d| d.frame >= frame)
            .await
            .map(|_| ())
            .map_err(|_| Status::unavailable("journal writer stopped"))
    }

    fn count(&self, reports: &[pb::ExecutionReport]) {
        self.metrics.reports.fetch_add(reports.len() as u64, Relaxed);
        let fills = reports.iter().filter(|r| r.event == ReportEvent::Fill as i32).count();
        self.metrics.fills.fetch_add(fills as u64, Relaxed);
        for r in reports.iter().filter(|r| r.reject_code != 0) {
            self.metrics.reject(r.reject_code);
        }
    }

    /// Cancel or modify one order; a refusal is NOT_FOUND for an unknown order, else `refused`.
    async fn change_order(&self, id: &str, cmd: Command, refused: fn(String) -> Status)
                          -> Result<Response<pb::OrderReply>, Status> {
        let (outcome, frame) = self.run(cmd)?;
        self.durable(frame).await?;
        match outcome {
            Outcome::One(Ok(report)) => {
                self.count(std::slice::from_ref(&report));
                let core = self.core.lock().map_err(|_| lock_err())?;
                Ok(Response::new(core.engine.get_order(id).unwrap_or_default()))
            }
            Outcome::One(Err(r)) if r.message.starts_with("unknown order") => Err(Status::not_found(r.message)),
            Outcome::One(Err(r)) => Err(refused(r.message)),
            _ => unreachable!("cancel and modify have one outcome"),
        }
    }

    /// The engine's last report and halt state, for a reply (after its own reports).
    fn tail(&self) -> Result<(u64, bool), Status> {
        let core = self.core.lock().map_err(|_| lock_err())?;
        Ok((core.engine.last_seq(), core.engine.halted().is_some()))
    }

    fn last_frame(&self) -> Result<u64, Status> {
        Ok(self.core.lock().map_err(|_| lock_err())?.journal.last_frame())
    }
}

/// The last valid quote of each symbol in a batch: all that a batch changes when no order is live
/// (an invalid quote changes nothing, so it is not the one to keep).
fn last_quotes(q: &pb::PushQuotesRequest) -> pb::PushQuotesRequest {
    let mut last: Vec<Option<usize>> = vec![None; q.symbols.len()];
    for (k, &i) in q.symbol_index.iter().enumerate() {
        if !q.bid.get(k).zip(q.ask.get(k)).is_some_and(|(&b, &a)| crate::engine::valid_quote(b, a)) {
            continue;
        }
        if let Some(slot) = last.get_mut(i as usize) {
            *slot = Some(k);
        }
    }
    let mut keep: Vec<usize> = last.into_iter().flatten().collect();
    keep.sort_by_key(|&k| (q.ts_ns[k], k));
    pb::PushQuotesRequest {
        batch_seq: q.batch_seq,
        symbols: q.symbols.clone(),
        symbol_index: keep.iter().map(|&k| q.symbol_index[k]).collect(),
        ts_ns: keep.iter().map(|&k| q.ts_ns[k]).collect(),
        bid: keep.iter().map(|&k| q.bid[k]).collect(),
        ask: keep.iter().map(|&k| q.ask[k]).collect(),
        stream_id: q.stream_id.clone(),
        continuous: Vec::new(),
    }
}

type ReportStream = Pin<Box<dyn Stream<Item = Result<pb::ExecutionReport, Status>> + Send>>;

#[tonic::async_trait]
impl Execution for ExecService {
    async fn submit_order(&self, req: Request<pb::SubmitOrderRequest>) -> Result<Response<pb::SubmitOrderResponse>, Status> {
        let t = Instant::now();
        let order = req.into_inner().order.ok_or_else(|| Status::invalid_argument("order is required"))?;
        if order.client_order_id.is_empty() {
            return Err(Status::invalid_argument("client_order_id is required"));
        }
        if order.client_order_id.len() > 128 {
            return Err(Status::invalid_argument("client_order_id is longer than 128 characters"));
        }
        let previous = {
            let core = self.core.lock().map_err(|_| lock_err())?;
            if let Some(conflict) = core.engine.conflicting_submit(&order) {
                tracing::warn!(client_order_id = %order.client_order_id, "reused client order id refused");
                return Err(Status::already_exists(conflict));
            }
            core.engine.previous_submit(&order.client_order_id)
        };
        let (result, frame, duplicate) = match previous {
            Some(first) => (first, self.last_frame()?, true),
            None => {
                let (outcome, frame) = self.run(Command::Submit(order))?;
                let Outcome::Submit(result) = outcome else { unreachable!() };
                (result, frame, false)
            }
        };
        // A duplicate may arrive while the first is still being written: it waits for it too.
        self.durable(frame).await?;
        if duplicate {
            self.metrics.orders_duplicate.fetch_add(1, Relaxed);
        } else {
            self.metrics.orders_submitted.fetch_add(1, Relaxed);
            self.metrics.reports.fetch_add(1, Relaxed);
        }
        self.metrics.submit_latency.observe(t.elapsed().as_secs_f64());
        match result {
            Ok(report) => {
                if !duplicate {
                    self.metrics.orders_accepted.fetch_add(1, Relaxed);
                }
                let (last_seq, halted) = self.tail()?;
                Ok(Response::new(pb::SubmitOrderResponse { report: Some(report), duplicate, last_seq, halted }))
            }
            Err(reject) => {
                if !duplicate {
                    self.metrics.reject(reject.code as i32);
                }
                tracing::info!(client_order_id = %reject.report.as_ref().map(|r| r.client_order_id.as_str()).unwrap_or(""),
                               code = reject.code.as_str_name(), duplicate, message = %reject.message, "order rejected");
                Err(status_for(&reject))
            }
        }
    }

    async fn cancel_order(&self, req: Request<pb::CancelOrderRequest>) -> Result<Response<pb::OrderReply>, Status> {
        let req = req.into_inner();
        let id = req.client_order_id.clone();
        self.change_order(&id, Command::Cancel(req), Status::failed_precondition).await
    }

    async fn modify_order(&self, req: Request<pb::ModifyOrderRequest>) -> Result<Response<pb::OrderReply>, Status> {
        let req = req.into_inner();
        let id = req.client_order_id.clone();
        self.change_order(&id, Command::Modify(req), Status::invalid_argument).await
    }

    async fn get_order(&self, req: Request<pb::GetOrderRequest>) -> Result<Response<pb::OrderReply>, Status> {
        let id = req.into_inner().client_order_id;
        let core = self.core.lock().map_err(|_| lock_err())?;
        core.engine
            .get_order(&id)
            .map(Response::new)
            .ok_or_else(|| Status::not_found(format!("unknown order {id}")))
    }

    async fn list_positions(&self, req: Request<pb::ListPositionsRequest>) -> Result<Response<pb::ListPositionsResponse>, Status> {
        let account = req.into_inner().account_id;
        let core = self.core.lock().map_err(|_| lock_err())?;
        Ok(Response::new(pb::ListPositionsResponse { positions: core.engine.list_positions(&account) }))
    }

    async fn push_quotes(&self, req: Request<pb::PushQuotesRequest>) -> Result<Response<pb::PushQuotesResponse>, Status> {
        let req = req.into_inner();
        if req.stream_id.len() > 64 {
            return Err(Status::invalid_argument("stream_id is longer than 64 characters"));
        }
        let previous = if req.batch_seq > 0 {
            self.core.lock().map_err(|_| lock_err())?.engine.previous_batch(&req.stream_id, req.batch_seq)
        } else {
            None
        };
        if let Some(reports) = previous {
            self.durable(self.last_frame()?).await?;
            let (last_seq, halted) = self.tail()?;
            return Ok(Response::new(pb::PushQuotesResponse { reports, duplicate: true, last_seq, halted }));
        }
        let n = req.ts_ns.len() as u64;
        let invalid: Vec<usize> = (0..req.bid.len().min(req.ask.len()))
            .filter(|&k| !crate::engine::valid_quote(req.bid[k], req.ask[k]))
            .collect();
        if let Some(&k) = invalid.first() {
            // the engine skips them (see `Engine::push_quotes`); counted and named here
            let symbol = req.symbol_index.get(k).and_then(|&i| req.symbols.get(i as usize)).cloned().unwrap_or_default();
            tracing::warn!(skipped = invalid.len(), first_index = k, symbol = %symbol, bid = req.bid[k], ask = req.ask[k],
                           stream_id = %req.stream_id, batch_seq = req.batch_seq,
                           "invalid quotes skipped (a side at or below zero, or crossed): they fill nothing and move no stop");
        }
        let (outcome, frame) = self.run(Command::Quotes(req))?;
        self.durable(frame).await?;
        match outcome {
            Outcome::Many(Ok(reports)) => {
                self.metrics.quotes.fetch_add(n, Relaxed);
                self.metrics.quotes_invalid.fetch_add(invalid.len() as u64, Relaxed);
                self.count(&reports);
                let (last_seq, halted) = self.tail()?;
                Ok(Response::new(pb::PushQuotesResponse { reports, duplicate: false, last_seq, halted }))
            }
            Outcome::Many(Err(r)) => Err(status_for(&r)),
            _ => unreachable!(),
        }
    }

    async fn flatten(&self, req: Request<pb::FlattenRequest>) -> Result<Response<pb::FlattenResponse>, Status> {
        let req = req.into_inner();
        let previous = if req.request_id.is_empty() {
            None
        } else {
            self.core.lock().map_err(|_| lock_err())?.engine.previous_flatten(&req.request_id)
        };
        if let Some(reports) = previous {
            self.durable(self.last_frame()?).await?;
            let (last_seq, halted) = self.tail()?;
            return Ok(Response::new(pb::FlattenResponse { reports, duplicate: true, last_seq, halted }));
        }
        tracing::warn!(account = %req.account_id, reason = %req.reason, "flatten");
        let (outcome, frame) = self.run(Command::Flatten(req))?;
        self.durable(frame).await?;
        let Outcome::Many(Ok(reports)) = outcome else { unreachable!() };
        self.count(&reports);
        let (last_seq, halted) = self.tail()?;
        Ok(Response::new(pb::FlattenResponse { reports, duplicate: false, last_seq, halted }))
    }

    async fn halt(&self, req: Request<pb::HaltRequest>) -> Result<Response<pb::HaltResponse>, Status> {
        let req = req.into_inner();
        tracing::warn!(account = %req.account_id, reason = %req.reason, cancel_working = req.cancel_working,
                       flatten = req.flatten, "halt");
        let system = req.account_id.is_empty();
        let (outcome, frame) = self.run(Command::Halt(req))?;
        self.metrics.halts.fetch_add(1, Relaxed);
        if system {
            self.metrics.halted.store(1, Relaxed);
        }
        self.durable(frame).await?;
        let Outcome::Many(Ok(reports)) = outcome else { unreachable!() };
        self.count(&reports);
        let (last_seq, halted) = self.tail()?;
        Ok(Response::new(pb::HaltResponse { reports, halted_at_seq: last_seq, last_seq, halted }))
    }

    async fn resume(&self, req: Request<pb::ResumeRequest>) -> Result<Response<pb::ResumeResponse>, Status> {
        let req = req.into_inner();
        tracing::warn!(account = %req.account_id, "resume");
        let system = req.account_id.is_empty();
        let (_, frame) = self.run(Command::Resume(req))?;
        if system {
            self.metrics.halted.store(0, Relaxed);
        }
        self.durable(frame).await?;
        Ok(Response::new(pb::ResumeResponse {}))
    }

    async fn health(&self, _req: Request<pb::HealthRequest>) -> Result<Response<pb::HealthResponse>, Status> {
        let core = self.core.lock().map_err(|_| lock_err())?;
        let e = &core.engine;
        Ok(Response::new(pb::HealthResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            halted: e.halted().is_some(),
            halt_reason: e.halted().unwrap_or("").to_string(),
            halted_accounts: e.halted_accounts(),
            last_seq: e.last_seq(),
            durable_seq: self.durable.borrow().report_seq,
            orders: e.order_count() as u64,
            open_positions: e.open_positions() as u64,
            recovered_records: self.recovered,
            uptime_ms: self.started.elapsed().as_millis() as i64,
            pid: std::process::id(),
        }))
    }

    type StreamReportsStream = ReportStream;

    async fn stream_reports(&self, req: Request<pb::StreamReportsRequest>) -> Result<Response<Self::StreamReportsStream>, Status> {
        let mut cursor = req.into_inner().from_seq;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let core = self.core.clone();
        let mut durable = self.durable.clone();
        tokio::spawn(async move {
            loop {
                // Only durable reports are streamed: a client never sees one that a crash undoes.
                let upto = durable.borrow_and_update().report_seq;
                if upto > cursor {
                    let batch = match core.lock() {
                        Ok(c) => c.engine.reports_between(cursor, upto.min(cursor + 1024)).to_vec(),
                        Err(_) => return,
                    };
                    for r in batch {
                        cursor = r.seq;
                        if tx.send(Ok(r)).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
                if durable.changed().await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}

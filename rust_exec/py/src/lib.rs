//! rust_exec's service in a Python process: the same `ExecService` the gRPC server runs (its engine,
//! journal, idempotency and refusals), called without a socket. A backtest drives its venue through
//! it (`cluster/adapters/rust_exec/inprocess.py`); a desk talks to the process over gRPC.
//!
//! A call takes the method's name and its request as protobuf bytes and returns
//! `(code, details, trailing metadata, reply bytes)`, `code` being the gRPC status code (0: OK), so
//! the Python client treats both transports alike. There is no authentication: the caller is the
//! process that owns the journal.

use octet_exec::config::Config;
use octet_exec::metrics::{Metrics, SyncMetrics};
use octet_exec::pb::{self, execution_server::Execution};
use octet_exec::service::{Core, ExecService};
use octet_exec::store;
use prost::Message;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::Path;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

struct Open {
    rt: tokio::runtime::Runtime,
    svc: ExecService,
    /// The journal's lock, held while the service is open (as the process holds it); released
    /// after the journal's threads are joined (`Drop`), never while they may still write.
    _lock: std::fs::File,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.svc.close_journal();
    }
}

/// One rust_exec service over one journal directory, in this process. Calls may come from several
/// threads; `close` waits for none of them, and the journal is let go when the last one returns.
#[pyclass(module = "octet_exec_native")]
struct Service {
    open: RwLock<Option<Arc<Open>>>,
    /// Why the service stopped (a failed journal write): every later call answers UNAVAILABLE with it.
    failed: Mutex<Option<String>>,
    journal_dir: String,
}

type Reply = Result<Vec<u8>, tonic::Status>;
/// What `call` returns to Python: (gRPC status code, details, trailing metadata, the reply).
type Answer<'py> = (i32, String, Vec<(String, String)>, Bound<'py, PyBytes>);

/// Why a call was not made: what the gRPC server answers for the same request.
enum Refused {
    Unimplemented(String),
    Undecodable(String),
}

async fn dispatch(svc: &ExecService, method: &str, body: &[u8]) -> Result<Reply, Refused> {
    macro_rules! unary {
        ($req:ty, $call:ident) => {{
            let req = <$req>::decode(body)
                .map_err(|e| Refused::Undecodable(format!("failed to decode Protobuf message: {e}")))?;
            Ok(svc.$call(tonic::Request::new(req)).await.map(|r| r.into_inner().encode_to_vec()))
        }};
    }
    match method {
        "SubmitOrder" => unary!(pb::SubmitOrderRequest, submit_order),
        "CancelOrder" => unary!(pb::CancelOrderRequest, cancel_order),
        "ModifyOrder" => unary!(pb::ModifyOrderRequest, modify_order),
        "GetOrder" => unary!(pb::GetOrderRequest, get_order),
        "ListPositions" => unary!(pb::ListPositionsRequest, list_positions),
        "PushQuotes" => unary!(pb::PushQuotesRequest, push_quotes),
        "Flatten" => unary!(pb::FlattenRequest, flatten),
        "Halt" => unary!(pb::HaltRequest, halt),
        "Resume" => unary!(pb::ResumeRequest, resume),
        "Health" => unary!(pb::HealthRequest, health),
        _ => Err(Refused::Unimplemented(format!("rust_exec has no unary method {method:?}"))),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic.downcast_ref::<String>().cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".to_string())
}

const OK: i32 = 0;
const INTERNAL: i32 = tonic::Code::Internal as i32;
const UNIMPLEMENTED: i32 = tonic::Code::Unimplemented as i32;
const UNAVAILABLE: i32 = tonic::Code::Unavailable as i32;

impl Service {
    /// The open service, or why there is none (stopped by a failed write, or closed).
    fn serving(&self) -> Result<Arc<Open>, String> {
        if let Some(why) = self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(why);
        }
        self.open.read().unwrap_or_else(|p| p.into_inner()).clone()
            .ok_or_else(|| format!("rust_exec in-process over {} is closed", self.journal_dir))
    }
}

#[pymethods]
impl Service {
    /// Recover `journal_dir` (or start a fresh journal there) with the configuration `config_json`
    /// (what `octet-exec --config` reads), and serve calls; `fsync` and `snapshot_every` as the
    /// process's `--no-fsync` and `--snapshot-every`; another holder of the journal (a process, or
    /// another Service) is waited for up to `lock_wait_ms`, as `--lock-wait-ms`.
    #[new]
    #[pyo3(signature = (config_json, journal_dir, fsync = true, snapshot_every = 50_000, lock_wait_ms = 10_000))]
    fn new(py: Python<'_>, config_json: &str, journal_dir: &str, fsync: bool, snapshot_every: u64, lock_wait_ms: u64)
           -> PyResult<Service> {
        let cfg = Config::from_json(config_json).map_err(PyValueError::new_err)?;
        let dir = Path::new(journal_dir).to_path_buf();
        let open = py.detach(move || -> Result<Open, String> {
            store::create_dir(&dir)?;
            let lock = store::lock(&dir, Duration::from_millis(lock_wait_ms))?;
            let metrics = Arc::new(Metrics::default());
            let defaults = store::Options::default();
            let opts = store::Options { fsync, snapshot_every, retention: defaults.retention };
            let started = store::start(&dir, cfg, opts, Box::new(SyncMetrics(metrics.clone())))?;
            started.journal.panic_on_failure();  // this process is not ours to exit
            let rec = started.recovery;
            let mut core = Core::new(started.engine, started.journal, snapshot_every);
            core.since_snapshot = rec.replayed;
            let svc = ExecService::new(core, metrics, rec.snapshot.unwrap_or(0) + rec.replayed);
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            Ok(Open { rt, svc, _lock: lock })
        }).map_err(PyRuntimeError::new_err)?;
        Ok(Service { open: RwLock::new(Some(Arc::new(open))), failed: Mutex::new(None),
                     journal_dir: journal_dir.to_string() })
    }

    /// Call `method` with the serialized request; returns (gRPC status code, details, trailing
    /// metadata, the serialized reply: empty unless the code is 0), as the gRPC server answers:
    /// UNAVAILABLE once closed or stopped (a failed journal write), INTERNAL for a request that
    /// does not decode, UNIMPLEMENTED for an unknown method.
    fn call<'py>(&self, py: Python<'py>, method: &str, request: &[u8]) -> PyResult<Answer<'py>> {
        let refusal = |code: i32, details: String| -> PyResult<Answer<'py>> {
            Ok((code, details, Vec::new(), PyBytes::new(py, &[])))
        };
        let open = match self.serving() {
            Ok(open) => open,
            Err(why) => return refusal(UNAVAILABLE, why),
        };
        let outcome = py.detach(|| {
            std::panic::catch_unwind(AssertUnwindSafe(|| open.rt.block_on(dispatch(&open.svc, method, request))))
        });
        let reply = match outcome {
            Err(panic) => {
                let why = format!("rust_exec in-process over {} stopped: {}", self.journal_dir, panic_text(&*panic));
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                return refusal(UNAVAILABLE, why);
            }
            Ok(Err(Refused::Unimplemented(why))) => return refusal(UNIMPLEMENTED, why),
            Ok(Err(Refused::Undecodable(why))) => return refusal(INTERNAL, why),
            Ok(Ok(reply)) => reply,
        };
        Ok(match reply {
            Ok(body) => (OK, String::new(), Vec::new(), PyBytes::new(py, &body)),
            Err(status) => {
                let trailing = status.metadata().iter().filter_map(|kv| match kv {
                    tonic::metadata::KeyAndValueRef::Ascii(k, v) => {
                        v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string()))
                    }
                    tonic::metadata::KeyAndValueRef::Binary(..) => None,
                }).collect();
                (status.code() as i32, status.message().to_string(), trailing, PyBytes::new(py, &[]))
            }
        })
    }

    /// The durable reports with `from_seq < seq <= until_seq`, at most `max`, serialized, in
    /// sequence order (StreamReports' content, a page at a time). Raises RuntimeError once the
    /// service is closed or stopped.
    #[pyo3(signature = (from_seq, until_seq, max = 1024))]
    fn reports<'py>(&self, py: Python<'py>, from_seq: u64, until_seq: u64, max: usize) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let open = self.serving().map_err(PyRuntimeError::new_err)?;
        let reports = open.svc.durable_reports(from_seq, until_seq, max)
            .map_err(|s| PyRuntimeError::new_err(s.message().to_string()))?;
        Ok(reports.iter().map(|r| PyBytes::new(py, &r.encode_to_vec())).collect())
    }

    /// Stop serving: a snapshot of the final state (as the process writes at its shutdown, so the
    /// next start replays nothing), then the journal's threads are joined and its lock released,
    /// once the calls under way (other threads') have returned. Idempotent; whether a snapshot was
    /// written.
    fn close(&self, py: Python<'_>) -> bool {
        let taken = self.open.write().unwrap_or_else(|p| p.into_inner()).take();
        let stopped = self.failed.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        match taken {
            Some(open) => py.detach(move || {
                // after a failed write the state past the journal is not to be snapshotted
                let snapshot = !stopped && open.svc.snapshot_at_shutdown(Duration::from_secs(30));
                drop(open);  // the last holder closes the journal, then the lock (Open's Drop)
                snapshot
            }),
            None => false,
        }
    }
}

#[pymodule]
fn octet_exec_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // A panic here (a failed journal write) becomes the service's UNAVAILABLE answer (`call`); one
    // line on stderr says why, without the backtrace meant for a crash of the process. The hook is
    // this module's own (its copy of std), not the host's.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("rust_exec in-process: {}", panic_text(info.payload()));
    }));
    m.add_class::<Service>()?;
    Ok(())
}

//! `octet-exec`: the execution service.
//!
//! ```text
//! octet-exec --config exec.json --journal-dir var/exec --auth-file auth.json
//!            [--tls-cert server.pem --tls-key server.key [--tls-client-ca ca.pem]]
//!            [--listen 127.0.0.1:50551] [--metrics-listen 127.0.0.1:9464] [--no-fsync]
//!            [--parent-pid PID] [--lock-wait-ms 10000] [--snapshot-every 50000] [--keep-snapshots 2]
//!            [--insecure]
//! ```
//! Every call needs a bearer token from the auth file (see [`octet_exec::auth`]); with
//! `--tls-client-ca` clients must also present a certificate that CA signed (mutual TLS). An
//! address other than loopback needs TLS; `--insecure` (no token, no TLS) is for loopback only.
//! The journal directory holds the journal's segments, snapshots of the engine (one every
//! `--snapshot-every` journaled commands, 0 = none, and one at a clean shutdown) and a LOCK file;
//! see `journal`, `snapshot` and `store`. Files are created mode 0600, the directory 0700.
//! Prints `LISTENING <grpc address> METRICS <metrics address>` on stdout once it serves (port 0
//! picks a free port); logs are JSON lines on stderr. With `--parent-pid`, it exits when that
//! process is gone (embedded mode: it never outlives the desk that started it).

use octet_exec::auth::{Auth, CallPath};
use octet_exec::config::Config;
use octet_exec::journal::Retention;
use octet_exec::metrics::{self, Metrics, SyncMetrics};
use octet_exec::pb::execution_server::ExecutionServer;
use octet_exec::service::{Core, ExecService};
use octet_exec::store;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    config: PathBuf,
    journal_dir: PathBuf,
    listen: SocketAddr,
    metrics_listen: Option<SocketAddr>,
    fsync: bool,
    parent_pid: Option<i32>,
    lock_wait: Duration,
    auth_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_client_ca: Option<PathBuf>,
    insecure: bool,
    snapshot_every: u64,
    keep_snapshots: usize,
}

fn usage(msg: &str) -> ! {
    eprintln!("octet-exec: {msg}\nusage: octet-exec --config FILE --journal-dir DIR --auth-file FILE \
               [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [--listen ADDR] [--metrics-listen ADDR] \
               [--no-fsync] [--parent-pid PID] [--lock-wait-ms MS] [--snapshot-every N (0 = off)] \
               [--keep-snapshots K] [--insecure]");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut config = None;
    let mut journal_dir = None;
    let mut listen: SocketAddr = "127.0.0.1:50551".parse().unwrap();
    let mut metrics_listen = None;
    let mut fsync = true;
    let mut parent_pid = None;
    let mut lock_wait = Duration::from_secs(10);
    let (mut auth_file, mut tls_cert, mut tls_key, mut tls_client_ca, mut insecure) = (None, None, None, None, false);
    let defaults = store::Options::default();
    let mut snapshot_every = defaults.snapshot_every;
    let mut keep_snapshots = defaults.retention.keep_snapshots;
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().unwrap_or_else(|| usage(&format!("{name} needs a value")));
        match a.as_str() {
            "--config" => config = Some(PathBuf::from(val("--config"))),
            "--journal-dir" => journal_dir = Some(PathBuf::from(val("--journal-dir"))),
            "--listen" => listen = val("--listen").parse().unwrap_or_else(|_| usage("--listen: not a socket address")),
            "--metrics-listen" => {
                metrics_listen = Some(val("--metrics-listen").parse().unwrap_or_else(|_| usage("--metrics-listen: not a socket address")))
            }
            "--no-fsync" => fsync = false,
            "--parent-pid" => parent_pid = Some(val("--parent-pid").parse().unwrap_or_else(|_| usage("--parent-pid: not a pid"))),
            "--lock-wait-ms" => {
                lock_wait = Duration::from_millis(val("--lock-wait-ms").parse().unwrap_or_else(|_| usage("--lock-wait-ms: not a number")))
            }
            "--auth-file" => auth_file = Some(PathBuf::from(val("--auth-file"))),
            "--tls-cert" => tls_cert = Some(PathBuf::from(val("--tls-cert"))),
            "--tls-key" => tls_key = Some(PathBuf::from(val("--tls-key"))),
            "--tls-client-ca" => tls_client_ca = Some(PathBuf::from(val("--tls-client-ca"))),
            "--insecure" => insecure = true,
            "--snapshot-every" => {
                snapshot_every = val("--snapshot-every").parse().unwrap_or_else(|_| usage("--snapshot-every: not a number"))
            }
            "--keep-snapshots" => {
                keep_snapshots = val("--keep-snapshots").parse().unwrap_or_else(|_| usage("--keep-snapshots: not a number"));
                if keep_snapshots == 0 {
                    usage("--keep-snapshots: at least 1");
                }
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let args = Args {
        config: config.unwrap_or_else(|| usage("--config is required")),
        journal_dir: journal_dir.unwrap_or_else(|| usage("--journal-dir is required")),
        listen,
        metrics_listen,
        fsync,
        parent_pid,
        lock_wait,
        auth_file,
        tls_cert,
        tls_key,
        tls_client_ca,
        insecure,
        snapshot_every,
        keep_snapshots,
    };
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        usage("--tls-cert and --tls-key go together");
    }
    if args.tls_client_ca.is_some() && args.tls_cert.is_none() {
        usage("--tls-client-ca needs --tls-cert and --tls-key");
    }
    if args.insecure {
        if args.auth_file.is_some() || args.tls_cert.is_some() {
            usage("--insecure turns credentials off: drop it, or drop --auth-file and --tls-*");
        }
        if !args.listen.ip().is_loopback() {
            usage(&format!("--insecure serves loopback only, not {}", args.listen));
        }
    } else {
        if args.auth_file.is_none() {
            usage("--auth-file is required (every call needs a token); --insecure serves without, on loopback only");
        }
        if args.tls_cert.is_none() && !args.listen.ip().is_loopback() {
            usage(&format!("{} is not a loopback address: give --tls-cert and --tls-key", args.listen));
        }
    }
    args
}

fn read_pem(path: &std::path::Path, secret: bool) -> Vec<u8> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    if secret && meta.permissions().mode() & 0o077 != 0 {
        fail(&format!("{} is readable by others (mode {:o}); chmod 600 it", path.display(),
                      meta.permissions().mode() & 0o777));
    }
    std::fs::read(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())))
}

fn tls_config(args: &Args) -> Option<tonic::transport::ServerTlsConfig> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let (cert, key) = (args.tls_cert.as_ref()?, args.tls_key.as_ref()?);
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(read_pem(cert, false), read_pem(key, true)));
    if let Some(ca) = &args.tls_client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read_pem(ca, false)));
    }
    Some(tls)
}

fn fail(msg: &str) -> ! {
    tracing::error!("{msg}");
    eprintln!("octet-exec: {msg}");
    std::process::exit(1);
}

fn main() {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OCTET_EXEC_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let args = parse_args();
    let auth = args.auth_file.as_ref().map(|p| Auth::load(p).unwrap_or_else(|e| fail(&e)));
    let tls = tls_config(&args);
    // Journals, snapshots and logs are the desk's books: nobody else reads them.
    unsafe { libc::umask(0o077) };
    let text = std::fs::read_to_string(&args.config)
        .unwrap_or_else(|e| fail(&format!("cannot read config {}: {e}", args.config.display())));
    let cfg = Config::from_json(&text).unwrap_or_else(|e| fail(&e));
    store::create_dir(&args.journal_dir).unwrap_or_else(|e| fail(&e));
    let _lock = store::lock(&args.journal_dir, args.lock_wait).unwrap_or_else(|e| fail(&e));

    let t = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let opts = store::Options {
        fsync: args.fsync,
        snapshot_every: args.snapshot_every,
        retention: Retention { keep_snapshots: args.keep_snapshots },
    };
    let started = store::start(&args.journal_dir, cfg, opts, Box::new(SyncMetrics(metrics.clone())))
        .unwrap_or_else(|e| fail(&e));
    let (engine, journal, rec) = (started.engine, started.journal, started.recovery);
    tracing::info!(snapshot_frame = rec.snapshot.unwrap_or(0), frames = rec.replayed, last_frame = rec.last_frame,
                   torn_bytes = rec.torn_bytes, config = rec.config, skipped_snapshots = rec.skipped_snapshots.len(),
                   reports = engine.last_seq(), orders = engine.order_count(), open_positions = engine.open_positions(),
                   halted = engine.halted().is_some(), ms = t.elapsed().as_millis() as u64, "journal replayed");
    let recovered = rec.snapshot.unwrap_or(0) + rec.replayed;
    let mut core = Core::new(engine, journal, args.snapshot_every);
    core.since_snapshot = rec.replayed;
    let svc = ExecService::new(core, metrics.clone(), recovered);
    let at_exit = svc.clone();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await
            .unwrap_or_else(|e| fail(&format!("cannot listen on {}: {e}", args.listen)));
        let addr = listener.local_addr().unwrap();
        let maddr = match args.metrics_listen {
            Some(m) => {
                let l = tokio::net::TcpListener::bind(m).await
                    .unwrap_or_else(|e| fail(&format!("cannot listen on {m}: {e}")));
                let a = l.local_addr().unwrap();
                tokio::spawn(metrics::serve(l, metrics.clone()));
                a.to_string()
            }
            None => "-".to_string(),
        };
        if let Some(pid) = args.parent_pid {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if unsafe { libc::kill(pid, 0) } != 0 || unsafe { libc::getppid() } != pid {
                        tracing::warn!(parent_pid = pid, "parent process is gone; exiting");
                        std::process::exit(0);
                    }
                }
            });
        }
        tracing::info!(grpc = %addr, metrics = %maddr, fsync = args.fsync, tls = tls.is_some(),
                       mutual_tls = args.tls_client_ca.is_some(), auth = auth.is_some(), pid = std::process::id(), "octet-exec serving");
        println!("LISTENING {addr} METRICS {maddr}");
        let _ = std::io::stdout().flush();
        // Nagle off on every accepted connection (Server::tcp_nodelay covers only sockets tonic
        // accepts itself): a reply written in parts must not wait for the client's delayed ACK.
        let incoming = tokio_stream::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |s| {
            s.inspect(|sock| {
                let _ = sock.set_nodelay(true);
            })
        });
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            tracing::info!("shutting down");
        };
        // Flow-control windows large enough that a client never waits for a WINDOW_UPDATE in
        // the middle of a quote batch.
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).unwrap_or_else(|e| fail(&format!("TLS configuration: {e}")));
        }
        // The interceptor sees no URI: the path is put in the request's extensions first.
        let layers = tower::ServiceBuilder::new()
            .map_request(|mut req: http::Request<tonic::body::Body>| {
                let path = CallPath(req.uri().path().to_owned());
                req.extensions_mut().insert(path);
                req
            })
            .layer(tonic::service::InterceptorLayer::new(move |req: tonic::Request<()>| match &auth {
                Some(a) => a.intercept(req),
                None => Ok(req),
            }));
        builder
            .layer(layers)
            .tcp_nodelay(true)
            .initial_connection_window_size(16 << 20)
            .initial_stream_window_size(8 << 20)
            .add_service(ExecutionServer::new(svc))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .unwrap_or_else(|e| fail(&format!("server error: {e}")));
    });
    // A clean shutdown: a snapshot of the final state, so the next start replays nothing.
    if at_exit.snapshot_at_shutdown(Duration::from_secs(30)) {
        tracing::info!("snapshot at shutdown written");
    }
}

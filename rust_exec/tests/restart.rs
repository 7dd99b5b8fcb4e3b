//! The real `octet-exec` binary over gRPC: kill -9 at any point with snapshots on keeps every
//! acknowledged command; a restart under an edited configuration replays each command under the
//! configuration it was acknowledged under; a journal it cannot read refuses start with a message.

mod common;

use common::{config, order, quotes};
use octet_exec::config::{Config, VenueConfig};
use octet_exec::pb::{self, execution_client::ExecutionClient, OrderStatus, Side};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tonic::transport::Channel;

struct Exec {
    child: Child,
    addr: String,
}

impl Drop for Exec {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, cfg: &Config) -> std::path::PathBuf {
    let p = dir.join("exec.json");
    std::fs::write(&p, cfg.to_json()).unwrap();
    p
}

fn spawn(dir: &Path, cfg: &Config, extra: &[&str]) -> Exec {
    let cfg_path = write_config(dir.parent().unwrap(), cfg);
    let mut child = Command::new(env!("CARGO_BIN_EXE_octet-exec"))
        .args(["--config", cfg_path.to_str().unwrap(), "--journal-dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0", "--insecure"])
        .args(extra)
        .env("OCTET_EXEC_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts.first(), Some(&"LISTENING"), "octet-exec did not start: {line:?}");
    Exec { addr: format!("http://{}", parts[1]), child }
}

async fn client(e: &Exec) -> ExecutionClient<Channel> {
    for _ in 0..200 {
        if let Ok(c) = ExecutionClient::connect(e.addr.clone()).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("cannot connect to {}", e.addr)
}

async fn all_reports(c: &mut ExecutionClient<Channel>, last: u64) -> Vec<pb::ExecutionReport> {
    let mut s = c.stream_reports(pb::StreamReportsRequest { from_seq: 0 }).await.unwrap().into_inner();
    let mut out = Vec::new();
    while (out.len() as u64) < last {
        out.push(s.message().await.unwrap().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_at_any_point_with_snapshots_keeps_every_acknowledged_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let cfg = config(VenueConfig::default());
    // (id, first report) of every acknowledged submit; every acknowledged batch's reports
    let mut acked: Vec<(pb::Order, pb::ExecutionReport)> = Vec::new();
    let mut acked_batch: Vec<pb::ExecutionReport> = Vec::new();
    let mut k = 0u64;
    for (round, kill_after_ms) in [0u64, 7, 25, 60, 120, 3].into_iter().enumerate() {
        let exec = spawn(&dir, &cfg, &["--snapshot-every", "5"]);
        let mut c = client(&exec).await;
        let mut worker = c.clone();
        let stream = format!("round{round}");
        let start = k;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let done_in_desk = done.clone();
        // the desk: submits and quote batches without pause until the service dies under it
        let desk = tokio::spawn(async move {
            let mut got: (Vec<(pb::Order, pb::ExecutionReport)>, Vec<pb::ExecutionReport>) = Default::default();
            for n in start.. {
                let mut o = order(&format!("k{n:05}"), "b", Side::Buy, 100_000);
                o.not_before_ns = 1_000 + n as i64 * 1_000;
                o.expires_ns = o.not_before_ns + 10_000_000;
                match worker.submit_order(pb::SubmitOrderRequest { order: Some(o.clone()) }).await {
                    Ok(r) => got.0.push((o, r.into_inner().report.unwrap())),
                    Err(_) => break,
                }
                done_in_desk.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let ts = 1_500 + n as i64 * 1_000;
                let (bid, ask) = if n % 4 == 3 { (107_900, 107_910) } else { (108_495, 108_505) };
                let mut q = quotes(&[(ts, bid, ask)], n - start + 1);
                q.stream_id = stream.clone();
                match worker.push_quotes(q).await {
                    Ok(r) => got.1.extend(r.into_inner().reports),
                    Err(_) => break,
                }
            }
            got
        });
        // some work acknowledged first (however slow the machine), then the kill at a varied moment
        let waited = std::time::Instant::now();
        while done.load(std::sync::atomic::Ordering::Relaxed) < 6 && waited.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        drop(exec); // SIGKILL
        let (subs, reps) = desk.await.unwrap();
        k += subs.len() as u64 + 1;
        acked.extend(subs);
        acked_batch.extend(reps);

        // restart: everything acknowledged is there, with its first result
        let exec = spawn(&dir, &cfg, &["--snapshot-every", "5"]);
        c = client(&exec).await;
        let health = c.health(pb::HealthRequest {}).await.unwrap().into_inner();
        let reports = all_reports(&mut c, health.last_seq).await;
        assert_eq!(reports.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=health.last_seq).collect::<Vec<_>>());
        for r in acked.iter().map(|a| &a.1).chain(acked_batch.iter()) {
            assert_eq!(&reports[r.seq as usize - 1], r, "round {round}: acknowledged report {} kept as it was", r.seq);
        }
        for (o, first) in &acked {
            let again = c.submit_order(pb::SubmitOrderRequest { order: Some(o.clone()) }).await.unwrap().into_inner();
            assert!(again.duplicate, "{}", o.client_order_id);
            assert_eq!(again.report.as_ref(), Some(first), "a resubmit after the restart gets the first result");
        }
        drop(exec);
    }
    assert!(acked.len() > 30, "the desk got work done between kills: {}", acked.len());
    // a clean stop writes a snapshot of everything: the journal after it is empty, and compacted
    let exec = spawn(&dir, &cfg, &["--snapshot-every", "5"]);
    let mut c = client(&exec).await;
    let last_seq = c.health(pb::HealthRequest {}).await.unwrap().into_inner().last_seq;
    unsafe { libc::kill(exec.child.id() as i32, libc::SIGTERM) };
    let mut exec = exec;
    assert!(exec.child.wait().unwrap().success());
    let mut files: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    files.sort();
    let segments: Vec<&String> = files.iter().filter(|f| f.starts_with("journal-")).collect();
    let snapshots: Vec<&String> = files.iter().filter(|f| f.starts_with("snapshot-")).collect();
    let frame = |name: &str| -> u64 { name[name.len() - 24..name.len() - 4].parse().unwrap() };
    // two snapshots kept, and of the journal only what follows the older one
    assert_eq!(snapshots.len(), 2, "{files:?}");
    let (oldest, newest) = (frame(snapshots[0]), frame(snapshots[1]));
    assert!(frame(segments[0]) <= oldest + 1 && segments.get(1).is_none_or(|s| frame(s) > oldest + 1), "{files:?}");
    let last = segments.last().unwrap();
    assert_eq!(last.as_str(), format!("journal-{:020}.bin", newest + 1), "the last segment starts after the newest snapshot");
    assert_eq!(std::fs::metadata(dir.join(last)).unwrap().len(), 24, "and holds no frame: nothing to replay");
    let exec = spawn(&dir, &cfg, &["--snapshot-every", "5"]);
    let mut c = client(&exec).await;
    let h = c.health(pb::HealthRequest {}).await.unwrap().into_inner();
    assert_eq!((h.last_seq, h.recovered_records), (last_seq, newest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_accepted_under_one_limit_stays_accepted_after_a_restart_under_a_tighter_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let a = config(VenueConfig::default()); // account a: 10 lots
    let mut b = a.clone();
    b.accounts[0].max_order_lots_e6 = 1_000_000; // 1 lot
    let big = order("big", "a", Side::Buy, 500_000); // 5 lots

    let exec = spawn(&dir, &a, &[]);
    let mut c = client(&exec).await;
    let first = c.submit_order(pb::SubmitOrderRequest { order: Some(big.clone()) }).await.unwrap().into_inner();
    assert_eq!(first.report.as_ref().unwrap().status, OrderStatus::Accepted as i32);
    drop(exec); // kill -9

    let exec = spawn(&dir, &b, &[]);
    let mut c = client(&exec).await;
    let got = c.get_order(pb::GetOrderRequest { client_order_id: "big".into() }).await.unwrap().into_inner();
    assert_eq!(got.status, OrderStatus::Accepted as i32, "the replayed order is still ACCEPTED");
    let again = c.submit_order(pb::SubmitOrderRequest { order: Some(big.clone()) }).await.unwrap().into_inner();
    assert!(again.duplicate);
    assert_eq!(again.report, first.report);
    let mut twin = big.clone();
    twin.client_order_id = "big2".into();
    let err = c.submit_order(pb::SubmitOrderRequest { order: Some(twin) }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert!(err.message().contains("order of 5 lots is over account a's limit of 1 lots"), "{}", err.message());
}

#[test]
fn a_journal_of_the_previous_format_refuses_start_with_a_message_and_no_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    std::fs::create_dir(&dir).unwrap();
    let legacy = dir.join("journal.bin");
    std::fs::write(&legacy, octet_exec::journal::encode(octet_exec::journal::Command::Quotes(quotes(&[(1, 2, 3)], 1)))).unwrap();
    let cfg_path = write_config(tmp.path(), &config(VenueConfig::default()));
    let out = Command::new(env!("CARGO_BIN_EXE_octet-exec"))
        .args(["--config", cfg_path.to_str().unwrap(), "--journal-dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0", "--insecure"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("octet-exec: {} is a journal of the previous format", legacy.display())), "{err}");
    assert!(err.contains("start in a new journal directory"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("stack backtrace"), "{err}");
    assert!(out.stdout.is_empty());
}

//! The journal: what was acknowledged is replayed into the same state; a torn tail is cut off;
//! headers, snapshots, compaction and the journaled configuration.

mod common;

use common::{config, order, quotes};
use octet_exec::config::{Config, VenueConfig};
use octet_exec::engine::Engine;
use octet_exec::journal::{self, Command, ConfigEntry, Retention, SyncObserver};
use octet_exec::pb::{self, OrderStatus, RejectCode, Side};
use octet_exec::service::{apply, Core};
use octet_exec::snapshot;
use octet_exec::store::{self, Options};
use prost::Message;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

struct Quiet;
impl SyncObserver for Quiet {
    fn synced(&self, _: usize, _: f64) {}
}

fn session() -> Vec<Command> {
    let mut o2 = order("o2", "a", Side::Sell, 200_000);
    o2.not_before_ns = 2_500;
    vec![
        Command::Submit(order("o1", "a", Side::Buy, 100_000)),
        Command::Submit(order("too-big", "b", Side::Buy, 500_000)),
        Command::Quotes(quotes(&[(2_000, 108_495, 108_505), (2_100, 108_490, 108_500)], 1)),
        Command::Submit(o2),
        Command::Quotes(quotes(&[(3_000, 108_480, 108_490), (3_500, 108_960, 108_970)], 2)),
        Command::Modify(pb::ModifyOrderRequest { client_order_id: "o2".into(), stop_loss: 109_500, take_profit: 0, ts_ns: 3_600 }),
        Command::Halt(pb::HaltRequest { reason: "test".into(), account_id: "b".into(), ..Default::default() }),
        Command::Submit(order("o3", "a", Side::Buy, 100_000)),
        Command::Cancel(pb::CancelOrderRequest { client_order_id: "o3".into(), ts_ns: 3_700 }),
        Command::Flatten(pb::FlattenRequest { request_id: "f".into(), account_id: "a".into(), ts_ns: 4_000, reason: "eod".into(), ..Default::default() }),
        Command::Submit(order("o4", "a", Side::Buy, 100_000)),
        Command::Quotes(quotes(&[(5_000, 108_495, 108_505)], 3)),
        Command::Resume(pb::ResumeRequest { account_id: "b".into() }),
        Command::Submit(order("o5", "b", Side::Sell, 100_000)),
    ]
}

fn run(cmds: &[Command]) -> Engine {
    let mut e = Engine::new(config(VenueConfig::default()));
    for c in cmds {
        let _ = apply(&mut e, c);
    }
    e
}

fn opts(snapshot_every: u64) -> Options {
    Options { fsync: true, snapshot_every, retention: Retention { keep_snapshots: 2 } }
}

/// What the service does: start over the directory, then execute each command (journal, snapshots).
fn serve(dir: &Path, cfg: Config, every: u64, cmds: &[Command]) -> Core {
    let s = store::start(dir, cfg, opts(every), Box::new(Quiet)).unwrap();
    let mut core = Core::new(s.engine, s.journal, every);
    for c in cmds {
        core.execute(c.clone());
    }
    let last = core.journal.last_frame();
    core.journal.wait_durable(last);
    core
}

/// Wait until the snapshot thread has written every snapshot queued (each covers a multiple of `every`).
fn settle(core: &Core, every: u64) {
    let want = core.journal.last_frame() / every * every;
    assert!(core.journal.wait_snapshot(want, Duration::from_secs(10)), "snapshot of frame {want} written");
}

fn state(e: &Engine) -> Vec<u8> {
    e.to_state().encode_to_vec()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    v.sort();
    v
}

#[test]
fn replaying_the_journal_rebuilds_every_order_fill_position_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let cmds = session();
    let live = run(&cmds);
    drop(serve(dir.path(), config(VenueConfig::default()), 0, &cmds));

    let back = store::recover(dir.path()).unwrap();
    assert_eq!((back.recovery.replayed, back.recovery.snapshot), (cmds.len() as u64 + 1, None), "the configuration and every command");
    let back = back.engine.unwrap();
    assert_eq!(back.reports_between(0, u64::MAX), live.reports_between(0, u64::MAX));
    assert!(live.last_seq() >= 8, "the session produced its reports: {}", live.last_seq());
    assert_eq!(back.list_positions(""), live.list_positions(""));
    assert_eq!(back.halted_accounts(), Vec::<String>::new());
    for id in ["o1", "too-big", "o2", "o3", "o4", "o5"] {
        assert_eq!(back.get_order(id), live.get_order(id), "{id}");
    }
    // what a duplicate asks for after the restart is still the first answer
    assert_eq!(back.previous_submit("too-big"), live.previous_submit("too-big"));
    assert_eq!(back.previous_batch("test", 2), live.previous_batch("test", 2));
    assert!(back.previous_batch("test", 2).is_some(), "the stream's batches survive the replay");
    assert_eq!(state(&back), state(&live));
}

/// A journal of one segment written by hand: header, then the frames.
fn segment_bytes(first: u64, cmds: &[Command]) -> (Vec<u8>, Vec<usize>) {
    let mut data = journal::header(first).to_vec();
    let mut starts = Vec::new();
    for c in cmds {
        starts.push(data.len());
        data.extend_from_slice(&journal::encode(c.clone()));
    }
    (data, starts)
}

fn with_config(cmds: &[Command]) -> Vec<Command> {
    let mut all = vec![Command::Config(ConfigEntry { json: config(VenueConfig::default()).to_json() })];
    all.extend_from_slice(cmds);
    all
}

#[test]
fn a_torn_tail_is_cut_off_and_the_whole_frames_before_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(journal::segment_name(1));
    let cmds = with_config(&session());
    let (mut data, _) = segment_bytes(1, &cmds[..5]);
    let whole = data.len() as u64;
    let next = journal::encode(cmds[5].clone());
    data.extend_from_slice(&next[..next.len() / 2]);
    std::fs::write(&path, &data).unwrap();
    let read = journal::read_segment(&path, 0, true).unwrap();
    assert_eq!((read.commands.len(), read.torn), (5, (next.len() / 2) as u64));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), whole, "the file is cut back to its last whole frame");

    // a flipped byte inside the last frame stops the replay there too
    let mut data = std::fs::read(&path).unwrap();
    let last = data.len() - 3;
    data[last] ^= 0xff;
    std::fs::write(&path, &data).unwrap();
    assert_eq!(journal::read_segment(&path, 0, true).unwrap().commands.len(), 4);
    // but the same damage in a segment that is not the last is refused: it was acknowledged
    data[last] ^= 0xff;
    data.extend_from_slice(&next[..3]);
    std::fs::write(&path, &data).unwrap();
    let err = journal::read_segment(&path, 0, false).unwrap_err();
    assert!(err.contains("frame 6 at byte") && err.contains("not the journal's last segment"), "{err}");
}

#[test]
fn a_damaged_frame_in_the_middle_refuses_to_start_naming_it_and_cuts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(journal::segment_name(1));
    let (mut data, starts) = segment_bytes(1, &with_config(&session()));
    data[starts[3] + 10] ^= 0x01; // one flipped bit in the payload of frame 4 of 15
    std::fs::write(&path, &data).unwrap();
    let err = journal::read_segment(&path, 0, true).unwrap_err();
    assert!(err.contains(&format!("frame 4 at byte {} is damaged (CRC mismatch)", starts[3])), "{err}");
    assert!(err.contains(&format!("a whole frame follows at byte {}", starts[4])), "{err}");
    assert!(err.contains(&path.display().to_string()), "the file is named: {err}");
    assert_eq!(std::fs::read(&path).unwrap(), data, "nothing is cut");
    let err = store::recover(dir.path()).err().expect("start is refused");
    assert!(err.contains("frame 4 at byte"), "{err}");
    // the length field damaged instead: still a hole, not a tail
    let mut data2 = data.clone();
    data2[starts[3] + 10] ^= 0x01;
    data2[starts[3] + 1] ^= 0x40;
    std::fs::write(&path, &data2).unwrap();
    assert!(journal::read_segment(&path, 0, true).unwrap_err().contains("frame 4 at byte"));
}

#[test]
fn a_bad_magic_an_unknown_version_or_a_headerless_journal_refuses_to_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(journal::segment_name(1));
    let (good, _) = segment_bytes(1, &with_config(&session()));
    assert_eq!(&good[..8], b"OCTETJNL");

    let mut bad = good.clone();
    bad[..8].copy_from_slice(b"NOTAJRNL");
    std::fs::write(&path, &bad).unwrap();
    let err = store::recover(dir.path()).err().unwrap();
    assert!(err.contains(&path.display().to_string()) && err.contains("\"NOTAJRNL\"") && err.contains("not \"OCTETJNL\""), "{err}");

    // version 3, with a header CRC that matches: an unknown version, not damage
    let mut v3 = good[..20].to_vec();
    v3[8..12].copy_from_slice(&3u32.to_le_bytes());
    let crc = crc32fast::hash(&v3);
    v3.extend_from_slice(&crc.to_le_bytes());
    v3.extend_from_slice(&good[24..]);
    std::fs::write(&path, &v3).unwrap();
    let err = store::recover(dir.path()).err().unwrap();
    assert!(err.contains("journal format version 3") && err.contains("reads version 2"), "{err}");

    // a damaged header
    let mut dmg = good.clone();
    dmg[14] ^= 0x01;
    std::fs::write(&path, &dmg).unwrap();
    assert!(store::recover(dir.path()).err().unwrap().contains("journal header is damaged"));

    // frames of the previous format under a segment's name
    std::fs::write(&path, &good[24..]).unwrap();
    let err = store::recover(dir.path()).err().unwrap();
    assert!(err.contains("previous format") && err.contains("var/exec/<run id>"), "{err}");

    // the previous format's file itself: refused, and left as it is
    std::fs::remove_file(&path).unwrap();
    let legacy = dir.path().join("journal.bin");
    std::fs::write(&legacy, &good[24..]).unwrap();
    let err = store::start(dir.path(), config(VenueConfig::default()), opts(0), Box::new(Quiet)).err().unwrap();
    assert!(err.contains(&legacy.display().to_string()) && err.contains("previous format")
            && err.contains("new journal directory"), "{err}");
    assert_eq!(std::fs::read(&legacy).unwrap(), &good[24..]);
    assert_eq!(names(dir.path()), vec!["journal.bin".to_string()], "no journal is started beside it");
}

#[test]
fn state_after_a_snapshot_and_its_tail_equals_state_after_the_full_replay() {
    let cmds = session();
    let live = run(&cmds);
    let full = tempfile::tempdir().unwrap();
    drop(serve(full.path(), config(VenueConfig::default()), 0, &cmds));
    let snap = tempfile::tempdir().unwrap();
    let core = serve(snap.path(), config(VenueConfig::default()), 4, &cmds);
    settle(&core, 4);
    drop(core);

    let a = store::recover(full.path()).unwrap();
    let b = store::recover(snap.path()).unwrap();
    // 15 frames (the configuration, then 14 commands): a snapshot every 4 commands, after frames 5,
    // 9 and 13; the last 2 replayed
    assert_eq!((b.recovery.snapshot, b.recovery.replayed), (Some(13), 2));
    let (a, b) = (a.engine.unwrap(), b.engine.unwrap());
    assert_eq!(state(&b), state(&a), "orders, positions, quotes, reports, de-dup records, streams, halts, clock");
    assert_eq!(state(&b), state(&live));
    assert_eq!(b.last_seq(), live.last_seq());
    assert_eq!(b.list_positions(""), live.list_positions(""));
    for id in ["o1", "too-big", "o2", "o3", "o4", "o5"] {
        assert_eq!(b.get_order(id), live.get_order(id), "{id}");
        assert_eq!(b.previous_submit(id), live.previous_submit(id), "{id}");
    }
    assert_eq!(b.previous_batch("test", 3), live.previous_batch("test", 3));
    assert_eq!(b.previous_flatten("f"), live.previous_flatten("f"));
    assert_eq!(b.halted_accounts(), live.halted_accounts());
    assert_eq!(b.previous_submit("too-big"), live.previous_submit("too-big"), "a rejection is remembered");
    assert_eq!(b.previous_submit("o4"), live.previous_submit("o4"));
    assert!(matches!(b.previous_submit("o4"), Some(Ok(_))));

    // compaction: two snapshots kept, and the journal from the older one on
    assert_eq!(names(snap.path()), vec![journal::segment_name(10), journal::segment_name(14),
                                        snapshot::file_name(9), snapshot::file_name(13)]);
    // modes: files 0600, the directory 0700
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for n in names(snap.path()) {
        assert_eq!(mode(&snap.path().join(&n)), 0o600, "{n}");
    }
    let made = snap.path().join("sub").join("exec");
    store::start(&made, config(VenueConfig::default()), opts(0), Box::new(Quiet)).unwrap();
    assert_eq!(mode(&made), 0o700);
    assert_eq!(mode(&made.join(journal::segment_name(1))), 0o600);
}

#[test]
fn a_damaged_snapshot_falls_back_to_the_older_one_and_never_loses_a_command() {
    let cmds = session();
    let live = run(&cmds);
    let dir = tempfile::tempdir().unwrap();
    let core = serve(dir.path(), config(VenueConfig::default()), 4, &cmds);
    settle(&core, 4);
    drop(core);
    let newest = dir.path().join(snapshot::file_name(13));
    let mut data = std::fs::read(&newest).unwrap();
    let k = data.len() / 2;
    data[k] ^= 0x10;
    std::fs::write(&newest, &data).unwrap();
    let back = store::recover(dir.path()).unwrap();
    assert_eq!((back.recovery.snapshot, back.recovery.replayed), (Some(9), 6));
    assert!(back.recovery.skipped_snapshots[0].contains("snapshot-00000000000000000013.bin: CRC mismatch"),
            "{:?}", back.recovery.skipped_snapshots);
    assert_eq!(state(&back.engine.unwrap()), state(&live));

    // both damaged, and the journal before frame 10 compacted away: refuse, naming both
    let older = dir.path().join(snapshot::file_name(9));
    std::fs::write(&older, b"OCTETSNP").unwrap();
    let err = store::recover(dir.path()).err().unwrap();
    assert!(err.contains("no usable snapshot") && err.contains("snapshot-00000000000000000013.bin: CRC mismatch")
            && err.contains("snapshot-00000000000000000009.bin: 8 bytes") && err.contains("starts at frame 10"), "{err}");
}

#[test]
fn each_command_replays_under_the_configuration_journaled_before_it() {
    // limit A: 10 lots; limit B: 1 lot. An order of 5 lots accepted under A stays accepted.
    let a = config(VenueConfig::default());
    let mut b = a.clone();
    b.accounts[0].max_order_lots_e6 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path(), a.clone(), 0, &[Command::Submit(order("big", "a", Side::Buy, 500_000))]);
    assert_eq!(first.engine.get_order("big").unwrap().status, OrderStatus::Accepted as i32);
    drop(first);

    let s = store::start(dir.path(), b.clone(), opts(0), Box::new(Quiet)).unwrap();
    assert_eq!((s.recovery.config, s.recovery.last_frame), ("changed", 3));
    let mut core = Core::new(s.engine, s.journal, 0);
    assert_eq!(core.engine.get_order("big").unwrap().status, OrderStatus::Accepted as i32, "replayed under A");
    assert!(matches!(core.engine.previous_submit("big"), Some(Ok(_))), "a resubmit still gets the first result");
    let (out, frame) = core.execute(Command::Submit(order("big2", "a", Side::Buy, 500_000)));
    core.journal.wait_durable(frame); // as the service does before it replies
    match out {
        octet_exec::service::Outcome::Submit(Err(r)) => assert_eq!(r.code, RejectCode::OrderTooLarge),
        _ => panic!("a new identical order is refused under B"),
    }
    drop(core);
    // the same file again: nothing journaled; the journal holds A, the order, B, the second order
    let s = store::start(dir.path(), b.clone(), opts(0), Box::new(Quiet)).unwrap();
    assert_eq!((s.recovery.config, s.recovery.last_frame), ("unchanged", 4));
    assert_eq!(s.engine.config(), &b);
    drop(s);
    // and a configuration that drops an instrument the journal uses is refused
    let mut c = b.clone();
    c.instruments.retain(|i| i.symbol != "EURUSD");
    let err = store::start(dir.path(), c, opts(0), Box::new(Quiet)).err().unwrap();
    assert!(err.contains("instrument EURUSD is in the journal's configuration and not in the new one"), "{err}");
}

#[test]
fn a_crash_between_the_roll_the_snapshot_and_the_clean_up_loses_nothing() {
    let cmds = session();
    let live = run(&cmds);
    let dir = tempfile::tempdir().unwrap();
    let core = serve(dir.path(), config(VenueConfig::default()), 4, &cmds);
    settle(&core, 4);
    drop(core);
    // the newest snapshot never got renamed into place: its segment rolled, a partial temp file is left
    let newest = dir.path().join(snapshot::file_name(13));
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::remove_file(&newest).unwrap();
    std::fs::write(dir.path().join(format!("{}.tmp", snapshot::file_name(13))), &bytes[..bytes.len() / 3]).unwrap();
    let back = store::recover(dir.path()).unwrap();
    assert_eq!((back.recovery.snapshot, back.recovery.replayed), (Some(9), 6), "the older snapshot and all after it");
    assert_eq!(state(&back.engine.unwrap()), state(&live));
    assert!(!names(dir.path()).iter().any(|n| n.ends_with(".tmp")), "the partial write is removed");
    // a snapshot written but the clean-up not done: three snapshots and every segment; start tidies up
    std::fs::write(&newest, &bytes).unwrap();
    std::fs::write(dir.path().join(snapshot::file_name(5)), b"an old one").unwrap();
    let s = store::start(dir.path(), config(VenueConfig::default()), opts(4), Box::new(Quiet)).unwrap();
    assert_eq!((s.recovery.snapshot, s.recovery.replayed), (Some(13), 2));
    assert_eq!(state(&s.engine), state(&live));
    drop(s);
    assert_eq!(names(dir.path()), vec![journal::segment_name(10), journal::segment_name(14),
                                       snapshot::file_name(9), snapshot::file_name(13)]);
}

#[test]
fn clean_up_never_deletes_the_snapshot_the_state_came_from() {
    let cmds = session();
    let live = run(&cmds);
    let dir = tempfile::tempdir().unwrap();
    let core = serve(dir.path(), config(VenueConfig::default()), 4, &cmds);
    settle(&core, 4);
    drop(core);
    // two newer snapshots, both damaged (say a crash left them): the state comes from snapshot 13
    for f in [14, 15] {
        std::fs::write(dir.path().join(snapshot::file_name(f)), b"OCTETSNP damaged").unwrap();
    }
    let s = store::start(dir.path(), config(VenueConfig::default()), opts(4), Box::new(Quiet)).unwrap();
    assert_eq!(s.recovery.snapshot, Some(13));
    drop(s);
    assert!(names(dir.path()).contains(&snapshot::file_name(13)), "kept: {:?}", names(dir.path()));
    assert!(names(dir.path()).contains(&journal::segment_name(14)), "with the journal after it");
    let back = store::recover(dir.path()).unwrap();
    assert_eq!(back.recovery.snapshot, Some(13));
    assert_eq!(state(&back.engine.unwrap()), state(&live));
}

#[test]
fn without_fsync_each_frame_is_written_before_its_reply_and_the_files_are_the_same() {
    let cmds = session();
    let live = run(&cmds);
    let mut files = Vec::new();
    for fsync in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let s = store::start(dir.path(), config(VenueConfig::default()), Options { fsync, ..opts(4) }, Box::new(Quiet)).unwrap();
        let mut core = Core::new(s.engine, s.journal, 4);
        for c in &cmds {
            let (_, frame) = core.execute(c.clone());
            if !fsync {
                // written by the caller: nothing to wait for (the service's wait returns at once)
                assert_eq!(core.journal.durable.borrow().frame, frame);
            }
        }
        core.journal.wait_durable(core.journal.last_frame());
        settle(&core, 4);
        drop(core);
        let back = store::recover(dir.path()).unwrap();
        assert_eq!(state(&back.engine.unwrap()), state(&live), "fsync {fsync}: the state comes back");
        let listing: Vec<(String, Vec<u8>)> =
            names(dir.path()).into_iter().map(|n| (n.clone(), std::fs::read(dir.path().join(&n)).unwrap())).collect();
        assert!(listing.len() >= 3, "segments rolled and snapshots written: {:?}", names(dir.path()));
        files.push(listing);
    }
    assert_eq!(files[0], files[1], "the same segments and snapshots, byte for byte");
}

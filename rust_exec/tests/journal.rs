//! The journal: what was acknowledged is replayed into the same state; a torn tail is cut off.

mod common;

use common::{config, order, quotes};
use octet_exec::config::VenueConfig;
use octet_exec::engine::Engine;
use octet_exec::journal::{self, Command, Journal, SyncObserver};
use octet_exec::pb::{self, Side};
use octet_exec::service::{apply, recover};
use std::io::Write;

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
        Command::Flatten(pb::FlattenRequest { request_id: "f".into(), account_id: "a".into(), ts_ns: 4_000, reason: "eod".into() }),
    ]
}

fn run(cmds: &[Command]) -> Engine {
    let mut e = Engine::new(config(VenueConfig::default()));
    for c in cmds {
        let _ = apply(&mut e, c);
    }
    e
}

#[tokio::test]
async fn replaying_the_journal_rebuilds_every_order_fill_position_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.bin");
    let cmds = session();
    let live = run(&cmds);
    let mut j = Journal::open(path.clone(), 0, 0, true, Box::new(Quiet)).unwrap();
    for (i, c) in cmds.iter().enumerate() {
        j.append(c.clone(), i as u64);
    }
    let last = j.last_frame();
    j.durable.wait_for(|d| d.frame >= last).await.unwrap();

    let (read, torn) = journal::read_all(&path).unwrap();
    assert_eq!((read.len(), torn), (cmds.len(), 0));
    let mut back = Engine::new(config(VenueConfig::default()));
    recover(&mut back, &read);
    assert_eq!(back.reports_between(0, u64::MAX), live.reports_between(0, u64::MAX));
    assert!(live.last_seq() >= 8, "the session produced its reports: {}", live.last_seq());
    assert_eq!(back.list_positions(""), live.list_positions(""));
    assert_eq!(back.halted_accounts(), vec!["b".to_string()]);
    for id in ["o1", "too-big", "o2", "o3"] {
        assert_eq!(back.get_order(id), live.get_order(id), "{id}");
    }
    // what a duplicate asks for after the restart is still the first answer
    assert_eq!(back.previous_submit("too-big"), live.previous_submit("too-big"));
    assert_eq!(back.previous_batch("test", 2), live.previous_batch("test", 2));
    assert!(back.previous_batch("test", 2).is_some(), "the stream's batches survive the replay");
}

#[test]
fn a_torn_tail_is_cut_off_and_the_whole_frames_before_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.bin");
    let cmds = session();
    let mut f = std::fs::File::create(&path).unwrap();
    for c in &cmds[..4] {
        f.write_all(&journal::encode(c.clone())).unwrap();
    }
    let whole = std::fs::metadata(&path).unwrap().len();
    let next = journal::encode(cmds[4].clone());
    f.write_all(&next[..next.len() / 2]).unwrap();
    drop(f);
    let (read, torn) = journal::read_all(&path).unwrap();
    assert_eq!(read.len(), 4);
    assert_eq!(torn, (next.len() / 2) as u64);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), whole, "the file is cut back to its last whole frame");

    // a flipped byte inside a frame stops the replay there too
    let mut data = std::fs::read(&path).unwrap();
    let last = data.len() - 3;
    data[last] ^= 0xff;
    std::fs::write(&path, &data).unwrap();
    let (read, _) = journal::read_all(&path).unwrap();
    assert_eq!(read.len(), 3);
}

#[test]
fn a_damaged_frame_in_the_middle_refuses_to_start_naming_it_and_cuts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.bin");
    let cmds = session();
    let mut data = Vec::new();
    let mut starts = Vec::new();
    for c in &cmds {
        starts.push(data.len());
        data.extend_from_slice(&journal::encode(c.clone()));
    }
    data[starts[3] + 10] ^= 0x01; // one flipped bit in the payload of frame 4 of 10
    std::fs::write(&path, &data).unwrap();
    let err = journal::read_all(&path).unwrap_err().to_string();
    assert!(err.contains(&format!("frame 4 at byte {} is damaged (CRC mismatch)", starts[3])), "{err}");
    assert!(err.contains(&format!("a whole frame follows at byte {}", starts[4])), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), data, "nothing is cut");
    // the length field damaged instead: still a hole, not a tail
    let mut data2 = data.clone();
    data2[starts[3] + 10] ^= 0x01;
    data2[starts[3] + 1] ^= 0x40;
    std::fs::write(&path, &data2).unwrap();
    assert!(journal::read_all(&path).unwrap_err().to_string().contains("frame 4 at byte"));
}

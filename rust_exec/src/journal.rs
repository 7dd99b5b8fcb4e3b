//! The write-ahead journal: every command that changes the engine, appended before its reply is
//! sent, in segment files of one directory.
//!
//! A segment `journal-<first frame, 20 digits>.bin` begins with a 24-byte header: the magic
//! `OCTETJNL`, the format version (u32, `VERSION`), the number of its first frame (u64, frames
//! count from 1 across segments) and a CRC-32 of those 20 bytes. Then frames
//! `[u32 length][u32 crc32][payload]` (little endian), the payload a protobuf `Entry`. Frame 1 of a
//! journal is always the configuration (`Command::Config`); a later one is a configuration change.
//! A segment is created complete (temp file, fsync, rename, fsync of the directory), so a header is
//! never torn.
//!
//! A writer thread takes every frame queued while it was busy, writes them in one go and fsyncs
//! once (group commit): callers wait until their frame is durable, so nothing acknowledged is lost
//! to kill -9. Without fsync (`--no-fsync`, a backtest) a frame is written by the caller at once:
//! "durable" then means handed to the operating system, which a kill -9 does not undo either, and a
//! write to the page cache costs less than waking the writer thread. At start the journal is read back and replayed through the engine (after the newest
//! snapshot, see `snapshot` and `store`). A bad frame that reaches the end of the last segment is a
//! torn tail (a crash mid-write, never acknowledged) and is cut off; a damaged frame with whole
//! frames after it, a bad header, a gap between segments or a damaged older segment stops the
//! service from starting, naming the file and the frame. A `journal.bin` (the headerless format of
//! octet-exec 0.1) is refused, never reinterpreted.
//!
//! When the service asks for a snapshot after frame F, the writer first makes every frame up to F
//! durable, then rolls to a new segment starting at F + 1 and hands the state to the snapshot
//! thread, which writes it and then deletes what no kept snapshot needs: snapshots beyond the
//! newest `keep`, and segments whose frames are all covered by the oldest kept snapshot.

use crate::pb;
use crate::snapshot::{self, State};
use prost::Message;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;
use tokio::sync::watch;

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Command {
    #[prost(message, tag = "1")]
    Submit(pb::Order),
    #[prost(message, tag = "2")]
    Cancel(pb::CancelOrderRequest),
    #[prost(message, tag = "3")]
    Modify(pb::ModifyOrderRequest),
    #[prost(message, tag = "4")]
    Quotes(pb::PushQuotesRequest),
    #[prost(message, tag = "5")]
    Flatten(pb::FlattenRequest),
    #[prost(message, tag = "6")]
    Halt(pb::HaltRequest),
    #[prost(message, tag = "7")]
    Resume(pb::ResumeRequest),
    /// The configuration from here on (frame 1 of every journal, and every change at a restart).
    #[prost(message, tag = "8")]
    Config(ConfigEntry),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigEntry {
    /// `Config::to_json`.
    #[prost(string, tag = "1")]
    pub json: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    #[prost(oneof = "Command", tags = "1, 2, 3, 4, 5, 6, 7, 8")]
    pub command: Option<Command>,
}

pub const MAGIC: &[u8; 8] = b"OCTETJNL";
/// Version 1 was the headerless `journal.bin` of octet-exec 0.1.
pub const VERSION: u32 = 2;
pub const HEADER_LEN: usize = 24;
/// The file of the headerless format, refused at start.
pub const LEGACY_FILE: &str = "journal.bin";

pub fn segment_name(first: u64) -> String {
    format!("journal-{first:020}.bin")
}

pub fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("journal-")?.strip_suffix(".bin")?.parse().ok()
}

pub fn header(first: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&first.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Create the (empty) segment whose first frame is `first`, atomically; returns its path.
pub fn create_segment(dir: &Path, first: u64) -> std::io::Result<PathBuf> {
    let name = segment_name(first);
    snapshot::write_atomic(dir, &name, &header(first))?;
    Ok(dir.join(name))
}

/// The segments in `dir`, oldest first: (first frame, path).
pub fn list_segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    snapshot::numbered(dir, parse_segment_name)
}

/// What reading one segment gave.
#[derive(Debug)]
pub struct SegmentRead {
    pub first: u64,
    /// Whole frames in it.
    pub frames: u64,
    /// The commands of its frames numbered above `after` (see `read_segment`).
    pub commands: Vec<Command>,
    /// Bytes cut off its end (a torn tail; only the last segment may have one).
    pub torn: u64,
}

/// Read one segment: check its header and every frame, decode the frames numbered above `after`.
/// Only in the journal's `last` segment is a bad frame reaching the end a torn tail, cut off (the
/// file is truncated); anywhere else it is damage and an error naming the file and frame.
pub fn read_segment(path: &Path, after: u64, last: bool) -> Result<SegmentRead, String> {
    let shown = path.display();
    let data = std::fs::read(path).map_err(|e| format!("cannot read journal segment {shown}: {e}"))?;
    let first = check_header(path, &data)?;
    let mut commands = Vec::new();
    let mut at = HEADER_LEN;
    let mut frames = 0u64;
    while at + 8 <= data.len() {
        let number = first + frames;
        let why = match frame_at(&data, at, number > after) {
            Ok((c, len)) => {
                if let Some(c) = c {
                    commands.push(c);
                }
                frames += 1;
                at += 8 + len;
                continue;
            }
            Err(why) => why,
        };
        // Only a bad frame that reaches the end of the file is a torn tail (a write that was never
        // acknowledged). One with a whole frame after it is damage in the middle: cutting there
        // would drop acknowledged commands, so the service refuses to start and names the frame.
        if let Some(next) = (at + 1..data.len()).find(|&k| frame_at(&data, k, false).is_ok()) {
            return Err(format!(
                "{shown}: frame {number} at byte {at} is damaged ({why}) and a whole frame follows at byte \
                 {next} of {}: refusing to replay a journal with a hole; restore it from a copy",
                data.len()
            ));
        }
        break;
    }
    let torn = (data.len() - at) as u64;
    if torn > 0 {
        if !last {
            return Err(format!(
                "{shown}: frame {} at byte {at} is damaged and this is not the journal's last segment \
                 (a later one exists): its commands were acknowledged; restore the journal from a copy",
                first + frames
            ));
        }
        tracing::warn!(path = %shown, torn_bytes = torn, kept_frames = frames,
                       "journal: cutting off a torn tail (a write that was never acknowledged)");
        let file = OpenOptions::new().write(true).open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
        file.set_len(at as u64).and_then(|_| file.sync_all()).map_err(|e| format!("cannot cut {shown}: {e}"))?;
    }
    Ok(SegmentRead { first, frames, commands, torn })
}

/// The first frame number a segment's header gives, or why the file is not a segment we can read.
fn check_header(path: &Path, data: &[u8]) -> Result<u64, String> {
    let shown = path.display();
    if data.len() >= 8 && &data[..8] != MAGIC || data.len() < 8 && !MAGIC.starts_with(data) {
        if frame_at(data, 0, true).is_ok() {
            return Err(format!(
                "{shown} is a journal of the previous format (octet-exec 0.1: frames without a header), \
                 which this octet-exec does not read. Journals are per run (var/exec/<run id>): start in a \
                 new journal directory, or use the octet-exec that wrote it to finish that run"
            ));
        }
        let n = data.len().min(8);
        return Err(format!("{shown} is not an octet-exec journal: it begins with {:?}, not \"OCTETJNL\"",
                           String::from_utf8_lossy(&data[..n])));
    }
    if data.len() < HEADER_LEN {
        return Err(format!("{shown}: {} bytes, shorter than the {HEADER_LEN}-byte journal header", data.len()));
    }
    let version = u32::from_le_bytes(data[8..12].try_into().unwrap());
    let first = u64::from_le_bytes(data[12..20].try_into().unwrap());
    let crc = u32::from_le_bytes(data[20..24].try_into().unwrap());
    if crc32fast::hash(&data[..20]) != crc {
        return Err(format!("{shown}: the journal header is damaged (CRC mismatch)"));
    }
    if version != VERSION {
        return Err(format!("{shown}: journal format version {version}; this octet-exec reads version {VERSION} \
                            only (was it written by a newer octet-exec?)"));
    }
    let named = path.file_name().and_then(|n| n.to_str()).and_then(parse_segment_name);
    if named != Some(first) {
        return Err(format!("{shown}: its header says its first frame is {first}, its name does not"));
    }
    Ok(first)
}

/// What the writer has made durable: the last journal frame and the last report it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Durable {
    pub frame: u64,
    pub report_seq: u64,
}

enum Job {
    Frame { frame: u64, report_seq: u64, bytes: Vec<u8> },
    /// The engine's state after `frame`: written once every frame up to it is durable.
    Snapshot { frame: u64, state: Box<State> },
}

/// Observed by the metrics: how many frames each fsync covered and how long it took.
pub trait SyncObserver: Send + 'static {
    fn synced(&self, frames: usize, seconds: f64);
}

/// Where appended frames go: to the writer thread (group commit, with fsync), or, without fsync,
/// written at once by the caller (a write to the page cache costs less than waking a thread).
enum Sink {
    Thread(mpsc::Sender<Job>),
    Inline(Box<Writer>),
    /// `close` was called: nothing more is written.
    Closed,
}

/// A write the journal cannot make: the process exits (70) so that nothing unjournaled is
/// acknowledged, or, where the journal lives inside another program's process (a backtest's,
/// rust_exec/py), the calling thread panics and that program's binding reports it.
fn fatal(exit: &AtomicBool, msg: &str) -> ! {
    tracing::error!("{msg}");
    if exit.load(Ordering::Relaxed) {
        eprintln!("octet-exec: {msg}");
        std::process::exit(70);
    }
    panic!("{msg}");
}

pub struct Journal {
    sink: Sink,
    /// The writer and snapshot threads, joined by `close`.
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Whether a failed write exits the process (the default) or panics (see `fatal`).
    exit_on_failure: Arc<AtomicBool>,
    next_frame: u64,
    pub durable: watch::Receiver<Durable>,
    /// The frame of the newest snapshot written (0: none yet in this process).
    pub snapshots: watch::Receiver<u64>,
}

pub fn encode(cmd: Command) -> Vec<u8> {
    let payload = Entry { command: Some(cmd) }.encode_to_vec();
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// The frame starting at byte `at`: its command (if `decode`) and payload length, or why it is not one.
fn frame_at(data: &[u8], at: usize, decode: bool) -> Result<(Option<Command>, usize), &'static str> {
    if at + 8 > data.len() {
        return Err("shorter than a frame header");
    }
    let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
    let crc = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap());
    if len == 0 || at + 8 + len > data.len() {
        return Err("its length runs past the end of the file");
    }
    let payload = &data[at + 8..at + 8 + len];
    if crc32fast::hash(payload) != crc {
        return Err("CRC mismatch");
    }
    if !decode {
        return Ok((None, len));
    }
    match Entry::decode(payload) {
        Ok(Entry { command: Some(c) }) => Ok((Some(c), len)),
        _ => Err("not a journal command"),
    }
}

/// How the journal keeps itself short.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Snapshots kept (at least 1); the journal is kept from the oldest of them on.
    pub keep_snapshots: usize,
}

impl Journal {
    /// Open the journal of `dir` for appending to its last segment `segment`; frames up to
    /// `recovered` are already in the journal.
    pub fn open(dir: &Path, segment: &Path, recovered: u64, recovered_report_seq: u64, fsync: bool,
                retention: Retention, observer: Box<dyn SyncObserver>) -> std::io::Result<Journal> {
        let mut file = OpenOptions::new().append(true).open(segment)?;
        file.seek(SeekFrom::End(0))?;
        let seg_first = parse_segment_name(&segment.file_name().unwrap_or_default().to_string_lossy()).unwrap_or(1);
        let (stx, srx) = mpsc::channel::<(u64, Box<State>)>();
        let start = Durable { frame: recovered, report_seq: recovered_report_seq };
        let (dtx, drx) = watch::channel(start);
        let (snap_tx, snap_rx) = watch::channel(0u64);
        let d = dir.to_path_buf();
        let mut threads = vec![std::thread::Builder::new().name("snapshot".into()).spawn(move || {
            snapshotter(d, srx, snap_tx, retention);
        })?];
        let exit_on_failure = Arc::new(AtomicBool::new(true));
        let w = Writer { dir: dir.to_path_buf(), file, seg_first, durable: dtx, fsync, observer, snapshots: stx,
                         exit_on_failure: exit_on_failure.clone() };
        let sink = if fsync {
            let (tx, rx) = mpsc::channel::<Job>();
            threads.push(std::thread::Builder::new().name("journal".into()).spawn(move || writer(w, rx))?);
            Sink::Thread(tx)
        } else {
            Sink::Inline(Box::new(w))
        };
        Ok(Journal { sink, threads, exit_on_failure, next_frame: recovered, durable: drx, snapshots: snap_rx })
    }

    /// Queue a command; returns its frame number. Call in the order the engine applied them.
    pub fn append(&mut self, cmd: Command, report_seq: u64) -> u64 {
        self.next_frame += 1;
        let tx = match &mut self.sink {
            Sink::Inline(w) => {
                w.write(&encode(cmd), 1, Durable { frame: self.next_frame, report_seq });
                return self.next_frame;
            }
            Sink::Thread(tx) => tx,
            Sink::Closed => fatal(&self.exit_on_failure, "journal is closed; nothing more can be acknowledged"),
        };
        let job = Job::Frame { frame: self.next_frame, report_seq, bytes: encode(cmd) };
        if tx.send(job).is_err() {
            // The writer died (disk error): nothing more can be made durable. Stop at once
            // rather than acknowledge orders that would be lost.
            fatal(&self.exit_on_failure, "journal writer is gone; stopping so that nothing unjournaled is acknowledged");
        }
        self.next_frame
    }

    /// Queue a snapshot of the engine's state after the last appended frame; returns that frame.
    pub fn snapshot(&mut self, state: State) -> u64 {
        match &mut self.sink {
            Sink::Thread(tx) => {
                let _ = tx.send(Job::Snapshot { frame: self.next_frame, state: Box::new(state) });
            }
            Sink::Inline(w) => w.roll(self.next_frame, Box::new(state)),  // every frame is written
            Sink::Closed => {}
        }
        self.next_frame
    }

    /// Make a failed write panic instead of exiting the process: for a journal inside another
    /// program's process (rust_exec/py), whose binding turns the panic into an error.
    pub fn panic_on_failure(&self) {
        self.exit_on_failure.store(false, Ordering::Relaxed);
    }

    /// Stop writing: the writer thread finishes what was queued and the snapshot thread what it
    /// was given (a snapshot, the clean-up after it), and both are joined, so that nothing writes
    /// in the directory after this returns (its lock can then pass to another holder).
    pub fn close(&mut self) {
        drop(std::mem::replace(&mut self.sink, Sink::Closed));  // the snapshot queue closes with its writer
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    pub fn last_frame(&self) -> u64 {
        self.next_frame
    }

    /// Block until frame `frame` is durable (start-up and shutdown; the service awaits instead).
    pub fn wait_durable(&self, frame: u64) {
        while self.durable.borrow().frame < frame {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Block until a snapshot covering `frame` is written, or `timeout` passes; whether it was.
    pub fn wait_snapshot(&self, frame: u64, timeout: std::time::Duration) -> bool {
        let t = Instant::now();
        while *self.snapshots.borrow() < frame {
            if t.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        true
    }
}

/// Writes frames to the journal's current segment and rolls segments for snapshots: on the
/// writer thread, or in the caller's (`Sink::Inline`).
struct Writer {
    dir: PathBuf,
    file: File,
    seg_first: u64,
    durable: watch::Sender<Durable>,
    fsync: bool,
    observer: Box<dyn SyncObserver>,
    snapshots: mpsc::Sender<(u64, Box<State>)>,
    exit_on_failure: Arc<AtomicBool>,
}

impl Writer {
    /// Every frame up to `frame` is durable: roll to a new segment from frame + 1 (unless the
    /// current one already starts there), so that the segments the snapshot covers can be deleted
    /// whole, and hand the state to the snapshot thread.
    fn roll(&mut self, frame: u64, state: Box<State>) {
        if self.seg_first != frame + 1 {
            match create_segment(&self.dir, frame + 1).and_then(|p| OpenOptions::new().append(true).open(p)) {
                Ok(f) => {
                    self.file = f;
                    self.seg_first = frame + 1;
                }
                Err(e) => tracing::error!(error = %e, "journal: cannot start a new segment; appending to the current one"),
            }
        }
        let _ = self.snapshots.send((frame, state));
    }

    /// Write `frames` frames (`buf`), fsync if asked, and make them durable up to `last`.
    fn write(&mut self, buf: &[u8], frames: usize, last: Durable) {
        let t = Instant::now();
        let file = &mut self.file;
        let ok = file.write_all(buf).and_then(|_| {
            if self.fsync {
                // fdatasync: the data and the length, not the timestamps.
                if unsafe { libc::fdatasync(file.as_raw_fd()) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
        if let Err(e) = ok {
            fatal(&self.exit_on_failure, &format!(
                "journal write failed in {}: {e}; stopping so that nothing unjournaled is acknowledged", self.dir.display()));
        }
        self.observer.synced(frames, t.elapsed().as_secs_f64());
        self.durable.send_modify(|d| {
            d.frame = d.frame.max(last.frame);
            d.report_seq = d.report_seq.max(last.report_seq);
        });
    }
}

/// The writer thread: takes every frame queued while it was busy, writes them in one go and fsyncs
/// once (group commit).
fn writer(mut w: Writer, rx: mpsc::Receiver<Job>) {
    let mut buf = Vec::with_capacity(1 << 16);
    let mut pending: Option<Job> = None;
    loop {
        let job = match pending.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        let (first_frame, first_seq, bytes) = match job {
            Job::Snapshot { frame, state } => {
                // every frame up to `frame` was queued before this, and is durable
                w.roll(frame, state);
                continue;
            }
            Job::Frame { frame, report_seq, bytes } => (frame, report_seq, bytes),
        };
        let mut last = Durable { frame: first_frame, report_seq: first_seq };
        buf.clear();
        buf.extend_from_slice(&bytes);
        let mut frames = 1;
        while let Ok(job) = rx.try_recv() {
            match job {
                Job::Frame { frame, report_seq, bytes } => {
                    buf.extend_from_slice(&bytes);
                    last = Durable { frame, report_seq: last.report_seq.max(report_seq) };
                    frames += 1;
                }
                snap @ Job::Snapshot { .. } => {
                    pending = Some(snap);
                    break;
                }
            }
        }
        w.write(&buf, frames, last);
    }
}

fn snapshotter(dir: PathBuf, rx: mpsc::Receiver<(u64, Box<State>)>, done: watch::Sender<u64>, retention: Retention) {
    while let Ok((frame, state)) = rx.recv() {
        let t = Instant::now();
        let bytes = snapshot::encode(frame, &state);
        drop(state);
        match snapshot::write_atomic(&dir, &snapshot::file_name(frame), &bytes) {
            Ok(()) => {
                tracing::info!(frame, bytes = bytes.len(), ms = t.elapsed().as_millis() as u64, "snapshot written");
                if let Err(e) = prune(&dir, retention, frame) {
                    tracing::warn!(error = %e, "journal: could not delete old snapshots or segments");
                }
                done.send_modify(|f| *f = (*f).max(frame));
            }
            Err(e) => tracing::error!(error = %e, frame, "snapshot could not be written; the journal still holds everything"),
        }
    }
}

/// Delete the snapshots beyond the newest `keep`, never the one of frame `good` (known to be whole:
/// just written, or loaded at start), then the segments whose frames are all covered by the oldest
/// snapshot kept (so each kept snapshot, `good` included, has the journal after it).
pub fn prune(dir: &Path, retention: Retention, good: u64) -> std::io::Result<()> {
    let snaps = snapshot::list(dir)?;
    let keep = retention.keep_snapshots.max(1);
    let mut kept = Vec::new();
    for (k, (frame, path)) in snaps.iter().enumerate() {
        if k < keep || *frame == good {
            kept.push(*frame);
        } else {
            std::fs::remove_file(path)?;
        }
    }
    let Some(&oldest) = kept.last() else { return Ok(()) };
    let segments = list_segments(dir)?;
    for (i, (first, path)) in segments.iter().enumerate() {
        // removable when a later segment starts at or before oldest + 1: all of its frames <= oldest
        if segments[i + 1..].iter().any(|(f, _)| *f > *first && *f <= oldest + 1) {
            std::fs::remove_file(path)?;
        }
    }
    snapshot::sync_dir(dir)
}

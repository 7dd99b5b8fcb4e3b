//! The write-ahead journal: every command that changes the engine, appended to one file before
//! its reply is sent.
//!
//! A frame is `[u32 length][u32 crc32][payload]` (little endian), the payload a protobuf
//! `Entry`. A writer thread takes every frame queued while it was busy, writes them in one go and
//! fsyncs once (group commit): callers wait until their frame is durable, so nothing
//! acknowledged is lost to kill -9. At start the journal is read back and replayed through the
//! engine; a torn frame at the tail (a crash mid-write, never acknowledged) is cut off, and a
//! damaged frame with whole frames after it stops the service from starting, naming the frame.

use crate::pb;
use prost::Message;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
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
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    #[prost(oneof = "Command", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub command: Option<Command>,
}

/// What the writer has made durable: the last journal frame and the last report it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Durable {
    pub frame: u64,
    pub report_seq: u64,
}

struct Job {
    frame: u64,
    report_seq: u64,
    bytes: Vec<u8>,
}

/// Observed by the metrics: how many frames each fsync covered and how long it took.
pub trait SyncObserver: Send + 'static {
    fn synced(&self, frames: usize, seconds: f64);
}

pub struct Journal {
    tx: mpsc::Sender<Job>,
    next_frame: u64,
    pub durable: watch::Receiver<Durable>,
}

pub fn encode(cmd: Command) -> Vec<u8> {
    let payload = Entry { command: Some(cmd) }.encode_to_vec();
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Read every whole frame of the journal; cut off a torn tail. Returns the commands.
pub fn read_all(path: &Path) -> std::io::Result<(Vec<Command>, u64)> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut data = Vec::new();
    file.read_to_end(&mut data)?;
    let mut commands = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let (command, why) = match frame_at(&data, at) {
            Ok((c, len)) => {
                commands.push(c);
                at += 8 + len;
                continue;
            }
            Err(why) => (commands.len() + 1, why),
        };
        // Only a bad frame that reaches the end of the file is a torn tail (a write that was never
        // acknowledged). One with a whole frame after it is damage in the middle: cutting there
        // would drop acknowledged commands, so the service refuses to start and names the frame.
        if let Some(next) = (at + 1..data.len()).find(|&k| frame_at(&data, k).is_ok()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: frame {command} at byte {at} is damaged ({why}) and a whole frame follows at byte \
                         {next} of {}: refusing to replay a journal with a hole; restore it from a copy",
                        path.display(), data.len()),
            ));
        }
        break;
    }
    let torn = (data.len() - at) as u64;
    if torn > 0 {
        tracing::warn!(path = %path.display(), torn_bytes = torn, kept_frames = commands.len(),
                       "journal: cutting off a torn tail (a write that was never acknowledged)");
        file.set_len(at as u64)?;
        file.sync_all()?;
    }
    Ok((commands, torn))
}

/// The command of the frame starting at byte `at` and its payload length, or why it is not one.
fn frame_at(data: &[u8], at: usize) -> Result<(Command, usize), &'static str> {
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
    match Entry::decode(payload) {
        Ok(Entry { command: Some(c) }) => Ok((c, len)),
        _ => Err("not a journal command"),
    }
}

impl Journal {
    /// Open the journal for appending; `recovered` frames are already in it.
    pub fn open(path: PathBuf, recovered: u64, recovered_report_seq: u64, fsync: bool,
                observer: Box<dyn SyncObserver>) -> std::io::Result<Journal> {
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.seek(SeekFrom::End(0))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let start = Durable { frame: recovered, report_seq: recovered_report_seq };
        let (dtx, drx) = watch::channel(start);
        std::thread::Builder::new().name("journal".into()).spawn(move || {
            writer(file, rx, dtx, fsync, observer);
        })?;
        Ok(Journal { tx, next_frame: recovered, durable: drx })
    }

    /// Queue a command; returns its frame number. Call in the order the engine applied them.
    pub fn append(&mut self, cmd: Command, report_seq: u64) -> u64 {
        self.next_frame += 1;
        let job = Job { frame: self.next_frame, report_seq, bytes: encode(cmd) };
        if self.tx.send(job).is_err() {
            // The writer died (disk error): nothing more can be made durable. Stop at once
            // rather than acknowledge orders that would be lost.
            tracing::error!("journal writer is gone; exiting so that nothing unjournaled is acknowledged");
            std::process::exit(70);
        }
        self.next_frame
    }

    pub fn last_frame(&self) -> u64 {
        self.next_frame
    }
}

fn writer(mut file: File, rx: mpsc::Receiver<Job>, durable: watch::Sender<Durable>, fsync: bool,
          observer: Box<dyn SyncObserver>) {
    let mut buf = Vec::with_capacity(1 << 16);
    while let Ok(first) = rx.recv() {
        let mut last = Durable { frame: first.frame, report_seq: first.report_seq };
        buf.clear();
        buf.extend_from_slice(&first.bytes);
        let mut frames = 1;
        while let Ok(job) = rx.try_recv() {
            buf.extend_from_slice(&job.bytes);
            last = Durable { frame: job.frame, report_seq: last.report_seq.max(job.report_seq) };
            frames += 1;
        }
        let t = Instant::now();
        let ok = file.write_all(&buf).and_then(|_| {
            if fsync {
                // fdatasync: the data and the length, not the timestamps.
                if unsafe { libc::fdatasync(file.as_raw_fd()) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
        if let Err(e) = ok {
            tracing::error!(error = %e, "journal write failed; exiting so that nothing unjournaled is acknowledged");
            std::process::exit(70);
        }
        observer.synced(frames, t.elapsed().as_secs_f64());
        durable.send_modify(|d| {
            d.frame = d.frame.max(last.frame);
            d.report_seq = d.report_seq.max(last.report_seq);
        });
    }
}

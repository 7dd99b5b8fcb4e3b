//! Snapshots of the whole engine, so that a restart replays only the journal after the newest one.
//!
//! A snapshot is the engine's state after journal frame `frame` (every order with its first
//! result for de-duplication, positions, latest quotes, exposure, every report, halts, quote
//! streams and flattens, the clock, and the configuration in force). It is written only once the
//! journal has made every frame up to `frame` durable, so it never holds an unacknowledged command.
//!
//! File `snapshot-<frame, 20 digits>.bin`, written to a temporary file, fsynced, renamed, and the
//! directory fsynced: a crash leaves the old snapshot or the new one, never half of one. Layout:
//! `OCTETSNP` (8 bytes), format version (u32), frame (u64), payload length (u64), CRC-32 of the
//! payload (u32), payload (protobuf `State`); little endian.

use crate::pb;
use prost::Message;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"OCTETSNP";
pub const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 8 + 4;

#[derive(Clone, PartialEq, prost::Message)]
pub struct State {
    #[prost(string, tag = "1")]
    pub config_json: String,
    #[prost(message, repeated, tag = "2")]
    pub orders: Vec<OrderState>,
    #[prost(message, repeated, tag = "3")]
    pub positions: Vec<pb::Position>,
    #[prost(message, repeated, tag = "4")]
    pub quotes: Vec<QuoteState>,
    #[prost(message, repeated, tag = "5")]
    pub exposure: Vec<ExposureState>,
    #[prost(message, repeated, tag = "6")]
    pub reports: Vec<pb::ExecutionReport>,
    #[prost(string, optional, tag = "7")]
    pub halted: Option<String>,
    #[prost(message, repeated, tag = "8")]
    pub halted_accounts: Vec<HaltState>,
    #[prost(message, repeated, tag = "9")]
    pub streams: Vec<StreamState>,
    #[prost(uint64, tag = "10")]
    pub stream_clock: u64,
    #[prost(message, repeated, tag = "11")]
    pub flattens: Vec<RangeState>,
    #[prost(int64, tag = "12")]
    pub now: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderState {
    #[prost(message, optional, tag = "1")]
    pub order: Option<pb::Order>,
    /// The order as first submitted, when a modify has changed it since (else it is `order`).
    #[prost(message, optional, tag = "2")]
    pub submitted: Option<pb::Order>,
    #[prost(int32, tag = "3")]
    pub status: i32,
    #[prost(int64, tag = "4")]
    pub filled: i64,
    #[prost(int64, tag = "5")]
    pub avg_price: i64,
    /// The first result: accepted (its report) or refused (code, message, and its report). Reports
    /// are referred to by sequence number (0 = none): every one is in `State::reports`.
    #[prost(bool, tag = "6")]
    pub first_ok: bool,
    #[prost(uint64, tag = "7")]
    pub first_seq: u64,
    #[prost(int32, tag = "8")]
    pub reject_code: i32,
    #[prost(string, tag = "9")]
    pub reject_message: String,
    #[prost(uint64, tag = "10")]
    pub last_seq: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct QuoteState {
    #[prost(string, tag = "1")]
    pub symbol: String,
    #[prost(int64, tag = "2")]
    pub ts: i64,
    #[prost(int64, tag = "3")]
    pub bid: i64,
    #[prost(int64, tag = "4")]
    pub ask: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExposureState {
    #[prost(string, tag = "1")]
    pub account: String,
    #[prost(string, tag = "2")]
    pub symbol: String,
    #[prost(int64, tag = "3")]
    pub units: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HaltState {
    #[prost(string, tag = "1")]
    pub account: String,
    #[prost(string, tag = "2")]
    pub reason: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamState {
    #[prost(string, tag = "1")]
    pub stream_id: String,
    #[prost(uint64, tag = "2")]
    pub last_batch: u64,
    #[prost(uint64, tag = "3")]
    pub used: u64,
    #[prost(message, repeated, tag = "4")]
    pub batches: Vec<RangeState>,
}

/// The reports (from, to] of one batch (`key` = its number) or one flatten (`id` = its request id).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeState {
    #[prost(uint64, tag = "1")]
    pub key: u64,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(uint64, tag = "3")]
    pub from: u64,
    #[prost(uint64, tag = "4")]
    pub to: u64,
}

pub fn file_name(frame: u64) -> String {
    format!("snapshot-{frame:020}.bin")
}

/// The frame of a snapshot file name, if it is one.
pub fn parse_name(name: &str) -> Option<u64> {
    name.strip_prefix("snapshot-")?.strip_suffix(".bin")?.parse().ok()
}

/// The files in `dir` whose names `parse` reads a frame number from, lowest first: (frame, path).
pub fn numbered(dir: &Path, parse: fn(&str) -> Option<u64>) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if let Some(f) = e.file_name().to_str().and_then(parse) {
            out.push((f, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The snapshots in `dir`, newest first: (frame, path).
pub fn list(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = numbered(dir, parse_name)?;
    out.reverse();
    Ok(out)
}

pub fn encode(frame: u64, state: &State) -> Vec<u8> {
    let payload = state.encode_to_vec();
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&frame.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Read and check a snapshot: its frame and state, or why it cannot be used.
pub fn load(path: &Path) -> Result<(u64, State), String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    if data.len() < HEADER {
        return Err(format!("{} bytes, shorter than a snapshot header", data.len()));
    }
    if &data[..8] != MAGIC {
        return Err(format!("its magic is {:?}, not {:?}", String::from_utf8_lossy(&data[..8]), "OCTETSNP"));
    }
    let version = u32::from_le_bytes(data[8..12].try_into().unwrap());
    if version != VERSION {
        return Err(format!("format version {version}, this octet-exec reads version {VERSION}"));
    }
    let frame = u64::from_le_bytes(data[12..20].try_into().unwrap());
    let len = u64::from_le_bytes(data[20..28].try_into().unwrap());
    let crc = u32::from_le_bytes(data[28..32].try_into().unwrap());
    if (data.len() - HEADER) as u64 != len {
        return Err(format!("its payload is {} bytes, its header says {len}", data.len() - HEADER));
    }
    let payload = &data[HEADER..];
    if crc32fast::hash(payload) != crc {
        return Err("CRC mismatch".into());
    }
    if parse_name(&path.file_name().unwrap_or_default().to_string_lossy()) != Some(frame) {
        return Err(format!("it covers frame {frame}, not the frame its name says"));
    }
    State::decode(payload).map(|s| (frame, s)).map_err(|e| format!("not a snapshot: {e}"))
}

/// Write `bytes` to `dir/name` atomically and durably, mode 0600: temp file, fsync, rename, fsync dir.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(name))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

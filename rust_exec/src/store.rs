//! Start-up over a journal directory: load the newest usable snapshot, replay the journal after it,
//! and journal the configuration (the first entry of a fresh journal, or a change at a restart).
//!
//! A damaged snapshot never loses an acknowledged command: the next older snapshot is tried (the
//! journal is kept from the oldest kept snapshot on), then the whole journal if it still starts at
//! frame 1; if neither is possible the service refuses to start, naming each snapshot and why.

use crate::config::Config;
use crate::engine::Engine;
use crate::journal::{self, Command, ConfigEntry, Journal, Retention, SyncObserver};
use crate::service;
use crate::snapshot;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub fsync: bool,
    /// A snapshot every this many journaled commands (0 = never; also none at shutdown).
    pub snapshot_every: u64,
    pub retention: Retention,
}

impl Default for Options {
    fn default() -> Options {
        Options { fsync: true, snapshot_every: 50_000, retention: Retention { keep_snapshots: 2 } }
    }
}

/// How the state was rebuilt.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    /// The snapshot loaded (the frame it covers).
    pub snapshot: Option<u64>,
    /// Snapshots passed over, each with why.
    pub skipped_snapshots: Vec<String>,
    /// Journal frames replayed after the snapshot.
    pub replayed: u64,
    /// The journal's last frame after start-up (the configuration entry included).
    pub last_frame: u64,
    pub torn_bytes: u64,
    /// "fresh" (a new journal, the configuration is frame 1), "changed" (a configuration change was
    /// journaled) or "unchanged".
    pub config: &'static str,
}

pub struct Started {
    pub engine: Engine,
    pub journal: Journal,
    pub recovery: Recovery,
}

/// Rebuilt state of a journal directory; `engine` is None for a journal without any entry.
pub struct Recovered {
    pub engine: Option<Engine>,
    pub last_segment: Option<PathBuf>,
    pub recovery: Recovery,
}

/// One holder per journal (a process, or a backtest's engine in-process): an exclusive lock on its
/// `LOCK` file, held while the returned file is open, waiting up to `wait` for a dying predecessor.
pub fn lock(dir: &Path, wait: std::time::Duration) -> Result<std::fs::File, String> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let start = std::time::Instant::now();
    loop {
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(file);
        }
        if start.elapsed() > wait {
            return Err(format!("journal {} is locked by another holder (an octet-exec, or a backtest's in-process \
                               service)", dir.display()));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Create the journal directory (mode 0700) if it is missing.
pub fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Rebuild the engine from the newest usable snapshot and the journal after it. Cuts a torn tail.
pub fn recover(dir: &Path) -> Result<Recovered, String> {
    let legacy = dir.join(journal::LEGACY_FILE);
    if legacy.exists() {
        return Err(format!(
            "{} is a journal of the previous format (octet-exec 0.1: one file of frames without a header), which \
             this octet-exec does not read and will not reinterpret. Journals are per run (var/exec/<run id>): \
             start in a new journal directory, or finish that run with the octet-exec that wrote it",
            legacy.display()
        ));
    }
    let io = |e: std::io::Error| format!("cannot list {}: {e}", dir.display());
    // Leftovers of a write interrupted before its rename: never part of the journal.
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".bin.tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let segments = journal::list_segments(dir).map_err(io)?;
    let snaps = snapshot::list(dir).map_err(io)?;
    let mut rec = Recovery::default();
    if segments.is_empty() {
        if let Some((_, p)) = snaps.first() {
            return Err(format!("{} has snapshots ({}) but no journal segment: refusing to start from a directory \
                                missing its journal; restore it from a copy", dir.display(), p.display()));
        }
        return Ok(Recovered { engine: None, last_segment: None, recovery: rec });
    }
    let journal_from = segments[0].0;

    // The newest snapshot that loads and has the journal after it.
    let mut chosen: Option<(u64, Engine)> = None;
    for (frame, path) in &snaps {
        let why = match snapshot::load(path) {
            Ok((f, _)) if journal_from > f + 1 => {
                format!("the journal after it starts at frame {journal_from}, not {}", f + 1)
            }
            Ok((f, state)) => match Engine::from_state(state) {
                Ok(e) => {
                    chosen = Some((f, e));
                    break;
                }
                Err(e) => format!("its state is inconsistent: {e}"),
            },
            Err(why) => why,
        };
        tracing::warn!(snapshot = %path.display(), frame, reason = %why, "snapshot passed over; trying an older one");
        rec.skipped_snapshots.push(format!("{}: {why}", path.display()));
    }
    if chosen.is_none() && journal_from != 1 {
        return Err(format!(
            "no usable snapshot in {} ({}) and the journal starts at frame {journal_from} (the frames before it are \
             only in snapshots): the acknowledged state cannot be rebuilt; restore the directory from a copy",
            dir.display(),
            if rec.skipped_snapshots.is_empty() { "none at all".to_string() } else { rec.skipped_snapshots.join("; ") }
        ));
    }
    let after = chosen.as_ref().map(|c| c.0).unwrap_or(0);
    rec.snapshot = chosen.as_ref().map(|c| c.0);

    // Every segment, checked and contiguous; the commands after the snapshot.
    let mut commands: Vec<(u64, Command)> = Vec::new();
    let mut expected = journal_from;
    let n = segments.len();
    for (i, (first, path)) in segments.iter().enumerate() {
        if *first != expected {
            return Err(format!("{}: the journal has a gap: this segment starts at frame {first}, the one before \
                                it ends at frame {}; restore the directory from a copy", path.display(), expected - 1));
        }
        let seg = journal::read_segment(path, after, i + 1 == n)?;
        rec.torn_bytes += seg.torn;
        let skipped = seg.frames - seg.commands.len() as u64;
        for (k, c) in seg.commands.into_iter().enumerate() {
            commands.push((first + skipped + k as u64, c));
        }
        expected = first + seg.frames;
    }
    let last_frame = expected - 1;
    if after > last_frame {
        return Err(format!("snapshot {} covers frame {after} but the journal ends at frame {last_frame}: \
                            refusing to start; restore the directory from a copy",
                           dir.join(snapshot::file_name(after)).display()));
    }
    rec.last_frame = last_frame;
    rec.replayed = commands.len() as u64;
    let last_segment = Some(segments[n - 1].1.clone());

    let mut engine = match chosen {
        Some((_, e)) => e,
        None => match commands.first() {
            None => return Ok(Recovered { engine: None, last_segment, recovery: rec }),
            Some((_, Command::Config(c))) => Engine::new(
                Config::from_json(&c.json).map_err(|e| format!("journal frame 1 (the configuration): {e}"))?,
            ),
            Some(_) => {
                return Err(format!("{}: journal frame 1 is not the configuration, as every journal of this \
                                    format begins", segments[0].1.display()))
            }
        },
    };
    for (frame, cmd) in &commands {
        if let Command::Config(c) = cmd {
            // each command runs under the configuration in force when it was acknowledged
            let cfg = Config::from_json(&c.json).map_err(|e| format!("journal frame {frame} (a configuration): {e}"))?;
            engine.set_config(cfg);
        } else {
            let _ = service::apply(&mut engine, cmd);
        }
    }
    Ok(Recovered { engine: Some(engine), last_segment, recovery: rec })
}

/// Recover `dir` and open its journal for appending; journal `file_cfg` if it is a fresh journal
/// or if it differs from the configuration in force (it applies from then on).
pub fn start(dir: &Path, file_cfg: Config, opts: Options, observer: Box<dyn SyncObserver>) -> Result<Started, String> {
    create_dir(dir)?;
    let Recovered { engine, last_segment, mut recovery } = recover(dir)?;
    if let Some(good) = recovery.snapshot {
        // what a crash between a snapshot and its clean-up left (never the snapshot just loaded)
        journal::prune(dir, opts.retention, good).map_err(|e| format!("cannot clean up {}: {e}", dir.display()))?;
    }
    let segment = match last_segment {
        Some(p) => p,
        None => journal::create_segment(dir, 1).map_err(|e| format!("cannot create a journal in {}: {e}", dir.display()))?,
    };
    let (mut engine, fresh) = match engine {
        Some(e) => (e, false),
        None => (Engine::new(file_cfg.clone()), true),
    };
    let mut journal = Journal::open(dir, &segment, recovery.last_frame, engine.last_seq(), opts.fsync, opts.retention, observer)
        .map_err(|e| format!("cannot open the journal {}: {e}", segment.display()))?;
    recovery.config = if fresh {
        "fresh"
    } else if engine.config() != &file_cfg {
        file_cfg.check_change_from(engine.config()).map_err(|e| format!("the configuration cannot change so: {e}"))?;
        engine.set_config(file_cfg.clone());
        "changed"
    } else {
        "unchanged"
    };
    if recovery.config != "unchanged" {
        let frame = journal.append(Command::Config(ConfigEntry { json: file_cfg.to_json() }), engine.last_seq());
        journal.wait_durable(frame);
        recovery.last_frame = frame;
    }
    Ok(Started { engine, journal, recovery })
}

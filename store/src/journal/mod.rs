//! The journal: a durable, segmented, append-only local log with group commit. One `Journal`
//! is one log stream in one directory; it makes one store partition durable.
//!
//! Entries are opaque payloads under a caller-chosen, strictly increasing `index` (the
//! partition uses its revision; indexes need not be contiguous, and 0 is never valid). The
//! caller appends under its own lock, which keeps appends in index order, and awaits
//! `wait_durable` outside that lock.
//!
//! # Group commit
//!
//! `append` encodes the record into an in-memory batch and wakes the journal's flusher thread;
//! it does no I/O and never blocks on the disk. The flusher takes the whole batch, writes it
//! with one write call per segment it touches and then, per [`Durability`]:
//!
//! 1. `fsync`: one `fdatasync` for the whole batch (survives a host crash);
//! 2. `buffered`: no sync (survives a process crash, not a host crash);
//! 3. `none`: no files at all; every entry is durable at once and replay is always empty.
//!
//! It then calls `on_durable` with the batch's highest index and only after that publishes it
//! to `wait_durable`, so a writer that sees its entry durable finds the caller's own
//! bookkeeping already advanced. While one batch is being synced the next one gathers, so
//! under many concurrent writers one sync covers many entries. The batch is not bounded here:
//! it is drained by every flush, and its size is bounded by the callers, who await durability
//! before they send more.
//!
//! If a write or sync fails the journal fails for good: waiters and later appends get
//! [`JournalError::Failed`], never a silent success. The files stay as they are; reopening
//! cuts whatever half-written tail the failure left.
//!
//! # On disk
//!
//! All integers are little-endian; checksums are CRC-32C.
//!
//! ```text
//! <first index, 20 digits>.seg    a segment: records with indexes from its name on
//!   header   magic "UK8SJSEG" (8) | format version u32 = 1 | reserved u32 = 0
//!   record   payload length u32 | crc32c(index bytes ++ payload) u32 | index u64 | payload
//! <index, 20 digits>.snap         a snapshot of the caller's state as of index
//!   magic "UK8SSNAP" (8) | format version u32 = 1 | crc32c(index ++ length ++ data) u32
//!   | index u64 | length u64 | data
//! <index, 20 digits>.snap.tmp     a snapshot being written; removed on open
//! ```
//!
//! A new segment starts before the first record that would begin at or past `segment_bytes`;
//! in `fsync` mode the previous segment is synced first and the directory after the creation.
//! A payload longer than [`MAX_PAYLOAD`] is refused on append and a length field above it is
//! read as damage on open, so a garbage length never makes recovery allocate gigabytes.
//!
//! # Recovery
//!
//! `open` reads the newest snapshot (a damaged one is an error: the segments it covered may be
//! gone) and every record after it. Damage in the last segment (a short record, an impossible
//! length, a checksum mismatch) is what an interrupted append leaves; the segment is cut there
//! and synced, and the cut is reported in [`Replay::torn_tail_cut`]; a last segment left
//! without a whole record (its creation was interrupted) is removed. Damage in any other
//! segment, or records that are whole but wrong (indexes out of order, a foreign header), is
//! [`JournalError::Corrupt`]. In `fsync` mode a segment is synced before the next one is
//! created, so that is real corruption; in `buffered` mode it can also follow a host crash.
//!
//! # Snapshots
//!
//! `write_snapshot` writes the file atomically (temporary file, sync, rename, directory sync),
//! then deletes full segments whose entries are all at or below its index, and the older
//! snapshot. The active segment always stays; its entries at or below the snapshot are skipped
//! on replay. A snapshot may name an index that is not durable in the log yet: it makes those
//! entries recoverable itself.

mod format;
mod recovery;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

pub use format::MAX_PAYLOAD;
use recovery::Recovered;
use writer::{Batch, Writer};

/// Default size at which a new segment starts.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// When an appended entry counts as durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Written and `fdatasync`ed: survives a host crash.
    Fsync,
    /// Written without a sync: survives a process crash, not a host crash.
    Buffered,
    /// Nothing is written; durable at once. For tests and throwaway clusters.
    None,
}

impl Durability {
    fn as_str(self) -> &'static str {
        match self {
            Durability::Fsync => "fsync",
            Durability::Buffered => "buffered",
            Durability::None => "none",
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown durability {0:?}; expected fsync, buffered or none")]
pub struct ParseDurabilityError(String);

impl FromStr for Durability {
    type Err = ParseDurabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fsync" => Ok(Durability::Fsync),
            "buffered" => Ok(Durability::Buffered),
            "none" => Ok(Durability::None),
            other => Err(ParseDurabilityError(other.to_string())),
        }
    }
}

#[derive(Clone, Debug)]
pub struct JournalConfig {
    /// Holds this journal's segments and snapshots, and nothing else. Not created for
    /// durability `none`.
    pub dir: PathBuf,
    pub durability: Durability,
    /// A new segment starts once the current one has reached this size.
    pub segment_bytes: u64,
}

impl JournalConfig {
    /// `fsync` durability and 64 MiB segments.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JournalConfig {
            dir: dir.into(),
            durability: Durability::Fsync,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal file {} is corrupt at offset {offset}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A previous flush failed; the journal refuses further work.
    #[error("journal failed: {0}")]
    Failed(String),
    #[error("journal index {got} does not follow {last}")]
    OutOfOrder { last: u64, got: u64 },
    #[error("journal payload of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    /// `close` was called, or the journal was dropped.
    #[error("journal is closed")]
    Closed,
}

/// What `open` found.
#[derive(Debug, Default)]
pub struct Replay {
    /// The newest snapshot: its index and data.
    pub snapshot: Option<(u64, Bytes)>,
    /// Every entry after the snapshot, in index order.
    pub entries: Vec<(u64, Bytes)>,
    /// The damaged tail that was cut from the last segment, if any; for logging.
    pub torn_tail_cut: Option<TornTail>,
}

/// A torn tail cut from the last segment on open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    /// Where the file now ends.
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: &'static str,
}

/// A durable log stream. `Send + Sync`; share it behind an `Arc`. Dropping it stops the
/// flusher after it has written what is queued, without waiting for it: `close` before
/// opening the same directory again. Nothing stops two journals from opening one directory
/// at once; the caller must not.
pub struct Journal {
    shared: Arc<Shared>,
}

/// Lock order: `snapshot` before `writer`. `queue` is never held while taking another lock.
struct Shared {
    durability: Durability,
    dir: PathBuf,
    queue: Mutex<Queue>,
    /// Wakes the flusher when `queue` gains entries or leaves the `Open` state.
    wake: Condvar,
    /// `None` for durability `none`.
    writer: Option<Mutex<Writer>>,
    /// Serialises snapshots; holds the index of the snapshot on disk.
    snapshot: Mutex<Option<u64>>,
    progress: watch::Sender<Progress>,
    flushes: AtomicU64,
    bytes_since_snapshot: AtomicU64,
}

struct Queue {
    pending: Batch,
    /// The highest index appended (or recovered, or snapshotted).
    last_index: u64,
    state: State,
}

enum State {
    Open,
    /// Refuses appends; the flusher writes what is pending and stops.
    Closing,
    Failed(String),
}

/// What `wait_durable` watches. Written only by the flusher.
#[derive(Clone, Debug)]
struct Progress {
    durable: u64,
    /// Set when the flusher has stopped; `durable` no longer moves.
    stopped: Option<Stopped>,
}

#[derive(Clone, Debug)]
enum Stopped {
    Closed,
    Failed(String),
}

impl Journal {
    /// Opens (creating the directory if needed), replays, and starts the flusher thread.
    /// Needs no tokio runtime. `on_durable` runs on the flusher thread, never concurrently
    /// with itself, with increasing indexes: the highest index that is now durable.
    pub fn open(
        config: JournalConfig,
        on_durable: Box<dyn Fn(u64) + Send + Sync>,
    ) -> Result<(Journal, Replay), JournalError> {
        let (recovered, writer) = if config.durability == Durability::None {
            (Recovered::default(), None)
        } else {
            let mut recovered = recovery::recover(&config.dir)?;
            let writer = Writer::new(
                config.dir.clone(),
                config.durability == Durability::Fsync,
                config.segment_bytes,
                std::mem::take(&mut recovered.closed),
                recovered.active.take(),
            )?;
            (recovered, Some(Mutex::new(writer)))
        };
        let last_index = recovered.last_index;
        let (progress, _) = watch::channel(Progress {
            durable: last_index,
            stopped: None,
        });
        let shared = Arc::new(Shared {
            durability: config.durability,
            dir: config.dir.clone(),
            queue: Mutex::new(Queue {
                pending: Batch::default(),
                last_index,
                state: State::Open,
            }),
            wake: Condvar::new(),
            writer,
            snapshot: Mutex::new(recovered.snapshot_index),
            progress,
            flushes: AtomicU64::new(0),
            bytes_since_snapshot: AtomicU64::new(recovered.bytes_since_snapshot),
        });
        let flusher = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("journal-flush".into())
            .spawn(move || flusher.run_flusher(on_durable))
            .map_err(|source| JournalError::Io {
                path: config.dir,
                source,
            })?;
        Ok((Journal { shared }, recovered.replay))
    }

    /// Queues one entry; no I/O. Fails if the journal has failed or closed, if `index` does
    /// not exceed every index before it, or if the payload is over [`MAX_PAYLOAD`].
    pub fn append(&self, index: u64, payload: Bytes) -> Result<(), JournalError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(JournalError::TooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        let mut queue = self.shared.queue.lock();
        match &queue.state {
            State::Open => {}
            State::Closing => return Err(JournalError::Closed),
            State::Failed(reason) => return Err(JournalError::Failed(reason.clone())),
        }
        if index <= queue.last_index {
            return Err(JournalError::OutOfOrder {
                last: queue.last_index,
                got: index,
            });
        }
        let encode = self.shared.durability != Durability::None;
        queue.pending.push(index, &payload, encode);
        queue.last_index = index;
        drop(queue);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Resolves once `index` is durable, at once if it already is. An index that is never
    /// appended is waited for until the journal closes or fails.
    pub async fn wait_durable(&self, index: u64) -> Result<(), JournalError> {
        let mut progress = self.shared.progress.subscribe();
        let outcome = progress
            .wait_for(|p| p.durable >= index || p.stopped.is_some())
            .await;
        // The sender lives in `shared`, which `self` keeps alive.
        let progress = outcome.expect("the journal holds the progress sender");
        if progress.durable >= index {
            return Ok(());
        }
        match &progress.stopped {
            Some(Stopped::Failed(reason)) => Err(JournalError::Failed(reason.clone())),
            Some(Stopped::Closed) | None => Err(JournalError::Closed),
        }
    }

    /// The highest durable index (at open: the highest recovered one).
    pub fn durable_index(&self) -> u64 {
        self.shared.progress.borrow().durable
    }

    /// Writes a snapshot of the caller's state as of `index` atomically, then deletes the
    /// segments and the snapshot it makes redundant. Blocks on the disk: call it from a
    /// blocking thread. Later appends must exceed `index`. A no-op for durability `none`.
    pub fn write_snapshot(&self, index: u64, data: &[u8]) -> Result<(), JournalError> {
        let mut snapshot = self.shared.snapshot.lock();
        if let Some(previous) = *snapshot
            && index < previous
        {
            return Err(JournalError::OutOfOrder {
                last: previous,
                got: index,
            });
        }
        if let State::Failed(reason) = &self.shared.queue.lock().state {
            // The caller's state may hold entries whose writers were told they failed.
            return Err(JournalError::Failed(reason.clone()));
        }
        if let Some(writer) = &self.shared.writer {
            writer::write_snapshot_file(&self.shared.dir, index, data)?;
            let mut obsolete = writer.lock().compact(index);
            obsolete.extend(
                snapshot
                    .filter(|&previous| previous < index)
                    .map(|previous| format::snapshot_path(&self.shared.dir, previous)),
            );
            *snapshot = Some(index);
            self.shared.bytes_since_snapshot.store(0, Ordering::Relaxed);
            writer::remove_files(&self.shared.dir, &obsolete)?;
        } else {
            *snapshot = Some(index);
        }
        let mut queue = self.shared.queue.lock();
        queue.last_index = queue.last_index.max(index);
        Ok(())
    }

    /// Bytes of records written since the last snapshot (at open: those after the snapshot),
    /// for deciding when to snapshot. Always 0 for durability `none`.
    pub fn bytes_since_snapshot(&self) -> u64 {
        self.shared.bytes_since_snapshot.load(Ordering::Relaxed)
    }

    /// Batches flushed so far. In `fsync` mode each batch costs one data sync, plus one for each
    /// segment it fills.
    pub fn flush_count(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }

    pub fn durability(&self) -> Durability {
        self.shared.durability
    }

    /// Refuses further appends, flushes what is queued and stops the flusher. Errs if a flush
    /// failed. Calling it again is harmless.
    pub async fn close(&self) -> Result<(), JournalError> {
        self.shared.stop();
        let mut progress = self.shared.progress.subscribe();
        let outcome = progress.wait_for(|p| p.stopped.is_some()).await;
        let progress = outcome.expect("the journal holds the progress sender");
        match &progress.stopped {
            Some(Stopped::Failed(reason)) => Err(JournalError::Failed(reason.clone())),
            Some(Stopped::Closed) | None => Ok(()),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

impl Shared {
    fn stop(&self) {
        let mut queue = self.queue.lock();
        if matches!(queue.state, State::Open) {
            queue.state = State::Closing;
        }
        drop(queue);
        self.wake.notify_one();
    }

    /// The flusher thread: take everything queued, write it, publish, repeat.
    fn run_flusher(&self, on_durable: Box<dyn Fn(u64) + Send + Sync>) {
        let _exit = FlusherExit(self);
        let mut batch = Batch::default();
        loop {
            let closing = {
                let mut queue = self.queue.lock();
                while queue.pending.is_empty() && matches!(queue.state, State::Open) {
                    self.wake.wait(&mut queue);
                }
                std::mem::swap(&mut queue.pending, &mut batch);
                // Only this thread sets `Failed`, so not `Open` means closing.
                !matches!(queue.state, State::Open)
            };
            if let Some(last) = batch.last_index() {
                if let Err(err) = self.flush(&batch) {
                    tracing::error!(dir = %self.dir.display(), %err, "journal flush failed");
                    self.fail(err.to_string());
                    return;
                }
                self.flushes.fetch_add(1, Ordering::Relaxed);
                on_durable(last);
                self.progress.send_modify(|p| p.durable = last);
                batch.clear();
            }
            if closing {
                // Appends were refused from the moment `closing` was read, so nothing is left.
                self.progress
                    .send_modify(|p| p.stopped = Some(Stopped::Closed));
                return;
            }
        }
    }

    fn fail(&self, reason: String) {
        self.queue.lock().state = State::Failed(reason.clone());
        self.progress
            .send_modify(|p| p.stopped = Some(Stopped::Failed(reason)));
    }

    fn flush(&self, batch: &Batch) -> Result<(), JournalError> {
        if let Some(writer) = &self.writer {
            writer.lock().write(batch)?;
            self.bytes_since_snapshot
                .fetch_add(batch.encoded_len(), Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Fails the journal if the flusher thread ends without having said why (a panic in
/// `on_durable`), so that no waiter hangs.
struct FlusherExit<'a>(&'a Shared);

impl Drop for FlusherExit<'_> {
    fn drop(&mut self) {
        if self.0.progress.borrow().stopped.is_none() {
            tracing::error!(dir = %self.0.dir.display(), "journal flusher stopped unexpectedly");
            self.0
                .fail("the journal flusher stopped unexpectedly".into());
        }
    }
}

//! One partition: a sequencer (the write lock and revision counter), an engine, a journal
//! stream and an event fan-out. Partitions share nothing, so a flood of writes to one never
//! waits on another.
//!
//! A write, in order:
//! 1. under the write lock: evaluate against the newest state (`mvcc::evaluate`), take the
//!    next revision, apply it to the engine, register it as pending, append its record to the
//!    journal (no I/O), attach or detach leases;
//! 2. outside the lock: wait until the journal says the record is durable (group commit: one
//!    flush covers every record appended meanwhile);
//! 3. when a flush completes, `Commit::advance` moves the committed revision forward and
//!    publishes the pending events, in revision order, under one lock.
//!
//! Readers read at the committed revision, so a write is visible exactly when it is durable,
//! and every reader sees the same prefix of history.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::codec::{self, PartitionRecord, PartitionSnapshot};
use crate::engine::{Engine, Write};
use crate::error::StoreError;
use crate::journal::{Journal, JournalConfig};
use crate::leases::Leases;
use crate::mvcc::{self, ReadWindow};
use crate::types::{
    Change, DeleteRequest, Event, KeyRange, LeaseId, Op, RangeRequest, RangeResponse, Revision,
    TxnRequest, TxnResponse,
};
use crate::watch::{EventBatch, Watcher};

/// How many revisions' event batches the fan-out holds for watchers that are behind; a watcher
/// further behind catches up from the engine's history instead (see `watch`).
const EVENT_BUFFER: usize = 4096;

/// The committed revision, the compaction point, and the writes that are applied to the
/// engine but not yet durable. Shared with the journal's flusher.
pub(crate) struct Commit {
    state: Mutex<CommitState>,
    pub(crate) events: broadcast::Sender<Arc<EventBatch>>,
}

pub(crate) struct CommitState {
    pub(crate) window: ReadWindow,
    pending: VecDeque<Pending>,
}

struct Pending {
    seq: u64,
    batch: Arc<EventBatch>,
}

impl Commit {
    fn new(window: ReadWindow) -> Commit {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Commit {
            state: Mutex::new(CommitState {
                window,
                pending: VecDeque::new(),
            }),
            events,
        }
    }

    /// Everything with a journal sequence number up to `durable` is durable: commit it.
    fn advance(&self, durable: u64) {
        let mut state = self.state.lock();
        while state.pending.front().is_some_and(|p| p.seq <= durable) {
            let Some(pending) = state.pending.pop_front() else {
                break;
            };
            state.window.current = pending.batch.revision;
            // No receiver is not an error: nobody watches this partition right now.
            let _ = self.events.send(pending.batch);
        }
    }

    pub(crate) fn window(&self) -> ReadWindow {
        self.state.lock().window
    }

    /// Runs `f` with the commit state locked, so that a new watcher's subscription and its
    /// view of the committed revision agree exactly.
    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&CommitState) -> T) -> T {
        f(&self.state.lock())
    }
}

struct Sequencer {
    /// The newest applied revision (committed or pending).
    latest: Revision,
    /// The journal sequence number of the next record.
    next_seq: u64,
    /// Set when the engine failed to apply a journaled write; the partition then refuses
    /// every later write.
    poisoned: Option<String>,
}

pub struct Partition {
    name: String,
    engine: Arc<dyn Engine>,
    journal: Journal,
    commit: Arc<Commit>,
    sequencer: Mutex<Sequencer>,
    leases: Arc<Leases>,
    /// Snapshot once this many journal bytes were written since the last one.
    snapshot_bytes: u64,
    snapshotting: Mutex<bool>,
}

impl Partition {
    /// Opens the partition's journal and rebuilds the engine from its snapshot and tail.
    pub(crate) fn open(
        name: &str,
        engine: Arc<dyn Engine>,
        journal_config: JournalConfig,
        leases: Arc<Leases>,
        snapshot_bytes: u64,
    ) -> Result<Arc<Partition>, StoreError> {
        let commit = Arc::new(Commit::new(ReadWindow {
            compacted: None,
            current: Revision::INITIAL,
        }));
        let on_durable = {
            let commit = Arc::clone(&commit);
            Box::new(move |durable: u64| commit.advance(durable))
        };
        let unavailable = |source| StoreError::Unavailable {
            partition: name.to_owned(),
            source,
        };
        let (journal, replay) = Journal::open(journal_config, on_durable).map_err(unavailable)?;
        if let Some(torn) = &replay.torn_tail_cut {
            tracing::warn!(partition = name, ?torn, "cut a torn journal tail");
        }
        let corrupt = |e: codec::DecodeError| StoreError::Engine(format!("partition {name}: {e}"));
        let mut latest = Revision::INITIAL;
        let mut compacted = None;
        let mut next_seq = 1;
        if let Some((index, data)) = replay.snapshot {
            let snapshot = codec::decode_snapshot(data).map_err(corrupt)?;
            for (revision, writes) in &snapshot.dump {
                engine.apply(*revision, writes)?;
            }
            latest = snapshot.revision;
            compacted = snapshot.compacted;
            next_seq = index + 1;
        }
        for (index, data) in replay.entries {
            match codec::decode_partition_record(data).map_err(corrupt)? {
                PartitionRecord::Write { revision, writes } => {
                    engine.apply(revision, &writes)?;
                    latest = revision;
                }
                PartitionRecord::Compact { revision } => {
                    engine.compact(revision)?;
                    compacted = Some(revision);
                }
            }
            next_seq = index + 1;
        }
        {
            let mut state = commit.state.lock();
            state.window = ReadWindow {
                compacted,
                current: latest,
            };
        }
        Ok(Arc::new(Partition {
            name: name.to_owned(),
            engine,
            journal,
            commit,
            sequencer: Mutex::new(Sequencer {
                latest,
                next_seq,
                poisoned: None,
            }),
            leases,
            snapshot_bytes,
            snapshotting: Mutex::new(false),
        }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The newest committed revision.
    pub fn revision(&self) -> Revision {
        self.commit.window().current
    }

    pub fn compacted(&self) -> Option<Revision> {
        self.commit.window().compacted
    }

    pub fn engine(&self) -> &dyn Engine {
        &*self.engine
    }

    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, StoreError> {
        mvcc::range(&*self.engine, self.commit.window(), req)
    }

    /// Runs a transaction (a plain put or delete is a transaction of one op) and returns once
    /// what it wrote is durable.
    pub async fn txn(self: &Arc<Self>, txn: &TxnRequest) -> Result<TxnResponse, StoreError> {
        self.txn_at(|_| Ok(txn)).await
    }

    /// A transaction built from the revision it will be written at, if it writes: the API
    /// server encodes an object with its final `resourceVersion` inside, once, under the
    /// sequencer lock (DESIGN.md, "decode once, serialize once"). `build` runs under the lock,
    /// so it must be quick and must not block.
    pub async fn txn_at<T>(
        self: &Arc<Self>,
        build: impl FnOnce(Revision) -> Result<T, StoreError>,
    ) -> Result<TxnResponse, StoreError>
    where
        T: std::borrow::Borrow<TxnRequest>,
    {
        let (response, seq) = {
            let mut sequencer = self.sequencer.lock();
            let window = self.commit.window();
            let txn = build(sequencer.latest.next())?;
            let txn = txn.borrow();
            let eval = mvcc::evaluate(&*self.engine, sequencer.latest, window, &*self.leases, txn)?;
            if eval.writes.is_empty() {
                // A read-only transaction may have read pending writes: answer once they are
                // durable, so nothing it saw can be lost.
                (eval.response, sequencer.next_seq.saturating_sub(1))
            } else {
                let seq = self.append(&mut sequencer, &eval.writes, eval.events)?;
                (eval.response, seq)
            }
        };
        self.wait_durable(seq).await?;
        self.maybe_snapshot();
        Ok(response)
    }

    /// Registers, journals and applies the next revision; returns its journal sequence number.
    /// Called with the sequencer locked.
    fn append(
        &self,
        sequencer: &mut Sequencer,
        writes: &[Write],
        events: Vec<Event>,
    ) -> Result<u64, StoreError> {
        if let Some(reason) = &sequencer.poisoned {
            return Err(StoreError::Engine(format!(
                "partition {} refuses writes after an earlier failure: {reason}",
                self.name
            )));
        }
        let revision = sequencer.latest.next();
        let seq = sequencer.next_seq;
        let record = codec::encode_write(revision, writes);
        let batch = Arc::new(EventBatch { revision, events });
        // Into the engine before the journal: the flusher may commit the record (and readers
        // then read at its revision) as soon as it is appended. Readers cannot see it earlier,
        // because they read at the committed revision.
        if let Err(error) = self.engine.apply(revision, writes) {
            sequencer.poisoned = Some(error.to_string());
            return Err(error);
        }
        // Pending before appended, for the same reason.
        self.commit.state.lock().pending.push_back(Pending {
            seq,
            batch: Arc::clone(&batch),
        });
        if let Err(source) = self.journal.append(seq, record) {
            self.commit.state.lock().pending.pop_back();
            // The engine holds a revision the journal lacks: no later write may build on it.
            sequencer.poisoned = Some(source.to_string());
            return Err(self.unavailable(source));
        }
        sequencer.latest = revision;
        sequencer.next_seq += 1;
        for event in &batch.events {
            let new_lease = match &event.change {
                Change::Put(kv) => kv.lease,
                Change::Delete => None,
            };
            let old_lease = event.prev.as_ref().and_then(|prev| prev.lease);
            if old_lease != new_lease {
                self.leases.reattach(&event.key, old_lease, new_lease);
            }
        }
        Ok(seq)
    }

    async fn wait_durable(&self, seq: u64) -> Result<(), StoreError> {
        if seq == 0 {
            return Ok(());
        }
        self.journal
            .wait_durable(seq)
            .await
            .map_err(|source| self.unavailable(source))?;
        // The flusher calls `advance` too; calling it here makes the write visible before
        // we answer, whichever of the two runs first.
        self.commit.advance(self.journal.durable_index());
        Ok(())
    }

    fn unavailable(&self, source: crate::journal::JournalError) -> StoreError {
        StoreError::Unavailable {
            partition: self.name.clone(),
            source,
        }
    }

    /// Deletes, in one revision, those of `keys` that are still attached to `lease`.
    pub(crate) async fn delete_leased(
        self: &Arc<Self>,
        keys: &[Bytes],
        lease: LeaseId,
    ) -> Result<(), StoreError> {
        let seq = {
            let mut sequencer = self.sequencer.lock();
            let mut ops = Vec::new();
            for key in keys {
                let current = self.engine.get(key, sequencer.latest)?;
                if current.is_some_and(|kv| kv.lease == Some(lease)) {
                    let range = KeyRange::Single(key.clone());
                    ops.push(Op::Delete(DeleteRequest {
                        range,
                        prev_kv: false,
                    }));
                }
            }
            let txn = TxnRequest {
                compare: Vec::new(),
                success: ops,
                failure: Vec::new(),
            };
            // Internal: as many keys as the lease holds, beyond the client limit on ops.
            let window = self.commit.window();
            let eval = mvcc::evaluate_unbounded(
                &*self.engine,
                sequencer.latest,
                window,
                &*self.leases,
                &txn,
            )?;
            if eval.writes.is_empty() {
                return Ok(());
            }
            self.append(&mut sequencer, &eval.writes, eval.events)?
        };
        self.wait_durable(seq).await
    }

    /// Compacts history below `revision` (etcd's Compact): reads and watches from before it
    /// get the "compacted" error from now on.
    pub async fn compact(self: &Arc<Self>, revision: Revision) -> Result<(), StoreError> {
        let seq = {
            let mut sequencer = self.sequencer.lock();
            let window = self.commit.window();
            if revision > window.current {
                return Err(StoreError::FutureRevision {
                    current: window.current,
                });
            }
            if let Some(compacted) = window.compacted
                && revision <= compacted
            {
                return Err(StoreError::Compacted {
                    compact_revision: compacted,
                });
            }
            let seq = sequencer.next_seq;
            self.journal
                .append(seq, codec::encode_compact(revision))
                .map_err(|source| self.unavailable(source))?;
            sequencer.next_seq += 1;
            // Readers stop reading below the new point before the engine forgets it.
            self.commit.state.lock().window.compacted = Some(revision);
            seq
        };
        self.engine.compact(revision)?;
        self.wait_durable(seq).await
    }

    /// Watches `range` from `start` (`None`: from the next revision).
    pub fn watch(
        self: &Arc<Self>,
        range: KeyRange,
        start: Option<Revision>,
    ) -> Result<Watcher, StoreError> {
        Watcher::new(
            Arc::clone(&self.engine),
            Arc::clone(&self.commit),
            range,
            start,
        )
    }

    /// Writes a snapshot once enough journal has accumulated, in the background, so the
    /// journal can drop the segments it covers.
    fn maybe_snapshot(self: &Arc<Self>) {
        if self.snapshot_bytes == 0 || self.journal.bytes_since_snapshot() < self.snapshot_bytes {
            return;
        }
        {
            let mut running = self.snapshotting.lock();
            if *running {
                return;
            }
            *running = true;
        }
        let partition = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if let Err(error) = partition.snapshot() {
                tracing::error!(partition = partition.name, %error, "snapshot failed");
            }
            *partition.snapshotting.lock() = false;
        });
    }

    /// Dumps the engine under the write lock (so the dump and its journal position agree) and
    /// writes it outside the lock.
    pub(crate) fn snapshot(&self) -> Result<(), StoreError> {
        let (seq, snapshot) = {
            let sequencer = self.sequencer.lock();
            let window = self.commit.window();
            let dump = self.engine.dump();
            let snapshot = PartitionSnapshot {
                revision: sequencer.latest,
                compacted: window.compacted,
                dump: dump?,
            };
            (sequencer.next_seq - 1, snapshot)
        };
        if seq == 0 {
            return Ok(());
        }
        let data = codec::encode_snapshot(&snapshot);
        self.journal
            .write_snapshot(seq, &data)
            .map_err(|source| self.unavailable(source))
    }

    pub(crate) async fn close(&self) -> Result<(), StoreError> {
        self.journal
            .close()
            .await
            .map_err(|source| self.unavailable(source))
    }
}

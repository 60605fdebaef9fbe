//! The RocksDB engine: the same multi-version key space as `memory`, kept in a local RocksDB so
//! that the versions need not fit in memory.
//!
//! Two column families hold every retained version twice over, once in key order and once in
//! revision order:
//!
//! ```text
//! keys: escape(key) 00 01 | !revision (u64 BE) | !sub (u32 BE)  ->  record
//! revs: revision (u64 BE) | sub (u32 BE)                         ->  key
//! ```
//!
//! `escape` turns every 0x00 byte of the key into 0x00 0xFF, so `00 01` can only be the
//! terminator: no key's entries interleave with another's, and the entries sort in key order
//! (`a` < `a\0` < `a\0b` < `ab`). `!x` is `MAX - x`, so a key's versions sort newest first, and
//! `sub` is the position of the write within its revision. The record is a flag (live or
//! tombstone) and, for a live version, every field of the `KeyValue` but its key.
//!
//! For the key `k` of `memory`'s example (put at r2 and r5, deleted at r7, put at r9):
//!
//! ```text
//! k 00 01 | !9 | !0  ->  live "c"
//! k 00 01 | !7 | !0  ->  tombstone
//! k 00 01 | !5 | !0  ->  live "b"
//! k 00 01 | !2 | !0  ->  live "a"
//! ```
//!
//! A read at r6 seeks to `k 00 01 | !6 | !MAX` and lands on r5, the newest version at or below
//! r6. A scan does the same for each key and then skips the key's older versions. `events`
//! walks `revs` and looks each version up in `keys`, where the entry after it is the version it
//! replaced. Compaction only revisits the keys written since the last one (found in `revs`):
//! every other key already has a single live version at or below the compaction revision.
//!
//! Durability: writes skip RocksDB's write-ahead log, because the partition's journal is the
//! durable log and replays into the engine after a restart. What a crash leaves in the
//! directory is therefore unknown, so `open` clears it and the partition replays its whole
//! journal into the empty engine. Reopening without a replay (a persistent engine) is future
//! work: it needs the WAL or a flush that is ordered with the journal's snapshots.
//!
//! The `Engine` trait's reads cannot fail, so a RocksDB error during a read (I/O error or
//! corruption) is logged here and the read returns what it found before the error.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType, DBRawIterator, Options,
    ReadOptions, WriteBatch, WriteOptions,
};

use super::{Engine, EngineDump, EngineSize, Write};
use crate::error::StoreError;
use crate::types::{Change, Event, KeyRange, KeyValue, LeaseId, Revision};

const KEYS: &str = "keys";
const REVS: &str = "revs";

/// Ends the escaped key in every `keys` entry.
const TERMINATOR: [u8; 2] = [0x00, 0x01];
/// Sorts after every entry of the escaped key it follows and before the next key's entries.
const PAST_KEY: [u8; 2] = [0x00, 0x02];
/// Inverted revision and sub after the terminator.
const SUFFIX_LEN: usize = 12;

const TOMBSTONE: u8 = 0;
const LIVE: u8 = 1;
/// Flag, create revision, mod revision, version, lease; the value follows.
const LIVE_HEADER_LEN: usize = 1 + 8 + 8 + 8 + 8;

/// `next` calls a scan tries before it seeks past a key's older versions (RocksDB's own
/// iterator makes the same trade at `max_sequential_skip_in_iterations`, 8): after compaction
/// a key has one version, so the next entry is almost always the next key.
const NEXTS_BEFORE_SEEK: usize = 8;

/// Deletions per write batch during compaction, to bound the memory of one batch.
const COMPACTION_BATCH: usize = 16 * 1024;

pub struct RocksEngine {
    db: DB,
    write_options: WriteOptions,
    /// Counted from zero by `apply` and `compact`: the engine starts empty on every open.
    size: Mutex<EngineSize>,
    /// The newest applied revision.
    applied: AtomicU64,
    /// No version superseded at this revision is left (0 before the first compaction). Held
    /// for the whole of `compact`, so compactions run one at a time.
    swept: Mutex<u64>,
}

impl RocksEngine {
    /// Opens an empty engine in `dir`, deleting whatever an earlier engine left there (see the
    /// module doc).
    pub fn open(dir: &Path) -> Result<RocksEngine, StoreError> {
        // Closing would otherwise flush the memtables, only for the next open to delete them.
        let mut options = Options::default()
            .get_options_from_string("avoid_flush_during_shutdown=true")
            .map_err(engine_error)?;
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Destroying needs the directory (it takes the lock file there) and leaves its parent.
        std::fs::create_dir_all(dir).map_err(|error| {
            StoreError::Engine(format!("rocksdb: creating {}: {error}", dir.display()))
        })?;
        DB::destroy(&options, dir).map_err(engine_error)?;
        let families = [
            ColumnFamilyDescriptor::new(KEYS, family_options(None)),
            // Entries of a dozen bytes and a key: a small memtable holds many revisions.
            ColumnFamilyDescriptor::new(REVS, family_options(Some(16 << 20))),
        ];
        let db = DB::open_cf_descriptors(&options, dir, families).map_err(engine_error)?;
        let mut write_options = WriteOptions::default();
        write_options.disable_wal(true);
        Ok(RocksEngine {
            db,
            write_options,
            size: Mutex::new(EngineSize::default()),
            applied: AtomicU64::new(0),
            swept: Mutex::new(0),
        })
    }

    fn cf(&self, name: &str) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::Engine(format!("rocksdb: column family {name} missing")))
    }

    fn try_get(&self, key: &[u8], at: Revision) -> Result<Option<KeyValue>, StoreError> {
        let mut target = Vec::with_capacity(key.len() + TERMINATOR.len() + SUFFIX_LEN);
        push_escaped(&mut target, key);
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(past_key(&target));
        target.extend_from_slice(&TERMINATOR);
        push_suffix(&mut target, at.get(), u32::MAX);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(KEYS)?, options);
        iter.seek(&target);
        match iter.value() {
            Some(record) => decode_record(record, || Bytes::copy_from_slice(key)),
            None => iter.status().map(|()| None).map_err(engine_error),
        }
    }

    fn try_scan(
        &self,
        range: &KeyRange,
        at: Revision,
        visit: &mut dyn FnMut(&KeyValue) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        if range.is_empty() {
            return Ok(());
        }
        let mut options = ReadOptions::default();
        let mut target = Vec::with_capacity(range.start().len() + TERMINATOR.len() + SUFFIX_LEN);
        push_escaped(&mut target, range.start());
        match range {
            KeyRange::Single(_) => options.set_iterate_upper_bound(past_key(&target)),
            KeyRange::Interval { end: Some(end), .. } => {
                let mut bound = Vec::with_capacity(end.len() + TERMINATOR.len());
                push_escaped(&mut bound, end);
                bound.extend_from_slice(&TERMINATOR);
                options.set_iterate_upper_bound(bound);
            }
            KeyRange::Interval { end: None, .. } => {}
        }
        target.extend_from_slice(&TERMINATOR);
        push_suffix(&mut target, at.get(), u32::MAX);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(KEYS)?, options);
        iter.seek(&target);
        while let Some((entry, record)) = iter.item() {
            let (prefix, revision, _) = split_entry(entry)?;
            target.clear();
            if revision > at {
                // Newer than `at`: the key's version at `at`, if any, comes further on.
                target.extend_from_slice(prefix);
                push_suffix(&mut target, at.get(), u32::MAX);
            } else {
                if let Some(kv) = decode_record(record, || decode_key(prefix))?
                    && visit(&kv).is_break()
                {
                    return Ok(());
                }
                target.extend_from_slice(&prefix[..prefix.len() - TERMINATOR.len()]);
                target.extend_from_slice(&PAST_KEY);
            }
            skip_to(&mut iter, &target);
        }
        iter.status().map_err(engine_error)
    }

    /// The events of one key: its versions in `(after, upto]`, newest first in `keys`, and the
    /// version just below them as the first one's `prev`.
    fn key_events(
        &self,
        key: &Bytes,
        after: Revision,
        upto: Revision,
    ) -> Result<Vec<Event>, StoreError> {
        let mut options = ReadOptions::default();
        let mut target = Vec::with_capacity(key.len() + TERMINATOR.len() + SUFFIX_LEN);
        push_escaped(&mut target, key);
        options.set_iterate_upper_bound(past_key(&target));
        target.extend_from_slice(&TERMINATOR);
        push_suffix(&mut target, upto.get(), u32::MAX);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(KEYS)?, options);
        iter.seek(&target);
        let mut newest_first = Vec::new();
        let mut before = None;
        while let Some((entry, record)) = iter.item() {
            let (_, revision, _) = split_entry(entry)?;
            let kv = decode_record(record, || key.clone())?;
            if revision <= after {
                before = kv;
                break;
            }
            newest_first.push((revision, kv));
            iter.next();
        }
        iter.status().map_err(engine_error)?;
        let mut events = Vec::with_capacity(newest_first.len());
        let mut prev = before;
        for (revision, kv) in newest_first.into_iter().rev() {
            let change = kv.clone().map_or(Change::Delete, Change::Put);
            events.push(Event {
                key: key.clone(),
                revision,
                change,
                prev,
            });
            prev = kv;
        }
        Ok(events)
    }

    /// The events of a key interval: `revs` gives the writes in order; `keys` gives each
    /// version and, right after it, the version it replaced. Both read one snapshot, so a
    /// concurrent compaction cannot remove a version between the two.
    fn range_events(
        &self,
        range: &KeyRange,
        after: Revision,
        upto: Revision,
    ) -> Result<Vec<Event>, StoreError> {
        let snapshot = self.db.snapshot();
        let mut options = ReadOptions::default();
        // A revision counter never reaches u64::MAX (see `Revision::next`).
        options.set_iterate_upper_bound(rev_entry(upto.get().saturating_add(1), 0));
        let mut writes = snapshot.raw_iterator_cf_opt(self.cf(REVS)?, options);
        let mut versions = snapshot.raw_iterator_cf_opt(self.cf(KEYS)?, ReadOptions::default());
        writes.seek(rev_entry(after.get() + 1, 0));
        let mut events = Vec::new();
        let mut target = Vec::new();
        while let Some((entry, key)) = writes.item() {
            if range.contains(key) {
                let (revision, sub) = split_rev_entry(entry)?;
                target.clear();
                push_escaped(&mut target, key);
                target.extend_from_slice(&TERMINATOR);
                let prefix_len = target.len();
                push_suffix(&mut target, revision.get(), sub);
                versions.seek(&target);
                let record = match versions.item() {
                    Some((found, record)) if found == target.as_slice() => record,
                    _ => {
                        versions.status().map_err(engine_error)?;
                        return Err(corrupt("a revision names a version that is missing"));
                    }
                };
                let key = Bytes::copy_from_slice(key);
                let change =
                    decode_record(record, || key.clone())?.map_or(Change::Delete, Change::Put);
                versions.next();
                let prev = match versions.item() {
                    Some((older, record)) if older.starts_with(&target[..prefix_len]) => {
                        decode_record(record, || key.clone())?
                    }
                    _ => versions.status().map(|()| None).map_err(engine_error)?,
                };
                events.push(Event {
                    key,
                    revision,
                    change,
                    prev,
                });
            }
            writes.next();
        }
        writes.status().map_err(engine_error)?;
        Ok(events)
    }

    fn try_compact(&self, at: Revision) -> Result<(), StoreError> {
        let mut swept = self.swept.lock();
        // Revisions above `applied` have no writes yet; the next compaction sweeps them.
        let upto = at.get().min(self.applied.load(Ordering::Acquire));
        if upto <= *swept {
            return Ok(());
        }
        let (keys, revs) = (self.cf(KEYS)?, self.cf(REVS)?);
        // The keys written in (swept, upto], as escaped key + terminator, in key order. Any
        // other key's newest version at `at` is at or below `swept`, so it is live and alone.
        let mut touched = BTreeSet::new();
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(rev_entry(upto + 1, 0));
        let mut writes = self.db.raw_iterator_cf_opt(revs, options);
        writes.seek(rev_entry(*swept + 1, 0));
        while let Some(key) = writes.value() {
            let mut prefix = Vec::with_capacity(key.len() + TERMINATOR.len() + SUFFIX_LEN);
            push_escaped(&mut prefix, key);
            prefix.extend_from_slice(&TERMINATOR);
            touched.insert(prefix);
            writes.next();
        }
        writes.status().map_err(engine_error)?;
        drop(writes);

        let mut versions = self.db.raw_iterator_cf_opt(keys, ReadOptions::default());
        let mut batch = WriteBatch::default();
        let mut dropped = EngineSize::default();
        for mut target in touched {
            let prefix_len = target.len();
            push_suffix(&mut target, at.get(), u32::MAX);
            versions.seek(&target);
            let prefix = &target[..prefix_len];
            let mut newest = true;
            while let Some((entry, record)) = versions.item().filter(|(e, _)| e.starts_with(prefix))
            {
                // The newest version at `at` stays, unless it is a tombstone; older ones go.
                if !(newest && is_live(record)) {
                    let (_, revision, sub) = split_entry(entry)?;
                    batch.single_delete_cf(keys, entry);
                    batch.single_delete_cf(revs, rev_entry(revision.get(), sub));
                    dropped.versions += 1;
                    dropped.bytes += live_bytes(prefix, record);
                }
                newest = false;
                versions.next();
            }
            versions.status().map_err(engine_error)?;
            if batch.len() >= COMPACTION_BATCH {
                self.write_compaction(std::mem::take(&mut batch), &mut dropped)?;
            }
        }
        self.write_compaction(batch, &mut dropped)?;
        *swept = upto;
        Ok(())
    }

    fn write_compaction(
        &self,
        batch: WriteBatch,
        dropped: &mut EngineSize,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.db
            .write_opt(batch, &self.write_options)
            .map_err(engine_error)?;
        let mut size = self.size.lock();
        size.versions -= dropped.versions;
        size.bytes -= dropped.bytes;
        *dropped = EngineSize::default();
        Ok(())
    }

    fn try_dump(&self) -> Result<EngineDump, StoreError> {
        let mut options = ReadOptions::default();
        // One pass over everything: keep the block cache for the reads that repeat.
        options.fill_cache(false);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(KEYS)?, options);
        iter.seek_to_first();
        let versions = usize::try_from(self.size.lock().versions).unwrap_or(0);
        let mut all: Vec<(Revision, u32, Write)> = Vec::with_capacity(versions);
        let mut prefix = Vec::new();
        let mut key = Bytes::new();
        while let Some((entry, record)) = iter.item() {
            let (entry_prefix, revision, sub) = split_entry(entry)?;
            if entry_prefix != prefix.as_slice() {
                prefix.clear();
                prefix.extend_from_slice(entry_prefix);
                key = decode_key(entry_prefix);
            }
            let kv = decode_record(record, || key.clone())?;
            all.push((
                revision,
                sub,
                Write {
                    key: key.clone(),
                    kv,
                },
            ));
            iter.next();
        }
        iter.status().map_err(engine_error)?;
        drop(iter);
        all.sort_unstable_by_key(|(revision, sub, _)| (*revision, *sub));
        let mut revisions: EngineDump = Vec::new();
        for (revision, _, write) in all {
            match revisions.last_mut() {
                Some((last, writes)) if *last == revision => writes.push(write),
                _ => revisions.push((revision, vec![write])),
            }
        }
        Ok(revisions)
    }
}

impl Engine for RocksEngine {
    fn apply(&self, revision: Revision, writes: &[Write]) -> Result<(), StoreError> {
        let (keys, revs) = (self.cf(KEYS)?, self.cf(REVS)?);
        let capacity = writes
            .iter()
            .map(|w| 2 * w.key.len() + w.kv.as_ref().map_or(0, |kv| kv.value.len()) + 64)
            .sum();
        let mut batch = WriteBatch::with_capacity_bytes(capacity);
        let mut entry = Vec::new();
        let mut record = Vec::new();
        // Whether a key was live, for `EngineSize::keys`. Opened on the first write that needs
        // it, it reads the state before this batch: a revision writes each key once at most
        // (`mvcc` refuses a transaction that writes a key twice).
        let mut newest: Option<DBRawIterator<'_>> = None;
        let (mut created, mut removed, mut bytes) = (0, 0, 0);
        for (sub, write) in writes.iter().enumerate() {
            let sub = u32::try_from(sub)
                .map_err(|_| StoreError::Engine("rocksdb: too many writes in a revision".into()))?;
            entry.clear();
            push_escaped(&mut entry, &write.key);
            entry.extend_from_slice(&TERMINATOR);
            let was_live = match &write.kv {
                // Version 1 is a put that creates the key (see `KeyValue::version`), also in
                // a replayed dump, so the common case of a new key needs no read.
                Some(kv) if kv.version == 1 => false,
                _ => {
                    let iter = newest.get_or_insert_with(|| {
                        self.db.raw_iterator_cf_opt(keys, ReadOptions::default())
                    });
                    iter.seek(&entry);
                    match iter.item() {
                        Some((found, record)) if found.starts_with(&entry) => is_live(record),
                        _ => iter.status().map(|()| false).map_err(engine_error)?,
                    }
                }
            };
            match (was_live, write.kv.is_some()) {
                (false, true) => created += 1,
                (true, false) => removed += 1,
                _ => {}
            }
            push_suffix(&mut entry, revision.get(), sub);
            record.clear();
            push_record(&mut record, write.kv.as_ref());
            bytes += write
                .kv
                .as_ref()
                .map_or(0, |kv| (kv.key.len() + kv.value.len()) as u64);
            batch.put_cf(keys, &entry, &record);
            batch.put_cf(revs, rev_entry(revision.get(), sub), &write.key);
        }
        drop(newest);
        self.db
            .write_opt(batch, &self.write_options)
            .map_err(engine_error)?;
        {
            let mut size = self.size.lock();
            size.keys = size.keys + created - removed;
            size.versions += writes.len() as u64;
            size.bytes += bytes;
        }
        self.applied.store(revision.get(), Ordering::Release);
        Ok(())
    }

    fn get(&self, key: &[u8], at: Revision) -> Result<Option<KeyValue>, StoreError> {
        self.try_get(key, at)
    }

    fn scan(
        &self,
        range: &KeyRange,
        at: Revision,
        visit: &mut dyn FnMut(&KeyValue) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.try_scan(range, at, visit)
    }

    fn events(
        &self,
        range: &KeyRange,
        after: Revision,
        upto: Revision,
    ) -> Result<Vec<Event>, StoreError> {
        if range.is_empty() || upto <= after {
            return Ok(Vec::new());
        }
        match range {
            KeyRange::Single(key) => self.key_events(key, after, upto),
            KeyRange::Interval { .. } => self.range_events(range, after, upto),
        }
    }

    fn compact(&self, at: Revision) -> Result<(), StoreError> {
        self.try_compact(at)
    }

    fn dump(&self) -> Result<EngineDump, StoreError> {
        self.try_dump()
    }

    fn size(&self) -> EngineSize {
        *self.size.lock()
    }
}

/// Options of both column families. Values are stored as given: compression is not built in
/// (see DESIGN.md on RocksDB's build cost).
fn family_options(write_buffer_size: Option<usize>) -> Options {
    let mut options = Options::default();
    options.set_compression_type(DBCompressionType::None);
    if let Some(size) = write_buffer_size {
        options.set_write_buffer_size(size);
    }
    // Compaction deletes superseded versions in bulk, and a scan steps over every deletion
    // marker until RocksDB compacts it away: have files dense with markers (half of any 1,024
    // consecutive entries) compacted early.
    options.add_compact_on_deletion_collector_factory(1024, 512, 0.5);
    options
}

fn engine_error(error: rocksdb::Error) -> StoreError {
    StoreError::Engine(format!("rocksdb: {error}"))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Engine(format!("rocksdb: corrupt entry: {what}"))
}

/// Appends `key` with every 0x00 byte escaped as 0x00 0xFF.
fn push_escaped(buf: &mut Vec<u8>, key: &[u8]) {
    for chunk in key.split_inclusive(|&byte| byte == 0) {
        buf.extend_from_slice(chunk);
        if chunk.last() == Some(&0) {
            buf.push(0xFF);
        }
    }
}

/// The exclusive upper bound of every entry of an escaped key.
fn past_key(escaped: &[u8]) -> Vec<u8> {
    let mut bound = Vec::with_capacity(escaped.len() + PAST_KEY.len());
    bound.extend_from_slice(escaped);
    bound.extend_from_slice(&PAST_KEY);
    bound
}

/// Appends the inverted revision and sub; `(at, u32::MAX)` is the first entry at or below `at`.
fn push_suffix(buf: &mut Vec<u8>, revision: u64, sub: u32) {
    buf.extend_from_slice(&(u64::MAX - revision).to_be_bytes());
    buf.extend_from_slice(&(u32::MAX - sub).to_be_bytes());
}

/// A `keys` entry's escaped key with its terminator, its revision and its sub.
fn split_entry(entry: &[u8]) -> Result<(&[u8], Revision, u32), StoreError> {
    let (rest, sub) = entry
        .split_last_chunk::<4>()
        .ok_or_else(|| corrupt("short key"))?;
    let (prefix, revision) = rest
        .split_last_chunk::<8>()
        .ok_or_else(|| corrupt("short key"))?;
    if !prefix.ends_with(&TERMINATOR) {
        return Err(corrupt("unterminated key"));
    }
    let revision = Revision::new(u64::MAX - u64::from_be_bytes(*revision))
        .ok_or_else(|| corrupt("revision 0"))?;
    Ok((prefix, revision, u32::MAX - u32::from_be_bytes(*sub)))
}

/// The key of an escaped key with its terminator.
fn decode_key(prefix: &[u8]) -> Bytes {
    let escaped = &prefix[..prefix.len() - TERMINATOR.len()];
    if !escaped.contains(&0) {
        return Bytes::copy_from_slice(escaped);
    }
    let mut key = Vec::with_capacity(escaped.len());
    // Each chunk but the last ends with an escaped 0x00; its 0xFF starts the next chunk.
    for (index, chunk) in escaped.split_inclusive(|&byte| byte == 0).enumerate() {
        let chunk = if index == 0 { chunk } else { &chunk[1..] };
        key.extend_from_slice(chunk);
    }
    Bytes::from(key)
}

fn rev_entry(revision: u64, sub: u32) -> [u8; 12] {
    let mut entry = [0; 12];
    entry[..8].copy_from_slice(&revision.to_be_bytes());
    entry[8..].copy_from_slice(&sub.to_be_bytes());
    entry
}

fn split_rev_entry(entry: &[u8]) -> Result<(Revision, u32), StoreError> {
    let (revision, sub) = entry
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("short revision"))?;
    let sub = sub
        .first_chunk::<4>()
        .ok_or_else(|| corrupt("short revision"))?;
    let revision =
        Revision::new(u64::from_be_bytes(*revision)).ok_or_else(|| corrupt("revision 0"))?;
    Ok((revision, u32::from_be_bytes(*sub)))
}

fn push_record(buf: &mut Vec<u8>, kv: Option<&KeyValue>) {
    let Some(kv) = kv else {
        buf.push(TOMBSTONE);
        return;
    };
    buf.reserve(LIVE_HEADER_LEN + kv.value.len());
    buf.push(LIVE);
    buf.extend_from_slice(&kv.create_revision.get().to_be_bytes());
    buf.extend_from_slice(&kv.mod_revision.get().to_be_bytes());
    buf.extend_from_slice(&kv.version.to_be_bytes());
    buf.extend_from_slice(&kv.lease.map_or(0, LeaseId::get).to_be_bytes());
    buf.extend_from_slice(&kv.value);
}

/// The version a record holds (`None` for a tombstone); `key` is called only for a live one.
fn decode_record(
    record: &[u8],
    key: impl FnOnce() -> Bytes,
) -> Result<Option<KeyValue>, StoreError> {
    let short = || corrupt("short record");
    let (&flag, rest) = record.split_first().ok_or_else(short)?;
    if flag == TOMBSTONE {
        return Ok(None);
    }
    let (create, rest) = rest.split_first_chunk::<8>().ok_or_else(short)?;
    let (modified, rest) = rest.split_first_chunk::<8>().ok_or_else(short)?;
    let (version, rest) = rest.split_first_chunk::<8>().ok_or_else(short)?;
    let (lease, value) = rest.split_first_chunk::<8>().ok_or_else(short)?;
    let revision = |bytes: &[u8; 8]| {
        Revision::new(u64::from_be_bytes(*bytes)).ok_or_else(|| corrupt("revision 0"))
    };
    Ok(Some(KeyValue {
        key: key(),
        value: Bytes::copy_from_slice(value),
        create_revision: revision(create)?,
        mod_revision: revision(modified)?,
        version: u64::from_be_bytes(*version),
        lease: LeaseId::new(i64::from_be_bytes(*lease)),
    }))
}

fn is_live(record: &[u8]) -> bool {
    record.first() == Some(&LIVE)
}

/// Bytes of key and value a record counts in `EngineSize::bytes` (0 for a tombstone).
fn live_bytes(prefix: &[u8], record: &[u8]) -> u64 {
    if !is_live(record) {
        return 0;
    }
    let escaped = &prefix[..prefix.len() - TERMINATOR.len()];
    let escapes = escaped.iter().filter(|&&byte| byte == 0).count();
    (escaped.len() - escapes + record.len().saturating_sub(LIVE_HEADER_LEN)) as u64
}

/// Moves `iter` to the first entry at or after `target`, trying a few `next` calls before a
/// seek (see `NEXTS_BEFORE_SEEK`).
fn skip_to(iter: &mut DBRawIterator<'_>, target: &[u8]) {
    for _ in 0..NEXTS_BEFORE_SEEK {
        iter.next();
        match iter.key() {
            Some(key) if key < target => {}
            _ => return,
        }
    }
    iter.seek(target);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::memory::MemoryEngine;
    use crate::types::prefix_end;

    fn rev(n: u64) -> Revision {
        Revision::new(n).expect("nonzero")
    }

    fn open() -> (RocksEngine, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = RocksEngine::open(dir.path()).expect("open rocksdb");
        (engine, dir)
    }

    fn kv(key: &[u8], value: &[u8], create: u64, at: u64, version: u64) -> KeyValue {
        KeyValue {
            key: Bytes::copy_from_slice(key),
            value: Bytes::copy_from_slice(value),
            create_revision: rev(create),
            mod_revision: rev(at),
            version,
            lease: None,
        }
    }

    fn put(key: &[u8], value: &[u8], create: u64, at: u64, version: u64) -> Write {
        Write {
            key: Bytes::copy_from_slice(key),
            kv: Some(kv(key, value, create, at, version)),
        }
    }

    fn keys_in(engine: &dyn Engine, range: &KeyRange, at: u64) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        engine
            .scan(range, rev(at), &mut |kv| {
                keys.push(kv.key.to_vec());
                ControlFlow::Continue(())
            })
            .expect("scan");
        keys
    }

    fn interval(start: &[u8], end: &[u8]) -> KeyRange {
        KeyRange::Interval {
            start: Bytes::copy_from_slice(start),
            end: Some(Bytes::copy_from_slice(end)),
        }
    }

    #[test]
    fn keys_that_prefix_each_other_or_hold_zero_bytes_stay_apart_and_in_order() {
        let (engine, _dir) = open();
        let keys: [&[u8]; 4] = [b"ab", b"a\0b", b"a", b"a\0"];
        let writes: Vec<Write> = keys.iter().map(|key| put(key, key, 2, 2, 1)).collect();
        engine.apply(rev(2), &writes).expect("apply");
        engine
            .apply(rev(3), &[put(b"a\0", b"new", 2, 3, 2)])
            .expect("apply");
        engine
            .apply(
                rev(4),
                &[Write {
                    key: Bytes::from_static(b"a"),
                    kv: None,
                }],
            )
            .expect("apply");

        let all = KeyRange::Interval {
            start: Bytes::new(),
            end: None,
        };
        let sorted: Vec<Vec<u8>> = [&b"a"[..], b"a\0", b"a\0b", b"ab"]
            .map(<[u8]>::to_vec)
            .into();
        assert_eq!(keys_in(&engine, &all, 2), sorted);
        assert_eq!(keys_in(&engine, &all, 4), sorted[1..]);
        assert_eq!(
            keys_in(&engine, &KeyRange::prefix(&b"a\0"[..]), 4),
            sorted[1..3]
        );
        assert_eq!(keys_in(&engine, &interval(b"a", b"a\0"), 3), sorted[..1]);
        assert_eq!(
            keys_in(&engine, &interval(b"a\0", b"a\0b"), 3),
            sorted[1..2]
        );
        assert_eq!(
            keys_in(&engine, &KeyRange::Single(Bytes::from_static(b"a\0")), 3),
            sorted[1..2]
        );

        let value = |key: &[u8], at| {
            engine
                .get(key, rev(at))
                .expect("get")
                .map(|kv| kv.value.to_vec())
        };
        assert_eq!(value(b"a", 3), Some(b"a".to_vec()));
        assert_eq!(value(b"a", 4), None);
        assert_eq!(value(b"a\0", 2), Some(b"a\0".to_vec()));
        assert_eq!(value(b"a\0", 3), Some(b"new".to_vec()));
        assert_eq!(value(b"a\0b", 4), Some(b"a\0b".to_vec()));
        assert_eq!(value(b"a\0\0", 4), None);
        assert_eq!(value(b"", 4), None);
        assert_eq!(
            engine.size(),
            EngineSize {
                keys: 3,
                versions: 6,
                bytes: 21
            }
        );
    }

    #[test]
    fn open_starts_empty_even_where_an_engine_was() {
        let (engine, dir) = open();
        engine
            .apply(rev(2), &[put(b"k", b"v", 2, 2, 1)])
            .expect("apply");
        drop(engine);
        let engine = RocksEngine::open(dir.path()).expect("reopen");
        assert_eq!(engine.get(b"k", rev(2)).expect("get"), None);
        assert_eq!(engine.size(), EngineSize::default());
    }

    /// A put (`Some(value)`) or a delete of a key, with the lease of a put.
    type Op<'a> = (&'a [u8], Option<Vec<u8>>, Option<LeaseId>);

    /// The same history, made as `mvcc` makes it, applied to a memory and a RocksDB engine.
    struct Twin {
        memory: MemoryEngine,
        rocks: RocksEngine,
        _dir: tempfile::TempDir,
        live: BTreeMap<Vec<u8>, KeyValue>,
        revision: u64,
    }

    impl Twin {
        fn new() -> Twin {
            let (rocks, dir) = open();
            let memory = MemoryEngine::new();
            Twin {
                memory,
                rocks,
                _dir: dir,
                live: BTreeMap::new(),
                revision: 1,
            }
        }

        /// Puts (`Some(value)`) and deletes, on distinct keys; deletes of missing keys are
        /// dropped, as `mvcc` does.
        fn commit(&mut self, ops: &[Op<'_>]) {
            let at = self.revision + 1;
            let mut writes = Vec::new();
            for (key, value, lease) in ops {
                let kv = match value {
                    Some(value) => {
                        let prev = self.live.get(*key);
                        Some(KeyValue {
                            key: Bytes::copy_from_slice(key),
                            value: Bytes::copy_from_slice(value),
                            create_revision: prev.map_or(rev(at), |p| p.create_revision),
                            mod_revision: rev(at),
                            version: prev.map_or(1, |p| p.version + 1),
                            lease: *lease,
                        })
                    }
                    None if self.live.contains_key(*key) => None,
                    None => continue,
                };
                match &kv {
                    Some(kv) => self.live.insert(key.to_vec(), kv.clone()),
                    None => self.live.remove(*key),
                };
                writes.push(Write {
                    key: Bytes::copy_from_slice(key),
                    kv,
                });
            }
            if writes.is_empty() {
                return;
            }
            self.revision = at;
            self.memory.apply(rev(at), &writes).expect("apply memory");
            self.rocks.apply(rev(at), &writes).expect("apply rocksdb");
        }

        fn compact(&self, at: u64) {
            self.memory.compact(rev(at)).expect("compact memory");
            self.rocks.compact(rev(at)).expect("compact rocksdb");
        }

        fn assert_same(&self, keys: &[&[u8]]) {
            let (memory, rocks): (&dyn Engine, &dyn Engine) = (&self.memory, &self.rocks);
            let mut ranges = vec![
                KeyRange::Interval {
                    start: Bytes::new(),
                    end: None,
                },
                KeyRange::prefix(&b"a"[..]),
                KeyRange::prefix(&b"a\0"[..]),
                interval(b"a\0", b"ab"),
                interval(b"a", b"a\0"),
                interval(b"b", b"a"),
            ];
            for key in keys {
                ranges.push(KeyRange::Single(Bytes::copy_from_slice(key)));
                if let Some(end) = prefix_end(key) {
                    ranges.push(KeyRange::Interval {
                        start: Bytes::copy_from_slice(key),
                        end: Some(end),
                    });
                }
            }
            let last = self.revision + 1;
            for at in 1..=last {
                for key in keys {
                    assert_eq!(
                        rocks.get(key, rev(at)).expect("get"),
                        memory.get(key, rev(at)).expect("get"),
                        "get {key:?} at r{at}"
                    );
                }
                for range in &ranges {
                    let scan = |engine: &dyn Engine| {
                        let mut kvs = Vec::new();
                        engine
                            .scan(range, rev(at), &mut |kv| {
                                kvs.push(kv.clone());
                                ControlFlow::Continue(())
                            })
                            .expect("scan");
                        kvs
                    };
                    assert_eq!(scan(rocks), scan(memory), "scan {range:?} at r{at}");
                    for upto in [at + 1, at + 7, last]
                        .into_iter()
                        .filter(|&upto| upto > at && upto <= last)
                    {
                        assert_eq!(
                            rocks.events(range, rev(at), rev(upto)).expect("events"),
                            memory.events(range, rev(at), rev(upto)).expect("events"),
                            "events of {range:?} in (r{at}, r{upto}]"
                        );
                    }
                }
            }
            assert_eq!(
                rocks.dump().expect("dump"),
                memory.dump().expect("dump"),
                "dump"
            );
            assert_eq!(rocks.size(), memory.size(), "size");
        }
    }

    /// A small deterministic generator (Knuth's MMIX LCG): reproducible without a dependency.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn random_histories_read_the_same_as_the_memory_engine() {
        let keys: [&[u8]; 10] = [
            b"",
            b"\0",
            b"\0\0",
            b"a",
            b"a\0",
            b"a\0b",
            b"a\xff",
            b"ab",
            b"b",
            b"\xff\xff",
        ];
        for seed in 1..=3 {
            let mut twin = Twin::new();
            let mut random = Lcg(seed);
            let mut compacted = 1;
            for step in 0..120 {
                let mut ops = Vec::new();
                for _ in 0..=random.below(3) {
                    let key = keys[random.below(keys.len() as u64) as usize];
                    if ops.iter().any(|(k, _, _)| *k == key) {
                        continue;
                    }
                    let value =
                        (random.below(3) > 0).then(|| vec![b'v'; random.below(40) as usize]);
                    let lease = LeaseId::new(random.below(3) as i64);
                    ops.push((key, value, lease));
                }
                twin.commit(&ops);
                if random.below(10) == 0 {
                    compacted = compacted.max(random.below(twin.revision + 1));
                    twin.compact(compacted);
                }
                if step % 40 == 39 {
                    twin.assert_same(&keys);
                }
            }
            twin.compact(twin.revision);
            twin.assert_same(&keys);
        }
    }
}

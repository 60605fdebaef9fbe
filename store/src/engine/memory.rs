//! The in-memory engine ("tmpfs mode"): an ordered map from key to the key's versions, oldest
//! first. Nothing is written locally; durability comes from the partition's journal, which
//! replays into a fresh engine after a restart.
//!
//! Example, for key `k` put at r2, put at r5, deleted at r7, put at r9:
//!
//! ```text
//! k -> [r2 v1, r5 v2, r7 tombstone, r9 v1]
//! ```
//!
//! A read at r6 finds r5 (the newest at or below r6); at r8 it finds the tombstone, so no key.
//! Compacting at r8 keeps what a read at r8 or later needs: the tombstone is the newest
//! version at or below r8, so it and everything older go, leaving `[r9 v1]`.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};

use bytes::Bytes;
use parking_lot::RwLock;

use super::{Engine, EngineDump, EngineSize, Write};
use crate::error::StoreError;
use crate::types::{Change, Event, KeyRange, KeyValue, Revision};

#[derive(Clone, Debug)]
struct Version {
    revision: Revision,
    /// Position of the write within its revision, to replay a transaction's events in order.
    sub: u32,
    /// `None` is a tombstone.
    kv: Option<KeyValue>,
}

#[derive(Default)]
struct State {
    keys: BTreeMap<Bytes, Vec<Version>>,
    live_keys: u64,
    versions: u64,
    bytes: u64,
}

#[derive(Default)]
pub struct MemoryEngine {
    state: RwLock<State>,
}

impl MemoryEngine {
    pub fn new() -> MemoryEngine {
        MemoryEngine::default()
    }
}

fn bounds(range: &KeyRange) -> (Bound<&[u8]>, Bound<&[u8]>) {
    match range {
        KeyRange::Single(key) => (Bound::Included(key.as_ref()), Bound::Included(key.as_ref())),
        KeyRange::Interval { start, end } => (
            Bound::Included(start.as_ref()),
            end.as_ref()
                .map_or(Bound::Unbounded, |end| Bound::Excluded(end.as_ref())),
        ),
    }
}

/// Index of the newest version at or below `at`.
fn version_at(versions: &[Version], at: Revision) -> Option<usize> {
    versions
        .partition_point(|v| v.revision <= at)
        .checked_sub(1)
}

fn kv_bytes(kv: &Option<KeyValue>) -> u64 {
    kv.as_ref()
        .map_or(0, |kv| (kv.key.len() + kv.value.len()) as u64)
}

impl Engine for MemoryEngine {
    fn apply(&self, revision: Revision, writes: &[Write]) -> Result<(), StoreError> {
        let mut state = self.state.write();
        for (sub, write) in writes.iter().enumerate() {
            let was_live = state
                .keys
                .get(&write.key)
                .and_then(|versions| versions.last())
                .is_some_and(|v| v.kv.is_some());
            let is_live = write.kv.is_some();
            state.bytes += kv_bytes(&write.kv);
            state.versions += 1;
            match (was_live, is_live) {
                (false, true) => state.live_keys += 1,
                (true, false) => state.live_keys -= 1,
                _ => {}
            }
            let version = Version {
                revision,
                sub: u32::try_from(sub).unwrap_or(u32::MAX),
                kv: write.kv.clone(),
            };
            state
                .keys
                .entry(write.key.clone())
                .or_default()
                .push(version);
        }
        Ok(())
    }

    fn get(&self, key: &[u8], at: Revision) -> Result<Option<KeyValue>, StoreError> {
        let state = self.state.read();
        let Some(versions) = state.keys.get(key) else {
            return Ok(None);
        };
        Ok(version_at(versions, at).and_then(|index| versions[index].kv.clone()))
    }

    fn scan(
        &self,
        range: &KeyRange,
        at: Revision,
        visit: &mut dyn FnMut(&KeyValue) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        if range.is_empty() {
            return Ok(());
        }
        let state = self.state.read();
        for (_, versions) in state.keys.range::<[u8], _>(bounds(range)) {
            let Some(index) = version_at(versions, at) else {
                continue;
            };
            if let Some(kv) = &versions[index].kv
                && visit(kv).is_break()
            {
                break;
            }
        }
        Ok(())
    }

    fn events(
        &self,
        range: &KeyRange,
        after: Revision,
        upto: Revision,
    ) -> Result<Vec<Event>, StoreError> {
        let mut found: Vec<(Revision, u32, Event)> = Vec::new();
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let state = self.state.read();
        for (key, versions) in state.keys.range::<[u8], _>(bounds(range)) {
            let first = versions.partition_point(|v| v.revision <= after);
            for index in first..versions.len() {
                let version = &versions[index];
                if version.revision > upto {
                    break;
                }
                let prev = index.checked_sub(1).and_then(|i| versions[i].kv.clone());
                let change = match &version.kv {
                    Some(kv) => Change::Put(kv.clone()),
                    None => Change::Delete,
                };
                let event = Event {
                    key: key.clone(),
                    revision: version.revision,
                    change,
                    prev,
                };
                found.push((version.revision, version.sub, event));
            }
        }
        found.sort_by_key(|(revision, sub, _)| (*revision, *sub));
        Ok(found.into_iter().map(|(_, _, event)| event).collect())
    }

    fn compact(&self, at: Revision) -> Result<(), StoreError> {
        let mut state = self.state.write();
        let State {
            keys,
            versions: version_count,
            bytes,
            ..
        } = &mut *state;
        keys.retain(|_, versions| {
            let Some(index) = version_at(versions, at) else {
                return true;
            };
            // A tombstone that is the newest at `at` is needed by no read at `at` or later.
            let keep_from = if versions[index].kv.is_none() {
                index + 1
            } else {
                index
            };
            for dropped in versions.drain(..keep_from) {
                *version_count -= 1;
                *bytes -= kv_bytes(&dropped.kv);
            }
            !versions.is_empty()
        });
        Ok(())
    }

    fn dump(&self) -> Result<EngineDump, StoreError> {
        let state = self.state.read();
        let mut all: Vec<(Revision, u32, Write)> = Vec::with_capacity(state.versions as usize);
        for (key, versions) in &state.keys {
            for version in versions {
                let write = Write {
                    key: key.clone(),
                    kv: version.kv.clone(),
                };
                all.push((version.revision, version.sub, write));
            }
        }
        drop(state);
        all.sort_by_key(|(revision, sub, _)| (*revision, *sub));
        let mut revisions: EngineDump = Vec::new();
        for (revision, _, write) in all {
            match revisions.last_mut() {
                Some((last, writes)) if *last == revision => writes.push(write),
                _ => revisions.push((revision, vec![write])),
            }
        }
        Ok(revisions)
    }

    fn size(&self) -> EngineSize {
        let state = self.state.read();
        EngineSize {
            keys: state.live_keys,
            versions: state.versions,
            bytes: state.bytes,
        }
    }
}

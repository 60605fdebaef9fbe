//! Engines keep a partition's multi-version key space: every version of every key since the
//! last compaction. They know nothing of transactions, leases or journals: the partition
//! decides what a write does (see `crate::mvcc`) and hands the engine the resulting versions,
//! one revision at a time, in revision order.
//!
//! Reads report engine failures (I/O, corruption) as errors rather than as fewer results.
//! Reads name the revision they read at, so versions newer than the partition's committed
//! revision (applied but not yet durable) are invisible to them.
//!
//! Every engine passes the contract suite in `tests` (run once per engine).

pub mod memory;
#[cfg(feature = "rocksdb")]
pub mod rocks;

use std::ops::ControlFlow;

use bytes::Bytes;

use crate::error::StoreError;
use crate::types::{Event, KeyRange, KeyValue, Revision};

/// What one revision did to one key: a new live version, or a tombstone.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Write {
    pub key: Bytes,
    /// `None` deletes the key.
    pub kv: Option<KeyValue>,
}

/// Every retained version: per revision, in revision order, the writes of that revision in
/// their original order. Applying them in order to an empty engine rebuilds the engine.
pub type EngineDump = Vec<(Revision, Vec<Write>)>;

pub trait Engine: Send + Sync + 'static {
    /// Applies one revision's writes. Called in strictly increasing revision order.
    fn apply(&self, revision: Revision, writes: &[Write]) -> Result<(), StoreError>;

    /// The live version of `key` at revision `at` (the newest version at or below it).
    fn get(&self, key: &[u8], at: Revision) -> Result<Option<KeyValue>, StoreError>;

    /// Visits the live versions at `at` of the keys in `range`, in key order, until the visitor
    /// breaks.
    fn scan(
        &self,
        range: &KeyRange,
        at: Revision,
        visit: &mut dyn FnMut(&KeyValue) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;

    /// The changes to keys in `range` with revisions in `(after, upto]`, in revision order and,
    /// within a revision, in the order of the write, each with the version it replaced.
    fn events(
        &self,
        range: &KeyRange,
        after: Revision,
        upto: Revision,
    ) -> Result<Vec<Event>, StoreError>;

    /// Forgets every version that is superseded at revision `at`; reads at `at` and later are
    /// unchanged.
    fn compact(&self, at: Revision) -> Result<(), StoreError>;

    /// Every retained version, for a journal snapshot.
    fn dump(&self) -> Result<EngineDump, StoreError>;

    /// Number of live keys and bytes of keys and values retained (for status and metrics).
    fn size(&self) -> EngineSize;
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct EngineSize {
    pub keys: u64,
    pub versions: u64,
    pub bytes: u64,
}

#[cfg(test)]
pub(crate) mod tests;

//! The store: partitions chosen by key prefix, the shared lease table, and the background
//! work that belongs to neither (lease expiry). Every request is routed to exactly one
//! partition; a request whose keys fall in more than one is refused (`CrossPartition`),
//! because partitions have independent revisions.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;

use crate::engine::Engine;
use crate::engine::memory::MemoryEngine;
use crate::error::StoreError;
use crate::journal::{Durability, JournalConfig};
use crate::leases::Leases;
use crate::partition::Partition;
use crate::types::{
    KeyRange, LeaseId, Op, RangeRequest, RangeResponse, Revision, TxnRequest, TxnResponse,
    prefix_end,
};
use crate::watch::Watcher;

/// etcd's default `--max-request-bytes` (1.5 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1536 * 1024;
/// How often expired leases are looked for.
const LEASE_SWEEP: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EngineKind {
    Memory,
    RocksDb,
}

impl FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "memory" => Ok(EngineKind::Memory),
            "rocksdb" => Ok(EngineKind::RocksDb),
            other => Err(format!(
                "unknown engine {other:?} (expected memory or rocksdb)"
            )),
        }
    }
}

/// A partition: a name and the key prefixes it owns. The store always adds a partition named
/// `rest` for every key no prefix claims.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PartitionSpec {
    pub name: String,
    pub prefixes: Vec<Bytes>,
}

impl PartitionSpec {
    /// One partition per resource that floods on a large cluster, as upstream's
    /// `--etcd-servers-overrides` would split them.
    pub fn defaults() -> Vec<PartitionSpec> {
        [
            ("events", "/registry/events/"),
            ("leases", "/registry/leases/"),
            ("pods", "/registry/pods/"),
            ("nodes", "/registry/minions/"),
        ]
        .into_iter()
        .map(|(name, prefix)| PartitionSpec {
            name: name.to_owned(),
            prefixes: vec![Bytes::from_static(prefix.as_bytes())],
        })
        .collect()
    }
}

impl FromStr for PartitionSpec {
    type Err = String;
    /// `name=prefix[,prefix...]`, e.g. `events=/registry/events/`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, prefixes) = s
            .split_once('=')
            .ok_or_else(|| format!("partition {s:?} is not name=prefix[,prefix]"))?;
        let valid_name = !name.is_empty()
            && name != REST
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_name {
            return Err(format!(
                "partition name {name:?} must be [a-zA-Z0-9-]+ and not {REST:?}"
            ));
        }
        let prefixes: Vec<Bytes> = prefixes
            .split(',')
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect();
        if prefixes.iter().any(|p| p.is_empty()) {
            return Err(format!("partition {name:?} has an empty prefix"));
        }
        Ok(PartitionSpec {
            name: name.to_owned(),
            prefixes,
        })
    }
}

const REST: &str = "rest";

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub engine: EngineKind,
    pub partitions: Vec<PartitionSpec>,
    pub max_request_bytes: usize,
    /// Journal bytes after which a partition writes a snapshot (0: never).
    pub snapshot_bytes: u64,
    pub segment_bytes: u64,
}

impl StoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            durability: Durability::Fsync,
            engine: EngineKind::Memory,
            partitions: PartitionSpec::defaults(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            snapshot_bytes: 256 << 20,
            segment_bytes: 64 << 20,
        }
    }

    fn journal(&self, stream: &str) -> JournalConfig {
        JournalConfig {
            dir: self.data_dir.join("journal").join(stream),
            durability: self.durability,
            segment_bytes: self.segment_bytes,
        }
    }
}

/// Which partition owns which keys: sorted, non-overlapping prefixes, and `rest`.
struct PartitionMap {
    prefixes: BTreeMap<Bytes, usize>,
    rest: usize,
}

impl PartitionMap {
    fn new(specs: &[PartitionSpec]) -> Result<PartitionMap, StoreError> {
        let mut prefixes = BTreeMap::new();
        for (index, spec) in specs.iter().enumerate() {
            for prefix in &spec.prefixes {
                prefixes.insert(prefix.clone(), index);
            }
        }
        let sorted: Vec<&Bytes> = prefixes.keys().collect();
        for pair in sorted.windows(2) {
            if pair[1].starts_with(pair[0]) {
                return Err(StoreError::InvalidArgument(format!(
                    "partition prefixes {:?} and {:?} overlap",
                    String::from_utf8_lossy(pair[0]),
                    String::from_utf8_lossy(pair[1])
                )));
            }
        }
        Ok(PartitionMap {
            prefixes,
            rest: specs.len(),
        })
    }

    fn for_key(&self, key: &[u8]) -> usize {
        use std::ops::Bound;
        match self
            .prefixes
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
        {
            Some((prefix, index)) if key.starts_with(prefix) => *index,
            _ => self.rest,
        }
    }

    /// The one partition holding every key of `range`, or the two it straddles.
    fn for_range(&self, range: &KeyRange) -> Result<usize, (usize, usize)> {
        let (start, end) = match range {
            KeyRange::Single(key) => return Ok(self.for_key(key)),
            _ if range.is_empty() => return Ok(self.for_key(range.start())),
            KeyRange::Interval { start, end } => (start, end),
        };
        let first = self.for_key(start);
        let owner = self
            .prefixes
            .range::<[u8], _>((
                std::ops::Bound::Unbounded,
                std::ops::Bound::Included(start.as_ref()),
            ))
            .next_back();
        match owner {
            Some((prefix, _)) if start.starts_with(prefix) => {
                // Inside a prefix partition: the range must end by the prefix's end.
                let limit = prefix_end(prefix);
                let inside = match (end, &limit) {
                    (Some(end), Some(limit)) => end <= limit,
                    (_, None) => true,
                    (None, Some(_)) => false,
                };
                if inside {
                    Ok(first)
                } else {
                    Err((first, self.next_after(start).unwrap_or(self.rest)))
                }
            }
            _ => {
                // In `rest`: no prefix may begin inside the range.
                match self
                    .prefixes
                    .range::<[u8], _>((
                        std::ops::Bound::Excluded(start.as_ref()),
                        std::ops::Bound::Unbounded,
                    ))
                    .next()
                {
                    Some((prefix, index)) if end.as_ref().is_none_or(|end| prefix < end) => {
                        Err((first, *index))
                    }
                    _ => Ok(first),
                }
            }
        }
    }

    fn next_after(&self, key: &[u8]) -> Option<usize> {
        use std::ops::Bound;
        self.prefixes
            .range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .map(|(_, index)| *index)
    }
}

pub struct Store {
    partitions: Vec<Arc<Partition>>,
    map: PartitionMap,
    leases: Arc<Leases>,
    max_request_bytes: usize,
    sweeper: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

impl Store {
    /// Opens (or creates) the store in `config.data_dir`, replaying every journal, and starts
    /// lease expiry. Needs a tokio runtime.
    pub async fn open(config: StoreConfig) -> Result<Arc<Store>, StoreError> {
        let map = PartitionMap::new(&config.partitions)?;
        let leases = Arc::new(Leases::open(
            config.journal("_leases"),
            config.snapshot_bytes,
        )?);
        let mut names: Vec<String> = config.partitions.iter().map(|p| p.name.clone()).collect();
        names.push(REST.to_owned());
        let mut partitions = Vec::with_capacity(names.len());
        for name in &names {
            let engine: Arc<dyn Engine> = match config.engine {
                EngineKind::Memory => Arc::new(MemoryEngine::new()),
                EngineKind::RocksDb => open_rocksdb(&config, name)?,
            };
            let journal = config.journal(name);
            let partition = Partition::open(
                name,
                engine,
                journal,
                Arc::clone(&leases),
                config.snapshot_bytes,
            )?;
            partitions.push(partition);
        }
        let store = Arc::new(Store {
            partitions,
            map,
            leases,
            max_request_bytes: config.max_request_bytes,
            sweeper: parking_lot::Mutex::new(None),
        });
        store.reattach_leases().await?;
        let sweeper = tokio::spawn(sweep_leases(Arc::downgrade(&store)));
        *store.sweeper.lock() = Some(sweeper);
        Ok(store)
    }

    /// Rebuilds each lease's key set from the keys' own versions, and deletes keys whose lease
    /// was revoked before a crash let the deletion finish.
    async fn reattach_leases(&self) -> Result<(), StoreError> {
        for partition in &self.partitions {
            let everything = RangeRequest::new(KeyRange::Interval {
                start: Bytes::new(),
                end: None,
            });
            let mut orphans: BTreeMap<LeaseId, Vec<Bytes>> = BTreeMap::new();
            for kv in partition.range(&everything)?.kvs {
                if let Some(lease) = kv.lease {
                    if self.leases.known(lease) {
                        self.leases.reattach(&kv.key, None, Some(lease));
                    } else {
                        orphans.entry(lease).or_default().push(kv.key);
                    }
                }
            }
            for (lease, keys) in orphans {
                partition.delete_leased(&keys, lease).await?;
            }
        }
        Ok(())
    }

    pub fn partitions(&self) -> &[Arc<Partition>] {
        &self.partitions
    }

    /// The newest committed revision of any partition.
    pub fn newest_revision(&self) -> Revision {
        self.partitions
            .iter()
            .map(|p| p.revision())
            .max()
            .unwrap_or(Revision::INITIAL)
    }

    /// The committed revision of the `rest` partition, for answers that concern no partition
    /// (leases, watch cancels).
    pub fn rest_revision(&self) -> Revision {
        self.partitions[self.map.rest].revision()
    }

    pub fn partition_for_key(&self, key: &[u8]) -> &Arc<Partition> {
        &self.partitions[self.map.for_key(key)]
    }

    pub fn partition_for_range(&self, range: &KeyRange) -> Result<&Arc<Partition>, StoreError> {
        let mut chosen = None;
        self.route(self.map.for_range(range), &mut chosen)?;
        Ok(&self.partitions[chosen.unwrap_or(self.map.rest)])
    }

    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    /// A range read; also returns the partition's revision it was served at (etcd's header).
    pub fn range(&self, req: &RangeRequest) -> Result<(Revision, RangeResponse), StoreError> {
        if req.range.start().is_empty() && matches!(req.range, KeyRange::Single(_)) {
            return Err(StoreError::EmptyKey);
        }
        let partition = self.partition_for_range(&req.range)?;
        let revision = partition.revision();
        Ok((revision, partition.range(req)?))
    }

    /// A transaction on the one partition its keys belong to.
    pub async fn txn(&self, txn: &TxnRequest) -> Result<TxnResponse, StoreError> {
        let size = txn_size(txn);
        if size > self.max_request_bytes {
            return Err(StoreError::RequestTooLarge);
        }
        let partition = self.partition_for_txn(txn)?;
        partition.txn(txn).await
    }

    fn partition_for_txn(&self, txn: &TxnRequest) -> Result<&Arc<Partition>, StoreError> {
        let mut chosen = None;
        self.route_txn(txn, &mut chosen)?;
        Ok(&self.partitions[chosen.unwrap_or(self.map.rest)])
    }

    fn route_txn(&self, txn: &TxnRequest, chosen: &mut Option<usize>) -> Result<(), StoreError> {
        for compare in &txn.compare {
            self.route(self.map.for_range(&compare.range), chosen)?;
        }
        for op in txn.success.iter().chain(&txn.failure) {
            match op {
                Op::Range(req) => self.route(self.map.for_range(&req.range), chosen)?,
                Op::Delete(req) => self.route(self.map.for_range(&req.range), chosen)?,
                Op::Put(put) => self.route(Ok(self.map.for_key(&put.key)), chosen)?,
                Op::Txn(inner) => self.route_txn(inner, chosen)?,
            }
        }
        Ok(())
    }

    fn route(
        &self,
        found: Result<usize, (usize, usize)>,
        chosen: &mut Option<usize>,
    ) -> Result<(), StoreError> {
        let cross = |a: usize, b: usize| StoreError::CrossPartition {
            first: self.partitions[a].name().to_owned(),
            second: self.partitions[b].name().to_owned(),
        };
        let index = found.map_err(|(a, b)| cross(a, b))?;
        match *chosen {
            Some(first) if first != index => Err(cross(first, index)),
            _ => {
                *chosen = Some(index);
                Ok(())
            }
        }
    }

    pub fn watch(&self, range: KeyRange, start: Option<Revision>) -> Result<Watcher, StoreError> {
        self.partition_for_range(&range)?.watch(range, start)
    }

    /// etcd's Compact over every partition: each forgets its history below `revision`, or
    /// below its own current revision when that is older. Fails only when no partition has
    /// reached `revision` (future) or every one is already compacted at or past it.
    pub async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let newest = self.newest_revision();
        if revision > newest {
            return Err(StoreError::FutureRevision { current: newest });
        }
        let mut compacted_any = false;
        let mut highest_compacted = None;
        for partition in &self.partitions {
            let at = revision.min(partition.revision());
            match partition.compact(at).await {
                Ok(()) => compacted_any = true,
                Err(StoreError::Compacted { compact_revision }) => {
                    highest_compacted = highest_compacted.max(Some(compact_revision));
                }
                Err(other) => return Err(other),
            }
        }
        match (compacted_any, highest_compacted) {
            (false, Some(compact_revision)) => Err(StoreError::Compacted { compact_revision }),
            _ => Ok(()),
        }
    }

    /// Revokes a lease, deleting every key attached to it.
    pub async fn revoke_lease(&self, id: LeaseId) -> Result<(), StoreError> {
        let keys = self.leases.begin_revoke(id)?;
        let mut by_partition: BTreeMap<usize, Vec<Bytes>> = BTreeMap::new();
        for key in keys {
            by_partition
                .entry(self.map.for_key(&key))
                .or_default()
                .push(key);
        }
        for (index, keys) in by_partition {
            if let Err(error) = self.partitions[index].delete_leased(&keys, id).await {
                self.leases.abort_revoke(id);
                return Err(error);
            }
        }
        self.leases.finish_revoke(id).await
    }

    /// Flushes every journal and stops background work.
    pub async fn close(&self) -> Result<(), StoreError> {
        if let Some(sweeper) = self.sweeper.lock().take() {
            sweeper.abort();
        }
        for partition in &self.partitions {
            partition.close().await?;
        }
        self.leases.close().await
    }
}

async fn sweep_leases(store: std::sync::Weak<Store>) {
    let mut tick = tokio::time::interval(LEASE_SWEEP);
    loop {
        tick.tick().await;
        let Some(store) = store.upgrade() else { return };
        for id in store.leases.expired(tokio::time::Instant::now()) {
            match store.revoke_lease(id).await {
                Ok(()) | Err(StoreError::LeaseNotFound) => {}
                Err(error) => {
                    tracing::warn!(lease = id.get(), %error, "revoking expired lease failed")
                }
            }
        }
    }
}

fn txn_size(txn: &TxnRequest) -> usize {
    let ops = txn.success.iter().chain(&txn.failure).map(|op| match op {
        Op::Put(put) => put.key.len() + put.value.len(),
        Op::Range(req) => req.range.start().len(),
        Op::Delete(req) => req.range.start().len(),
        Op::Txn(inner) => txn_size(inner),
    });
    let compares = txn.compare.iter().map(|c| {
        c.range.start().len()
            + match &c.target {
                crate::types::CompareTarget::Value(value) => value.len(),
                _ => 8,
            }
    });
    ops.chain(compares).sum()
}

#[cfg(feature = "rocksdb")]
fn open_rocksdb(config: &StoreConfig, name: &str) -> Result<Arc<dyn Engine>, StoreError> {
    let dir = config.data_dir.join("rocksdb").join(name);
    Ok(Arc::new(crate::engine::rocks::RocksEngine::open(&dir)?))
}

#[cfg(not(feature = "rocksdb"))]
fn open_rocksdb(_config: &StoreConfig, _name: &str) -> Result<Arc<dyn Engine>, StoreError> {
    Err(StoreError::NotSupported(
        "the rocksdb engine (this binary was built without the `rocksdb` feature)",
    ))
}

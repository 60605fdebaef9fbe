//! The lease table, shared by every partition: each lease's granted TTL, expiry time and the
//! keys attached to it. Grants and revocations go to the lease journal; attachments are not
//! journaled because they are part of the keys' own versions and are rebuilt from the
//! partitions after a restart. Expiry times are not journaled either: as etcd does when a new
//! leader takes over, every lease gets its full TTL again after a restart.
//!
//! Revoking a lease (or its expiry) deletes its keys. The store does that in two steps (see
//! `Store::revoke`): `begin_revoke` hides the lease from new puts and hands out its keys, each
//! partition deletes those still attached, then `finish_revoke` journals the revocation.
//!
//! Lock order: a partition's sequencer, then this table. This table never calls a partition.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::codec::{self, LeaseRecord};
use crate::error::StoreError;
use crate::journal::{Journal, JournalConfig};
use crate::mvcc::LeaseCheck;
use crate::types::LeaseId;

/// etcd's `MaxLeaseTTL`.
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;
/// etcd's minimum TTL with its default election timeout (1 s): shorter grants are raised to it.
pub const MIN_LEASE_TTL: i64 = 2;

struct Lease {
    ttl: i64,
    expiry: Instant,
    keys: HashSet<Bytes>,
    revoking: bool,
}

struct Table {
    leases: HashMap<LeaseId, Lease>,
    next_seq: u64,
    next_id: i64,
}

pub struct Leases {
    table: Mutex<Table>,
    journal: Journal,
    snapshot_bytes: u64,
}

/// What `time_to_live` reports.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LeaseStatus {
    pub granted_ttl: i64,
    /// Whole seconds left, rounded up.
    pub remaining_ttl: i64,
    pub keys: Vec<Bytes>,
}

impl Leases {
    pub(crate) fn open(config: JournalConfig, snapshot_bytes: u64) -> Result<Leases, StoreError> {
        let unavailable = |source| StoreError::Unavailable {
            partition: "leases".to_owned(),
            source,
        };
        let (journal, replay) = Journal::open(config, Box::new(|_| {})).map_err(unavailable)?;
        let corrupt = |e: codec::DecodeError| StoreError::Engine(format!("lease journal: {e}"));
        let mut granted: HashMap<LeaseId, i64> = HashMap::new();
        let mut next_seq = 1;
        if let Some((index, data)) = replay.snapshot {
            granted.extend(codec::decode_lease_snapshot(data).map_err(corrupt)?);
            next_seq = index + 1;
        }
        for (index, data) in replay.entries {
            match codec::decode_lease_record(data).map_err(corrupt)? {
                LeaseRecord::Grant { id, ttl } => granted.insert(id, ttl),
                LeaseRecord::Revoke { id } => granted.remove(&id),
            };
            next_seq = index + 1;
        }
        let now = Instant::now();
        let leases = granted
            .into_iter()
            .map(|(id, ttl)| {
                let lease = Lease {
                    ttl,
                    expiry: now + secs(ttl),
                    keys: HashSet::new(),
                    revoking: false,
                };
                (id, lease)
            })
            .collect();
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as i64);
        Ok(Leases {
            table: Mutex::new(Table {
                leases,
                next_seq,
                next_id: seed.max(1),
            }),
            journal,
            snapshot_bytes,
        })
    }

    /// Grants a lease of `ttl` seconds, with the given id or a new one.
    pub async fn grant(&self, id: Option<LeaseId>, ttl: i64) -> Result<(LeaseId, i64), StoreError> {
        if ttl > MAX_LEASE_TTL {
            return Err(StoreError::LeaseTtlTooLarge);
        }
        let ttl = ttl.max(MIN_LEASE_TTL);
        let (id, seq) = {
            let mut table = self.table.lock();
            let id = match id {
                Some(id) if table.leases.contains_key(&id) => return Err(StoreError::LeaseExists),
                Some(id) => id,
                None => loop {
                    let candidate = table.next_id;
                    table.next_id = table.next_id.checked_add(1).unwrap_or(1);
                    if let Some(id) = LeaseId::new(candidate)
                        && !table.leases.contains_key(&id)
                    {
                        break id;
                    }
                },
            };
            let seq = self.append(&mut table, &LeaseRecord::Grant { id, ttl })?;
            let lease = Lease {
                ttl,
                expiry: Instant::now() + secs(ttl),
                keys: HashSet::new(),
                revoking: false,
            };
            table.leases.insert(id, lease);
            (id, seq)
        };
        self.wait(seq).await?;
        Ok((id, ttl))
    }

    fn append(&self, table: &mut Table, record: &LeaseRecord) -> Result<u64, StoreError> {
        let seq = table.next_seq;
        self.journal
            .append(seq, codec::encode_lease_record(record))
            .map_err(|source| StoreError::Unavailable {
                partition: "leases".to_owned(),
                source,
            })?;
        table.next_seq += 1;
        Ok(seq)
    }

    async fn wait(&self, seq: u64) -> Result<(), StoreError> {
        self.journal
            .wait_durable(seq)
            .await
            .map_err(|source| StoreError::Unavailable {
                partition: "leases".to_owned(),
                source,
            })?;
        self.maybe_snapshot();
        Ok(())
    }

    fn maybe_snapshot(&self) {
        if self.snapshot_bytes == 0 || self.journal.bytes_since_snapshot() < self.snapshot_bytes {
            return;
        }
        let (seq, data) = {
            let table = self.table.lock();
            let leases: Vec<(LeaseId, i64)> = table
                .leases
                .iter()
                .map(|(id, lease)| (*id, lease.ttl))
                .collect();
            (table.next_seq - 1, codec::encode_lease_snapshot(&leases))
        };
        if let Err(error) = self.journal.write_snapshot(seq, &data) {
            tracing::error!(%error, "lease snapshot failed");
        }
    }

    /// Renews a lease to its full TTL; returns the TTL.
    pub fn keep_alive(&self, id: LeaseId) -> Result<i64, StoreError> {
        let mut table = self.table.lock();
        match table.leases.get_mut(&id) {
            Some(lease) if !lease.revoking => {
                lease.expiry = Instant::now() + secs(lease.ttl);
                Ok(lease.ttl)
            }
            _ => Err(StoreError::LeaseNotFound),
        }
    }

    /// A lease's TTLs and (if asked) keys; `None` if there is no such lease.
    pub fn time_to_live(&self, id: LeaseId, with_keys: bool) -> Option<LeaseStatus> {
        let table = self.table.lock();
        let lease = table.leases.get(&id).filter(|lease| !lease.revoking)?;
        let left = lease.expiry.saturating_duration_since(Instant::now());
        let remaining_ttl = left.as_millis().div_ceil(1000) as i64;
        let mut keys: Vec<Bytes> = if with_keys {
            lease.keys.iter().cloned().collect()
        } else {
            Vec::new()
        };
        keys.sort();
        Some(LeaseStatus {
            granted_ttl: lease.ttl,
            remaining_ttl,
            keys,
        })
    }

    pub fn list(&self) -> Vec<LeaseId> {
        let table = self.table.lock();
        let mut ids: Vec<LeaseId> = table
            .leases
            .iter()
            .filter(|(_, l)| !l.revoking)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }

    /// Leases whose expiry has passed at `now` and that nobody is revoking yet.
    pub(crate) fn expired(&self, now: Instant) -> Vec<LeaseId> {
        let table = self.table.lock();
        table
            .leases
            .iter()
            .filter(|(_, lease)| !lease.revoking && lease.expiry <= now)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Hides the lease from new puts and returns the keys attached to it.
    pub(crate) fn begin_revoke(&self, id: LeaseId) -> Result<Vec<Bytes>, StoreError> {
        let mut table = self.table.lock();
        match table.leases.get_mut(&id) {
            Some(lease) if !lease.revoking => {
                lease.revoking = true;
                Ok(lease.keys.iter().cloned().collect())
            }
            _ => Err(StoreError::LeaseNotFound),
        }
    }

    /// Journals the revocation once the lease's keys are deleted.
    pub(crate) async fn finish_revoke(&self, id: LeaseId) -> Result<(), StoreError> {
        let seq = {
            let mut table = self.table.lock();
            let seq = self.append(&mut table, &LeaseRecord::Revoke { id })?;
            table.leases.remove(&id);
            seq
        };
        self.wait(seq).await
    }

    /// Undoes `begin_revoke` when deleting the keys failed, so a later attempt can retry.
    pub(crate) fn abort_revoke(&self, id: LeaseId) {
        if let Some(lease) = self.table.lock().leases.get_mut(&id) {
            lease.revoking = false;
        }
    }

    /// Moves `key` from one lease's key set to another's (either may be none).
    pub(crate) fn reattach(&self, key: &Bytes, from: Option<LeaseId>, to: Option<LeaseId>) {
        let mut table = self.table.lock();
        if let Some(lease) = from.and_then(|id| table.leases.get_mut(&id)) {
            lease.keys.remove(key);
        }
        if let Some(lease) = to.and_then(|id| table.leases.get_mut(&id)) {
            lease.keys.insert(key.clone());
        }
    }

    /// Whether a lease exists, revoking or not (for the restart scan of orphaned keys).
    pub(crate) fn known(&self, id: LeaseId) -> bool {
        self.table.lock().leases.contains_key(&id)
    }

    pub(crate) async fn close(&self) -> Result<(), StoreError> {
        self.journal
            .close()
            .await
            .map_err(|source| StoreError::Unavailable {
                partition: "leases".to_owned(),
                source,
            })
    }
}

impl LeaseCheck for Leases {
    fn exists(&self, id: LeaseId) -> bool {
        self.table
            .lock()
            .leases
            .get(&id)
            .is_some_and(|lease| !lease.revoking)
    }
}

fn secs(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}

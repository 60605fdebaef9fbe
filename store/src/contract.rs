//! The narrow contract the API server needs from a store, as upstream's
//! `etcd3/kubernetes.Interface`: get, paginated list at a revision, count, put-if, delete-if,
//! watch, compact. Optimistic-concurrency conflicts are outcomes, not errors.

use std::future::Future;
use std::num::NonZeroU64;

use bytes::Bytes;

use crate::error::StoreError;
use crate::store::Store;
use crate::types::{
    Compare, CompareResult, CompareTarget, DeleteRequest, KeyRange, KeyValue, LeaseId, Op,
    OpResponse, PutRequest, RangeRequest, Revision, TxnRequest, prefix_end,
};
use crate::watch::Watcher;

/// One page of a list.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ListPage {
    pub kvs: Vec<KeyValue>,
    /// The revision the page was read at; later pages must be read at the same one.
    pub revision: Revision,
    /// The key to continue from (exclusive of everything before it), if more keys remain.
    pub continue_from: Option<Bytes>,
    /// How many keys remain after this page.
    pub remaining: u64,
}

/// The condition of a conditional write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Precondition {
    /// The key must not exist (create).
    Absent,
    /// The key must exist at exactly this modification revision (update, delete).
    ModRevision(Revision),
    /// No condition.
    None,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum WriteOutcome {
    /// The write happened: the new version (for a delete: the deleted one, `None` when there
    /// was nothing to delete) and the revision it was written at.
    Written {
        revision: Revision,
        kv: Option<KeyValue>,
    },
    /// The precondition did not hold; `current` is the key's current version, if any.
    Conflict { current: Option<KeyValue> },
}

pub trait KubeStore: Send + Sync {
    /// The current version of `key`, and the revision it was read at.
    fn get(&self, key: &[u8]) -> Result<(Revision, Option<KeyValue>), StoreError>;

    /// Up to `limit` keys under `prefix` from `continue_from` on, at `revision` (`None`: now).
    fn list(
        &self,
        prefix: &[u8],
        continue_from: Option<&[u8]>,
        revision: Option<Revision>,
        limit: Option<NonZeroU64>,
    ) -> Result<ListPage, StoreError>;

    fn count(&self, prefix: &[u8]) -> Result<u64, StoreError>;

    fn put_if(
        &self,
        key: Bytes,
        value: Bytes,
        precondition: Precondition,
        lease: Option<LeaseId>,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// `put_if` whose value is made from the revision it will be written at (so a stored
    /// object can carry its own resourceVersion). `value` runs under the partition's write
    /// lock: it must be quick and must not block.
    fn put_if_with<F>(
        &self,
        key: Bytes,
        value: F,
        precondition: Precondition,
        lease: Option<LeaseId>,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send
    where
        F: FnOnce(Revision) -> Bytes + Send;

    fn delete_if(
        &self,
        key: Bytes,
        precondition: Precondition,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// Changes under `prefix` after `after` (`None`: from now on).
    fn watch(&self, prefix: &[u8], after: Option<Revision>) -> Result<Watcher, StoreError>;

    fn compact(&self, revision: Revision) -> impl Future<Output = Result<(), StoreError>> + Send;
}

fn conditions(key: &Bytes, precondition: Precondition) -> Vec<Compare> {
    let target = match precondition {
        Precondition::None => return Vec::new(),
        Precondition::Absent => CompareTarget::ModRevision(0),
        Precondition::ModRevision(revision) => CompareTarget::ModRevision(revision.get()),
    };
    vec![Compare {
        range: KeyRange::Single(key.clone()),
        result: CompareResult::Equal,
        target,
    }]
}

fn read_back(key: &Bytes) -> Op {
    Op::Range(RangeRequest::new(KeyRange::Single(key.clone())))
}

fn conflict(mut responses: Vec<OpResponse>) -> WriteOutcome {
    let current = match responses.pop() {
        Some(OpResponse::Range(mut range)) => range.kvs.pop(),
        _ => None,
    };
    WriteOutcome::Conflict { current }
}

impl KubeStore for Store {
    fn get(&self, key: &[u8]) -> Result<(Revision, Option<KeyValue>), StoreError> {
        let req = RangeRequest::new(KeyRange::Single(Bytes::copy_from_slice(key)));
        let (revision, mut response) = self.range(&req)?;
        Ok((revision, response.kvs.pop()))
    }

    fn list(
        &self,
        prefix: &[u8],
        continue_from: Option<&[u8]>,
        revision: Option<Revision>,
        limit: Option<NonZeroU64>,
    ) -> Result<ListPage, StoreError> {
        let start = Bytes::copy_from_slice(continue_from.unwrap_or(prefix));
        if !start.starts_with(prefix) {
            return Err(StoreError::InvalidArgument(
                "continue key is outside the prefix".into(),
            ));
        }
        let range = KeyRange::Interval {
            start,
            end: prefix_end(prefix),
        };
        let partition = self.partition_for_range(&range)?;
        let mut req = RangeRequest::new(range);
        // Pin the revision so every page of a list reads the same snapshot.
        let revision = revision.unwrap_or_else(|| partition.revision());
        req.revision = Some(revision);
        req.limit = limit;
        let response = partition.range(&req)?;
        let returned = response.kvs.len() as u64;
        let continue_from = match (response.more, response.kvs.last()) {
            (true, Some(last)) => {
                let mut next = last.key.to_vec();
                next.push(0);
                Some(Bytes::from(next))
            }
            _ => None,
        };
        Ok(ListPage {
            kvs: response.kvs,
            revision,
            continue_from,
            remaining: response.count.saturating_sub(returned),
        })
    }

    fn count(&self, prefix: &[u8]) -> Result<u64, StoreError> {
        let mut req = RangeRequest::new(KeyRange::prefix(Bytes::copy_from_slice(prefix)));
        req.count_only = true;
        Ok(self.range(&req)?.1.count)
    }

    async fn put_if(
        &self,
        key: Bytes,
        value: Bytes,
        precondition: Precondition,
        lease: Option<LeaseId>,
    ) -> Result<WriteOutcome, StoreError> {
        self.put_if_with(key, |_| value, precondition, lease).await
    }

    async fn put_if_with<F>(
        &self,
        key: Bytes,
        value: F,
        precondition: Precondition,
        lease: Option<LeaseId>,
    ) -> Result<WriteOutcome, StoreError>
    where
        F: FnOnce(Revision) -> Bytes + Send,
    {
        let max = self.max_request_bytes();
        let partition = self.partition_for_key(&key);
        let build = |revision| {
            let value = value(revision);
            if key.len() + value.len() > max {
                return Err(StoreError::RequestTooLarge);
            }
            let mut put = PutRequest::new(key.clone(), value);
            put.lease = lease;
            Ok(TxnRequest {
                compare: conditions(&key, precondition),
                success: vec![Op::Put(put), read_back(&key)],
                failure: vec![read_back(&key)],
            })
        };
        let mut response = partition.txn_at(build).await?;
        if !response.succeeded {
            return Ok(conflict(response.responses));
        }
        let kv = match response.responses.pop() {
            Some(OpResponse::Range(mut range)) => range.kvs.pop(),
            _ => None,
        };
        Ok(WriteOutcome::Written {
            revision: response.revision,
            kv,
        })
    }

    async fn delete_if(
        &self,
        key: Bytes,
        precondition: Precondition,
    ) -> Result<WriteOutcome, StoreError> {
        let delete = DeleteRequest {
            range: KeyRange::Single(key.clone()),
            prev_kv: true,
        };
        let txn = TxnRequest {
            compare: conditions(&key, precondition),
            success: vec![Op::Delete(delete)],
            failure: vec![read_back(&key)],
        };
        let mut response = self.txn(&txn).await?;
        if !response.succeeded {
            return Ok(conflict(response.responses));
        }
        let kv = match response.responses.pop() {
            Some(OpResponse::Delete { mut prev_kvs, .. }) => prev_kvs.pop(),
            _ => None,
        };
        Ok(WriteOutcome::Written {
            revision: response.revision,
            kv,
        })
    }

    fn watch(&self, prefix: &[u8], after: Option<Revision>) -> Result<Watcher, StoreError> {
        let range = KeyRange::prefix(Bytes::copy_from_slice(prefix));
        Store::watch(self, range, after.map(Revision::next))
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        Store::compact(self, revision).await
    }
}

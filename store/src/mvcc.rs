//! etcd's KV semantics over an engine, with no I/O and no locking: ranges with limits,
//! filters and sorting; puts, deletes and transactions evaluated into the writes and events of
//! one new revision. The partition calls these under its write lock and then makes the result
//! durable; nothing here is visible to readers until the partition says so.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::ops::ControlFlow;

use bytes::Bytes;

use crate::engine::{Engine, Write};
use crate::error::StoreError;
use crate::types::{
    Change, Compare, CompareResult, CompareTarget, DeleteRequest, Event, KeyRange, KeyValue,
    LeaseId, Op, OpResponse, PutRequest, RangeRequest, RangeResponse, Revision, SortOrder,
    SortTarget, TxnRequest, TxnResponse,
};

/// etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

/// What the transaction evaluator needs to know about leases.
pub trait LeaseCheck {
    fn exists(&self, id: LeaseId) -> bool;
}

/// The revisions a read may name: from the compaction point up to the committed revision.
#[derive(Clone, Copy, Debug)]
pub struct ReadWindow {
    pub compacted: Option<Revision>,
    pub current: Revision,
}

impl ReadWindow {
    /// The revision a read at `requested` (`None` = current) reads at.
    pub fn resolve(&self, requested: Option<Revision>) -> Result<Revision, StoreError> {
        let at = requested.unwrap_or(self.current);
        if at > self.current {
            return Err(StoreError::FutureRevision {
                current: self.current,
            });
        }
        if let Some(compacted) = self.compacted
            && at < compacted
        {
            return Err(StoreError::Compacted {
                compact_revision: compacted,
            });
        }
        Ok(at)
    }
}

/// Serves a range read at a committed revision.
pub fn range(
    engine: &dyn Engine,
    window: ReadWindow,
    req: &RangeRequest,
) -> Result<RangeResponse, StoreError> {
    let at = window.resolve(req.revision)?;
    range_at(engine, at, &BTreeMap::new(), req)
}

/// `overlay` holds the uncommitted writes of the enclosing transaction, which its later reads
/// must see (as etcd's write transactions do).
fn range_at(
    engine: &dyn Engine,
    at: Revision,
    overlay: &BTreeMap<Bytes, Option<KeyValue>>,
    req: &RangeRequest,
) -> Result<RangeResponse, StoreError> {
    let natural_order = matches!(
        (&req.sort_order, req.sort_target),
        (SortOrder::None, _) | (SortOrder::Ascend, SortTarget::Key)
    );
    let touched = overlay.keys().any(|key| req.range.contains(key));
    // Fast path: stream in key order and stop at the limit, still counting the rest.
    let stop_at = match (
        natural_order,
        req.has_revision_filters(),
        touched,
        req.count_only,
    ) {
        (true, false, false, false) => req.limit.map(NonZeroU64::get),
        _ => None,
    };
    let mut kvs: Vec<KeyValue> = Vec::new();
    let mut count = 0u64;
    let collect = !req.count_only || touched;
    engine.scan(&req.range, at, &mut |kv| {
        count += 1;
        let wanted = stop_at.is_none_or(|limit| (kvs.len() as u64) < limit);
        if wanted && collect {
            kvs.push(kv.clone());
        }
        ControlFlow::Continue(())
    })?;
    if touched {
        let mut merged: BTreeMap<Bytes, KeyValue> =
            kvs.into_iter().map(|kv| (kv.key.clone(), kv)).collect();
        for (key, write) in overlay.range(Bytes::copy_from_slice(req.range.start())..) {
            if !req.range.contains(key) {
                continue;
            }
            match write {
                Some(kv) => merged.insert(key.clone(), kv.clone()),
                None => merged.remove(key),
            };
        }
        count = merged.len() as u64;
        kvs = merged.into_values().collect();
    }
    kvs.retain(|kv| passes_filters(req, kv));
    sort(&mut kvs, &req.sort_order, req.sort_target);
    let mut more = false;
    if let Some(limit) = req.limit {
        let limit = usize::try_from(limit.get()).unwrap_or(usize::MAX);
        if kvs.len() > limit {
            kvs.truncate(limit);
            more = true;
        }
    }
    if stop_at.is_some() {
        more = (kvs.len() as u64) < count;
    }
    if req.count_only {
        kvs.clear();
    } else if req.keys_only {
        for kv in &mut kvs {
            kv.value = Bytes::new();
        }
    }
    Ok(RangeResponse { kvs, more, count })
}

fn passes_filters(req: &RangeRequest, kv: &KeyValue) -> bool {
    req.min_mod_revision
        .is_none_or(|min| kv.mod_revision >= min)
        && req
            .max_mod_revision
            .is_none_or(|max| kv.mod_revision <= max)
        && req
            .min_create_revision
            .is_none_or(|min| kv.create_revision >= min)
        && req
            .max_create_revision
            .is_none_or(|max| kv.create_revision <= max)
}

fn sort(kvs: &mut [KeyValue], order: &SortOrder, target: SortTarget) {
    let descend = match order {
        SortOrder::None => return,
        SortOrder::Ascend => false,
        SortOrder::Descend => true,
    };
    match target {
        SortTarget::Key => {}
        SortTarget::Version => kvs.sort_by_key(|kv| kv.version),
        SortTarget::Create => kvs.sort_by_key(|kv| kv.create_revision),
        SortTarget::Mod => kvs.sort_by_key(|kv| kv.mod_revision),
        SortTarget::Value => kvs.sort_by(|a, b| a.value.cmp(&b.value)),
    }
    if descend {
        kvs.reverse();
    }
}

/// The outcome of evaluating a transaction: its response and, if it changed anything, the
/// writes and events of the new revision.
pub struct Evaluated {
    pub response: TxnResponse,
    pub writes: Vec<Write>,
    pub events: Vec<Event>,
}

/// Evaluates `txn` against the partition's newest state at `base` (which may include writes
/// that are not yet durable: they precede this one in the journal). Nothing is applied.
pub fn evaluate(
    engine: &dyn Engine,
    base: Revision,
    window: ReadWindow,
    leases: &dyn LeaseCheck,
    txn: &TxnRequest,
) -> Result<Evaluated, StoreError> {
    check_shape(txn)?;
    evaluate_unbounded(engine, base, window, leases, txn)
}

/// `evaluate` without the client-facing limit on the number of ops (for the store's own
/// transactions, such as deleting every key of an expired lease).
pub(crate) fn evaluate_unbounded(
    engine: &dyn Engine,
    base: Revision,
    window: ReadWindow,
    leases: &dyn LeaseCheck,
    txn: &TxnRequest,
) -> Result<Evaluated, StoreError> {
    let mut eval = Eval {
        engine,
        base,
        revision: base.next(),
        window,
        leases,
        overlay: BTreeMap::new(),
        order: HashMap::new(),
        writes: Vec::new(),
        events: Vec::new(),
    };
    let mut response = eval.txn(txn)?;
    let wrote = !eval.writes.is_empty();
    let revision = if wrote { eval.revision } else { base };
    set_revision(&mut response, revision);
    Ok(Evaluated {
        response,
        writes: eval.writes,
        events: eval.events,
    })
}

fn set_revision(response: &mut TxnResponse, revision: Revision) {
    response.revision = revision;
    for op in &mut response.responses {
        if let OpResponse::Txn(inner) = op {
            set_revision(inner, revision);
        }
    }
}

/// Rejects, before anything is evaluated, what etcd rejects in `checkTxnRequest`.
fn check_shape(txn: &TxnRequest) -> Result<(), StoreError> {
    if txn.compare.len() > MAX_TXN_OPS
        || txn.success.len() > MAX_TXN_OPS
        || txn.failure.len() > MAX_TXN_OPS
    {
        return Err(StoreError::TooManyOps);
    }
    for op in txn.success.iter().chain(&txn.failure) {
        match op {
            Op::Put(put) if put.key.is_empty() => return Err(StoreError::EmptyKey),
            Op::Range(req) if req.range.start().is_empty() && is_single(&req.range) => {
                return Err(StoreError::EmptyKey);
            }
            Op::Delete(req) if req.range.start().is_empty() && is_single(&req.range) => {
                return Err(StoreError::EmptyKey);
            }
            Op::Txn(inner) => check_shape(inner)?,
            _ => {}
        }
    }
    Ok(())
}

fn is_single(range: &KeyRange) -> bool {
    matches!(range, KeyRange::Single(_))
}

struct Eval<'a> {
    engine: &'a dyn Engine,
    base: Revision,
    revision: Revision,
    window: ReadWindow,
    leases: &'a dyn LeaseCheck,
    /// The newest state of every key this transaction wrote (`None` = deleted).
    overlay: BTreeMap<Bytes, Option<KeyValue>>,
    /// Index into `writes` of each written key.
    order: HashMap<Bytes, usize>,
    writes: Vec<Write>,
    events: Vec<Event>,
}

impl Eval<'_> {
    fn txn(&mut self, txn: &TxnRequest) -> Result<TxnResponse, StoreError> {
        let mut succeeded = true;
        for compare in &txn.compare {
            succeeded &= self.compare(compare)?;
        }
        let ops = if succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            responses.push(match op {
                Op::Range(req) => OpResponse::Range(self.range(req)?),
                Op::Put(req) => self.put(req)?,
                Op::Delete(req) => self.delete(req)?,
                Op::Txn(inner) => OpResponse::Txn(self.txn(inner)?),
            });
        }
        Ok(TxnResponse {
            succeeded,
            responses,
            revision: self.base,
        })
    }

    /// The newest state of `key`, including this transaction's own writes.
    fn current(&self, key: &[u8]) -> Result<Option<KeyValue>, StoreError> {
        match self.overlay.get(key) {
            Some(write) => Ok(write.clone()),
            None => self.engine.get(key, self.base),
        }
    }

    fn live_in(&self, range: &KeyRange) -> Result<Vec<KeyValue>, StoreError> {
        let req = RangeRequest::new(range.clone());
        Ok(range_at(self.engine, self.base, &self.overlay, &req)?.kvs)
    }

    fn compare(&self, compare: &Compare) -> Result<bool, StoreError> {
        let kvs = match &compare.range {
            KeyRange::Single(key) => self.current(key)?.into_iter().collect(),
            range => self.live_in(range)?,
        };
        if kvs.is_empty() {
            // etcd: a value compare on missing keys always fails; every other target compares
            // against the zero KeyValue.
            return Ok(match &compare.target {
                CompareTarget::Value(_) => false,
                target => compare_kv(compare.result, target, None),
            });
        }
        Ok(kvs
            .iter()
            .all(|kv| compare_kv(compare.result, &compare.target, Some(kv))))
    }

    fn range(&mut self, req: &RangeRequest) -> Result<RangeResponse, StoreError> {
        match req.revision {
            // A past revision never includes this transaction's writes.
            Some(_) => range(self.engine, self.window, req),
            None => range_at(self.engine, self.base, &self.overlay, req),
        }
    }

    fn record(&mut self, key: Bytes, kv: Option<KeyValue>, prev: Option<KeyValue>) {
        let change = match &kv {
            Some(kv) => Change::Put(kv.clone()),
            None => Change::Delete,
        };
        self.events.push(Event {
            key: key.clone(),
            revision: self.revision,
            change,
            prev,
        });
        self.order.insert(key.clone(), self.writes.len());
        self.writes.push(Write {
            key: key.clone(),
            kv: kv.clone(),
        });
        self.overlay.insert(key, kv);
    }

    fn put(&mut self, req: &PutRequest) -> Result<OpResponse, StoreError> {
        if self.order.contains_key(&req.key) {
            return Err(StoreError::DuplicateKey);
        }
        let prev = self.current(&req.key)?;
        if (req.ignore_value || req.ignore_lease) && prev.is_none() {
            return Err(StoreError::KeyNotFound);
        }
        if req.ignore_value && !req.value.is_empty() {
            return Err(StoreError::ValueProvided);
        }
        if req.ignore_lease && req.lease.is_some() {
            return Err(StoreError::LeaseProvided);
        }
        let lease = match (&prev, req.ignore_lease) {
            (Some(prev), true) => prev.lease,
            _ => req.lease,
        };
        if let Some(id) = lease
            && !req.ignore_lease
            && !self.leases.exists(id)
        {
            return Err(StoreError::LeaseNotFound);
        }
        let value = match (&prev, req.ignore_value) {
            (Some(prev), true) => prev.value.clone(),
            _ => req.value.clone(),
        };
        let kv = KeyValue {
            key: req.key.clone(),
            value,
            create_revision: prev.as_ref().map_or(self.revision, |p| p.create_revision),
            mod_revision: self.revision,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            lease,
        };
        self.record(req.key.clone(), Some(kv), prev.clone());
        Ok(OpResponse::Put {
            prev_kv: if req.prev_kv { prev } else { None },
        })
    }

    fn delete(&mut self, req: &DeleteRequest) -> Result<OpResponse, StoreError> {
        let victims = self.live_in(&req.range)?;
        if victims.iter().any(|kv| self.order.contains_key(&kv.key)) {
            return Err(StoreError::DuplicateKey);
        }
        let deleted = victims.len() as u64;
        let mut prev_kvs = Vec::new();
        for kv in victims {
            self.record(kv.key.clone(), None, Some(kv.clone()));
            if req.prev_kv {
                prev_kvs.push(kv);
            }
        }
        Ok(OpResponse::Delete { deleted, prev_kvs })
    }
}

fn compare_kv(result: CompareResult, target: &CompareTarget, kv: Option<&KeyValue>) -> bool {
    use std::cmp::Ordering;
    let ordering: Ordering = match target {
        CompareTarget::Version(want) => kv.map_or(0, |kv| kv.version).cmp(want),
        CompareTarget::CreateRevision(want) => {
            kv.map_or(0, |kv| kv.create_revision.get()).cmp(want)
        }
        CompareTarget::ModRevision(want) => kv.map_or(0, |kv| kv.mod_revision.get()).cmp(want),
        CompareTarget::Value(want) => kv
            .map_or(&[][..], |kv| kv.value.as_ref())
            .cmp(want.as_ref()),
        CompareTarget::Lease(want) => kv.and_then(|kv| kv.lease).map_or(0, |l| l.get()).cmp(want),
    };
    match result {
        CompareResult::Equal => ordering == Ordering::Equal,
        CompareResult::NotEqual => ordering != Ordering::Equal,
        CompareResult::Greater => ordering == Ordering::Greater,
        CompareResult::Less => ordering == Ordering::Less,
    }
}

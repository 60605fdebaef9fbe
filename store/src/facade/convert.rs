//! Translation between etcd's wire messages and the store's types, and the one place where
//! store errors become gRPC statuses (with etcd's codes and messages, which clients match on).

use std::num::NonZeroU64;

use bytes::Bytes;
use tonic::{Code, Status};

use super::pb;
use crate::error::StoreError;
use crate::types::{
    Compare, CompareResult, CompareTarget, DeleteRequest, KeyRange, KeyValue, LeaseId, Op,
    OpResponse, PutRequest, RangeRequest, RangeResponse, Revision, SortOrder, SortTarget,
    TxnRequest, TxnResponse,
};

/// etcd's codes for its errors (`api/v3rpc/rpctypes/error.go`).
pub fn status(error: StoreError) -> Status {
    let code = match &error {
        StoreError::Compacted { .. } | StoreError::FutureRevision { .. } => Code::OutOfRange,
        StoreError::LeaseNotFound => Code::NotFound,
        StoreError::LeaseExists => Code::FailedPrecondition,
        StoreError::NotSupported(_) => Code::Unimplemented,
        StoreError::Unavailable { .. } | StoreError::ShuttingDown => Code::Unavailable,
        StoreError::Engine(_) => Code::Internal,
        StoreError::EmptyKey
        | StoreError::KeyNotFound
        | StoreError::ValueProvided
        | StoreError::LeaseProvided
        | StoreError::DuplicateKey
        | StoreError::TooManyOps
        | StoreError::RequestTooLarge
        | StoreError::LeaseTtlTooLarge
        | StoreError::CrossPartition { .. }
        | StoreError::InvalidArgument(_) => Code::InvalidArgument,
    };
    Status::new(code, error.to_string())
}

pub fn kv(kv: KeyValue) -> pb::KeyValue {
    pb::KeyValue {
        key: kv.key,
        create_revision: kv.create_revision.wire(),
        mod_revision: kv.mod_revision.wire(),
        version: i64::try_from(kv.version).unwrap_or(i64::MAX),
        value: kv.value,
        lease: kv.lease.map_or(0, LeaseId::get),
    }
}

fn revision(value: i64) -> Option<Revision> {
    Revision::from_wire(value)
}

pub fn range_request(req: pb::RangeRequest) -> Result<RangeRequest, StoreError> {
    if req.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    let sort_order = match pb::range_request::SortOrder::try_from(req.sort_order) {
        Ok(pb::range_request::SortOrder::None) => SortOrder::None,
        Ok(pb::range_request::SortOrder::Ascend) => SortOrder::Ascend,
        Ok(pb::range_request::SortOrder::Descend) => SortOrder::Descend,
        Err(_) => return Err(StoreError::InvalidArgument("unknown sort order".into())),
    };
    let sort_target = match pb::range_request::SortTarget::try_from(req.sort_target) {
        Ok(pb::range_request::SortTarget::Key) => SortTarget::Key,
        Ok(pb::range_request::SortTarget::Version) => SortTarget::Version,
        Ok(pb::range_request::SortTarget::Create) => SortTarget::Create,
        Ok(pb::range_request::SortTarget::Mod) => SortTarget::Mod,
        Ok(pb::range_request::SortTarget::Value) => SortTarget::Value,
        Err(_) => return Err(StoreError::InvalidArgument("unknown sort target".into())),
    };
    Ok(RangeRequest {
        range: KeyRange::from_wire(req.key, req.range_end),
        revision: revision(req.revision),
        limit: u64::try_from(req.limit).ok().and_then(NonZeroU64::new),
        keys_only: req.keys_only,
        count_only: req.count_only,
        sort_order,
        sort_target,
        min_mod_revision: revision(req.min_mod_revision),
        max_mod_revision: revision(req.max_mod_revision),
        min_create_revision: revision(req.min_create_revision),
        max_create_revision: revision(req.max_create_revision),
    })
}

pub fn range_response(header: pb::ResponseHeader, resp: RangeResponse) -> pb::RangeResponse {
    pb::RangeResponse {
        header: Some(header),
        kvs: resp.kvs.into_iter().map(kv).collect(),
        more: resp.more,
        count: i64::try_from(resp.count).unwrap_or(i64::MAX),
    }
}

pub fn put_request(req: pb::PutRequest) -> Result<PutRequest, StoreError> {
    if req.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    // Decoded fields are slices of the whole received buffer, which may hold many requests;
    // stored as they are, each kept value would pin that buffer for as long as it lives.
    Ok(PutRequest {
        key: Bytes::copy_from_slice(&req.key),
        value: Bytes::copy_from_slice(&req.value),
        lease: LeaseId::new(req.lease),
        prev_kv: req.prev_kv,
        ignore_value: req.ignore_value,
        ignore_lease: req.ignore_lease,
    })
}

pub fn delete_request(req: pb::DeleteRangeRequest) -> Result<DeleteRequest, StoreError> {
    if req.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    Ok(DeleteRequest {
        range: KeyRange::from_wire(req.key, req.range_end),
        prev_kv: req.prev_kv,
    })
}

fn compare(c: pb::Compare) -> Result<Compare, StoreError> {
    use pb::compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    if c.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    let result = match R::try_from(c.result) {
        Ok(R::Equal) => CompareResult::Equal,
        Ok(R::Greater) => CompareResult::Greater,
        Ok(R::Less) => CompareResult::Less,
        Ok(R::NotEqual) => CompareResult::NotEqual,
        Err(_) => return Err(StoreError::InvalidArgument("unknown compare result".into())),
    };
    // The target enum says which field counts; an unset union field is its zero value.
    let number = |union: &Option<U>| match union {
        Some(U::Version(v) | U::CreateRevision(v) | U::ModRevision(v) | U::Lease(v)) => *v,
        _ => 0,
    };
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    let target = match T::try_from(c.target) {
        Ok(T::Version) => CompareTarget::Version(unsigned(number(&c.target_union))),
        Ok(T::Create) => CompareTarget::CreateRevision(unsigned(number(&c.target_union))),
        Ok(T::Mod) => CompareTarget::ModRevision(unsigned(number(&c.target_union))),
        Ok(T::Lease) => CompareTarget::Lease(number(&c.target_union)),
        Ok(T::Value) => CompareTarget::Value(match c.target_union {
            Some(U::Value(value)) => value,
            _ => Bytes::new(),
        }),
        Err(_) => return Err(StoreError::InvalidArgument("unknown compare target".into())),
    };
    Ok(Compare {
        range: KeyRange::from_wire(c.key, c.range_end),
        result,
        target,
    })
}

fn op(op: pb::RequestOp) -> Result<Op, StoreError> {
    use pb::request_op::Request;
    match op.request {
        Some(Request::RequestRange(req)) => Ok(Op::Range(range_request(req)?)),
        Some(Request::RequestPut(req)) => Ok(Op::Put(put_request(req)?)),
        Some(Request::RequestDeleteRange(req)) => Ok(Op::Delete(delete_request(req)?)),
        Some(Request::RequestTxn(req)) => Ok(Op::Txn(txn_request(req)?)),
        None => Err(StoreError::InvalidArgument("empty request op".into())),
    }
}

pub fn txn_request(req: pb::TxnRequest) -> Result<TxnRequest, StoreError> {
    Ok(TxnRequest {
        compare: req
            .compare
            .into_iter()
            .map(compare)
            .collect::<Result<_, _>>()?,
        success: req.success.into_iter().map(op).collect::<Result<_, _>>()?,
        failure: req.failure.into_iter().map(op).collect::<Result<_, _>>()?,
    })
}

pub fn txn_response(header: &pb::ResponseHeader, resp: TxnResponse) -> pb::TxnResponse {
    use pb::response_op::Response;
    let responses = resp
        .responses
        .into_iter()
        .map(|op| pb::ResponseOp {
            response: Some(match op {
                OpResponse::Range(range) => Response::ResponseRange(range_response(*header, range)),
                OpResponse::Put { prev_kv } => Response::ResponsePut(pb::PutResponse {
                    header: Some(*header),
                    prev_kv: prev_kv.map(kv),
                }),
                OpResponse::Delete { deleted, prev_kvs } => {
                    Response::ResponseDeleteRange(pb::DeleteRangeResponse {
                        header: Some(*header),
                        deleted: i64::try_from(deleted).unwrap_or(i64::MAX),
                        prev_kvs: prev_kvs.into_iter().map(kv).collect(),
                    })
                }
                OpResponse::Txn(inner) => Response::ResponseTxn(txn_response(header, inner)),
            }),
        })
        .collect();
    pb::TxnResponse {
        header: Some(*header),
        succeeded: resp.succeeded,
        responses,
    }
}

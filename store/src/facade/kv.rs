//! etcd's KV service.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{self, status};
use super::{header, pb};
use crate::store::Store;
use crate::types::{Op, OpResponse, Revision, TxnRequest};

pub struct KvService {
    store: Arc<Store>,
}

impl KvService {
    pub fn new(store: Arc<Store>) -> KvService {
        KvService { store }
    }

    async fn single(&self, op: Op) -> Result<(Revision, OpResponse), Status> {
        let mut response = self
            .store
            .txn(&TxnRequest::single(op))
            .await
            .map_err(status)?;
        let op = response
            .responses
            .pop()
            .ok_or_else(|| Status::internal("no op response"))?;
        Ok((response.revision, op))
    }
}

#[tonic::async_trait]
impl pb::kv_server::Kv for KvService {
    async fn range(
        &self,
        request: Request<pb::RangeRequest>,
    ) -> Result<Response<pb::RangeResponse>, Status> {
        let req = convert::range_request(request.into_inner()).map_err(status)?;
        let (revision, response) = self.store.range(&req).map_err(status)?;
        Ok(Response::new(convert::range_response(
            header(revision),
            response,
        )))
    }

    async fn put(
        &self,
        request: Request<pb::PutRequest>,
    ) -> Result<Response<pb::PutResponse>, Status> {
        let req = convert::put_request(request.into_inner()).map_err(status)?;
        match self.single(Op::Put(req)).await? {
            (revision, OpResponse::Put { prev_kv }) => Ok(Response::new(pb::PutResponse {
                header: Some(header(revision)),
                prev_kv: prev_kv.map(convert::kv),
            })),
            _ => Err(Status::internal("put answered with another op")),
        }
    }

    async fn delete_range(
        &self,
        request: Request<pb::DeleteRangeRequest>,
    ) -> Result<Response<pb::DeleteRangeResponse>, Status> {
        let req = convert::delete_request(request.into_inner()).map_err(status)?;
        match self.single(Op::Delete(req)).await? {
            (revision, OpResponse::Delete { deleted, prev_kvs }) => {
                Ok(Response::new(pb::DeleteRangeResponse {
                    header: Some(header(revision)),
                    deleted: i64::try_from(deleted).unwrap_or(i64::MAX),
                    prev_kvs: prev_kvs.into_iter().map(convert::kv).collect(),
                }))
            }
            _ => Err(Status::internal("delete answered with another op")),
        }
    }

    async fn txn(
        &self,
        request: Request<pb::TxnRequest>,
    ) -> Result<Response<pb::TxnResponse>, Status> {
        let txn = convert::txn_request(request.into_inner()).map_err(status)?;
        let response = self.store.txn(&txn).await.map_err(status)?;
        let header = header(response.revision);
        Ok(Response::new(convert::txn_response(&header, response)))
    }

    async fn compact(
        &self,
        request: Request<pb::CompactionRequest>,
    ) -> Result<Response<pb::CompactionResponse>, Status> {
        let req = request.into_inner();
        let Some(revision) = Revision::from_wire(req.revision) else {
            // etcd: compacting at 0 or below is compacting at an already compacted point.
            return Err(status(crate::StoreError::Compacted {
                compact_revision: Revision::INITIAL,
            }));
        };
        self.store.compact(revision).await.map_err(status)?;
        Ok(Response::new(pb::CompactionResponse {
            header: Some(header(self.store.newest_revision())),
        }))
    }
}

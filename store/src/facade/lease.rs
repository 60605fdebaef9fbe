//! etcd's Lease service.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::status;
use super::{header, pb};
use crate::error::StoreError;
use crate::store::Store;
use crate::types::LeaseId;

/// Keep-alive answers queued per stream before the reader waits for the client.
const KEEPALIVE_BUFFER: usize = 64;

pub struct LeaseService {
    store: Arc<Store>,
}

impl LeaseService {
    pub fn new(store: Arc<Store>) -> LeaseService {
        LeaseService { store }
    }

    /// Lease responses carry the revision of the `rest` partition: leases belong to no
    /// partition, and etcd clients only use this header for ordering within one response.
    fn header(&self) -> pb::ResponseHeader {
        let revision = self.store.rest_revision();
        header(revision)
    }
}

fn lease_id(id: i64) -> Result<LeaseId, Status> {
    LeaseId::new(id).ok_or_else(|| status(StoreError::LeaseNotFound))
}

type KeepAliveStream =
    Pin<Box<dyn Stream<Item = Result<pb::LeaseKeepAliveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::lease_server::Lease for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<pb::LeaseGrantRequest>,
    ) -> Result<Response<pb::LeaseGrantResponse>, Status> {
        let req = request.into_inner();
        let (id, ttl) = self
            .store
            .leases()
            .grant(LeaseId::new(req.id), req.ttl)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::LeaseGrantResponse {
            header: Some(self.header()),
            id: id.get(),
            ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        request: Request<pb::LeaseRevokeRequest>,
    ) -> Result<Response<pb::LeaseRevokeResponse>, Status> {
        let id = lease_id(request.into_inner().id)?;
        self.store.revoke_lease(id).await.map_err(status)?;
        Ok(Response::new(pb::LeaseRevokeResponse {
            header: Some(self.header()),
        }))
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<pb::LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut requests = request.into_inner();
        let (tx, rx) = mpsc::channel(KEEPALIVE_BUFFER);
        let store = Arc::clone(&self.store);
        tokio::spawn(async move {
            while let Some(Ok(req)) = requests.next().await {
                // etcd answers an unknown lease with TTL 0 rather than an error.
                let ttl = LeaseId::new(req.id)
                    .and_then(|id| store.leases().keep_alive(id).ok())
                    .unwrap_or(0);
                let revision = store.rest_revision();
                let response = pb::LeaseKeepAliveResponse {
                    header: Some(header(revision)),
                    id: req.id,
                    ttl,
                };
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<pb::LeaseTimeToLiveRequest>,
    ) -> Result<Response<pb::LeaseTimeToLiveResponse>, Status> {
        let req = request.into_inner();
        let found =
            LeaseId::new(req.id).and_then(|id| self.store.leases().time_to_live(id, req.keys));
        // etcd answers an unknown lease with TTL -1 rather than an error.
        let response = match found {
            Some(lease) => pb::LeaseTimeToLiveResponse {
                header: Some(self.header()),
                id: req.id,
                ttl: lease.remaining_ttl,
                granted_ttl: lease.granted_ttl,
                keys: lease.keys,
            },
            None => pb::LeaseTimeToLiveResponse {
                header: Some(self.header()),
                id: req.id,
                ttl: -1,
                granted_ttl: 0,
                keys: Vec::new(),
            },
        };
        Ok(Response::new(response))
    }

    async fn lease_leases(
        &self,
        _request: Request<pb::LeaseLeasesRequest>,
    ) -> Result<Response<pb::LeaseLeasesResponse>, Status> {
        let leases = self
            .store
            .leases()
            .list()
            .into_iter()
            .map(|id| pb::LeaseStatus { id: id.get() })
            .collect();
        Ok(Response::new(pb::LeaseLeasesResponse {
            header: Some(self.header()),
            leases,
        }))
    }
}

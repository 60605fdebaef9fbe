//! The etcd v3 gRPC API over the store: KV, Watch, Lease and Maintenance.Status/Alarm, so
//! etcdctl, etcd client libraries and a stock kube-apiserver can use it. Every other etcd
//! method answers UNIMPLEMENTED. Each request is routed to one partition and its response
//! header carries that partition's revision.
//!
//! Module map: `convert` (wire ↔ store types, errors → statuses), `kv`, `watch`, `lease`,
//! `maintenance` (one file per etcd service).

mod convert;
mod kv;
mod lease;
mod maintenance;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::store::Store;

/// The generated wire types and service traits.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("etcdserverpb");
}

/// etcd allows this much gRPC framing beyond `--max-request-bytes` (`grpcOverheadBytes`).
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;
/// The etcd version reported by Maintenance.Status. Kubernetes enables watch progress
/// requests (consistent reads from its cache) only for etcd 3.6 and later 3.5/3.4 patches.
pub const REPORTED_ETCD_VERSION: &str = "3.6.0";
/// Fixed identities in response headers: there is one member, and it leads.
const CLUSTER_ID: u64 = 0x756c_7472_616b_3873;
const MEMBER_ID: u64 = 0x0000_0000_0000_0001;

#[derive(Clone, Debug)]
pub struct FacadeConfig {
    /// How often a watcher created with `progress_notify` gets a progress notification
    /// (etcd's default is 10 minutes).
    pub progress_notify_interval: Duration,
    /// TLS for the etcd API: required beyond loopback, where the configuration must demand
    /// client certificates (etcd's `--client-cert-auth`). The caller builds it from the
    /// cluster PKI.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for FacadeConfig {
    fn default() -> Self {
        FacadeConfig {
            progress_notify_interval: Duration::from_secs(600),
            tls: None,
        }
    }
}

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// TLS connections accepted but not yet taken by the server.
const ACCEPTED_BACKLOG: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum FacadeError {
    #[error(
        "serving the etcd API on {0}, beyond loopback, needs TLS with client certificates; \
         bind it to 127.0.0.1 or ::1, or give it a TLS configuration"
    )]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("etcd API server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

fn header(revision: crate::types::Revision) -> pb::ResponseHeader {
    pb::ResponseHeader {
        cluster_id: CLUSTER_ID,
        member_id: MEMBER_ID,
        revision: revision.wire(),
        raft_term: 1,
    }
}

/// Binds the etcd API listener (loopback only for now).
pub async fn bind(addr: SocketAddr, tls: bool) -> Result<TcpListener, FacadeError> {
    if !addr.ip().is_loopback() && !tls {
        return Err(FacadeError::NotLoopback(addr));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| FacadeError::Bind { addr, source })
}

/// Serves the etcd API on `listener` until `shutdown` resolves.
pub async fn serve(
    store: Arc<Store>,
    listener: TcpListener,
    config: FacadeConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), FacadeError> {
    let max_message = store.max_request_bytes() + GRPC_OVERHEAD_BYTES;
    let kv = pb::kv_server::KvServer::new(kv::KvService::new(Arc::clone(&store)))
        .max_decoding_message_size(max_message);
    let watch = pb::watch_server::WatchServer::new(watch::WatchService::new(
        Arc::clone(&store),
        config.progress_notify_interval,
    ))
    .max_decoding_message_size(max_message);
    let lease = pb::lease_server::LeaseServer::new(lease::LeaseService::new(Arc::clone(&store)));
    let maintenance =
        pb::maintenance_server::MaintenanceServer::new(maintenance::MaintenanceService::new(store));
    let router = tonic::transport::Server::builder()
        .add_service(kv)
        .add_service(watch)
        .add_service(lease)
        .add_service(maintenance);
    match config.tls {
        // Without TCP_NODELAY small responses wait for the client's delayed ACK (~40 ms).
        None => {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?;
        }
        Some(tls) => {
            let incoming = tls_incoming(listener, tls);
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?;
        }
    }
    Ok(())
}

/// The TLS connections of `listener`, each handshake in a task of its own so that a slow or
/// silent client never holds up the others; failed handshakes are dropped.
fn tls_incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> impl tokio_stream::Stream<
    Item = Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>, std::io::Error>,
> {
    let (tx, rx) = tokio::sync::mpsc::channel(ACCEPTED_BACKLOG);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "etcd API accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if tx.is_closed() {
                return;
            }
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "etcd API TLS handshake"),
                    Err(_) => tracing::debug!(%peer, "etcd API TLS handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

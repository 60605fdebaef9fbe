//! The HTTPS edge: TLS (rustls) with HTTP/1.1 and HTTP/2 on one port, the client
//! certificate's identity, and the handler every request goes through.

pub mod codec;
pub mod discovery;
mod duplicates;
mod eviction;
mod filters;
mod handler;
pub mod local;
pub mod observability;
mod openapi;
pub mod request;
pub(crate) mod request_metrics;
mod respond;
mod subresource;

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::server::ApiServer;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTPS on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    server: Arc<ApiServer>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            // A certificate the handshake verified against the cluster CA names the user.
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| crate::pki::peer_user(certs).ok().flatten())
                .map(Arc::new);
            let service = service_fn(move |req| {
                let server = Arc::clone(&server);
                let user = user.clone();
                let req = req.map(axum::body::Body::new);
                async move { Ok::<_, std::convert::Infallible>(server.handle(req, user).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            if let Err(error) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
}

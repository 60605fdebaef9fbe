//! The in-process way in (DESIGN.md, "Layout"): a tower `Service` that hands requests to the
//! server without TCP or TLS, as a fixed user. The scheduler and controllers wrap it in a
//! `kube::Client`, so they speak the Kubernetes API exactly as a remote client would, and
//! every write of theirs passes authorization and admission under their own identity.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response};

use crate::auth::{AUTHENTICATED_GROUP, UserInfo};
use crate::server::ApiServer;

/// The user the in-process scheduler acts as (upstream's `system:kube-scheduler`).
pub const SCHEDULER_USER: &str = "system:kube-scheduler";
/// The user the in-process controllers act as (upstream's `system:kube-controller-manager`).
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";

#[derive(Clone)]
pub struct LocalService {
    server: Arc<ApiServer>,
    user: UserInfo,
}

impl LocalService {
    /// Requests act as `name` (in `system:authenticated`, as any authenticated user).
    pub fn new(server: &Arc<ApiServer>, name: &str) -> LocalService {
        LocalService {
            server: Arc::clone(server),
            user: UserInfo {
                name: name.to_owned(),
                groups: vec![AUTHENTICATED_GROUP.to_owned()],
                ..UserInfo::default()
            },
        }
    }
}

impl LocalService {
    /// Requests act as the ServiceAccount `namespace/name` (upstream's controllers each act as
    /// `system:serviceaccount:kube-system:<controller>`, bound to `system:controller:<...>`).
    pub fn service_account(server: &Arc<ApiServer>, namespace: &str, name: &str) -> LocalService {
        let mut groups = crate::auth::serviceaccount::groups(namespace);
        groups.push(AUTHENTICATED_GROUP.to_owned());
        LocalService {
            server: Arc::clone(server),
            user: UserInfo {
                name: crate::auth::serviceaccount::username(namespace, name),
                groups,
                ..UserInfo::default()
            },
        }
    }
}

impl<B> tower::Service<Request<B>> for LocalService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let server = Arc::clone(&self.server);
        let user = self.user.clone();
        let req = req.map(Body::new);
        Box::pin(async move { Ok(server.handle_as(req, user).await) })
    }
}

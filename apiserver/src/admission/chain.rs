//! The admission plugins of one request, in upstream's default order
//! (`pkg/kubeapiserver/options/plugins.go`, `AllOrderedPlugins`): NamespaceLifecycle (in
//! the registry: writes into missing or terminating namespaces), LimitRanger, ServiceAccount,
//! NodeRestriction, Priority, DefaultTolerationSeconds, PodSecurity, RuntimeClass,
//! DefaultStorageClass, the RBAC registry's escalation check, the CSR checks
//! (CertificateApproval, CertificateSigning, CertificateSubjectRestriction; the requester
//! recorded on create), and ResourceQuota last. Mutating plugins run
//! first, then the validating ones, each in that order.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{
    Admission, AdmissionHandle, Attributes, certificates, default_storage_class, default_tolerations, escalation,
    limit_ranger, node_restriction, pod_security, priority, resource_quota, runtime_class,
    service_account,
};
use crate::auth::UserInfo;
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::server::ApiServer;

/// The admission of one request by `user`.
pub struct RequestAdmission {
    server: Arc<ApiServer>,
    user: UserInfo,
}

impl RequestAdmission {
    pub fn handle(server: &Arc<ApiServer>, user: &UserInfo) -> AdmissionHandle {
        AdmissionHandle(Arc::new(RequestAdmission {
            server: Arc::clone(server),
            user: user.clone(),
        }))
    }
}

impl Admission for RequestAdmission {
    fn mutate<'a>(
        &'a self,
        attrs: &'a Attributes<'a>,
        obj: &'a mut dyn KubeObject,
        old: Option<&'a dyn KubeObject>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let server = &*self.server;
            certificates::mutate(&self.user, attrs, obj);
            limit_ranger::mutate(server, attrs, obj).await?;
            service_account::mutate(server, attrs, obj).await?;
            priority::mutate(server, attrs, obj).await?;
            default_tolerations::mutate(attrs, obj);
            runtime_class::mutate(server, attrs, obj).await?;
            default_storage_class::mutate(server, attrs, obj).await?;
            let _ = old;
            Ok(())
        })
    }

    fn validate<'a>(
        &'a self,
        attrs: &'a Attributes<'a>,
        obj: Option<&'a dyn KubeObject>,
        old: Option<&'a dyn KubeObject>,
    ) -> BoxFuture<'a, Result<Vec<String>, ApiError>> {
        Box::pin(async move {
            let server = &*self.server;
            let user = &self.user;
            limit_ranger::validate(server, attrs, obj).await?;
            service_account::validate(server, attrs, obj).await?;
            node_restriction::validate(server, user, attrs, obj, old).await?;
            priority::validate(server, attrs, obj).await?;
            let warnings = pod_security::validate(server, user, attrs, obj, old).await?;
            escalation::validate(server, user, attrs, obj).await?;
            certificates::validate(server, user, attrs, obj, old).await?;
            // Last, as upstream: only a write every other plugin accepted is charged.
            resource_quota::validate(server, attrs, obj, old).await?;
            Ok(warnings)
        })
    }
}

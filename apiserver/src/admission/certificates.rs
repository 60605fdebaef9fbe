//! CertificateSigningRequests: who asked, and who may decide and sign.
//! - On create the requester's identity goes into `spec.username`, `uid`, `groups` and
//!   `extra`, whatever the body said (upstream's CSR strategy `PrepareForCreate`), so that
//!   approvers judge the real requester.
//! - CertificateApproval: changing the `Approved`/`Denied` conditions through `approval` needs
//!   `approve` on `signers` for the request's signer name (or `<domain>/*`).
//! - CertificateSigning: setting `status.certificate` through `status` needs `sign` on it.
//! - CertificateSubjectRestriction: no `kube-apiserver-client` request for the
//!   `system:masters` group.
//!   (upstream `plugin/pkg/admission/certificates/{approval,signing,subjectrestriction}`).

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use x509_parser::prelude::FromDer;

use super::{Attributes, Operation};
use crate::auth::authz::Decision;
use crate::auth::{Attributes as AuthzAttributes, UserInfo};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::resources::Subresource;
use crate::server::ApiServer;

const GROUP: &str = "certificates.k8s.io";

fn csr_of(obj: &dyn KubeObject) -> Option<&CertificateSigningRequest> {
    obj.as_any().downcast_ref::<CertificateSigningRequest>()
}

/// Records the requester on a new request.
pub fn mutate(user: &UserInfo, attrs: &Attributes<'_>, obj: &mut dyn KubeObject) {
    if attrs.operation != Operation::Create
        || !attrs.is(GROUP, "certificatesigningrequests")
        || attrs.subresource.is_some()
    {
        return;
    }
    let Some(csr) = obj.as_any_mut().downcast_mut::<CertificateSigningRequest>() else {
        return;
    };
    csr.spec.username = Some(user.name.clone());
    csr.spec.uid = Some(user.uid.clone()).filter(|u| !u.is_empty());
    csr.spec.groups = Some(user.groups.clone());
    csr.spec.extra = (!user.extra.is_empty()).then(|| user.extra.clone());
    csr.status = None;
}

/// The three CSR admission checks.
pub async fn validate(
    server: &ApiServer,
    user: &UserInfo,
    attrs: &Attributes<'_>,
    obj: Option<&dyn KubeObject>,
    old: Option<&dyn KubeObject>,
) -> Result<(), ApiError> {
    if !attrs.is(GROUP, "certificatesigningrequests") {
        return Ok(());
    }
    let Some(csr) = obj.and_then(csr_of) else {
        return Ok(());
    };
    let signer = csr.spec.signer_name.as_str();
    match (attrs.operation, attrs.subresource) {
        (Operation::Create, None) => {
            let masters = crate::auth::MASTERS_GROUP;
            if signer == "kubernetes.io/kube-apiserver-client" && requests_group(csr, masters) {
                return Err(ApiError::forbidden(
                    attrs.resource,
                    attrs.name,
                    format!("use of kubernetes.io/kube-apiserver-client signer with {masters} group is not allowed"),
                ));
            }
            Ok(())
        }
        (Operation::Update, Some(Subresource::Approval)) => {
            let decided = |c: Option<&CertificateSigningRequest>| {
                c.and_then(|c| c.status.as_ref())
                    .and_then(|s| s.conditions.as_ref())
                    .map(|c| {
                        c.iter()
                            .filter(|c| c.type_ == "Approved" || c.type_ == "Denied")
                            .map(|c| (c.type_.clone(), c.status.clone()))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            };
            if decided(Some(csr)) == decided(old.and_then(csr_of)) {
                return Ok(());
            }
            check(server, user, attrs, "approve", signer, "approve").await
        }
        (Operation::Update, Some(Subresource::Status)) => {
            let certificate = |c: Option<&CertificateSigningRequest>| {
                c.and_then(|c| c.status.as_ref())
                    .and_then(|s| s.certificate.clone())
            };
            if certificate(Some(csr)) == certificate(old.and_then(csr_of)) {
                return Ok(());
            }
            check(server, user, attrs, "sign", signer, "sign").await
        }
        _ => Ok(()),
    }
}

/// Whether the request's subject names `group` as an organization.
fn requests_group(csr: &CertificateSigningRequest, group: &str) -> bool {
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(&csr.spec.request.0) else {
        return false;
    };
    let Ok((_, request)) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&pem.contents)
    else {
        return false;
    };
    request
        .certification_request_info
        .subject
        .iter_organization()
        .any(|o| o.as_str().is_ok_and(|o| o == group))
}

/// `verb` on `signers` named `signer` or `<domain>/*` (upstream's `IsAuthorizedForSignerName`).
async fn check(
    server: &ApiServer,
    user: &UserInfo,
    attrs: &Attributes<'_>,
    verb: &str,
    signer: &str,
    action: &str,
) -> Result<(), ApiError> {
    let on = |name: String| AuthzAttributes {
        verb: verb.into(),
        resource_request: true,
        api_group: GROUP.into(),
        api_version: "*".into(),
        resource: "signers".into(),
        name,
        ..AuthzAttributes::default()
    };
    if server.authorize(user, &on(signer.to_owned())).await? == Decision::Allow {
        return Ok(());
    }
    if let Some((domain, _)) = signer.split_once('/')
        && server.authorize(user, &on(format!("{domain}/*"))).await? == Decision::Allow
    {
        return Ok(());
    }
    Err(ApiError::forbidden(
        attrs.resource,
        attrs.name,
        format!("user not permitted to {action} requests with signerName {signer:?}"),
    ))
}

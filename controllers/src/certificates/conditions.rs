//! The names and condition helpers the certificate controllers share: signer names, condition
//! types, and whether a CSR is approved, denied or failed. Mirrors upstream's
//! `pkg/controller/certificates/certificate_controller_utils.go` (`IsCertificateRequestApproved`,
//! `GetCertApprovalCondition`, `HasTrueCondition`) and the constants of `k8s.io/api/certificates`.

use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Signs client certificates that the API server honours (`capi.KubeAPIServerClientSignerName`).
pub const KUBE_APISERVER_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";
/// Signs kubelet client certificates (`capi.KubeAPIServerClientKubeletSignerName`).
pub const KUBE_APISERVER_CLIENT_KUBELET_SIGNER: &str =
    "kubernetes.io/kube-apiserver-client-kubelet";
/// Signs kubelet serving certificates (`capi.KubeletServingSignerName`).
pub const KUBELET_SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";
/// The v1beta1 catch-all signer (`capiv1beta1.LegacyUnknownSignerName`); we never sign for it.
pub const LEGACY_UNKNOWN_SIGNER: &str = "kubernetes.io/legacy-unknown";

/// Condition type set by an approver (`capi.CertificateApproved`).
pub const CONDITION_APPROVED: &str = "Approved";
/// Condition type set by an approver that refuses (`capi.CertificateDenied`).
pub const CONDITION_DENIED: &str = "Denied";
/// Condition type set by a signer that cannot sign (`capi.CertificateFailed`).
pub const CONDITION_FAILED: &str = "Failed";

fn conditions(csr: &CertificateSigningRequest) -> &[CertificateSigningRequestCondition] {
    csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

/// Whether any condition has type `Approved` (any status), as `GetCertApprovalCondition`.
pub fn has_approved_condition(csr: &CertificateSigningRequest) -> bool {
    conditions(csr)
        .iter()
        .any(|c| c.type_ == CONDITION_APPROVED)
}

/// Whether any condition has type `Denied` (any status), as `GetCertApprovalCondition`.
pub fn is_denied(csr: &CertificateSigningRequest) -> bool {
    conditions(csr).iter().any(|c| c.type_ == CONDITION_DENIED)
}

/// `IsCertificateRequestApproved`: an `Approved` condition and no `Denied` one. Like upstream
/// the conditions' status is not looked at (the API only accepts `True` for these two types).
pub fn is_approved(csr: &CertificateSigningRequest) -> bool {
    has_approved_condition(csr) && !is_denied(csr)
}

/// `HasTrueCondition`: a condition of this type whose status is `True` or empty.
pub fn has_true_condition(csr: &CertificateSigningRequest, type_: &str) -> bool {
    conditions(csr)
        .iter()
        .any(|c| c.type_ == type_ && (c.status.is_empty() || c.status == "True"))
}

/// Whether a signer has marked the request `Failed` (`HasTrueCondition(csr, CertificateFailed)`).
pub fn is_failed(csr: &CertificateSigningRequest) -> bool {
    has_true_condition(csr, CONDITION_FAILED)
}

/// Whether `status.certificate` holds bytes: the CSR has been issued.
pub fn is_issued(csr: &CertificateSigningRequest) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.certificate.as_ref())
        .is_some_and(|c| !c.0.is_empty())
}

/// A `True` condition stamped with `now`. Upstream leaves the times to the API server's
/// status strategy; we set both so that a server without that step still gives the cleaner
/// a `lastUpdateTime` to measure from.
pub(crate) fn true_condition(
    type_: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> CertificateSigningRequestCondition {
    CertificateSigningRequestCondition {
        type_: type_.to_string(),
        status: "True".to_string(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

//! The CSR cleaner's decision: whether a CSR has outlived its use and should be deleted.
//! Mirrors upstream's `pkg/controller/certificates/cleaner/cleaner.go` (`handle` and its
//! `is…PastDeadline` / `isIssuedExpired` checks). The runtime lists every CSR once per
//! [`POLLING_INTERVAL`] and deletes those for which [`expired`] gives a reason.

use std::time::Duration;

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::conditions::{CONDITION_APPROVED, CONDITION_DENIED, CONDITION_FAILED, is_issued};

/// How often upstream's cleaner lists all CSRs.
pub const POLLING_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// An approved CSR with a certificate is kept this long after its approval was last updated.
pub const APPROVED_EXPIRATION: Duration = Duration::from_secs(60 * 60);
/// A denied (or failed) CSR is kept this long after that condition was last updated.
pub const DENIED_EXPIRATION: Duration = Duration::from_secs(60 * 60);
/// A CSR nobody has acted on is kept this long after its creation.
pub const PENDING_EXPIRATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a CSR is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CleanReason {
    #[error("approved and issued more than 1h ago")]
    IssuedPastDeadline,
    #[error("denied more than 1h ago")]
    DeniedPastDeadline,
    #[error("failed more than 1h ago")]
    FailedPastDeadline,
    #[error("pending for more than 24h")]
    PendingPastDeadline,
    #[error("its certificate has expired")]
    IssuedExpired,
}

/// Whether to delete `csr` now, and why; checks in upstream's order and stops at the first.
pub fn expired(csr: &CertificateSigningRequest, now: Timestamp) -> Option<CleanReason> {
    let conditions = csr
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let issued = is_issued(csr);
    let updated_before = |type_: &str, d: Duration| {
        conditions
            .iter()
            .any(|c| c.type_ == type_ && is_older_than(c.last_update_time.as_ref(), d, now))
    };
    let approved = conditions.iter().any(|c| c.type_ == CONDITION_APPROVED);

    if issued && updated_before(CONDITION_APPROVED, APPROVED_EXPIRATION) {
        Some(CleanReason::IssuedPastDeadline)
    } else if updated_before(CONDITION_DENIED, DENIED_EXPIRATION) {
        Some(CleanReason::DeniedPastDeadline)
    } else if updated_before(CONDITION_FAILED, DENIED_EXPIRATION) {
        Some(CleanReason::FailedPastDeadline)
    } else if conditions.is_empty()
        && is_older_than(
            csr.metadata.creation_timestamp.as_ref(),
            PENDING_EXPIRATION,
            now,
        )
    {
        Some(CleanReason::PendingPastDeadline)
    } else if approved && issued && certificate_expired(csr, now) {
        Some(CleanReason::IssuedExpired)
    } else {
        None
    }
}

/// `isOlderThan`: a set time more than `d` before `now`.
fn is_older_than(t: Option<&Time>, d: Duration, now: Timestamp) -> bool {
    let Some(Time(t)) = t else {
        return false;
    };
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    now.duration_since(*t) > d
}

/// `isExpired`: the first certificate of the first PEM block has a `NotAfter` before `now`.
/// An unreadable certificate counts as not expired, as upstream.
fn certificate_expired(csr: &CertificateSigningRequest, now: Timestamp) -> bool {
    let Some(bytes) = csr.status.as_ref().and_then(|s| s.certificate.as_ref()) else {
        return false;
    };
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(&bytes.0) else {
        return false;
    };
    let Ok((_, cert)) = X509Certificate::from_der(&pem.contents) else {
        return false;
    };
    Timestamp::from_second(cert.validity().not_after.timestamp()).is_ok_and(|t| now > t)
}

#[cfg(test)]
#[path = "cleaner_tests.rs"]
mod tests;

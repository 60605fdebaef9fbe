//! The CSR signing controller's decision: whether to sign an approved request, refuse it with
//! a `Failed` condition, or leave it alone, and the certificate it gets. Mirrors upstream's
//! `pkg/controller/certificates/signer/signer.go` (`handle`, `duration`,
//! `getCSRVerificationFuncForSignerName` and the `is…` checks), the validity and usage parts of
//! `authority/policies.go` (`PermissiveSigningPolicy.apply`, `keyUsagesFromStrings`), and the
//! "already has a certificate" shortcut of `certificate_controller.go`'s `syncFunc`.
//!
//! One signer here serves the three `kubernetes.io` signers upstream runs as separate
//! controllers, with one CA and one maximum duration (upstream may configure a CA per signer;
//! the runtime can call [`sign`] with another CA per signer name if it wants to).
//! `kubernetes.io/legacy-unknown`, which upstream signs without any check, is skipped on
//! purpose: certificates/v1 cannot create such requests and we do not sign unchecked ones.

use std::time::Duration;

use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};

use super::authority::{CaKeyPair, IssueError, Template};
use super::conditions::{
    CONDITION_FAILED, KUBE_APISERVER_CLIENT_KUBELET_SIGNER, KUBE_APISERVER_CLIENT_SIGNER,
    KUBELET_SERVING_SIGNER, is_approved, is_failed, is_issued, true_condition,
};
use super::request::{ParsedRequest, RequestError, parse};
use super::validation::{
    ValidationError, validate_apiserver_client_usages, validate_kubelet_client,
    validate_kubelet_serving,
};

/// The reason of the `Failed` condition for a request its signer does not accept.
pub const SIGNER_VALIDATION_FAILURE: &str = "SignerValidationFailure";
/// kube-controller-manager's default `--cluster-signing-duration` (8760h).
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// The shortest certificate issued whatever `expirationSeconds` asks (twice the backdate).
pub const MIN_DURATION: Duration = Duration::from_secs(10 * 60);
/// How far `NotBefore` lies before `now`, for clocks that run behind.
pub const BACKDATE: Duration = Duration::from_secs(5 * 60);
/// Below this lifetime `NotAfter` is not moved back by [`BACKDATE`] (5 minutes is about 1% of
/// 8 hours).
pub const SHORT: Duration = Duration::from_secs(8 * 60 * 60);

/// The signer's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerConfig {
    /// The longest certificate issued (`--cluster-signing-duration`); requests may ask for
    /// less through `spec.expirationSeconds`.
    pub max_duration: Duration,
}

impl Default for SignerConfig {
    fn default() -> Self {
        Self {
            max_duration: DEFAULT_MAX_DURATION,
        }
    }
}

/// What the signer does with one CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOutcome {
    /// Not approved, already failed or issued, or not for one of our signers.
    Skip,
    /// The request does not fit its signer: add [`failed_condition`] through the status.
    Failed { reason: String, message: String },
    /// Write this PEM certificate to `status.certificate`.
    Issued { certificate_pem: String },
}

/// Why signing failed for now; upstream returns these as errors and retries the CSR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("unable to parse csr: {0}")]
    Request(#[from] RequestError),
    #[error("unrecognized usage values: {0:?}")]
    UnrecognizedUsages(Vec<String>),
    #[error("the signer has expired: NotAfter={0}")]
    SignerExpired(Timestamp),
    #[error("refusing to sign a certificate that expired in the past: NotAfter={0}")]
    ExpiredInThePast(Timestamp),
    #[error("error auto signing csr: {0}")]
    Issue(#[from] IssueError),
}

/// The `Failed` condition for a [`SignOutcome::Failed`].
pub fn failed_condition(
    reason: &str,
    message: &str,
    now: Timestamp,
) -> CertificateSigningRequestCondition {
    true_condition(CONDITION_FAILED, reason, message, now)
}

/// Whether the signer looks at this CSR: approved and not denied, not failed, no certificate
/// yet, and for one of the three signers we serve.
pub fn is_candidate(csr: &CertificateSigningRequest) -> bool {
    !is_issued(csr) && is_approved(csr) && !is_failed(csr) && validator(csr).is_some()
}

type Validator = fn(&ParsedRequest, &[String]) -> Result<(), ValidationError>;

/// `getCSRVerificationFuncForSignerName` for the signers we serve.
fn validator(csr: &CertificateSigningRequest) -> Option<Validator> {
    match csr.spec.signer_name.as_str() {
        KUBELET_SERVING_SIGNER => Some(validate_kubelet_serving),
        KUBE_APISERVER_CLIENT_KUBELET_SIGNER => Some(validate_kubelet_client),
        KUBE_APISERVER_CLIENT_SIGNER => Some(|_, usages| validate_apiserver_client_usages(usages)),
        _ => None,
    }
}

/// Upstream's `handle` for an already parsed request.
pub fn sign(
    csr: &CertificateSigningRequest,
    req: &ParsedRequest,
    ca: &CaKeyPair,
    config: SignerConfig,
    now: Timestamp,
) -> Result<SignOutcome, SignError> {
    if !is_candidate(csr) {
        return Ok(SignOutcome::Skip);
    }
    let Some(validate) = validator(csr) else {
        return Ok(SignOutcome::Skip);
    };
    let usages = csr.spec.usages.as_deref().unwrap_or_default();
    if let Err(e) = validate(req, usages) {
        return Ok(SignOutcome::Failed {
            reason: SIGNER_VALIDATION_FAILURE.to_string(),
            message: e.to_string(),
        });
    }
    let (key_usages, extended_key_usages) = key_usages(usages)?;
    let ttl = duration(csr.spec.expiration_seconds, config.max_duration);
    let (not_before, not_after) = validity(now, ttl, ca.not_after())?;
    let certificate_pem = ca.issue(&Template {
        request: req,
        not_before,
        not_after,
        key_usages,
        extended_key_usages,
    })?;
    Ok(SignOutcome::Issued { certificate_pem })
}

/// [`sign`] straight from the CSR, parsing `spec.request` only for a CSR we would sign.
pub fn decide_signing(
    csr: &CertificateSigningRequest,
    ca: &CaKeyPair,
    config: SignerConfig,
    now: Timestamp,
) -> Result<SignOutcome, SignError> {
    if !is_candidate(csr) {
        return Ok(SignOutcome::Skip);
    }
    let req = parse(&csr.spec.request.0)?;
    sign(csr, &req, ca, config, now)
}

/// Upstream's `duration`: the configured maximum, or `expirationSeconds` when shorter, but
/// never under [`MIN_DURATION`].
pub fn duration(expiration_seconds: Option<i32>, max: Duration) -> Duration {
    let Some(seconds) = expiration_seconds else {
        return max;
    };
    let requested = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
    if requested > max {
        max
    } else if requested < MIN_DURATION {
        MIN_DURATION
    } else {
        requested
    }
}

/// `PermissiveSigningPolicy.apply`'s times: `NotBefore` is backdated; `NotAfter` is `ttl`
/// after `NotBefore` for long-lived certificates and after `now` for short ones, capped at
/// the CA's `NotAfter`. Times are whole seconds, as X.509 writes them.
pub fn validity(
    now: Timestamp,
    ttl: Duration,
    ca_not_after: Timestamp,
) -> Result<(Timestamp, Timestamp), SignError> {
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    // Saturating: only a clock or CA at the ends of time could overflow.
    let add = |t: Timestamp, d: SignedDuration| {
        t.checked_add(d).unwrap_or(if d.is_negative() {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
    };
    let backdate = SignedDuration::try_from(BACKDATE).unwrap_or(SignedDuration::ZERO);
    let ttl_signed = SignedDuration::try_from(ttl).unwrap_or(SignedDuration::MAX);
    let not_before = add(now, -backdate);
    let mut not_after = if ttl < SHORT {
        add(now, ttl_signed)
    } else {
        add(not_before, ttl_signed)
    };
    if not_after >= ca_not_after {
        not_after = ca_not_after;
    }
    if not_before >= ca_not_after {
        return Err(SignError::SignerExpired(ca_not_after));
    }
    if now >= ca_not_after {
        return Err(SignError::ExpiredInThePast(ca_not_after));
    }
    Ok((not_before, not_after))
}

/// `keyUsagesFromStrings`: key usages as bits, extended ones deduplicated in Go's
/// `x509.ExtKeyUsage` order; any unknown value fails the whole set.
pub fn key_usages(
    usages: &[String],
) -> Result<(Vec<KeyUsagePurpose>, Vec<ExtendedKeyUsagePurpose>), SignError> {
    let mut key = Vec::new();
    let mut extended: Vec<(u8, ExtendedKeyUsagePurpose)> = Vec::new();
    let mut unrecognized = Vec::new();
    for usage in usages {
        if let Some(k) = key_usage(usage) {
            if !key.contains(&k) {
                key.push(k);
            }
        } else if let Some((rank, eku)) = extended_key_usage(usage) {
            if !extended.iter().any(|(r, _)| *r == rank) {
                extended.push((rank, eku));
            }
        } else {
            unrecognized.push(usage.clone());
        }
    }
    if !unrecognized.is_empty() {
        return Err(SignError::UnrecognizedUsages(unrecognized));
    }
    extended.sort_by_key(|(rank, _)| *rank);
    Ok((key, extended.into_iter().map(|(_, eku)| eku).collect()))
}

fn key_usage(usage: &str) -> Option<KeyUsagePurpose> {
    Some(match usage {
        "signing" | "digital signature" => KeyUsagePurpose::DigitalSignature,
        "content commitment" => KeyUsagePurpose::ContentCommitment,
        "key encipherment" => KeyUsagePurpose::KeyEncipherment,
        "key agreement" => KeyUsagePurpose::KeyAgreement,
        "data encipherment" => KeyUsagePurpose::DataEncipherment,
        "cert sign" => KeyUsagePurpose::KeyCertSign,
        "crl sign" => KeyUsagePurpose::CrlSign,
        "encipher only" => KeyUsagePurpose::EncipherOnly,
        "decipher only" => KeyUsagePurpose::DecipherOnly,
        _ => return None,
    })
}

/// The extended usage and its rank in Go's `x509.ExtKeyUsage` enumeration.
fn extended_key_usage(usage: &str) -> Option<(u8, ExtendedKeyUsagePurpose)> {
    use ExtendedKeyUsagePurpose as E;
    Some(match usage {
        "any" => (0, E::Any),
        "server auth" => (1, E::ServerAuth),
        "client auth" => (2, E::ClientAuth),
        "code signing" => (3, E::CodeSigning),
        "email protection" | "s/mime" => (4, E::EmailProtection),
        "ipsec end system" => (5, E::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 5])),
        "ipsec tunnel" => (6, E::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 6])),
        "ipsec user" => (7, E::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 7])),
        "timestamping" => (8, E::TimeStamping),
        "ocsp signing" => (9, E::OcspSigning),
        "microsoft sgc" => (10, E::Other(vec![1, 3, 6, 1, 4, 1, 311, 10, 3, 3])),
        "netscape sgc" => (11, E::Other(vec![2, 16, 840, 1, 113730, 4, 1])),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "sign_policy_tests.rs"]
mod policy_tests;

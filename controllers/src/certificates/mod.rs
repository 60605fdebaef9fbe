//! The certificate controllers' decisions, without I/O. `approve.rs` is the CSR approving
//! controller (kubelet client requests put to SubjectAccessReviews, the `Approved` condition),
//! `sign.rs` the CSR signing controller (checks per signer name, `Failed` condition, validity
//! and usages), `authority.rs` the CA and the issuing of one certificate, `cleaner.rs` the CSR
//! cleaner. `request.rs` parses `spec.request`, `validation.rs` holds the kubelet request
//! shapes, `conditions.rs` signer names and condition helpers, `der.rs` the little DER the
//! issuing needs. Mirrors upstream's `pkg/controller/certificates/{approver,signer,cleaner,
//! authority}` and `pkg/apis/certificates/helpers.go`.

mod approve;
mod authority;
mod cleaner;
mod controller;
mod conditions;
mod der;
mod request;
mod sign;
mod validation;
#[cfg(test)]
mod testing;

pub use approve::{
    APPROVED_REASON, Approval, Recognizer, Review, approval, decide_approval, is_undecided,
    not_approved_message, review_spec,
};
pub use authority::{CaError, CaKeyPair, IssueError};
pub use controller::{CsrApprover, CsrSigner, SigningCa, start_cleaner};
pub use cleaner::{
    APPROVED_EXPIRATION, CleanReason, DENIED_EXPIRATION, PENDING_EXPIRATION, POLLING_INTERVAL,
    expired,
};
pub use conditions::{
    CONDITION_APPROVED, CONDITION_DENIED, CONDITION_FAILED, KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
    KUBE_APISERVER_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, LEGACY_UNKNOWN_SIGNER,
    has_true_condition, is_approved, is_denied, is_failed, is_issued,
};
pub use request::{ParsedRequest, RequestError, parse as parse_request};
pub use sign::{
    BACKDATE, DEFAULT_MAX_DURATION, MIN_DURATION, SHORT, SIGNER_VALIDATION_FAILURE, SignError,
    SignOutcome, SignerConfig, decide_signing, duration, failed_condition, is_candidate,
    key_usages, sign, validity,
};
pub use validation::{
    ValidationError, is_kubelet_client, is_kubelet_serving, validate_apiserver_client_usages,
    validate_kubelet_client, validate_kubelet_serving,
};

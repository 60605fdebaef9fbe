//! The CSR approving controller's decision: which kubelet client requests to put to a
//! SubjectAccessReview, and the `Approved` condition to add when one is allowed. Mirrors
//! upstream's `pkg/controller/certificates/approver/sarapprove.go` (`recognizers`, `handle`,
//! `authorize`, `appendApprovalCondition`, `isNodeClientCert`, `isSelfNodeClientCert`).
//!
//! The runtime performs the plan: for each [`Review`] in order it creates the
//! SubjectAccessReview; at the first one allowed it appends [`Review::approved_condition`] and
//! calls the `approval` subresource, and stops. When none is allowed it reports
//! [`not_approved_message`] as an error that is not retried quickly (upstream's
//! `IgnorableError`).

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReviewSpec};
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use k8s_openapi::jiff::Timestamp;

use super::conditions::{
    CONDITION_APPROVED, KUBE_APISERVER_CLIENT_KUBELET_SIGNER, has_approved_condition, is_denied,
    is_issued, true_condition,
};
use super::request::{ParsedRequest, RequestError, parse};
use super::validation::is_kubelet_client;

/// The reason of the condition the approver adds.
pub const APPROVED_REASON: &str = "AutoApproved";

/// One of upstream's recognizers: a request shape and the permission that approves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recognizer {
    /// A node renewing its own client certificate: the requester is the CN.
    SelfNodeClient,
    /// Any kubelet client certificate (bootstrap tokens request these for new nodes).
    NodeClient,
}

impl Recognizer {
    /// In upstream's order: the narrower self-renewal permission is tried first.
    pub const ALL: [Recognizer; 2] = [Recognizer::SelfNodeClient, Recognizer::NodeClient];

    /// The subresource of `certificatesigningrequests` the requester needs `create` on.
    pub fn subresource(self) -> &'static str {
        match self {
            Recognizer::SelfNodeClient => "selfnodeclient",
            Recognizer::NodeClient => "nodeclient",
        }
    }

    /// The message of the `Approved` condition (upstream's `successMessage`).
    pub fn success_message(self) -> &'static str {
        match self {
            Recognizer::SelfNodeClient => {
                "Auto approving self kubelet client certificate after SubjectAccessReview."
            }
            Recognizer::NodeClient => {
                "Auto approving kubelet client certificate after SubjectAccessReview."
            }
        }
    }

    /// `isSelfNodeClientCert` / `isNodeClientCert`.
    pub fn recognizes(self, csr: &CertificateSigningRequest, req: &ParsedRequest) -> bool {
        match self {
            Recognizer::SelfNodeClient => {
                csr.spec.username.as_deref().unwrap_or_default() == req.common_name
                    && is_node_client(csr, req)
            }
            Recognizer::NodeClient => is_node_client(csr, req),
        }
    }
}

fn is_node_client(csr: &CertificateSigningRequest, req: &ParsedRequest) -> bool {
    csr.spec.signer_name == KUBE_APISERVER_CLIENT_KUBELET_SIGNER
        && is_kubelet_client(req, csr.spec.usages.as_deref().unwrap_or_default())
}

/// One SubjectAccessReview to create, and what to do if it is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub recognizer: Recognizer,
    /// The requester (user, groups, uid, extra from the CSR's spec) asking for `create` on
    /// `certificatesigningrequests/<subresource>` in `certificates.k8s.io`.
    pub spec: SubjectAccessReviewSpec,
}

impl Review {
    /// The condition to append when this review is allowed.
    pub fn approved_condition(&self, now: Timestamp) -> CertificateSigningRequestCondition {
        true_condition(
            CONDITION_APPROVED,
            APPROVED_REASON,
            self.recognizer.success_message(),
            now,
        )
    }
}

/// What the approver does with one CSR.
#[derive(Debug, Clone, PartialEq)]
pub enum Approval {
    /// Already issued or decided, or not a kubelet client request: nothing to do.
    Skip,
    /// Ask these reviews in order; approve on the first allowed.
    NeedsSubjectAccessReview { reviews: Vec<Review> },
}

/// Whether the approver looks at this CSR at all: no certificate yet, and neither approved
/// nor denied (`GetCertApprovalCondition`, whatever the conditions' status).
pub fn is_undecided(csr: &CertificateSigningRequest) -> bool {
    !is_issued(csr) && !has_approved_condition(csr) && !is_denied(csr)
}

/// Upstream's `handle` up to the SubjectAccessReviews, for an already parsed request.
pub fn approval(csr: &CertificateSigningRequest, req: &ParsedRequest) -> Approval {
    if !is_undecided(csr) {
        return Approval::Skip;
    }
    let reviews: Vec<Review> = Recognizer::ALL
        .into_iter()
        .filter(|r| r.recognizes(csr, req))
        .map(|recognizer| Review {
            recognizer,
            spec: review_spec(csr, recognizer),
        })
        .collect();
    if reviews.is_empty() {
        Approval::Skip
    } else {
        Approval::NeedsSubjectAccessReview { reviews }
    }
}

/// [`approval`] straight from the CSR, parsing `spec.request` only when it matters. Unlike
/// upstream, which parses every undecided request before its recognizers look at the signer
/// name, a request for another signer is skipped unparsed: neither recognizer could accept it,
/// and a malformed one is the business of its own signer.
pub fn decide_approval(csr: &CertificateSigningRequest) -> Result<Approval, RequestError> {
    if !is_undecided(csr) || csr.spec.signer_name != KUBE_APISERVER_CLIENT_KUBELET_SIGNER {
        return Ok(Approval::Skip);
    }
    let req = parse(&csr.spec.request.0)?;
    Ok(approval(csr, &req))
}

/// The SubjectAccessReview upstream's `authorize` builds: the CSR's requester asking for
/// `create` on the recognizer's subresource.
pub fn review_spec(
    csr: &CertificateSigningRequest,
    recognizer: Recognizer,
) -> SubjectAccessReviewSpec {
    SubjectAccessReviewSpec {
        user: csr.spec.username.clone(),
        uid: csr.spec.uid.clone(),
        groups: csr.spec.groups.clone(),
        extra: csr.spec.extra.clone(),
        resource_attributes: Some(ResourceAttributes {
            group: Some("certificates.k8s.io".to_string()),
            resource: Some("certificatesigningrequests".to_string()),
            verb: Some("create".to_string()),
            subresource: Some(recognizer.subresource().to_string()),
            ..ResourceAttributes::default()
        }),
        non_resource_attributes: None,
    }
}

/// The error upstream returns when every review was refused.
pub fn not_approved_message(csr_name: &str, reviews: &[Review]) -> String {
    let tried: Vec<&str> = reviews.iter().map(|r| r.recognizer.subresource()).collect();
    format!(
        "recognized csr {csr_name:?} as [{}] but subject access review was not approved",
        tried.join(" ")
    )
}

#[cfg(test)]
#[path = "approve_tests.rs"]
mod tests;

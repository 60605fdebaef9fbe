//! Whether a request fits a Kubernetes signer: the kubelet client and serving shapes of
//! upstream's `pkg/apis/certificates/helpers.go` (`ValidateKubeletClientCSR`,
//! `ValidateKubeletServingCSR`, their `Is…` forms) and the client usages of
//! `pkg/controller/certificates/signer/signer.go` (`validAPIServerClientUsages`). The error
//! texts are upstream's: they end up in the `Failed` condition's message.
//!
//! Left out: upstream's newest ML-DSA key usage rule (`ValidateMLDSAKeyUsages`), since such
//! requests cannot be parsed here (see `request.rs`).

use std::collections::BTreeSet;

use super::request::ParsedRequest;

pub const USAGE_DIGITAL_SIGNATURE: &str = "digital signature";
pub const USAGE_KEY_ENCIPHERMENT: &str = "key encipherment";
pub const USAGE_CLIENT_AUTH: &str = "client auth";
pub const USAGE_SERVER_AUTH: &str = "server auth";

/// The one organization kubelet certificates carry.
const NODES_GROUP: &str = "system:nodes";
/// The prefix of a node's user name.
const NODE_USER_PREFIX: &str = "system:node:";

/// Kubelet client usages with an RSA key (`kubeletClientRequiredUsages`), sorted as Go's
/// `sets.String.List` prints them.
const KUBELET_CLIENT_USAGES: [&str; 3] = [
    USAGE_CLIENT_AUTH,
    USAGE_DIGITAL_SIGNATURE,
    USAGE_KEY_ENCIPHERMENT,
];
/// Kubelet client usages without key encipherment (`kubeletClientRequiredUsagesNoRSA`).
const KUBELET_CLIENT_USAGES_NO_RSA: [&str; 2] = [USAGE_CLIENT_AUTH, USAGE_DIGITAL_SIGNATURE];
/// Kubelet serving usages with an RSA key (`kubeletServingRequiredUsages`).
const KUBELET_SERVING_USAGES: [&str; 3] = [
    USAGE_DIGITAL_SIGNATURE,
    USAGE_KEY_ENCIPHERMENT,
    USAGE_SERVER_AUTH,
];
/// Kubelet serving usages without key encipherment (`kubeletServingRequiredUsagesNoRSA`).
const KUBELET_SERVING_USAGES_NO_RSA: [&str; 2] = [USAGE_DIGITAL_SIGNATURE, USAGE_SERVER_AUTH];

/// Why a request does not fit its signer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("subject organization is not system:nodes")]
    OrganizationNotSystemNodes,
    #[error("subject common name does not begin with system:node:")]
    CommonNameNotSystemNode,
    #[error("DNS or IP subjectAltName is required")]
    DnsOrIpSanRequired,
    #[error("DNS subjectAltNames are not allowed")]
    DnsSanNotAllowed,
    #[error("Email subjectAltNames are not allowed")]
    EmailSanNotAllowed,
    #[error("IP subjectAltNames are not allowed")]
    IpSanNotAllowed,
    #[error("URI subjectAltNames are not allowed")]
    UriSanNotAllowed,
    /// The usages are not one of the allowed sets; names the full (RSA) set, as upstream.
    #[error("usages did not match [{}]", .0.join(" "))]
    UsagesDidNotMatch(&'static [&'static str]),
    #[error("invalid usage for client certificate: {0}")]
    InvalidClientUsage(String),
    #[error("missing required usage for client certificate: client auth")]
    MissingClientAuth,
}

fn usage_set(usages: &[String]) -> BTreeSet<&str> {
    usages.iter().map(String::as_str).collect()
}

fn is_one_of(usages: &[String], allowed: &[&[&str]]) -> bool {
    let have = usage_set(usages);
    allowed
        .iter()
        .any(|set| have == set.iter().copied().collect::<BTreeSet<_>>())
}

fn only_nodes_group(req: &ParsedRequest) -> bool {
    req.organizations.len() == 1 && req.organizations[0] == NODES_GROUP
}

/// `ValidateKubeletClientCSR`: O exactly `system:nodes`, no SANs, CN `system:node:…`, usages
/// exactly {digital signature, (key encipherment,) client auth}. Checked in upstream's order,
/// so the first failing rule is the one reported.
pub fn validate_kubelet_client(
    req: &ParsedRequest,
    usages: &[String],
) -> Result<(), ValidationError> {
    if !only_nodes_group(req) {
        return Err(ValidationError::OrganizationNotSystemNodes);
    }
    if !req.dns_names.is_empty() {
        return Err(ValidationError::DnsSanNotAllowed);
    }
    if !req.email_addresses.is_empty() {
        return Err(ValidationError::EmailSanNotAllowed);
    }
    if !req.ip_addresses.is_empty() {
        return Err(ValidationError::IpSanNotAllowed);
    }
    if !req.uris.is_empty() {
        return Err(ValidationError::UriSanNotAllowed);
    }
    if !req.common_name.starts_with(NODE_USER_PREFIX) {
        return Err(ValidationError::CommonNameNotSystemNode);
    }
    if !is_one_of(
        usages,
        &[&KUBELET_CLIENT_USAGES, &KUBELET_CLIENT_USAGES_NO_RSA],
    ) {
        return Err(ValidationError::UsagesDidNotMatch(&KUBELET_CLIENT_USAGES));
    }
    Ok(())
}

/// `IsKubeletClientCSR`.
pub fn is_kubelet_client(req: &ParsedRequest, usages: &[String]) -> bool {
    validate_kubelet_client(req, usages).is_ok()
}

/// `ValidateKubeletServingCSR`: O exactly `system:nodes`, at least one DNS or IP SAN, no email
/// or URI SANs, usages exactly {digital signature, (key encipherment,) server auth}, CN
/// `system:node:…`.
pub fn validate_kubelet_serving(
    req: &ParsedRequest,
    usages: &[String],
) -> Result<(), ValidationError> {
    if !only_nodes_group(req) {
        return Err(ValidationError::OrganizationNotSystemNodes);
    }
    if req.dns_names.is_empty() && req.ip_addresses.is_empty() {
        return Err(ValidationError::DnsOrIpSanRequired);
    }
    if !req.email_addresses.is_empty() {
        return Err(ValidationError::EmailSanNotAllowed);
    }
    if !req.uris.is_empty() {
        return Err(ValidationError::UriSanNotAllowed);
    }
    if !is_one_of(
        usages,
        &[&KUBELET_SERVING_USAGES, &KUBELET_SERVING_USAGES_NO_RSA],
    ) {
        return Err(ValidationError::UsagesDidNotMatch(&KUBELET_SERVING_USAGES));
    }
    if !req.common_name.starts_with(NODE_USER_PREFIX) {
        return Err(ValidationError::CommonNameNotSystemNode);
    }
    Ok(())
}

/// `IsKubeletServingCSR`.
pub fn is_kubelet_serving(req: &ParsedRequest, usages: &[String]) -> bool {
    validate_kubelet_serving(req, usages).is_ok()
}

/// `validAPIServerClientUsages`: only digital signature, key encipherment and client auth,
/// and client auth among them. The subject and SANs are not restricted.
pub fn validate_apiserver_client_usages(usages: &[String]) -> Result<(), ValidationError> {
    let mut client_auth = false;
    for usage in usages {
        match usage.as_str() {
            USAGE_DIGITAL_SIGNATURE | USAGE_KEY_ENCIPHERMENT => {}
            USAGE_CLIENT_AUTH => client_auth = true,
            other => return Err(ValidationError::InvalidClientUsage(other.to_string())),
        }
    }
    if client_auth {
        Ok(())
    } else {
        Err(ValidationError::MissingClientAuth)
    }
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;

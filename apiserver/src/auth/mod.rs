//! Who is asking and may they: authentication (x509 client certificates, bearer tokens,
//! impersonation), authorization (RBAC, the Node authorizer) and the review APIs
//! (TokenReview, SubjectAccessReview and friends).
//!
//! Where things go:
//! - `mod.rs`: [`UserInfo`] and the request [`Attributes`] every authorizer decides on.
//! - `authn.rs`: the authenticator chain (certificate, static token, bootstrap token,
//!   ServiceAccount JWT, anonymous); `impersonation.rs`: `Impersonate-*` headers.
//! - `jwt.rs`: compact JWS signing and checking; `serviceaccount.rs`: bound ServiceAccount
//!   tokens (TokenRequest) and their validation; `oidc.rs`: the issuer discovery documents.
//! - `authz.rs`: the authorizer chain (system:masters, Node, RBAC) and the RBAC index;
//!   `node.rs` + `node_graph.rs`: the Node authorizer and the pod → object graph it reads.
//! - `policy.rs`: the stored bootstrap policy (reconciled at start), the node-join bindings
//!   and live ClusterRole aggregation.
//! - `rbac/`: RBAC rule matching, rule coverage (escalation prevention), ClusterRole
//!   aggregation and the upstream bootstrap policy.
//! - `review.rs`: TokenReview, SubjectAccessReview and the other review APIs.

pub mod authn;
pub mod authz;
mod impersonation;
pub mod jwt;
pub mod node;
pub mod node_graph;
pub mod oidc;
pub mod policy;
pub mod rbac;
mod review;
pub mod serviceaccount;

use std::collections::BTreeMap;

/// Groups upstream gives every user that authenticated, and every user that did not.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// The group whose members may do anything (upstream's privileged group authorizer).
pub const MASTERS_GROUP: &str = "system:masters";

/// An authenticated (or anonymous) user, as upstream's `user.Info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// What a request asks to do, as upstream's `authorizer.Attributes`: either a resource
/// request (`resource` set) or a non-resource one (`path` set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// get, list, watch, create, update, patch, delete, deletecollection; or, for
    /// non-resource requests, the lower-case HTTP method; or a special verb (impersonate,
    /// bind, escalate, use, approve, sign...).
    pub verb: String,
    pub resource_request: bool,
    pub api_group: String,
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// The URL path of a non-resource request.
    pub path: String,
    /// The request's `fieldSelector` as given (list and watch), for authorizers that allow
    /// narrowed reads (the Node authorizer's `spec.nodeName=<node>`).
    pub field_selector: String,
}

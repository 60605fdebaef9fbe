//! Admission: what every client write passes after the strategy has prepared it and before it
//! is validated and stored (upstream `k8s.io/apiserver/pkg/admission` and
//! `plugin/pkg/admission`): mutating plugins first, then validating ones, in upstream's
//! order. The server's own writes (bootstrap objects) are not admitted.
//!
//! Where things go:
//! - `mod.rs`: the [`Admission`] interface the registry calls, and [`Attributes`].
//! - `chain.rs`: the plugins in order, for one request's user.
//! - one file per plugin (`resource_quota.rs` charges `quota/` usage) (`node_restriction.rs`, `priority.rs`...), each a pair of plain
//!   functions over the typed object; `podsecurity/`: the Pod Security Standards.

mod certificates;
mod chain;
mod default_storage_class;
mod default_tolerations;
mod escalation;
mod limit_ranger;
mod node_restriction;
mod pod_security;
pub mod podsecurity;
mod priority;
mod resource_quota;
mod runtime_class;
pub(crate) mod service_account;
#[cfg(test)]
mod testing;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::ApiError;
use crate::object::KubeObject;
use crate::resources::{Resource, Subresource};

pub use chain::RequestAdmission;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// One write, as admission plugins see it.
pub struct Attributes<'a> {
    pub operation: Operation,
    pub resource: &'a Resource,
    pub subresource: Option<Subresource>,
    pub namespace: &'a str,
    /// Empty on a create with `generateName` (the name is chosen after admission).
    pub name: &'a str,
    pub dry_run: bool,
}

impl Attributes<'_> {
    /// Whether this is a write of `group`/`plural` (the main resource, not a subresource).
    pub fn is(&self, group: &str, plural: &str) -> bool {
        self.resource.group == group && self.resource.plural == plural
    }

    pub fn subresource_name(&self) -> &'static str {
        self.subresource.map_or("", Subresource::name)
    }
}

/// The admission of one request. The registry calls it on every attempt of a write, so a
/// write retried after a conflict is admitted against the object it finally replaces.
pub trait Admission: Send + Sync {
    /// Mutating plugins: may change `obj` (`old` is the current version on an update).
    fn mutate<'a>(
        &'a self,
        attrs: &'a Attributes<'a>,
        obj: &'a mut dyn KubeObject,
        old: Option<&'a dyn KubeObject>,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Validating plugins: accept or refuse; `obj` is `None` on a delete. Returns warnings
    /// for the client.
    fn validate<'a>(
        &'a self,
        attrs: &'a Attributes<'a>,
        obj: Option<&'a dyn KubeObject>,
        old: Option<&'a dyn KubeObject>,
    ) -> BoxFuture<'a, Result<Vec<String>, ApiError>>;
}

/// An [`Admission`] carried in write and delete options.
#[derive(Clone)]
pub struct AdmissionHandle(pub Arc<dyn Admission>);

impl fmt::Debug for AdmissionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdmissionHandle")
    }
}

/// Refuses a write as upstream's `admission.NewForbidden` does: `<resource> "<name>" is
/// forbidden: <why>`.
pub fn forbidden(attrs: &Attributes<'_>, why: impl fmt::Display) -> ApiError {
    ApiError::forbidden(attrs.resource, attrs.name, why)
}

//! Strategies: the small per-kind part of the registry (upstream's `rest.RESTCreateStrategy`
//! and friends, e.g. `pkg/registry/core/configmap/strategy.go`). The generic registry calls
//! the hooks in a fixed order: `prepare_for_create`/`prepare_for_update` (clear what a client
//! may not set, apply defaults), then `validate`/`validate_update`.
//!
//! Where things go: a kind (or a group of kinds) with behaviour of its own gets a file here
//! (`pod.rs`, `service.rs`, `apps.rs`, `batch.rs`, `config.rs`...); large rule sets are split
//! beside it (`pod_validation.rs`, `container_validation.rs`, `volume_validation.rs`...);
//! every other kind uses [`Plain`]. Generic metadata rules live in `meta.rs`, name and label
//! rules in `validation.rs`, shared field checks in `checks.rs`, quantities in `quantity.rs`.

pub mod apps;
pub mod batch;
pub(crate) mod checks;
pub mod config;
mod container_env;
mod container_validation;
mod cron;
pub mod event;
mod job_validation;
pub mod lease;
pub mod meta;
pub mod namespace;
pub mod networking;
pub mod node;
pub mod pod;
mod pod_defaults;
mod pod_scheduling;
mod pod_spec_validation;
mod pod_template;
mod pod_validation;
mod probe_validation;
pub(crate) mod quantity;
mod resource_validation;
pub mod service;
pub(crate) mod service_defaults;
pub(crate) mod service_validation;
mod statefulset;
#[cfg(test)]
mod testing;
pub mod validation;
mod volume_sources;
mod volume_validation;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::FieldError;

/// How a kind's names are checked (upstream's `ValidateNameFunc`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NameRule {
    /// RFC 1123 subdomain: most kinds.
    Subdomain,
    /// RFC 1123 label: namespaces, nodes' leases...
    Label,
    /// RFC 1035 label: services.
    Rfc1035Label,
    /// Any path segment (not `.`/`..`, no `/` or `%`): RBAC kinds.
    PathSegment,
    /// An IP address in canonical form: IPAddress objects.
    IpAddress,
}

/// What every served kind's struct is: a k8s-openapi resource with ObjectMeta, JSON both
/// ways.
pub trait ApiObject:
    k8s_openapi::Resource
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + Serialize
    + DeserializeOwned
    + Clone
    + PartialEq
    + Send
    + Sync
    + 'static
{
}

impl<T> ApiObject for T where
    T: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + Serialize
        + DeserializeOwned
        + Clone
        + PartialEq
        + Send
        + Sync
        + 'static
{
}

pub trait Strategy: Send + Sync + 'static {
    type Object: ApiObject;

    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }

    /// Clears what a client may not set on create and applies defaults.
    fn prepare_for_create(&self, _obj: &mut Self::Object) {}

    /// Carries over what a client may not change and applies defaults.
    fn prepare_for_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}

    /// Kind-specific validation of a new object (metadata is checked by the registry).
    fn validate(&self, _obj: &Self::Object) -> Vec<FieldError> {
        Vec::new()
    }

    fn validate_update(&self, new: &Self::Object, _old: &Self::Object) -> Vec<FieldError> {
        self.validate(new)
    }

    /// Field selectors this kind supports besides `metadata.name` and `metadata.namespace`.
    fn selectable_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// The value of one of [`Strategy::selectable_fields`].
    fn field(&self, _obj: &Self::Object, _name: &str) -> Option<String> {
        None
    }

    /// `Some(default grace period)` when a delete with a grace period only marks the object
    /// (`deletionTimestamp`) and its owner (a kubelet) finishes it; `None` deletes at once.
    fn graceful_delete(&self, _obj: &Self::Object) -> Option<i64> {
        None
    }

    /// Whether something besides `metadata.finalizers` still holds a deleted object (a
    /// namespace's `spec.finalizers`).
    fn holds_deletion(&self, _obj: &Self::Object) -> bool {
        false
    }
}

/// The strategy of a kind with no rules beyond metadata (and its name rule).
pub struct Plain<T> {
    names: NameRule,
    _kind: std::marker::PhantomData<fn() -> T>,
}

impl<T> Plain<T> {
    pub fn new() -> Plain<T> {
        Plain::named(NameRule::Subdomain)
    }

    /// A plain kind whose names follow `names` (RBAC kinds: path segments, as upstream's
    /// `ValidateRBACName`, so `system:node` is a valid name).
    pub fn named(names: NameRule) -> Plain<T> {
        Plain {
            names,
            _kind: std::marker::PhantomData,
        }
    }
}

impl<T> Default for Plain<T> {
    fn default() -> Self {
        Plain::new()
    }
}

impl<T: ApiObject> Strategy for Plain<T> {
    type Object = T;

    fn name_rule(&self) -> NameRule {
        self.names
    }
}

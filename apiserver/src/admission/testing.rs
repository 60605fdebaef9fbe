//! Builders shared by the plugins' unit tests.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use super::{Attributes, Operation};
use crate::resources::{Resource, Resources, builtin};

/// The served resource `plural` of `group`.
pub fn resource(group: &str, plural: &str) -> Arc<Resource> {
    let resources = Resources::new(builtin());
    let found = resources
        .all()
        .iter()
        .find(|r| r.group == group && r.plural == plural);
    Arc::clone(found.expect("a built-in resource"))
}

pub fn attrs(resource: &Resource, operation: Operation) -> Attributes<'_> {
    Attributes {
        operation,
        resource,
        subresource: None,
        namespace: "ns",
        name: "p",
        dry_run: false,
    }
}

/// A pod `p` in `ns` with this spec.
pub fn pod(spec: serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": spec,
    }))
    .expect("a pod")
}

//! Nodes (upstream `pkg/registry/core/node/strategy.go`).

use k8s_openapi::api::core::v1::Node;

use crate::strategy::Strategy;

pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    type Object = Node;

    fn prepare_for_update(&self, new: &mut Node, old: &Node) {
        new.status.clone_from(&old.status);
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }

    fn field(&self, node: &Node, name: &str) -> Option<String> {
        match name {
            "spec.unschedulable" => Some(
                node.spec
                    .as_ref()
                    .and_then(|s| s.unschedulable)
                    .unwrap_or(false)
                    .to_string(),
            ),
            _ => None,
        }
    }
}

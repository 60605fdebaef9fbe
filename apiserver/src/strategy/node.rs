//! Nodes (upstream `pkg/registry/core/node/strategy.go`, `ValidateNode`,
//! `ValidateNodeUpdate`). A kubelet registers its node with a status, so create keeps it; on
//! update the registry keeps the stored status for the main resource and takes the new one
//! through `/status` (where kubelets report), so the strategy leaves it alone.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Node, NodeSpec, Taint};

use crate::error::FieldError;
use crate::strategy::Strategy;
use crate::strategy::checks::{self, quote};
use crate::strategy::pod_scheduling::taint_effect;
use crate::strategy::quantity::Quantity;
use crate::strategy::resource_validation::bad_quantity;
use crate::strategy::validation;

pub struct NodeStrategy;

const CIDR_CHANGE: &str = "node updates may not change podCIDR except from \"\" to valid";

impl Strategy for NodeStrategy {
    type Object = Node;

    fn prepare_for_create(&self, node: &mut Node) {
        node_defaults(node);
    }

    fn prepare_for_update(&self, new: &mut Node, _old: &Node) {
        node_defaults(new);
    }

    fn validate(&self, node: &Node) -> Vec<FieldError> {
        let mut out = Vec::new();
        let default_spec = NodeSpec::default();
        let spec = node.spec.as_ref().unwrap_or(&default_spec);
        taints(spec.taints.as_deref().unwrap_or_default(), &mut out);
        resources(node, &mut out);
        let cidrs = spec.pod_cidrs.as_deref().unwrap_or_default();
        for (i, cidr) in cidrs.iter().enumerate() {
            checks::cidr(cidr, &format!("spec.podCIDRs[{i}]"), &mut out);
        }
        if cidrs.len() > 1 {
            let families: Vec<_> = cidrs.iter().map(|c| checks::ip_family(c)).collect();
            let dual = cidrs.len() == 2 && families[0] != families[1];
            if !dual {
                out.push(FieldError::invalid(
                    "spec.podCIDRs",
                    checks::json(cidrs),
                    "may specify no more than one CIDR for each IP family",
                ));
            }
            let mut seen = HashSet::new();
            for (i, cidr) in cidrs.iter().enumerate() {
                if !seen.insert(cidr) {
                    out.push(FieldError::duplicate(
                        format!("spec.podCIDRs[{i}]"),
                        quote(cidr),
                    ));
                }
            }
        }
        out
    }

    /// `ValidateNodeUpdate`: pod CIDRs and the provider ID are set once, by the controller
    /// manager or the cloud provider.
    fn validate_update(&self, new: &Node, old: &Node) -> Vec<FieldError> {
        let mut out = Vec::new();
        let default_spec = NodeSpec::default();
        let spec = new.spec.as_ref().unwrap_or(&default_spec);
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        resources(new, &mut out);
        let addresses = new
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_deref())
            .unwrap_or_default();
        for (i, address) in addresses.iter().enumerate() {
            if addresses[..i].contains(address) {
                let value = format!(
                    "{{\"Type\":{},\"Address\":{}}}",
                    quote(&address.type_),
                    quote(&address.address)
                );
                out.push(FieldError::duplicate(
                    format!("status.addresses[{i}]"),
                    value,
                ));
            }
        }
        let cidrs = spec.pod_cidrs.as_deref().unwrap_or_default();
        let old_cidrs = old_spec.pod_cidrs.as_deref().unwrap_or_default();
        if !old_cidrs.is_empty() {
            if cidrs.len() != old_cidrs.len() {
                out.push(FieldError::forbidden("spec.podCIDRs", CIDR_CHANGE));
            } else {
                for _ in old_cidrs.iter().zip(cidrs).filter(|(a, b)| a != b) {
                    out.push(FieldError::forbidden("spec.podCIDRs", CIDR_CHANGE));
                }
            }
        }
        let provider = |s: &NodeSpec| s.provider_id.clone().unwrap_or_default();
        if !provider(old_spec).is_empty() && provider(old_spec) != provider(spec) {
            out.push(FieldError::forbidden(
                "spec.providerID",
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        taints(spec.taints.as_deref().unwrap_or_default(), &mut out);
        if spec.external_id != old_spec.external_id {
            out.push(FieldError::forbidden(
                "spec.externalID",
                "may not be updated",
            ));
        }
        out
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

/// `SetDefaults_NodeStatus` and the v1 conversion of the pod CIDR fields: `podCIDR` is
/// always `podCIDRs[0]`, and an old client's lone `podCIDR` fills `podCIDRs`.
fn node_defaults(node: &mut Node) {
    if let Some(spec) = node.spec.as_mut() {
        let single = spec.pod_cidr.clone().filter(|c| !c.is_empty());
        if spec.pod_cidrs.as_ref().is_none_or(Vec::is_empty) {
            spec.pod_cidrs = single.map(|c| vec![c]);
        }
        if let Some(first) = spec.pod_cidrs.as_ref().and_then(|c| c.first()) {
            spec.pod_cidr = Some(first.clone());
        }
    }
    if let Some(status) = node.status.as_mut()
        && status.allocatable.is_none()
    {
        status.allocatable.clone_from(&status.capacity);
    }
}

/// `validateNodeTaints`. Upstream builds the path from `metadata` (`metadata.taints[0]`).
fn taints(list: &[Taint], out: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (i, taint) in list.iter().enumerate() {
        let at = format!("metadata.taints[{i}]");
        checks::qualified_name_field(&taint.key, &format!("{at}.key"), out);
        let value = taint.value.as_deref().unwrap_or_default();
        let errors = validation::label_value(value);
        if !errors.is_empty() {
            out.push(FieldError::invalid(
                format!("{at}.value"),
                quote(value),
                errors.join(";"),
            ));
        }
        taint_effect(&taint.effect, false, &format!("{at}.effect"), out);
        if !seen.insert((taint.effect.as_str(), taint.key.as_str())) {
            // Upstream prints the internal Taint (Go field names, no JSON tags).
            let internal = format!(
                "{{\"Key\":{},\"Value\":{},\"Effect\":{},\"TimeAdded\":{}}}",
                quote(&taint.key),
                quote(value),
                quote(&taint.effect),
                checks::json(&taint.time_added)
            );
            let mut duplicate = FieldError::duplicate(&at, internal);
            duplicate.detail = "taints must be unique by key and effect pair".to_owned();
            out.push(duplicate);
        }
    }
}

/// `ValidateNodeResources`: capacity and allocatable are valid, non-negative quantities.
fn resources(node: &Node, out: &mut Vec<FieldError>) {
    let Some(status) = &node.status else { return };
    for (list, field) in [
        (&status.capacity, "capacity"),
        (&status.allocatable, "allocatable"),
    ] {
        for (name, value) in list.iter().flatten() {
            let path = format!("status.{field}.{name}");
            match Quantity::parse(&value.0) {
                Err(_) => out.push(bad_quantity(&value.0, &path)),
                Ok(q) if q.is_negative() => {
                    out.push(FieldError::invalid(
                        path,
                        quote(&q.canonical()),
                        checks::NEGATIVE,
                    ));
                }
                Ok(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn node(spec: Value) -> Node {
        let mut n: Node = serde_json::from_value(json!({"metadata": {"name": "n1"}, "spec": spec,
            "status": {"capacity": {"cpu": "4", "pods": "110"}}}))
        .expect("node");
        NodeStrategy.prepare_for_create(&mut n);
        n
    }

    fn strings(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn node_create_rules() {
        let n = node(json!({"podCIDR": "10.244.1.0/24"}));
        assert_eq!(
            n.spec.as_ref().and_then(|s| s.pod_cidrs.clone()),
            Some(vec!["10.244.1.0/24".to_owned()])
        );
        let status = n.status.as_ref().expect("status");
        assert_eq!(status.allocatable, status.capacity);
        assert!(NodeStrategy.validate(&n).is_empty());
        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"taints": [{"key": "k", "effect": "Sometimes"}]}),
                vec![
                    "metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                ],
            ),
            (
                json!({"taints": [{"key": "k", "effect": ""}]}),
                vec!["metadata.taints[0].effect: Required value"],
            ),
            (
                json!({"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]}),
                vec![
                    "metadata.taints[1]: Duplicate value: {\"Key\":\"k\",\"Value\":\"v\",\"Effect\":\"NoSchedule\",\"TimeAdded\":null}",
                ],
            ),
            (
                json!({"podCIDRs": ["10.244.1.0/24", "10.244.2.0/24"]}),
                vec![
                    "spec.podCIDRs: Invalid value: [\"10.244.1.0/24\",\"10.244.2.0/24\"]: may specify no more than one CIDR for each IP family",
                ],
            ),
            (
                json!({"podCIDRs": ["10.244.1.1/24"]}),
                vec![
                    "spec.podCIDRs[0]: Invalid value: \"10.244.1.1/24\": must not have bits set beyond the prefix length",
                ],
            ),
        ];
        for (spec, want) in table {
            assert_eq!(
                strings(NodeStrategy.validate(&node(spec.clone()))),
                want,
                "{spec}"
            );
        }
    }

    #[test]
    fn node_update_rules() {
        let old = node(json!({"podCIDR": "10.244.1.0/24", "providerID": "kind://n1"}));
        let mut same = old.clone();
        NodeStrategy.prepare_for_update(&mut same, &old);
        assert!(NodeStrategy.validate_update(&same, &old).is_empty());
        let mut changed = node(json!({"podCIDR": "10.244.9.0/24", "providerID": "aws://n1",
                                      "unschedulable": true}));
        NodeStrategy.prepare_for_update(&mut changed, &old);
        assert_eq!(
            strings(NodeStrategy.validate_update(&changed, &old)),
            vec![
                "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
                "spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid",
            ]
        );
        let fresh = node(json!({}));
        let mut assigned = node(json!({"podCIDR": "10.244.3.0/24"}));
        NodeStrategy.prepare_for_update(&mut assigned, &fresh);
        assert!(NodeStrategy.validate_update(&assigned, &fresh).is_empty());
    }
}

//! NodeRestriction (upstream `plugin/pkg/admission/noderestriction`): what the Node
//! authorizer cannot see because it decides before the object is read. A node may create
//! only mirror pods bound to itself, update the status of and delete only its own pods,
//! write only its own Node (not its taints, nor labels reserved to the cluster), its own
//! Lease and CSINode. Token requests of nodes are checked where tokens are issued
//! (`auth/serviceaccount.rs`).

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};

use super::{Attributes, Operation, forbidden};
use crate::auth::UserInfo;
use crate::auth::node::node_identity;
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::resources::Subresource;
use crate::server::ApiServer;

pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Labels a kubelet may set on its Node although they are in the `kubernetes.io` and
/// `k8s.io` namespaces (upstream `kubeletapis.KubeletLabels`).
const KUBELET_LABELS: &[&str] = &[
    "kubernetes.io/hostname",
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "beta.kubernetes.io/arch",
    "beta.kubernetes.io/os",
];
const KUBELET_LABEL_NAMESPACES: &[&str] = &["kubelet.kubernetes.io", "node.kubernetes.io"];

fn in_domain(namespace: &str, domain: &str) -> bool {
    namespace == domain || namespace.ends_with(&format!(".{domain}"))
}

/// Whether a kubelet may not set this label (upstream `getForbiddenLabels`).
fn forbidden_label(key: &str) -> bool {
    let Some((namespace, _)) = key.split_once('/') else {
        return false;
    };
    if in_domain(namespace, "node-restriction.kubernetes.io") {
        return true;
    }
    let reserved = in_domain(namespace, "kubernetes.io") || in_domain(namespace, "k8s.io");
    let kubelet = KUBELET_LABELS.contains(&key)
        || KUBELET_LABEL_NAMESPACES
            .iter()
            .any(|ns| in_domain(namespace, ns));
    reserved && !kubelet
}

/// The labels added, removed or changed between two versions that a kubelet may not touch.
fn forbidden_changes(
    new: Option<&BTreeMap<String, String>>,
    old: Option<&BTreeMap<String, String>>,
) -> Vec<String> {
    let empty = BTreeMap::new();
    let (new, old) = (new.unwrap_or(&empty), old.unwrap_or(&empty));
    let mut keys: Vec<String> = new
        .keys()
        .chain(old.keys())
        .filter(|k| new.get(*k) != old.get(*k) && forbidden_label(k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

pub async fn validate(
    server: &ApiServer,
    user: &UserInfo,
    attrs: &Attributes<'_>,
    obj: Option<&dyn KubeObject>,
    old: Option<&dyn KubeObject>,
) -> Result<(), ApiError> {
    let Some(node) = node_identity(user) else {
        return Ok(());
    };
    let _ = server;
    let refuse = |why: String| Err(forbidden(attrs, why));
    match (attrs.resource.group, attrs.resource.plural) {
        ("", "pods") => {
            let pod = obj.or(old).and_then(|o| o.as_any().downcast_ref::<Pod>());
            let Some(pod) = pod else { return Ok(()) };
            let bound_here = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
            match (attrs.operation, attrs.subresource) {
                (Operation::Create, None) => admit_mirror_pod(node, pod).map_or(Ok(()), refuse),
                (Operation::Update, Some(Subresource::Status)) if !bound_here => refuse(format!(
                    "node {node:?} can only update pod status for pods with spec.nodeName set \
                     to itself"
                )),
                (Operation::Update, Some(Subresource::Status)) => Ok(()),
                (Operation::Delete, _) if !bound_here => refuse(format!(
                    "node {node:?} can only delete pods with spec.nodeName set to itself"
                )),
                (Operation::Delete, _) => Ok(()),
                (operation, _) => refuse(format!(
                    "unexpected operation {:?}, node {node:?} can only create and delete mirror \
                     pods",
                    operation.as_str()
                )),
            }
        }
        ("", "nodes") => {
            let object = obj.or(old);
            let name = object
                .and_then(|o| o.meta().name.clone())
                .unwrap_or_else(|| attrs.name.to_owned());
            if name != node {
                return refuse(format!(
                    "node {node:?} is not allowed to modify node {name:?}"
                ));
            }
            let new = obj.and_then(|o| o.as_any().downcast_ref::<Node>());
            let previous = old.and_then(|o| o.as_any().downcast_ref::<Node>());
            match (attrs.operation, new, previous) {
                (Operation::Create, Some(new), _) => {
                    let labels = forbidden_changes(new.metadata.labels.as_ref(), None);
                    if !labels.is_empty() {
                        return refuse(format!(
                            "node {node:?} is not allowed to set the following labels: {}",
                            labels.join(", ")
                        ));
                    }
                    Ok(())
                }
                (Operation::Update, Some(new), Some(previous)) => {
                    let taints = |n: &Node| n.spec.as_ref().and_then(|s| s.taints.clone());
                    if attrs.subresource.is_none() && taints(new) != taints(previous) {
                        return refuse(format!("node {node:?} is not allowed to modify taints"));
                    }
                    let labels = forbidden_changes(
                        new.metadata.labels.as_ref(),
                        previous.metadata.labels.as_ref(),
                    );
                    if !labels.is_empty() {
                        return refuse(format!(
                            "node {node:?} is not allowed to modify labels: {}",
                            labels.join(", ")
                        ));
                    }
                    Ok(())
                }
                _ => Ok(()),
            }
        }
        ("coordination.k8s.io", "leases") => {
            if attrs.namespace != "kube-node-lease" {
                return refuse(
                    "can only access leases in the \"kube-node-lease\" namespace".to_owned(),
                );
            }
            let lease = obj.or(old).and_then(|o| o.as_any().downcast_ref::<Lease>());
            let name = lease
                .and_then(|l| l.metadata.name.as_deref())
                .unwrap_or(attrs.name);
            if name != node {
                return refuse(
                    "can only access node lease with the same name as the requesting node"
                        .to_owned(),
                );
            }
            Ok(())
        }
        ("storage.k8s.io", "csinodes") => {
            let name = obj
                .or(old)
                .and_then(|o| o.meta().name.clone())
                .unwrap_or_else(|| attrs.name.to_owned());
            if name != node {
                return refuse(format!(
                    "node {node:?} is not allowed to modify object {name:?}"
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Why a node may not create this pod (upstream `admitPodCreate`), if it may not.
fn admit_mirror_pod(node: &str, pod: &Pod) -> Option<String> {
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION));
    if !mirror {
        return Some(format!(
            "pod does not have \"{MIRROR_ANNOTATION}\" annotation, node {node:?} can only create \
             mirror pods"
        ));
    }
    let spec = pod.spec.as_ref()?;
    if spec.node_name.as_deref() != Some(node) {
        return Some(format!(
            "node {node:?} can only create pods with spec.nodeName set to itself"
        ));
    }
    let owners = pod.metadata.owner_references.as_deref().unwrap_or_default();
    if owners.len() > 1
        || owners
            .iter()
            .any(|o| o.kind != "Node" || o.name != node || o.api_version != "v1")
    {
        return Some(format!(
            "node {node:?} can only create pods with an owner reference set to itself"
        ));
    }
    if spec
        .service_account_name
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return Some(format!(
            "node {node:?} can not create pods that reference a service account"
        ));
    }
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    let references = |what: &str| {
        Some(format!(
            "node {node:?} can not create pods that reference {what}"
        ))
    };
    if volumes.iter().any(|v| v.secret.is_some()) {
        return references("secrets");
    }
    if volumes.iter().any(|v| v.config_map.is_some()) {
        return references("configmaps");
    }
    if volumes
        .iter()
        .any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some())
    {
        return references("persistentvolumeclaims");
    }
    if spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty()) {
        return references("resourceclaims");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelets_may_set_only_their_own_labels() {
        for allowed in [
            "kubernetes.io/hostname",
            "node.kubernetes.io/instance-type",
            "kubelet.kubernetes.io/anything",
            "topology.kubernetes.io/zone",
            "example.com/team",
            "plain",
        ] {
            assert!(!forbidden_label(allowed), "{allowed}");
        }
        for refused in [
            "node-role.kubernetes.io/control-plane",
            "node-restriction.kubernetes.io/pool",
            "team.node-restriction.kubernetes.io/x",
            "k8s.io/x",
            "kubernetes.io/other",
        ] {
            assert!(forbidden_label(refused), "{refused}");
        }
        let old = BTreeMap::from([("node-role.kubernetes.io/gpu".to_owned(), "".to_owned())]);
        let same = old.clone();
        assert!(forbidden_changes(Some(&same), Some(&old)).is_empty());
        assert_eq!(
            forbidden_changes(None, Some(&old)),
            ["node-role.kubernetes.io/gpu"]
        );
    }

    #[test]
    fn a_node_creates_only_plain_mirror_pods_bound_to_itself() {
        let pod = |annotations: serde_json::Value, spec: serde_json::Value| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "static", "annotations": annotations},
                "spec": spec,
            }))
            .expect("pod")
        };
        let mirror = serde_json::json!({MIRROR_ANNOTATION: "hash"});
        let ok = pod(
            mirror.clone(),
            serde_json::json!({"nodeName": "n1", "containers": []}),
        );
        assert_eq!(admit_mirror_pod("n1", &ok), None);
        let plain = pod(serde_json::json!({}), serde_json::json!({"nodeName": "n1"}));
        assert!(admit_mirror_pod("n1", &plain).is_some_and(|m| m.contains("only create mirror")));
        let elsewhere = pod(
            mirror.clone(),
            serde_json::json!({"nodeName": "n2", "containers": []}),
        );
        assert!(admit_mirror_pod("n1", &elsewhere).is_some());
        let secret = pod(
            mirror,
            serde_json::json!({"nodeName": "n1", "containers": [],
                               "volumes": [{"name": "s", "secret": {"secretName": "x"}}]}),
        );
        assert!(admit_mirror_pod("n1", &secret).is_some_and(|m| m.ends_with("reference secrets")));
    }
}

//! What each node may read because of the pods bound to it: the secrets, configmaps,
//! PersistentVolumeClaims, ServiceAccounts and ResourceClaims its pods reference (upstream
//! `plugin/pkg/auth/authorizer/node/graph.go`, flattened: one level of references, counted,
//! so that two pods sharing a secret keep it readable until both are gone).
//!
//! Fed from the pods watch cache by one task: every event replaces the references of one pod.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{Container, EphemeralContainer, Pod, PodSpec};

/// The kinds of object a pod can make readable to its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefKind {
    Secret,
    ConfigMap,
    PersistentVolumeClaim,
    ServiceAccount,
    ResourceClaim,
}

/// `(kind, namespace, name)`.
pub type Ref = (RefKind, String, String);

#[derive(Default)]
pub struct NodeGraph {
    /// Each scheduled pod's node and references, to undo them when it changes or goes.
    pods: HashMap<(String, String), (String, Vec<Ref>)>,
    /// Per node, how many of its pods reference each object.
    nodes: HashMap<String, HashMap<Ref, u32>>,
}

impl NodeGraph {
    /// Records the current version of a pod (`None`: it was deleted).
    pub fn set_pod(&mut self, namespace: &str, name: &str, pod: Option<&Pod>) {
        let key = (namespace.to_owned(), name.to_owned());
        if let Some((node, refs)) = self.pods.remove(&key) {
            self.unlink(&node, &refs);
        }
        let Some(pod) = pod else { return };
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            return;
        };
        let refs = references(namespace, pod);
        let counts = self.nodes.entry(node.clone()).or_default();
        for r in &refs {
            *counts.entry(r.clone()).or_default() += 1;
        }
        self.pods.insert(key, (node, refs));
    }

    fn unlink(&mut self, node: &str, refs: &[Ref]) {
        let Some(counts) = self.nodes.get_mut(node) else {
            return;
        };
        for r in refs {
            if let Some(count) = counts.get_mut(r) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(r);
                }
            }
        }
        if counts.is_empty() {
            self.nodes.remove(node);
        }
    }

    /// Whether a pod on `node` references the object.
    pub fn has_path(&self, node: &str, kind: RefKind, namespace: &str, name: &str) -> bool {
        self.nodes.get(node).is_some_and(|counts| {
            counts.contains_key(&(kind, namespace.to_owned(), name.to_owned()))
        })
    }

    /// The claims (namespace, name) the pods of `node` use.
    pub fn claims_of(&self, node: &str, kind: RefKind) -> Vec<(String, String)> {
        self.nodes
            .get(node)
            .map(|counts| {
                counts
                    .keys()
                    .filter(|(k, _, _)| *k == kind)
                    .map(|(_, ns, name)| (ns.clone(), name.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `pod` (namespace, name) is bound to `node`.
    pub fn pod_on(&self, node: &str, namespace: &str, name: &str) -> bool {
        self.pods
            .get(&(namespace.to_owned(), name.to_owned()))
            .is_some_and(|(n, _)| n == node)
    }

    /// Forgets everything (before a rebuild from a snapshot).
    pub fn clear(&mut self) {
        self.pods.clear();
        self.nodes.clear();
    }
}

/// Every object a pod's spec and status name, deduplicated.
fn references(namespace: &str, pod: &Pod) -> Vec<Ref> {
    let mut refs = HashSet::new();
    let mut add = |kind: RefKind, name: &str| {
        if !name.is_empty() {
            refs.insert((kind, namespace.to_owned(), name.to_owned()));
        }
    };
    if let Some(spec) = &pod.spec {
        add(
            RefKind::ServiceAccount,
            spec.service_account_name.as_deref().unwrap_or("default"),
        );
        spec_references(pod, spec, &mut add);
    }
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.resource_claim_statuses.as_ref());
    for status in statuses.into_iter().flatten() {
        if let Some(name) = &status.resource_claim_name {
            add(RefKind::ResourceClaim, name);
        }
    }
    refs.into_iter().collect()
}

fn spec_references(pod: &Pod, spec: &PodSpec, add: &mut impl FnMut(RefKind, &str)) {
    for secret in spec.image_pull_secrets.iter().flatten() {
        add(RefKind::Secret, &secret.name);
    }
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    for volume in spec.volumes.iter().flatten() {
        if let Some(s) = &volume.secret {
            add(
                RefKind::Secret,
                s.secret_name.as_deref().unwrap_or_default(),
            );
        }
        if let Some(c) = &volume.config_map {
            add(RefKind::ConfigMap, &c.name);
        }
        if let Some(p) = &volume.persistent_volume_claim {
            add(RefKind::PersistentVolumeClaim, &p.claim_name);
        }
        if volume.ephemeral.is_some() {
            // The claim of a generic ephemeral volume is named `<pod>-<volume>`.
            add(
                RefKind::PersistentVolumeClaim,
                &format!("{pod_name}-{}", volume.name),
            );
        }
        for source in volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten())
        {
            if let Some(s) = &source.secret {
                add(RefKind::Secret, &s.name);
            }
            if let Some(c) = &source.config_map {
                add(RefKind::ConfigMap, &c.name);
            }
        }
        // Volume plugins that read credentials from a secret.
        let secret_refs = [
            volume
                .csi
                .as_ref()
                .and_then(|v| v.node_publish_secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            volume.azure_file.as_ref().map(|v| v.secret_name.as_str()),
            volume
                .cephfs
                .as_ref()
                .and_then(|v| v.secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            volume
                .cinder
                .as_ref()
                .and_then(|v| v.secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            volume
                .flex_volume
                .as_ref()
                .and_then(|v| v.secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            volume
                .iscsi
                .as_ref()
                .and_then(|v| v.secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            volume
                .rbd
                .as_ref()
                .and_then(|v| v.secret_ref.as_ref())
                .map(|r| r.name.as_str()),
            volume.scale_io.as_ref().map(|v| v.secret_ref.name.as_str()),
            volume
                .storageos
                .as_ref()
                .and_then(|v| v.secret_ref.as_ref())
                .map(|r| r.name.as_str()),
        ];
        for name in secret_refs.into_iter().flatten() {
            add(RefKind::Secret, name);
        }
    }
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for container in containers {
        container_references(container, add);
    }
    for ephemeral in spec.ephemeral_containers.iter().flatten() {
        ephemeral_references(ephemeral, add);
    }
    for claim in spec.resource_claims.iter().flatten() {
        if let Some(name) = &claim.resource_claim_name {
            add(RefKind::ResourceClaim, name);
        }
    }
}

fn container_references(container: &Container, add: &mut impl FnMut(RefKind, &str)) {
    env_references(container.env.as_deref(), container.env_from.as_deref(), add);
}

fn ephemeral_references(container: &EphemeralContainer, add: &mut impl FnMut(RefKind, &str)) {
    env_references(container.env.as_deref(), container.env_from.as_deref(), add);
}

fn env_references(
    env: Option<&[k8s_openapi::api::core::v1::EnvVar]>,
    env_from: Option<&[k8s_openapi::api::core::v1::EnvFromSource]>,
    add: &mut impl FnMut(RefKind, &str),
) {
    for source in env_from.into_iter().flatten() {
        if let Some(s) = &source.secret_ref {
            add(RefKind::Secret, &s.name);
        }
        if let Some(c) = &source.config_map_ref {
            add(RefKind::ConfigMap, &c.name);
        }
    }
    for var in env.into_iter().flatten() {
        let Some(from) = &var.value_from else {
            continue;
        };
        if let Some(s) = &from.secret_key_ref {
            add(RefKind::Secret, &s.name);
        }
        if let Some(c) = &from.config_map_key_ref {
            add(RefKind::ConfigMap, &c.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(node: Option<&str>, secret: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {
                "nodeName": node,
                "serviceAccountName": "bot",
                "containers": [{"name": "c", "env": [
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}}
                ]}],
                "volumes": [
                    {"name": "s", "secret": {"secretName": secret}},
                    {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                    {"name": "t", "projected": {"sources": [{"configMap": {"name": "ca"}}]}}
                ],
                "imagePullSecrets": [{"name": "pull"}]
            }
        }))
        .expect("pod")
    }

    #[test]
    fn a_node_reaches_what_its_pods_reference_and_nothing_else() {
        let mut graph = NodeGraph::default();
        graph.set_pod("ns", "p", Some(&pod(Some("n1"), "token")));
        for (kind, name) in [
            (RefKind::Secret, "token"),
            (RefKind::Secret, "pull"),
            (RefKind::ConfigMap, "cfg"),
            (RefKind::ConfigMap, "ca"),
            (RefKind::PersistentVolumeClaim, "data"),
            (RefKind::PersistentVolumeClaim, "p-e"),
            (RefKind::ServiceAccount, "bot"),
        ] {
            assert!(graph.has_path("n1", kind, "ns", name), "{kind:?} {name}");
            assert!(!graph.has_path("n2", kind, "ns", name), "{kind:?} {name}");
            assert!(
                !graph.has_path("n1", kind, "other", name),
                "{kind:?} {name}"
            );
        }
        assert!(graph.pod_on("n1", "ns", "p"));

        // The pod moves to another secret, then goes: nothing stays reachable.
        graph.set_pod("ns", "p", Some(&pod(Some("n1"), "token2")));
        assert!(!graph.has_path("n1", RefKind::Secret, "ns", "token"));
        assert!(graph.has_path("n1", RefKind::Secret, "ns", "token2"));
        graph.set_pod("ns", "p", None);
        assert!(!graph.has_path("n1", RefKind::Secret, "ns", "token2"));
        assert!(graph.nodes.is_empty() && graph.pods.is_empty());

        // An unscheduled pod gives no node anything.
        graph.set_pod("ns", "p", Some(&pod(None, "token")));
        assert!(graph.nodes.is_empty());
    }

    #[test]
    fn a_shared_secret_stays_reachable_while_one_pod_uses_it() {
        let mut graph = NodeGraph::default();
        graph.set_pod("ns", "a", Some(&pod(Some("n1"), "shared")));
        graph.set_pod("ns", "b", Some(&pod(Some("n1"), "shared")));
        graph.set_pod("ns", "a", None);
        assert!(graph.has_path("n1", RefKind::Secret, "ns", "shared"));
        graph.set_pod("ns", "b", None);
        assert!(!graph.has_path("n1", RefKind::Secret, "ns", "shared"));
    }
}

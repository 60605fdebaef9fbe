//! Which DaemonSets an informer event concerns (upstream's `addPod`, `updatePod`,
//! `deletePod`, `addHistory`, `updateHistory`, `deleteHistory`, `addNode` and `updateNode` of
//! `pkg/controller/daemon/daemon_controller.go`), and the expectations those events fulfil.
//! The handlers run on the informers' tasks, so they only read caches and collect keys.
//!
//! Deliberate difference: a deleted node wakes the DaemonSets that wanted a pod there
//! (upstream has no `deleteNode`; its status stays stale until another event), so that
//! `desiredNumberScheduled` follows the cluster.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ObjectMeta;

use super::controller::DaemonSetController;
use super::placement::DaemonPlacement;
use crate::replicaset::pods::{controller_of, is_pod_ready};
use crate::replicaset::selector::selecting;
use crate::runtime::informer::{Event, ObjectKey};

/// Upstream adds a second to `minReadySeconds` before looking again at a pod that became
/// Ready, so that millisecond skew does not find it not yet available.
const MIN_READY_SLACK: Duration = Duration::from_secs(1);

impl DaemonSetController {
    /// The DaemonSet controlling `meta`, by key: a `DaemonSet` controller reference whose
    /// name is in the cache with the same UID (`resolveControllerRef`).
    pub(super) fn resolve(&self, meta: &ObjectMeta) -> Option<(ObjectKey, Arc<DaemonSet>)> {
        let owner = controller_of(meta)?;
        if owner.kind != "DaemonSet" {
            return None;
        }
        let key = ObjectKey::new(meta.namespace.as_deref(), &owner.name);
        let ds = self.daemonsets.get(&key)?;
        (ds.metadata.uid.as_deref() == Some(owner.uid.as_str())).then_some((key, ds))
    }

    /// The DaemonSets of the object's namespace whose (valid, non-empty) selector matches its
    /// labels: those that may adopt an orphan.
    fn matching(&self, meta: &ObjectMeta) -> Vec<ObjectKey> {
        let candidates = self.daemonsets.list(meta.namespace.as_deref());
        selecting(
            &candidates,
            |ds| ds.spec.as_ref().map(|s| &s.selector),
            meta.labels.as_ref(),
        )
    }

    /// `addPod`, `updatePod`, `deletePod`. A pod being deleted counts as deleted: its owner
    /// need not wait for the kubelet to finish before replacing it.
    pub(super) fn pod_event(&self, event: &Event<Pod>, keys: &mut Vec<ObjectKey>) {
        let (new, old) = match event {
            Event::Applied { new, old } if new.metadata.deletion_timestamp.is_none() => {
                (new, old.as_ref())
            }
            Event::Applied { new: pod, .. } | Event::Deleted(pod) => {
                if let Some((owner, _)) = self.resolve(&pod.metadata) {
                    let pod_key = ObjectKey::of(pod.as_ref());
                    self.expectations.deletion_observed(&owner, &pod_key);
                    keys.push(owner);
                }
                return;
            }
        };
        let Some(old) = old else {
            match self.resolve(&new.metadata) {
                Some((owner, _)) => {
                    self.expectations.creation_observed(&owner);
                    keys.push(owner);
                }
                // No controller waits for an orphan: only the adopters are woken.
                None if controller_of(&new.metadata).is_none() => {
                    keys.extend(self.matching(&new.metadata));
                }
                None => {}
            }
            return;
        };
        if new.metadata.resource_version == old.metadata.resource_version {
            return;
        }
        let ref_changed = controller_of(&new.metadata) != controller_of(&old.metadata);
        if ref_changed && let Some((previous, _)) = self.resolve(&old.metadata) {
            keys.push(previous);
        }
        if let Some((owner, ds)) = self.resolve(&new.metadata) {
            let min_ready = ds
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0);
            if min_ready > 0 && !is_pod_ready(old) && is_pod_ready(new) {
                let after = Duration::from_secs(u64::try_from(min_ready).unwrap_or(0));
                if let Err(full) = self.queue.add_after(owner.clone(), after + MIN_READY_SLACK) {
                    tracing::warn!(%full, "daemonset queue");
                }
            }
            keys.push(owner);
        } else if controller_of(&new.metadata).is_none()
            && (ref_changed || new.metadata.labels != old.metadata.labels)
        {
            keys.extend(self.matching(&new.metadata));
        }
    }

    /// `addHistory`, `updateHistory`, `deleteHistory`: as pods, without expectations.
    pub(super) fn revision_event(
        &self,
        event: &Event<ControllerRevision>,
        keys: &mut Vec<ObjectKey>,
    ) {
        match event {
            Event::Applied { new, old } => {
                if let Some(old) = old {
                    if new.metadata.resource_version == old.metadata.resource_version {
                        return;
                    }
                    if controller_of(&new.metadata) != controller_of(&old.metadata)
                        && let Some((previous, _)) = self.resolve(&old.metadata)
                    {
                        keys.push(previous);
                    }
                }
                match self.resolve(&new.metadata) {
                    Some((owner, _)) => keys.push(owner),
                    None if controller_of(&new.metadata).is_none() => {
                        let changed = old.as_ref().is_none_or(|o| {
                            o.metadata.labels != new.metadata.labels
                                || controller_of(&o.metadata).is_some()
                        });
                        if changed {
                            keys.extend(self.matching(&new.metadata));
                        }
                    }
                    None => {}
                }
            }
            Event::Deleted(revision) => {
                if let Some((owner, _)) = self.resolve(&revision.metadata) {
                    keys.push(owner);
                }
            }
        }
    }

    /// `addNode`, `updateNode` (and a deleted node, see the module documentation): the
    /// DaemonSets whose placement the change may move. Placements are parsed once per batch.
    pub(super) fn node_events(&self, events: &[Event<Node>], keys: &mut Vec<ObjectKey>) {
        let relevant: Vec<&Event<Node>> = events
            .iter()
            .filter(|e| match e {
                Event::Applied {
                    new,
                    old: Some(old),
                } => !should_ignore_node_update(old, new),
                _ => true,
            })
            .collect();
        if relevant.is_empty() {
            return;
        }
        let placements = placements(&self.daemonsets.list(None));
        for event in relevant {
            keys.extend(daemonsets_for_node(&placements, event));
        }
    }
}

/// Every DaemonSet's placement rules, by key.
fn placements(daemonsets: &[Arc<DaemonSet>]) -> BTreeMap<ObjectKey, DaemonPlacement> {
    daemonsets
        .iter()
        .map(|ds| {
            let spec = ds
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .cloned()
                .unwrap_or_default();
            (ObjectKey::of(ds.as_ref()), DaemonPlacement::new(&spec))
        })
        .collect()
}

/// The DaemonSets one node event concerns: a new node, those that should run there; a
/// changed node, those whose answer changed; a deleted node, those that wanted a pod there.
fn daemonsets_for_node(
    placements: &BTreeMap<ObjectKey, DaemonPlacement>,
    event: &Event<Node>,
) -> Vec<ObjectKey> {
    placements
        .iter()
        .filter(|(_, placement)| match event {
            Event::Applied { new, old: None } => placement.check(new).should_run,
            Event::Applied {
                new,
                old: Some(old),
            } => placement.check(old) != placement.check(new),
            Event::Deleted(node) => placement.check(node).should_run,
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// `shouldIgnoreNodeUpdate`: nothing changed but the resourceVersion and conditions, and the
/// set of conditions that are True is the same (a kubelet heartbeat).
fn should_ignore_node_update(old: &Node, new: &Node) -> bool {
    let true_conditions = |node: &Node| -> Vec<String> {
        let mut types: Vec<String> = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.status == "True")
            .map(|c| c.type_.clone())
            .collect();
        types.sort();
        types.dedup();
        types
    };
    if true_conditions(old) != true_conditions(new) {
        return false;
    }
    let mut old = old.clone();
    old.metadata.resource_version = new.metadata.resource_version.clone();
    let conditions = new.status.as_ref().and_then(|s| s.conditions.clone());
    if let Some(status) = old.status.as_mut() {
        status.conditions = conditions;
    } else if conditions.is_some() {
        return false;
    }
    old == *new
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(value: serde_json::Value) -> Arc<Node> {
        Arc::new(serde_json::from_value(value).expect("valid node"))
    }

    fn daemonset(name: &str, node_selector: serde_json::Value) -> Arc<DaemonSet> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default"},
                "spec": {
                    "selector": {"matchLabels": {"app": name}},
                    "template": {"spec": {"nodeSelector": node_selector, "containers": []}},
                },
            }))
            .expect("valid daemonset"),
        )
    }

    #[test]
    fn a_heartbeat_is_ignored_but_a_new_true_condition_or_label_is_not() {
        let ready = |beat: &str, rv: &str| {
            node(json!({"metadata": {"name": "n", "resourceVersion": rv},
                "status": {"conditions": [
                    {"type": "Ready", "status": "True", "lastHeartbeatTime": beat},
                    {"type": "DiskPressure", "status": "False"}]}}))
        };
        let old = ready("2025-01-01T00:00:00Z", "1");
        assert!(should_ignore_node_update(
            &old,
            &ready("2025-01-01T00:00:10Z", "2")
        ));
        let pressure = node(json!({"metadata": {"name": "n", "resourceVersion": "3"},
            "status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "DiskPressure", "status": "True"}]}}));
        assert!(!should_ignore_node_update(&old, &pressure));
        let mut labelled = (*ready("2025-01-01T00:00:10Z", "4")).clone();
        labelled.metadata.labels = Some([("role".into(), "worker".into())].into());
        assert!(!should_ignore_node_update(&old, &labelled));
    }

    #[test]
    fn node_events_wake_the_daemonsets_whose_placement_moves() {
        let placements = placements(&[
            daemonset("everywhere", json!({})),
            daemonset("workers", json!({"role": "worker"})),
        ]);
        let keys = |event: Event<Node>| -> Vec<String> {
            daemonsets_for_node(&placements, &event)
                .iter()
                .map(|k| k.name.clone())
                .collect()
        };
        let plain = node(json!({"metadata": {"name": "n"}}));
        let worker = node(json!({"metadata": {"name": "n", "labels": {"role": "worker"}}}));
        let tainted = node(
            json!({"metadata": {"name": "n", "labels": {"role": "worker"}},
            "spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}}),
        );
        assert_eq!(
            keys(Event::Applied {
                new: Arc::clone(&plain),
                old: None
            }),
            ["everywhere"]
        );
        assert_eq!(
            keys(Event::Applied {
                new: Arc::clone(&worker),
                old: Some(Arc::clone(&plain))
            }),
            ["workers"],
            "only the DaemonSet the new label lets in"
        );
        assert_eq!(
            keys(Event::Applied {
                new: tainted,
                old: Some(Arc::clone(&worker))
            }),
            ["everywhere", "workers"],
            "a NoSchedule taint stops new pods of both"
        );
        assert_eq!(keys(Event::Deleted(worker)), ["everywhere", "workers"]);
    }
}

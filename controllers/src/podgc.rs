//! Pod garbage collection (upstream `pkg/controller/podgc/gc_controller.go`), every 20 s:
//! finished pods beyond `--terminated-pod-gc-threshold` (12,500) go, oldest first; pods bound
//! to a node that no longer exists go after the node has been missing for 40 s (checked
//! against the API, not only the cache); terminating pods that were never scheduled go at
//! once. The last two are force deletions (grace period 0): no kubelet will ever confirm them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Preconditions};
use parking_lot::Mutex;

use crate::runtime::controller::gone_or_changed;
use crate::runtime::informer::{Informer, ObjectKey};

const CHECK_PERIOD: Duration = Duration::from_secs(20);
pub const TERMINATED_THRESHOLD: usize = 12_500;
/// How long a node must be missing before its pods are collected (upstream's quarantine).
const QUARANTINE: Duration = Duration::from_secs(40);

/// What one pass deletes, decided from the caches alone.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcPlan {
    /// Finished pods beyond the threshold, oldest first.
    pub terminated: Vec<ObjectKey>,
    /// Pods whose node is missing from the cache, by node.
    pub orphaned: Vec<(ObjectKey, String)>,
    /// Terminating pods never scheduled.
    pub unscheduled_terminating: Vec<ObjectKey>,
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

/// Decides a pass over `pods` given the names of the nodes that exist.
pub fn plan(pods: &[Arc<Pod>], node_exists: impl Fn(&str) -> bool, threshold: usize) -> GcPlan {
    let mut plan = GcPlan::default();
    let mut terminated: Vec<&Arc<Pod>> = pods
        .iter()
        .filter(|p| matches!(phase(p), Some("Succeeded" | "Failed")))
        .collect();
    if terminated.len() > threshold {
        terminated.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let excess = terminated.len() - threshold;
        plan.terminated = terminated[..excess]
            .iter()
            .map(|p| ObjectKey::of(p.as_ref()))
            .collect();
    }
    for pod in pods {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        if node.is_empty() {
            if pod.metadata.deletion_timestamp.is_some() {
                plan.unscheduled_terminating
                    .push(ObjectKey::of(pod.as_ref()));
            }
        } else if !node_exists(node) {
            plan.orphaned
                .push((ObjectKey::of(pod.as_ref()), node.to_owned()));
        }
    }
    plan
}

pub struct PodGc {
    client: kube::Client,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    /// When each missing node was first found missing.
    missing_since: Mutex<HashMap<String, tokio::time::Instant>>,
}

impl PodGc {
    /// Starts the periodic passes; they end when `stopped` says so.
    pub fn start(
        client: kube::Client,
        pods: Arc<Informer<Pod>>,
        nodes: Arc<Informer<Node>>,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) {
        let gc = PodGc {
            client,
            pods,
            nodes,
            missing_since: Mutex::new(HashMap::new()),
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECK_PERIOD);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
                if let Err(error) = gc.pass().await {
                    tracing::warn!(%error, "pod garbage collection");
                }
            }
        });
    }

    async fn pass(&self) -> Result<(), kube::Error> {
        let pods = self.pods.list(None);
        let plan = plan(
            &pods,
            |node| self.nodes.get(&ObjectKey::new(None, node)).is_some(),
            TERMINATED_THRESHOLD,
        );
        for key in &plan.terminated {
            self.delete(key, None).await?;
        }
        // A node missing from the cache is asked for, and given the quarantine, before its
        // pods go: a lagging cache must not cost running pods.
        let nodes: Api<Node> = Api::all(self.client.clone());
        let mut gone_for_good = Vec::new();
        {
            let now = tokio::time::Instant::now();
            let mut missing = self.missing_since.lock();
            missing.retain(|node, _| plan.orphaned.iter().any(|(_, n)| n == node));
            for (_, node) in &plan.orphaned {
                let since = *missing.entry(node.clone()).or_insert(now);
                if now - since >= QUARANTINE && !gone_for_good.contains(node) {
                    gone_for_good.push(node.clone());
                }
            }
        }
        let mut confirmed = Vec::new();
        for node in gone_for_good {
            if nodes.get_opt(&node).await?.is_none() {
                confirmed.push(node);
            }
        }
        for (key, node) in &plan.orphaned {
            if confirmed.contains(node) {
                self.delete(key, Some(0)).await?;
            }
        }
        for key in &plan.unscheduled_terminating {
            self.delete(key, Some(0)).await?;
        }
        Ok(())
    }

    async fn delete(&self, key: &ObjectKey, grace: Option<u32>) -> Result<(), kube::Error> {
        let Some(pod) = self.pods.get(key) else {
            return Ok(());
        };
        let api: Api<Pod> = Api::namespaced(
            self.client.clone(),
            key.namespace.as_deref().unwrap_or_default(),
        );
        let params = DeleteParams {
            grace_period_seconds: grace,
            preconditions: pod.metadata.uid.clone().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&key.name, &params).await {
            Err(error) if !gone_or_changed(&error) => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: &str, phase: &str, created: i64, deleting: bool) -> Arc<Pod> {
        let created =
            k8s_openapi::jiff::Timestamp::from_second(1_800_000_000 + created).expect("t");
        let mut value = serde_json::json!({
            "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created.to_string()},
            "spec": {"containers": [], "nodeName": node},
            "status": {"phase": phase},
        });
        if deleting {
            value["metadata"]["deletionTimestamp"] = serde_json::json!(created.to_string());
        }
        Arc::new(serde_json::from_value(value).expect("pod"))
    }

    #[test]
    fn the_oldest_finished_pods_beyond_the_threshold_go() {
        let pods = vec![
            pod("new", "n1", "Succeeded", 30, false),
            pod("old", "n1", "Failed", 10, false),
            pod("mid", "n1", "Succeeded", 20, false),
            pod("running", "n1", "Running", 0, false),
        ];
        let plan = plan(&pods, |_| true, 1);
        let names: Vec<&str> = plan.terminated.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["old", "mid"]);
        assert!(plan.orphaned.is_empty());
    }

    #[test]
    fn pods_of_missing_nodes_and_unscheduled_terminating_pods_are_found() {
        let pods = vec![
            pod("orphan", "gone", "Running", 0, false),
            pod("kept", "n1", "Running", 0, false),
            pod("pending", "", "Pending", 0, true),
            pod("waiting", "", "Pending", 0, false),
        ];
        let plan = plan(&pods, |n| n == "n1", TERMINATED_THRESHOLD);
        assert_eq!(
            plan.orphaned,
            [(ObjectKey::new(Some("ns"), "orphan"), "gone".to_owned())]
        );
        assert_eq!(
            plan.unscheduled_terminating,
            [ObjectKey::new(Some("ns"), "pending")]
        );
    }
}

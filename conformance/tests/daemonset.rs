//! The DaemonSet controller through real clients: one pod per eligible node, status numbers,
//! a rolling update one node at a time, and a pod for a node that joins.
//!
//! There is no scheduler and no kubelet: a stand-in binds each pod to the node its affinity
//! names (through `pods/binding`, as the scheduler would), marks it Running and Ready, and
//! finishes graceful deletions as a kubelet does once the containers stop.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The node a daemon pod is aimed at: the single `metadata.name In [node]` term of its
/// required node affinity, which the controller writes in place of any other.
fn affinity_target(pod: &Pod) -> Option<String> {
    let terms = &pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    let [term] = terms.as_slice() else {
        return None;
    };
    let [field] = term.match_fields.as_deref()? else {
        return None;
    };
    let [node] = field.values.as_deref()? else {
        return None;
    };
    (field.key == "metadata.name" && field.operator == "In").then(|| node.clone())
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn image(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.as_deref())
        .unwrap_or("")
}

/// Stands in for the scheduler and the kubelets of `namespace`: binds each pod to its
/// affinity target, makes bound pods Running and Ready, and ends graceful deletions.
fn scheduler_and_kubelets(client: kube::Client, namespace: &str) -> tokio::task::JoinHandle<()> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    tokio::spawn(async move {
        loop {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                for pod in list.items {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    if pod.metadata.deletion_timestamp.is_some() {
                        let _ = pods
                            .delete(&name, &DeleteParams::default().grace_period(0))
                            .await;
                    } else if node_name(&pod).is_none() {
                        let Some(node) = affinity_target(&pod) else {
                            continue;
                        };
                        let binding = json!({"apiVersion": "v1", "kind": "Binding",
                            "metadata": {"name": name}, "target": {"kind": "Node", "name": node}});
                        let _ = pods
                            .create_subresource::<_, serde_json::Value>(
                                "binding",
                                &name,
                                &PostParams::default(),
                                &binding,
                            )
                            .await;
                    } else if !is_ready(&pod) {
                        let now = k8s_openapi::jiff::Timestamp::now().to_string();
                        let status = json!({"status": {"phase": "Running", "conditions": [
                            {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                        let _ = pods
                            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                            .await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// The live (not deleting) pods of the DaemonSet, by the node they are bound to.
async fn pods_by_node(pods: &Api<Pod>) -> BTreeMap<String, Vec<Pod>> {
    let mut by_node: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    let listed = pods
        .list(&ListParams::default().labels("app=agent"))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    for pod in listed {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let node = node_name(&pod)
            .map(str::to_owned)
            .or_else(|| affinity_target(&pod))
            .unwrap_or_default();
        by_node.entry(node).or_default().push(pod);
    }
    by_node
}

/// Whether the status reports `desired` pods, all scheduled, ready, available and updated,
/// for the current generation.
async fn status_settled(daemonsets: &Api<DaemonSet>, desired: i32) -> bool {
    let Ok(ds) = daemonsets.get("agent").await else {
        return false;
    };
    let generation = ds.metadata.generation;
    ds.status.is_some_and(|s| {
        s.desired_number_scheduled == desired
            && s.current_number_scheduled == desired
            && s.number_ready == desired
            && s.number_available == Some(desired)
            && s.updated_number_scheduled == Some(desired)
            && s.number_misscheduled == 0
            && s.number_unavailable.unwrap_or(0) == 0
            && s.observed_generation == generation
    })
}

const DAEMONSET: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {role: worker}
      containers:
      - name: agent
        image: busybox:1.36
"#;

/// Three nodes: a plain worker, a worker tainted `NoSchedule`, and a node the nodeSelector
/// leaves out; only the first gets a daemon pod. A fourth worker joins and gets one; a new
/// image then replaces the pods one node at a time; a worker relabelled out loses its pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_set_runs_one_pod_per_eligible_node_and_rolls_one_at_a_time() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let nodes: Api<Node> = Api::all(client.clone());
    for node in [
        json!({"metadata": {"name": "worker-a", "labels": {"role": "worker"}}}),
        json!({"metadata": {"name": "worker-tainted", "labels": {"role": "worker"}},
               "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}),
        json!({"metadata": {"name": "infra", "labels": {"role": "infra"}}}),
    ] {
        let node: Node = serde_json::from_value(node)?;
        nodes.create(&PostParams::default(), &node).await?;
    }
    let stand_in = scheduler_and_kubelets(client.clone(), "default");
    cluster
        .kubectl(&["apply", "-f", "-"], Some(DAEMONSET))
        .await
        .expect_ok("apply daemonset");
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    eventually(
        "one ready pod on worker-a, counted in the status",
        || async {
            let by_node = pods_by_node(&pods).await;
            by_node.keys().eq(["worker-a"])
                && by_node["worker-a"].len() == 1
                && is_ready(&by_node["worker-a"][0])
                && status_settled(&daemonsets, 1).await
        },
    )
    .await;
    let by_node = pods_by_node(&pods).await;
    let pod = &by_node["worker-a"][0];
    assert_eq!(affinity_target(pod).as_deref(), Some("worker-a"));
    let owner = pod
        .metadata
        .owner_references
        .as_ref()
        .and_then(|o| o.first())
        .map(|o| (o.kind.as_str(), o.name.as_str(), o.controller));
    assert_eq!(owner, Some(("DaemonSet", "agent", Some(true))));
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    assert!(
        tolerations.iter().any(|t| {
            t.key.as_deref() == Some("node.kubernetes.io/unreachable")
                && t.effect.as_deref() == Some("NoExecute")
        }),
        "daemon pods ride out node outages: {tolerations:?}"
    );
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually("a SuccessfulCreate event on the DaemonSet", || async {
        events.list(&ListParams::default()).await.is_ok_and(|l| {
            l.items.iter().any(|e| {
                e.involved_object.kind.as_deref() == Some("DaemonSet")
                    && e.reason.as_deref() == Some("SuccessfulCreate")
            })
        })
    })
    .await;

    // A worker joins: it gets its pod.
    let joining: Node = serde_json::from_value(
        json!({"metadata": {"name": "worker-b", "labels": {"role": "worker"}}}),
    )?;
    nodes.create(&PostParams::default(), &joining).await?;
    eventually("a ready pod on each plain worker", || async {
        let by_node = pods_by_node(&pods).await;
        by_node.keys().eq(["worker-a", "worker-b"])
            && by_node.values().all(|p| p.len() == 1 && is_ready(&p[0]))
            && status_settled(&daemonsets, 2).await
    })
    .await;

    cluster
        .kubectl(
            &["set", "image", "daemonset/agent", "agent=busybox:1.37"],
            None,
        )
        .await
        .expect_ok("set image");
    // maxUnavailable 1, maxSurge 0: never two pods on a node, never both nodes without a
    // ready pod.
    let mut done = false;
    let mut seen_mixed = false;
    for _ in 0..400 {
        let by_node = pods_by_node(&pods).await;
        assert!(
            by_node.keys().all(|n| n == "worker-a" || n == "worker-b"),
            "pods only on eligible nodes: {:?}",
            by_node.keys().collect::<Vec<_>>()
        );
        assert!(
            by_node.values().all(|p| p.len() == 1),
            "a node with two live pods despite maxSurge 0"
        );
        let ready_nodes = by_node.values().filter(|p| p.iter().any(is_ready)).count();
        assert!(ready_nodes >= 1, "both nodes unavailable at once");
        let images: Vec<&str> = by_node.values().flatten().map(image).collect();
        seen_mixed |= images.contains(&"busybox:1.36") && images.contains(&"busybox:1.37");
        if images == ["busybox:1.37", "busybox:1.37"]
            && ready_nodes == 2
            && status_settled(&daemonsets, 2).await
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(done, "the rollout to busybox:1.37 never finished");
    assert!(seen_mixed, "one node was replaced before the other");
    let status = cluster
        .kubectl(
            &["rollout", "status", "daemonset/agent", "--timeout=20s"],
            None,
        )
        .await
        .expect_ok("rollout status");
    assert!(status.contains("successfully rolled out"), "{status}");
    let revisions: Api<ControllerRevision> = Api::namespaced(client, "default");
    let listed = revisions
        .list(&ListParams::default().labels("app=agent"))
        .await?;
    let mut numbers: Vec<i64> = listed.items.iter().map(|r| r.revision).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2], "one revision per template");

    // A worker relabelled out of the nodeSelector loses its pod.
    let relabel = json!({"metadata": {"labels": {"role": "infra"}}});
    nodes
        .patch("worker-b", &PatchParams::default(), &Patch::Merge(&relabel))
        .await?;
    eventually("the pod leaves worker-b", || async {
        pods_by_node(&pods).await.keys().eq(["worker-a"]) && status_settled(&daemonsets, 1).await
    })
    .await;
    stand_in.abort();
    Ok(())
}

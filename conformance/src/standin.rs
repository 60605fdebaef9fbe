//! What tests do in place of the parts a test cluster lacks: kubelets (pods made Running and
//! Ready by patching their status), and counting the live pods of a selector.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

pub async fn active_pods(pods: &Api<Pod>, selector: &str) -> usize {
    pods.list(&ListParams::default().labels(selector))
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .count()
        })
        .unwrap_or(0)
}

pub fn ready_every_pod(client: kube::Client, namespace: &str) -> tokio::task::JoinHandle<()> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    tokio::spawn(async move {
        loop {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                for pod in list.items {
                    let ready = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| {
                            c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        });
                    if ready || pod.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    let now = k8s_openapi::jiff::Timestamp::now().to_string();
                    let status = json!({"status": {"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                    let name = pod.metadata.name.unwrap_or_default();
                    let _ = pods
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Stands in for the kubelets' part in deletion: a pod that is terminating (graceful
/// deletion begun) is removed once, as a kubelet does when its containers have stopped.
pub fn finish_graceful_deletions(client: kube::Client, namespace: &str) -> tokio::task::JoinHandle<()> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    tokio::spawn(async move {
        loop {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                for pod in list.items.iter().filter(|p| p.metadata.deletion_timestamp.is_some()) {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    let _ = pods.delete(&name, &kube::api::DeleteParams::default().grace_period(0)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

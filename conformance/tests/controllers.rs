//! The controllers through real clients: what a user sees happen after kubectl apply.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Polls `check` every 50 ms for up to 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {what}");
}

async fn active_pods(pods: &Api<Pod>, selector: &str) -> usize {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_set_keeps_its_pods() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
            },
        },
    }))?;
    sets.create(&PostParams::default(), &rs).await?;
    eventually("three pods", || async {
        active_pods(&pods, "app=web").await == 3
    })
    .await;
    let listed = pods.list(&ListParams::default().labels("app=web")).await?;
    for pod in &listed.items {
        let owner = pod
            .metadata
            .owner_references
            .as_ref()
            .and_then(|o| o.first());
        assert_eq!(owner.map(|o| o.name.as_str()), Some("web"));
        assert_eq!(owner.and_then(|o| o.controller), Some(true));
    }
    eventually("status counts three", || async {
        sets.get("web")
            .await
            .ok()
            .and_then(|r| r.status)
            .is_some_and(|s| s.replicas == 3)
    })
    .await;

    // A pod deleted by hand is replaced; scaling down removes the surplus.
    let victim = listed.items[0].metadata.name.clone().unwrap_or_default();
    pods.delete(&victim, &DeleteParams::default()).await?;
    eventually("replaced", || async {
        active_pods(&pods, "app=web").await == 3
            && pods.get_opt(&victim).await.ok().flatten().is_none()
    })
    .await;
    let scale = json!({"spec": {"replicas": 1}});
    sets.patch("web", &PatchParams::default(), &Patch::Merge(&scale))
        .await?;
    eventually("scaled to one", || async {
        active_pods(&pods, "app=web").await == 1
    })
    .await;

    // A pod that exists first is adopted by a new ReplicaSet instead of a new pod being made
    // (upstream's "should adopt matching pods on creation").
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stray", "labels": {"app": "adopted"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
    }))?;
    pods.create(&PostParams::default(), &orphan).await?;
    let adopter: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "adopter"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "adopted"}},
            "template": {
                "metadata": {"labels": {"app": "adopted"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
            },
        },
    }))?;
    sets.create(&PostParams::default(), &adopter).await?;
    eventually("the orphan adopted", || async {
        pods.get("stray").await.ok().is_some_and(|p| {
            p.metadata
                .owner_references
                .unwrap_or_default()
                .iter()
                .any(|o| o.name == "adopter" && o.controller == Some(true))
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        active_pods(&pods, "app=adopted").await,
        1,
        "adopted, not duplicated"
    );
    Ok(())
}

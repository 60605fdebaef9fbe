//! The controllers through real clients: what a user sees happen after kubectl apply.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually;
use ultrak8s_conformance::standin::{active_pods, is_ready, ready_every_pod};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

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

/// A ReplicationController (the v1 predecessor of ReplicaSets) through kubectl: it keeps its
/// pods, owns them as a ReplicationController, reports status, and follows `kubectl scale`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replication_controller_keeps_its_pods_through_kubectl() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let manifest = r#"
apiVersion: v1
kind: ReplicationController
metadata:
  name: legacy
spec:
  replicas: 2
  selector:
    app: legacy
  template:
    metadata:
      labels:
        app: legacy
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
"#;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(manifest))
        .await
        .expect_ok("apply rc");
    eventually("two pods", || async {
        active_pods(&pods, "app=legacy").await == 2
    })
    .await;
    let listed = pods.list(&ListParams::default().labels("app=legacy")).await?;
    for pod in &listed.items {
        let owner = pod.metadata.owner_references.as_ref().and_then(|o| o.first());
        assert_eq!(
            owner.map(|o| (o.api_version.as_str(), o.kind.as_str(), o.name.as_str())),
            Some(("v1", "ReplicationController", "legacy"))
        );
    }
    cluster
        .kubectl(&["scale", "rc", "legacy", "--replicas=4"], None)
        .await
        .expect_ok("scale rc");
    eventually("four pods and status says so", || async {
        let status = cluster
            .kubectl(&["get", "rc", "legacy", "-o", "jsonpath={.status.replicas}"], None)
            .await
            .expect_ok("get rc");
        active_pods(&pods, "app=legacy").await == 4 && status.trim() == "4"
    })
    .await;
    cluster
        .kubectl(&["delete", "rc", "legacy"], None)
        .await
        .expect_ok("delete rc");
    eventually("pods go with it", || async {
        active_pods(&pods, "app=legacy").await == 0
    })
    .await;
    Ok(())
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_rolls_out_within_its_surge_and_unavailability() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let kubelet = ready_every_pod(client.clone(), "default");
    cluster
        .kubectl(&["apply", "-f", "-"], Some(DEPLOYMENT))
        .await
        .expect_ok("apply");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(client, "default");
    eventually("four available pods of v1", || async {
        deployments
            .get("web")
            .await
            .ok()
            .and_then(|d| d.status)
            .is_some_and(|s| s.available_replicas == Some(4) && s.updated_replicas == Some(4))
    })
    .await;
    let first = sets.list(&ListParams::default()).await?.items;
    assert_eq!(first.len(), 1, "one ReplicaSet for one template");
    let first_name = first[0].metadata.name.clone().unwrap_or_default();
    assert!(first_name.starts_with("web-"));

    cluster
        .kubectl(
            &["set", "image", "deployment/web", "nginx=nginx:1.28"],
            None,
        )
        .await
        .expect_ok("set image");
    // Watch the rollout: never fewer than replicas - maxUnavailable ready pods, never more
    // than replicas + maxSurge pods.
    let mut done = false;
    for _ in 0..400 {
        let listed = pods
            .list(&ListParams::default().labels("app=web"))
            .await?
            .items;
        let live: Vec<&Pod> = listed
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let ready = live.iter().filter(|p| is_ready(p)).count();
        assert!(
            live.len() <= 5,
            "{} pods exceed replicas + maxSurge",
            live.len()
        );
        assert!(
            ready >= 3,
            "only {ready} ready pods, below replicas - maxUnavailable"
        );
        let status = deployments.get("web").await?.status.unwrap_or_default();
        let on_v2 = live.iter().all(|p| {
            p.spec
                .as_ref()
                .is_some_and(|s| s.containers[0].image.as_deref() == Some("nginx:1.28"))
        });
        if on_v2
            && live.len() == 4
            && status.updated_replicas == Some(4)
            && status.available_replicas == Some(4)
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(done, "the rollout to nginx:1.28 never finished");
    let sets_now = sets.list(&ListParams::default()).await?.items;
    assert_eq!(sets_now.len(), 2, "the old ReplicaSet is kept as history");
    let old = sets_now
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(&first_name))
        .expect("old");
    assert_eq!(old.spec.as_ref().and_then(|s| s.replicas), Some(0));
    let revision = deployments
        .get("web")
        .await?
        .metadata
        .annotations
        .unwrap_or_default();
    assert_eq!(
        revision
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("2")
    );
    let status = cluster
        .kubectl(
            &["rollout", "status", "deployment/web", "--timeout=20s"],
            None,
        )
        .await
        .expect_ok("rollout status");
    assert!(status.contains("successfully rolled out"), "{status}");
    kubelet.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_deployment_cascades_as_its_propagation_policy_says() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    cluster
        .kubectl(&["apply", "-f", "-"], Some(DEPLOYMENT))
        .await
        .expect_ok("apply");
    eventually("four pods", || async {
        active_pods(&pods, "app=web").await == 4
    })
    .await;
    // Background (kubectl's default): the Deployment goes at once, then its ReplicaSet and
    // pods are collected.
    cluster
        .kubectl(&["delete", "deployment", "web"], None)
        .await
        .expect_ok("delete");
    eventually("replica sets collected", || async {
        sets.list(&ListParams::default())
            .await
            .is_ok_and(|l| l.items.is_empty())
    })
    .await;
    eventually("pods collected", || async {
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .is_ok_and(|l| l.items.is_empty())
    })
    .await;

    // Orphan: the ReplicaSet stays, without its owner reference.
    cluster
        .kubectl(&["apply", "-f", "-"], Some(DEPLOYMENT))
        .await
        .expect_ok("apply again");
    eventually("four pods again", || async {
        active_pods(&pods, "app=web").await == 4
    })
    .await;
    cluster
        .kubectl(&["delete", "deployment", "web", "--cascade=orphan"], None)
        .await
        .expect_ok("delete orphaning");
    eventually("the ReplicaSet orphaned", || async {
        sets.list(&ListParams::default()).await.is_ok_and(|l| {
            l.items.len() == 1
                && l.items[0]
                    .metadata
                    .owner_references
                    .as_ref()
                    .is_none_or(|o| o.is_empty())
        })
    })
    .await;
    assert_eq!(active_pods(&pods, "app=web").await, 4, "its pods stay");

    // Foreground: the ReplicaSet waits for its pods before it goes.
    let name = sets.list(&ListParams::default()).await?.items[0]
        .metadata
        .name
        .clone()
        .unwrap_or_default();
    cluster
        .kubectl(
            &[
                "delete",
                "replicaset",
                &name,
                "--cascade=foreground",
                "--wait=false",
            ],
            None,
        )
        .await
        .expect_ok("delete in the foreground");
    eventually("all gone", || async {
        let no_sets = sets
            .list(&ListParams::default())
            .await
            .is_ok_and(|l| l.items.is_empty());
        let no_pods = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .is_ok_and(|l| l.items.is_empty());
        no_sets && no_pods
    })
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_metrics_are_served_on_metrics() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let text = cluster
        .kubectl(&["get", "--raw", "/metrics"], None)
        .await
        .expect_ok("get /metrics");
    for name in ["replicaset", "deployment"] {
        assert!(
            text.contains(&format!("workqueue_depth{{name=\"{name}\"}}")),
            "{text}"
        );
    }
    assert!(
        text.contains("# TYPE workqueue_work_duration_seconds histogram"),
        "{text}"
    );
    // The API server's own request metrics: kubectl's discovery GETs were counted.
    assert!(
        text.contains("# TYPE apiserver_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("apiserver_request_total{")
            && l.contains("verb=\"LIST\"")),
        "{text}"
    );
    let health = cluster
        .kubectl(&["get", "--raw", "/healthz"], None)
        .await
        .expect_ok("healthz");
    assert_eq!(health.trim(), "ok");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_candidate_leads_and_another_takes_over_when_it_stops() -> TestResult {
    use ultrak8s_controllers::runtime::leader::{LeaderConfig, run};
    let cluster = TestCluster::start().await?;
    let client = cluster.client().await?;
    let config = |identity: &str| LeaderConfig {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
        ..LeaderConfig::new("kube-system", "test-election", identity)
    };
    let api = || Api::namespaced(client.clone(), "kube-system");
    let (a_tx, mut a) = tokio::sync::watch::channel(false);
    let (b_tx, b) = tokio::sync::watch::channel(false);
    let first = tokio::spawn(run(api(), config("a"), a_tx));
    a.wait_for(|l| *l).await?;
    tokio::spawn(run(api(), config("b"), b_tx));
    // b follows while a renews.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(*a.borrow() && !*b.borrow(), "exactly one leads");
    // a stops renewing; b takes over once the lease has expired.
    first.abort();
    let mut b = b;
    tokio::time::timeout(Duration::from_secs(10), b.wait_for(|l| *l)).await??;
    let lease: k8s_openapi::api::coordination::v1::Lease = api().get("test-election").await?;
    let spec = lease.spec.unwrap_or_default();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_is_tainted_and_its_pods_evicted_after_their_toleration() -> TestResult {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::core::v1::Node;
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let now = || k8s_openapi::jiff::Timestamp::now().to_string();
    for name in ["silent", "alive"] {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        nodes.create(&PostParams::default(), &node).await?;
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
            "lastHeartbeatTime": now(), "lastTransitionTime": now()}]}});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        let lease: Lease = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now()}}))?;
        leases.create(&PostParams::default(), &lease).await?;
    }
    // "alive" renews its lease as a kubelet does; "silent" never again.
    let renewer = {
        let leases = leases.clone();
        tokio::spawn(async move {
            loop {
                let patch =
                    json!({"spec": {"renewTime": k8s_openapi::jiff::Timestamp::now().to_string()}});
                let _ = leases
                    .patch("alive", &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let pods: Api<Pod> = Api::namespaced(client, "default");
    for (name, toleration) in [
        (
            "short",
            json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 1}),
        ),
        ("forever", json!({"operator": "Exists"})),
    ] {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"nodeName": "silent", "tolerations": [toleration],
                     "containers": [{"name": "c", "image": "x"}]}}))?;
        pods.create(&PostParams::default(), &pod).await?;
    }
    eventually("the silent node is unreachable", || async {
        nodes.get("silent").await.is_ok_and(|n| {
            let tainted = n
                .spec
                .and_then(|s| s.taints)
                .unwrap_or_default()
                .iter()
                .any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute");
            let unknown = n
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "Unknown");
            tainted && unknown
        })
    })
    .await;
    eventually("the pod with a short toleration is evicted", || async {
        pods.get("short")
            .await
            .is_ok_and(|p| p.metadata.deletion_timestamp.is_some())
            || pods.get_opt("short").await.is_ok_and(|p| p.is_none())
    })
    .await;
    let forever = pods.get("forever").await?;
    assert!(
        forever.metadata.deletion_timestamp.is_none(),
        "tolerates for ever"
    );
    let alive = nodes.get("alive").await?;
    assert!(
        alive
            .spec
            .and_then(|s| s.taints)
            .unwrap_or_default()
            .is_empty(),
        "a renewing node stays"
    );
    renewer.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_gets_endpoints_and_slices_of_its_ready_pods() -> TestResult {
    use k8s_openapi::api::core::v1::{Endpoints, Node, Service};
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1",
        "labels": {"topology.kubernetes.io/zone": "zone-a"}}}))?;
    nodes.create(&PostParams::default(), &node).await?;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service: Service = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.20",
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}))?;
    services.create(&PostParams::default(), &service).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (i, ready) in [(1, true), (2, true), (3, false)] {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": format!("web-{i}"),
            "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx",
                     "ports": [{"name": "http", "containerPort": 8080}]}]}}))?;
        pods.create(&PostParams::default(), &pod).await?;
        let status = json!({"status": {"phase": "Running", "podIP": format!("10.0.0.{i}"),
            "podIPs": [{"ip": format!("10.0.0.{i}")}],
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
        pods.patch_status(
            &format!("web-{i}"),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await?;
    }
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    eventually("two ready addresses and one not ready", || async {
        endpoints
            .get("web")
            .await
            .ok()
            .and_then(|e| e.subsets)
            .is_some_and(|subsets| {
                let ready: usize = subsets
                    .iter()
                    .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
                    .sum();
                let not_ready: usize = subsets
                    .iter()
                    .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
                    .sum();
                let port = subsets
                    .first()
                    .and_then(|s| s.ports.as_ref())
                    .and_then(|p| p.first())
                    .map(|p| p.port);
                ready == 2 && not_ready == 1 && port == Some(8080)
            })
    })
    .await;
    let slices: Api<EndpointSlice> = Api::namespaced(client, "default");
    eventually("one slice with three endpoints in zone-a", || async {
        slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .is_ok_and(|l| {
                l.items.len() == 1
                    && l.items[0].endpoints.len() == 3
                    && l.items[0]
                        .endpoints
                        .iter()
                        .all(|e| e.zone.as_deref() == Some("zone-a"))
                    && l.items[0]
                        .endpoints
                        .iter()
                        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
                        .count()
                        == 2
            })
    })
    .await;
    // A pod that goes leaves both.
    pods.delete("web-1", &DeleteParams::default()).await?;
    eventually("one ready address left", || async {
        endpoints
            .get("web")
            .await
            .ok()
            .and_then(|e| e.subsets)
            .is_some_and(|subsets| {
                subsets
                    .iter()
                    .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
                    .sum::<usize>()
                    == 1
            })
    })
    .await;
    Ok(())
}

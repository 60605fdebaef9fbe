//! The StatefulSet controller through kubectl, as a user sees it: pods made one at a time in
//! ordinal order, each waiting for the one before to be Ready; a claim per pod from the
//! claim template; rolling updates and scale-downs from the highest ordinal down; the status
//! and `kubectl rollout status` following. There is no kubelet: the test makes pods Running
//! and Ready itself, which is what lets it see the ordering.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const WEB: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: nginx
  labels:
    app: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 80
    name: web
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 3
  podManagementPolicy: OrderedReady
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
"#;

/// The names of the pods not being deleted, sorted.
async fn live_pods(pods: &Api<Pod>, selector: &str) -> Vec<String> {
    let listed = pods
        .list(&ListParams::default().labels(selector))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut names: Vec<String> = listed
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

async fn status_of(sets: &Api<StatefulSet>, name: &str) -> StatefulSetStatus {
    sets.get(name)
        .await
        .ok()
        .and_then(|s| s.status)
        .unwrap_or_default()
}

/// What a kubelet would report once the pod's containers run and pass their probes.
async fn mark_ready(pods: &Api<Pod>, name: &str) -> Result<(), kube::Error> {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Stands in for kubelets: every pod of `pods` not Ready yet becomes Running and Ready.
fn ready_every_pod(pods: Api<Pod>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                for pod in list.items {
                    if is_ready(&pod) || pod.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    let name = pod.metadata.name.unwrap_or_default();
                    let _ = mark_ready(&pods, &name).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// Records, in the order the API deleted them, the names of the pods deleted from now on.
async fn record_deletions(
    pods: &Api<Pod>,
) -> Result<(Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>), kube::Error> {
    let from = pods
        .list(&ListParams::default())
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let mut stream = pods.watch(&WatchParams::default(), &from).await?.boxed();
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&deleted);
    let task = tokio::spawn(async move {
        while let Some(Ok(event)) = stream.next().await {
            if let WatchEvent::Deleted(pod) = event {
                let name = pod.metadata.name.unwrap_or_default();
                sink.lock().map(|mut d| d.push(name)).unwrap_or_default();
            }
        }
    });
    Ok((deleted, task))
}

fn names(prefix: &str, ordinals: std::ops::Range<i32>) -> Vec<String> {
    ordinals.map(|o| format!("{prefix}-{o}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_stateful_set_creates_updates_and_scales_one_ordinal_at_a_time() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let events: Api<Event> = Api::namespaced(client, "default");
    cluster
        .kubectl(&["apply", "-f", "-"], Some(WEB))
        .await
        .expect_ok("apply");

    // Each pod appears alone, and the next one only once it is Ready.
    for ordinal in 0..3 {
        let name = format!("web-{ordinal}");
        eventually(&format!("{name} made"), || async {
            live_pods(&pods, "app=web").await.contains(&name)
        })
        .await;
        // The controller has counted the new pod: had it meant to make another before this
        // one is Ready, it would have made it in the same sync.
        eventually(&format!("{name} counted"), || async {
            status_of(&sets, "web").await.replicas == ordinal + 1
        })
        .await;
        assert_eq!(
            live_pods(&pods, "app=web").await,
            names("web", 0..ordinal + 1),
            "pods beyond {name} before it is Ready"
        );
        mark_ready(&pods, &name).await?;
    }
    eventually("three ready replicas", || async {
        status_of(&sets, "web").await.ready_replicas == Some(3)
    })
    .await;

    // Identity and storage: stable names, the headless Service's subdomain, one claim each.
    let status = status_of(&sets, "web").await;
    for ordinal in 0..3 {
        let name = format!("web-{ordinal}");
        let pod = pods.get(&name).await?;
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let label = |key: &str| labels.get(key).map(String::as_str);
        assert_eq!(
            label("statefulset.kubernetes.io/pod-name"),
            Some(name.as_str())
        );
        assert_eq!(
            label("apps.kubernetes.io/pod-index"),
            Some(ordinal.to_string().as_str())
        );
        assert_eq!(
            label("controller-revision-hash"),
            status.update_revision.as_deref()
        );
        let owner = pod.metadata.owner_references.unwrap_or_default();
        assert!(
            owner
                .iter()
                .any(|o| o.kind == "StatefulSet" && o.name == "web" && o.controller == Some(true)),
            "{name} owned by web: {owner:?}"
        );
        let spec = pod.spec.unwrap_or_default();
        assert_eq!(spec.hostname.as_deref(), Some(name.as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let claim_name = format!("www-web-{ordinal}");
        let volume = spec.volumes.unwrap_or_default();
        assert!(
            volume.iter().any(|v| v.name == "www"
                && v.persistent_volume_claim
                    .as_ref()
                    .map(|c| c.claim_name.as_str())
                    == Some(claim_name.as_str())),
            "{name} mounts {claim_name}"
        );
        let claim = claims.get(&claim_name).await?;
        let claim_labels = claim.metadata.labels.unwrap_or_default();
        assert_eq!(claim_labels.get("app").map(String::as_str), Some("web"));
    }
    let recorded = events
        .list(&ListParams::default().fields("involvedObject.name=web"))
        .await?;
    assert!(
        recorded.items.iter().any(|e| {
            e.reason.as_deref() == Some("SuccessfulCreate")
                && e.message.as_deref() == Some("create Pod web-0 in StatefulSet web successful")
        }),
        "a SuccessfulCreate event for web-0"
    );

    // A new image replaces the pods from the highest ordinal down, each once the ones above
    // it are Ready again.
    let (deleted, watcher) = record_deletions(&pods).await?;
    let kubelet = ready_every_pod(pods.clone());
    cluster
        .kubectl(
            &["set", "image", "statefulset/web", "nginx=nginx:1.28"],
            None,
        )
        .await
        .expect_ok("set image");
    eventually(
        "every pod on nginx:1.28 and the rollout complete",
        || async {
            let status = status_of(&sets, "web").await;
            let listed = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .map(|l| l.items)
                .unwrap_or_default();
            let updated = listed.len() == 3
                && listed.iter().all(|p| {
                    p.spec
                        .as_ref()
                        .is_some_and(|s| s.containers[0].image.as_deref() == Some("nginx:1.28"))
                });
            updated
                && status.updated_replicas == Some(3)
                && status.ready_replicas == Some(3)
                && status.current_revision.is_some()
                && status.current_revision == status.update_revision
        },
    )
    .await;
    let replaced = deleted.lock().map(|d| d.clone()).unwrap_or_default();
    assert_eq!(
        replaced,
        ["web-2", "web-1", "web-0"],
        "replaced highest first"
    );
    watcher.abort();
    let rollout = cluster
        .kubectl(
            &["rollout", "status", "statefulset/web", "--timeout=20s"],
            None,
        )
        .await
        .expect_ok("rollout status");
    assert!(rollout.contains("complete"), "{rollout}");

    // Scaling down removes the highest ordinals first, one at a time; the claims stay.
    let (deleted, watcher) = record_deletions(&pods).await?;
    cluster
        .kubectl(&["scale", "statefulset", "web", "--replicas=1"], None)
        .await
        .expect_ok("scale");
    eventually("one pod left and counted", || async {
        live_pods(&pods, "app=web").await == ["web-0"]
            && status_of(&sets, "web").await.replicas == 1
    })
    .await;
    let removed = deleted.lock().map(|d| d.clone()).unwrap_or_default();
    assert_eq!(removed, ["web-2", "web-1"], "removed highest first");
    watcher.abort();
    kubelet.abort();
    for ordinal in 0..3 {
        claims.get(&format!("www-web-{ordinal}")).await?;
    }
    Ok(())
}

const PARALLEL: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: burst
spec:
  serviceName: burst
  replicas: 3
  podManagementPolicy: Parallel
  selector:
    matchLabels:
      app: burst
  template:
    metadata:
      labels:
        app: burst
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
"#;

/// A Parallel set makes every pod without waiting for any to be Ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_stateful_set_makes_every_pod_at_once() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client, "default");
    cluster
        .kubectl(&["apply", "-f", "-"], Some(PARALLEL))
        .await
        .expect_ok("apply");
    eventually("three pods, none Ready", || async {
        live_pods(&pods, "app=burst").await == names("burst", 0..3)
            && status_of(&sets, "burst").await.replicas == 3
    })
    .await;
    cluster
        .kubectl(&["scale", "statefulset", "burst", "--replicas=0"], None)
        .await
        .expect_ok("scale");
    eventually("all gone", || async {
        live_pods(&pods, "app=burst").await.is_empty()
    })
    .await;
    Ok(())
}

const DB: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
"#;

/// A ControllerRevision of another template already holding the name the update revision
/// would take makes the controller bump `collisionCount` and name it anew (upstream's
/// `CreateControllerRevision`); rolling back to the first template re-numbers its revision
/// rather than making a third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_revision_name_bumps_the_collision_count_and_a_rollback_renumbers() -> TestResult {
    use k8s_openapi::api::apps::v1::ControllerRevision;
    use ultrak8s_controllers::history::{hash_revision, revision_name, template_patch};

    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let revisions: Api<ControllerRevision> = Api::namespaced(client, "default");
    let kubelet = ready_every_pod(pods.clone());
    cluster
        .kubectl(&["apply", "-f", "-"], Some(DB))
        .await
        .expect_ok("apply");
    eventually("db-0 ready at the first revision", || async {
        let status = status_of(&sets, "db").await;
        status.ready_replicas == Some(1)
            && status.update_revision.is_some()
            && status.current_revision == status.update_revision
    })
    .await;
    let first = status_of(&sets, "db")
        .await
        .update_revision
        .unwrap_or_default();

    // Squat the name the nginx:1.28 template will hash to, with other data.
    let set = sets.get("db").await?;
    let mut template = set.spec.unwrap_or_default().template;
    if let Some(container) = template
        .spec
        .as_mut()
        .and_then(|s| s.containers.first_mut())
    {
        container.image = Some("nginx:1.28".into());
    }
    let squatted = revision_name("db", &hash_revision(&template_patch(&template), Some(0)));
    let squatter: ControllerRevision = serde_json::from_value(json!({
        "metadata": {"name": squatted},
        "data": {"squatter": true},
        "revision": 1,
    }))?;
    revisions.create(&Default::default(), &squatter).await?;
    cluster
        .kubectl(
            &["set", "image", "statefulset/db", "nginx=nginx:1.28"],
            None,
        )
        .await
        .expect_ok("set image");
    eventually("rolled out under another name", || async {
        let status = status_of(&sets, "db").await;
        status.collision_count == Some(1)
            && status
                .update_revision
                .as_deref()
                .is_some_and(|u| u != first && u != squatted)
            && status.current_revision == status.update_revision
            && status.updated_replicas == Some(1)
            && status.ready_replicas == Some(1)
    })
    .await;
    let squatter = revisions.get(&squatted).await?;
    assert_eq!(
        squatter.data.map(|d| d.0),
        Some(json!({"squatter": true})),
        "the other revision is left alone"
    );

    cluster
        .kubectl(
            &["set", "image", "statefulset/db", "nginx=nginx:1.27"],
            None,
        )
        .await
        .expect_ok("roll back");
    eventually("rolled back to the first revision", || async {
        let status = status_of(&sets, "db").await;
        status.update_revision.as_deref() == Some(first.as_str())
            && status.current_revision == status.update_revision
            && status.ready_replicas == Some(1)
    })
    .await;
    assert_eq!(
        revisions.get(&first).await?.revision,
        3,
        "re-numbered as the newest"
    );
    kubelet.abort();
    Ok(())
}

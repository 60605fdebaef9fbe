//! PodDisruptionBudgets through real clients: the disruption controller and the eviction API.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually;
use ultrak8s_conformance::standin::ready_every_pod;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A PodDisruptionBudget through real clients: the disruption controller keeps its status,
/// the eviction API spends its disruptions (a second eviction before the first is replaced is
/// refused with 429 and the budget's words), and a replaced, Ready pod gives it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evictions_spend_a_disruption_budget_that_its_controller_refills() -> TestResult {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use kube::api::EvictParams;
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let readiness = ready_every_pod(client.clone(), "default");
    let manifest = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: guarded
spec:
  replicas: 3
  selector:
    matchLabels: {app: guarded}
  template:
    metadata:
      labels: {app: guarded}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: guard
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: guarded}
"#;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(manifest))
        .await
        .expect_ok("apply");
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let allowed = |want: i32| {
        let budgets = budgets.clone();
        async move {
            budgets.get("guard").await.ok().and_then(|b| b.status).is_some_and(|s| {
                s.expected_pods == 3
                    && s.current_healthy == 3
                    && s.desired_healthy == 2
                    && s.disruptions_allowed == want
            })
        }
    };
    eventually("the budget allows one disruption", || allowed(1)).await;
    let ready: Vec<String> = pods
        .list(&ListParams::default().labels("app=guarded"))
        .await?
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    // No pod becomes Ready meanwhile: the replacement must not refill the budget yet.
    readiness.abort();
    pods.evict(&ready[0], &EvictParams::default()).await?;
    let refused = pods.evict(&ready[1], &EvictParams::default()).await;
    match &refused {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 429, "{status:?}");
            assert_eq!(
                status.message,
                "Cannot evict pod as it would violate the pod's disruption budget."
            );
        }
        other => panic!("a second eviction was not refused: {other:?}"),
    }
    // The evicted pod is replaced, becomes Ready, and the budget allows one again.
    let readiness = ready_every_pod(client.clone(), "default");
    eventually("the budget refilled", || async {
        allowed(1).await && pods.get_opt(&ready[0]).await.ok().flatten().is_none()
    })
    .await;
    pods.evict(&ready[1], &EvictParams::default()).await?;
    readiness.abort();
    Ok(())
}

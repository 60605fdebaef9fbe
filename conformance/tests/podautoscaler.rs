//! The HorizontalPodAutoscaler controller through kubectl, in a cluster that serves no metrics
//! API (as one without metrics-server): a Deployment below `minReplicas` or above
//! `maxReplicas` is brought to the bound; within the bounds, ScalingActive is False with the
//! reason and message upstream gives when `metrics.k8s.io` is absent, and `kubectl describe`
//! shows it. The test cluster syncs HPAs every second.


use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
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
        resources:
          requests:
            cpu: 100m
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 50
"#;

/// What a cluster without metrics-server says of a CPU metric.
const CPU_UNAVAILABLE: &str = "failed to get cpu utilization: unable to get metrics for \
    resource cpu: unable to fetch metrics from resource metrics API: the server could not find \
    the requested resource (get pods.metrics.k8s.io)";

fn replicas(deployment: &Deployment) -> Option<i32> {
    deployment.spec.as_ref().and_then(|s| s.replicas)
}

/// The HPA's condition of `type_` as (status, reason, message).
fn condition(hpa: &HorizontalPodAutoscaler, type_: &str) -> Option<(String, String, String)> {
    let conditions = hpa.status.as_ref()?.conditions.as_ref()?;
    let found = conditions.iter().find(|c| c.type_ == type_)?;
    Some((
        found.status.clone(),
        found.reason.clone().unwrap_or_default(),
        found.message.clone().unwrap_or_default(),
    ))
}

/// Whether an event about the HPA `web` has this reason and message.
async fn has_event(events: &Api<Event>, reason: &str, message: &str) -> bool {
    let Ok(list) = events.list(&ListParams::default()).await else {
        return false;
    };
    list.items.iter().any(|e| {
        e.involved_object.kind.as_deref() == Some("HorizontalPodAutoscaler")
            && e.involved_object.name.as_deref() == Some("web")
            && e.reason.as_deref() == Some(reason)
            && e.message.as_deref() == Some(message)
            && e.source.as_ref().and_then(|s| s.component.as_deref())
                == Some("horizontal-pod-autoscaler")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_without_metrics_keeps_its_target_within_bounds() -> TestResult {
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(WEB))
        .await
        .expect_ok("apply deployment and hpa");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let events: Api<Event> = Api::namespaced(client.clone(), "default");

    // One replica is below minReplicas: scaled to 2 without any metric.
    eventually("the deployment scaled up to minReplicas", || async {
        deployments
            .get("web")
            .await
            .is_ok_and(|d| replicas(&d) == Some(2))
    })
    .await;
    eventually("the rescale recorded", || {
        has_event(
            &events,
            "SuccessfulRescale",
            "New size: 2; reason: Current number of replicas below Spec.MinReplicas",
        )
    })
    .await;

    // Within the bounds now: the CPU metric cannot be read, so nothing more moves.
    eventually("ScalingActive False for want of metrics", || async {
        let Ok(hpa) = hpas.get("web").await else {
            return false;
        };
        let status = hpa.status.clone().unwrap_or_default();
        let able = condition(&hpa, "AbleToScale");
        let active = condition(&hpa, "ScalingActive");
        status.current_replicas == Some(2)
            && status.desired_replicas == 2
            && status.last_scale_time.is_some()
            && able.is_some_and(|(s, r, _)| s == "True" && r == "SucceededGetScale")
            && active.is_some_and(|(s, r, m)| {
                s == "False"
                    && r == "FailedGetResourceMetric"
                    && m == format!(
                        "the HPA was unable to compute the replica count: {CPU_UNAVAILABLE}"
                    )
            })
    })
    .await;
    eventually("the metric failure recorded", || {
        has_event(&events, "FailedGetResourceMetric", CPU_UNAVAILABLE)
    })
    .await;
    assert_eq!(replicas(&deployments.get("web").await?), Some(2));

    // Scaled by hand past maxReplicas: brought back to 5.
    cluster
        .kubectl(&["scale", "deployment/web", "--replicas=9"], None)
        .await
        .expect_ok("scale deployment");
    eventually("the deployment scaled down to maxReplicas", || async {
        deployments
            .get("web")
            .await
            .is_ok_and(|d| replicas(&d) == Some(5))
    })
    .await;
    eventually("the rescale down recorded", || {
        has_event(
            &events,
            "SuccessfulRescale",
            "New size: 5; reason: Current number of replicas above Spec.MaxReplicas",
        )
    })
    .await;
    eventually("the status follows", || async {
        hpas.get("web").await.is_ok_and(|hpa| {
            let status = hpa.status.unwrap_or_default();
            status.current_replicas == Some(5) && status.desired_replicas == 5
        })
    })
    .await;

    let described = cluster
        .kubectl(&["describe", "hpa", "web"], None)
        .await
        .expect_ok("describe hpa");
    for expected in [
        "Min replicas:",
        "Deployment pods:",
        "AbleToScale",
        "SucceededGetScale",
        "ScalingActive",
        "FailedGetResourceMetric",
        "the HPA was unable to compute the replica count",
        "SuccessfulRescale",
    ] {
        assert!(
            described.contains(expected),
            "{expected:?} not in:\n{described}"
        );
    }
    Ok(())
}

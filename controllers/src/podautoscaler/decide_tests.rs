use k8s_openapi::api::autoscaling::v1::{ScaleSpec, ScaleStatus};
use k8s_openapi::api::autoscaling::v2::{
    ContainerResourceMetricSource, CrossVersionObjectReference, ExternalMetricSource,
    HorizontalPodAutoscalerSpec, MetricIdentifier, ObjectMetricSource, PodsMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};

use super::super::metrics::{MetricsApi, go_label_selector};
use super::*;

const NO_METRICS_APIS: MetricsApis = MetricsApis {
    resource: MetricsApi::Absent,
    custom: MetricsApi::Absent,
    external: MetricsApi::Absent,
};

fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("a valid time")
}

fn hpa(min: Option<i32>, max: i32, metrics: Option<Vec<MetricSpec>>) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            generation: Some(2),
            ..ObjectMeta::default()
        },
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: "web".into(),
            },
            min_replicas: min,
            max_replicas: max,
            metrics,
            behavior: None,
        }),
        status: None,
    }
}

fn scale(replicas: i32, selector: &str) -> Scale {
    Scale {
        spec: Some(ScaleSpec {
            replicas: Some(replicas),
        }),
        status: Some(ScaleStatus {
            replicas,
            selector: Some(selector.into()),
        }),
        ..Scale::default()
    }
}

fn cpu(utilization: i32) -> MetricSpec {
    MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: "cpu".into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(utilization),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }
}

fn condition<'a>(
    status: &'a HorizontalPodAutoscalerStatus,
    type_: &str,
) -> &'a HorizontalPodAutoscalerCondition {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .expect("the condition")
}

fn reasons(events: &[HpaEvent]) -> Vec<&str> {
    events.iter().map(|e| e.reason).collect()
}

fn settled(decision: Decision) -> Outcome {
    match decision {
        Decision::Settled(outcome) => outcome,
        Decision::Rescale(rescale) => panic!("unexpected rescale to {}", rescale.replicas),
    }
}

fn rescale(decision: Decision) -> Rescale {
    match decision {
        Decision::Rescale(rescale) => rescale,
        Decision::Settled(outcome) => panic!("unexpected settled: {outcome:?}"),
    }
}

const CPU_ABSENT: &str = "failed to get cpu utilization: unable to get metrics for resource cpu: \
     unable to fetch metrics from resource metrics API: the server could not find the requested \
     resource (get pods.metrics.k8s.io)";

#[test]
fn below_min_rescales_to_min_without_metrics() {
    let hpa = hpa(Some(2), 5, Some(vec![cpu(50)]));
    let plan = rescale(decide(&hpa, &scale(1, "app=web"), &NO_METRICS_APIS, ts(10)));
    assert_eq!(plan.replicas, 2);
    assert!(!needs_metrics(&hpa, &scale(1, "app=web")));
    let outcome = plan.finish(Ok(()));
    let status = outcome.status.expect("a status to write");
    assert_eq!(status.current_replicas, Some(1));
    assert_eq!(status.desired_replicas, 2);
    assert_eq!(status.last_scale_time, Some(Time(ts(10))));
    assert_eq!(status.observed_generation, Some(2));
    let able = condition(&status, ABLE_TO_SCALE);
    assert_eq!(
        (able.status.as_str(), able.reason.as_deref()),
        ("True", Some("SucceededRescale"))
    );
    assert_eq!(
        able.message.as_deref(),
        Some("the HPA controller was able to update the target scale to 2")
    );
    // Upstream sets no ScalingActive or ScalingLimited on this path.
    assert_eq!(status.conditions.as_ref().map(Vec::len), Some(1));
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(outcome.events[0].type_, EventType::Normal);
    assert_eq!(outcome.events[0].reason, "SuccessfulRescale");
    assert_eq!(
        outcome.events[0].message,
        "New size: 2; reason: Current number of replicas below Spec.MinReplicas"
    );
}

#[test]
fn above_max_rescales_to_max() {
    let hpa = hpa(Some(2), 5, None);
    let plan = rescale(decide(&hpa, &scale(9, "app=web"), &NO_METRICS_APIS, ts(10)));
    assert_eq!(plan.replicas, 5);
    let outcome = plan.finish(Ok(()));
    assert_eq!(
        outcome.events[0].message,
        "New size: 5; reason: Current number of replicas above Spec.MaxReplicas"
    );
    let status = outcome.status.expect("a status to write");
    assert_eq!(
        (status.current_replicas, status.desired_replicas),
        (Some(9), 5)
    );
}

#[test]
fn a_failed_scale_write_says_so_and_keeps_desired() {
    let mut hpa = hpa(None, 5, None);
    hpa.status = Some(HorizontalPodAutoscalerStatus {
        desired_replicas: 3,
        ..HorizontalPodAutoscalerStatus::default()
    });
    let outcome = rescale(decide(&hpa, &scale(7, "app=web"), &NO_METRICS_APIS, ts(10)))
        .finish(Err("conflict"));
    assert_eq!(reasons(&outcome.events), ["FailedRescale"]);
    assert_eq!(
        outcome.events[0].message,
        "New size: 5; reason: Current number of replicas above Spec.MaxReplicas; error: conflict"
    );
    let status = outcome.status.expect("a status to write");
    assert_eq!(
        (status.current_replicas, status.desired_replicas),
        (Some(7), 3)
    );
    assert_eq!(status.last_scale_time, None);
    let able = condition(&status, ABLE_TO_SCALE);
    assert_eq!(
        (able.status.as_str(), able.reason.as_deref()),
        ("False", Some("FailedUpdateScale"))
    );
    assert_eq!(
        able.message.as_deref(),
        Some("the HPA controller was unable to update the target scale: conflict")
    );
}

#[test]
fn zero_replicas_disable_scaling_unless_min_is_zero() {
    let hpa_ = hpa(Some(2), 5, None);
    let outcome = settled(decide(
        &hpa_,
        &scale(0, "app=web"),
        &NO_METRICS_APIS,
        ts(10),
    ));
    assert!(outcome.events.is_empty());
    let status = outcome.status.expect("a status to write");
    let active = condition(&status, SCALING_ACTIVE);
    assert_eq!(
        (active.status.as_str(), active.reason.as_deref()),
        ("False", Some("ScalingDisabled"))
    );
    assert_eq!(
        active.message.as_deref(),
        Some("scaling is disabled since the replica count of the target is zero")
    );
    assert_eq!(
        (status.current_replicas, status.desired_replicas),
        (None, 0)
    );
    // minReplicas 0 with 0 replicas is within range: metrics are consulted.
    assert!(needs_metrics(&hpa(Some(0), 5, None), &scale(0, "app=web")));
}

#[test]
fn within_range_without_a_metrics_api_is_scaling_active_false() {
    let hpa = hpa(Some(2), 5, Some(vec![cpu(50)]));
    assert!(needs_metrics(&hpa, &scale(3, "app=web")));
    let outcome = settled(decide(&hpa, &scale(3, "app=web"), &NO_METRICS_APIS, ts(10)));
    assert_eq!(
        reasons(&outcome.events),
        ["FailedGetResourceMetric", "FailedComputeMetricsReplicas"]
    );
    assert_eq!(outcome.events[0].message, CPU_ABSENT);
    assert_eq!(
        outcome.events[1].message,
        format!(
            "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource \
             metric value: {CPU_ABSENT}"
        )
    );
    let status = outcome.status.expect("a status to write");
    let active = condition(&status, SCALING_ACTIVE);
    assert_eq!(
        (active.status.as_str(), active.reason.as_deref()),
        ("False", Some("FailedGetResourceMetric"))
    );
    assert_eq!(
        active.message.clone().expect("a message"),
        format!("the HPA was unable to compute the replica count: {CPU_ABSENT}")
    );
    assert_eq!(active.last_transition_time, Some(Time(ts(10))));
    let able = condition(&status, ABLE_TO_SCALE);
    assert_eq!(able.reason.as_deref(), Some("SucceededGetScale"));
    // desiredReplicas keeps its value (0 for a new HPA), one empty status per metric.
    assert_eq!(
        (status.current_replicas, status.desired_replicas),
        (Some(3), 0)
    );
    assert_eq!(status.current_metrics, Some(vec![MetricStatus::default()]));
    assert_eq!(status.last_scale_time, None);
}

#[test]
fn an_unchanged_status_is_not_written_and_transition_times_stay() {
    let hpa_ = hpa(Some(2), 5, None);
    let first = settled(decide(
        &hpa_,
        &scale(3, "app=web"),
        &NO_METRICS_APIS,
        ts(10),
    ));
    let mut again = hpa_.clone();
    again.status = first.status;
    let second = settled(decide(
        &again,
        &scale(3, "app=web"),
        &NO_METRICS_APIS,
        ts(99),
    ));
    assert_eq!(second.status, None);
    // Upstream records the events at every sync.
    assert_eq!(second.events.len(), 2);
}

#[test]
fn a_transition_moves_only_the_changed_condition() {
    let hpa_ = hpa(Some(2), 5, None);
    let mut failed = hpa_.clone();
    failed.status = scale_unreadable(&hpa_, "deployments.apps \"web\" not found", ts(5)).status;
    let able = condition(failed.status.as_ref().expect("a status"), ABLE_TO_SCALE);
    assert_eq!(
        able.message.as_deref(),
        Some(
            "the HPA controller was unable to get the target's current scale: deployments.apps \"web\" not found"
        )
    );
    let outcome = settled(decide(
        &failed,
        &scale(3, "app=web"),
        &NO_METRICS_APIS,
        ts(10),
    ));
    let status = outcome.status.expect("a status to write");
    let able = condition(&status, ABLE_TO_SCALE);
    assert_eq!(
        (able.status.as_str(), able.last_transition_time.clone()),
        ("True", Some(Time(ts(10))))
    );
    assert_eq!(status.conditions.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        status.conditions.as_ref().expect("conditions")[0].type_,
        ABLE_TO_SCALE
    );
}

#[test]
fn scale_unreadable_records_failed_get_scale() {
    let outcome = scale_unreadable(&hpa(None, 3, None), "boom", ts(1));
    assert_eq!(reasons(&outcome.events), ["FailedGetScale"]);
    assert_eq!(outcome.events[0].type_, EventType::Warning);
    assert_eq!(outcome.events[0].message, "boom");
    let status = outcome.status.expect("a status to write");
    // The counts are not touched on this path.
    assert_eq!(
        (status.current_replicas, status.desired_replicas),
        (None, 0)
    );
}

#[test]
fn a_scale_without_selector_is_invalid() {
    let hpa = hpa(None, 5, None);
    assert!(!needs_metrics(&hpa, &scale(2, "")));
    let outcome = settled(decide(&hpa, &scale(2, ""), &NO_METRICS_APIS, ts(1)));
    assert_eq!(
        reasons(&outcome.events),
        ["SelectorRequired", "FailedComputeMetricsReplicas"]
    );
    let status = outcome.status.expect("a status to write");
    let active = condition(&status, SCALING_ACTIVE);
    assert_eq!(active.reason.as_deref(), Some("InvalidSelector"));
    assert_eq!(status.current_metrics, None);
}

#[test]
fn no_metrics_listed_means_cpu_at_80_percent() {
    let outcome = settled(decide(
        &hpa(None, 5, None),
        &scale(2, "a=b"),
        &NO_METRICS_APIS,
        ts(1),
    ));
    assert_eq!(outcome.events[0].message, CPU_ABSENT);
}

#[test]
fn a_served_metrics_api_is_not_supported_rather_than_absent() {
    let apis = MetricsApis::from_served(["apps", "metrics.k8s.io"]);
    assert_eq!(apis.resource, MetricsApi::Served);
    assert_eq!(apis.custom, MetricsApi::Absent);
    let outcome = settled(decide(&hpa(None, 5, None), &scale(2, "a=b"), &apis, ts(1)));
    assert_eq!(
        outcome.events[0].message,
        "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch \
         metrics from resource metrics API: not supported: this controller manager does not read \
         metrics from metrics.k8s.io"
    );
    let unknown = MetricsApis::unknown("discovery: timed out");
    let outcome = settled(decide(
        &hpa(None, 5, None),
        &scale(2, "a=b"),
        &unknown,
        ts(1),
    ));
    assert!(
        outcome.events[0]
            .message
            .ends_with("resource metrics API: discovery: timed out")
    );
}

fn identifier(name: &str, selector: Option<LabelSelector>) -> MetricIdentifier {
    MetricIdentifier {
        name: name.into(),
        selector,
    }
}

fn average_value() -> MetricTarget {
    MetricTarget {
        type_: "AverageValue".into(),
        average_value: Some(Quantity("100m".into())),
        ..MetricTarget::default()
    }
}

#[test]
fn every_metric_type_fails_with_upstreams_reason_and_text() {
    let specs = vec![
        MetricSpec {
            type_: "Pods".into(),
            pods: Some(PodsMetricSource {
                metric: identifier("qps", None),
                target: average_value(),
            }),
            ..MetricSpec::default()
        },
        MetricSpec {
            type_: "Object".into(),
            object: Some(ObjectMetricSource {
                described_object: CrossVersionObjectReference {
                    api_version: Some("networking.k8s.io/v1".into()),
                    kind: "Ingress".into(),
                    name: "main".into(),
                },
                metric: identifier("requests", None),
                target: MetricTarget {
                    type_: "Value".into(),
                    value: Some(Quantity("10".into())),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        },
        MetricSpec {
            type_: "External".into(),
            external: Some(ExternalMetricSource {
                metric: identifier("queue", None),
                target: average_value(),
            }),
            ..MetricSpec::default()
        },
        MetricSpec {
            type_: "ContainerResource".into(),
            container_resource: Some(ContainerResourceMetricSource {
                container: "app".into(),
                name: "memory".into(),
                target: average_value(),
            }),
            ..MetricSpec::default()
        },
        MetricSpec {
            type_: "Bogus".into(),
            ..MetricSpec::default()
        },
    ];
    let outcome = settled(decide(
        &hpa(None, 5, Some(specs)),
        &scale(2, "a=b"),
        &NO_METRICS_APIS,
        ts(1),
    ));
    assert_eq!(
        reasons(&outcome.events),
        [
            "FailedGetPodsMetric",
            "FailedGetObjectMetric",
            "FailedGetExternalMetric",
            "FailedGetContainerResourceMetric",
            "InvalidMetricSourceType",
            "FailedComputeMetricsReplicas",
        ]
    );
    let messages: Vec<&str> = outcome.events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages[0],
        "unable to get metric qps: unable to fetch metrics from custom metrics API: no custom \
         metrics API (custom.metrics.k8s.io) registered"
    );
    assert_eq!(
        messages[1],
        "unable to get metric requests: Ingress on default main/unable to fetch metrics from \
         custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"
    );
    assert_eq!(
        messages[2],
        "unable to get external metric default/queue/nil: unable to fetch metrics from external \
         metrics API: the server could not find the requested resource (get \
         queue.external.metrics.k8s.io)"
    );
    assert_eq!(
        messages[3],
        "failed to get memory usage: unable to get metrics for resource memory: unable to fetch \
         metrics from resource metrics API: the server could not find the requested resource \
         (get pods.metrics.k8s.io)"
    );
    assert_eq!(messages[4], "unknown metric source type \"Bogus\"");
    assert_eq!(
        messages[5],
        format!(
            "invalid metrics (5 invalid out of 5), first error is: failed to get pods metric value: {}",
            messages[0]
        )
    );
    let status = outcome.status.expect("a status to write");
    assert_eq!(
        condition(&status, SCALING_ACTIVE).reason.as_deref(),
        Some("FailedGetPodsMetric")
    );
    assert_eq!(status.current_metrics.map(|m| m.len()), Some(5));
}

#[test]
fn go_prints_label_selectors_its_own_way() {
    let selector = LabelSelector {
        match_labels: Some([("app".to_string(), "web".to_string())].into()),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "In".into(),
            values: Some(vec!["a".into(), "b".into()]),
        }]),
    };
    assert_eq!(
        go_label_selector(Some(&selector)),
        "&LabelSelector{MatchLabels:map[string]string{app: web,},MatchExpressions:\
         []LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},},}"
    );
    assert_eq!(go_label_selector(None), "nil");
}

#[test]
fn target_of_parses_the_group_version() {
    let target = target_of(&hpa(None, 1, None)).expect("apps/v1");
    assert_eq!(
        (
            target.group.as_str(),
            target.version.as_str(),
            target.kind.as_str()
        ),
        ("apps", "v1", "Deployment")
    );
    let mut bad = hpa(None, 1, None);
    if let Some(spec) = bad.spec.as_mut() {
        spec.scale_target_ref.api_version = Some("a/b/c".into());
    }
    assert_eq!(
        target_of(&bad).expect_err("three parts"),
        "unexpected GroupVersion string: a/b/c"
    );
}

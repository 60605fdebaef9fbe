//! The HorizontalPodAutoscaler controller's decisions, without I/O: upstream's
//! `reconcileAutoscaler` (`pkg/controller/podautoscaler/horizontal.go`) as far as a cluster
//! without metrics lets it go. `now` is a parameter.
//!
//! The order the I/O half follows, as `reconcileAutoscaler` does:
//! 1. Resolve `spec.scaleTargetRef` ([`target_of`], then discovery) and read the target's
//!    `/scale`. On any failure, [`scale_unreadable`] gives the status and events; stop.
//! 2. If [`needs_metrics`], ask discovery which metrics APIs are served ([`MetricsApis`]).
//! 3. [`decide`]: either [`Decision::Settled`] (status and events final) or
//!    [`Decision::Rescale`]: write `replicas` to the target's `/scale` at the version read, then
//!    [`Rescale::finish`] with the write's outcome gives the status and events.
//! 4. Write the status when it changed (`updateStatusIfNeeded`), record the events.
//!
//! No metric is ever computed (see `metrics.rs`), so upstream's replica computation from
//! metrics, `normalizeDesiredReplicas` and the behaviors' stabilization windows and rate
//! limits have nothing to act on and are not here: a target outside `[minReplicas,
//! maxReplicas]` is brought to the bound without metrics, as upstream does, and a target
//! within it is left as it is, with ScalingActive False saying why.

use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus,
    MetricSpec, MetricStatus, MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::metrics::{MetricsApis, metric_failure};
use crate::disruption::parse_group_version;
use crate::runtime::events::EventType;

pub const ABLE_TO_SCALE: &str = "AbleToScale";
pub const SCALING_ACTIVE: &str = "ScalingActive";

/// `minReplicas` when unset (the API's default).
const DEFAULT_MIN_REPLICAS: i32 = 1;
/// The CPU utilization target of an HPA without metrics (`autoscaling/v2` defaulting,
/// `pkg/apis/autoscaling/v2/defaults.go`: `DefaultCPUUtilization`), applied here because the
/// API server stores such specs as written.
const DEFAULT_CPU_UTILIZATION: i32 = 80;

/// An event about the HPA (component `horizontal-pod-autoscaler`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpaEvent {
    pub type_: EventType,
    pub reason: &'static str,
    pub message: String,
}

/// What a sync ends with.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The new status, when it differs from the one read (upstream skips equal writes).
    pub status: Option<HorizontalPodAutoscalerStatus>,
    pub events: Vec<HpaEvent>,
}

/// What [`decide`] asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to write to the target.
    Settled(Outcome),
    /// The target's replicas are to change.
    Rescale(Rescale),
}

/// A scale write to make, and what follows from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescale {
    /// The target's new `spec.replicas`.
    pub replicas: i32,
    /// Why, as the SuccessfulRescale event says.
    pub reason: &'static str,
    current: i32,
    working: Working,
}

/// The scale target an HPA names, resolved from `spec.scaleTargetRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
}

/// The target of `hpa`, or why its `apiVersion` is unusable (`schema.ParseGroupVersion`).
pub fn target_of(hpa: &HorizontalPodAutoscaler) -> Result<Target, String> {
    let reference = hpa.spec.as_ref().map(|s| &s.scale_target_ref);
    let api_version = reference
        .and_then(|r| r.api_version.as_deref())
        .unwrap_or_default();
    let (group, version) = parse_group_version(api_version)?;
    Ok(Target {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: reference.map(|r| r.kind.clone()).unwrap_or_default(),
        name: reference.map(|r| r.name.clone()).unwrap_or_default(),
    })
}

/// The target's scale could not be read (or its resource not found): `error` says why.
pub fn scale_unreadable(hpa: &HorizontalPodAutoscaler, error: &str, now: Timestamp) -> Outcome {
    let mut working = Working::new(hpa, now);
    working.event(EventType::Warning, "FailedGetScale", error.to_owned());
    working.set_condition(
        ABLE_TO_SCALE,
        false,
        "FailedGetScale",
        format!("the HPA controller was unable to get the target's current scale: {error}"),
    );
    working.outcome()
}

/// Where the target's replica count stands against the HPA's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// Zero replicas with `minReplicas` above zero: autoscaling is off.
    Disabled,
    Above(i32),
    Below(i32),
    Within,
}

fn range_of(hpa: &HorizontalPodAutoscaler, current: i32) -> Range {
    let spec = hpa.spec.as_ref();
    let min = spec
        .and_then(|s| s.min_replicas)
        .unwrap_or(DEFAULT_MIN_REPLICAS);
    let max = spec.map_or(0, |s| s.max_replicas);
    if current == 0 && min != 0 {
        Range::Disabled
    } else if current > max {
        Range::Above(max)
    } else if current < min {
        Range::Below(min)
    } else {
        Range::Within
    }
}

fn current_replicas(scale: &Scale) -> i32 {
    scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn selector_of(scale: &Scale) -> &str {
    scale
        .status
        .as_ref()
        .and_then(|s| s.selector.as_deref())
        .unwrap_or_default()
}

/// Whether [`decide`] will look at metrics, so that the I/O half asks discovery only then.
pub fn needs_metrics(hpa: &HorizontalPodAutoscaler, scale: &Scale) -> bool {
    range_of(hpa, current_replicas(scale)) == Range::Within && !selector_of(scale).is_empty()
}

/// The metrics an HPA is scaled by, with the API's default when it lists none.
fn metric_specs(hpa: &HorizontalPodAutoscaler) -> Vec<MetricSpec> {
    let listed = hpa.spec.as_ref().and_then(|s| s.metrics.clone());
    match listed {
        Some(metrics) if !metrics.is_empty() => metrics,
        _ => vec![MetricSpec {
            type_: "Resource".to_owned(),
            resource: Some(ResourceMetricSource {
                name: "cpu".to_owned(),
                target: MetricTarget {
                    type_: "Utilization".to_owned(),
                    average_utilization: Some(DEFAULT_CPU_UTILIZATION),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        }],
    }
}

/// What to do with `hpa` given its target's `scale` and the metrics APIs (only consulted when
/// [`needs_metrics`]; pass anything otherwise).
pub fn decide(
    hpa: &HorizontalPodAutoscaler,
    scale: &Scale,
    apis: &MetricsApis,
    now: Timestamp,
) -> Decision {
    let mut working = Working::new(hpa, now);
    working.set_condition(
        ABLE_TO_SCALE,
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale".to_owned(),
    );
    let current = current_replicas(scale);
    let (replicas, reason) = match range_of(hpa, current) {
        Range::Disabled => {
            working.set_condition(
                SCALING_ACTIVE,
                false,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero".to_owned(),
            );
            working.set_status(current, current, None, false);
            return Decision::Settled(working.outcome());
        }
        Range::Above(max) => (max, "Current number of replicas above Spec.MaxReplicas"),
        Range::Below(min) => (min, "Current number of replicas below Spec.MinReplicas"),
        Range::Within => {
            return Decision::Settled(metrics_failed(working, hpa, scale, apis, current));
        }
    };
    Decision::Rescale(Rescale {
        replicas,
        reason,
        current,
        working,
    })
}

/// `computeReplicasForMetrics` when no metric can be computed, and what `reconcileAutoscaler`
/// does then: the replica counts stay (desiredReplicas as it was), ScalingActive False with the
/// first metric's reason.
fn metrics_failed(
    mut working: Working,
    hpa: &HorizontalPodAutoscaler,
    scale: &Scale,
    apis: &MetricsApis,
    current: i32,
) -> Outcome {
    if selector_of(scale).is_empty() {
        let message = "selector is required";
        working.event(EventType::Warning, "SelectorRequired", message.to_owned());
        working.set_condition(
            SCALING_ACTIVE,
            false,
            "InvalidSelector",
            "the HPA target's scale is missing a selector".to_owned(),
        );
        working.set_current_replicas_and_metrics(current, None);
        working.event(
            EventType::Warning,
            "FailedComputeMetricsReplicas",
            message.to_owned(),
        );
        return working.outcome();
    }
    let namespace = hpa.metadata.namespace.as_deref().unwrap_or_default();
    let specs = metric_specs(hpa);
    let failures: Vec<_> = specs
        .iter()
        .map(|spec| metric_failure(spec, namespace, apis))
        .collect();
    for failure in &failures {
        working.event(EventType::Warning, failure.reason, failure.cause.clone());
    }
    // `metric_specs` is never empty.
    if let Some(first) = failures.first() {
        working.set_condition(
            SCALING_ACTIVE,
            false,
            first.reason,
            format!(
                "the HPA was unable to compute the replica count: {}",
                first.cause
            ),
        );
        // One empty status per metric, as upstream's `make([]MetricStatus, n)` left unfilled.
        let statuses = vec![MetricStatus::default(); specs.len()];
        working.set_current_replicas_and_metrics(current, Some(statuses));
        let count = failures.len();
        working.event(
            EventType::Warning,
            "FailedComputeMetricsReplicas",
            format!(
                "invalid metrics ({count} invalid out of {count}), first error is: {}",
                first.error
            ),
        );
    }
    working.outcome()
}

impl Rescale {
    /// The status and events once the scale write ended: `Ok` when it was written, else the
    /// error's message.
    pub fn finish(self, written: Result<(), &str>) -> Outcome {
        let Rescale {
            replicas,
            reason,
            current,
            mut working,
        } = self;
        match written {
            Ok(()) => {
                working.set_condition(
                    ABLE_TO_SCALE,
                    true,
                    "SucceededRescale",
                    format!("the HPA controller was able to update the target scale to {replicas}"),
                );
                working.event(
                    EventType::Normal,
                    "SuccessfulRescale",
                    format!("New size: {replicas}; reason: {reason}"),
                );
                working.set_status(current, replicas, None, true);
            }
            Err(error) => {
                working.event(
                    EventType::Warning,
                    "FailedRescale",
                    format!("New size: {replicas}; reason: {reason}; error: {error}"),
                );
                working.set_condition(
                    ABLE_TO_SCALE,
                    false,
                    "FailedUpdateScale",
                    format!("the HPA controller was unable to update the target scale: {error}"),
                );
                working.set_current_replicas_and_metrics(current, None);
            }
        }
        working.outcome()
    }
}

/// The status being built from the one read, and the events so far.
#[derive(Debug, Clone, PartialEq)]
struct Working {
    original: HorizontalPodAutoscalerStatus,
    status: HorizontalPodAutoscalerStatus,
    generation: Option<i64>,
    events: Vec<HpaEvent>,
    now: Timestamp,
}

impl Working {
    fn new(hpa: &HorizontalPodAutoscaler, now: Timestamp) -> Working {
        let status = hpa.status.clone().unwrap_or_default();
        Working {
            original: status.clone(),
            status,
            generation: hpa.metadata.generation,
            events: Vec::new(),
            now,
        }
    }

    fn event(&mut self, type_: EventType, reason: &'static str, message: String) {
        self.events.push(HpaEvent {
            type_,
            reason,
            message,
        });
    }

    /// `setConditionInList`: replaces the condition of that type (appending it if absent);
    /// the transition time moves only when the status does.
    fn set_condition(&mut self, type_: &str, status: bool, reason: &str, message: String) {
        let status = if status { "True" } else { "False" };
        let conditions = self.status.conditions.get_or_insert_with(Vec::new);
        let index = match conditions.iter().position(|c| c.type_ == type_) {
            Some(index) => index,
            None => {
                conditions.push(HorizontalPodAutoscalerCondition {
                    type_: type_.to_owned(),
                    ..HorizontalPodAutoscalerCondition::default()
                });
                conditions.len() - 1
            }
        };
        let condition = &mut conditions[index];
        if condition.status != status {
            condition.last_transition_time = Some(Time(self.now));
        }
        condition.status = status.to_owned();
        condition.reason = Some(reason.to_owned());
        condition.message = Some(message);
    }

    /// `setStatus`: the status rebuilt from the counts, metrics and conditions; a rescale
    /// stamps `lastScaleTime`. `observedGeneration` records the generation acted on (upstream
    /// sets it from kubernetes/kubernetes#138228 on; v1.35's controller drops the field).
    fn set_status(
        &mut self,
        current: i32,
        desired: i32,
        metrics: Option<Vec<MetricStatus>>,
        rescale: bool,
    ) {
        let last_scale_time = if rescale {
            Some(Time(self.now))
        } else {
            self.status.last_scale_time.clone()
        };
        self.status = HorizontalPodAutoscalerStatus {
            // `int32` with `omitempty` upstream: zero is not written.
            current_replicas: (current != 0).then_some(current),
            desired_replicas: desired,
            last_scale_time,
            current_metrics: metrics.filter(|m| !m.is_empty()),
            conditions: self.status.conditions.take(),
            observed_generation: self.generation,
        };
    }

    /// `setCurrentReplicasAndMetricsInStatus`: desiredReplicas stays as it was.
    fn set_current_replicas_and_metrics(
        &mut self,
        current: i32,
        metrics: Option<Vec<MetricStatus>>,
    ) {
        let desired = self.status.desired_replicas;
        self.set_status(current, desired, metrics, false);
    }

    fn outcome(self) -> Outcome {
        Outcome {
            status: (self.status != self.original).then_some(self.status),
            events: self.events,
        }
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

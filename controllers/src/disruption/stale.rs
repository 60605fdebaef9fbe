//! Stale `DisruptionTarget` conditions: who disrupts a pod (the eviction API, scheduler
//! preemption, the taint manager, pod GC) first sets the condition True, then deletes the pod.
//! When the deletion never comes (the eviction was refused after all, a request failed), the
//! condition would claim a disruption forever; after [`STALE_POD_DISRUPTION_TIMEOUT`] this
//! controller sets it False. Mirrors `nonTerminatingPodHasStaleDisruptionCondition` and
//! `syncStalePodDisruption` of upstream's `pkg/controller/disruption/disruption.go`.
//!
//! The I/O half calls [`stale_disruption`] for every pod it sees added or updated, and again
//! at [`StaleDecision::RecheckAfter`]; on [`StaleDecision::Reset`] it writes the pod's status
//! (upstream uses `UpdateStatus` with the whole status; a patch of the one condition is
//! equivalent).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::replicaset::pods::is_pod_terminal;

/// How long a `DisruptionTarget` condition may stay True on a pod that is not being deleted.
pub const STALE_POD_DISRUPTION_TIMEOUT: Duration = Duration::from_secs(STALE_TIMEOUT_SECS as u64);
const STALE_TIMEOUT_SECS: i64 = 2 * 60;
/// The pod condition type (`v1.DisruptionTarget`).
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";
/// The reason with which the kubelet sets the condition (`v1.PodReasonTerminationByKubelet`);
/// the kubelet may take arbitrarily long to terminate such a pod, so it is never stale.
pub const TERMINATION_BY_KUBELET: &str = "TerminationByKubelet";

/// What to do about a pod's `DisruptionTarget` condition.
#[derive(Debug, Clone, PartialEq)]
pub enum StaleDecision {
    /// Nothing: no True condition, one the kubelet set, or a pod that is being deleted or has
    /// finished (its condition is left alone to spare a write).
    NotStale,
    /// The condition is True but not yet stale: look again after this long.
    RecheckAfter(Duration),
    /// The condition is stale: write it False.
    Reset {
        /// The new condition: `DisruptionTarget` False since now, no reason or message, the
        /// pod's generation observed (`PodObservedGenerationTracking` is on in v1.35).
        condition: PodCondition,
        /// The pod's conditions with the new one in place of the old (`UpdatePodCondition`).
        conditions: Vec<PodCondition>,
    },
}

/// Decides about `pod`'s `DisruptionTarget` condition at `now`. Any reason but the kubelet's
/// qualifies (`EvictionByEvictionAPI`, `PreemptionByScheduler`, `DeletionByTaintManager`,
/// `DeletionByPodGC`). A True condition without a transition time is stale at once, as
/// upstream measures from Go's zero time.
pub fn stale_disruption(pod: &Pod, now: Timestamp) -> StaleDecision {
    if pod.metadata.deletion_timestamp.is_some() || is_pod_terminal(pod) {
        return StaleDecision::NotStale;
    }
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let Some(condition) = conditions.iter().find(|c| c.type_ == DISRUPTION_TARGET) else {
        return StaleDecision::NotStale;
    };
    if condition.status != "True" || condition.reason.as_deref() == Some(TERMINATION_BY_KUBELET) {
        return StaleDecision::NotStale;
    }
    if let Some(since) = condition.last_transition_time.as_ref() {
        // Signed, as upstream's `timeout - clock.Since(t)`: a transition time in the future
        // (clock skew) waits longer than the timeout.
        let left = SignedDuration::from_secs(STALE_TIMEOUT_SECS) - now.duration_since(since.0);
        if left.is_positive() {
            return StaleDecision::RecheckAfter(Duration::try_from(left).unwrap_or_default());
        }
    }
    let new = PodCondition {
        type_: DISRUPTION_TARGET.into(),
        status: "False".into(),
        last_transition_time: Some(Time(now)),
        observed_generation: pod.metadata.generation.filter(|g| *g != 0),
        ..PodCondition::default()
    };
    let mut conditions = conditions.to_vec();
    // `UpdatePodCondition` replaces the first condition of the type.
    if let Some(slot) = conditions.iter_mut().find(|c| c.type_ == DISRUPTION_TARGET) {
        *slot = new.clone();
    }
    StaleDecision::Reset {
        condition: new,
        conditions,
    }
}

#[cfg(test)]
#[path = "stale_tests.rs"]
mod tests;

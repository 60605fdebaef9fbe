//! Pod predicates of the Job decisions: the tracking finalizer, what counts as a failed pod,
//! when a pod finished (`backoff_utils.go` `getFinishedTime`), and the `ActivePods` order in
//! which surplus pods are deleted (`pkg/controller/controller_utils.go`).

use std::cmp::Ordering;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::replicaset::pods::{
    is_pod_ready, max_container_restarts, node_name, phase_ordinal, ready_since,
};

/// The finalizer that keeps a finished pod around until the Job has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

pub(super) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub(super) fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

pub(super) fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TRACKING_FINALIZER)
}

/// `podReplacementPolicy: Failed`: a replacement waits until the old pod is Failed, so a
/// terminating pod is neither replaced nor counted as failed yet.
pub(super) fn only_replace_failed(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|s| s.pod_replacement_policy.as_deref())
        == Some("Failed")
}

/// `isPodFailed`: a Failed pod, or, unless replacements wait for the Failed phase, one being
/// deleted before it succeeded (an orphan removed by the pod GC never reaches a phase).
pub(super) fn is_pod_failed(pod: &Pod, job: &Job) -> bool {
    if phase(pod) == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    pod.metadata.deletion_timestamp.is_some() && phase(pod) != "Succeeded"
}

/// When the pod finished: the latest container termination when every container has
/// terminated, else the Ready=False transition, else the deletion time less the grace period,
/// else the creation time (`getFinishedTime`).
pub(super) fn finished_time(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref();
    let from_containers = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| {
            let mut latest: Option<Timestamp> = None;
            for c in cs {
                let at = c
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .and_then(|t| t.finished_at.as_ref())?
                    .0;
                latest = Some(latest.map_or(at, |l| l.max(at)));
            }
            latest
        });
    if from_containers.is_some() {
        return from_containers;
    }
    let ready_false = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .filter(|c| c.status == "False")
        .and_then(|c| c.last_transition_time.as_ref());
    if let Some(t) = ready_false {
        return Some(t.0);
    }
    if let Some(deleted) = &pod.metadata.deletion_timestamp {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        return deleted.0.checked_sub(SignedDuration::from_secs(grace)).ok();
    }
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// Sorts `pods` so that the ones to delete first come first (`controller.ActivePods`):
/// unscheduled before scheduled, Pending < Unknown < Running, not ready before ready, ready
/// for less time first, more restarts first, newer first. Stable, so equal pods keep their
/// order (upstream's `sort.Sort` leaves that order unspecified).
pub(super) fn ordered_for_removal(pods: &mut [&Pod]) {
    pods.sort_by(|a, b| {
        if remove_before(a, b) {
            Ordering::Less
        } else if remove_before(b, a) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
}

fn remove_before(a: &Pod, b: &Pod) -> bool {
    let (na, nb) = (node_name(a), node_name(b));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return na.is_empty();
    }
    if phase_ordinal(a) != phase_ordinal(b) {
        return phase_ordinal(a) < phase_ordinal(b);
    }
    let (ready_a, ready_b) = (is_pod_ready(a), is_pod_ready(b));
    if ready_a != ready_b {
        return !ready_a;
    }
    if ready_a && ready_b {
        let (ta, tb) = (ready_since(a), ready_since(b));
        if ta != tb {
            return after_or_zero(ta, tb);
        }
    }
    let (ra, rb) = (max_container_restarts(a), max_container_restarts(b));
    if ra != rb {
        return ra > rb;
    }
    let (ca, cb) = (
        a.metadata.creation_timestamp.as_ref().map(|t| t.0),
        b.metadata.creation_timestamp.as_ref().map(|t| t.0),
    );
    if ca != cb {
        return after_or_zero(ca, cb);
    }
    false
}

/// `afterOrZero`: a missing time sorts first, then the later time.
fn after_or_zero(a: Option<Timestamp>, b: Option<Timestamp>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a > b,
        (a, _) => a.is_none(),
    }
}

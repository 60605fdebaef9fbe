//! Counting finished pods with the tracking finalizer, after `trackJobStatusAndRemoveFinalizers`
//! of upstream's `pkg/controller/job/job_controller.go`.
//!
//! A finished pod keeps the `batch.kubernetes.io/job-tracking` finalizer until it is counted,
//! in two steps that survive a crash between them: its UID goes into
//! `status.uncountedTerminatedPods` (an Indexed job's succeeded pods go straight into
//! `completedIndexes`, the index itself preventing a double count), that status is written,
//! and only then is the finalizer removed; a UID whose pod no longer has the finalizer moves
//! from the uncounted lists into `succeeded` / `failed`. The job gets its terminal condition
//! once nothing is left uncounted and no pod is terminating.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::{JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::decide::{JobPlan, SyncCtx, count, count_i64, omit_zero};
use super::failure_policy::match_pod_failure_policy;
use super::indexed::{completion_index, valid_index};
use super::podutil::{is_pod_failed, phase, uid};
use super::terminal::failed_from_target;

/// At most this many UIDs wait in `uncountedTerminatedPods` (with the indexes newly counted),
/// keeping the status near 20 KB and a big job from starving the others (`MaxUncountedPods`).
pub const MAX_UNCOUNTED_PODS: usize = 500;

/// Puts the finished tracked pods into the uncounted lists (or `completedIndexes`), plans the
/// removal of their finalizers, records the interim condition and, when nothing is left to
/// remove, the terminal one.
pub(super) fn track_and_remove_finalizers(
    s: &mut SyncCtx<'_>,
    status: &mut JobStatus,
    plan: &mut JobPlan,
) {
    let mut order = s.pods.clone();
    if s.indexed {
        // Indexes are counted in order (`byCompletionIndex`); pods without one come first.
        order.sort_by_key(|p| completion_index(p));
    }
    let with_finalizer: BTreeSet<&str> = order
        .iter()
        .filter(|p| s.tracked(p))
        .map(|p| uid(p))
        .collect();
    count_uncounted(status, |id| !with_finalizer.contains(id));

    let finishing_failed = s
        .finished
        .as_ref()
        .is_some_and(|c| c.type_ != "SuccessCriteriaMet");
    let policy = s.spec.pod_failure_policy.as_ref();
    let uncounted = status
        .uncounted_terminated_pods
        .get_or_insert_with(UncountedTerminatedPods::default);
    let mut new_succeeded = Vec::new();
    let (mut succeeded_uids, mut failed_uids) = (
        uncounted.succeeded.take().unwrap_or_default(),
        uncounted.failed.take().unwrap_or_default(),
    );
    let mut reached_max = false;
    for pod in order {
        if !s.tracked(pod) {
            continue;
        }
        let failed = is_pod_failed(pod, s.job);
        if !can_remove_finalizer(s, pod, failed) {
            continue;
        }
        plan.remove_finalizers.push(pod.into());
        let id = uid(pod);
        if phase(pod) == "Succeeded" && !s.uncounted_failed.contains(id) {
            if s.indexed {
                let ix = valid_index(pod, s.completions);
                if let Some(ix) = ix.filter(|ix| !s.prev_succeeded_indexes.has(*ix)) {
                    new_succeeded.push(ix);
                }
            } else if !s.uncounted_succeeded.contains(id) {
                succeeded_uids.push(id.to_owned());
            }
        } else if failed || finishing_failed {
            // A failing job counts every pod it stops as failed.
            let index_ok = !s.indexed || valid_index(pod, s.completions).is_some();
            if !s.uncounted_failed.contains(id)
                && index_ok
                && match_pod_failure_policy(policy, pod).counts
            {
                failed_uids.push(id.to_owned());
            }
        }
        if new_succeeded.len() + succeeded_uids.len() + failed_uids.len() >= MAX_UNCOUNTED_PODS {
            // The rest waits for the next sync, which the status and pod updates trigger.
            reached_max = true;
            break;
        }
    }
    uncounted.succeeded = (!succeeded_uids.is_empty()).then_some(succeeded_uids);
    uncounted.failed = (!failed_uids.is_empty()).then_some(failed_uids);

    if s.indexed {
        s.succeeded_indexes = s.succeeded_indexes.with_ordered_indexes(new_succeeded);
        let completed = s.succeeded_indexes.to_string();
        status.completed_indexes = (!completed.is_empty()).then_some(completed);
        status.succeeded = omit_zero(count_i64(s.succeeded_indexes.total()));
        status.failed_indexes = s.failed_indexes.as_ref().map(ToString::to_string);
    }

    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let finished = match s.finished.take() {
        Some(target) if target.type_ == "FailureTarget" => {
            conditions.push(target.clone());
            Some(failed_from_target(&target, s.now))
        }
        Some(met) if met.type_ == "SuccessCriteriaMet" => {
            if find_true(conditions, "SuccessCriteriaMet").is_none() {
                conditions.push(met.clone());
            }
            Some(new_condition(
                "Complete",
                met.reason.as_deref().unwrap_or(""),
                met.message.as_deref().unwrap_or(""),
                s.now,
            ))
        }
        other => other,
    };
    if conditions.is_empty() {
        status.conditions = None;
    }
    plan.finished = finished.filter(|_| !reached_max);
    if plan.remove_finalizers.is_empty() {
        enact_finished(status, plan.finished.as_ref());
    }
}

/// `canRemoveFinalizer`: any pod of a deleted or finishing job, a succeeded pod, or a failed
/// one, unless it is the last failure of an index whose replacement must first carry its
/// failure count.
fn can_remove_finalizer(s: &SyncCtx<'_>, pod: &Pod, failed: bool) -> bool {
    if s.job.metadata.deletion_timestamp.is_some()
        || s.finished.is_some()
        || phase(pod) == "Succeeded"
    {
        return true;
    }
    if !failed {
        return false;
    }
    let delayed = s.backoff_limit_per_index.is_some()
        && completion_index(pod)
            .and_then(|ix| s.delayed.get(&ix))
            .is_some_and(|p| uid(p) == uid(pod));
    !delayed
}

/// Moves the UIDs `gone` says lost their finalizer from the uncounted lists into the counters
/// (`cleanUncountedPodsWithoutFinalizers`).
fn count_uncounted(status: &mut JobStatus, gone: impl Fn(&str) -> bool) {
    let uncounted = status
        .uncounted_terminated_pods
        .get_or_insert_with(UncountedTerminatedPods::default);
    let moved = |list: &mut Option<Vec<String>>| {
        let Some(uids) = list.as_mut() else {
            return 0;
        };
        let before = uids.len();
        uids.retain(|id| !gone(id));
        let n = before - uids.len();
        if uids.is_empty() {
            *list = None;
        }
        count(n)
    };
    let (succeeded, failed) = (
        moved(&mut uncounted.succeeded),
        moved(&mut uncounted.failed),
    );
    if succeeded > 0 {
        status.succeeded = omit_zero(status.succeeded.unwrap_or(0).saturating_add(succeeded));
    }
    if failed > 0 {
        status.failed = omit_zero(status.failed.unwrap_or(0).saturating_add(failed));
    }
}

/// Adds the terminal condition when nothing is left uncounted or terminating
/// (`enactJobFinished`); a `Complete` job also gets its completion time.
fn enact_finished(status: &mut JobStatus, finished: Option<&JobCondition>) {
    let Some(finished) = finished else {
        return;
    };
    let uncounted = status.uncounted_terminated_pods.as_ref();
    let left = uncounted.is_some_and(|u| u.succeeded.is_some() || u.failed.is_some());
    if left || status.terminating.unwrap_or(0) > 0 {
        return;
    }
    let at = finished
        .last_transition_time
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    ensure_condition(
        conditions,
        &finished.type_,
        &finished.status,
        finished.reason.as_deref().unwrap_or(""),
        finished.message.as_deref().unwrap_or(""),
        at,
    );
    if finished.type_ == "Complete" {
        status.completion_time = finished.last_transition_time.clone();
    }
}

impl JobPlan {
    /// The status to write once the finalizers of `removed` (UIDs, a subset of
    /// [`Self::remove_finalizers`]) are gone: those pods move from the uncounted lists into
    /// the counters and, if nothing is left, the job gets its terminal condition. `None` when
    /// that changes nothing.
    pub fn status_after_removal(&self, removed: &[String]) -> Option<JobStatus> {
        if self.remove_finalizers.is_empty() {
            return None;
        }
        let removed: BTreeSet<&str> = removed.iter().map(String::as_str).collect();
        let mut status = self.status.clone();
        count_uncounted(&mut status, |id| removed.contains(id));
        enact_finished(&mut status, self.finished.as_ref());
        (status != self.status).then_some(status)
    }
}

/// A True condition stamped `now` (`newCondition`); empty reasons and messages are left out as
/// Go's `omitempty` leaves them.
pub(super) fn new_condition(
    type_: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    with_status(type_, "True", reason, message, now)
}

fn with_status(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: (!reason.is_empty()).then(|| reason.into()),
        message: (!message.is_empty()).then(|| message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of that type whatever its status.
pub(super) fn find_condition<'a>(
    list: &'a [JobCondition],
    type_: &str,
) -> Option<&'a JobCondition> {
    list.iter().find(|c| c.type_ == type_)
}

pub(super) fn find_true<'a>(list: &'a [JobCondition], type_: &str) -> Option<&'a JobCondition> {
    find_condition(list, type_).filter(|c| c.status == "True")
}

/// Sets the condition of that type, replacing it (with fresh times) when its status, reason or
/// message differ; a False condition is not added where none was (`ensureJobConditionStatus`).
/// Returns whether the list changed.
pub(super) fn ensure_condition(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let fresh = with_status(type_, status, reason, message, now);
    if let Some(existing) = list.iter_mut().find(|c| c.type_ == type_) {
        let same = existing.status == fresh.status
            && existing.reason.as_deref().unwrap_or("") == reason
            && existing.message.as_deref().unwrap_or("") == message;
        if same {
            return false;
        }
        *existing = fresh;
        return true;
    }
    if status == "False" {
        return false;
    }
    list.push(fresh);
    true
}

/// Whether `new` differs from `old` once fields Go would omit when empty are treated alike.
pub(super) fn status_differs(old: &JobStatus, new: &JobStatus) -> bool {
    normalized(old) != normalized(new)
}

fn normalized(s: &JobStatus) -> JobStatus {
    let mut s = s.clone();
    let zero = |v: &mut Option<i32>| {
        if *v == Some(0) {
            *v = None;
        }
    };
    zero(&mut s.active);
    zero(&mut s.succeeded);
    zero(&mut s.failed);
    if s.completed_indexes.as_deref() == Some("") {
        s.completed_indexes = None;
    }
    if s.conditions.as_ref().is_some_and(Vec::is_empty) {
        s.conditions = None;
    }
    let uncounted = s
        .uncounted_terminated_pods
        .get_or_insert_with(Default::default);
    for list in [&mut uncounted.succeeded, &mut uncounted.failed] {
        if list.as_ref().is_some_and(Vec::is_empty) {
            *list = None;
        }
    }
    s
}

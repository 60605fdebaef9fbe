//! When a Job is done, after the terminal evaluation of upstream's `syncJob`
//! (`pkg/controller/job/job_controller.go`), in its order: a pre-existing `SuccessCriteriaMet`
//! or `FailureTarget` stands; then failures (a `FailJob` rule, the backoff limit, the active
//! deadline, failed indexes); then success (the success policy; reaching `completions` is
//! judged after `manageJob`, in `decide.rs`). A failing job gets the interim `FailureTarget`
//! condition here; `tracking.rs` turns it into `Failed` once every pod is counted.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::decide::{JobPlan, SyncCtx, count_i64};
use super::failure_policy::{match_pod_failure_policy, match_success_policy};
use super::indexed::{
    completion_index, failed_indexes, pods_with_delayed_deletion, succeeded_indexes,
};
use super::podutil::{is_pod_failed, phase};
use super::tracking::{find_true, new_condition};

/// The failure half of upstream's terminal evaluation: a pre-existing `SuccessCriteriaMet` or
/// `FailureTarget` stands; then a `FailJob` rule, the backoff limit, the active deadline.
pub(super) fn evaluate_failure(s: &mut SyncCtx<'_>, plan: &mut JobPlan, status: &JobStatus) {
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let now = s.now;
    s.finished = find_true(conditions, "SuccessCriteriaMet").cloned();
    if s.finished.is_some() {
        return;
    }
    if let Some(target) = find_true(conditions, "FailureTarget") {
        s.finished = Some(failed_from_target(target, now));
        return;
    }
    let policy = s.spec.pod_failure_policy.as_ref();
    let fail_job = s
        .pods
        .iter()
        .filter(|p| is_pod_failed(p, s.job))
        .find_map(|p| match_pod_failure_policy(policy, p).fail_job_message);
    if let Some(message) = fail_job {
        s.finished = Some(new_condition(
            "FailureTarget",
            "PodFailurePolicy",
            &message,
            now,
        ));
        return;
    }
    // `backoffLimit` defaults to 6, or to "unlimited" when `backoffLimitPerIndex` is set.
    let limit = s
        .spec
        .backoff_limit
        .unwrap_or(match s.backoff_limit_per_index {
            Some(_) => i32::MAX,
            None => 6,
        });
    let deadline = s
        .spec
        .active_deadline_seconds
        .filter(|_| !s.suspended)
        .zip(status.start_time.as_ref())
        // A deadline past the end of time is no deadline.
        .and_then(|(secs, start)| start.0.checked_add(SignedDuration::from_secs(secs)).ok());
    if s.failed > limit || past_backoff_limit_on_failure(s, limit) {
        s.finished = Some(new_condition(
            "FailureTarget",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            now,
        ));
    } else if let Some(deadline) = deadline {
        if now >= deadline {
            s.finished = Some(new_condition(
                "FailureTarget",
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
                now,
            ));
        } else {
            let left = Duration::try_from(deadline.duration_since(now)).unwrap_or_default();
            plan.requeue(left);
        }
    }
}

/// The Indexed half: succeeded and failed indexes, `maxFailedIndexes`, the success policy.
pub(super) fn evaluate_indexes(s: &mut SyncCtx<'_>, current: &JobStatus) {
    let recorded = current.completed_indexes.as_deref().unwrap_or("");
    (s.prev_succeeded_indexes, s.succeeded_indexes) =
        succeeded_indexes(recorded, &s.pods, s.completions);
    s.succeeded = count_i64(s.succeeded_indexes.total());
    let now = s.now;
    if let Some(limit) = s.backoff_limit_per_index {
        let recorded = current.failed_indexes.as_deref();
        let failed = failed_indexes(s.job, recorded, &s.pods, s.completions, limit);
        if s.finished.is_none() {
            let total = failed.total();
            let max = s.spec.max_failed_indexes.map(i64::from);
            if max.is_some_and(|max| total > max) {
                s.finished = Some(new_condition(
                    "FailureTarget",
                    "MaxFailedIndexesExceeded",
                    "Job has exceeded the specified maximal number of failed indexes",
                    now,
                ));
            } else if total > 0 && total + s.succeeded_indexes.total() >= s.completions {
                s.finished = Some(new_condition(
                    "FailureTarget",
                    "FailedIndexes",
                    "Job has failed indexes",
                    now,
                ));
            }
        }
        let tracked: Vec<&Pod> = s.pods.iter().copied().filter(|p| s.tracked(p)).collect();
        let active: BTreeSet<i64> = s
            .active
            .iter()
            .filter_map(|p| completion_index(p))
            .collect();
        s.delayed = pods_with_delayed_deletion(
            s.job,
            &tracked,
            s.completions,
            &s.succeeded_indexes,
            &failed,
            &active,
        );
        s.failed_indexes = Some(failed);
    }
    if s.finished.is_none() {
        let policy = s.spec.success_policy.as_ref();
        if let Some(message) = match_success_policy(policy, s.completions, &s.succeeded_indexes) {
            s.finished = Some(new_condition(
                "SuccessCriteriaMet",
                "SuccessPolicy",
                &message,
                now,
            ));
        }
    }
}

/// `pastBackoffLimitOnFailure`: with `restartPolicy: OnFailure` failed containers restart in
/// place, so their restarts (in pods still Pending or Running) count as failures.
fn past_backoff_limit_on_failure(s: &SyncCtx<'_>, limit: i32) -> bool {
    let on_failure = s
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.restart_policy.as_deref());
    if on_failure != Some("OnFailure") {
        return false;
    }
    let restarts: i64 = s
        .pods
        .iter()
        .filter(|p| matches!(phase(p), "Running" | "Pending"))
        .filter_map(|p| p.status.as_ref())
        .flat_map(|st| {
            let lists = [&st.init_container_statuses, &st.container_statuses];
            lists.into_iter().flatten().flatten()
        })
        .map(|c| i64::from(c.restart_count))
        .sum();
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= i64::from(limit)
    }
}

/// The terminal `Failed` condition that follows an interim `FailureTarget`.
pub(super) fn failed_from_target(target: &JobCondition, now: Timestamp) -> JobCondition {
    new_condition(
        "Failed",
        target.reason.as_deref().unwrap_or(""),
        target.message.as_deref().unwrap_or(""),
        now,
    )
}

//! The "decide" half of the Job controller: from a Job and its pods, the pods to create and
//! delete, the tracking finalizers to remove and the new status, without I/O. It mirrors
//! `syncJob` of upstream's `pkg/controller/job/job_controller.go` as of v1.35, where
//! `JobManagedBy`, `JobPodReplacementPolicy`, `JobSuccessPolicy` and `JobBackoffLimitPerIndex`
//! are all GA: a finishing job first gets the interim `FailureTarget` or `SuccessCriteriaMet`
//! condition, and `Failed` or `Complete` only once no pod is left uncounted or terminating.
//!
//! The runtime performs a [`JobPlan`] in this order: delete, create, write
//! [`JobPlan::status`] (when [`JobPlan::status_changed`]), remove the finalizers of
//! [`JobPlan::remove_finalizers`], then write [`JobPlan::status_after_removal`] for those that
//! went. It owns what needs the API's answers: create/delete expectations (upstream skips
//! `manageJob` and does not finish a job while they are unmet; the runtime does not sync such
//! a job), slow-start batches, events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::backoff::BackoffRecord;
use super::failure_policy::match_pod_failure_policy;
use super::indexed::{OrderedIntervals, valid_index};
use super::manage::manage_job;
use super::podutil::{has_tracking_finalizer, is_pod_failed, phase, uid};
use super::terminal::{evaluate_failure, evaluate_indexes};
use super::tracking::{
    ensure_condition, new_condition, status_differs, track_and_remove_finalizers,
};
use crate::replicaset::pods::{is_pod_active, is_pod_ready, is_pod_terminating};

/// At most this many pods are created or deleted per sync (`MaxPodCreateDeletePerSync`).
pub const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;
/// The `managedBy` value that means this controller (`batch.JobControllerName`).
pub const JOB_CONTROLLER_NAME: &str = "kubernetes.io/job-controller";
/// The shortest delay of a sync put off by backoff (`syncJobBatchPeriod`).
const MIN_SYNC_DELAY: Duration = Duration::from_secs(1);

/// A pod named in a plan; the UID lets the runtime use it as a precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub name: String,
    pub uid: Option<String>,
}

impl From<&Pod> for PodRef {
    fn from(pod: &Pod) -> Self {
        Self {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone(),
        }
    }
}

/// A pod to create (its name comes from `generateName`).
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePod {
    /// The completion index, for an Indexed job.
    pub index: Option<i64>,
    pub pod: Pod,
}

/// A pod to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePod {
    pub pod: PodRef,
    /// Remove the tracking finalizer before deleting: true for surplus pods of a running or
    /// suspended job (they are not failures to count), false for the active pods of a
    /// finishing job, which are counted as failed before their finalizer goes.
    pub remove_finalizer_first: bool,
}

/// What one sync of a Job should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobPlan {
    pub create: Vec<CreatePod>,
    pub delete: Vec<DeletePod>,
    /// Finished pods counted in [`Self::status`] (their UIDs are in
    /// `uncountedTerminatedPods`, or their index in `completedIndexes`) whose tracking
    /// finalizer may now go. Remove it only after that status is written.
    pub remove_finalizers: Vec<PodRef>,
    /// The status to write.
    pub status: JobStatus,
    /// Whether [`Self::status`] differs from the job's.
    pub status_changed: bool,
    /// The terminal condition (`Complete` or `Failed`) to add once no finished pod is left
    /// uncounted and none is terminating; already in [`Self::status`] when that holds now.
    pub finished: Option<JobCondition>,
    /// Sync again after this long: the active deadline, or the end of a backoff.
    pub requeue_after: Option<Duration>,
}

impl JobPlan {
    pub(super) fn requeue(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |d| d.min(after)));
    }

    /// A delayed sync is never sooner than the batching period (`enqueueSyncJobWithDelay`).
    pub(super) fn requeue_at_least(&mut self, after: Duration) {
        self.requeue(after.max(MIN_SYNC_DELAY));
    }
}

/// What one sync knows, as upstream's `syncJobCtx`.
pub(super) struct SyncCtx<'a> {
    pub job: &'a Job,
    pub spec: &'a JobSpec,
    pub now: Timestamp,
    pub pods: Vec<&'a Pod>,
    pub active: Vec<&'a Pod>,
    /// Pods whose finalizer removal is in flight: treated as already without it.
    pub pending: &'a BTreeSet<String>,
    pub indexed: bool,
    /// `spec.completions`, 0 when unset (only Indexed jobs use it, and require it).
    pub completions: i64,
    pub suspended: bool,
    pub backoff_limit_per_index: Option<i32>,
    pub uncounted_succeeded: BTreeSet<String>,
    pub uncounted_failed: BTreeSet<String>,
    pub succeeded: i32,
    pub failed: i32,
    pub prev_succeeded_indexes: OrderedIntervals,
    pub succeeded_indexes: OrderedIntervals,
    pub failed_indexes: Option<OrderedIntervals>,
    /// Per index, the failed pod kept until its replacement exists.
    pub delayed: BTreeMap<i64, &'a Pod>,
    pub backoff: BackoffRecord,
    pub active_count: usize,
    pub terminating: i32,
    pub ready: i32,
    pub finished: Option<JobCondition>,
}

impl SyncCtx<'_> {
    pub fn tracked(&self, pod: &Pod) -> bool {
        has_tracking_finalizer(pod) && !self.pending.contains(uid(pod))
    }

    /// Counts deleted active pods as terminating, as upstream does after its DELETE calls.
    pub fn note_deleted(&mut self, pods: &[&Pod]) {
        self.active_count = self.active_count.saturating_sub(pods.len());
        self.terminating = self.terminating.saturating_add(count(pods.len()));
        let ready = pods.iter().filter(|p| is_pod_ready(p)).count();
        self.ready = self.ready.saturating_sub(count(ready));
    }
}

/// Decides one sync of `job`. `pods` are the pods it owns (already filtered by owner).
pub fn decide(job: &Job, pods: &[Pod], now: Timestamp) -> JobPlan {
    decide_with_pending(job, pods, &BTreeSet::new(), now)
}

/// [`decide`] with the UIDs of pods whose finalizer removal the runtime has issued but not yet
/// observed (upstream's `finalizerExpectations`): they count as already without it.
pub fn decide_with_pending(
    job: &Job,
    pods: &[Pod],
    pending: &BTreeSet<String>,
    now: Timestamp,
) -> JobPlan {
    let current = job.status.clone().unwrap_or_default();
    let idle = JobPlan {
        status: current.clone(),
        ..JobPlan::default()
    };
    let Some(spec) = job.spec.as_ref() else {
        return idle;
    };
    let mode_known = matches!(
        spec.completion_mode.as_deref(),
        None | Some("NonIndexed" | "Indexed")
    );
    // A job of another controller, a finished job, or one of an unknown completion mode is
    // left alone.
    if managed_elsewhere(job) || is_finished(job) || !mode_known {
        return idle;
    }
    let mut s = new_sync(job, spec, pods, pending, &current, now);
    let mut plan = JobPlan::default();
    let mut status = current.clone();
    if status.start_time.is_none() && !s.suspended {
        status.start_time = Some(Time(now));
    }
    evaluate_failure(&mut s, &mut plan, &status);
    if s.indexed {
        evaluate_indexes(&mut s, &current);
    }

    if s.finished.is_some() {
        // Finishing: every active pod goes, its finalizer kept so that it is counted.
        let doomed = s.active.clone();
        s.note_deleted(&doomed);
        plan.delete = doomed
            .into_iter()
            .map(|p| DeletePod {
                pod: p.into(),
                remove_finalizer_first: false,
            })
            .collect();
    } else {
        let managed = job.metadata.deletion_timestamp.is_none();
        if managed {
            manage_job(&mut s, &mut plan);
        }
        let complete = match spec.completions {
            // A work queue is done when any pod succeeded and all have stopped.
            None => s.succeeded > 0 && s.active_count == 0,
            Some(c) => s.succeeded >= c && s.active_count == 0,
        };
        if complete {
            s.finished = Some(new_condition(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ));
        } else if managed {
            update_suspended(&mut status, s.suspended, now);
        }
    }

    status.active = omit_zero(count(s.active_count));
    status.ready = Some(s.ready);
    status.terminating = Some(s.terminating);
    track_and_remove_finalizers(&mut s, &mut status, &mut plan);
    plan.status_changed = status_differs(&current, &status);
    plan.status = status;
    plan
}

fn new_sync<'a>(
    job: &'a Job,
    spec: &'a JobSpec,
    pods: &'a [Pod],
    pending: &'a BTreeSet<String>,
    current: &JobStatus,
    now: Timestamp,
) -> SyncCtx<'a> {
    let pods: Vec<&Pod> = pods.iter().collect();
    let active: Vec<&Pod> = pods.iter().copied().filter(|p| is_pod_active(p)).collect();
    let uncounted = current
        .uncounted_terminated_pods
        .clone()
        .unwrap_or_default();
    let set = |v: Option<Vec<String>>| v.unwrap_or_default().into_iter().collect();
    let mut s = SyncCtx {
        job,
        spec,
        now,
        ready: count(active.iter().filter(|p| is_pod_ready(p)).count()),
        terminating: count(pods.iter().filter(|p| is_pod_terminating(p)).count()),
        active_count: active.len(),
        active,
        pending,
        indexed: spec.completion_mode.as_deref() == Some("Indexed"),
        completions: i64::from(spec.completions.unwrap_or(0)),
        suspended: spec.suspend == Some(true),
        backoff_limit_per_index: spec.backoff_limit_per_index,
        uncounted_succeeded: set(uncounted.succeeded),
        uncounted_failed: set(uncounted.failed),
        succeeded: 0,
        failed: 0,
        prev_succeeded_indexes: OrderedIntervals::default(),
        succeeded_indexes: OrderedIntervals::default(),
        failed_indexes: None,
        delayed: BTreeMap::new(),
        backoff: BackoffRecord::from_pods(job, &pods),
        finished: None,
        pods,
    };
    // Finished pods not yet in the status or its uncounted lists (`getNewFinishedPods`).
    let policy = spec.pod_failure_policy.as_ref();
    let (mut new_succeeded, mut new_failed) = (0usize, 0usize);
    for p in s.pods.iter().filter(|p| s.tracked(p)) {
        if s.indexed && valid_index(p, s.completions).is_none() {
            continue;
        }
        let id = uid(p);
        if phase(p) == "Succeeded" && !s.uncounted_succeeded.contains(id) {
            new_succeeded += 1;
        }
        if is_pod_failed(p, job)
            && !s.uncounted_failed.contains(id)
            && match_pod_failure_policy(policy, p).counts
        {
            new_failed += 1;
        }
    }
    s.succeeded = current
        .succeeded
        .unwrap_or(0)
        .saturating_add(count(new_succeeded + s.uncounted_succeeded.len()));
    s.failed = current
        .failed
        .unwrap_or(0)
        .saturating_add(count(new_failed + s.uncounted_failed.len()));
    s
}

/// The `Suspended` condition: True while suspended; on resume it turns False and the start
/// time restarts, so that `activeDeadlineSeconds` counts continuous activity only. Suspending
/// keeps `startTime` (clearing it is the alpha `MutableSchedulingDirectivesForSuspendedJobs`).
fn update_suspended(status: &mut JobStatus, suspended: bool, now: Timestamp) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if suspended {
        ensure_condition(
            conditions,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
            now,
        );
    } else if ensure_condition(
        conditions,
        "Suspended",
        "False",
        "JobResumed",
        "Job resumed",
        now,
    ) {
        status.start_time = Some(Time(now));
    }
    if conditions.is_empty() {
        status.conditions = None;
    }
}

fn managed_elsewhere(job: &Job) -> bool {
    let by = job.spec.as_ref().and_then(|s| s.managed_by.as_deref());
    by.is_some_and(|by| by != JOB_CONTROLLER_NAME)
}

/// Whether the job has a True `Complete` or `Failed` condition (`IsJobFinished`).
pub fn is_finished(job: &Job) -> bool {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_deref());
    conditions
        .unwrap_or_default()
        .iter()
        .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
}

pub(super) fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(super) fn count_i64(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Zero counters are left out, as Go's `omitempty` leaves them out of upstream's JSON.
pub(super) fn omit_zero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

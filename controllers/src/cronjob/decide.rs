//! The "decide" half of the CronJob controller: from a CronJob, the Jobs of its namespace and
//! the clock, the Jobs to delete and create, the new status, the events and when to sync
//! again. It mirrors `sync`, `cleanupFinishedJobs` and `syncCronJob` of upstream's
//! `pkg/controller/cronjob/cronjob_controllerv2.go` (v1.35).
//!
//! The runtime performs a [`CronJobPlan`] in this order, as upstream does:
//! 1. record [`CronJobPlan::events`];
//! 2. delete [`CronJobPlan::delete`] with background propagation, recording each
//!    [`DeleteJob::on_success`]; a failed delete records `FailedDelete` ("Deleted job: <err>");
//!    for [`DeleteReason::Replace`] it also ends the sync (no create) and retries with backoff;
//! 3. create [`CronJobPlan::create`]: on success record its `on_success` event and call
//!    [`CronJobPlan::record_created`]; on `AlreadyExists` GET the Job and follow
//!    [`CronJobPlan::on_already_exists`]; on another error record `FailedCreate` ("Error
//!    creating job: <err>") and retry with backoff (a terminating namespace: retry silently);
//! 4. write [`CronJobPlan::status`] when [`CronJobPlan::status_changed`];
//! 5. requeue after [`CronJobPlan::requeue_after`], if any.
//!
//! Upstream asks the API in two places where this half has only the runtime's caches: an
//! active Job missing from the Job lister is looked up with a GET before being dropped
//! (`MissingJob`); the runtime should GET the refs of [`active_missing_from`] and add the Jobs
//! it finds to `jobs`. An unfinished Job missing from `status.active` is checked against a
//! fresh GET of the CronJob before `UnexpectedJob` is reported; we report it from the cache.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::tz::TimeZone;

use super::jobs::{
    by_start_time, controlled_jobs, finished, is_succeeded, job_from_template, job_name,
};
use super::plan::{CreateJob, CronJobPlan, DeleteJob, DeleteReason, Event, JobRef};
use super::schedule::Schedule;
use super::times::{Missed, next_schedule_time, next_schedule_time_duration};

/// `successfulJobsHistoryLimit` when unset (the API's default).
pub const DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT: i32 = 3;
/// `failedJobsHistoryLimit` when unset (the API's default).
pub const DEFAULT_FAILED_JOBS_HISTORY_LIMIT: i32 = 1;

/// Why `spec.timeZone` cannot be used; the message is Go's `time.LoadLocation` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0}")]
pub struct TimeZoneError(pub String);

/// The zone a CronJob's schedule is read in. Unset, upstream uses the controller manager's
/// local zone (robfig's `time.Local`); ours is always UTC, so a CronJob without `timeZone`
/// runs on UTC whatever the host's zone. `""` is UTC too (`time.LoadLocation("")`). Names go
/// through upstream validation's character check first, so no name can reach outside the
/// zoneinfo database, and `Local` is refused as validation refuses it.
pub fn resolve_time_zone(name: Option<&str>) -> Result<TimeZone, TimeZoneError> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(TimeZone::UTC);
    };
    let valid_part = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && (1..=14).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
    };
    if name.eq_ignore_ascii_case("local") || !name.split('/').all(valid_part) {
        return Err(TimeZoneError(name.into()));
    }
    TimeZone::get(name).map_err(|_| TimeZoneError(name.into()))
}

/// The refs of `status.active` whose Job is not in `jobs`: upstream GETs each before
/// dropping it, and so should the runtime (see the module doc).
pub fn active_missing_from(cronjob: &CronJob, jobs: &[Job]) -> Vec<ObjectReference> {
    let present: BTreeSet<&str> = controlled_jobs(cronjob, jobs)
        .iter()
        .filter_map(|j| j.metadata.uid.as_deref())
        .collect();
    active(cronjob)
        .iter()
        .filter(|r| !present.contains(r.uid.as_deref().unwrap_or_default()))
        .cloned()
        .collect()
}

fn active(cronjob: &CronJob) -> &[ObjectReference] {
    cronjob
        .status
        .as_ref()
        .and_then(|s| s.active.as_deref())
        .unwrap_or_default()
}

fn job_ref(job: &Job) -> JobRef {
    JobRef {
        namespace: job.metadata.namespace.clone(),
        name: job.metadata.name.clone().unwrap_or_default(),
        uid: job.metadata.uid.clone(),
    }
}

fn remove_active(status: &mut CronJobStatus, uid: Option<&str>) {
    if let Some(active) = status.active.as_mut() {
        active.retain(|r| r.uid.as_deref() != uid);
    }
}

/// Decides one sync. `jobs` are the Jobs of the CronJob's namespace (those it does not
/// control are ignored); `tz` is [`resolve_time_zone`] of `spec.timeZone`.
pub fn decide(
    cronjob: &CronJob,
    jobs: &[Job],
    now: Timestamp,
    tz: &Result<TimeZone, TimeZoneError>,
) -> CronJobPlan {
    let owned = controlled_jobs(cronjob, jobs);
    let old_status = cronjob.status.clone().unwrap_or_default();
    let mut plan = CronJobPlan {
        status: old_status.clone(),
        ..CronJobPlan::default()
    };
    cleanup_finished_jobs(cronjob, &owned, &mut plan);
    sync_cron_job(cronjob, &owned, now, tz, &mut plan);
    plan.status_changed = plan.status != old_status;
    plan
}

/// `cleanupFinishedJobs`: beyond the history limits, the oldest finished Jobs go. Upstream
/// skips a limit that is unset; the API always sets both (3 and 1), and so do we when a
/// hand-made object lacks them.
fn cleanup_finished_jobs(cronjob: &CronJob, owned: &[&Job], plan: &mut CronJobPlan) {
    let spec = cronjob.spec.as_ref();
    let limits = [
        (
            super::jobs::Finished::Complete,
            spec.and_then(|s| s.successful_jobs_history_limit),
            DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT,
        ),
        (
            super::jobs::Finished::Failed,
            spec.and_then(|s| s.failed_jobs_history_limit),
            DEFAULT_FAILED_JOBS_HISTORY_LIMIT,
        ),
    ];
    for (kind, limit, default) in limits {
        let mut done: Vec<&Job> = owned
            .iter()
            .copied()
            .filter(|j| finished(j) == Some(kind))
            .collect();
        let keep = usize::try_from(limit.unwrap_or(default)).unwrap_or(0);
        if done.len() <= keep {
            continue;
        }
        done.sort_by(|a, b| by_start_time(a, b));
        for job in &done[..done.len() - keep] {
            remove_active(&mut plan.status, job.metadata.uid.as_deref());
            plan.delete.push(delete(job, DeleteReason::HistoryLimit));
        }
    }
}

fn delete(job: &Job, reason: DeleteReason) -> DeleteJob {
    let job = job_ref(job);
    let on_success = Event::normal("SuccessfulDelete", format!("Deleted job {}", job.name));
    DeleteJob {
        job,
        reason,
        on_success,
    }
}

/// `syncCronJob`.
fn sync_cron_job(
    cronjob: &CronJob,
    owned: &[&Job],
    now: Timestamp,
    tz: &Result<TimeZone, TimeZoneError>,
    plan: &mut CronJobPlan,
) {
    track_owned_jobs(owned, plan);
    if cronjob.metadata.deletion_timestamp.is_some() {
        return;
    }
    let spec = cronjob.spec.clone().unwrap_or_default();
    let tz = match tz {
        Ok(tz) => tz,
        Err(err) => {
            let name = spec.time_zone.as_deref().unwrap_or_default();
            let message = format!("invalid timeZone: {name:?}: {err}");
            plan.events.push(Event::warning("UnknownTimeZone", message));
            return;
        }
    };
    if spec.suspend == Some(true) {
        return;
    }
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(schedule) => schedule,
        Err(err) => {
            let message = format!("unparseable schedule: {:?} : {err}", spec.schedule);
            plan.events
                .push(Event::warning("UnparseableSchedule", message));
            return;
        }
    };
    // Upstream reads the due time from the CronJob as listed; the status changes above do
    // not touch what it reads (`lastScheduleTime`, `creationTimestamp`).
    let requeue = |cj: &CronJob| next_schedule_time_duration(cj, now, &schedule, tz);
    let scheduled = match next_schedule_time(cronjob, now, &schedule, tz) {
        Err(err) => {
            let message = format!("invalid schedule: {} : {err}", spec.schedule);
            plan.events.push(Event::warning("InvalidSchedule", message));
            return;
        }
        Ok(None) => {
            plan.requeue_after = requeue(cronjob);
            return;
        }
        Ok(Some((scheduled, missed))) => {
            if missed == Missed::Many {
                plan.events.push(Event::warning(
                    "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds \
                     or check clock skew"
                        .into(),
                ));
            }
            scheduled
        }
    };
    plan.requeue_after = requeue(cronjob);
    let deadline = spec.starting_deadline_seconds.and_then(|secs| {
        scheduled
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(secs))
            .ok()
    });
    if deadline.is_some_and(|d| d < now) {
        let at = scheduled.strftime("%a, %d %b %Y %H:%M:%S %z");
        let message = format!("Missed scheduled time to start a job: {at}");
        plan.events.push(Event::warning("MissSchedule", message));
        return;
    }
    let name = job_name(cronjob, scheduled);
    let active = plan.status.active.clone().unwrap_or_default();
    let namespace = cronjob.metadata.namespace.as_deref();
    let processed = active
        .iter()
        .any(|r| r.name.as_deref() == Some(name.as_str()) && r.namespace.as_deref() == namespace)
        || plan
            .status
            .last_schedule_time
            .as_ref()
            .is_some_and(|t| t.0 == scheduled);
    if processed {
        return;
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            plan.events.push(Event::normal(
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is \
                 Forbid"
                    .into(),
            ));
            return;
        }
        Some("Replace") => {
            for r in &active {
                let job = JobRef {
                    namespace: r.namespace.clone(),
                    name: r.name.clone().unwrap_or_default(),
                    uid: r.uid.clone(),
                };
                let message = format!("Deleted job {}", job.name);
                let on_success = Event::normal("SuccessfulDelete", message);
                plan.delete.push(DeleteJob {
                    job,
                    reason: DeleteReason::Replace,
                    on_success,
                });
                remove_active(&mut plan.status, r.uid.as_deref());
            }
        }
        _ => {}
    }
    let job = job_from_template(cronjob, scheduled, tz);
    let on_success = Event::normal("SuccessfulCreate", format!("Created job {name}"));
    plan.create = Some(CreateJob {
        job,
        scheduled_time: scheduled,
        on_success,
    });
    // Upstream computes the requeue after recording the new `lastScheduleTime`.
    let mut after = cronjob.clone();
    after
        .status
        .get_or_insert_with(Default::default)
        .last_schedule_time = Some(Time(scheduled));
    plan.requeue_after = requeue(&after);
}

/// The first half of `syncCronJob`: finished Jobs leave `status.active`, the latest success
/// sets `lastSuccessfulTime`, unknown unfinished Jobs are reported, and active refs whose Job
/// is gone are dropped.
fn track_owned_jobs(owned: &[&Job], plan: &mut CronJobPlan) {
    let status = &mut plan.status;
    for job in owned {
        let uid = job.metadata.uid.as_deref();
        let name = job.metadata.name.as_deref().unwrap_or_default();
        let tracked = status
            .active
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|r| r.uid.as_deref() == uid);
        let Some(how) = finished(job) else {
            if !tracked {
                let message =
                    format!("Saw a job that the controller did not create or forgot: {name}");
                plan.events.push(Event::warning("UnexpectedJob", message));
            }
            continue;
        };
        if tracked {
            remove_active(status, uid);
            let message = format!("Saw completed job: {name}, condition: {}", how.as_str());
            plan.events.push(Event::normal("SawCompletedJob", message));
        }
        if is_succeeded(job) {
            let completed = job.status.as_ref().and_then(|s| s.completion_time.clone());
            match (&status.last_successful_time, completed) {
                (None, completed) => status.last_successful_time = completed,
                (Some(last), Some(completed)) if completed.0 > last.0 => {
                    status.last_successful_time = Some(completed);
                }
                _ => {}
            }
        }
    }
    let present: BTreeSet<Option<&str>> = owned.iter().map(|j| j.metadata.uid.as_deref()).collect();
    let gone: Vec<ObjectReference> = status
        .active
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|r| !present.contains(&r.uid.as_deref()))
        .cloned()
        .collect();
    for r in gone {
        let message = format!(
            "Active job went missing: {}",
            r.name.as_deref().unwrap_or_default()
        );
        plan.events.push(Event::normal("MissingJob", message));
        remove_active(status, r.uid.as_deref());
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

//! One sync at a time: a CronJob, its Jobs and the clock in, the plan out.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJobSpec, JobCondition, JobSpec, JobStatus, JobTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::super::jobs::SCHEDULED_TIMESTAMP_ANNOTATION;
use super::super::plan::{AlreadyExists, EventType};
use super::*;

/// 2024-01-01T00:00:00Z, when every test CronJob is created.
const T0: i64 = 1_704_067_200;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).expect("test time")
}

fn cronjob(schedule: &str) -> CronJob {
    CronJob {
        metadata: ObjectMeta {
            name: Some("backup".into()),
            namespace: Some("default".into()),
            uid: Some("cj-uid".into()),
            creation_timestamp: Some(Time(at(0))),
            ..Default::default()
        },
        spec: Some(CronJobSpec {
            schedule: schedule.into(),
            concurrency_policy: Some("Allow".into()),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([("app".into(), "backup".into())])),
                    annotations: Some(BTreeMap::from([("team".into(), "ops".into())])),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    parallelism: Some(2),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn with_spec(mut cj: CronJob, f: impl FnOnce(&mut CronJobSpec)) -> CronJob {
    f(cj.spec.as_mut().expect("spec"));
    cj
}

fn with_status(mut cj: CronJob, f: impl FnOnce(&mut CronJobStatus)) -> CronJob {
    f(cj.status.get_or_insert_with(Default::default));
    cj
}

/// A Job of the CronJob `owner`, started at `start` seconds after T0.
fn job(name: &str, owner: &str, start: i64) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("{name}-uid")),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: owner.into(),
                uid: if owner == "backup" {
                    "cj-uid"
                } else {
                    "other-uid"
                }
                .into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: None,
        status: Some(JobStatus {
            start_time: Some(Time(at(start))),
            ..Default::default()
        }),
    }
}

fn ended(mut j: Job, type_: &str, at_secs: i64) -> Job {
    let status = j.status.get_or_insert_with(Default::default);
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(JobCondition {
            type_: type_.into(),
            status: "True".into(),
            ..Default::default()
        });
    if type_ == "Complete" {
        status.completion_time = Some(Time(at(at_secs)));
    }
    j
}

fn reference(j: &Job) -> ObjectReference {
    super::super::jobs::job_reference(j)
}

fn utc() -> Result<TimeZone, TimeZoneError> {
    Ok(TimeZone::UTC)
}

fn reasons(plan: &CronJobPlan) -> Vec<&'static str> {
    plan.events.iter().map(|e| e.reason).collect()
}

fn deleted(plan: &CronJobPlan) -> Vec<(&str, DeleteReason)> {
    plan.delete
        .iter()
        .map(|d| (d.job.name.as_str(), d.reason))
        .collect()
}

fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

#[test]
fn creates_the_due_job_from_the_template() {
    let cj = cronjob("*/5 * * * *");
    let mut plan = decide(&cj, &[], at(310), &utc());
    let create = plan.create.clone().expect("a job is due");
    assert_eq!(create.scheduled_time, at(300));
    let meta = &create.job.metadata;
    let name = format!("backup-{}", (T0 + 300) / 60);
    assert_eq!(meta.name.as_deref(), Some(name.as_str()));
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    assert_eq!(
        meta.labels
            .as_ref()
            .and_then(|l| l.get("app"))
            .map(String::as_str),
        Some("backup")
    );
    let annotations = meta.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("team").map(String::as_str), Some("ops"));
    assert_eq!(
        annotations
            .get(SCHEDULED_TIMESTAMP_ANNOTATION)
            .map(String::as_str),
        Some("2024-01-01T00:05:00Z")
    );
    let owner = &meta.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.api_version.as_str(),
            owner.uid.as_str()
        ),
        ("CronJob", "batch/v1", "cj-uid")
    );
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    assert_eq!(
        create.job.spec.as_ref().and_then(|s| s.parallelism),
        Some(2)
    );
    assert_eq!(create.on_success.reason, "SuccessfulCreate");
    assert_eq!(create.on_success.message, format!("Created job {name}"));
    assert!(plan.events.is_empty() && plan.delete.is_empty());
    // Next at 00:10, 290 s away, plus the 100 ms delta.
    assert_eq!(secs(plan.requeue_after), Some(290.1));
    assert!(!plan.status_changed);

    let mut created = create.job.clone();
    created.metadata.uid = Some("new-uid".into());
    plan.record_created(&created);
    assert!(plan.status_changed);
    assert_eq!(plan.status.last_schedule_time, Some(Time(at(300))));
    assert_eq!(plan.status.active, Some(vec![reference(&created)]));
}

#[test]
fn nothing_is_due_before_the_first_time() {
    let plan = decide(&cronjob("0 * * * *"), &[], at(1200), &utc());
    assert!(plan.create.is_none() && plan.events.is_empty());
    assert_eq!(secs(plan.requeue_after), Some(2400.1));
}

#[test]
fn a_processed_time_is_not_run_again() {
    let cj = with_status(cronjob("0 * * * *"), |s| {
        s.last_schedule_time = Some(Time(at(3600)))
    });
    let plan = decide(&cj, &[], at(3610), &utc());
    assert!(plan.create.is_none());
    assert_eq!(secs(plan.requeue_after), Some(3590.1));
    // Nor one whose job is already in the active list under its name.
    let j = job(&format!("backup-{}", (T0 + 3600) / 60), "backup", 3600);
    let cj = with_status(cronjob("0 * * * *"), |s| {
        s.active = Some(vec![reference(&j)])
    });
    assert!(decide(&cj, &[j], at(3610), &utc()).create.is_none());
}

#[test]
fn suspended_deleted_and_broken_cronjobs_do_not_run() {
    let suspended = with_spec(cronjob("* * * * *"), |s| s.suspend = Some(true));
    let plan = decide(&suspended, &[], at(600), &utc());
    assert!(plan.create.is_none() && plan.requeue_after.is_none() && plan.events.is_empty());

    let mut deleting = cronjob("* * * * *");
    deleting.metadata.deletion_timestamp = Some(Time(at(500)));
    let plan = decide(&deleting, &[], at(600), &utc());
    assert!(plan.create.is_none() && plan.requeue_after.is_none());

    let unknown = with_spec(cronjob("* * * * *"), |s| {
        s.time_zone = Some("Mars/Olympus".into())
    });
    let plan = decide(
        &unknown,
        &[],
        at(600),
        &resolve_time_zone(Some("Mars/Olympus")),
    );
    assert_eq!(plan.events[0].reason, "UnknownTimeZone");
    assert_eq!(plan.events[0].type_, EventType::Warning);
    assert_eq!(
        plan.events[0].message,
        "invalid timeZone: \"Mars/Olympus\": unknown time zone Mars/Olympus"
    );
    assert!(plan.create.is_none() && plan.requeue_after.is_none());

    let plan = decide(&cronjob("61 * * * *"), &[], at(600), &utc());
    assert_eq!(reasons(&plan), ["UnparseableSchedule"]);
    assert_eq!(
        plan.events[0].message,
        "unparseable schedule: \"61 * * * *\" : end of range (61) above maximum (59): 61"
    );

    let plan = decide(&cronjob("0 0 30 2 *"), &[], at(600), &utc());
    assert_eq!(reasons(&plan), ["InvalidSchedule"]);
    assert_eq!(
        plan.events[0].message,
        "invalid schedule: 0 0 30 2 * : time difference between two schedules is less than 1 second"
    );
    assert!(plan.requeue_after.is_none());
}

#[test]
fn concurrency_policies() {
    let running = job("backup-old", "backup", 0);
    let base = with_status(cronjob("*/5 * * * *"), |s| {
        s.active = Some(vec![reference(&running)])
    });
    let jobs = [running.clone()];

    let plan = decide(&base, &jobs, at(310), &utc());
    assert!(
        plan.create.is_some() && plan.delete.is_empty(),
        "Allow runs alongside"
    );

    let forbid = with_spec(base.clone(), |s| {
        s.concurrency_policy = Some("Forbid".into())
    });
    let plan = decide(&forbid, &jobs, at(310), &utc());
    assert!(plan.create.is_none());
    assert_eq!(reasons(&plan), ["JobAlreadyActive"]);
    assert_eq!(
        plan.events[0].message,
        "Not starting job because prior execution is running and concurrency policy is Forbid"
    );
    assert_eq!(secs(plan.requeue_after), Some(290.1));

    let replace = with_spec(base, |s| s.concurrency_policy = Some("Replace".into()));
    let plan = decide(&replace, &jobs, at(310), &utc());
    assert_eq!(deleted(&plan), [("backup-old", DeleteReason::Replace)]);
    assert_eq!(plan.delete[0].on_success.message, "Deleted job backup-old");
    assert!(plan.create.is_some());
    assert_eq!(plan.status.active, Some(vec![]));
    assert!(plan.status_changed);
}

#[test]
fn too_many_missed_times_warn_and_run_the_latest() {
    let plan = decide(&cronjob("* * * * *"), &[], at(200 * 60 + 30), &utc());
    assert_eq!(reasons(&plan), ["TooManyMissedTimes"]);
    assert_eq!(plan.create.map(|c| c.scheduled_time), Some(at(200 * 60)));
    // Fewer than 100 missed: no warning, still only the latest runs.
    let plan = decide(&cronjob("* * * * *"), &[], at(50 * 60 + 30), &utc());
    assert!(plan.events.is_empty());
    assert_eq!(plan.create.map(|c| c.scheduled_time), Some(at(50 * 60)));
}

#[test]
fn starting_deadline_skips_times_too_old_to_start() {
    let late = with_spec(cronjob("0 * * * *"), |s| {
        s.starting_deadline_seconds = Some(10)
    });
    let plan = decide(&late, &[], at(3630), &utc());
    assert!(plan.create.is_none() && plan.events.is_empty());
    assert_eq!(secs(plan.requeue_after), Some(3570.1));
    let plan = decide(&late, &[], at(3605), &utc());
    assert_eq!(plan.create.map(|c| c.scheduled_time), Some(at(3600)));
}

#[test]
fn finished_jobs_leave_the_active_list() {
    let done = ended(job("backup-a", "backup", 0), "Complete", 100);
    let failed = ended(job("backup-b", "backup", 10), "Failed", 0);
    let untracked = ended(job("backup-c", "backup", 20), "Complete", 200);
    let cj = with_status(cronjob("0 * * * *"), |s| {
        s.active = Some(vec![reference(&done), reference(&failed)]);
        s.last_successful_time = Some(Time(at(50)));
    });
    let plan = decide(&cj, &[done, failed, untracked], at(60), &utc());
    assert_eq!(reasons(&plan), ["SawCompletedJob", "SawCompletedJob"]);
    assert_eq!(
        plan.events[0].message,
        "Saw completed job: backup-a, condition: Complete"
    );
    assert_eq!(
        plan.events[1].message,
        "Saw completed job: backup-b, condition: Failed"
    );
    assert_eq!(plan.status.active, Some(vec![]));
    // The latest completion, tracked or not.
    assert_eq!(plan.status.last_successful_time, Some(Time(at(200))));
    assert!(plan.status_changed);
}

#[test]
fn unexpected_and_missing_jobs() {
    let stray = job("backup-stray", "backup", 0);
    let gone = job("backup-gone", "backup", 0);
    let other_owner = job("other-1", "other", 0);
    let mut other_namespace = job("backup-elsewhere", "backup", 0);
    other_namespace.metadata.namespace = Some("prod".into());
    let cj = with_status(cronjob("0 * * * *"), |s| {
        s.active = Some(vec![reference(&gone)])
    });
    let jobs = [stray, other_owner, other_namespace];
    let plan = decide(&cj, &jobs, at(60), &utc());
    assert_eq!(reasons(&plan), ["UnexpectedJob", "MissingJob"]);
    assert_eq!(
        plan.events[0].message,
        "Saw a job that the controller did not create or forgot: backup-stray"
    );
    assert_eq!(
        plan.events[1].message,
        "Active job went missing: backup-gone"
    );
    assert_eq!(plan.status.active, Some(vec![]));
    assert_eq!(active_missing_from(&cj, &jobs), vec![reference(&gone)]);
}

#[test]
fn history_limits_delete_the_oldest_finished_jobs() {
    let succeeded: Vec<Job> = (0..5)
        .map(|i| ended(job(&format!("ok-{i}"), "backup", 100 - i), "Complete", 200))
        .collect();
    let failed: Vec<Job> = (0..3)
        .map(|i| ended(job(&format!("bad-{i}"), "backup", 10 * i), "Failed", 0))
        .collect();
    let mut unstarted = ended(job("ok-unstarted", "backup", 0), "Complete", 200);
    unstarted.status.as_mut().expect("status").start_time = None;
    let jobs: Vec<Job> = succeeded
        .into_iter()
        .chain(failed)
        .chain([unstarted])
        .collect();

    // Defaults: keep 3 successful, 1 failed; started jobs before unstarted, oldest first.
    let plan = decide(&cronjob("0 * * * *"), &jobs, at(60), &utc());
    assert_eq!(
        deleted(&plan),
        [
            ("ok-4", DeleteReason::HistoryLimit),
            ("ok-3", DeleteReason::HistoryLimit),
            ("ok-2", DeleteReason::HistoryLimit),
            ("bad-0", DeleteReason::HistoryLimit),
            ("bad-1", DeleteReason::HistoryLimit),
        ]
    );
    assert_eq!(plan.delete[0].on_success.message, "Deleted job ok-4");

    let keep_none = with_spec(cronjob("0 * * * *"), |s| {
        s.successful_jobs_history_limit = Some(0);
        s.failed_jobs_history_limit = Some(5);
    });
    let plan = decide(&keep_none, &jobs, at(60), &utc());
    assert_eq!(plan.delete.len(), 6);
    assert!(plan.delete.iter().all(|d| d.job.name.starts_with("ok-")));
}

#[test]
fn time_zone_of_the_schedule_and_the_annotation() {
    let tokyo = with_spec(cronjob("0 9 * * *"), |s| {
        s.time_zone = Some("Asia/Tokyo".into())
    });
    // Created at 09:00 JST (00:00 UTC), so the first time is the next day's 09:00 JST.
    let plan = decide(
        &tokyo,
        &[],
        at(86_400 + 60),
        &resolve_time_zone(Some("Asia/Tokyo")),
    );
    let create = plan.create.expect("due at 09:00 JST");
    assert_eq!(create.scheduled_time, at(86_400));
    let annotations = create.job.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get(SCHEDULED_TIMESTAMP_ANNOTATION)
            .map(String::as_str),
        Some("2024-01-02T09:00:00+09:00")
    );
}

#[test]
fn resolving_time_zones() {
    assert_eq!(resolve_time_zone(None).ok(), Some(TimeZone::UTC));
    assert_eq!(resolve_time_zone(Some("")).ok(), Some(TimeZone::UTC));
    assert!(resolve_time_zone(Some("Europe/Paris")).is_ok());
    for bad in [
        "Local",
        "../../etc/passwd",
        "Europe/../Paris",
        "-UTC",
        "Nowhere/Land",
        "A/ThisPartIsTooLong",
    ] {
        let err = resolve_time_zone(Some(bad)).expect_err(bad);
        assert_eq!(err.to_string(), format!("unknown time zone {bad}"));
    }
}

#[test]
fn already_exists_is_recorded_only_for_our_untracked_job() {
    let cj = cronjob("*/5 * * * *");
    let plan = decide(&cj, &[], at(310), &utc());
    let planned = plan.create.clone().expect("due").job;

    let mut ours = planned.clone();
    ours.metadata.uid = Some("existing-uid".into());
    assert_eq!(plan.on_already_exists(&cj, &ours), AlreadyExists::Record);

    let mut theirs = ours.clone();
    theirs.metadata.owner_references = None;
    assert_eq!(plan.on_already_exists(&cj, &theirs), AlreadyExists::Stop);

    let mut tracked = plan.clone();
    tracked.record_created(&ours);
    assert_eq!(tracked.on_already_exists(&cj, &ours), AlreadyExists::Stop);
}

#[test]
fn every_schedules_requeue_from_the_last_run() {
    let cj = with_status(cronjob("@every 2h"), |s| {
        s.last_schedule_time = Some(Time(at(7200)))
    });
    let plan = decide(&cj, &[], at(7200 + 600), &utc());
    assert!(plan.create.is_none());
    assert_eq!(secs(plan.requeue_after), Some(6600.1));
    let plan = decide(&cj, &[], at(14_400 + 5), &utc());
    assert_eq!(plan.create.map(|c| c.scheduled_time), Some(at(14_400)));
}

//! Jobs as the CronJob controller sees them: finished or not (upstream's
//! `pkg/controller/job/util` `FinishedCondition`, `IsJobSucceeded`), which ones a CronJob
//! controls (`getJobsToBeReconciled`), their order for history cleanup (`byJobStartTime`), and
//! the Job a CronJob creates (`getJobFromTemplate2`), all in `pkg/controller/cronjob`.

use std::cmp::Ordering;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::tz::TimeZone;

use crate::replicaset::pods::controller_of;

/// The annotation that records a Job's scheduled time, RFC 3339 in the CronJob's time zone
/// (`batchv1.CronJobScheduledTimestampAnnotation`; `CronJobsScheduledAnnotation` is GA).
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// How a Job ended: the type of its first true `Complete` or `Failed` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Complete,
    Failed,
}

impl Finished {
    /// The condition type, as upstream prints it in `SawCompletedJob`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "Complete",
            Self::Failed => "Failed",
        }
    }
}

/// `FinishedCondition`: a Job is finished once `Complete` or `Failed` is true. The interim
/// `SuccessCriteriaMet` and `FailureTarget` conditions do not count: the Job controller adds
/// the terminal one only when every pod is gone, and so does upstream's CronJob controller
/// wait for it.
pub fn finished(job: &Job) -> Option<Finished> {
    let conditions = job.status.as_ref()?.conditions.as_deref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(Finished::Complete),
            "Failed" => Some(Finished::Failed),
            _ => None,
        })
}

/// `IsJobSucceeded`: some `Complete` condition is true (even after a true `Failed` one).
pub fn is_succeeded(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
}

/// The jobs of `jobs` that `cronjob` controls: same namespace, and a controller reference
/// naming it. Like upstream's `getJobsToBeReconciled` only the name is compared (not the kind
/// or UID), so the Jobs of a deleted CronJob of the same name are counted until the garbage
/// collector removes them.
pub fn controlled_jobs<'a>(cronjob: &CronJob, jobs: &'a [Job]) -> Vec<&'a Job> {
    let name = cronjob.metadata.name.as_deref().unwrap_or_default();
    let namespace = cronjob.metadata.namespace.as_deref();
    jobs.iter()
        .filter(|j| namespace.is_none() || j.metadata.namespace.as_deref() == namespace)
        .filter(|j| controller_of(&j.metadata).is_some_and(|r| r.name == name))
        .collect()
}

/// `byJobStartTime`: started jobs first, earliest start first; ties (and unstarted jobs)
/// by name.
pub fn by_start_time(a: &Job, b: &Job) -> Ordering {
    let start = |j: &Job| {
        j.status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0)
    };
    let name = |j: &Job| j.metadata.name.clone().unwrap_or_default();
    match (start(a), start(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => name(a).cmp(&name(b)),
    }
}

/// `getJobName`: `<cronjob>-<scheduled time in minutes since the epoch>`, the same for every
/// attempt at one scheduled time so that the name works as a lock against creating it twice.
pub fn job_name(cronjob: &CronJob, scheduled: Timestamp) -> String {
    let name = cronjob.metadata.name.as_deref().unwrap_or_default();
    format!("{name}-{}", scheduled.as_second().div_euclid(60))
}

/// `getJobFromTemplate2`: the template's labels, annotations and spec, the deterministic
/// [`job_name`], the scheduled-timestamp annotation in `tz`, and the controller reference.
/// Like upstream only labels and annotations of the template's metadata are copied. The
/// namespace is set too (upstream leaves it to the create call's path).
pub fn job_from_template(cronjob: &CronJob, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let template = cronjob.spec.as_ref().map(|s| &s.job_template);
    let meta = template.and_then(|t| t.metadata.as_ref());
    let mut annotations = meta.and_then(|m| m.annotations.clone()).unwrap_or_default();
    annotations.insert(
        SCHEDULED_TIMESTAMP_ANNOTATION.into(),
        rfc3339(scheduled, tz),
    );
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(cronjob, scheduled)),
            namespace: cronjob.metadata.namespace.clone(),
            labels: meta
                .and_then(|m| m.labels.clone())
                .filter(|l| !l.is_empty()),
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(cronjob)]),
            ..Default::default()
        },
        spec: template.and_then(|t| t.spec.clone()),
        status: None,
    }
}

/// `metav1.NewControllerRef(cronJob, batch/v1 CronJob)`.
pub fn controller_ref(cronjob: &CronJob) -> OwnerReference {
    OwnerReference {
        api_version: "batch/v1".into(),
        kind: "CronJob".into(),
        name: cronjob.metadata.name.clone().unwrap_or_default(),
        uid: cronjob.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The reference to a Job kept in `status.active` (`ref.GetReference`).
pub fn job_reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// Go's `time.RFC3339` rendering of `t` in `tz`: whole seconds, `Z` for a zero offset.
pub fn rfc3339(t: Timestamp, tz: &TimeZone) -> String {
    let zoned = t.to_zoned(tz.clone());
    let offset = if zoned.offset().seconds() == 0 {
        "Z".to_string()
    } else {
        zoned.strftime("%:z").to_string()
    };
    format!("{}{offset}", zoned.strftime("%Y-%m-%dT%H:%M:%S"))
}

//! The plan of one CronJob sync ([`CronJobPlan`]) and the helpers the runtime calls while
//! performing it: [`CronJobPlan::record_created`] after a create, as upstream's `syncCronJob`
//! appends the new Job to `status.active`, and [`CronJobPlan::on_already_exists`] for its
//! `errors.IsAlreadyExists` branch (`pkg/controller/cronjob/cronjob_controllerv2.go`).

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::jobs::job_reference;
use crate::replicaset::pods::is_controlled_by;

/// The type of an event, as `corev1.EventTypeNormal`/`EventTypeWarning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// An event to record on the CronJob; reasons and messages are upstream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub type_: EventType,
    pub reason: &'static str,
    pub message: String,
}

impl Event {
    pub(super) fn normal(reason: &'static str, message: String) -> Self {
        Self {
            type_: EventType::Normal,
            reason,
            message,
        }
    }
    pub(super) fn warning(reason: &'static str, message: String) -> Self {
        Self {
            type_: EventType::Warning,
            reason,
            message,
        }
    }
}

/// A Job named in a plan; the UID lets the runtime use it as a precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    pub namespace: Option<String>,
    pub name: String,
    pub uid: Option<String>,
}

/// Why a Job is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Past `successfulJobsHistoryLimit` or `failedJobsHistoryLimit`; a failure is recorded
    /// and the sync goes on.
    HistoryLimit,
    /// Still active at the next scheduled time under `concurrencyPolicy: Replace`; a failure
    /// ends the sync.
    Replace,
}

/// A Job to delete, with background propagation (upstream's `realJobControl.DeleteJob`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteJob {
    pub job: JobRef,
    pub reason: DeleteReason,
    /// `SuccessfulDelete`, recorded once the delete succeeded.
    pub on_success: Event,
}

/// The Job to create for a scheduled time.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateJob {
    pub job: Job,
    pub scheduled_time: Timestamp,
    /// `SuccessfulCreate`, recorded once the create succeeded.
    pub on_success: Event,
}

/// What to do when the create answered `AlreadyExists` (upstream's `errors.IsAlreadyExists`
/// branch), after a GET of the existing Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlreadyExists {
    /// Another owner's Job, or one already in `status.active`: write the status if changed
    /// and end the sync without a requeue (upstream returns no requeue here).
    Stop,
    /// Ours but not yet tracked (a crash between create and status write): call
    /// [`CronJobPlan::record_created`] with it, without `SuccessfulCreate`, and go on.
    Record,
}

/// What one sync of a CronJob should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CronJobPlan {
    /// Record these now.
    pub events: Vec<Event>,
    /// History cleanup first, then `Replace` deletions.
    pub delete: Vec<DeleteJob>,
    pub create: Option<CreateJob>,
    /// The status once the deletions succeeded; the created Job joins it through
    /// [`Self::record_created`].
    pub status: CronJobStatus,
    /// Whether [`Self::status`] differs from the stored status.
    pub status_changed: bool,
    /// Sync again after this long (None: suspended, deleted, unparseable schedule, unknown
    /// time zone, or no next time).
    pub requeue_after: Option<Duration>,
}

impl CronJobPlan {
    /// Adds a created Job to `status.active` and sets `lastScheduleTime` to its scheduled
    /// time, as upstream does after `CreateJob`.
    pub fn record_created(&mut self, created: &Job) {
        let Some(create) = &self.create else { return };
        self.status
            .active
            .get_or_insert_with(Vec::new)
            .push(job_reference(created));
        self.status.last_schedule_time = Some(Time(create.scheduled_time));
        self.status_changed = true;
    }

    /// What to do about `existing`, the Job found under the planned name after the create
    /// answered `AlreadyExists`.
    pub fn on_already_exists(&self, cronjob: &CronJob, existing: &Job) -> AlreadyExists {
        let uid = cronjob.metadata.uid.as_deref().unwrap_or_default();
        if !is_controlled_by(&existing.metadata, uid) {
            return AlreadyExists::Stop;
        }
        let active = self.status.active.as_deref().unwrap_or_default();
        if active
            .iter()
            .any(|r| r.uid.is_some() && r.uid == existing.metadata.uid)
        {
            return AlreadyExists::Stop;
        }
        AlreadyExists::Record
    }
}

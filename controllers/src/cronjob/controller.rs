//! The CronJob controller's I/O half (upstream `cronjob_controllerv2.go`): CronJob and Job
//! events become CronJob keys; a sync reads the CronJob and the Jobs of its namespace from the
//! informers, asks `decide` what to do and performs the plan in the order `decide.rs` gives:
//! events, deletions, the create, the status, and a requeue at the next scheduled time.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};

use super::decide::{active_missing_from, decide, resolve_time_zone};
use super::plan::{AlreadyExists, DeleteReason, Event, EventType};
use crate::replicaset::pods::controller_of;
use crate::runtime::controller::{Action, ReconcileError, Reconciler, gone_or_changed, ignore_gone};
use crate::runtime::events;
use crate::runtime::informer::{Event as Change, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

const COMPONENT: &str = "cronjob-controller";
const QUEUE_CAPACITY: usize = 1_000_000;

pub struct CronJobController {
    client: kube::Client,
    cronjobs: Arc<Informer<CronJob>>,
    jobs: Arc<Informer<Job>>,
    recorder: events::EventRecorder,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

/// The CronJob controlling a Job, by key.
fn owner_key(job: &Job) -> Option<ObjectKey> {
    let owner = controller_of(&job.metadata)?;
    (owner.kind == "CronJob" && owner.api_version.starts_with("batch/"))
        .then(|| ObjectKey::new(job.metadata.namespace.as_deref(), &owner.name))
}

impl CronJobController {
    pub fn new(
        client: kube::Client,
        cronjobs: Arc<Informer<CronJob>>,
        jobs: Arc<Informer<Job>>,
    ) -> Arc<CronJobController> {
        let controller = Arc::new(CronJobController {
            recorder: events::EventRecorder::new(client.clone(), COMPONENT),
            client,
            cronjobs: Arc::clone(&cronjobs),
            jobs: Arc::clone(&jobs),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let weak = Arc::downgrade(&controller);
        cronjobs.add_handler(move |changes| {
            let Some(this) = weak.upgrade() else { return };
            let keys: Vec<ObjectKey> = changes.iter().map(|c| ObjectKey::of(c.object().as_ref())).collect();
            if let Err(full) = this.queue.add_all(keys) {
                tracing::warn!(%full, "cronjob queue");
            }
        });
        let weak = Arc::downgrade(&controller);
        jobs.add_handler(move |changes| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for change in changes {
                keys.extend(owner_key(change.object()));
                // A Job handed to another owner: the old one must notice.
                if let Change::Applied { old: Some(old), new } = change
                    && owner_key(old) != owner_key(new)
                {
                    keys.extend(owner_key(old));
                }
            }
            if let Err(full) = this.queue.add_all(keys) {
                tracing::warn!(%full, "cronjob queue");
            }
        });
        controller
    }

    async fn record(&self, cronjob: &CronJob, event: &Event) {
        let type_ = match event.type_ {
            EventType::Normal => events::EventType::Normal,
            EventType::Warning => events::EventType::Warning,
        };
        let regarding = events::reference_to(cronjob);
        self.recorder
            .record(&regarding, type_, event.reason, &event.message)
            .await;
    }

    async fn warn(&self, cronjob: &CronJob, reason: &str, message: String) {
        let regarding = events::reference_to(cronjob);
        self.recorder
            .record(&regarding, events::EventType::Warning, reason, &message)
            .await;
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(cronjob) = self.cronjobs.get(&key) else {
            return Ok(Action::Done);
        };
        let namespace = key.namespace.clone().unwrap_or_default();
        let job_api: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        let mut jobs: Vec<Job> = self
            .jobs
            .list(Some(&namespace))
            .iter()
            .map(|j| j.as_ref().clone())
            .collect();
        // Active Jobs the cache has not seen (yet, or any more) are asked for before the
        // plan drops them from `status.active` (upstream's `MissingJob` lookup).
        for reference in active_missing_from(&cronjob, &jobs) {
            let Some(name) = reference.name.as_deref() else { continue };
            if let Some(job) = job_api.get_opt(name).await? {
                jobs.push(job);
            }
        }
        let tz = resolve_time_zone(cronjob.spec.as_ref().and_then(|s| s.time_zone.as_deref()));
        let mut plan = decide(&cronjob, &jobs, Timestamp::now(), &tz);
        for event in &plan.events {
            self.record(&cronjob, event).await;
        }
        let background = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        for delete in &plan.delete {
            match job_api.delete(&delete.job.name, &background).await {
                Ok(_) => self.record(&cronjob, &delete.on_success).await,
                Err(error) if gone_or_changed(&error) => {}
                Err(error) => {
                    self.warn(&cronjob, "FailedDelete", format!("Deleted job: {error}")).await;
                    if delete.reason == DeleteReason::Replace {
                        return Err(error.into());
                    }
                }
            }
        }
        if let Some(create) = plan.create.clone() {
            match job_api.create(&PostParams::default(), &create.job).await {
                Ok(created) => {
                    self.record(&cronjob, &create.on_success).await;
                    plan.record_created(&created);
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    let name = create.job.metadata.name.clone().unwrap_or_default();
                    let Some(existing) = job_api.get_opt(&name).await? else {
                        // Gone between the two calls: the next sync makes it again.
                        return Err(ReconcileError::Other(format!("job {name} vanished")));
                    };
                    match plan.on_already_exists(&cronjob, &existing) {
                        AlreadyExists::Record => plan.record_created(&existing),
                        AlreadyExists::Stop => {
                            self.write_status(&cronjob, &plan.status, plan.status_changed).await?;
                            return Ok(Action::Done);
                        }
                    }
                }
                // The namespace is terminating: nothing to report, retry later.
                Err(kube::Error::Api(status))
                    if status.code == 403 && status.message.contains("being terminated") =>
                {
                    return Err(ReconcileError::Other(status.message));
                }
                Err(error) => {
                    self.warn(&cronjob, "FailedCreate", format!("Error creating job: {error}")).await;
                    return Err(error.into());
                }
            }
        }
        self.write_status(&cronjob, &plan.status, plan.status_changed).await?;
        Ok(plan.requeue_after.map_or(Action::Done, Action::RequeueAfter))
    }

    /// `cronjobs/status` at the version read: a newer version brings its own sync.
    async fn write_status(
        &self,
        cronjob: &CronJob,
        status: &k8s_openapi::api::batch::v1::CronJobStatus,
        changed: bool,
    ) -> Result<(), ReconcileError> {
        if !changed {
            return Ok(());
        }
        let namespace = cronjob.metadata.namespace.clone().unwrap_or_default();
        let name = cronjob.metadata.name.clone().unwrap_or_default();
        let api: Api<CronJob> = Api::namespaced(self.client.clone(), &namespace);
        let mut updated = cronjob.clone();
        updated.status = Some(status.clone());
        ignore_gone(api.replace_status(&name, &PostParams::default(), &updated).await)
    }
}

impl Reconciler for CronJobController {
    fn name(&self) -> &'static str {
        "cronjob"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

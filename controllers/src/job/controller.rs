//! The Job controller's I/O half (upstream `job_controller.go`, `syncJob`): pod and Job events
//! become Job keys; a sync performs the plan in upstream's order — delete pods (surplus ones
//! lose their tracking finalizer first), create pods, write the status that counts finished
//! pods, remove those pods' tracking finalizers, then write the status that follows. Creates
//! and deletes not yet seen hold the next sync back (expectations), and finalizer removals
//! not yet seen are passed to `decide` so that a pod is never counted twice. Before deciding,
//! orphans the Job's selector matches are adopted and owned pods it no longer matches are
//! released (upstream's `ClaimPods`); creates, deletes and the Job's end are recorded as
//! Events.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use parking_lot::Mutex;
use serde_json::json;

use super::{PodRef, TRACKING_FINALIZER, decide_with_pending};
use crate::replicaset::pods::{controller_of, is_pod_terminating};
use crate::replicaset::selector::Selector;
use crate::runtime::events::{EventRecorder, EventType, reference_to};
use crate::runtime::controller::{Action, ReconcileError, Reconciler, ignore_gone};
use crate::runtime::expectations::Expectations;
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

const QUEUE_CAPACITY: usize = 1_000_000;

pub struct JobController {
    client: kube::Client,
    recorder: EventRecorder,
    jobs: Arc<Informer<Job>>,
    pods: Arc<Informer<Pod>>,
    pub queue: Arc<WorkQueue<ObjectKey>>,
    expectations: Expectations,
    /// Per job, the pods whose tracking finalizer this controller removed and the informer
    /// still shows (upstream's `finalizerExpectations`).
    finalizers_removed: Mutex<HashMap<ObjectKey, BTreeSet<String>>>,
}

fn owner_key(pod: &Pod) -> Option<ObjectKey> {
    let owner = controller_of(&pod.metadata)?;
    (owner.kind == "Job" && owner.api_version.starts_with("batch/"))
        .then(|| ObjectKey::new(pod.metadata.namespace.as_deref(), &owner.name))
}

fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == TRACKING_FINALIZER))
}

impl JobController {
    pub fn new(
        client: kube::Client,
        jobs: Arc<Informer<Job>>,
        pods: Arc<Informer<Pod>>,
    ) -> Arc<JobController> {
        let controller = Arc::new(JobController {
            recorder: EventRecorder::new(client.clone(), "job-controller"),
            client,
            jobs: Arc::clone(&jobs),
            pods: Arc::clone(&pods),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
            expectations: Expectations::default(),
            finalizers_removed: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&controller);
        jobs.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().map(|e| match e {
                Event::Applied { new, .. } => ObjectKey::of(new.as_ref()),
                Event::Deleted(old) => {
                    let key = ObjectKey::of(old.as_ref());
                    this.expectations.forget(&key);
                    this.finalizers_removed.lock().remove(&key);
                    key
                }
            });
            let _ = this.queue.add_all(keys.collect::<Vec<_>>());
        });
        let weak = Arc::downgrade(&controller);
        pods.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for event in events {
                let (pod, created, gone) = match event {
                    Event::Applied { new, old } => (new, old.is_none(), false),
                    Event::Deleted(old) => (old, false, true),
                };
                // The previous owner notices a pod that left it.
                if let Event::Applied { new, old: Some(old) } = event
                    && let Some(previous) = owner_key(old)
                    && owner_key(new).as_ref() != Some(&previous)
                {
                    keys.push(previous);
                }
                let Some(job) = owner_key(pod) else {
                    // An orphan: every Job that may adopt it.
                    if !gone && controller_of(&pod.metadata).is_none() {
                        keys.extend(this.matching(pod));
                    }
                    continue;
                };
                let pod_key = ObjectKey::of(pod.as_ref());
                if created {
                    this.expectations.creation_observed(&job);
                }
                if gone || pod.metadata.deletion_timestamp.is_some() {
                    this.expectations.deletion_observed(&job, &pod_key);
                }
                if (gone || !has_tracking_finalizer(pod))
                    && let Some(uid) = &pod.metadata.uid
                    && let Some(removed) = this.finalizers_removed.lock().get_mut(&job)
                {
                    removed.remove(uid);
                }
                keys.push(job);
            }
            let _ = this.queue.add_all(keys);
        });
        controller
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(job) = self.jobs.get(&key) else {
            return Ok(Action::Done);
        };
        if !self.expectations.satisfied(&key) {
            // The events of the last writes bring the next sync.
            return Ok(Action::Done);
        }
        let namespace = key.namespace.clone().unwrap_or_default();
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let pods = self.claim_pods(&job, &pod_api).await?;
        let pending = self
            .finalizers_removed
            .lock()
            .get(&key)
            .cloned()
            .unwrap_or_default();
        let plan = decide_with_pending(&job, &pods, &pending, Timestamp::now());
        let regarding = reference_to(job.as_ref());
        let job_api: Api<Job> = Api::namespaced(self.client.clone(), &namespace);

        if !plan.delete.is_empty() {
            let keys = plan
                .delete
                .iter()
                .map(|d| ObjectKey::new(Some(&namespace), &d.pod.name));
            self.expectations.expect(&key, 0, keys);
            for delete in &plan.delete {
                if delete.remove_finalizer_first {
                    self.remove_finalizer(&pod_api, &delete.pod).await?;
                }
                let params = DeleteParams {
                    preconditions: delete.pod.uid.clone().map(|uid| Preconditions {
                        uid: Some(uid),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match pod_api.delete(&delete.pod.name, &params).await {
                    Ok(_) => {
                        let message = format!("Deleted pod: {}", delete.pod.name);
                        self.recorder
                            .record(&regarding, EventType::Normal, "SuccessfulDelete", &message)
                            .await;
                    }
                    Err(error) => {
                        let pod_key = ObjectKey::new(Some(&namespace), &delete.pod.name);
                        self.expectations.deletion_observed(&key, &pod_key);
                        ignore_gone::<()>(Err(error))?;
                    }
                }
            }
        }
        if !plan.create.is_empty() {
            self.expectations.expect(&key, plan.create.len(), []);
            let params = PostParams::default();
            for (made, create) in plan.create.iter().enumerate() {
                match pod_api.create(&params, &create.pod).await {
                    Ok(pod) => {
                        let name = pod.metadata.name.unwrap_or_default();
                        let message = format!("Created pod: {name}");
                        self.recorder
                            .record(&regarding, EventType::Normal, "SuccessfulCreate", &message)
                            .await;
                    }
                    Err(error) => {
                        // Not made: nothing to wait for (each unmade one lowers the count).
                        for _ in made..plan.create.len() {
                            self.expectations.creation_observed(&key);
                        }
                        let message = format!("Error creating: {error}");
                        self.recorder
                            .record(&regarding, EventType::Warning, "FailedCreate", &message)
                            .await;
                        return Err(ReconcileError::Api(error));
                    }
                }
            }
        }
        let mut current = job.as_ref().clone();
        if plan.status_changed {
            current = self
                .write_status(&job_api, current, plan.status.clone())
                .await?;
            self.record_end(&job, &plan.status).await;
        }
        if !plan.remove_finalizers.is_empty() {
            let mut removed = Vec::new();
            for pod in &plan.remove_finalizers {
                self.remove_finalizer(&pod_api, pod).await?;
                if let Some(uid) = &pod.uid {
                    removed.push(uid.clone());
                    self.finalizers_removed
                        .lock()
                        .entry(key.clone())
                        .or_default()
                        .insert(uid.clone());
                }
            }
            if let Some(status) = plan.status_after_removal(&removed) {
                self.write_status(&job_api, current, status).await?;
            }
        }
        Ok(match plan.requeue_after {
            Some(after) => Action::RequeueAfter(after),
            None => Action::Done,
        })
    }

    /// The Jobs of the pod's namespace whose (valid, non-empty) selector matches it.
    fn matching(&self, pod: &Pod) -> Vec<ObjectKey> {
        self.jobs
            .list(pod.metadata.namespace.as_deref())
            .iter()
            .filter(|job| {
                job.spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .and_then(Selector::parse)
                    .is_some_and(|s| !s.is_everything() && s.matches(pod.metadata.labels.as_ref()))
            })
            .map(|job| ObjectKey::of(job.as_ref()))
            .collect()
    }

    /// The pods of the Job's namespace it controls, after adopting the orphans its selector
    /// matches and releasing the owned pods it no longer matches (`ClaimPods`; a Job being
    /// deleted adopts nothing). An invalid selector claims nothing.
    async fn claim_pods(&self, job: &Job, api: &Api<Pod>) -> Result<Vec<Pod>, ReconcileError> {
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let selector = job
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(Selector::parse)
            .filter(|s| !s.is_everything());
        let namespace = job.metadata.namespace.as_deref();
        let reference = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "name": job.metadata.name, "uid": uid,
            "controller": true, "blockOwnerDeletion": true,
        });
        let mut claimed = Vec::new();
        for pod in self.pods.list(namespace) {
            let matches = selector
                .as_ref()
                .is_some_and(|s| s.matches(pod.metadata.labels.as_ref()));
            let name = pod.metadata.name.clone().unwrap_or_default();
            match controller_of(&pod.metadata) {
                Some(owner) if owner.uid == uid => {
                    if matches || is_pod_terminating(&pod) {
                        claimed.push(pod.as_ref().clone());
                        continue;
                    }
                    let patch = json!({"metadata": {
                        "ownerReferences": [{"$patch": "delete", "uid": uid}],
                        "uid": pod.metadata.uid,
                    }});
                    let result = api
                        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                        .await;
                    ignore_gone(result)?;
                }
                None if matches
                    && !is_pod_terminating(&pod)
                    && job.metadata.deletion_timestamp.is_none() =>
                {
                    let patch = json!({"metadata": {
                        "ownerReferences": [reference],
                        "uid": pod.metadata.uid,
                    }});
                    let result = api
                        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                        .await;
                    match result {
                        Ok(adopted) => claimed.push(adopted),
                        Err(error) => ignore_gone(Err::<(), _>(error))?,
                    }
                }
                _ => {}
            }
        }
        Ok(claimed)
    }

    /// Records the Job's end when this status adds `Complete` or `Failed`.
    async fn record_end(&self, job: &Job, status: &JobStatus) {
        let holds = |status: Option<&JobStatus>, type_: &str| {
            status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == type_ && c.status == "True"))
        };
        let regarding = reference_to(job);
        if holds(Some(status), "Complete") && !holds(job.status.as_ref(), "Complete") {
            self.recorder
                .record(&regarding, EventType::Normal, "Completed", "Job completed")
                .await;
        }
        if holds(Some(status), "Failed") && !holds(job.status.as_ref(), "Failed") {
            let failed = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Failed");
            let reason = failed.and_then(|c| c.reason.clone()).unwrap_or_default();
            let message = failed.and_then(|c| c.message.clone()).unwrap_or_default();
            self.recorder
                .record(&regarding, EventType::Warning, &reason, &message)
                .await;
        }
    }

    /// PUTs the status (the controller's role may update, not patch, `jobs/status`); returns
    /// the job as written, for a second write in the same sync.
    async fn write_status(
        &self,
        api: &Api<Job>,
        mut job: Job,
        status: JobStatus,
    ) -> Result<Job, ReconcileError> {
        let name = job.metadata.name.clone().unwrap_or_default();
        job.status = Some(status);
        Ok(api
            .replace_status(&name, &PostParams::default(), &job)
            .await?)
    }

    async fn remove_finalizer(&self, api: &Api<Pod>, pod: &PodRef) -> Result<(), ReconcileError> {
        let patch = json!({
            "metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]},
        });
        ignore_gone(
            api.patch(
                &pod.name,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await,
        )
    }
}

impl Reconciler for JobController {
    fn name(&self) -> &'static str {
        "job"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

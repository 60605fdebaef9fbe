//! The DaemonSet controller's I/O half (upstream `syncDaemonSet`, `syncNodes` and
//! `constructHistory` of `pkg/controller/daemon/`): routes DaemonSet, node, pod and
//! ControllerRevision events to DaemonSet keys (`handlers.rs`), reads the caches, asks
//! [`decide_sync`] for a plan and performs it through the API in the order `plan.rs` states.
//! Expectations keep a sync from acting on a cache that has not shown its own last creates
//! and deletes; pods are created in slow-start batches (1, 2, 4...) so that a DaemonSet whose
//! pods are all refused fails fast; the failed-pod backoff is kept here between syncs, per
//! DaemonSet UID.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::{BoxFuture, join_all};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use parking_lot::Mutex;
use serde_json::json;

use super::backoff::FailedPodBackoff;
use super::decide::{SyncInput, decide_sync};
use super::plan::{
    CreatePod, DaemonSetPlan, Event, EventType, ObjectRef, created_event, deleted_event,
    failed_create_event, failed_delete_event,
};
use super::util::controller_ref;
use crate::history::CONTROLLER_REVISION_HASH_LABEL;
use crate::replicaset::pods::controller_of;
use crate::runtime::controller::{
    Action, ReconcileError, Reconciler, gone_or_changed, ignore_gone,
};
use crate::runtime::events::{self, EventRecorder, reference_to};
use crate::runtime::expectations::Expectations;
use crate::runtime::informer::{Event as InformerEvent, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

/// The first batch of creates; each next one doubles (upstream's `SlowStartInitialBatchSize`).
const SLOW_START_INITIAL: usize = 1;
/// Distinct DaemonSets the queue tracks at most.
const QUEUE_CAPACITY: usize = 100_000;
/// The component named in the Events it records (upstream's recorder source).
const COMPONENT: &str = "daemonset-controller";

pub struct DaemonSetController {
    client: kube::Client,
    recorder: EventRecorder,
    pub(super) daemonsets: Arc<Informer<DaemonSet>>,
    nodes: Arc<Informer<Node>>,
    pods: Arc<Informer<Pod>>,
    revisions: Arc<Informer<ControllerRevision>>,
    pub queue: Arc<WorkQueue<ObjectKey>>,
    pub(super) expectations: Expectations,
    /// The failed-pod backoff of each DaemonSet, by UID (a DaemonSet deleted and made again
    /// under the same name starts clean). Held only to read or replace one entry.
    backoff: Mutex<HashMap<String, FailedPodBackoff>>,
}

/// Where a step of the plan stopped the sync.
enum Stop {
    /// The cache was stale (404, 409): the event of the change brings the key back.
    Stale,
    Failed(ReconcileError),
}

impl From<kube::Error> for Stop {
    fn from(error: kube::Error) -> Self {
        if gone_or_changed(&error) {
            Stop::Stale
        } else {
            Stop::Failed(ReconcileError::Api(error))
        }
    }
}

impl From<ReconcileError> for Stop {
    fn from(error: ReconcileError) -> Self {
        Stop::Failed(error)
    }
}

impl DaemonSetController {
    pub fn new(
        client: kube::Client,
        daemonsets: Arc<Informer<DaemonSet>>,
        nodes: Arc<Informer<Node>>,
        pods: Arc<Informer<Pod>>,
        revisions: Arc<Informer<ControllerRevision>>,
    ) -> Arc<DaemonSetController> {
        let controller = Arc::new(DaemonSetController {
            recorder: EventRecorder::new(client.clone(), COMPONENT),
            client,
            daemonsets: Arc::clone(&daemonsets),
            nodes: Arc::clone(&nodes),
            pods: Arc::clone(&pods),
            revisions: Arc::clone(&revisions),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
            expectations: Expectations::default(),
            backoff: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&controller);
        daemonsets.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().map(|event| {
                let key = ObjectKey::of(event.object().as_ref());
                if let InformerEvent::Deleted(ds) = event {
                    this.expectations.forget(&key);
                    if let Some(uid) = &ds.metadata.uid {
                        this.backoff.lock().remove(uid);
                    }
                }
                key
            });
            let keys: Vec<ObjectKey> = keys.collect();
            this.enqueue(keys);
        });
        let weak = Arc::downgrade(&controller);
        nodes.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            this.node_events(events, &mut keys);
            this.enqueue(keys);
        });
        let weak = Arc::downgrade(&controller);
        pods.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for event in events {
                this.pod_event(event, &mut keys);
            }
            this.enqueue(keys);
        });
        let weak = Arc::downgrade(&controller);
        revisions.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for event in events {
                this.revision_event(event, &mut keys);
            }
            this.enqueue(keys);
        });
        controller
    }

    fn enqueue(&self, keys: Vec<ObjectKey>) {
        if keys.is_empty() {
            return;
        }
        if let Err(full) = self.queue.add_all(keys) {
            tracing::warn!(%full, "daemonset queue");
        }
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(ds) = self.daemonsets.get(&key) else {
            self.expectations.forget(&key);
            return Ok(Action::Done);
        };
        let namespace = key.namespace.clone().unwrap_or_default();
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let nodes: Vec<Node> = self
            .nodes
            .list(None)
            .iter()
            .map(|n| (**n).clone())
            .collect();
        // Only the pods this DaemonSet controls or might adopt are copied for `decide`: a
        // namespace may hold many thousands of others.
        let pods: Vec<Pod> = self
            .pods
            .list(Some(&namespace))
            .iter()
            .filter(|p| controller_of(&p.metadata).is_none_or(|o| o.uid == uid))
            .map(|p| (**p).clone())
            .collect();
        // All of the namespace: a revision of another owner may hold the wanted name.
        let revisions: Vec<ControllerRevision> = self
            .revisions
            .list(Some(&namespace))
            .iter()
            .map(|r| (**r).clone())
            .collect();
        let backoff = self.backoff.lock().get(&uid).cloned().unwrap_or_default();
        let plan = decide_sync(&SyncInput {
            ds: &ds,
            nodes: &nodes,
            pods: &pods,
            revisions: &revisions,
            backoff: &backoff,
            expectations_satisfied: self.expectations.satisfied(&key),
            now: Timestamp::now(),
        });
        {
            let mut kept = self.backoff.lock();
            if plan.backoff.is_empty() {
                kept.remove(&uid);
            } else {
                kept.insert(uid, plan.backoff.clone());
            }
        }

        let mut events = plan.events.clone();
        let outcome = self.perform(&key, &ds, &plan, &mut events).await;
        // The status is written even when a step failed, as upstream's `syncDaemonSet` does.
        let status = if plan.status_changed {
            // A PUT at the version read (upstream's `UpdateStatus`; the role may update, not
            // patch, `daemonsets/status`): a newer version makes it 409, and the event of that
            // version brings another sync.
            let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), &namespace);
            let mut updated = (*ds).clone();
            updated.status = Some(plan.status.clone());
            let result = api
                .replace_status(&key.name, &PostParams::default(), &updated)
                .await;
            ignore_gone(result)
        } else {
            Ok(())
        };
        self.record(&ds, &events).await;
        match outcome {
            Err(Stop::Failed(error)) => {
                if let Err(status_error) = status {
                    tracing::debug!(%key, error = %status_error, "daemonset status");
                }
                return Err(error);
            }
            Err(Stop::Stale) => return status.map(|()| Action::Done),
            Ok(()) => status?,
        }
        if let Some(error) = &plan.error {
            return Err(ReconcileError::Other(error.to_string()));
        }
        Ok(plan
            .requeue_after
            .map_or(Action::Done, Action::RequeueAfter))
    }

    /// Steps 1 to 3 of the plan (`plan.rs`), stopping at the first that fails.
    async fn perform(
        &self,
        key: &ObjectKey,
        ds: &DaemonSet,
        plan: &DaemonSetPlan,
        events: &mut Vec<Event>,
    ) -> Result<(), Stop> {
        let namespace = key.namespace.as_deref().unwrap_or_default();
        let revision_api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), namespace);
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let owner = json!(controller_ref(ds));
        let uid = ds.metadata.uid.as_deref().unwrap_or_default();

        let revisions = &plan.revisions;
        for r in &revisions.adopt {
            patch(&revision_api, r, adopt_patch(&owner, r)).await?;
        }
        for r in &revisions.release {
            patch(&revision_api, r, release_patch(uid, r)).await?;
        }
        for r in &revisions.update {
            let name = r.metadata.name.as_deref().unwrap_or_default();
            revision_api
                .replace(name, &PostParams::default(), r)
                .await?;
        }
        for pod in &revisions.relabel_pods {
            let relabel = json!({"metadata": {
                "labels": {CONTROLLER_REVISION_HASH_LABEL: plan.hash},
                "uid": pod.uid,
            }});
            ignore_gone(patch(&pod_api, pod, relabel).await)?;
        }
        for r in &revisions.delete_duplicates {
            ignore_gone(delete(&revision_api, r).await)?;
        }
        if let Some(revision) = &revisions.create {
            match revision_api.create(&PostParams::default(), revision).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    // A revision the cache has not shown yet: the next sync sees it, and
                    // `decide` uses it or counts a collision.
                    let name = revision.metadata.name.as_deref().unwrap_or_default();
                    return Err(Stop::Failed(ReconcileError::Other(format!(
                        "ControllerRevision {namespace}/{name} exists but is not cached yet"
                    ))));
                }
                Err(error) => return Err(Stop::Failed(error.into())),
            }
        }

        for pod in &plan.adopt {
            ignore_gone(patch(&pod_api, pod, adopt_patch(&owner, pod)).await)?;
        }
        for pod in &plan.release {
            ignore_gone(patch(&pod_api, pod, release_patch(uid, pod)).await)?;
        }
        if let Some(error) = self.sync_nodes(key, &pod_api, plan, events).await {
            return Err(Stop::Failed(ReconcileError::Api(error)));
        }

        for r in &revisions.delete_old {
            ignore_gone(delete(&revision_api, r).await)?;
        }
        Ok(())
    }

    /// `syncNodes`: sets the expectations, creates in slow-start batches, then deletes all at
    /// once; returns the last error. A failed create or delete is counted as observed, since
    /// no event will show it.
    async fn sync_nodes(
        &self,
        key: &ObjectKey,
        api: &Api<Pod>,
        plan: &DaemonSetPlan,
        events: &mut Vec<Event>,
    ) -> Option<kube::Error> {
        if plan.create.is_empty() && plan.delete.is_empty() {
            return None;
        }
        let namespace = key.namespace.as_deref();
        let doomed = plan
            .delete
            .iter()
            .map(|p| ObjectKey::new(namespace, &p.name));
        self.expectations.expect(key, plan.create.len(), doomed);
        let mut failure = self.create_pods(key, api, &plan.create, events).await;
        let deletes = join_all(plan.delete.iter().map(|pod| delete(api, pod))).await;
        for (pod, result) in plan.delete.iter().zip(deletes) {
            match result {
                Ok(()) => events.push(deleted_event(&pod.name)),
                Err(error) => {
                    self.expectations
                        .deletion_observed(key, &ObjectKey::new(namespace, &pod.name));
                    if !gone_or_changed(&error) {
                        events.push(failed_delete_event(&error.to_string()));
                        failure = Some(error);
                    }
                }
            }
        }
        failure
    }

    /// Creates the pods in batches of 1, 2, 4...; stops after the first batch with a failure
    /// and lowers the expectations by the creates not attempted.
    async fn create_pods(
        &self,
        key: &ObjectKey,
        api: &Api<Pod>,
        creates: &[CreatePod],
        events: &mut Vec<Event>,
    ) -> Option<kube::Error> {
        let params = PostParams::default();
        let mut made = 0;
        let mut batch = SLOW_START_INITIAL.min(creates.len());
        while made < creates.len() {
            let chunk = &creates[made..made + batch];
            let results = join_all(chunk.iter().map(|c| api.create(&params, &c.pod))).await;
            made += batch;
            let mut failure = None;
            for result in results {
                match result {
                    Ok(pod) => {
                        events.push(created_event(pod.metadata.name.as_deref().unwrap_or("")));
                    }
                    Err(error) => {
                        self.expectations.creation_observed(key);
                        events.push(failed_create_event(&error.to_string()));
                        failure = Some(error);
                    }
                }
            }
            if failure.is_some() {
                for _ in made..creates.len() {
                    self.expectations.creation_observed(key);
                }
                return failure;
            }
            batch = (batch * 2).min(creates.len() - made);
        }
        None
    }

    /// Writes the sync's events about `ds` as core/v1 Events, all at once; a failure is
    /// logged, never the sync's.
    async fn record(&self, ds: &DaemonSet, events: &[Event]) {
        let regarding = reference_to(ds);
        let writes = events.iter().map(|event| {
            let type_ = match event.type_ {
                EventType::Normal => events::EventType::Normal,
                EventType::Warning => events::EventType::Warning,
            };
            self.recorder
                .record(&regarding, type_, event.reason, &event.message)
        });
        join_all(writes).await;
    }
}

/// The merge patch that sets `owner` as the controller reference of `object`, with its UID
/// as a precondition (upstream's `ownerRefControllerPatch`).
fn adopt_patch(owner: &serde_json::Value, object: &ObjectRef) -> serde_json::Value {
    json!({"metadata": {"ownerReferences": [owner], "uid": object.uid}})
}

/// The strategic merge patch that removes the reference to `owner_uid` (`deleteOwnerRefPatch`).
fn release_patch(owner_uid: &str, object: &ObjectRef) -> serde_json::Value {
    json!({"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
        "uid": object.uid,
    }})
}

async fn patch<K>(api: &Api<K>, object: &ObjectRef, body: serde_json::Value) -> kube::Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        &object.name,
        &PatchParams::default(),
        &Patch::Strategic(&body),
    )
    .await
    .map(drop)
}

/// Deletes `object` if it still has the UID the plan saw.
async fn delete<K>(api: &Api<K>, object: &ObjectRef) -> kube::Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = DeleteParams {
        preconditions: object.uid.clone().map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    api.delete(&object.name, &params).await.map(drop)
}

impl Reconciler for DaemonSetController {
    fn name(&self) -> &'static str {
        "daemonset"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

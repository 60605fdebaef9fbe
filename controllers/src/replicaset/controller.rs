//! The ReplicaSet controller's I/O half (upstream `replica_set.go`, `syncReplicaSet`), for
//! ReplicaSets and, through [`ReplicaOwner`], ReplicationControllers: routes pod and owner
//! events to owner keys, and performs the plan `decide.rs` makes
//! through the API, with expectations so that a sync never acts on a cache that has not seen
//! its own last writes, and pods created in slow-start batches (1, 2, 4...) so that a
//! ReplicaSet whose pods are all refused fails fast.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;

use super::decide::{ManageError, decide, set_replica_failure, status_changed};
use super::owner::{ReplicaOwner, owner_ref, refers_to};
use super::pods::controller_of;
use super::selector::Selector;
use crate::runtime::controller::{
    Action, ReconcileError, Reconciler, gone_or_changed, ignore_gone,
};
use crate::runtime::expectations::Expectations;
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

/// The first batch of creates; each next one doubles (upstream's `SlowStartInitialBatchSize`).
const SLOW_START_INITIAL: usize = 1;
/// Distinct owners the queue tracks at most.
const QUEUE_CAPACITY: usize = 1_000_000;

pub type ReplicaSetController = ReplicaController<ReplicaSet>;
pub type ReplicationControllerController = ReplicaController<ReplicationController>;

pub struct ReplicaController<K> {
    client: kube::Client,
    owners: Arc<Informer<K>>,
    pods: Arc<Informer<Pod>>,
    pub queue: Arc<WorkQueue<ObjectKey>>,
    expectations: Expectations,
}

/// The owner of kind `K` controlling a pod, by key.
fn owner_key<K: ReplicaOwner>(pod: &Pod) -> Option<ObjectKey> {
    let owner = controller_of(&pod.metadata)?;
    refers_to::<K>(owner).then(|| ObjectKey::new(pod.metadata.namespace.as_deref(), &owner.name))
}

impl<K: ReplicaOwner> ReplicaController<K> {
    pub fn new(
        client: kube::Client,
        owners: Arc<Informer<K>>,
        pods: Arc<Informer<Pod>>,
    ) -> Arc<ReplicaController<K>> {
        let controller = Arc::new(ReplicaController {
            client,
            owners: Arc::clone(&owners),
            pods: Arc::clone(&pods),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
            expectations: Expectations::default(),
        });
        let weak = Arc::downgrade(&controller);
        owners.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().map(|e| match e {
                Event::Applied { new, .. } => ObjectKey::of(new.as_ref()),
                Event::Deleted(old) => {
                    let key = ObjectKey::of(old.as_ref());
                    this.expectations.forget(&key);
                    key
                }
            });
            let keys: Vec<ObjectKey> = keys.collect();
            if let Err(full) = this.queue.add_all(keys) {
                tracing::warn!(%full, controller = K::CONTROLLER, "queue");
            }
        });
        let weak = Arc::downgrade(&controller);
        pods.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for event in events {
                this.pod_event(event, &mut keys);
            }
            if let Err(full) = this.queue.add_all(keys) {
                tracing::warn!(%full, controller = K::CONTROLLER, "queue");
            }
        });
        controller
    }

    /// The owners a pod event concerns (upstream `addPod`, `updatePod`, `deletePod`).
    fn pod_event(&self, event: &Event<Pod>, keys: &mut Vec<ObjectKey>) {
        match event {
            Event::Applied { new, old } => {
                let pod_key = ObjectKey::of(new.as_ref());
                match owner_key::<K>(new) {
                    Some(owner) => {
                        if old.is_none() {
                            self.expectations.creation_observed(&owner);
                        }
                        let was_deleting = old
                            .as_ref()
                            .is_some_and(|o| o.metadata.deletion_timestamp.is_some());
                        if new.metadata.deletion_timestamp.is_some() && !was_deleting {
                            self.expectations.deletion_observed(&owner, &pod_key);
                        }
                        keys.push(owner);
                    }
                    // An orphan: every owner that may adopt it.
                    None => keys.extend(self.matching(new)),
                }
                // The controller changed: the old one must notice too.
                if let Some(previous) = old.as_ref().and_then(|o| owner_key::<K>(o))
                    && Some(&previous) != owner_key::<K>(new).as_ref()
                {
                    keys.push(previous);
                }
            }
            Event::Deleted(pod) => {
                if let Some(owner) = owner_key::<K>(pod) {
                    self.expectations
                        .deletion_observed(&owner, &ObjectKey::of(pod.as_ref()));
                    keys.push(owner);
                }
            }
        }
    }

    /// The owners in the pod's namespace whose (valid, non-empty) selector matches it.
    fn matching(&self, pod: &Pod) -> Vec<ObjectKey> {
        let labels = pod.metadata.labels.as_ref();
        self.owners
            .list(pod.metadata.namespace.as_deref())
            .iter()
            .filter(|owner| {
                let rs = owner.as_replicaset();
                let selector = rs.spec.as_ref().and_then(|s| Selector::parse(&s.selector));
                selector.is_some_and(|s| !s.is_everything() && s.matches(labels))
            })
            .map(|owner| ObjectKey::of(owner.as_ref()))
            .collect()
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(owner) = self.owners.get(&key) else {
            self.expectations.forget(&key);
            return Ok(Action::Done);
        };
        let rs = owner.as_replicaset();
        let namespace = key.namespace.clone().unwrap_or_default();
        // Only the pods this ReplicaSet controls or might adopt are copied for `decide`: a
        // namespace may hold many thousands of others.
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let selector = rs.spec.as_ref().and_then(|s| Selector::parse(&s.selector));
        let pods: Vec<Pod> = self
            .pods
            .list(Some(&namespace))
            .iter()
            .filter(|p| match controller_of(&p.metadata) {
                Some(owner) => owner.uid == uid,
                None => selector
                    .as_ref()
                    .is_some_and(|s| s.matches(p.metadata.labels.as_ref())),
            })
            .map(|p| p.as_ref().clone())
            .collect();
        let plan = decide(&rs, &pods, Timestamp::now());
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let reference = owner_ref(owner.as_ref());
        for pod in &plan.adopt {
            let patch = json!({"metadata": {
                "ownerReferences": [reference],
                "uid": pod.uid,
            }});
            let result = pod_api
                .patch(
                    &pod.name,
                    &PatchParams::default(),
                    &Patch::Strategic(&patch),
                )
                .await;
            ignore_gone(result)?;
        }
        for pod in &plan.release {
            let patch = json!({"metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": reference.uid}],
                "uid": pod.uid,
            }});
            let result = pod_api
                .patch(
                    &pod.name,
                    &PatchParams::default(),
                    &Patch::Strategic(&patch),
                )
                .await;
            ignore_gone(result)?;
        }
        let mut failure = None;
        if self.expectations.satisfied(&key) && rs.metadata.deletion_timestamp.is_none() {
            if let Some(create) = &plan.create {
                self.expectations.expect(&key, create.count, []);
                let mut template = create.pod.clone();
                template.metadata.owner_references = Some(vec![reference.clone()]);
                failure = self
                    .create_pods(&key, &pod_api, &template, create.count)
                    .await;
            } else if !plan.delete.is_empty() {
                let keys = plan
                    .delete
                    .iter()
                    .map(|p| ObjectKey::new(Some(&namespace), &p.name));
                self.expectations.expect(&key, 0, keys);
                for pod in &plan.delete {
                    let params = DeleteParams {
                        preconditions: pod.uid.clone().map(|uid| Preconditions {
                            uid: Some(uid),
                            resource_version: None,
                        }),
                        ..DeleteParams::default()
                    };
                    if let Err(error) = pod_api.delete(&pod.name, &params).await {
                        // Not deleted: do not wait to see it go.
                        let pod_key = ObjectKey::new(Some(&namespace), &pod.name);
                        self.expectations.deletion_observed(&key, &pod_key);
                        if !gone_or_changed(&error) {
                            failure = Some(error);
                        }
                    }
                }
            }
        }
        let mut status = plan.status.clone();
        let message = failure.as_ref().map(ToString::to_string);
        let manage_error = message.as_deref().map(|m| {
            if plan.create.is_some() {
                ManageError::Create(m)
            } else {
                ManageError::Delete(m)
            }
        });
        set_replica_failure(&mut status, manage_error, Timestamp::now());
        if status_changed(&rs, &status) {
            // A PUT of the status with the version read (upstream's `UpdateStatus`; the
            // controller's role may update, not patch, `replicasets/status`): a newer version
            // makes it 409, and the event of that version brings another sync.
            let api: Api<K> = Api::namespaced(self.client.clone(), &namespace);
            let updated = owner.with_status(status);
            let result = api
                .replace_status(&key.name, &PostParams::default(), &updated)
                .await;
            ignore_gone(result)?;
        }
        if let Some(error) = failure {
            return Err(ReconcileError::Api(error));
        }
        Ok(plan
            .requeue_after
            .map_or(Action::Done, Action::RequeueAfter))
    }

    /// Creates `count` pods in batches of 1, 2, 4...; stops at the first batch with a
    /// failure, and lowers the expectations by the creates not made.
    async fn create_pods(
        &self,
        key: &ObjectKey,
        api: &Api<Pod>,
        template: &Pod,
        count: usize,
    ) -> Option<kube::Error> {
        let params = PostParams::default();
        let mut made = 0;
        let mut batch = SLOW_START_INITIAL.min(count);
        while made < count {
            let results =
                futures::future::join_all((0..batch).map(|_| api.create(&params, template))).await;
            made += batch;
            let mut failure = None;
            for result in results {
                if let Err(error) = result {
                    self.expectations.creation_observed(key);
                    failure = Some(error);
                }
            }
            if let Some(error) = failure {
                for _ in made..count {
                    self.expectations.creation_observed(key);
                }
                return Some(error);
            }
            batch = (batch * 2).min(count - made);
        }
        None
    }
}

impl<K: ReplicaOwner> Reconciler for ReplicaController<K> {
    fn name(&self) -> &'static str {
        K::CONTROLLER
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

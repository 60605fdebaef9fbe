//! The Deployment controller's I/O half (upstream `deployment_controller.go`): routes
//! Deployment, ReplicaSet and pod events to Deployment keys and performs the plan `decide`
//! makes through the API, in upstream's order: create the new ReplicaSet, resize and
//! annotate ReplicaSets, clean up history, then write the revision and the status. Every write
//! carries the resourceVersion it was computed from, so a plan made from a stale cache fails
//! with 409 and the next event brings a fresh sync.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

use super::{
    CreateConflict, DeploymentPlan, create_conflict, create_failed_status, decide, old_pods_running,
};
use crate::replicaset::pods::controller_of;
use crate::replicaset::selector::selecting;
use crate::runtime::controller::{Action, ReconcileError, Reconciler};
use crate::runtime::events::{EventRecorder, EventType, reference_to};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

const QUEUE_CAPACITY: usize = 1_000_000;

pub struct DeploymentController {
    client: kube::Client,
    deployments: Arc<Informer<Deployment>>,
    replicasets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

/// The owner of `meta` of `kind` in apps/v1, by key.
fn owner_key(meta: &ObjectMeta, kind: &str) -> Option<ObjectKey> {
    let owner = controller_of(meta)?;
    (owner.kind == kind && owner.api_version.starts_with("apps/"))
        .then(|| ObjectKey::new(meta.namespace.as_deref(), &owner.name))
}

impl DeploymentController {
    pub fn new(
        client: kube::Client,
        deployments: Arc<Informer<Deployment>>,
        replicasets: Arc<Informer<ReplicaSet>>,
        pods: Arc<Informer<Pod>>,
    ) -> Arc<DeploymentController> {
        let controller = Arc::new(DeploymentController {
            client,
            deployments: Arc::clone(&deployments),
            replicasets: Arc::clone(&replicasets),
            pods: Arc::clone(&pods),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let weak = Arc::downgrade(&controller);
        deployments.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().map(|e| ObjectKey::of(e.object().as_ref()));
            this.enqueue(keys.collect());
        });
        let weak = Arc::downgrade(&controller);
        replicasets.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for event in events {
                let (new, old) = match event {
                    Event::Applied { new, old } => (new, old.as_ref()),
                    Event::Deleted(old) => (old, None),
                };
                match owner_key(&new.metadata, "Deployment") {
                    Some(owner) => keys.push(owner),
                    None => keys.extend(this.matching(new)),
                }
                if let Some(previous) = old.and_then(|o| owner_key(&o.metadata, "Deployment")) {
                    keys.push(previous);
                }
            }
            this.enqueue(keys);
        });
        let weak = Arc::downgrade(&controller);
        pods.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            // Only pods going away matter: a Recreate rollout waits for old pods to be gone.
            let keys = events.iter().filter_map(|e| match e {
                Event::Deleted(pod) => {
                    let rs = owner_key(&pod.metadata, "ReplicaSet")?;
                    let rs = this.replicasets.get(&rs)?;
                    owner_key(&rs.metadata, "Deployment")
                }
                Event::Applied { .. } => None,
            });
            this.enqueue(keys.collect());
        });
        controller
    }

    fn enqueue(&self, keys: Vec<ObjectKey>) {
        if let Err(full) = self.queue.add_all(keys) {
            tracing::warn!(%full, "deployment queue");
        }
    }

    /// The Deployments whose selector matches an orphaned ReplicaSet's labels.
    fn matching(&self, rs: &ReplicaSet) -> Vec<ObjectKey> {
        let deployments = self.deployments.list(rs.metadata.namespace.as_deref());
        selecting(
            &deployments,
            |d| d.spec.as_ref().map(|s| &s.selector),
            rs.metadata.labels.as_ref(),
        )
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(d) = self.deployments.get(&key) else {
            return Ok(Action::Done);
        };
        let namespace = key.namespace.clone().unwrap_or_default();
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let owned: Vec<ReplicaSet> = self
            .replicasets
            .list(Some(&namespace))
            .iter()
            .filter(|rs| controller_of(&rs.metadata).is_some_and(|o| o.uid == uid))
            .map(|rs| rs.as_ref().clone())
            .collect();
        // Only the pods of its ReplicaSets matter (Recreate waits for the old ones).
        let owned_uids: Vec<&str> = owned
            .iter()
            .filter_map(|rs| rs.metadata.uid.as_deref())
            .collect();
        let pods: Vec<Pod> = self
            .pods
            .list(Some(&namespace))
            .iter()
            .filter(|p| {
                controller_of(&p.metadata).is_some_and(|o| owned_uids.contains(&o.uid.as_str()))
            })
            .map(|p| p.as_ref().clone())
            .collect();
        let running = old_pods_running(&d, &owned, &pods);
        let plan = decide(&d, &owned, running, Timestamp::now());
        self.perform(&d, &namespace, plan).await
    }

    async fn perform(
        &self,
        d: &Deployment,
        namespace: &str,
        plan: DeploymentPlan,
    ) -> Result<Action, ReconcileError> {
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), namespace);
        let d_api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let name = d.metadata.name.clone().unwrap_or_default();
        let params = PostParams::default();
        if let Some(new_rs) = &plan.create {
            let rs_name = new_rs.metadata.name.clone().unwrap_or_default();
            match rs_api.create(&params, new_rs).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    let existing = rs_api.get(&rs_name).await?;
                    if let CreateConflict::Collision(status) = create_conflict(d, &existing) {
                        let mut updated = d.clone();
                        updated.status = Some(status);
                        d_api.replace_status(&name, &params, &updated).await?;
                        return Ok(Action::RequeueAfter(Duration::ZERO));
                    }
                }
                Err(error) => {
                    let message = error.to_string();
                    if let Some(status) =
                        create_failed_status(d, &rs_name, &message, Timestamp::now())
                    {
                        let mut updated = d.clone();
                        updated.status = Some(status);
                        let _ = d_api.replace_status(&name, &params, &updated).await;
                    }
                    return Err(ReconcileError::Api(error));
                }
            }
        }
        for rs in &plan.update {
            let rs_name = rs.metadata.name.clone().unwrap_or_default();
            rs_api.replace(&rs_name, &params, rs).await?;
        }
        for old in &plan.delete {
            match rs_api.delete(old, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(ReconcileError::Api(error)),
            }
        }
        let mut current = d.clone();
        if let Some(revision) = &plan.revision {
            current
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(super::REVISION_ANNOTATION.to_owned(), revision.clone());
            current = d_api.replace(&name, &params, &current).await?;
        }
        if plan.status_changed {
            current.status = Some(plan.status.clone());
            d_api.replace_status(&name, &params, &current).await?;
        }
        for event in &plan.events {
            self.record(d, event).await;
        }
        Ok(match plan.requeue_after {
            Some(after) => Action::RequeueAfter(after),
            None => Action::Done,
        })
    }

    /// Writes a core/v1 Event about `d`; a failure is logged, never the sync's.
    async fn record(&self, d: &Deployment, event: &super::PlanEvent) {
        let recorder = EventRecorder::new(self.client.clone(), "deployment-controller");
        let regarding = reference_to(d);
        let type_ = EventType::named(event.type_);
        recorder
            .record(&regarding, type_, event.reason, &event.message)
            .await;
    }
}

impl Reconciler for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

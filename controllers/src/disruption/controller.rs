//! The disruption controller's I/O half (upstream `pkg/controller/disruption/disruption.go`):
//! budget and pod events become budget keys; a sync finds the scale of the pods' controllers
//! (from informers, else through their `/scale` subresource), asks `decide` for the status and
//! writes it, falling back to the fail-safe status when it cannot be computed. A second queue
//! resets the `DisruptionTarget` condition of pods that an eviction marked but that were never
//! deleted (`syncStalePodDisruption`).

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ObjectReference, Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use serde_json::json;

use super::decide::{EventTarget, PdbEvent, decide, fail_safe, owners_to_look_up, select_pods};
use super::finders::{
    ScaleLookup, Workloads, find_in_informers, from_scale, parse_group_version, scale_not_found,
};
use super::stale::{DISRUPTION_TARGET, StaleDecision, stale_disruption};
use crate::runtime::controller::{Action, ReconcileError, Reconciler, gone_or_changed, ignore_gone};
use crate::runtime::events;
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

const COMPONENT: &str = "controllermanager";
const QUEUE_CAPACITY: usize = 1_000_000;

/// The informers the controller reads.
pub struct DisruptionInformers {
    pub budgets: Arc<Informer<PodDisruptionBudget>>,
    pub pods: Arc<Informer<Pod>>,
    pub replication_controllers: Arc<Informer<ReplicationController>>,
    pub replica_sets: Arc<Informer<ReplicaSet>>,
    pub deployments: Arc<Informer<Deployment>>,
    pub stateful_sets: Arc<Informer<StatefulSet>>,
}

pub struct DisruptionController {
    client: kube::Client,
    informers: DisruptionInformers,
    recorder: events::EventRecorder,
    /// Budget keys.
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

/// The workloads of one namespace, as the finders ask for them.
struct InNamespace<'a> {
    informers: &'a DisruptionInformers,
    namespace: &'a str,
}

impl InNamespace<'_> {
    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey::new(Some(self.namespace), name)
    }
}

impl Workloads for InNamespace<'_> {
    fn replication_controller(&self, name: &str) -> Option<Arc<ReplicationController>> {
        self.informers.replication_controllers.get(&self.key(name))
    }
    fn replica_set(&self, name: &str) -> Option<Arc<ReplicaSet>> {
        self.informers.replica_sets.get(&self.key(name))
    }
    fn deployment(&self, name: &str) -> Option<Arc<Deployment>> {
        self.informers.deployments.get(&self.key(name))
    }
    fn stateful_set(&self, name: &str) -> Option<Arc<StatefulSet>> {
        self.informers.stateful_sets.get(&self.key(name))
    }
}

impl DisruptionController {
    pub fn new(client: kube::Client, informers: DisruptionInformers) -> Arc<DisruptionController> {
        let budgets = Arc::clone(&informers.budgets);
        let pods = Arc::clone(&informers.pods);
        let controller = Arc::new(DisruptionController {
            recorder: events::EventRecorder::new(client.clone(), COMPONENT),
            client,
            informers,
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let weak = Arc::downgrade(&controller);
        budgets.add_handler(move |changes| {
            let Some(this) = weak.upgrade() else { return };
            let keys: Vec<ObjectKey> = changes.iter().map(|c| ObjectKey::of(c.object().as_ref())).collect();
            if let Err(full) = this.queue.add_all(keys) {
                tracing::warn!(%full, "disruption queue");
            }
        });
        let weak = Arc::downgrade(&controller);
        pods.add_handler(move |changes| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for change in changes {
                keys.extend(this.budgets_of(change.object()));
            }
            if let Err(full) = this.queue.add_all(keys) {
                tracing::warn!(%full, "disruption queue");
            }
        });
        controller
    }

    /// The budgets whose selector picks `pod` (upstream's `getPdbsForPod`).
    fn budgets_of(&self, pod: &Pod) -> Vec<ObjectKey> {
        let one = [pod.clone()];
        self.informers
            .budgets
            .list(pod.metadata.namespace.as_deref())
            .iter()
            .filter(|pdb| select_pods(pdb, &one).is_ok_and(|p| !p.is_empty()))
            .map(|pdb| ObjectKey::of(pdb.as_ref()))
            .collect()
    }

    /// The scale of a controller no informer holds, from its `/scale` subresource.
    async fn scale_of(&self, namespace: &str, owner: &OwnerReference) -> ScaleLookup {
        let (group, version) = match parse_group_version(&owner.api_version) {
            Ok(parts) => parts,
            Err(message) => return ScaleLookup::Error(message),
        };
        let gvk = GroupVersionKind::gvk(group, version, &owner.kind);
        let (resource, caps) = match kube::discovery::pinned_kind(&self.client, &gvk).await {
            Ok(found) => found,
            Err(error) => return ScaleLookup::Error(error.to_string()),
        };
        let implements_scale = caps.subresources.iter().any(|(r, _)| r.plural == "scale");
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &resource);
        match api.get_scale(&owner.name).await {
            Ok(scale) => from_scale(owner, &scale),
            Err(error) if gone_or_changed(&error) => {
                let group_resource = if resource.group.is_empty() {
                    resource.plural.clone()
                } else {
                    format!("{}.{}", resource.plural, resource.group)
                };
                scale_not_found(&group_resource, implements_scale)
            }
            Err(error) => ScaleLookup::Error(error.to_string()),
        }
    }

    async fn record(&self, pdb: &PodDisruptionBudget, event: &PdbEvent) {
        let regarding = match &event.regarding {
            EventTarget::Pdb => events::reference_to(pdb),
            EventTarget::Pod { name, uid } => ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: Some(name.clone()),
                namespace: pdb.metadata.namespace.clone(),
                uid: uid.clone(),
                ..ObjectReference::default()
            },
        };
        let type_ = events::EventType::named(event.type_);
        self.recorder
            .record(&regarding, type_, event.reason, &event.message)
            .await;
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(pdb) = self.informers.budgets.get(&key) else {
            return Ok(Action::Done);
        };
        let namespace = key.namespace.clone().unwrap_or_default();
        let pods: Vec<Pod> = self
            .informers
            .pods
            .list(Some(&namespace))
            .iter()
            .map(|p| p.as_ref().clone())
            .collect();
        let workloads = InNamespace {
            informers: &self.informers,
            namespace: &namespace,
        };
        let mut scales: HashMap<String, ScaleLookup> = HashMap::new();
        for owner in owners_to_look_up(&pdb, &pods) {
            if scales.contains_key(&owner.uid) {
                continue;
            }
            let found = match find_in_informers(&owner, &workloads) {
                Some(found) => found,
                None => self.scale_of(&namespace, &owner).await,
            };
            scales.insert(owner.uid.clone(), found);
        }
        let lookup = |owner: &OwnerReference| {
            scales
                .get(&owner.uid)
                .cloned()
                .unwrap_or(ScaleLookup::NotFound)
        };
        let now = Timestamp::now();
        let plan = decide(&pdb, &pods, &lookup, now);
        for event in &plan.events {
            self.record(&pdb, event).await;
        }
        if let Some(error) = &plan.error {
            tracing::debug!(pdb = %key, %error, "disruption budget sync failed");
        }
        if plan.status_changed {
            let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), &namespace);
            let mut updated = pdb.as_ref().clone();
            updated.status = Some(plan.status.clone());
            match api.replace_status(&key.name, &PostParams::default(), &updated).await {
                Ok(_) => {}
                // A newer version: its event brings another sync.
                Err(error) if gone_or_changed(&error) => return Ok(Action::Done),
                Err(error) => {
                    updated.status = Some(fail_safe(&pdb, &error.to_string(), now));
                    ignore_gone(api.replace_status(&key.name, &PostParams::default(), &updated).await)?;
                    return Err(error.into());
                }
            }
        }
        Ok(plan.requeue_after.map_or(Action::Done, Action::RequeueAfter))
    }
}

impl Reconciler for DisruptionController {
    fn name(&self) -> &'static str {
        "disruption"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

/// Resets the `DisruptionTarget` condition of pods an eviction or preemption marked but that
/// were not deleted within two minutes.
pub struct StalePodDisruption {
    client: kube::Client,
    pods: Arc<Informer<Pod>>,
    /// Pod keys.
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

impl StalePodDisruption {
    pub fn new(client: kube::Client, pods: Arc<Informer<Pod>>) -> Arc<StalePodDisruption> {
        let controller = Arc::new(StalePodDisruption {
            client,
            pods: Arc::clone(&pods),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let weak = Arc::downgrade(&controller);
        pods.add_handler(move |changes| {
            let Some(this) = weak.upgrade() else { return };
            let keys: Vec<ObjectKey> = changes
                .iter()
                .filter_map(|change| match change {
                    Event::Applied { new, .. } if has_disruption_target(new) => {
                        Some(ObjectKey::of(new.as_ref()))
                    }
                    _ => None,
                })
                .collect();
            if let Err(full) = this.queue.add_all(keys) {
                tracing::warn!(%full, "stale pod disruption queue");
            }
        });
        controller
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(pod) = self.pods.get(&key) else {
            return Ok(Action::Done);
        };
        match stale_disruption(&pod, Timestamp::now()) {
            StaleDecision::NotStale => Ok(Action::Done),
            StaleDecision::RecheckAfter(after) => Ok(Action::RequeueAfter(after)),
            StaleDecision::Reset { condition, .. } => {
                let namespace = key.namespace.clone().unwrap_or_default();
                let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
                // Conditions merge by type: only this one changes.
                let patch = json!({
                    "metadata": {"uid": pod.metadata.uid},
                    "status": {"conditions": [condition]},
                });
                let result = api
                    .patch_status(&key.name, &PatchParams::default(), &Patch::Strategic(&patch))
                    .await;
                ignore_gone(result)?;
                Ok(Action::Done)
            }
        }
    }
}

fn has_disruption_target(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == DISRUPTION_TARGET && c.status == "True"))
}

impl Reconciler for StalePodDisruption {
    fn name(&self) -> &'static str {
        "disruption-stale-pods"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

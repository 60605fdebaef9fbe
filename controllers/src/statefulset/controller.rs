//! The StatefulSet controller's I/O half (upstream `stateful_set.go`, `sync`, and the writes of
//! `stateful_set_control.go` and `stateful_pod_control.go`): pod and StatefulSet events become
//! set keys; a sync reads the informers, asks [`decide`] for a plan and performs it in the
//! order [`StatefulSetPlan`](super::StatefulSetPlan) states (`perform.rs`):
//!
//! 1. the update revision (created, or an old one re-numbered); a name collision writes the
//!    bumped `collisionCount` and ends the sync, whose status event brings the next one;
//! 2. adoptions and releases;
//! 3. claims, then pods (a pod whose claims failed is not created), claim and pod updates,
//!    deletions, with an Event for each outcome; an OrderedReady set stops at the first error;
//! 4. the status (a PUT at the version read), then the revisions history no longer needs.
//!
//! Pod names are fixed, so a stale cache could at worst make a create answer AlreadyExists;
//! the creates and deletes a sync made are still awaited through expectations before the next
//! one acts, as the ReplicaSet controller does, so that an OrderedReady set never takes a
//! second step on a cache that has not seen the first.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;

use super::decide;
use crate::replicaset::pods::controller_of;
use crate::replicaset::selector::Selector;
use crate::runtime::controller::{Action, ReconcileError, Reconciler};
use crate::runtime::events::EventRecorder;
use crate::runtime::expectations::Expectations;
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

#[path = "perform.rs"]
mod perform;

/// Distinct sets the queue tracks at most.
const QUEUE_CAPACITY: usize = 1_000_000;
/// The component named in the Events (upstream's recorder source).
const COMPONENT: &str = "statefulset-controller";

/// The informers the controller reads.
pub struct StatefulSetInformers {
    pub sets: Arc<Informer<StatefulSet>>,
    pub pods: Arc<Informer<Pod>>,
    pub revisions: Arc<Informer<ControllerRevision>>,
    pub claims: Arc<Informer<PersistentVolumeClaim>>,
}

pub struct StatefulSetController {
    client: kube::Client,
    informers: StatefulSetInformers,
    pub queue: Arc<WorkQueue<ObjectKey>>,
    expectations: Expectations,
    recorder: EventRecorder,
}

/// The StatefulSet controlling a pod, by key.
fn owner_key(pod: &Pod) -> Option<ObjectKey> {
    let owner = controller_of(&pod.metadata)?;
    (owner.kind == "StatefulSet" && owner.api_version.starts_with("apps/"))
        .then(|| ObjectKey::new(pod.metadata.namespace.as_deref(), &owner.name))
}

impl StatefulSetController {
    pub fn new(client: kube::Client, informers: StatefulSetInformers) -> Arc<Self> {
        let controller = Arc::new(StatefulSetController {
            recorder: EventRecorder::new(client.clone(), COMPONENT),
            client,
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
            expectations: Expectations::default(),
            informers: StatefulSetInformers {
                sets: Arc::clone(&informers.sets),
                pods: Arc::clone(&informers.pods),
                revisions: informers.revisions,
                claims: informers.claims,
            },
        });
        let weak = Arc::downgrade(&controller);
        informers.sets.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().map(|e| match e {
                Event::Applied { new, .. } => ObjectKey::of(new.as_ref()),
                Event::Deleted(old) => {
                    let key = ObjectKey::of(old.as_ref());
                    this.expectations.forget(&key);
                    key
                }
            });
            if let Err(full) = this.queue.add_all(keys.collect::<Vec<_>>()) {
                tracing::warn!(%full, controller = "statefulset", "queue");
            }
        });
        let weak = Arc::downgrade(&controller);
        informers.pods.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for event in events {
                this.pod_event(event, &mut keys);
            }
            if let Err(full) = this.queue.add_all(keys) {
                tracing::warn!(%full, controller = "statefulset", "queue");
            }
        });
        controller
    }

    /// The sets a pod event concerns (upstream `addPod`, `updatePod`, `deletePod`): the
    /// owning set, or for an orphan every set that may adopt it, and a former owner.
    fn pod_event(&self, event: &Event<Pod>, keys: &mut Vec<ObjectKey>) {
        match event {
            Event::Applied { new, old } => {
                let pod_key = ObjectKey::of(new.as_ref());
                match owner_key(new) {
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
                    None => keys.extend(self.matching(new)),
                }
                if let Some(previous) = old.as_ref().and_then(|o| owner_key(o))
                    && Some(&previous) != owner_key(new).as_ref()
                {
                    keys.push(previous);
                }
            }
            Event::Deleted(pod) => {
                if let Some(owner) = owner_key(pod) {
                    self.expectations
                        .deletion_observed(&owner, &ObjectKey::of(pod.as_ref()));
                    keys.push(owner);
                }
            }
        }
    }

    /// The sets in the pod's namespace whose (valid, non-empty) selector matches it
    /// (`getPodStatefulSets`).
    fn matching(&self, pod: &Pod) -> Vec<ObjectKey> {
        let labels = pod.metadata.labels.as_ref();
        self.informers
            .sets
            .list(pod.metadata.namespace.as_deref())
            .iter()
            .filter(|set| {
                let selector = set.spec.as_ref().and_then(|s| Selector::parse(&s.selector));
                selector.is_some_and(|s| !s.is_everything() && s.matches(labels))
            })
            .map(|set| ObjectKey::of(set.as_ref()))
            .collect()
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(set) = self.informers.sets.get(&key) else {
            self.expectations.forget(&key);
            return Ok(Action::Done);
        };
        if !self.expectations.satisfied(&key) {
            // The events of the last creates and deletes bring the next sync.
            return Ok(Action::Done);
        }
        let namespace = key.namespace.clone().unwrap_or_default();
        let name = key.name.as_str();
        let uid = set.metadata.uid.clone().unwrap_or_default();
        // Only what this set owns or may adopt is copied for `decide`.
        let pods: Vec<Pod> = self
            .informers
            .pods
            .list(Some(&namespace))
            .iter()
            .filter(|p| controller_of(&p.metadata).is_none_or(|o| o.uid == uid))
            .map(|p| p.as_ref().clone())
            .collect();
        let revisions: Vec<ControllerRevision> = self
            .informers
            .revisions
            .list(Some(&namespace))
            .iter()
            .filter(|r| controller_of(&r.metadata).is_some_and(|o| o.uid == uid))
            .map(|r| r.as_ref().clone())
            .collect();
        // Claim names are `<template>-<set>-<ordinal>`.
        let infix = format!("-{name}-");
        let claims: BTreeMap<String, PersistentVolumeClaim> = self
            .informers
            .claims
            .list(Some(&namespace))
            .iter()
            .filter_map(|c| {
                let claim_name = c.metadata.name.clone()?;
                claim_name
                    .contains(&infix)
                    .then(|| (claim_name, c.as_ref().clone()))
            })
            .collect();
        let plan = decide(&set, &pods, &revisions, &claims, Timestamp::now())
            .map_err(|e| ReconcileError::Other(format!("StatefulSet {key}: {e}")))?;

        self.perform(&key, &set, plan).await
    }
}

impl Reconciler for StatefulSetController {
    fn name(&self) -> &'static str {
        "statefulset"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

//! The entry point of the Deployment decisions (upstream's `syncDeployment` in
//! `pkg/controller/deployment/deployment_controller.go`) and the plan it returns.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::jiff::Timestamp;

use super::status::{FAILED_RS_CREATE, PROGRESSING, new_condition, normalized, set_condition};
use super::sync::Sync;
use super::util::{
    REVISION_ANNOTATION, Strategy, equal_ignore_hash, has_progress_deadline, strategy,
};
use crate::replicaset::pods::is_controlled_by;
use crate::replicaset::selector::Selector;

/// An event to record on the Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEvent {
    /// "Normal" or "Warning".
    pub type_: &'static str,
    pub reason: &'static str,
    pub message: String,
}

/// What one sync of a Deployment should do, in this order: create, update, delete, then write
/// the revision and the status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeploymentPlan {
    /// The new ReplicaSet, when none matches the template: named `<deployment>-<hash>`,
    /// labelled and selected by `pod-template-hash`, owned by the Deployment. On AlreadyExists
    /// the runtime asks [`create_conflict`] what it means.
    pub create: Option<ReplicaSet>,
    /// Existing ReplicaSets as they should be written (size, annotations, minReadySeconds);
    /// the runtime updates them with their resourceVersion as a precondition.
    pub update: Vec<ReplicaSet>,
    /// Old ReplicaSets beyond `revisionHistoryLimit`, by name.
    pub delete: Vec<String>,
    /// The Deployment's new `deployment.kubernetes.io/revision` annotation, when it changes
    /// (upstream writes it along with the status).
    pub revision: Option<String>,
    /// The new status; write it when `status_changed`.
    pub status: DeploymentStatus,
    pub status_changed: bool,
    pub events: Vec<PlanEvent>,
    /// Sync again after this long (`ZERO`: now, rate limited): a progress deadline to check,
    /// or a step that upstream ends with an error, such as a hash collision.
    pub requeue_after: Option<Duration>,
}

/// Decides one sync of `d`. `replica_sets` are the ReplicaSets `d` controls (adoption and
/// release of ReplicaSets are the runtime's, as listing is); `old_pods_running` matters for
/// Recreate only and comes from [`super::old_pods_running`].
pub fn decide(
    d: &Deployment,
    replica_sets: &[ReplicaSet],
    old_pods_running: bool,
    now: Timestamp,
) -> DeploymentPlan {
    let mut sync = Sync::new(d, replica_sets, now);
    let selector = d.spec.as_ref().and_then(|s| Selector::parse(&s.selector));
    match selector {
        // Upstream cannot list with an invalid selector and retries; nothing to decide.
        None => sync.requeue_after = Some(Duration::ZERO),
        // A selector that selects everything would adopt every pod of the namespace.
        Some(s) if s.is_everything() => {
            let msg = "This deployment is selecting all pods. A non-empty selector is required.";
            sync.events.push(PlanEvent {
                type_: "Warning",
                reason: "SelectingAll",
                message: msg.into(),
            });
            let generation = d.metadata.generation;
            let status = sync.d.status.get_or_insert_with(Default::default);
            if status.observed_generation < generation {
                status.observed_generation = generation;
            }
        }
        Some(_) => {
            if run(&mut sync, old_pods_running).is_err() {
                sync.requeue_after = Some(Duration::ZERO);
            }
        }
    }
    into_plan(sync, d)
}

/// The branches of `syncDeployment`, in upstream's order.
fn run(sync: &mut Sync, old_pods_running: bool) -> Result<(), super::sync::Abort> {
    if sync.d.metadata.deletion_timestamp.is_some() {
        // `syncStatusOnly`.
        let (new, old) = sync.all_replica_sets(false)?;
        let all: Vec<&ReplicaSet> = old.iter().chain(new.as_ref()).collect();
        sync.sync_deployment_status(&all, new.as_ref());
        return Ok(());
    }
    sync.check_paused_conditions();
    if sync.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) || sync.is_scaling_event()? {
        return sync.sync();
    }
    match strategy(&sync.d) {
        Strategy::Recreate => sync.rollout_recreate(old_pods_running),
        Strategy::RollingUpdate => sync.rollout_rolling(),
        Strategy::Unsupported(type_) => {
            let message = format!("unexpected deployment strategy type: {type_}");
            sync.events.push(PlanEvent {
                type_: "Warning",
                reason: "UnsupportedStrategy",
                message,
            });
            Ok(())
        }
    }
}

fn into_plan(sync: Sync, input: &Deployment) -> DeploymentPlan {
    let find = |name: &str| {
        sync.rss
            .iter()
            .find(|rs| rs.metadata.name.as_deref() == Some(name))
            .cloned()
    };
    let revision_of = |d: &Deployment| {
        d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION_ANNOTATION))
            .cloned()
    };
    let new_revision = revision_of(&sync.d);
    let status = normalized(&sync.d.status.clone().unwrap_or_default());
    DeploymentPlan {
        create: sync.created.as_deref().and_then(find),
        update: sync.updated.iter().filter_map(|n| find(n)).collect(),
        delete: sync.deleted.clone(),
        revision: new_revision.filter(|r| Some(r) != revision_of(input).as_ref()),
        status_changed: status != normalized(&input.status.clone().unwrap_or_default()),
        status,
        events: sync.events,
        requeue_after: sync.requeue_after,
    }
}

/// What an AlreadyExists answer to [`DeploymentPlan::create`] means.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateConflict {
    /// The existing ReplicaSet is this Deployment's, with this template (a stale cache): carry
    /// on with it.
    Ours,
    /// A different ReplicaSet has the name: write this status (collision count + 1) so that the
    /// next sync hashes differently, and sync again.
    Collision(DeploymentStatus),
}

/// Interprets a create that failed because `existing` has the new ReplicaSet's name (the
/// `errors.IsAlreadyExists` branch of upstream's `getNewReplicaSet`).
pub fn create_conflict(d: &Deployment, existing: &ReplicaSet) -> CreateConflict {
    let ours = is_controlled_by(&existing.metadata, d.metadata.uid.as_deref().unwrap_or(""));
    let template = d.spec.as_ref().map(|s| &s.template);
    let same = existing
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .zip(template)
        .is_some_and(|(a, b)| equal_ignore_hash(a, b));
    if ours && same {
        return CreateConflict::Ours;
    }
    let mut status = d.status.clone().unwrap_or_default();
    status.collision_count = Some(status.collision_count.unwrap_or(0).saturating_add(1));
    CreateConflict::Collision(status)
}

/// The status to write after creating the new ReplicaSet failed for another reason: a
/// `ReplicaSetCreateError` Progressing condition when the Deployment has a progress deadline
/// (upstream's `FailedRSCreateReason` branch; the runtime also records a Warning event with the
/// same message).
pub fn create_failed_status(
    d: &Deployment,
    rs_name: &str,
    error: &str,
    now: Timestamp,
) -> Option<DeploymentStatus> {
    if !has_progress_deadline(d) {
        return None;
    }
    let mut status = d.status.clone().unwrap_or_default();
    let msg = format!("Failed to create new replica set {rs_name:?}: {error}");
    set_condition(
        &mut status,
        new_condition(PROGRESSING, "False", FAILED_RS_CREATE, msg, now),
    );
    Some(status)
}

//! What one DaemonSet sync decides: the [`DaemonSetPlan`] the runtime performs, and its parts.
//!
//! The runtime performs a plan in this order, which is upstream's (`syncDaemonSet` of
//! `pkg/controller/daemon/daemon_controller.go`, `constructHistory` of `update.go`), and stops
//! at the first failing step except the status write:
//! 1. [`RevisionPlan`]: adopt/release, `update`, `relabel_pods`, `delete_duplicates`, `create`
//!    (an AlreadyExists answer to the create means a revision the caches have not shown yet:
//!    sync again, and `decide` then sees it and counts a hash collision if it must);
//! 2. pod adopt/release, then [`DaemonSetPlan::create`] (in slow-start batches, setting
//!    create/delete expectations first) and [`DaemonSetPlan::delete`], emitting
//!    [`created_event`] / [`deleted_event`] (or their failure twins) per pod;
//! 3. [`RevisionPlan::delete_old`];
//! 4. the status, when [`DaemonSetPlan::status_changed`], even if an earlier step failed.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::backoff::FailedPodBackoff;

/// `SelectingAll`: a DaemonSet whose selector is empty is left alone.
pub const SELECTING_ALL_REASON: &str = "SelectingAll";
/// `FailedDaemonPod`: a failed pod was found and is deleted.
pub const FAILED_DAEMON_POD_REASON: &str = "FailedDaemonPod";
/// `SucceededDaemonPod`: a pod that exited successfully was found and is deleted.
pub const SUCCEEDED_DAEMON_POD_REASON: &str = "SucceededDaemonPod";
/// The events `controller.RealPodControl` records for the pods it creates and deletes.
pub const SUCCESSFUL_CREATE_REASON: &str = "SuccessfulCreate";
pub const FAILED_CREATE_REASON: &str = "FailedCreate";
pub const SUCCESSFUL_DELETE_REASON: &str = "SuccessfulDelete";
pub const FAILED_DELETE_REASON: &str = "FailedDelete";

/// A pod or revision named in a plan; the UID lets the runtime use it as a precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub name: String,
    pub uid: Option<String>,
}

impl ObjectRef {
    pub fn of(meta: &ObjectMeta) -> Self {
        Self {
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
        }
    }
}

impl From<&Pod> for ObjectRef {
    fn from(pod: &Pod) -> Self {
        Self::of(&pod.metadata)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// An event on the DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub type_: EventType,
    pub reason: &'static str,
    pub message: String,
}

/// `SuccessfulCreate` after a pod was created.
pub fn created_event(pod_name: &str) -> Event {
    Event {
        type_: EventType::Normal,
        reason: SUCCESSFUL_CREATE_REASON,
        message: format!("Created pod: {pod_name}"),
    }
}

/// `SuccessfulDelete` after a pod was deleted.
pub fn deleted_event(pod_name: &str) -> Event {
    Event {
        type_: EventType::Normal,
        reason: SUCCESSFUL_DELETE_REASON,
        message: format!("Deleted pod: {pod_name}"),
    }
}

/// `FailedCreate` when a create failed with `error`.
pub fn failed_create_event(error: &str) -> Event {
    Event {
        type_: EventType::Warning,
        reason: FAILED_CREATE_REASON,
        message: format!("Error creating: {error}"),
    }
}

/// `FailedDelete` when a delete failed with `error`.
pub fn failed_delete_event(error: &str) -> Event {
    Event {
        type_: EventType::Warning,
        reason: FAILED_DELETE_REASON,
        message: format!("Error deleting: {error}"),
    }
}

/// Why a sync could not (fully) decide; the runtime retries with its rate limit, as upstream
/// does for the error `syncDaemonSet` returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("DaemonSet has no spec")]
    MissingSpec,
    #[error("DaemonSet has an invalid label selector")]
    InvalidSelector,
    #[error(
        "revision {revision} exists with another template: collision count raised to {collision_count}"
    )]
    HashCollision {
        revision: String,
        collision_count: i32,
    },
    #[error("invalid value for MaxUnavailable: {0}")]
    InvalidMaxUnavailable(String),
    #[error("invalid value for MaxSurge: {0}")]
    InvalidMaxSurge(String),
    #[error("couldn't get node for nodeName {0:?}")]
    NodeNotFound(String),
}

/// The ControllerRevision work of a sync (`constructHistory`, `dedupCurHistories`,
/// `cleanupHistory` of upstream's `update.go`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RevisionPlan {
    /// Orphan revisions the selector matches: set the controller reference on them.
    pub adopt: Vec<ObjectRef>,
    /// Revisions this DaemonSet controls that its selector no longer matches.
    pub release: Vec<ObjectRef>,
    /// Revisions to write back whole (`Update`, their resourceVersion as precondition): a
    /// missing `controller-revision-hash` label set to the revision's name, and/or the current
    /// revision renumbered past every old one.
    pub update: Vec<ControllerRevision>,
    /// Duplicates of the current revision: first merge-patch these pods' hash label to
    /// [`DaemonSetPlan::hash`], then delete [`Self::delete_duplicates`].
    pub relabel_pods: Vec<ObjectRef>,
    pub delete_duplicates: Vec<ObjectRef>,
    /// The current revision, when none exists yet.
    pub create: Option<ControllerRevision>,
    /// Old revisions beyond `revisionHistoryLimit` that no pod uses any more, oldest first.
    pub delete_old: Vec<ObjectRef>,
}

/// A pod to create on a node (its name comes from `generateName`; the scheduler binds it).
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePod {
    pub node: String,
    pub pod: Pod,
}

/// What one sync of a DaemonSet should do; see the module documentation for the order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DaemonSetPlan {
    /// The current revision's hash: the `controller-revision-hash` of up-to-date pods.
    pub hash: String,
    pub revisions: RevisionPlan,
    /// Orphan pods the selector matches: set the controller reference (UID precondition).
    pub adopt: Vec<ObjectRef>,
    /// Pods this DaemonSet controls that its selector no longer matches.
    pub release: Vec<ObjectRef>,
    /// At most [`super::BURST_REPLICAS`] pods to create.
    pub create: Vec<CreatePod>,
    /// At most [`super::BURST_REPLICAS`] pods to delete.
    pub delete: Vec<ObjectRef>,
    /// The status to write when [`Self::status_changed`].
    pub status: DaemonSetStatus,
    pub status_changed: bool,
    /// Events the decision itself raises (`SelectingAll`, `FailedDaemonPod`,
    /// `SucceededDaemonPod`).
    pub events: Vec<Event>,
    /// The failed-pod backoff to keep for the next sync of this DaemonSet.
    pub backoff: FailedPodBackoff,
    /// Sync again after this long: a failed pod's backoff, or `minReadySeconds` while some
    /// Ready pod is not yet available.
    pub requeue_after: Option<Duration>,
    /// Set when part of the sync could not be decided; what the plan holds is still to be
    /// performed, and the sync is retried with the runtime's rate limit.
    pub error: Option<SyncError>,
}

impl DaemonSetPlan {
    pub(super) fn requeue(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |d| d.min(after)));
    }
}

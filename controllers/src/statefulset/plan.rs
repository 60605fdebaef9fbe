//! What one sync of a StatefulSet should do ([`StatefulSetPlan`]), the errors a bad spec gives,
//! and the events upstream records for each pod and claim operation
//! (`stateful_pod_control.go`: `recordPodEvent`, `recordClaimEvent`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSetStatus;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

use super::revisions::RevisionPlan;

/// Why a StatefulSet cannot be synced; upstream's sync fails the same way and retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("StatefulSet has no spec")]
    MissingSpec,
    #[error("invalid label selector")]
    InvalidSelector,
    #[error("spec.replicas is negative: {0}")]
    NegativeReplicas(i32),
    #[error("spec.ordinals.start is negative: {0}")]
    NegativeOrdinalStart(i32),
    #[error("invalid rollingUpdate.maxUnavailable: {0}")]
    InvalidMaxUnavailable(String),
    #[error("ControllerRevision {0} holds no pod template")]
    UnreadableRevision(String),
}

/// A pod named in a plan; the UID lets the runtime use it as a precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub name: String,
    pub uid: Option<String>,
}

impl From<&Pod> for PodRef {
    fn from(pod: &Pod) -> Self {
        Self {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone(),
        }
    }
}

/// A claim to create before its pod (`createPersistentVolumeClaims`); an AlreadyExists answer
/// is fine and records no event.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimCreate {
    pub claim: PersistentVolumeClaim,
    /// The pod the claim is for, named in the event.
    pub pod: String,
}

/// Why a pod is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// It is Failed or Succeeded; a later sync makes it again.
    Recreate,
    /// Its ordinal is beyond the replicas (scale down).
    ScaleDown,
    /// It is not at the update revision (rolling update).
    Update,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePod {
    pub pod: PodRef,
    pub reason: DeleteReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// An event on the StatefulSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub type_: EventType,
    pub reason: String,
    pub message: String,
}

/// The verbs upstream's events use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Update,
    Delete,
}

impl Verb {
    fn lower(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Delete => "Delete",
        }
    }
}

/// The event for a pod operation once its outcome is known (`recordPodEvent`):
/// `SuccessfulCreate` "create Pod web-0 in StatefulSet web successful", or `FailedCreate` with
/// the error.
pub fn pod_event(verb: Verb, set: &str, pod: &str, error: Option<&str>) -> Event {
    let v = verb.lower();
    match error {
        None => Event {
            type_: EventType::Normal,
            reason: format!("Successful{}", verb.title()),
            message: format!("{v} Pod {pod} in StatefulSet {set} successful"),
        },
        Some(e) => Event {
            type_: EventType::Warning,
            reason: format!("Failed{}", verb.title()),
            message: format!("{v} Pod {pod} in StatefulSet {set} failed error: {e}"),
        },
    }
}

/// The event for a claim operation (`recordClaimEvent`); skip it for an AlreadyExists answer.
pub fn claim_event(verb: Verb, set: &str, pod: &str, claim: &str, error: Option<&str>) -> Event {
    let v = verb.lower();
    match error {
        None => Event {
            type_: EventType::Normal,
            reason: format!("Successful{}", verb.title()),
            message: format!("{v} Claim {claim} Pod {pod} in StatefulSet {set} success"),
        },
        Some(e) => Event {
            type_: EventType::Warning,
            reason: format!("Failed{}", verb.title()),
            message: format!(
                "{v} Claim {claim} for Pod {pod} in StatefulSet {set} failed error: {e}"
            ),
        },
    }
}

/// What one sync of a StatefulSet should do. The runtime performs it in field order:
///
/// 1. [`Self::revisions`]: create the update revision or re-number an old one. When the create
///    answers AlreadyExists, ask [`super::on_revision_exists`]; on a collision write its status
///    and sync again without doing the rest (the pods below carry the planned name).
/// 2. [`Self::adopt`] and [`Self::release`] (controller reference patches with UID
///    preconditions, as `ClaimPods`).
/// 3. [`Self::create_claims`], then [`Self::create_pods`] (a pod whose claims failed is not
///    created), [`Self::update_claims`], [`Self::update_pods`], [`Self::delete_pods`]
///    (NotFound counts as done), recording [`pod_event`]/[`claim_event`] for each outcome.
///    Upstream stops at the first error of an OrderedReady set; either way the status is
///    still written.
/// 4. [`Self::status`] when [`Self::status_changed`], then delete [`RevisionPlan::delete`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatefulSetPlan {
    pub revisions: RevisionPlan,
    pub adopt: Vec<PodRef>,
    pub release: Vec<PodRef>,
    pub create_claims: Vec<ClaimCreate>,
    /// Full pods named `<set>-<ordinal>` (create with `metadata.name`; `generateName` is
    /// ignored then, as upstream leaves it too).
    pub create_pods: Vec<Pod>,
    /// Claims with the owner references the retention policy asks for (update, with the
    /// claim's `resourceVersion` as precondition).
    pub update_claims: Vec<PersistentVolumeClaim>,
    /// Pods whose identity (labels) or storage (volumes) was fixed (`UpdateStatefulPod`).
    pub update_pods: Vec<Pod>,
    pub delete_pods: Vec<DeletePod>,
    pub status: StatefulSetStatus,
    /// Whether [`Self::status`] differs from the stored one (`inconsistentStatus`).
    pub status_changed: bool,
    /// Sync again after this long so that `minReadySeconds` is seen to pass.
    pub requeue_after: Option<Duration>,
    /// Events decided without I/O (a claim being deleted blocks its pod).
    pub events: Vec<Event>,
    /// The error upstream's sync would return after performing what is planned (a claim
    /// being deleted): perform the plan, then requeue with backoff.
    pub error: Option<String>,
}

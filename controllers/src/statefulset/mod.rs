//! The StatefulSet controller's decisions: [`decide`] turns a StatefulSet, the pods and claims
//! of its namespace and its ControllerRevisions into a [`StatefulSetPlan`] (revisions to
//! create, re-number and delete; pods to adopt, release, create, fix and delete; claims to
//! create and re-own; the status) without I/O. `decide.rs` holds the sync's flow
//! (`updateStatefulSet`), `rolling.rs` the update deletions, `revisions.rs` the revision
//! history, `identity.rs` names, identity, storage and the pod built for an ordinal,
//! `retention.rs` the claims' owner references under `persistentVolumeClaimRetentionPolicy`,
//! `status.rs` the status, `plan.rs` the plan and events. `controller.rs` is the I/O half:
//! events to keys, and (its child `perform.rs`) the plan performed through the API.

mod controller;
mod decide;
mod identity;
mod plan;
mod retention;
mod revisions;
mod rolling;
mod status;
#[cfg(test)]
mod testing;

pub use controller::{StatefulSetController, StatefulSetInformers};
pub use decide::{Features, MAX_CREATES_PER_SYNC, decide, decide_with};
pub use identity::{POD_INDEX_LABEL, POD_NAME_LABEL, claim_name, parent_name_and_ordinal, pod_name};
pub use plan::{
    ClaimCreate, DeletePod, DeleteReason, Event, EventType, PodRef, SpecError, StatefulSetPlan,
    Verb, claim_event, pod_event,
};
pub use revisions::{
    RevisionAction, RevisionConflict, RevisionPlan, bump_collision_count, on_revision_exists,
};
pub use status::status_changed;


//! The ReplicaSet controller's decisions, also serving ReplicationControllers (`owner.rs`): [`decide`] turns a ReplicaSet and the pods of its
//! namespace into a [`ReplicaSetPlan`] (adopt, release, create, delete, status) without I/O.
//! `selector` and `pods` hold the label-selector and pod predicates the Deployment decisions
//! share. `controller.rs` is the I/O half: events to keys, the plan performed through the API.

mod controller;
mod decide;
pub mod owner;
pub(crate) mod pods;
pub(crate) mod ranking;
pub(crate) mod selector;

pub use controller::{ReplicaController, ReplicaSetController, ReplicationControllerController};
pub use decide::{
    BURST_REPLICAS, CreatePods, ManageError, PodRef, ReplicaSetPlan, decide, decide_with_related,
    pod_from_template, set_replica_failure, status_changed,
};
pub use pods::controller_ref;

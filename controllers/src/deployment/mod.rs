//! The Deployment controller's decisions: [`decide`] turns a Deployment and the ReplicaSets it
//! owns into a [`DeploymentPlan`] (the new ReplicaSet, scale changes, history cleanup, revision
//! and status) without I/O. Mirrors upstream's `pkg/controller/deployment`; the rollback
//! annotation (`deprecated.deployment.rollback.to`, extensions/v1beta1 only) is not supported.
//! `controller.rs` is the I/O half: events to keys, the plan performed through the API.

mod controller;
pub(crate) mod hash;
mod plan;
mod recreate;
mod rolling;
mod status;
mod sync;
mod util;

pub use controller::DeploymentController;
pub use hash::compute_hash;
pub use plan::{
    CreateConflict, DeploymentPlan, PlanEvent, create_conflict, create_failed_status, decide,
};
pub use recreate::old_pods_running;
pub use util::{
    DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
};

#[cfg(test)]
mod rollout_tests;

//! The disruption controller's decisions (PodDisruptionBudget status): [`decide`] turns a
//! budget, the pods of its namespace and the scale of their controllers into a [`PdbPlan`]
//! (the status, whether to write it, events, when to look again) without I/O, falling back to
//! upstream's fail-safe status when it cannot be computed. `finders.rs` says which workload a
//! pod's controller reference counts as and how big it is (RC, ReplicaSet or its Deployment,
//! StatefulSet from informers, else the `/scale` subresource), `policy.rs` holds the
//! `DisruptionAllowed` condition and the apimachinery helpers the status needs, `stale.rs`
//! resets `DisruptionTarget` pod conditions whose pod was never deleted. Mirrors upstream's
//! `pkg/controller/disruption/disruption.go` (v1.35). The eviction API's side of budgets lives
//! in the API server, not here.

mod controller;
mod decide;
mod expected;
mod finders;
mod policy;
mod stale;

pub use controller::{DisruptionController, DisruptionInformers, StalePodDisruption};
pub use decide::{
    DELETION_TIMEOUT, EventTarget, PdbEvent, PdbPlan, decide, fail_safe, owners_to_look_up,
    select_pods,
};
pub use finders::{
    ScaleLookup, Workloads, find_in_informers, from_scale, parse_group_version, scale_not_found,
};
pub use policy::{
    DISRUPTION_ALLOWED_CONDITION, INSUFFICIENT_PODS_REASON, PDB_V1BETA1_LABEL,
    SUFFICIENT_PODS_REASON, SYNC_FAILED_REASON, conditions_are_up_to_date, scaled_value,
};
pub use stale::{
    DISRUPTION_TARGET, STALE_POD_DISRUPTION_TIMEOUT, StaleDecision, TERMINATION_BY_KUBELET,
    stale_disruption,
};

//! The DaemonSet controller's decisions: [`decide`] / [`decide_sync`] turn a DaemonSet, the
//! nodes, and the pods and ControllerRevisions of its namespace into a [`DaemonSetPlan`]
//! (revisions to create, update and delete, pods to adopt, release, create per node and
//! delete, the status) without I/O. `placement.rs` decides which nodes want the daemon
//! (node name, nodeSelector, required node affinity, taints and the daemon tolerations),
//! `manage.rs` what each node needs, `rolling.rs` the rolling update (maxUnavailable,
//! maxSurge), `revisions.rs` the template history (on the shared `crate::history`),
//! `backoff.rs` the failed-pod backoff the runtime keeps between syncs, `util.rs` the pod
//! template, node affinity and update-strategy helpers, `plan.rs` the plan and the order in
//! which the runtime performs it. `controller.rs` is the I/O half (reads the informers, performs
//! the plan through the API), `handlers.rs` routes informer events to DaemonSet keys.

mod backoff;
mod controller;
mod decide;
mod handlers;
mod manage;
mod placement;
mod plan;
mod revisions;
mod rolling;
#[cfg(test)]
mod testing;
mod util;

pub use backoff::{
    BackoffEntry, FAILED_POD_BACKOFF_INITIAL, FAILED_POD_BACKOFF_MAX, FailedPodBackoff,
};
pub use controller::DaemonSetController;
pub use decide::{BURST_REPLICAS, SyncInput, decide, decide_sync};
pub use placement::{DaemonPlacement, Placement, add_daemon_tolerations, tolerates};
pub use plan::{
    CreatePod, DaemonSetPlan, Event, EventType, FAILED_CREATE_REASON, FAILED_DAEMON_POD_REASON,
    FAILED_DELETE_REASON, ObjectRef, RevisionPlan, SELECTING_ALL_REASON,
    SUCCEEDED_DAEMON_POD_REASON, SUCCESSFUL_CREATE_REASON, SUCCESSFUL_DELETE_REASON, SyncError,
    created_event, deleted_event, failed_create_event, failed_delete_event,
};
pub use revisions::DEFAULT_REVISION_HISTORY_LIMIT;
pub use util::{
    DEPRECATED_TEMPLATE_GENERATION, POD_TEMPLATE_GENERATION_LABEL, controller_ref, is_pod_updated,
    target_node_name,
};

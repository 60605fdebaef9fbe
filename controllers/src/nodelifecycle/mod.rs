//! Node lifecycle: nodes whose kubelet stops reporting are marked Unknown and tainted
//! `node.kubernetes.io/unreachable:NoExecute` (`not-ready` when Ready is False), and pods on
//! NoExecute-tainted nodes are evicted when their tolerations run out. `decide.rs` is pure;
//! `controller.rs` watches nodes, Leases and pods and writes.

mod controller;
mod decide;

pub use controller::{MonitorTimes, NodeLifecycleController};
pub use decide::{
    Eviction, NOT_READY_TAINT, NodePlan, UNREACHABLE_TAINT, decide_node, pod_eviction,
};

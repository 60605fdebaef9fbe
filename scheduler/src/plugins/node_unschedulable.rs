//! NodeUnschedulable (upstream
//! `pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go`, v1.35): a
//! cordoned node (`spec.unschedulable`) takes only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint (DaemonSet pods get that toleration).
//! The rejection is UnschedulableAndUnresolvable: preemption cannot uncordon a node.
//!
//! Tolerations are matched with the comparison-operator gate off (v1.35 default); see
//! [`super::tolerations`].

use std::sync::Arc;

use k8s_openapi::api::core::v1::Taint;

use super::super::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, NodeInfo, Plugin, PodInfo,
    Points, Status,
};
use super::tolerations::tolerated_by_any;

/// Upstream `names.NodeUnschedulable`.
pub const NAME: &str = "NodeUnschedulable";
/// Upstream `ErrReasonUnschedulable`.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// Upstream `v1.TaintNodeUnschedulable`.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Upstream `NodeUnschedulable`; it has no args.
#[derive(Default)]
pub struct NodeUnschedulable;

impl NodeUnschedulable {
    pub fn new() -> NodeUnschedulable {
        NodeUnschedulable
    }
}

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Upstream: a node added or its taints/`unschedulable` changed (the framework reports
    /// an `unschedulable` flip as a taint update), and the pending pod's own tolerations
    /// changing (upstream `UpdatePodToleration`, which our `ActionType` lacks: mapped onto
    /// `UPDATE_OTHER` of an unscheduled pod).
    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD.or(ActionType::UPDATE_NODE_TAINT),
                "NodeAddOrTaintUpdate",
            ),
            ClusterEvent::new(
                EventResource::UnscheduledPod,
                ActionType::UPDATE_OTHER,
                "UnscheduledPodUpdate",
            ),
        ]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.filter.push(self);
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let cordoned = node
            .node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        if !cordoned {
            return Status::success();
        }
        let taint = Taint {
            key: TAINT_NODE_UNSCHEDULABLE.to_owned(),
            effect: "NoSchedule".to_owned(),
            value: None,
            time_added: None,
        };
        let tolerations = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default();
        if tolerated_by_any(tolerations, &taint) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_UNSCHEDULABLE).with_plugin(NAME)
        }
    }
}

#[cfg(test)]
#[path = "node_unschedulable_tests.rs"]
mod tests;

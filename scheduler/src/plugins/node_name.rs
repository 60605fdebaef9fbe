//! NodeName (upstream `pkg/scheduler/framework/plugins/nodename/node_name.go`, v1.35): a pod
//! with `spec.nodeName` set fits only that node.
//!
//! PreFilter narrows the cycle to that one node (upstream returns a `PreFilterResult` with
//! it), so the other nodes are not even filtered; Filter still rejects any other node with
//! UnschedulableAndUnresolvable, as preemption cannot change a node's name.

use std::collections::HashSet;
use std::sync::Arc;

use super::super::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, NodeInfo, Plugin, PodInfo,
    Points, PreFilterPlugin, PreFilterResult, Snapshot, Status,
};

/// Upstream `names.NodeName`.
pub const NAME: &str = "NodeName";
/// Upstream `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Upstream `NodeName`; it has no args.
#[derive(Default)]
pub struct NodeName;

impl NodeName {
    pub fn new() -> NodeName {
        NodeName
    }
}

fn requested_node(pod: &PodInfo) -> Option<&str> {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Whether `pod` may run on `node` by name (upstream `Fits`).
pub fn fits(pod: &PodInfo, node: &NodeInfo) -> bool {
    requested_node(pod).is_none_or(|n| n == node.name())
}

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Upstream with SchedulingQueueHint on (v1.35 default): only a node added can be the
    /// one the pod names.
    fn events(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::new(
            EventResource::Node,
            ActionType::ADD,
            "NodeAdd",
        )]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_filter.push(self.clone());
        points.filter.push(self);
    }
}

impl PreFilterPlugin for NodeName {
    /// `Some({nodeName})` when the pod names a node; `None` (all nodes) otherwise.
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (PreFilterResult, Status) {
        match requested_node(pod) {
            Some(n) => (Some(HashSet::from([n.to_owned()])), Status::success()),
            None => (None, Status::success()),
        }
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if fits(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON).with_plugin(NAME)
        }
    }
}

#[cfg(test)]
#[path = "node_name_tests.rs"]
mod tests;

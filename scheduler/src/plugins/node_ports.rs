//! NodePorts (upstream `pkg/scheduler/framework/plugins/nodeports/node_ports.go`, v1.35):
//! rejects nodes where a host port the pod asks for is already taken.
//!
//! A port is (host IP, protocol, port). A wanted port on `0.0.0.0` conflicts with that
//! protocol/port on any IP; a wanted port on a specific IP conflicts with the same IP or
//! with `0.0.0.0` (upstream `HostPortInfo.CheckConflict`). Empty IPs and protocols were
//! already made `0.0.0.0` and `TCP` in [`PodInfo`].

use std::sync::Arc;

use super::super::framework::types::HostPort;
use super::super::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, NodeInfo, Plugin, PodInfo,
    Points, PreFilterPlugin, PreFilterResult, Snapshot, Status,
};

/// Upstream `names.NodePorts`.
pub const NAME: &str = "NodePorts";
/// Upstream `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

const BIND_ALL: &str = "0.0.0.0";

/// The pod's host ports (upstream `preFilterState`).
#[derive(Clone, Debug)]
struct PreFilterState(Vec<HostPort>);

/// Upstream `NodePorts`; it has no args.
#[derive(Default)]
pub struct NodePorts;

impl NodePorts {
    pub fn new() -> NodePorts {
        NodePorts
    }
}

/// Whether `wanted` conflicts with a port in `used` (upstream `HostPortInfo.CheckConflict`).
pub fn conflicts(used: &[HostPort], wanted: &HostPort) -> bool {
    if wanted.port <= 0 {
        return false;
    }
    used.iter().any(|u| {
        u.port == wanted.port
            && u.protocol == wanted.protocol
            && (wanted.ip == BIND_ALL || u.ip == BIND_ALL || u.ip == wanted.ip)
    })
}

/// Whether none of `wanted` is taken on `node` (upstream `fitsPorts`).
pub fn fits_ports(wanted: &[HostPort], node: &NodeInfo) -> bool {
    !wanted.iter().any(|p| conflicts(&node.used_ports, p))
}

/// Whether `pod`'s host ports are free on `node` (upstream `Fits`), for preemption.
pub fn fits(pod: &PodInfo, node: &NodeInfo) -> bool {
    fits_ports(&pod.host_ports, node)
}

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Upstream with SchedulingQueueHint on (v1.35 default): an assigned pod deleted (ports
    /// are immutable, so pod updates cannot free one) or a node added.
    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::ASSIGNED_POD_DELETE,
            ClusterEvent::new(EventResource::Node, ActionType::ADD, "NodeAdd"),
        ]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_filter.push(self.clone());
        points.filter.push(self);
    }
}

impl PreFilterPlugin for NodePorts {
    /// Skip for a pod without host ports; otherwise keeps them for Filter.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (PreFilterResult, Status) {
        if pod.host_ports.is_empty() {
            return (None, Status::skip());
        }
        state.write(NAME, PreFilterState(pod.host_ports.clone()));
        (None, Status::success())
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(PreFilterState(wanted)) = state.read::<PreFilterState>(NAME) else {
            return Status::error(format!(
                "reading {:?} from cycleState: not found",
                format!("PreFilter{NAME}")
            ));
        };
        if fits_ports(wanted, node) {
            Status::success()
        } else {
            Status::unschedulable(ERR_REASON).with_plugin(NAME)
        }
    }
}

#[cfg(test)]
#[path = "node_ports_tests.rs"]
mod tests;

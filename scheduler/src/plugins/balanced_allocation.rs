//! NodeResourcesBalancedAllocation (upstream
//! `pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go`, v1.35): prefers
//! nodes whose resources would be used evenly after placing the pod, scoring
//! `(1 - std) × MAX_NODE_SCORE` where `std` is the standard deviation of the requested
//! fractions of the listed resources (cpu and memory by default).
//!
//! As upstream, it counts the pod's and the node's plain requests (no defaults for
//! containers that request nothing) and skips best-effort pods, which request none of the
//! listed resources (upstream issue #129138: scoring them would pile them onto one node).
//! DRA-backed extended resources are not counted (the `DRAExtendedResource` gate).

use std::sync::Arc;

use super::super::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, Points, PreScorePlugin, ScorePlugin,
    Snapshot, Status,
};
use super::node_resources_fit::{
    ResourceSpec, default_resources, node_vectors, pod_request, validate_resources,
};

/// Upstream `names.NodeResourcesBalancedAllocation`.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// The pod's plain request per listed resource (upstream
/// `balancedAllocationPreScoreState`).
#[derive(Clone, Debug)]
struct PreScoreState(Vec<i64>);

pub struct BalancedAllocation {
    resources: Vec<ResourceSpec>,
}

impl Default for BalancedAllocation {
    /// Upstream's default args: resources `cpu: 1, memory: 1`.
    fn default() -> Self {
        BalancedAllocation {
            resources: default_resources(),
        }
    }
}

impl BalancedAllocation {
    /// Upstream `NewBalancedAllocation` with `NodeResourcesBalancedAllocationArgs.resources`
    /// (validated as upstream: no duplicates, every weight exactly 1). Upstream's default is
    /// [`default_resources`] (`cpu`, `memory`); `BalancedAllocation::default()` builds that.
    pub fn new(resources: Vec<ResourceSpec>) -> Result<BalancedAllocation, String> {
        validate_resources(&resources, 1, 1)?;
        Ok(BalancedAllocation { resources })
    }

    fn pod_requests(&self, pod: &PodInfo) -> Vec<i64> {
        self.resources
            .iter()
            .map(|r| pod_request(pod, &r.name, false))
            .collect()
    }
}

/// Upstream `balancedResourceScorer`: fractions capped at 1 over the resources the node
/// has; with two, `std = |f1 - f2| / 2`; with more, the population standard deviation; with
/// fewer, 0. The score is truncated toward zero.
pub(crate) fn balanced_score(requested: &[i64], allocatable: &[i64]) -> i64 {
    let fractions: Vec<f64> = requested
        .iter()
        .zip(allocatable)
        .filter(|(_, a)| **a != 0)
        .map(|(&r, &a)| (r as f64 / a as f64).min(1.0))
        .collect();
    let std = match fractions.len() {
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n if n > 2 => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            let sum: f64 = fractions.iter().map(|f| (f - mean) * (f - mean)).sum();
            (sum / n as f64).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Score only: it rejects no pod, so it registers no event (upstream implements no
    /// `EnqueueExtensions`).
    fn events(&self) -> Vec<super::super::framework::ClusterEvent> {
        Vec::new()
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_score.push(self.clone());
        points.score.push(self);
    }
}

impl PreScorePlugin for BalancedAllocation {
    /// The pod's requests once per cycle; Skip for a pod that requests none of the
    /// resources (upstream `isBestEffortPod`).
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
        _: &Snapshot,
    ) -> Status {
        let requests = self.pod_requests(pod);
        if requests.iter().all(|&r| r == 0) {
            return Status::skip();
        }
        state.write(NAME, PreScoreState(requests));
        Status::success()
    }
}

impl ScorePlugin for BalancedAllocation {
    /// Already in `0..=MAX_NODE_SCORE`; no normalize, as upstream. Without PreScore state it
    /// computes the requests itself and scores best-effort pods 0, as upstream's `Score`.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        if self.resources.is_empty() {
            return (0, Status::error("resources not found"));
        }
        let computed;
        let requests = match state.read::<PreScoreState>(NAME) {
            Some(PreScoreState(r)) => r,
            None => {
                computed = self.pod_requests(pod);
                if computed.iter().all(|&r| r == 0) {
                    return (0, Status::success());
                }
                &computed
            }
        };
        let (requested, allocatable) = node_vectors(&self.resources, requests, node, false);
        (balanced_score(&requested, &allocatable), Status::success())
    }
}

#[cfg(test)]
#[path = "balanced_allocation_tests.rs"]
mod tests;

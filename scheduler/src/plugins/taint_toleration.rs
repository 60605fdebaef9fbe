//! TaintToleration: a pod only lands on nodes whose `NoSchedule`/`NoExecute` taints it all
//! tolerates, and prefers nodes with fewer `PreferNoSchedule` taints it does not tolerate.
//! Mirrors upstream `pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go`
//! (v1.35), with the toleration matching of [`super::tolerations`] (the alpha
//! `TaintTolerationComparisonOperators` gate off, as by default).
//!
//! - Filter: the first untolerated `NoSchedule`/`NoExecute` taint rejects the node as
//!   UnschedulableAndUnresolvable (preempting pods removes no taint) with upstream's reason
//!   `node(s) had untolerated taint {key: value}`.
//! - PreScore keeps the pod's tolerations that can tolerate `PreferNoSchedule` (effect empty
//!   or `PreferNoSchedule`); Score counts the node's `PreferNoSchedule` taints none of them
//!   tolerates; `normalize` reverses (fewest untolerated taints: 100).
//!
//! Differences: Score recomputes the tolerations when PreScore did not run instead of
//! failing; upstream's `Pod/UpdatePodToleration` event is not registered, since our
//! `ActionType` has no toleration bit and registering every unscheduled-pod update would retry
//! on each status write (the queue retries a pod when the pod itself changes).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::tolerations::{find_untolerated, tolerated_by_any};
use crate::framework::runtime::default_normalize_score;
use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeInfo,
    NodeScore, Plugin, PodInfo, Points, PreScorePlugin, ScorePlugin, Snapshot, Status,
};

const PRE_SCORE_KEY: &str = "PreScoreTaintToleration";

pub const EFFECT_NO_SCHEDULE: &str = "NoSchedule";
pub const EFFECT_NO_EXECUTE: &str = "NoExecute";
pub const EFFECT_PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";

/// The plugin has no arguments (upstream `New` takes none).
#[derive(Debug, Default, Clone, Copy)]
pub struct TaintToleration;

struct PreScoreState {
    tolerations_prefer_no_schedule: Vec<Toleration>,
}

impl TaintToleration {
    pub const NAME: &'static str = "TaintToleration";

    pub fn new() -> Self {
        Self
    }
}

/// Upstream `helper.DoNotScheduleTaintsFilterFunc`: the taints Filter cares about.
pub fn is_do_not_schedule_taint(taint: &Taint) -> bool {
    taint.effect == EFFECT_NO_SCHEDULE || taint.effect == EFFECT_NO_EXECUTE
}

/// The Filter reason for an untolerated taint, as upstream formats it.
pub fn untolerated_taint_reason(taint: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key,
        taint.value.as_deref().unwrap_or_default()
    )
}

fn taints_of(node: &NodeInfo) -> &[Taint] {
    node.node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

fn tolerations_of(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

/// Upstream `getAllTolerationPreferNoSchedule`: tolerations with no effect (any effect) or
/// `PreferNoSchedule`.
fn tolerations_prefer_no_schedule(tolerations: &[Toleration]) -> Vec<Toleration> {
    tolerations
        .iter()
        .filter(|t| {
            let effect = t.effect.as_deref().unwrap_or_default();
            effect.is_empty() || effect == EFFECT_PREFER_NO_SCHEDULE
        })
        .cloned()
        .collect()
}

/// Upstream `countIntolerableTaintsPreferNoSchedule`.
fn count_intolerable_prefer_no_schedule(taints: &[Taint], tolerations: &[Toleration]) -> i64 {
    let count = taints
        .iter()
        .filter(|t| t.effect == EFFECT_PREFER_NO_SCHEDULE && !tolerated_by_any(tolerations, t))
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Upstream (queueing hints on, the v1.35 default): Node Add | UpdateNodeTaint.
    fn events(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::new(
            EventResource::Node,
            ActionType::ADD.or(ActionType::UPDATE_NODE_TAINT),
            "NodeAddOrUpdateTaint",
        )]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.filter.push(self.clone());
        points.pre_score.push(self.clone());
        points.score.push(self);
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match find_untolerated(
            taints_of(node),
            tolerations_of(pod),
            is_do_not_schedule_taint,
        ) {
            None => Status::success(),
            Some(taint) => Status::unresolvable(untolerated_taint_reason(taint)),
        }
    }
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[Arc<NodeInfo>],
        _snapshot: &Snapshot,
    ) -> Status {
        state.write(
            PRE_SCORE_KEY,
            PreScoreState {
                tolerations_prefer_no_schedule: tolerations_prefer_no_schedule(tolerations_of(pod)),
            },
        );
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let score = match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(s) => count_intolerable_prefer_no_schedule(
                taints_of(node),
                &s.tolerations_prefer_no_schedule,
            ),
            None => count_intolerable_prefer_no_schedule(
                taints_of(node),
                &tolerations_prefer_no_schedule(tolerations_of(pod)),
            ),
        };
        (score, Status::success())
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

#[cfg(test)]
#[path = "taint_toleration_tests.rs"]
mod tests;

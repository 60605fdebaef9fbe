//! NodeAffinity: a pod only lands on nodes that satisfy its `spec.nodeSelector` and its
//! required node affinity, and prefers nodes that match its preferred terms. Mirrors upstream
//! `pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go` (v1.35).
//!
//! - PreFilter parses the pod's required placement once ([`NodeSelectorMatcher::from_pod`])
//!   and, when every required term pins `matchFields` `metadata.name In [...]`, narrows the
//!   cycle to those node names (terms ORed: union; requirements in a term ANDed:
//!   intersection). Terms that pin nothing but conflict give "pod affinity terms conflict".
//!   Nothing to check (no selector, no required affinity, no `addedAffinity`): Skip.
//! - Filter: the scheduler-enforced `addedAffinity` first, then the pod's own; both
//!   UnschedulableAndUnresolvable, since preemption cannot change node labels.
//! - PreScore/Score: the sum of the weights of the matching preferred terms (the pod's and
//!   `addedAffinity`'s); `normalize` scales to `0..=MAX_NODE_SCORE` with the highest at 100
//!   (upstream `helper.DefaultNormalizeScore(MaxNodeScore, false, ...)`).
//!
//! Differences: Score falls back to parsing the pod when PreScore did not run, as upstream;
//! the queueing hint (`isSchedulableAfterNodeChange`) is reduced to the events registered.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::NodeAffinity as NodeAffinitySpec;

use super::node_selector::{NodeSelectorMatcher, OBJECT_NAME_FIELD, PreferredTermsScorer};
use crate::framework::runtime::default_normalize_score;
use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeInfo,
    NodeScore, Plugin, PodInfo, Points, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    ScorePlugin, Snapshot, Status,
};

/// Filter reason when the pod's own selector/affinity does not match (upstream `ErrReasonPod`).
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Filter reason when the profile's `addedAffinity` does not match.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// PreFilter reason when the `metadata.name` pins of the terms leave no node.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

const PRE_FILTER_KEY: &str = "PreFilterNodeAffinity";
const PRE_SCORE_KEY: &str = "PreScoreNodeAffinity";

/// Upstream `NodeAffinityArgs`. Default (upstream's default profile): no `addedAffinity`.
#[derive(Debug, Clone, Default)]
pub struct NodeAffinityArgs {
    /// Affinity every pod of the profile must (required) or should (preferred) satisfy on
    /// top of its own.
    pub added_affinity: Option<NodeAffinitySpec>,
}

pub struct NodeAffinity {
    added_node_selector: Option<NodeSelectorMatcher>,
    added_pref_terms: Option<PreferredTermsScorer>,
}

/// Upstream's default profile: no `addedAffinity`.
impl Default for NodeAffinity {
    fn default() -> Self {
        Self {
            added_node_selector: None,
            added_pref_terms: None,
        }
    }
}

struct PreFilterState(NodeSelectorMatcher);
struct PreScoreState(Option<PreferredTermsScorer>);

impl NodeAffinity {
    pub const NAME: &'static str = "NodeAffinity";

    /// Upstream `New`: fails when `addedAffinity` does not parse.
    pub fn new(args: NodeAffinityArgs) -> Result<Self, String> {
        let mut plugin = Self {
            added_node_selector: None,
            added_pref_terms: None,
        };
        if let Some(added) = &args.added_affinity {
            if let Some(required) = &added.required_during_scheduling_ignored_during_execution {
                plugin.added_node_selector = Some(
                    NodeSelectorMatcher::from_node_selector_strict(required).map_err(|e| {
                        format!("parsing addedAffinity.requiredDuringSchedulingIgnoredDuringExecution: {e}")
                    })?,
                );
            }
            let preferred = added
                .preferred_during_scheduling_ignored_during_execution
                .as_deref()
                .unwrap_or_default();
            if !preferred.is_empty() {
                plugin.added_pref_terms = Some(PreferredTermsScorer::new(preferred).map_err(|e| {
                    format!("parsing addedAffinity.preferredDuringSchedulingIgnoredDuringExecution: {e}")
                })?);
            }
        }
        Ok(plugin)
    }

    /// The pod's preferred terms, `None` when it has none (`getPodPreferredNodeAffinity`).
    fn pod_preferred(pod: &PodInfo) -> Result<Option<PreferredTermsScorer>, String> {
        let terms = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.preferred_during_scheduling_ignored_during_execution
                    .as_deref()
            });
        terms.map(PreferredTermsScorer::new).transpose()
    }
}

/// The node names every required term pins with `metadata.name In`, unioned over terms;
/// `None` when some term pins nothing (any node may match it).
fn pinned_node_names(pod: &PodInfo) -> Option<HashSet<String>> {
    let terms = &pod
        .pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    if terms.is_empty() {
        return None;
    }
    let mut names = HashSet::new();
    for term in terms {
        let mut term_names: Option<HashSet<String>> = None;
        for r in term.match_fields.iter().flatten() {
            if r.key == OBJECT_NAME_FIELD && r.operator == "In" {
                let values: HashSet<String> = r.values.iter().flatten().cloned().collect();
                term_names = Some(match term_names {
                    None => values,
                    Some(prev) => prev.intersection(&values).cloned().collect(),
                });
            }
        }
        names.extend(term_names?);
    }
    Some(names)
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Upstream (queueing hints on, the v1.35 default): Node Add | UpdateNodeLabel.
    fn events(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::new(
            EventResource::Node,
            ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
            "NodeAddOrUpdateLabel",
        )]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_filter.push(self.clone());
        points.filter.push(self.clone());
        points.pre_score.push(self.clone());
        points.score.push(self);
    }
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let required = NodeSelectorMatcher::from_pod(&pod.pod);
        let has_selector = pod
            .pod
            .spec
            .as_ref()
            .is_some_and(|s| s.node_selector.is_some());
        if required.is_everything() && !has_selector && self.added_node_selector.is_none() {
            return (None, Status::skip());
        }
        state.write(PRE_FILTER_KEY, PreFilterState(required));
        match pinned_node_names(pod) {
            Some(names) if names.is_empty() => (None, Status::unresolvable(ERR_REASON_CONFLICT)),
            Some(names) => (Some(names), Status::success()),
            None => (None, Status::success()),
        }
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if let Some(added) = &self.added_node_selector
            && !added.matches(&node.node)
        {
            return Status::unresolvable(ERR_REASON_ENFORCED);
        }
        let matched = match state.read::<PreFilterState>(PRE_FILTER_KEY) {
            Some(s) => s.0.matches(&node.node),
            // PreFilter did not run: parse here, as upstream's fallback.
            None => NodeSelectorMatcher::from_pod(&pod.pod).matches(&node.node),
        };
        if matched {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[Arc<NodeInfo>],
        _snapshot: &Snapshot,
    ) -> Status {
        let preferred = match Self::pod_preferred(pod) {
            Ok(p) => p,
            Err(e) => return Status::error(e),
        };
        if preferred.is_none() && self.added_pref_terms.is_none() {
            return Status::skip();
        }
        state.write(PRE_SCORE_KEY, PreScoreState(preferred));
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let mut count = self
            .added_pref_terms
            .as_ref()
            .map_or(0, |t| t.score(&node.node));
        match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(s) => count += s.0.as_ref().map_or(0, |t| t.score(&node.node)),
            None => match Self::pod_preferred(pod) {
                Ok(p) => count += p.map_or(0, |t| t.score(&node.node)),
                Err(e) => return (0, Status::error(e)),
            },
        }
        (count, Status::success())
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

#[cfg(test)]
#[path = "node_affinity_tests.rs"]
mod tests;

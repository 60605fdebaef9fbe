//! PodTopologySpread: spreads matching pods evenly over topology domains (zones, nodes).
//! Mirrors upstream `pkg/scheduler/framework/plugins/podtopologyspread/` (v1.35):
//! `plugin.go`, `common.go`, `filtering.go`, `scoring.go`.
//!
//! - Constraints come from `spec.topologySpreadConstraints` (`DoNotSchedule` ones for
//!   Filter, `ScheduleAnyway` ones for Score); `matchLabelKeys` add `key In [pod's value]`
//!   to the selector; `minDomains` defaults to 1, `nodeAffinityPolicy` to Honor,
//!   `nodeTaintsPolicy` to Ignore. A pod without constraints gets the default constraints
//!   (upstream's system defaulting: hostname maxSkew 3 and zone maxSkew 5, `ScheduleAnyway`)
//!   with the selector of the Services/RCs/RSs/StatefulSets that select it; the plugin has no
//!   listers, so that selector comes from the `default_selector` closure given to the
//!   constructor (the scheduler builds it from its informers, as upstream
//!   `helper.DefaultSelector`). `None` or an empty selector: no default constraints.
//! - PreFilter counts, over every node of the snapshot that has all topology keys and passes
//!   the inclusion policies, the pods in the pod's namespace matching each constraint's
//!   selector (terminating pods excluded) per domain, and keeps the two smallest domains
//!   (critical paths). Filter: `count(domain) + self_match - global_min > maxSkew` rejects
//!   (Unschedulable: preemption can help); the global minimum is 0 while fewer than
//!   `minDomains` domains exist; a node missing a topology key is UnschedulableAndUnresolvable.
//!   `add_pod`/`remove_pod` update the counts for preemption.
//! - PreScore/Score: per feasible node, `Σ count(domain) · ln(#domains + 2) + maxSkew − 1`
//!   over the soft constraints (hostname counted on the node itself), nodes missing a key
//!   ignored (unless system-defaulted); `normalize`: `100 · (max + min − s) / max`, ignored
//!   nodes 0.
//!
//! Differences: Score returns −1 for an ignored node (upstream 0, then looks the node name up
//! in `normalize`), because our `NodeScore` carries no name; `normalize` maps every negative
//! score to 0. The cycle state cannot be mutated in place, so `add_pod`/`remove_pod` write an
//! updated copy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
use rayon::prelude::*;
use ultrak8s_controllers::Selector;

use super::node_selector::NodeSelectorMatcher;
use super::tolerations::find_untolerated;
use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeInfo,
    NodeScore, Plugin, PodInfo, Points, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    ScorePlugin, Snapshot, Status,
};

pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";
const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";
const PRE_FILTER_KEY: &str = "PreFilterPodTopologySpread";
const PRE_SCORE_KEY: &str = "PreScorePodTopologySpread";
/// Score of a node that lacks a topology key; `normalize` turns it into 0.
const INVALID_SCORE: i64 = -1;

/// The selector of the workloads owning a pod (Services, ReplicationControllers,
/// ReplicaSets, StatefulSets selecting it), for the default constraints.
pub type DefaultSelectorFn = dyn Fn(&Pod) -> Option<Selector> + Send + Sync;

/// The default constraints of upstream's `systemDefaultConstraints`.
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    let soft = |key: &str, max_skew| TopologySpreadConstraint {
        topology_key: key.to_owned(),
        when_unsatisfiable: SCHEDULE_ANYWAY.to_owned(),
        max_skew,
        ..TopologySpreadConstraint::default()
    };
    vec![soft(LABEL_HOSTNAME, 3), soft(LABEL_TOPOLOGY_ZONE, 5)]
}

pub struct PodTopologySpread {
    default_constraints: Vec<TopologySpreadConstraint>,
    system_defaulted: bool,
    default_selector: Arc<DefaultSelectorFn>,
}

/// A constraint with its selector parsed (upstream `topologySpreadConstraint`).
#[derive(Debug, Clone)]
struct Constraint {
    max_skew: i64,
    topology_key: String,
    /// `None`: a null selector, which matches no pod.
    selector: Option<Selector>,
    min_domains: i64,
    honor_node_affinity: bool,
    honor_node_taints: bool,
}

impl Constraint {
    fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }

    /// Upstream `matchNodeInclusionPolicies`.
    fn includes_node(
        &self,
        node: &Node,
        required: &NodeSelectorMatcher,
        tolerations: &[Toleration],
    ) -> bool {
        if self.honor_node_affinity && !required.matches(node) {
            return false;
        }
        if self.honor_node_taints {
            let taints: &[Taint] = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_deref())
                .unwrap_or_default();
            let do_not_schedule = |t: &Taint| t.effect == "NoSchedule" || t.effect == "NoExecute";
            if find_untolerated(taints, tolerations, do_not_schedule).is_some() {
                return false;
            }
        }
        true
    }
}

/// The two domains with the fewest matching pods (upstream `criticalPaths`);
/// `[0]` always holds the minimum.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CriticalPaths([(String, i64); 2]);

impl CriticalPaths {
    fn new() -> Self {
        let max = i64::from(i32::MAX);
        Self([(String::new(), max), (String::new(), max)])
    }

    fn update(&mut self, value: &str, num: i64) {
        let p = &mut self.0;
        let at = if value == p[0].0 {
            Some(0)
        } else if value == p[1].0 {
            Some(1)
        } else {
            None
        };
        match at {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None if num < p[0].1 => {
                p[1] = p[0].clone();
                p[0] = (value.to_owned(), num);
            }
            None if num < p[1].1 => p[1] = (value.to_owned(), num),
            None => {}
        }
    }
}

#[derive(Clone)]
struct PreFilterState {
    constraints: Arc<Vec<Constraint>>,
    critical_paths: Vec<CriticalPaths>,
    tp_value_to_match_num: Vec<HashMap<String, i64>>,
    required: Arc<NodeSelectorMatcher>,
    tolerations: Arc<Vec<Toleration>>,
}

impl PreFilterState {
    /// Upstream `minMatchNum`.
    fn min_match_num(&self, i: usize, min_domains: i64) -> i64 {
        let domains = self.tp_value_to_match_num[i].len();
        if i64::try_from(domains).unwrap_or(i64::MAX) < min_domains {
            0
        } else {
            self.critical_paths[i].0[0].1
        }
    }

    /// Upstream `updateWithPod`.
    fn update_with_pod(
        &mut self,
        updated: &Pod,
        preemptor_namespace: &str,
        node: &Node,
        delta: i64,
    ) {
        if updated.metadata.namespace.as_deref().unwrap_or_default() != preemptor_namespace {
            return;
        }
        let labels = node.metadata.labels.as_ref();
        if !has_all_keys(labels, &self.constraints) {
            return;
        }
        let constraints = Arc::clone(&self.constraints);
        for (i, c) in constraints.iter().enumerate() {
            if !c.matches(updated.metadata.labels.as_ref())
                || !c.includes_node(node, &self.required, &self.tolerations)
            {
                continue;
            }
            let value = label(labels, &c.topology_key);
            let num = self.tp_value_to_match_num[i]
                .entry(value.to_owned())
                .or_default();
            *num += delta;
            let num = *num;
            self.critical_paths[i].update(value, num);
        }
    }
}

struct PreScoreState {
    constraints: Vec<Constraint>,
    ignored_nodes: HashSet<String>,
    topology_value_to_pod_counts: Vec<HashMap<String, i64>>,
    topology_normalizing_weight: Vec<f64>,
}

fn label<'a>(labels: Option<&'a BTreeMap<String, String>>, key: &str) -> &'a str {
    labels.and_then(|l| l.get(key)).map_or("", String::as_str)
}

/// Upstream `nodeLabelsMatchSpreadConstraints`.
fn has_all_keys(labels: Option<&BTreeMap<String, String>>, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| labels.is_some_and(|l| l.contains_key(&c.topology_key)))
}

/// Upstream `countPodsMatchSelector`: pods in `namespace`, not terminating, matching; an
/// empty selector counts nothing.
fn count_matching(pods: &[Arc<PodInfo>], c: &Constraint, namespace: &str) -> i64 {
    let Some(selector) = c.selector.as_ref().filter(|s| !s.is_everything()) else {
        return 0;
    };
    let n = pods
        .iter()
        .filter(|p| {
            p.pod.metadata.deletion_timestamp.is_none()
                && p.namespace() == namespace
                && selector.matches(p.pod.metadata.labels.as_ref())
        })
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Upstream `topologyNormalizingWeight`.
fn topology_normalizing_weight(size: usize) -> f64 {
    (size as f64 + 2.0).ln()
}

impl PodTopologySpread {
    pub const NAME: &'static str = "PodTopologySpread";

    /// Upstream's default args (`defaultingType: System`): pods without constraints get
    /// [`system_default_constraints`], with the selector `default_selector` returns.
    pub fn new(default_selector: Arc<DefaultSelectorFn>) -> Self {
        Self {
            default_constraints: system_default_constraints(),
            system_defaulted: true,
            default_selector,
        }
    }

    /// `defaultingType: List`: these default constraints (their selectors are replaced by
    /// `default_selector`'s, as upstream); nodes must then have every topology key to score.
    pub fn with_default_constraints(
        default_constraints: Vec<TopologySpreadConstraint>,
        default_selector: Arc<DefaultSelectorFn>,
    ) -> Self {
        Self {
            default_constraints,
            system_defaulted: false,
            default_selector,
        }
    }

    /// Upstream `filterTopologySpreadConstraints`.
    fn filter_constraints(
        constraints: &[TopologySpreadConstraint],
        pod_labels: Option<&BTreeMap<String, String>>,
        action: &str,
    ) -> Result<Vec<Constraint>, String> {
        let mut out = Vec::new();
        for c in constraints
            .iter()
            .filter(|c| c.when_unsatisfiable == action)
        {
            let selector = match &c.label_selector {
                None => None,
                Some(ls) => {
                    let mut ls = ls.clone();
                    for key in c.match_label_keys.iter().flatten() {
                        if let Some(value) = pod_labels.and_then(|l| l.get(key)) {
                            ls.match_expressions.get_or_insert_with(Vec::new).push(
                                LabelSelectorRequirement {
                                    key: key.clone(),
                                    operator: "In".into(),
                                    values: Some(vec![value.clone()]),
                                },
                            );
                        }
                    }
                    Some(Selector::parse(&ls).ok_or_else(|| {
                        format!(
                            "invalid label selector in topology spread constraint {:?}",
                            c.topology_key
                        )
                    })?)
                }
            };
            out.push(Constraint {
                max_skew: i64::from(c.max_skew),
                topology_key: c.topology_key.clone(),
                selector,
                min_domains: i64::from(c.min_domains.unwrap_or(1)),
                honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            });
        }
        Ok(out)
    }

    /// The pod's constraints for `action`, or the default ones when it has none (upstream
    /// `getConstraints` / `buildDefaultConstraints`).
    fn constraints(&self, pod: &Pod, action: &str) -> Result<Vec<Constraint>, String> {
        let labels = pod.metadata.labels.as_ref();
        let own = pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_deref());
        if let Some(own) = own.filter(|c| !c.is_empty()) {
            return Self::filter_constraints(own, labels, action);
        }
        let mut constraints = Self::filter_constraints(&self.default_constraints, labels, action)?;
        if constraints.is_empty() {
            return Ok(constraints);
        }
        let Some(selector) = (self.default_selector)(pod).filter(|s| !s.is_everything()) else {
            return Ok(Vec::new());
        };
        for c in &mut constraints {
            c.selector = Some(selector.clone());
        }
        Ok(constraints)
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Upstream: Pod Add | UpdatePodLabel | Delete (only assigned pods count, as its hint
    /// checks), Node Add | Delete | UpdateNodeLabel | UpdateNodeTaint.
    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::new(
                EventResource::AssignedPod,
                ActionType::ADD
                    .or(ActionType::UPDATE_POD_LABEL)
                    .or(ActionType::DELETE),
                "AssignedPodChange",
            ),
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD
                    .or(ActionType::DELETE)
                    .or(ActionType::UPDATE_NODE_LABEL)
                    .or(ActionType::UPDATE_NODE_TAINT),
                "NodeChange",
            ),
        ]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_filter.push(self.clone());
        points.filter.push(self.clone());
        points.pre_score.push(self.clone());
        points.score.push(self);
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let constraints = match self.constraints(&pod.pod, DO_NOT_SCHEDULE) {
            Ok(c) => c,
            Err(e) => {
                return (
                    None,
                    Status::error(format!(
                        "obtaining pod's hard topology spread constraints: {e}"
                    )),
                );
            }
        };
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        let required = NodeSelectorMatcher::from_pod(&pod.pod);
        let tolerations = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.clone())
            .unwrap_or_default();
        let namespace = pod.namespace();
        let per_node: Vec<Vec<(usize, &str, i64)>> = snapshot
            .nodes()
            .par_iter()
            .with_min_len(64)
            .map(|info| {
                let labels = info.node.metadata.labels.as_ref();
                if !has_all_keys(labels, &constraints) {
                    return Vec::new();
                }
                constraints
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.includes_node(&info.node, &required, &tolerations))
                    .map(|(i, c)| {
                        (
                            i,
                            label(labels, &c.topology_key),
                            count_matching(&info.pods, c, namespace),
                        )
                    })
                    .collect()
            })
            .collect();
        let mut counts = vec![HashMap::new(); constraints.len()];
        for (i, value, n) in per_node.into_iter().flatten() {
            *counts[i].entry(value.to_owned()).or_insert(0) += n;
        }
        let critical_paths = counts
            .iter()
            .map(|m: &HashMap<String, i64>| {
                let mut paths = CriticalPaths::new();
                for (value, &num) in m {
                    paths.update(value, num);
                }
                paths
            })
            .collect();
        state.write(
            PRE_FILTER_KEY,
            PreFilterState {
                constraints: Arc::new(constraints),
                critical_paths,
                tp_value_to_match_num: counts,
                required: Arc::new(required),
                tolerations: Arc::new(tolerations),
            },
        );
        (None, Status::success())
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        update_state(state, pod, added, node, 1)
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        update_state(state, pod, removed, node, -1)
    }
}

/// Writes a copy of the PreFilter state with `changed` counted `delta` times on `node`.
fn update_state(
    state: &mut CycleState,
    pod: &PodInfo,
    changed: &PodInfo,
    node: &NodeInfo,
    delta: i64,
) -> Status {
    let Some(current) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
        return Status::error(format!(
            "reading {PRE_FILTER_KEY:?} from cycleState: not found"
        ));
    };
    let mut next = current.clone();
    next.update_with_pod(&changed.pod, pod.namespace(), &node.node, delta);
    state.write(PRE_FILTER_KEY, next);
    Status::success()
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(format!(
                "reading {PRE_FILTER_KEY:?} from cycleState: not found"
            ));
        };
        let labels = node.node.metadata.labels.as_ref();
        let pod_labels = pod.pod.metadata.labels.as_ref();
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = labels.and_then(|l| l.get(&c.topology_key)) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let min_match = s.min_match_num(i, c.min_domains);
            let self_match = i64::from(c.matches(pod_labels));
            let match_num = s.tp_value_to_match_num[i].get(value).copied().unwrap_or(0);
            if match_num + self_match - min_match > c.max_skew {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        if snapshot.is_empty() {
            return Status::skip();
        }
        let own = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref());
        let require_all = own.is_some_and(|c| !c.is_empty()) || !self.system_defaulted;
        let constraints = match self.constraints(&pod.pod, SCHEDULE_ANYWAY) {
            Ok(c) => c,
            Err(e) => return Status::error(format!("calculating preScoreState: {e}")),
        };
        if constraints.is_empty() {
            return Status::skip();
        }
        // Domains of the feasible nodes (upstream `initPreScoreState`).
        let mut ignored_nodes = HashSet::new();
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        for info in nodes {
            let labels = info.node.metadata.labels.as_ref();
            if require_all && !has_all_keys(labels, &constraints) {
                ignored_nodes.insert(info.name().to_owned());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key != LABEL_HOSTNAME {
                    counts[i]
                        .entry(label(labels, &c.topology_key).to_owned())
                        .or_insert(0);
                }
            }
        }
        let scored_nodes = nodes.len().saturating_sub(ignored_nodes.len());
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, m)| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    scored_nodes
                } else {
                    m.len()
                };
                topology_normalizing_weight(size)
            })
            .collect();
        // Matching pods per domain over every node (upstream `processAllNode`).
        let required = NodeSelectorMatcher::from_pod(&pod.pod);
        let tolerations = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.clone())
            .unwrap_or_default();
        let namespace = pod.namespace();
        let per_node: Vec<Vec<(usize, &str, i64)>> = snapshot
            .nodes()
            .par_iter()
            .with_min_len(64)
            .map(|info| {
                let labels = info.node.metadata.labels.as_ref();
                if require_all && !has_all_keys(labels, &constraints) {
                    return Vec::new();
                }
                constraints
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| {
                        counts[*i].contains_key(label(labels, &c.topology_key))
                            && c.includes_node(&info.node, &required, &tolerations)
                    })
                    .map(|(i, c)| {
                        (
                            i,
                            label(labels, &c.topology_key),
                            count_matching(&info.pods, c, namespace),
                        )
                    })
                    .collect()
            })
            .collect();
        for (i, value, n) in per_node.into_iter().flatten() {
            if let Some(count) = counts[i].get_mut(value) {
                *count += n;
            }
        }
        state.write(
            PRE_SCORE_KEY,
            PreScoreState {
                constraints,
                ignored_nodes,
                topology_value_to_pod_counts: counts,
                topology_normalizing_weight: weights,
            },
        );
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return (
                0,
                Status::error(format!(
                    "reading {PRE_SCORE_KEY:?} from cycleState: not found"
                )),
            );
        };
        if s.ignored_nodes.contains(node.name()) {
            return (INVALID_SCORE, Status::success());
        }
        let labels = node.node.metadata.labels.as_ref();
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = labels.and_then(|l| l.get(&c.topology_key)) else {
                continue;
            };
            let count = if c.topology_key == LABEL_HOSTNAME {
                count_matching(&node.pods, c, pod.namespace())
            } else {
                s.topology_value_to_pod_counts[i]
                    .get(value)
                    .copied()
                    .unwrap_or(0)
            };
            // Upstream `scoreForCount`.
            score += count as f64 * s.topology_normalizing_weight[i] + (c.max_skew - 1) as f64;
        }
        (score.round() as i64, Status::success())
    }

    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        if state.read::<PreScoreState>(PRE_SCORE_KEY).is_none() {
            return Status::error(format!(
                "reading {PRE_SCORE_KEY:?} from cycleState: not found"
            ));
        }
        let valid = || scores.iter().map(|s| s.score).filter(|&s| s >= 0);
        let min = valid().min().unwrap_or(i64::MAX);
        let max = valid().max().unwrap_or(0);
        for s in scores.iter_mut() {
            s.score = if s.score < 0 {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - s.score) / max
            };
        }
        Status::success()
    }
}

#[cfg(test)]
#[path = "pod_topology_spread_tests/mod.rs"]
mod tests;

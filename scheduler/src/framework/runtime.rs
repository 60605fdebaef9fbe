//! Runs one profile's plugins at each extension point (upstream
//! `framework/runtime/framework.go`): order, skipping, intersecting PreFilter results,
//! normalizing and weighting scores, undoing Reserve, holding pods at Permit.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;

use super::waiting::WaitingPods;
use super::{
    ClusterEvent, Code, CycleState, NodeInfo, Plugin, PodInfo, Points, PostFilterResult,
    PreFilterResult, Snapshot, Status,
};

/// Scores a plugin gives lie in `0..=MAX_NODE_SCORE` (upstream `MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// Upstream `helper.DefaultNormalizeScore`: scales `[0, max]` to `[0, max_priority]`,
/// reversed (`max_priority - score`) when asked; all zero stays zero (or all `max_priority`
/// reversed).
pub fn default_normalize_score(max_priority: i64, reverse: bool, scores: &mut [NodeScore]) {
    let max = scores.iter().map(|s| s.score).max().unwrap_or(0).max(0);
    for s in scores.iter_mut() {
        let scaled = if max == 0 {
            0
        } else {
            max_priority * s.score / max
        };
        s.score = if reverse {
            max_priority - scaled
        } else {
            scaled
        };
    }
}

/// One feasible node's score: `node` indexes the feasible node list of the cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeScore {
    pub node: usize,
    pub score: i64,
}

/// Score weights by plugin name; plugins not listed weigh 1.
pub type PluginWeights = HashMap<&'static str, i64>;

/// Why a pod found no node: each rejected node's status, the plugins that rejected it (they
/// decide which events retry it), and any message from PreFilter or PostFilter.
#[derive(Debug, Default, Clone)]
pub struct Diagnosis {
    pub node_statuses: HashMap<String, Status>,
    /// Nodes PreFilter ruled out without running Filter, all for this status.
    pub pre_filter_status: Option<Status>,
    pub unschedulable_plugins: HashSet<&'static str>,
    pub pending_plugins: HashSet<&'static str>,
    pub post_filter_message: Option<String>,
    /// How many nodes were evaluated in all (the `0/N nodes are available` figure).
    pub num_nodes: usize,
}

impl Diagnosis {
    pub fn record(&mut self, node: &str, status: Status) {
        if status.code == Code::Pending {
            self.pending_plugins.insert(status.plugin);
        } else if !status.plugin.is_empty() {
            self.unschedulable_plugins.insert(status.plugin);
        }
        self.node_statuses.insert(node.to_owned(), status);
    }

    /// The status of `node`: its own, or what PreFilter said about all nodes it ruled out.
    pub fn status_of(&self, node: &str) -> Option<&Status> {
        self.node_statuses
            .get(node)
            .or(self.pre_filter_status.as_ref())
    }

    /// Upstream's FitError message: `0/5 nodes are available: 2 Insufficient cpu, 3 node(s)
    /// had untolerated taint {gpu: true}.` with each reason counted and sorted, and the
    /// preemption outcome appended.
    pub fn message(&self) -> String {
        if self.num_nodes == 0 {
            // Upstream's `ErrNoNodesAvailable`, said as is.
            return "no nodes available to schedule pods".to_owned();
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for status in self.node_statuses.values() {
            for reason in &status.reasons {
                *counts.entry(reason.as_str()).or_default() += 1;
            }
        }
        if let Some(status) = &self.pre_filter_status {
            let ruled_out = self.num_nodes.saturating_sub(self.node_statuses.len());
            if ruled_out > 0 {
                for reason in &status.reasons {
                    *counts.entry(reason.as_str()).or_default() += ruled_out;
                }
            }
        }
        let mut reasons: Vec<String> = counts
            .into_iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        reasons.sort();
        let mut message = format!("0/{} nodes are available", self.num_nodes);
        if !reasons.is_empty() {
            message.push_str(": ");
            message.push_str(&reasons.join(", "));
        }
        message.push('.');
        if let Some(post) = &self.post_filter_message {
            message.push(' ');
            message.push_str(post);
        }
        message
    }
}

/// What Permit said: go on, wait for the verdict, or give up.
pub enum PermitOutcome {
    Allowed,
    Wait {
        verdict: tokio::sync::oneshot::Receiver<Status>,
        timeout: Duration,
    },
    Rejected(Status),
}

/// One scheduling profile: its plugins at each point and their score weights.
pub struct Framework {
    /// The `schedulerName` pods pick this profile with.
    pub scheduler_name: String,
    points: Points,
    weights: PluginWeights,
    events: HashMap<&'static str, Vec<ClusterEvent>>,
    pub waiting: Arc<WaitingPods>,
    /// Percentage of nodes to evaluate per pod; `None`: adaptive, as upstream.
    pub percentage_of_nodes_to_score: Option<u32>,
}

impl Framework {
    pub fn new(
        scheduler_name: &str,
        plugins: Vec<Arc<dyn Plugin>>,
        weights: PluginWeights,
        waiting: Arc<WaitingPods>,
    ) -> Framework {
        let mut points = Points::default();
        let mut events = HashMap::new();
        for plugin in plugins {
            events.insert(plugin.name(), plugin.events());
            plugin.register(&mut points);
        }
        Framework {
            scheduler_name: scheduler_name.to_owned(),
            points,
            weights,
            events,
            waiting,
            percentage_of_nodes_to_score: None,
        }
    }

    pub fn points(&self) -> &Points {
        &self.points
    }

    /// Whether an event is worth retrying a pod that `plugins` rejected: some of them
    /// registered it (or registered nothing, meaning anything), or no plugin is known.
    pub fn worth_retrying(&self, plugins: &HashSet<&'static str>, event: &ClusterEvent) -> bool {
        if plugins.is_empty() || event.label == ClusterEvent::UNSCHEDULABLE_TIMEOUT.label {
            return true;
        }
        plugins.iter().any(|p| match self.events.get(p) {
            Some(registered) if !registered.is_empty() => {
                registered.iter().any(|r| r.covers(event))
            }
            _ => true,
        })
    }

    pub fn run_pre_enqueue(&self, pod: &PodInfo) -> Status {
        for plugin in &self.points.pre_enqueue {
            let status = plugin.pre_enqueue(pod);
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs every PreFilter; the node sets they return are intersected.
    pub fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let mut result: PreFilterResult = None;
        for plugin in &self.points.pre_filter {
            let (nodes, status) = plugin.pre_filter(state, pod, snapshot);
            if status.is_skip() {
                state.skip_filter.insert(plugin.name());
                continue;
            }
            if !status.is_success() {
                return (None, status.with_plugin(plugin.name()));
            }
            if let Some(nodes) = nodes {
                result = Some(match result {
                    None => nodes,
                    Some(prev) => prev.intersection(&nodes).cloned().collect(),
                });
                if result.as_ref().is_some_and(HashSet::is_empty) {
                    return (
                        result,
                        Status::unresolvable(format!(
                            "node(s) didn't satisfy plugin(s) [{}] simultaneously",
                            plugin.name()
                        ))
                        .with_plugin(plugin.name()),
                    );
                }
            }
        }
        (result, Status::success())
    }

    /// Every Filter in order, stopping at the first that rejects the node.
    pub fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for plugin in &self.points.filter {
            if state.skip_filter.contains(plugin.name()) {
                continue;
            }
            let status = plugin.filter(state, pod, node);
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// PreFilter extensions: `added` now runs on `node` (preemption simulations).
    pub fn run_pre_filter_add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        for plugin in &self.points.pre_filter {
            if state.skip_filter.contains(plugin.name()) {
                continue;
            }
            let status = plugin.add_pod(state, pod, added, node);
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    pub fn run_pre_filter_remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        for plugin in &self.points.pre_filter {
            if state.skip_filter.contains(plugin.name()) {
                continue;
            }
            let status = plugin.remove_pod(state, pod, removed, node);
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// PostFilter plugins in order until one returns a result.
    pub fn run_post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        diagnosis: &Diagnosis,
    ) -> (Option<PostFilterResult>, Status) {
        let mut messages = Vec::new();
        for plugin in &self.points.post_filter {
            let (result, status) = plugin.post_filter(state, pod, snapshot, diagnosis, self);
            if status.is_success() {
                return (result, status);
            }
            if status.code == Code::Error {
                return (None, status.with_plugin(plugin.name()));
            }
            messages.extend(status.reasons.into_iter().filter(|r| !r.is_empty()));
        }
        let status = if messages.is_empty() {
            Status::unschedulable("")
        } else {
            Status::unschedulable(messages.join(" "))
        };
        (None, status)
    }

    pub fn run_pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        for plugin in &self.points.pre_score {
            let status = plugin.pre_score(state, pod, nodes, snapshot);
            if status.is_skip() {
                state.skip_score.insert(plugin.name());
                continue;
            }
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// The weighted sum of every Score plugin's normalized score, per node (in `nodes`
    /// order). Scoring runs in parallel over nodes.
    pub fn run_score(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> Result<Vec<i64>, Status> {
        let mut totals = vec![0i64; nodes.len()];
        for plugin in &self.points.score {
            if state.skip_score.contains(plugin.name()) {
                continue;
            }
            let scored: Vec<(i64, Status)> = nodes
                .par_iter()
                .with_min_len(64)
                .map(|node| plugin.score(state, pod, node))
                .collect();
            let mut scores = Vec::with_capacity(scored.len());
            for (i, (score, status)) in scored.into_iter().enumerate() {
                if !status.is_success() {
                    return Err(status.with_plugin(plugin.name()));
                }
                scores.push(NodeScore { node: i, score });
            }
            let status = plugin.normalize(state, pod, &mut scores);
            if !status.is_success() {
                return Err(status.with_plugin(plugin.name()));
            }
            let weight = self.weights.get(plugin.name()).copied().unwrap_or(1);
            for s in &scores {
                if !(0..=MAX_NODE_SCORE).contains(&s.score) {
                    return Err(Status::error(format!(
                        "plugin {} returns an invalid score {}, it should be in the range of [0, {MAX_NODE_SCORE}] after normalizing",
                        plugin.name(),
                        s.score
                    )));
                }
                totals[s.node] += s.score * weight;
            }
        }
        Ok(totals)
    }

    /// Reserve in order; on failure every Reserve plugin is undone, last first.
    pub fn run_reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        for plugin in &self.points.reserve {
            let status = plugin.reserve(state, pod, node);
            if !status.is_success() {
                self.run_unreserve(state, pod, node);
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    pub fn run_unreserve(&self, state: &CycleState, pod: &PodInfo, node: &str) {
        for plugin in self.points.reserve.iter().rev() {
            plugin.unreserve(state, pod, node);
        }
    }

    /// Permit: any rejection wins; otherwise the pod waits for every plugin that said Wait,
    /// as long as the shortest timeout they gave.
    pub fn run_permit(
        &self,
        state: &CycleState,
        pod: &Arc<PodInfo>,
        node: &str,
        snapshot: &Snapshot,
    ) -> PermitOutcome {
        let mut waiting_for = HashSet::new();
        let mut timeout = Duration::MAX;
        for plugin in &self.points.permit {
            let (status, wait) = plugin.permit(state, pod, node, snapshot);
            match status.code {
                Code::Success => {}
                Code::Wait => {
                    waiting_for.insert(plugin.name());
                    timeout = timeout.min(wait);
                }
                _ => return PermitOutcome::Rejected(status.with_plugin(plugin.name())),
            }
        }
        if waiting_for.is_empty() {
            return PermitOutcome::Allowed;
        }
        let verdict = self.waiting.add(Arc::clone(pod), node, waiting_for);
        PermitOutcome::Wait { verdict, timeout }
    }

    /// Waits for a pod held at Permit: allowed, rejected, or rejected when the timeout passes.
    pub async fn wait_on_permit(
        &self,
        pod: &PodInfo,
        verdict: tokio::sync::oneshot::Receiver<Status>,
        timeout: Duration,
    ) -> Status {
        let status = match tokio::time::timeout(timeout, verdict).await {
            Ok(Ok(status)) => status,
            Ok(Err(_)) => Status::error("the waiting pod was dropped"),
            Err(_) => Status::unschedulable(format!(
                "rejected due to timeout after waiting {}s at permit",
                timeout.as_secs()
            )),
        };
        self.waiting.remove(&pod.uid);
        status
    }

    pub async fn run_pre_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for plugin in &self.points.pre_bind {
            let status = plugin.pre_bind(state, pod, node).await;
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// The first Bind plugin that does not skip binds the pod.
    pub async fn run_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for plugin in &self.points.bind {
            let status = plugin.bind(state, pod, node).await;
            if status.is_skip() {
                continue;
            }
            return if status.is_success() {
                status
            } else {
                status.with_plugin(plugin.name())
            };
        }
        Status::error("no bind plugin bound the pod")
    }

    pub async fn run_post_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) {
        for plugin in &self.points.post_bind {
            plugin.post_bind(state, pod, node).await;
        }
    }
}

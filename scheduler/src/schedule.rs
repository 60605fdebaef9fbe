//! One pod's scheduling cycle, without I/O (upstream `schedule_one.go`, `schedulePod`):
//! PreFilter, Filter over a sample of the nodes in parallel, PostFilter when none fits,
//! PreScore and Score over the feasible nodes, and the choice of the best one (ties broken
//! at random). What happens next (assume, Reserve, Permit, bind) is the caller's.
//!
//! Sampling: at 100,000 nodes, evaluating every node for every pod would cost 100,000 Filter
//! calls per pod. Like upstream, the cycle stops once it has found enough feasible nodes
//! (`percentageOfNodesToScore`, adaptive by default: 50% of the nodes minus 1% per 125, never
//! below 5% or 100 nodes) and starts the next pod's search where this one stopped, so every
//! node gets its turn.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::batch::{self, Ranking};
use crate::framework::types::NodeInfo;
use crate::framework::{
    Code, CycleState, Diagnosis, Framework, PodInfo, PostFilterResult, Snapshot, Status,
};

/// Below this many nodes every node is evaluated (upstream `minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this (upstream
/// `minFeasibleNodesPercentageToFind`).
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;
/// Nodes per parallel Filter round; a round is only as large as the nodes still to find.
const MIN_ROUND: usize = 256;

/// The node a cycle chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub node: String,
    /// Nodes Filter ran on, and how many of them fit.
    pub evaluated: usize,
    pub feasible: usize,
}

/// Why a cycle chose no node.
#[derive(Debug)]
pub enum Failure {
    /// No node fits; `preemption` names the node the pod is nominated to once its victims
    /// are gone, when PostFilter found one.
    Unschedulable {
        diagnosis: Box<Diagnosis>,
        preemption: Option<PostFilterResult>,
    },
    /// A plugin failed (not a verdict about nodes): retried with backoff.
    Error(Status),
}

/// How many feasible nodes to look for among `all` (upstream `numFeasibleNodesToFind`).
pub fn num_feasible_nodes_to_find(percentage: Option<u32>, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let percentage = match percentage {
        Some(p) if p > 0 => (p as usize).min(100),
        _ => 50usize
            .saturating_sub(all / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE),
    };
    (all * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// What carries over from one cycle to the next: where the node search resumes, the random
/// state for breaking score ties, and the last ranking for pods of the same signature
/// (`batch.rs`).
#[derive(Debug)]
pub struct Cycle {
    next_start: usize,
    rng: u64,
    /// The last ranking of each recent signature (jobs' pods arrive interleaved).
    rankings: HashMap<u64, Ranking>,
    /// Whether rankings are reused (opportunistic batching).
    pub batching: bool,
}

impl Default for Cycle {
    fn default() -> Self {
        Cycle::new(0x9e37_79b9_7f4a_7c15)
    }
}

impl Cycle {
    pub fn new(seed: u64) -> Cycle {
        Cycle {
            next_start: 0,
            rng: seed.max(1),
            rankings: HashMap::new(),
            batching: true,
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64: tie-breaking needs spread, not cryptographic strength.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Runs the cycle for `pod` against `snapshot`: from the last ranking when the pod has
    /// its signature and the ranking's next node still fits, else in full.
    pub fn schedule(
        &mut self,
        framework: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<Decision, Failure> {
        let signature = if self.batching {
            batch::signature(pod, &framework.scheduler_name)
        } else {
            None
        };
        if let Some(signature) = signature
            && let Some(decision) =
                self.take_from_ranking(framework, state, pod, snapshot, signature)
        {
            return Ok(decision);
        }
        if let Some(signature) = signature {
            self.rankings.remove(&signature);
        }
        self.full(framework, state, pod, snapshot, signature)
    }

    /// The ranking's next node, if it still passes every Filter (a few are tried).
    fn take_from_ranking(
        &mut self,
        framework: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        signature: u64,
    ) -> Option<Decision> {
        let now = std::time::Instant::now();
        if !self
            .rankings
            .get(&signature)
            .is_some_and(|r| r.usable(signature, now))
        {
            return None;
        }
        let (_, status) = framework.run_pre_filter(state, pod, snapshot);
        if !status.is_success() {
            return None;
        }
        let ranking = self.rankings.get_mut(&signature)?;
        for _ in 0..batch::MAX_TRIES {
            let name = ranking.nodes.get(ranking.next)?;
            ranking.next += 1;
            if let Some(node) = snapshot.get(name)
                && framework.run_filters(state, pod, node).is_success()
            {
                return Some(Decision {
                    node: name.clone(),
                    evaluated: 1,
                    feasible: 1,
                });
            }
        }
        None
    }

    fn full(
        &mut self,
        framework: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        signature: Option<u64>,
    ) -> Result<Decision, Failure> {
        let mut diagnosis = Diagnosis {
            num_nodes: snapshot.len(),
            ..Diagnosis::default()
        };
        if snapshot.is_empty() {
            diagnosis.pre_filter_status =
                Some(Status::unresolvable("no nodes available to schedule pods"));
            return Err(Failure::Unschedulable {
                diagnosis: Box::new(diagnosis),
                preemption: None,
            });
        }
        let feasible = self.find_feasible(framework, state, pod, snapshot, &mut diagnosis)?;
        let evaluated = diagnosis.node_statuses.len() + feasible.len();
        if feasible.is_empty() {
            return Err(self.post_filter(framework, state, pod, snapshot, diagnosis));
        }
        if feasible.len() == 1 {
            return Ok(Decision {
                node: feasible[0].name().to_owned(),
                evaluated,
                feasible: 1,
            });
        }
        let status = framework.run_pre_score(state, pod, &feasible, snapshot);
        if !status.is_success() {
            return Err(Failure::Error(status));
        }
        let totals = framework
            .run_score(state, pod, &feasible)
            .map_err(Failure::Error)?;
        let best = self.select_host(&totals);
        if let Some(signature) = signature {
            self.rank(signature, &feasible, &totals, best);
        }
        Ok(Decision {
            node: feasible[best].name().to_owned(),
            evaluated,
            feasible: feasible.len(),
        })
    }

    fn post_filter(
        &mut self,
        framework: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        mut diagnosis: Diagnosis,
    ) -> Failure {
        // A pod only waiting for something outside the cluster (a gang) is not helped by
        // preemption.
        if diagnosis.unschedulable_plugins.is_empty() && !diagnosis.pending_plugins.is_empty() {
            return Failure::Unschedulable {
                diagnosis: Box::new(diagnosis),
                preemption: None,
            };
        }
        let (result, status) = framework.run_post_filter(state, pod, snapshot, &diagnosis);
        if status.code == Code::Error {
            return Failure::Error(status);
        }
        let message = status.message();
        if !message.is_empty() {
            diagnosis.post_filter_message = Some(message);
        }
        Failure::Unschedulable {
            diagnosis: Box::new(diagnosis),
            preemption: result,
        }
    }

    /// PreFilter, then Filter in parallel over rounds of nodes until enough fit.
    fn find_feasible(
        &mut self,
        framework: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        diagnosis: &mut Diagnosis,
    ) -> Result<Vec<Arc<NodeInfo>>, Failure> {
        let (restricted, status) = framework.run_pre_filter(state, pod, snapshot);
        if !status.is_success() {
            if status.code == Code::Error {
                return Err(Failure::Error(status));
            }
            diagnosis.pre_filter_status = Some(status.clone());
            if status.code == Code::Pending {
                diagnosis.pending_plugins.insert(status.plugin);
            } else {
                diagnosis.unschedulable_plugins.insert(status.plugin);
            }
            return Ok(Vec::new());
        }
        let state: &CycleState = state;
        // The node the pod was nominated to by an earlier preemption goes first: if it fits
        // now, it is the answer (upstream `evaluateNominatedNode`).
        if let Some(nominated) = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .and_then(|n| snapshot.get(n))
            && restricted
                .as_ref()
                .is_none_or(|r| r.contains(nominated.name()))
            && framework.run_filters(state, pod, nominated).is_success()
        {
            return Ok(vec![Arc::clone(nominated)]);
        }
        let candidates: Vec<Arc<NodeInfo>>;
        let nodes: &[Arc<NodeInfo>] = match &restricted {
            Some(names) => {
                let mut sorted: Vec<&String> = names.iter().collect();
                sorted.sort();
                candidates = sorted
                    .into_iter()
                    .filter_map(|n| snapshot.get(n))
                    .cloned()
                    .collect();
                let ruled_out = snapshot.len() - candidates.len();
                if ruled_out > 0 {
                    diagnosis.pre_filter_status = Some(Status::unresolvable(
                        "node(s) didn't satisfy plugin(s) PreFilter result",
                    ));
                }
                &candidates
            }
            None => snapshot.nodes(),
        };
        let want = match restricted {
            Some(_) => nodes.len(),
            None => num_feasible_nodes_to_find(framework.percentage_of_nodes_to_score, nodes.len()),
        };
        let n = nodes.len();
        let start = if restricted.is_some() {
            0
        } else {
            self.next_start % n.max(1)
        };
        let found = AtomicUsize::new(0);
        let mut feasible = Vec::with_capacity(want.min(n));
        let mut scanned = 0;
        while scanned < n && feasible.len() < want {
            let round = (want - feasible.len()).max(MIN_ROUND).min(n - scanned);
            let results: Vec<(usize, Status)> = (scanned..scanned + round)
                .into_par_iter()
                .with_min_len(32)
                .filter_map(|i| {
                    if found.load(Ordering::Relaxed) >= want {
                        return None;
                    }
                    let at = (start + i) % n;
                    let status = framework.run_filters(state, pod, &nodes[at]);
                    if status.is_success() {
                        found.fetch_add(1, Ordering::Relaxed);
                    }
                    Some((at, status))
                })
                .collect();
            scanned += round;
            for (at, status) in results {
                if status.is_success() {
                    if feasible.len() < want {
                        feasible.push(Arc::clone(&nodes[at]));
                    }
                } else if status.code == Code::Error {
                    return Err(Failure::Error(status));
                } else {
                    diagnosis.record(nodes[at].name(), status);
                }
            }
        }
        if restricted.is_none() {
            self.next_start = (start + scanned) % n.max(1);
        }
        Ok(feasible)
    }

    /// Keeps the feasible nodes best first (after `best`, which this pod takes) for the next
    /// pods of `signature`.
    fn rank(&mut self, signature: u64, feasible: &[Arc<NodeInfo>], totals: &[i64], best: usize) {
        let mut order: Vec<(i64, u64, usize)> = totals
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != best)
            .map(|(i, &score)| (score, self.random(), i))
            .collect();
        // Highest score first; equal scores in random order, as select_host breaks ties.
        order.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let now = std::time::Instant::now();
        self.rankings.retain(|_, r| now < r.made + batch::MAX_AGE);
        if self.rankings.len() >= batch::MAX_RANKINGS
            && let Some(oldest) = self
                .rankings
                .iter()
                .min_by_key(|(_, r)| r.made)
                .map(|(k, _)| *k)
        {
            self.rankings.remove(&oldest);
        }
        self.rankings.insert(
            signature,
            Ranking {
                signature,
                nodes: order
                    .into_iter()
                    .map(|(_, _, i)| feasible[i].name().to_owned())
                    .collect(),
                next: 0,
                made: now,
            },
        );
    }

    /// The index of the highest total; among equal totals each is equally likely
    /// (reservoir sampling, as upstream's `selectHost`).
    fn select_host(&mut self, totals: &[i64]) -> usize {
        let mut best = 0;
        let mut ties = 0u64;
        for (i, &score) in totals.iter().enumerate() {
            if score > totals[best] {
                best = i;
                ties = 1;
            } else if score == totals[best] {
                ties += 1;
                if self.random().is_multiple_of(ties) {
                    best = i;
                }
            }
        }
        best
    }
}

/// Plugins named in a failure, for the queue's event matching.
pub fn rejecting_plugins(failure: &Failure) -> (HashSet<&'static str>, HashSet<&'static str>) {
    match failure {
        Failure::Unschedulable { diagnosis, .. } => (
            diagnosis.unschedulable_plugins.clone(),
            diagnosis.pending_plugins.clone(),
        ),
        Failure::Error(_) => (HashSet::new(), HashSet::new()),
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;

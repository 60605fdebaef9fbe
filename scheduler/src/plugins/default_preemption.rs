//! DefaultPreemption: when no node fits a pod, find a node where evicting lower-priority
//! pods makes it fit, and the fewest, least important such pods (upstream
//! `pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go` and the
//! `Evaluator` of `pkg/scheduler/framework/preemption/preemption.go`).
//!
//! The steps, as upstream's `Evaluator.Preempt`:
//! 1. [`DefaultPreemption::pod_eligible_to_preempt_others`]: `preemptionPolicy: Never` pods
//!    never preempt; a pod whose nominated node still has a lower-priority pod terminating
//!    because of an earlier preemption waits for it instead of preempting again.
//! 2. Candidate nodes: only those the cycle rejected as `Unschedulable` (a taint or a node
//!    selector — `UnschedulableAndUnresolvable` — cannot be fixed by evicting pods).
//! 3. Dry run on a sample of them (`minCandidateNodesPercentage` / `minCandidateNodesAbsolute`,
//!    from an offset so that successive preemptors spread over the cluster):
//!    [`select_victims_on_node`] on a copy of the node and cycle state.
//! 4. The best candidate by [`pick_one_node_for_preemption`].
//!
//! This plugin is pure: it returns the nominated node and the victims in a
//! [`PostFilterResult`]; the scheduler evicts them (upstream's `prepareCandidate`, sync or
//! async) and clears lower-priority nominations on that node.
//!
//! Deliberate differences from upstream:
//! - Nominated pods are not taken into account while filtering (upstream
//!   `RunFilterPluginsWithNominatedPods` also adds higher-or-equal-priority pods nominated to
//!   the node): the [`Framework`] does not expose the nominator.
//! - No extenders, no custom `IsEligiblePod` / `MoreImportantPod` hooks, no pod groups
//!   (workload-aware preemption), no PreEnqueue gate for async preemption (the scheduler
//!   performs the evictions itself).
//! - The dry run evaluates nodes in parallel in chunks and stops at the same node a
//!   sequential run would: the outcome is deterministic (upstream cancels its parallel run
//!   when enough candidates are found, so which ones it keeps varies).
//! - A pod without `status.startTime` counts as started last (upstream: `time.Now()`).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use rayon::prelude::*;

use super::preemption_candidates::{
    Candidate, pick_one_node_for_preemption, pod_terminating_by_preemption, select_victims_on_node,
};
use crate::framework::{
    ClusterEvent, Code, CycleState, Diagnosis, Framework, NodeInfo, Plugin, PodInfo, Points,
    PostFilterPlugin, PostFilterResult, Snapshot, Status,
};

/// Upstream's plugin name.
pub const NAME: &str = "DefaultPreemption";

/// Every PodDisruptionBudget in the cluster (upstream reads the PDB lister).
pub type PdbLister = Arc<dyn Fn() -> Vec<Arc<PodDisruptionBudget>> + Send + Sync>;

/// How many nodes a dry run must find candidates on (upstream `DefaultPreemptionArgs`):
/// at least `min_candidate_nodes_percentage`% of the potential nodes and at least
/// `min_candidate_nodes_absolute`, never more than there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultPreemptionArgs {
    pub min_candidate_nodes_percentage: i32,
    pub min_candidate_nodes_absolute: i32,
}

impl Default for DefaultPreemptionArgs {
    /// Upstream's defaults: 10% and 100.
    fn default() -> Self {
        DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

impl DefaultPreemptionArgs {
    /// Upstream `ValidateDefaultPreemptionArgs`: the percentage in `[0, 100]`, the absolute
    /// non-negative, and not both zero.
    pub fn validate(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        let (pct, abs) = (
            self.min_candidate_nodes_percentage,
            self.min_candidate_nodes_absolute,
        );
        if !(0..=100).contains(&pct) {
            errors.push(format!(
                "minCandidateNodesPercentage: Invalid value: {pct}: not in valid range [0, 100]"
            ));
        }
        if abs < 0 {
            errors.push(format!(
                "minCandidateNodesAbsolute: Invalid value: {abs}: not in valid range [0, inf)"
            ));
        }
        if pct == 0 && abs == 0 {
            errors.push("minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time as minCandidateNodesAbsolute".into());
            errors.push("minCandidateNodesAbsolute: Invalid value: 0: cannot be zero at the same time as minCandidateNodesPercentage".into());
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(format!("[{}]", errors.join(", "))),
        }
    }
}

/// Where the dry run starts in the list of potential nodes. Upstream draws it at random
/// (`rand.Int31n`); here it is a hash of the pod's uid (mixed with a seed), so runs are
/// reproducible and different preemptors still start at different nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateOffset {
    PodUidHash {
        seed: u64,
    },
    /// Always this index (modulo the node count); for tests.
    Fixed(usize),
}

pub struct DefaultPreemption {
    args: DefaultPreemptionArgs,
    pdb_lister: PdbLister,
    offset: CandidateOffset,
}

const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

impl DefaultPreemption {
    /// `args`: [`DefaultPreemptionArgs::default`] (10%, 100) in the default profile; invalid
    /// values (see [`DefaultPreemptionArgs::validate`]) are clamped rather than rejected, so
    /// at least one candidate is always sought. `pdb_lister`: every PDB in the cluster.
    pub fn new(args: DefaultPreemptionArgs, pdb_lister: PdbLister) -> DefaultPreemption {
        let mut args = args;
        args.min_candidate_nodes_percentage = args.min_candidate_nodes_percentage.clamp(0, 100);
        args.min_candidate_nodes_absolute = args.min_candidate_nodes_absolute.max(0);
        if args.min_candidate_nodes_percentage == 0 && args.min_candidate_nodes_absolute == 0 {
            args.min_candidate_nodes_absolute = 1;
        }
        DefaultPreemption {
            args,
            pdb_lister,
            offset: CandidateOffset::PodUidHash { seed: 0 },
        }
    }

    pub fn with_offset(mut self, offset: CandidateOffset) -> DefaultPreemption {
        self.offset = offset;
        self
    }

    /// How many candidates the dry run looks for among `num_nodes` potential nodes (upstream
    /// `calculateNumCandidates`). Unlike upstream, at least one when there are nodes: with a
    /// percentage but `minCandidateNodesAbsolute: 0`, upstream's count can round down to 0,
    /// and then its dry run keeps no candidate at all.
    pub fn calculate_num_candidates(&self, num_nodes: usize) -> usize {
        let pct = usize::try_from(self.args.min_candidate_nodes_percentage).unwrap_or(0);
        let abs = usize::try_from(self.args.min_candidate_nodes_absolute).unwrap_or(0);
        (num_nodes.saturating_mul(pct) / 100)
            .max(abs)
            .max(1)
            .min(num_nodes)
    }

    fn offset_for(&self, pod: &PodInfo, num_nodes: usize) -> usize {
        if num_nodes == 0 {
            return 0;
        }
        match self.offset {
            CandidateOffset::Fixed(i) => i % num_nodes,
            CandidateOffset::PodUidHash { seed } => {
                // FNV-1a: stable across runs and platforms, unlike std's RandomState.
                let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
                for b in pod.uid.bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
                (h % num_nodes as u64) as usize
            }
        }
    }

    /// Whether `pod` may preempt now (upstream `PodEligibleToPreemptOthers`); `Err` carries
    /// upstream's reason. `nominated_status`: the cycle's status of the pod's nominated node
    /// (`None`: no status, which upstream reads as `UnschedulableAndUnresolvable`).
    pub fn pod_eligible_to_preempt_others(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominated_status: Option<&Status>,
    ) -> Result<(), &'static str> {
        let spec = pod.pod.spec.as_ref();
        if spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
            return Err("not eligible due to preemptionPolicy=Never.");
        }
        let nominated = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref());
        let Some(nominated) = nominated.filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        // The nominated node no longer fits for a reason preemption cannot fix: preempt
        // elsewhere.
        if nominated_status.is_none_or(|s| s.code == Code::UnschedulableAndUnresolvable) {
            return Ok(());
        }
        if let Some(node) = snapshot.get(nominated) {
            let priority = pod.priority();
            let waiting = node
                .pods
                .iter()
                .any(|p| p.priority() < priority && pod_terminating_by_preemption(&p.pod));
            if waiting {
                return Err("not eligible due to a terminating pod on the nominated node.");
            }
        }
        Ok(())
    }

    /// Dry-runs preemption on `potential` nodes from `offset` until `num_candidates` are
    /// found (at least one without PDB violations), as upstream `DryRunPreemption`.
    /// Returns the candidates (non-violating first), the status of each node that is not
    /// one, and the errors met. (Upstream's argument list, hence the lint exception.)
    #[allow(clippy::too_many_arguments)]
    pub fn dry_run_preemption(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        potential: &[Arc<NodeInfo>],
        pdbs: &[Arc<PodDisruptionBudget>],
        offset: usize,
        num_candidates: usize,
        framework: &Framework,
    ) -> (Vec<Candidate>, HashMap<String, Status>, Vec<String>) {
        let mut non_violating = Vec::new();
        let mut violating = Vec::new();
        let mut statuses = HashMap::new();
        let mut errors = Vec::new();
        let n = potential.len();
        let chunk = num_candidates.max(32);
        let mut start = 0;
        'chunks: while start < n {
            let end = (start + chunk).min(n);
            let results: Vec<_> = (start..end)
                .into_par_iter()
                .map(|i| {
                    let node = &potential[(offset + i) % n];
                    let mut node_copy = NodeInfo::clone(node);
                    let mut state_copy = state.clone();
                    let r = select_victims_on_node(
                        &mut state_copy,
                        pod,
                        &mut node_copy,
                        pdbs,
                        framework,
                    );
                    (node.name().to_owned(), r)
                })
                .collect();
            for (name, (victims, num_pdb_violations, status)) in results {
                if status.is_success() && !victims.is_empty() {
                    let candidate = Candidate {
                        node: name,
                        victims,
                        num_pdb_violations,
                    };
                    let list = if num_pdb_violations == 0 {
                        &mut non_violating
                    } else {
                        &mut violating
                    };
                    if list.len() < num_candidates {
                        list.push(candidate);
                    }
                    if !non_violating.is_empty()
                        && non_violating.len() + violating.len() >= num_candidates
                    {
                        break 'chunks;
                    }
                    continue;
                }
                let status = if status.is_success() {
                    Status::error(format!("expected at least one victim pod on node {name:?}"))
                } else {
                    status
                };
                if status.code == Code::Error {
                    errors.push(status.message());
                }
                statuses.insert(name, status);
            }
            start = end;
        }
        non_violating.extend(violating);
        (non_violating, statuses, errors)
    }

    /// Upstream `Evaluator.Preempt` without the evictions: the result, or why not (the
    /// message without the `preemption: ` prefix).
    fn preempt(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        diagnosis: &Diagnosis,
        framework: &Framework,
    ) -> (Option<PostFilterResult>, Status) {
        let nominated = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .unwrap_or_default();
        if let Err(reason) =
            self.pod_eligible_to_preempt_others(pod, snapshot, diagnosis.status_of(nominated))
        {
            return (None, Status::unschedulable(reason));
        }
        let all = snapshot.nodes();
        if all.is_empty() {
            return (None, Status::error("no nodes available"));
        }
        // Only nodes rejected as Unschedulable; no status at all means unresolvable.
        let potential: Vec<Arc<NodeInfo>> = all
            .iter()
            .filter(|n| {
                diagnosis
                    .status_of(n.name())
                    .is_some_and(|s| s.code == Code::Unschedulable)
            })
            .cloned()
            .collect();
        let (candidates, statuses, errors) = if potential.is_empty() {
            (Vec::new(), HashMap::new(), Vec::new())
        } else {
            let pdbs = (self.pdb_lister)();
            let offset = self.offset_for(pod, potential.len());
            let num = self.calculate_num_candidates(potential.len());
            self.dry_run_preemption(state, pod, &potential, &pdbs, offset, num, framework)
        };
        if candidates.is_empty() {
            if !errors.is_empty() {
                return (None, Status::error(aggregate(errors)));
            }
            // Upstream's FitError over the dry run's statuses, the rest "not helpful".
            let fit_error = Diagnosis {
                node_statuses: statuses,
                pre_filter_status: Some(Status::unresolvable(NOT_HELPFUL)),
                num_nodes: all.len(),
                ..Diagnosis::default()
            };
            return (None, Status::unschedulable(fit_error.message()));
        }
        match pick_one_node_for_preemption(&candidates).and_then(|i| candidates.into_iter().nth(i))
        {
            Some(best) => (
                Some(PostFilterResult {
                    nominated_node: best.node,
                    victims: best.victims,
                }),
                Status::success(),
            ),
            None => (
                None,
                Status::unschedulable("no candidate node for preemption"),
            ),
        }
    }
}

/// Upstream `utilerrors.NewAggregate(errs).Error()`: duplicates dropped, one message as is,
/// several in brackets.
fn aggregate(errors: Vec<String>) -> String {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<String> = errors
        .into_iter()
        .filter(|e| seen.insert(e.clone()))
        .collect();
    match unique.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Upstream (with async preemption, on by default) registers an assigned pod's deletion,
    /// with a hint that always skips: the plugins whose rejection preemption resolves decide
    /// when the pod is retried. This plugin never rejects a pod by itself.
    fn events(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::ASSIGNED_POD_DELETE]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.post_filter.push(self);
    }
}

impl PostFilterPlugin for DefaultPreemption {
    /// Upstream `DefaultPreemption.PostFilter`: any message gets the `preemption: ` prefix.
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        diagnosis: &Diagnosis,
        framework: &Framework,
    ) -> (Option<PostFilterResult>, Status) {
        let (result, status) = self.preempt(state, pod, snapshot, diagnosis, framework);
        let message = status.message();
        if message.is_empty() {
            return (result, status);
        }
        (
            result,
            Status::new(status.code, format!("preemption: {message}")).with_plugin(NAME),
        )
    }
}

#[cfg(test)]
#[path = "default_preemption_tests/mod.rs"]
mod tests;

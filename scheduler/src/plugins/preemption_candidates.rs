//! The per-node and per-candidate parts of preemption that [`super::default_preemption`]
//! builds on: the victims to evict on one node, which of them would violate a
//! PodDisruptionBudget, the order victims are reprieved in, and which candidate node to
//! nominate.
//!
//! Upstream: `pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go`
//! (`SelectVictimsOnNode`, `filterPodsWithPDBViolation`, `podTerminatingByPreemption`),
//! `pkg/scheduler/util/utils.go` (`MoreImportantPod`,
//! `GetPodStartTime`, `GetEarliestPodStartTime`) and
//! `pkg/scheduler/framework/preemption/preemption.go` (`pickOneNodeForPreemption`).

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use ultrak8s_controllers::Selector;

use crate::framework::types::pod_priority;
use crate::framework::{CycleState, Framework, NodeInfo, PodInfo, Status};

const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// A node the preemptor fits on once `victims` are gone (upstream `preemption.Candidate`
/// with its `extenderv1.Victims`).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub node: String,
    /// Most important first (highest priority, then earliest start).
    pub victims: Vec<Arc<PodInfo>>,
    /// How many victims cannot be evicted without going below a PDB's allowed disruptions.
    pub num_pdb_violations: i64,
}

/// A pod's start time in nanoseconds since the epoch, for ordering only. Upstream
/// `GetPodStartTime` uses `time.Now()` for a pod without `status.startTime` (assumed or not yet
/// started): we use `i128::MAX`, which orders the same way (later than every real start) and
/// keeps this pure and deterministic.
pub fn pod_start_nanos(pod: &Pod) -> i128 {
    pod.status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map_or(i128::MAX, |t| t.0.as_nanosecond())
}

/// Whether `a` is more important than `b`: higher priority, then the one that started
/// earlier (upstream `util.MoreImportantPod`). As an [`Ordering`] for sorting most important
/// first.
pub fn more_important_first(a: &PodInfo, b: &PodInfo) -> Ordering {
    pod_priority(&b.pod)
        .cmp(&pod_priority(&a.pod))
        .then_with(|| pod_start_nanos(&a.pod).cmp(&pod_start_nanos(&b.pod)))
}

/// Splits `pods` (order kept) into those whose eviction would violate a PDB and the others
/// (upstream `filterPodsWithPDBViolation`). Each PDB starts with `status.disruptionsAllowed`;
/// every matching pod (same namespace, selector matches its labels) that the PDB does not
/// already list in `status.disruptedPods` uses one up, and a pod that takes any PDB below
/// zero is violating. A PDB with no, an empty or an invalid selector matches nothing; a pod
/// without labels matches no PDB.
pub fn filter_pods_with_pdb_violation(
    pods: &[Arc<PodInfo>],
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    // Parsed once: (namespace, selector, disruptions still allowed, disrupted pod names).
    let mut budgets: Vec<(&str, Option<Selector>, i64, &PodDisruptionBudget)> = pdbs
        .iter()
        .map(|pdb| {
            let selector = pdb
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(Selector::parse)
                .filter(|s| !s.is_everything());
            let allowed = pdb
                .status
                .as_ref()
                .map_or(0, |s| i64::from(s.disruptions_allowed));
            (
                pdb.metadata.namespace.as_deref().unwrap_or_default(),
                selector,
                allowed,
                &**pdb,
            )
        })
        .collect();
    let mut violating = Vec::new();
    let mut non_violating = Vec::new();
    for info in pods {
        let labels = info.pod.metadata.labels.as_ref();
        let mut violated = false;
        if labels.is_some_and(|l| !l.is_empty()) {
            for (namespace, selector, allowed, pdb) in &mut budgets {
                if *namespace != info.namespace() {
                    continue;
                }
                let Some(selector) = selector else { continue };
                if !selector.matches(labels) {
                    continue;
                }
                // Already processed by the API server's eviction: not counted again.
                let disrupted = pdb
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .is_some_and(|d| d.contains_key(info.name()));
                if disrupted {
                    continue;
                }
                *allowed -= 1;
                if *allowed < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(Arc::clone(info));
        } else {
            non_violating.push(Arc::clone(info));
        }
    }
    (violating, non_violating)
}

/// The highest priority among the victims (upstream reads `Pods[0]`, which is the same as
/// victims are sorted most important first).
fn highest_priority(c: &Candidate) -> i64 {
    c.victims
        .iter()
        .map(|p| i64::from(p.priority()))
        .max()
        .unwrap_or(i64::MIN)
}

/// The earliest start time among the victims of the highest priority (upstream
/// `GetEarliestPodStartTime`).
fn earliest_start_of_highest(c: &Candidate) -> i128 {
    let top = highest_priority(c);
    c.victims
        .iter()
        .filter(|p| i64::from(p.priority()) == top)
        .map(|p| pod_start_nanos(&p.pod))
        .min()
        .unwrap_or(i128::MIN)
}

/// Picks the candidate to nominate (upstream `pickOneNodeForPreemption` with no custom score
/// functions): each criterion in turn keeps only the best-scoring candidates, until one is
/// left:
/// 1. fewest PDB violations;
/// 2. lowest highest-victim priority;
/// 3. smallest sum of victim priorities (each shifted by 2^31 so that more negative-priority
///    victims never look better than fewer);
/// 4. fewest victims;
/// 5. latest earliest start time among the highest-priority victims;
/// 6. the first remaining. Upstream's "first" is a Go map order (random); ours is the order
///    of `candidates` (non-violating first, then in evaluation order), so it is deterministic.
///
/// `None` only for no candidates.
pub fn pick_one_node_for_preemption(candidates: &[Candidate]) -> Option<usize> {
    let scores: [&dyn Fn(&Candidate) -> i128; 5] = [
        &|c| -i128::from(c.num_pdb_violations),
        &|c| -i128::from(highest_priority(c)),
        &|c| {
            -c.victims
                .iter()
                .map(|p| i128::from(p.priority()) + (1i128 << 31))
                .sum::<i128>()
        },
        &|c| -(c.victims.len() as i128),
        &earliest_start_of_highest,
    ];
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for score in scores {
        if remaining.len() <= 1 {
            break;
        }
        let scored: Vec<(usize, i128)> = remaining
            .iter()
            .map(|&i| (i, score(&candidates[i])))
            .collect();
        let best = scored.iter().map(|&(_, s)| s).max().unwrap_or(i128::MIN);
        remaining = scored
            .into_iter()
            .filter(|&(_, s)| s == best)
            .map(|(i, _)| i)
            .collect();
    }
    remaining.first().copied()
}

/// The fewest, least important pods to evict from `node` (a copy) so that `pod` fits
/// (upstream `SelectVictimsOnNode`), with the number of them whose eviction violates a
/// PDB. `state` is a copy of the cycle state: PreFilter extensions update it as pods
/// are removed and re-added.
///
/// All lower-priority pods are removed; if the pod still does not fit, the node is no
/// candidate (the filter's status is returned). Otherwise they are put back one by one,
/// most important first, PDB-violating ones before the others, and each that leaves the
/// pod unable to fit is a victim.
pub fn select_victims_on_node(
    state: &mut CycleState,
    pod: &PodInfo,
    node: &mut NodeInfo,
    pdbs: &[Arc<PodDisruptionBudget>],
    framework: &Framework,
) -> (Vec<Arc<PodInfo>>, i64, Status) {
    let priority = pod.priority();
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority() < priority)
        .cloned()
        .collect();
    for victim in &potential {
        if let Err(status) = remove_pod(state, pod, victim, node, framework) {
            return (Vec::new(), 0, status);
        }
    }
    if potential.is_empty() {
        return (Vec::new(), 0, Status::unresolvable(NO_VICTIMS));
    }
    // The pod affinity of the preemptor to a victim is not considered, as upstream.
    let status = framework.run_filters(state, pod, node);
    if !status.is_success() {
        return (Vec::new(), 0, status);
    }
    potential.sort_by(|a, b| more_important_first(a, b));
    let (violating, non_violating) = filter_pods_with_pdb_violation(&potential, pdbs);
    let mut victims = Vec::new();
    let mut num_violating = 0;
    for (group, is_violating) in [(&violating, true), (&non_violating, false)] {
        for p in group {
            let added = Arc::clone(p);
            node.add_pod(Arc::clone(&added));
            let status = framework.run_pre_filter_add_pod(state, pod, &added, node);
            if !status.is_success() {
                return (Vec::new(), 0, extension_error("AddPod", &status));
            }
            if !framework.run_filters(state, pod, node).is_success() {
                if let Err(status) = remove_pod(state, pod, &added, node, framework) {
                    return (Vec::new(), 0, status);
                }
                victims.push(added);
                if is_violating {
                    num_violating += 1;
                }
            }
        }
    }
    if !violating.is_empty() && !non_violating.is_empty() {
        victims.sort_by(|a, b| more_important_first(a, b));
    }
    (victims, num_violating, Status::success())
}

/// Removes `victim` from the node copy and tells the PreFilter extensions.
fn remove_pod(
    state: &mut CycleState,
    pod: &PodInfo,
    victim: &Arc<PodInfo>,
    node: &mut NodeInfo,
    framework: &Framework,
) -> Result<(), Status> {
    node.remove_pod(&victim.uid);
    let status = framework.run_pre_filter_remove_pod(state, pod, victim, node);
    if status.is_success() {
        Ok(())
    } else {
        Err(extension_error("RemovePod", &status))
    }
}

/// Upstream's framework wraps a failing PreFilter extension as an error:
/// `running RemovePod on PreFilter plugin "x": <message>`.
fn extension_error(what: &str, status: &Status) -> Status {
    Status::error(format!(
        "running {what} on PreFilter plugin {:?}: {}",
        status.plugin,
        status.message()
    ))
}

/// Whether the pod is being deleted because the scheduler preempted it (upstream
/// `podTerminatingByPreemption`): a deletion timestamp and a `DisruptionTarget=True`
/// condition with reason `PreemptionByScheduler`. Pods terminating for other reasons do
/// not hold the preemptor back.
pub fn pod_terminating_by_preemption(pod: &Pod) -> bool {
    if pod.metadata.deletion_timestamp.is_none() {
        return false;
    }
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget")
        .is_some_and(|c| c.status == "True" && c.reason.as_deref() == Some("PreemptionByScheduler"))
}

#[cfg(test)]
#[path = "preemption_candidates_tests.rs"]
mod tests;

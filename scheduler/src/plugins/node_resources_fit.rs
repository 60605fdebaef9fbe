//! NodeResourcesFit (upstream `pkg/scheduler/framework/plugins/noderesources/fit.go`,
//! `resource_allocation.go`, `least_allocated.go`, `most_allocated.go`,
//! `requested_to_capacity_ratio.go` and `plugins/helper/shape_score.go`, v1.35).
//!
//! Filter: whether the node has room for the pod's requests (CPU, memory, ephemeral
//! storage, the pod count, and every extended/scalar resource such as `nvidia.com/gpu` or
//! `aws.amazon.com/neuroncore`). Score: one of three strategies over a weighted resource list.
//!
//! The pod's requests (containers, init containers incl. sidecars, pod-level requests and
//! overhead) are computed once by [`PodInfo::new`]; PreFilter copies them into the cycle
//! state, Filter only compares. Scoring uses the requests with the per-container defaults for
//! unset CPU/memory (`non_zero_*`), as upstream's `NonMissingContainerRequests`, so that
//! best-effort pods still spread.
//!
//! Deliberately left out (say so before relying on it): DRA-backed extended resources
//! (`DRAExtendedResource` gate: every scalar resource here is checked against node
//! allocatable), `SignPod`, and queueing hints (events are registered without hint
//! functions). The pre-1.28 "SidecarContainers disabled" rejection is gone (the gate is GA).

use std::collections::HashSet;
use std::sync::Arc;

use super::super::framework::Code;
use super::super::framework::types::is_scalar_resource;
use super::super::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeInfo,
    Plugin, PodInfo, Points, PreFilterPlugin, PreFilterResult, PreScorePlugin, Resource,
    ScorePlugin, Snapshot, Status,
};

/// Upstream `names.NodeResourcesFit`.
pub const NAME: &str = "NodeResourcesFit";

/// The highest score a RequestedToCapacityRatio shape point may give (upstream
/// `config.MaxCustomPriorityScore`); scaled to [`MAX_NODE_SCORE`] when the plugin is built.
pub const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;
/// Utilization is expressed in percent (upstream `maxUtilization`).
const MAX_UTILIZATION: i64 = 100;

/// A resource the score looks at and its weight (upstream `config.ResourceSpec`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceSpec {
    pub name: String,
    pub weight: i64,
}

impl ResourceSpec {
    pub fn new(name: &str, weight: i64) -> ResourceSpec {
        ResourceSpec {
            name: name.to_owned(),
            weight,
        }
    }
}

/// `cpu: 1, memory: 1`: the default resource list of NodeResourcesFit and of
/// NodeResourcesBalancedAllocation (upstream `defaultResourceSpec`).
pub fn default_resources() -> Vec<ResourceSpec> {
    vec![ResourceSpec::new("cpu", 1), ResourceSpec::new("memory", 1)]
}

/// One point of the RequestedToCapacityRatio shape: at `utilization` percent (0..=100) the
/// score is `score` (0..=10) (upstream `config.UtilizationShapePoint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtilizationShapePoint {
    pub utilization: i64,
    pub score: i64,
}

/// How nodes are scored (upstream `config.ScoringStrategyType`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ScoringStrategy {
    /// Prefer nodes with the most room left (spreading). The default.
    #[default]
    LeastAllocated,
    /// Prefer the fullest nodes (bin packing).
    MostAllocated,
    /// A piecewise-linear function of utilization, given by its points in increasing
    /// utilization order.
    RequestedToCapacityRatio { shape: Vec<UtilizationShapePoint> },
}

/// Upstream `config.NodeResourcesFitArgs`. [`Default`] is upstream's default:
/// no ignored resources, LeastAllocated over `cpu: 1, memory: 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeResourcesFitArgs {
    /// Extended resources Filter does not check (e.g. ones another component manages).
    pub ignored_resources: Vec<String>,
    /// Extended resource domains Filter does not check: `example.com` ignores
    /// `example.com/foo` and `example.com/bar`.
    pub ignored_resource_groups: Vec<String>,
    pub scoring_strategy: ScoringStrategy,
    /// The resources scored, with weights (extended resources allowed).
    pub resources: Vec<ResourceSpec>,
}

impl Default for NodeResourcesFitArgs {
    fn default() -> Self {
        NodeResourcesFitArgs {
            ignored_resources: Vec::new(),
            ignored_resource_groups: Vec::new(),
            scoring_strategy: ScoringStrategy::LeastAllocated,
            resources: default_resources(),
        }
    }
}

/// Why the pod does not fit a node, per resource (upstream `InsufficientResource`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsufficientResource {
    pub resource_name: String,
    /// `Insufficient cpu`, `Too many pods`, `Insufficient nvidia.com/gpu`.
    pub reason: String,
    pub requested: i64,
    pub used: i64,
    pub capacity: i64,
    /// The pod asks for more than the whole node has: preempting pods cannot help.
    pub unresolvable: bool,
}

/// The pod's requests, written by PreFilter (upstream `preFilterState`).
#[derive(Clone, Debug)]
struct PreFilterState(Resource);

/// The pod's request per scored resource, in `resources` order (upstream `preScoreState`).
#[derive(Clone, Debug)]
struct PreScoreState(Vec<i64>);

const PRE_SCORE_KEY: &str = "PreScoreNodeResourcesFit";

pub struct NodeResourcesFit {
    ignored_resources: HashSet<String>,
    ignored_resource_groups: HashSet<String>,
    strategy: ScoringStrategy,
    resources: Vec<ResourceSpec>,
    /// The RequestedToCapacityRatio shape with scores scaled to `0..=MAX_NODE_SCORE`.
    shape: Vec<UtilizationShapePoint>,
}

impl Default for NodeResourcesFit {
    /// Upstream's default profile: [`NodeResourcesFitArgs::default`].
    fn default() -> Self {
        NodeResourcesFit {
            ignored_resources: HashSet::new(),
            ignored_resource_groups: HashSet::new(),
            strategy: ScoringStrategy::LeastAllocated,
            resources: default_resources(),
            shape: Vec::new(),
        }
    }
}

impl NodeResourcesFit {
    /// Builds the plugin from validated args (upstream `NewFit` +
    /// `ValidateNodeResourcesFitArgs`); `Err` carries the validation message. Use
    /// `NodeResourcesFit::new(NodeResourcesFitArgs::default())` for upstream's default.
    pub fn new(args: NodeResourcesFitArgs) -> Result<NodeResourcesFit, String> {
        validate_args(&args)?;
        let shape = match &args.scoring_strategy {
            ScoringStrategy::RequestedToCapacityRatio { shape } => shape
                .iter()
                .map(|p| UtilizationShapePoint {
                    utilization: p.utilization,
                    score: p.score * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE),
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(NodeResourcesFit {
            ignored_resources: args.ignored_resources.into_iter().collect(),
            ignored_resource_groups: args.ignored_resource_groups.into_iter().collect(),
            strategy: args.scoring_strategy,
            resources: args.resources,
            shape,
        })
    }

    fn node_score(&self, requested: &[i64], allocatable: &[i64]) -> i64 {
        match &self.strategy {
            ScoringStrategy::LeastAllocated => weighted_floor(
                &self.resources,
                requested,
                allocatable,
                least_requested_score,
            ),
            ScoringStrategy::MostAllocated => weighted_floor(
                &self.resources,
                requested,
                allocatable,
                most_requested_score,
            ),
            ScoringStrategy::RequestedToCapacityRatio { .. } => {
                requested_to_capacity_ratio(&self.shape, &self.resources, requested, allocatable)
            }
        }
    }
}

/// Upstream `validateResources` / `ValidateNodeResourcesFitArgs`.
fn validate_args(args: &NodeResourcesFitArgs) -> Result<(), String> {
    for group in &args.ignored_resource_groups {
        if group.contains('/') {
            return Err(format!(
                "ignoredResourceGroups: {group:?}: resource group name can't contain '/'"
            ));
        }
    }
    validate_resources(&args.resources, 1, 100)?;
    if let ScoringStrategy::RequestedToCapacityRatio { shape } = &args.scoring_strategy {
        if shape.is_empty() {
            return Err("scoringStrategy.requestedToCapacityRatio.shape: at least one point must be specified".into());
        }
        for (i, p) in shape.iter().enumerate() {
            if !(0..=MAX_UTILIZATION).contains(&p.utilization) {
                return Err(format!(
                    "shape[{i}].utilization: not in valid range [0, 100]"
                ));
            }
            if !(0..=MAX_CUSTOM_PRIORITY_SCORE).contains(&p.score) {
                return Err(format!("shape[{i}].score: not in valid range [0, 10]"));
            }
            if i > 0 && p.utilization <= shape[i - 1].utilization {
                return Err(format!(
                    "shape[{i}].utilization: values must be sorted in increasing order"
                ));
            }
        }
    }
    Ok(())
}

/// Weights in `min..=max`, no resource twice.
pub(crate) fn validate_resources(
    resources: &[ResourceSpec],
    min: i64,
    max: i64,
) -> Result<(), String> {
    let mut seen = HashSet::new();
    for (i, r) in resources.iter().enumerate() {
        if !(min..=max).contains(&r.weight) {
            return Err(format!(
                "resources[{i}].weight: {} not in valid range [{min}, {max}]",
                r.weight
            ));
        }
        if !seen.insert(r.name.as_str()) {
            return Err(format!(
                "resources[{i}].name: duplicate resource {}",
                r.name
            ));
        }
    }
    Ok(())
}

/// Whether `node` has room for `pod`, ignoring nothing (upstream `Fits`): what preemption
/// uses to see whether removing victims makes the pod fit. Empty: it fits.
pub fn fits_request(pod: &PodInfo, node: &NodeInfo) -> Vec<InsufficientResource> {
    fits(&pod.requests, node, &HashSet::new(), &HashSet::new())
}

/// Upstream `fitsRequest`: the pod count always; every requested resource against
/// `allocatable - requested`. Scalar resources are checked in name order (upstream iterates
/// a map, so its order is random).
fn fits(
    request: &Resource,
    node: &NodeInfo,
    ignored: &HashSet<String>,
    ignored_groups: &HashSet<String>,
) -> Vec<InsufficientResource> {
    let mut out = Vec::new();
    let pods = i64::try_from(node.pods.len()).unwrap_or(i64::MAX);
    let allowed = node.allocatable.allowed_pod_number;
    if pods.saturating_add(1) > allowed {
        out.push(InsufficientResource {
            resource_name: "pods".into(),
            reason: "Too many pods".into(),
            requested: 1,
            used: pods,
            capacity: allowed,
            unresolvable: false,
        });
    }
    if request.milli_cpu == 0
        && request.memory == 0
        && request.ephemeral_storage == 0
        && request.scalar.is_empty()
    {
        return out;
    }
    let (alloc, used) = (&node.allocatable, &node.requested);
    let mut check = |name: &str, want: i64, have: i64, taken: i64, reason: Option<&str>| {
        if want > 0 && want > have.saturating_sub(taken) {
            out.push(InsufficientResource {
                resource_name: name.to_owned(),
                reason: reason.map_or_else(|| format!("Insufficient {name}"), str::to_owned),
                requested: want,
                used: taken,
                capacity: have,
                unresolvable: want > have,
            });
        }
    };
    check(
        "cpu",
        request.milli_cpu,
        alloc.milli_cpu,
        used.milli_cpu,
        Some("Insufficient cpu"),
    );
    check(
        "memory",
        request.memory,
        alloc.memory,
        used.memory,
        Some("Insufficient memory"),
    );
    check(
        "ephemeral-storage",
        request.ephemeral_storage,
        alloc.ephemeral_storage,
        used.ephemeral_storage,
        Some("Insufficient ephemeral-storage"),
    );
    for (name, &want) in &request.scalar {
        if want == 0 {
            continue;
        }
        if super::super::framework::types::is_extended_resource(name) {
            let group = name.split('/').next().unwrap_or_default();
            if ignored.contains(name) || ignored_groups.contains(group) {
                continue;
            }
        }
        check(name, want, alloc.scalar(name), used.scalar(name), None);
    }
    out
}

/// The pod's request for one scored resource (upstream `calculatePodResourceRequest`):
/// with `non_zero`, CPU and memory count the defaults for containers that set none.
pub(crate) fn pod_request(pod: &PodInfo, name: &str, non_zero: bool) -> i64 {
    match name {
        "cpu" if non_zero => pod.non_zero_milli_cpu,
        "cpu" => pod.requests.milli_cpu,
        "memory" if non_zero => pod.non_zero_memory,
        "memory" => pod.requests.memory,
        "ephemeral-storage" => pod.requests.ephemeral_storage,
        other => pod.requests.scalar(other),
    }
}

/// (allocatable, requested on the node including this pod) for one resource, `(0, 0)` when
/// the resource is not scored on this node (upstream `calculateResourceAllocatableRequest`):
/// an extended resource the pod does not ask for, or one the node does not have.
/// `non_zero`: CPU/memory already on the node count with the defaults too.
pub(crate) fn allocatable_requested(
    node: &NodeInfo,
    name: &str,
    pod: i64,
    non_zero: bool,
) -> (i64, i64) {
    if pod == 0 && is_scalar_resource(name) {
        return (0, 0);
    }
    let requested = if non_zero {
        &node.non_zero_requested
    } else {
        &node.requested
    };
    let alloc = &node.allocatable;
    match name {
        "cpu" => (alloc.milli_cpu, requested.milli_cpu.saturating_add(pod)),
        "memory" => (alloc.memory, requested.memory.saturating_add(pod)),
        "ephemeral-storage" => (
            alloc.ephemeral_storage,
            node.requested.ephemeral_storage.saturating_add(pod),
        ),
        other => match alloc.scalar.get(other) {
            Some(&a) => (a, node.requested.scalar(other).saturating_add(pod)),
            None => (0, 0),
        },
    }
}

/// The requested/allocatable vectors over `resources` (upstream
/// `resourceAllocationScorer.score`): entries of resources not scored on the node stay 0.
pub(crate) fn node_vectors(
    resources: &[ResourceSpec],
    pod_requests: &[i64],
    node: &NodeInfo,
    non_zero: bool,
) -> (Vec<i64>, Vec<i64>) {
    let mut requested = vec![0; resources.len()];
    let mut allocatable = vec![0; resources.len()];
    for (i, r) in resources.iter().enumerate() {
        let pod = pod_requests.get(i).copied().unwrap_or(0);
        let (a, req) = allocatable_requested(node, &r.name, pod, non_zero);
        if a == 0 {
            continue;
        }
        allocatable[i] = a;
        requested[i] = req;
    }
    (requested, allocatable)
}

/// Weighted mean, rounded down, of `per_resource` over the resources the node has
/// (upstream `leastResourceScorer` / `mostResourceScorer`).
fn weighted_floor(
    resources: &[ResourceSpec],
    requested: &[i64],
    allocatable: &[i64],
    per_resource: fn(i64, i64) -> i64,
) -> i64 {
    let (mut score, mut weights) = (0i64, 0i64);
    for (i, r) in resources.iter().enumerate() {
        let (req, cap) = (
            requested.get(i).copied().unwrap_or(0),
            allocatable.get(i).copied().unwrap_or(0),
        );
        if cap == 0 {
            continue;
        }
        score = score.saturating_add(per_resource(req, cap).saturating_mul(r.weight));
        weights = weights.saturating_add(r.weight);
    }
    if weights == 0 { 0 } else { score / weights }
}

/// `requested * max / capacity` without overflow, with requested clamped to `0..=capacity`.
fn scaled(requested: i64, capacity: i64, max: i64) -> i64 {
    if capacity <= 0 || requested <= 0 {
        return 0;
    }
    if requested >= capacity {
        return max;
    }
    let v = i128::from(requested) * i128::from(max) / i128::from(capacity);
    i64::try_from(v).unwrap_or(max)
}

/// Room left, 0..=100 (upstream `leastRequestedScore`: `(capacity - requested) * 100 /
/// capacity`, rounded down); over capacity scores 0.
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    let room = i128::from(capacity) - i128::from(requested);
    i64::try_from(room * i128::from(MAX_NODE_SCORE) / i128::from(capacity))
        .unwrap_or(0)
        .clamp(0, MAX_NODE_SCORE)
}

/// Share used, 0..=100 (upstream `mostRequestedScore`): over capacity counts as full, as
/// best-effort pods get default requests.
fn most_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    scaled(requested.min(capacity), capacity, MAX_NODE_SCORE)
}

/// The piecewise-linear function through `shape` at `p` (upstream
/// `helper.BuildBrokenLinearFunction`): flat before the first and after the last point.
pub(crate) fn broken_linear(shape: &[UtilizationShapePoint], p: i64) -> i64 {
    for (i, point) in shape.iter().enumerate() {
        if p <= point.utilization {
            let Some(prev) = i.checked_sub(1).and_then(|j| shape.get(j)) else {
                return point.score;
            };
            let span = point.utilization - prev.utilization;
            if span == 0 {
                return point.score;
            }
            return prev.score + (point.score - prev.score) * (p - prev.utilization) / span;
        }
    }
    shape.last().map_or(0, |p| p.score)
}

/// Upstream `buildRequestedToCapacityRatioScorerFunction`: each resource scored by the shape
/// at its utilization percent (over capacity counts as 100%), resources scoring 0 left out
/// of the mean, the mean rounded to nearest.
fn requested_to_capacity_ratio(
    shape: &[UtilizationShapePoint],
    resources: &[ResourceSpec],
    requested: &[i64],
    allocatable: &[i64],
) -> i64 {
    let (mut score, mut weights) = (0i64, 0i64);
    for (i, r) in resources.iter().enumerate() {
        let (req, cap) = (
            requested.get(i).copied().unwrap_or(0),
            allocatable.get(i).copied().unwrap_or(0),
        );
        if cap == 0 {
            continue;
        }
        let utilization = if req > cap {
            MAX_UTILIZATION
        } else {
            scaled(req, cap, MAX_UTILIZATION)
        };
        let s = broken_linear(shape, utilization);
        if s > 0 {
            score = score.saturating_add(s.saturating_mul(r.weight));
            weights = weights.saturating_add(r.weight);
        }
    }
    if weights == 0 {
        0
    } else {
        (score as f64 / weights as f64).round() as i64
    }
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Upstream `EventsToRegister` with InPlacePodVerticalScaling and SchedulingQueueHint on
    /// (both default in v1.35): an assigned pod deleted or scaled down frees room; a node
    /// added or its allocatable changed adds room.
    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::new(
                EventResource::AssignedPod,
                ActionType::DELETE.or(ActionType::UPDATE_POD_SCALE_DOWN),
                "AssignedPodDeleteOrScaleDown",
            ),
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD.or(ActionType::UPDATE_NODE_ALLOCATABLE),
                "NodeAddOrAllocatableUpdate",
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

impl PreFilterPlugin for NodeResourcesFit {
    /// Keeps the pod's requests for Filter; never skips (the pod count is always checked).
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (PreFilterResult, Status) {
        state.write(NAME, PreFilterState(pod.requests.clone()));
        (None, Status::success())
    }
}

impl FilterPlugin for NodeResourcesFit {
    /// Unschedulable with every insufficient resource as a reason; UnschedulableAndUnresolvable
    /// when some request exceeds the node's whole allocatable (upstream `Filter`).
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(PreFilterState(request)) = state.read::<PreFilterState>(NAME) else {
            return Status::error(format!(
                "error reading {:?} from cycleState",
                format!("PreFilter{NAME}")
            ));
        };
        let insufficient = fits(
            request,
            node,
            &self.ignored_resources,
            &self.ignored_resource_groups,
        );
        if insufficient.is_empty() {
            return Status::success();
        }
        let code = if insufficient.iter().any(|r| r.unresolvable) {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        };
        Status {
            code,
            reasons: insufficient.into_iter().map(|r| r.reason).collect(),
            plugin: NAME,
        }
    }
}

impl PreScorePlugin for NodeResourcesFit {
    /// The pod's (non-zero) request per scored resource, once per cycle.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
        _: &Snapshot,
    ) -> Status {
        let requests = self
            .resources
            .iter()
            .map(|r| pod_request(pod, &r.name, true))
            .collect();
        state.write(PRE_SCORE_KEY, PreScoreState(requests));
        Status::success()
    }
}

impl ScorePlugin for NodeResourcesFit {
    /// The strategy's score, already in `0..=MAX_NODE_SCORE` (no normalize, as upstream).
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        if self.resources.is_empty() {
            return (0, Status::error("resources not found"));
        }
        let computed;
        let requests = match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(PreScoreState(r)) => r,
            None => {
                computed = self
                    .resources
                    .iter()
                    .map(|r| pod_request(pod, &r.name, true))
                    .collect::<Vec<_>>();
                &computed
            }
        };
        let (requested, allocatable) = node_vectors(&self.resources, requests, node, true);
        (self.node_score(&requested, &allocatable), Status::success())
    }
}

#[cfg(test)]
#[path = "node_resources_fit_tests/mod.rs"]
mod tests;

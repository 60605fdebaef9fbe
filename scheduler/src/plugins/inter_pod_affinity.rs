//! InterPodAffinity: places a pod relative to the pods already running, by topology domain
//! (a `topologyKey` and the value the node has for that label). Mirrors upstream
//! `pkg/scheduler/framework/plugins/interpodaffinity` (`plugin.go`, `filtering.go`,
//! `scoring.go`) of v1.35.
//!
//! - Filter (required terms): the node's domain must hold a pod matching *all* of the pod's
//!   required affinity terms (unless the pod is the first of a group that selects itself), no
//!   pod matching any of its required anti-affinity terms, and no existing pod whose required
//!   anti-affinity selects the incoming pod.
//! - Score (preferred terms, both directions): the incoming pod's preferred (anti-)affinity
//!   toward existing pods, and existing pods' preferred terms (and, weighted by
//!   `hardPodAffinityWeight`, required affinity terms) toward the incoming pod.
//!
//! Cost: PreFilter and PreScore count once per pod into maps keyed by topology key and value;
//! Filter and Score then only look the node's labels up in them, O(the pod's terms / the
//! topology keys involved) per node. Existing pods' terms are read only from the snapshot's
//! `with_required_anti_affinity()` / `with_affinity()` nodes; every pod of every node is
//! walked only when the incoming pod itself has required terms (PreFilter) or preferred terms
//! (PreScore), as upstream, and then in parallel and skipping nodes that lack all the terms'
//! topology keys.
//!
//! Differences from upstream:
//! - Label *values* in selectors are not validated here (the API server rejects such pods);
//!   structurally invalid selectors (unknown operator, `In` without values...) make PreFilter
//!   answer UnschedulableAndUnresolvable (`parsing pod: ...`) and PreScore Error, as
//!   upstream's `NewPodInfo` failure does.
//! - The state lives under the keys `PreFilterInterPodAffinity` / `PreScoreInterPodAffinity`
//!   (upstream's keys), since one plugin keeps two kinds of state.
//! - No queueing hints: `events()` lists upstream's registered events only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm};
use rayon::prelude::*;
use ultrak8s_controllers::Selector;

use crate::framework::types::{AffinityTerm, WeightedAffinityTerm};
use crate::framework::{
    ActionType, ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeInfo,
    NodeScore, Plugin, PodInfo, Points, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    ScorePlugin, Snapshot, Status,
};

/// An existing pod's required anti-affinity selects the incoming pod in this node's domain
/// (upstream `ErrReasonExistingAntiAffinityRulesNotMatch`). Unschedulable: preempting that
/// pod helps.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// No pod in the node's domain matches the pod's required affinity (upstream
/// `ErrReasonAffinityRulesNotMatch`). Unresolvable: removing pods cannot add one.
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// A pod in the node's domain matches the pod's required anti-affinity (upstream
/// `ErrReasonAntiAffinityRulesNotMatch`).
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't match pod anti-affinity rules";

const PRE_FILTER_KEY: &str = "PreFilterInterPodAffinity";
const PRE_SCORE_KEY: &str = "PreScoreInterPodAffinity";

/// At least this many nodes per parallel task: below it, splitting costs more than counting.
const MIN_NODES_PER_TASK: usize = 256;

/// Upstream `InterPodAffinityArgs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterPodAffinityArgs {
    /// Score weight of an existing pod's *required* affinity term that the incoming pod
    /// matches (the "symmetric" weight). Upstream default 1, valid 0..=100 (clamped here).
    pub hard_pod_affinity_weight: i32,
    /// Ignore existing pods' preferred terms when the incoming pod has no preferred terms
    /// of its own (PreScore then skips). Upstream default false.
    pub ignore_preferred_terms_of_existing_pods: bool,
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false,
        }
    }
}

/// The plugin (upstream `InterPodAffinity`).
#[derive(Debug, Default)]
pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
}

impl InterPodAffinity {
    pub const NAME: &'static str = "InterPodAffinity";

    /// `InterPodAffinityArgs::default()` is upstream's default profile (weight 1, existing
    /// pods' preferred terms considered). A weight outside 0..=100 (which upstream's
    /// validation rejects) is clamped.
    pub fn new(args: InterPodAffinityArgs) -> InterPodAffinity {
        InterPodAffinity {
            args: InterPodAffinityArgs {
                hard_pod_affinity_weight: args.hard_pod_affinity_weight.clamp(0, 100),
                ..args
            },
        }
    }
}

/// Numbers per topology domain: topology key → the node label's value → number. Nested so
/// that Filter and Score look a node up with its borrowed label strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct TopologyMap(HashMap<String, HashMap<String, i64>>);

impl TopologyMap {
    /// Adds `delta` to the domain of `key` that a node with `labels` is in (nothing when
    /// the node lacks the label). Counts (`drop_zero`) forget domains that fall to zero, as
    /// upstream's `topologyToMatchedTermCount.update`; scores keep them (upstream `scoreMap`).
    fn add(&mut self, labels: &BTreeMap<String, String>, key: &str, delta: i64, drop_zero: bool) {
        if let Some(value) = labels.get(key) {
            self.add_value(key, value, delta, drop_zero);
        }
    }

    fn add_value(&mut self, key: &str, value: &str, delta: i64, drop_zero: bool) {
        if !self.0.contains_key(key) {
            self.0.insert(key.to_owned(), HashMap::new());
        }
        let Some(values) = self.0.get_mut(key) else {
            return;
        };
        let now = match values.get_mut(value) {
            Some(n) => {
                *n += delta;
                *n
            }
            None => {
                values.insert(value.to_owned(), delta);
                delta
            }
        };
        if drop_zero && now == 0 {
            values.remove(value);
            if values.is_empty() {
                self.0.remove(key);
            }
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|v| v.get(value))
            .copied()
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sums `other` in (upstream `merge` / `scoreMap.append`).
    fn merge(mut self, other: TopologyMap) -> TopologyMap {
        if self.0.len() < other.0.len() {
            return other.merge(self);
        }
        for (key, values) in other.0 {
            let mine = self.0.entry(key).or_default();
            for (value, n) in values {
                *mine.entry(value).or_default() += n;
            }
        }
        self
    }

    /// The sum over the domains a node with `labels` is in (upstream `Score`).
    fn sum_for(&self, labels: &BTreeMap<String, String>) -> i64 {
        self.0
            .iter()
            .filter_map(|(key, values)| labels.get(key).and_then(|v| values.get(v)))
            .sum()
    }

    /// Whether a node with `labels` is in a domain with a positive number.
    fn any_positive_for(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().any(|(key, values)| {
            labels
                .get(key)
                .and_then(|v| values.get(v))
                .is_some_and(|n| *n > 0)
        })
    }
}

/// What Filter needs (upstream `preFilterState`).
#[derive(Clone, Debug)]
struct PreFilterState {
    /// Existing pods' required anti-affinity terms that select the incoming pod.
    existing_anti_affinity_counts: TopologyMap,
    /// Existing pods matching *all* the incoming pod's required affinity terms (one count per
    /// term, in that term's domain).
    affinity_counts: TopologyMap,
    /// Existing pods matching each of the incoming pod's required anti-affinity terms.
    anti_affinity_counts: TopologyMap,
    /// The incoming pod's terms with namespace selectors resolved; shared by clones.
    terms: Arc<IncomingTerms>,
}

#[derive(Debug)]
struct IncomingTerms {
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
    /// The pod matches all its own required affinity terms (it may start its group).
    matches_own_affinity: bool,
    /// Labels of the incoming pod's namespace, for existing pods' namespace selectors.
    namespace_labels: Option<BTreeMap<String, String>>,
}

impl PreFilterState {
    /// `updated` runs (multiplier 1) or no longer runs (-1) on a node with `labels`
    /// (upstream `preFilterState.updateWithPod`).
    fn update_with_pod(
        &mut self,
        incoming: &Pod,
        updated: &PodInfo,
        labels: &BTreeMap<String, String>,
        multiplier: i64,
    ) {
        let ns = self.terms.namespace_labels.as_ref();
        for term in &updated.required_anti_affinity {
            if term.matches(incoming, ns) {
                self.existing_anti_affinity_counts.add(
                    labels,
                    &term.topology_key,
                    multiplier,
                    true,
                );
            }
        }
        if matches_all(&self.terms.required_affinity, &updated.pod) {
            for term in &self.terms.required_affinity {
                self.affinity_counts
                    .add(labels, &term.topology_key, multiplier, true);
            }
        }
        for term in &self.terms.required_anti_affinity {
            if term.matches(&updated.pod, None) {
                self.anti_affinity_counts
                    .add(labels, &term.topology_key, multiplier, true);
            }
        }
    }
}

/// What Score needs (upstream `preScoreState.topologyScore`).
#[derive(Debug)]
struct PreScoreState {
    scores: TopologyMap,
}

/// Whether `pod` matches every term; false for no terms (upstream
/// `podMatchesAllAffinityTerms`). The terms are the incoming pod's, with namespace selectors
/// already resolved, so no namespace labels are needed.
fn matches_all(terms: &[AffinityTerm], pod: &Pod) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, None))
}

/// The incoming pod's term with a non-empty namespace selector turned into the namespaces
/// it selects now (upstream `mergeAffinityTermNamespacesIfNotEmpty`), so that matching it
/// against existing pods needs no namespace lookup. An empty selector (every namespace) stays.
fn resolve_namespaces(term: &AffinityTerm, snapshot: &Snapshot) -> AffinityTerm {
    let mut term = term.clone();
    if let Some(selector) = term.namespace_selector.take() {
        if selector.is_everything() {
            term.namespace_selector = Some(selector);
        } else {
            for (name, labels) in snapshot.namespace_labels.iter() {
                if selector.matches(Some(labels)) && !term.namespaces.contains(name) {
                    term.namespaces.push(name.clone());
                }
            }
        }
    }
    term
}

/// The incoming pod's preferred terms, namespaces resolved, with weights times `sign`.
fn resolve_weighted<'a>(
    terms: &'a [WeightedAffinityTerm],
    sign: i64,
    snapshot: &'a Snapshot,
) -> impl Iterator<Item = (AffinityTerm, i64)> + 'a {
    terms.iter().map(move |t| {
        (
            resolve_namespaces(&t.term, snapshot),
            sign * i64::from(t.weight),
        )
    })
}

/// Which list has a term with a structurally invalid label or namespace selector, if any:
/// upstream's `NewPodInfo` fails for the pod then. Our parsed terms cannot tell an invalid
/// selector from an absent one, so the raw spec is checked.
fn invalid_terms(pod: &Pod) -> Option<&'static str> {
    let affinity = pod.spec.as_ref()?.affinity.as_ref()?;
    let bad = |t: &PodAffinityTerm| {
        t.label_selector
            .as_ref()
            .is_some_and(|s| Selector::parse(s).is_none())
            || t.namespace_selector
                .as_ref()
                .is_some_and(|s| Selector::parse(s).is_none())
    };
    if let Some(a) = &affinity.pod_affinity {
        if a.required_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .any(bad)
        {
            return Some("requiredAffinityTerms");
        }
        let preferred = a
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten();
        if preferred.map(|w| &w.pod_affinity_term).any(bad) {
            return Some("preferredAffinityTerms");
        }
    }
    if let Some(a) = &affinity.pod_anti_affinity {
        if a.required_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .any(bad)
        {
            return Some("requiredAntiAffinityTerms");
        }
        let preferred = a
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten();
        if preferred.map(|w| &w.pod_affinity_term).any(bad) {
            return Some("preferredAntiAffinityTerms");
        }
    }
    None
}

fn node_labels(node: &NodeInfo) -> Option<&BTreeMap<String, String>> {
    node.node.metadata.labels.as_ref()
}

/// Existing pods' required anti-affinity terms that select `pod`, per domain, over the nodes
/// holding such pods (upstream `getExistingAntiAffinityCounts`).
fn existing_anti_affinity_counts(
    pod: &Pod,
    namespace_labels: Option<&BTreeMap<String, String>>,
    nodes: &[Arc<NodeInfo>],
) -> TopologyMap {
    nodes
        .par_iter()
        .with_min_len(MIN_NODES_PER_TASK)
        .fold(TopologyMap::default, |mut counts, node| {
            let Some(labels) = node_labels(node) else {
                return counts;
            };
            for existing in &node.pods_with_required_anti_affinity {
                for term in &existing.required_anti_affinity {
                    if labels.contains_key(&term.topology_key)
                        && term.matches(pod, namespace_labels)
                    {
                        counts.add(labels, &term.topology_key, 1, true);
                    }
                }
            }
            counts
        })
        .reduce(TopologyMap::default, TopologyMap::merge)
}

/// Existing pods matching the incoming pod's required affinity (all terms) and anti-affinity
/// (each term), per domain, over every node (upstream `getIncomingAffinityAntiAffinityCounts`).
/// A node lacking every term's topology key cannot count, so its pods are not looked at.
fn incoming_counts(
    affinity: &[AffinityTerm],
    anti_affinity: &[AffinityTerm],
    nodes: &[Arc<NodeInfo>],
) -> (TopologyMap, TopologyMap) {
    if affinity.is_empty() && anti_affinity.is_empty() {
        return (TopologyMap::default(), TopologyMap::default());
    }
    nodes
        .par_iter()
        .with_min_len(MIN_NODES_PER_TASK)
        .fold(
            || (TopologyMap::default(), TopologyMap::default()),
            |(mut aff, mut anti), node| {
                let Some(labels) = node_labels(node) else {
                    return (aff, anti);
                };
                let has_key = |t: &AffinityTerm| labels.contains_key(&t.topology_key);
                let affinity_applies = affinity.iter().any(has_key);
                let anti_applies = anti_affinity.iter().any(has_key);
                if !affinity_applies && !anti_applies {
                    return (aff, anti);
                }
                // Every pod here counts in the same domains: count matches per node first,
                // then touch the maps once per term.
                let mut matching_all = 0;
                let mut anti_matches = vec![0i64; anti_affinity.len()];
                for existing in &node.pods {
                    if affinity_applies && matches_all(affinity, &existing.pod) {
                        matching_all += 1;
                    }
                    if anti_applies {
                        for (term, n) in anti_affinity.iter().zip(anti_matches.iter_mut()) {
                            if has_key(term) && term.matches(&existing.pod, None) {
                                *n += 1;
                            }
                        }
                    }
                }
                if matching_all > 0 {
                    for term in affinity {
                        aff.add(labels, &term.topology_key, matching_all, true);
                    }
                }
                for (term, n) in anti_affinity.iter().zip(anti_matches) {
                    if n > 0 {
                        anti.add(labels, &term.topology_key, n, true);
                    }
                }
                (aff, anti)
            },
        )
        .reduce(
            || (TopologyMap::default(), TopologyMap::default()),
            |(a1, b1), (a2, b2)| (a1.merge(a2), b1.merge(b2)),
        )
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Upstream `EventsToRegister` (with queueing hints on, so no taint event): an assigned
    /// pod added (may satisfy affinity), deleted (may lift anti-affinity) or relabelled; a
    /// node added or relabelled (a new domain).
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
                ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
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

impl InterPodAffinity {
    fn update_state(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        updated: &PodInfo,
        node: &NodeInfo,
        multiplier: i64,
    ) -> Status {
        let Some(current) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(format!(
                "error reading {PRE_FILTER_KEY:?} from cycleState: not found"
            ));
        };
        let Some(labels) = node_labels(node) else {
            return Status::success();
        };
        let mut next = current.clone();
        next.update_with_pod(&pod.pod, updated, labels, multiplier);
        state.write(PRE_FILTER_KEY, next);
        Status::success()
    }
}

impl PreFilterPlugin for InterPodAffinity {
    /// Upstream `PreFilter`: Skip when the pod has no required terms and no existing pod's
    /// required anti-affinity selects it.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        if let Some(list) = invalid_terms(&pod.pod) {
            return (
                None,
                Status::unresolvable(format!("parsing pod: {list}: invalid label selector")),
            );
        }
        let namespace_labels = snapshot.labels_of_namespace(pod.namespace()).cloned();
        let existing = existing_anti_affinity_counts(
            &pod.pod,
            namespace_labels.as_ref(),
            snapshot.with_required_anti_affinity(),
        );
        if existing.is_empty()
            && pod.required_affinity.is_empty()
            && pod.required_anti_affinity.is_empty()
        {
            return (None, Status::skip());
        }
        let resolve = |terms: &[AffinityTerm]| {
            terms
                .iter()
                .map(|t| resolve_namespaces(t, snapshot))
                .collect::<Vec<_>>()
        };
        let required_affinity = resolve(&pod.required_affinity);
        let required_anti_affinity = resolve(&pod.required_anti_affinity);
        let (affinity_counts, anti_affinity_counts) = incoming_counts(
            &required_affinity,
            &required_anti_affinity,
            snapshot.nodes(),
        );
        let matches_own_affinity = matches_all(&required_affinity, &pod.pod);
        state.write(
            PRE_FILTER_KEY,
            PreFilterState {
                existing_anti_affinity_counts: existing,
                affinity_counts,
                anti_affinity_counts,
                terms: Arc::new(IncomingTerms {
                    required_affinity,
                    required_anti_affinity,
                    matches_own_affinity,
                    namespace_labels,
                }),
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
        self.update_state(state, pod, added, node, 1)
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        self.update_state(state, pod, removed, node, -1)
    }
}

/// Upstream `satisfyPodAffinity`: every term's topology key on the node, and a matching pod
/// in each term's domain; or, when no pod anywhere matches, the pod matches its own terms
/// (the first pod of a group that selects itself).
fn satisfies_pod_affinity(s: &PreFilterState, labels: Option<&BTreeMap<String, String>>) -> bool {
    let mut pods_exist = true;
    for term in &s.terms.required_affinity {
        let Some(value) = labels.and_then(|l| l.get(&term.topology_key)) else {
            return false;
        };
        if s.affinity_counts.get(&term.topology_key, value) <= 0 {
            pods_exist = false;
        }
    }
    pods_exist || (s.affinity_counts.is_empty() && s.terms.matches_own_affinity)
}

/// Upstream `satisfyPodAntiAffinity`.
fn satisfies_pod_anti_affinity(
    s: &PreFilterState,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    if s.anti_affinity_counts.is_empty() {
        return true;
    }
    !s.terms.required_anti_affinity.iter().any(|term| {
        labels
            .and_then(|l| l.get(&term.topology_key))
            .is_some_and(|value| s.anti_affinity_counts.get(&term.topology_key, value) > 0)
    })
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(format!(
                "error reading {PRE_FILTER_KEY:?} from cycleState: not found"
            ));
        };
        let labels = node_labels(node);
        if !satisfies_pod_affinity(s, labels) {
            return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        }
        if !satisfies_pod_anti_affinity(s, labels) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        if labels.is_some_and(|l| s.existing_anti_affinity_counts.any_positive_for(l)) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        Status::success()
    }
}

/// The incoming pod's side of scoring, shared by the parallel workers.
struct ScoreInputs<'a> {
    incoming: &'a Pod,
    namespace_labels: Option<&'a BTreeMap<String, String>>,
    /// The incoming pod's preferred terms with signed weights (anti-affinity negative).
    own_terms: Vec<(AffinityTerm, i64)>,
    hard_weight: i64,
}

impl ScoreInputs<'_> {
    /// Upstream `processExistingPod` over the pods of one node: the weights they add to the
    /// node's domains. The incoming pod's own terms land in the same domains for every pod
    /// of the node, so their matches are summed per node and added once per term.
    fn process_node(&self, node: &NodeInfo, pods: &[Arc<PodInfo>], out: &mut TopologyMap) {
        let Some(labels) = node_labels(node).filter(|l| !l.is_empty()) else {
            return;
        };
        let applicable: Vec<&(AffinityTerm, i64)> = self
            .own_terms
            .iter()
            .filter(|(t, _)| labels.contains_key(&t.topology_key))
            .collect();
        // `None`: no pod matched the term (upstream then makes no entry at all).
        let mut own: Vec<Option<i64>> = vec![None; applicable.len()];
        for existing in pods {
            for ((term, weight), sum) in applicable.iter().zip(own.iter_mut()) {
                if term.matches(&existing.pod, None) {
                    *sum = Some(sum.unwrap_or(0) + weight);
                }
            }
            if existing.has_affinity() {
                self.existing_terms(existing, labels, out);
            }
        }
        for ((term, _), sum) in applicable.iter().zip(own) {
            if let Some(sum) = sum {
                out.add(labels, &term.topology_key, sum, false);
            }
        }
    }

    /// `existing`'s own terms that select the incoming pod: required affinity (weighted by
    /// `hardPodAffinityWeight`), preferred affinity (+weight) and anti-affinity (-weight).
    fn existing_terms(
        &self,
        existing: &PodInfo,
        labels: &BTreeMap<String, String>,
        out: &mut TopologyMap,
    ) {
        let mut add = |term: &AffinityTerm, weight: i64| {
            if term.matches(self.incoming, self.namespace_labels) {
                out.add(labels, &term.topology_key, weight, false);
            }
        };
        if self.hard_weight > 0 {
            for term in &existing.required_affinity {
                add(term, self.hard_weight);
            }
        }
        for t in &existing.preferred_affinity {
            add(&t.term, i64::from(t.weight));
        }
        for t in &existing.preferred_anti_affinity {
            add(&t.term, -i64::from(t.weight));
        }
    }
}

impl PreScorePlugin for InterPodAffinity {
    /// Upstream `PreScore`: sums every applicable term's weight per domain. Only the nodes
    /// with pods that have affinity terms are read unless the incoming pod has preferred
    /// terms. Skip when no term applies anywhere.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        if nodes.is_empty() {
            return Status::skip();
        }
        let has_constraints =
            !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if self.args.ignore_preferred_terms_of_existing_pods && !has_constraints {
            return Status::skip();
        }
        if let Some(list) = invalid_terms(&pod.pod) {
            return Status::error(format!(
                "failed to parse pod: {list}: invalid label selector"
            ));
        }
        let inputs = ScoreInputs {
            incoming: &pod.pod,
            namespace_labels: snapshot.labels_of_namespace(pod.namespace()),
            own_terms: resolve_weighted(&pod.preferred_affinity, 1, snapshot)
                .chain(resolve_weighted(&pod.preferred_anti_affinity, -1, snapshot))
                .collect(),
            hard_weight: i64::from(self.args.hard_pod_affinity_weight),
        };
        let candidates = if has_constraints {
            snapshot.nodes()
        } else {
            snapshot.with_affinity()
        };
        let scores = candidates
            .par_iter()
            .with_min_len(MIN_NODES_PER_TASK)
            .fold(TopologyMap::default, |mut scores, node| {
                let pods = if has_constraints {
                    &node.pods
                } else {
                    &node.pods_with_affinity
                };
                inputs.process_node(node, pods, &mut scores);
                scores
            })
            .reduce(TopologyMap::default, TopologyMap::merge);
        if scores.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE_KEY, PreScoreState { scores });
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return (
                0,
                Status::error(format!(
                    "error reading {PRE_SCORE_KEY:?} from cycleState: not found"
                )),
            );
        };
        let score = node_labels(node).map_or(0, |l| s.scores.sum_for(l));
        (score, Status::success())
    }

    /// Upstream `NormalizeScore`: linear from the lowest raw score (0) to the highest
    /// (`MAX_NODE_SCORE`); raw scores may be negative. All equal: all 0.
    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return Status::error(format!(
                "error reading {PRE_SCORE_KEY:?} from cycleState: not found"
            ));
        };
        if s.scores.is_empty() {
            return Status::success();
        }
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let diff = max.saturating_sub(min);
        for s in scores.iter_mut() {
            s.score = if diff > 0 {
                (MAX_NODE_SCORE as f64 * (s.score.saturating_sub(min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }
}

#[cfg(test)]
#[path = "inter_pod_affinity_tests/mod.rs"]
mod tests;

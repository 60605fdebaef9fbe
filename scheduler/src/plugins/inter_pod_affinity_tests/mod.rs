//! Tables after upstream `interpodaffinity/filtering_test.go` and `scoring_test.go`
//! (TestRequiredAffinitySingleNode, TestRequiredAffinityMultipleNodes,
//! TestPreFilterStateAddRemovePod, TestGetTPMapMatchingIncomingAffinityAntiAffinity,
//! TestPreferredAffinity, TestPreferredAffinityWithHardPodAffinitySymmetricWeight), plus our
//! own checks of events, missing state, preemption updates and a large cluster.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Node, Pod, PodAffinityTerm, PodSpec, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};

use super::*;
use crate::framework::{Code, CycleState, NodeInfo, PodInfo, Snapshot, Status};

// ---------------------------------------------------------------------------------------
// Builders (after upstream's `st.MakePod()`).

fn label_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: key.to_owned(),
        operator: op.to_owned(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).to_owned()).collect()),
    }
}

/// A term selecting pods by `exprs` (ANDed) in the domain of `topology`.
fn term(exprs: Vec<LabelSelectorRequirement>, topology: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(exprs),
            match_labels: None,
        }),
        topology_key: topology.to_owned(),
        ..Default::default()
    }
}

fn term_in(key: &str, topology: &str, values: &[&str]) -> PodAffinityTerm {
    term(vec![expr(key, "In", values)], topology)
}

fn term_not_in(key: &str, topology: &str, values: &[&str]) -> PodAffinityTerm {
    term(vec![expr(key, "NotIn", values)], topology)
}

fn term_exists(key: &str, topology: &str) -> PodAffinityTerm {
    term(vec![expr(key, "Exists", &[])], topology)
}

fn with_namespaces(mut t: PodAffinityTerm, namespaces: &[&str]) -> PodAffinityTerm {
    t.namespaces = Some(namespaces.iter().map(|n| (*n).to_owned()).collect());
    t
}

fn with_ns_selector(
    mut t: PodAffinityTerm,
    exprs: Vec<LabelSelectorRequirement>,
) -> PodAffinityTerm {
    t.namespace_selector = Some(LabelSelector {
        match_expressions: (!exprs.is_empty()).then_some(exprs),
        match_labels: None,
    });
    t
}

fn team1_selector() -> Vec<LabelSelectorRequirement> {
    vec![expr("team", "In", &["team1"])]
}

#[derive(Default)]
struct MakePod {
    pod: Pod,
}

fn make_pod() -> MakePod {
    MakePod::default()
}

impl MakePod {
    fn spec(&mut self) -> &mut PodSpec {
        self.pod.spec.get_or_insert_with(Default::default)
    }

    fn affinity(&mut self) -> &mut Affinity {
        self.spec().affinity.get_or_insert_with(Default::default)
    }

    fn name(mut self, name: &str) -> Self {
        self.pod.metadata.name = Some(name.to_owned());
        self.pod.metadata.uid = Some(format!("uid-{name}"));
        self
    }

    fn namespace(mut self, namespace: &str) -> Self {
        self.pod.metadata.namespace = Some(namespace.to_owned());
        self
    }

    fn node(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.to_owned());
        self
    }

    fn labels(mut self, pairs: &[(&str, &str)]) -> Self {
        let labels = self
            .pod
            .metadata
            .labels
            .get_or_insert_with(Default::default);
        labels.extend(label_map(pairs));
        self
    }

    fn affinity_term(mut self, t: PodAffinityTerm) -> Self {
        let a = self
            .affinity()
            .pod_affinity
            .get_or_insert_with(Default::default);
        a.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }

    fn anti_affinity_term(mut self, t: PodAffinityTerm) -> Self {
        let a = self
            .affinity()
            .pod_anti_affinity
            .get_or_insert_with(Default::default);
        a.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }

    fn preferred_affinity(mut self, weight: i32, t: PodAffinityTerm) -> Self {
        let a = self
            .affinity()
            .pod_affinity
            .get_or_insert_with(Default::default);
        a.preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: t,
            });
        self
    }

    fn preferred_anti_affinity(mut self, weight: i32, t: PodAffinityTerm) -> Self {
        let a = self
            .affinity()
            .pod_anti_affinity
            .get_or_insert_with(Default::default);
        a.preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: t,
            });
        self
    }

    fn obj(self) -> Pod {
        self.pod
    }
}

fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: (!labels.is_empty()).then(|| label_map(labels)),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Upstream's namespace fixtures (`scoring_test.go` `namespaces`, plus `NS1`).
fn namespaces() -> HashMap<String, BTreeMap<String, String>> {
    [
        ("subteam1.team1", "team1"),
        ("subteam2.team1", "team1"),
        ("subteam1.team2", "team2"),
        ("subteam2.team2", "team2"),
    ]
    .into_iter()
    .map(|(ns, team)| (ns.to_owned(), label_map(&[("team", team)])))
    .chain([("NS1".to_owned(), BTreeMap::new())])
    .collect()
}

/// Nodes with the pods bound to them (pods on nodes not listed are dropped).
fn snapshot(pods: &[Pod], nodes: &[Node]) -> Snapshot {
    let infos = nodes
        .iter()
        .map(|n| {
            let mut info = NodeInfo::new(Arc::new(n.clone()));
            for p in pods {
                let on = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
                if on.is_some() && on == n.metadata.name.as_deref() {
                    info.add_pod(Arc::new(PodInfo::new(Arc::new(p.clone()))));
                }
            }
            info
        })
        .collect();
    let mut snapshot = Snapshot::new(infos);
    snapshot.namespace_labels = Arc::new(namespaces());
    snapshot
}

fn info(pod: &Pod) -> PodInfo {
    PodInfo::new(Arc::new(pod.clone()))
}

fn plugin() -> InterPodAffinity {
    InterPodAffinity::new(InterPodAffinityArgs::default())
}

fn affinity_fail() -> Status {
    Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH)
}

fn anti_fail() -> Status {
    Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
}

fn existing_fail() -> Status {
    Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
}

fn ok() -> Status {
    Status::success()
}

/// PreFilter, then (when it succeeded) Filter on every node in order.
fn run_filters(pod: &Pod, pods: &[Pod], nodes: &[Node]) -> (Status, Vec<Status>) {
    let snapshot = snapshot(pods, nodes);
    let p = plugin();
    let pod = info(pod);
    let mut state = CycleState::default();
    let (result, status) = p.pre_filter(&mut state, &pod, &snapshot);
    assert!(result.is_none());
    if !status.is_success() {
        return (status, Vec::new());
    }
    let statuses = nodes
        .iter()
        .map(|n| {
            let name = n.metadata.name.as_deref().unwrap_or_default();
            let node = snapshot.get(name).expect("node in snapshot");
            p.filter(&state, &pod, node)
        })
        .collect();
    (status, statuses)
}

/// Normalized scores per node, or PreScore's code when it did not succeed.
type WantScores = Result<Vec<i64>, Code>;

mod filtering;
mod pre_filter_state;
mod scoring;

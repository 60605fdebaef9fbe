//! Tables after upstream `podtopologyspread/filtering_test.go` (`TestPreFilterState`,
//! `TestSingleConstraint`, `TestMultipleConstraints`, `TestPreFilterStateAddPod`,
//! `TestPreFilterStateRemovePod`) and `scoring_test.go` (`TestPodTopologySpreadScore`).

#![allow(clippy::type_complexity)] // table rows are tuples

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity as NodeAffinitySpec, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, NodeSpec, PodSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

use super::*;
use crate::framework::Code;

const HOST: &str = LABEL_HOSTNAME;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A selector with `Exists` on `key` (upstream's `fooSelector` / `barSelector`).
fn exists(key: &str) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: key.to_owned(),
            operator: "Exists".into(),
            values: None,
        }]),
        match_labels: None,
    })
}

#[derive(Clone, Default)]
struct Spread {
    max_skew: i32,
    key: &'static str,
    action: &'static str,
    selector: Option<LabelSelector>,
    min_domains: Option<i32>,
    affinity_policy: Option<&'static str>,
    taints_policy: Option<&'static str>,
    match_label_keys: Option<Vec<String>>,
}

fn hard(max_skew: i32, key: &'static str, selector: Option<LabelSelector>) -> Spread {
    Spread {
        max_skew,
        key,
        action: DO_NOT_SCHEDULE,
        selector,
        ..Spread::default()
    }
}

fn soft(max_skew: i32, key: &'static str, selector: Option<LabelSelector>) -> Spread {
    Spread {
        action: SCHEDULE_ANYWAY,
        ..hard(max_skew, key, selector)
    }
}

/// The incoming pod.
#[derive(Default)]
struct Incoming {
    labels: &'static [(&'static str, &'static str)],
    spreads: Vec<Spread>,
    node_selector: Option<&'static [(&'static str, &'static str)]>,
    affinity: Option<NodeSelectorRequirement>,
    tolerations: Vec<Toleration>,
}

impl Incoming {
    fn build(self) -> PodInfo {
        let constraints = self
            .spreads
            .into_iter()
            .map(|s| TopologySpreadConstraint {
                max_skew: s.max_skew,
                topology_key: s.key.to_owned(),
                when_unsatisfiable: s.action.to_owned(),
                label_selector: s.selector,
                min_domains: s.min_domains,
                node_affinity_policy: s.affinity_policy.map(str::to_owned),
                node_taints_policy: s.taints_policy.map(str::to_owned),
                match_label_keys: s.match_label_keys,
            })
            .collect::<Vec<_>>();
        let affinity = self.affinity.map(|r| Affinity {
            node_affinity: Some(NodeAffinitySpec {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![r]),
                        match_fields: None,
                    }],
                }),
                ..NodeAffinitySpec::default()
            }),
            ..Affinity::default()
        });
        PodInfo::new(Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("default".into()),
                labels: Some(labels(self.labels)),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                topology_spread_constraints: (!constraints.is_empty()).then_some(constraints),
                node_selector: self.node_selector.map(labels),
                affinity,
                tolerations: (!self.tolerations.is_empty()).then_some(self.tolerations),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }))
    }
}

/// An existing pod: name, node, namespace, labels, terminating.
fn existing(
    name: &str,
    node: &str,
    namespace: &str,
    pairs: &[(&str, &str)],
    terminating: bool,
) -> Arc<PodInfo> {
    Arc::new(PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            uid: Some(format!("uid-{name}")),
            labels: Some(labels(pairs)),
            deletion_timestamp: terminating.then(|| Time(Default::default())),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.to_owned()),
            ..PodSpec::default()
        }),
        ..Pod::default()
    })))
}

/// `name@node` pods with label `foo` in the default namespace.
fn foo_pods(spec: &[(&str, &str)]) -> Vec<Arc<PodInfo>> {
    spec.iter()
        .map(|(name, node)| existing(name, node, "default", &[("foo", "")], false))
        .collect()
}

fn node(name: &str, pairs: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels(pairs)),
            ..ObjectMeta::default()
        },
        ..Node::default()
    }
}

fn tainted(mut n: Node) -> Node {
    n.spec = Some(NodeSpec {
        taints: Some(vec![Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            value: None,
            effect: "NoSchedule".into(),
            time_added: None,
        }]),
        ..NodeSpec::default()
    });
    n
}

/// Four nodes over two zones (upstream's node-a, node-b in zone1, node-x, node-y in zone2),
/// labelled `zone` and `node`.
fn four_nodes() -> Vec<Node> {
    [
        ("node-a", "zone1"),
        ("node-b", "zone1"),
        ("node-x", "zone2"),
        ("node-y", "zone2"),
    ]
    .iter()
    .map(|(n, z)| node(n, &[("zone", z), ("node", n)]))
    .collect()
}

fn snapshot(nodes: Vec<Node>, pods: &[Arc<PodInfo>]) -> Snapshot {
    let infos = nodes
        .into_iter()
        .map(|n| {
            let mut info = NodeInfo::new(Arc::new(n));
            for p in pods {
                if p.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(info.name()) {
                    info.add_pod(Arc::clone(p));
                }
            }
            info
        })
        .collect();
    Snapshot::new(infos)
}

fn plugin() -> PodTopologySpread {
    PodTopologySpread::with_default_constraints(Vec::new(), Arc::new(|_: &Pod| None))
}

fn counts(state: &CycleState) -> Vec<BTreeMap<String, i64>> {
    let s = state
        .read::<PreFilterState>(PRE_FILTER_KEY)
        .expect("PreFilter state");
    s.tp_value_to_match_num
        .iter()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .collect()
}

fn minimums(state: &CycleState) -> Vec<i64> {
    let s = state
        .read::<PreFilterState>(PRE_FILTER_KEY)
        .expect("PreFilter state");
    s.critical_paths.iter().map(|p| p.0[0].1).collect()
}

fn tp(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

mod filtering;
mod scoring;

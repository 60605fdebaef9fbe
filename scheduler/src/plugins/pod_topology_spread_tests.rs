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

#[test]
fn pre_filter_state_table() {
    let five = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-y1", "node-y"),
            ("p-y2", "node-y"),
        ])
    };
    let seven = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-y1", "node-y"),
            ("p-y2", "node-y"),
            ("p-y3", "node-y"),
            ("p-y4", "node-y"),
        ])
    };
    let bar_selector = Some(LabelSelector {
        match_labels: Some(labels(&[("foo", "bar")])),
        match_expressions: None,
    });
    let three_zones = || {
        let mut n = four_nodes();
        n.push(node("node-o", &[("zone", "zone3"), ("node", "node-o")]));
        n.push(node("node-p", &[("zone", "zone3"), ("node", "node-p")]));
        n
    };
    let ns_mixed = || {
        vec![
            existing("p-a1", "node-a", "default", &[("foo", "")], false),
            existing("p-a2", "node-a", "ns1", &[("foo", "")], false),
            existing("p-b1", "node-b", "default", &[("foo", "")], false),
            existing("p-y1", "node-y", "ns2", &[("foo", "")], false),
            existing("p-y2", "node-y", "default", &[("foo", "")], false),
        ]
    };
    // (name, incoming pod, nodes, existing pods, want counts per constraint, want minimum per constraint)
    let cases: Vec<(
        &str,
        Incoming,
        Vec<Node>,
        Vec<Arc<PodInfo>>,
        Vec<BTreeMap<String, i64>>,
        Vec<i64>,
    )> = vec![
        (
            "clean cluster",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(5, "zone", bar_selector)],
                ..Incoming::default()
            },
            four_nodes(),
            vec![],
            vec![tp(&[("zone1", 0), ("zone2", 0)])],
            vec![0],
        ),
        (
            "one constraint",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2)])],
            vec![2],
        ),
        (
            "null selector counts nothing",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", None)],
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 0), ("zone2", 0)])],
            vec![0],
        ),
        (
            "empty selector counts nothing",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", Some(LabelSelector::default()))],
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 0), ("zone2", 0)])],
            vec![0],
        ),
        (
            "three zones",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            three_zones(),
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2), ("zone3", 0)])],
            vec![0],
        ),
        (
            "other namespaces do not count",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            four_nodes(),
            ns_mixed(),
            vec![tp(&[("zone1", 2), ("zone2", 1)])],
            vec![1],
        ),
        (
            "two constraints",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![
                    hard(1, "zone", exists("foo")),
                    hard(1, "node", exists("foo")),
                ],
                ..Incoming::default()
            },
            four_nodes(),
            seven(),
            vec![
                tp(&[("zone1", 3), ("zone2", 4)]),
                tp(&[("node-a", 2), ("node-b", 1), ("node-x", 0), ("node-y", 4)]),
            ],
            vec![3, 0],
        ),
        (
            "soft constraints are bypassed",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![
                    soft(1, "zone", exists("foo")),
                    hard(1, "zone", exists("foo")),
                    soft(1, "node", exists("foo")),
                    hard(1, "node", exists("foo")),
                ],
                ..Incoming::default()
            },
            four_nodes()
                .into_iter()
                .filter(|n| n.metadata.name.as_deref() != Some("node-x"))
                .collect(),
            seven(),
            vec![
                tp(&[("zone1", 3), ("zone2", 4)]),
                tp(&[("node-a", 2), ("node-b", 1), ("node-y", 4)]),
            ],
            vec![3, 1],
        ),
        (
            "nodes without every key are skipped",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![
                    hard(1, "zone", exists("foo")),
                    hard(1, "node", exists("foo")),
                ],
                ..Incoming::default()
            },
            vec![
                node("node-a", &[("zone", "zone1"), ("node", "node-a")]),
                node("node-b", &[("zon", "zone1"), ("node", "node-b")]),
                node("node-x", &[("zone", "zone2"), ("node", "node-x")]),
                node("node-y", &[("zone", "zone2"), ("node", "node-y")]),
            ],
            seven(),
            vec![
                tp(&[("zone1", 2), ("zone2", 4)]),
                tp(&[("node-a", 2), ("node-x", 0), ("node-y", 4)]),
            ],
            vec![2, 0],
        ),
        (
            "node affinity honored: excluded nodes do not count",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                affinity: Some(NodeSelectorRequirement {
                    key: "node".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["node-a".into()]),
                }),
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 1), ("zone2", 2)])],
            vec![1],
        ),
        (
            "node affinity ignored: every node counts",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    affinity_policy: Some("Ignore"),
                    ..hard(1, "zone", exists("foo"))
                }],
                affinity: Some(NodeSelectorRequirement {
                    key: "node".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["node-a".into()]),
                }),
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2)])],
            vec![2],
        ),
        (
            "node taints honored: tainted nodes do not count",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    taints_policy: Some("Honor"),
                    ..hard(1, "zone", exists("foo"))
                }],
                ..Incoming::default()
            },
            {
                let mut n = four_nodes();
                n[3] = tainted(n[3].clone());
                n
            },
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 0)])],
            vec![0],
        ),
        (
            "node taints honored but tolerated",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    taints_policy: Some("Honor"),
                    ..hard(1, "zone", exists("foo"))
                }],
                tolerations: vec![Toleration {
                    key: Some("node.kubernetes.io/unschedulable".into()),
                    operator: Some("Exists".into()),
                    ..Toleration::default()
                }],
                ..Incoming::default()
            },
            {
                let mut n = four_nodes();
                n[3] = tainted(n[3].clone());
                n
            },
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2)])],
            vec![2],
        ),
        (
            "node taints ignored by default",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            {
                let mut n = four_nodes();
                n[3] = tainted(n[3].clone());
                n
            },
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2)])],
            vec![2],
        ),
        (
            "matchLabelKeys narrow the selector to the pod's value",
            Incoming {
                labels: &[("foo", ""), ("version", "v1")],
                spreads: vec![Spread {
                    match_label_keys: Some(vec!["version".into(), "absent".into()]),
                    ..hard(1, "zone", exists("foo"))
                }],
                ..Incoming::default()
            },
            four_nodes(),
            vec![
                existing(
                    "p-a1",
                    "node-a",
                    "default",
                    &[("foo", ""), ("version", "v1")],
                    false,
                ),
                existing(
                    "p-a2",
                    "node-a",
                    "default",
                    &[("foo", ""), ("version", "v2")],
                    false,
                ),
                existing(
                    "p-y1",
                    "node-y",
                    "default",
                    &[("foo", ""), ("version", "v1")],
                    false,
                ),
            ],
            vec![tp(&[("zone1", 1), ("zone2", 1)])],
            vec![1],
        ),
        (
            "terminating pods do not count",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                ..Incoming::default()
            },
            vec![
                node("node-a", &[("node", "node-a")]),
                node("node-b", &[("node", "node-b")]),
            ],
            vec![
                existing("p-a", "node-a", "default", &[("foo", "")], true),
                existing("p-b", "node-b", "default", &[("foo", "")], false),
            ],
            vec![tp(&[("node-a", 0), ("node-b", 1)])],
            vec![0],
        ),
    ];
    for (name, incoming, nodes, pods, want_counts, want_min) in cases {
        let snap = snapshot(nodes, &pods);
        let mut state = CycleState::default();
        let (result, status) = plugin().pre_filter(&mut state, &incoming.build(), &snap);
        assert!(
            status.is_success() && result.is_none(),
            "{name}: {status:?}"
        );
        assert_eq!(counts(&state), want_counts, "{name}");
        assert_eq!(minimums(&state), want_min, "{name}");
    }
}

#[test]
fn pre_filter_skips_and_errors() {
    let snap = snapshot(four_nodes(), &[]);
    let mut state = CycleState::default();
    // No constraints, no defaults: Skip.
    let (_, status) = plugin().pre_filter(&mut state, &Incoming::default().build(), &snap);
    assert!(status.is_skip());
    // Only soft constraints: Skip.
    let soft_only = Incoming {
        spreads: vec![soft(1, "zone", exists("foo"))],
        ..Incoming::default()
    };
    let (_, status) = plugin().pre_filter(&mut state, &soft_only.build(), &snap);
    assert!(status.is_skip());
    // An invalid selector is an error.
    let bad = Some(LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "foo".into(),
            operator: "In".into(),
            values: None,
        }]),
        match_labels: None,
    });
    let invalid = Incoming {
        spreads: vec![hard(1, "zone", bad)],
        ..Incoming::default()
    };
    let (_, status) = plugin().pre_filter(&mut state, &invalid.build(), &snap);
    assert_eq!(status.code, Code::Error);
    // Filter without PreFilter state is an error, not a panic.
    let info = NodeInfo::new(Arc::new(four_nodes().remove(0)));
    assert_eq!(
        plugin()
            .filter(&CycleState::default(), &Incoming::default().build(), &info)
            .code,
        Code::Error
    );
}

/// Runs PreFilter then Filter on every node; the codes per node, in node order.
fn filter_codes(incoming: Incoming, nodes: Vec<Node>, pods: &[Arc<PodInfo>]) -> Vec<Code> {
    let snap = snapshot(nodes, pods);
    let pod = incoming.build();
    let p = plugin();
    let mut state = CycleState::default();
    let (_, status) = p.pre_filter(&mut state, &pod, &snap);
    assert!(status.is_success(), "{status:?}");
    snap.nodes()
        .iter()
        .map(|n| p.filter(&state, &pod, n).code)
        .collect()
}

#[test]
fn single_constraint_filter_table() {
    use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as X};
    let foo = |max_skew, key| Incoming {
        labels: &[("foo", "")],
        spreads: vec![hard(max_skew, key, exists("foo"))],
        ..Incoming::default()
    };
    let spread_2103 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-y1", "node-y"),
            ("p-y2", "node-y"),
            ("p-y3", "node-y"),
        ])
    };
    let with_min = |max_skew, key, min| Incoming {
        labels: &[("foo", "")],
        spreads: vec![Spread {
            min_domains: Some(min),
            ..hard(max_skew, key, exists("foo"))
        }],
        ..Incoming::default()
    };
    let three_nodes = || {
        ["node-a", "node-b", "node-c"]
            .iter()
            .map(|n| node(n, &[("node", n)]))
            .collect::<Vec<_>>()
    };
    let spread_221 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-b2", "node-b"),
            ("p-c1", "node-c"),
        ])
    };
    let zone_21 = || foo_pods(&[("p-b1", "node-a"), ("p-b2", "node-b"), ("p-y1", "node-y")]);
    let policy_nodes = || {
        vec![
            node("node-a", &[("node", "node-a"), ("foo", "")]),
            node("node-b", &[("node", "node-b"), ("foo", "")]),
            node("node-x", &[("node", "node-x"), ("foo", "")]),
            tainted(node("node-y", &[("node", "node-y")])),
        ]
    };
    let policy_pods = || foo_pods(&[("p-b1", "node-a"), ("p-b2", "node-b"), ("p-y1", "node-y")]);
    let foo_exists = || NodeSelectorRequirement {
        key: "foo".into(),
        operator: "In".into(),
        values: Some(vec![String::new()]),
    };
    // (name, incoming pod, nodes, existing pods, want codes in node order)
    let cases: Vec<(&str, Incoming, Vec<Node>, Vec<Arc<PodInfo>>, Vec<Code>)> = vec![
        (
            "no existing pods",
            foo(1, "zone"),
            four_nodes(),
            vec![],
            vec![S, S, S, S],
        ),
        (
            "incoming pod does not match itself",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("bar"))],
                ..Incoming::default()
            },
            four_nodes(),
            vec![],
            vec![S, S, S, S],
        ),
        (
            "pods in other namespaces do not count",
            foo(1, "zone"),
            four_nodes(),
            vec![
                existing("p-a1", "node-a", "ns1", &[("foo", "")], false),
                existing("p-b1", "node-a", "ns2", &[("foo", "")], false),
                existing("p-x1", "node-x", "default", &[("foo", "")], false),
                existing("p-y1", "node-y", "default", &[("foo", "")], false),
            ],
            vec![S, S, U, U],
        ),
        (
            "existing pods do not match a null selector",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", None)],
                ..Incoming::default()
            },
            four_nodes(),
            foo_pods(&[("p-x1", "node-x"), ("p-y1", "node-y")]),
            vec![S, S, S, S],
        ),
        (
            "3/3 over zones: all fit",
            foo(1, "zone"),
            four_nodes(),
            spread_2103(),
            vec![S, S, S, S],
        ),
        (
            "1/2 over zones, node-b lacks the zone label",
            foo(1, "zone"),
            vec![
                node("node-a", &[("zone", "zone1"), ("node", "node-a")]),
                node("node-b", &[("zon", "zone1"), ("node", "node-b")]),
                node("node-x", &[("zone", "zone2"), ("node", "node-x")]),
                node("node-y", &[("zone", "zone2"), ("node", "node-y")]),
            ],
            foo_pods(&[
                ("p-a1", "node-a"),
                ("p-b1", "node-b"),
                ("p-x1", "node-x"),
                ("p-y1", "node-y"),
            ]),
            vec![S, X, U, U],
        ),
        (
            "no node has the rack label",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "rack", exists("foo"))],
                ..Incoming::default()
            },
            vec![
                node("node-a", &[("zone", "zone1")]),
                node("node-x", &[("zone", "zone2")]),
            ],
            vec![],
            vec![X, X],
        ),
        (
            "2/1/0/3 over nodes: only node-x fits",
            foo(1, "node"),
            four_nodes(),
            spread_2103(),
            vec![U, U, S, U],
        ),
        (
            "2/1/0/3, maxSkew 2: node-b and node-x fit",
            foo(2, "node"),
            four_nodes(),
            spread_2103(),
            vec![U, S, S, U],
        ),
        (
            "2/1/0/3, the pod does not match itself",
            Incoming {
                labels: &[("bar", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                ..Incoming::default()
            },
            four_nodes(),
            spread_2103(),
            vec![U, S, S, U],
        ),
        (
            "node affinity In: 2/~1~/~0~/3, node-a fits",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                affinity: Some(NodeSelectorRequirement {
                    key: "node".into(),
                    operator: "In".into(),
                    values: Some(vec!["node-a".into(), "node-y".into()]),
                }),
                ..Incoming::default()
            },
            four_nodes(),
            spread_2103(),
            vec![S, S, S, U],
        ),
        (
            "terminating pods are excluded",
            foo(1, "node"),
            vec![
                node("node-a", &[("node", "node-a")]),
                node("node-b", &[("node", "node-b")]),
            ],
            vec![
                existing("p-a", "node-a", "default", &[("foo", "")], true),
                existing("p-b", "node-b", "default", &[("foo", "")], false),
            ],
            vec![S, U],
        ),
        (
            "node affinity NotIn: 0/~2~/0/1, node-a fits",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                affinity: Some(NodeSelectorRequirement {
                    key: "node".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["node-b".into()]),
                }),
                ..Incoming::default()
            },
            four_nodes(),
            foo_pods(&[("p-b1", "node-b"), ("p-b2", "node-b"), ("p-y1", "node-y")]),
            vec![S, S, U, U],
        ),
        (
            "2/2/1, maxSkew 2, fewer domains than minDomains",
            with_min(2, "node", 4),
            three_nodes(),
            spread_221(),
            vec![U, U, S],
        ),
        (
            "2/2/1, maxSkew 2, more domains than minDomains",
            with_min(2, "node", 2),
            three_nodes(),
            spread_221(),
            vec![S, S, S],
        ),
        (
            "zones 2/1, maxSkew 2, fewer domains than minDomains",
            with_min(2, "zone", 3),
            four_nodes(),
            zone_21(),
            vec![U, U, S, S],
        ),
        (
            "zones 2/1, maxSkew 2, more domains than minDomains",
            with_min(2, "zone", 1),
            four_nodes(),
            zone_21(),
            vec![S, S, S, S],
        ),
        (
            "nodeAffinityPolicy Honor with nodeSelector",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                node_selector: Some(&[("foo", "")]),
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, S],
        ),
        (
            "nodeAffinityPolicy Ignore with nodeSelector",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    affinity_policy: Some("Ignore"),
                    ..hard(1, "node", exists("foo"))
                }],
                node_selector: Some(&[("foo", "")]),
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, U],
        ),
        (
            "nodeAffinityPolicy Honor with nodeAffinity",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                affinity: Some(foo_exists()),
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, S],
        ),
        (
            "nodeAffinityPolicy Ignore with nodeAffinity",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    affinity_policy: Some("Ignore"),
                    ..hard(1, "node", exists("foo"))
                }],
                affinity: Some(foo_exists()),
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, U],
        ),
        (
            "nodeTaintsPolicy Honor",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    taints_policy: Some("Honor"),
                    ..hard(1, "node", exists("foo"))
                }],
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, S],
        ),
        (
            "nodeTaintsPolicy Ignore (default)",
            foo(1, "node"),
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, U],
        ),
    ];
    for (name, incoming, nodes, pods, want) in cases {
        assert_eq!(filter_codes(incoming, nodes, &pods), want, "{name}");
    }
}

#[test]
fn multiple_constraints_filter_table() {
    use Code::{Success as S, Unschedulable as U};
    let both = |zone_selector, node_selector| Incoming {
        labels: &[("foo", ""), ("bar", "")],
        spreads: vec![
            hard(1, "zone", zone_selector),
            hard(1, "node", node_selector),
        ],
        ..Incoming::default()
    };
    // (name, incoming pod, existing pods, want codes for node-a, node-b, node-x, node-y)
    let cases: Vec<(&str, Incoming, Vec<Arc<PodInfo>>, Vec<Code>)> = vec![
        (
            "zone and node, spreads [3/3, 2/1/0/3]: node-x",
            both(exists("foo"), exists("foo")),
            foo_pods(&[
                ("p-a1", "node-a"),
                ("p-a2", "node-a"),
                ("p-b1", "node-b"),
                ("p-y1", "node-y"),
                ("p-y2", "node-y"),
                ("p-y3", "node-y"),
            ]),
            vec![U, U, S, U],
        ),
        (
            "zone and node, spreads [3/4, 2/1/0/4]: none",
            both(exists("foo"), exists("foo")),
            foo_pods(&[
                ("p-a1", "node-a"),
                ("p-a2", "node-a"),
                ("p-b1", "node-b"),
                ("p-y1", "node-y"),
                ("p-y2", "node-y"),
                ("p-y3", "node-y"),
                ("p-y4", "node-y"),
            ]),
            vec![U, U, U, U],
        ),
        (
            "different selectors, spreads [1/0, 0/0/0/1]: node-x",
            both(exists("foo"), exists("bar")),
            vec![
                existing("p-a1", "node-a", "default", &[("foo", "")], false),
                existing("p-y1", "node-y", "default", &[("bar", "")], false),
            ],
            vec![U, U, S, U],
        ),
        (
            "different selectors, spreads [1/0, 0/1/0/0]: node-x and node-y",
            both(exists("foo"), exists("bar")),
            vec![
                existing("p-a1", "node-a", "default", &[("foo", "")], false),
                existing("p-b1", "node-b", "default", &[("bar", "")], false),
            ],
            vec![U, U, S, S],
        ),
    ];
    for (name, incoming, pods, want) in cases {
        assert_eq!(filter_codes(incoming, four_nodes(), &pods), want, "{name}");
    }
}

#[test]
fn add_and_remove_pod_update_counts() {
    let incoming = || Incoming {
        labels: &[("foo", "")],
        spreads: vec![
            hard(1, "zone", exists("foo")),
            hard(1, "node", exists("foo")),
        ],
        ..Incoming::default()
    };
    let pods = foo_pods(&[("p-a1", "node-a"), ("p-b1", "node-b"), ("p-x1", "node-x")]);
    let snap = snapshot(four_nodes(), &pods);
    let pod = incoming().build();
    let p = plugin();
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &pod, &snap).1.is_success());
    assert_eq!(
        counts(&state),
        vec![
            tp(&[("zone1", 2), ("zone2", 1)]),
            tp(&[("node-a", 1), ("node-b", 1), ("node-x", 1), ("node-y", 0)])
        ]
    );
    assert_eq!(minimums(&state), vec![1, 0]);
    let before = state.clone();
    let node_x = snap.get("node-x").expect("node-x");
    let node_y = snap.get("node-y").expect("node-y");
    // Adding a matching pod on node-y raises zone2 and node-y.
    let added = existing("p-y1", "node-y", "default", &[("foo", "")], false);
    assert!(p.add_pod(&mut state, &pod, &added, node_y).is_success());
    assert_eq!(
        counts(&state),
        vec![
            tp(&[("zone1", 2), ("zone2", 2)]),
            tp(&[("node-a", 1), ("node-b", 1), ("node-x", 1), ("node-y", 1)])
        ]
    );
    assert_eq!(minimums(&state), vec![2, 1]);
    // The copy taken before is untouched (preemption simulates on copies).
    assert_eq!(counts(&before)[0], tp(&[("zone1", 2), ("zone2", 1)]));
    // Removing the pod on node-x lowers zone2 and node-x.
    assert!(
        p.remove_pod(&mut state, &pod, &pods[2], node_x)
            .is_success()
    );
    assert_eq!(
        counts(&state),
        vec![
            tp(&[("zone1", 2), ("zone2", 1)]),
            tp(&[("node-a", 1), ("node-b", 1), ("node-x", 0), ("node-y", 1)])
        ]
    );
    assert_eq!(minimums(&state), vec![1, 0]);
    // Pods of another namespace or not matching change nothing.
    let other_ns = existing("q", "node-y", "other", &[("foo", "")], false);
    let unmatched = existing("r", "node-y", "default", &[("bar", "")], false);
    let expected = counts(&state);
    assert!(p.add_pod(&mut state, &pod, &other_ns, node_y).is_success());
    assert!(p.add_pod(&mut state, &pod, &unmatched, node_y).is_success());
    assert_eq!(counts(&state), expected);
    // A node without every topology key changes nothing.
    let keyless = NodeInfo::new(Arc::new(node("node-z", &[("zone", "zone3")])));
    assert!(p.add_pod(&mut state, &pod, &added, &keyless).is_success());
    assert_eq!(counts(&state), expected);
    // Without PreFilter state: an error.
    assert_eq!(
        p.add_pod(&mut CycleState::default(), &pod, &added, node_y)
            .code,
        Code::Error
    );
}

#[test]
fn critical_paths_table() {
    // (updates, want [min, second])
    let cases: Vec<(Vec<(&str, i64)>, [(&str, i64); 2])> = vec![
        (vec![("a", 3), ("b", 1), ("c", 2)], [("b", 1), ("c", 2)]),
        (vec![("a", 1), ("b", 2), ("a", 5)], [("b", 2), ("a", 5)]),
        (vec![("a", 1), ("b", 2), ("b", 0)], [("b", 0), ("a", 1)]),
        (vec![("a", 0)], [("a", 0), ("", i64::from(i32::MAX))]),
    ];
    for (updates, want) in cases {
        let mut paths = CriticalPaths::new();
        for (v, n) in &updates {
            paths.update(v, *n);
        }
        let want = CriticalPaths([
            (want[0].0.to_owned(), want[0].1),
            (want[1].0.to_owned(), want[1].1),
        ]);
        assert_eq!(paths, want, "{updates:?}");
    }
}

/// PreScore over `feasible` (a subset of the snapshot's nodes, by name), then Score and
/// normalize; `None` when PreScore skips.
fn scores(
    p: &PodTopologySpread,
    incoming: Incoming,
    nodes: Vec<Node>,
    feasible: &[&str],
    pods: &[Arc<PodInfo>],
) -> Option<Vec<i64>> {
    let snap = snapshot(nodes, pods);
    let pod = incoming.build();
    let feasible: Vec<Arc<NodeInfo>> = feasible
        .iter()
        .map(|n| Arc::clone(snap.get(n).expect("node")))
        .collect();
    let mut state = CycleState::default();
    let status = p.pre_score(&mut state, &pod, &feasible, &snap);
    if status.is_skip() {
        return None;
    }
    assert!(status.is_success(), "{status:?}");
    let mut out = Vec::new();
    for (i, n) in feasible.iter().enumerate() {
        let (score, status) = p.score(&state, &pod, n);
        assert!(status.is_success(), "{status:?}");
        out.push(NodeScore { node: i, score });
    }
    assert!(p.normalize(&state, &pod, &mut out).is_success());
    Some(out.iter().map(|s| s.score).collect())
}

#[test]
fn score_table() {
    let hosts = |names: &[&str]| {
        names
            .iter()
            .map(|n| node(n, &[(HOST, n)]))
            .collect::<Vec<_>>()
    };
    let on_host = |max_skew| Incoming {
        labels: &[("foo", "")],
        spreads: vec![soft(max_skew, HOST, exists("foo"))],
        ..Incoming::default()
    };
    let spread_2103 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-d1", "node-d"),
            ("p-d2", "node-d"),
            ("p-d3", "node-d"),
        ])
    };
    let spread_4321 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-a3", "node-a"),
            ("p-a4", "node-a"),
            ("p-b1", "node-b"),
            ("p-b2", "node-b"),
            ("p-b3", "node-b"),
            ("p-c1", "node-c"),
            ("p-c2", "node-c"),
            ("p-d1", "node-d"),
        ])
    };
    let spread_4213 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-a3", "node-a"),
            ("p-a4", "node-a"),
            ("p-b1", "node-b"),
            ("p-b2", "node-b"),
            ("p-x1", "node-x"),
            ("p-y1", "node-y"),
            ("p-y2", "node-y"),
            ("p-y3", "node-y"),
        ])
    };
    let zoned = || {
        [
            ("node-a", "zone1"),
            ("node-b", "zone1"),
            ("node-x", "zone2"),
            ("node-y", "zone2"),
        ]
        .iter()
        .map(|(n, z)| node(n, &[("zone", z), (HOST, n)]))
        .collect::<Vec<_>>()
    };
    let abcd = ["node-a", "node-b", "node-c", "node-d"];
    // (name, incoming pod, nodes, feasible nodes, existing pods, want normalized scores)
    let cases: Vec<(
        &str,
        Incoming,
        Vec<Node>,
        Vec<&str>,
        Vec<Arc<PodInfo>>,
        Vec<i64>,
    )> = vec![
        (
            "no existing pods",
            on_host(1),
            hosts(&["node-a", "node-b"]),
            vec!["node-a", "node-b"],
            vec![],
            vec![100, 100],
        ),
        (
            "only one candidate",
            on_host(1),
            hosts(&["node-a", "node-b"]),
            vec!["node-a"],
            foo_pods(&[("p-a1", "node-a"), ("p-a2", "node-a"), ("p-b1", "node-b")]),
            vec![100],
        ),
        (
            "same number of matching pods",
            on_host(1),
            hosts(&["node-a", "node-b"]),
            vec!["node-a", "node-b"],
            foo_pods(&[("p-a1", "node-a"), ("p-b1", "node-b")]),
            vec![100, 100],
        ),
        (
            "2/1/0/3 on four candidates",
            on_host(1),
            hosts(&abcd),
            abcd.to_vec(),
            spread_2103(),
            vec![20, 60, 100, 0],
        ),
        (
            "null selector",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![soft(1, HOST, None)],
                ..Incoming::default()
            },
            hosts(&abcd),
            abcd.to_vec(),
            spread_2103(),
            vec![100, 100, 100, 100],
        ),
        (
            "2/1/0/3, maxSkew 2",
            on_host(2),
            hosts(&abcd),
            abcd.to_vec(),
            spread_2103(),
            vec![33, 66, 100, 16],
        ),
        (
            "4/3/2/1, maxSkew 3",
            on_host(3),
            hosts(&abcd),
            abcd.to_vec(),
            spread_4321(),
            vec![44, 66, 77, 100],
        ),
        (
            "4/2/1/~3~: three candidates",
            on_host(1),
            hosts(&["node-a", "node-b", "node-x", "node-y"]),
            vec!["node-a", "node-b", "node-x"],
            spread_4213(),
            vec![33, 83, 100],
        ),
        (
            "4/?2?/1/~3~: node-b lacks the key",
            on_host(1),
            vec![
                node("node-a", &[(HOST, "node-a")]),
                node("node-b", &[("n", "node-b")]),
                node("node-x", &[(HOST, "node-x")]),
                node("node-y", &[(HOST, "node-y")]),
            ],
            vec!["node-a", "node-b", "node-x"],
            spread_4213(),
            vec![16, 0, 100],
        ),
        (
            "zones 4/2/1/~3~",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![soft(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            zoned(),
            vec!["node-a", "node-b", "node-x"],
            spread_4213(),
            vec![75, 75, 100],
        ),
        (
            "zone and node, 2/~1~/2/~4~",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![soft(1, "zone", exists("foo")), soft(1, HOST, exists("foo"))],
                ..Incoming::default()
            },
            zoned(),
            vec!["node-a", "node-x"],
            foo_pods(&[
                ("p-a1", "node-a"),
                ("p-a2", "node-a"),
                ("p-b1", "node-b"),
                ("p-x1", "node-x"),
                ("p-x2", "node-x"),
                ("p-y1", "node-y"),
                ("p-y2", "node-y"),
                ("p-y3", "node-y"),
                ("p-y4", "node-y"),
            ]),
            vec![100, 63],
        ),
    ];
    for (name, incoming, nodes, feasible, pods, want) in cases {
        assert_eq!(
            scores(&plugin(), incoming, nodes, &feasible, &pods),
            Some(want),
            "{name}"
        );
    }
}

#[test]
fn system_default_constraints_table() {
    let hosts = |names: &[&str]| {
        names
            .iter()
            .map(|n| node(n, &[(HOST, n)]))
            .collect::<Vec<_>>()
    };
    let abcd = ["node-a", "node-b", "node-c", "node-d"];
    let pods = foo_pods(&[
        ("p-a1", "node-a"),
        ("p-a2", "node-a"),
        ("p-a3", "node-a"),
        ("p-a4", "node-a"),
        ("p-b1", "node-b"),
        ("p-b2", "node-b"),
        ("p-b3", "node-b"),
        ("p-c1", "node-c"),
        ("p-c2", "node-c"),
        ("p-d1", "node-d"),
    ]);
    // A "service" selecting `foo`, as the scheduler's closure would build it.
    let service = PodTopologySpread::new(Arc::new(|pod: &Pod| {
        pod.metadata
            .labels
            .as_ref()
            .filter(|l| l.contains_key("foo"))
            .and_then(|_| {
                Selector::parse(&LabelSelector {
                    match_labels: Some(labels(&[("foo", "")])),
                    match_expressions: None,
                })
            })
    }));
    let incoming = || Incoming {
        labels: &[("foo", "")],
        ..Incoming::default()
    };
    // Nodes without a zone still get hostname spreading (system defaulting): same scores as
    // one hostname constraint with maxSkew 3.
    assert_eq!(
        scores(&service, incoming(), hosts(&abcd), &abcd, &pods),
        Some(vec![44, 66, 77, 100])
    );
    // No owner selector: no default constraints.
    let none = PodTopologySpread::new(Arc::new(|_: &Pod| None));
    assert_eq!(scores(&none, incoming(), hosts(&abcd), &abcd, &pods), None);
    // An empty selector counts as none.
    let everything = PodTopologySpread::new(Arc::new(|_: &Pod| {
        Selector::parse(&LabelSelector::default())
    }));
    assert_eq!(
        scores(&everything, incoming(), hosts(&abcd), &abcd, &pods),
        None
    );
    // System defaults are all ScheduleAnyway: PreFilter skips.
    let snap = snapshot(hosts(&abcd), &pods);
    let (_, status) = service.pre_filter(&mut CycleState::default(), &incoming().build(), &snap);
    assert!(status.is_skip());
    // The pod's own constraints replace the defaults.
    let own = Incoming {
        labels: &[("foo", "")],
        spreads: vec![soft(1, HOST, exists("foo"))],
        ..Incoming::default()
    };
    assert_eq!(
        scores(&service, own, hosts(&abcd), &abcd, &pods),
        Some(vec![28, 57, 71, 100])
    );
    // List defaulting (hard default constraint): Filter uses it with the closure's selector.
    let listed = PodTopologySpread::with_default_constraints(
        vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: HOST.into(),
            when_unsatisfiable: DO_NOT_SCHEDULE.into(),
            ..TopologySpreadConstraint::default()
        }],
        Arc::new(|_: &Pod| {
            Selector::parse(&LabelSelector {
                match_labels: Some(labels(&[("foo", "")])),
                match_expressions: None,
            })
        }),
    );
    let pod = incoming().build();
    let mut state = CycleState::default();
    assert!(listed.pre_filter(&mut state, &pod, &snap).1.is_success());
    let codes: Vec<Code> = snap
        .nodes()
        .iter()
        .map(|n| listed.filter(&state, &pod, n).code)
        .collect();
    assert_eq!(
        codes,
        vec![
            Code::Unschedulable,
            Code::Unschedulable,
            Code::Unschedulable,
            Code::Success
        ]
    );
}

#[test]
fn registration_and_events() {
    let p = Arc::new(plugin());
    assert_eq!(p.name(), "PodTopologySpread");
    let events = p.events();
    let covers = |resource, action| {
        events
            .iter()
            .any(|e| e.covers(&ClusterEvent::new(resource, action, "x")))
    };
    assert!(covers(EventResource::AssignedPod, ActionType::ADD));
    assert!(covers(EventResource::AssignedPod, ActionType::DELETE));
    assert!(covers(
        EventResource::AssignedPod,
        ActionType::UPDATE_POD_LABEL
    ));
    assert!(covers(EventResource::Node, ActionType::ADD));
    assert!(covers(EventResource::Node, ActionType::DELETE));
    assert!(covers(EventResource::Node, ActionType::UPDATE_NODE_LABEL));
    assert!(covers(EventResource::Node, ActionType::UPDATE_NODE_TAINT));
    assert!(!covers(
        EventResource::Node,
        ActionType::UPDATE_NODE_ALLOCATABLE
    ));
    let mut points = Points::default();
    p.register(&mut points);
    assert_eq!(
        (
            points.pre_filter.len(),
            points.filter.len(),
            points.pre_score.len(),
            points.score.len()
        ),
        (1, 1, 1, 1)
    );
}

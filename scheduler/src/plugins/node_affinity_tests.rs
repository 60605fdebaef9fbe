//! Tables after upstream `nodeaffinity/node_affinity_test.go` (`TestNodeAffinity`,
//! `TestNodeAffinityPriority`).

#![allow(clippy::type_complexity)] // table rows are tuples

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec,
    PreferredSchedulingTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::{Code, Snapshot};

fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.to_owned(),
        operator: op.to_owned(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

fn exprs(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Some(reqs),
        match_fields: None,
    }
}

fn name_in(names: &[&str]) -> NodeSelectorRequirement {
    req(OBJECT_NAME_FIELD, "In", names)
}

fn fields(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: None,
        match_fields: Some(reqs),
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A pod with an optional node selector, required terms and preferred terms.
fn pod(
    selector: Option<&[(&str, &str)]>,
    required: Option<Vec<NodeSelectorTerm>>,
    preferred: Option<Vec<PreferredSchedulingTerm>>,
) -> PodInfo {
    let affinity = (required.is_some() || preferred.is_some()).then(|| Affinity {
        node_affinity: Some(NodeAffinitySpec {
            required_during_scheduling_ignored_during_execution: required.map(|t| NodeSelector {
                node_selector_terms: t,
            }),
            preferred_during_scheduling_ignored_during_execution: preferred,
        }),
        ..Affinity::default()
    });
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_selector: selector.map(labels),
            affinity,
            ..PodSpec::default()
        }),
        ..Pod::default()
    }))
}

fn node(name: &str, pairs: &[(&str, &str)]) -> NodeInfo {
    NodeInfo::new(Arc::new(Node {
        metadata: ObjectMeta {
            name: (!name.is_empty()).then(|| name.to_owned()),
            labels: Some(labels(pairs)),
            ..ObjectMeta::default()
        },
        ..Node::default()
    }))
}

fn added_required(terms: Vec<NodeSelectorTerm>) -> NodeAffinityArgs {
    NodeAffinityArgs {
        added_affinity: Some(NodeAffinitySpec {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
            }),
            ..NodeAffinitySpec::default()
        }),
    }
}

/// What PreFilter should answer: Skip, Success with this node set (or all), or a rejection.
enum WantPreFilter {
    Skip,
    All,
    Nodes(&'static [&'static str]),
    Reject(&'static str),
}

#[test]
fn filter_table() {
    use WantPreFilter::*;
    let gpu_terms = || {
        vec![exprs(vec![
            req("GPU", "Exists", &[]),
            req("GPU", "NotIn", &["AMD", "INTER"]),
        ])]
    };
    // (name, pod, node, args, run PreFilter, want PreFilter, want Filter reason)
    let cases: Vec<(
        &str,
        PodInfo,
        NodeInfo,
        NodeAffinityArgs,
        bool,
        WantPreFilter,
        Option<&str>,
    )> = vec![
        (
            "missing labels",
            pod(Some(&[("foo", "bar")]), None, None),
            node("", &[]),
            NodeAffinityArgs::default(),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "same labels",
            pod(Some(&[("foo", "bar")]), None, None),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "node labels are superset",
            pod(Some(&[("foo", "bar")]), None, None),
            node("", &[("foo", "bar"), ("baz", "blah")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "node labels are subset",
            pod(Some(&[("foo", "bar"), ("baz", "blah")]), None, None),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "In matches",
            pod(
                None,
                Some(vec![exprs(vec![req("foo", "In", &["bar", "value2"])])]),
                None,
            ),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "Gt matches",
            pod(
                None,
                Some(vec![exprs(vec![req("kernel-version", "Gt", &["0204"])])]),
                None,
            ),
            node("", &[("kernel-version", "0206")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "NotIn matches",
            pod(
                None,
                Some(vec![exprs(vec![req(
                    "mem-type",
                    "NotIn",
                    &["DDR", "DDR2"],
                )])]),
                None,
            ),
            node("", &[("mem-type", "DDR3")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "Exists matches",
            pod(
                None,
                Some(vec![exprs(vec![req("GPU", "Exists", &[])])]),
                None,
            ),
            node("", &[("GPU", "NVIDIA-GRID-K1")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "affinity does not match",
            pod(
                None,
                Some(vec![exprs(vec![req("foo", "In", &["value1", "value2"])])]),
                None,
            ),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "empty matchExpressions match nothing",
            pod(None, Some(vec![exprs(vec![])]), None),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "no affinity: Skip",
            pod(None, None, None),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            Skip,
            None,
        ),
        (
            "affinity without required: Skip",
            pod(None, None, Some(vec![])),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            Skip,
            None,
        ),
        (
            "expressions ANDed, match",
            pod(None, Some(gpu_terms()), None),
            node("", &[("GPU", "NVIDIA-GRID-K1")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "expressions ANDed, no match",
            pod(
                None,
                Some(vec![exprs(vec![
                    req("GPU", "Exists", &[]),
                    req("GPU", "In", &["AMD", "INTER"]),
                ])]),
                None,
            ),
            node("", &[("GPU", "NVIDIA-GRID-K1")]),
            NodeAffinityArgs::default(),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "terms ORed",
            pod(
                None,
                Some(vec![
                    exprs(vec![req("foo", "In", &["bar", "value2"])]),
                    exprs(vec![req("diffkey", "In", &["wrong", "value2"])]),
                ]),
                None,
            ),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "affinity and nodeSelector both satisfied",
            pod(
                Some(&[("foo", "bar")]),
                Some(vec![exprs(vec![req("foo", "Exists", &[])])]),
                None,
            ),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "affinity satisfied, nodeSelector not",
            pod(
                Some(&[("foo", "bar")]),
                Some(vec![exprs(vec![req("foo", "Exists", &[])])]),
                None,
            ),
            node("", &[("foo", "barrrrrr")]),
            NodeAffinityArgs::default(),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "invalid value in a term",
            pod(
                None,
                Some(vec![exprs(vec![req(
                    "foo",
                    "NotIn",
                    &["invalid value: ___@#$%^"],
                )])]),
                None,
            ),
            node("", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "matchFields In matches",
            pod(None, Some(vec![fields(vec![name_in(&["node1"])])]), None),
            node("node1", &[]),
            NodeAffinityArgs::default(),
            true,
            Nodes(&["node1"]),
            None,
        ),
        (
            "matchFields In, other node",
            pod(None, Some(vec![fields(vec![name_in(&["node1"])])]), None),
            node("node2", &[]),
            NodeAffinityArgs::default(),
            true,
            Nodes(&["node1"]),
            Some(ERR_REASON_POD),
        ),
        (
            "two terms: fields miss, expressions match",
            pod(
                None,
                Some(vec![
                    fields(vec![name_in(&["node1"]), name_in(&["node2"])]),
                    exprs(vec![req("foo", "In", &["bar"])]),
                ]),
                None,
            ),
            node("node2", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            None,
        ),
        (
            "one term: fields miss, expressions match",
            pod(
                None,
                Some(vec![NodeSelectorTerm {
                    match_fields: Some(vec![name_in(&["node1"])]),
                    match_expressions: Some(vec![req("foo", "In", &["bar"])]),
                }]),
                None,
            ),
            node("node2", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            Nodes(&["node1"]),
            Some(ERR_REASON_POD),
        ),
        (
            "one term: both match",
            pod(
                None,
                Some(vec![NodeSelectorTerm {
                    match_fields: Some(vec![name_in(&["node1"])]),
                    match_expressions: Some(vec![req("foo", "In", &["bar"])]),
                }]),
                None,
            ),
            node("node1", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            Nodes(&["node1"]),
            None,
        ),
        (
            "two terms: neither matches",
            pod(
                None,
                Some(vec![
                    fields(vec![name_in(&["node1"])]),
                    exprs(vec![req("foo", "In", &["not-match-to-bar"])]),
                ]),
                None,
            ),
            node("node2", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "two terms of node names",
            pod(
                None,
                Some(vec![
                    fields(vec![name_in(&["node1"])]),
                    fields(vec![name_in(&["node2"])]),
                ]),
                None,
            ),
            node("node2", &[]),
            NodeAffinityArgs::default(),
            true,
            Nodes(&["node1", "node2"]),
            None,
        ),
        (
            "conflicting name requirements",
            pod(
                None,
                Some(vec![fields(vec![name_in(&["node1"]), name_in(&["node2"])])]),
                None,
            ),
            node("node2", &[("foo", "bar")]),
            NodeAffinityArgs::default(),
            true,
            Reject(ERR_REASON_CONFLICT),
            Some(ERR_REASON_POD),
        ),
        (
            "matches added affinity and pod's",
            pod(
                None,
                Some(vec![exprs(vec![req("zone", "In", &["foo"])])]),
                None,
            ),
            node("node2", &[("zone", "foo")]),
            added_required(vec![fields(vec![name_in(&["node2"])])]),
            true,
            All,
            None,
        ),
        (
            "matches added affinity, not pod's",
            pod(
                None,
                Some(vec![exprs(vec![req("zone", "In", &["bar"])])]),
                None,
            ),
            node("node2", &[("zone", "foo")]),
            added_required(vec![fields(vec![name_in(&["node2"])])]),
            true,
            All,
            Some(ERR_REASON_POD),
        ),
        (
            "does not match added affinity",
            pod(None, None, None),
            node("node2", &[("zone", "foo")]),
            added_required(vec![exprs(vec![req("zone", "In", &["bar"])])]),
            true,
            All,
            Some(ERR_REASON_ENFORCED),
        ),
        (
            "nodeSelector without PreFilter",
            pod(Some(&[("foo", "bar")]), None, None),
            node("", &[("foo", "bar"), ("baz", "blah")]),
            NodeAffinityArgs::default(),
            false,
            All,
            None,
        ),
        (
            "affinity without PreFilter",
            pod(None, Some(gpu_terms()), None),
            node("", &[("GPU", "NVIDIA-GRID-K1")]),
            NodeAffinityArgs::default(),
            false,
            All,
            None,
        ),
        (
            "affinity without PreFilter, no match",
            pod(None, Some(gpu_terms()), None),
            node("", &[("GPU", "AMD")]),
            NodeAffinityArgs::default(),
            false,
            All,
            Some(ERR_REASON_POD),
        ),
    ];
    let snapshot = Snapshot::new(Vec::new());
    for (name, pod, node, args, run_pre_filter, want_pre, want_filter) in cases {
        let plugin = NodeAffinity::new(args).expect("valid args");
        let mut state = CycleState::default();
        if run_pre_filter {
            let (result, status) = plugin.pre_filter(&mut state, &pod, &snapshot);
            match want_pre {
                Skip => assert!(status.is_skip() && result.is_none(), "{name}: {status:?}"),
                All => assert!(
                    status.is_success() && result.is_none(),
                    "{name}: {status:?} {result:?}"
                ),
                Nodes(names) => {
                    assert!(status.is_success(), "{name}: {status:?}");
                    let want: HashSet<String> = names.iter().map(|n| n.to_string()).collect();
                    assert_eq!(result, Some(want), "{name}");
                }
                Reject(reason) => {
                    assert_eq!(status, Status::unresolvable(reason), "{name}");
                }
            }
        }
        let status = plugin.filter(&state, &pod, &node);
        match want_filter {
            None => assert!(status.is_success(), "{name}: {status:?}"),
            Some(reason) => {
                assert_eq!(status.code, Code::UnschedulableAndUnresolvable, "{name}");
                assert_eq!(status.reasons, vec![reason.to_string()], "{name}");
            }
        }
    }
}

#[test]
fn score_table() {
    let pref = |weight: i32, reqs: Vec<NodeSelectorRequirement>| PreferredSchedulingTerm {
        weight,
        preference: exprs(reqs),
    };
    let affinity1 = || vec![pref(2, vec![req("foo", "In", &["bar"])])];
    let affinity2 = || {
        vec![
            pref(2, vec![req("foo", "In", &["bar"])]),
            pref(4, vec![req("key", "In", &["value"])]),
            pref(
                5,
                vec![
                    req("foo", "In", &["bar"]),
                    req("key", "In", &["value"]),
                    req("az", "In", &["az1"]),
                ],
            ),
        ]
    };
    let label1: &[(&str, &str)] = &[("foo", "bar")];
    let label2: &[(&str, &str)] = &[("key", "value")];
    let label3: &[(&str, &str)] = &[("az", "az1")];
    let label4: &[(&str, &str)] = &[("abc", "az11"), ("def", "az22")];
    let label5: &[(&str, &str)] = &[("foo", "bar"), ("key", "value"), ("az", "az1")];
    let added_pref = |terms: Vec<PreferredSchedulingTerm>| NodeAffinityArgs {
        added_affinity: Some(NodeAffinitySpec {
            preferred_during_scheduling_ignored_during_execution: Some(terms),
            ..NodeAffinitySpec::default()
        }),
    };
    // (name, pod, nodes, args, run PreScore, want PreScore skip, want normalized scores)
    let cases: Vec<(
        &str,
        PodInfo,
        Vec<NodeInfo>,
        NodeAffinityArgs,
        bool,
        bool,
        Vec<i64>,
    )> = vec![
        (
            "no affinity: skip",
            pod(None, None, None),
            vec![
                node("node1", label1),
                node("node2", label2),
                node("node3", label3),
            ],
            NodeAffinityArgs::default(),
            true,
            true,
            vec![0, 0, 0],
        ),
        (
            "no node matches",
            pod(None, None, Some(affinity1())),
            vec![
                node("node1", label4),
                node("node2", label2),
                node("node3", label3),
            ],
            NodeAffinityArgs::default(),
            true,
            false,
            vec![0, 0, 0],
        ),
        (
            "only node1 matches",
            pod(None, None, Some(affinity1())),
            vec![
                node("node1", label1),
                node("node2", label2),
                node("node3", label3),
            ],
            NodeAffinityArgs::default(),
            true,
            false,
            vec![MAX_NODE_SCORE, 0, 0],
        ),
        (
            "different priorities",
            pod(None, None, Some(affinity2())),
            vec![
                node("node1", label1),
                node("node5", label5),
                node("node2", label2),
            ],
            NodeAffinityArgs::default(),
            true,
            false,
            vec![18, MAX_NODE_SCORE, 36],
        ),
        (
            "added affinity",
            pod(None, None, None),
            vec![node("node1", label1), node("node2", label2)],
            added_pref(affinity1()),
            true,
            false,
            vec![MAX_NODE_SCORE, 0],
        ),
        (
            "added affinity and pod's",
            pod(None, None, Some(affinity1())),
            vec![
                node("node1", label1),
                node("node2", label2),
                node("node3", label5),
            ],
            added_pref(vec![pref(3, vec![req("key", "In", &["value"])])]),
            true,
            false,
            vec![40, 60, MAX_NODE_SCORE],
        ),
        (
            "without PreScore",
            pod(None, None, Some(affinity2())),
            vec![
                node("node1", label1),
                node("node5", label5),
                node("node2", label2),
            ],
            NodeAffinityArgs::default(),
            false,
            false,
            vec![18, MAX_NODE_SCORE, 36],
        ),
    ];
    let snapshot = Snapshot::new(Vec::new());
    for (name, pod, nodes, args, run_pre_score, want_skip, want) in cases {
        let plugin = NodeAffinity::new(args).expect("valid args");
        let mut state = CycleState::default();
        let infos: Vec<Arc<NodeInfo>> = nodes.into_iter().map(Arc::new).collect();
        if run_pre_score {
            let status = plugin.pre_score(&mut state, &pod, &infos, &snapshot);
            assert_eq!(status.is_skip(), want_skip, "{name}: {status:?}");
            if want_skip {
                continue;
            }
            assert!(status.is_success(), "{name}: {status:?}");
        }
        let mut scores = Vec::new();
        for (i, info) in infos.iter().enumerate() {
            let (score, status) = plugin.score(&state, &pod, info);
            assert!(status.is_success(), "{name}: {status:?}");
            scores.push(NodeScore { node: i, score });
        }
        assert!(plugin.normalize(&state, &pod, &mut scores).is_success());
        let got: Vec<i64> = scores.iter().map(|s| s.score).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn invalid_preferred_terms_fail_pre_score() {
    let bad = vec![PreferredSchedulingTerm {
        weight: 1,
        preference: exprs(vec![req("foo", "In", &[])]),
    }];
    let plugin = NodeAffinity::new(NodeAffinityArgs::default()).expect("valid args");
    let mut state = CycleState::default();
    let status = plugin.pre_score(
        &mut state,
        &pod(None, None, Some(bad)),
        &[],
        &Snapshot::new(Vec::new()),
    );
    assert_eq!(status.code, Code::Error);
}

#[test]
fn invalid_added_affinity_is_rejected() {
    let args = added_required(vec![exprs(vec![req("foo", "Bogus", &["x"])])]);
    assert!(NodeAffinity::new(args).is_err());
    let args = NodeAffinityArgs {
        added_affinity: Some(NodeAffinitySpec {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                PreferredSchedulingTerm {
                    weight: 1,
                    preference: exprs(vec![req("foo", "Exists", &["x"])]),
                },
            ]),
            ..NodeAffinitySpec::default()
        }),
    };
    assert!(NodeAffinity::new(args).is_err());
}

#[test]
fn registration_and_events() {
    let plugin = Arc::new(NodeAffinity::new(NodeAffinityArgs::default()).expect("valid args"));
    assert_eq!(plugin.name(), "NodeAffinity");
    let events = plugin.events();
    let label_change = ClusterEvent::new(EventResource::Node, ActionType::UPDATE_NODE_LABEL, "x");
    let taint_change = ClusterEvent::new(EventResource::Node, ActionType::UPDATE_NODE_TAINT, "x");
    assert!(events.iter().any(|e| e.covers(&ClusterEvent::NODE_ADD)));
    assert!(events.iter().any(|e| e.covers(&label_change)));
    assert!(!events.iter().any(|e| e.covers(&taint_change)));
    let mut points = Points::default();
    plugin.register(&mut points);
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

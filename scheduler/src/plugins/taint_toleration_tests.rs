//! Tables after upstream `tainttoleration/taint_toleration_test.go`
//! (`TestTaintTolerationScore`, `TestTaintTolerationFilter`).

#![allow(clippy::type_complexity)] // table rows are tuples

use k8s_openapi::api::core::v1::{Node, NodeSpec, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::Code;

fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.to_owned(),
        value: (!value.is_empty()).then(|| value.to_owned()),
        effect: effect.to_owned(),
        time_added: None,
    }
}

fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Toleration {
        key: opt(key),
        operator: opt(op),
        value: opt(value),
        effect: opt(effect),
        toleration_seconds: None,
    }
}

fn node_with_taints(name: &str, taints: Vec<Taint>) -> NodeInfo {
    NodeInfo::new(Arc::new(Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: Some(taints),
            ..NodeSpec::default()
        }),
        ..Node::default()
    }))
}

fn pod_with_tolerations(tolerations: Vec<Toleration>) -> PodInfo {
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some("pod1".into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            tolerations: Some(tolerations),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }))
}

const PNS: &str = EFFECT_PREFER_NO_SCHEDULE;
const NS: &str = EFFECT_NO_SCHEDULE;

#[test]
fn score_table() {
    // (name, tolerations, nodes' taints, want normalized scores)
    let cases: Vec<(&str, Vec<Toleration>, Vec<Vec<Taint>>, Vec<i64>)> = vec![
        (
            "tolerated taints score higher than intolerable ones",
            vec![tol("foo", "Equal", "bar", PNS)],
            vec![
                vec![taint("foo", "bar", PNS)],
                vec![taint("foo", "blah", PNS)],
            ],
            vec![MAX_NODE_SCORE, 0],
        ),
        (
            "the number of tolerated taints does not matter",
            vec![
                tol("cpu-type", "Equal", "arm64", PNS),
                tol("disk-type", "Equal", "ssd", PNS),
            ],
            vec![
                vec![],
                vec![taint("cpu-type", "arm64", PNS)],
                vec![
                    taint("cpu-type", "arm64", PNS),
                    taint("disk-type", "ssd", PNS),
                ],
            ],
            vec![MAX_NODE_SCORE, MAX_NODE_SCORE, MAX_NODE_SCORE],
        ),
        (
            "the more intolerable taints, the lower the score",
            vec![tol("foo", "Equal", "bar", PNS)],
            vec![
                vec![],
                vec![taint("cpu-type", "arm64", PNS)],
                vec![
                    taint("cpu-type", "arm64", PNS),
                    taint("disk-type", "ssd", PNS),
                ],
            ],
            vec![MAX_NODE_SCORE, 50, 0],
        ),
        (
            "only PreferNoSchedule taints and tolerations count",
            vec![
                tol("cpu-type", "Equal", "arm64", NS),
                tol("disk-type", "Equal", "ssd", NS),
            ],
            vec![
                vec![],
                vec![taint("cpu-type", "arm64", NS)],
                vec![
                    taint("cpu-type", "arm64", PNS),
                    taint("disk-type", "ssd", PNS),
                ],
            ],
            vec![MAX_NODE_SCORE, MAX_NODE_SCORE, 0],
        ),
        (
            "no tolerations: the untainted node wins",
            vec![],
            vec![vec![], vec![taint("cpu-type", "arm64", PNS)]],
            vec![MAX_NODE_SCORE, 0],
        ),
        (
            "a toleration without effect tolerates PreferNoSchedule",
            vec![tol("foo", "Exists", "", "")],
            vec![vec![taint("foo", "bar", PNS)], vec![taint("baz", "", PNS)]],
            vec![MAX_NODE_SCORE, 0],
        ),
        (
            "numeric operators tolerate nothing with the gate off",
            vec![tol("node.kubernetes.io/sla", "Gt", "950", PNS)],
            vec![vec![], vec![taint("node.kubernetes.io/sla", "999", PNS)]],
            vec![MAX_NODE_SCORE, 0],
        ),
    ];
    let snapshot = Snapshot::new(Vec::new());
    for (name, tolerations, taints, want) in cases {
        let plugin = TaintToleration::new();
        let pod = pod_with_tolerations(tolerations);
        let nodes: Vec<Arc<NodeInfo>> = taints
            .into_iter()
            .enumerate()
            .map(|(i, t)| Arc::new(node_with_taints(&format!("node{i}"), t)))
            .collect();
        for run_pre_score in [true, false] {
            let mut state = CycleState::default();
            if run_pre_score {
                assert!(
                    plugin
                        .pre_score(&mut state, &pod, &nodes, &snapshot)
                        .is_success()
                );
            }
            let mut scores = Vec::new();
            for (i, node) in nodes.iter().enumerate() {
                let (score, status) = plugin.score(&state, &pod, node);
                assert!(status.is_success(), "{name}");
                scores.push(NodeScore { node: i, score });
            }
            assert!(plugin.normalize(&state, &pod, &mut scores).is_success());
            let got: Vec<i64> = scores.iter().map(|s| s.score).collect();
            assert_eq!(got, want, "{name} (PreScore run: {run_pre_score})");
        }
    }
}

#[test]
fn filter_table() {
    // (name, tolerations, node taints, want rejection reason)
    let cases: Vec<(&str, Vec<Toleration>, Vec<Taint>, Option<&str>)> = vec![
        (
            "no tolerations, a NoSchedule taint",
            vec![],
            vec![taint("dedicated", "user1", NS)],
            Some("node(s) had untolerated taint {dedicated: user1}"),
        ),
        (
            "tolerated dedicated node",
            vec![tol("dedicated", "", "user1", NS)],
            vec![taint("dedicated", "user1", NS)],
            None,
        ),
        (
            "value mismatch",
            vec![tol("dedicated", "Equal", "user2", NS)],
            vec![taint("dedicated", "user1", NS)],
            Some("node(s) had untolerated taint {dedicated: user1}"),
        ),
        (
            "Exists tolerates any value",
            vec![tol("foo", "Exists", "", NS)],
            vec![taint("foo", "bar", NS)],
            None,
        ),
        (
            "every taint tolerated",
            vec![
                tol("dedicated", "Equal", "user2", NS),
                tol("foo", "Exists", "", NS),
            ],
            vec![taint("dedicated", "user2", NS), taint("foo", "bar", NS)],
            None,
        ),
        (
            "the first untolerated taint is reported",
            vec![tol("dedicated", "Equal", "user2", NS)],
            vec![
                taint("dedicated", "user2", NS),
                taint("foo", "", NS),
                taint("bar", "x", NS),
            ],
            Some("node(s) had untolerated taint {foo: }"),
        ),
        (
            "effect mismatch",
            vec![tol("foo", "Equal", "bar", PNS)],
            vec![taint("foo", "bar", NS)],
            Some("node(s) had untolerated taint {foo: bar}"),
        ),
        (
            "empty toleration effect matches NoSchedule",
            vec![tol("foo", "Equal", "bar", "")],
            vec![taint("foo", "bar", NS)],
            None,
        ),
        (
            "PreferNoSchedule taints do not filter",
            vec![tol("dedicated", "Equal", "user2", NS)],
            vec![taint("dedicated", "user1", PNS)],
            None,
        ),
        (
            "no tolerations, only PreferNoSchedule",
            vec![],
            vec![taint("dedicated", "user1", PNS)],
            None,
        ),
        (
            "NoExecute taints filter",
            vec![],
            vec![taint(
                "node.kubernetes.io/unreachable",
                "",
                EFFECT_NO_EXECUTE,
            )],
            Some("node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
        ),
        (
            "empty key with Exists tolerates everything",
            vec![tol("", "Exists", "", "")],
            vec![taint("a", "b", NS), taint("c", "d", EFFECT_NO_EXECUTE)],
            None,
        ),
        (
            "Gt tolerates nothing with the gate off",
            vec![tol("node.kubernetes.io/sla", "Gt", "750", NS)],
            vec![taint("node.kubernetes.io/sla", "950", NS)],
            Some("node(s) had untolerated taint {node.kubernetes.io/sla: 950}"),
        ),
    ];
    for (name, tolerations, taints, want) in cases {
        let status = TaintToleration::new().filter(
            &CycleState::default(),
            &pod_with_tolerations(tolerations),
            &node_with_taints("nodeA", taints),
        );
        match want {
            None => assert!(status.is_success(), "{name}: {status:?}"),
            Some(reason) => {
                assert_eq!(status.code, Code::UnschedulableAndUnresolvable, "{name}");
                assert_eq!(status.reasons, vec![reason.to_string()], "{name}");
            }
        }
    }
}

#[test]
fn registration_and_events() {
    let plugin = Arc::new(TaintToleration::new());
    assert_eq!(plugin.name(), "TaintToleration");
    let events = plugin.events();
    let taint_change = ClusterEvent::new(EventResource::Node, ActionType::UPDATE_NODE_TAINT, "x");
    let label_change = ClusterEvent::new(EventResource::Node, ActionType::UPDATE_NODE_LABEL, "x");
    assert!(events.iter().any(|e| e.covers(&ClusterEvent::NODE_ADD)));
    assert!(events.iter().any(|e| e.covers(&taint_change)));
    assert!(!events.iter().any(|e| e.covers(&label_change)));
    let mut points = Points::default();
    plugin.register(&mut points);
    assert_eq!(
        (
            points.pre_filter.len(),
            points.filter.len(),
            points.pre_score.len(),
            points.score.len()
        ),
        (0, 1, 1, 1)
    );
}

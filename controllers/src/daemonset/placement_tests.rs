use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeCondition, NodeSelector, NodeStatus, Taint,
};

use super::*;
use crate::daemonset::testing::{ds, labelled, node, tainted, template_spec};

fn expr(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

fn required(terms: Vec<NodeSelectorTerm>) -> Option<Affinity> {
    Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    })
}

fn labels_term(exprs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Some(exprs),
        ..NodeSelectorTerm::default()
    }
}

fn fields_term(exprs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_fields: Some(exprs),
        ..NodeSelectorTerm::default()
    }
}

fn not_ready(mut n: Node) -> Node {
    n.status = Some(NodeStatus {
        conditions: Some(vec![NodeCondition {
            type_: "Ready".into(),
            status: "False".into(),
            ..NodeCondition::default()
        }]),
        ..NodeStatus::default()
    });
    n
}

const RUN: (bool, bool) = (true, true);
const STAY: (bool, bool) = (false, true);
const NO: (bool, bool) = (false, false);

#[test]
fn node_should_run_daemon_pod() {
    let plain = PodSpec::default();
    let with = |f: fn(&mut PodSpec)| {
        let mut spec = PodSpec::default();
        f(&mut spec);
        spec
    };
    let ssd = with(|s| s.node_selector = Some([("disk".into(), "ssd".into())].into()));
    let affinity_zone = with(|s| {
        s.affinity = required(vec![
            labels_term(vec![expr("zone", "In", &["a", "b"])]),
            labels_term(vec![expr("gpus", "Gt", &["3"])]),
        ])
    });
    let affinity_name = with(|s| {
        s.affinity = required(vec![fields_term(vec![expr(
            "metadata.name",
            "In",
            &["n1"],
        )])])
    });
    let no_terms = with(|s| s.affinity = required(vec![]));
    let bad_op =
        with(|s| s.affinity = required(vec![labels_term(vec![expr("zone", "Near", &["a"])])]));
    let pinned = with(|s| s.node_name = Some("n2".into()));
    let host_net = with(|s| s.host_network = Some(true));
    let tolerates_gpu = with(|s| {
        s.tolerations = Some(vec![Toleration {
            key: Some("gpu".into()),
            operator: Some("Equal".into()),
            value: Some("".into()),
            effect: Some("NoSchedule".into()),
            ..Toleration::default()
        }])
    });
    let cases: Vec<(&str, &PodSpec, Node, (bool, bool))> = vec![
        ("plain node", &plain, node("n1"), RUN),
        (
            "not Ready without taints still runs",
            &plain,
            not_ready(node("n1")),
            RUN,
        ),
        (
            "nodeSelector hit",
            &ssd,
            labelled(node("n1"), &[("disk", "ssd")]),
            RUN,
        ),
        (
            "nodeSelector miss",
            &ssd,
            labelled(node("n1"), &[("disk", "hdd")]),
            NO,
        ),
        ("nodeSelector on unlabelled node", &ssd, node("n1"), NO),
        (
            "affinity first term",
            &affinity_zone,
            labelled(node("n1"), &[("zone", "b")]),
            RUN,
        ),
        (
            "affinity second term Gt",
            &affinity_zone,
            labelled(node("n1"), &[("gpus", "4")]),
            RUN,
        ),
        (
            "affinity Gt not met",
            &affinity_zone,
            labelled(node("n1"), &[("gpus", "3")]),
            NO,
        ),
        (
            "affinity Gt on non-number",
            &affinity_zone,
            labelled(node("n1"), &[("gpus", "x")]),
            NO,
        ),
        (
            "affinity miss",
            &affinity_zone,
            labelled(node("n1"), &[("zone", "c")]),
            NO,
        ),
        ("matchFields name hit", &affinity_name, node("n1"), RUN),
        ("matchFields name miss", &affinity_name, node("n2"), NO),
        ("required affinity without terms", &no_terms, node("n1"), NO),
        (
            "unparsable term matches nothing",
            &bad_op,
            labelled(node("n1"), &[("zone", "a")]),
            NO,
        ),
        ("template nodeName elsewhere", &pinned, node("n1"), NO),
        ("template nodeName here", &pinned, node("n2"), RUN),
        (
            "untolerated NoSchedule: no new pod, old stays",
            &plain,
            tainted(node("n1"), "gpu", "NoSchedule"),
            STAY,
        ),
        (
            "untolerated NoExecute: nothing",
            &plain,
            tainted(node("n1"), "gpu", "NoExecute"),
            NO,
        ),
        (
            "PreferNoSchedule is ignored",
            &plain,
            tainted(node("n1"), "gpu", "PreferNoSchedule"),
            RUN,
        ),
        (
            "tolerated NoSchedule",
            &tolerates_gpu,
            tainted(node("n1"), "gpu", "NoSchedule"),
            RUN,
        ),
        (
            "not-ready NoExecute tolerated by default",
            &plain,
            tainted(node("n1"), TAINT_NODE_NOT_READY, "NoExecute"),
            RUN,
        ),
        (
            "unreachable NoExecute tolerated by default",
            &plain,
            tainted(node("n1"), TAINT_NODE_UNREACHABLE, "NoExecute"),
            RUN,
        ),
        (
            "not-ready NoSchedule is not",
            &plain,
            tainted(node("n1"), TAINT_NODE_NOT_READY, "NoSchedule"),
            STAY,
        ),
        (
            "unschedulable tolerated",
            &plain,
            tainted(node("n1"), TAINT_NODE_UNSCHEDULABLE, "NoSchedule"),
            RUN,
        ),
        (
            "disk pressure tolerated",
            &plain,
            tainted(node("n1"), TAINT_NODE_DISK_PRESSURE, "NoSchedule"),
            RUN,
        ),
        (
            "memory pressure tolerated",
            &plain,
            tainted(node("n1"), TAINT_NODE_MEMORY_PRESSURE, "NoSchedule"),
            RUN,
        ),
        (
            "pid pressure tolerated",
            &plain,
            tainted(node("n1"), TAINT_NODE_PID_PRESSURE, "NoSchedule"),
            RUN,
        ),
        (
            "network unavailable blocks pod network",
            &plain,
            tainted(node("n1"), TAINT_NODE_NETWORK_UNAVAILABLE, "NoSchedule"),
            STAY,
        ),
        (
            "network unavailable tolerated on host network",
            &host_net,
            tainted(node("n1"), TAINT_NODE_NETWORK_UNAVAILABLE, "NoSchedule"),
            RUN,
        ),
    ];
    for (name, spec, node, (should_run, stay)) in cases {
        let got = DaemonPlacement::new(spec).check(&node);
        let want = Placement {
            should_run,
            should_continue_running: stay,
        };
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn toleration_matching() {
    let taint = Taint {
        key: "k".into(),
        value: Some("v".into()),
        effect: "NoSchedule".into(),
        ..Taint::default()
    };
    let t = |key: &str, op: &str, value: &str, effect: &str| Toleration {
        key: (!key.is_empty()).then(|| key.into()),
        operator: (!op.is_empty()).then(|| op.into()),
        value: (!value.is_empty()).then(|| value.into()),
        effect: (!effect.is_empty()).then(|| effect.into()),
        ..Toleration::default()
    };
    let cases = [
        (t("k", "Equal", "v", "NoSchedule"), true),
        (t("k", "", "v", ""), true),
        (t("k", "Equal", "w", ""), false),
        (t("k", "Exists", "", ""), true),
        (t("", "Exists", "", ""), true),
        (t("j", "Exists", "", ""), false),
        (t("k", "Exists", "", "NoExecute"), false),
        (t("k", "Gt", "1", ""), false),
    ];
    for (toleration, want) in cases {
        assert_eq!(tolerates(&toleration, &taint), want, "{toleration:?}");
    }
}

#[test]
fn daemon_tolerations_are_added_once_and_replace_timed_ones() {
    let mut spec = template_spec(&mut ds()).clone();
    spec.tolerations = Some(vec![Toleration {
        key: Some(TAINT_NODE_NOT_READY.into()),
        operator: Some("Exists".into()),
        effect: Some("NoExecute".into()),
        toleration_seconds: Some(300),
        ..Toleration::default()
    }]);
    add_daemon_tolerations(&mut spec);
    add_daemon_tolerations(&mut spec);
    let tolerations = spec.tolerations.unwrap_or_default();
    let keys: Vec<&str> = tolerations
        .iter()
        .filter_map(|t| t.key.as_deref())
        .collect();
    assert_eq!(
        keys,
        [
            TAINT_NODE_NOT_READY,
            TAINT_NODE_UNREACHABLE,
            TAINT_NODE_DISK_PRESSURE,
            TAINT_NODE_MEMORY_PRESSURE,
            TAINT_NODE_PID_PRESSURE,
            TAINT_NODE_UNSCHEDULABLE,
        ]
    );
    assert_eq!(
        tolerations[0].toleration_seconds, None,
        "the daemon's not-ready toleration is unbounded"
    );
}

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, NodeSpec, Pod, PodSpec, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::Code;

fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Toleration {
        key: opt(key),
        operator: opt(op),
        value: opt(value),
        effect: opt(effect),
        toleration_seconds: None,
    }
}

fn pod(tolerations: Vec<Toleration>) -> PodInfo {
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            tolerations: (!tolerations.is_empty()).then_some(tolerations),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

fn node(spec: Option<NodeSpec>) -> NodeInfo {
    NodeInfo::new(Arc::new(Node {
        metadata: ObjectMeta {
            name: Some("n".into()),
            ..Default::default()
        },
        spec,
        ..Default::default()
    }))
}

#[test]
fn filter_table() {
    let cordoned = || {
        Some(NodeSpec {
            unschedulable: Some(true),
            ..Default::default()
        })
    };
    let key = TAINT_NODE_UNSCHEDULABLE;
    // (name, node spec, pod tolerations, fits)
    let cases = vec![
        ("node without spec", None, vec![], true),
        (
            "unschedulable unset",
            Some(NodeSpec::default()),
            vec![],
            true,
        ),
        (
            "schedulable node",
            Some(NodeSpec {
                unschedulable: Some(false),
                ..Default::default()
            }),
            vec![],
            true,
        ),
        ("cordoned node, no tolerations", cordoned(), vec![], false),
        (
            "cordoned node, pod tolerates the unschedulable taint",
            cordoned(),
            vec![toleration(key, "Exists", "", "NoSchedule")],
            true,
        ),
        (
            "cordoned node, toleration without effect",
            cordoned(),
            vec![toleration(key, "Exists", "", "")],
            true,
        ),
        (
            "cordoned node, Equal with empty value",
            cordoned(),
            vec![toleration(key, "Equal", "", "NoSchedule")],
            true,
        ),
        (
            "cordoned node, Equal with another value",
            cordoned(),
            vec![toleration(key, "Equal", "x", "NoSchedule")],
            false,
        ),
        (
            "cordoned node, toleration for NoExecute only",
            cordoned(),
            vec![toleration(key, "Exists", "", "NoExecute")],
            false,
        ),
        (
            "cordoned node, wildcard toleration",
            cordoned(),
            vec![toleration("", "Exists", "", "")],
            true,
        ),
        (
            "cordoned node, toleration for another key",
            cordoned(),
            vec![toleration("other", "Exists", "", "NoSchedule")],
            false,
        ),
        (
            "cordoned node, one of several tolerations",
            cordoned(),
            vec![
                toleration("other", "Exists", "", ""),
                toleration(key, "Exists", "", "NoSchedule"),
            ],
            true,
        ),
    ];
    for (name, spec, tolerations, fits) in cases {
        let status =
            NodeUnschedulable::new().filter(&CycleState::default(), &pod(tolerations), &node(spec));
        if fits {
            assert!(status.is_success(), "{name}");
        } else {
            assert_eq!(status.code, Code::UnschedulableAndUnresolvable, "{name}");
            assert_eq!(status.reasons, [ERR_REASON_UNSCHEDULABLE], "{name}");
        }
    }
}

#[test]
fn registers_and_events() {
    let plugin = Arc::new(NodeUnschedulable::new());
    assert_eq!(plugin.name(), "NodeUnschedulable");
    let events = plugin.events();
    let covered = |e: ClusterEvent| events.iter().any(|r| r.covers(&e));
    assert!(covered(ClusterEvent::NODE_ADD));
    assert!(covered(ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_TAINT,
        "x"
    )));
    assert!(covered(ClusterEvent::new(
        EventResource::UnscheduledPod,
        ActionType::UPDATE_OTHER,
        "x"
    )));
    assert!(!covered(ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_LABEL,
        "x"
    )));
    let mut points = Points::default();
    plugin.register(&mut points);
    assert_eq!((points.filter.len(), points.pre_filter.len()), (1, 0));
}

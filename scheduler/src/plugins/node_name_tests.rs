use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::Code;

fn pod(node_name: Option<&str>) -> PodInfo {
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: node_name.map(str::to_owned),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

fn node(name: &str) -> NodeInfo {
    NodeInfo::new(Arc::new(Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }))
}

#[test]
fn filter_table() {
    // (name, pod's nodeName, node, fits)
    let cases = [
        ("no host specified", None, "foo", true),
        ("empty host specified", Some(""), "foo", true),
        ("host matches", Some("foo"), "foo", true),
        ("host doesn't match", Some("bar"), "foo", false),
    ];
    for (name, wanted, on, fits) in cases {
        let status = NodeName::new().filter(&CycleState::default(), &pod(wanted), &node(on));
        if fits {
            assert!(status.is_success(), "{name}");
        } else {
            assert_eq!(status.code, Code::UnschedulableAndUnresolvable, "{name}");
            assert_eq!(status.reasons, [ERR_REASON], "{name}");
        }
        assert_eq!(super::fits(&pod(wanted), &node(on)), fits, "{name}");
    }
}

#[test]
fn pre_filter_table() {
    type Case<'a> = (&'a str, Option<&'a str>, Option<HashSet<String>>);
    let cases: [Case; 3] = [
        ("no nodeName: all nodes", None, None),
        ("empty nodeName: all nodes", Some(""), None),
        (
            "nodeName: that node only",
            Some("foo"),
            Some(HashSet::from(["foo".to_owned()])),
        ),
    ];
    for (name, wanted, want) in cases {
        let (result, status) = NodeName::new().pre_filter(
            &mut CycleState::default(),
            &pod(wanted),
            &Snapshot::default(),
        );
        assert!(status.is_success(), "{name}");
        assert_eq!(result, want, "{name}");
    }
}

#[test]
fn registers_and_events() {
    let plugin = Arc::new(NodeName::new());
    assert_eq!(plugin.name(), "NodeName");
    assert!(
        plugin
            .events()
            .iter()
            .any(|e| e.covers(&ClusterEvent::NODE_ADD))
    );
    let mut points = Points::default();
    plugin.register(&mut points);
    assert_eq!((points.pre_filter.len(), points.filter.len()), (1, 1));
}

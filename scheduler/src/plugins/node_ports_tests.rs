use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::Code;

/// (protocol, host IP, host port); empty strings leave the field unset.
type Port<'a> = (&'a str, &'a str, i32);

fn pod(name: &str, ports: &[Port]) -> PodInfo {
    let ports = ports
        .iter()
        .map(|&(protocol, ip, port)| ContainerPort {
            container_port: port,
            host_port: Some(port),
            host_ip: (!ip.is_empty()).then(|| ip.to_owned()),
            protocol: (!protocol.is_empty()).then(|| protocol.to_owned()),
            ..Default::default()
        })
        .collect();
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                ports: Some(ports),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }))
}

fn node(existing: &[Port]) -> NodeInfo {
    let mut info = NodeInfo::new(Arc::new(Node {
        metadata: ObjectMeta {
            name: Some("n".into()),
            ..Default::default()
        },
        ..Default::default()
    }));
    info.add_pod(Arc::new(pod("existing", existing)));
    info
}

#[test]
fn filter_table() {
    // (name, wanted ports, ports used on the node, fits)
    let cases: Vec<(&str, &[Port], &[Port], bool)> = vec![
        (
            "other port",
            &[("UDP", "127.0.0.1", 8080)],
            &[("UDP", "127.0.0.1", 9090)],
            true,
        ),
        (
            "same udp port",
            &[("UDP", "127.0.0.1", 8080)],
            &[("UDP", "127.0.0.1", 8080)],
            false,
        ),
        (
            "same tcp port",
            &[("TCP", "127.0.0.1", 8080)],
            &[("TCP", "127.0.0.1", 8080)],
            false,
        ),
        (
            "different host ip",
            &[("TCP", "127.0.0.1", 8080)],
            &[("TCP", "127.0.0.2", 8080)],
            true,
        ),
        (
            "different protocol",
            &[("UDP", "127.0.0.1", 8080)],
            &[("TCP", "127.0.0.1", 8080)],
            true,
        ),
        (
            "second udp port conflict",
            &[("UDP", "127.0.0.1", 8000), ("UDP", "127.0.0.1", 8080)],
            &[("UDP", "127.0.0.1", 8001), ("UDP", "127.0.0.1", 8080)],
            false,
        ),
        (
            "first tcp port conflict",
            &[("TCP", "127.0.0.1", 8001), ("UDP", "127.0.0.1", 8080)],
            &[("TCP", "127.0.0.1", 8001), ("UDP", "127.0.0.1", 8081)],
            false,
        ),
        (
            "first tcp port conflict due to 0.0.0.0 hostIP",
            &[("TCP", "10.0.10.10", 8001), ("TCP", "0.0.0.0", 8001)],
            &[("TCP", "127.0.0.1", 8001)],
            false,
        ),
        (
            "TCP hostPort conflict due to 0.0.0.0 hostIP",
            &[("TCP", "10.0.10.10", 8001), ("TCP", "10.0.10.10", 8002)],
            &[("TCP", "0.0.0.0", 8001)],
            false,
        ),
        (
            "wanted 0.0.0.0 conflicts with a specific ip",
            &[("TCP", "0.0.0.0", 8001)],
            &[("TCP", "10.0.10.10", 8001)],
            false,
        ),
        (
            "second tcp port conflict to 0.0.0.0 hostIP",
            &[("UDP", "10.0.10.10", 8001), ("TCP", "0.0.0.0", 8001)],
            &[("TCP", "127.0.0.1", 8001)],
            false,
        ),
        (
            "UDP hostPort conflict due to 0.0.0.0 hostIP",
            &[("UDP", "10.0.10.10", 8001)],
            &[("UDP", "0.0.0.0", 8001)],
            false,
        ),
        (
            "0.0.0.0 on another protocol does not conflict",
            &[("UDP", "0.0.0.0", 8001)],
            &[("TCP", "0.0.0.0", 8001)],
            true,
        ),
        (
            "empty host ip means 0.0.0.0",
            &[("TCP", "", 8001)],
            &[("TCP", "127.0.0.1", 8001)],
            false,
        ),
        (
            "empty protocol means TCP",
            &[("", "127.0.0.1", 8001)],
            &[("TCP", "127.0.0.1", 8001)],
            false,
        ),
        (
            "SCTP is its own protocol",
            &[("SCTP", "127.0.0.1", 8001)],
            &[("TCP", "127.0.0.1", 8001)],
            true,
        ),
        ("nothing used", &[("TCP", "", 80)], &[], true),
    ];
    let plugin = NodePorts::new();
    for (name, wanted, used, fits) in cases {
        let p = pod("p", wanted);
        let n = node(used);
        let mut state = CycleState::default();
        let (result, status) = plugin.pre_filter(&mut state, &p, &Snapshot::default());
        assert!(result.is_none() && status.is_success(), "{name}");
        let status = plugin.filter(&state, &p, &n);
        if fits {
            assert!(status.is_success(), "{name}: {status:?}");
        } else {
            assert_eq!(status.code, Code::Unschedulable, "{name}");
            assert_eq!(status.reasons, [ERR_REASON], "{name}");
        }
        assert_eq!(super::fits(&p, &n), fits, "{name}");
    }
}

#[test]
fn pre_filter_skips_pods_without_host_ports() {
    let plugin = NodePorts::new();
    let mut state = CycleState::default();
    let (result, status) = plugin.pre_filter(&mut state, &pod("p", &[]), &Snapshot::default());
    assert!(result.is_none());
    assert_eq!(status.code, Code::Skip);
}

#[test]
fn filter_without_state_is_an_error() {
    let status = NodePorts::new().filter(
        &CycleState::default(),
        &pod("p", &[("TCP", "", 80)]),
        &node(&[]),
    );
    assert_eq!(status.code, Code::Error);
}

#[test]
fn non_positive_ports_never_conflict() {
    let used = [HostPort {
        ip: "0.0.0.0".into(),
        protocol: "TCP".into(),
        port: 0,
    }];
    assert!(!conflicts(&used, &used[0]));
}

#[test]
fn registers_and_events() {
    let plugin = Arc::new(NodePorts::new());
    assert_eq!(plugin.name(), "NodePorts");
    let events = plugin.events();
    assert!(
        events
            .iter()
            .any(|e| e.covers(&ClusterEvent::ASSIGNED_POD_DELETE))
    );
    assert!(events.iter().any(|e| e.covers(&ClusterEvent::NODE_ADD)));
    assert!(!events.iter().any(|e| e.covers(&ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_LABEL,
        "x"
    ))));
    let mut points = Points::default();
    plugin.register(&mut points);
    assert_eq!((points.pre_filter.len(), points.filter.len()), (1, 1));
}

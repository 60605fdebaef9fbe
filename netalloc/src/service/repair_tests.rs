use super::*;
use crate::service::port::PortRange;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn alloc(cidr: &str, ips: &[&str]) -> IpAllocator {
    let mut a = IpAllocator::new(cidr.parse().unwrap_or_else(|e| panic!("{e}")), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    for s in ips {
        a.allocate(ip(s)).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    a
}

fn svc(ns: &str, name: &str, ips: &[&str]) -> ServiceClusterIps {
    ServiceClusterIps {
        service: ServiceRef::new(ns, name),
        cluster_ips: ips.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn consistent_state_changes_nothing() {
    let stored = vec![
        alloc("10.0.0.0/24", &["10.0.0.1", "10.0.0.2"]),
        alloc("fd00::/120", &["fd00::1"]),
    ];
    let services = [
        svc("a", "x", &["10.0.0.1", "fd00::1"]),
        svc("a", "y", &["10.0.0.2"]),
        svc("a", "headless", &["None"]),
        svc("a", "external", &[]),
    ];
    let out = ClusterIpRepair::new().run_once(&stored, &services);
    assert_eq!(out.findings, vec![]);
    assert_eq!(out.rebuilt, stored);
}

#[test]
fn reports_upstream_findings() {
    let stored = vec![alloc("10.0.0.0/24", &["10.0.0.1", "10.0.0.99"])];
    let services = [
        svc("a", "first", &["10.0.0.1"]),
        svc("a", "second", &["10.0.0.1"]),
        svc("b", "outside", &["192.168.0.1"]),
        svc("b", "v6", &["fd00::1"]),
        svc("b", "missing", &["10.0.0.3"]),
        svc("b", "garbage", &["not-an-ip"]),
    ];
    let mut repair = ClusterIpRepair::new();
    let out = repair.run_once(&stored, &services);
    let lines: Vec<String> = out.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "the cluster IP 10.0.0.1 for service a/second was assigned to multiple services; please recreate",
            "the cluster IP 192.168.0.1 for service b/outside is not within the service CIDR 10.0.0.0/24; please recreate",
            "the cluster IP fd00::1 for service b/v6 is not within the service CIDR (IPv6 is not configured); please recreate",
            "the cluster IP 10.0.0.3 for service b/missing is not allocated; repairing",
            "the cluster IP not-an-ip for service b/garbage is not a valid IP; please recreate",
            "the cluster IP 10.0.0.99 may have leaked: flagging for later clean up",
        ]
    );
    let held: Vec<IpAddr> = out.rebuilt[0].allocated().collect();
    assert_eq!(held, vec![ip("10.0.0.1"), ip("10.0.0.3"), ip("10.0.0.99")]);
}

#[test]
fn a_leak_is_freed_on_the_third_run_unless_claimed() {
    let services = [svc("a", "x", &["10.0.0.1"])];
    let mut repair = ClusterIpRepair::new();
    let mut stored = vec![alloc("10.0.0.0/24", &["10.0.0.1", "10.0.0.50"])];
    let mut all = Vec::new();
    for _ in 0..3 {
        let out = repair.run_once(&stored, &services);
        all.push(
            out.findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        );
        stored = out.rebuilt;
    }
    assert_eq!(
        all[0],
        vec!["the cluster IP 10.0.0.50 may have leaked: flagging for later clean up"]
    );
    assert_eq!(all[1], Vec::<String>::new());
    assert_eq!(
        all[2],
        vec!["the cluster IP 10.0.0.50 appears to have leaked: cleaning up"]
    );
    assert!(!stored[0].has(ip("10.0.0.50")));
    // A suspected leak that a Service turns out to hold is forgotten.
    let mut repair = ClusterIpRepair::new();
    let stored = vec![alloc("10.0.0.0/24", &["10.0.0.50"])];
    let _ = repair.run_once(&stored, &[]);
    let out = repair.run_once(&stored, &[svc("a", "late", &["10.0.0.50"])]);
    assert_eq!(out.findings, vec![]);
    assert!(repair.leaks.is_empty());
}

fn np(ns: &str, name: &str, ports: &[(i32, &str)], health: i32) -> ServiceNodePorts {
    ServiceNodePorts {
        service: ServiceRef::new(ns, name),
        ports: ports
            .iter()
            .map(|(p, proto)| NodePortSpec {
                node_port: *p,
                protocol: proto.to_string(),
            })
            .collect(),
        health_check_node_port: health,
    }
}

#[test]
fn collect_service_node_ports_like_upstream() {
    type Case<'a> = (&'a [(i32, &'a str)], i32, Vec<i32>);
    let cases: [Case; 6] = [
        (&[(30001, "TCP"), (0, "TCP")], 0, vec![30001]),
        (&[(30001, "TCP"), (30001, "UDP")], 0, vec![30001]),
        (&[(30001, "TCP"), (30001, "TCP")], 0, vec![30001, 30001]),
        (&[(30001, "UDP")], 30001, vec![30001]),
        (&[(30001, "TCP")], 30001, vec![30001, 30001]),
        (&[(30001, "TCP")], 30002, vec![30001, 30002]),
    ];
    for (ports, health, want) in cases {
        assert_eq!(
            collect_service_node_ports(&np("a", "b", ports, health)),
            want,
            "{ports:?} {health}"
        );
    }
}

#[test]
fn node_port_repair_findings_and_consistency() {
    let mut stored = PortAllocator::new(PortRange::DEFAULT, 1);
    for p in [30001, 30002, 31000] {
        stored.allocate(p).unwrap_or_else(|e| panic!("{e}"));
    }
    let consistent = [
        np("a", "x", &[(30001, "TCP"), (30001, "UDP")], 30002),
        np("a", "y", &[(31000, "TCP")], 0),
    ];
    let out = NodePortRepair::new().run_once(&stored, &consistent);
    assert_eq!(out.findings, vec![]);
    assert_eq!(out.rebuilt, stored);

    let broken = [
        np("a", "x", &[(30001, "TCP")], 0),
        np("a", "dup", &[(30001, "TCP")], 0),
        np("a", "low", &[(80, "TCP")], 0),
        np("a", "new", &[(30005, "TCP")], 0),
    ];
    let out = NodePortRepair::new().run_once(&stored, &broken);
    let lines: Vec<String> = out.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "the node port 30001 for service a/dup was assigned to multiple services; please recreate",
            "the port 80 for service a/low is not within the port range 30000-32767; please recreate",
            "the node port 30005 for service a/new is not allocated; repairing",
            "the node port 30002 may have leaked: flagging for later clean up",
            "the node port 31000 may have leaked: flagging for later clean up",
        ]
    );
    assert_eq!(
        out.rebuilt.allocated().collect::<Vec<_>>(),
        vec![30001, 30002, 30005, 31000]
    );
}

use super::*;
use crate::cidr::Cidr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn cidrs() -> CidrSet {
    let mut s = CidrSet::new(1);
    let c: Vec<Cidr> = ["10.96.0.0/16", "fd00::/112"]
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    s.add("kubernetes", &c).unwrap_or_else(|e| panic!("{e}"));
    s
}

fn svc(ns: &str, name: &str, ips: &[&str]) -> ServiceClusterIps {
    ServiceClusterIps {
        service: ServiceRef::new(ns, name),
        cluster_ips: ips.iter().map(|s| s.to_string()).collect(),
    }
}

fn obj(addr: &str, ns: &str, name: &str, created: u64) -> IpAddressObject {
    IpAddressObject::for_service(ip(addr), &ServiceRef::new(ns, name), t(created))
}

#[test]
fn consistent_state_changes_nothing() {
    let services = [
        svc("a", "x", &["10.96.0.10", "fd00::10"]),
        svc("a", "h", &["None"]),
    ];
    let objs = [obj("10.96.0.10", "a", "x", 0), obj("fd00::10", "a", "x", 0)];
    let out = repair_ip_addresses(&cidrs(), &services, &objs, t(1000), 7);
    assert_eq!((out.findings.len(), out.actions.len()), (0, 0), "{:?}", out);
    assert_eq!(
        out.rebuilt
            .allocated(Family::V4)
            .into_iter()
            .collect::<Vec<_>>(),
        vec![ip("10.96.0.10")]
    );
    assert_eq!(
        out.rebuilt
            .allocated(Family::V6)
            .into_iter()
            .collect::<Vec<_>>(),
        vec![ip("fd00::10")]
    );
}

#[test]
fn service_side_findings() {
    let mut stale_labels = obj("10.96.0.4", "a", "labels", 0);
    stale_labels.labels.remove(LABEL_IP_FAMILY);
    let mut not_svc = obj("10.96.0.5", "a", "gw", 0);
    if let Some(p) = not_svc.parent_ref.as_mut() {
        p.resource = "gateways".into();
        p.group = "gateway.networking.k8s.io".into();
    }
    let services = [
        svc("a", "bad", &["10.96.0.300"]),
        svc("a", "out", &["192.168.0.1"]),
        svc("a", "new", &["10.96.0.2"]),
        svc("a", "dup", &["10.96.0.2"]),
        svc("a", "labels", &["10.96.0.4"]),
        svc("a", "wrongref", &["10.96.0.5"]),
    ];
    let objs = [stale_labels, not_svc];
    let out = repair_ip_addresses(&cidrs(), &services, &objs, t(1000), 7);
    let lines: Vec<String> = out.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "the ClusterIP 10.96.0.300 for Service a/bad is not a valid IP; please recreate Service",
            "the ClusterIP [IPv4]: 192.168.0.1 for Service a/out is not within any service CIDR; please recreate",
            "the ClusterIP [IPv4]: 10.96.0.2 for Service a/new is not allocated; repairing",
            "the cluster IP [IPv4]:10.96.0.2 for service a/dup was assigned to other services a/new; please recreate",
            "the ClusterIP [IPv4]: 10.96.0.5 for Service a/wrongref has a wrong reference; repairing",
        ]
    );
    assert_eq!(
        out.actions,
        vec![
            IpAddressAction::Create {
                ip: ip("10.96.0.2"),
                service: ServiceRef::new("a", "new")
            },
            IpAddressAction::Recreate {
                ip: ip("10.96.0.4"),
                service: ServiceRef::new("a", "labels")
            },
            IpAddressAction::Recreate {
                ip: ip("10.96.0.5"),
                service: ServiceRef::new("a", "wrongref")
            },
        ]
    );
    let held: Vec<IpAddr> = out.rebuilt.allocated(Family::V4).into_iter().collect();
    assert_eq!(
        held,
        vec![ip("10.96.0.2"), ip("10.96.0.4"), ip("10.96.0.5")]
    );
}

#[test]
fn ip_address_side_findings_and_grace_period() {
    let mut foreign = obj("10.96.0.9", "a", "x", 0);
    foreign
        .labels
        .insert(LABEL_MANAGED_BY.into(), "someone-else".into());
    let mut orphan_ref = obj("10.96.0.8", "a", "x", 0);
    orphan_ref.parent_ref = None;
    let services = [svc("a", "x", &["10.96.0.1"]), svc("a", "y", &[])];
    let objs = [
        obj("10.96.0.1", "a", "x", 0),
        obj("10.96.0.2", "a", "gone", 0),
        obj("10.96.0.3", "a", "gone", 990),
        obj("10.96.0.4", "a", "y", 0),
        foreign,
        orphan_ref,
    ];
    let out = repair_ip_addresses(&cidrs(), &services, &objs, t(1000), 7);
    let lines: Vec<String> = out.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "IPAddress 10.96.0.2 appears to have leaked: cleaning up",
            "the IPAddress: 10.96.0.4 for Service a/y has a wrong reference; cleaning up",
            "IPAddress 10.96.0.8 appears to have been modified, not referencing a Service <nil>: cleaning up",
        ]
    );
    assert_eq!(
        out.actions,
        vec![
            IpAddressAction::Delete {
                name: "10.96.0.2".into()
            },
            IpAddressAction::RequeueAfter {
                name: "10.96.0.3".into(),
                after: Duration::from_secs(50)
            },
            IpAddressAction::Delete {
                name: "10.96.0.4".into()
            },
            IpAddressAction::Delete {
                name: "10.96.0.8".into()
            },
        ]
    );
    let held: Vec<IpAddr> = out.rebuilt.allocated(Family::V4).into_iter().collect();
    assert_eq!(
        held,
        vec![ip("10.96.0.1"), ip("10.96.0.3"), ip("10.96.0.9")]
    );
}

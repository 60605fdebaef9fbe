//! Property tests across the Service allocators: no value is ever held twice, snapshots
//! round-trip, and repairs are exact.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::*;
use crate::cidr::{Cidr, Family};

#[derive(Clone, Debug)]
enum Op {
    Next,
    Take(u32),
    Release(u32),
    SnapshotRestore,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(Op::Next),
            2 => (0u32..80).prop_map(Op::Take),
            3 => (0u32..80).prop_map(Op::Release),
            1 => Just(Op::SnapshotRestore),
        ],
        0..200,
    )
}

fn v4(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

fn v6(i: u32) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(i)))
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// IpAllocator against a set model, for IPv4 (network and broadcast excluded) and IPv6.
    #[test]
    fn ip_allocator_never_hands_out_twice(seed in any::<u64>(), ops in ops(), v6_family in any::<bool>()) {
        let (block, addr): (&str, fn(u32) -> IpAddr) =
            if v6_family { ("fd00::/122", v6) } else { ("10.0.0.0/26", v4) };
        let mut a = IpAllocator::new(cidr(block), seed).unwrap_or_else(|e| panic!("{e}"));
        let usable: BTreeSet<IpAddr> = (0..80).map(addr).filter(|ip| a.contains(*ip)).collect();
        prop_assert_eq!(usable.len(), a.capacity());
        let mut model = BTreeSet::new();
        for op in ops {
            match op {
                Op::Next => match a.allocate_next() {
                    Ok(ip) => {
                        prop_assert!(usable.contains(&ip));
                        prop_assert!(model.insert(ip), "{} handed out twice", ip);
                    }
                    Err(e) => {
                        prop_assert_eq!(e, ServiceAllocError::Full);
                        prop_assert_eq!(model.len(), usable.len());
                    }
                },
                Op::Take(i) => {
                    let ip = addr(i);
                    let got = a.allocate(ip);
                    if !usable.contains(&ip) {
                        let not_in_range = matches!(got, Err(ServiceAllocError::IpNotInRange { .. }));
                        prop_assert!(not_in_range);
                    } else if model.contains(&ip) {
                        prop_assert_eq!(got, Err(ServiceAllocError::IpAllocated));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        model.insert(ip);
                    }
                }
                Op::Release(i) => {
                    a.release(addr(i));
                    model.remove(&addr(i));
                }
                Op::SnapshotRestore => {
                    let snap = a.snapshot();
                    let restored = IpAllocator::from_snapshot(&snap, seed ^ 1).unwrap_or_else(|e| panic!("{e}"));
                    prop_assert_eq!(&restored, &a);
                    a = restored;
                }
            }
            prop_assert_eq!(a.used(), model.len());
            prop_assert_eq!(a.free(), usable.len() - model.len());
            prop_assert_eq!(a.allocated().collect::<BTreeSet<_>>(), model.clone());
        }
    }

    /// PortAllocator against a set model.
    #[test]
    fn port_allocator_never_hands_out_twice(seed in any::<u64>(), ops in ops(), size in 0u16..70) {
        let range = PortRange::new(30000, 30000 + size).unwrap_or_default();
        let mut a = PortAllocator::new(range, seed);
        let mut model = BTreeSet::new();
        for op in ops {
            match op {
                Op::Next => match a.allocate_next() {
                    Ok(p) => {
                        prop_assert!(range.contains(p));
                        prop_assert!(model.insert(p), "{} handed out twice", p);
                    }
                    Err(e) => {
                        prop_assert_eq!(e, ServiceAllocError::Full);
                        prop_assert_eq!(model.len() as u32, range.size());
                    }
                },
                Op::Take(i) => {
                    let p = 29990 + i as i32;
                    let got = a.allocate(p);
                    if !range.contains(p) {
                        let not_in_range = matches!(got, Err(ServiceAllocError::PortNotInRange { .. }));
                        prop_assert!(not_in_range);
                    } else if model.contains(&p) {
                        prop_assert_eq!(got, Err(ServiceAllocError::PortAllocated));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        model.insert(p);
                    }
                }
                Op::Release(i) => {
                    a.release(29990 + i as i32);
                    model.remove(&(29990 + i as i32));
                }
                Op::SnapshotRestore => {
                    let restored = PortAllocator::from_snapshot(&a.snapshot(), seed ^ 1).unwrap_or_else(|e| panic!("{e}"));
                    prop_assert_eq!(&restored, &a);
                    a = restored;
                }
            }
            prop_assert_eq!(a.allocated().collect::<BTreeSet<_>>(), model.clone());
        }
    }

    /// Restoring arbitrary bytes never panics; what it accepts round-trips.
    #[test]
    fn restore_of_garbage_is_safe(data in prop::collection::vec(any::<u8>(), 0..40), size in 0u16..300) {
        let range = PortRange::new(1000, 1000 + size).unwrap_or_default();
        let mut a = PortAllocator::new(range, 1);
        let snap = RangeAllocation { range: range.to_string(), data };
        if a.restore(&snap).is_ok() {
            let again = PortAllocator::from_snapshot(&a.snapshot(), 2).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(again, a);
        }
    }

    /// CidrSet with overlapping, terminating and added-later CIDRs against a set model.
    #[test]
    fn cidr_set_never_hands_out_twice(
        seed in any::<u64>(),
        ops in prop::collection::vec((0u8..8, 0u32..80), 0..200),
    ) {
        let mut s = CidrSet::new(seed);
        s.add("wide", &[cidr("10.0.0.0/26"), cidr("fd00::/122")]).unwrap_or_else(|e| panic!("{e}"));
        let mut model: BTreeSet<IpAddr> = BTreeSet::new();
        let mut narrow = false;
        for (kind, i) in ops {
            let fam_v6 = i % 2 == 1;
            let ip = if fam_v6 { v6(i / 2) } else { v4(i / 2) };
            match kind {
                0 | 1 => {
                    if let Ok(ip) = s.allocate_next(if fam_v6 { Family::V6 } else { Family::V4 }) {
                        prop_assert!(model.insert(ip), "{} handed out twice", ip);
                    }
                }
                2 => {
                    if s.allocate(ip).is_ok() {
                        prop_assert!(model.insert(ip), "{} handed out twice", ip);
                    } else {
                        prop_assert!(model.contains(&ip) || !s.covers(ip) || s.allocate(ip).is_err());
                    }
                }
                3 | 4 => {
                    s.release(ip);
                    model.remove(&ip);
                }
                5 if !narrow => {
                    // A nested CIDR arrives; the wide one starts terminating.
                    s.add("narrow", &[cidr("10.0.0.16/28")]).unwrap_or_else(|e| panic!("{e}"));
                    s.mark_terminating("wide").unwrap_or_else(|e| panic!("{e}"));
                    narrow = true;
                }
                6 => {
                    let before = s.clone();
                    if s.remove("narrow").is_err() {
                        prop_assert_eq!(&s, &before);
                    } else {
                        narrow = false;
                        s.set_ready("wide", true).unwrap_or_else(|e| panic!("{e}"));
                    }
                }
                _ => {
                    let fams = if fam_v6 { [Family::V6, Family::V4] } else { [Family::V4, Family::V6] };
                    let before = s.clone();
                    match s.allocate_for_families(&fams, &[None, Some(if fam_v6 { v4(i / 2) } else { v6(i / 2) })]) {
                        Ok(got) => {
                            prop_assert_eq!(got.len(), 2);
                            for g in got {
                                prop_assert!(model.insert(g), "{} handed out twice", g);
                            }
                        }
                        Err(_) => prop_assert_eq!(&s, &before),
                    }
                }
            }
            let held: BTreeSet<IpAddr> =
                s.allocated(Family::V4).into_iter().chain(s.allocated(Family::V6)).collect();
            prop_assert_eq!(&held, &model);
            prop_assert_eq!(s.used(Family::V4) + s.used(Family::V6), model.len());
        }
    }

    /// Bitmap repair: a consistent state changes nothing; an inconsistent one reports each
    /// extra holder as a duplicate, each unrecorded claim once, each leak once.
    #[test]
    fn cluster_ip_repair_is_exact(
        claims in prop::collection::vec((0u32..40, 0u32..60), 0..40),
        stored_extra in prop::collection::btree_set(1u32..60, 0..20),
        drop_from_stored in prop::collection::btree_set(1u32..60, 0..10),
    ) {
        // Service i holds 10.0.0.(v); v == 0 is the network address, out of range.
        let mut by_service: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (svc, v) in &claims {
            by_service.entry(*svc).or_default().push(*v);
        }
        let services: Vec<ServiceClusterIps> = by_service
            .iter()
            .map(|(svc, vs)| ServiceClusterIps {
                service: ServiceRef::new("ns", &format!("s{svc}")),
                cluster_ips: vs.iter().map(|v| v4(*v).to_string()).collect(),
            })
            .collect();
        let claimed_in_order: Vec<u32> = by_service.values().flatten().copied().collect();
        let claimed: BTreeSet<u32> = claimed_in_order.iter().copied().filter(|v| *v != 0).collect();

        let mut consistent = IpAllocator::new(cidr("10.0.0.0/26"), 1).unwrap_or_else(|e| panic!("{e}"));
        for v in &claimed {
            consistent.allocate(v4(*v)).unwrap_or_else(|e| panic!("{e}"));
        }
        let dups = claimed_in_order.iter().filter(|v| **v != 0).count() - claimed.len();
        let out = ClusterIpRepair::new().run_once(std::slice::from_ref(&consistent), &services);
        let dup_found = out.findings.iter().filter(|f| matches!(f, RepairFinding::Duplicate { .. })).count();
        prop_assert_eq!(dup_found, dups);
        if dups == 0 && !claimed_in_order.contains(&0) {
            prop_assert!(out.findings.is_empty());
        }
        prop_assert_eq!(&out.rebuilt[0], &consistent);

        let mut stored = consistent.clone();
        for v in &stored_extra { let _ = stored.allocate(v4(*v)); }
        for v in &drop_from_stored { stored.release(v4(*v)); }
        let stored_set: BTreeSet<u32> = (1..63).filter(|v| stored.has(v4(*v))).collect();
        let out = ClusterIpRepair::new().run_once(std::slice::from_ref(&stored), &services);
        let mut leaks = BTreeSet::new();
        let mut not_alloc = BTreeSet::new();
        let mut dup_found = 0;
        for f in &out.findings {
            match f {
                RepairFinding::MaybeLeaked { value } => prop_assert!(leaks.insert(*value)),
                RepairFinding::NotAllocated { value, .. } => prop_assert!(not_alloc.insert(*value)),
                RepairFinding::Duplicate { .. } => dup_found += 1,
                RepairFinding::OutOfRange { value, .. } => prop_assert_eq!(*value, v4(0)),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(dup_found, dups);
        let want_leaks: BTreeSet<IpAddr> = stored_set.difference(&claimed).map(|v| v4(*v)).collect();
        let want_missing: BTreeSet<IpAddr> = claimed.difference(&stored_set).map(|v| v4(*v)).collect();
        prop_assert_eq!(leaks, want_leaks);
        prop_assert_eq!(not_alloc, want_missing);
        // Leaks stay held for now; everything claimed is held.
        let held: BTreeSet<IpAddr> = out.rebuilt[0].allocated().collect();
        let want_held: BTreeSet<IpAddr> = claimed.union(&stored_set).map(|v| v4(*v)).collect();
        prop_assert_eq!(held, want_held);
    }

    /// Port repair of a consistent state changes nothing.
    #[test]
    fn node_port_repair_of_consistent_state_is_a_no_op(ports in prop::collection::btree_set(30000i32..32768, 0..50)) {
        let mut stored = PortAllocator::new(PortRange::DEFAULT, 3);
        let services: Vec<ServiceNodePorts> = ports
            .iter()
            .map(|p| {
                stored.allocate(*p).unwrap_or_else(|e| panic!("{e}"));
                ServiceNodePorts {
                    service: ServiceRef::new("ns", &format!("p{p}")),
                    ports: vec![NodePortSpec { node_port: *p, protocol: "TCP".into() }],
                    health_check_node_port: 0,
                }
            })
            .collect();
        let mut repair = NodePortRepair::new();
        for _ in 0..3 {
            let out = repair.run_once(&stored, &services);
            prop_assert!(out.findings.is_empty());
            prop_assert_eq!(&out.rebuilt, &stored);
        }
    }

    /// IPAddress repair: consistent objects change nothing; duplicates and leaks are exact.
    #[test]
    fn ip_address_repair_is_exact(
        claims in prop::collection::vec((0u32..30, 1u32..50), 0..30),
        orphans in prop::collection::btree_set(50u32..60, 0..5),
    ) {
        let mut set = CidrSet::new(1);
        set.add("k", &[cidr("10.0.0.0/26")]).unwrap_or_else(|e| panic!("{e}"));
        let mut by_service: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for (svc, v) in &claims {
            by_service.entry(*svc).or_default().insert(*v);
        }
        let services: Vec<ServiceClusterIps> = by_service
            .iter()
            .map(|(svc, vs)| ServiceClusterIps {
                service: ServiceRef::new("ns", &format!("s{svc}")),
                cluster_ips: vs.iter().map(|v| v4(*v).to_string()).collect(),
            })
            .collect();
        // The first Service (in list order) that claims an address holds its IPAddress.
        let mut holder: BTreeMap<u32, u32> = BTreeMap::new();
        for (svc, vs) in &by_service {
            for v in vs { holder.entry(*v).or_insert(*svc); }
        }
        let dups: usize = by_service.values().map(BTreeSet::len).sum::<usize>() - holder.len();
        let t0 = SystemTime::UNIX_EPOCH;
        let mut objs: Vec<IpAddressObject> = holder
            .iter()
            .map(|(v, svc)| IpAddressObject::for_service(v4(*v), &ServiceRef::new("ns", &format!("s{svc}")), t0))
            .collect();
        let out = repair_ip_addresses(&set, &services, &objs, t0 + Duration::from_secs(3600), 1);
        prop_assert!(out.actions.is_empty());
        let dup_found = out.findings.iter().filter(|f| matches!(f, IpAddressFinding::Duplicate { .. })).count();
        prop_assert_eq!(dup_found, dups);
        prop_assert_eq!(out.findings.len(), dups);
        let held: BTreeSet<IpAddr> = out.rebuilt.allocated(Family::V4);
        prop_assert_eq!(held, holder.keys().map(|v| v4(*v)).collect::<BTreeSet<_>>());

        for v in &orphans {
            objs.push(IpAddressObject::for_service(v4(*v), &ServiceRef::new("ns", "gone"), t0));
        }
        let out = repair_ip_addresses(&set, &services, &objs, t0 + Duration::from_secs(3600), 1);
        let leaked: BTreeSet<String> = out
            .findings
            .iter()
            .filter_map(|f| match f { IpAddressFinding::Leaked { name } => Some(name.clone()), _ => None })
            .collect();
        prop_assert_eq!(leaked, orphans.iter().map(|v| v4(*v).to_string()).collect::<BTreeSet<_>>());
        prop_assert_eq!(out.actions.len(), orphans.len());
    }
}

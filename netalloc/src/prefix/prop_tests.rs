//! Property tests: no prefix or address is ever handed out twice, whatever the interleaving of
//! allocate / release / restore; snapshots round-trip; repair is exact.

use super::config_tests::dual_config;
use super::*;
use crate::cidr::Cidr;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "nowhere"];

#[derive(Clone, Debug)]
enum Op {
    Allocate { node: u8, zone: u8, count: u8 },
    Release { node: u8, pick: u8 },
    ReleaseNode { node: u8 },
    Restore,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..8, 0u8..3, 0u8..5).prop_map(|(node, zone, count)| Op::Allocate { node, zone, count }),
        2 => (0u8..8, any::<u8>()).prop_map(|(node, pick)| Op::Release { node, pick }),
        1 => (0u8..8).prop_map(|node| Op::ReleaseNode { node }),
        1 => Just(Op::Restore),
    ]
}

fn name(node: u8) -> String {
    format!("node-{node}")
}

/// Runs `ops`, checking after each step that the allocator agrees with a simple model in
/// which every prefix has at most one holder.
fn run(ops: &[Op]) -> Result<PrefixAllocator, TestCaseError> {
    let config = dual_config();
    let mut alloc = PrefixAllocator::new(config.clone()).expect("must succeed");
    let mut model: BTreeMap<Cidr, String> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Allocate { node, zone, count } => {
                let before = alloc.clone();
                match alloc.allocate(&name(*node), ZONES[*zone as usize], *count as usize) {
                    Ok(got) => {
                        for p in got {
                            prop_assert!(
                                model.insert(p, name(*node)).is_none(),
                                "{} handed out twice",
                                p
                            );
                        }
                    }
                    Err(_) => prop_assert_eq!(&alloc, &before, "a failed allocate changed state"),
                }
            }
            Op::Release { node, pick } => {
                let held = alloc.prefixes_of(&name(*node));
                if !held.is_empty() {
                    let p = held[*pick as usize % held.len()];
                    alloc.release(&name(*node), &p).expect("must succeed");
                    model.remove(&p);
                }
            }
            Op::ReleaseNode { node } => {
                for p in alloc.release_node(&name(*node)) {
                    prop_assert_eq!(model.remove(&p), Some(name(*node)));
                }
            }
            Op::Restore => {
                alloc = PrefixAllocator::restore_json(&alloc.snapshot_json(), config.clone())
                    .expect("must succeed");
            }
        }
        let mut seen = BTreeMap::new();
        for rec in alloc.recorded() {
            for p in rec.prefixes {
                prop_assert!(
                    seen.insert(p, rec.node.clone()).is_none(),
                    "{} on two nodes",
                    p
                );
                prop_assert!(alloc.is_allocated(&p));
            }
        }
        prop_assert_eq!(&seen, &model);
        let free: u64 = ["us-east-1a", "us-east-1b"]
            .iter()
            .map(|z| {
                alloc
                    .free_in_zone(z, crate::cidr::Family::V4)
                    .expect("must succeed")
            })
            .sum();
        let used_v4 = model
            .keys()
            .filter(|p| p.family() == crate::cidr::Family::V4)
            .count() as u64;
        prop_assert_eq!(free + used_v4, 36);
    }
    Ok(alloc)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_prefix_is_handed_out_twice(ops in prop::collection::vec(op(), 0..80)) {
        run(&ops)?;
    }

    #[test]
    fn restore_of_snapshot_is_identity(ops in prop::collection::vec(op(), 0..60)) {
        let alloc = run(&ops)?;
        let back = PrefixAllocator::restore(&alloc.snapshot(), dual_config()).expect("must succeed");
        prop_assert_eq!(&back, &alloc);
        prop_assert_eq!(back.snapshot(), alloc.snapshot());
    }

    #[test]
    fn repair_of_a_consistent_state_changes_nothing(ops in prop::collection::vec(op(), 0..60)) {
        let alloc = run(&ops)?;
        let report = plan(&dual_config(), &alloc.recorded(), Some(&alloc)).expect("must succeed");
        prop_assert!(report.is_clean(), "{:?}", report.messages());
        prop_assert_eq!(&report.allocator, &alloc);
    }

    #[test]
    fn repair_reports_each_double_allocation_and_leak_exactly(
        ops in prop::collection::vec(op(), 0..60),
        dups in prop::collection::vec((any::<u16>(), 0u8..10), 0..6),
        drops in prop::collection::vec(any::<u8>(), 0..3),
    ) {
        let alloc = run(&ops)?;
        let mut recorded = alloc.recorded();
        let all: Vec<(Cidr, String)> = recorded
            .iter()
            .flat_map(|r| r.prefixes.iter().map(move |p| (*p, r.node.clone())))
            .collect();
        // Copy some prefixes onto other (possibly new) nodes of the same zone.
        for (pick, target) in dups {
            if all.is_empty() {
                break;
            }
            let (prefix, owner) = &all[pick as usize % all.len()];
            let zone = alloc.zone_of(owner).expect("must succeed").to_owned();
            let target = format!("node-{target}");
            match recorded.iter_mut().find(|r| r.node == target) {
                Some(r) if r.zone == zone => {
                    if !r.prefixes.contains(prefix) {
                        r.prefixes.push(*prefix);
                    }
                }
                Some(_) => {}
                None => recorded.push(RecordedNode { node: target, zone, prefixes: vec![*prefix] }),
            }
        }
        // Forget some nodes entirely, as if their objects were lost.
        for d in drops {
            if !recorded.is_empty() {
                let at = d as usize % recorded.len();
                recorded.remove(at);
            }
        }
        // The expected findings, straight from the input.
        let mut claims: BTreeMap<Cidr, Vec<String>> = BTreeMap::new();
        for r in &recorded {
            for p in &r.prefixes {
                claims.entry(*p).or_default().push(r.node.clone());
            }
        }
        let want_doubles: BTreeMap<Cidr, Vec<String>> =
            claims.iter().filter(|(_, n)| n.len() > 1).map(|(p, n)| (*p, n.clone())).collect();
        let want_leaks: BTreeSet<Cidr> =
            all.iter().map(|(p, _)| *p).filter(|p| !claims.contains_key(p)).collect();

        let report = plan(&dual_config(), &recorded, Some(&alloc)).expect("must succeed");
        let got_doubles: BTreeMap<Cidr, Vec<String>> =
            report.double_allocations.iter().map(|d| (d.prefix, d.nodes.clone())).collect();
        prop_assert_eq!(got_doubles.len(), report.double_allocations.len(), "a double reported twice");
        prop_assert_eq!(got_doubles, want_doubles);
        let got_leaks: BTreeSet<Cidr> = report.leaks.iter().copied().collect();
        prop_assert_eq!(got_leaks.len(), report.leaks.len(), "a leak reported twice");
        prop_assert_eq!(got_leaks, want_leaks);
        prop_assert!(report.outside.is_empty());
        prop_assert!(report.wrong_zone.is_empty());
        // The rebuilt state holds every claimed prefix exactly once, and nothing else.
        let mut seen = BTreeSet::new();
        for rec in report.allocator.recorded() {
            for p in rec.prefixes {
                prop_assert!(seen.insert(p), "{} on two nodes after repair", p);
            }
        }
        prop_assert_eq!(seen, claims.keys().copied().collect::<BTreeSet<_>>());
        // And a second repair of the rebuilt state against itself is clean.
        let again = plan(&dual_config(), &report.allocator.recorded(), Some(&report.allocator)).expect("must succeed");
        prop_assert!(again.is_clean());
        prop_assert_eq!(&again.allocator, &report.allocator);
    }

    #[test]
    fn no_address_is_handed_out_twice(
        ops in prop::collection::vec((0u8..4, 0u8..40), 0..200),
    ) {
        let prefixes: Vec<Cidr> = vec!["10.0.0.0/28".parse().expect("must succeed"), "10.0.0.32/29".parse().expect("must succeed")];
        let mut pool = NodeAddresses::new(&prefixes).expect("must succeed");
        let mut model: BTreeMap<String, IpAddr> = BTreeMap::new();
        for (kind, id) in ops {
            let id = format!("c{id}");
            match kind {
                0 | 1 => match pool.assign(&id) {
                    Ok(addr) => {
                        if let Some(old) = model.get(&id) {
                            prop_assert_eq!(*old, addr, "ADD is not idempotent");
                        } else {
                            prop_assert!(!model.values().any(|a| *a == addr), "{} twice", addr);
                            prop_assert!(prefixes.iter().any(|p| p.contains(addr)));
                            model.insert(id, addr);
                        }
                    }
                    Err(_) => prop_assert_eq!(model.len(), 24),
                },
                2 => prop_assert_eq!(pool.release(&id), model.remove(&id)),
                _ => {
                    let back = NodeAddresses::restore_json(&pool.snapshot_json()).expect("must succeed");
                    prop_assert_eq!(&back, &pool);
                    pool = back;
                }
            }
            prop_assert_eq!(pool.used() as usize, model.len());
        }
    }
}

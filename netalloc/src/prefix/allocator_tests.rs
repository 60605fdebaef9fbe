use super::config_tests::{c, dual_config, small_config};
use super::*;
use crate::cidr::Family;
use std::collections::BTreeSet;

#[test]
fn allocates_in_the_nodes_zone_from_the_emptiest_subnet() {
    let mut alloc = PrefixAllocator::new(small_config()).expect("must succeed");
    let got = alloc.allocate("n1", "us-east-1a", 3).expect("must succeed");
    // Ties go to config order, then the emptier subnet: the grants alternate.
    assert_eq!(
        got,
        vec![c("10.0.0.0/28"), c("10.0.1.0/28"), c("10.0.0.16/28")]
    );
    let got = alloc.allocate("n2", "us-east-1b", 1).expect("must succeed");
    assert_eq!(got, vec![c("10.0.2.0/28")]);
    assert_eq!(alloc.prefixes_of("n1").len(), 3);
    assert_eq!(alloc.zone_of("n1"), Some("us-east-1a"));
    assert_eq!(alloc.zone_of("nobody"), None);
    assert_eq!(alloc.node_count(), 2);
    assert_eq!(alloc.free_in_zone("us-east-1a", Family::V4), Some(29));
    assert_eq!(alloc.free_in_zone("us-east-1b", Family::V4), Some(3));
    assert_eq!(alloc.free_in_zone("nowhere", Family::V4), None);
    assert!(alloc.is_allocated(&c("10.0.2.0/28")));
    assert!(!alloc.is_allocated(&c("10.0.2.16/28")));
}

#[test]
fn an_exhausted_zone_says_which_subnets_are_full() {
    let mut alloc = PrefixAllocator::new(small_config()).expect("must succeed");
    alloc.allocate("n1", "us-east-1b", 4).expect("must succeed");
    let err = alloc
        .allocate("n2", "us-east-1b", 1)
        .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "no free /28 prefix in zone us-east-1b: subnets 10.0.2.0/26 (0 free)"
    );
    assert!(
        matches!(err, AllocError::ZoneExhausted { ref zone, wanted: 1, .. } if zone == "us-east-1b")
    );

    let err = alloc
        .allocate("n3", "us-east-1a", 33)
        .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "fewer than 33 free /28 prefixes in zone us-east-1a: subnets 10.0.0.0/24 (16 free), 10.0.1.0/24 (16 free)"
    );
    assert_eq!(alloc.prefixes_of("n3"), vec![], "all-or-nothing");
    assert_eq!(alloc.free_in_zone("us-east-1a", Family::V4), Some(32));
}

#[test]
fn unknown_zone_and_zone_change_are_errors() {
    let mut alloc = PrefixAllocator::new(small_config()).expect("must succeed");
    let err = alloc
        .allocate("n1", "eu-west-1a", 1)
        .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "zone \"eu-west-1a\" has no configured subnet (known zones: us-east-1a, us-east-1b)"
    );
    alloc.allocate("n1", "us-east-1a", 1).expect("must succeed");
    let err = alloc
        .allocate("n1", "us-east-1b", 1)
        .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "node n1 holds prefixes in zone us-east-1a, not in zone us-east-1b"
    );
}

#[test]
fn release_returns_prefixes_and_errors_on_foreign_ones() {
    let mut alloc = PrefixAllocator::new(small_config()).expect("must succeed");
    let a = alloc.allocate("n1", "us-east-1a", 2).expect("must succeed");
    let b = alloc.allocate("n2", "us-east-1a", 1).expect("must succeed");
    let err = alloc.release("n1", &b[0]).expect_err("must fail");
    assert_eq!(
        err.to_string(),
        format!("node n1 does not hold prefix {}", b[0])
    );
    assert!(alloc.release("n1", &c("192.168.0.0/28")).is_err());
    assert!(alloc.release("ghost", &a[0]).is_err());
    alloc.release("n1", &a[0]).expect("must succeed");
    assert!(!alloc.is_allocated(&a[0]));
    assert_eq!(alloc.prefixes_of("n1"), vec![a[1]]);
    assert_eq!(alloc.release_node("n1"), vec![a[1]]);
    assert_eq!(alloc.release_node("n1"), vec![]);
    assert_eq!(alloc.node_count(), 1);
    alloc.release("n2", &b[0]).expect("must succeed");
    assert_eq!(
        alloc.node_count(),
        0,
        "a node holding nothing has no record"
    );
}

#[test]
fn want_for_counts_held_ipv4_prefixes() {
    let mut alloc = PrefixAllocator::new(dual_config()).expect("must succeed");
    assert_eq!(alloc.want_for("n1", 0), 1);
    let got = alloc
        .allocate("n1", "us-east-1a", alloc.want_for("n1", 0))
        .expect("must succeed");
    assert_eq!(got.len(), 2, "one IPv4 and the IPv6 prefix");
    assert_eq!(alloc.want_for("n1", 0), 0);
    assert_eq!(alloc.want_for("n1", 1), 1);
    assert_eq!(alloc.want_for("n1", 40), 3 + 1 - 1);
    assert_eq!(alloc.want_for("n1", 110), 6);
}

#[test]
fn dual_stack_adds_one_ipv6_prefix_once() {
    let mut alloc = PrefixAllocator::new(dual_config()).expect("must succeed");
    let got = alloc.allocate("n1", "us-east-1a", 1).expect("must succeed");
    assert_eq!(got, vec![c("10.0.0.0/28"), c("2001:db8::/80")]);
    let got = alloc.allocate("n1", "us-east-1a", 1).expect("must succeed");
    assert_eq!(got, vec![c("10.0.1.0/28")]);
    let got = alloc.allocate("n2", "us-east-1a", 0).expect("must succeed");
    assert_eq!(got, vec![c("2001:db8::1:0:0:0/80")]);
    // Zone b has 4 IPv6 /80s (a /78); the fifth node finds it exhausted and gets nothing.
    for i in 0..4 {
        alloc
            .allocate(&format!("b{i}"), "us-east-1b", 0)
            .expect("must succeed");
    }
    let err = alloc
        .allocate("b4", "us-east-1b", 1)
        .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "no free /80 prefix in zone us-east-1b: subnets 2001:db8:0:1::/78 (0 free)"
    );
    assert_eq!(alloc.free_in_zone("us-east-1b", Family::V4), Some(4));
    assert!(alloc.prefixes_of("b4").is_empty());
}

#[test]
fn recorded_lists_nodes_sorted_with_zone() {
    let mut alloc = PrefixAllocator::new(small_config()).expect("must succeed");
    alloc.allocate("n2", "us-east-1b", 1).expect("must succeed");
    alloc.allocate("n1", "us-east-1a", 1).expect("must succeed");
    let rec = alloc.recorded();
    assert_eq!(rec.len(), 2);
    assert_eq!(rec[0].node, "n1");
    assert_eq!(rec[1].zone, "us-east-1b");
    assert_eq!(rec[1].prefixes, vec![c("10.0.2.0/28")]);
}

#[test]
fn memory_stays_small_per_node() {
    let mut alloc = PrefixAllocator::new(small_config()).expect("must succeed");
    let empty = alloc.memory_bytes();
    for i in 0..10 {
        alloc
            .allocate(&format!("node-{i}"), "us-east-1a", 2)
            .expect("must succeed");
    }
    let per_node = (alloc.memory_bytes() - empty) / 10;
    assert!(per_node < 200, "{per_node} bytes per node");
}

#[test]
fn bench_runs_and_hands_out_distinct_prefixes() {
    let figures = bench(50, 2).expect("must succeed");
    assert_eq!(figures.distinct_prefixes, 100);
    assert!(figures.bytes > 0);
    assert!(figures.snapshot_bytes > 0);
    let distinct: BTreeSet<_> = [1, 2].into_iter().collect();
    assert_eq!(distinct.len(), 2);
}

use super::config_tests::{c, dual_config, small_config};
use super::*;

fn rec(node: &str, zone: &str, prefixes: &[&str]) -> RecordedNode {
    RecordedNode {
        node: node.into(),
        zone: zone.into(),
        prefixes: prefixes.iter().map(|p| c(p)).collect(),
    }
}

#[test]
fn a_consistent_state_changes_nothing() {
    let mut alloc = PrefixAllocator::new(dual_config()).expect("must succeed");
    alloc.allocate("n1", "us-east-1a", 2).expect("must succeed");
    alloc.allocate("n2", "us-east-1b", 1).expect("must succeed");
    let report = plan(&dual_config(), &alloc.recorded(), Some(&alloc)).expect("must succeed");
    assert!(report.is_clean(), "{:?}", report.messages());
    assert_eq!(report.allocator, alloc);
    assert!(report.messages().is_empty());
}

#[test]
fn rebuilds_from_nodes_alone_after_a_restart() {
    let mut alloc = PrefixAllocator::new(small_config()).expect("must succeed");
    alloc.allocate("n1", "us-east-1a", 2).expect("must succeed");
    let report = plan(&small_config(), &alloc.recorded(), None).expect("must succeed");
    assert!(report.is_clean());
    assert_eq!(report.allocator.prefixes_of("n1"), alloc.prefixes_of("n1"));
    assert!(report.allocator.is_allocated(&c("10.0.0.0/28")));
}

#[test]
fn every_kind_of_inconsistency_is_reported() {
    let mut current = PrefixAllocator::new(small_config()).expect("must succeed");
    current
        .allocate("n1", "us-east-1a", 1)
        .expect("must succeed"); // 10.0.0.0/28
    current
        .allocate("gone", "us-east-1a", 1)
        .expect("must succeed"); // 10.0.1.0/28, leaked
    let recorded = vec![
        rec("n1", "us-east-1a", &["10.0.0.0/28", "10.0.0.16/28"]),
        rec("n2", "us-east-1a", &["10.0.0.0/28", "10.0.0.0/28"]),
        rec(
            "n3",
            "us-east-1b",
            &["10.0.0.0/28", "10.9.0.0/28", "10.0.2.0/27"],
        ),
        rec("n4", "us-east-1b", &["10.0.0.32/28"]),
        rec("n5", "mars-1a", &["10.0.2.0/28"]),
    ];
    let report = plan(&small_config(), &recorded, Some(&current)).expect("must succeed");
    assert_eq!(
        report.double_allocations,
        vec![DoubleAllocation {
            prefix: c("10.0.0.0/28"),
            nodes: vec!["n1".into(), "n2".into(), "n3".into()]
        }]
    );
    assert_eq!(
        report.outside,
        vec![
            OutsidePrefix {
                node: "n3".into(),
                prefix: c("10.9.0.0/28")
            },
            OutsidePrefix {
                node: "n3".into(),
                prefix: c("10.0.2.0/27")
            },
        ]
    );
    assert_eq!(report.wrong_zone.len(), 2);
    assert_eq!(report.wrong_zone[0].node, "n4");
    assert_eq!(report.wrong_zone[0].subnet_zone, "us-east-1a");
    assert_eq!(report.wrong_zone[1].node_zone, "mars-1a");
    assert_eq!(report.leaks, vec![c("10.0.1.0/28")]);
    let not_allocated: Vec<_> = report
        .not_allocated
        .iter()
        .map(|n| n.prefix.to_string())
        .collect();
    assert_eq!(
        not_allocated,
        ["10.0.0.16/28", "10.0.0.32/28", "10.0.2.0/28"]
    );

    let rebuilt = &report.allocator;
    assert_eq!(
        rebuilt.prefixes_of("n1"),
        vec![c("10.0.0.0/28"), c("10.0.0.16/28")]
    );
    assert!(
        rebuilt.prefixes_of("n2").is_empty(),
        "the first claimant keeps a double allocation"
    );
    assert_eq!(
        rebuilt.prefixes_of("n4"),
        vec![c("10.0.0.32/28")],
        "wrong-zone prefixes stay reserved"
    );
    assert!(
        !rebuilt.is_allocated(&c("10.0.1.0/28")),
        "the leak is freed"
    );
    // The rebuilt state survives its own snapshot.
    assert_eq!(
        PrefixAllocator::restore(&rebuilt.snapshot(), small_config()).expect("must succeed"),
        *rebuilt
    );

    let messages = report.messages();
    assert!(messages.contains(&"prefix 10.0.0.0/28 is allocated to several nodes (n1, n2, n3); n1 keeps it, re-create the others".to_string()), "{messages:?}");
    assert!(messages.contains(
        &"prefix 10.0.1.0/28 is allocated but recorded on no node; releasing it".to_string()
    ));
    assert_eq!(messages.len(), 1 + 2 + 2 + 1 + 3);
}

#[test]
fn an_invalid_config_is_an_error() {
    let mut config = small_config();
    config.max_pods = 0;
    assert!(plan(&config, &[], None).is_err());
}

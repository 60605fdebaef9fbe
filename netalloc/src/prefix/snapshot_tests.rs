use super::config_tests::{c, dual_config, small_config, subnet};
use super::*;

fn busy() -> PrefixAllocator {
    let mut alloc = PrefixAllocator::new(dual_config()).expect("must succeed");
    alloc.allocate("n1", "us-east-1a", 3).expect("must succeed");
    alloc.allocate("n2", "us-east-1b", 1).expect("must succeed");
    alloc.allocate("n3", "us-east-1a", 1).expect("must succeed");
    alloc.release_node("n3");
    alloc
}

#[test]
fn snapshot_is_compact_and_restores_equal() {
    let alloc = busy();
    let snap = alloc.snapshot();
    assert_eq!(snap.version, SNAPSHOT_VERSION);
    assert_eq!(snap.subnets[0].bitmap, "0000000000000003");
    // n3 took 10.0.1.16/28 (the emptier subnet) and gave it back: the cursor is past it, so
    // the next grant there is not the prefix n3 may still be routing.
    assert_eq!(snap.subnets[1].bitmap, "0000000000000001");
    assert_eq!(snap.subnets[1].next, 2);
    assert_eq!(snap.subnets[2].bitmap, "0000000000000001");
    assert_eq!(
        snap.nodes["n2"],
        vec![c("10.0.2.0/28"), c("2001:db8:0:1::/80")]
    );
    let back = PrefixAllocator::restore(&snap, dual_config()).expect("must succeed");
    assert_eq!(back, alloc);
    let json = alloc.snapshot_json();
    assert_eq!(
        PrefixAllocator::restore_json(&json, dual_config()).expect("must succeed"),
        alloc
    );
}

#[test]
fn a_grown_configuration_restores_with_the_new_subnet_empty() {
    let alloc = busy();
    let mut grown = dual_config();
    grown.ipv4.subnets.push(subnet("us-east-1b", "10.0.3.0/24"));
    let back = PrefixAllocator::restore(&alloc.snapshot(), grown).expect("must succeed");
    assert_eq!(back.prefixes_of("n1"), alloc.prefixes_of("n1"));
    assert_eq!(
        back.free_in_zone("us-east-1b", crate::cidr::Family::V4),
        Some(3 + 16)
    );
}

#[test]
fn garbage_is_refused_with_a_clear_error() {
    let alloc = busy();
    let good = alloc.snapshot();
    let restore = |s: &PrefixSnapshot| {
        PrefixAllocator::restore(s, dual_config())
            .expect_err("must fail")
            .to_string()
    };

    let mut s = good.clone();
    s.version = 9;
    assert_eq!(
        restore(&s),
        "prefix snapshot version 9 is not supported (expected 1)"
    );

    let mut s = good.clone();
    s.subnets[0].bitmap = "xyz".into();
    assert!(
        restore(&s).starts_with("bitmap of subnet 10.0.0.0/24 is corrupt"),
        "{}",
        restore(&s)
    );

    let mut s = good.clone();
    s.subnets[0].zone = "us-east-1b".into();
    assert!(restore(&s).contains("not configured"));

    let mut s = good.clone();
    s.subnets.push(s.subnets[0].clone());
    assert_eq!(restore(&s), "snapshot lists subnet 10.0.0.0/24 twice");

    let mut s = good.clone();
    s.nodes.insert("n9".into(), vec![c("10.0.0.0/28")]);
    assert_eq!(
        restore(&s),
        "prefix 10.0.0.0/28 is recorded on nodes n1 and n9; run the prefix repair"
    );

    let mut s = good.clone();
    s.nodes.insert("n9".into(), vec![c("10.0.0.0/27")]);
    assert!(restore(&s).contains("not a prefix of any configured subnet"));

    let mut s = good.clone();
    s.nodes.insert("n9".into(), vec![c("10.0.0.128/28")]);
    assert!(restore(&s).contains("marks free"));

    let mut s = good.clone();
    s.nodes.remove("n2");
    assert_eq!(
        restore(&s),
        "prefix 10.0.2.0/28 is marked allocated but recorded on no node; run the prefix repair"
    );

    let mut s = good.clone();
    s.subnets[0].next = 1_000_000;
    assert!(
        PrefixAllocator::restore(&s, dual_config()).is_ok(),
        "a cursor past the end restarts at 0"
    );

    let err = PrefixAllocator::restore(&good, small_config())
        .expect_err("must fail")
        .to_string();
    assert!(err.contains("not configured"), "{err}");

    let mut bad_config = dual_config();
    bad_config.max_pods = 0;
    assert!(PrefixAllocator::restore(&good, bad_config).is_err());

    for junk in [
        &b""[..],
        b"{}",
        b"[1,2]",
        b"{\"version\":1,\"subnets\":[],\"nodes\":{\"a\":[\"x\"]}}",
    ] {
        let err = PrefixAllocator::restore_json(junk, dual_config()).expect_err("must fail");
        assert!(
            err.to_string()
                .starts_with("prefix snapshot is not valid JSON"),
            "{err}"
        );
    }
}

use super::config_tests::c;
use super::*;
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test literal parses")
}

#[test]
fn hands_out_every_address_of_a_28_then_the_next_prefix() {
    let mut pool =
        NodeAddresses::new(&[c("10.0.0.16/28"), c("10.0.0.48/28")]).expect("must succeed");
    assert_eq!(pool.capacity(), 32);
    let first: Vec<IpAddr> = (0..16)
        .map(|i| pool.assign(&format!("c{i}")).expect("must succeed"))
        .collect();
    assert_eq!(
        first[0],
        ip("10.0.0.16"),
        "the first address is used, as the VPC CNI does"
    );
    assert_eq!(first[15], ip("10.0.0.31"));
    assert_eq!(pool.assign("c16").expect("must succeed"), ip("10.0.0.48"));
    assert_eq!(pool.used(), 17);
    assert_eq!(pool.free_prefixes(), vec![]);
}

#[test]
fn add_is_idempotent_and_del_of_unknown_is_fine() {
    let mut pool = NodeAddresses::new(&[c("10.0.0.0/28")]).expect("must succeed");
    let a = pool.assign("abc").expect("must succeed");
    assert_eq!(pool.assign("abc").expect("must succeed"), a);
    assert_eq!(pool.used(), 1);
    assert_eq!(pool.address_of("abc"), Some(a));
    assert_eq!(pool.release("abc"), Some(a));
    assert_eq!(pool.release("abc"), None);
    assert_eq!(pool.release("never"), None);
    assert_eq!(
        pool.assign("").expect_err("must fail"),
        AddressError::EmptyContainerId
    );
}

#[test]
fn a_released_address_is_not_reused_at_once() {
    let mut pool = NodeAddresses::new(&[c("10.0.0.0/28")]).expect("must succeed");
    let a = pool.assign("a").expect("must succeed");
    pool.release("a");
    assert_ne!(pool.assign("b").expect("must succeed"), a);
}

#[test]
fn exhaustion_uses_upstream_wording() {
    let mut pool = NodeAddresses::new(&[c("10.0.0.0/31")]).expect("must succeed");
    pool.assign("a").expect("must succeed");
    pool.assign("b").expect("must succeed");
    assert_eq!(
        pool.assign("c").expect_err("must fail").to_string(),
        "AssignPodIPAddress: no available IP/Prefix addresses (prefixes: 10.0.0.0/31)"
    );
    let mut empty = NodeAddresses::default();
    assert!(
        empty
            .assign("a")
            .expect_err("must fail")
            .to_string()
            .contains("(prefixes: none)")
    );
}

#[test]
fn prefixes_are_added_and_removed_safely() {
    let mut pool = NodeAddresses::new(&[c("10.0.0.0/28")]).expect("must succeed");
    assert!(matches!(
        pool.add_prefix(c("fd00::/80")),
        Err(AddressError::FamilyMismatch { .. })
    ));
    assert!(matches!(
        pool.add_prefix(c("10.0.0.8/29")),
        Err(AddressError::Overlap { .. })
    ));
    pool.add_prefix(c("10.0.0.16/28")).expect("must succeed");
    let a = pool.assign("a").expect("must succeed");
    assert_eq!(pool.free_prefixes(), vec![c("10.0.0.16/28")]);
    assert_eq!(
        pool.remove_prefix(&c("10.0.0.0/28"))
            .expect_err("must fail")
            .to_string(),
        "prefix 10.0.0.0/28 still has 1 addresses assigned"
    );
    pool.remove_prefix(&c("10.0.0.16/28"))
        .expect("must succeed");
    assert!(matches!(
        pool.remove_prefix(&c("10.0.0.16/28")),
        Err(AddressError::UnknownPrefix { .. })
    ));
    pool.release("a");
    assert_eq!(a, ip("10.0.0.0"));
    pool.remove_prefix(&c("10.0.0.0/28")).expect("must succeed");
    assert!(pool.prefixes().is_empty());
}

#[test]
fn ipv6_prefixes_use_a_bounded_window() {
    let mut pool = NodeAddresses::new(&[c("2001:db8::/80")]).expect("must succeed");
    assert_eq!(pool.capacity(), MAX_ADDRESSES_PER_PREFIX);
    assert_eq!(pool.assign("a").expect("must succeed"), ip("2001:db8::"));
    assert_eq!(pool.assign("b").expect("must succeed"), ip("2001:db8::1"));
}

#[test]
fn snapshot_round_trips_through_json() {
    let mut pool =
        NodeAddresses::new(&[c("10.0.0.0/28"), c("10.0.0.32/28")]).expect("must succeed");
    for i in 0..20 {
        pool.assign(&format!("c{i}")).expect("must succeed");
    }
    pool.release("c3");
    let json = pool.snapshot_json();
    let text = String::from_utf8(json.clone()).expect("must succeed");
    assert!(text.contains("\"c0\":\"10.0.0.0\""), "{text}");
    assert_eq!(
        NodeAddresses::restore_json(&json).expect("must succeed"),
        pool
    );
}

#[test]
fn garbage_snapshots_are_refused() {
    let good = NodeAddresses::new(&[c("10.0.0.0/28")])
        .expect("must succeed")
        .snapshot();
    let mut s = good.clone();
    s.containers.insert("a".into(), ip("10.0.0.1"));
    s.containers.insert("b".into(), ip("10.0.0.1"));
    assert!(
        NodeAddresses::restore(&s)
            .expect_err("must fail")
            .to_string()
            .contains("more than one container")
    );
    let mut s = good.clone();
    s.containers.insert("a".into(), ip("10.0.1.1"));
    assert!(
        NodeAddresses::restore(&s)
            .expect_err("must fail")
            .to_string()
            .contains("outside every usable")
    );
    let mut s = good.clone();
    s.version = 2;
    assert!(NodeAddresses::restore(&s).is_err());
    let mut s = good.clone();
    s.prefixes.push(s.prefixes[0].clone());
    assert!(matches!(
        NodeAddresses::restore(&s),
        Err(AddressError::Overlap { .. })
    ));
    let mut s = good;
    s.containers.insert(String::new(), ip("10.0.0.1"));
    assert!(NodeAddresses::restore(&s).is_err());
    let mut v6 = NodeAddresses::new(&[c("2001:db8::/80")])
        .expect("must succeed")
        .snapshot();
    v6.containers.insert("far".into(), ip("2001:db8::1:0:0"));
    assert!(NodeAddresses::restore(&v6).is_err(), "past the used window");
    for junk in [
        &b"nope"[..],
        b"{}",
        b"{\"version\":1,\"prefixes\":[{\"prefix\":\"10.0.0.1/28\"}],\"containers\":{}}",
    ] {
        assert!(matches!(
            NodeAddresses::restore_json(junk),
            Err(AddressError::Corrupt(_))
        ));
    }
}

use super::*;

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn set(defs: &[(&str, &[&str])]) -> CidrSet {
    let mut s = CidrSet::new(11);
    for (name, cidrs) in defs {
        let cidrs: Vec<Cidr> = cidrs.iter().map(|c| cidr(c)).collect();
        s.add(name, &cidrs)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    s
}

#[test]
fn validation_of_service_cidrs() {
    let mut s = set(&[("kubernetes", &["10.96.0.0/12"])]);
    let cases: [(&str, &[&str], &str); 5] = [
        (
            "kubernetes",
            &["10.0.0.0/24"],
            "ServiceCIDR \"kubernetes\" already exists",
        ),
        (
            "empty",
            &[],
            "ServiceCIDR \"empty\" is invalid: spec.cidrs: Required value",
        ),
        (
            "two-v4",
            &["10.0.0.0/24", "10.1.0.0/24"],
            "may specify no more than one IP for each IP family",
        ),
        (
            "three",
            &["10.0.0.0/24", "fd00::/64", "10.1.0.0/24"],
            "Too many: 3: must have at most 2 items",
        ),
        (
            "short-v6",
            &["fd00::/48"],
            "shortest allowed prefix length for service CIDR is 64, got 48",
        ),
    ];
    for (name, cidrs, msg) in cases {
        let cidrs: Vec<Cidr> = cidrs.iter().map(|c| cidr(c)).collect();
        let err = s
            .add(name, &cidrs)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(msg), "{name}: {err}");
    }
    assert_eq!(s.service_cidrs().len(), 1);
}

#[test]
fn allocation_tries_each_usable_cidr_in_order() {
    let mut s = set(&[("a", &["10.0.0.0/28"]), ("b", &["10.1.0.0/28"])]);
    let first: Vec<IpAddr> = (0..14)
        .filter_map(|_| s.allocate_next(Family::V4).ok())
        .collect();
    assert!(first.iter().all(|i| cidr("10.0.0.0/28").contains(*i)));
    let next = s
        .allocate_next(Family::V4)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(cidr("10.1.0.0/28").contains(next));
    assert_eq!(s.used(Family::V4), 15);
    assert_eq!(s.free(Family::V4), 13);
}

#[test]
fn terminating_and_not_ready_cidrs_give_no_new_addresses() {
    let mut s = set(&[("a", &["10.0.0.0/28"]), ("b", &["10.1.0.0/28"])]);
    s.mark_terminating("a").unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..14 {
        let got = s
            .allocate_next(Family::V4)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(cidr("10.1.0.0/28").contains(got));
    }
    assert_eq!(s.allocate_next(Family::V4), Err(ServiceAllocError::Full));
    assert_eq!(s.allocate(ip("10.0.0.5")), Err(ServiceAllocError::NotReady));
    s.set_ready("b", false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.allocate_next(Family::V4),
        Err(ServiceAllocError::NotReady)
    );
    assert_eq!(
        s.allocate_next(Family::V6),
        Err(ServiceAllocError::FamilyNotConfigured { family: Family::V6 })
    );
    assert!(s.set_ready("nope", true).is_err());
}

#[test]
fn requested_ip_errors() {
    let mut s = set(&[("kubernetes", &["10.96.0.0/12", "fd00::/108"])]);
    assert_eq!(s.allocate(ip("10.96.0.10")), Ok(()));
    assert_eq!(
        s.allocate(ip("10.96.0.10")).map_err(|e| e.to_string()),
        Err("provided IP is already allocated".into())
    );
    assert_eq!(
        s.allocate(ip("1.1.1.1")).map_err(|e| e.to_string()),
        Err("the provided IP (1.1.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12".into())
    );
    assert!(s.allocate(ip("fd00::10")).is_ok());
    assert!(s.has(ip("fd00::10")) && !s.has(ip("fd00::11")));
}

#[test]
fn overlapping_cidrs_never_hand_out_one_address_twice() {
    let mut s = set(&[("wide", &["10.0.0.0/24"])]);
    s.allocate(ip("10.0.0.5")).unwrap_or_else(|e| panic!("{e}"));
    // A nested CIDR added later starts with the allocations it overlaps.
    s.add("narrow", &[cidr("10.0.0.0/28")])
        .unwrap_or_else(|e| panic!("{e}"));
    s.mark_terminating("wide").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.allocate(ip("10.0.0.5")),
        Err(ServiceAllocError::IpAllocated)
    );
    let mut got: Vec<IpAddr> = (0..13)
        .filter_map(|_| s.allocate_next(Family::V4).ok())
        .collect();
    got.sort();
    assert!(!got.contains(&ip("10.0.0.5")));
    assert_eq!(got.len(), 13);
    assert_eq!(s.allocate_next(Family::V4), Err(ServiceAllocError::Full));
    assert_eq!(s.used(Family::V4), 14);
    // Releasing through the set frees it in both bitmaps.
    s.release(ip("10.0.0.5"));
    assert!(!s.has(ip("10.0.0.5")));
    assert_eq!(s.allocate_next(Family::V4), Ok(ip("10.0.0.5")));
}

#[test]
fn dual_stack_rolls_back_the_first_family() {
    let mut s = set(&[("v4", &["10.0.0.0/24"]), ("v6", &["fd00::/120"])]);
    s.allocate(ip("fd00::7")).unwrap_or_else(|e| panic!("{e}"));
    let before = s.clone();
    let err = s.allocate_for_families(&[Family::V4, Family::V6], &[None, Some(ip("fd00::7"))]);
    assert_eq!(err, Err(ServiceAllocError::IpAllocated));
    assert_eq!(s, before);
    let got = s
        .allocate_for_families(&[Family::V6, Family::V4], &[None, Some(ip("10.0.0.9"))])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), 2);
    assert!(cidr("fd00::/120").contains(got[0]));
    assert_eq!(got[1], ip("10.0.0.9"));
    let bad = [
        (vec![], vec![]),
        (vec![Family::V4, Family::V4], vec![]),
        (vec![Family::V4], vec![None, None]),
    ];
    for (fams, req) in bad {
        assert!(matches!(
            s.allocate_for_families(&fams, &req),
            Err(ServiceAllocError::InvalidFamilies { .. })
        ));
    }
    assert_eq!(
        s.allocate_for_families(&[Family::V4], &[Some(ip("fd00::9"))]),
        Err(ServiceAllocError::FamilyMismatch {
            ip: ip("fd00::9"),
            family: Family::V4
        })
    );
}

#[test]
fn remove_refuses_while_an_address_depends_on_the_cidr_alone() {
    let mut s = set(&[("a", &["10.0.0.0/24"]), ("b", &["10.0.1.0/24"])]);
    s.allocate(ip("10.0.0.5")).unwrap_or_else(|e| panic!("{e}"));
    let before = s.clone();
    let err = s
        .remove("a")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("There are still IPAddresses referencing the ServiceCIDR"),
        "{err}"
    );
    assert_eq!(s, before);
    // Covered by a wider CIDR: removal is allowed and the address stays allocated.
    s.add("wide", &[cidr("10.0.0.0/16")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.has(ip("10.0.0.5")));
    s.remove("a").unwrap_or_else(|e| panic!("{e}"));
    assert!(s.has(ip("10.0.0.5")));
    assert_eq!(
        s.allocate(ip("10.0.0.5")),
        Err(ServiceAllocError::IpAllocated)
    );
    assert!(s.remove("b").is_ok());
    assert!(s.remove("b").is_err());
}

#[test]
fn a_cidr_shared_by_two_service_cidrs_stays_usable_while_one_is() {
    let mut s = set(&[("a", &["10.0.0.0/24"]), ("b", &["10.0.0.0/24"])]);
    s.mark_terminating("a").unwrap_or_else(|e| panic!("{e}"));
    assert!(s.allocate_next(Family::V4).is_ok());
    s.remove("a").unwrap_or_else(|e| panic!("{e}"));
    assert!(s.allocate_next(Family::V4).is_ok());
    assert_eq!(s.used(Family::V4), 2);
}

#[test]
fn a_single_stack_service_cidr_grows_its_second_family() {
    let mut s = set(&[("kubernetes", &["10.96.0.0/28"])]);
    s.allocate(ip("10.96.0.5")).expect("v4");
    assert!(matches!(
        s.allocate_next(Family::V6),
        Err(ServiceAllocError::FamilyNotConfigured { .. })
    ));
    let dual = [cidr("10.96.0.0/28"), cidr("fd00::/112")];
    s.grow("kubernetes", &dual).expect("grow");
    assert_eq!(s.service_cidrs()[0].cidrs, dual);
    assert!(s.has(ip("10.96.0.5")), "what was held stays held");
    let v6 = s.allocate_next(Family::V6).expect("v6 now");
    assert!(cidr("fd00::/112").contains(v6));
    // Again with the same CIDRs: nothing to do.
    s.grow("kubernetes", &dual).expect("same");
    // A CIDR may not go away, nor a family be doubled.
    let before = s.clone();
    for bad in [
        vec![cidr("fd00::/112")],
        vec![cidr("10.96.0.0/28"), cidr("10.97.0.0/28")],
    ] {
        let mut single = set(&[("c", &["10.96.0.0/28"])]);
        let single_before = single.clone();
        assert!(single.grow("c", &bad).is_err(), "{bad:?}");
        assert_eq!(single, single_before);
    }
    assert!(s.grow("missing", &dual).is_err());
    assert_eq!(s, before);
}

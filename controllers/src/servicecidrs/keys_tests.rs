use k8s_openapi::api::networking::v1::{IPAddress, ServiceCIDR};

use super::super::decide::LABEL_MANAGED_BY;
use super::super::testing::*;
use super::*;

/// The ServiceCIDRs of upstream's `TestController_ipToCidrs` and `_cidrToCidrs`.
fn upstream_cache() -> Vec<ServiceCIDR> {
    vec![
        dual("kubernetes"),
        cidr("overlapping", &["192.168.0.0/24", "2001:db2::/64"]),
        cidr("overlapping2", &["192.168.0.0/26", "2001:db2::/96"]),
        cidr("unrelated", &["10.0.0.0/24"]),
        cidr("unrelated2", &["10.0.0.0/16"]),
    ]
}

#[test]
fn containing_an_address() {
    let cache = upstream_cache();
    let cases: &[(&str, &[&str])] = &[
        (
            "192.168.0.23",
            &["kubernetes", "overlapping", "overlapping2"],
        ),
        ("192.168.0.0", &[]),
        ("192.168.0.63", &["kubernetes", "overlapping"]),
        ("2001:db2::", &[]),
        (
            "2001:0db2::ffff:ffff:ffff:ffff",
            &["kubernetes", "overlapping"],
        ),
        (
            "2001:db2::5",
            &["kubernetes", "overlapping", "overlapping2"],
        ),
        ("10.0.1.1", &["unrelated2"]),
        ("172.16.0.1", &[]),
        ("not-an-address", &[]),
        ("", &[]),
    ];
    for (address, want) in cases {
        assert_eq!(
            service_cidrs_containing(address, &cache),
            *want,
            "{address}"
        );
    }
    assert!(service_cidrs_containing("192.168.0.23", &[]).is_empty());
}

#[test]
fn ip_address_events_enqueue_only_for_allocated_addresses() {
    let cache = upstream_cache();
    assert_eq!(
        service_cidrs_for_ip_address(&ip("10.0.0.5"), &cache),
        ["unrelated", "unrelated2"]
    );
    let foreign = ip_labelled("10.0.0.5", &[(LABEL_MANAGED_BY, "someone-else")]);
    assert!(service_cidrs_for_ip_address(&foreign, &cache).is_empty());
    assert!(!is_managed_by_ipallocator(&foreign));
    assert!(is_managed_by_ipallocator(&ip("10.0.0.5")));
}

#[test]
fn overlapping_a_service_cidr() {
    let cache = upstream_cache();
    let cases: &[(ServiceCIDR, &[&str])] = &[
        (
            dual("kubernetes"),
            &["kubernetes", "overlapping", "overlapping2"],
        ),
        (
            cidr("new", &["10.0.0.128/25"]),
            &["unrelated", "unrelated2"],
        ),
        (cidr("new", &["10.0.5.0/24"]), &["unrelated2"]),
        (
            cidr("new", &["0.0.0.0/0"]),
            &[
                "kubernetes",
                "overlapping",
                "overlapping2",
                "unrelated",
                "unrelated2",
            ],
        ),
        (
            cidr("new", &["2001:db2::1:0:0/112"]),
            &["kubernetes", "overlapping"],
        ),
        (cidr("new", &["172.16.0.0/12", "fd00::/8"]), &[]),
        (cidr("new", &["garbage"]), &[]),
    ];
    for (subject, want) in cases {
        assert_eq!(
            overlapping_service_cidrs(subject, &cache),
            *want,
            "{subject:?}"
        );
    }
    assert_eq!(
        overlapping_service_cidrs(&dual("x"), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn empty_objects_concern_nothing() {
    let empty = ServiceCIDR::default();
    assert!(service_cidrs_containing("", [&empty]).is_empty());
    assert!(overlapping_service_cidrs(&empty, [&empty]).is_empty());
    assert!(service_cidrs_for_ip_address(&IPAddress::default(), [&empty]).is_empty());
}

use super::*;
use proptest::prelude::*;

fn c(s: &str) -> Cidr {
    s.parse().expect("test literal parses")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test literal parses")
}

#[test]
fn parse_and_display_round_trip() {
    for s in [
        "10.0.0.0/16",
        "0.0.0.0/0",
        "10.1.2.3/32",
        "2001:db8::/32",
        "::/0",
        "fd00::1/128",
    ] {
        assert_eq!(c(s).to_string(), s);
    }
    // IPv6 is printed in its canonical compressed form.
    assert_eq!(c("2001:0db8:0000::/48").to_string(), "2001:db8::/48");
}

#[test]
fn parse_refuses_bad_input_with_a_reason() {
    let table = [
        ("10.0.0.0", "missing '/'"),
        ("10.0.0.0/", "decimal"),
        ("10.0.0.0/+8", "decimal"),
        ("10.0.0.0/08", "decimal"),
        ("10.0.0.0/1000", "decimal"),
        ("10.0.0.0/256", "too large"),
        ("10.0.0/8", "not an IP address"),
        ("010.0.0.0/8", "not an IP address"),
        ("fe80::1%eth0/64", "not an IP address"),
        ("", "missing '/'"),
    ];
    for (input, want) in table {
        let err = input.parse::<Cidr>().expect_err("must fail").to_string();
        assert!(err.starts_with("invalid CIDR address: "), "{input}: {err}");
        assert!(err.contains(want), "{input}: {err}");
    }
    assert_eq!(
        "10.0.0.0/33"
            .parse::<Cidr>()
            .expect_err("must fail")
            .to_string(),
        "prefix length /33 is too long for IPv4 (at most /32)"
    );
    assert!("::/129".parse::<Cidr>().is_err());
}

#[test]
fn host_bits_are_refused_and_the_canonical_form_named() {
    let err = "10.0.0.1/16".parse::<Cidr>().expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "invalid CIDR address: 10.0.0.1/16: host bits are set (the network is 10.0.0.0/16)"
    );
    let truncated = Cidr::new_truncating(ip("10.0.0.1"), 16).expect("must succeed");
    assert_eq!(truncated, c("10.0.0.0/16"));
}

#[test]
fn contains_and_overlaps() {
    let block = c("10.0.0.0/16");
    assert!(block.contains(ip("10.0.255.255")));
    assert!(!block.contains(ip("10.1.0.0")));
    assert!(!block.contains(ip("::a00:0")), "other family never matches");
    assert!(block.contains_cidr(&c("10.0.16.0/20")));
    assert!(block.contains_cidr(&block));
    assert!(!c("10.0.16.0/20").contains_cidr(&block));
    assert!(block.overlaps(&c("10.0.0.0/8")));
    assert!(!block.overlaps(&c("10.1.0.0/16")));
    assert!(!block.overlaps(&c("::/0")));
    assert!(c("::/0").contains(ip("2001:db8::1")));
    assert!(c("0.0.0.0/0").contains(ip("255.255.255.255")));
}

#[test]
fn network_last_and_counts() {
    let block = c("10.0.0.0/28");
    assert_eq!(block.network(), ip("10.0.0.0"));
    assert_eq!(block.last_address(), ip("10.0.0.15"));
    assert_eq!(block.address_count().expect("must succeed"), 16);
    assert_eq!(block.prefix_len(), 28);
    assert_eq!(block.host_bits(), 4);
    assert_eq!(c("0.0.0.0/0").last_address(), ip("255.255.255.255"));
    assert_eq!(
        c("::/0").last_address(),
        ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    );
    assert!(matches!(
        c("::/0").address_count(),
        Err(CidrError::TooMany { .. })
    ));
    assert_eq!(
        c("::/1").address_count().expect("must succeed"),
        1u128 << 127
    );
}

#[test]
fn subnets_are_carved_in_order() {
    let block = c("10.0.0.0/16");
    assert_eq!(block.subnet_count(28).expect("must succeed"), 4096);
    assert_eq!(block.subnet(28, 0).expect("must succeed"), c("10.0.0.0/28"));
    assert_eq!(
        block.subnet(28, 1).expect("must succeed"),
        c("10.0.0.16/28")
    );
    assert_eq!(
        block.subnet(28, 4095).expect("must succeed"),
        c("10.0.255.240/28")
    );
    assert!(matches!(
        block.subnet(28, 4096),
        Err(CidrError::OutOfRange { .. })
    ));
    assert_eq!(block.subnet(16, 0).expect("must succeed"), block);
    assert!(matches!(
        block.subnet(8, 0),
        Err(CidrError::SubnetTooShort { .. })
    ));
    assert!(matches!(
        block.subnet(33, 0),
        Err(CidrError::PrefixTooLong { .. })
    ));
    assert_eq!(block.subnet_index(&c("10.0.255.240/28")), Some(4095));
    assert_eq!(block.subnet_index(&c("10.1.0.0/28")), None);

    let v6 = c("2001:db8::/64");
    assert_eq!(
        v6.subnet(80, 3).expect("must succeed"),
        c("2001:db8::3:0:0:0/80")
    );
    assert_eq!(v6.subnet_count(80).expect("must succeed"), 65536);
    assert_eq!(c("::/0").subnet(0, 0).expect("must succeed"), c("::/0"));
    assert_eq!(
        c("::/0").subnet(128, u128::MAX).expect("must succeed"),
        c("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128")
    );
    assert!(matches!(
        c("::/0").subnet_count(128),
        Err(CidrError::TooMany { .. })
    ));
    assert_eq!(c("::/0").subnet_index(&c("::2/128")), Some(2));
}

#[test]
fn addresses_and_offsets() {
    let prefix = c("10.0.0.16/28");
    assert_eq!(prefix.address_at(0).expect("must succeed"), ip("10.0.0.16"));
    assert_eq!(
        prefix.address_at(15).expect("must succeed"),
        ip("10.0.0.31")
    );
    assert!(matches!(
        prefix.address_at(16),
        Err(CidrError::OutOfRange { .. })
    ));
    assert_eq!(prefix.offset_of(ip("10.0.0.21")), Some(5));
    assert_eq!(prefix.offset_of(ip("10.0.0.32")), None);
    let v6 = c("2001:db8::/80");
    assert_eq!(
        v6.address_at(0xffff).expect("must succeed"),
        ip("2001:db8::ffff")
    );
    assert_eq!(v6.offset_of(ip("2001:db8::1:2")), Some(0x1_0002));
}

#[test]
fn serde_uses_the_text_form() {
    let json = serde_json::to_string(&c("10.0.0.0/16")).expect("must succeed");
    assert_eq!(json, "\"10.0.0.0/16\"");
    assert_eq!(
        serde_json::from_str::<Cidr>(&json).expect("must succeed"),
        c("10.0.0.0/16")
    );
    let err = serde_json::from_str::<Cidr>("\"10.0.0.1/16\"")
        .expect_err("must fail")
        .to_string();
    assert!(err.contains("host bits"), "{err}");
    assert!(serde_json::from_str::<Cidr>("17").is_err());
}

fn any_cidr() -> impl Strategy<Value = Cidr> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, l)| Cidr::new_truncating(
            IpAddr::V4(Ipv4Addr::from(a)),
            l
        )
        .expect("must succeed")),
        (any::<u128>(), 0u8..=128).prop_map(|(a, l)| Cidr::new_truncating(
            IpAddr::V6(Ipv6Addr::from(a)),
            l
        )
        .expect("must succeed")),
    ]
}

proptest! {
    #[test]
    fn display_parse_round_trips(cidr in any_cidr()) {
        prop_assert_eq!(cidr.to_string().parse::<Cidr>().expect("must succeed"), cidr);
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        let _ = s.parse::<Cidr>();
    }

    #[test]
    fn offsets_and_addresses_are_inverse(cidr in any_cidr(), raw in any::<u128>()) {
        let offset = raw & low_mask(cidr.host_bits());
        let addr = cidr.address_at(offset).expect("must succeed");
        prop_assert!(cidr.contains(addr));
        prop_assert_eq!(cidr.offset_of(addr), Some(offset));
    }

    #[test]
    fn subnets_lie_inside_and_index_back(cidr in any_cidr(), extra in 0u8..=16, raw in any::<u128>()) {
        let len = (cidr.prefix_len() + extra).min(cidr.family().bits());
        let index = raw & low_mask(len - cidr.prefix_len());
        let sub = cidr.subnet(len, index).expect("must succeed");
        prop_assert!(cidr.contains_cidr(&sub));
        prop_assert_eq!(cidr.subnet_index(&sub), Some(index));
    }

    #[test]
    fn never_panics_on_any_arguments(cidr in any_cidr(), len in any::<u8>(), i in any::<u128>(), a in any::<u128>()) {
        let _ = cidr.subnet(len, i);
        let _ = cidr.subnet_count(len);
        let _ = cidr.address_at(i);
        let _ = cidr.offset_of(IpAddr::V6(Ipv6Addr::from(a)));
    }
}

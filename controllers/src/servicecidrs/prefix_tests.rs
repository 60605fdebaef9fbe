use super::*;

fn p(s: &str) -> Prefix {
    match Prefix::parse(s) {
        Some(prefix) => prefix,
        None => panic!("{s} should parse"),
    }
}

fn a(s: &str) -> Addr {
    match Addr::parse(s) {
        Some(addr) => addr,
        None => panic!("{s} should parse"),
    }
}

#[test]
fn parses_well_formed_prefixes() {
    for s in [
        "10.0.0.0/8",
        "192.168.0.0/24",
        "0.0.0.0/0",
        "1.2.3.4/32",
        "2001:db8::/64",
        "::/0",
        "::1/128",
        "::ffff:10.0.0.0/104",
    ] {
        assert!(Prefix::parse(s).is_some(), "{s}");
    }
}

#[test]
fn rejects_malformed_prefixes() {
    for s in [
        "",
        "/",
        "10.0.0.0",
        "10.0.0.0/",
        "/24",
        "10.0.0.0/33",
        "2001:db8::/129",
        "10.0.0.0/024",
        "10.0.0.0/+24",
        "10.0.0.0/-1",
        "10.0.0.0/2x",
        "10.0.0.0/ 24",
        "10.0.0.0/24/1",
        "10.0.0/24",
        "010.0.0.0/8",
        "256.0.0.0/8",
        "fe80::1%eth0/64",
        "10.0.0.0/99999999999999999999",
        "hello",
    ] {
        assert_eq!(Prefix::parse(s), None, "{s}");
    }
}

#[test]
fn host_bits_are_masked_off() {
    assert_eq!(p("192.168.0.77/24"), p("192.168.0.0/24"));
    assert_eq!(p("2001:db8::abcd/64"), p("2001:db8::/64"));
    assert_eq!(p("255.255.255.255/0"), p("0.0.0.0/0"));
}

#[test]
fn contains_respects_length_and_family() {
    let cases = [
        ("192.168.0.0/24", "192.168.0.1", true),
        ("192.168.0.0/24", "192.168.1.1", false),
        ("192.168.0.0/24", "192.168.0.255", true),
        ("0.0.0.0/0", "8.8.8.8", true),
        ("1.2.3.4/32", "1.2.3.4", true),
        ("1.2.3.4/32", "1.2.3.5", false),
        ("2001:db8::/64", "2001:db8::ffff", true),
        ("2001:db8::/64", "2001:db8:0:1::", false),
        ("::/0", "2001:db8::1", true),
        ("::1/128", "::1", true),
        // A family never contains the other, mapped addresses included.
        ("0.0.0.0/0", "::1", false),
        ("::/0", "10.0.0.1", false),
        ("10.0.0.0/8", "::ffff:10.0.0.1", false),
    ];
    for (prefix, addr, want) in cases {
        assert_eq!(p(prefix).contains(a(addr)), want, "{prefix} ∋ {addr}");
    }
}

#[test]
fn allocatable_excludes_network_and_ipv4_broadcast() {
    let cases = [
        ("192.168.0.0/24", "192.168.0.0", false),
        ("192.168.0.0/24", "192.168.0.255", false),
        ("192.168.0.0/24", "192.168.0.1", true),
        ("192.168.0.0/24", "192.168.0.254", true),
        ("192.168.0.0/26", "192.168.0.63", false),
        ("192.168.0.0/26", "192.168.0.64", false),
        ("10.0.0.0/31", "10.0.0.0", false),
        ("10.0.0.0/31", "10.0.0.1", false),
        ("10.0.0.7/32", "10.0.0.7", false),
        // IPv6 has no broadcast: only the network address is held back.
        ("2001:db2::/64", "2001:db2::", false),
        ("2001:db2::/64", "2001:0db2::ffff:ffff:ffff:ffff", true),
        ("2001:db2::/64", "2001:db2::1", true),
        ("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        // An IPv4 address under an IPv6 prefix is simply outside.
        ("::/0", "0.0.0.0", false),
    ];
    for (prefix, addr, want) in cases {
        assert_eq!(
            p(prefix).contains_allocatable(a(addr)),
            want,
            "{prefix} ∋ {addr}"
        );
    }
}

#[test]
fn overlaps_and_covers() {
    // (a, b, a overlaps b, a covers b)
    let cases = [
        ("192.168.0.0/24", "192.168.0.0/24", true, true),
        ("192.168.0.0/16", "192.168.0.0/24", true, true),
        ("192.168.0.0/24", "192.168.0.0/16", true, false),
        ("192.168.0.0/24", "192.168.0.0/26", true, true),
        ("192.168.0.0/24", "192.168.255.0/26", false, false),
        ("192.168.0.0/24", "192.168.1.0/24", false, false),
        ("0.0.0.0/0", "10.0.0.0/8", true, true),
        ("2001:db2::/48", "2001:db2::/64", true, true),
        ("2001:db2::/64", "2001:db2:a:b::/64", false, false),
        ("::/0", "2001:db2::/64", true, true),
        ("::/0", "0.0.0.0/0", false, false),
        ("10.0.0.0/8", "::ffff:10.0.0.0/104", false, false),
    ];
    for (x, y, overlaps, covers) in cases {
        assert_eq!(p(x).overlaps(p(y)), overlaps, "{x} overlaps {y}");
        assert_eq!(p(y).overlaps(p(x)), overlaps, "{y} overlaps {x}");
        assert_eq!(p(x).covers(p(y)), covers, "{x} covers {y}");
    }
}

#[test]
fn family_labels() {
    assert_eq!(p("10.0.0.0/8").family().label(), "IPv4");
    assert_eq!(p("2001:db8::/64").family().label(), "IPv6");
    assert_eq!(a("::ffff:1.2.3.4").family, Family::V6);
}

#[test]
fn mask_edges() {
    assert_eq!(mask(Family::V4, 0), 0);
    assert_eq!(mask(Family::V4, 32), 0xffff_ffff);
    assert_eq!(mask(Family::V4, 24), 0xffff_ff00);
    assert_eq!(mask(Family::V6, 0), 0);
    assert_eq!(mask(Family::V6, 128), u128::MAX);
    assert_eq!(mask(Family::V6, 1), 1u128 << 127);
}

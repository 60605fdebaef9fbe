use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn sizes_and_bands_match_upstream() {
    // (cidr, usable, static band) as upstream's TestAllocate / TestCalculateRangeOffset.
    let table = [
        ("192.168.1.0/24", 254, 16),
        ("192.168.1.0/28", 14, 0),
        ("192.168.1.0/27", 30, 16),
        ("10.96.0.0/12", 1_048_574, 256),
        ("10.0.0.0/16", 65534, 256),
        ("10.0.0.0/20", 4094, 256),
        ("10.0.0.0/22", 1022, 64),
        ("192.168.1.0/31", 0, 0),
        ("192.168.1.0/32", 0, 0),
        ("2001:db8:1::/48", 65535, 256),
        ("2001:db8::/64", 65535, 256),
        ("2001:db8::/120", 255, 16),
        ("2001:db8::/126", 3, 0),
        ("2001:db8::/128", 0, 0),
        ("::/0", 65535, 256),
    ];
    for (c, usable, band) in table {
        let a = IpAllocator::new(cidr(c), 1).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_eq!(
            (a.capacity(), a.static_band_size(), a.free(), a.used()),
            (usable, band, usable, 0),
            "{c}"
        );
    }
}

#[test]
fn ipv4_larger_than_slash_12_is_refused() {
    let err = IpAllocator::new(cidr("10.0.0.0/11"), 1).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some("specified service CIDR 10.0.0.0/11 is too large; for 32-bit addresses, the mask must be >= 12".into())
    );
}

#[test]
fn allocate_errors_carry_upstream_messages() {
    let mut a = IpAllocator::new(cidr("10.96.0.0/12"), 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.allocate(ip("10.96.0.10")), Ok(()));
    assert_eq!(
        a.allocate(ip("10.96.0.10")).map_err(|e| e.to_string()),
        Err("provided IP is already allocated".into())
    );
    for bad in ["1.1.1.1", "10.96.0.0", "10.111.255.255", "2001:db8::1"] {
        let e = a.allocate(ip(bad)).err().map(|e| e.to_string());
        assert_eq!(
            e,
            Some(format!(
                "the provided IP ({bad}) is not in the valid range. The range of valid IPs is 10.96.0.0/12"
            ))
        );
    }
    assert!(a.allocate(ip("10.111.255.254")).is_ok());
    assert!(a.has(ip("10.96.0.10")) && !a.has(ip("10.96.0.11")) && !a.has(ip("1.1.1.1")));
}

#[test]
fn ipv6_uses_first_65535_after_network_and_includes_last_of_small_blocks() {
    let mut a = IpAllocator::new(cidr("2001:db8::/64"), 1).unwrap_or_else(|e| panic!("{e}"));
    assert!(a.allocate(ip("2001:db8::")).is_err());
    assert!(a.allocate(ip("2001:db8::1")).is_ok());
    assert!(a.allocate(ip("2001:db8::ffff")).is_ok());
    assert!(a.allocate(ip("2001:db8::1:0")).is_err());
    let mut small = IpAllocator::new(cidr("2001:db8::/126"), 1).unwrap_or_else(|e| panic!("{e}"));
    let mut got: Vec<IpAddr> = (0..3).filter_map(|_| small.allocate_next().ok()).collect();
    got.sort();
    assert_eq!(
        got,
        vec![ip("2001:db8::1"), ip("2001:db8::2"), ip("2001:db8::3")]
    );
    assert_eq!(small.allocate_next(), Err(ServiceAllocError::Full));
}

#[test]
fn allocate_next_exhausts_a_small_range_then_reports_full() {
    let mut a = IpAllocator::new(cidr("192.168.1.0/28"), 9).unwrap_or_else(|e| panic!("{e}"));
    let mut got: Vec<IpAddr> = (0..14).filter_map(|_| a.allocate_next().ok()).collect();
    got.sort();
    let want: Vec<IpAddr> = (1..15)
        .map(|i| IpAddr::V4(Ipv4Addr::new(192, 168, 1, i)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        a.allocate_next().map_err(|e| e.to_string()),
        Err("range is full".into())
    );
    a.release(ip("192.168.1.7"));
    assert_eq!(a.allocate_next(), Ok(ip("192.168.1.7")));
}

#[test]
fn dynamic_allocation_avoids_the_static_band_until_the_rest_is_full() {
    let mut a = IpAllocator::new(cidr("10.0.0.0/24"), 5).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..(254 - 16) {
        let got = a.allocate_next().unwrap_or_else(|e| panic!("{e}"));
        let IpAddr::V4(v4) = got else {
            panic!("family")
        };
        assert!(
            v4.octets()[3] > 16,
            "{got} is in the static band 10.0.0.1-10.0.0.16"
        );
    }
    let IpAddr::V4(v4) = a.allocate_next().unwrap_or_else(|e| panic!("{e}")) else {
        panic!("family")
    };
    assert!(v4.octets()[3] <= 16);
}

#[test]
fn release_is_a_no_op_out_of_range() {
    let mut a = IpAllocator::new(cidr("10.0.0.0/24"), 1).unwrap_or_else(|e| panic!("{e}"));
    a.release(ip("1.1.1.1"));
    a.release(ip("10.0.0.0"));
    a.release(IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(a.used(), 0);
}

#[test]
fn snapshot_restore_round_trip_and_mismatch() {
    let mut a = IpAllocator::new(cidr("10.0.0.0/24"), 1).unwrap_or_else(|e| panic!("{e}"));
    for s in ["10.0.0.1", "10.0.0.9", "10.0.0.254"] {
        a.allocate(ip(s)).unwrap_or_else(|e| panic!("{e}"));
    }
    let snap = a.snapshot();
    assert_eq!(snap.range, "10.0.0.0/24");
    let b = IpAllocator::from_snapshot(&snap, 99).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    let json = serde_json::to_string(&snap).unwrap_or_default();
    let back: RangeAllocation = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, snap);

    let mut other = IpAllocator::new(cidr("10.0.1.0/24"), 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        other.restore(&snap).map_err(|e| e.to_string()),
        Err("the provided network does not match the current range".into())
    );
    for garbage in ["", "not a cidr", "10.0.0.1/24"] {
        let snap = RangeAllocation {
            range: garbage.into(),
            data: vec![1],
        };
        assert!(other.restore(&snap).is_err());
        assert!(IpAllocator::from_snapshot(&snap, 1).is_err());
    }
    let past_end = RangeAllocation {
        range: "10.0.0.0/24".into(),
        data: vec![0xff; 40],
    };
    assert!(matches!(
        other.restore(&past_end),
        Err(ServiceAllocError::MismatchedNetwork)
    ));
    assert!(matches!(
        IpAllocator::from_snapshot(&past_end, 1),
        Err(ServiceAllocError::CorruptSnapshot { .. })
    ));
}

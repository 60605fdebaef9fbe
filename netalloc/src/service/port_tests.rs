use super::*;

fn pr(s: &str) -> Result<PortRange, String> {
    s.parse::<PortRange>().map_err(|e| e.to_string())
}

#[test]
fn parse_port_range_like_go() {
    let ok = [
        ("30000-32767", "30000-32767", 2768),
        ("  30000-32767 ", "30000-32767", 2768),
        ("100", "100-100", 1),
        ("100+10", "100-110", 11),
        ("100++10", "100-110", 11),
        ("0-65535", "0-65535", 65536),
        ("", "", 0),
    ];
    for (input, shown, size) in ok {
        let r = pr(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (r.to_string(), r.size()),
            (shown.to_string(), size),
            "{input}"
        );
    }
    let bad = [
        ("1-2+3", "unable to parse port range: 1-2+3"),
        ("a-b", "strconv.Atoi: parsing \"a\": invalid syntax"),
        ("-5", "strconv.Atoi: parsing \"\": invalid syntax"),
        ("10-", "strconv.Atoi: parsing \"\": invalid syntax"),
        ("1-2-3", "strconv.Atoi: parsing \"2-3\": invalid syntax"),
        ("5-3", "end port cannot be less than start port: 5-3"),
        (
            "1-70000",
            "the port range cannot be greater than 65535: 1-70000",
        ),
        (
            "65535+1",
            "the port range cannot be greater than 65535: 65535+1",
        ),
        (
            "99999999999999999999",
            "strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
    ];
    for (input, msg) in bad {
        assert_eq!(pr(input), Err(msg.to_string()), "{input}");
    }
}

#[test]
fn default_range_band_is_86_ports() {
    assert_eq!(PortRange::default().to_string(), "30000-32767");
    let a = PortAllocator::new(PortRange::DEFAULT, 1);
    assert_eq!((a.static_band_size(), a.free()), (86, 2768));
    for (size, band) in [
        (0, 0),
        (16, 0),
        (17, 16),
        (512, 16),
        (1024, 32),
        (4096, 128),
        (65536, 128),
    ] {
        assert_eq!(calculate_port_range_offset(size), band, "{size}");
    }
}

#[test]
fn allocate_errors_carry_upstream_messages() {
    let mut a = PortAllocator::new(PortRange::DEFAULT, 1);
    assert_eq!(a.allocate(30080), Ok(()));
    assert_eq!(
        a.allocate(30080).map_err(|e| e.to_string()),
        Err("provided port is already allocated".into())
    );
    for bad in [80, 29999, 32768, -1, i32::MAX, i32::MIN] {
        assert_eq!(
            a.allocate(bad).map_err(|e| e.to_string()),
            Err(
                "provided port is not in the valid range. The range of valid ports is 30000-32767"
                    .into()
            ),
            "{bad}"
        );
    }
    assert!(a.has(30080) && !a.has(30081) && !a.has(-5));
    a.release(30080);
    a.release(1);
    assert_eq!(a.used(), 0);
}

#[test]
fn allocate_next_prefers_the_upper_band_and_exhausts() {
    let mut a = PortAllocator::new(PortRange::DEFAULT, 42);
    for _ in 0..(2768 - 86) {
        let p = a.allocate_next().unwrap_or(0);
        assert!((30086..=32767).contains(&p), "{p}");
    }
    for _ in 0..86 {
        let p = a.allocate_next().unwrap_or(0);
        assert!((30000..30086).contains(&p), "{p}");
    }
    assert_eq!(
        a.allocate_next().map_err(|e| e.to_string()),
        Err("range is full".into())
    );
}

#[test]
fn whole_port_space_and_empty_range() {
    let mut a = PortAllocator::new(PortRange::new(0, 65535).unwrap_or_default(), 1);
    assert!(a.allocate(0).is_ok() && a.allocate(65535).is_ok());
    assert!(a.allocate(65536).is_err());
    let mut e = PortAllocator::new(PortRange::new(5, 4).unwrap_or(PortRange::DEFAULT), 1);
    assert_eq!(e.range(), PortRange::DEFAULT);
    e = PortAllocator::new("".parse().unwrap_or_default(), 1);
    assert_eq!(e.allocate_next(), Err(ServiceAllocError::Full));
    assert_eq!(
        e.allocate(1).map_err(|e| e.to_string()),
        Err("provided port is not in the valid range. The range of valid ports is ".into())
    );
}

#[test]
fn snapshot_restore_round_trip_and_mismatch() {
    let mut a = PortAllocator::new(PortRange::DEFAULT, 1);
    for p in [30000, 31000, 32767] {
        a.allocate(p).unwrap_or_else(|e| panic!("{e}"));
    }
    let snap = a.snapshot();
    assert_eq!(snap.range, "30000-32767");
    let b = PortAllocator::from_snapshot(&snap, 5).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    assert_eq!(b.allocated().collect::<Vec<_>>(), vec![30000, 31000, 32767]);
    let mut other = PortAllocator::new("30000-30099".parse().unwrap_or_default(), 1);
    assert_eq!(
        other.restore(&snap).map_err(|e| e.to_string()),
        Err("the provided port range does not match the current port range".into())
    );
    let garbage = RangeAllocation {
        range: "30000-30099".into(),
        data: vec![0xff; 13],
    };
    assert!(matches!(
        other.restore(&garbage),
        Err(ServiceAllocError::CorruptSnapshot { .. })
    ));
    assert!(
        PortAllocator::from_snapshot(
            &RangeAllocation {
                range: "x".into(),
                data: vec![]
            },
            1
        )
        .is_err()
    );
}

use super::*;

#[test]
fn a_fleet_knows_its_own_nodes_only() {
    let config = SimConfig {
        first: 10,
        count: 5,
        ..SimConfig::default()
    };
    let fleet = Fleet::new(&config);
    assert_eq!(fleet.name(12), "sim-000012");
    assert_eq!(fleet.index_of("sim-000012"), Some(12));
    for other in [
        "sim-000009",
        "sim-000015",
        "sim-12",
        "other-000012",
        "sim-00001x",
        "",
    ] {
        assert_eq!(fleet.index_of(other), None, "{other}");
    }
    fleet.registered[0].store(true, ORDER);
    fleet.registered[3].store(true, ORDER);
    assert_eq!(fleet.registered_in_slot(0, 3), ["sim-000010", "sim-000013"]);
    assert!(fleet.registered_in_slot(1, 3).is_empty());
}

#[test]
fn machines_follow_the_mix() {
    let config = SimConfig {
        trainium_every: 5,
        cpu_every: 2,
        ..SimConfig::default()
    };
    let kinds: Vec<Machine> = (0..6).map(|i| machine(&config, i)).collect();
    assert_eq!(
        kinds,
        [
            Machine::Gpu,
            Machine::Cpu,
            Machine::Gpu,
            Machine::Cpu,
            Machine::Trainium,
            Machine::Cpu
        ]
    );
}

#[test]
fn bad_configurations_are_refused() {
    for config in [
        SimConfig {
            zones: Vec::new(),
            ..SimConfig::default()
        },
        SimConfig {
            count: 200_000,
            ..SimConfig::default()
        },
        SimConfig {
            lease_period: Duration::ZERO,
            ..SimConfig::default()
        },
    ] {
        assert!(validate(&config).is_err(), "{config:?}");
    }
    assert!(validate(&SimConfig::default()).is_ok());
}

#[test]
fn the_progress_line_shows_the_share_joined() {
    let text = progress::line(45_000, 100_000, Duration::from_secs(20));
    assert_eq!(
        text,
        "[#############.................] 45,000/100,000 nodes joined  2,250/s  20 s"
    );
    assert_eq!(progress::thousands(1_234_567), "1,234,567");
    assert_eq!(progress::thousands(12), "12");
}

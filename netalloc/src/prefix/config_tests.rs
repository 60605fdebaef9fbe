use super::*;
use crate::cidr::Cidr;

pub(crate) fn c(s: &str) -> Cidr {
    s.parse().expect("test literal parses")
}

pub(crate) fn subnet(zone: &str, cidr: &str) -> SubnetConfig {
    SubnetConfig {
        zone: zone.to_owned(),
        cidr: c(cidr),
    }
}

/// Two zones; zone a has two /24 subnets (16 /28s each), zone b one /26 (4 /28s).
pub(crate) fn small_config() -> PrefixConfig {
    PrefixConfig::new(FamilyConfig::new(
        vec![c("10.0.0.0/16")],
        vec![
            subnet("us-east-1a", "10.0.0.0/24"),
            subnet("us-east-1a", "10.0.1.0/24"),
            subnet("us-east-1b", "10.0.2.0/26"),
        ],
    ))
}

pub(crate) fn dual_config() -> PrefixConfig {
    let mut config = small_config();
    config.ipv6 = Some(FamilyConfig::new(
        vec![c("2001:db8::/56")],
        vec![
            subnet("us-east-1a", "2001:db8::/64"),
            subnet("us-east-1b", "2001:db8:0:1::/78"),
        ],
    ));
    config
}

#[test]
fn defaults_follow_the_vpc_cni() {
    let config = dual_config();
    assert_eq!(config.ipv4.prefix_len, 28);
    assert_eq!(config.ipv6.as_ref().expect("must succeed").prefix_len, 80);
    assert_eq!(config.max_pods, 110);
    assert_eq!(config.warm_prefix_target, 1);
    assert_eq!(config.addresses_per_prefix(), 16);
    config.validate().expect("must succeed");
}

#[test]
fn serde_fills_defaults() {
    let json = r#"{"ipv4":{"vpc_cidrs":["10.0.0.0/16"],
        "subnets":[{"zone":"a","cidr":"10.0.0.0/20"}],"prefix_len":28}}"#;
    let config: PrefixConfig = serde_json::from_str(json).expect("must succeed");
    assert_eq!(config.max_pods, 110);
    assert_eq!(config.ipv6, None);
    config.validate().expect("must succeed");
}

#[test]
fn target_prefixes_is_the_warm_prefix_rule() {
    let mut config = small_config();
    // (pods used, warm target, max pods) -> prefixes the node should hold
    let table = [
        (0, 1, 110, 1),
        (1, 1, 110, 2),
        (16, 1, 110, 2),
        (17, 1, 110, 3),
        (110, 1, 110, 7),
        (100, 1, 110, 7),
        (97, 1, 110, 7),
        (96, 1, 110, 7),
        (95, 1, 110, 7),
        (80, 1, 110, 6),
        (0, 0, 110, 0),
        (5, 0, 110, 1),
        (0, 3, 20, 2),
        (200, 1, 110, 13),
        (0, u32::MAX, u32::MAX, 268_435_456),
    ];
    for (pods, warm, max, want) in table {
        config.warm_prefix_target = warm;
        config.max_pods = max;
        assert_eq!(
            config.target_prefixes(pods),
            want,
            "pods {pods} warm {warm} max {max}"
        );
    }
}

#[test]
fn invalid_configs_are_refused_with_a_reason() {
    let base = small_config();
    type Change = Box<dyn Fn(&mut PrefixConfig)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|c| c.max_pods = 0), "max pods"),
        (Box::new(|c| c.ipv4.vpc_cidrs.clear()), "no IPv4 VPC CIDR"),
        (Box::new(|c| c.ipv4.prefix_len = 33), "too long"),
        (
            Box::new(|c| c.ipv4.subnets.push(subnet("x", "10.1.0.0/24"))),
            "not inside any VPC CIDR (10.0.0.0/16)",
        ),
        (
            Box::new(|c| c.ipv4.subnets.push(subnet("x", "10.0.0.128/25"))),
            "10.0.0.128/25 overlaps 10.0.0.0/24",
        ),
        (
            Box::new(|c| c.ipv4.subnets.push(subnet("x", "10.0.3.0/29"))),
            "smaller than one /28",
        ),
        (
            Box::new(|c| c.ipv4.subnets.push(subnet(" ", "10.0.3.0/24"))),
            "empty zone",
        ),
        (
            Box::new(|c| c.ipv4.vpc_cidrs.push(c_("10.0.128.0/17"))),
            "overlaps",
        ),
        (
            Box::new(|c| c.ipv4.vpc_cidrs.push(c_("fd00::/8"))),
            "not an IPv4 CIDR",
        ),
        (
            Box::new(|c| c.ipv4.subnets.push(subnet("x", "fd00::/64"))),
            "not an IPv4 CIDR",
        ),
        (
            Box::new(|c| {
                c.ipv4.prefix_len = 32;
                c.ipv4.vpc_cidrs = vec![c_("10.0.0.0/7")];
                c.ipv4.subnets = vec![subnet("a", "10.0.0.0/7")];
            }),
            "more than 2^24",
        ),
        (
            Box::new(|c| {
                c.ipv6 = Some(FamilyConfig::new(
                    vec![c_("fd00::/48")],
                    vec![subnet("us-east-1a", "fd00::/64")],
                ));
            }),
            "zone us-east-1b has no IPv6 subnet",
        ),
        (
            Box::new(|c| {
                c.ipv6 = Some(FamilyConfig::new(
                    vec![c_("fd00::/16")],
                    vec![subnet("us-east-1a", "fd00::/48")],
                ));
            }),
            "more than 2^24",
        ),
    ];
    for (change, want) in cases {
        let mut config = base.clone();
        change(&mut config);
        let err = config.validate().expect_err(want).to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}

fn c_(s: &str) -> Cidr {
    c(s)
}

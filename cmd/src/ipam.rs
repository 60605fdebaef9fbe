//! The flags of VPC-style node IPAM (`ultrak8s server` and `ultrak8s controllers` share them):
//! without `--vpc-subnet`, node IPAM does not run.

use clap::Args;
use ultrak8s_netalloc::cidr::{Cidr, Family};
use ultrak8s_netalloc::prefix::{FamilyConfig, PrefixConfig, SubnetConfig};

#[derive(Args, Debug, Clone)]
pub struct IpamFlags {
    /// A VPC CIDR (repeatable; IPv4, and IPv6 for dual-stack). Default: each subnet's own
    /// CIDR is its VPC.
    #[arg(long = "vpc-cidr")]
    vpc_cidrs: Vec<Cidr>,
    /// A subnet nodes of a zone draw prefixes from, `zone=cidr` (repeatable), e.g.
    /// `us-east-1a=10.0.0.0/18`. With none, node IPAM is off.
    #[arg(long = "vpc-subnet", value_parser = parse_subnet)]
    vpc_subnets: Vec<SubnetConfig>,
    /// The length of the IPv4 prefixes handed to nodes (the VPC CNI's /28).
    #[arg(long, default_value_t = ultrak8s_netalloc::prefix::DEFAULT_IPV4_PREFIX_LEN)]
    node_prefix_length: u8,
    /// The most pods a node runs (a node never gets more prefixes than these need).
    #[arg(long, default_value_t = ultrak8s_netalloc::prefix::DEFAULT_MAX_PODS)]
    max_pods: u32,
    /// Wholly free prefixes a node keeps beyond what its pods use (`WARM_PREFIX_TARGET`).
    #[arg(long, default_value_t = ultrak8s_netalloc::prefix::DEFAULT_WARM_PREFIX_TARGET)]
    warm_prefix_target: u32,
}

fn parse_subnet(spec: &str) -> Result<SubnetConfig, String> {
    let (zone, cidr) = spec
        .split_once('=')
        .ok_or_else(|| format!("{spec:?}: expected zone=cidr, e.g. us-east-1a=10.0.0.0/18"))?;
    let cidr: Cidr = cidr.parse().map_err(|e| format!("{spec:?}: {e}"))?;
    if zone.is_empty() {
        return Err(format!("{spec:?}: the zone is empty"));
    }
    Ok(SubnetConfig {
        zone: zone.to_owned(),
        cidr,
    })
}

impl IpamFlags {
    /// The configuration, validated; `None` when no subnet is given.
    pub fn config(&self) -> anyhow::Result<Option<PrefixConfig>> {
        if self.vpc_subnets.is_empty() {
            return Ok(None);
        }
        let family = |family: Family| -> Option<FamilyConfig> {
            let subnets: Vec<SubnetConfig> = self
                .vpc_subnets
                .iter()
                .filter(|s| s.cidr.family() == family)
                .cloned()
                .collect();
            if subnets.is_empty() {
                return None;
            }
            let mut vpcs: Vec<Cidr> = self
                .vpc_cidrs
                .iter()
                .filter(|c| c.family() == family)
                .copied()
                .collect();
            if vpcs.is_empty() {
                vpcs = subnets.iter().map(|s| s.cidr).collect();
            }
            Some(FamilyConfig::new(vpcs, subnets))
        };
        let mut ipv4 = family(Family::V4)
            .ok_or_else(|| anyhow::anyhow!("--vpc-subnet: at least one IPv4 subnet is needed"))?;
        ipv4.prefix_len = self.node_prefix_length;
        let mut config = PrefixConfig::new(ipv4);
        config.ipv6 = family(Family::V6);
        config.max_pods = self.max_pods;
        config.warm_prefix_target = self.warm_prefix_target;
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("node IPAM configuration: {e}"))?;
        Ok(Some(config))
    }
}

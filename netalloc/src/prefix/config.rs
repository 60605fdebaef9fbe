//! Configuration of the prefix IPAM: VPC CIDRs, zoned subnets, prefix lengths and the
//! warm-prefix arithmetic, validated once into a [`Layout`] the allocator indexes by number.
//!
//! Mirrors the knobs of the AWS VPC CNI in prefix mode (`ENABLE_PREFIX_DELEGATION`,
//! `WARM_PREFIX_TARGET`, max pods per node; see amazon-vpc-cni-k8s `docs/prefix-and-ip-target.md`):
//! IPv4 nodes get /28 prefixes (16 addresses) and IPv6 nodes one /80, as EC2 delegates them.

use std::collections::BTreeMap;

use super::error::ConfigError;
use crate::cidr::{Cidr, Family};

/// The IPv4 prefix length EC2 delegates to an ENI in prefix mode.
pub const DEFAULT_IPV4_PREFIX_LEN: u8 = 28;
/// The IPv6 prefix length EC2 delegates to an ENI in prefix mode.
pub const DEFAULT_IPV6_PREFIX_LEN: u8 = 80;
/// The VPC CNI's default `WARM_PREFIX_TARGET`.
pub const DEFAULT_WARM_PREFIX_TARGET: u32 = 1;
/// The kubelet's default `maxPods`.
pub const DEFAULT_MAX_PODS: u32 = 110;
/// The most prefix slots one subnet may hold: 2^24 slots are a 2 MiB bitmap. A larger split
/// (an IPv6 /48 cut into /80s) is refused rather than silently allocating gigabytes.
pub const MAX_SLOTS_PER_SUBNET: u64 = 1 << 24;

/// One subnet of a VPC CIDR and the zone it lives in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubnetConfig {
    /// The zone ("us-east-1a") whose nodes draw prefixes from this subnet.
    pub zone: String,
    /// The subnet; it must lie inside one of the family's VPC CIDRs.
    pub cidr: Cidr,
}

/// The VPC CIDRs and subnets of one address family.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FamilyConfig {
    /// The VPC CIDRs (a VPC may have several; none may overlap).
    pub vpc_cidrs: Vec<Cidr>,
    /// The subnets prefixes are carved from, each inside a VPC CIDR, none overlapping.
    pub subnets: Vec<SubnetConfig>,
    /// The length of the prefixes handed to nodes.
    pub prefix_len: u8,
}

/// The whole prefix IPAM configuration: IPv4, optionally IPv6 as a second family.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrefixConfig {
    /// The IPv4 family (the primary one: pods count against its prefixes).
    pub ipv4: FamilyConfig,
    /// The IPv6 family: when set, every node also gets one IPv6 prefix (dual-stack).
    #[serde(default)]
    pub ipv6: Option<FamilyConfig>,
    /// The most pods a node runs; a node never needs more prefixes than hold them.
    #[serde(default = "default_max_pods")]
    pub max_pods: u32,
    /// How many wholly free prefixes a node keeps beyond what its pods use.
    #[serde(default = "default_warm_prefix_target")]
    pub warm_prefix_target: u32,
}

fn default_max_pods() -> u32 {
    DEFAULT_MAX_PODS
}

fn default_warm_prefix_target() -> u32 {
    DEFAULT_WARM_PREFIX_TARGET
}

impl FamilyConfig {
    /// A family with the default prefix length for the family of its first VPC CIDR.
    pub fn new(vpc_cidrs: Vec<Cidr>, subnets: Vec<SubnetConfig>) -> FamilyConfig {
        let prefix_len = match vpc_cidrs.first().map(Cidr::family) {
            Some(Family::V6) => DEFAULT_IPV6_PREFIX_LEN,
            _ => DEFAULT_IPV4_PREFIX_LEN,
        };
        FamilyConfig {
            vpc_cidrs,
            subnets,
            prefix_len,
        }
    }
}

impl PrefixConfig {
    /// An IPv4-only configuration with the VPC CNI's defaults.
    pub fn new(ipv4: FamilyConfig) -> PrefixConfig {
        PrefixConfig {
            ipv4,
            ipv6: None,
            max_pods: DEFAULT_MAX_PODS,
            warm_prefix_target: DEFAULT_WARM_PREFIX_TARGET,
        }
    }

    /// Checks every rule of [`Layout`] and reports the first one broken.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Layout::new(self).map(drop)
    }

    /// Addresses per IPv4 prefix (16 for a /28).
    pub fn addresses_per_prefix(&self) -> u64 {
        1u64 << (32 - self.ipv4.prefix_len.min(32))
    }

    /// How many IPv4 prefixes a node running `pods_used` pods should hold.
    ///
    /// The VPC CNI's `WARM_PREFIX_TARGET` rule: the prefixes the pods fill, plus
    /// `warm_prefix_target` wholly free ones, but never more than `max_pods` pods need (and
    /// never fewer than the running pods fill). This assumes pods are packed into the fewest
    /// prefixes, which `NodeAddresses` does by filling the lowest prefix first.
    pub fn target_prefixes(&self, pods_used: u32) -> usize {
        let per = self.addresses_per_prefix();
        let used = u64::from(pods_used).div_ceil(per);
        let cap = u64::from(self.max_pods).div_ceil(per);
        let want = used
            .saturating_add(u64::from(self.warm_prefix_target))
            .min(cap)
            .max(used);
        usize::try_from(want).unwrap_or(usize::MAX)
    }
}

/// One subnet of the validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SubnetLayout {
    pub cidr: Cidr,
    pub zone: u32,
    pub prefix_len: u8,
    pub slots: u32,
}

/// The validated configuration, numbered: zones sorted by name, subnets in config order
/// (IPv4 first), and per zone and family the subnets to draw from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub zones: Vec<String>,
    pub subnets: Vec<SubnetLayout>,
    /// `zone_subnets[zone][0]` lists IPv4 subnet indexes, `[1]` IPv6 ones.
    pub zone_subnets: Vec<[Vec<u32>; 2]>,
}

pub(crate) fn family_index(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl Layout {
    /// Validates `config`: families match, prefix lengths fit, every subnet lies inside a VPC
    /// CIDR, no two VPC CIDRs or subnets overlap, no subnet is too large to bitmap, zones are
    /// named, and with IPv6 every zone has subnets of both families.
    pub fn new(config: &PrefixConfig) -> Result<Layout, ConfigError> {
        if config.max_pods == 0 {
            return Err(ConfigError::ZeroMaxPods);
        }
        let mut families = vec![(Family::V4, &config.ipv4)];
        if let Some(v6) = &config.ipv6 {
            families.push((Family::V6, v6));
        }
        let mut zone_ids: BTreeMap<&str, ()> = BTreeMap::new();
        for (_, fam) in &families {
            for s in &fam.subnets {
                if s.zone.trim().is_empty() {
                    return Err(ConfigError::EmptyZone { subnet: s.cidr });
                }
                zone_ids.insert(&s.zone, ());
            }
        }
        let zones: Vec<String> = zone_ids.keys().map(|z| (*z).to_owned()).collect();
        let mut subnets = Vec::new();
        let mut zone_subnets = vec![[Vec::new(), Vec::new()]; zones.len()];
        for (family, fam) in &families {
            check_family(*family, fam)?;
            for s in &fam.subnets {
                let zone = zones.binary_search(&s.zone).unwrap_or(0);
                let index =
                    u32::try_from(subnets.len()).map_err(|_| ConfigError::TooManySubnets)?;
                let slots = s.cidr.subnet_count(fam.prefix_len).unwrap_or(u128::MAX);
                let slots = u32::try_from(slots)
                    .ok()
                    .filter(|n| u64::from(*n) <= MAX_SLOTS_PER_SUBNET)
                    .ok_or(ConfigError::SubnetTooLarge {
                        subnet: s.cidr,
                        prefix_len: fam.prefix_len,
                    })?;
                let zone_u32 = u32::try_from(zone).map_err(|_| ConfigError::TooManySubnets)?;
                subnets.push(SubnetLayout {
                    cidr: s.cidr,
                    zone: zone_u32,
                    prefix_len: fam.prefix_len,
                    slots,
                });
                if let Some(z) = zone_subnets.get_mut(zone) {
                    z[family_index(*family)].push(index);
                }
            }
        }
        if config.ipv6.is_some() {
            for (zone, lists) in zones.iter().zip(&zone_subnets) {
                for (i, family) in [Family::V4, Family::V6].into_iter().enumerate() {
                    if lists[i].is_empty() {
                        return Err(ConfigError::ZoneMissingFamily {
                            zone: zone.clone(),
                            family,
                        });
                    }
                }
            }
        }
        Ok(Layout {
            zones,
            subnets,
            zone_subnets,
        })
    }

    /// The zone number of a zone name.
    pub fn zone_id(&self, zone: &str) -> Option<u32> {
        self.zones
            .binary_search_by(|z| z.as_str().cmp(zone))
            .ok()
            .and_then(|i| u32::try_from(i).ok())
    }

    /// The subnet and slot of `prefix`, if it is exactly one of the configured prefix slots.
    pub fn locate(&self, prefix: &Cidr) -> Option<(u32, u32)> {
        self.subnets.iter().enumerate().find_map(|(i, s)| {
            if s.prefix_len != prefix.prefix_len() {
                return None;
            }
            let slot = u32::try_from(s.cidr.subnet_index(prefix)?).ok()?;
            Some((u32::try_from(i).ok()?, slot))
        })
    }
}

fn check_family(family: Family, fam: &FamilyConfig) -> Result<(), ConfigError> {
    if fam.vpc_cidrs.is_empty() {
        return Err(ConfigError::NoVpcCidr { family });
    }
    if fam.prefix_len > family.bits() {
        return Err(ConfigError::PrefixLenTooLong {
            family,
            prefix_len: fam.prefix_len,
        });
    }
    for (i, vpc) in fam.vpc_cidrs.iter().enumerate() {
        if vpc.family() != family {
            return Err(ConfigError::WrongFamily { cidr: *vpc, family });
        }
        if let Some(other) = fam.vpc_cidrs[..i].iter().find(|o| o.overlaps(vpc)) {
            return Err(ConfigError::Overlap {
                first: *other,
                second: *vpc,
            });
        }
    }
    for (i, s) in fam.subnets.iter().enumerate() {
        if s.cidr.family() != family {
            return Err(ConfigError::WrongFamily {
                cidr: s.cidr,
                family,
            });
        }
        if !fam.vpc_cidrs.iter().any(|v| v.contains_cidr(&s.cidr)) {
            return Err(ConfigError::SubnetOutsideVpc {
                subnet: s.cidr,
                vpc: fam.vpc_cidrs.clone(),
            });
        }
        if s.cidr.prefix_len() > fam.prefix_len {
            return Err(ConfigError::SubnetSmallerThanPrefix {
                subnet: s.cidr,
                prefix_len: fam.prefix_len,
            });
        }
        if let Some(other) = fam.subnets[..i].iter().find(|o| o.cidr.overlaps(&s.cidr)) {
            return Err(ConfigError::Overlap {
                first: other.cidr,
                second: s.cidr,
            });
        }
    }
    Ok(())
}

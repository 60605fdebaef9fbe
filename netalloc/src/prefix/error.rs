//! The errors of the prefix IPAM. Each message is written for the person who reads it in a
//! Node event or in the controller's log, so it names the zone, the subnets and their free
//! counts rather than internal indexes.

use std::fmt::Write as _;

use crate::cidr::{Cidr, Family};

/// A configuration the allocator refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("max pods per node must be at least 1")]
    ZeroMaxPods,
    #[error("no {family} VPC CIDR is configured")]
    NoVpcCidr { family: Family },
    #[error("prefix length /{prefix_len} is too long for {family}")]
    PrefixLenTooLong { family: Family, prefix_len: u8 },
    #[error("{cidr} is not an {family} CIDR")]
    WrongFamily { cidr: Cidr, family: Family },
    #[error("{second} overlaps {first}")]
    Overlap { first: Cidr, second: Cidr },
    #[error("subnet {subnet} is not inside any VPC CIDR ({})", join(vpc))]
    SubnetOutsideVpc { subnet: Cidr, vpc: Vec<Cidr> },
    #[error("subnet {subnet} is smaller than one /{prefix_len} prefix")]
    SubnetSmallerThanPrefix { subnet: Cidr, prefix_len: u8 },
    #[error(
        "subnet {subnet} holds more than 2^24 /{prefix_len} prefixes; split it into smaller subnets"
    )]
    SubnetTooLarge { subnet: Cidr, prefix_len: u8 },
    #[error("subnet {subnet} has an empty zone name")]
    EmptyZone { subnet: Cidr },
    #[error("zone {zone} has no {family} subnet; with dual-stack every zone needs both families")]
    ZoneMissingFamily { zone: String, family: Family },
    #[error("more than 2^32 subnets are configured")]
    TooManySubnets,
}

/// Free space left in one subnet, for [`AllocError::ZoneExhausted`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetFree {
    pub cidr: Cidr,
    pub free: u64,
}

/// Why prefixes could not be allocated or released.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The zone's subnets of `family` hold fewer than `wanted` free prefixes; nothing was
    /// allocated (allocation is all-or-nothing).
    #[error("{}", exhausted_message(zone, *prefix_len, *wanted, subnets))]
    ZoneExhausted {
        zone: String,
        family: Family,
        prefix_len: u8,
        wanted: usize,
        subnets: Vec<SubnetFree>,
    },
    /// The node's zone has no configured subnet.
    #[error("zone {zone:?} has no configured subnet (known zones: {})", known.join(", "))]
    UnknownZone { zone: String, known: Vec<String> },
    /// The node already holds prefixes in another zone; nodes do not move between zones.
    #[error("node {node} holds prefixes in zone {holds}, not in zone {asked}")]
    ZoneMismatch {
        node: String,
        holds: String,
        asked: String,
    },
    /// `release` of a prefix the node does not hold.
    #[error("node {node} does not hold prefix {prefix}")]
    NotHeld { node: String, prefix: Cidr },
}

fn exhausted_message(zone: &str, prefix_len: u8, wanted: usize, subnets: &[SubnetFree]) -> String {
    let mut out = if wanted <= 1 {
        format!("no free /{prefix_len} prefix in zone {zone}: subnets ")
    } else {
        format!("fewer than {wanted} free /{prefix_len} prefixes in zone {zone}: subnets ")
    };
    for (i, s) in subnets.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        // Writing to a String cannot fail.
        let _ = write!(out, "{sep}{} ({} free)", s.cidr, s.free);
    }
    out
}

/// Why a snapshot could not be restored. Every variant names what to look at; a state that
/// disagrees with itself is the repair loop's job (`repair::plan`), not restore's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("prefix snapshot is not valid JSON: {0}")]
    Json(String),
    #[error("prefix snapshot version {0} is not supported (expected {1})")]
    Version(u32, u32),
    #[error("the configuration is invalid: {0}")]
    Config(#[from] ConfigError),
    #[error("snapshot subnet {subnet} is not configured (or its zone or prefix length changed)")]
    UnknownSubnet { subnet: Cidr },
    #[error("snapshot lists subnet {subnet} twice")]
    DuplicateSubnet { subnet: Cidr },
    #[error("bitmap of subnet {subnet} is corrupt: {reason}")]
    Bitmap { subnet: Cidr, reason: String },
    #[error("node {node} records {prefix}, which is not a prefix of any configured subnet")]
    UnknownPrefix { node: String, prefix: Cidr },
    #[error("prefix {prefix} is recorded on nodes {first} and {second}; run the prefix repair")]
    DoubleAllocation {
        prefix: Cidr,
        first: String,
        second: String,
    },
    #[error("node {node} records {prefix}, which its subnet's bitmap marks free; run the repair")]
    NotMarked { node: String, prefix: Cidr },
    #[error("prefix {prefix} is marked allocated but recorded on no node; run the prefix repair")]
    Unowned { prefix: Cidr },
}

fn join(cidrs: &[Cidr]) -> String {
    cidrs
        .iter()
        .map(Cidr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

//! A self-contained measurement of the prefix allocator at cluster scale (100,000 nodes with
//! two /28 prefixes each is the EKS anchor of `DESIGN.md`). Timing is reported, never
//! asserted: a benchmark target or `ultrak8s bench` prints the figures; tests only check that
//! it runs and hands out distinct prefixes.

use std::collections::HashSet;
use std::time::Instant;

use super::allocator::PrefixAllocator;
use super::config::{FamilyConfig, PrefixConfig, SubnetConfig};
use super::error::{AllocError, ConfigError};
use crate::cidr::Cidr;

/// Zones the benchmark spreads nodes over, as a large EKS cluster spans 4 zones.
const ZONES: u32 = 4;

/// What one run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchFigures {
    /// Prefixes allocated per second (one `allocate` call per node).
    pub allocations_per_sec: f64,
    /// `PrefixAllocator::memory_bytes` with every node holding its prefixes.
    pub bytes: usize,
    /// Distinct prefixes handed out (equals nodes × prefixes per node when all is well).
    pub distinct_prefixes: usize,
    /// Size of the JSON snapshot of the full state.
    pub snapshot_bytes: usize,
    /// Nodes released per second (`release_node`).
    pub releases_per_sec: f64,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Alloc(#[from] AllocError),
}

/// Allocates `prefixes_per_node` /28s for each of `nodes` nodes over 4 zones of one /8 VPC
/// (at most 2^20 prefixes in all), then releases every node.
pub fn bench(nodes: u32, prefixes_per_node: usize) -> Result<BenchFigures, BenchError> {
    let config = bench_config(u64::from(nodes) * prefixes_per_node as u64)?;
    let mut alloc = PrefixAllocator::new(config)?;
    let names: Vec<String> = (0..nodes).map(|i| format!("node-{i:06}")).collect();
    let zones: Vec<String> = (0..ZONES).map(zone_name).collect();

    let start = Instant::now();
    let mut granted = 0usize;
    for (i, name) in names.iter().enumerate() {
        let zone = &zones[i % zones.len()];
        granted += alloc.allocate(name, zone, prefixes_per_node)?.len();
    }
    let elapsed = start.elapsed().as_secs_f64();

    let bytes = alloc.memory_bytes();
    let snapshot_bytes = alloc.snapshot_json().len();
    let mut seen = HashSet::with_capacity(granted);
    for name in &names {
        seen.extend(alloc.prefixes_of(name));
    }

    let start = Instant::now();
    for name in &names {
        alloc.release_node(name);
    }
    let release_elapsed = start.elapsed().as_secs_f64();

    Ok(BenchFigures {
        allocations_per_sec: granted as f64 / elapsed.max(1e-9),
        bytes,
        distinct_prefixes: seen.len(),
        snapshot_bytes,
        releases_per_sec: f64::from(nodes) / release_elapsed.max(1e-9),
    })
}

fn zone_name(i: u32) -> String {
    format!("zone-{}", char::from(b'a' + (i % 26) as u8))
}

/// 4 zones, one subnet each, sized to the smallest power of two that holds a quarter of the
/// prefixes (capped at a /10 per zone, so the four fill 10.0.0.0/8).
fn bench_config(prefixes: u64) -> Result<PrefixConfig, ConfigError> {
    let per_zone = prefixes.div_ceil(u64::from(ZONES)).max(1);
    let slot_bits = (64 - (per_zone - 1).leading_zeros()).min(18) as u8;
    let subnet_len = 28 - slot_bits;
    let vpc = Cidr::new([10, 0, 0, 0].into(), 8).map_err(|_| ConfigError::TooManySubnets)?;
    let mut subnets = Vec::new();
    for z in 0..ZONES {
        let cidr = vpc
            .subnet(subnet_len, u128::from(z))
            .map_err(|_| ConfigError::TooManySubnets)?;
        subnets.push(SubnetConfig {
            zone: zone_name(z),
            cidr,
        });
    }
    Ok(PrefixConfig::new(FamilyConfig::new(vec![vpc], subnets)))
}

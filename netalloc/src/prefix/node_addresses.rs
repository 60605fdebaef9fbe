//! Pod addresses out of one node's prefixes, for the CNI IPAM plugin on the node.
//!
//! Mirrors the VPC CNI's datastore in prefix mode (`pkg/ipamd/datastore/data_store.go`,
//! `AssignPodIPv4Address`): a pod (keyed by its container id; pass "id/ifname" for several
//! interfaces, as upstream's `IPAMKey`) gets one address; ADD for a container that already has
//! one returns the same address; DEL of an unknown container is not an error (CNI requires
//! DEL to be idempotent).
//!
//! Every address of a prefix is handed out, the first and last included, as the VPC CNI does:
//! the VPC routes a delegated /28 to the ENI as a whole, so it has no network or broadcast
//! address of its own. Addresses come from the lowest prefix with a free one, so pods pack into
//! few prefixes and whole prefixes fall free to give back (`free_prefixes`). Within a prefix
//! allocation is next-fit, so a just-released address is not reused at once (upstream keeps a
//! 30 s cool-down for the same reason: stale conntrack and routes).
//!
//! One `NodeAddresses` serves one address family; a dual-stack CNI keeps two. An IPv6 /80 is
//! far larger than any node needs, so only its first [`MAX_ADDRESSES_PER_PREFIX`] addresses are
//! used, which keeps the bitmap at 8 KiB.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::bitmap::Bitmap;
use crate::cidr::{Cidr, Family};

/// The most addresses used out of one prefix (all 16 of a /28; 65,536 of an IPv6 /80).
pub const MAX_ADDRESSES_PER_PREFIX: u32 = 1 << 16;
/// The snapshot format version written by this code.
pub const NODE_ADDRESSES_VERSION: u32 = 1;

/// Why an address could not be assigned, a prefix not changed, or a snapshot not restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("container id is empty")]
    EmptyContainerId,
    /// Upstream's `ErrNoAvailableIPInDataStore` wording, with the prefixes it looked at.
    #[error("AssignPodIPAddress: no available IP/Prefix addresses (prefixes: {})", list(.prefixes))]
    Exhausted { prefixes: Vec<Cidr> },
    #[error("prefix {prefix} is {got} but this pool holds {want} prefixes")]
    FamilyMismatch {
        prefix: Cidr,
        got: Family,
        want: Family,
    },
    #[error("prefix {prefix} overlaps {other}, already in the pool")]
    Overlap { prefix: Cidr, other: Cidr },
    #[error("prefix {prefix} is not in the pool")]
    UnknownPrefix { prefix: Cidr },
    #[error("prefix {prefix} still has {used} addresses assigned")]
    PrefixInUse { prefix: Cidr, used: u32 },
    #[error("node address snapshot is not valid: {0}")]
    Corrupt(String),
}

fn list(prefixes: &[Cidr]) -> String {
    if prefixes.is_empty() {
        return "none".to_owned();
    }
    prefixes
        .iter()
        .map(Cidr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pool {
    prefix: Cidr,
    map: Bitmap,
}

/// One node's pod addresses: its prefixes, a bitmap per prefix and container → address.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeAddresses {
    pools: Vec<Pool>,
    containers: BTreeMap<String, IpAddr>,
}

/// The JSON form kept in the CNI's state file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeAddressesSnapshot {
    pub version: u32,
    pub prefixes: Vec<PrefixState>,
    pub containers: BTreeMap<String, IpAddr>,
}

/// One prefix in a snapshot: the used addresses are derived from `containers`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrefixState {
    pub prefix: Cidr,
    #[serde(default)]
    pub next: u32,
}

impl NodeAddresses {
    /// A pool over `prefixes` (all of one family, none overlapping).
    pub fn new(prefixes: &[Cidr]) -> Result<NodeAddresses, AddressError> {
        let mut pool = NodeAddresses::default();
        for p in prefixes {
            pool.add_prefix(*p)?;
        }
        Ok(pool)
    }

    /// Adds a prefix the node was granted.
    pub fn add_prefix(&mut self, prefix: Cidr) -> Result<(), AddressError> {
        if let Some(first) = self.pools.first() {
            let want = first.prefix.family();
            if prefix.family() != want {
                return Err(AddressError::FamilyMismatch {
                    prefix,
                    got: prefix.family(),
                    want,
                });
            }
        }
        if let Some(other) = self.pools.iter().find(|p| p.prefix.overlaps(&prefix)) {
            return Err(AddressError::Overlap {
                prefix,
                other: other.prefix,
            });
        }
        let size = prefix.address_count().unwrap_or(u128::MAX);
        let len = u32::try_from(size.min(u128::from(MAX_ADDRESSES_PER_PREFIX))).unwrap_or(0);
        self.pools.push(Pool {
            prefix,
            map: Bitmap::new(len),
        });
        Ok(())
    }

    /// Removes a prefix that has no address assigned (to give it back to the allocator).
    pub fn remove_prefix(&mut self, prefix: &Cidr) -> Result<(), AddressError> {
        let at = self
            .pools
            .iter()
            .position(|p| p.prefix == *prefix)
            .ok_or(AddressError::UnknownPrefix { prefix: *prefix })?;
        let used = self.pools[at].map.used();
        if used > 0 {
            return Err(AddressError::PrefixInUse {
                prefix: *prefix,
                used,
            });
        }
        self.pools.remove(at);
        Ok(())
    }

    /// The address of `container_id`: the one it already has, or a new one.
    pub fn assign(&mut self, container_id: &str) -> Result<IpAddr, AddressError> {
        if container_id.is_empty() {
            return Err(AddressError::EmptyContainerId);
        }
        if let Some(addr) = self.containers.get(container_id) {
            return Ok(*addr);
        }
        for pool in &mut self.pools {
            let Some(offset) = pool.map.allocate() else {
                continue;
            };
            let Ok(addr) = pool.prefix.address_at(u128::from(offset)) else {
                pool.map.clear(offset);
                continue;
            };
            self.containers.insert(container_id.to_owned(), addr);
            return Ok(addr);
        }
        Err(AddressError::Exhausted {
            prefixes: self.prefixes(),
        })
    }

    /// Frees the address of `container_id`; returns it, or `None` if it had none.
    pub fn release(&mut self, container_id: &str) -> Option<IpAddr> {
        let addr = self.containers.remove(container_id)?;
        for pool in &mut self.pools {
            if let Some(offset) = pool
                .prefix
                .offset_of(addr)
                .and_then(|o| u32::try_from(o).ok())
            {
                pool.map.clear(offset);
            }
        }
        Some(addr)
    }

    /// The address of `container_id`, if it has one.
    pub fn address_of(&self, container_id: &str) -> Option<IpAddr> {
        self.containers.get(container_id).copied()
    }

    /// The prefixes in the pool, in the order they were added.
    pub fn prefixes(&self) -> Vec<Cidr> {
        self.pools.iter().map(|p| p.prefix).collect()
    }

    /// Prefixes with no address assigned: what the node can give back.
    pub fn free_prefixes(&self) -> Vec<Cidr> {
        self.pools
            .iter()
            .filter(|p| p.map.used() == 0)
            .map(|p| p.prefix)
            .collect()
    }

    /// Addresses assigned (the `pods_used` of `PrefixAllocator::want_for`).
    pub fn used(&self) -> u32 {
        self.pools.iter().map(|p| p.map.used()).sum()
    }

    /// Addresses the pool can hand out in total.
    pub fn capacity(&self) -> u32 {
        self.pools.iter().map(|p| p.map.len()).sum()
    }

    /// The state for a file-based store.
    pub fn snapshot(&self) -> NodeAddressesSnapshot {
        NodeAddressesSnapshot {
            version: NODE_ADDRESSES_VERSION,
            prefixes: self
                .pools
                .iter()
                .map(|p| PrefixState {
                    prefix: p.prefix,
                    next: p.map.cursor(),
                })
                .collect(),
            containers: self.containers.clone(),
        }
    }

    /// The snapshot as JSON bytes.
    pub fn snapshot_json(&self) -> Vec<u8> {
        // Strings, numbers and addresses always serialize.
        serde_json::to_vec(&self.snapshot()).unwrap_or_default()
    }

    /// Rebuilds the pool; refuses addresses outside the prefixes or given to two containers.
    pub fn restore(snapshot: &NodeAddressesSnapshot) -> Result<NodeAddresses, AddressError> {
        if snapshot.version != NODE_ADDRESSES_VERSION {
            return Err(AddressError::Corrupt(format!(
                "version {} is not supported (expected {NODE_ADDRESSES_VERSION})",
                snapshot.version
            )));
        }
        let mut pool = NodeAddresses::default();
        for p in &snapshot.prefixes {
            pool.add_prefix(p.prefix)?;
            if let Some(last) = pool.pools.last_mut() {
                last.map.set_cursor(p.next);
            }
        }
        for (container, addr) in &snapshot.containers {
            if container.is_empty() {
                return Err(AddressError::EmptyContainerId);
            }
            let slot = pool.pools.iter_mut().find_map(|p| {
                let offset = u32::try_from(p.prefix.offset_of(*addr)?).ok()?;
                Some((p, offset))
            });
            let Some((p, offset)) = slot else {
                return Err(AddressError::Corrupt(format!(
                    "container {container} has {addr}, outside every usable prefix address"
                )));
            };
            if !p.map.set(offset) {
                return Err(AddressError::Corrupt(format!(
                    "{addr} is assigned to more than one container (one is {container}) \
                     or lies past the first {MAX_ADDRESSES_PER_PREFIX} addresses of its prefix"
                )));
            }
            pool.containers.insert(container.clone(), *addr);
        }
        Ok(pool)
    }

    /// Parses and restores JSON written by [`NodeAddresses::snapshot_json`].
    pub fn restore_json(bytes: &[u8]) -> Result<NodeAddresses, AddressError> {
        let snapshot: NodeAddressesSnapshot =
            serde_json::from_slice(bytes).map_err(|e| AddressError::Corrupt(e.to_string()))?;
        NodeAddresses::restore(&snapshot)
    }
}

//! A compact, serde-serializable snapshot of a [`PrefixAllocator`] and its strict restore.
//!
//! Per subnet the bitmap as hex words (trailing zero words dropped) and the next-fit cursor;
//! then the node map with prefixes in text form, so a snapshot still reads right after
//! subnets are added to the configuration. The bitmap is redundant with the node map on
//! purpose: restore checks that the two agree and refuses a snapshot that disagrees with
//! itself, pointing at the repair (`repair::plan`), much as Kubernetes' ClusterIP repair
//! (`pkg/registry/core/service/ipallocator/controller/repair.go`) reconciles the stored
//! bitmap against the Services.

use std::collections::{BTreeMap, HashMap};

use super::allocator::{PrefixAllocator, Slot};
use super::bitmap::Bitmap;
use super::config::{Layout, PrefixConfig};
use super::error::RestoreError;
use crate::cidr::Cidr;

/// The snapshot format version written by this code.
pub const SNAPSHOT_VERSION: u32 = 1;

/// One subnet's state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubnetSnapshot {
    pub cidr: Cidr,
    pub zone: String,
    pub prefix_len: u8,
    /// 16 hex digits per 64-slot word, word 0 first; trailing zero words omitted.
    pub bitmap: String,
    /// The next-fit cursor, so recently released prefixes are not reused first after a restart.
    #[serde(default)]
    pub next: u32,
}

/// The whole allocator state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrefixSnapshot {
    pub version: u32,
    pub subnets: Vec<SubnetSnapshot>,
    /// Node name → its prefixes in grant order.
    pub nodes: BTreeMap<String, Vec<Cidr>>,
}

impl PrefixAllocator {
    /// The current state, deterministic (subnets in config order, nodes sorted by name).
    pub fn snapshot(&self) -> PrefixSnapshot {
        let subnets = self
            .layout
            .subnets
            .iter()
            .zip(&self.maps)
            .map(|(s, map)| SubnetSnapshot {
                cidr: s.cidr,
                zone: self.zone_name(s.zone).to_owned(),
                prefix_len: s.prefix_len,
                bitmap: map.to_hex(),
                next: map.cursor(),
            })
            .collect();
        let nodes = self
            .nodes
            .keys()
            .map(|n| (n.to_string(), self.prefixes_of(n)))
            .collect();
        PrefixSnapshot {
            version: SNAPSHOT_VERSION,
            subnets,
            nodes,
        }
    }

    /// The snapshot as JSON bytes.
    pub fn snapshot_json(&self) -> Vec<u8> {
        // Serializing plain strings, numbers and maps with string keys cannot fail.
        serde_json::to_vec(&self.snapshot()).unwrap_or_default()
    }

    /// Rebuilds an allocator from `snapshot` under `config`. Subnets the snapshot lacks start
    /// empty (the configuration grew); a snapshot subnet that is no longer configured with the
    /// same zone and prefix length, a corrupt bitmap, or a node map that disagrees with the
    /// bitmaps is an error. A node may hold prefixes of several zones: the repair keeps
    /// wrong-zone prefixes on the node that uses them, and restore accepts what repair builds.
    pub fn restore(
        snapshot: &PrefixSnapshot,
        config: PrefixConfig,
    ) -> Result<PrefixAllocator, RestoreError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(RestoreError::Version(snapshot.version, SNAPSHOT_VERSION));
        }
        let layout = Layout::new(&config)?;
        let mut maps: Vec<Option<Bitmap>> = vec![None; layout.subnets.len()];
        for s in &snapshot.subnets {
            let index = layout
                .subnets
                .iter()
                .position(|l| {
                    l.cidr == s.cidr
                        && l.prefix_len == s.prefix_len
                        && layout.zones.get(l.zone as usize) == Some(&s.zone)
                })
                .ok_or(RestoreError::UnknownSubnet { subnet: s.cidr })?;
            if maps[index].is_some() {
                return Err(RestoreError::DuplicateSubnet { subnet: s.cidr });
            }
            let mut map =
                Bitmap::from_hex(layout.subnets[index].slots, &s.bitmap).map_err(|reason| {
                    RestoreError::Bitmap {
                        subnet: s.cidr,
                        reason,
                    }
                })?;
            map.set_cursor(s.next);
            maps[index] = Some(map);
        }
        let maps: Vec<Bitmap> = maps
            .into_iter()
            .zip(&layout.subnets)
            .map(|(m, l)| m.unwrap_or_else(|| Bitmap::new(l.slots)))
            .collect();

        let mut owner: HashMap<Slot, &str> = HashMap::new();
        let mut nodes = HashMap::with_capacity(snapshot.nodes.len());
        for (node, prefixes) in &snapshot.nodes {
            let mut slots = Vec::with_capacity(prefixes.len());
            for prefix in prefixes {
                let (subnet, slot) =
                    layout
                        .locate(prefix)
                        .ok_or_else(|| RestoreError::UnknownPrefix {
                            node: node.clone(),
                            prefix: *prefix,
                        })?;
                let s = Slot { subnet, slot };
                if let Some(first) = owner.insert(s, node) {
                    return Err(RestoreError::DoubleAllocation {
                        prefix: *prefix,
                        first: first.to_owned(),
                        second: node.clone(),
                    });
                }
                if !maps[subnet as usize].is_set(slot) {
                    return Err(RestoreError::NotMarked {
                        node: node.clone(),
                        prefix: *prefix,
                    });
                }
                slots.push(s);
            }
            if !slots.is_empty() {
                nodes.insert(Box::<str>::from(node.as_str()), slots);
            }
        }
        // Every set bit must have an owner; count first so the common case scans nothing.
        let mut owned = vec![0u32; maps.len()];
        for s in owner.keys() {
            owned[s.subnet as usize] += 1;
        }
        for (subnet, map) in maps.iter().enumerate() {
            if map.used() == owned[subnet] {
                continue;
            }
            let id = subnet as u32;
            let orphan = map
                .iter_set()
                .find(|&slot| !owner.contains_key(&Slot { subnet: id, slot }));
            let l = &layout.subnets[subnet];
            let prefix = orphan
                .and_then(|slot| l.cidr.subnet(l.prefix_len, u128::from(slot)).ok())
                .unwrap_or(l.cidr);
            return Err(RestoreError::Unowned { prefix });
        }
        Ok(PrefixAllocator {
            config,
            layout,
            maps,
            nodes,
        })
    }

    /// Parses and restores JSON written by [`PrefixAllocator::snapshot_json`].
    pub fn restore_json(
        bytes: &[u8],
        config: PrefixConfig,
    ) -> Result<PrefixAllocator, RestoreError> {
        let snapshot: PrefixSnapshot =
            serde_json::from_slice(bytes).map_err(|e| RestoreError::Json(e.to_string()))?;
        PrefixAllocator::restore(&snapshot, config)
    }
}

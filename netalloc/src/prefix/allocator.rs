//! The prefix allocator: one bitmap per subnet (a bit per prefix slot) and, per node, the
//! short list of slots it holds — the only per-node record.
//!
//! Mirrors what the VPC CNI's ipamd does on each node in prefix mode (`pkg/ipamd/ipamd.go`,
//! `tryAssignPrefixes`), moved to the control plane: a node draws prefixes from the subnets
//! of its zone, the fullest-last (most free space first, as EC2 spreads ENIs), and gives them
//! back when it is deleted. Allocation is all-or-nothing so a failed call leaves no partial
//! grant to clean up.

use std::collections::HashMap;

use super::bitmap::Bitmap;
use super::config::{Layout, PrefixConfig, family_index};
use super::error::{AllocError, ConfigError, SubnetFree};
use crate::cidr::{Cidr, Family};

/// A prefix as the allocator stores it: 8 bytes instead of a 32-byte `Cidr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Slot {
    pub subnet: u32,
    pub slot: u32,
}

/// What a Node records: its name, zone and prefixes (the input of `repair::plan`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedNode {
    pub node: String,
    pub zone: String,
    pub prefixes: Vec<Cidr>,
}

/// Allocates VPC prefixes to nodes. Pure and synchronous: the caller persists what it returns
/// (on the Node object, in a snapshot) and serialises calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixAllocator {
    pub(crate) config: PrefixConfig,
    pub(crate) layout: Layout,
    /// One bitmap per `layout.subnets` entry, same order.
    pub(crate) maps: Vec<Bitmap>,
    /// Node name → the slots it holds, in the order they were granted. A node that holds
    /// nothing has no entry.
    pub(crate) nodes: HashMap<Box<str>, Vec<Slot>>,
}

impl PrefixAllocator {
    /// An allocator with every prefix free.
    pub fn new(config: PrefixConfig) -> Result<PrefixAllocator, ConfigError> {
        let layout = Layout::new(&config)?;
        let maps = layout
            .subnets
            .iter()
            .map(|s| Bitmap::new(s.slots))
            .collect();
        Ok(PrefixAllocator {
            config,
            layout,
            maps,
            nodes: HashMap::new(),
        })
    }

    /// The configuration this allocator was built from.
    pub fn config(&self) -> &PrefixConfig {
        &self.config
    }

    /// Allocates `count` IPv4 prefixes for `node` in `zone` and, with dual-stack, one IPv6
    /// prefix if the node holds none yet. Returns only the newly granted prefixes (IPv4
    /// first). All-or-nothing: on error nothing changed.
    pub fn allocate(
        &mut self,
        node: &str,
        zone: &str,
        count: usize,
    ) -> Result<Vec<Cidr>, AllocError> {
        let zone_id = self
            .layout
            .zone_id(zone)
            .ok_or_else(|| AllocError::UnknownZone {
                zone: zone.to_owned(),
                known: self.layout.zones.clone(),
            })?;
        let held = self.nodes.get(node);
        if let Some(first) = held.and_then(|slots| slots.first()) {
            let holds = self.subnet_zone(first.subnet);
            if holds != zone_id {
                return Err(AllocError::ZoneMismatch {
                    node: node.to_owned(),
                    holds: self.zone_name(holds).to_owned(),
                    asked: zone.to_owned(),
                });
            }
        }
        let want_v6 = self.config.ipv6.is_some()
            && !held.is_some_and(|s| s.iter().any(|s| self.family_of(s.subnet) == Family::V6));
        self.check_free(zone_id, Family::V4, count)?;
        if want_v6 {
            self.check_free(zone_id, Family::V6, 1)?;
        }
        let mut granted = Vec::with_capacity(count + usize::from(want_v6));
        for _ in 0..count {
            granted.extend(self.take_one(zone_id, Family::V4));
        }
        if want_v6 {
            granted.extend(self.take_one(zone_id, Family::V6));
        }
        let cidrs = granted.iter().filter_map(|s| self.cidr_of(*s)).collect();
        if !granted.is_empty() {
            self.nodes.entry(node.into()).or_default().extend(granted);
        }
        Ok(cidrs)
    }

    /// How many more IPv4 prefixes `node` should be given now that its pods use `pods_used`
    /// addresses: [`PrefixConfig::target_prefixes`] minus what it holds (0 when it holds
    /// enough; surplus prefixes are not taken back, as the VPC CNI keeps them warm).
    pub fn want_for(&self, node: &str, pods_used: u32) -> usize {
        let held = self.nodes.get(node).map_or(0, |slots| {
            slots
                .iter()
                .filter(|s| self.family_of(s.subnet) == Family::V4)
                .count()
        });
        self.config.target_prefixes(pods_used).saturating_sub(held)
    }

    /// Returns every prefix of `node` to its subnet; returns what it held (empty if nothing).
    pub fn release_node(&mut self, node: &str) -> Vec<Cidr> {
        let Some(slots) = self.nodes.remove(node) else {
            return Vec::new();
        };
        for s in &slots {
            self.free_slot(*s);
        }
        slots.iter().filter_map(|s| self.cidr_of(*s)).collect()
    }

    /// Returns one prefix of `node` to its subnet.
    pub fn release(&mut self, node: &str, prefix: &Cidr) -> Result<(), AllocError> {
        let not_held = || AllocError::NotHeld {
            node: node.to_owned(),
            prefix: *prefix,
        };
        let (subnet, slot) = self.layout.locate(prefix).ok_or_else(not_held)?;
        let target = Slot { subnet, slot };
        let slots = self.nodes.get_mut(node).ok_or_else(not_held)?;
        let at = slots
            .iter()
            .position(|s| *s == target)
            .ok_or_else(not_held)?;
        slots.remove(at);
        if slots.is_empty() {
            self.nodes.remove(node);
        }
        self.free_slot(target);
        Ok(())
    }

    /// The prefixes `node` holds, in grant order.
    pub fn prefixes_of(&self, node: &str) -> Vec<Cidr> {
        self.nodes
            .get(node)
            .map(|slots| slots.iter().filter_map(|s| self.cidr_of(*s)).collect())
            .unwrap_or_default()
    }

    /// The zone of the prefixes `node` holds, if it holds any.
    pub fn zone_of(&self, node: &str) -> Option<&str> {
        let first = self.nodes.get(node)?.first()?;
        Some(self.zone_name(self.subnet_zone(first.subnet)))
    }

    /// Every node with its zone and prefixes, sorted by node name: what the Nodes should
    /// record, and the input `repair::plan` expects.
    pub fn recorded(&self) -> Vec<RecordedNode> {
        let mut out: Vec<RecordedNode> = self
            .nodes
            .keys()
            .map(|name| RecordedNode {
                node: name.to_string(),
                zone: self.zone_of(name).unwrap_or_default().to_owned(),
                prefixes: self.prefixes_of(name),
            })
            .collect();
        out.sort_by(|a, b| a.node.cmp(&b.node));
        out
    }

    /// How many nodes hold at least one prefix.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Free prefixes of `family` in `zone`, or `None` for an unknown zone.
    pub fn free_in_zone(&self, zone: &str, family: Family) -> Option<u64> {
        let id = self.layout.zone_id(zone)?;
        Some(self.zone_free(id, family).iter().map(|s| s.free).sum())
    }

    /// Whether `prefix` is currently allocated (to some node).
    pub fn is_allocated(&self, prefix: &Cidr) -> bool {
        self.layout.locate(prefix).is_some_and(|(subnet, slot)| {
            self.maps
                .get(subnet as usize)
                .is_some_and(|m| m.is_set(slot))
        })
    }

    /// An estimate of the heap and inline bytes this allocator holds: bitmaps, the node map's
    /// table, names and slot vectors. 100,000 nodes with two prefixes each come to ~10 MB.
    pub fn memory_bytes(&self) -> usize {
        let maps: usize = self.maps.iter().map(Bitmap::memory_bytes).sum();
        let entry = std::mem::size_of::<(Box<str>, Vec<Slot>)>() + 1;
        let table = self.nodes.capacity() * entry;
        let per_node: usize = self
            .nodes
            .iter()
            .map(|(name, slots)| name.len() + slots.capacity() * std::mem::size_of::<Slot>())
            .sum();
        std::mem::size_of::<Self>() + maps + table + per_node
    }

    pub(crate) fn cidr_of(&self, s: Slot) -> Option<Cidr> {
        let subnet = self.layout.subnets.get(s.subnet as usize)?;
        subnet
            .cidr
            .subnet(subnet.prefix_len, u128::from(s.slot))
            .ok()
    }

    pub(crate) fn subnet_zone(&self, subnet: u32) -> u32 {
        self.layout
            .subnets
            .get(subnet as usize)
            .map_or(0, |s| s.zone)
    }

    pub(crate) fn zone_name(&self, zone: u32) -> &str {
        self.layout
            .zones
            .get(zone as usize)
            .map_or("", String::as_str)
    }

    pub(crate) fn family_of(&self, subnet: u32) -> Family {
        self.layout
            .subnets
            .get(subnet as usize)
            .map_or(Family::V4, |s| s.cidr.family())
    }

    fn zone_subnet_ids(&self, zone: u32, family: Family) -> &[u32] {
        self.layout
            .zone_subnets
            .get(zone as usize)
            .map_or(&[], |l| &l[family_index(family)])
    }

    fn zone_free(&self, zone: u32, family: Family) -> Vec<SubnetFree> {
        self.zone_subnet_ids(zone, family)
            .iter()
            .filter_map(|&i| {
                let cidr = self.layout.subnets.get(i as usize)?.cidr;
                Some(SubnetFree {
                    cidr,
                    free: u64::from(self.maps.get(i as usize)?.free()),
                })
            })
            .collect()
    }

    fn check_free(&self, zone: u32, family: Family, wanted: usize) -> Result<(), AllocError> {
        let subnets = self.zone_free(zone, family);
        let free: u64 = subnets.iter().map(|s| s.free).sum();
        if (wanted as u64) <= free {
            return Ok(());
        }
        let prefix_len = match family {
            Family::V4 => self.config.ipv4.prefix_len,
            Family::V6 => self.config.ipv6.as_ref().map_or(0, |f| f.prefix_len),
        };
        Err(AllocError::ZoneExhausted {
            zone: self.zone_name(zone).to_owned(),
            family,
            prefix_len,
            wanted,
            subnets,
        })
    }

    /// Takes one slot from the zone's subnet with the most free slots (ties: config order).
    fn take_one(&mut self, zone: u32, family: Family) -> Option<Slot> {
        let best = self
            .zone_subnet_ids(zone, family)
            .iter()
            .copied()
            .filter(|&i| self.maps.get(i as usize).is_some_and(|m| m.free() > 0))
            .min_by_key(|&i| (std::cmp::Reverse(self.maps[i as usize].free()), i))?;
        let slot = self.maps.get_mut(best as usize)?.allocate()?;
        Some(Slot { subnet: best, slot })
    }

    fn free_slot(&mut self, s: Slot) {
        if let Some(map) = self.maps.get_mut(s.subnet as usize) {
            map.clear(s.slot);
        }
    }
}

//! Rebuilds the prefix allocator from what the Nodes record, after a restart or when the
//! stored snapshot is suspect, and reports every disagreement.
//!
//! Mirrors Kubernetes' ClusterIP repair loop
//! (`pkg/registry/core/service/ipallocator/controller/repair.go`): the objects are the truth,
//! the bitmap is rebuilt from them; a value claimed twice is reported (the first claimant in
//! input order keeps it, the others must be re-created); values the old bitmap holds but no
//! object claims are leaks and are freed. Upstream waits a few runs before freeing a leak
//! (`numRepairsBeforeLeakCleanup`); this core only plans, so the caller decides when to adopt
//! the rebuilt allocator.

use std::collections::HashMap;

use super::allocator::{PrefixAllocator, RecordedNode, Slot};
use super::config::PrefixConfig;
use super::error::ConfigError;
use crate::cidr::Cidr;

/// A prefix recorded on more than one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleAllocation {
    pub prefix: Cidr,
    /// Every node that records it, in input order; the first keeps it in the rebuilt state.
    pub nodes: Vec<String>,
}

/// A prefix recorded on a node that is no configured prefix slot: outside every subnet, of
/// another length, or of an unconfigured family. It is not tracked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutsidePrefix {
    pub node: String,
    pub prefix: Cidr,
}

/// A prefix of a subnet of another zone than the node's. It stays allocated to the node (the
/// node uses it) and is reported so the node can be drained and re-created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrongZone {
    pub node: String,
    pub prefix: Cidr,
    pub node_zone: String,
    pub subnet_zone: String,
}

/// What `plan` found and the allocator it rebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairReport {
    /// The state rebuilt from the recorded nodes.
    pub allocator: PrefixAllocator,
    pub double_allocations: Vec<DoubleAllocation>,
    pub outside: Vec<OutsidePrefix>,
    pub wrong_zone: Vec<WrongZone>,
    /// Allocated in the given allocator but recorded on no node: free in the rebuilt one.
    pub leaks: Vec<Cidr>,
    /// Recorded on a node but free (or held by another node) in the given allocator.
    pub not_allocated: Vec<OutsidePrefix>,
}

impl RepairReport {
    /// True when the recorded nodes and the given allocator agree entirely.
    pub fn is_clean(&self) -> bool {
        self.double_allocations.is_empty()
            && self.outside.is_empty()
            && self.wrong_zone.is_empty()
            && self.leaks.is_empty()
            && self.not_allocated.is_empty()
    }

    /// One line per finding, for events and logs.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.double_allocations {
            out.push(format!(
                "prefix {} is allocated to several nodes ({}); {} keeps it, re-create the others",
                d.prefix,
                d.nodes.join(", "),
                d.nodes.first().map_or("", String::as_str)
            ));
        }
        for o in &self.outside {
            out.push(format!(
                "node {} records prefix {}, which is not in any configured subnet",
                o.node, o.prefix
            ));
        }
        for w in &self.wrong_zone {
            out.push(format!(
                "node {} in zone {} records prefix {} of a subnet in zone {}",
                w.node, w.node_zone, w.prefix, w.subnet_zone
            ));
        }
        for l in &self.leaks {
            out.push(format!(
                "prefix {l} is allocated but recorded on no node; releasing it"
            ));
        }
        for n in &self.not_allocated {
            out.push(format!(
                "prefix {} of node {} was not allocated to it; repairing",
                n.prefix, n.node
            ));
        }
        out
    }
}

/// Rebuilds the allocator for `config` from `recorded` (what the Nodes carry) and compares it
/// with `current` (the state in memory or from a snapshot), if any. Pure: nothing changes
/// until the caller adopts `report.allocator`. On a consistent input the report is clean and
/// the rebuilt allocator equals `current`.
pub fn plan(
    config: &PrefixConfig,
    recorded: &[RecordedNode],
    current: Option<&PrefixAllocator>,
) -> Result<RepairReport, ConfigError> {
    let mut rebuilt = PrefixAllocator::new(config.clone())?;
    if let Some(cur) = current.filter(|c| c.layout == rebuilt.layout) {
        for (map, old) in rebuilt.maps.iter_mut().zip(&cur.maps) {
            map.set_cursor(old.cursor());
        }
    }
    let mut report = RepairReport {
        allocator: rebuilt.clone(),
        double_allocations: Vec::new(),
        outside: Vec::new(),
        wrong_zone: Vec::new(),
        leaks: Vec::new(),
        not_allocated: Vec::new(),
    };
    // Slot → index into `claims`, so each double allocation is reported once with all nodes.
    let mut owner: HashMap<Slot, usize> = HashMap::new();
    let mut claims: Vec<(Cidr, Vec<String>)> = Vec::new();
    for rec in recorded {
        let node_zone = rebuilt.layout.zone_id(&rec.zone);
        let mut slots: Vec<Slot> = Vec::new();
        let mut seen: Vec<Slot> = Vec::new();
        for prefix in &rec.prefixes {
            let Some((subnet, slot)) = rebuilt.layout.locate(prefix) else {
                report.outside.push(OutsidePrefix {
                    node: rec.node.clone(),
                    prefix: *prefix,
                });
                continue;
            };
            let s = Slot { subnet, slot };
            if seen.contains(&s) {
                continue; // the same node listing a prefix twice claims it once
            }
            seen.push(s);
            if let Some(&claim) = owner.get(&s) {
                if let Some((_, nodes)) = claims.get_mut(claim) {
                    nodes.push(rec.node.clone());
                }
                continue;
            }
            owner.insert(s, claims.len());
            claims.push((*prefix, vec![rec.node.clone()]));
            let subnet_zone = rebuilt.subnet_zone(subnet);
            if node_zone != Some(subnet_zone) {
                report.wrong_zone.push(WrongZone {
                    node: rec.node.clone(),
                    prefix: *prefix,
                    node_zone: rec.zone.clone(),
                    subnet_zone: rebuilt.zone_name(subnet_zone).to_owned(),
                });
            }
            if let Some(map) = rebuilt.maps.get_mut(subnet as usize) {
                map.set(slot);
            }
            slots.push(s);
            if let Some(cur) = current {
                let held = cur.layout.locate(prefix).is_some_and(|(subnet, slot)| {
                    let in_cur = Slot { subnet, slot };
                    cur.nodes
                        .get(rec.node.as_str())
                        .is_some_and(|v| v.contains(&in_cur))
                });
                if !held {
                    report.not_allocated.push(OutsidePrefix {
                        node: rec.node.clone(),
                        prefix: *prefix,
                    });
                }
            }
        }
        if !slots.is_empty() {
            rebuilt
                .nodes
                .entry(rec.node.as_str().into())
                .or_default()
                .extend(slots);
        }
    }
    report.double_allocations = claims
        .into_iter()
        .filter(|(_, nodes)| nodes.len() > 1)
        .map(|(prefix, nodes)| DoubleAllocation { prefix, nodes })
        .collect();
    if let Some(cur) = current {
        for (subnet, map) in cur.maps.iter().enumerate() {
            for slot in map.iter_set() {
                let Some(prefix) = cur.cidr_of(Slot {
                    subnet: subnet as u32,
                    slot,
                }) else {
                    continue;
                };
                if !rebuilt.is_allocated(&prefix) {
                    report.leaks.push(prefix);
                }
            }
        }
    }
    report.allocator = rebuilt;
    Ok(report)
}

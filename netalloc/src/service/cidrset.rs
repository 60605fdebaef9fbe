//! ClusterIP allocation over several ServiceCIDRs (the `networking.k8s.io/v1` ServiceCIDR
//! API: a cluster may add CIDRs at run time and delete them once no address depends on them).
//!
//! Mirrors `pkg/registry/core/service/ipallocator/cidrallocator.go` (`MetaAllocator`):
//! - one allocator per distinct CIDR, shared by every ServiceCIDR that names it; it may
//!   allocate when at least one of those ServiceCIDRs is ready and not terminating;
//! - a requested address goes to the ready allocators that contain it, a dynamic one is
//!   taken from the first usable CIDR of the family that has room, in the order the CIDRs
//!   were added (upstream walks a map or a prefix tree; an explicit order keeps tests and
//!   replicas deterministic);
//! - a release works whatever the state of the ServiceCIDR.
//!
//! Upstream records every address once, as an IPAddress object, so overlapping CIDRs
//! (10.0.0.0/16 and 10.0.1.0/24) cannot hand out one address twice. Here each CIDR has its
//! own bitmap, so the set keeps one invariant instead: an allocated address is set in every
//! bitmap that can represent it. A bitmap with a free bit therefore names an address free
//! everywhere, and a CIDR added later starts from the allocations it overlaps.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::bitmap::SplitMix64;
use super::error::ServiceAllocError;
use super::ip::IpAllocator;
use crate::cidr::{Cidr, Family};

/// The state of one ServiceCIDR object, as far as allocation cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceCidr {
    /// `metadata.name`.
    pub name: String,
    /// `spec.cidrs`: one block, or one per family.
    pub cidrs: Vec<Cidr>,
    /// The `Ready` condition (a ServiceCIDR without conditions counts as ready upstream).
    pub ready: bool,
    /// Whether `metadata.deletionTimestamp` is set.
    pub terminating: bool,
}

impl ServiceCidr {
    fn usable(&self) -> bool {
        self.ready && !self.terminating
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Block {
    alloc: IpAllocator,
    /// Names of the ServiceCIDRs that list this CIDR.
    owners: BTreeSet<String>,
}

/// The ClusterIP allocators of every ServiceCIDR of a cluster, both families.
#[derive(Clone, Debug)]
pub struct CidrSet {
    service_cidrs: Vec<ServiceCidr>,
    /// In the order the CIDRs first appeared; a CIDR appears once.
    blocks: Vec<Block>,
    /// Distinct allocated addresses per family ([IPv4, IPv6]).
    used: [usize; 2],
    seeds: SplitMix64,
}

impl PartialEq for CidrSet {
    /// Equal ServiceCIDRs and equal allocations; the generators' positions do not matter.
    fn eq(&self, other: &Self) -> bool {
        self.service_cidrs == other.service_cidrs && self.blocks == other.blocks
    }
}

impl Eq for CidrSet {}

fn family_index(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl CidrSet {
    /// An empty set; `seed` seeds the generator of each allocator created later.
    pub fn new(seed: u64) -> Self {
        CidrSet {
            service_cidrs: Vec::new(),
            blocks: Vec::new(),
            used: [0, 0],
            seeds: SplitMix64::new(seed),
        }
    }

    /// The ServiceCIDRs, in the order they were added.
    pub fn service_cidrs(&self) -> &[ServiceCidr] {
        &self.service_cidrs
    }

    /// The same ServiceCIDRs with no address allocated (what a repair rebuilds into).
    pub fn empty_like(&self, seed: u64) -> Self {
        let mut seeds = SplitMix64::new(seed);
        CidrSet {
            service_cidrs: self.service_cidrs.clone(),
            blocks: self
                .blocks
                .iter()
                .map(|b| Block {
                    alloc: b.alloc.empty_like(seeds.next_u64()),
                    owners: b.owners.clone(),
                })
                .collect(),
            used: [0, 0],
            seeds,
        }
    }

    /// Adds a ready ServiceCIDR (validated as `ValidateServiceCIDR` does: one or two
    /// blocks, at most one per family, IPv6 no shorter than /64).
    pub fn add(&mut self, name: &str, cidrs: &[Cidr]) -> Result<(), ServiceAllocError> {
        if self.service_cidrs.iter().any(|s| s.name == name) {
            return Err(ServiceAllocError::ServiceCidrExists {
                name: name.to_owned(),
            });
        }
        let invalid = |reason: String| ServiceAllocError::InvalidServiceCidr {
            name: name.to_owned(),
            reason,
        };
        match cidrs {
            [] => return Err(invalid("Required value".to_owned())),
            [_, _, _, ..] => {
                return Err(invalid(format!(
                    "Too many: {}: must have at most 2 items",
                    cidrs.len()
                )));
            }
            [a, b] if a.family() == b.family() => {
                return Err(invalid(format!(
                    "Invalid value: [\"{a}\", \"{b}\"]: may specify no more than one IP for each IP family"
                )));
            }
            _ => {}
        }
        self.attach(name, cidrs)?;
        self.service_cidrs.push(ServiceCidr {
            name: name.to_owned(),
            cidrs: cidrs.to_vec(),
            ready: true,
            terminating: false,
        });
        Ok(())
    }

    /// Adds to ServiceCIDR `name` the CIDRs of `cidrs` it does not list yet: a single-stack
    /// ServiceCIDR gaining its second family, the one change validation allows. Nothing
    /// changes on refusal (a removed CIDR, two of one family).
    pub fn grow(&mut self, name: &str, cidrs: &[Cidr]) -> Result<(), ServiceAllocError> {
        let current = self.find_mut(name)?.cidrs.clone();
        if current.as_slice() == cidrs {
            return Ok(());
        }
        let invalid = |reason: String| ServiceAllocError::InvalidServiceCidr {
            name: name.to_owned(),
            reason,
        };
        let added: Vec<Cidr> = cidrs
            .iter()
            .filter(|c| !current.contains(c))
            .copied()
            .collect();
        if current.iter().any(|c| !cidrs.contains(c)) || cidrs.len() > 2 {
            return Err(invalid(format!(
                "Invalid value: {cidrs:?}: only a CIDR of the other family may be added"
            )));
        }
        if added.iter().any(|a| current.iter().any(|c| c.family() == a.family())) {
            return Err(invalid(format!(
                "Invalid value: {cidrs:?}: may specify no more than one IP for each IP family"
            )));
        }
        self.attach(name, &added)?;
        self.find_mut(name)?.cidrs = cidrs.to_vec();
        Ok(())
    }

    /// Makes `name` an owner of a block per CIDR, creating the blocks that do not exist
    /// (every one built before anything changes, so a refusal changes nothing).
    fn attach(&mut self, name: &str, cidrs: &[Cidr]) -> Result<(), ServiceAllocError> {
        let mut fresh = Vec::new();
        for cidr in cidrs {
            if cidr.family() == Family::V6 && cidr.prefix_len() < 64 {
                return Err(ServiceAllocError::PrefixTooShort {
                    prefix_len: cidr.prefix_len(),
                });
            }
            if self.block_index(cidr).is_none() {
                fresh.push(IpAllocator::new(*cidr, self.seeds.next_u64())?);
            }
        }
        for mut alloc in fresh {
            // Start from the allocations this CIDR overlaps (the set-wide invariant).
            let cidr = alloc.cidr();
            let taken: BTreeSet<IpAddr> = self
                .blocks
                .iter()
                .filter(|b| b.alloc.cidr().overlaps(&cidr))
                .flat_map(|b| b.alloc.allocated().filter(|ip| cidr.contains(*ip)))
                .collect();
            for ip in taken {
                if alloc.contains(ip) {
                    // Free in a fresh allocator; an error cannot happen.
                    let _ = alloc.allocate(ip);
                }
            }
            self.blocks.push(Block {
                alloc,
                owners: BTreeSet::new(),
            });
        }
        for cidr in cidrs {
            if let Some(i) = self.block_index(cidr) {
                self.blocks[i].owners.insert(name.to_owned());
            }
        }
        Ok(())
    }

    /// Sets the `Ready` condition of a ServiceCIDR.
    pub fn set_ready(&mut self, name: &str, ready: bool) -> Result<(), ServiceAllocError> {
        self.find_mut(name)?.ready = ready;
        Ok(())
    }

    /// Marks a ServiceCIDR as being deleted: no new address comes from it.
    pub fn mark_terminating(&mut self, name: &str) -> Result<(), ServiceAllocError> {
        self.find_mut(name)?.terminating = true;
        Ok(())
    }

    /// Removes a ServiceCIDR, once no allocated address depends on it alone (upstream keeps
    /// the ServiceCIDR's finalizer until then). On refusal nothing changes.
    pub fn remove(&mut self, name: &str) -> Result<(), ServiceAllocError> {
        let pos = self
            .service_cidrs
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| ServiceAllocError::ServiceCidrNotFound {
                name: name.to_owned(),
            })?;
        let orphaned: Vec<usize> = self
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.owners.len() == 1 && b.owners.contains(name))
            .map(|(i, _)| i)
            .collect();
        for &i in &orphaned {
            let stranded = self.blocks[i].alloc.allocated().find(|ip| {
                !self
                    .blocks
                    .iter()
                    .enumerate()
                    .any(|(j, b)| !orphaned.contains(&j) && b.alloc.contains(*ip))
            });
            if let Some(ip) = stranded {
                return Err(ServiceAllocError::ServiceCidrInUse {
                    name: name.to_owned(),
                    ip,
                });
            }
        }
        self.service_cidrs.remove(pos);
        for b in &mut self.blocks {
            b.owners.remove(name);
        }
        self.blocks.retain(|b| !b.owners.is_empty());
        Ok(())
    }

    /// Reserves a requested address.
    pub fn allocate(&mut self, ip: IpAddr) -> Result<(), ServiceAllocError> {
        let holders = self.holders(ip);
        if holders.is_empty() {
            return Err(self.not_in_range(ip));
        }
        if !holders.iter().any(|&i| self.block_usable(i)) {
            return Err(ServiceAllocError::NotReady);
        }
        if holders.iter().any(|&i| self.blocks[i].alloc.has(ip)) {
            return Err(ServiceAllocError::IpAllocated);
        }
        self.mark(ip, &holders);
        Ok(())
    }

    /// Reserves a free address of `family` from the first usable CIDR with room.
    pub fn allocate_next(&mut self, family: Family) -> Result<IpAddr, ServiceAllocError> {
        if !self.blocks.iter().any(|b| b.alloc.family() == family) {
            return Err(ServiceAllocError::FamilyNotConfigured { family });
        }
        if !self.any_usable(family) {
            return Err(ServiceAllocError::NotReady);
        }
        for i in 0..self.blocks.len() {
            if self.blocks[i].alloc.family() != family || !self.block_usable(i) {
                continue;
            }
            if let Ok(ip) = self.blocks[i].alloc.allocate_next() {
                // Free here means free everywhere; set it in the other holders too.
                let others: Vec<usize> = self.holders(ip).into_iter().filter(|&j| j != i).collect();
                for j in others {
                    let _ = self.blocks[j].alloc.allocate(ip);
                }
                self.used[family_index(family)] += 1;
                return Ok(ip);
            }
        }
        Err(ServiceAllocError::Full)
    }

    /// Frees `ip` in every CIDR that holds it; a free or unknown address is a no-op.
    pub fn release(&mut self, ip: IpAddr) {
        let mut freed = false;
        for i in self.holders(ip) {
            freed |= self.blocks[i].alloc.has(ip);
            self.blocks[i].alloc.release(ip);
        }
        if freed {
            self.used[family_index(Family::of(&ip))] -= 1;
        }
    }

    /// Whether `ip` is allocated.
    pub fn has(&self, ip: IpAddr) -> bool {
        self.holders(ip)
            .iter()
            .any(|&i| self.blocks[i].alloc.has(ip))
    }

    /// Whether some CIDR, usable or not, can represent `ip`.
    pub fn covers(&self, ip: IpAddr) -> bool {
        !self.holders(ip).is_empty()
    }

    /// The count of distinct allocated addresses of `family`.
    pub fn used(&self, family: Family) -> usize {
        self.used[family_index(family)]
    }

    /// Addresses left in the usable CIDRs of `family` that no other usable CIDR contains
    /// (upstream counts top-level prefixes only, so nested CIDRs are not counted twice).
    pub fn free(&self, family: Family) -> usize {
        let top: Vec<usize> = (0..self.blocks.len())
            .filter(|&i| self.blocks[i].alloc.family() == family && self.block_usable(i))
            .collect();
        top.iter()
            .filter(|&&i| {
                let c = self.blocks[i].alloc.cidr();
                !top.iter().any(|&j| {
                    j != i
                        && self.blocks[j].alloc.cidr().contains_cidr(&c)
                        && self.blocks[j].alloc.cidr() != c
                })
            })
            .map(|&i| self.blocks[i].alloc.free())
            .sum()
    }

    /// The allocated addresses of `family`, each once, in increasing order.
    pub fn allocated(&self, family: Family) -> BTreeSet<IpAddr> {
        self.blocks
            .iter()
            .filter(|b| b.alloc.family() == family)
            .flat_map(|b| b.alloc.allocated())
            .collect()
    }

    /// Marks `ip` allocated whatever the readiness of its CIDRs (a repair rebuilding the
    /// state of existing objects). `Ok(false)` if it was allocated already; `NotInRange` if
    /// no CIDR can represent it.
    pub fn reserve_existing(&mut self, ip: IpAddr) -> Result<bool, ServiceAllocError> {
        let holders = self.holders(ip);
        if holders.is_empty() {
            return Err(self.not_in_range(ip));
        }
        if holders.iter().any(|&i| self.blocks[i].alloc.has(ip)) {
            return Ok(false);
        }
        self.mark(ip, &holders);
        Ok(true)
    }

    fn mark(&mut self, ip: IpAddr, holders: &[usize]) {
        for &i in holders {
            let _ = self.blocks[i].alloc.allocate(ip);
        }
        self.used[family_index(Family::of(&ip))] += 1;
    }

    fn holders(&self, ip: IpAddr) -> Vec<usize> {
        (0..self.blocks.len())
            .filter(|&i| self.blocks[i].alloc.contains(ip))
            .collect()
    }

    fn block_index(&self, cidr: &Cidr) -> Option<usize> {
        self.blocks.iter().position(|b| b.alloc.cidr() == *cidr)
    }

    fn block_usable(&self, i: usize) -> bool {
        let owners = &self.blocks[i].owners;
        self.service_cidrs
            .iter()
            .any(|s| s.usable() && owners.contains(&s.name))
    }

    fn any_usable(&self, family: Family) -> bool {
        (0..self.blocks.len())
            .any(|i| self.blocks[i].alloc.family() == family && self.block_usable(i))
    }

    fn not_in_range(&self, ip: IpAddr) -> ServiceAllocError {
        let family = Family::of(&ip);
        let ranges: Vec<String> = (0..self.blocks.len())
            .filter(|&i| self.blocks[i].alloc.family() == family && self.block_usable(i))
            .map(|i| self.blocks[i].alloc.cidr().to_string())
            .collect();
        ServiceAllocError::IpNotInRange {
            ip,
            valid_range: ranges.join(","),
        }
    }

    fn find_mut(&mut self, name: &str) -> Result<&mut ServiceCidr, ServiceAllocError> {
        self.service_cidrs
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| ServiceAllocError::ServiceCidrNotFound {
                name: name.to_owned(),
            })
    }
}

#[cfg(test)]
#[path = "cidrset_tests.rs"]
mod tests;

//! The ClusterIP allocator of one service CIDR.
//!
//! Mirrors `pkg/registry/core/service/ipallocator/bitmap.go` (`Range`): offsets of the
//! bitmap start at the address after the network address, so for `10.0.0.0/24` offset 0 is
//! `10.0.0.1` and the 254 usable addresses are offsets 0..254:
//!
//! ```text
//!   CIDR network address                CIDR broadcast address
//!   10.0.0.0                                       10.0.0.255
//!   |  10.0.0.1 ... 10.0.0.16 | 10.0.0.17 ... 10.0.0.254 |
//!   |  static band (offset 0..16) | dynamic band (16..254)  |
//! ```
//!
//! - IPv4 excludes the network and broadcast addresses; IPv6 excludes the subnet-router
//!   anycast (network) address and caps the range at its first 65536 addresses, as upstream
//!   does because the bitmap has one bit per address.
//! - The static band is `min(max(16, size / 16), 256)` addresses (KEP-3070,
//!   `calculateRangeOffset`), none for blocks of 16 addresses or fewer.
//! - IPv4 blocks larger than /12 are refused (the bitmap of a /0 would take 512 MiB), as
//!   kube-apiserver refuses such a `--service-cluster-ip-range`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::bitmap::AllocationBitmap;
use super::error::ServiceAllocError;
use crate::cidr::{Cidr, Family};

/// The most addresses an IPv6 range uses (upstream `ipallocator.New`).
pub const MAX_IPV6_RANGE: u128 = 65536;

/// The most host bits an IPv4 service CIDR may have (upstream `maxCIDRBits`).
pub const MAX_IPV4_HOST_BITS: u8 = 20;

/// The persisted state of a range: upstream's `RangeAllocation` (`range` is the CIDR or port
/// range as text, `data` the bitmap as big-endian bytes, see `AllocationBitmap::snapshot`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeAllocation {
    /// The range specifier: "10.96.0.0/12" or "30000-32767".
    pub range: String,
    /// The allocated offsets.
    pub data: Vec<u8>,
}

/// The ClusterIP allocator of one CIDR: a bitmap over the usable addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpAllocator {
    cidr: Cidr,
    bitmap: AllocationBitmap,
}

impl IpAllocator {
    /// An empty allocator over `cidr`; `seed` drives the random start of dynamic allocation.
    pub fn new(cidr: Cidr, seed: u64) -> Result<Self, ServiceAllocError> {
        if cidr.family() == Family::V4 && cidr.host_bits() > MAX_IPV4_HOST_BITS {
            return Err(ServiceAllocError::CidrTooLarge { cidr });
        }
        // Only ::/0 overflows the count; it is capped like every large IPv6 block.
        let size = cidr.address_count().unwrap_or(u128::MAX);
        let usable = match cidr.family() {
            Family::V4 => size.saturating_sub(2),
            Family::V6 => size.min(MAX_IPV6_RANGE).saturating_sub(1),
        };
        // At most 2^20 for IPv4 and 65535 for IPv6, so it fits any usize of 32 bits or more.
        let max = usize::try_from(usable).unwrap_or(0);
        let offset = calculate_range_offset(size);
        Ok(IpAllocator {
            cidr,
            bitmap: AllocationBitmap::new(max, offset, seed),
        })
    }

    /// An allocator rebuilt from a snapshot (upstream `NewFromSnapshot`).
    pub fn from_snapshot(snap: &RangeAllocation, seed: u64) -> Result<Self, ServiceAllocError> {
        let cidr: Cidr = snap.range.parse()?;
        let mut alloc = IpAllocator::new(cidr, seed)?;
        alloc.restore(snap)?;
        Ok(alloc)
    }

    /// The CIDR this allocator covers.
    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// The address family of the CIDR.
    pub fn family(&self) -> Family {
        self.cidr.family()
    }

    /// How many addresses the allocator can hand out in all.
    pub fn capacity(&self) -> usize {
        self.bitmap.max()
    }

    /// How many of the lowest usable addresses form the static band.
    pub fn static_band_size(&self) -> usize {
        self.bitmap.offset()
    }

    /// The count of addresses left.
    pub fn free(&self) -> usize {
        self.bitmap.free()
    }

    /// The count of addresses taken.
    pub fn used(&self) -> usize {
        self.bitmap.count()
    }

    /// Whether `ip` is one of the addresses this allocator can hand out.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.offset_of(ip).is_some()
    }

    /// Reserves the requested `ip` (a user-chosen ClusterIP).
    pub fn allocate(&mut self, ip: IpAddr) -> Result<(), ServiceAllocError> {
        let offset = self
            .offset_of(ip)
            .ok_or_else(|| ServiceAllocError::IpNotInRange {
                ip,
                valid_range: self.cidr.to_string(),
            })?;
        match self.bitmap.allocate(offset) {
            Some(true) => Ok(()),
            _ => Err(ServiceAllocError::IpAllocated),
        }
    }

    /// Reserves a free address, from the dynamic band first (KEP-3070).
    pub fn allocate_next(&mut self) -> Result<IpAddr, ServiceAllocError> {
        let offset = self.bitmap.allocate_next().ok_or(ServiceAllocError::Full)?;
        match self.address_at(offset) {
            Some(ip) => Ok(ip),
            None => {
                // Unreachable: every offset below `max` maps into the CIDR. Undo rather than
                // leak the bit.
                self.bitmap.release(offset);
                Err(ServiceAllocError::Full)
            }
        }
    }

    /// Frees `ip`; freeing a free address or one out of range does nothing, as upstream.
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(offset) = self.offset_of(ip) {
            self.bitmap.release(offset);
        }
    }

    /// Whether `ip` is taken (a call to `allocate(ip)` would fail with `IpAllocated`).
    pub fn has(&self, ip: IpAddr) -> bool {
        self.offset_of(ip).is_some_and(|o| self.bitmap.has(o))
    }

    /// The taken addresses in increasing order (upstream `ForEach`).
    pub fn allocated(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.bitmap.iter().filter_map(|o| self.address_at(o))
    }

    /// The state to persist (upstream `Snapshot`).
    pub fn snapshot(&self) -> RangeAllocation {
        RangeAllocation {
            range: self.cidr.to_string(),
            data: self.bitmap.snapshot(),
        }
    }

    /// Replaces the state with a snapshot of the same CIDR (upstream `Restore`). On error
    /// nothing changes.
    pub fn restore(&mut self, snap: &RangeAllocation) -> Result<(), ServiceAllocError> {
        match snap.range.parse::<Cidr>() {
            Ok(cidr) if cidr == self.cidr => self.bitmap.restore(&snap.data),
            _ => Err(ServiceAllocError::MismatchedNetwork),
        }
    }

    /// An empty allocator over the same CIDR (what a repair rebuilds into).
    pub fn empty_like(&self, seed: u64) -> Self {
        IpAllocator {
            cidr: self.cidr,
            bitmap: AllocationBitmap::new(self.capacity(), self.static_band_size(), seed),
        }
    }

    fn offset_of(&self, ip: IpAddr) -> Option<usize> {
        let from_network = self.cidr.offset_of(ip)?;
        let offset = usize::try_from(from_network.checked_sub(1)?).ok()?;
        (offset < self.bitmap.max()).then_some(offset)
    }

    fn address_at(&self, offset: usize) -> Option<IpAddr> {
        self.cidr.address_at(offset as u128 + 1).ok()
    }
}

/// The size of the static band for a block of `size` addresses (upstream
/// `ipallocator.calculateRangeOffset`: never under 16 nor over 256, a sixteenth between).
pub fn calculate_range_offset(size: u128) -> usize {
    const MIN: u128 = 16;
    const MAX: u128 = 256;
    const STEP: u128 = 16;
    if size <= MIN {
        return 0;
    }
    // Clamped to 16..=256 so the conversion cannot fail.
    usize::try_from((size / STEP).clamp(MIN, MAX)).unwrap_or(0)
}

#[cfg(test)]
#[path = "ip_tests.rs"]
mod tests;

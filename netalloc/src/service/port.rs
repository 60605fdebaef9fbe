//! The NodePort allocator and the port-range syntax of `--service-node-port-range`.
//!
//! Mirrors `pkg/registry/core/service/portallocator/allocator.go` (`PortAllocator`) and
//! `k8s.io/apimachinery/pkg/util/net/port_range.go` (`PortRange`, `ParsePortRange`). The
//! lowest ports of the range form a static band of `min(max(16, size / 32), 128)` ports
//! (KEP-3668, `calculateRangeOffset`) that dynamic allocation uses only once the rest is
//! full: 86 ports (30000-30085) for the default range 30000-32767.

use std::fmt;
use std::str::FromStr;

use super::bitmap::AllocationBitmap;
use super::error::ServiceAllocError;
use super::ip::RangeAllocation;

/// A range of ports, inclusive at both ends; `size` 0 is the empty range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    base: u16,
    size: u32,
}

impl PortRange {
    /// The default NodePort range of kube-apiserver, 30000-32767.
    pub const DEFAULT: PortRange = PortRange {
        base: 30000,
        size: 2768,
    };

    /// The range `low..=high`; `None` when `high < low`.
    pub fn new(low: u16, high: u16) -> Option<PortRange> {
        (high >= low).then(|| PortRange {
            base: low,
            size: u32::from(high - low) + 1,
        })
    }

    /// The first port.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// The number of ports.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Whether `port` lies in the range.
    pub fn contains(&self, port: i32) -> bool {
        let port = i64::from(port);
        port >= i64::from(self.base) && port - i64::from(self.base) < i64::from(self.size)
    }
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange::DEFAULT
    }
}

impl fmt::Display for PortRange {
    /// "low-high", or nothing for the empty range (as Go's `PortRange.String`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.size == 0 {
            return Ok(());
        }
        write!(f, "{}-{}", self.base, u32::from(self.base) + self.size - 1)
    }
}

impl FromStr for PortRange {
    type Err = ServiceAllocError;

    /// Parses "port", "low-high" or "low+count" (count ports after `low`), as Go's
    /// `net.ParsePortRange`; the empty string is the empty range. Errors carry Go's text.
    fn from_str(value: &str) -> Result<PortRange, ServiceAllocError> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(PortRange { base: 0, size: 0 });
        }
        let (low, high) = match (value.find('-'), value.find('+')) {
            (None, None) => {
                let port = atoi(value)?;
                (port, port)
            }
            (Some(h), None) => (atoi(&value[..h])?, atoi(&value[h + 1..])?),
            (None, Some(p)) => {
                let low = atoi(&value[..p])?;
                (low, low.saturating_add(atoi(&value[p + 1..])?))
            }
            (Some(_), Some(_)) => {
                return Err(invalid(format!("unable to parse port range: {value}")));
            }
        };
        if low > 65535 || high > 65535 {
            return Err(invalid(format!(
                "the port range cannot be greater than 65535: {value}"
            )));
        }
        if high < low {
            return Err(invalid(format!(
                "end port cannot be less than start port: {value}"
            )));
        }
        // Both checked against 0..=65535 above (Go's Atoi never yields a negative here:
        // '-' always splits the text).
        match (u16::try_from(low), u16::try_from(high)) {
            (Ok(low), Ok(high)) => PortRange::new(low, high).ok_or_else(|| {
                invalid(format!("end port cannot be less than start port: {value}"))
            }),
            _ => Err(invalid(format!("unable to parse port range: {value}"))),
        }
    }
}

fn invalid(msg: String) -> ServiceAllocError {
    ServiceAllocError::InvalidPortRange(msg)
}

/// Go's `strconv.Atoi` with its error text (an optional '+' sign, decimal digits).
fn atoi(s: &str) -> Result<i64, ServiceAllocError> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "strconv.Atoi: parsing {s:?}: invalid syntax"
        )));
    }
    digits
        .parse::<i64>()
        .map_err(|_| invalid(format!("strconv.Atoi: parsing {s:?}: value out of range")))
}

/// The size of the static band for a range of `size` ports (upstream
/// `portallocator.calculateRangeOffset`: never under 16 nor over 128, a 32nd between).
pub fn calculate_port_range_offset(size: u32) -> usize {
    const MIN: u32 = 16;
    const MAX: u32 = 128;
    const STEP: u32 = 32;
    if size <= MIN {
        return 0;
    }
    (size / STEP).clamp(MIN, MAX) as usize
}

/// The NodePort allocator: a bitmap over the ports of a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortAllocator {
    range: PortRange,
    bitmap: AllocationBitmap,
}

impl PortAllocator {
    /// An empty allocator over `range`; `seed` drives the random start of dynamic allocation.
    pub fn new(range: PortRange, seed: u64) -> Self {
        let offset = calculate_port_range_offset(range.size);
        PortAllocator {
            range,
            bitmap: AllocationBitmap::new(range.size as usize, offset, seed),
        }
    }

    /// An allocator rebuilt from a snapshot (upstream `NewFromSnapshot`).
    pub fn from_snapshot(snap: &RangeAllocation, seed: u64) -> Result<Self, ServiceAllocError> {
        let range: PortRange = snap.range.parse()?;
        let mut alloc = PortAllocator::new(range, seed);
        alloc.restore(snap)?;
        Ok(alloc)
    }

    /// The range this allocator covers.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// How many of the lowest ports form the static band.
    pub fn static_band_size(&self) -> usize {
        self.bitmap.offset()
    }

    /// The count of ports left.
    pub fn free(&self) -> usize {
        self.bitmap.free()
    }

    /// The count of ports taken.
    pub fn used(&self) -> usize {
        self.bitmap.count()
    }

    /// Reserves the requested `port`.
    pub fn allocate(&mut self, port: i32) -> Result<(), ServiceAllocError> {
        let offset = self
            .offset_of(port)
            .ok_or_else(|| ServiceAllocError::PortNotInRange {
                valid_ports: self.range.to_string(),
            })?;
        match self.bitmap.allocate(offset) {
            Some(true) => Ok(()),
            _ => Err(ServiceAllocError::PortAllocated),
        }
    }

    /// Reserves a free port, from the dynamic band first (KEP-3668).
    pub fn allocate_next(&mut self) -> Result<i32, ServiceAllocError> {
        let offset = self.bitmap.allocate_next().ok_or(ServiceAllocError::Full)?;
        Ok(self.port_at(offset))
    }

    /// Frees `port`; freeing a free port or one out of range does nothing, as upstream.
    pub fn release(&mut self, port: i32) {
        if let Some(offset) = self.offset_of(port) {
            self.bitmap.release(offset);
        }
    }

    /// Whether `port` is taken (a call to `allocate(port)` would fail with `PortAllocated`).
    pub fn has(&self, port: i32) -> bool {
        self.offset_of(port).is_some_and(|o| self.bitmap.has(o))
    }

    /// The taken ports in increasing order (upstream `ForEach`).
    pub fn allocated(&self) -> impl Iterator<Item = i32> + '_ {
        self.bitmap.iter().map(|o| self.port_at(o))
    }

    /// The state to persist (upstream `Snapshot`).
    pub fn snapshot(&self) -> RangeAllocation {
        RangeAllocation {
            range: self.range.to_string(),
            data: self.bitmap.snapshot(),
        }
    }

    /// Replaces the state with a snapshot of the same range (upstream `Restore`). On error
    /// nothing changes.
    pub fn restore(&mut self, snap: &RangeAllocation) -> Result<(), ServiceAllocError> {
        match snap.range.parse::<PortRange>() {
            Ok(range) if range == self.range => self.bitmap.restore(&snap.data),
            _ => Err(ServiceAllocError::MismatchedPortRange),
        }
    }

    /// An empty allocator over the same range (what a repair rebuilds into).
    pub fn empty_like(&self, seed: u64) -> Self {
        PortAllocator::new(self.range, seed)
    }

    fn offset_of(&self, port: i32) -> Option<usize> {
        if !self.range.contains(port) {
            return None;
        }
        usize::try_from(i64::from(port) - i64::from(self.range.base)).ok()
    }

    fn port_at(&self, offset: usize) -> i32 {
        // offset < size <= 65536 and base <= 65535, so the sum fits an i32.
        i32::from(self.range.base) + offset as i32
    }
}

#[cfg(test)]
#[path = "port_tests.rs"]
mod tests;

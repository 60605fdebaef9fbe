//! A small CIDR block type for IPv4 and IPv6, shared by every allocator of this crate.
//!
//! Allocators think in offsets ("the 37th /28 of this subnet", "the 5th address of this
//! prefix"), so besides parsing and display this type converts between addresses and offsets
//! and carves a block into equal subnets. All arithmetic is done on `u128` so that IPv4 and
//! IPv6 share one code path; every operation that could leave the block returns an error
//! instead of wrapping or panicking.
//!
//! Parsing is strict, as Kubernetes' validation of `ServiceCIDR` and `podCIDR` is
//! (`k8s.io/apimachinery/pkg/util/validation/ip.go`): the host bits must be zero
//! ("10.0.0.1/16" is refused and the error names the canonical "10.0.0.0/16"), and the prefix
//! length has no sign and no leading zero. `Cidr::new_truncating` masks instead, for callers
//! that want Go's `net.ParseCIDR` leniency.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The address family of a block or an address.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Family {
    /// IPv4: 32-bit addresses.
    V4,
    /// IPv6: 128-bit addresses.
    V6,
}

impl Family {
    /// The address width in bits: 32 or 128.
    pub const fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The family of an address.
    pub const fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// Why a CIDR could not be built or an offset could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The text is not `address/length` (Go's `net.ParseCIDR` wording).
    #[error("invalid CIDR address: {input}: {reason}")]
    Parse { input: String, reason: &'static str },
    /// The address has bits set past the prefix length.
    #[error("invalid CIDR address: {input}: host bits are set (the network is {canonical})")]
    HostBitsSet { input: String, canonical: String },
    /// A prefix length larger than the family allows.
    #[error("prefix length /{prefix_len} is too long for {family} (at most /{})", family.bits())]
    PrefixTooLong { family: Family, prefix_len: u8 },
    /// A subnet length shorter than the block it should be carved from.
    #[error("cannot carve /{subnet_len} subnets out of {cidr}: the block is only /{}", cidr.prefix_len())]
    SubnetTooShort { cidr: Cidr, subnet_len: u8 },
    /// A subnet index or an address offset past the end of the block.
    #[error("{what} {index} is outside {cidr}")]
    OutOfRange {
        cidr: Cidr,
        what: &'static str,
        index: u128,
    },
    /// The count of subnets or addresses does not fit in a `u128` (only `::/0` split to /128).
    #[error("{cidr} holds 2^128 {what}, more than can be counted")]
    TooMany { cidr: Cidr, what: &'static str },
}

/// A network block: a masked network address and a prefix length.
///
/// Invariant: the bits of `bits` past `prefix_len` are zero and `prefix_len <= family.bits()`,
/// so two blocks are equal exactly when they print the same. The order sorts IPv4 before IPv6,
/// then by network address, then shorter prefixes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    family: Family,
    bits: u128,
    prefix_len: u8,
}

/// The numeric value of an address, right-aligned in a `u128`.
pub fn addr_to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Builds an address of `family` from its numeric value; IPv4 keeps the low 32 bits.
fn u128_to_addr(family: Family, value: u128) -> IpAddr {
    match family {
        // The value was masked to 32 bits by every caller; `as` keeps the low half.
        Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// A mask of the low `n` bits (`n` up to 128).
const fn low_mask(n: u8) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

impl Cidr {
    /// A block from a network address and a prefix length; refuses set host bits.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Cidr, CidrError> {
        let cidr = Cidr::new_truncating(addr, prefix_len)?;
        if cidr.network() != addr {
            return Err(CidrError::HostBitsSet {
                input: format!("{addr}/{prefix_len}"),
                canonical: cidr.to_string(),
            });
        }
        Ok(cidr)
    }

    /// The block of length `prefix_len` that contains `addr` (host bits are cleared).
    pub fn new_truncating(addr: IpAddr, prefix_len: u8) -> Result<Cidr, CidrError> {
        let family = Family::of(&addr);
        if prefix_len > family.bits() {
            return Err(CidrError::PrefixTooLong { family, prefix_len });
        }
        let host = low_mask(family.bits() - prefix_len);
        Ok(Cidr {
            family,
            bits: addr_to_u128(addr) & !host,
            prefix_len,
        })
    }

    /// The address family.
    pub const fn family(&self) -> Family {
        self.family
    }

    /// The prefix length: 16 for "10.0.0.0/16".
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The count of host bits: 16 for "10.0.0.0/16", 0 for a single address.
    pub const fn host_bits(&self) -> u8 {
        self.family.bits() - self.prefix_len
    }

    /// The network (first) address.
    pub fn network(&self) -> IpAddr {
        u128_to_addr(self.family, self.bits)
    }

    /// The last address of the block (the broadcast address for IPv4).
    pub fn last_address(&self) -> IpAddr {
        u128_to_addr(self.family, self.bits | low_mask(self.host_bits()))
    }

    /// How many addresses the block holds; `TooMany` only for `::/0`.
    pub fn address_count(&self) -> Result<u128, CidrError> {
        self.count_of(self.host_bits(), "addresses")
    }

    /// Whether `addr` lies inside the block (an address of the other family never does).
    pub fn contains(&self, addr: IpAddr) -> bool {
        Family::of(&addr) == self.family
            && addr_to_u128(addr) & !low_mask(self.host_bits()) == self.bits
    }

    /// Whether `other` lies entirely inside this block (a block contains itself).
    pub fn contains_cidr(&self, other: &Cidr) -> bool {
        other.prefix_len >= self.prefix_len && self.contains(other.network())
    }

    /// Whether the two blocks share at least one address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains_cidr(other) || other.contains_cidr(self)
    }

    /// How many subnets of length `subnet_len` the block splits into.
    pub fn subnet_count(&self, subnet_len: u8) -> Result<u128, CidrError> {
        self.check_subnet_len(subnet_len)?;
        self.count_of(subnet_len - self.prefix_len, "subnets")
    }

    /// The `index`-th subnet of length `subnet_len`, counting from 0 at the network address:
    /// `10.0.0.0/16`, /28, 1 → `10.0.0.16/28`.
    pub fn subnet(&self, subnet_len: u8, index: u128) -> Result<Cidr, CidrError> {
        self.check_subnet_len(subnet_len)?;
        let index_bits = subnet_len - self.prefix_len;
        if index_bits < 128 && index > low_mask(index_bits) {
            return Err(CidrError::OutOfRange {
                cidr: *self,
                what: "subnet index",
                index,
            });
        }
        let shift = self.family.bits() - subnet_len;
        // `shift` is below 128 unless subnet_len is 0, where index_bits is 0 and index is 0.
        let offset = index.checked_shl(u32::from(shift)).unwrap_or(0);
        Ok(Cidr {
            family: self.family,
            bits: self.bits | offset,
            prefix_len: subnet_len,
        })
    }

    /// Where `subnet` sits among this block's subnets of its length, if it lies inside.
    pub fn subnet_index(&self, subnet: &Cidr) -> Option<u128> {
        if !self.contains_cidr(subnet) {
            return None;
        }
        let offset = subnet.bits - self.bits;
        Some(
            offset
                .checked_shr(u32::from(subnet.host_bits()))
                .unwrap_or(0),
        )
    }

    /// The address `offset` places past the network address: `10.0.0.0/28`, 5 → `10.0.0.5`.
    pub fn address_at(&self, offset: u128) -> Result<IpAddr, CidrError> {
        if offset > low_mask(self.host_bits()) {
            return Err(CidrError::OutOfRange {
                cidr: *self,
                what: "address offset",
                index: offset,
            });
        }
        Ok(u128_to_addr(self.family, self.bits | offset))
    }

    /// The offset of `addr` from the network address, if it lies inside the block.
    pub fn offset_of(&self, addr: IpAddr) -> Option<u128> {
        self.contains(addr).then(|| addr_to_u128(addr) - self.bits)
    }

    fn check_subnet_len(&self, subnet_len: u8) -> Result<(), CidrError> {
        if subnet_len > self.family.bits() {
            return Err(CidrError::PrefixTooLong {
                family: self.family,
                prefix_len: subnet_len,
            });
        }
        if subnet_len < self.prefix_len {
            return Err(CidrError::SubnetTooShort {
                cidr: *self,
                subnet_len,
            });
        }
        Ok(())
    }

    fn count_of(&self, bits: u8, what: &'static str) -> Result<u128, CidrError> {
        if bits >= 128 {
            return Err(CidrError::TooMany { cidr: *self, what });
        }
        Ok(1u128 << bits)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix_len)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Cidr, CidrError> {
        let err = |reason| CidrError::Parse {
            input: input.to_owned(),
            reason,
        };
        let (addr, len) = input.split_once('/').ok_or_else(|| err("missing '/'"))?;
        // Go's netip.ParsePrefix refuses signs and leading zeros in the length; so do we.
        let digits_ok = !len.is_empty()
            && len.len() <= 3
            && len.bytes().all(|b| b.is_ascii_digit())
            && (len == "0" || !len.starts_with('0'));
        if !digits_ok {
            return Err(err(
                "the prefix length must be a decimal number without leading zeros",
            ));
        }
        let prefix_len: u8 = len
            .parse()
            .map_err(|_| err("the prefix length is too large"))?;
        // IPv6 zones ("fe80::1%eth0") are refused by std's parser, as by Kubernetes.
        let addr: IpAddr = addr.parse().map_err(|_| err("not an IP address"))?;
        match Cidr::new(addr, prefix_len) {
            Err(CidrError::HostBitsSet { canonical, .. }) => Err(CidrError::HostBitsSet {
                input: input.to_owned(),
                canonical,
            }),
            other => other,
        }
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "cidr_tests.rs"]
mod tests;

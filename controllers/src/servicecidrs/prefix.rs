//! IP prefixes ("a.b.c.d/n", "x:y::/n") and the three containment questions the ServiceCIDR
//! controller asks of them. It mirrors Go's `net/netip.ParsePrefix`, `Prefix.Overlaps` and
//! `Prefix.Contains` as used by upstream's `pkg/api/servicecidr/servicecidr.go`
//! (`OverlapsPrefix`, `ContainsPrefix`, `PrefixContainsIP`), with std's address parsers.
//!
//! Both families are held as a `u128` plus the family's width, so one piece of bit arithmetic
//! serves IPv4 and IPv6. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) stays IPv6, as in
//! `netip`: it never lies inside an IPv4 prefix.

use std::net::IpAddr;

/// An address family; a prefix and an address only relate within one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// Bits in an address of this family.
    fn width(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The value of the `ipaddress.kubernetes.io/ip-family` label for this family
    /// (upstream `v1.IPv4Protocol` / `v1.IPv6Protocol`).
    pub fn label(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// An address as family plus bits, right-aligned in a `u128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    family: Family,
    bits: u128,
}

impl Addr {
    /// Parses an address the way `netip.ParseAddr` does for the names IPAddress objects carry;
    /// `None` for anything else (Go's zoned IPv6 form is rejected here, and Go never finds a
    /// zoned address inside a prefix, so the outcome is the same).
    pub fn parse(s: &str) -> Option<Addr> {
        s.parse::<IpAddr>().ok().map(Addr::from)
    }
}

impl From<IpAddr> for Addr {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Addr {
                family: Family::V4,
                bits: u128::from(u32::from(v4)),
            },
            IpAddr::V6(v6) => Addr {
                family: Family::V6,
                bits: u128::from(v6),
            },
        }
    }
}

/// A prefix, held masked: `network` has every host bit clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    network: Addr,
    len: u8,
}

impl Prefix {
    /// Parses "address/length" like `netip.ParsePrefix`: the length is plain decimal without a
    /// sign or leading zero and at most the family's width. Host bits may be set (Go accepts
    /// "10.0.0.1/8" too); they are masked off. `None` for anything malformed, including "".
    pub fn parse(s: &str) -> Option<Prefix> {
        let (addr, len) = s.split_once('/')?;
        let addr = Addr::parse(addr)?;
        let len = parse_len(len)?;
        if len > addr.family.width() {
            return None;
        }
        Some(Prefix {
            network: Addr {
                family: addr.family,
                bits: addr.bits & mask(addr.family, len),
            },
            len,
        })
    }

    pub fn family(self) -> Family {
        self.network.family
    }

    /// `netip.Prefix.Contains`: same family and equal in the first `len` bits.
    pub fn contains(self, ip: Addr) -> bool {
        ip.family == self.family() && ip.bits & mask(ip.family, self.len) == self.network.bits
    }

    /// `netip.Prefix.Overlaps`: same family and one prefix contains the other's network.
    pub fn overlaps(self, other: Prefix) -> bool {
        if self.family() != other.family() {
            return false;
        }
        let shorter = self.len.min(other.len);
        let m = mask(self.family(), shorter);
        self.network.bits & m == other.network.bits & m
    }

    /// Whether this prefix contains all of `other` (upstream `ContainsPrefix`'s test:
    /// overlapping and no longer than `other`).
    pub fn covers(self, other: Prefix) -> bool {
        self.overlaps(other) && self.len <= other.len
    }

    /// Upstream `PrefixContainsIP`: inside the prefix, yet neither its network address nor,
    /// for IPv4, its broadcast address, because the allocators never hand those out, so no
    /// IPAddress holding one can belong to this range.
    pub fn contains_allocatable(self, ip: Addr) -> bool {
        if ip == self.network {
            return false;
        }
        if ip.family == Family::V4 && ip.family == self.family() && ip == self.broadcast() {
            return false;
        }
        self.contains(ip)
    }

    /// The last address of the prefix: every host bit set.
    fn broadcast(self) -> Addr {
        let family = self.family();
        let host = !mask(family, self.len) & mask(family, family.width());
        Addr {
            family,
            bits: self.network.bits | host,
        }
    }
}

/// The decimal prefix length; Go rejects signs and leading zeros ("/024") since 1.22.
fn parse_len(s: &str) -> Option<u8> {
    let well_formed = !s.is_empty()
        && s.len() <= 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if well_formed { s.parse().ok() } else { None }
}

/// The network mask of `len` leading ones in an address of `family`, right-aligned.
fn mask(family: Family, len: u8) -> u128 {
    let width = u32::from(family.width());
    let len = u32::from(len).min(width);
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    // `checked_shr` because shifting a u128 by 128 is out of range: a full-length mask.
    all & !all.checked_shr(len).unwrap_or(0)
}

#[cfg(test)]
#[path = "prefix_tests.rs"]
mod tests;

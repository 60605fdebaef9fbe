//! Dual-stack ClusterIP allocation: one address per requested family, all or nothing.
//!
//! Mirrors `pkg/registry/core/service/storage/alloc.go` (`allocClusterIPs` inside the
//! create transaction): when the second family fails, the address of the first is released
//! again, so a failed create never leaves half a dual-stack Service allocated.

use std::net::IpAddr;

use super::cidrset::CidrSet;
use super::error::ServiceAllocError;
use crate::cidr::Family;

impl CidrSet {
    /// Reserves one address per family, as a dual-stack Service needs: `requested[i]` is the
    /// address the user asked for at position `i` (missing entries mean "any"). Either every
    /// family gets its address or nothing is held (upstream reverts the transaction).
    pub fn allocate_for_families(
        &mut self,
        families: &[Family],
        requested: &[Option<IpAddr>],
    ) -> Result<Vec<IpAddr>, ServiceAllocError> {
        let invalid = |reason: &str| ServiceAllocError::InvalidFamilies {
            reason: reason.to_owned(),
        };
        match families {
            [] => return Err(invalid("at least one IP family is required")),
            [a, b] if a == b => return Err(invalid("ipFamilies must not repeat a family")),
            [_, _, _, ..] => return Err(invalid("at most two IP families are allowed")),
            _ => {}
        }
        if requested.len() > families.len() {
            return Err(invalid("more cluster IPs than IP families"));
        }
        let mut got: Vec<IpAddr> = Vec::with_capacity(families.len());
        for (i, &family) in families.iter().enumerate() {
            let result = match requested.get(i).copied().flatten() {
                Some(ip) if Family::of(&ip) != family => {
                    Err(ServiceAllocError::FamilyMismatch { ip, family })
                }
                Some(ip) => self.allocate(ip).map(|()| ip),
                None => self.allocate_next(family),
            };
            match result {
                Ok(ip) => got.push(ip),
                Err(e) => {
                    for ip in got {
                        self.release(ip);
                    }
                    return Err(e);
                }
            }
        }
        Ok(got)
    }
}

//! Which ServiceCIDRs an event concerns: the keys the ServiceCIDR controller's I/O half
//! enqueues when a ServiceCIDR is added (upstream `overlappingServiceCIDRs`) and when an
//! IPAddress comes or goes (upstream `containingServiceCIDRs`), in
//! `pkg/controller/servicecidrs/servicecidrs_controller.go`.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{IPAddress, ServiceCIDR};

use super::decide::{Ranges, is_managed_by_ipallocator};
use super::prefix::Addr;

/// The names of the ServiceCIDRs whose ranges hold `address` as an allocatable address
/// (upstream `ContainsAddress`), sorted and without repeats; none when `address` does not
/// parse. These are the keys a new or deleted IPAddress may block or unblock.
pub fn service_cidrs_containing<'a>(
    address: &str,
    all: impl IntoIterator<Item = &'a ServiceCIDR>,
) -> Vec<String> {
    let Some(addr) = Addr::parse(address) else {
        return Vec::new();
    };
    names_where(all, |r| r.contains(addr))
}

/// The keys to enqueue when `ip` is added or deleted (upstream `containingServiceCIDRs`):
/// [`service_cidrs_containing`] its name, but only for addresses the apiserver allocated.
pub fn service_cidrs_for_ip_address<'a>(
    ip: &IPAddress,
    all: impl IntoIterator<Item = &'a ServiceCIDR>,
) -> Vec<String> {
    if !is_managed_by_ipallocator(ip) {
        return Vec::new();
    }
    service_cidrs_containing(ip.metadata.name.as_deref().unwrap_or_default(), all)
}

/// The keys to enqueue, besides its own, when `cidr` is added (upstream
/// `overlappingServiceCIDRs`): every ServiceCIDR with a range overlapping one of its ranges,
/// itself included when it is in `all`; sorted and without repeats.
pub fn overlapping_service_cidrs<'a>(
    cidr: &ServiceCIDR,
    all: impl IntoIterator<Item = &'a ServiceCIDR>,
) -> Vec<String> {
    let own = Ranges::of(cidr);
    names_where(all, |r| r.overlaps(&own))
}

/// The sorted, distinct names of the ServiceCIDRs in `all` whose ranges satisfy `keep`.
fn names_where<'a>(
    all: impl IntoIterator<Item = &'a ServiceCIDR>,
    keep: impl Fn(&Ranges<'a>) -> bool,
) -> Vec<String> {
    let names: BTreeSet<&str> = all
        .into_iter()
        .map(Ranges::of)
        .filter(|r| keep(r))
        .map(|r| r.name)
        .collect();
    names.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;

//! The canonical layout of `Endpoints.subsets`, after upstream's `pkg/api/v1/endpoints/util.go`
//! (`RepackSubsets`, `SortSubsets`): every address is grouped with exactly the ports it serves,
//! so that two computations of the same endpoints compare equal and an unchanged Service is not
//! rewritten.
//!
//! Upstream orders ports and subsets by the MD5 of their Go dump; here they are ordered by
//! value. Either order is canonical; only an Endpoints object last written by upstream's
//! controller may be rewritten once, in this order.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset};

use super::common::non_empty;

/// Addresses are the same address when IP and target UID agree (upstream's `addressKey`; a
/// missing reference reads as an empty UID).
type AddressKey = (String, String);

/// A port as a comparable value: name (absent and empty are the same), number, protocol,
/// appProtocol.
type PortKey = (Option<String>, i32, Option<String>, Option<String>);

fn address_key(address: &EndpointAddress) -> AddressKey {
    let uid = address.target_ref.as_ref().and_then(|r| r.uid.clone());
    (address.ip.clone(), uid.unwrap_or_default())
}

fn port_key(port: &EndpointPort) -> PortKey {
    (
        port.name.clone().filter(|n| !n.is_empty()),
        port.port,
        port.protocol.clone(),
        port.app_protocol.clone(),
    )
}

fn port_of((name, port, protocol, app_protocol): PortKey) -> EndpointPort {
    EndpointPort {
        name,
        port,
        protocol,
        app_protocol,
    }
}

/// `RepackSubsets`: expands `subsets` to (port, address, ready) triples and packs them again,
/// one subset per distinct set of (address, ready) pairs, holding every port that set serves.
/// An address that is not ready on some port is not ready on it whatever other subsets say.
/// Addresses of subsets without ports (headless Services without ports) are kept, in a subset
/// without ports unless the same set of addresses also serves real ports.
pub fn repack_subsets(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut addresses: BTreeMap<AddressKey, &EndpointAddress> = BTreeMap::new();
    // `None` stands for upstream's placeholder port (-1) of a subset without ports.
    let mut by_port: BTreeMap<Option<PortKey>, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    for subset in subsets {
        let ports: Vec<Option<PortKey>> = match subset.ports.as_deref() {
            Some(ports) if !ports.is_empty() => ports.iter().map(|p| Some(port_key(p))).collect(),
            _ => vec![None],
        };
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|a| (a, false));
        let all: Vec<(&EndpointAddress, bool)> = ready.chain(not_ready).collect();
        for port in ports {
            for &(address, is_ready) in &all {
                let key = address_key(address);
                // The first occurrence of an address is the one kept (its node, hostname, ...).
                addresses.entry(key.clone()).or_insert(address);
                let seen = by_port.entry(port.clone()).or_default();
                let state = seen.entry(key).or_insert(is_ready);
                *state = *state && is_ready;
            }
        }
    }

    let mut groups: BTreeMap<Vec<(AddressKey, bool)>, Vec<EndpointPort>> = BTreeMap::new();
    for (port, set) in by_port {
        let ports = groups.entry(set.into_iter().collect()).or_default();
        if let Some(port) = port {
            ports.push(port_of(port));
        }
    }
    let mut packed: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(set, ports)| {
            let pick = |want: bool| -> Vec<EndpointAddress> {
                set.iter()
                    .filter(|(_, ready)| *ready == want)
                    .filter_map(|(key, _)| addresses.get(key).map(|a| (*a).clone()))
                    .collect()
            };
            EndpointSubset {
                addresses: non_empty(pick(true)),
                not_ready_addresses: non_empty(pick(false)),
                ports: non_empty(ports),
            }
        })
        .collect();
    sort_subsets(&mut packed);
    packed
}

/// `LessEndpointAddress`: by IP bytes, then an address without a target before one with, then
/// by target UID.
fn compare_addresses(a: &EndpointAddress, b: &EndpointAddress) -> Ordering {
    let uid = |x: &EndpointAddress| {
        x.target_ref
            .as_ref()
            .map(|r| r.uid.clone().unwrap_or_default())
    };
    a.ip.as_bytes()
        .cmp(b.ip.as_bytes())
        .then_with(|| uid(a).cmp(&uid(b)))
}

fn subset_order_key(subset: &EndpointSubset) -> (Vec<PortKey>, Vec<AddressKey>, Vec<AddressKey>) {
    let keys = |list: &Option<Vec<EndpointAddress>>| -> Vec<AddressKey> {
        list.iter().flatten().map(address_key).collect()
    };
    (
        subset.ports.iter().flatten().map(port_key).collect(),
        keys(&subset.addresses),
        keys(&subset.not_ready_addresses),
    )
}

/// `SortSubsets`: addresses by IP and UID, ports and subsets in a canonical order.
pub(super) fn sort_subsets(subsets: &mut [EndpointSubset]) {
    for subset in subsets.iter_mut() {
        for list in [&mut subset.addresses, &mut subset.not_ready_addresses]
            .into_iter()
            .flatten()
        {
            list.sort_by(compare_addresses);
        }
        if let Some(ports) = &mut subset.ports {
            ports.sort_by_key(port_key);
        }
    }
    subsets.sort_by_cached_key(subset_order_key);
}

/// Subsets as they compare: sorted, empty lists as absent, port names "" as absent, and the
/// pods' resource versions dropped from target references (upstream's
/// `endpointSubsetsEqualIgnoreResourceVersion`: a pod's unrelated update must not rewrite its
/// Service's Endpoints).
pub(super) fn comparable_subsets(subsets: Option<&[EndpointSubset]>) -> Vec<EndpointSubset> {
    let mut out: Vec<EndpointSubset> = subsets
        .unwrap_or_default()
        .iter()
        .map(|subset| {
            let clean = |list: &Option<Vec<EndpointAddress>>| {
                let list: Vec<EndpointAddress> = list
                    .iter()
                    .flatten()
                    .map(|a| {
                        let mut a = a.clone();
                        if let Some(r) = &mut a.target_ref {
                            r.resource_version = None;
                        }
                        a.hostname = a.hostname.filter(|h| !h.is_empty());
                        a
                    })
                    .collect();
                non_empty(list)
            };
            let ports: Vec<EndpointPort> = subset
                .ports
                .iter()
                .flatten()
                .map(|p| port_of(port_key(p)))
                .collect();
            EndpointSubset {
                addresses: clean(&subset.addresses),
                not_ready_addresses: clean(&subset.not_ready_addresses),
                ports: non_empty(ports),
            }
        })
        .collect();
    sort_subsets(&mut out);
    out
}

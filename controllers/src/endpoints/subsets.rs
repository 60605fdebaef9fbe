//! The "decide" half of the Endpoints controller: from a Service and its pods, the `Endpoints`
//! object to write, if any. It mirrors `syncService` of upstream's
//! `pkg/controller/endpoint/endpoints_controller.go`; the runtime owns the rest (deleting the
//! Endpoints of a deleted Service, the stale-informer check, events).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use super::common::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, LABEL_HEADLESS, find_port, is_headless, is_ipv6_string,
    is_managed, is_service_ip_set, non_empty, non_empty_map, pod_ips, pod_reference, protocol_of,
    published_hostname, selected_pods, should_pod_be_in_endpoints, spec,
};
use super::repack::{comparable_subsets, repack_subsets};
use super::trigger_time::format_trigger_time;
use crate::replicaset::pods::{is_pod_ready, node_name};

/// At most this many addresses are stored in one Endpoints object (upstream's `maxCapacity`);
/// the rest are dropped and [`ANNOTATION_OVER_CAPACITY`] says so. EndpointSlices carry all.
pub const MAX_ENDPOINTS_CAPACITY: usize = 1000;

/// Set to `truncated` on an Endpoints object holding only [`MAX_ENDPOINTS_CAPACITY`] of its
/// addresses (`v1.EndpointsOverCapacity`).
pub const ANNOTATION_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";

/// What to write for a Service's Endpoints.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointsWrite {
    /// None exists yet (or the one given had no resourceVersion): create this one.
    Create(Endpoints),
    /// Replace the existing object with this one (it carries the existing resourceVersion,
    /// so the update is conditional).
    Update(Endpoints),
}

/// Decides one sync of a Service's Endpoints. `pods` are the pods of the Service's namespace
/// (others are ignored), `existing` the Endpoints of the same name, and `trigger_time` what
/// [`TriggerTimeTracker::compute`](super::TriggerTimeTracker::compute) returned for this sync.
///
/// `None` when there is nothing to write: the Service is not maintained here (see
/// [`is_managed`](super::is_managed)), or the stored object already says the same.
pub fn desired_endpoints(
    service: &Service,
    pods: &[Pod],
    existing: Option<&Endpoints>,
    trigger_time: Option<Timestamp>,
) -> Option<EndpointsWrite> {
    if !is_managed(service) {
        return None;
    }
    let subsets = desired_subsets(service, pods);
    let service_labels = service.metadata.labels.clone().unwrap_or_default();
    let current = existing.filter(|e| {
        e.metadata
            .resource_version
            .as_deref()
            .is_some_and(|rv| !rv.is_empty())
    });

    if let Some(current) = current {
        // The headless label is ours, not the Service's: it takes no part in the comparison,
        // and neither does the trigger time.
        let mut labels = current.metadata.labels.clone().unwrap_or_default();
        labels.remove(LABEL_HEADLESS);
        if comparable_subsets(current.subsets.as_deref()) == subsets
            && labels == service_labels
            && capacity_annotation_set_correctly(current)
        {
            return None;
        }
    }

    let mut new = match current {
        Some(current) => current.clone(),
        None => Endpoints {
            metadata: ObjectMeta {
                name: service.metadata.name.clone(),
                namespace: service.metadata.namespace.clone(),
                ..Default::default()
            },
            subsets: None,
        },
    };
    let mut subsets = subsets;
    let mut annotations = new.metadata.annotations.take().unwrap_or_default();
    match trigger_time {
        Some(t) => {
            annotations.insert(
                ANNOTATION_LAST_CHANGE_TRIGGER_TIME.into(),
                format_trigger_time(t),
            );
        }
        None => {
            annotations.remove(ANNOTATION_LAST_CHANGE_TRIGGER_TIME);
        }
    }
    if truncate(&mut subsets) {
        annotations.insert(ANNOTATION_OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(ANNOTATION_OVER_CAPACITY);
    }
    let mut labels = service_labels;
    if is_service_ip_set(service) {
        labels.remove(LABEL_HEADLESS);
    } else {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    new.subsets = non_empty(subsets);
    new.metadata.annotations = non_empty_map(annotations);
    new.metadata.labels = non_empty_map(labels);

    match current {
        // Ours: upstream writes whenever its check above fails, which for a truncated object
        // is every sync; an update identical to the stored object is a no-op for the API
        // server, so it is not made.
        Some(current) if same_object(current, &new) => None,
        Some(_) => Some(EndpointsWrite::Update(new)),
        None => Some(EndpointsWrite::Create(new)),
    }
}

fn same_object(a: &Endpoints, b: &Endpoints) -> bool {
    let map = |m: &Option<BTreeMap<String, String>>| m.clone().unwrap_or_default();
    comparable_subsets(a.subsets.as_deref()) == comparable_subsets(b.subsets.as_deref())
        && map(&a.metadata.labels) == map(&b.metadata.labels)
        && map(&a.metadata.annotations) == map(&b.metadata.annotations)
}

/// The repacked subsets of the Service's pods, before truncation.
pub fn desired_subsets(service: &Service, pods: &[Pod]) -> Vec<EndpointSubset> {
    let Some(spec) = spec(service) else {
        return Vec::new();
    };
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let service_ports = spec.ports.as_deref().unwrap_or_default();
    let mut subsets = Vec::new();
    for pod in selected_pods(service, pods) {
        // Pods being deleted stay in only when not-ready addresses are published.
        if !should_pod_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(mut address) = pod_address(service, pod) else {
            continue;
        };
        address.hostname = published_hostname(pod, service);
        let ready = publish_not_ready || is_pod_ready(pod);
        if service_ports.is_empty() {
            // Only headless Services may have no ports; their pods are listed without any.
            if is_headless(service) {
                subsets.push(subset_of(address, None, ready));
            }
            continue;
        }
        for service_port in service_ports {
            let Some(port) = find_port(pod, service_port) else {
                continue;
            };
            let port = EndpointPort {
                name: service_port.name.clone().filter(|n| !n.is_empty()),
                port,
                protocol: Some(protocol_of(service_port.protocol.as_ref()).to_string()),
                app_protocol: service_port.app_protocol.clone(),
            };
            subsets.push(subset_of(address.clone(), Some(port), ready));
        }
    }
    repack_subsets(&subsets)
}

fn subset_of(address: EndpointAddress, port: Option<EndpointPort>, ready: bool) -> EndpointSubset {
    let (addresses, not_ready_addresses) = if ready {
        (Some(vec![address]), None)
    } else {
        (None, Some(vec![address]))
    };
    EndpointSubset {
        addresses,
        not_ready_addresses,
        ports: port.map(|p| vec![p]),
    }
}

/// `podToEndpointAddressForService`: the pod's first IP of the Service's primary family. The
/// family is `ipFamilies[0]`; without families (an old API server) the cluster IP's, or for a
/// headless Service the pod's first IP's. `None` when the pod has no IP of that family (a
/// single-stack pod behind a dual-stack Service during an upgrade).
fn pod_address(service: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let spec = spec(service)?;
    let want_ipv6 = match spec.ip_families.as_deref().and_then(|f| f.first()) {
        Some(family) => family == "IPv6",
        None if is_service_ip_set(service) => {
            is_ipv6_string(spec.cluster_ip.as_deref().unwrap_or_default())
        }
        None => pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .is_some_and(is_ipv6_string),
    };
    let ip = pod_ips(pod)
        .into_iter()
        .find(|ip| is_ipv6_string(ip) == want_ipv6)?;
    Some(EndpointAddress {
        ip: ip.to_string(),
        hostname: None,
        node_name: Some(node_name(pod).to_string()),
        target_ref: Some(pod_reference(pod)),
    })
}

/// `capacityAnnotationSetCorrectly`: an object holding more than the capacity must be
/// truncated, and one within it must not carry the over-capacity annotation.
fn capacity_annotation_set_correctly(endpoints: &Endpoints) -> bool {
    if count_addresses(endpoints.subsets.as_deref().unwrap_or_default()) > MAX_ENDPOINTS_CAPACITY {
        return false;
    }
    !endpoints
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANNOTATION_OVER_CAPACITY))
}

fn count_addresses(subsets: &[EndpointSubset]) -> usize {
    subsets
        .iter()
        .map(|s| len(&s.addresses) + len(&s.not_ready_addresses))
        .sum()
}

fn len(list: &Option<Vec<EndpointAddress>>) -> usize {
    list.as_ref().map_or(0, Vec::len)
}

/// `truncateEndpoints`: cuts the subsets down to [`MAX_ENDPOINTS_CAPACITY`] addresses, ready
/// ones first. When the ready addresses alone exceed it, all not-ready ones go and the ready
/// ones are cut; otherwise only not-ready ones are cut. Each subset keeps its proportional
/// share, rounded up, so the last subsets may get less. Returns whether anything was cut.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let total_ready: usize = subsets.iter().map(|s| len(&s.addresses)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| len(&s.not_ready_addresses)).sum();
    if total_ready + total_not_ready <= MAX_ENDPOINTS_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_ENDPOINTS_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_ENDPOINTS_CAPACITY, total_ready)
    } else {
        (MAX_ENDPOINTS_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_be_added = max;
    for subset in subsets {
        let in_subset = if truncate_ready {
            len(&subset.addresses)
        } else {
            len(&subset.not_ready_addresses)
        };
        // Floating point as upstream computes it, so that the shares round the same way.
        let share = ((in_subset as f64 / total as f64) * max as f64).ceil() as usize;
        let keep = share.min(can_be_added);
        let list = if truncate_ready {
            subset.not_ready_addresses = None;
            &mut subset.addresses
        } else {
            &mut subset.not_ready_addresses
        };
        if let Some(addresses) = list {
            addresses.truncate(keep);
            can_be_added -= addresses.len();
        }
        if list.as_ref().is_some_and(Vec::is_empty) {
            *list = None;
        }
    }
    true
}

#[cfg(test)]
#[path = "subsets_tests.rs"]
mod tests;

//! The pieces the EndpointSlice reconciler is built from: a pod as an `Endpoint`, the ports of
//! a pod, a new slice, the labels a slice must carry, and the keys endpoints and port sets
//! are matched by. After upstream's `staging/src/k8s.io/endpointslice/utils.go` and
//! `util/endpointset.go`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::common::{
    LABEL_HEADLESS, LABEL_TOPOLOGY_ZONE, find_port, is_headless, is_ipv6_string, is_service_ip_set,
    parse_ip_sloppy, pod_ips, pod_reference, protocol_of, published_hostname, spec,
};
use crate::replicaset::pods::{is_pod_ready, node_name};

/// The label naming a slice's Service (`discovery.LabelServiceName`).
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice (`discovery.LabelManagedBy`).
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`LABEL_MANAGED_BY`]; slices with another value (the mirroring
/// controller's, a user's) are never touched.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// kube-controller-manager's default `--max-endpoints-per-slice`.
pub const DEFAULT_MAX_ENDPOINTS_PER_SLICE: usize = 100;

pub(super) const IPV4: &str = "IPv4";
pub(super) const IPV6: &str = "IPv6";

/// A set of slice ports as a comparable value (upstream's `PortMapKey`, a hash of the sorted
/// ports): name, port, protocol, appProtocol of each, sorted.
pub(super) type PortKey = Vec<(Option<String>, Option<i32>, Option<String>, Option<String>)>;

pub(super) fn port_key(ports: &[SlicePort]) -> PortKey {
    let mut key: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.port,
                p.protocol.clone(),
                p.app_protocol.clone(),
            )
        })
        .collect();
    key.sort();
    key
}

/// What identifies an endpoint across syncs (upstream's `endpointHash`): its sorted addresses,
/// hostname and pod. Conditions, node and zone are not part of it, so that their changes
/// update the endpoint in place.
pub(super) type EndpointKey = (Vec<String>, String, String, String);

pub(super) fn endpoint_key(endpoint: &Endpoint) -> EndpointKey {
    let mut addresses = endpoint.addresses.clone();
    addresses.sort();
    let target = endpoint.target_ref.as_ref();
    let field = |f: fn(&ObjectReference) -> &Option<String>| {
        target.and_then(|t| f(t).clone()).unwrap_or_default()
    };
    (
        addresses,
        endpoint.hostname.clone().unwrap_or_default(),
        field(|t| &t.namespace),
        field(|t| &t.name),
    )
}

/// `EndpointsEqualBeyondHash`: node, zone, the three conditions and the target (without its
/// resourceVersion, so that unrelated pod updates write nothing) agree.
pub(super) fn equal_beyond_hash(a: &Endpoint, b: &Endpoint) -> bool {
    let conditions = |e: &Endpoint| e.conditions.clone().unwrap_or_default();
    let target = |e: &Endpoint| {
        e.target_ref.clone().map(|mut t| {
            t.resource_version = None;
            t
        })
    };
    a.node_name == b.node_name
        && a.zone == b.zone
        && conditions(a) == conditions(b)
        && target(a) == target(b)
}

/// `getAddressTypesForService`: one address type per IP family of the Service, in order.
/// Without families (an old API server) the cluster IP's family, or both for a headless
/// Service, so that no traffic is lost until the families are defaulted.
pub(super) fn address_types(service: &Service) -> Vec<&'static str> {
    let mut types = Vec::new();
    for family in spec(service)
        .and_then(|s| s.ip_families.as_deref())
        .unwrap_or_default()
    {
        let address_type = match family.as_str() {
            "IPv4" => IPV4,
            "IPv6" => IPV6,
            _ => continue,
        };
        if !types.contains(&address_type) {
            types.push(address_type);
        }
    }
    if !types.is_empty() {
        return types;
    }
    if is_service_ip_set(service) {
        let cluster_ip = spec(service)
            .and_then(|s| s.cluster_ip.as_deref())
            .unwrap_or_default();
        return vec![if is_ipv6_string(cluster_ip) {
            IPV6
        } else {
            IPV4
        }];
    }
    vec![IPV4, IPV6]
}

/// `getEndpointPorts`: the Service's ports resolved against the pod, leaving out those the
/// pod does not have. Pods exposing different numbers under one port name thus end up in
/// different slices.
pub(super) fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<SlicePort> {
    let ports = spec(service)
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    if ports.is_empty() && is_headless(service) {
        return Vec::new();
    }
    ports
        .iter()
        .filter_map(|service_port| {
            let port = find_port(pod, service_port)?;
            Some(SlicePort {
                name: Some(service_port.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(protocol_of(service_port.protocol.as_ref()).to_string()),
                app_protocol: service_port.app_protocol.clone(),
            })
        })
        .collect()
}

/// `podToEndpoint`: the pod's addresses of `address_type`, its conditions, node, zone (from
/// the node's `topology.kubernetes.io/zone` label), hostname and reference.
///
/// `serving` is the pod's readiness and `terminating` its deletion; `ready` is serving and not
/// terminating, or always true when the Service publishes not-ready addresses.
pub(super) fn pod_to_endpoint(
    pod: &Pod,
    node: Option<&Node>,
    service: &Service,
    address_type: &str,
) -> Endpoint {
    let serving = is_pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let publish_not_ready = spec(service)
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let ready = publish_not_ready || (serving && !terminating);
    // Addresses are re-printed in canonical form. One that does not parse is left out
    // (upstream would print Go's "<nil>" for it).
    let addresses = pod_ips(pod)
        .into_iter()
        .filter_map(parse_ip_sloppy)
        .filter(|ip| (address_type == IPV6) == ip.is_ipv6())
        .map(|ip| ip.to_string())
        .collect();
    let zone = node
        .and_then(|n| n.metadata.labels.as_ref())
        .and_then(|l| l.get(LABEL_TOPOLOGY_ZONE))
        .filter(|z| !z.is_empty())
        .cloned();
    let node_name = Some(node_name(pod).to_string()).filter(|n| !n.is_empty());
    Endpoint {
        addresses,
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: published_hostname(pod, service),
        node_name,
        target_ref: Some(pod_reference(pod)),
        zone,
        ..Default::default()
    }
}

/// The controller reference a slice carries to its Service (`metav1.NewControllerRef`).
pub fn service_owner_reference(service: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: service.metadata.name.clone().unwrap_or_default(),
        uid: service.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `ownedBy`: the slice has an owner reference to this very Service (by UID, so that a slice
/// of a deleted Service with the same name is not reused).
pub(super) fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    let uid = service.metadata.uid.as_deref().unwrap_or_default();
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.kind == "Service" && o.api_version == "v1")
}

/// `newEndpointSlice`: an empty slice for `ports` and `address_type`, named by the API server
/// from `<service>-`, owned by the Service and labelled for it.
pub(super) fn new_slice(
    service: &Service,
    ports: &[SlicePort],
    address_type: &str,
) -> EndpointSlice {
    let name = service.metadata.name.clone().unwrap_or_default();
    // `getEndpointSlicePrefix`: the dash is dropped only where `<name>-` would be too long
    // for a name prefix, which a Service name (a DNS label) never is.
    let prefix = if name.len() < 253 {
        format!("{name}-")
    } else {
        name
    };
    let (labels, _) = slice_labels(None, service);
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![service_owner_reference(service)]),
            ..Default::default()
        },
        address_type: address_type.to_string(),
        endpoints: Vec::new(),
        ports: Some(ports.to_vec()),
    }
}

fn is_reserved_label(key: &str) -> bool {
    key == LABEL_SERVICE_NAME || key == LABEL_MANAGED_BY || key == LABEL_HEADLESS
}

/// `setEndpointSliceLabels`: the labels a slice must carry (the Service's, less the reserved
/// ones, plus the headless label when there is no cluster IP, the Service's name and the
/// manager), and whether the Service's own labels differ from the slice's. A change of the
/// reserved labels alone (e.g. the headless one) does not make the slice outdated.
pub(super) fn slice_labels(
    current: Option<&BTreeMap<String, String>>,
    service: &Service,
) -> (BTreeMap<String, String>, bool) {
    let unreserved = |labels: Option<&BTreeMap<String, String>>| -> BTreeMap<String, String> {
        labels
            .into_iter()
            .flatten()
            .filter(|(k, _)| !is_reserved_label(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let mut labels = unreserved(service.metadata.labels.as_ref());
    let changed = unreserved(current) != labels;
    if !is_service_ip_set(service) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(
        LABEL_SERVICE_NAME.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    (labels, changed)
}

/// `placeholderSliceCompare`: whether an existing slice already is the placeholder — same
/// namespace, labels, address type, and no endpoints or ports. Owner references and the rest
/// of the metadata are not compared.
pub(super) fn is_placeholder(existing: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    let labels = |s: &EndpointSlice| s.metadata.labels.clone().unwrap_or_default();
    existing.metadata.namespace == placeholder.metadata.namespace
        && labels(existing) == labels(placeholder)
        && existing.address_type == placeholder.address_type
        && existing.endpoints.is_empty()
        && existing.ports.as_deref().unwrap_or_default().is_empty()
}

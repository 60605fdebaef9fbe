//! What the Endpoints and EndpointSlice decisions share: which Services they maintain, which
//! pods a Service selects, and how a pod's addresses, ports and hostname are read. After
//! `staging/src/k8s.io/endpointslice/util/controller_utils.go` (`ShouldPodBeInEndpoints`,
//! `ShouldSetHostname`), `staging/src/k8s.io/endpointslice/utils.go` (`FindPort`) and the
//! early returns of `syncService` in both upstream controllers.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::replicaset::pods::is_pod_terminal;

/// Put (with an empty value) on the Endpoints and EndpointSlices of a Service without a
/// cluster IP (`v1.IsHeadlessService`).
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";

/// When the change that led to this write happened (`v1.EndpointsLastChangeTriggerTime`),
/// RFC 3339 in UTC; see [`TriggerTimeTracker`](super::TriggerTimeTracker).
pub const ANNOTATION_LAST_CHANGE_TRIGGER_TIME: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";

/// The node label an endpoint's zone is read from (`v1.LabelTopologyZone`).
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";

pub(super) fn spec(service: &Service) -> Option<&ServiceSpec> {
    service.spec.as_ref()
}

/// Whether the controllers maintain endpoints for this Service at all. ExternalName Services
/// get none (issue 105986) and Services without a selector get theirs from whoever wrote them.
/// An empty selector counts as none: upstream tests for a nil map, and an empty one never
/// survives the API server's protobuf storage as anything but nil. `default/kubernetes` has
/// no selector upstream; its endpoints are the API server's own, so it is skipped by name too
/// in case a selector is ever added to it.
pub fn is_managed(service: &Service) -> bool {
    let meta = &service.metadata;
    if meta.namespace.as_deref() == Some("default") && meta.name.as_deref() == Some("kubernetes") {
        return false;
    }
    let Some(spec) = spec(service) else {
        return false;
    };
    spec.type_.as_deref() != Some("ExternalName")
        && spec.selector.as_ref().is_some_and(|s| !s.is_empty())
}

/// Whether the Service's selector picks this pod: same namespace, every selector label equal
/// (`labels.Set(selector).AsSelectorPreValidated()`). A Service without a selector selects
/// nothing.
pub fn selects(service: &Service, pod: &Pod) -> bool {
    let Some(selector) = spec(service).and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    if selector.is_empty() || pod.metadata.namespace != service.metadata.namespace {
        return false;
    }
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

pub(super) fn selected_pods<'a>(service: &Service, pods: &'a [Pod]) -> Vec<&'a Pod> {
    pods.iter().filter(|p| selects(service, p)).collect()
}

/// The pod's IPs. Upstream reads `status.podIPs` only; a status that carries just `podIP`
/// (older writers) is read as `podIPs: [podIP]` here.
pub(super) fn pod_ips(pod: &Pod) -> Vec<&str> {
    let Some(status) = &pod.status else {
        return Vec::new();
    };
    match status.pod_ips.as_deref() {
        Some(ips) if !ips.is_empty() => ips.iter().map(|p| p.ip.as_str()).collect(),
        _ => status
            .pod_ip
            .iter()
            .map(String::as_str)
            .filter(|ip| !ip.is_empty())
            .collect(),
    }
}

/// `ShouldPodBeInEndpoints`: terminal pods and pods without an IP never are; pods being
/// deleted only when `include_terminating`.
pub(super) fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_pod_terminal(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// `ShouldSetHostname`: a pod's hostname is published when its subdomain names this Service in
/// the same namespace (the DNS records of `<hostname>.<subdomain>.<ns>.svc`).
pub(super) fn should_set_hostname(pod: &Pod, service: &Service) -> bool {
    let Some(pod_spec) = &pod.spec else {
        return false;
    };
    pod_spec.hostname.as_deref().is_some_and(|h| !h.is_empty())
        && pod_spec.subdomain.as_deref().unwrap_or("")
            == service.metadata.name.as_deref().unwrap_or("")
        && service.metadata.namespace == pod.metadata.namespace
}

/// The hostname to publish for the pod, when [`should_set_hostname`] says so.
pub(super) fn published_hostname(pod: &Pod, service: &Service) -> Option<String> {
    should_set_hostname(pod, service)
        .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
        .flatten()
}

/// `helper.IsServiceIPSet`: a cluster IP that is neither empty nor `None`.
pub(super) fn is_service_ip_set(service: &Service) -> bool {
    spec(service)
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty() && ip != "None")
}

/// Whether the Service is headless (`clusterIP: None`).
pub(super) fn is_headless(service: &Service) -> bool {
    spec(service).and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// The protocol of a port; the API server defaults an absent one to TCP on both Service and
/// container ports, so absent reads as TCP here too.
pub(super) fn protocol_of(protocol: Option<&String>) -> &str {
    protocol.map_or("TCP", String::as_str)
}

/// `FindPort`: the pod's port for a Service port. A numeric `targetPort` is taken as is (an
/// absent one is the API server's default, `port`); a named one is looked up among the ports
/// of the containers, then of the sidecars (init containers with `restartPolicy: Always`),
/// matching the protocol too. `None` when the pod has no such port.
pub(super) fn find_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    let name = match &service_port.target_port {
        None => return Some(service_port.port),
        Some(IntOrString::Int(port)) => return Some(*port),
        Some(IntOrString::String(name)) => name,
    };
    let protocol = protocol_of(service_port.protocol.as_ref());
    let spec = pod.spec.as_ref()?;
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_ref() == Some(name) && protocol_of(p.protocol.as_ref()) == protocol)
        .map(|p| p.container_port)
}

/// The reference from an endpoint to its pod.
pub(super) fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// `utilnet.IsIPv6String`: parses as an address that is not IPv4 (IPv4-mapped IPv6 addresses
/// count as IPv4, as Go's `To4` sees them).
pub(super) fn is_ipv6_string(ip: &str) -> bool {
    ip.parse::<Ipv6Addr>()
        .is_ok_and(|ip| ip.to_ipv4_mapped().is_none())
}

/// `utilnet.ParseIPSloppy`: like Go's parser before 1.17, IPv4 octets may carry leading zeros
/// (read as decimal). IPv4-mapped IPv6 addresses come back as IPv4, as Go prints them.
pub(super) fn parse_ip_sloppy(ip: &str) -> Option<IpAddr> {
    if let Ok(v6) = ip.parse::<Ipv6Addr>() {
        return Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4));
    }
    let mut octets = [0u8; 4];
    let mut parts = ip.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts
        .next()
        .is_none()
        .then_some(IpAddr::V4(Ipv4Addr::from(octets)))
}

/// An empty map or list is left out, as Go's `omitempty` leaves it out of the JSON; comparing
/// through this keeps "absent" and "empty" equal.
pub(super) fn non_empty_map(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

pub(super) fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

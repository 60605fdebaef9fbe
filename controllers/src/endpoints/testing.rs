//! Builders shared by the tests of the Endpoints and EndpointSlice decisions.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Node, Pod, PodIP, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub(crate) use crate::replicaset::pods::testing::{deleting, on_node, phase, pod, ready, ts};

pub(crate) const SERVICE_UID: &str = "svc-uid";

/// `default/web` selecting `app=web`, cluster IP 10.0.0.1 (IPv4), labelled `team=a`.
pub(crate) fn service(ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some(SERVICE_UID.into()),
            labels: Some(BTreeMap::from([("team".into(), "a".into())])),
            creation_timestamp: Some(Time(ts(10))),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".into(), "web".into())])),
            cluster_ip: Some("10.0.0.1".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(ports),
            ..Default::default()
        }),
        status: None,
    }
}

pub(crate) fn headless(mut svc: Service) -> Service {
    let spec = svc.spec.get_or_insert_with(Default::default);
    spec.cluster_ip = Some("None".into());
    svc
}

pub(crate) fn publish_not_ready(mut svc: Service) -> Service {
    svc.spec
        .get_or_insert_with(Default::default)
        .publish_not_ready_addresses = Some(true);
    svc
}

pub(crate) fn families(mut svc: Service, families: &[&str]) -> Service {
    svc.spec.get_or_insert_with(Default::default).ip_families =
        Some(families.iter().map(|f| f.to_string()).collect());
    svc
}

/// A TCP service port `port` forwarding to `target` (a number or a container port name).
pub(crate) fn port(name: &str, port: i32, target: IntOrString) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        protocol: Some("TCP".into()),
        target_port: Some(target),
        ..Default::default()
    }
}

pub(crate) fn named(name: &str) -> IntOrString {
    IntOrString::String(name.into())
}

/// The usual service: port `http` 80 to the container port named `http`.
pub(crate) fn web_service() -> Service {
    service(vec![port("http", 80, named("http"))])
}

pub(crate) fn with_ips(mut p: Pod, ips: &[&str]) -> Pod {
    let status = p.status.get_or_insert_with(Default::default);
    status.pod_ip = ips.first().map(|ip| ip.to_string());
    status.pod_ips = Some(ips.iter().map(|ip| PodIP { ip: ip.to_string() }).collect());
    p
}

pub(crate) fn with_container_port(mut p: Pod, name: &str, number: i32) -> Pod {
    let spec = p.spec.get_or_insert_with(Default::default);
    if spec.containers.is_empty() {
        spec.containers.push(Container {
            name: "c".into(),
            ..Default::default()
        });
    }
    spec.containers[0]
        .ports
        .get_or_insert_with(Vec::new)
        .push(ContainerPort {
            name: Some(name.into()),
            container_port: number,
            protocol: Some("TCP".into()),
            ..Default::default()
        });
    p
}

/// A Running, Ready pod of `app=web` on `node` with `ip` and container port `http` 8080.
pub(crate) fn web_pod(name: &str, ip: &str, node: &str) -> Pod {
    let p = on_node(pod(name, &[("app", "web")]), node);
    with_container_port(with_ips(ready(p, 50), &[ip]), "http", 8080)
}

/// Like [`web_pod`] but Running and not Ready.
pub(crate) fn unready_pod(name: &str, ip: &str, node: &str) -> Pod {
    let p = on_node(phase(pod(name, &[("app", "web")]), "Running"), node);
    with_container_port(with_ips(p, &[ip]), "http", 8080)
}

pub(crate) fn node(name: &str, zone: Option<&str>) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: zone
                .map(|z| BTreeMap::from([("topology.kubernetes.io/zone".into(), z.into())])),
            ..Default::default()
        },
        ..Default::default()
    }
}

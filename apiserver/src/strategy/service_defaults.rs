//! Defaults and preparation of a service (upstream `pkg/apis/core/v1/defaults.go`
//! `SetDefaults_Service`, `pkg/registry/core/service/strategy.go` and the field fix-ups of
//! `pkg/registry/core/service/storage/storage.go`). Validation is in `service_validation.rs`.
//!
//! Cluster IPs, node ports and IP families are allocated by `crate::service_alloc` (a write
//! hook of the registry, after these defaults); an update that omits an allocated value keeps
//! the stored one.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{ClientIPConfig, Service, ServiceSpec, SessionAffinityConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Upstream's `DefaultClientIPServiceAffinitySeconds` (3 hours) and its maximum (a day).
const DEFAULT_AFFINITY_SECONDS: i32 = 10800;
pub fn apply(svc: &mut Service) {
    let Some(spec) = svc.spec.as_mut() else {
        return;
    };
    let affinity = spec
        .session_affinity
        .get_or_insert_with(|| "None".to_owned());
    match affinity.as_str() {
        "None" => spec.session_affinity_config = None,
        "ClientIP" => {
            let timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds);
            if timeout.is_none() {
                spec.session_affinity_config = Some(SessionAffinityConfig {
                    client_ip: Some(ClientIPConfig {
                        timeout_seconds: Some(DEFAULT_AFFINITY_SECONDS),
                    }),
                });
            }
        }
        _ => {}
    }
    let kind = spec
        .type_
        .get_or_insert_with(|| "ClusterIP".to_owned())
        .clone();
    for port in spec.ports.iter_mut().flatten() {
        port.protocol.get_or_insert_with(|| "TCP".to_owned());
        let unset = matches!(&port.target_port, None | Some(IntOrString::Int(0)))
            || matches!(&port.target_port, Some(IntOrString::String(s)) if s.is_empty());
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
    if externally_accessible(spec)
        && spec
            .external_traffic_policy
            .as_deref()
            .is_none_or(str::is_empty)
    {
        spec.external_traffic_policy = Some("Cluster".to_owned());
    }
    if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        spec.internal_traffic_policy
            .get_or_insert_with(|| "Cluster".to_owned());
    }
    if kind == "LoadBalancer" {
        spec.allocate_load_balancer_node_ports.get_or_insert(true);
    }
    // `ipFamilies` and `ipFamilyPolicy` are not defaulted here: they depend on the cluster's
    // service ranges, so the allocator settles them (`service_alloc/families.rs`), as upstream.
}

/// `normalizeClusterIPs` on create: an old client's lone `clusterIP` fills `clusterIPs`.
pub fn prepare_create(svc: &mut Service) {
    let Some(spec) = svc.spec.as_mut() else {
        return;
    };
    let ip = spec.cluster_ip.clone().unwrap_or_default();
    if !ip.is_empty() && spec.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
        spec.cluster_ips = Some(vec![ip]);
    }
}

/// Upstream's update fix-ups, in its order: `patchAllocatedValues`, `normalizeClusterIPs`,
/// then the strategy's `dropTypeDependentFields`.
pub fn prepare_update(new: &mut Service, old: &Service) {
    let (Some(spec), Some(old)) = (new.spec.as_mut(), old.spec.as_ref()) else {
        return;
    };
    patch_allocated(spec, old);
    normalize_cluster_ips(spec, old);
    drop_type_dependent(spec, old);
}

pub fn kind(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or_default()
}

pub fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    kind(spec) != "ExternalName"
}

pub fn needs_node_port(spec: &ServiceSpec) -> bool {
    matches!(kind(spec), "NodePort" | "LoadBalancer")
}

/// Upstream's `ExternallyAccessible`.
pub fn externally_accessible(spec: &ServiceSpec) -> bool {
    needs_node_port(spec)
        || (kind(spec) == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()))
}

/// Upstream's `NeedsHealthCheck`: a load balancer that keeps traffic on the node.
pub fn needs_health_check(spec: &ServiceSpec) -> bool {
    kind(spec) == "LoadBalancer" && spec.external_traffic_policy.as_deref() == Some("Local")
}

pub fn cluster_ips(spec: &ServiceSpec) -> &[String] {
    spec.cluster_ips.as_deref().unwrap_or_default()
}

/// `patchAllocatedValues`: an update that omits allocated values keeps them (a replace from
/// a manifest must not release the cluster IP or node ports).
fn patch_allocated(spec: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if spec.cluster_ip.as_deref().is_none_or(str::is_empty) {
            spec.cluster_ip.clone_from(&old.cluster_ip);
        }
        if cluster_ips(spec).is_empty() && !cluster_ips(old).is_empty() {
            spec.cluster_ips.clone_from(&old.cluster_ips);
        }
    }
    if needs_node_port(old) && needs_node_port(spec) {
        let node_ports = |s: &ServiceSpec| -> HashSet<i32> {
            s.ports
                .iter()
                .flatten()
                .filter_map(|p| p.node_port)
                .filter(|p| *p != 0)
                .collect()
        };
        let used: HashSet<i32> = node_ports(old)
            .intersection(&node_ports(spec))
            .copied()
            .collect();
        for port in spec.ports.iter_mut().flatten() {
            if port.node_port.is_some_and(|p| p != 0) {
                continue;
            }
            let previous = old.ports.iter().flatten().rfind(|o| o.name == port.name);
            if let Some(value) = previous
                .and_then(|o| o.node_port)
                .filter(|v| !used.contains(v))
            {
                port.node_port = Some(value);
            }
        }
    }
    if needs_health_check(old)
        && needs_health_check(spec)
        && spec.health_check_node_port.is_none_or(|p| p == 0)
    {
        spec.health_check_node_port = old.health_check_node_port;
    }
}

/// `normalizeClusterIPs` on update: keep `clusterIP` and `clusterIPs` in step.
fn normalize_cluster_ips(spec: &mut ServiceSpec, old: &ServiceSpec) {
    let ip = |s: &ServiceSpec| s.cluster_ip.clone().unwrap_or_default();
    if !cluster_ips(old).is_empty() && cluster_ips(spec).is_empty() && ip(old) == ip(spec) {
        spec.cluster_ips.clone_from(&old.cluster_ips);
    }
    if ip(old) != ip(spec) && cluster_ips(old) == cluster_ips(spec) {
        spec.cluster_ips = if ip(spec).is_empty() {
            None
        } else {
            Some(vec![ip(spec)])
        };
    }
}

/// `dropTypeDependentFields`: a type change wipes what the old type needed, unless the
/// client changed it too.
fn drop_type_dependent(spec: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if cluster_ips(old) == cluster_ips(spec) && old.cluster_ip == spec.cluster_ip {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
        if old.ip_families == spec.ip_families {
            spec.ip_families = None;
        }
        if old.ip_family_policy == spec.ip_family_policy {
            spec.ip_family_policy = None;
        }
    }
    if needs_node_port(old) && !needs_node_port(spec) {
        let node_ports = |s: &ServiceSpec| -> Vec<Option<i32>> {
            s.ports.iter().flatten().map(|p| p.node_port).collect()
        };
        if node_ports(old) == node_ports(spec) {
            spec.ports
                .iter_mut()
                .flatten()
                .for_each(|p| p.node_port = None);
        }
        if old.health_check_node_port == spec.health_check_node_port {
            spec.health_check_node_port = None;
        }
    }
    if kind(old) == "LoadBalancer" && kind(spec) != "LoadBalancer" {
        if old.allocate_load_balancer_node_ports.is_some()
            && old.allocate_load_balancer_node_ports == spec.allocate_load_balancer_node_ports
        {
            spec.allocate_load_balancer_node_ports = None;
        }
        if old.load_balancer_class == spec.load_balancer_class {
            spec.load_balancer_class = None;
        }
    }
    if externally_accessible(old)
        && !externally_accessible(spec)
        && old.external_traffic_policy == spec.external_traffic_policy
    {
        spec.external_traffic_policy = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::service_validation::validate_update;
    use crate::strategy::testing::{service, service_errors};
    use serde_json::json;

    #[test]
    fn defaults() {
        let svc = service(
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.10", "ports": [{"port": 80}],
                                 "sessionAffinity": "ClientIP"}),
        );
        let got = serde_json::to_value(&svc).expect("json");
        let spec = &got["spec"];
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(spec["clusterIPs"], json!(["10.0.0.10"]));
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["allocateLoadBalancerNodePorts"], true);
        assert_eq!(
            spec["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        // Families are the allocator's (they depend on the cluster's service ranges).
        assert_eq!(spec.get("ipFamilies"), None);
        assert_eq!(service_errors(&svc), Vec::<String>::new());
        let external = service(json!({"type": "ExternalName", "externalName": "db.example.com."}));
        assert_eq!(service_errors(&external), Vec::<String>::new());
        assert!(
            external
                .spec
                .as_ref()
                .is_some_and(|s| s.ip_families.is_none())
        );
    }

    #[test]
    fn updates_keep_allocated_values_and_drop_type_fields() {
        let old = service(json!({"type": "NodePort", "clusterIP": "10.0.0.10",
                                 "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}));
        // A replace that omits the allocated values keeps them.
        let mut new = service(json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]}));
        prepare_update(&mut new, &old);
        let spec = new.spec.as_ref().expect("spec");
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.0.0.10"));
        assert_eq!(
            spec.cluster_ips.as_deref(),
            Some(&["10.0.0.10".to_owned()][..])
        );
        assert_eq!(
            spec.ports.as_ref().and_then(|p| p[0].node_port),
            Some(30080)
        );
        assert!(validate_update(&new, &old).is_empty());
        // NodePort to ClusterIP drops the unchanged node ports.
        let mut to_cluster = old.clone();
        if let Some(spec) = to_cluster.spec.as_mut() {
            spec.type_ = Some("ClusterIP".into());
        }
        prepare_update(&mut to_cluster, &old);
        assert!(validate_update(&to_cluster, &old).is_empty());
        // The cluster IP is immutable.
        let mut moved = old.clone();
        if let Some(spec) = moved.spec.as_mut() {
            spec.cluster_ip = Some("10.0.0.11".into());
        }
        prepare_update(&mut moved, &old);
        assert_eq!(
            validate_update(&moved, &old)[0].to_string(),
            "spec.clusterIPs[0]: Invalid value: [\"10.0.0.11\"]: may not change once set"
        );
    }
}

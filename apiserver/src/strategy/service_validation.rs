//! Validation of a service (upstream `ValidateService`, `ValidateServiceClusterIPsRelatedFields`
//! and `ValidateServiceUpdate` in `pkg/apis/core/validation/validation.go`). Whether a
//! requested node port lies in `--service-node-port-range` is the allocator's check
//! (`crate::service_alloc`), as upstream.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::service_defaults::{
    cluster_ips, externally_accessible, kind, needs_cluster_ip, needs_health_check,
};

const MAX_AFFINITY_SECONDS: i32 = 86400;

pub(crate) fn headless(spec: &ServiceSpec) -> bool {
    cluster_ips(spec) == ["None"]
}

/// `ValidateService`.
pub fn validate(svc: &Service) -> Vec<FieldError> {
    let mut out = Vec::new();
    let Some(spec) = svc.spec.as_ref() else {
        out.push(FieldError::required("spec", ""));
        return out;
    };
    let kind = kind(spec);
    let ports = spec.ports.as_deref().unwrap_or_default();
    if ports.is_empty() && !headless(spec) && kind != "ExternalName" {
        out.push(FieldError::required("spec.ports", ""));
    }
    match kind {
        "LoadBalancer" | "NodePort" if headless(spec) => out.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            quote("None"),
            format!("may not be set to 'None' for {kind} services"),
        )),
        "ExternalName" => {
            let forbidden = [
                ("spec.clusterIPs", !cluster_ips(spec).is_empty()),
                (
                    "spec.ipFamilies",
                    spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()),
                ),
                ("spec.ipFamilyPolicy", spec.ip_family_policy.is_some()),
            ];
            for (field, set) in forbidden {
                if set {
                    out.push(FieldError::forbidden(
                        field,
                        "may not be set for ExternalName services",
                    ));
                }
            }
            let name = spec.external_name.as_deref().unwrap_or_default();
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                out.push(FieldError::required("spec.externalName", ""));
            } else {
                checks::subdomain_field(cname, "spec.externalName", &mut out);
            }
        }
        _ => {}
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let name = port.name.as_deref().unwrap_or_default();
        if ports.len() > 1 && name.is_empty() {
            out.push(FieldError::required(format!("{at}.name"), ""));
        } else if !name.is_empty() {
            checks::dns_label_field(name, &format!("{at}.name"), &mut out);
            if !names.insert(name) {
                out.push(FieldError::duplicate(format!("{at}.name"), quote(name)));
            }
        }
        if let Some(e) = checks::port_num(i64::from(port.port)) {
            out.push(FieldError::invalid(
                format!("{at}.port"),
                port.port.to_string(),
                e,
            ));
        }
        match port.protocol.as_deref().unwrap_or_default() {
            "" => out.push(FieldError::required(format!("{at}.protocol"), "")),
            "TCP" | "UDP" | "SCTP" => {}
            other => out.push(FieldError::not_supported(
                format!("{at}.protocol"),
                other,
                &["SCTP", "TCP", "UDP"],
            )),
        }
        let target = port.target_port.clone().unwrap_or(IntOrString::Int(0));
        checks::port_num_or_name(&target, &format!("{at}.targetPort"), &mut out);
        if let Some(app) = &port.app_protocol {
            checks::qualified_name_field(app, &format!("{at}.appProtocol"), &mut out);
        }
    }
    if let Some(selector) = &spec.selector {
        crate::strategy::validation::labels(selector, "spec.selector", &mut out);
    }
    session_affinity(spec, &mut out);
    cluster_ip_fields(spec, &mut out);
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let field = format!("spec.externalIPs[{i}]");
        let before = out.len();
        checks::ip(ip, &field, &mut out);
        if out.len() == before {
            checks::non_special_ip(ip, &field, &mut out);
        }
    }
    let kinds = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if kind.is_empty() {
        out.push(FieldError::required("spec.type", ""));
    } else if !kinds.contains(&kind) {
        out.push(FieldError::not_supported("spec.type", kind, &kinds));
    }
    node_ports(spec, ports, &mut out);
    let mut seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let protocol = port.protocol.as_deref().unwrap_or_default();
        if !seen.insert((protocol, port.port)) {
            // Upstream prints the internal ServicePort key (no JSON tags there).
            let key = format!(
                "{{\"Name\":\"\",\"Protocol\":{},\"AppProtocol\":null,\"Port\":{},\"TargetPort\":0,\"NodePort\":0}}",
                quote(protocol),
                port.port
            );
            out.push(FieldError::duplicate(format!("spec.ports[{i}]"), key));
        }
    }
    load_balancer_fields(spec, &mut out);
    traffic_policies(spec, &mut out);
    out
}

fn session_affinity(spec: &ServiceSpec, out: &mut Vec<FieldError>) {
    let affinity = spec.session_affinity.as_deref().unwrap_or_default();
    match affinity {
        "" => out.push(FieldError::required("spec.sessionAffinity", "")),
        "ClientIP" => {
            let config = spec.session_affinity_config.as_ref();
            let client = config.and_then(|c| c.client_ip.as_ref());
            let timeout = client.and_then(|c| c.timeout_seconds);
            let why = "when session affinity type is ClientIP";
            match (config, client, timeout) {
                (None, ..) => out.push(FieldError::required("spec.sessionAffinityConfig", why)),
                (_, None, _) => out.push(FieldError::required(
                    "spec.sessionAffinityConfig.clientIP",
                    why,
                )),
                (.., None) => {
                    let field = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
                    out.push(FieldError::required(field, why));
                }
                (.., Some(t)) if t <= 0 || t > MAX_AFFINITY_SECONDS => {
                    out.push(FieldError::invalid(
                        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                        t.to_string(),
                        format!("must be greater than 0 and less than {MAX_AFFINITY_SECONDS}"),
                    ))
                }
                _ => {}
            }
        }
        "None" => {
            if spec.session_affinity_config.is_some() {
                out.push(FieldError::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => {
            out.push(FieldError::not_supported(
                "spec.sessionAffinity",
                other,
                &["ClientIP", "None"],
            ));
        }
    }
}

/// `ValidateServiceClusterIPsRelatedFields`.
pub(crate) fn cluster_ip_fields(spec: &ServiceSpec, out: &mut Vec<FieldError>) {
    if kind(spec) == "ExternalName" {
        return;
    }
    let ips = cluster_ips(spec);
    let ip = spec.cluster_ip.as_deref().unwrap_or_default();
    if !ip.is_empty() {
        if ips.is_empty() {
            out.push(FieldError::required("spec.clusterIPs", ""));
        } else if ips[0] != ip {
            out.push(FieldError::invalid(
                "spec.clusterIPs",
                checks::json(ips),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        let why = "must be empty when `clusterIP` is not specified";
        out.push(FieldError::invalid(
            "spec.clusterIPs",
            checks::json(ips),
            why,
        ));
    }
    let mut seen = HashSet::new();
    for (i, family) in spec.ip_families.iter().flatten().enumerate() {
        let field = format!("spec.ipFamilies[{i}]");
        if !matches!(family.as_str(), "IPv4" | "IPv6") {
            out.push(FieldError::not_supported(&field, family, &["IPv4", "IPv6"]));
        }
        if !seen.insert(family.as_str()) {
            out.push(FieldError::duplicate(field, quote(family)));
        }
    }
    let policies = ["PreferDualStack", "RequireDualStack", "SingleStack"];
    if let Some(policy) = spec
        .ip_family_policy
        .as_deref()
        .filter(|p| !policies.contains(p))
    {
        out.push(FieldError::not_supported(
            "spec.ipFamilyPolicy",
            policy,
            &policies,
        ));
    }
    let mut invalid = false;
    for (i, value) in ips.iter().enumerate() {
        if i == 0 && value == "None" {
            if ips.len() > 1 {
                invalid = true;
                let why = "'None' must be the first and only value";
                out.push(FieldError::invalid(
                    "spec.clusterIPs",
                    checks::json(ips),
                    why,
                ));
            }
            continue;
        }
        let before = out.len();
        checks::ip(value, &format!("spec.clusterIPs[{i}]"), out);
        invalid |= out.len() != before;
    }
    if ips.len() > 2 {
        out.push(FieldError::invalid(
            "spec.clusterIPs",
            checks::json(ips),
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return;
    }
    if ips.len() > 1 && checks::ip_family(&ips[0]) == checks::ip_family(&ips[1]) {
        let why = "may specify no more than one IP for each IP family";
        out.push(FieldError::invalid(
            "spec.clusterIPs",
            checks::json(ips),
            why,
        ));
    }
    if !headless(spec) {
        for (i, (value, family)) in ips
            .iter()
            .zip(spec.ip_families.iter().flatten())
            .enumerate()
        {
            if checks::ip_family(value) != Some(family.as_str())
                && matches!(family.as_str(), "IPv4" | "IPv6")
            {
                let why = format!("expected an {family} value as indicated by `ipFamilies[{i}]`");
                out.push(FieldError::invalid(
                    format!("spec.clusterIPs[{i}]"),
                    quote(value),
                    why,
                ));
            }
        }
    }
}

fn node_ports(spec: &ServiceSpec, ports: &[ServicePort], out: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let Some(node_port) = port.node_port.filter(|p| *p != 0) else {
            continue;
        };
        let field = format!("spec.ports[{i}].nodePort");
        if kind(spec) == "ClusterIP" {
            out.push(FieldError::forbidden(
                &field,
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
        if !seen.insert((port.protocol.as_deref().unwrap_or_default(), node_port)) {
            out.push(FieldError::duplicate(field, node_port.to_string()));
        }
    }
}

fn load_balancer_fields(spec: &ServiceSpec, out: &mut Vec<FieldError>) {
    let lb = kind(spec) == "LoadBalancer";
    let only_lb = "may only be used when `type` is 'LoadBalancer'";
    let ranges = spec
        .load_balancer_source_ranges
        .as_deref()
        .unwrap_or_default();
    if !ranges.is_empty() {
        // Upstream's path is capitalised.
        if !lb {
            out.push(FieldError::forbidden(
                "spec.LoadBalancerSourceRanges",
                only_lb,
            ));
        }
        for (i, range) in ranges.iter().enumerate() {
            checks::cidr(
                range.trim(),
                &format!("spec.LoadBalancerSourceRanges[{i}]"),
                out,
            );
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && !lb {
        out.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            only_lb,
        ));
    }
    if lb && spec.allocate_load_balancer_node_ports.is_none() {
        out.push(FieldError::required("allocateLoadBalancerNodePorts", ""));
    }
    match (&spec.load_balancer_class, lb) {
        (Some(class), true) => checks::qualified_name_field(class, "spec.loadBalancerClass", out),
        (Some(_), false) => out.push(FieldError::forbidden("spec.loadBalancerClass", only_lb)),
        (None, _) => {}
    }
}

fn traffic_policies(spec: &ServiceSpec, out: &mut Vec<FieldError>) {
    let external = spec.external_traffic_policy.as_deref().unwrap_or_default();
    if !externally_accessible(spec) {
        if !external.is_empty() {
            let why = "may only be set for externally-accessible services";
            out.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                quote(external),
                why,
            ));
        }
    } else if external.is_empty() {
        out.push(FieldError::required("spec.externalTrafficPolicy", ""));
    } else if !matches!(external, "Cluster" | "Local") {
        out.push(FieldError::not_supported(
            "spec.externalTrafficPolicy",
            external,
            &["Cluster", "Local"],
        ));
    }
    let health = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) && health != 0 {
        out.push(FieldError::invalid(
            "spec.healthCheckNodePort",
            health.to_string(),
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    } else if let Some(e) = checks::port_num(i64::from(health)).filter(|_| health != 0) {
        out.push(FieldError::invalid(
            "spec.healthCheckNodePort",
            health.to_string(),
            e,
        ));
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(kind(spec), "NodePort" | "LoadBalancer" | "ClusterIP") => {
            out.push(FieldError::required("spec.internalTrafficPolicy", ""));
        }
        Some(p) if !matches!(p, "Cluster" | "Local") => {
            out.push(FieldError::not_supported(
                "spec.internalTrafficPolicy",
                p,
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
    let distributions = ["PreferClose", "PreferSameZone", "PreferSameNode"];
    if let Some(d) = spec
        .traffic_distribution
        .as_deref()
        .filter(|d| !distributions.contains(d))
    {
        out.push(FieldError::not_supported(
            "spec.trafficDistribution",
            d,
            &distributions,
        ));
    }
}

/// `ValidateServiceUpdate` minus the metadata the registry checks.
pub fn validate_update(new: &Service, old: &Service) -> Vec<FieldError> {
    let mut out = Vec::new();
    if let (Some(spec), Some(old)) = (new.spec.as_ref(), old.spec.as_ref())
        && needs_cluster_ip(spec)
        && needs_cluster_ip(old)
    {
        let (ips, old_ips) = (cluster_ips(spec), cluster_ips(old));
        let changed = "may not change once set";
        let json = checks::json(ips);
        if !(headless(spec) && headless(old)) {
            if ips.len() == old_ips.len() {
                for (i, (a, b)) in ips.iter().zip(old_ips).enumerate() {
                    if a != b {
                        out.push(FieldError::invalid(
                            format!("spec.clusterIPs[{i}]"),
                            &json,
                            changed,
                        ));
                    }
                }
            } else if ips.len() < old_ips.len() {
                if ips.is_empty() {
                    let why = "primary clusterIP can not be unset";
                    out.push(FieldError::invalid("spec.clusterIPs[0]", &json, why));
                } else if ips[0] != old_ips[0] {
                    out.push(FieldError::invalid("spec.clusterIPs[0]", &json, changed));
                }
                if ips.len() == 1 && spec.ip_family_policy.as_deref() != Some("SingleStack") {
                    out.push(FieldError::invalid(
                        "spec.ipFamilyPolicy",
                        checks::json(&spec.ip_family_policy),
                        "must be set to 'SingleStack' when releasing the secondary clusterIP",
                    ));
                }
            } else if !old_ips.is_empty() && ips[0] != old_ips[0] {
                out.push(FieldError::invalid("spec.clusterIPs[0]", &json, changed));
            }
        }
        let families = spec.ip_families.as_deref().unwrap_or_default();
        let old_families = old.ip_families.as_deref().unwrap_or_default();
        if headless(spec) == headless(old)
            && !headless(spec)
            && families.len() == old_families.len()
            && families != old_families
        {
            out.push(FieldError::invalid(
                "spec.ipFamilies[0]",
                checks::json(families),
                changed,
            ));
        }
        if kind(spec) == "LoadBalancer"
            && kind(old) == "LoadBalancer"
            && spec.load_balancer_class != old.load_balancer_class
        {
            out.push(FieldError::invalid(
                "spec.loadBalancerClass",
                checks::json(&spec.load_balancer_class),
                changed,
            ));
        }
        if needs_health_check(spec)
            && needs_health_check(old)
            && spec.health_check_node_port != old.health_check_node_port
        {
            out.push(FieldError::forbidden(
                "spec.healthCheckNodePort",
                checks::IMMUTABLE,
            ));
        }
    }
    out.extend(validate(new));
    out
}

#[cfg(test)]
mod tests {
    use crate::strategy::testing::{service, service_errors};
    use serde_json::{Value, json};

    #[test]
    fn service_rules() {
        let table: Vec<(Value, Vec<&str>)> = vec![
            (json!({}), vec!["spec.ports: Required value"]),
            (json!({"clusterIP": "None"}), vec![]),
            (
                json!({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]}),
                vec![
                    "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services",
                ],
            ),
            (
                json!({"type": "Magic", "ports": [{"port": 80}]}),
                vec![
                    "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                ],
            ),
            (
                json!({"ports": [{"port": 80}, {"port": 0, "name": "b", "protocol": "ICMP"}]}),
                vec![
                    "spec.ports[0].name: Required value",
                    "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                    "spec.ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                    "spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
                ],
            ),
            (
                json!({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 80}]}),
                vec![
                    "spec.ports[1].name: Duplicate value: \"a\"",
                    "spec.ports[1]: Duplicate value: {\"Name\":\"\",\"Protocol\":\"TCP\",\"AppProtocol\":null,\"Port\":80,\"TargetPort\":0,\"NodePort\":0}",
                ],
            ),
            (
                json!({"ports": [{"port": 80, "nodePort": 30080}]}),
                vec![
                    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
                ],
            ),
            (
                json!({"type": "ExternalName"}),
                vec!["spec.externalName: Required value"],
            ),
            (
                json!({"sessionAffinity": "Sticky", "ports": [{"port": 80}]}),
                vec![
                    "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
                ],
            ),
            (
                json!({"clusterIP": "10.0.0.300", "ports": [{"port": 80}]}),
                vec![
                    "spec.clusterIPs[0]: Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                ],
            ),
            (
                json!({"ports": [{"port": 80}], "selector": {"-app": "x"}}),
                vec![
                    "spec.selector: Invalid value: \"-app\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                ],
            ),
            (
                json!({"ports": [{"port": 80}], "externalTrafficPolicy": "Local"}),
                vec![
                    "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
                ],
            ),
            (
                json!({"ports": [{"port": 80}], "ipFamilies": ["IPv5"]}),
                vec![
                    "spec.ipFamilies[0]: Unsupported value: \"IPv5\": supported values: \"IPv4\", \"IPv6\"",
                ],
            ),
        ];
        for (spec, want) in table {
            assert_eq!(service_errors(&service(spec.clone())), want, "{spec}");
        }
    }
}

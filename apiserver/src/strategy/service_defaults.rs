//! Defaults and validation of a service (upstream `pkg/apis/core/v1/defaults.go` and
//! `ValidateService`).

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::error::FieldError;

pub fn apply(svc: &mut Service) {
    let Some(spec) = svc.spec.as_mut() else {
        return;
    };
    spec.type_.get_or_insert_with(|| "ClusterIP".to_owned());
    spec.session_affinity.get_or_insert_with(|| "None".to_owned());
    if spec.type_.as_deref() != Some("ExternalName") {
        spec.internal_traffic_policy
            .get_or_insert_with(|| "Cluster".to_owned());
        spec.ip_families.get_or_insert_with(|| vec!["IPv4".to_owned()]);
        spec.ip_family_policy
            .get_or_insert_with(|| "SingleStack".to_owned());
    }
    for port in spec.ports.iter_mut().flatten() {
        port.protocol.get_or_insert_with(|| "TCP".to_owned());
        if port.target_port.is_none() {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
}

pub fn validate(svc: &Service) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = svc.spec.as_ref() else {
        errors.push(FieldError::required("spec", ""));
        return errors;
    };
    let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
    let kinds = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
    if !kinds.contains(&kind) {
        errors.push(FieldError::not_supported("spec.type", kind, &kinds));
    }
    let ports = spec.ports.as_deref().unwrap_or_default();
    if ports.is_empty() && kind != "ExternalName" && spec.cluster_ip.as_deref() != Some("None") {
        errors.push(FieldError::required("spec.ports", ""));
    }
    for (i, port) in ports.iter().enumerate() {
        if !(1..=65535).contains(&port.port) {
            errors.push(FieldError::invalid(
                format!("spec.ports[{i}].port"),
                port.port.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        if ports.len() > 1 && port.name.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::required(format!("spec.ports[{i}].name"), ""));
        }
    }
    errors
}

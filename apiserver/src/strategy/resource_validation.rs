//! Validation of compute resources (upstream `validateResourceRequirements`,
//! `validateContainerResourceName`, `ValidateResourceQuantityValue` and the resource-name
//! helpers of `pkg/apis/core/helper`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::quantity::{self, Quantity};
use crate::strategy::validation;

/// `validateResourceRequirements` for a container.
pub fn resource_requirements(r: &ResourceRequirements, path: &str, out: &mut Vec<FieldError>) {
    let (lim_path, req_path) = (format!("{path}.limits"), format!("{path}.requests"));
    let empty = BTreeMap::new();
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let requests = r.requests.as_ref().unwrap_or(&empty);
    let (mut cpu_or_memory, mut hugepages) = (false, false);
    let mut parsed_limits = BTreeMap::new();
    for (name, value) in limits {
        let at = format!("{lim_path}[{name}]");
        container_resource_name(name, &at, out);
        if let Some(q) = resource_quantity(name, &value.0, &at, out) {
            parsed_limits.insert(name.as_str(), q);
        }
        hugepages |= name.starts_with("hugepages-");
        cpu_or_memory |= name == "cpu" || name == "memory";
    }
    for (name, value) in requests {
        let at = format!("{req_path}[{name}]");
        container_resource_name(name, &at, out);
        let request = resource_quantity(name, &value.0, &at, out);
        match (request, parsed_limits.get(name.as_str())) {
            (Some(req), Some(lim)) => {
                let why = if req != *lim && !overcommit_allowed(name) {
                    format!("must be equal to {name} limit of {}", lim.canonical())
                } else if req > *lim {
                    format!(
                        "must be less than or equal to {name} limit of {}",
                        lim.canonical()
                    )
                } else {
                    String::new()
                };
                if !why.is_empty() {
                    out.push(FieldError::invalid(&req_path, quote(&req.canonical()), why));
                }
            }
            (_, None) if !overcommit_allowed(name) && !limits.contains_key(name) => {
                out.push(FieldError::required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            _ => {}
        }
        hugepages |= name.starts_with("hugepages-");
        cpu_or_memory |= name == "cpu" || name == "memory";
    }
    if hugepages && !cpu_or_memory {
        out.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
}

/// Parses a quantity and applies `ValidateResourceQuantityValue` and the huge-page rule.
fn resource_quantity(
    name: &str,
    raw: &str,
    at: &str,
    out: &mut Vec<FieldError>,
) -> Option<Quantity> {
    let q = match Quantity::parse(raw) {
        Ok(q) => q,
        Err(e) => {
            out.push(FieldError::invalid(at, quote(raw), e));
            return None;
        }
    };
    let shown = quote(&q.canonical());
    if q.is_negative() {
        out.push(FieldError::invalid(at, &shown, checks::NEGATIVE));
    }
    if integer_resource(name) && !q.is_integer() {
        out.push(FieldError::invalid(at, &shown, "must be an integer"));
    }
    if let Some(page) = name.strip_prefix("hugepages-") {
        let page = Quantity::parse(page)
            .ok()
            .and_then(|p| p.ceil_value())
            .filter(|p| *p > 0);
        let divisible = page.zip(q.ceil_value()).is_some_and(|(p, v)| v % p == 0);
        if !divisible {
            let why = format!(
                "{} is not positive integer multiple of {name}",
                q.canonical()
            );
            out.push(FieldError::invalid(at, &shown, why));
        }
    }
    Some(q)
}

/// `validateContainerResourceName`.
fn container_resource_name(name: &str, at: &str, out: &mut Vec<FieldError>) {
    let qualified = validation::qualified_name(name);
    if !qualified.is_empty() {
        out.extend(
            qualified
                .into_iter()
                .map(|e| FieldError::invalid(at, quote(name), e)),
        );
    } else if !name.contains('/')
        && !STANDARD_RESOURCES.contains(&name)
        && !name.starts_with("hugepages-")
    {
        out.push(FieldError::invalid(
            at,
            quote(name),
            "must be a standard resource type or fully qualified",
        ));
    }
    if !name.contains('/') {
        let container = ["cpu", "memory", "ephemeral-storage"].contains(&name)
            || name.starts_with("hugepages-");
        if !container {
            out.push(FieldError::invalid(
                at,
                quote(name),
                "must be a standard resource for containers",
            ));
        }
    } else if !native_resource(name) && !extended_resource(name) {
        out.push(FieldError::invalid(
            at,
            quote(name),
            "doesn't follow extended resource name standard",
        ));
    }
}

const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
    "storage",
    "requests.storage",
];

/// Upstream's `IsNativeResource`: unprefixed or in `kubernetes.io/`.
fn native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Upstream's `IsExtendedResourceName` (`nvidia.com/gpu`).
fn extended_resource(name: &str) -> bool {
    !native_resource(name)
        && !name.starts_with("requests.")
        && validation::qualified_name(&format!("requests.{name}")).is_empty()
}

/// Upstream's `IsOvercommitAllowed`: extended resources and huge pages are not shared.
fn overcommit_allowed(name: &str) -> bool {
    native_resource(name) && !name.starts_with("hugepages-")
}

/// Upstream's `IsIntegerResourceName`.
fn integer_resource(name: &str) -> bool {
    const INTEGER: &[&str] = &[
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    ];
    INTEGER.contains(&name) || extended_resource(name)
}

/// The error a malformed quantity gives (a decode error upstream).
pub fn bad_quantity(raw: &str, at: &str) -> FieldError {
    FieldError::invalid(at, quote(raw), quantity::FORMAT_ERROR)
}

#[cfg(test)]
mod tests {
    use crate::strategy::pod_validation::testing::{container_errors, table};
    use serde_json::json;

    #[test]
    fn resource_rules() {
        table(
            container_errors,
            vec![
                (
                    json!({"resources": {"limits": {"nvidia.com/gpu": "2", "hugepages-2Mi": "4Mi", "memory": "1Gi"}}}),
                    vec![],
                ),
                (
                    json!({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}),
                    vec![
                        "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
                    ],
                ),
                (
                    json!({"resources": {"requests": {"nvidia.com/gpu": "1"}}}),
                    vec![
                        "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources",
                    ],
                ),
                (
                    json!({"resources": {"limits": {"nvidia.com/gpu": "500m"}}}),
                    vec![
                        "spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: \"500m\": must be an integer",
                        "spec.containers[0].resources.requests[nvidia.com/gpu]: Invalid value: \"500m\": must be an integer",
                    ],
                ),
                (
                    json!({"resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}}}),
                    vec![
                        "spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to nvidia.com/gpu limit of 2",
                    ],
                ),
                (
                    json!({"resources": {"limits": {"cpu": "-1", "disk": "1"}}}),
                    vec![
                        "spec.containers[0].resources.limits[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                        "spec.containers[0].resources.limits[disk]: Invalid value: \"disk\": must be a standard resource type or fully qualified",
                        "spec.containers[0].resources.limits[disk]: Invalid value: \"disk\": must be a standard resource for containers",
                        "spec.containers[0].resources.requests[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                        "spec.containers[0].resources.requests[disk]: Invalid value: \"disk\": must be a standard resource type or fully qualified",
                        "spec.containers[0].resources.requests[disk]: Invalid value: \"disk\": must be a standard resource for containers",
                    ],
                ),
                (
                    json!({"resources": {"limits": {"memory": "lots"}}}),
                    vec![
                        "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                        "spec.containers[0].resources.requests[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                    ],
                ),
                (
                    json!({"resources": {"limits": {"hugepages-2Mi": "3Mi"}}}),
                    vec![
                        "spec.containers[0].resources.limits[hugepages-2Mi]: Invalid value: \"3Mi\": 3Mi is not positive integer multiple of hugepages-2Mi",
                        "spec.containers[0].resources.requests[hugepages-2Mi]: Invalid value: \"3Mi\": 3Mi is not positive integer multiple of hugepages-2Mi",
                        "spec.containers[0].resources: Forbidden: HugePages require cpu or memory",
                    ],
                ),
            ],
        );
    }
}

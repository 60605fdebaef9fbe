//! What one object counts against a ResourceQuota (upstream `pkg/quota/v1/evaluator/core`
//! and the generic object-count evaluator), and whether a quota's scopes select it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, Pod, ResourceQuotaSpec, ScopedResourceSelectorRequirement,
};
use serde_json::Value;

use crate::strategy::quantity::Quantity;

/// Resource name → amount.
pub type Usage = BTreeMap<String, Quantity>;

/// Adds `amount` under `name`; a first amount keeps its own format (`1Gi` stays binary), as
/// upstream's `Quantity.Add` onto zero does.
pub fn add(usage: &mut Usage, name: &str, amount: Quantity) {
    let entry = usage.entry(name.to_owned()).or_insert_with(Quantity::zero);
    *entry = if *entry == Quantity::zero() {
        amount
    } else {
        entry.add(&amount)
    };
}

fn one() -> Quantity {
    Quantity::parse("1").unwrap_or_else(|_| Quantity::zero())
}

/// `count/<resource>` for core resources, `count/<resource>.<group>` otherwise.
pub fn count_name(group: &str, plural: &str) -> String {
    match group {
        "" => format!("count/{plural}"),
        group => format!("count/{plural}.{group}"),
    }
}

/// Core resources whose plain name also counts objects (`configmaps`, `pods`...).
const LEGACY_COUNTS: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
];

/// Whether a pod no longer holds resources (finished), as upstream's `QuotaV1Pod` decides.
pub fn pod_is_terminal(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// What `obj` of `group`/`plural` uses; a finished pod uses nothing.
pub fn usage(group: &str, plural: &str, obj: &Value) -> Usage {
    let mut usage = Usage::new();
    if group.is_empty() && plural == "pods" && pod_is_terminal(obj) {
        return usage;
    }
    add(&mut usage, &count_name(group, plural), one());
    if group.is_empty() && LEGACY_COUNTS.contains(&plural) {
        add(&mut usage, plural, one());
    }
    match (group, plural) {
        ("", "pods") => {
            if let Ok(pod) = serde_json::from_value::<Pod>(obj.clone()) {
                pod_usage(&pod, &mut usage);
            }
        }
        ("", "services") => match obj.pointer("/spec/type").and_then(Value::as_str) {
            Some("LoadBalancer") => {
                add(&mut usage, "services.loadbalancers", one());
                node_ports(obj, &mut usage);
            }
            Some("NodePort") => node_ports(obj, &mut usage),
            _ => {}
        },
        ("", "persistentvolumeclaims") => {
            let storage = obj
                .pointer("/spec/resources/requests/storage")
                .and_then(Value::as_str)
                .and_then(|q| Quantity::parse(q).ok());
            let class = obj
                .pointer("/spec/storageClassName")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty());
            if let Some(storage) = storage {
                add(&mut usage, "requests.storage", storage);
                if let Some(class) = class {
                    let name = format!("{class}.storageclass.storage.k8s.io/requests.storage");
                    add(&mut usage, &name, storage);
                }
            }
            if let Some(class) = class {
                let name = format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims");
                add(&mut usage, &name, one());
            }
        }
        _ => {}
    }
    usage
}

fn node_ports(service: &Value, usage: &mut Usage) {
    let ports = service.pointer("/spec/ports").and_then(Value::as_array);
    for port in ports.into_iter().flatten() {
        if port.get("nodePort").is_some()
            || service.pointer("/spec/type") == Some(&"NodePort".into())
        {
            add(usage, "services.nodeports", one());
        }
    }
}

/// A pod's compute resources (upstream `PodUsageFunc`): the larger of its containers' sum
/// and its largest init container, plus its overhead; requests also count under the bare
/// name (`cpu` is `requests.cpu`).
fn pod_usage(pod: &Pod, usage: &mut Usage) {
    let Some(spec) = &pod.spec else { return };
    for (limits, prefix) in [(false, "requests."), (true, "limits.")] {
        let pick = |c: &Container| -> Usage {
            let list = c.resources.as_ref().and_then(|r| {
                if limits {
                    r.limits.as_ref()
                } else {
                    r.requests.as_ref()
                }
            });
            list.into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), Quantity::parse(&v.0).ok()?)))
                .collect()
        };
        let mut total = Usage::new();
        for container in &spec.containers {
            for (k, v) in pick(container) {
                add(&mut total, &k, v);
            }
        }
        for init in spec.init_containers.iter().flatten() {
            for (k, v) in pick(init) {
                let entry = total.entry(k).or_insert_with(Quantity::zero);
                if v > *entry {
                    *entry = v;
                }
            }
        }
        for (k, v) in spec.overhead.iter().flatten() {
            if let Ok(v) = Quantity::parse(&v.0) {
                add(&mut total, k, v);
            }
        }
        for (name, amount) in total {
            add(usage, &format!("{prefix}{name}"), amount);
            if !limits && matches!(name.as_str(), "cpu" | "memory" | "ephemeral-storage") {
                add(usage, &name, amount);
            }
        }
    }
}

/// Whether a pod asks for no compute resources at all (the `BestEffort` scope).
fn best_effort(pod: &Value) -> bool {
    let containers = ["/spec/containers", "/spec/initContainers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten();
    containers.into_iter().all(|c| {
        let empty = |key: &str| {
            c.pointer(&format!("/resources/{key}"))
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty())
        };
        empty("requests") && empty("limits")
    })
}

/// Whether a pod has a deadline (the `Terminating` scope).
fn terminating(pod: &Value) -> bool {
    pod.pointer("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
}

fn scope_matches(
    scope: &str,
    requirement: Option<&ScopedResourceSelectorRequirement>,
    pod: &Value,
) -> bool {
    match scope {
        "Terminating" => terminating(pod),
        "NotTerminating" => !terminating(pod),
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "PriorityClass" => {
            let class = pod
                .pointer("/spec/priorityClassName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(requirement) = requirement else {
                return !class.is_empty();
            };
            let values = requirement.values.as_deref().unwrap_or_default();
            match requirement.operator.as_str() {
                "In" => values.iter().any(|v| v == class),
                "NotIn" => !values.iter().any(|v| v == class),
                "Exists" => !class.is_empty(),
                "DoesNotExist" => class.is_empty(),
                _ => false,
            }
        }
        "CrossNamespacePodAffinity" => {
            let affinity = pod.pointer("/spec/affinity");
            let terms = ["podAffinity", "podAntiAffinity"].iter().flat_map(|kind| {
                let kind = affinity.and_then(|a| a.get(*kind));
                [
                    "requiredDuringSchedulingIgnoredDuringExecution",
                    "preferredDuringSchedulingIgnoredDuringExecution",
                ]
                .into_iter()
                .filter_map(move |k| kind.and_then(|a| a.get(k)).and_then(Value::as_array))
                .flatten()
            });
            terms.into_iter().any(|t| {
                let t = t.get("podAffinityTerm").unwrap_or(t);
                t.get("namespaceSelector").is_some_and(|s| !s.is_null())
                    || t.get("namespaces")
                        .and_then(Value::as_array)
                        .is_some_and(|n| !n.is_empty())
            })
        }
        _ => false,
    }
}

/// Whether a quota with these scopes counts `obj` (only pods have scopes; a scoped quota
/// counts no other kind).
pub fn selects(spec: &ResourceQuotaSpec, group: &str, plural: &str, obj: &Value) -> bool {
    let scopes = spec.scopes.as_deref().unwrap_or_default();
    let requirements = spec
        .scope_selector
        .as_ref()
        .and_then(|s| s.match_expressions.as_deref())
        .unwrap_or_default();
    if scopes.is_empty() && requirements.is_empty() {
        return true;
    }
    if !(group.is_empty() && plural == "pods") {
        return false;
    }
    scopes.iter().all(|s| scope_matches(s, None, obj))
        && requirements
            .iter()
            .all(|r| scope_matches(&r.scope_name, Some(r), obj))
}

/// `k=v,k2=v2` over the given names, sorted, as upstream's `prettyPrint`.
pub fn pretty(usage: &Usage, names: &[String]) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .map(|n| {
            let value = usage
                .get(n)
                .map_or_else(|| "0".to_owned(), Quantity::canonical);
            format!("{n}={value}")
        })
        .collect();
    parts.sort();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).expect("quantity")
    }

    #[test]
    fn a_pod_counts_itself_and_its_resources() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "nvidia.com/gpu": "1"},
                                            "limits": {"memory": "1Gi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "200m"}}}
            ],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "500m"}}}],
            "overhead": {"cpu": "10m"}
        }});
        let usage = usage("", "pods", &pod);
        assert_eq!(usage["pods"], q("1"));
        assert_eq!(usage["count/pods"], q("1"));
        assert_eq!(
            usage["requests.cpu"],
            q("510m"),
            "the init container is larger"
        );
        assert_eq!(usage["cpu"], q("510m"));
        assert_eq!(usage["requests.nvidia.com/gpu"], q("1"));
        assert_eq!(usage["limits.memory"], q("1Gi"));
        let mut done = pod.clone();
        done["status"] = json!({"phase": "Succeeded"});
        assert!(super::usage("", "pods", &done).is_empty());
    }

    #[test]
    fn other_kinds_count_as_upstream_names_them() {
        let usage_of = |g, p, v| usage(g, p, &v);
        assert_eq!(
            usage_of("apps", "deployments", json!({}))["count/deployments.apps"],
            q("1")
        );
        assert_eq!(usage_of("", "configmaps", json!({}))["configmaps"], q("1"));
        let lb = usage_of(
            "",
            "services",
            json!({"spec": {"type": "LoadBalancer",
            "ports": [{"port": 80, "nodePort": 30000}]}}),
        );
        assert_eq!(lb["services.loadbalancers"], q("1"));
        assert_eq!(lb["services.nodeports"], q("1"));
        let claim = usage_of(
            "",
            "persistentvolumeclaims",
            json!({"spec": {
            "storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}}),
        );
        assert_eq!(claim["requests.storage"], q("10Gi"));
        assert_eq!(
            claim["fast.storageclass.storage.k8s.io/requests.storage"],
            q("10Gi")
        );
    }

    #[test]
    fn scopes_select_pods() {
        let spec = |v: Value| -> ResourceQuotaSpec { serde_json::from_value(v).expect("spec") };
        let best_effort = json!({"spec": {"containers": [{"name": "a"}]}});
        let sized = json!({"spec": {"priorityClassName": "high", "activeDeadlineSeconds": 5,
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}});
        let be = spec(json!({"scopes": ["BestEffort"]}));
        assert!(selects(&be, "", "pods", &best_effort));
        assert!(!selects(&be, "", "pods", &sized));
        assert!(!selects(&be, "", "configmaps", &json!({})));
        let high = spec(json!({"scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}));
        assert!(selects(&high, "", "pods", &sized));
        assert!(!selects(&high, "", "pods", &best_effort));
        let terminating = spec(json!({"scopes": ["Terminating", "NotBestEffort"]}));
        assert!(selects(&terminating, "", "pods", &sized));
        let mut usage = Usage::new();
        usage.insert("pods".into(), q("2"));
        assert_eq!(
            pretty(&usage, &["pods".into(), "cpu".into()]),
            "cpu=0,pods=2"
        );
    }
}

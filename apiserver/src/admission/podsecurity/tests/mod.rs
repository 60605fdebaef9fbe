//! Shared builders: pods are written as JSON and patched onto a pod that passes
//! `restricted:latest`, like upstream's minimal valid pods (`test/fixtures.go`).

mod admission;
mod api;
mod checks;
mod messages;
mod namespace;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::{Level, LevelVersion, Version, check_pod};

/// A pod with an init container `init` and a container `app` that passes every level.
fn restricted_json() -> Value {
    let sc = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "test-pod", "namespace": "ns"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [{"name": "init", "image": "pause", "securityContext": sc.clone()}],
            "containers": [{"name": "app", "image": "pause", "securityContext": sc}],
        },
    })
}

/// Deep merge where `null` deletes a key and arrays merge element by element, so that
/// `{"spec": {"containers": [{"securityContext": {"privileged": true}}]}}` changes `app`.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else {
                    merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (Value::Array(b), Value::Array(p)) => {
            for (i, v) in p.iter().enumerate() {
                match b.get_mut(i) {
                    Some(slot) => merge(slot, v),
                    None => b.push(v.clone()),
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// The restricted pod with `patch` applied.
fn pod(patch: Value) -> Pod {
    let mut v = restricted_json();
    merge(&mut v, &patch);
    serde_json::from_value(v).expect("test pod is valid JSON for a Pod")
}

fn lv(level: Level, version: &str) -> LevelVersion {
    LevelVersion::new(
        level,
        Version::parse(version).expect("test version is valid"),
    )
}

/// `(check id, reason, detail)` of each failed check.
fn violations(lv: LevelVersion, pod: &Pod) -> Vec<(String, String, String)> {
    let spec = pod.spec.clone().unwrap_or_default();
    check_pod(lv, &pod.metadata, &spec)
        .into_iter()
        .filter_map(|r| {
            r.violation
                .map(|v| (r.id.to_string(), v.forbidden_reason, v.forbidden_detail))
        })
        .collect()
}

//! Validation of a pod (upstream `pkg/apis/core/validation/validation.go`:
//! `ValidatePodCreate`, `validatePodMetadataAndSpec`, `ValidatePodUpdate`). The spec's own
//! rules are in `pod_spec_validation.rs`.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::pod_spec_validation::{SpecContext, validate_spec};

/// `ValidatePodCreate` minus the metadata the registry checks.
pub fn validate(pod: &Pod) -> Vec<FieldError> {
    let mut out = Vec::new();
    let Some(spec) = pod.spec.as_ref() else {
        out.push(FieldError::required("spec", ""));
        return out;
    };
    metadata_and_spec(&pod.metadata, spec, &mut out);
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        out.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    let gated = spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty());
    if spec.node_name.as_deref().is_some_and(|n| !n.is_empty()) && gated {
        out.push(FieldError::forbidden(
            "spec.nodeName",
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    out
}

/// `validatePodMetadataAndSpec`.
fn metadata_and_spec(meta: &ObjectMeta, spec: &PodSpec, out: &mut Vec<FieldError>) {
    if let Some(annotations) = &meta.annotations {
        pod_annotations(annotations, spec, "metadata.annotations", out);
    }
    let ctx = SpecContext {
        pod_name: meta.name.as_deref(),
        is_pod: true,
    };
    validate_spec(spec, &ctx, "spec", out);
    if spec
        .service_account_name
        .as_deref()
        .is_none_or(str::is_empty)
    {
        for (vi, volume) in spec.volumes.iter().flatten().enumerate() {
            let sources = volume
                .projected
                .iter()
                .flat_map(|p| p.sources.iter().flatten());
            for (si, source) in sources.enumerate() {
                if source.service_account_token.is_some() {
                    out.push(FieldError::forbidden(
                        format!("spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    let lists = [
        ("spec.containers", Some(&spec.containers)),
        ("spec.initContainers", spec.init_containers.as_ref()),
    ];
    for (path, list) in lists {
        for (i, c) in list.into_iter().flatten().enumerate() {
            let image = c.image.as_deref().unwrap_or_default();
            if image.trim() != image {
                let why = "must not have leading or trailing whitespace";
                out.push(FieldError::invalid(
                    format!("{path}[{i}].image"),
                    quote(image),
                    why,
                ));
            }
        }
    }
}

/// `ValidatePodSpecificAnnotations`: the mirror-pod marker and the deletion cost.
pub fn pod_annotations(
    annotations: &BTreeMap<String, String>,
    spec: &PodSpec,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if let Some(value) = annotations.get("kubernetes.io/config.mirror")
        && spec.node_name.as_deref().is_none_or(str::is_empty)
    {
        out.push(FieldError::invalid(
            format!("{path}[kubernetes.io/config.mirror]"),
            quote(value),
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    let cost_key = "controller.kubernetes.io/pod-deletion-cost";
    if let Some(cost) = annotations.get(cost_key)
        && cost.parse::<i32>().is_err()
    {
        let field = format!("{path}[{cost_key}]");
        out.push(FieldError::invalid(
            field,
            quote(cost),
            "must be a 32bit integer",
        ));
    }
}

/// What `ValidatePodUpdate` lets a client change, in its message.
const UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,\
    `spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),\
    `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodUpdate` minus the metadata the registry checks.
pub fn validate_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut out = Vec::new();
    let (Some(spec), Some(old_spec)) = (new.spec.as_ref(), old.spec.as_ref()) else {
        return validate(new);
    };
    metadata_and_spec(&new.metadata, spec, &mut out);
    let lists = [
        (
            "spec.containers",
            &spec.containers[..],
            &old_spec.containers[..],
        ),
        (
            "spec.initContainers",
            spec.init_containers.as_deref().unwrap_or_default(),
            old_spec.init_containers.as_deref().unwrap_or_default(),
        ),
    ];
    for (path, list, old_list) in lists {
        if container_updates(list, old_list, path, &mut out) {
            return out;
        }
    }
    match (
        spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(seconds), _) if !(0..=i64::from(i32::MAX)).contains(&seconds) => {
            out.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                seconds.to_string(),
                "must be between 0 and 2147483647, inclusive",
            ));
            return out;
        }
        (Some(seconds), Some(previous)) if previous < seconds => {
            out.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                seconds.to_string(),
                "must be less than or equal to previous value",
            ));
            return out;
        }
        (None, Some(_)) => out.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            "null",
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let old_tolerations = old_spec.tolerations.as_deref().unwrap_or_default();
    let kept = old_tolerations.iter().all(|o| {
        tolerations.iter().any(|n| {
            let mut o = o.clone();
            o.toleration_seconds = n.toleration_seconds;
            o == *n
        })
    });
    if !kept {
        out.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    let old_gates: HashSet<&str> = old_spec
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| g.name.as_str())
        .collect();
    for (i, gate) in spec.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(gate.name.as_str()) {
            out.push(FieldError::forbidden(
                format!("spec.schedulingGates[{i}].name"),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    gate.name
                ),
            ));
        }
    }
    let munged = munge(spec, old_spec, &mut out);
    if munged != *old_spec {
        out.push(FieldError::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {UPDATABLE}\n{}",
                diff(old_spec, &munged)
            ),
        ));
    }
    out
}

/// `ValidateContainerUpdates`; `true` stops validation (containers added or removed).
fn container_updates(
    list: &[Container],
    old: &[Container],
    path: &str,
    out: &mut Vec<FieldError>,
) -> bool {
    if list.len() != old.len() {
        out.push(FieldError::forbidden(
            path,
            "pod updates may not add or remove containers",
        ));
        return true;
    }
    for (i, c) in list.iter().enumerate() {
        let image = c.image.as_deref().unwrap_or_default();
        if image.is_empty() {
            out.push(FieldError::required(format!("{path}[{i}].image"), ""));
        }
        if image.trim() != image {
            let why = "must not have leading or trailing whitespace";
            out.push(FieldError::invalid(
                format!("{path}[{i}].image"),
                quote(image),
                why,
            ));
        }
    }
    false
}

/// The new spec with everything a client may change taken from the old one.
fn munge(spec: &PodSpec, old: &PodSpec, out: &mut Vec<FieldError>) -> PodSpec {
    let mut munged = spec.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old.containers) {
        c.image.clone_from(&o.image);
    }
    let old_init = old.init_containers.iter().flatten();
    for (c, o) in munged.init_containers.iter_mut().flatten().zip(old_init) {
        c.image.clone_from(&o.image);
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    munged.scheduling_gates.clone_from(&old.scheduling_gates);
    munged.tolerations.clone_from(&old.tolerations);
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    // A pod held by scheduling gates may gain node selector labels (no removals or changes).
    let gated = old.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty());
    if gated && munged.node_selector != old.node_selector {
        let new_selector = munged.node_selector.clone().unwrap_or_default();
        let only_added = old
            .node_selector
            .iter()
            .flatten()
            .all(|(k, v)| new_selector.get(k) == Some(v));
        if !only_added {
            out.push(FieldError::invalid(
                "spec.nodeSelector",
                checks::json(&new_selector),
                "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            ));
        }
        munged.node_selector.clone_from(&old.node_selector);
    }
    munged
}

/// A short account of which spec fields differ (upstream prints a `cmp.Diff`).
fn diff(old: &PodSpec, new: &PodSpec) -> String {
    let (old, new) = (serde_json::to_value(old), serde_json::to_value(new));
    let (Ok(serde_json::Value::Object(old)), Ok(serde_json::Value::Object(new))) = (old, new)
    else {
        return String::new();
    };
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut lines = Vec::new();
    for key in keys {
        let (a, b) = (old.get(key), new.get(key));
        if a != b {
            let show =
                |v: Option<&serde_json::Value>| v.map_or("null".to_owned(), ToString::to_string);
            lines.push(format!("  {key}: -{} +{}", show(a), show(b)));
        }
    }
    lines.join("\n")
}

/// Test support for the pod-spec files: the errors of a defaulted pod `p` whose spec is
/// one container `c` (`nginx`) with `spec`'s fields added.
#[cfg(test)]
pub(super) mod testing {
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::{Value, json};

    use crate::strategy::pod_defaults;

    pub fn pod(spec: Value) -> Pod {
        let mut base = json!({"containers": [{"name": "c", "image": "nginx"}]});
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), spec) {
            base.extend(extra);
        }
        let mut pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": base})).expect("pod");
        pod_defaults::apply(&mut pod);
        pod
    }

    pub fn spec_errors(spec: Value) -> Vec<String> {
        super::validate(&pod(spec))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The errors of the pod whose container `c` has `fields` added.
    pub fn container_errors(fields: Value) -> Vec<String> {
        let mut container = json!({"name": "c", "image": "nginx"});
        if let (Some(base), Value::Object(extra)) = (container.as_object_mut(), fields) {
            base.extend(extra);
        }
        spec_errors(json!({"containers": [container]}))
    }

    /// Runs a table of (input, expected errors) through `check`.
    pub fn table(check: fn(Value) -> Vec<String>, rows: Vec<(Value, Vec<&str>)>) {
        for (input, want) in rows {
            assert_eq!(check(input.clone()), want, "{input}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{pod, spec_errors};
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_pod_passes() {
        let p = pod(json!({
            "containers": [{
                "name": "web", "image": "nginx:1.25",
                "ports": [{"name": "http", "containerPort": 80}],
                "env": [{"name": "A", "value": "1"},
                        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
                "resources": {"requests": {"cpu": "100m", "nvidia.com/gpu": "1"},
                              "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "livenessProbe": {"httpGet": {"port": "http"}},
                "readinessProbe": {"tcpSocket": {"port": 80}},
                "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": false},
            }],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            "priorityClassName": "high",
        }));
        assert!(validate(&p).is_empty());
    }

    #[test]
    fn create_rules() {
        super::testing::table(
            spec_errors,
            vec![
                (
                    json!({"ephemeralContainers": [{"name": "e", "image": "i"}]}),
                    vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"],
                ),
                (
                    json!({"nodeName": "n1", "schedulingGates": [{"name": "example.com/gate"}]}),
                    vec![
                        "spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared",
                    ],
                ),
                (
                    json!({"containers": [{"name": "c", "image": " nginx"}]}),
                    vec![
                        "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]}),
                    vec![
                        "spec.volumes[0].projected.sources[0].serviceAccountToken: Forbidden: must not be specified when serviceAccountName is not set",
                    ],
                ),
            ],
        );
        let mut mirror = pod(json!({}));
        mirror.metadata.annotations =
            Some([("kubernetes.io/config.mirror".to_owned(), "x".to_owned())].into());
        assert_eq!(
            validate(&mirror)[0].to_string(),
            "metadata.annotations[kubernetes.io/config.mirror]: Invalid value: \"x\": must set spec.nodeName if mirror pod annotation is set"
        );
    }

    #[test]
    fn update_rules() {
        let old = pod(
            json!({"activeDeadlineSeconds": 100, "tolerations": [{"key": "a", "operator": "Exists"}]}),
        );
        let change = |f: &dyn Fn(&mut PodSpec)| {
            let mut new = old.clone();
            f(new.spec.as_mut().expect("spec"));
            validate_update(&new, &old)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert!(change(&|s| s.containers[0].image = Some("nginx:2".into())).is_empty());
        assert!(change(&|s| s.active_deadline_seconds = Some(50)).is_empty());
        let more = |s: &mut PodSpec| {
            let mut t = s.tolerations.clone().unwrap_or_default();
            t.push(serde_json::from_value(json!({"key": "b", "operator": "Exists"})).expect("t"));
            s.tolerations = Some(t);
        };
        assert!(change(&more).is_empty());
        assert_eq!(
            change(&|s| s.active_deadline_seconds = Some(200)),
            vec![
                "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
            ]
        );
        assert_eq!(
            change(&|s| s.tolerations = None),
            vec![
                "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
            ]
        );
        assert_eq!(
            change(&|s| s.containers.push(s.containers[0].clone())),
            vec![
                "spec.containers[1].name: Duplicate value: \"c\"",
                "spec.containers: Forbidden: pod updates may not add or remove containers",
            ]
        );
        let forbidden = change(&|s| s.node_name = Some("n1".into()));
        assert_eq!(forbidden.len(), 1);
        assert!(forbidden[0].starts_with(
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        ));
        assert!(forbidden[0].contains("nodeName: -null +\"n1\""));
        let negative = pod(json!({"terminationGracePeriodSeconds": -1}));
        let mut one = negative.clone();
        one.spec
            .as_mut()
            .expect("spec")
            .termination_grace_period_seconds = Some(1);
        assert!(validate_update(&one, &negative).is_empty());
    }
}

//! The apps/v1 workloads (upstream `pkg/registry/apps/*/strategy.go`,
//! `pkg/apis/apps/v1/defaults.go`, `pkg/apis/apps/validation/validation.go`). Status is reset
//! on create; on update the registry keeps the stored status for the main resource and takes
//! the new one through `/status`, so the strategies leave it alone. The selector is immutable.
//! StatefulSets have a file of their own (`statefulset.rs`), re-exported here.
//!
//! k8s-openapi reads a missing `spec.selector` as an empty one, so an empty selector is
//! treated as upstream treats a missing one.

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetStatus, DaemonSetUpdateStrategy, Deployment, DeploymentStatus,
    DeploymentStrategy as RolloutStrategy, ReplicaSet, ReplicaSetStatus, RollingUpdateDaemonSet,
    RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::error::{FieldError, FieldErrorKind};
use crate::strategy::Strategy;
use crate::strategy::checks::{self, quote};
use crate::strategy::pod_template;

pub struct DeploymentStrategy;
pub struct ReplicaSetStrategy;
pub use super::statefulset::StatefulSetStrategy;
pub struct DaemonSetStrategy;

/// Where apps/v1 keeps the internal `spec.templateGeneration` of a DaemonSet.
const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

impl Strategy for DeploymentStrategy {
    type Object = Deployment;

    fn prepare_for_create(&self, d: &mut Deployment) {
        d.status = Some(DeploymentStatus::default());
        deployment_defaults(d);
    }

    fn prepare_for_update(&self, new: &mut Deployment, _old: &Deployment) {
        deployment_defaults(new);
    }

    fn validate(&self, d: &Deployment) -> Vec<FieldError> {
        let mut out = Vec::new();
        let Some(spec) = &d.spec else {
            out.push(FieldError::required("spec", ""));
            return out;
        };
        checks::nonnegative(
            i64::from(spec.replicas.unwrap_or(0)),
            "spec.replicas",
            &mut out,
        );
        replica_set_template(&spec.selector, &spec.template, &mut out);
        rollout_strategy(spec.strategy.as_ref(), &mut out);
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        checks::nonnegative(i64::from(min_ready), "spec.minReadySeconds", &mut out);
        if let Some(limit) = spec.revision_history_limit {
            checks::nonnegative(i64::from(limit), "spec.revisionHistoryLimit", &mut out);
        }
        if let Some(deadline) = spec.progress_deadline_seconds {
            checks::nonnegative(
                i64::from(deadline),
                "spec.progressDeadlineSeconds",
                &mut out,
            );
            if deadline <= min_ready {
                out.push(FieldError::invalid(
                    "spec.progressDeadlineSeconds",
                    deadline.to_string(),
                    "must be greater than minReadySeconds",
                ));
            }
        }
        out
    }

    fn validate_update(&self, new: &Deployment, old: &Deployment) -> Vec<FieldError> {
        let mut out = self.validate(new);
        let selector = |d: &Deployment| d.spec.as_ref().map(|s| s.selector.clone());
        checks::immutable(&selector(new), &selector(old), "spec.selector", &mut out);
        out
    }
}

fn deployment_defaults(d: &mut Deployment) {
    let Some(spec) = d.spec.as_mut() else {
        return;
    };
    spec.replicas.get_or_insert(1);
    let strategy = spec.strategy.get_or_insert_with(RolloutStrategy::default);
    let kind = strategy
        .type_
        .get_or_insert_with(|| "RollingUpdate".to_owned());
    if kind == "RollingUpdate" {
        let rolling = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        let quarter = || IntOrString::String("25%".to_owned());
        rolling.max_unavailable.get_or_insert_with(quarter);
        rolling.max_surge.get_or_insert_with(quarter);
    }
    spec.revision_history_limit.get_or_insert(10);
    spec.progress_deadline_seconds.get_or_insert(600);
    pod_template::apply_defaults(&mut spec.template);
}

/// `ValidateDeploymentStrategy`.
fn rollout_strategy(strategy: Option<&RolloutStrategy>, out: &mut Vec<FieldError>) {
    let kind = strategy
        .and_then(|s| s.type_.as_deref())
        .unwrap_or_default();
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    match (kind, rolling) {
        ("Recreate", Some(_)) => out.push(FieldError::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        )),
        ("Recreate", None) => {}
        ("RollingUpdate", None) => out.push(FieldError::required(
            "spec.strategy.rollingUpdate",
            "this should be defaulted and never be nil",
        )),
        ("RollingUpdate", Some(r)) => {
            let path = "spec.strategy.rollingUpdate";
            let zero = IntOrString::Int(0);
            let unavailable = r.max_unavailable.as_ref().unwrap_or(&zero);
            let surge = r.max_surge.as_ref().unwrap_or(&zero);
            int_or_percent(unavailable, &format!("{path}.maxUnavailable"), out);
            int_or_percent(surge, &format!("{path}.maxSurge"), out);
            if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                out.push(FieldError::invalid(
                    format!("{path}.maxUnavailable"),
                    checks::json(unavailable),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
            not_over_100_percent(unavailable, &format!("{path}.maxUnavailable"), out);
        }
        _ => out.push(unsupported_strategy(
            "spec.strategy",
            kind,
            checks::json(&rolling),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

/// `field.NotSupported` of a whole strategy: upstream prints the internal struct as JSON,
/// with Go's field names and order.
fn unsupported_strategy(
    field: &str,
    kind: &str,
    rolling: String,
    supported: &[&str],
) -> FieldError {
    let value = format!("{{\"Type\":{},\"RollingUpdate\":{rolling}}}", quote(kind));
    FieldError {
        kind: FieldErrorKind::NotSupported(value, supported.iter().map(|s| quote(s)).collect()),
        field: field.to_owned(),
        detail: String::new(),
    }
}

impl Strategy for ReplicaSetStrategy {
    type Object = ReplicaSet;

    fn prepare_for_create(&self, rs: &mut ReplicaSet) {
        rs.status = Some(ReplicaSetStatus::default());
        replica_set_defaults(rs);
    }

    fn prepare_for_update(&self, new: &mut ReplicaSet, _old: &ReplicaSet) {
        replica_set_defaults(new);
    }

    fn validate(&self, rs: &ReplicaSet) -> Vec<FieldError> {
        let mut out = Vec::new();
        let Some(spec) = &rs.spec else {
            out.push(FieldError::required("spec", ""));
            return out;
        };
        checks::nonnegative(
            i64::from(spec.replicas.unwrap_or(0)),
            "spec.replicas",
            &mut out,
        );
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        checks::nonnegative(i64::from(min_ready), "spec.minReadySeconds", &mut out);
        let default_template = PodTemplateSpec::default();
        let template = spec.template.as_ref().unwrap_or(&default_template);
        replica_set_template(&spec.selector, template, &mut out);
        out
    }

    fn validate_update(&self, new: &ReplicaSet, old: &ReplicaSet) -> Vec<FieldError> {
        let mut out = self.validate(new);
        let selector = |rs: &ReplicaSet| rs.spec.as_ref().map(|s| s.selector.clone());
        checks::immutable(&selector(new), &selector(old), "spec.selector", &mut out);
        out
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.replicas"]
    }

    fn field(&self, rs: &ReplicaSet, name: &str) -> Option<String> {
        let replicas = rs.status.as_ref().map_or(0, |s| s.replicas);
        (name == "status.replicas").then(|| replicas.to_string())
    }
}

fn replica_set_defaults(rs: &mut ReplicaSet) {
    let Some(spec) = rs.spec.as_mut() else {
        return;
    };
    spec.replicas.get_or_insert(1);
    pod_template::apply_defaults(spec.template.get_or_insert_with(PodTemplateSpec::default));
}

/// The selector and template rules of deployments and replica sets
/// (`ValidatePodTemplateSpecForReplicaSet` and the selector checks around it). A selector
/// that does not convert hides the template's errors, as upstream.
fn replica_set_template(
    selector: &LabelSelector,
    template: &PodTemplateSpec,
    out: &mut Vec<FieldError>,
) {
    selector_rules(selector, out);
    if pod_template::selector_matches(selector, template, "spec.template", out).is_none() {
        let why = "invalid label selector";
        out.push(FieldError::invalid(
            "spec.selector",
            checks::json(selector),
            why,
        ));
        return;
    }
    pod_template::validate(template, "spec.template", out);
    pod_template::always_restart(template, "ReplicaSet", "spec.template", out);
}

/// A required, valid selector.
pub(super) fn selector_rules(selector: &LabelSelector, out: &mut Vec<FieldError>) {
    if checks::selector_is_empty(selector) {
        out.push(FieldError::required("spec.selector", ""));
    } else {
        checks::label_selector(selector, "spec.selector", out);
    }
}

impl Strategy for DaemonSetStrategy {
    type Object = DaemonSet;

    fn prepare_for_create(&self, ds: &mut DaemonSet) {
        ds.status = Some(DaemonSetStatus::default());
        daemon_set_defaults(ds);
        let generation = template_generation(ds).max(1);
        set_template_generation(ds, generation);
    }

    /// A client may not set the template generation: it counts template changes.
    fn prepare_for_update(&self, new: &mut DaemonSet, old: &DaemonSet) {
        daemon_set_defaults(new);
        let template = |ds: &DaemonSet| ds.spec.as_ref().map(|s| s.template.clone());
        let mut generation = template_generation(old);
        if template(new) != template(old) {
            generation += 1;
        }
        set_template_generation(new, generation);
    }

    fn validate(&self, ds: &DaemonSet) -> Vec<FieldError> {
        let mut out = Vec::new();
        let Some(spec) = &ds.spec else {
            out.push(FieldError::required("spec", ""));
            return out;
        };
        let selector = &spec.selector;
        checks::label_selector(selector, "spec.selector", &mut out);
        let labels = pod_template::labels(&spec.template);
        if checks::selector_matches(selector, labels) == Some(false) {
            out.push(FieldError::invalid(
                "spec.template.metadata.labels",
                checks::json(&labels.cloned().unwrap_or_default()),
                "`selector` does not match template `labels`",
            ));
        }
        pod_template::validate(&spec.template, "spec.template", &mut out);
        pod_template::always_restart(&spec.template, "DaemonSet", "spec.template", &mut out);
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        checks::nonnegative(i64::from(min_ready), "spec.minReadySeconds", &mut out);
        checks::nonnegative(template_generation(ds), "spec.templateGeneration", &mut out);
        daemon_update_strategy(spec.update_strategy.as_ref(), &mut out);
        if let Some(limit) = spec.revision_history_limit {
            checks::nonnegative(i64::from(limit), "spec.revisionHistoryLimit", &mut out);
        }
        out
    }

    fn validate_update(&self, new: &DaemonSet, old: &DaemonSet) -> Vec<FieldError> {
        let mut out = self.validate(new);
        let selector = |ds: &DaemonSet| ds.spec.as_ref().map(|s| s.selector.clone());
        checks::immutable(&selector(new), &selector(old), "spec.selector", &mut out);
        out
    }
}

fn daemon_set_defaults(ds: &mut DaemonSet) {
    let Some(spec) = ds.spec.as_mut() else {
        return;
    };
    let strategy = spec
        .update_strategy
        .get_or_insert_with(DaemonSetUpdateStrategy::default);
    let kind = strategy
        .type_
        .get_or_insert_with(|| "RollingUpdate".to_owned());
    if kind == "RollingUpdate" {
        let rolling = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDaemonSet::default);
        rolling.max_unavailable.get_or_insert(IntOrString::Int(1));
        rolling.max_surge.get_or_insert(IntOrString::Int(0));
    }
    spec.revision_history_limit.get_or_insert(10);
    pod_template::apply_defaults(&mut spec.template);
}

fn template_generation(ds: &DaemonSet) -> i64 {
    let annotations = ds.metadata.annotations.as_ref();
    let value = annotations.and_then(|a| a.get(TEMPLATE_GENERATION));
    value.and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn set_template_generation(ds: &mut DaemonSet, generation: i64) {
    let annotations = ds.metadata.annotations.get_or_insert_with(Default::default);
    annotations.insert(TEMPLATE_GENERATION.to_owned(), generation.to_string());
}

/// `ValidateDaemonSetUpdateStrategy`.
fn daemon_update_strategy(strategy: Option<&DaemonSetUpdateStrategy>, out: &mut Vec<FieldError>) {
    let path = "spec.updateStrategy";
    let kind = strategy
        .and_then(|s| s.type_.as_deref())
        .unwrap_or_default();
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    match (kind, rolling) {
        ("OnDelete", _) => {}
        ("RollingUpdate", None) => {
            out.push(FieldError::required(format!("{path}.rollingUpdate"), ""))
        }
        ("RollingUpdate", Some(r)) => {
            let at = format!("{path}.rollingUpdate");
            let zero = IntOrString::Int(0);
            let unavailable = r.max_unavailable.as_ref().unwrap_or(&zero);
            let surge = r.max_surge.as_ref().unwrap_or(&zero);
            for (field, value) in [("maxUnavailable", unavailable), ("maxSurge", surge)] {
                int_or_percent(value, &format!("{at}.{field}"), out);
            }
            for (field, value) in [("maxUnavailable", unavailable), ("maxSurge", surge)] {
                not_over_100_percent(value, &format!("{at}.{field}"), out);
            }
            match (
                int_or_percent_value(unavailable) != 0,
                int_or_percent_value(surge) != 0,
            ) {
                (true, true) => out.push(FieldError::invalid(
                    format!("{at}.maxSurge"),
                    checks::json(surge),
                    "may not be set when maxUnavailable is non-zero",
                )),
                (false, false) => out.push(FieldError::required(
                    format!("{at}.maxUnavailable"),
                    "cannot be 0 when maxSurge is 0",
                )),
                _ => {}
            }
        }
        _ => out.push(unsupported_strategy(
            path,
            kind,
            checks::json(&rolling),
            &["RollingUpdate", "OnDelete"],
        )),
    }
}

/// `ValidatePositiveIntOrPercent`.
pub(super) fn int_or_percent(value: &IntOrString, field: &str, out: &mut Vec<FieldError>) {
    match value {
        IntOrString::String(s) if !checks::is_percent(s) => out.push(FieldError::invalid(
            field,
            checks::json(value),
            "a valid percent string must be a numeric string followed by an ending '%' (e.g. \
             '1%',  or '93%', regex used for validation is '[0-9]+%')",
        )),
        IntOrString::Int(n) => checks::nonnegative(i64::from(*n), field, out),
        IntOrString::String(_) => {}
    }
}

/// `getIntOrPercentValue`: the percentage, or the number (a malformed string counts as its
/// leading integer, as Go's `Atoi` fallback gives 0).
pub(super) fn int_or_percent_value(value: &IntOrString) -> i64 {
    match value {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => {
            let digits = s.strip_suffix('%').unwrap_or(s);
            digits.parse().unwrap_or(0)
        }
    }
}

/// `IsNotMoreThan100Percent`.
pub(super) fn not_over_100_percent(value: &IntOrString, field: &str, out: &mut Vec<FieldError>) {
    if let IntOrString::String(s) = value
        && checks::is_percent(s)
        && int_or_percent_value(value) > 100
    {
        out.push(FieldError::invalid(
            field,
            checks::json(value),
            "must not be greater than 100%",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::{created, errors, merged};
    use serde_json::{Value, json};

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
    }

    fn spec_with(extra: Value) -> Value {
        let spec = json!({"selector": {"matchLabels": {"app": "web"}}, "template": template()});
        merged(spec, extra)
    }

    #[test]
    fn deployment_defaults_and_rules() {
        let d = created(&DeploymentStrategy, spec_with(json!({})));
        let got = serde_json::to_value(&d).expect("json");
        assert_eq!(got["spec"]["replicas"], 1);
        assert_eq!(
            got["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(got["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(got["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(got["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(got["status"], json!({}));
        assert!(DeploymentStrategy.validate(&d).is_empty());

        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"replicas": -1}),
                vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
            ),
            (
                json!({"selector": {}}),
                vec![
                    "spec.selector: Required value",
                    "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "db"}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}}),
                vec![
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
                ],
            ),
            (
                json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "x"}}}),
                vec![
                    "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"x\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%",
                ],
            ),
            (
                json!({"strategy": {"type": "Recreate", "rollingUpdate": {}}}),
                vec![
                    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
                ],
            ),
            (
                json!({"strategy": {"type": "BlueGreen"}}),
                vec![
                    "spec.strategy: Unsupported value: {\"Type\":\"BlueGreen\",\"RollingUpdate\":null}: supported values: \"Recreate\", \"RollingUpdate\"",
                ],
            ),
            (
                json!({"minReadySeconds": 700}),
                vec![
                    "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
                ],
            ),
            (
                json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"restartPolicy": "Never",
                    "containers": [{"name": "web", "image": "nginx"}]}}}),
                vec![
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                ],
            ),
        ];
        for (extra, want) in table {
            assert_eq!(
                errors(&DeploymentStrategy, spec_with(extra.clone())),
                want,
                "{extra}"
            );
        }
    }

    #[test]
    fn selectors_are_immutable() {
        let old = created(&DeploymentStrategy, spec_with(json!({})));
        let mut new = created(
            &DeploymentStrategy,
            spec_with(json!({"selector": {"matchLabels": {"app": "web", "tier": "x"}}})),
        );
        DeploymentStrategy.prepare_for_update(&mut new, &old);
        let got: Vec<String> = DeploymentStrategy
            .validate_update(&new, &old)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(got.contains(
            &"spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"x\"}}: field is immutable".to_owned()
        ));
        let rs = created(&ReplicaSetStrategy, spec_with(json!({})));
        assert!(ReplicaSetStrategy.validate_update(&rs, &rs).is_empty());
        assert_eq!(
            ReplicaSetStrategy.field(&rs, "status.replicas").as_deref(),
            Some("0")
        );
    }

    #[test]
    fn daemonset_defaults_generation_and_rules() {
        let ds = created(&DaemonSetStrategy, spec_with(json!({})));
        let got = serde_json::to_value(&ds).expect("json");
        assert_eq!(
            got["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(got["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        assert!(DaemonSetStrategy.validate(&ds).is_empty());
        let mut new = ds.clone();
        if let Some(spec) = new.spec.as_mut() {
            spec.template.spec.as_mut().expect("spec").containers[0].image = Some("nginx:2".into());
        }
        DaemonSetStrategy.prepare_for_update(&mut new, &ds);
        assert_eq!(template_generation(&new), 2);

        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
                ],
            ),
            (
                json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero",
                ],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "db"}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
                ],
            ),
        ];
        for (extra, want) in table {
            assert_eq!(
                errors(&DaemonSetStrategy, spec_with(extra.clone())),
                want,
                "{extra}"
            );
        }
    }
}

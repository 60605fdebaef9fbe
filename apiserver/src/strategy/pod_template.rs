//! Pod templates inside workloads (upstream `ValidatePodTemplateSpec` and the pod-spec
//! defaults that reach every embedded spec). Apps and batch kinds call these; each adds its
//! own restart-policy rule.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::error::FieldError;
use crate::strategy::checks;
use crate::strategy::pod_defaults;
use crate::strategy::pod_spec_validation::{self, SpecContext};
use crate::strategy::pod_validation;
use crate::strategy::validation;

/// The pod-spec defaults of a template (not the pod-only ones: no requests from limits).
pub fn apply_defaults(template: &mut PodTemplateSpec) {
    pod_defaults::apply_spec(template.spec.get_or_insert_with(PodSpec::default));
}

pub fn labels(template: &PodTemplateSpec) -> Option<&BTreeMap<String, String>> {
    template.metadata.as_ref().and_then(|m| m.labels.as_ref())
}

/// `ValidatePodTemplateSpec` at `path` (e.g. `spec.template`).
pub fn validate(template: &PodTemplateSpec, path: &str, out: &mut Vec<FieldError>) {
    let default_spec = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&default_spec);
    metadata(template, spec, path, out);
    let ctx = SpecContext {
        pod_name: None,
        is_pod: false,
    };
    pod_spec_validation::validate_spec(spec, &ctx, &format!("{path}.spec"), out);
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        out.push(FieldError::forbidden(
            format!("{path}.spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// The template's labels and annotations (all StatefulSet validates of its template).
pub fn metadata(template: &PodTemplateSpec, spec: &PodSpec, path: &str, out: &mut Vec<FieldError>) {
    if let Some(labels) = labels(template) {
        validation::labels(labels, &format!("{path}.labels"), out);
    }
    let annotations = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref());
    if let Some(annotations) = annotations {
        let field = format!("{path}.annotations");
        validation::annotations(annotations, &field, out);
        pod_validation::pod_annotations(annotations, spec, &field, out);
    }
}

/// `selector` must match the template's labels (`` `selector` does not match template
/// `labels` ``); `None` when the selector does not convert, which callers report their way.
pub fn selector_matches(
    selector: &LabelSelector,
    template: &PodTemplateSpec,
    path: &str,
    out: &mut Vec<FieldError>,
) -> Option<()> {
    let labels = labels(template);
    if !checks::selector_matches(selector, labels)? {
        out.push(FieldError::invalid(
            format!("{path}.metadata.labels"),
            checks::json(&labels.cloned().unwrap_or_default()),
            "`selector` does not match template `labels`",
        ));
    }
    Some(())
}

/// The rule workloads whose pods must keep running share: `restartPolicy: Always` and no
/// `activeDeadlineSeconds` (`kind` names the workload in the message).
pub fn always_restart(
    template: &PodTemplateSpec,
    kind: &str,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let spec = template.spec.as_ref();
    let policy = spec
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or_default();
    if policy != "Always" {
        out.push(FieldError::not_supported(
            format!("{path}.spec.restartPolicy"),
            policy,
            &["Always"],
        ));
    }
    if spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        out.push(FieldError::forbidden(
            format!("{path}.spec.activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(value: serde_json::Value) -> PodTemplateSpec {
        let mut t: PodTemplateSpec = serde_json::from_value(value).expect("template");
        apply_defaults(&mut t);
        t
    }

    fn errors(t: &PodTemplateSpec) -> Vec<String> {
        let mut out = Vec::new();
        validate(t, "spec.template", &mut out);
        always_restart(t, "ReplicaSet", "spec.template", &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn valid_template_passes() {
        let t = template(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 0}]}],
                     "hostNetwork": true},
        }));
        assert_eq!(errors(&t), Vec::<String>::new());
    }

    #[test]
    fn template_rules() {
        let table = [
            (
                json!({"spec": {"containers": []}}),
                vec!["spec.template.spec.containers: Required value"],
            ),
            (
                json!({"spec": {"restartPolicy": "Never", "activeDeadlineSeconds": 5,
                                "containers": [{"name": "c", "image": "i"}]}}),
                vec![
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                    "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
                ],
            ),
            (
                json!({"metadata": {"labels": {"-x": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
                vec![
                    "spec.template.labels: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                ],
            ),
            (
                json!({"spec": {"containers": [{"name": "c", "image": "i"}],
                                "ephemeralContainers": [{"name": "e", "image": "i"}]}}),
                vec![
                    "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template",
                ],
            ),
        ];
        for (value, want) in table {
            assert_eq!(errors(&template(value.clone())), want, "{value}");
        }
    }

    #[test]
    fn selector_must_match() {
        let t = template(json!({"metadata": {"labels": {"app": "web"}}}));
        let selector: LabelSelector =
            serde_json::from_value(json!({"matchLabels": {"app": "db"}})).expect("selector");
        let mut out = Vec::new();
        assert_eq!(
            selector_matches(&selector, &t, "spec.template", &mut out),
            Some(())
        );
        assert_eq!(
            out[0].to_string(),
            "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
        );
    }
}

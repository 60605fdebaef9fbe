//! Validation of a pod (upstream `pkg/apis/core/validation/validation.go`, `ValidatePod*`).

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::error::FieldError;
use crate::strategy::validation;

pub fn validate(pod: &Pod) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = pod.spec.as_ref() else {
        errors.push(FieldError::required("spec", ""));
        return errors;
    };
    if spec.containers.is_empty() {
        errors.push(FieldError::required("spec.containers", ""));
    }
    let mut names = HashSet::new();
    let init = spec.init_containers.iter().flatten();
    for (field, list) in [("spec.initContainers", init.collect::<Vec<_>>()), ("spec.containers", spec.containers.iter().collect())] {
        for (i, container) in list.into_iter().enumerate() {
            container_errors(container, &format!("{field}[{i}]"), &mut names, &mut errors);
        }
    }
    if let Some(policy) = spec.restart_policy.as_deref()
        && !["Always", "OnFailure", "Never"].contains(&policy)
    {
        errors.push(FieldError::not_supported(
            "spec.restartPolicy",
            policy,
            &["Always", "OnFailure", "Never"],
        ));
    }
    if let Some(policy) = spec.dns_policy.as_deref()
        && !["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"].contains(&policy)
    {
        errors.push(FieldError::not_supported(
            "spec.dnsPolicy",
            policy,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        ));
    }
    if let Some(seconds) = spec.termination_grace_period_seconds
        && seconds < 0
    {
        errors.push(FieldError::invalid(
            "spec.terminationGracePeriodSeconds",
            seconds.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    errors
}

fn container_errors(
    container: &Container,
    field: &str,
    names: &mut HashSet<String>,
    errors: &mut Vec<FieldError>,
) {
    if container.name.is_empty() {
        errors.push(FieldError::required(format!("{field}.name"), ""));
    } else {
        for e in validation::dns1123_label(&container.name) {
            errors.push(FieldError::invalid(
                format!("{field}.name"),
                format!("{:?}", container.name),
                e,
            ));
        }
        if !names.insert(container.name.clone()) {
            errors.push(FieldError::duplicate(
                format!("{field}.name"),
                format!("{:?}", container.name),
            ));
        }
    }
    if container.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
        errors.push(FieldError::required(format!("{field}.image"), ""));
    }
    if let Some(policy) = container.image_pull_policy.as_deref()
        && !["Always", "IfNotPresent", "Never"].contains(&policy)
    {
        errors.push(FieldError::not_supported(
            format!("{field}.imagePullPolicy"),
            policy,
            &["Always", "IfNotPresent", "Never"],
        ));
    }
}

/// Upstream allows few pod changes after create: images, activeDeadlineSeconds, tolerations
/// (additions), and labels/annotations through metadata.
pub fn validate_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errors = validate(new);
    if let (Some(new_spec), Some(old_spec)) = (new.spec.as_ref(), old.spec.as_ref()) {
        let mut a = new_spec.clone();
        let mut b = old_spec.clone();
        for (x, y) in a.containers.iter_mut().zip(b.containers.iter_mut()) {
            x.image = y.image.clone();
        }
        a.active_deadline_seconds = b.active_deadline_seconds;
        a.tolerations = b.tolerations.clone();
        if a != b {
            errors.push(FieldError::forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`, \
                 `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, \
                 `spec.tolerations` (only additions to existing tolerations), \
                 `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was \
                 previously negative)",
            ));
        }
    }
    errors
}

//! Namespace requests: policy labels must be valid, and tightening the enforce level warns
//! about the existing pods that would now be refused, as upstream's `ValidateNamespace` and
//! `EvaluatePodsInNamespace` (`admission/admission.go`).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod, PodSpec};

use super::admission::{Config, Decision, Denial};
use super::api::{
    AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL, ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL, Level,
    LevelVersion, Policy, WARN_LEVEL_LABEL, WARN_VERSION_LABEL, policy_to_evaluate,
};
use super::registry::{AggregateCheckResult, check_pod};

/// At most this many existing pods are evaluated when the enforce level is tightened.
pub const NAMESPACE_MAX_PODS_TO_CHECK: usize = 3000;
/// How long evaluating existing pods may take (halved again if the request's own deadline
/// is nearer, upstream).
pub const NAMESPACE_POD_CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// The only warning when the pods cannot be listed.
pub const FAILED_TO_LIST_PODS_WARNING: &str =
    "failed to list pods while checking new PodSecurity enforce level";

/// A create (`old_namespace` `None`) or update of a namespace.
#[derive(Clone, Copy, Debug)]
pub struct NamespaceRequest<'a> {
    /// The request's namespace, checked against the exempt namespaces. Upstream takes it
    /// from the request path: `x` for `/api/v1/namespaces/x`, none for a create.
    pub request_namespace: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a Namespace,
    pub old_namespace: Option<&'a Namespace>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamespaceDecision {
    Done(Decision),
    /// The enforce level was tightened: the request is allowed, with the warnings of
    /// [`evaluate_pods_in_namespace`] over the namespace's pods (or
    /// [`FAILED_TO_LIST_PODS_WARNING`] if they cannot be listed).
    CheckExistingPods {
        enforce: LevelVersion,
    },
}

/// Decides a namespace create or update.
pub fn validate_namespace(config: &Config, req: &NamespaceRequest<'_>) -> NamespaceDecision {
    let allow = || NamespaceDecision::Done(Decision::default());
    if !req.subresource.is_empty() {
        return allow();
    }
    let labels = req.namespace.metadata.labels.as_ref();
    let name = req.namespace.metadata.name.as_deref().unwrap_or_default();
    let (new_policy, new_errors) = policy_to_evaluate(labels, &config.defaults);
    let invalid = |causes| {
        NamespaceDecision::Done(Decision {
            denial: Some(Denial::Invalid { causes }),
            ..Decision::default()
        })
    };
    let exempt_warning = || {
        let mut decision = Decision::default();
        decision
            .warnings
            .extend(exempt_namespace_warning(config, name, &new_policy, labels));
        NamespaceDecision::Done(decision)
    };

    let Some(old_namespace) = req.old_namespace else {
        if !new_errors.is_empty() {
            return invalid(new_errors);
        }
        if config.exemptions.namespace(req.request_namespace) {
            return exempt_warning();
        }
        return allow();
    };
    let old_labels = old_namespace.metadata.labels.as_ref();
    let (old_policy, old_errors) = policy_to_evaluate(old_labels, &config.defaults);
    // Labels already invalid in the same way may stay, so unrelated updates still pass.
    if !new_errors.is_empty() && (old_errors.is_empty() || new_errors != old_errors) {
        return invalid(new_errors);
    }
    let (new, old) = (new_policy.enforce, old_policy.enforce);
    let relaxed = new.version == old.version && new.level <= old.level;
    if new == old || new.level == Level::Privileged || relaxed {
        return allow();
    }
    if config.exemptions.namespace(req.request_namespace) {
        return exempt_warning();
    }
    NamespaceDecision::CheckExistingPods { enforce: new }
}

/// `namespace "x" is exempt from Pod Security, and the policy (enforce=restricted:latest)
/// will be ignored`, naming the non-privileged modes set by labels; none when the policy is
/// privileged or the default anyway.
fn exempt_namespace_warning(
    config: &Config,
    name: &str,
    policy: &Policy,
    labels: Option<&BTreeMap<String, String>>,
) -> Option<String> {
    if policy.fully_privileged() || policy.equivalent(&config.defaults) {
        return None;
    }
    let has = |key: &str| labels.is_some_and(|l| l.contains_key(key));
    let modes = [
        (
            "enforce",
            policy.enforce,
            ENFORCE_LEVEL_LABEL,
            ENFORCE_VERSION_LABEL,
        ),
        (
            "audit",
            policy.audit,
            AUDIT_LEVEL_LABEL,
            AUDIT_VERSION_LABEL,
        ),
        ("warn", policy.warn, WARN_LEVEL_LABEL, WARN_VERSION_LABEL),
    ];
    let shown: Vec<String> = modes
        .iter()
        .filter(|(_, lv, level, version)| {
            lv.level != Level::Privileged && (has(level) || has(version))
        })
        .map(|(mode, lv, _, _)| format!("{mode}={lv}"))
        .collect();
    Some(format!(
        "namespace \"{name}\" is exempt from Pod Security, and the policy ({}) will be ignored",
        shown.join(", ")
    ))
}

/// The warnings for a tightened enforce level: a header, then one line per distinct set of
/// reasons naming the lexically first pod and how many others share it, sorted.
///
/// Pods of an exempt runtime class are skipped; one pod per controller is evaluated before
/// the other replicas, so that `max_pods` covers as many workloads as possible.
/// `out_of_time` is asked after each pod, standing in for upstream's deadline.
pub fn evaluate_pods_in_namespace(
    config: &Config,
    namespace: &str,
    enforce: LevelVersion,
    pods: &[Pod],
    max_pods: usize,
    mut out_of_time: impl FnMut() -> bool,
) -> Vec<String> {
    let prioritized = prioritize_pods(config, pods);
    let total = prioritized.len();
    let mut checked = total.min(max_pods);
    // (reasons, lexically first pod name, number of pods), in order of first appearance.
    let mut groups: Vec<(String, String, usize)> = Vec::new();
    let empty = PodSpec::default();
    for (i, pod) in prioritized.iter().take(max_pods).enumerate() {
        let spec = pod.spec.as_ref().unwrap_or(&empty);
        let result = AggregateCheckResult::from_results(&check_pod(enforce, &pod.metadata, spec));
        if !result.allowed() {
            let reasons = result.forbidden_reason();
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            match groups.iter_mut().find(|(r, _, _)| *r == reasons) {
                Some((_, first, count)) => {
                    if name < first.as_str() {
                        *first = name.to_string();
                    }
                    *count += 1;
                }
                None => groups.push((reasons, name.to_string(), 1)),
            }
        }
        if out_of_time() {
            checked = i + 1;
            break;
        }
    }

    let mut warnings = Vec::new();
    if checked < total {
        warnings.push(format!(
            "new PodSecurity enforce level only checked against the first {checked} of {total} \
             existing pods"
        ));
    }
    if !groups.is_empty() {
        warnings.push(format!(
            "existing pods in namespace \"{namespace}\" violate the new PodSecurity enforce \
             level \"{enforce}\""
        ));
    }
    let mut pod_warnings: Vec<String> = groups
        .into_iter()
        .map(|(reasons, first, count)| match count {
            1 => format!("{first}: {reasons}"),
            2 => format!("{first} (and 1 other pod): {reasons}"),
            n => format!("{first} (and {} other pods): {reasons}", n - 1),
        })
        .collect();
    pod_warnings.sort();
    warnings.append(&mut pod_warnings);
    warnings
}

/// Drops pods of exempt runtime classes, then puts the first pod of each controller (and
/// every pod without one) before the further replicas (upstream's `prioritizePods`).
fn prioritize_pods<'a>(config: &Config, pods: &'a [Pod]) -> Vec<&'a Pod> {
    let mut first = Vec::new();
    let mut replicas = Vec::new();
    let mut seen_controllers: HashSet<&str> = HashSet::new();
    for pod in pods {
        let runtime_class = pod
            .spec
            .as_ref()
            .and_then(|s| s.runtime_class_name.as_deref());
        if config.exemptions.runtime_class(runtime_class) {
            continue;
        }
        let controller = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))
            .map(|r| r.uid.as_str());
        match controller {
            Some(uid) if !seen_controllers.insert(uid) => replicas.push(pod),
            _ => first.push(pod),
        }
    }
    first.append(&mut replicas);
    first
}

//! The admission decisions for pods and workload objects, as upstream's `ValidatePod`,
//! `ValidatePodController` and `EvaluatePod` (`admission/admission.go`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::api::{
    AUDIT_VIOLATIONS_ANNOTATION, ENFORCE_POLICY_ANNOTATION, ERROR_ANNOTATION, EXEMPT_ANNOTATION,
    LabelError, Level, LevelVersion, Policy, Version, label_errors_message, policy_to_evaluate,
};
use super::extract::pod_spec_of;
use super::registry::{AggregateCheckResult, check_pod};

/// Requests nobody checks: who sends them is exempt, whatever the namespace's labels say.
/// Empty by default, as upstream's `PodSecurityConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exemptions {
    pub usernames: Vec<String>,
    pub runtime_classes: Vec<String>,
    pub namespaces: Vec<String>,
}

impl Exemptions {
    /// An empty name is never exempt (a cluster-scoped request has no namespace).
    pub fn namespace(&self, namespace: &str) -> bool {
        !namespace.is_empty() && self.namespaces.iter().any(|n| n == namespace)
    }

    pub fn username(&self, username: &str) -> bool {
        !username.is_empty() && self.usernames.iter().any(|u| u == username)
    }

    pub fn runtime_class(&self, runtime_class: Option<&str>) -> bool {
        runtime_class
            .is_some_and(|rc| !rc.is_empty() && self.runtime_classes.iter().any(|r| r == rc))
    }
}

/// The plugin's configuration: the policy of namespaces without labels, and the exemptions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub defaults: Policy,
    pub exemptions: Exemptions,
}

/// Why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// 403: the pod violates the namespace's enforce level. `reason` reads
    /// `violates PodSecurity "restricted:latest": ...`; see [`forbidden_message`].
    Forbidden { reason: String },
    /// 422: a namespace's policy labels are invalid; see [`invalid_message`].
    Invalid { causes: Vec<LabelError> },
}

/// What PodSecurity says about one request. Warnings go to the client (`Warning:` headers);
/// audit annotations, with their `pod-security.kubernetes.io/` keys, to the audit event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    pub denial: Option<Denial>,
    pub warnings: Vec<String>,
    pub audit_annotations: BTreeMap<String, String>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.denial.is_none()
    }

    fn allow() -> Decision {
        Decision::default()
    }

    fn annotated(key: &str, value: String) -> Decision {
        let mut decision = Decision::default();
        decision.audit_annotations.insert(key.to_string(), value);
        decision
    }
}

/// The 403 message, as `apierrors.NewForbidden`: `pods "x" is forbidden: <reason>`.
/// `resource` is the group-qualified resource (`pods`, `deployments.apps`).
pub fn forbidden_message(resource: &str, name: &str, reason: &str) -> String {
    if name.is_empty() {
        format!("{resource} is forbidden: {reason}")
    } else {
        format!("{resource} \"{name}\" is forbidden: {reason}")
    }
}

/// The 422 message, as `apierrors.NewInvalid`: `Namespace "x" is invalid: <causes>`.
pub fn invalid_message(kind: &str, name: &str, causes: &[LabelError]) -> String {
    if causes.is_empty() {
        return format!("{kind} \"{name}\" is invalid");
    }
    format!(
        "{kind} \"{name}\" is invalid: {}",
        label_errors_message(causes)
    )
}

/// What a pod or workload request carries that PodSecurity reads besides the object.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    /// The request's namespace.
    pub namespace: &'a str,
    /// `""` for the object itself, else `status`, `ephemeralcontainers`, ...
    pub subresource: &'a str,
    pub username: &'a str,
    /// The labels of the request's namespace as stored (the caller reads the namespace; a
    /// failed read is an internal error upstream).
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
}

/// Pod subresources that cannot change what the checks read. Any other one, such as
/// `ephemeralcontainers` or `resize`, carries a whole pod and is evaluated, so an unknown
/// subresource fails safe (`ignoredPodSubresources` upstream).
const IGNORED_POD_SUBRESOURCES: &[&str] = &[
    "exec",
    "attach",
    "binding",
    "eviction",
    "log",
    "portforward",
    "proxy",
    "status",
];

/// Admits a pod create (`old_pod` `None`) or update, enforcing the namespace's policy.
pub fn admit_pod(config: &Config, req: &Request<'_>, pod: &Pod, old_pod: Option<&Pod>) -> Decision {
    if IGNORED_POD_SUBRESOURCES.contains(&req.subresource) {
        return Decision::allow();
    }
    if let Some(exempt) = exempt_request(config, req) {
        return exempt;
    }
    let (policy, errors) = policy_to_evaluate(req.namespace_labels, &config.defaults);
    if errors.is_empty() && policy.fully_privileged() {
        // Upstream's shared response names `privileged:latest` whatever the labels' versions.
        let privileged = LevelVersion::new(Level::Privileged, Version::Latest);
        return Decision::annotated(ENFORCE_POLICY_ANNOTATION, privileged.to_string());
    }
    if let Some(old) = old_pod
        && !is_significant_pod_update(pod, old)
    {
        return Decision::allow();
    }
    let empty = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    evaluate_pod(config, &policy, &errors, &pod.metadata, spec, true)
}

/// Admits a workload (`kind` as in the object, e.g. `Deployment`): its pod template is
/// checked against the audit and warn levels only, never enforced, since the pods it makes
/// are checked when created.
pub fn admit_pod_controller(
    config: &Config,
    req: &Request<'_>,
    kind: &str,
    object: &Value,
) -> Decision {
    if !req.subresource.is_empty() {
        return Decision::allow();
    }
    if let Some(exempt) = exempt_request(config, req) {
        return exempt;
    }
    let (policy, errors) = policy_to_evaluate(req.namespace_labels, &config.defaults);
    if errors.is_empty()
        && policy.warn.level == Level::Privileged
        && policy.audit.level == Level::Privileged
    {
        return Decision::allow();
    }
    match pod_spec_of(kind, object) {
        // A failed extraction never blocks the request; the audit event says why.
        Err(e) => Decision::annotated(
            ERROR_ANNOTATION,
            format!("failed to extract pod template: {e}"),
        ),
        Ok(None) => Decision::allow(),
        Ok(Some((meta, spec))) => evaluate_pod(config, &policy, &errors, &meta, &spec, false),
    }
}

fn exempt_request(config: &Config, req: &Request<'_>) -> Option<Decision> {
    if config.exemptions.namespace(req.namespace) {
        return Some(Decision::annotated(
            EXEMPT_ANNOTATION,
            "namespace".to_string(),
        ));
    }
    if config.exemptions.username(req.username) {
        return Some(Decision::annotated(EXEMPT_ANNOTATION, "user".to_string()));
    }
    None
}

/// Evaluates the enforce (when `enforce`), audit and warn levels. A denied request carries
/// no warnings; equal level-versions are evaluated once.
pub fn evaluate_pod(
    config: &Config,
    policy: &Policy,
    label_errors: &[LabelError],
    meta: &ObjectMeta,
    spec: &PodSpec,
    enforce: bool,
) -> Decision {
    if config
        .exemptions
        .runtime_class(spec.runtime_class_name.as_deref())
    {
        return Decision::annotated(EXEMPT_ANNOTATION, "runtimeClass".to_string());
    }
    let mut decision = Decision::allow();
    if !label_errors.is_empty() {
        decision.audit_annotations.insert(
            ERROR_ANNOTATION.to_string(),
            format!(
                "Failed to parse policy: {}",
                label_errors_message(label_errors)
            ),
        );
    }
    let mut cache: Vec<(LevelVersion, AggregateCheckResult)> = Vec::new();
    let mut evaluate = |lv: LevelVersion| -> AggregateCheckResult {
        if let Some((_, result)) = cache.iter().find(|(cached, _)| *cached == lv) {
            return result.clone();
        }
        let result = AggregateCheckResult::from_results(&check_pod(lv, meta, spec));
        cache.push((lv, result.clone()));
        result
    };

    if enforce {
        decision.audit_annotations.insert(
            ENFORCE_POLICY_ANNOTATION.to_string(),
            policy.enforce.to_string(),
        );
        let result = evaluate(policy.enforce);
        if !result.allowed() {
            decision.denial = Some(Denial::Forbidden {
                reason: format!(
                    "violates PodSecurity \"{}\": {}",
                    policy.enforce,
                    result.forbidden_detail()
                ),
            });
        }
    }
    let audit = evaluate(policy.audit);
    if !audit.allowed() {
        decision.audit_annotations.insert(
            AUDIT_VIOLATIONS_ANNOTATION.to_string(),
            format!(
                "would violate PodSecurity \"{}\": {}",
                policy.audit,
                audit.forbidden_detail()
            ),
        );
    }
    if decision.allowed() {
        let warn = evaluate(policy.warn);
        if !warn.allowed() {
            decision.warnings.push(format!(
                "would violate PodSecurity \"{}\": {}",
                policy.warn,
                warn.forbidden_detail()
            ));
        }
    }
    decision
}

/// Whether an update can change the outcome. Validation lets an update change little of a
/// pod's spec; of what the checks read, only images and new ephemeral containers, as
/// upstream's `isSignificantPodUpdate`.
pub fn is_significant_pod_update(pod: &Pod, old_pod: &Pod) -> bool {
    let empty = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    let old = old_pod.spec.as_ref().unwrap_or(&empty);
    let init = spec.init_containers.as_deref().unwrap_or_default();
    let old_init = old.init_containers.as_deref().unwrap_or_default();
    if spec.containers.len() != old.containers.len() || init.len() != old_init.len() {
        return true;
    }
    let image_changed = |a: &Container, b: &Container| a.image != b.image;
    if spec
        .containers
        .iter()
        .zip(&old.containers)
        .any(|(a, b)| image_changed(a, b))
    {
        return true;
    }
    if init.iter().zip(old_init).any(|(a, b)| image_changed(a, b)) {
        return true;
    }
    let old_ephemeral = old.ephemeral_containers.as_deref().unwrap_or_default();
    spec.ephemeral_containers.iter().flatten().any(|e| {
        match old_ephemeral.iter().find(|o| o.name == e.name) {
            None => true,
            Some(o) => o.image != e.image,
        }
    })
}

//! The PodSecurity admission plugin's pure core: the Pod Security Standards (baseline and
//! restricted, every policy version) and the admission decisions built on them, as upstream's
//! `staging/src/k8s.io/pod-security-admission`. No I/O: the caller reads the namespace and
//! lists its pods, then turns a [`Decision`] into a status, warnings and audit annotations.
//! Only creates and updates are checked, as the in-tree plugin registers for no other
//! operation (`plugin/pkg/admission/security/podsecurity/admission.go`).
//!
//! - `api.rs`: levels, versions and the policy read from a namespace's labels.
//! - `registry.rs`: the checks with their version ranges and [`check_pod`]; the checks
//!   themselves in `host.rs` and `baseline.rs` (baseline) and `restricted.rs`.
//! - `admission.rs`: decisions for pods ([`admit_pod`]) and workloads
//!   ([`admit_pod_controller`]); `extract.rs`: the pod template inside a workload;
//!   `namespace.rs`: decisions for namespaces and the existing-pods warnings.
//! - `text.rs`: the helpers that keep messages byte-identical to upstream's.

mod admission;
mod api;
mod baseline;
mod extract;
mod host;
mod namespace;
mod registry;
mod restricted;
mod text;

#[cfg(test)]
mod tests;

pub use admission::{
    Config, Decision, Denial, Exemptions, Request, admit_pod, admit_pod_controller, evaluate_pod,
    forbidden_message, invalid_message, is_significant_pod_update,
};
pub use api::{
    AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL, AUDIT_VIOLATIONS_ANNOTATION, ENFORCE_LEVEL_LABEL,
    ENFORCE_POLICY_ANNOTATION, ENFORCE_VERSION_LABEL, ERROR_ANNOTATION, EXEMPT_ANNOTATION,
    LabelError, Level, LevelVersion, Policy, Version, WARN_LEVEL_LABEL, WARN_VERSION_LABEL,
    label_errors_message, policy_to_evaluate,
};
pub use extract::{ExtractError, has_pod_spec, pod_spec_of};
pub use namespace::{
    FAILED_TO_LIST_PODS_WARNING, NAMESPACE_MAX_PODS_TO_CHECK, NAMESPACE_POD_CHECK_TIMEOUT,
    NamespaceDecision, NamespaceRequest, evaluate_pods_in_namespace, validate_namespace,
};
pub use registry::{AggregateCheckResult, CheckResult, Violation, check_pod, max_known_minor};

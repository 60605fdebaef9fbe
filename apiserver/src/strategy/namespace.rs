//! Namespaces (upstream `pkg/registry/core/namespace/strategy.go`).

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};

use crate::error::FieldError;
use crate::strategy::checks::quote;
use crate::strategy::validation;
use crate::strategy::{NameRule, Strategy};

pub struct NamespaceStrategy;

/// The finalizer the namespace lifecycle holds until a namespace's content is gone.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

impl Strategy for NamespaceStrategy {
    type Object = Namespace;

    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }

    fn prepare_for_create(&self, ns: &mut Namespace) {
        ns.status = Some(NamespaceStatus {
            phase: Some("Active".to_owned()),
            ..NamespaceStatus::default()
        });
        let spec = ns.spec.get_or_insert_with(NamespaceSpec::default);
        let finalizers = spec.finalizers.get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
            finalizers.push(KUBERNETES_FINALIZER.to_owned());
        }
        // Upstream labels every namespace with its own name (NamespaceDefaultLabelName).
        let name = ns.metadata.name.clone().unwrap_or_default();
        ns.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("kubernetes.io/metadata.name".to_owned(), name);
    }

    /// Finalizers change only through `namespaces/finalize`, status only through
    /// `namespaces/status` (the registry keeps the stored status for other updates).
    fn prepare_for_update(&self, new: &mut Namespace, old: &Namespace) {
        new.spec.clone_from(&old.spec);
        let name = new.metadata.name.clone().unwrap_or_default();
        new.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("kubernetes.io/metadata.name".to_owned(), name);
    }

    /// `ValidateNamespace`: the spec's finalizers (upstream's path has no index).
    fn validate(&self, ns: &Namespace) -> Vec<FieldError> {
        let mut out = Vec::new();
        let finalizers = ns.spec.as_ref().and_then(|s| s.finalizers.as_deref());
        for finalizer in finalizers.unwrap_or_default() {
            for e in validation::qualified_name(finalizer) {
                out.push(FieldError::invalid("spec.finalizers", quote(finalizer), e));
            }
            let standard = ["kubernetes", "orphan", "foregroundDeletion"];
            if !finalizer.contains('/') && !standard.contains(&finalizer.as_str()) {
                out.push(FieldError::invalid(
                    "spec.finalizers",
                    quote(finalizer),
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        }
        out
    }

    /// Spec changes go through `/finalize`; an update keeps the stored spec, so only the
    /// metadata rules apply.
    fn validate_update(&self, _new: &Namespace, _old: &Namespace) -> Vec<FieldError> {
        Vec::new()
    }

    fn holds_deletion(&self, ns: &Namespace) -> bool {
        ns.spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| !f.is_empty())
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.phase"]
    }

    fn field(&self, ns: &Namespace, name: &str) -> Option<String> {
        match name {
            "status.phase" => Some(
                ns.status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_finalizers() {
        let table = [
            (json!(["kubernetes", "example.com/cleanup"]), vec![]),
            (
                json!(["cleanup"]),
                vec![
                    "spec.finalizers: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified",
                ],
            ),
            (
                json!(["a/b/c"]),
                vec![
                    "spec.finalizers: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                ],
            ),
        ];
        for (finalizers, want) in table {
            let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "ns"},
                "spec": {"finalizers": finalizers}}))
            .expect("namespace");
            let got: Vec<String> = NamespaceStrategy
                .validate(&ns)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want);
        }
    }
}

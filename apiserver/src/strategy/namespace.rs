//! Namespaces (upstream `pkg/registry/core/namespace/strategy.go`).

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};

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

    fn prepare_for_update(&self, new: &mut Namespace, old: &Namespace) {
        new.spec.clone_from(&old.spec);
        new.status.clone_from(&old.status);
        let name = new.metadata.name.clone().unwrap_or_default();
        new.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("kubernetes.io/metadata.name".to_owned(), name);
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

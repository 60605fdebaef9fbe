//! The stored RBAC policy: the upstream bootstrap roles and bindings written at every start
//! and reconciled as upstream's `rbac/bootstrap-roles` post-start hook does (an object
//! annotated `rbac.authorization.kubernetes.io/autoupdate: "true"` gets the rules or subjects
//! it lacks; one annotated `"false"` is left alone), the bindings nodes join with, and
//! ClusterRole aggregation kept current (upstream's clusterrole-aggregation controller).

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::rbac::{aggregate, bootstrap, covers};
use crate::error::ApiError;
use crate::registry::{PatchType, WriteOptions};
use crate::server::{ApiServer, ignore_exists};

const GROUP: &str = "rbac.authorization.k8s.io";
const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";
/// The group of the bootstrap tokens `ultrak8s token create` makes (kubeadm's is
/// `system:bootstrappers:kubeadm:default-node-token`).
pub const NODE_TOKEN_GROUP: &str = "system:bootstrappers:ultrak8s:default-node-token";

/// The bindings with which a kubelet joins by TLS bootstrap, as kubeadm makes them: its
/// bootstrap token may create CSRs and have its client CSR approved, and a node may renew its
/// own client certificate.
fn node_join_bindings() -> Vec<ClusterRoleBinding> {
    let binding = |name: &str, role: &str, group: &str| -> Option<ClusterRoleBinding> {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": group}],
        }))
        .ok()
    };
    [
        binding(
            "ultrak8s:kubelet-bootstrap",
            "system:node-bootstrapper",
            NODE_TOKEN_GROUP,
        ),
        binding(
            "ultrak8s:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            NODE_TOKEN_GROUP,
        ),
        binding(
            "ultrak8s:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:nodes",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn autoupdate(existing: &Value) -> bool {
    existing
        .pointer(&format!(
            "/metadata/annotations/{}",
            AUTOUPDATE.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        != Some("false")
}

/// The rules of `wanted` that `existing` does not cover, appended (never removed).
fn reconciled_rules(existing: &[PolicyRule], wanted: &[PolicyRule]) -> Option<Vec<PolicyRule>> {
    let missing = covers(existing, wanted).err()?;
    let mut rules = existing.to_vec();
    // Whole bootstrap rules, not their broken-down pieces, as upstream appends them.
    for rule in wanted {
        if missing
            .iter()
            .any(|m| covers(std::slice::from_ref(rule), std::slice::from_ref(m)).is_ok())
            && !rules.contains(rule)
        {
            rules.push(rule.clone());
        }
    }
    Some(rules)
}

impl ApiServer {
    /// Writes the bootstrap policy: creates what is missing and adds what an auto-updated
    /// object lacks.
    pub(crate) async fn bootstrap_policy(&self) -> Result<(), ApiError> {
        let cluster_roles = bootstrap::cluster_roles();
        for role in &cluster_roles {
            let mut role = role.clone();
            if let Some(rules) = aggregate::aggregated_rules(&role, &cluster_roles) {
                role.rules = Some(rules);
            }
            self.ensure("clusterroles", None, &role, |existing| {
                let existing: ClusterRole = serde_json::from_value(existing.clone()).ok()?;
                if role.aggregation_rule.is_some() {
                    // Aggregation keeps the rules; only the selectors are reconciled.
                    return (existing.aggregation_rule != role.aggregation_rule)
                        .then(|| serde_json::json!({"aggregationRule": role.aggregation_rule}));
                }
                let rules = reconciled_rules(
                    existing.rules.as_deref().unwrap_or_default(),
                    role.rules.as_deref().unwrap_or_default(),
                )?;
                Some(serde_json::json!({"rules": rules}))
            })
            .await?;
        }
        let bindings = bootstrap::cluster_role_bindings()
            .into_iter()
            .chain(node_join_bindings());
        for binding in bindings {
            self.ensure("clusterrolebindings", None, &binding, |existing| {
                subjects_patch(existing, binding.subjects.as_deref().unwrap_or_default())
            })
            .await?;
        }
        for role in bootstrap::namespace_roles() {
            let namespace = role.metadata.namespace.clone();
            self.ensure("roles", namespace.as_deref(), &role, |existing| {
                let existing: Role = serde_json::from_value(existing.clone()).ok()?;
                let rules = reconciled_rules(
                    existing.rules.as_deref().unwrap_or_default(),
                    role.rules.as_deref().unwrap_or_default(),
                )?;
                Some(serde_json::json!({"rules": rules}))
            })
            .await?;
        }
        for binding in bootstrap::namespace_role_bindings() {
            let namespace = binding.metadata.namespace.clone();
            self.ensure("rolebindings", namespace.as_deref(), &binding, |existing| {
                subjects_patch(existing, binding.subjects.as_deref().unwrap_or_default())
            })
            .await?;
        }
        Ok(())
    }

    /// Creates `object`, or, if it exists and may be auto-updated, merges the patch
    /// `reconcile` computes from the stored version (`None`: nothing to add).
    async fn ensure<T: Serialize>(
        &self,
        plural: &str,
        namespace: Option<&str>,
        object: &T,
        reconcile: impl FnOnce(&Value) -> Option<Value>,
    ) -> Result<(), ApiError> {
        let resource = self
            .resources
            .get(GROUP, "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("no resource {plural}")))?;
        let body = serde_json::to_value(object).map_err(ApiError::internal)?;
        let name = body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let opts = WriteOptions::default();
        let created = self.registry.create(resource, namespace, body, &opts).await;
        if !matches!(&created, Err(e) if e.code == 409) {
            return ignore_exists(created);
        }
        let existing: Option<Value> = self
            .lookup_in(GROUP, "v1", plural, namespace, &name)
            .await?;
        let Some(existing) = existing.filter(autoupdate) else {
            return Ok(());
        };
        if let Some(patch) = reconcile(&existing) {
            self.registry
                .patch(
                    resource,
                    namespace,
                    &name,
                    None,
                    PatchType::Merge,
                    patch,
                    &opts,
                )
                .await?;
        }
        Ok(())
    }

    /// Brings every aggregated ClusterRole's rules up to date with the roles its selectors
    /// pick.
    pub(crate) async fn aggregate_cluster_roles(&self) -> Result<(), ApiError> {
        let roles: Vec<ClusterRole> = self
            .cached_objects(GROUP, "v1", "clusterroles", None)
            .await?;
        let resource = self
            .resources
            .get(GROUP, "v1", "clusterroles")
            .ok_or_else(|| ApiError::internal("no clusterroles"))?;
        for role in &roles {
            let Some(rules) = aggregate::aggregated_rules(role, &roles) else {
                continue;
            };
            if aggregate::rules_equal(Some(&rules), role.rules.as_deref()) {
                continue;
            }
            let name = role.metadata.name.clone().unwrap_or_default();
            let patch = serde_json::json!({
                "metadata": {"resourceVersion": role.metadata.resource_version},
                "rules": rules,
            });
            let opts = WriteOptions::default();
            let written = self
                .registry
                .patch(resource, None, &name, None, PatchType::Merge, patch, &opts)
                .await;
            match written {
                // Changed meanwhile: its own event brings another pass.
                Err(e) if e.code == 409 || e.code == 404 => {}
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        Ok(())
    }
}

/// A merge patch adding the subjects `wanted` has and the stored binding lacks.
fn subjects_patch(
    existing: &Value,
    wanted: &[k8s_openapi::api::rbac::v1::Subject],
) -> Option<Value> {
    let existing: RoleBinding = from(existing)?;
    let mut subjects = existing.subjects.unwrap_or_default();
    let before = subjects.len();
    for subject in wanted {
        if !subjects.contains(subject) {
            subjects.push(subject.clone());
        }
    }
    (subjects.len() != before).then(|| serde_json::json!({"subjects": subjects}))
}

fn from<T: DeserializeOwned>(value: &Value) -> Option<T> {
    serde_json::from_value(value.clone()).ok()
}

/// Keeps aggregated ClusterRoles current: a pass now and after every ClusterRole change.
pub(crate) async fn follow_aggregation(server: &Arc<ApiServer>) -> Result<(), ApiError> {
    let resource = server
        .resources
        .get(GROUP, "v1", "clusterroles")
        .ok_or_else(|| ApiError::internal("no clusterroles"))?;
    let cache = server.registry.cache(resource).await?;
    let (_, mut events) = cache.snapshot_and_subscribe(&resource.prefix(None), |_| false);
    server.aggregate_cluster_roles().await?;
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
            // Many changes at once make one pass.
            while events.try_recv().is_ok() {}
            let Some(server) = weak.upgrade() else { return };
            if let Err(error) = server.aggregate_cluster_roles().await {
                tracing::warn!(%error, "ClusterRole aggregation");
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn reconciling_adds_missing_rules_and_keeps_extra_ones() {
        let existing = vec![rule(&["get"], &["pods"]), rule(&["list"], &["secrets"])];
        let wanted = vec![rule(&["get"], &["pods"]), rule(&["watch"], &["pods"])];
        let rules = reconciled_rules(&existing, &wanted).expect("something to add");
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[2], rule(&["watch"], &["pods"]));
        assert!(reconciled_rules(&rules, &wanted).is_none());
    }

    #[test]
    fn node_join_bindings_name_roles_of_the_bootstrap_policy() {
        let roles = bootstrap::cluster_roles();
        for binding in node_join_bindings() {
            assert!(
                roles
                    .iter()
                    .any(|r| r.metadata.name.as_deref() == Some(binding.role_ref.name.as_str())),
                "{}",
                binding.role_ref.name
            );
        }
        assert!(autoupdate(&serde_json::json!({"metadata": {}})));
        assert!(!autoupdate(
            &serde_json::json!({"metadata": {"annotations": {AUTOUPDATE: "false"}}})
        ));
    }
}

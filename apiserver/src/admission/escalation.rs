//! RBAC escalation prevention (upstream `pkg/registry/rbac/*/policybased`): a user may write a
//! Role or ClusterRole only with rules it holds itself, and bind a role only if it holds the
//! role's rules, unless it may `escalate` (roles) or `bind` (the role a binding names), or is
//! in `system:masters`.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};

use super::{Attributes, Operation, forbidden};
use crate::auth::authz::Decision;
use crate::auth::rbac::{compact_string, covers};
use crate::auth::{Attributes as AuthzAttributes, MASTERS_GROUP, UserInfo};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::server::ApiServer;

const GROUP: &str = "rbac.authorization.k8s.io";

pub async fn validate(
    server: &ApiServer,
    user: &UserInfo,
    attrs: &Attributes<'_>,
    obj: Option<&dyn KubeObject>,
) -> Result<(), ApiError> {
    if attrs.resource.group != GROUP
        || attrs.operation == Operation::Delete
        || user.in_group(MASTERS_GROUP)
    {
        return Ok(());
    }
    let Some(obj) = obj else { return Ok(()) };
    let any = obj.as_any();
    let namespace = attrs.namespace;
    let (rules, verb_check) = if let Some(role) = any.downcast_ref::<Role>() {
        (role.rules.clone().unwrap_or_default(), escalate(attrs))
    } else if let Some(role) = any.downcast_ref::<ClusterRole>() {
        if allowed(server, user, &escalate(attrs)).await? {
            return Ok(());
        }
        if role.aggregation_rule.is_some() {
            return Err(forbidden(
                attrs,
                "must have cluster-admin privileges to use the aggregationRule",
            ));
        }
        (role.rules.clone().unwrap_or_default(), escalate(attrs))
    } else if let Some(binding) = any.downcast_ref::<RoleBinding>() {
        let rules = role_rules(
            server,
            &binding.role_ref.kind,
            namespace,
            &binding.role_ref.name,
        )
        .await?;
        (
            rules,
            bind(&binding.role_ref.kind, namespace, &binding.role_ref.name),
        )
    } else if let Some(binding) = any.downcast_ref::<ClusterRoleBinding>() {
        let rules = role_rules(server, &binding.role_ref.kind, "", &binding.role_ref.name).await?;
        (
            rules,
            bind(&binding.role_ref.kind, "", &binding.role_ref.name),
        )
    } else {
        return Ok(());
    };
    if allowed(server, user, &verb_check).await? {
        return Ok(());
    }
    let index = server.rbac_index().await?;
    let held: Vec<PolicyRule> = index.rules_for(user, namespace).cloned().collect();
    match covers(&held, &rules) {
        Ok(()) => Ok(()),
        Err(missing) => {
            let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
            let missing: Vec<String> = missing.iter().map(compact_string).collect();
            Err(forbidden(
                attrs,
                format!(
                    "user {:?} (groups=[{}]) is attempting to grant RBAC permissions not \
                     currently held:\n{}",
                    user.name,
                    groups.join(" "),
                    missing.join("\n")
                ),
            ))
        }
    }
}

async fn allowed(
    server: &ApiServer,
    user: &UserInfo,
    attrs: &AuthzAttributes,
) -> Result<bool, ApiError> {
    Ok(server.authorize(user, attrs).await? == Decision::Allow)
}

/// `escalate` on the role being written.
fn escalate(attrs: &Attributes<'_>) -> AuthzAttributes {
    AuthzAttributes {
        verb: "escalate".into(),
        resource_request: true,
        api_group: GROUP.into(),
        api_version: "v1".into(),
        resource: attrs.resource.plural.into(),
        namespace: attrs.namespace.into(),
        name: attrs.name.into(),
        ..AuthzAttributes::default()
    }
}

/// `bind` on the role a binding names.
fn bind(kind: &str, namespace: &str, name: &str) -> AuthzAttributes {
    let resource = if kind == "ClusterRole" {
        "clusterroles"
    } else {
        "roles"
    };
    AuthzAttributes {
        verb: "bind".into(),
        resource_request: true,
        api_group: GROUP.into(),
        api_version: "v1".into(),
        resource: resource.into(),
        namespace: namespace.into(),
        name: name.into(),
        ..AuthzAttributes::default()
    }
}

/// The rules of the role a binding names; none when it does not exist (binding a missing
/// role grants nothing, so it escalates nothing).
async fn role_rules(
    server: &ApiServer,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Vec<PolicyRule>, ApiError> {
    let rules = if kind == "ClusterRole" {
        let role: Option<ClusterRole> = server
            .lookup_in(GROUP, "v1", "clusterroles", None, name)
            .await?;
        role.and_then(|r| r.rules)
    } else {
        let role: Option<Role> = server
            .lookup_in(GROUP, "v1", "roles", Some(namespace), name)
            .await?;
        role.and_then(|r| r.rules)
    };
    Ok(rules.unwrap_or_default())
}

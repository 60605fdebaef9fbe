//! Authorization: the chain upstream runs with `--authorization-mode=Node,RBAC` behind the
//! privileged-group short cut (`system:masters` may do anything), and the RBAC authorizer
//! over an index of the stored roles and bindings.
//!
//! The index is rebuilt from the watch caches when one of the four RBAC resources changed
//! (a background task per cache marks it dirty). Like upstream's informer-fed authorizer it
//! trails writes by the watch cache's lag (milliseconds).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};
use parking_lot::RwLock;

use super::rbac::rules::{applies_to, rule_allows};
use super::{Attributes, MASTERS_GROUP, UserInfo};
use crate::error::ApiError;
use crate::server::ApiServer;

/// What an authorizer says of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No rule allows it; the reason (possibly empty) goes into the 403 message.
    Deny(String),
}

/// One binding as the index keeps it: who it applies to, in which namespace it was made,
/// and the rules of the role it names.
struct IndexedBinding {
    namespace: String,
    subjects: Vec<Subject>,
    rules: Arc<[PolicyRule]>,
}

/// The RBAC state an authorization decision reads.
#[derive(Default)]
pub struct RbacIndex {
    cluster: Vec<IndexedBinding>,
    namespaced: HashMap<String, Vec<IndexedBinding>>,
}

impl RbacIndex {
    /// Builds the index from the four RBAC kinds. A binding to a missing role grants nothing
    /// (upstream logs it and carries on).
    pub fn build(
        cluster_roles: Vec<ClusterRole>,
        cluster_bindings: Vec<ClusterRoleBinding>,
        roles: Vec<Role>,
        bindings: Vec<RoleBinding>,
    ) -> RbacIndex {
        let cluster_rules: HashMap<String, Arc<[PolicyRule]>> = cluster_roles
            .into_iter()
            .map(|r| {
                let rules: Arc<[PolicyRule]> = r.rules.unwrap_or_default().into();
                (r.metadata.name.unwrap_or_default(), rules)
            })
            .collect();
        let role_rules: HashMap<(String, String), Arc<[PolicyRule]>> = roles
            .into_iter()
            .map(|r| {
                let key = (
                    r.metadata.namespace.unwrap_or_default(),
                    r.metadata.name.unwrap_or_default(),
                );
                (key, r.rules.unwrap_or_default().into())
            })
            .collect();
        let cluster = cluster_bindings
            .into_iter()
            .filter(|b| b.role_ref.kind == "ClusterRole")
            .filter_map(|b| {
                let rules = cluster_rules.get(&b.role_ref.name)?;
                Some(IndexedBinding {
                    namespace: String::new(),
                    subjects: b.subjects.unwrap_or_default(),
                    rules: Arc::clone(rules),
                })
            })
            .collect();
        let mut namespaced: HashMap<String, Vec<IndexedBinding>> = HashMap::new();
        for binding in bindings {
            let namespace = binding.metadata.namespace.unwrap_or_default();
            let rules = match binding.role_ref.kind.as_str() {
                "ClusterRole" => cluster_rules.get(&binding.role_ref.name),
                "Role" => role_rules.get(&(namespace.clone(), binding.role_ref.name.clone())),
                _ => None,
            };
            let Some(rules) = rules else { continue };
            namespaced
                .entry(namespace.clone())
                .or_default()
                .push(IndexedBinding {
                    namespace,
                    subjects: binding.subjects.unwrap_or_default(),
                    rules: Arc::clone(rules),
                });
        }
        RbacIndex {
            cluster,
            namespaced,
        }
    }

    /// The rules that apply to `user` in `namespace` (cluster-wide ones too), as upstream's
    /// `VisitRulesFor`.
    pub fn rules_for<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a PolicyRule> + 'a {
        let local = (!namespace.is_empty())
            .then(|| self.namespaced.get(namespace))
            .flatten()
            .into_iter()
            .flatten();
        self.cluster
            .iter()
            .chain(local)
            .filter(move |b| b.subjects.iter().any(|s| applies_to(s, &b.namespace, user)))
            .flat_map(|b| b.rules.iter())
    }

    pub fn allows(&self, user: &UserInfo, attrs: &Attributes) -> bool {
        self.rules_for(user, &attrs.namespace)
            .any(|rule| rule_allows(rule, attrs))
    }
}

/// The live RBAC index and whether it must be rebuilt.
#[derive(Default)]
pub struct RbacAuthorizer {
    index: RwLock<Arc<RbacIndex>>,
    dirty: AtomicBool,
    /// Held while the index is rebuilt: a request that finds it dirty waits for the new one
    /// rather than judging by the old (at start, an empty one).
    rebuild: tokio::sync::Mutex<()>,
}

impl RbacAuthorizer {
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const RBAC_PLURALS: [&str; 4] = [
    "clusterroles",
    "clusterrolebindings",
    "roles",
    "rolebindings",
];

impl ApiServer {
    /// Whether `user` may do what `attrs` describe.
    pub async fn authorize(
        &self,
        user: &UserInfo,
        attrs: &Attributes,
    ) -> Result<Decision, ApiError> {
        if user.in_group(MASTERS_GROUP) {
            return Ok(Decision::Allow);
        }
        if let Some(decision) = self.authorize_node(user, attrs).await? {
            return Ok(decision);
        }
        let index = self.rbac_index().await?;
        if index.allows(user, attrs) {
            return Ok(Decision::Allow);
        }
        Ok(Decision::Deny(String::new()))
    }

    /// The RBAC index, rebuilt first when a role or binding changed.
    pub async fn rbac_index(&self) -> Result<Arc<RbacIndex>, ApiError> {
        if !self.rbac.dirty.load(Ordering::Acquire) {
            return Ok(Arc::clone(&self.rbac.index.read()));
        }
        let _rebuilding = self.rbac.rebuild.lock().await;
        if self.rbac.dirty.swap(false, Ordering::AcqRel) {
            let index = Arc::new(RbacIndex::build(
                self.cached_objects(RBAC_GROUP, "v1", "clusterroles", None)
                    .await?,
                self.cached_objects(RBAC_GROUP, "v1", "clusterrolebindings", None)
                    .await?,
                self.cached_objects(RBAC_GROUP, "v1", "roles", None).await?,
                self.cached_objects(RBAC_GROUP, "v1", "rolebindings", None)
                    .await?,
            ));
            *self.rbac.index.write() = index;
        }
        Ok(Arc::clone(&self.rbac.index.read()))
    }

    /// Starts the RBAC caches and the tasks that mark the index dirty on every change.
    pub(crate) async fn watch_rbac(self: &Arc<Self>) -> Result<(), ApiError> {
        for plural in RBAC_PLURALS {
            let resource = self.rbac_resource(plural)?;
            let cache = self.registry.cache(resource).await?;
            // The first index must hold every role and binding written so far (the bootstrap
            // policy just written included): a cache still catching up would deny the
            // server's own components for its first moments.
            cache.wait_synced(None).await?;
            let (_, mut events) = cache.snapshot_and_subscribe(b"", |_| false);
            let server = Arc::downgrade(self);
            tokio::spawn(async move {
                loop {
                    let received = events.recv().await;
                    let Some(server) = server.upgrade() else {
                        return;
                    };
                    match received {
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            server.rbac.mark_dirty();
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
        }
        self.rbac.mark_dirty();
        // Built now, from the synced caches: the server answers its first request with it.
        self.rbac_index().await?;
        Ok(())
    }

    fn rbac_resource(&self, plural: &str) -> Result<&Arc<crate::resources::Resource>, ApiError> {
        self.resources
            .get(RBAC_GROUP, "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("no resource {plural}")))
    }
}

/// Upstream's 403 message (`k8s.io/apiserver/pkg/endpoints/handlers/responsewriters`,
/// `forbiddenMessage`), with the authorizer's reason appended when it gave one.
pub fn forbidden_message(user: &UserInfo, attrs: &Attributes, reason: &str) -> String {
    let who = format!("User {:?}", user.name);
    let mut message = if !attrs.resource_request {
        format!("{who} cannot {} path {:?}", attrs.verb, attrs.path)
    } else {
        let resource = match attrs.subresource.as_str() {
            "" => attrs.resource.clone(),
            sub => format!("{}/{sub}", attrs.resource),
        };
        let mut message = format!(
            "{who} cannot {} resource {resource:?} in API group {:?}",
            attrs.verb, attrs.api_group
        );
        if !attrs.namespace.is_empty() {
            message.push_str(&format!(" in the namespace {:?}", attrs.namespace));
        } else {
            message.push_str(" at the cluster scope");
        }
        message
    };
    if !reason.is_empty() {
        message.push_str(": ");
        message.push_str(reason);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::RoleRef;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn rule(verbs: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        }
    }

    fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: namespace.map(Into::into),
            ..ObjectMeta::default()
        }
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        }
    }

    fn attrs(verb: &str, resource: &str, namespace: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource_request: true,
            resource: resource.into(),
            namespace: namespace.into(),
            api_version: "v1".into(),
            ..Attributes::default()
        }
    }

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.map(Into::into),
            api_group: (kind != "ServiceAccount").then(|| "rbac.authorization.k8s.io".into()),
        }
    }

    #[test]
    fn bindings_grant_their_role_to_their_subjects_in_their_scope() {
        let index = RbacIndex::build(
            vec![ClusterRole {
                metadata: meta(None, "reader"),
                rules: Some(vec![rule(&["get", "list"], &["pods"])]),
                ..ClusterRole::default()
            }],
            vec![ClusterRoleBinding {
                metadata: meta(None, "ops-read"),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: "reader".into(),
                },
                subjects: Some(vec![subject("Group", "ops", None)]),
            }],
            vec![Role {
                metadata: meta(Some("shop"), "writer"),
                rules: Some(vec![rule(&["create"], &["configmaps"])]),
            }],
            vec![
                RoleBinding {
                    metadata: meta(Some("shop"), "alice-writes"),
                    role_ref: RoleRef {
                        api_group: "rbac.authorization.k8s.io".into(),
                        kind: "Role".into(),
                        name: "writer".into(),
                    },
                    subjects: Some(vec![subject("User", "alice", None)]),
                },
                RoleBinding {
                    metadata: meta(Some("shop"), "sa-reads"),
                    role_ref: RoleRef {
                        api_group: "rbac.authorization.k8s.io".into(),
                        kind: "ClusterRole".into(),
                        name: "reader".into(),
                    },
                    subjects: Some(vec![subject("ServiceAccount", "bot", Some("shop"))]),
                },
                RoleBinding {
                    metadata: meta(Some("shop"), "dangling"),
                    role_ref: RoleRef {
                        api_group: "rbac.authorization.k8s.io".into(),
                        kind: "Role".into(),
                        name: "missing".into(),
                    },
                    subjects: Some(vec![subject("User", "mallory", None)]),
                },
            ],
        );
        let ops = user("bob", &["ops"]);
        assert!(index.allows(&ops, &attrs("list", "pods", "")));
        assert!(index.allows(&ops, &attrs("get", "pods", "any")));
        assert!(!index.allows(&ops, &attrs("delete", "pods", "any")));
        let alice = user("alice", &[]);
        assert!(index.allows(&alice, &attrs("create", "configmaps", "shop")));
        assert!(!index.allows(&alice, &attrs("create", "configmaps", "other")));
        assert!(!index.allows(&alice, &attrs("create", "configmaps", "")));
        let bot = user(
            "system:serviceaccount:shop:bot",
            &["system:serviceaccounts"],
        );
        assert!(index.allows(&bot, &attrs("get", "pods", "shop")));
        assert!(!index.allows(&bot, &attrs("get", "pods", "other")));
        assert!(!index.allows(&user("mallory", &[]), &attrs("get", "pods", "shop")));
    }

    #[test]
    fn forbidden_messages_read_as_upstream() {
        let alice = user("alice", &[]);
        assert_eq!(
            forbidden_message(&alice, &attrs("list", "pods", "shop"), ""),
            r#"User "alice" cannot list resource "pods" in API group "" in the namespace "shop""#
        );
        let mut nodes = attrs("get", "nodes", "");
        nodes.subresource = "status".into();
        assert_eq!(
            forbidden_message(&alice, &nodes, ""),
            r#"User "alice" cannot get resource "nodes/status" in API group "" at the cluster scope"#
        );
        let path = Attributes {
            verb: "get".into(),
            path: "/metrics".into(),
            ..Attributes::default()
        };
        assert_eq!(
            forbidden_message(&alice, &path, "no"),
            r#"User "alice" cannot get path "/metrics": no"#
        );
    }
}

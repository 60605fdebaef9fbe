//! The Node authorizer (upstream `plugin/pkg/auth/authorizer/node/node_authorizer.go`): a
//! kubelet (user `system:node:<name>` in group `system:nodes`) may read only the secrets,
//! configmaps, PVCs, PVs, ResourceClaims and ServiceAccount tokens its pods need, its own
//! Lease and CSINode, and otherwise what upstream's static node rules (the `system:node`
//! ClusterRole) allow. Which Node and pod status writes it may make is NodeRestriction's
//! concern (admission), as upstream.

use std::sync::{Arc, OnceLock};

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::api::storage::v1::VolumeAttachment;

use super::authz::Decision;
use super::node_graph::RefKind;
use super::rbac::rules::rule_allows;
use super::{Attributes, UserInfo};
use crate::error::ApiError;
use crate::server::ApiServer;

pub const NODES_GROUP: &str = "system:nodes";
pub const NODE_USER_PREFIX: &str = "system:node:";

/// The node a user is, if it is one (upstream `nodeidentifier.NodeIdentity`): its name
/// (possibly empty, which upstream refuses) when the user is in `system:nodes`.
pub fn node_identity(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    user.in_group(NODES_GROUP).then_some(name)
}

/// The rules of the bootstrap `system:node` role, which upstream's node authorizer applies
/// directly (the role's binding has had no subjects since v1.8).
pub(crate) fn node_rules() -> &'static [PolicyRule] {
    static RULES: OnceLock<Vec<PolicyRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        super::rbac::bootstrap::cluster_roles()
            .into_iter()
            .find(|r| r.metadata.name.as_deref() == Some("system:node"))
            .and_then(|r| r.rules)
            .unwrap_or_default()
    })
}

fn deny(reason: impl Into<String>) -> Option<Decision> {
    Some(Decision::Deny(reason.into()))
}

impl ApiServer {
    /// The Node authorizer's decision; `None` (no opinion) for users that are not nodes.
    pub(crate) async fn authorize_node(
        &self,
        user: &UserInfo,
        attrs: &Attributes,
    ) -> Result<Option<Decision>, ApiError> {
        let Some(node) = node_identity(user) else {
            return Ok(None);
        };
        if node.is_empty() {
            return Ok(deny("unknown node"));
        }
        if attrs.resource_request {
            let decision = match (attrs.api_group.as_str(), attrs.resource.as_str()) {
                ("", "secrets") => self.node_read(node, RefKind::Secret, attrs),
                ("", "configmaps") => self.node_read(node, RefKind::ConfigMap, attrs),
                ("", "persistentvolumeclaims") if attrs.subresource == "status" => {
                    self.node_pvc_status(node, attrs)
                }
                ("", "persistentvolumeclaims") => {
                    self.node_get(node, RefKind::PersistentVolumeClaim, attrs)
                }
                ("", "persistentvolumes") => self.node_pv(node, attrs).await?,
                ("resource.k8s.io", "resourceclaims") => {
                    self.node_get(node, RefKind::ResourceClaim, attrs)
                }
                ("storage.k8s.io", "volumeattachments") => {
                    self.node_attachment(node, attrs).await?
                }
                ("", "serviceaccounts") => self.node_token(node, attrs),
                ("coordination.k8s.io", "leases") => node_lease(node, attrs),
                ("storage.k8s.io", "csinodes") => node_own(node, attrs, "CSINode"),
                ("", "pods") => self.node_pods(node, attrs),
                ("", "nodes") => node_nodes(node, attrs),
                _ => None,
            };
            if decision.is_some() {
                return Ok(decision);
            }
        }
        if node_rules().iter().any(|rule| rule_allows(rule, attrs)) {
            return Ok(Some(Decision::Allow));
        }
        // No opinion: RBAC may still allow it (a binding for this node's user or group).
        Ok(None)
    }

    fn graph_has(&self, node: &str, kind: RefKind, attrs: &Attributes) -> bool {
        self.node_graph
            .read()
            .has_path(node, kind, &attrs.namespace, &attrs.name)
    }

    /// get of one object, or list/watch narrowed to one name by a field selector.
    fn node_read(&self, node: &str, kind: RefKind, attrs: &Attributes) -> Option<Decision> {
        if !matches!(attrs.verb.as_str(), "get" | "list" | "watch") {
            return deny("can only read resources of this type");
        }
        if !attrs.subresource.is_empty() {
            return deny(format!("cannot read subresource {}", attrs.subresource));
        }
        if attrs.name.is_empty() {
            return deny("can only read individual resources of this type");
        }
        Some(self.related(node, kind, attrs))
    }

    fn node_get(&self, node: &str, kind: RefKind, attrs: &Attributes) -> Option<Decision> {
        if attrs.verb != "get" || attrs.name.is_empty() {
            return deny("can only get individual resources of this type");
        }
        if !attrs.subresource.is_empty() {
            return deny(format!("cannot get subresource {}", attrs.subresource));
        }
        Some(self.related(node, kind, attrs))
    }

    fn related(&self, node: &str, kind: RefKind, attrs: &Attributes) -> Decision {
        if self.graph_has(node, kind, attrs) {
            Decision::Allow
        } else {
            Decision::Deny(format!(
                "no relationship found between node '{node}' and this object"
            ))
        }
    }

    fn node_pvc_status(&self, node: &str, attrs: &Attributes) -> Option<Decision> {
        if !matches!(attrs.verb.as_str(), "update" | "patch") {
            return deny("can only get, update or patch persistentvolumeclaim status");
        }
        Some(self.related(node, RefKind::PersistentVolumeClaim, attrs))
    }

    /// A PV is reachable through a claim of one of the node's pods that is bound to it.
    async fn node_pv(&self, node: &str, attrs: &Attributes) -> Result<Option<Decision>, ApiError> {
        if attrs.verb != "get" || attrs.name.is_empty() || !attrs.subresource.is_empty() {
            return Ok(deny("can only get individual resources of this type"));
        }
        let claims = self
            .node_graph
            .read()
            .claims_of(node, RefKind::PersistentVolumeClaim);
        for (namespace, name) in claims {
            let claim: Option<PersistentVolumeClaim> = self
                .lookup("persistentvolumeclaims", Some(&namespace), &name)
                .await?;
            let volume = claim.and_then(|c| c.spec).and_then(|s| s.volume_name);
            if volume.as_deref() == Some(attrs.name.as_str()) {
                return Ok(Some(Decision::Allow));
            }
        }
        Ok(Some(Decision::Deny(format!(
            "no relationship found between node '{node}' and this object"
        ))))
    }

    async fn node_attachment(
        &self,
        node: &str,
        attrs: &Attributes,
    ) -> Result<Option<Decision>, ApiError> {
        if attrs.verb != "get" || attrs.name.is_empty() || !attrs.subresource.is_empty() {
            return Ok(deny("can only get individual resources of this type"));
        }
        let attachment: Option<VolumeAttachment> = self
            .lookup_in(
                "storage.k8s.io",
                "v1",
                "volumeattachments",
                None,
                &attrs.name,
            )
            .await?;
        Ok(Some(match attachment {
            Some(a) if a.spec.node_name == node => Decision::Allow,
            _ => Decision::Deny(format!(
                "no relationship found between node '{node}' and this object"
            )),
        }))
    }

    fn node_token(&self, node: &str, attrs: &Attributes) -> Option<Decision> {
        if attrs.verb != "create" || attrs.name.is_empty() {
            return deny("can only create tokens for individual service accounts");
        }
        if attrs.subresource != "token" {
            return deny("can only create token subresource of serviceaccount");
        }
        Some(self.related(node, RefKind::ServiceAccount, attrs))
    }

    /// Pods (upstream `authorizePod`): get of a pod bound to the node, list/watch of the
    /// node's pods (field selector `spec.nodeName=<node>`) or of one related pod; other
    /// verbs fall to the node rules (and NodeRestriction).
    fn node_pods(&self, node: &str, attrs: &Attributes) -> Option<Decision> {
        let related = || {
            let bound = self
                .node_graph
                .read()
                .pod_on(node, &attrs.namespace, &attrs.name);
            Some(if bound {
                Decision::Allow
            } else {
                Decision::Deny(format!(
                    "no relationship found between node '{node}' and this object"
                ))
            })
        };
        match attrs.verb.as_str() {
            "get" if attrs.subresource.is_empty() => related(),
            "list" | "watch" if attrs.subresource.is_empty() => {
                if selects(&attrs.field_selector, "spec.nodeName", node) {
                    Some(Decision::Allow)
                } else if !attrs.name.is_empty() {
                    related()
                } else {
                    deny("can only list/watch pods with spec.nodeName field selector")
                }
            }
            _ => None,
        }
    }
}

/// Whether a field selector requires `field` to equal `value`.
fn selects(selector: &str, field: &str, value: &str) -> bool {
    selector.split(',').any(|term| {
        let term = term.trim();
        term.split_once("==")
            .or_else(|| term.split_once('='))
            .is_some_and(|(f, v)| f.trim() == field && v.trim() == value)
    })
}

/// A node's own Lease in `kube-node-lease`.
fn node_lease(node: &str, attrs: &Attributes) -> Option<Decision> {
    if !matches!(
        attrs.verb.as_str(),
        "get" | "create" | "update" | "patch" | "delete"
    ) {
        return deny("can only get, create, update, patch, or delete a node lease");
    }
    if attrs.namespace != "kube-node-lease" {
        return deny("can only access leases in the kube-node-lease namespace");
    }
    if attrs.name != node && !(attrs.verb == "create" && attrs.name.is_empty()) {
        return deny("can only access node lease with the same name as the requesting node");
    }
    Some(Decision::Allow)
}

/// An object named after the node (CSINode).
fn node_own(node: &str, attrs: &Attributes, kind: &str) -> Option<Decision> {
    if !matches!(
        attrs.verb.as_str(),
        "get" | "create" | "update" | "patch" | "delete"
    ) {
        return deny(format!(
            "can only get, create, update, patch, or delete a {kind}"
        ));
    }
    if attrs.name != node && !(attrs.verb == "create" && attrs.name.is_empty()) {
        return deny(format!(
            "can only access {kind} with the same name as the requesting node"
        ));
    }
    Some(Decision::Allow)
}

/// Nodes (upstream `authorizeNode`): a node reads only its own Node object; writes go to the
/// node rules and NodeRestriction.
fn node_nodes(node: &str, attrs: &Attributes) -> Option<Decision> {
    match attrs.verb.as_str() {
        "get" | "list" | "watch" if attrs.name == node => Some(Decision::Allow),
        "get" | "list" | "watch" => deny(format!(
            "node '{node}' cannot read '{}', only its own Node object",
            attrs.name
        )),
        _ => None,
    }
}

/// Whether a cached pod is bound to a node (its selectable `spec.nodeName` is set).
fn bound(pod: &crate::cache::CachedObject) -> bool {
    pod.fields
        .get("spec.nodeName")
        .is_some_and(|n| !n.is_empty())
}

/// Keeps the node graph current from the pods watch cache.
pub(crate) async fn follow_pods(server: &Arc<ApiServer>) -> Result<(), ApiError> {
    let resource = server
        .resources
        .get("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("no pods resource"))?;
    let cache = server.registry.cache(resource).await?;
    let prefix = resource.prefix(None);
    let load = |graph: &mut super::node_graph::NodeGraph,
                objects: &[Arc<crate::cache::CachedObject>]| {
        graph.clear();
        for object in objects.iter().filter(|o| bound(o)) {
            let pod = serde_json::from_slice(&object.bytes).ok();
            graph.set_pod(&object.namespace, &object.name, pod.as_ref());
        }
    };
    let (snapshot, mut events) = cache.snapshot_and_subscribe(&prefix, |_| true);
    load(&mut server.node_graph.write(), &snapshot.objects);
    let server = Arc::downgrade(server);
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let received = events.recv().await;
            let Some(server) = server.upgrade() else {
                return;
            };
            match received {
                Ok(event) => {
                    // Pods that are not (and were not) bound to a node give no node anything:
                    // skip them without decoding (most pods of a burst of creates).
                    if !event.object.as_deref().is_some_and(bound)
                        && !event.prev.as_deref().is_some_and(bound)
                    {
                        continue;
                    }
                    let (namespace, name) = match (&event.object, &event.prev) {
                        (Some(o), _) | (None, Some(o)) => (o.namespace.clone(), o.name.clone()),
                        (None, None) => continue,
                    };
                    let pod = event
                        .object
                        .as_ref()
                        .and_then(|o| serde_json::from_slice(&o.bytes).ok());
                    server
                        .node_graph
                        .write()
                        .set_pod(&namespace, &name, pod.as_ref());
                }
                Err(RecvError::Lagged(_)) => {
                    // Missed events: start again from the cache's current state.
                    let (snapshot, fresh) = cache.snapshot_and_subscribe(&prefix, |_| true);
                    events = fresh;
                    load(&mut server.node_graph.write(), &snapshot.objects);
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(())
}

//! The default roles and bindings the API server creates at start-up, as upstream's
//! `plugin/pkg/auth/authorizer/rbac/bootstrappolicy` produces them for v1.35 with default
//! feature gates.
//!
//! The policy is data (`bootstrap/*.yaml`, embedded), so that reviewing it against upstream's
//! `testdata/*.yaml` is reading, not running. This file decodes that layout into the API types
//! and adds what every object carries: the label `kubernetes.io/bootstrapping: rbac-defaults`
//! and the annotation `rbac.authorization.kubernetes.io/autoupdate: "true"`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::rules::{GROUP_KIND, SERVICE_ACCOUNT_KIND, USER_KIND};

pub const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
pub const BOOTSTRAPPING_VALUE: &str = "rbac-defaults";
/// While "true", the API server reconciles the object back to the default at every start.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// Controller roles are `system:controller:<name>`, bound to service account `<name>`.
pub const CONTROLLER_ROLE_PREFIX: &str = "system:controller:";
pub const CONTROLLER_NAMESPACE: &str = "kube-system";

const CLUSTER_ROLES: &str = include_str!("bootstrap/cluster-roles.yaml");
const CONTROLLER_ROLES: &str = include_str!("bootstrap/controller-roles.yaml");
const NAMESPACE_ROLES: &str = include_str!("bootstrap/namespace-roles.yaml");

/// The ClusterRoles of `policy.go`, then those of `controller_policy.go`.
pub fn cluster_roles() -> Vec<ClusterRole> {
    POLICY.cluster_roles.clone()
}

/// The ClusterRoleBindings of `policy.go`, then one per controller role.
pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    POLICY.cluster_role_bindings.clone()
}

/// The Roles of `namespace_policy.go`, each with its namespace (kube-system, kube-public).
pub fn namespace_roles() -> Vec<Role> {
    POLICY.namespace_roles.clone()
}

/// The RoleBindings of `namespace_policy.go`, each with its namespace.
pub fn namespace_role_bindings() -> Vec<RoleBinding> {
    POLICY.namespace_role_bindings.clone()
}

struct Policy {
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    namespace_roles: Vec<Role>,
    namespace_role_bindings: Vec<RoleBinding>,
}

/// Decoded once: the data is part of the binary, and the tests decode every file, so a
/// failure here is a build defect, not a runtime condition.
static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    let cluster: ClusterFile = decode(CLUSTER_ROLES, "cluster-roles.yaml");
    let controllers: ClusterFile = decode(CONTROLLER_ROLES, "controller-roles.yaml");
    let namespaced: NamespaceFile = decode(NAMESPACE_ROLES, "namespace-roles.yaml");

    let mut cluster_roles: Vec<ClusterRole> = cluster.roles.into_iter().map(cluster_role).collect();
    let mut cluster_role_bindings: Vec<ClusterRoleBinding> = cluster
        .bindings
        .into_iter()
        .map(cluster_role_binding)
        .collect();
    for mut role in controllers.roles {
        let sa = role.name.clone();
        role.name = format!("{CONTROLLER_ROLE_PREFIX}{sa}");
        cluster_role_bindings.push(cluster_role_binding(BindingData {
            name: role.name.clone(),
            namespace: None,
            role: None,
            subjects: vec![format!("sa:{CONTROLLER_NAMESPACE}/{sa}")],
        }));
        cluster_roles.push(cluster_role(role));
    }
    Policy {
        cluster_roles,
        cluster_role_bindings,
        namespace_roles: namespaced.roles.into_iter().map(role).collect(),
        namespace_role_bindings: namespaced.bindings.into_iter().map(role_binding).collect(),
    }
});

fn decode<T: DeserializeOwned>(text: &str, file: &str) -> T {
    match serde_saphyr::from_str(text) {
        Ok(value) => value,
        Err(err) => panic!("embedded bootstrap policy {file} does not decode: {err}"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    roles: Vec<RoleData>,
    #[serde(default)]
    bindings: Vec<BindingData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamespaceFile {
    roles: Vec<RoleData>,
    bindings: Vec<BindingData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleData {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    /// Label keys the role carries with the value "true".
    #[serde(default)]
    labels: Vec<String>,
    /// Label keys of the aggregation rule's selectors, each matching the value "true".
    #[serde(default)]
    aggregate: Vec<String>,
    #[serde(default)]
    rules: Vec<RuleData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleData {
    v: Vec<String>,
    #[serde(default)]
    g: Vec<String>,
    #[serde(default)]
    r: Vec<String>,
    #[serde(default)]
    n: Vec<String>,
    #[serde(default)]
    u: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingData {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    /// The role bound, when it is not the one named like the binding.
    #[serde(default)]
    role: Option<String>,
    /// `user:NAME`, `group:NAME` or `sa:NAMESPACE/NAME`.
    #[serde(default)]
    subjects: Vec<String>,
}

/// Upstream serializes absent lists as absent (`omitempty`), so empty lists stay `None`.
fn non_empty(list: Vec<String>) -> Option<Vec<String>> {
    if list.is_empty() { None } else { Some(list) }
}

impl From<RuleData> for PolicyRule {
    fn from(rule: RuleData) -> Self {
        PolicyRule {
            verbs: rule.v,
            api_groups: non_empty(rule.g),
            resources: non_empty(rule.r),
            resource_names: non_empty(rule.n),
            non_resource_urls: non_empty(rule.u),
        }
    }
}

fn metadata(name: String, namespace: Option<String>, labels: Vec<String>) -> ObjectMeta {
    let mut all_labels = BTreeMap::from([(BOOTSTRAPPING_LABEL.into(), BOOTSTRAPPING_VALUE.into())]);
    all_labels.extend(labels.into_iter().map(|key| (key, "true".into())));
    ObjectMeta {
        name: Some(name),
        namespace,
        labels: Some(all_labels),
        annotations: Some(BTreeMap::from([(
            AUTOUPDATE_ANNOTATION.into(),
            "true".into(),
        )])),
        ..Default::default()
    }
}

fn policy_rules(rules: Vec<RuleData>) -> Option<Vec<PolicyRule>> {
    let rules: Vec<PolicyRule> = rules.into_iter().map(PolicyRule::from).collect();
    if rules.is_empty() { None } else { Some(rules) }
}

fn cluster_role(data: RoleData) -> ClusterRole {
    let aggregation_rule = (!data.aggregate.is_empty()).then(|| AggregationRule {
        cluster_role_selectors: Some(
            data.aggregate
                .into_iter()
                .map(|key| LabelSelector {
                    match_labels: Some(BTreeMap::from([(key, "true".into())])),
                    match_expressions: None,
                })
                .collect(),
        ),
    });
    ClusterRole {
        metadata: metadata(data.name, None, data.labels),
        aggregation_rule,
        rules: policy_rules(data.rules),
    }
}

fn role(data: RoleData) -> Role {
    Role {
        metadata: metadata(data.name, data.namespace, data.labels),
        rules: policy_rules(data.rules),
    }
}

fn cluster_role_binding(data: BindingData) -> ClusterRoleBinding {
    ClusterRoleBinding {
        role_ref: role_ref(
            "ClusterRole",
            data.role.unwrap_or_else(|| data.name.clone()),
        ),
        subjects: subjects(&data.subjects),
        metadata: metadata(data.name, None, Vec::new()),
    }
}

fn role_binding(data: BindingData) -> RoleBinding {
    RoleBinding {
        role_ref: role_ref("Role", data.role.unwrap_or_else(|| data.name.clone())),
        subjects: subjects(&data.subjects),
        metadata: metadata(data.name, data.namespace, Vec::new()),
    }
}

fn role_ref(kind: &str, name: String) -> RoleRef {
    RoleRef {
        api_group: RBAC_GROUP.into(),
        kind: kind.into(),
        name,
    }
}

/// Users and groups name the RBAC API group; service accounts name none, as upstream's
/// binding builders write them.
fn subjects(specs: &[String]) -> Option<Vec<Subject>> {
    let subjects: Vec<Subject> = specs.iter().map(|spec| subject(spec)).collect();
    if subjects.is_empty() {
        None
    } else {
        Some(subjects)
    }
}

fn subject(spec: &str) -> Subject {
    let (kind, rest) = spec.split_once(':').unwrap_or(("", spec));
    let named = |kind: &str, name: &str| Subject {
        api_group: Some(RBAC_GROUP.into()),
        kind: kind.into(),
        name: name.into(),
        namespace: None,
    };
    match kind {
        "user" => named(USER_KIND, rest),
        "group" => named(GROUP_KIND, rest),
        "sa" => match rest.split_once('/') {
            Some((namespace, name)) => Subject {
                api_group: None,
                kind: SERVICE_ACCOUNT_KIND.into(),
                name: name.into(),
                namespace: Some(namespace.into()),
            },
            None => panic!("embedded bootstrap subject {spec:?} lacks a namespace"),
        },
        _ => panic!("embedded bootstrap subject {spec:?} has no known kind"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rbac::aggregate::{aggregated_rules, rules_equal};
    use crate::auth::rbac::covers::covers;
    use crate::auth::rbac::rules::{applies_to, rule_allows};
    use crate::auth::{Attributes, UserInfo};
    use serde_json::json;

    /// The ClusterRoles with aggregation run to a fixed point, as the aggregation controller
    /// leaves them (view feeds edit, edit feeds admin).
    fn aggregated_cluster_roles() -> Vec<ClusterRole> {
        let mut roles = cluster_roles();
        loop {
            let mut changed = false;
            for i in 0..roles.len() {
                if let Some(rules) = aggregated_rules(&roles[i], &roles)
                    && !rules_equal(Some(&rules), roles[i].rules.as_deref())
                {
                    roles[i].rules = Some(rules);
                    changed = true;
                }
            }
            if !changed {
                return roles;
            }
        }
    }

    fn cluster_role_named<'a>(roles: &'a [ClusterRole], name: &str) -> &'a ClusterRole {
        roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no ClusterRole {name}"))
    }

    fn rules_of(roles: &[ClusterRole], name: &str) -> Vec<PolicyRule> {
        cluster_role_named(roles, name)
            .rules
            .clone()
            .unwrap_or_default()
    }

    fn res(verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> Attributes {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        Attributes {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn url(verb: &str, path: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }

    /// What the RBAC authorizer would decide with only the bootstrap policy stored.
    fn allowed(user: &UserInfo, attrs: &Attributes) -> bool {
        let roles = aggregated_cluster_roles();
        let via_cluster = cluster_role_bindings().iter().any(|binding| {
            binding
                .subjects
                .iter()
                .flatten()
                .any(|s| applies_to(s, "", user))
                && rules_of(&roles, &binding.role_ref.name)
                    .iter()
                    .any(|r| rule_allows(r, attrs))
        });
        let namespaced_roles = namespace_roles();
        let via_namespace = namespace_role_bindings().iter().any(|binding| {
            let namespace = binding.metadata.namespace.as_deref().unwrap_or_default();
            namespace == attrs.namespace
                && binding
                    .subjects
                    .iter()
                    .flatten()
                    .any(|s| applies_to(s, namespace, user))
                && namespaced_roles
                    .iter()
                    .filter(|r| r.metadata.namespace.as_deref() == Some(namespace))
                    .filter(|r| r.metadata.name.as_deref() == Some(&binding.role_ref.name))
                    .flat_map(|r| r.rules.iter().flatten())
                    .any(|r| rule_allows(r, attrs))
        });
        via_cluster || via_namespace
    }

    #[test]
    fn counts_match_upstream() {
        let roles = cluster_roles();
        let controllers = roles.iter().filter(|r| {
            r.metadata
                .name
                .as_deref()
                .unwrap_or_default()
                .starts_with(CONTROLLER_ROLE_PREFIX)
        });
        assert_eq!(roles.len(), 68);
        assert_eq!(controllers.count(), 37);
        assert_eq!(cluster_role_bindings().len(), 49);
        assert_eq!(namespace_roles().len(), 7);
        assert_eq!(namespace_role_bindings().len(), 7);
    }

    #[test]
    fn every_object_is_marked_and_uniquely_named() {
        let kinds: [(&str, Vec<ObjectMeta>); 4] = [
            (
                "ClusterRole",
                cluster_roles().into_iter().map(|o| o.metadata).collect(),
            ),
            (
                "ClusterRoleBinding",
                cluster_role_bindings()
                    .into_iter()
                    .map(|o| o.metadata)
                    .collect(),
            ),
            (
                "Role",
                namespace_roles().into_iter().map(|o| o.metadata).collect(),
            ),
            (
                "RoleBinding",
                namespace_role_bindings()
                    .into_iter()
                    .map(|o| o.metadata)
                    .collect(),
            ),
        ];
        for (kind, metas) in kinds {
            let mut seen = std::collections::BTreeSet::new();
            for meta in metas {
                let labels = meta.labels.clone().unwrap_or_default();
                let annotations = meta.annotations.clone().unwrap_or_default();
                assert_eq!(
                    labels.get(BOOTSTRAPPING_LABEL).map(String::as_str),
                    Some(BOOTSTRAPPING_VALUE)
                );
                assert_eq!(
                    annotations.get(AUTOUPDATE_ANNOTATION).map(String::as_str),
                    Some("true")
                );
                let namespaced = kind.starts_with("Role");
                assert_eq!(meta.namespace.is_some(), namespaced, "{kind} {meta:?}");
                assert!(
                    seen.insert((meta.namespace.clone(), meta.name.clone())),
                    "{kind} {meta:?}"
                );
            }
        }
    }

    /// Upstream's rule builder keeps every list as a sorted set; a list out of order here is a
    /// transcription slip.
    #[test]
    fn every_rule_list_is_a_sorted_set() {
        let rules = cluster_roles()
            .into_iter()
            .flat_map(|r| r.rules.unwrap_or_default())
            .chain(
                namespace_roles()
                    .into_iter()
                    .flat_map(|r| r.rules.unwrap_or_default()),
            );
        for rule in rules {
            let lists = [
                Some(rule.verbs.clone()),
                rule.api_groups.clone(),
                rule.resources.clone(),
                rule.resource_names.clone(),
                rule.non_resource_urls.clone(),
            ];
            for list in lists.into_iter().flatten() {
                assert!(!list.is_empty(), "{rule:?}");
                assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?} in {rule:?}");
            }
        }
    }

    #[test]
    fn every_binding_points_to_a_role_that_exists() {
        let roles = cluster_roles();
        for binding in cluster_role_bindings() {
            assert_eq!(binding.role_ref.kind, "ClusterRole");
            assert_eq!(binding.role_ref.api_group, RBAC_GROUP);
            cluster_role_named(&roles, &binding.role_ref.name);
        }
        let namespaced = namespace_roles();
        for binding in namespace_role_bindings() {
            assert_eq!(binding.role_ref.kind, "Role");
            assert!(
                namespaced.iter().any(|r| r.metadata.name.as_deref()
                    == Some(&binding.role_ref.name)
                    && r.metadata.namespace == binding.metadata.namespace),
                "{binding:?}"
            );
        }
        // Controller bindings bind the service account the controller runs as.
        let binding = cluster_role_bindings()
            .into_iter()
            .find(|b| b.metadata.name.as_deref() == Some("system:controller:job-controller"));
        let subjects = binding.and_then(|b| b.subjects).unwrap_or_default();
        assert_eq!(
            subjects,
            [Subject {
                api_group: None,
                kind: "ServiceAccount".into(),
                name: "job-controller".into(),
                namespace: Some("kube-system".into())
            }]
        );
    }

    #[test]
    fn objects_serialize_as_upstream_writes_them() {
        let roles = cluster_roles();
        let viewer = cluster_role_named(&roles, "system:public-info-viewer");
        assert_eq!(
            serde_json::to_value(viewer).ok(),
            Some(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {
                    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
                    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                    "name": "system:public-info-viewer"
                },
                "rules": [{
                    "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
                    "verbs": ["get"]
                }]
            }))
        );
        let view = cluster_role_named(&roles, "view");
        assert_eq!(
            serde_json::to_value(view).ok().map(|v| (
                v["aggregationRule"].clone(),
                v["metadata"]["labels"].clone()
            )),
            Some((
                json!({"clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}),
                json!({"kubernetes.io/bootstrapping": "rbac-defaults", "rbac.authorization.k8s.io/aggregate-to-edit": "true"})
            ))
        );
        let bindings = namespace_role_bindings();
        let reader = bindings
            .iter()
            .find(|b| b.role_ref.name == "extension-apiserver-authentication-reader");
        assert_eq!(
            reader
                .and_then(|b| serde_json::to_value(b).ok())
                .map(|v| v["subjects"].clone()),
            Some(json!([
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:kube-controller-manager"},
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:kube-scheduler"}
            ]))
        );
    }

    #[test]
    fn aggregation_builds_view_edit_admin() {
        let roles = aggregated_cluster_roles();
        assert_eq!(
            rules_of(&roles, "view"),
            rules_of(&roles, "system:aggregate-to-view")
        );
        let mut edit = rules_of(&roles, "system:aggregate-to-edit");
        edit.extend(rules_of(&roles, "system:aggregate-to-view"));
        assert_eq!(rules_of(&roles, "edit"), edit);
        // Selected roles are taken in name order: "edit" sorts before "system:...".
        let mut admin = edit;
        admin.extend(rules_of(&roles, "system:aggregate-to-admin"));
        assert_eq!(rules_of(&roles, "admin"), admin);
        // Escalation: admin holds what edit grants; edit lacks admin's RBAC powers.
        assert_eq!(
            covers(&rules_of(&roles, "admin"), &rules_of(&roles, "edit")),
            Ok(())
        );
        assert!(covers(&rules_of(&roles, "edit"), &rules_of(&roles, "admin")).is_err());
        assert!(covers(&rules_of(&roles, "view"), &rules_of(&roles, "edit")).is_err());
        let everything: Vec<PolicyRule> = roles
            .iter()
            .flat_map(|r| r.rules.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            covers(&rules_of(&roles, "cluster-admin"), &everything),
            Ok(())
        );
    }

    #[test]
    fn roles_allow_what_upstream_allows() {
        let roles = aggregated_cluster_roles();
        #[rustfmt::skip]
        let cases = [
            ("view", res("get", "", "pods", "ns", "p"), true),
            ("view", res("list", "apps", "deployments", "ns", ""), true),
            ("view", res("get", "", "pods/log", "ns", "p"), true),
            ("view", res("get", "resource.k8s.io", "resourceclaims", "ns", "c"), true),
            ("view", res("get", "", "secrets", "ns", "s"), false),
            ("view", res("create", "", "pods", "ns", ""), false),
            ("view", res("get", "", "pods/exec", "ns", "p"), false),
            ("edit", res("create", "", "pods", "ns", ""), true),
            ("edit", res("get", "", "secrets", "ns", "s"), true),
            ("edit", res("create", "", "pods/exec", "ns", "p"), true),
            ("edit", res("create", "", "serviceaccounts/token", "ns", "sa"), true),
            ("edit", res("create", "rbac.authorization.k8s.io", "rolebindings", "ns", ""), false),
            ("edit", res("update", "", "resourcequotas", "ns", "q"), false),
            ("admin", res("create", "rbac.authorization.k8s.io", "rolebindings", "ns", ""), true),
            ("admin", res("create", "authorization.k8s.io", "localsubjectaccessreviews", "ns", ""), true),
            ("admin", res("get", "", "nodes", "", "n"), false),
            ("cluster-admin", res("escalate", "example.com", "widgets/status", "", "w"), true),
            ("cluster-admin", url("delete", "/debug/pprof"), true),
            ("system:node", res("get", "", "nodes", "", "n1"), true),
            ("system:node", res("create", "", "serviceaccounts/token", "ns", "sa"), true),
            ("system:node", res("get", "", "secrets", "ns", "s"), true),
            ("system:node", res("patch", "", "pods/status", "ns", "p"), true),
            ("system:node", res("update", "coordination.k8s.io", "leases", "kube-node-lease", "n1"), true),
            ("system:node", res("delete", "", "nodes", "", "n1"), false),
            ("system:node", res("create", "resource.k8s.io", "resourceslices", "", ""), false),
            ("system:kube-scheduler", res("create", "", "pods/binding", "ns", "p"), true),
            ("system:kube-scheduler", res("update", "coordination.k8s.io", "leases", "kube-system", "kube-scheduler"), true),
            ("system:kube-scheduler", res("update", "coordination.k8s.io", "leases", "kube-system", "other"), false),
            ("system:kube-scheduler", res("get", "", "secrets", "ns", "s"), false),
            ("system:discovery", url("get", "/apis/apps/v1"), true),
            ("system:discovery", url("post", "/apis"), false),
            ("system:monitoring", url("get", "/readyz/etcd"), true),
            ("system:monitoring", url("get", "/debug/pprof"), false),
            ("system:controller:namespace-controller", res("deletecollection", "apps", "deployments", "ns", ""), true),
            ("system:controller:disruption-controller", res("get", "apps", "statefulsets/scale", "ns", "s"), true),
            ("system:certificates.k8s.io:kubelet-serving-approver",
                res("approve", "certificates.k8s.io", "signers", "", "kubernetes.io/kubelet-serving"), true),
            ("system:certificates.k8s.io:kubelet-serving-approver",
                res("approve", "certificates.k8s.io", "signers", "", "kubernetes.io/legacy-unknown"), false),
        ];
        for (role, attrs, want) in cases {
            let got = rules_of(&roles, role)
                .iter()
                .any(|r| rule_allows(r, &attrs));
            assert_eq!(got, want, "{role} {attrs:?}");
        }
    }

    #[test]
    fn bindings_grant_what_upstream_grants() {
        let anonymous = user("system:anonymous", &["system:unauthenticated"]);
        let alice = user("alice", &["system:authenticated"]);
        let master = user("root", &["system:masters", "system:authenticated"]);
        let scheduler = user("system:kube-scheduler", &["system:authenticated"]);
        let proxy = user("system:kube-proxy", &["system:authenticated"]);
        let sa = |ns: &str, name: &str| {
            user(
                &format!("system:serviceaccount:{ns}:{name}"),
                &["system:serviceaccounts", "system:authenticated"],
            )
        };
        #[rustfmt::skip]
        let cases = [
            (&anonymous, url("get", "/healthz"), true),
            (&anonymous, url("get", "/version"), true),
            (&anonymous, url("get", "/apis"), false),
            (&anonymous, res("create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), false),
            (&alice, url("get", "/apis/apps"), true),
            (&alice, res("create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), true),
            (&alice, res("create", "authentication.k8s.io", "selfsubjectreviews", "", ""), true),
            (&alice, res("get", "", "pods", "default", "p"), false),
            (&alice, url("get", "/.well-known/openid-configuration"), false),
            (&master, res("delete", "", "nodes", "", "n"), true),
            (&master, url("get", "/metrics"), true),
            (&scheduler, res("create", "", "pods/binding", "ns", "p"), true),
            (&scheduler, res("patch", "", "persistentvolumes", "", "pv"), true),
            (&scheduler, res("watch", "coordination.k8s.io", "leasecandidates", "kube-system", ""), true),
            (&scheduler, res("get", "", "configmaps", "kube-system", "extension-apiserver-authentication"), true),
            (&scheduler, res("get", "", "configmaps", "kube-system", "other"), false),
            (&proxy, res("list", "discovery.k8s.io", "endpointslices", "", ""), true),
            (&proxy, res("create", "", "pods", "ns", ""), false),
            (&sa("kube-system", "namespace-controller"), res("delete", "", "pods", "ns", "p"), true),
            (&sa("kube-system", "generic-garbage-collector"), res("patch", "example.com", "widgets", "ns", "w"), true),
            (&sa("kube-system", "kube-dns"), res("watch", "", "services", "", ""), true),
            (&sa("default", "kube-dns"), res("watch", "", "services", "", ""), false),
            (&sa("default", "app"), url("get", "/openid/v1/jwks"), true),
            (&sa("kube-system", "bootstrap-signer"), res("update", "", "configmaps", "kube-public", "cluster-info"), true),
            (&sa("kube-system", "bootstrap-signer"), res("update", "", "configmaps", "kube-public", "other"), false),
            (&sa("kube-system", "bootstrap-signer"), res("update", "", "configmaps", "kube-system", "cluster-info"), false),
            (&sa("kube-system", "token-cleaner"), res("delete", "", "secrets", "kube-system", "t"), true),
            (&sa("kube-system", "token-cleaner"), res("delete", "", "secrets", "default", "t"), false),
        ];
        for (who, attrs, want) in cases {
            assert_eq!(allowed(who, &attrs), want, "{} {attrs:?}", who.name);
        }
    }
}

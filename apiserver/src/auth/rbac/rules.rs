//! Whether one policy rule allows one request, whether one binding subject names one user, and
//! how a rule prints in an escalation error.
//!
//! Mirrors upstream `plugin/pkg/auth/authorizer/rbac/rbac.go` (`RuleAllows`),
//! `pkg/apis/rbac/v1/evaluation_helpers.go` (the `*Matches` helpers and `CompactString`) and
//! `pkg/registry/rbac/validation/rule.go` (`appliesToUser`).

use std::fmt;

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

use crate::auth::{Attributes, UserInfo};

/// The wildcards of `rbacv1`: `VerbAll`, `APIGroupAll`, `ResourceAll`, `NonResourceAll`.
pub const VERB_ALL: &str = "*";
pub const API_GROUP_ALL: &str = "*";
pub const RESOURCE_ALL: &str = "*";
pub const NON_RESOURCE_ALL: &str = "*";

/// Subject kinds a binding may name (`rbacv1.UserKind`, `GroupKind`, `ServiceAccountKind`).
pub const USER_KIND: &str = "User";
pub const GROUP_KIND: &str = "Group";
pub const SERVICE_ACCOUNT_KIND: &str = "ServiceAccount";

/// The user name prefix of a service account (`serviceaccount.ServiceAccountUsernamePrefix`).
pub const SERVICE_ACCOUNT_USERNAME_PREFIX: &str = "system:serviceaccount:";

/// An optional list field of a rule as a slice: an absent list matches like an empty one.
pub(crate) fn strings(field: &Option<Vec<String>>) -> &[String] {
    field.as_deref().unwrap_or(&[])
}

/// Whether `rule` allows the request: a resource request needs the verb, the API group, the
/// resource (with its subresource) and the name to match; a non-resource request the verb and
/// the path.
pub fn rule_allows(rule: &PolicyRule, attrs: &Attributes) -> bool {
    if !attrs.resource_request {
        return verb_matches(rule, &attrs.verb) && non_resource_url_matches(rule, &attrs.path);
    }
    verb_matches(rule, &attrs.verb)
        && api_group_matches(rule, &attrs.api_group)
        && resource_matches(rule, &attrs.resource, &attrs.subresource)
        && resource_name_matches(rule, &attrs.name)
}

pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == VERB_ALL || v == verb)
}

pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    strings(&rule.api_groups)
        .iter()
        .any(|g| g == API_GROUP_ALL || g == group)
}

/// A rule matches `resource` (with `subresource`, if any) by `*`, by `resource` or
/// `resource/subresource` exactly, or, for a subresource, by `*/subresource`. Note that
/// `pods/*` is no wildcard: upstream matches it only literally. Upstream joins the two into
/// one string first; comparing piecewise keeps the authorizer free of allocations.
pub fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    strings(&rule.resources).iter().any(|r| {
        r == RESOURCE_ALL
            || names_resource(r, resource, subresource)
            || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
    })
}

/// Whether `rule_resource` is `resource`, or `resource/subresource` for a subresource.
fn names_resource(rule_resource: &str, resource: &str, subresource: &str) -> bool {
    if subresource.is_empty() {
        return rule_resource == resource;
    }
    rule_resource
        .strip_prefix(resource)
        .and_then(|rest| rest.strip_prefix('/'))
        == Some(subresource)
}

/// A rule without resource names matches every name, including the empty name of a list or
/// create request.
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = strings(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name)
}

/// A URL of the rule matches as `*`, exactly, or as a prefix when it ends in `*` (all trailing
/// stars are dropped first, as upstream's `strings.TrimRight` does).
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    strings(&rule.non_resource_urls)
        .iter()
        .any(|u| u == NON_RESOURCE_ALL || u == path || url_prefix_matches(u, path))
}

pub(crate) fn url_prefix_matches(pattern: &str, path: &str) -> bool {
    pattern.ends_with('*') && path.starts_with(pattern.trim_end_matches('*'))
}

/// Whether `subject` of a binding in `binding_namespace` (empty for a ClusterRoleBinding)
/// names `user`. A service account without a namespace means one in the binding's namespace;
/// in a ClusterRoleBinding such a subject names nobody. Kinds compare case-sensitively and
/// unknown kinds name nobody, as upstream.
pub fn applies_to(subject: &Subject, binding_namespace: &str, user: &UserInfo) -> bool {
    match subject.kind.as_str() {
        USER_KIND => user.name == subject.name,
        GROUP_KIND => user.in_group(&subject.name),
        SERVICE_ACCOUNT_KIND => {
            let namespace = match subject.namespace.as_deref() {
                Some(namespace) if !namespace.is_empty() => namespace,
                _ => binding_namespace,
            };
            !namespace.is_empty() && is_service_account_user(namespace, &subject.name, &user.name)
        }
        _ => false,
    }
}

/// Whether `username` is `system:serviceaccount:<namespace>:<name>`, compared piecewise so
/// that authorization does not allocate (upstream `serviceaccount.MatchesUsername`).
pub fn is_service_account_user(namespace: &str, name: &str, username: &str) -> bool {
    username
        .strip_prefix(SERVICE_ACCOUNT_USERNAME_PREFIX)
        .and_then(|rest| rest.strip_prefix(namespace))
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|rest| rest == name)
}

/// A rule as upstream's `CompactString` prints it in escalation errors, e.g.
/// `{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`: only non-empty fields, in
/// that order, each list in Go's `%q` form.
#[derive(Clone, Copy, Debug)]
pub struct CompactRule<'a>(pub &'a PolicyRule);

impl fmt::Display for CompactRule<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = self.0;
        let fields: [(&str, &[String]); 5] = [
            ("APIGroups", strings(&rule.api_groups)),
            ("Resources", strings(&rule.resources)),
            ("NonResourceURLs", strings(&rule.non_resource_urls)),
            ("ResourceNames", strings(&rule.resource_names)),
            ("Verbs", &rule.verbs),
        ];
        f.write_str("{")?;
        let mut first = true;
        for (label, values) in fields.into_iter().filter(|(_, v)| !v.is_empty()) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{label}:[")?;
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write_go_quoted(f, value)?;
            }
            f.write_str("]")?;
        }
        f.write_str("}")
    }
}

/// Shorthand for `CompactRule(rule).to_string()`.
pub fn compact_string(rule: &PolicyRule) -> String {
    CompactRule(rule).to_string()
}

/// A string as Go's `strconv.Quote` writes it, close enough for names that RBAC accepts:
/// Go's short escapes, `\x` for other ASCII controls, `\u` for other control characters.
fn write_go_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\u{7}' => f.write_str("\\a")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{b}' => f.write_str("\\v")?,
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(f, "\\x{:02x}", c as u32)?,
            c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        let list = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: list(groups),
            resources: list(resources),
            ..Default::default()
        }
    }

    fn request(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            namespace: "default".into(),
            ..Default::default()
        }
    }

    fn url_request(verb: &str, path: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn resource_rules() {
        let with_names = |mut r: PolicyRule, names: &[&str]| {
            r.resource_names = Some(names.iter().map(|s| s.to_string()).collect());
            r
        };
        #[rustfmt::skip]
        let cases: Vec<(PolicyRule, Attributes, bool)> = vec![
            (rule(&["get"], &[""], &["pods"]), request("get", "", "pods", "", "p"), true),
            (rule(&["get"], &[""], &["pods"]), request("list", "", "pods", "", ""), false),
            (rule(&["*"], &[""], &["pods"]), request("delete", "", "pods", "", "p"), true),
            (rule(&["get"], &["*"], &["pods"]), request("get", "apps", "pods", "", ""), true),
            (rule(&["get"], &["apps"], &["pods"]), request("get", "", "pods", "", ""), false),
            (rule(&["get"], &[""], &["*"]), request("get", "", "pods", "log", ""), true),
            // A resource rule does not reach its subresources, nor a subresource rule its parent.
            (rule(&["get"], &[""], &["pods"]), request("get", "", "pods", "log", ""), false),
            (rule(&["get"], &[""], &["pods/log"]), request("get", "", "pods", "log", ""), true),
            (rule(&["get"], &[""], &["pods/log"]), request("get", "", "pods", "", ""), false),
            (rule(&["get"], &[""], &["pods/log"]), request("get", "", "pod", "log", ""), false),
            (rule(&["get"], &[""], &["pods/log"]), request("get", "", "pods", "logs", ""), false),
            (rule(&["get"], &[""], &["*/log"]), request("get", "", "pods", "log", ""), true),
            (rule(&["get"], &[""], &["*/log"]), request("get", "", "log", "", ""), false),
            (rule(&["get"], &["*"], &["*/scale"]), request("get", "apps", "deployments", "scale", ""), true),
            (rule(&["get"], &[""], &["*/status"]), request("get", "", "pods", "log", ""), false),
            // `pods/*` is no wildcard upstream.
            (rule(&["get"], &[""], &["pods/*"]), request("get", "", "pods", "log", ""), false),
            (with_names(rule(&["get"], &[""], &["pods"]), &["a"]), request("get", "", "pods", "", "a"), true),
            (with_names(rule(&["get"], &[""], &["pods"]), &["a"]), request("get", "", "pods", "", "b"), false),
            (with_names(rule(&["list"], &[""], &["pods"]), &["a"]), request("list", "", "pods", "", ""), false),
            // A non-resource rule never allows a resource request, nor the reverse.
            (PolicyRule { verbs: vec!["*".into()], non_resource_urls: Some(vec!["*".into()]), ..Default::default() },
                request("get", "", "pods", "", ""), false),
            (rule(&["*"], &["*"], &["*"]), url_request("get", "/healthz"), false),
        ];
        for (i, (rule, attrs, want)) in cases.iter().enumerate() {
            assert_eq!(
                rule_allows(rule, attrs),
                *want,
                "case {i}: {rule:?} {attrs:?}"
            );
        }
    }

    #[test]
    fn non_resource_rules() {
        let urls = |verbs: &[&str], urls: &[&str]| PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            non_resource_urls: Some(urls.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        #[rustfmt::skip]
        let cases = [
            (urls(&["get"], &["/healthz"]), "get", "/healthz", true),
            (urls(&["get"], &["/healthz"]), "post", "/healthz", false),
            (urls(&["get"], &["/healthz"]), "get", "/healthz/etcd", false),
            (urls(&["get"], &["/healthz/*"]), "get", "/healthz/etcd", true),
            (urls(&["get"], &["/healthz/*"]), "get", "/healthz/", true),
            (urls(&["get"], &["/healthz/*"]), "get", "/healthz", false),
            // The star is a plain prefix match, not a path segment match.
            (urls(&["get"], &["/api*"]), "get", "/apis/apps", true),
            (urls(&["get"], &["/api**"]), "get", "/apis", true),
            (urls(&["*"], &["*"]), "delete", "/anything", true),
            (urls(&["get"], &["/version", "/version/"]), "get", "/version/", true),
        ];
        for (i, (rule, verb, path, want)) in cases.iter().enumerate() {
            assert_eq!(
                rule_allows(rule, &url_request(verb, path)),
                *want,
                "case {i}"
            );
        }
    }

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.map(Into::into),
            api_group: None,
        }
    }

    #[test]
    fn subjects() {
        let alice = UserInfo {
            name: "alice".into(),
            groups: vec!["devs".into(), "system:authenticated".into()],
            ..Default::default()
        };
        let sa = UserInfo {
            name: "system:serviceaccount:kube-system:builder".into(),
            groups: vec!["system:serviceaccounts".into()],
            ..Default::default()
        };
        #[rustfmt::skip]
        let cases = [
            (subject("User", "alice", None), "", &alice, true),
            (subject("User", "bob", None), "", &alice, false),
            // Kinds compare case-sensitively, and a user is not a group of its name.
            (subject("user", "alice", None), "", &alice, false),
            (subject("Group", "alice", None), "", &alice, false),
            (subject("Group", "devs", None), "ns", &alice, true),
            (subject("Group", "ops", None), "ns", &alice, false),
            (subject("ServiceAccount", "builder", Some("kube-system")), "", &sa, true),
            (subject("ServiceAccount", "builder", Some("default")), "", &sa, false),
            (subject("ServiceAccount", "other", Some("kube-system")), "", &sa, false),
            // Without a namespace, the binding's namespace is meant; a cluster binding has none.
            (subject("ServiceAccount", "builder", None), "kube-system", &sa, true),
            (subject("ServiceAccount", "builder", Some("")), "kube-system", &sa, true),
            (subject("ServiceAccount", "builder", None), "default", &sa, false),
            (subject("ServiceAccount", "builder", None), "", &sa, false),
            // A service account subject does not match a user who merely has that name's prefix.
            (subject("ServiceAccount", "build", Some("kube-system")), "", &sa, false),
            (subject("Other", "alice", None), "", &alice, false),
        ];
        for (i, (subject, namespace, user, want)) in cases.iter().enumerate() {
            assert_eq!(
                applies_to(subject, namespace, user),
                *want,
                "case {i}: {subject:?}"
            );
        }
    }

    #[test]
    fn service_account_usernames() {
        assert!(is_service_account_user(
            "ns",
            "sa",
            "system:serviceaccount:ns:sa"
        ));
        assert!(!is_service_account_user(
            "ns",
            "sa",
            "system:serviceaccount:ns:sa2"
        ));
        assert!(!is_service_account_user(
            "ns",
            "sa",
            "system:serviceaccount:nsx:sa"
        ));
        assert!(!is_service_account_user(
            "ns",
            "sa",
            "system:serviceaccounts:ns:sa"
        ));
        assert!(!is_service_account_user("ns", "sa", "ns:sa"));
    }

    #[test]
    fn compact_strings() {
        let mut named = rule(&["get", "update"], &["coordination.k8s.io"], &["leases"]);
        named.resource_names = Some(vec!["kube-scheduler".into()]);
        let urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/healthz".into(), "/livez".into()]),
            ..Default::default()
        };
        let odd = rule(&["get"], &[""], &["a\"b\\c\n\u{1}"]);
        #[rustfmt::skip]
        let cases = [
            (rule(&["get", "list"], &[""], &["pods"]),
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}"#),
            (named,
                r#"{APIGroups:["coordination.k8s.io"], Resources:["leases"], ResourceNames:["kube-scheduler"], Verbs:["get" "update"]}"#),
            (urls, r#"{NonResourceURLs:["/healthz" "/livez"], Verbs:["get"]}"#),
            (PolicyRule::default(), "{}"),
            (odd, r#"{APIGroups:[""], Resources:["a\"b\\c\n\x01"], Verbs:["get"]}"#),
        ];
        for (rule, want) in cases {
            assert_eq!(compact_string(&rule), want);
        }
    }
}

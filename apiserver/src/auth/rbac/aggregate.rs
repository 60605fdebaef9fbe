//! ClusterRole aggregation: the rules an aggregated ClusterRole (`admin`, `edit`, `view`, or
//! any role with an `aggregationRule`) ends up with.
//!
//! Mirrors the sync of upstream
//! `pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go`: selectors in
//! order; for each, the matching ClusterRoles sorted by name, the aggregated role itself
//! skipped; their rules appended unless an equal rule is already there. The caller writes the
//! result into the role only when it differs from the role's current rules ([`rules_equal`]).

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::rules::strings;
use crate::selector;

/// `None` when `role` has no aggregation rule; otherwise the rules it aggregates from `all`
/// (which may include `role` itself). A selector that does not convert (an unknown operator,
/// an invalid key or value) selects nothing here; upstream stops the sync with an error
/// instead, but validation refuses such selectors when the role is written.
pub fn aggregated_rules(role: &ClusterRole, all: &[ClusterRole]) -> Option<Vec<PolicyRule>> {
    let aggregation = role.aggregation_rule.as_ref()?;
    let own_name = role.metadata.name.as_deref().unwrap_or_default();
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in aggregation.cluster_role_selectors.iter().flatten() {
        let Some(selector) = to_selector(selector) else {
            continue;
        };
        let no_labels = BTreeMap::new();
        let mut matched: Vec<&ClusterRole> = all
            .iter()
            .filter(|other| selector.matches(other.metadata.labels.as_ref().unwrap_or(&no_labels)))
            .collect();
        matched.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for other in matched {
            if other.metadata.name.as_deref().unwrap_or_default() == own_name {
                continue;
            }
            for rule in other.rules.iter().flatten() {
                if !rules.iter().any(|have| rule_equal(have, rule)) {
                    rules.push(rule.clone());
                }
            }
        }
    }
    Some(rules)
}

/// Upstream converts with `metav1.LabelSelectorAsSelector`; the selector module does the same
/// from the JSON form, so the API type goes through JSON.
fn to_selector(selector: &LabelSelector) -> Option<selector::LabelSelector> {
    let json = serde_json::to_value(selector).ok()?;
    selector::LabelSelector::from_label_selector_json(&json).ok()
}

/// Rule equality as upstream's `equality.Semantic.DeepEqual`, which treats an absent list as
/// equal to an empty one.
pub fn rule_equal(a: &PolicyRule, b: &PolicyRule) -> bool {
    a.verbs == b.verbs
        && strings(&a.api_groups) == strings(&b.api_groups)
        && strings(&a.resources) == strings(&b.resources)
        && strings(&a.resource_names) == strings(&b.resource_names)
        && strings(&a.non_resource_urls) == strings(&b.non_resource_urls)
}

/// Whether two rule lists are equal in the same sense, so that a role whose rules already are
/// the aggregate is not rewritten (an absent list equals an empty one).
pub fn rules_equal(a: Option<&[PolicyRule]>, b: Option<&[PolicyRule]>) -> bool {
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rule_equal(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta};

    fn rule(verb: &str, resource: &str) -> PolicyRule {
        PolicyRule {
            verbs: vec![verb.into()],
            api_groups: Some(vec![String::new()]),
            resources: Some(vec![resource.into()]),
            ..Default::default()
        }
    }

    fn role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            rules: Some(rules),
            aggregation_rule: None,
        }
    }

    fn match_labels(pairs: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            match_expressions: None,
        }
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: operator.into(),
                values: Some(values.iter().map(|s| s.to_string()).collect()),
            }]),
        }
    }

    fn aggregating(name: &str, selectors: Vec<LabelSelector>) -> ClusterRole {
        ClusterRole {
            aggregation_rule: Some(AggregationRule {
                cluster_role_selectors: Some(selectors),
            }),
            rules: None,
            ..role(name, &[("agg", "yes")], vec![])
        }
    }

    fn world() -> Vec<ClusterRole> {
        vec![
            role(
                "zeta",
                &[("agg", "yes"), ("tier", "b")],
                vec![rule("get", "pods"), rule("get", "nodes")],
            ),
            role(
                "alpha",
                &[("agg", "yes"), ("tier", "a")],
                vec![rule("get", "pods"), rule("list", "pods")],
            ),
            role("beta", &[("tier", "c")], vec![rule("watch", "pods")]),
            role("gamma", &[], vec![rule("delete", "pods")]),
        ]
    }

    #[test]
    fn aggregation_cases() {
        let get = |r: &str| rule("get", r);
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<LabelSelector>, Vec<PolicyRule>)> = vec![
            // Sorted by name, duplicates dropped, the aggregating role (which matches) skipped.
            ("match labels", vec![match_labels(&[("agg", "yes")])],
                vec![get("pods"), rule("list", "pods"), get("nodes")]),
            ("selectors in order", vec![match_labels(&[("tier", "c")]), match_labels(&[("tier", "b")])],
                vec![rule("watch", "pods"), get("pods"), get("nodes")]),
            ("a role matched twice counts once", vec![match_labels(&[("tier", "a")]), match_labels(&[("agg", "yes")])],
                vec![get("pods"), rule("list", "pods"), get("nodes")]),
            ("In", vec![expression("tier", "In", &["a", "c"])],
                vec![get("pods"), rule("list", "pods"), rule("watch", "pods")]),
            ("NotIn also matches roles without the label", vec![expression("tier", "NotIn", &["a", "b"])],
                vec![rule("watch", "pods"), rule("delete", "pods")]),
            ("Exists", vec![expression("tier", "Exists", &[])],
                vec![get("pods"), rule("list", "pods"), rule("watch", "pods"), get("nodes")]),
            ("DoesNotExist", vec![expression("tier", "DoesNotExist", &[])], vec![rule("delete", "pods")]),
            ("empty selector selects every other role", vec![LabelSelector::default()],
                vec![get("pods"), rule("list", "pods"), rule("watch", "pods"), rule("delete", "pods"), get("nodes")]),
            ("invalid selector selects nothing", vec![expression("tier", "Near", &["a"])], vec![]),
            ("no selectors", vec![], vec![]),
        ];
        for (name, selectors, want) in cases {
            let mut all = world();
            let me = aggregating("me", selectors);
            all.push(me.clone());
            let got = aggregated_rules(&me, &all);
            assert_eq!(got, Some(want), "{name}");
        }
    }

    #[test]
    fn roles_without_aggregation_rule() {
        let all = world();
        assert_eq!(aggregated_rules(&all[0], &all), None);
    }

    #[test]
    fn semantic_equality() {
        let absent = PolicyRule {
            verbs: vec!["get".into()],
            ..Default::default()
        };
        let empty = PolicyRule {
            verbs: vec!["get".into()],
            api_groups: Some(vec![]),
            resource_names: Some(vec![]),
            ..Default::default()
        };
        assert!(rule_equal(&absent, &empty));
        assert!(!rule_equal(&absent, &rule("get", "pods")));
        assert!(rules_equal(None, Some(&[])));
        assert!(!rules_equal(None, Some(std::slice::from_ref(&absent))));
        assert!(rules_equal(Some(&[absent]), Some(&[empty])));
    }
}

//! Label selector matching for the controllers: `matchLabels` and `matchExpressions` with the
//! four set-based operators, as `metav1.LabelSelectorAsSelector` + `labels.Selector.Matches`
//! (k8s.io/apimachinery `pkg/apis/meta/v1/helpers.go`, `pkg/labels/selector.go`) do.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// One parsed requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A label selector checked once for validity, then matched against many label sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses a selector. `None` means the selector is invalid (an unknown operator, `In` or
    /// `NotIn` without values, `Exists` or `DoesNotExist` with values): upstream's conversion
    /// fails and the controllers then treat the object as selecting nothing.
    ///
    /// An empty selector (no labels, no expressions) selects everything, as upstream's
    /// `LabelSelectorAsSelector` returns `labels.Everything()` for it.
    pub fn parse(selector: &LabelSelector) -> Option<Self> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::In(key.clone(), vec![value.clone()]));
        }
        for expr in selector.match_expressions.iter().flatten() {
            let values = expr.values.clone().unwrap_or_default();
            let key = expr.key.clone();
            let requirement = match expr.operator.as_str() {
                "In" if !values.is_empty() => Requirement::In(key, values),
                "NotIn" if !values.is_empty() => Requirement::NotIn(key, values),
                "Exists" if values.is_empty() => Requirement::Exists(key),
                "DoesNotExist" if values.is_empty() => Requirement::DoesNotExist(key),
                _ => return None,
            };
            requirements.push(requirement);
        }
        Some(Self { requirements })
    }

    /// Whether every requirement holds for `labels` (absent labels are an empty set).
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key));
        self.requirements.iter().all(|r| match r {
            Requirement::In(key, values) => get(key).is_some_and(|v| values.contains(v)),
            // NotIn also matches when the label is absent (labels/selector.go `Matches`).
            Requirement::NotIn(key, values) => get(key).is_none_or(|v| !values.contains(v)),
            Requirement::Exists(key) => get(key).is_some(),
            Requirement::DoesNotExist(key) => get(key).is_none(),
        })
    }

    /// Whether the selector has no requirement at all and so selects every object.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }
}

/// The keys of the `candidates` whose (valid, non-empty) selector matches `labels`: the
/// owners that may adopt an orphan.
pub(crate) fn selecting<K: kube::core::Resource>(
    candidates: &[std::sync::Arc<K>],
    selector_of: impl Fn(&K) -> Option<&LabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> Vec<crate::runtime::informer::ObjectKey> {
    candidates
        .iter()
        .filter(|c| {
            let selector = selector_of(c).and_then(Selector::parse);
            selector.is_some_and(|s| !s.is_everything() && s.matches(labels))
        })
        .map(|c| crate::runtime::informer::ObjectKey::of(c.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    /// Parses and matches; an invalid selector matches nothing.
    fn selector_matches(
        selector: &LabelSelector,
        labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        Selector::parse(selector).is_some_and(|s| s.matches(labels))
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    /// (what, selector, labels, matches)
    type Case = (
        &'static str,
        LabelSelector,
        Option<BTreeMap<String, String>>,
        bool,
    );

    #[test]
    fn table() {
        let app_web = labels(&[("app", "web"), ("tier", "front")]);
        let cases: Vec<Case> = vec![
            (
                "empty selects all",
                LabelSelector::default(),
                Some(app_web.clone()),
                true,
            ),
            (
                "empty selects unlabeled",
                LabelSelector::default(),
                None,
                true,
            ),
            (
                "matchLabels hit",
                LabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    ..Default::default()
                },
                Some(app_web.clone()),
                true,
            ),
            (
                "matchLabels miss",
                LabelSelector {
                    match_labels: Some(labels(&[("app", "db")])),
                    ..Default::default()
                },
                Some(app_web.clone()),
                false,
            ),
            (
                "In",
                LabelSelector {
                    match_expressions: Some(vec![expr("tier", "In", &["front", "back"])]),
                    ..Default::default()
                },
                Some(app_web.clone()),
                true,
            ),
            (
                "NotIn absent key matches",
                LabelSelector {
                    match_expressions: Some(vec![expr("env", "NotIn", &["prod"])]),
                    ..Default::default()
                },
                Some(app_web.clone()),
                true,
            ),
            (
                "NotIn present value",
                LabelSelector {
                    match_expressions: Some(vec![expr("tier", "NotIn", &["front"])]),
                    ..Default::default()
                },
                Some(app_web.clone()),
                false,
            ),
            (
                "Exists",
                LabelSelector {
                    match_expressions: Some(vec![expr("tier", "Exists", &[])]),
                    ..Default::default()
                },
                Some(app_web.clone()),
                true,
            ),
            (
                "DoesNotExist",
                LabelSelector {
                    match_expressions: Some(vec![expr("tier", "DoesNotExist", &[])]),
                    ..Default::default()
                },
                Some(app_web.clone()),
                false,
            ),
            (
                "invalid operator selects nothing",
                LabelSelector {
                    match_expressions: Some(vec![expr("tier", "Gt", &["1"])]),
                    ..Default::default()
                },
                Some(app_web.clone()),
                false,
            ),
            (
                "In without values is invalid",
                LabelSelector {
                    match_expressions: Some(vec![expr("tier", "In", &[])]),
                    ..Default::default()
                },
                Some(app_web.clone()),
                false,
            ),
        ];
        for (name, selector, set, want) in cases {
            assert_eq!(selector_matches(&selector, set.as_ref()), want, "{name}");
        }
    }

    #[test]
    fn everything() {
        let s = Selector::parse(&LabelSelector::default()).expect("valid");
        assert!(s.is_everything());
    }
}

//! Node selectors parsed once and matched against many nodes: a pod's `spec.nodeSelector`
//! map, a `NodeSelector` (required node affinity: terms ORed, requirements within a term
//! ANDed) and weighted preferred terms. Shared by NodeAffinity, PodTopologySpread (its
//! `nodeAffinityPolicy: Honor`) and DaemonSet-style pinning.
//!
//! Mirrors upstream `k8s.io/component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go`
//! (`NewLazyErrorNodeSelector`, `NewNodeSelector`, `NewPreferredSchedulingTerms`,
//! `GetRequiredNodeAffinity`, `nodeSelectorTerm.match`) and the requirement checks of
//! `apimachinery/pkg/labels.NewRequirement`:
//! - a term with neither `matchExpressions` nor `matchFields` selects nothing and is dropped;
//! - a term that does not parse (unknown operator, `In`/`NotIn` without values,
//!   `Exists`/`DoesNotExist` with values, `Gt`/`Lt` without exactly one integer, an invalid
//!   label key or value, a `matchFields` requirement that is not `In`/`NotIn` with exactly one
//!   value) matches no node ("lazy" errors, as the scheduler ignores them for backwards
//!   compatibility); [`NodeSelectorMatcher::from_node_selector_strict`] reports them instead;
//! - `matchFields` only knows `metadata.name`; any other field reads as the empty string, and
//!   field requirements are not checked against a node without a name (upstream's empty field
//!   set).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm,
};

/// The one node field a `matchFields` requirement can name (`metav1.ObjectNameField`).
pub const OBJECT_NAME_FIELD: &str = "metadata.name";

/// One parsed `matchExpressions` requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelReq {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    Gt(String, i64),
    Lt(String, i64),
}

impl LabelReq {
    /// `nodeSelectorRequirementsAsSelector` + `labels.NewRequirement` for one requirement.
    fn parse(r: &NodeSelectorRequirement) -> Result<Self, String> {
        let key = r.key.clone();
        if !is_qualified_name(&key) {
            return Err(format!("invalid label key {key:?}"));
        }
        let values = r.values.clone().unwrap_or_default();
        if let Some(bad) = values.iter().find(|v| !is_label_value(v)) {
            return Err(format!("invalid label value {bad:?} for key {key:?}"));
        }
        let integer = || match values.as_slice() {
            [v] => v
                .parse::<i64>()
                .map_err(|_| format!("value {v:?} for key {key:?} is not an integer")),
            _ => Err(format!("operator {} needs exactly one value", r.operator)),
        };
        match r.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => Err(format!(
                "operator {} for key {key:?} needs at least one value",
                r.operator
            )),
            "In" => Ok(Self::In(key, values)),
            "NotIn" => Ok(Self::NotIn(key, values)),
            "Exists" | "DoesNotExist" if !values.is_empty() => Err(format!(
                "operator {} for key {key:?} takes no values",
                r.operator
            )),
            "Exists" => Ok(Self::Exists(key)),
            "DoesNotExist" => Ok(Self::DoesNotExist(key)),
            "Gt" => Ok(Self::Gt(key.clone(), integer()?)),
            "Lt" => Ok(Self::Lt(key.clone(), integer()?)),
            other => Err(format!("unsupported operator {other:?}")),
        }
    }

    fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        let number = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        match self {
            Self::In(k, vs) => get(k).is_some_and(|v| vs.contains(v)),
            Self::NotIn(k, vs) => get(k).is_none_or(|v| !vs.contains(v)),
            Self::Exists(k) => get(k).is_some(),
            Self::DoesNotExist(k) => get(k).is_none(),
            Self::Gt(k, n) => number(k).is_some_and(|v| v > *n),
            Self::Lt(k, n) => number(k).is_some_and(|v| v < *n),
        }
    }
}

/// One parsed `matchFields` requirement (`nodeSelectorRequirementsAsFieldSelector`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldReq {
    key: String,
    value: String,
    equal: bool,
}

impl FieldReq {
    fn parse(r: &NodeSelectorRequirement) -> Result<Self, String> {
        let equal = match r.operator.as_str() {
            "In" => true,
            "NotIn" => false,
            other => return Err(format!("unsupported field operator {other:?}")),
        };
        match r.values.as_deref() {
            Some([value]) => Ok(Self {
                key: r.key.clone(),
                value: value.clone(),
                equal,
            }),
            _ => Err(format!("field requirement {:?} must have one value", r.key)),
        }
    }

    fn matches(&self, node_name: &str) -> bool {
        let field = if self.key == OBJECT_NAME_FIELD {
            node_name
        } else {
            ""
        };
        (field == self.value) == self.equal
    }
}

/// One parsed node selector term (upstream `nodeSelectorTerm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelectorTermMatcher {
    labels: Option<Vec<LabelReq>>,
    fields: Option<Vec<FieldReq>>,
    /// Why the term did not parse; such a term matches nothing.
    error: Option<String>,
}

impl NodeSelectorTermMatcher {
    pub fn new(term: &NodeSelectorTerm) -> Self {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.as_deref().unwrap_or_default();
        let mut error = None;
        let labels = (!exprs.is_empty()).then(|| {
            exprs
                .iter()
                .filter_map(|r| LabelReq::parse(r).map_err(|e| error = Some(e)).ok())
                .collect()
        });
        let fields = (!fields.is_empty()).then(|| {
            fields
                .iter()
                .filter_map(|r| FieldReq::parse(r).map_err(|e| error = Some(e)).ok())
                .collect()
        });
        Self {
            labels,
            fields,
            error,
        }
    }

    /// Upstream `isEmptyNodeSelectorTerm`: neither expressions nor fields.
    pub fn is_empty_term(term: &NodeSelectorTerm) -> bool {
        term.match_expressions
            .as_deref()
            .unwrap_or_default()
            .is_empty()
            && term.match_fields.as_deref().unwrap_or_default().is_empty()
    }

    /// Why the term does not parse, if it does not.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether a node with these labels and this name satisfies the term.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>, node_name: &str) -> bool {
        if self.error.is_some() {
            return false;
        }
        let labels_ok = self.labels.iter().flatten().all(|r| r.matches(labels));
        let fields_ok =
            node_name.is_empty() || self.fields.iter().flatten().all(|r| r.matches(node_name));
        labels_ok && fields_ok
    }
}

/// Required placement: a `nodeSelector` map (every pair must be a node label) and/or the
/// terms of a `NodeSelector` (ORed). Upstream `RequiredNodeAffinity` /
/// `LazyErrorNodeSelector`. Built once per pod (or per DaemonSet), matched per node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSelectorMatcher {
    /// `Some`: every pair must be among the node's labels.
    required_labels: Option<BTreeMap<String, String>>,
    /// `Some`: one of the (non-empty) terms must match; no terms at all matches no node.
    terms: Option<Vec<NodeSelectorTermMatcher>>,
}

impl NodeSelectorMatcher {
    /// A matcher that every node satisfies.
    pub fn everything() -> Self {
        Self::default()
    }

    /// From a `NodeSelector`, invalid terms matching nothing (`NewLazyErrorNodeSelector`).
    pub fn from_node_selector(selector: &NodeSelector) -> Self {
        let terms = selector
            .node_selector_terms
            .iter()
            .filter(|t| !NodeSelectorTermMatcher::is_empty_term(t))
            .map(NodeSelectorTermMatcher::new)
            .collect();
        Self {
            required_labels: None,
            terms: Some(terms),
        }
    }

    /// From a `NodeSelector`, failing on the first term that does not parse
    /// (`NewNodeSelector`; scheduler configuration such as NodeAffinity's `addedAffinity`).
    pub fn from_node_selector_strict(selector: &NodeSelector) -> Result<Self, String> {
        let matcher = Self::from_node_selector(selector);
        if let Some(error) = matcher.terms.iter().flatten().find_map(|t| t.error()) {
            return Err(error.to_owned());
        }
        Ok(matcher)
    }

    /// From a `spec.nodeSelector`-style map: every pair must be a node label.
    pub fn from_map(labels: &BTreeMap<String, String>) -> Self {
        Self {
            required_labels: Some(labels.clone()),
            terms: None,
        }
    }

    /// A pod's required placement: its `nodeSelector` and its
    /// `requiredDuringSchedulingIgnoredDuringExecution` node affinity (upstream
    /// `GetRequiredNodeAffinity`).
    pub fn from_pod(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let required_labels = spec
            .and_then(|s| s.node_selector.as_ref())
            .filter(|m| !m.is_empty())
            .cloned();
        let terms = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .and_then(|s| Self::from_node_selector(s).terms);
        Self {
            required_labels,
            terms,
        }
    }

    /// Whether nothing is required (every node matches).
    pub fn is_everything(&self) -> bool {
        self.required_labels.is_none() && self.terms.is_none()
    }

    pub fn matches(&self, node: &Node) -> bool {
        self.matches_labels(
            node.metadata.labels.as_ref(),
            node.metadata.name.as_deref().unwrap_or_default(),
        )
    }

    /// [`Self::matches`] on a node's labels and name.
    pub fn matches_labels(
        &self,
        labels: Option<&BTreeMap<String, String>>,
        node_name: &str,
    ) -> bool {
        if let Some(required) = &self.required_labels {
            let ok = required
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
            if !ok {
                return false;
            }
        }
        match &self.terms {
            Some(terms) => terms.iter().any(|t| t.matches(labels, node_name)),
            None => true,
        }
    }
}

/// Weighted preferred terms (upstream `PreferredSchedulingTerms`): a node scores the sum of
/// the weights of the terms it matches. Terms with weight 0 or no requirements are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreferredTermsScorer {
    terms: Vec<(NodeSelectorTermMatcher, i64)>,
}

impl PreferredTermsScorer {
    /// Fails on the first term that does not parse (`NewPreferredSchedulingTerms`).
    pub fn new(terms: &[PreferredSchedulingTerm]) -> Result<Self, String> {
        let mut parsed = Vec::with_capacity(terms.len());
        for term in terms {
            if term.weight == 0 || NodeSelectorTermMatcher::is_empty_term(&term.preference) {
                continue;
            }
            let matcher = NodeSelectorTermMatcher::new(&term.preference);
            if let Some(error) = matcher.error() {
                return Err(error.to_owned());
            }
            parsed.push((matcher, i64::from(term.weight)));
        }
        Ok(Self { terms: parsed })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn score(&self, node: &Node) -> i64 {
        let labels = node.metadata.labels.as_ref();
        let name = node.metadata.name.as_deref().unwrap_or_default();
        self.terms
            .iter()
            .filter(|(t, _)| t.matches(labels, name))
            .map(|(_, w)| w)
            .sum()
    }
}

/// `[A-Za-z0-9]` at both ends, `[-_.A-Za-z0-9]` between, at most 63 characters, not empty.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(inner)
}

/// A label value (`validation.IsValidLabelValue`): empty, or a label name.
fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

/// A DNS-1123 subdomain (`validation.IsDNS1123Subdomain`).
fn is_dns1123_subdomain(s: &str) -> bool {
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    };
    !s.is_empty() && s.len() <= 253 && s.split('.').all(label_ok)
}

/// A label key (`validation.IsQualifiedName`): `[prefix/]name`, the prefix a DNS subdomain.
fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_label_name(name),
        None => is_label_name(s),
    }
}

#[cfg(test)]
#[path = "node_selector_tests.rs"]
mod tests;

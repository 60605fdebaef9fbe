//! Which nodes a DaemonSet's pod belongs on, after upstream's `NodeShouldRunDaemonPod` and
//! `predicates` (`pkg/controller/daemon/daemon_controller.go`), the required node affinity of
//! `component-helpers/scheduling/corev1/nodeaffinity` and the taint helpers of
//! `component-helpers/scheduling/corev1/helpers.go`.
//!
//! The pod is judged as the controller would create it: the template's spec with the daemon
//! tolerations of [`add_daemon_tolerations`]. Node readiness plays no part (upstream ignores
//! it); a node that is not Ready is kept off only by the taints the node lifecycle controller
//! puts on it, and the default tolerations let existing pods ride out the `NoExecute` ones.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec};
use k8s_openapi::api::core::v1::{Taint, Toleration};

pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_NODE_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const TAINT_NODE_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const TAINT_NODE_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const TAINT_NODE_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// The one node field a `matchFields` requirement can name (`metav1.ObjectNameField`).
pub const OBJECT_NAME_FIELD: &str = "metadata.name";

const NO_SCHEDULE: &str = "NoSchedule";
const NO_EXECUTE: &str = "NoExecute";

/// What `NodeShouldRunDaemonPod` answers for one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Placement {
    /// A daemon pod should be created here when none runs.
    pub should_run: bool,
    /// A daemon pod already here may stay (it tolerates every `NoExecute` taint).
    pub should_continue_running: bool,
}

/// Adds the tolerations every daemon pod gets (`AddOrUpdateDaemonPodTolerations` of
/// `pkg/controller/daemon/util/daemonset_util.go`): not-ready and unreachable `NoExecute`,
/// so that taint-based eviction leaves daemons alone, and the `NoSchedule` taints of
/// node conditions (disk, memory and PID pressure, unschedulable, and network-unavailable for
/// host-network pods).
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        (TAINT_NODE_NOT_READY, NO_EXECUTE),
        (TAINT_NODE_UNREACHABLE, NO_EXECUTE),
        (TAINT_NODE_DISK_PRESSURE, NO_SCHEDULE),
        (TAINT_NODE_MEMORY_PRESSURE, NO_SCHEDULE),
        (TAINT_NODE_PID_PRESSURE, NO_SCHEDULE),
        (TAINT_NODE_UNSCHEDULABLE, NO_SCHEDULE),
    ];
    if spec.host_network == Some(true) {
        wanted.push((TAINT_NODE_NETWORK_UNAVAILABLE, NO_SCHEDULE));
    }
    for (key, effect) in wanted {
        let toleration = Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(effect.into()),
            ..Toleration::default()
        };
        add_or_update_toleration(spec.tolerations.get_or_insert_with(Vec::new), toleration);
    }
}

fn text(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// `AddOrUpdateTolerationInPodSpec`: a toleration with the same key, operator, value and
/// effect is replaced by `toleration` (so a user's `tolerationSeconds` on the not-ready
/// toleration is dropped, as upstream drops it), unless the first such one is already equal;
/// otherwise `toleration` is appended.
fn add_or_update_toleration(tolerations: &mut Vec<Toleration>, toleration: Toleration) {
    let same = |t: &Toleration| {
        text(&t.key) == text(&toleration.key)
            && text(&t.effect) == text(&toleration.effect)
            && text(&t.operator) == text(&toleration.operator)
            && text(&t.value) == text(&toleration.value)
    };
    let mut updated = false;
    let mut out = Vec::with_capacity(tolerations.len() + 1);
    for existing in tolerations.iter() {
        if same(existing) {
            if existing.toleration_seconds == toleration.toleration_seconds {
                return;
            }
            out.push(toleration.clone());
            updated = true;
        } else {
            out.push(existing.clone());
        }
    }
    if !updated {
        out.push(toleration);
    }
    *tolerations = out;
}

/// `Toleration.ToleratesTaint`: an empty effect or key matches any; `Exists` matches any
/// value, `Equal` (or no operator) the same value. The numeric `Lt`/`Gt` operators of the
/// alpha `TaintTolerationComparisonOperators` gate (off by default in v1.35) never match.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = text(&toleration.effect);
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = text(&toleration.key);
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match text(&toleration.operator) {
        "" | "Equal" => text(&toleration.value) == text(&taint.value),
        "Exists" => true,
        _ => false,
    }
}

/// One parsed label requirement of a node selector term (`nodeSelectorRequirementsAsSelector`).
#[derive(Debug, Clone)]
enum LabelReq {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    Gt(String, i64),
    Lt(String, i64),
}

impl LabelReq {
    /// `None` for what upstream fails to parse: an unknown operator, `In`/`NotIn` without
    /// values, `Exists`/`DoesNotExist` with values, `Gt`/`Lt` without exactly one integer.
    fn parse(r: &NodeSelectorRequirement) -> Option<Self> {
        let values = r.values.clone().unwrap_or_default();
        let key = r.key.clone();
        let integer = || match values.as_slice() {
            [v] => v.parse::<i64>().ok(),
            _ => None,
        };
        Some(match r.operator.as_str() {
            "In" if !values.is_empty() => Self::In(key, values),
            "NotIn" if !values.is_empty() => Self::NotIn(key, values),
            "Exists" if values.is_empty() => Self::Exists(key),
            "DoesNotExist" if values.is_empty() => Self::DoesNotExist(key),
            "Gt" => Self::Gt(key, integer()?),
            "Lt" => Self::Lt(key, integer()?),
            _ => return None,
        })
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let number = |k: &str| labels.get(k).and_then(|v| v.parse::<i64>().ok());
        match self {
            Self::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Self::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Self::Exists(k) => labels.contains_key(k),
            Self::DoesNotExist(k) => !labels.contains_key(k),
            Self::Gt(k, n) => number(k).is_some_and(|v| v > *n),
            Self::Lt(k, n) => number(k).is_some_and(|v| v < *n),
        }
    }
}

/// A `matchFields` requirement: `In` or `NotIn` with exactly one value
/// (`nodeSelectorRequirementsAsFieldSelector`). A node has one field, `metadata.name`; any
/// other key reads as the empty string, as a Go field set does.
#[derive(Debug, Clone)]
struct FieldReq {
    key: String,
    value: String,
    equal: bool,
}

impl FieldReq {
    fn parse(r: &NodeSelectorRequirement) -> Option<Self> {
        let [value] = r.values.as_deref()? else {
            return None;
        };
        let equal = match r.operator.as_str() {
            "In" => true,
            "NotIn" => false,
            _ => return None,
        };
        Some(Self {
            key: r.key.clone(),
            value: value.clone(),
            equal,
        })
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

/// A parsed node selector term; `None` fields are "not given", an unparsable term is `Invalid`.
#[derive(Debug, Clone)]
enum Term {
    Valid {
        labels: Option<Vec<LabelReq>>,
        fields: Option<Vec<FieldReq>>,
    },
    Invalid,
}

impl Term {
    fn parse(term: &NodeSelectorTerm) -> Self {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.as_deref().unwrap_or_default();
        let labels = (!exprs.is_empty()).then(|| exprs.iter().map(LabelReq::parse).collect());
        let fields = (!fields.is_empty()).then(|| fields.iter().map(FieldReq::parse).collect());
        match (labels, fields) {
            (Some(None), _) | (_, Some(None)) => Self::Invalid,
            (labels, fields) => Self::Valid {
                labels: labels.flatten(),
                fields: fields.flatten(),
            },
        }
    }

    /// `nodeSelectorTerm.match`: an empty or invalid term matches nothing; fields are only
    /// checked when the node has a name.
    fn matches(&self, labels: &BTreeMap<String, String>, node_name: &str) -> bool {
        let Self::Valid {
            labels: l,
            fields: f,
        } = self
        else {
            return false;
        };
        if l.is_none() && f.is_none() {
            return false;
        }
        let labels_ok = l.iter().flatten().all(|r| r.matches(labels));
        let fields_ok = node_name.is_empty() || f.iter().flatten().all(|r| r.matches(node_name));
        labels_ok && fields_ok
    }
}

/// The placement rules of one DaemonSet, parsed once per sync and checked against each node.
#[derive(Debug, Clone)]
pub struct DaemonPlacement {
    node_name: Option<String>,
    node_selector: BTreeMap<String, String>,
    /// `Some` when the template has a required node affinity (its terms are OR-ed; none at
    /// all matches no node).
    required: Option<Vec<Term>>,
    tolerations: Vec<Toleration>,
}

impl DaemonPlacement {
    /// From the DaemonSet's pod template spec (`NewPod`: the spec with the daemon tolerations).
    pub fn new(spec: &PodSpec) -> Self {
        let mut with_defaults = PodSpec {
            host_network: spec.host_network,
            tolerations: spec.tolerations.clone(),
            ..PodSpec::default()
        };
        add_daemon_tolerations(&mut with_defaults);
        let required = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|s| s.node_selector_terms.iter().map(Term::parse).collect());
        Self {
            node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required,
            tolerations: with_defaults.tolerations.unwrap_or_default(),
        }
    }

    /// `NodeShouldRunDaemonPod` for `node`.
    pub fn check(&self, node: &Node) -> Placement {
        let name = node.metadata.name.as_deref().unwrap_or("");
        if self.node_name.as_deref().is_some_and(|n| n != name) || !self.fits_affinity(node) {
            return Placement::default();
        }
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default();
        let untolerated = |effects: &[&str]| {
            taints.iter().any(|taint| {
                effects.contains(&taint.effect.as_str())
                    && !self.tolerations.iter().any(|t| tolerates(t, taint))
            })
        };
        if !untolerated(&[NO_SCHEDULE, NO_EXECUTE]) {
            return Placement {
                should_run: true,
                should_continue_running: true,
            };
        }
        Placement {
            should_run: false,
            should_continue_running: !untolerated(&[NO_EXECUTE]),
        }
    }

    /// `GetRequiredNodeAffinity(pod).Match(node)`: every `nodeSelector` label, and one of the
    /// required terms. Parse errors count as no match, as upstream ignores them.
    fn fits_affinity(&self, node: &Node) -> bool {
        let empty = BTreeMap::new();
        let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
        let selector_ok = self
            .node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v));
        let name = node.metadata.name.as_deref().unwrap_or("");
        selector_ok
            && self
                .required
                .as_ref()
                .is_none_or(|terms| terms.iter().any(|t| t.matches(labels, name)))
    }
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;

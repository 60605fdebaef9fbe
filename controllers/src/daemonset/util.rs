//! Pod-level helpers of the DaemonSet decisions, after upstream's
//! `pkg/controller/daemon/util/daemonset_util.go` (`CreatePodTemplate`,
//! `ReplaceDaemonSetPodNodeNameNodeAffinity`, `GetTargetNodeName`, `IsPodUpdated`,
//! `SurgeCount`, `UnavailableCount`, `AllowsSurge`), `GetPodFromTemplate` of
//! `pkg/controller/controller_utils.go`, and the pod order `podByCreationTimestampAndPhase`.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::placement::{OBJECT_NAME_FIELD, add_daemon_tolerations};
use crate::history::CONTROLLER_REVISION_HASH_LABEL;

/// The legacy label with the DaemonSet's template generation that v1.35 still puts on every
/// pod when the DaemonSet carries [`DEPRECATED_TEMPLATE_GENERATION`] (which the API server's
/// apps/v1 conversion always sets).
pub const POD_TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// The DaemonSet annotation holding its template generation.
pub const DEPRECATED_TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// `GetTemplateGeneration`; an unparsable annotation reads as none, as every caller upstream
/// treats the parse error.
pub fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.metadata
        .annotations
        .as_ref()?
        .get(DEPRECATED_TEMPLATE_GENERATION)?
        .parse()
        .ok()
}

/// The controller reference a DaemonSet puts on its pods and revisions
/// (`metav1.NewControllerRef`).
pub fn controller_ref(ds: &DaemonSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "DaemonSet".into(),
        name: ds.metadata.name.clone().unwrap_or_default(),
        uid: ds.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `CreatePodTemplate`: the template with the daemon tolerations, the template generation
/// label (when known) and the revision hash label (when not empty).
pub fn create_pod_template(
    template: &PodTemplateSpec,
    generation: Option<i64>,
    hash: &str,
) -> PodTemplateSpec {
    let mut out = template.clone();
    add_daemon_tolerations(out.spec.get_or_insert_with(Default::default));
    let labels = out
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default);
    if let Some(generation) = generation {
        labels.insert(POD_TEMPLATE_GENERATION_LABEL.into(), generation.to_string());
    }
    if !hash.is_empty() {
        labels.insert(CONTROLLER_REVISION_HASH_LABEL.into(), hash.into());
    }
    out
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required node affinity becomes the single
/// term `metadata.name In [node]`, so that the scheduler binds the pod to that node. Other
/// required terms are dropped: the controller has already checked them against the node.
pub fn replace_node_name_affinity(affinity: Option<Affinity>, node: &str) -> Affinity {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: OBJECT_NAME_FIELD.into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            ..NodeSelectorTerm::default()
        }],
    };
    let mut affinity = affinity.unwrap_or_default();
    affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default)
        .required_during_scheduling_ignored_during_execution = Some(selector);
    affinity
}

/// The pod a DaemonSet creates on `node` (`syncNodes` + `GetPodFromTemplate`): the prepared
/// template's labels, annotations, finalizers and spec with the node affinity, `generateName`
/// `<ds>-`, the namespace and the controller reference.
pub fn new_daemon_pod(ds: &DaemonSet, template: &PodTemplateSpec, node: &str) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.affinity = Some(replace_node_name_affinity(spec.affinity.take(), node));
    let name = ds.metadata.name.clone().unwrap_or_default();
    // `getPodsPrefix`: no dash when `<name>-` would pass the 253-character limit.
    let prefix = if name.len() < 253 {
        format!("{name}-")
    } else {
        name
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: ds.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref(ds)]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// `GetTargetNodeName`: the bound node, else the node of the first `metadata.name In [..]`
/// field requirement of the required node affinity (a pod the scheduler has not bound yet).
/// `None` when there is neither, or that requirement does not name exactly one node.
pub fn target_node_name(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(name) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(name);
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == OBJECT_NAME_FIELD && r.operator == "In")
        .and_then(|r| match r.values.as_deref() {
            Some([only]) => Some(only.as_str()),
            _ => None,
        })
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

/// The pod's `controller-revision-hash` label, empty when absent.
pub fn pod_hash(pod: &Pod) -> &str {
    label(pod, CONTROLLER_REVISION_HASH_LABEL).unwrap_or("")
}

/// `IsPodUpdated`: the pod carries the current revision's hash, or the current template
/// generation (pods of controllers before revisions existed).
pub fn is_pod_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    let generation_matches = generation
        .is_some_and(|g| label(pod, POD_TEMPLATE_GENERATION_LABEL).unwrap_or("") == g.to_string());
    (!hash.is_empty() && pod_hash(pod) == hash) || generation_matches
}

/// `podByCreationTimestampAndPhase`: bound pods first, then oldest first, then by name.
pub fn compare_pods(a: &Pod, b: &Pod) -> Ordering {
    let unbound = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("")
            .is_empty()
    };
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    unbound(a)
        .cmp(&unbound(b))
        .then_with(|| created(a).cmp(&created(b)))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// The update strategy as upstream's defaulting (`SetDefaults_DaemonSet`) leaves it: no type
/// means `RollingUpdate`, whose `maxUnavailable` defaults to 1 and `maxSurge` to 0. Our API
/// server may store a DaemonSet without those defaults, so they are applied here.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    RollingUpdate {
        max_unavailable: IntOrString,
        max_surge: IntOrString,
    },
    /// `OnDelete`, or a type upstream does not know (which it also never rolls).
    OnDelete,
}

impl Strategy {
    pub fn of(ds: &DaemonSet) -> Self {
        let strategy = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
        match strategy.and_then(|s| s.type_.as_deref()) {
            None | Some("" | "RollingUpdate") => {
                let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
                Self::RollingUpdate {
                    max_unavailable: rolling
                        .and_then(|r| r.max_unavailable.clone())
                        .unwrap_or(IntOrString::Int(1)),
                    max_surge: rolling
                        .and_then(|r| r.max_surge.clone())
                        .unwrap_or(IntOrString::Int(0)),
                }
            }
            Some(_) => Self::OnDelete,
        }
    }

    /// `SurgeCount` out of `desired` nodes; 0 unless rolling.
    pub fn surge_count(&self, desired: usize) -> Result<usize, String> {
        match self {
            Self::RollingUpdate { max_surge, .. } => scaled_value(max_surge, desired),
            Self::OnDelete => Ok(0),
        }
    }

    /// `UnavailableCount` out of `desired` nodes; 0 unless rolling.
    pub fn unavailable_count(&self, desired: usize) -> Result<usize, String> {
        match self {
            Self::RollingUpdate {
                max_unavailable, ..
            } => scaled_value(max_unavailable, desired),
            Self::OnDelete => Ok(0),
        }
    }

    /// `AllowsSurge`: more than one pod per node is allowed during an update.
    pub fn allows_surge(&self) -> bool {
        self.surge_count(1).is_ok_and(|n| n > 0)
    }
}

/// `GetScaledValueFromIntOrPercent` rounding up; negative results read as 0 (validation
/// forbids them; every caller upstream clamps the differences it derives at 0).
fn scaled_value(value: &IntOrString, total: usize) -> Result<usize, String> {
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    let n = match value {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => {
            let percent = s
                .strip_suffix('%')
                .and_then(|p| p.parse::<i64>().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let product = percent.saturating_mul(total);
            // Ceiling division; Rust's `/` already rounds negative quotients up.
            if product > 0 {
                product.saturating_add(99) / 100
            } else {
                product / 100
            }
        }
    };
    Ok(usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodSpec, PreferredSchedulingTerm};

    use super::*;

    fn affinity_with(terms: Vec<NodeSelectorTerm>) -> Affinity {
        Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm::default(),
                ]),
            }),
            ..Affinity::default()
        }
    }

    fn pod_with(affinity: Option<Affinity>, node_name: Option<&str>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                affinity,
                node_name: node_name.map(str::to_owned),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn node_affinity_is_replaced_and_read_back() {
        let user = affinity_with(vec![
            NodeSelectorTerm::default(),
            NodeSelectorTerm::default(),
        ]);
        let replaced = replace_node_name_affinity(Some(user), "n1");
        let node_affinity = replaced.node_affinity.clone().unwrap_or_default();
        let terms = node_affinity
            .required_during_scheduling_ignored_during_execution
            .map(|s| s.node_selector_terms)
            .unwrap_or_default();
        assert_eq!(terms.len(), 1, "the user's required terms give way");
        assert!(
            node_affinity
                .preferred_during_scheduling_ignored_during_execution
                .is_some(),
            "preferences stay"
        );
        assert_eq!(
            target_node_name(&pod_with(Some(replaced), None)),
            Some("n1")
        );
        let fresh = replace_node_name_affinity(None, "n2");
        assert_eq!(
            target_node_name(&pod_with(Some(fresh.clone()), None)),
            Some("n2")
        );
        assert_eq!(
            target_node_name(&pod_with(Some(fresh), Some("bound"))),
            Some("bound")
        );
        assert_eq!(target_node_name(&pod_with(None, None)), None);
        let two = affinity_with(vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: OBJECT_NAME_FIELD.into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
            ..NodeSelectorTerm::default()
        }]);
        assert_eq!(
            target_node_name(&pod_with(Some(two), None)),
            None,
            "not unique"
        );
    }

    #[test]
    fn scaled_values_round_up() {
        let cases = [
            (IntOrString::Int(2), 10, Ok(2)),
            (IntOrString::String("10%".into()), 10, Ok(1)),
            (IntOrString::String("15%".into()), 10, Ok(2)),
            (IntOrString::String("0%".into()), 10, Ok(0)),
            (IntOrString::String("100%".into()), 0, Ok(0)),
            (IntOrString::Int(-1), 10, Ok(0)),
        ];
        for (value, total, want) in cases {
            assert_eq!(scaled_value(&value, total), want, "{value:?} of {total}");
        }
        assert!(scaled_value(&IntOrString::String("10".into()), 10).is_err());
    }
}

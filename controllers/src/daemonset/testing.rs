//! Builders shared by the DaemonSet tests.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy,
    RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::{Container, Node, NodeSpec, Pod, PodSpec, PodTemplateSpec, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub(crate) use crate::replicaset::pods::testing::phase as with_phase;
pub(crate) use crate::replicaset::pods::testing::{created, deleting, pod, ready, ts};

use super::decide::decide;
use super::plan::DaemonSetPlan;
use crate::history::CONTROLLER_REVISION_HASH_LABEL;

pub(crate) const DS_UID: &str = "ds-uid";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A DaemonSet `web` selecting `app=web`, image `nginx:1`, generation 1, default strategy.
pub(crate) fn ds() -> DaemonSet {
    DaemonSet {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some(DS_UID.into()),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", "web")])),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&[("app", "web")])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "c".into(),
                        image: Some("nginx:1".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DaemonSetSpec::default()
        }),
        status: None,
    }
}

pub(crate) fn template_spec(ds: &mut DaemonSet) -> &mut PodSpec {
    ds.spec
        .get_or_insert_with(Default::default)
        .template
        .spec
        .get_or_insert_with(Default::default)
}

/// A new image: a new template, hence a new revision.
pub(crate) fn with_image(mut ds: DaemonSet, image: &str) -> DaemonSet {
    template_spec(&mut ds).containers[0].image = Some(image.into());
    ds.metadata.generation = ds.metadata.generation.map(|g| g + 1);
    ds
}

pub(crate) fn rolling(mut ds: DaemonSet, max_unavailable: IntOrString, surge: i32) -> DaemonSet {
    ds.spec.get_or_insert_with(Default::default).update_strategy = Some(DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_unavailable: Some(max_unavailable),
            max_surge: Some(IntOrString::Int(surge)),
        }),
    });
    ds
}

pub(crate) fn on_delete(mut ds: DaemonSet) -> DaemonSet {
    ds.spec.get_or_insert_with(Default::default).update_strategy = Some(DaemonSetUpdateStrategy {
        type_: Some("OnDelete".into()),
        rolling_update: None,
    });
    ds
}

pub(crate) fn with_status(mut ds: DaemonSet, status: DaemonSetStatus) -> DaemonSet {
    ds.status = Some(status);
    ds
}

pub(crate) fn node(name: &str) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec::default()),
        status: None,
    }
}

pub(crate) fn nodes(names: &[&str]) -> Vec<Node> {
    names.iter().map(|n| node(n)).collect()
}

pub(crate) fn labelled(mut n: Node, pairs: &[(&str, &str)]) -> Node {
    n.metadata
        .labels
        .get_or_insert_with(Default::default)
        .extend(labels(pairs));
    n
}

pub(crate) fn tainted(mut n: Node, key: &str, effect: &str) -> Node {
    n.spec
        .get_or_insert_with(Default::default)
        .taints
        .get_or_insert_with(Vec::new)
        .push(Taint {
            key: key.into(),
            effect: effect.into(),
            ..Taint::default()
        });
    n
}

/// The current revision of `ds` and its hash, as a first sync would create it.
pub(crate) fn revision_of(ds: &DaemonSet) -> (ControllerRevision, String) {
    let plan = decide(ds, &[], &[], &[], ts(0));
    let revision = plan
        .revisions
        .create
        .expect("a first sync creates the revision");
    (revision, plan.hash)
}

/// A pod of `ds` with revision `hash` bound to `node`, Pending.
pub(crate) fn daemon_pod(name: &str, node: &str, hash: &str) -> Pod {
    let mut p = pod(
        name,
        &[("app", "web"), (CONTROLLER_REVISION_HASH_LABEL, hash)],
    );
    p.spec.get_or_insert_with(Default::default).node_name = Some(node.into());
    p.metadata.owner_references = Some(vec![super::util::controller_ref(&ds())]);
    p
}

/// [`daemon_pod`], Running and Ready since t=100.
pub(crate) fn running(name: &str, node: &str, hash: &str) -> Pod {
    ready(daemon_pod(name, node, hash), 100)
}

/// Sorted node names of the plan's creates.
pub(crate) fn created_on(plan: &DaemonSetPlan) -> Vec<&str> {
    let mut nodes: Vec<&str> = plan.create.iter().map(|c| c.node.as_str()).collect();
    nodes.sort_unstable();
    nodes
}

/// Sorted names of the plan's deletes.
pub(crate) fn deleted(plan: &DaemonSetPlan) -> Vec<&str> {
    let mut names: Vec<&str> = plan.delete.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    names
}

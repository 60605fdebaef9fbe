//! Builders shared by the StatefulSet tests: a set `web` in `default` and its pods.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodSpec,
    PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

use k8s_openapi::api::apps::v1::StatefulSetStatus;

use super::decide::{Features, decide_with};
use super::identity::{POD_INDEX_LABEL, POD_NAME_LABEL};
use super::plan::{DeleteReason, StatefulSetPlan};
use crate::history::{CONTROLLER_REVISION_HASH_LABEL, new_revision};
pub(crate) use crate::replicaset::pods::testing::{deleting, phase, pod, ready, ts};

pub(crate) const SET_UID: &str = "set-uid";
/// The tests' clock: pods made `ready(.., LONG_AGO)` are available whatever minReadySeconds.
pub(crate) const NOW: i64 = 100_000;
pub(crate) const LONG_AGO: i64 = 1_000;

pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(&[("app", "web")])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

/// `web`: `replicas` pods of `nginx:1`, OrderedReady, RollingUpdate with partition 0.
pub(crate) fn set(replicas: i32) -> StatefulSet {
    StatefulSet {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some(SET_UID.into()),
            generation: Some(2),
            ..Default::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", "web")])),
                ..Default::default()
            },
            service_name: Some("web".into()),
            template: template("nginx:1"),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    max_unavailable: None,
                }),
            }),
            ..Default::default()
        }),
        status: None,
    }
}

pub(crate) fn spec(set: &mut StatefulSet) -> &mut StatefulSetSpec {
    set.spec.get_or_insert_with(Default::default)
}

/// A `data` claim template.
pub(crate) fn with_claims(mut s: StatefulSet) -> StatefulSet {
    spec(&mut s).volume_claim_templates = Some(vec![PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            labels: Some(labels(&[("tier", "db")])),
            ..Default::default()
        },
        ..Default::default()
    }]);
    s
}

pub(crate) fn set_ref() -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        name: "web".into(),
        uid: SET_UID.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The revision `web` holds for the template with `image`, numbered `number`.
pub(crate) fn revision(image: &str, number: i64) -> ControllerRevision {
    new_revision(
        set_ref(),
        Some("default"),
        &template(image),
        number,
        Some(0),
    )
}

pub(crate) fn name_of(revision: &ControllerRevision) -> String {
    revision.metadata.name.clone().unwrap_or_default()
}

/// A well-formed, Running and long-Ready pod `web-<ordinal>` at `revision`, owned by `web`,
/// with the `data` claim volume when `claims`.
pub(crate) fn member(ordinal: i64, revision: &str, claims: bool) -> Pod {
    let name = format!("web-{ordinal}");
    let index = ordinal.to_string();
    let mut p = ready(
        pod(
            &name,
            &[
                ("app", "web"),
                (CONTROLLER_REVISION_HASH_LABEL, revision),
                (POD_NAME_LABEL, &name),
                (POD_INDEX_LABEL, &index),
            ],
        ),
        LONG_AGO,
    );
    p.metadata.owner_references = Some(vec![set_ref()]);
    if claims {
        p.spec.get_or_insert_with(Default::default).volumes = Some(vec![Volume {
            name: "data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: format!("data-web-{ordinal}"),
                read_only: None,
            }),
            ..Default::default()
        }]);
    }
    p
}

/// An existing claim `data-web-<ordinal>` with these owner references.
pub(crate) fn claim(ordinal: i64, refs: Vec<OwnerReference>) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(format!("data-web-{ordinal}")),
            namespace: Some("default".into()),
            owner_references: (!refs.is_empty()).then_some(refs),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub(crate) fn claims_map(
    claims: Vec<PersistentVolumeClaim>,
) -> BTreeMap<String, PersistentVolumeClaim> {
    claims
        .into_iter()
        .map(|c| (c.metadata.name.clone().unwrap_or_default(), c))
        .collect()
}

pub(crate) fn pod_ref(name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Pod".into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Pending without a Ready condition.
pub(crate) fn unready(p: Pod) -> Pod {
    let mut p = phase(p, "Pending");
    if let Some(status) = p.status.as_mut() {
        status.conditions = None;
    }
    p
}

/// Decides at [`NOW`] with no claims and the default gates.
pub(crate) fn run(
    set: &StatefulSet,
    pods: &[Pod],
    revisions: &[ControllerRevision],
) -> StatefulSetPlan {
    run_with(set, pods, revisions, &BTreeMap::new(), Features::default())
}

pub(crate) fn run_with(
    set: &StatefulSet,
    pods: &[Pod],
    revisions: &[ControllerRevision],
    claims: &BTreeMap<String, PersistentVolumeClaim>,
    features: Features,
) -> StatefulSetPlan {
    decide_with(set, pods, revisions, claims, ts(NOW), features).expect("valid set")
}

pub(crate) fn created(plan: &StatefulSetPlan) -> Vec<&str> {
    plan.create_pods
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect()
}

pub(crate) fn deleted(plan: &StatefulSetPlan) -> Vec<(&str, DeleteReason)> {
    plan.delete_pods
        .iter()
        .map(|d| (d.pod.name.as_str(), d.reason))
        .collect()
}

/// The set at revision `nginx:1` (stored as revision 1) with `n` healthy pods at it.
pub(crate) fn steady(
    mut s: StatefulSet,
    n: i64,
) -> (StatefulSet, Vec<Pod>, Vec<ControllerRevision>) {
    let r1 = revision("nginx:1", 1);
    s.status = Some(StatefulSetStatus {
        current_revision: Some(name_of(&r1)),
        update_revision: Some(name_of(&r1)),
        ..Default::default()
    });
    let pods = (0..n).map(|o| member(o, &name_of(&r1), false)).collect();
    (s, pods, vec![r1])
}

pub(crate) fn parallel(mut s: StatefulSet) -> StatefulSet {
    spec(&mut s).pod_management_policy = Some("Parallel".into());
    s
}

//! A StatefulSet's pods and claims by ordinal: names, identity, storage, the pod built for an
//! ordinal, and the pod predicates the sync uses. Mirrors `pkg/controller/statefulset/
//! stateful_set_utils.go` of v1.35 (`getParentNameAndOrdinal`, `identityMatches`,
//! `storageMatches`, `getPersistentVolumeClaims`, `updateStorage`, `initIdentity`,
//! `updateIdentity`, `newStatefulSetPod`, `newVersionedStatefulSetPod`, `isRunningAndReady`,
//! `isRunningAndAvailable`, `isUnavailable`, `getStartOrdinal`, `getEndOrdinal`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use super::plan::SpecError;
use crate::history::CONTROLLER_REVISION_HASH_LABEL;
use crate::replicaset::pods::{is_pod_available, is_pod_ready};
use crate::replicaset::selector::Selector;

/// The label every pod carries with its own name, so that a Service can select one pod
/// (`apps.StatefulSetPodNameLabel`).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label with the pod's ordinal (`apps.PodIndexLabel`, its gate GA and locked on).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// What a policy field of `persistentVolumeClaimRetentionPolicy` asks for. Upstream treats an
/// unknown value as Retain (`isClaimOwnerUpToDate`'s default branch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RetentionPolicy {
    pub delete_when_deleted: bool,
    pub delete_when_scaled: bool,
}

/// A StatefulSet whose spec was checked once, with the API's defaults applied to unset fields
/// (replicas 1, ordinals.start 0, OrderedReady, RollingUpdate with partition 0, history 10).
pub(super) struct SetCtx<'a> {
    pub set: &'a StatefulSet,
    pub spec: &'a StatefulSetSpec,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub uid: &'a str,
    pub selector: Selector,
    pub replicas: i64,
    pub start: i64,
    pub min_ready: i32,
    /// `podManagementPolicy: Parallel` (upstream's `allowsBurst`).
    pub parallel: bool,
    pub on_delete: bool,
    /// `rollingUpdate.partition` when `rollingUpdate` is present.
    pub partition: Option<i64>,
    pub policy: RetentionPolicy,
}

impl<'a> SetCtx<'a> {
    pub fn new(set: &'a StatefulSet) -> Result<Self, SpecError> {
        let spec = set.spec.as_ref().ok_or(SpecError::MissingSpec)?;
        let selector = Selector::parse(&spec.selector).ok_or(SpecError::InvalidSelector)?;
        let replicas = spec.replicas.unwrap_or(1);
        if replicas < 0 {
            return Err(SpecError::NegativeReplicas(replicas));
        }
        let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
        if start < 0 {
            return Err(SpecError::NegativeOrdinalStart(start));
        }
        let strategy = spec.update_strategy.as_ref();
        let partition = strategy
            .and_then(|s| s.rolling_update.as_ref())
            .map(|r| i64::from(r.partition.unwrap_or(0)));
        let policy = spec.persistent_volume_claim_retention_policy.as_ref();
        let is_delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
        Ok(Self {
            set,
            spec,
            name: set.metadata.name.as_deref().unwrap_or_default(),
            namespace: set.metadata.namespace.as_deref(),
            uid: set.metadata.uid.as_deref().unwrap_or_default(),
            selector,
            replicas: i64::from(replicas),
            start: i64::from(start),
            min_ready: spec.min_ready_seconds.unwrap_or(0),
            parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
            on_delete: strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete"),
            partition,
            policy: RetentionPolicy {
                delete_when_deleted: is_delete(policy.and_then(|p| p.when_deleted.as_ref())),
                delete_when_scaled: is_delete(policy.and_then(|p| p.when_scaled.as_ref())),
            },
        })
    }

    /// Whether `ordinal` lies in `[start, start + replicas)` (`podInOrdinalRange`).
    pub fn in_range(&self, ordinal: i64) -> bool {
        ordinal >= self.start && ordinal < self.start + self.replicas
    }

    fn templates(&self) -> &'a [PersistentVolumeClaim] {
        self.spec
            .volume_claim_templates
            .as_deref()
            .unwrap_or_default()
    }

    /// The controller reference of pods and revisions (`metav1.NewControllerRef`).
    pub fn controller_ref(&self) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: self.name.into(),
            uid: self.uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

/// The parent name and ordinal of a pod name `<parent>-<digits>` (`getParentNameAndOrdinal`):
/// `None` without such a suffix; the ordinal is `None` when the digits overflow an `int32`,
/// as upstream's `ParseInt(.., 10, 32)` fails and leaves -1 while keeping the parent.
pub fn parent_name_and_ordinal(name: &str) -> Option<(&str, Option<i64>)> {
    let (parent, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse::<i32>().ok().map(i64::from)))
}

/// The ordinal of a pod, `None` when its name has none.
pub(super) fn ordinal(pod: &Pod) -> Option<i64> {
    parent_name_and_ordinal(pod.metadata.name.as_deref()?)?.1
}

/// Whether the pod's name says it belongs to the set (`isMemberOf`).
pub(super) fn is_member(ctx: &SetCtx<'_>, pod: &Pod) -> bool {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    parent_name_and_ordinal(name).is_some_and(|(parent, _)| parent == ctx.name)
}

/// `<set>-<ordinal>` (`getPodName`).
pub fn pod_name(set: &str, ordinal: i64) -> String {
    format!("{set}-{ordinal}")
}

/// `<template>-<set>-<ordinal>` (`getPersistentVolumeClaimName`).
pub fn claim_name(template: &str, set: &str, ordinal: i64) -> String {
    format!("{template}-{set}-{ordinal}")
}

fn label<'p>(pod: &'p Pod, key: &str) -> Option<&'p str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

/// The revision a pod was made from: its `controller-revision-hash` label (`getPodRevision`),
/// empty when absent.
pub(super) fn pod_revision(pod: &Pod) -> &str {
    label(pod, CONTROLLER_REVISION_HASH_LABEL).unwrap_or_default()
}

/// Name, namespace and pod-name label as the set wants them (`identityMatches`). The index
/// label and hostname are not checked, as upstream does not.
pub(super) fn identity_matches(ctx: &SetCtx<'_>, pod: &Pod) -> bool {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    match parent_name_and_ordinal(name) {
        Some((parent, Some(ordinal))) => {
            parent == ctx.name
                && name == pod_name(ctx.name, ordinal)
                && pod.metadata.namespace.as_deref() == ctx.namespace
                && label(pod, POD_NAME_LABEL) == Some(name)
        }
        _ => false,
    }
}

/// Whether every claim template has a volume of its name on the pod, bound to the pod's claim
/// (`storageMatches`).
pub(super) fn storage_matches(ctx: &SetCtx<'_>, pod: &Pod) -> bool {
    let Some(ordinal) = ordinal(pod) else {
        return false;
    };
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    ctx.templates().iter().all(|template| {
        let template_name = template.metadata.name.as_deref().unwrap_or_default();
        let want = claim_name(template_name, ctx.name, ordinal);
        // Go fills a map from the volumes, so the last volume of a name wins.
        volumes
            .iter()
            .rev()
            .find(|v| v.name == template_name)
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .is_some_and(|c| c.claim_name == want)
    })
}

/// The claims of the pod with `ordinal`, keyed by template name (`getPersistentVolumeClaims`):
/// the template with the claim's name, the set's namespace, and the template's labels
/// overlaid with the selector's `matchLabels`.
pub(super) fn claims_for(
    ctx: &SetCtx<'_>,
    ordinal: i64,
) -> BTreeMap<String, PersistentVolumeClaim> {
    let match_labels = ctx.spec.selector.match_labels.as_ref();
    ctx.templates()
        .iter()
        .map(|template| {
            let template_name = template.metadata.name.clone().unwrap_or_default();
            let mut claim = template.clone();
            claim.metadata.name = Some(claim_name(&template_name, ctx.name, ordinal));
            claim.metadata.namespace = ctx.namespace.map(str::to_owned);
            claim.metadata.labels = match (claim.metadata.labels.take(), match_labels) {
                (Some(mut labels), Some(extra)) => {
                    labels.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                    Some(labels)
                }
                (Some(labels), None) => Some(labels),
                (None, extra) => extra.cloned(),
            };
            (template_name, claim)
        })
        .collect()
}

/// Points the template-named volumes at the pod's claims, keeping the pod's other volumes
/// after them (`updateStorage`). Claims come in template-name order (Go's map order is
/// random).
pub(super) fn update_storage(ctx: &SetCtx<'_>, pod: &mut Pod) {
    let Some(ordinal) = ordinal(pod) else {
        return;
    };
    let claims = claims_for(ctx, ordinal);
    let spec = pod.spec.get_or_insert_with(Default::default);
    let current = spec.volumes.take().unwrap_or_default();
    let mut volumes: Vec<Volume> = claims
        .iter()
        .map(|(template_name, claim)| Volume {
            name: template_name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.metadata.name.clone().unwrap_or_default(),
                read_only: None,
            }),
            ..Volume::default()
        })
        .collect();
    volumes.extend(
        current
            .into_iter()
            .filter(|v| !claims.contains_key(&v.name)),
    );
    spec.volumes = Some(volumes);
}

/// Name, namespace and the pod-name and pod-index labels (`updateIdentity`).
pub(super) fn update_identity(ctx: &SetCtx<'_>, pod: &mut Pod) {
    let Some(ordinal) = ordinal(pod) else {
        return;
    };
    let name = pod_name(ctx.name, ordinal);
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    pod.metadata.name = Some(name);
    pod.metadata.namespace = ctx.namespace.map(str::to_owned);
}

/// The pod for `ordinal` made from `template` (`newStatefulSetPod`): the template's labels,
/// annotations, finalizers and spec (`GetPodFromTemplate`, whose `generateName` is kept), the
/// identity, hostname and subdomain (`initIdentity`), the storage, and the revision label.
pub(super) fn new_pod(
    ctx: &SetCtx<'_>,
    template: &PodTemplateSpec,
    ordinal: i64,
    revision: &str,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let name = pod_name(ctx.name, ordinal);
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            generate_name: Some(format!("{}-", ctx.name)),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![ctx.controller_ref()]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    update_identity(ctx, &mut pod);
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    spec.subdomain = ctx.spec.service_name.clone().filter(|s| !s.is_empty());
    update_storage(ctx, &mut pod);
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(CONTROLLER_REVISION_HASH_LABEL.into(), revision.into());
    pod
}

/// Whether a new pod for `ordinal` is made at the current revision rather than the update
/// revision (`newVersionedStatefulSetPod`): below the partition, or, without `rollingUpdate`,
/// below the current replica count. Go's `&&`/`||` precedence makes the partition test apply
/// whatever the strategy type; validation only allows `rollingUpdate` with RollingUpdate.
pub(super) fn at_current_revision(ctx: &SetCtx<'_>, ordinal: i64) -> bool {
    match ctx.partition {
        Some(partition) => ordinal < ctx.start + partition,
        None => {
            let current = ctx.set.status.as_ref().and_then(|s| s.current_replicas);
            !ctx.on_delete && ordinal < ctx.start + i64::from(current.unwrap_or(0))
        }
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

/// The API has the pod: its phase is set (`isCreated`).
pub(super) fn is_created(pod: &Pod) -> bool {
    !phase(pod).is_empty()
}

pub(super) fn is_pending(pod: &Pod) -> bool {
    phase(pod) == "Pending"
}

/// Failed or Succeeded: the pod is deleted so that it is made again (`processReplica`).
pub(super) fn is_finished(pod: &Pod) -> bool {
    matches!(phase(pod), "Failed" | "Succeeded")
}

pub(super) fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Phase Running and the Ready condition True (`isRunningAndReady`).
pub(super) fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_pod_ready(pod)
}

/// Ready for longer than `minReadySeconds` (`isRunningAndAvailable`, which despite its name
/// only asks `IsPodAvailable`).
pub(super) fn is_available(ctx: &SetCtx<'_>, pod: &Pod, now: Timestamp) -> bool {
    is_pod_available(pod, ctx.min_ready, now)
}

/// Not available, or terminating (`isUnavailable`).
pub(super) fn is_unavailable(ctx: &SetCtx<'_>, pod: &Pod, now: Timestamp) -> bool {
    !is_available(ctx, pod, now) || is_terminating(pod)
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;

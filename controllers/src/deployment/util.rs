//! Deployment arithmetic and bookkeeping, after upstream's
//! `pkg/controller/deployment/util/deployment_util.go` and the ReplicaSet orderings of
//! `pkg/controller/controller_utils.go`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// The label that tells the ReplicaSets of one Deployment apart.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// Annotations a Deployment does not pass on to its ReplicaSets (`annotationsToSkip`).
const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
];

/// `maxRevHistoryLengthInChars` of sync.go: the revision-history annotation stays under this.
const MAX_REV_HISTORY_LENGTH: usize = 2000;

/// The Deployment's update strategy. A missing type is RollingUpdate, as defaulting sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Strategy {
    RollingUpdate,
    Recreate,
    Unsupported(String),
}

pub(crate) fn strategy(d: &Deployment) -> Strategy {
    let type_ = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref());
    match type_ {
        None | Some("RollingUpdate") => Strategy::RollingUpdate,
        Some("Recreate") => Strategy::Recreate,
        Some(other) => Strategy::Unsupported(other.into()),
    }
}

/// `spec.replicas`, 1 when unset (the API default).
pub(crate) fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub(crate) fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub(crate) fn set_rs_replicas(rs: &mut ReplicaSet, n: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(n);
}

pub(crate) fn rs_name(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or("")
}

pub(crate) fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

pub(crate) fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// `intstr.GetScaledValueFromIntOrPercent`: a percentage of `total`, rounded up or down. A
/// malformed value reads as 0; validation rejects it before it gets here.
pub(crate) fn scaled_value(v: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match v {
        None => 0,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => {
            let Some(pct) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return 0;
            };
            let exact = pct as f64 * f64::from(total) / 100.0;
            let rounded = if round_up {
                exact.ceil()
            } else {
                exact.floor()
            };
            rounded as i32
        }
    }
}

/// `ResolveFenceposts`: maxSurge rounds up, maxUnavailable down, and when both come out 0
/// maxUnavailable becomes 1 "on the theory that surge might not work due to quota" (validation
/// forbids both being 0 explicitly; percentages can still round to it). Not a rolling update:
/// (0, 0).
pub(crate) fn resolve_fenceposts(d: &Deployment) -> (i32, i32) {
    if strategy(d) != Strategy::RollingUpdate {
        return (0, 0);
    }
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let desired = replicas(d);
    let surge = scaled_value(ru.and_then(|r| r.max_surge.as_ref()), desired, true);
    let mut unavailable = scaled_value(ru.and_then(|r| r.max_unavailable.as_ref()), desired, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

pub(crate) fn max_surge(d: &Deployment) -> i32 {
    resolve_fenceposts(d).0
}

/// `MaxUnavailable`: 0 for Recreate or zero replicas, never more than the replicas.
pub(crate) fn max_unavailable(d: &Deployment) -> i32 {
    if strategy(d) != Strategy::RollingUpdate || replicas(d) == 0 {
        return 0;
    }
    resolve_fenceposts(d).1.min(replicas(d))
}

/// The revision annotation: 0 when absent, `None` when it does not parse (`Revision`).
pub(crate) fn revision(rs: &ReplicaSet) -> Option<i64> {
    match rs
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
    {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// `MaxRevision`: the highest parseable revision, 0 for none.
pub(crate) fn max_revision(rss: &[ReplicaSet]) -> i64 {
    rss.iter().filter_map(revision).max().unwrap_or(0).max(0)
}

fn annotation_int(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

pub(crate) fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation_int(rs, DESIRED_REPLICAS_ANNOTATION)
}

/// `SetReplicasAnnotations`: records desired and max (desired + surge) replicas.
pub(crate) fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut updated = false;
    for (key, value) in [
        (DESIRED_REPLICAS_ANNOTATION, desired),
        (MAX_REPLICAS_ANNOTATION, max),
    ] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.into(), value);
            updated = true;
        }
    }
    updated
}

pub(crate) fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let get = |key: &str| rs.metadata.annotations.as_ref().and_then(|a| a.get(key));
    get(DESIRED_REPLICAS_ANNOTATION) != Some(&desired.to_string())
        || get(MAX_REPLICAS_ANNOTATION) != Some(&max.to_string())
}

/// `SetNewReplicaSetAnnotations`: copies the Deployment's annotations, raises the revision to
/// `new_revision` (keeping the one it replaces in the revision history, as a rollback to an old
/// ReplicaSet does), and for a ReplicaSet about to be created records the replica annotations.
/// Returns whether anything changed.
pub(crate) fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = annotations.get(REVISION_ANNOTATION).cloned();
    let old_int = match old.as_deref() {
        None | Some("") => 0,
        // An unparseable revision stops here, as upstream does after logging a warning.
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    if old_int < new_revision {
        annotations.insert(REVISION_ANNOTATION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            append_revision_history(annotations, &old);
        }
    }
    let desired = replicas(d);
    if !exists && set_replicas_annotations(rs, desired, desired + max_surge(d)) {
        changed = true;
    }
    changed
}

/// Appends `old` to the revision history, dropping the oldest entries to stay within
/// [`MAX_REV_HISTORY_LENGTH`] characters and not appending when even that cannot make room.
fn append_revision_history(annotations: &mut BTreeMap<String, String>, old: &str) {
    let history = annotations
        .get(REVISION_HISTORY_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let entries: Vec<&str> = history.split(',').collect();
    if entries.first().is_none_or(|e| e.is_empty()) {
        annotations.insert(REVISION_HISTORY_ANNOTATION.into(), old.into());
        return;
    }
    let mut total = history.len() + old.len() + 1;
    let mut start = 0;
    while total > MAX_REV_HISTORY_LENGTH && start < entries.len() {
        total -= entries[start].len() + 1;
        start += 1;
    }
    if total <= MAX_REV_HISTORY_LENGTH {
        let mut kept: Vec<&str> = entries[start..].to_vec();
        kept.push(old);
        annotations.insert(REVISION_HISTORY_ANNOTATION.into(), kept.join(","));
    }
}

fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if ANNOTATIONS_TO_SKIP.contains(&k.as_str()) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// `EqualIgnoreHash`: whether two templates are the same apart from the pod-template-hash
/// label. Like `Semantic.DeepEqual`, an empty list or map equals an absent one; unlike it,
/// quantities are compared as written ("1" and "1000m" differ) and an empty struct equals an
/// absent one. Both sides come from the same serializer here, so neither difference shows.
pub(crate) fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized_template(a) == normalized_template(b)
}

fn normalized_template(t: &PodTemplateSpec) -> Value {
    let mut t = t.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let mut v = serde_json::to_value(&t).unwrap_or(Value::Null);
    prune_empty(&mut v);
    v
}

/// Drops nulls and empty lists and maps, recursively. Returns whether `v` itself is empty.
fn prune_empty(v: &mut Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(items) => {
            for item in items.iter_mut() {
                prune_empty(item);
            }
            items.is_empty()
        }
        Value::Object(map) => {
            map.retain(|_, child| !prune_empty(child));
            map.is_empty()
        }
        _ => false,
    }
}

/// `FindNewReplicaSet`: the oldest ReplicaSet whose template equals the Deployment's (after
/// a cluster upgrade there can be more than one, issue 40415). `rss` must be sorted by
/// [`by_creation`].
pub(crate) fn find_new_replica_set(d: &Deployment, rss: &[ReplicaSet]) -> Option<usize> {
    let template = d.spec.as_ref().map(|s| &s.template)?;
    rss.iter().position(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| equal_ignore_hash(t, template))
    })
}

/// `ReplicaSetsByCreationTimestamp`: oldest first, names break ties; a missing time is oldest.
pub(crate) fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let ta = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let tb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    ta.cmp(&tb).then_with(|| rs_name(a).cmp(rs_name(b)))
}

/// `ReplicaSetsBySizeNewer`: largest first, newer first among equals (scaling up).
pub(crate) fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(b, a))
}

/// `ReplicaSetsBySizeOlder`: largest first, older first among equals (scaling down).
pub(crate) fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(a, b))
}

/// `ReplicaSetsByRevision`: lowest revision first; unparseable or equal revisions fall back to
/// creation order.
pub(crate) fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match (revision(a), revision(b)) {
        (Some(ra), Some(rb)) if ra != rb => ra.cmp(&rb),
        _ => by_creation(a, b),
    }
}

/// Sum of `spec.replicas` (`GetReplicaCountForReplicaSets`).
pub(crate) fn replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_replicas).sum()
}

/// Sum of `status.replicas` (`GetActualReplicaCountForReplicaSets`).
pub(crate) fn actual_replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_status_replicas).sum()
}

pub(crate) fn ready_replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_ready).sum()
}

pub(crate) fn available_replica_count<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_available).sum()
}

/// `GetTerminatingReplicaCountForReplicaSets`: unknown (`None`) while any synced ReplicaSet
/// does not report its terminating pods; ReplicaSets never synced yet are skipped.
pub(crate) fn terminating_replica_count<'a>(
    rss: impl IntoIterator<Item = &'a ReplicaSet>,
) -> Option<i32> {
    let mut total = 0;
    for rs in rss {
        let status = rs.status.as_ref();
        let terminating = status.and_then(|s| s.terminating_replicas);
        if status.and_then(|s| s.observed_generation).unwrap_or(0) == 0 && terminating.is_none() {
            continue;
        }
        total += terminating?;
    }
    Some(total)
}

/// `NewRSNewReplicas`: how far the new ReplicaSet may grow now. RollingUpdate: up to
/// replicas + maxSurge pods in total, never past the desired replicas; Recreate: all of them.
pub(crate) fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new: &ReplicaSet) -> i32 {
    if strategy(d) != Strategy::RollingUpdate {
        return replicas(d);
    }
    // Upstream resolves maxSurge alone here (not through the fenceposts); same rounding.
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let surge = scaled_value(ru.and_then(|r| r.max_surge.as_ref()), replicas(d), true);
    let current = replica_count(all.iter().copied());
    let max_total = replicas(d) + surge;
    if current >= max_total {
        return rs_replicas(new);
    }
    let scale_up = (max_total - current).min(replicas(d) - rs_replicas(new));
    rs_replicas(new) + scale_up
}

/// `IsSaturated`: the new ReplicaSet runs all desired replicas, all available, and both it and
/// the Deployment agree on the desired count.
pub(crate) fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let Some(desired) = desired_replicas_annotation(rs) else {
        return false;
    };
    let want = replicas(d);
    rs_replicas(rs) == want && desired == want && rs_available(rs) == want
}

/// `GetProportion`: this ReplicaSet's share of `to_add` replicas (negative: to remove), never
/// more than what is left after `added`.
pub(crate) fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `getReplicaSetFraction`: the size this ReplicaSet would have if the Deployment's new size
/// were spread in the proportions recorded by the max-replicas annotation (or, without it, the
/// Deployment's current replicas), minus its current size.
fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if replicas(d) == 0 {
        return -rs_replicas(rs);
    }
    let deployment_replicas = replicas(d) + max_surge(d);
    let annotated = annotation_int(rs, MAX_REPLICAS_ANNOTATION)
        .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    // Upstream divides by it unguarded, relying on never scaling up from zero.
    if annotated <= 0 {
        return 0;
    }
    let size = f64::from(rs_replicas(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
    // `integer.RoundToInt32` rounds half away from zero, as `f64::round` does.
    size.round() as i32 - rs_replicas(rs)
}

pub(crate) fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|s| s != i32::MAX)
}

pub(crate) fn progress_deadline_seconds(d: &Deployment) -> i32 {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(0)
}

/// Whether old ReplicaSets are pruned: the limit is set and not `MaxInt32` (keep all).
pub(crate) fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .filter(|l| *l != i32::MAX)
}

#[cfg(test)]
#[path = "util_tests.rs"]
mod tests;

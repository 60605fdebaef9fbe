//! The "decide" half of the ReplicaSet controller: from a ReplicaSet and the pods of its
//! namespace, the pods to adopt, release, create and delete, and the new status. It mirrors
//! `syncReplicaSet`, `manageReplicas` and `calculateStatus` of upstream's
//! `pkg/controller/replicaset/{replica_set.go,replica_set_utils.go}`; the runtime performs the
//! plan and owns what needs the API's answers (expectations, slow-start batches, the
//! `ReplicaFailure` condition through [`set_replica_failure`]).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::pods::{
    controller_of, controller_ref, is_controlled_by, is_pod_active, is_pod_available, is_pod_ready,
    is_pod_terminating, until_available,
};
use super::ranking::pods_to_delete;
use super::selector::Selector;

/// At most this many pods are created or deleted per sync (upstream's `BurstReplicas`); the
/// next sync, triggered when the runtime has observed them, continues.
pub const BURST_REPLICAS: usize = 500;

/// A pod named in a plan; the UID lets the runtime use it as a precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub name: String,
    pub uid: Option<String>,
}

impl PodRef {
    fn of(pod: &Pod) -> Self {
        Self {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone(),
        }
    }
}

/// Pods to create: `count` copies of `pod` (each gets its name from `generateName`).
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePods {
    pub count: usize,
    pub pod: Pod,
}

/// What one sync of a ReplicaSet should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicaSetPlan {
    /// Orphans that match the selector: set [`controller_ref`] on them (patch with the pod's
    /// UID as a precondition, as upstream's `AdoptPod`).
    pub adopt: Vec<PodRef>,
    /// Pods this ReplicaSet controls that no longer match its selector: drop the reference.
    pub release: Vec<PodRef>,
    /// Pods to create when there are too few.
    pub create: Option<CreatePods>,
    /// Pods to delete when there are too many, best candidates first.
    pub delete: Vec<PodRef>,
    /// The status to write when [`status_changed`] says it differs.
    pub status: ReplicaSetStatus,
    /// Sync again after this long: a Ready pod will then have passed `minReadySeconds`.
    pub requeue_after: Option<Duration>,
}

/// Decides one sync. `pods` are the pods of the ReplicaSet's namespace (others are ignored).
///
/// Deletion ranks pods by how crowded their node is with pods of the same owner; without the
/// sibling ReplicaSets' pods at hand this counts the ReplicaSet's own pods when it has a
/// controller and nothing otherwise (upstream finds no related pods for an RS without a
/// controller). Use [`decide_with_related`] to pass the siblings' pods.
pub fn decide(rs: &ReplicaSet, pods: &[Pod], now: Timestamp) -> ReplicaSetPlan {
    let related: Vec<Pod> = match (controller_of(&rs.metadata), rs_selector(rs)) {
        (Some(_), Some(selector)) => pods
            .iter()
            .filter(|p| selector.matches(p.metadata.labels.as_ref()))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    decide_with_related(rs, pods, &related, now)
}

/// [`decide`] with the pods of every ReplicaSet that shares this one's controller, this one
/// included (upstream's `getIndirectlyRelatedPods`), for the deletion ranking.
pub fn decide_with_related(
    rs: &ReplicaSet,
    pods: &[Pod],
    related: &[Pod],
    now: Timestamp,
) -> ReplicaSetPlan {
    // An invalid selector makes upstream skip the sync without touching anything.
    let Some(selector) = rs_selector(rs) else {
        return ReplicaSetPlan {
            status: rs.status.clone().unwrap_or_default(),
            ..ReplicaSetPlan::default()
        };
    };
    let uid = rs.metadata.uid.as_deref().unwrap_or_default();
    let being_deleted = rs.metadata.deletion_timestamp.is_some();
    let namespace = rs.metadata.namespace.as_deref();
    let in_namespace =
        |p: &&Pod| namespace.is_none() || p.metadata.namespace.as_deref() == namespace;

    let mut plan = ReplicaSetPlan::default();
    let mut active: Vec<&Pod> = Vec::new();
    let mut terminating = 0usize;
    for pod in pods.iter().filter(in_namespace) {
        let matches = selector.matches(pod.metadata.labels.as_ref());
        if is_pod_terminating(pod) {
            // Terminating pods are only counted, never adopted or released
            // (`FilterClaimedPods`).
            if matches && is_controlled_by(&pod.metadata, uid) {
                terminating += 1;
            }
            continue;
        }
        if !is_pod_active(pod) {
            continue;
        }
        // `PodControllerRefManager.ClaimPods`: a ReplicaSet being deleted neither adopts nor
        // releases, so that the garbage collector sees a stable picture.
        match controller_of(&pod.metadata) {
            Some(owner) if owner.uid == uid => {
                if matches {
                    active.push(pod);
                } else if !being_deleted {
                    plan.release.push(PodRef::of(pod));
                }
            }
            Some(_) => {}
            None if matches && !being_deleted => {
                plan.adopt.push(PodRef::of(pod));
                active.push(pod);
            }
            None => {}
        }
    }

    if !being_deleted {
        let want =
            usize::try_from(rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)).unwrap_or(0);
        if active.len() < want {
            let count = (want - active.len()).min(BURST_REPLICAS);
            plan.create = Some(CreatePods {
                count,
                pod: pod_from_template(rs),
            });
        } else if active.len() > want {
            let diff = (active.len() - want).min(BURST_REPLICAS);
            let related: Vec<&Pod> = related.iter().collect();
            plan.delete = pods_to_delete(&active, &related, diff, now)
                .into_iter()
                .map(PodRef::of)
                .collect();
        }
    }

    let min_ready = rs
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    plan.status = calculate_status(rs, &active, terminating, now);
    plan.requeue_after = active
        .iter()
        .filter_map(|p| until_available(p, min_ready, now))
        .min()
        // One second of slack so that the pod is strictly past its deadline on the next sync
        // (upstream adds it for the same clock-skew reason, issue 39785).
        .map(|d| d + Duration::from_secs(1));
    plan
}

fn rs_selector(rs: &ReplicaSet) -> Option<Selector> {
    Selector::parse(&rs.spec.as_ref()?.selector)
}

/// The pod a ReplicaSet creates (`GetPodFromTemplate`): the template's labels, annotations,
/// finalizers and spec, `generateName` `<rs>-`, and the controller reference. The namespace is
/// set too (upstream leaves it to the create call's path).
pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let name = rs.metadata.name.clone().unwrap_or_default();
    // `getPodsPrefix`: the dash is dropped when `<name>-` would not be a valid name prefix,
    // which only happens at the 253-character limit of a DNS subdomain.
    let prefix = if name.len() < 253 {
        format!("{name}-")
    } else {
        name
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: rs.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref(rs)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// `calculateStatus`: counts over the claimed active pods, conditions carried over.
fn calculate_status(
    rs: &ReplicaSet,
    active: &[&Pod],
    terminating: usize,
    now: Timestamp,
) -> ReplicaSetStatus {
    let spec = rs.spec.as_ref();
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let template_labels: BTreeMap<String, String> = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            template_labels
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .count();
    let ready = active.iter().filter(|p| is_pod_ready(p)).count();
    let available = active
        .iter()
        .filter(|p| is_pod_available(p, min_ready, now))
        .count();
    let mut status = rs.status.clone().unwrap_or_default();
    status.replicas = count(active.len());
    status.fully_labeled_replicas = omit_zero(fully_labeled);
    status.ready_replicas = omit_zero(ready);
    status.available_replicas = omit_zero(available);
    // `DeploymentReplicaSetTerminatingReplicas` is on by default in v1.35: always reported.
    status.terminating_replicas = Some(count(terminating));
    status.observed_generation = rs.metadata.generation.filter(|g| *g != 0);
    status
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Zero counters are left out, as Go's `omitempty` leaves them out of upstream's JSON.
fn omit_zero(n: usize) -> Option<i32> {
    (n != 0).then(|| count(n))
}

/// Whether `new` differs from the stored status enough to be written (upstream's
/// `updateReplicaSetStatus` steady-state check, which also writes when the generation has not
/// been observed yet).
pub fn status_changed(rs: &ReplicaSet, new: &ReplicaSetStatus) -> bool {
    let old = rs.status.clone().unwrap_or_default();
    let z = |v: Option<i32>| v.unwrap_or(0);
    old.replicas != new.replicas
        || z(old.fully_labeled_replicas) != z(new.fully_labeled_replicas)
        || z(old.ready_replicas) != z(new.ready_replicas)
        || z(old.available_replicas) != z(new.available_replicas)
        || old.terminating_replicas != new.terminating_replicas
        || rs.metadata.generation.unwrap_or(0) != old.observed_generation.unwrap_or(0)
        || old.conditions.unwrap_or_default() != new.conditions.clone().unwrap_or_default()
}

/// Why creating or deleting pods failed, as the runtime saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManageError<'a> {
    /// A pod create failed with this message.
    Create(&'a str),
    /// A pod delete failed with this message.
    Delete(&'a str),
}

/// Records the outcome of performing a plan in `status`, as `calculateStatus` does with
/// `manageReplicasErr`: a `ReplicaFailure` condition (reason `FailedCreate` or `FailedDelete`)
/// is added on an error when none is present yet, and removed after an error-free sync.
pub fn set_replica_failure(
    status: &mut ReplicaSetStatus,
    error: Option<ManageError<'_>>,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let existing = conditions.iter().position(|c| c.type_ == "ReplicaFailure");
    match (error, existing) {
        (Some(error), None) => {
            let (reason, message) = match error {
                ManageError::Create(m) => ("FailedCreate", m),
                ManageError::Delete(m) => ("FailedDelete", m),
            };
            conditions.push(ReplicaSetCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_transition_time: Some(Time(now)),
            });
        }
        (None, Some(index)) => {
            conditions.remove(index);
        }
        _ => {}
    }
    if conditions.is_empty() {
        status.conditions = None;
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

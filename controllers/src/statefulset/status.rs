//! The StatefulSet status: counts over the claimed pods (`computeReplicaStatus`,
//! `updateStatus`), the completion of a rolling update (`completeRollingUpdate`) and whether
//! the result must be written (`inconsistentStatus`), after `stateful_set_control.go` and
//! `stateful_set_utils.go` of v1.35.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::identity::{
    SetCtx, is_available, is_created, is_running_and_ready, is_terminating, pod_revision,
};

/// The replica counts of a status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub replicas: i64,
    pub ready: i64,
    pub available: i64,
    pub current: i64,
    pub updated: i64,
}

/// Counts over `pods` (`computeReplicaStatus`): created pods are replicas; Running and Ready
/// ones are ready, and available past `minReadySeconds` (terminating ones included, as
/// upstream); created pods that are not terminating count toward the revision they carry.
pub(super) fn count<'p>(
    ctx: &SetCtx<'_>,
    pods: impl IntoIterator<Item = &'p Pod>,
    current: &str,
    update: &str,
    now: Timestamp,
) -> Counts {
    let mut counts = Counts::default();
    for pod in pods {
        let created = is_created(pod);
        counts.replicas += i64::from(created);
        if is_running_and_ready(pod) {
            counts.ready += 1;
            counts.available += i64::from(is_available(ctx, pod, now));
        }
        if created && !is_terminating(pod) {
            let revision = pod_revision(pod);
            counts.current += i64::from(revision == current);
            counts.updated += i64::from(revision == update);
        }
    }
    counts
}

fn to_i32(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

/// Zero counters are left out, as Go's `omitempty` leaves them out of upstream's JSON.
fn omit_zero(n: i64) -> Option<i32> {
    (n > 0).then(|| to_i32(n))
}

fn omit_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The status upstream builds from scratch each sync (conditions are not carried over), with a
/// RollingUpdate that has reached every replica completed (`completeRollingUpdate`): the
/// current revision becomes the update revision.
pub(super) fn build(
    ctx: &SetCtx<'_>,
    counts: Counts,
    current: &str,
    update: &str,
    collision_count: i32,
) -> StatefulSetStatus {
    let mut counts = counts;
    let mut current = current;
    let want = ctx.replicas;
    if !ctx.on_delete && counts.updated == want && counts.ready == want && counts.replicas == want {
        counts.current = counts.updated;
        current = update;
    }
    StatefulSetStatus {
        observed_generation: ctx.set.metadata.generation.filter(|g| *g != 0),
        replicas: to_i32(counts.replicas),
        ready_replicas: omit_zero(counts.ready),
        // `availableReplicas` has no omitempty upstream.
        available_replicas: Some(to_i32(counts.available)),
        current_replicas: omit_zero(counts.current),
        updated_replicas: omit_zero(counts.updated),
        current_revision: omit_empty(current),
        update_revision: omit_empty(update),
        collision_count: Some(collision_count),
        conditions: None,
    }
}

/// Whether `new` must be written over the set's status (`inconsistentStatus`): a newer
/// observed generation or any count or revision differs. `collisionCount` alone does not
/// count, as upstream.
pub fn status_changed(set: &StatefulSet, new: &StatefulSetStatus) -> bool {
    let old = set.status.clone().unwrap_or_default();
    let z = |v: Option<i32>| v.unwrap_or(0);
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    new.observed_generation.unwrap_or(0) > old.observed_generation.unwrap_or(0)
        || new.replicas != old.replicas
        || z(new.current_replicas) != z(old.current_replicas)
        || z(new.ready_replicas) != z(old.ready_replicas)
        || z(new.updated_replicas) != z(old.updated_replicas)
        || s(&new.current_revision) != s(&old.current_revision)
        || z(new.available_replicas) != z(old.available_replicas)
        || s(&new.update_revision) != s(&old.update_revision)
}

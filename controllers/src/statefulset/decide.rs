//! The "decide" half of the StatefulSet controller: from a StatefulSet, the pods of its
//! namespace, its ControllerRevisions and the claims of its namespace, the revisions to write,
//! the pods and claims to create, update and delete, and the new status, without I/O. It
//! mirrors `sync`/`getPodsForStatefulSet` of `stateful_set.go` and `UpdateStatefulSet`,
//! `performUpdate`, `updateStatefulSet`, `processReplica`, `processCondemned` of
//! `stateful_set_control.go` (v1.35).
//!
//! OrderedReady sets take at most one step per sync: create the lowest missing ordinal, or
//! wait until every pod is Running, Ready and available; scale down from the highest ordinal
//! one pod at a time. Parallel sets create, fix and delete all at once. Rolling updates delete
//! the highest ordinal not at the update revision ([`super::rolling`]).
//!
//! Differences from upstream: a Parallel sync creates at most [`MAX_CREATES_PER_SYNC`] pods
//! (upstream's slow-start batches go on until an error; the next sync continues here); a claim
//! for a new pod is created with the owner reference `whenDeleted: Delete` asks for (upstream
//! adds it by a second write after the pod exists; the end state is the same); an error (a
//! claim being deleted) stops the rest of the replicas in both policies.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;

use super::identity::{
    SetCtx, at_current_revision, claims_for, identity_matches, is_available, is_finished,
    is_member, is_pending, is_running_and_ready, is_terminating, is_unavailable, new_pod, ordinal,
    storage_matches, update_identity, update_storage,
};
use super::plan::{
    ClaimCreate, DeletePod, DeleteReason, PodRef, SpecError, StatefulSetPlan, Verb, pod_event,
};
use super::retention::{claim_is_stale, claims_to_update, updated_owner_refs};
use super::revisions::{Resolved, resolve};
use super::rolling::rolling_update;
use super::status::{build, count, status_changed};
use crate::replicaset::pods::controller_of;

/// At most this many pods a Parallel sync creates (upstream's `MaxBatchSize`).
pub const MAX_CREATES_PER_SYNC: usize = 500;

/// Feature gates that change the decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// `MaxUnavailableStatefulSet`: honour `rollingUpdate.maxUnavailable`. Beta and on in
    /// v1.35.0, turned off by default from v1.35.4 (kubernetes#137926) after a Parallel
    /// regression, hence off here.
    pub max_unavailable_stateful_set: bool,
}

/// Decides one sync with the default feature gates; see [`decide_with`].
pub fn decide(
    set: &StatefulSet,
    pods: &[Pod],
    revisions: &[ControllerRevision],
    claims: &BTreeMap<String, PersistentVolumeClaim>,
    now: Timestamp,
) -> Result<StatefulSetPlan, SpecError> {
    decide_with(set, pods, revisions, claims, now, Features::default())
}

/// Decides one sync. `pods` and `claims` are those of the set's namespace (others are
/// ignored), `revisions` the ControllerRevisions the set owns.
pub fn decide_with(
    set: &StatefulSet,
    pods: &[Pod],
    revisions: &[ControllerRevision],
    claims: &BTreeMap<String, PersistentVolumeClaim>,
    now: Timestamp,
    features: Features,
) -> Result<StatefulSetPlan, SpecError> {
    let ctx = SetCtx::new(set)?;
    let mut plan = StatefulSetPlan::default();
    let claimed = claim_pods(&ctx, pods, &mut plan);
    let resolved = resolve(&ctx, revisions, &claimed)?;
    let mut sync = Sync {
        ctx: &ctx,
        claims,
        now,
        resolved: &resolved,
        plan,
        current_delta: 0,
    };

    // Pods in range by ordinal (a later namesake wins, as upstream's slice assignment), and
    // condemned pods beyond it, highest ordinal first.
    let mut in_range: BTreeMap<i64, &Pod> = BTreeMap::new();
    let mut condemned: Vec<(i64, &Pod)> = Vec::new();
    for pod in &claimed {
        match ordinal(pod) {
            Some(o) if ctx.in_range(o) => {
                in_range.insert(o, pod);
            }
            Some(o) => condemned.push((o, pod)),
            None => {}
        }
    }
    condemned.sort_by_key(|c| std::cmp::Reverse(c.0));

    let (current, update) = (&resolved.plan.current, &resolved.plan.update);
    let counted: Vec<&Pod> = if set.metadata.deletion_timestamp.is_some() {
        claimed.clone()
    } else {
        sync.run(&in_range, &condemned, features)?;
        in_range
            .values()
            .chain(condemned.iter().map(|(_, p)| p))
            .copied()
            .collect()
    };
    let mut counts = count(&ctx, counted, current, update, now);
    counts.current -= sync.current_delta;
    let mut plan = sync.plan;
    plan.status = build(&ctx, counts, current, update, resolved.collision_count);
    plan.status_changed = status_changed(set, &plan.status);
    let available = i64::from(plan.status.available_replicas.unwrap_or(0));
    if ctx.min_ready > 0 && available != ctx.replicas {
        plan.requeue_after = Some(Duration::from_secs(ctx.min_ready.unsigned_abs().into()));
    }
    plan.revisions = resolved.plan.clone();
    Ok(plan)
}

/// The pods the set owns or may adopt (`getPodsForStatefulSet` → `ClaimPods` with
/// `isMemberOf`): a pod matches when the selector selects it and its name is `<set>-<n>`.
/// A set being deleted neither adopts nor releases; terminating orphans are not adopted.
fn claim_pods<'p>(ctx: &SetCtx<'_>, pods: &'p [Pod], plan: &mut StatefulSetPlan) -> Vec<&'p Pod> {
    let being_deleted = ctx.set.metadata.deletion_timestamp.is_some();
    let mut claimed = Vec::new();
    for pod in pods {
        if ctx.namespace.is_some() && pod.metadata.namespace.as_deref() != ctx.namespace {
            continue;
        }
        let matches = ctx.selector.matches(pod.metadata.labels.as_ref()) && is_member(ctx, pod);
        match controller_of(&pod.metadata) {
            Some(owner) if owner.uid == ctx.uid => {
                if matches {
                    claimed.push(pod);
                } else if !being_deleted {
                    plan.release.push(PodRef::from(pod));
                }
            }
            Some(_) => {}
            None if matches && !being_deleted && !is_terminating(pod) => {
                plan.adopt.push(PodRef::from(pod));
                claimed.push(pod);
            }
            None => {}
        }
    }
    claimed
}

/// What processing one pod says about the ones after it.
enum Step {
    /// Nothing blocks.
    Next,
    /// An OrderedReady set waits here; a Parallel one goes on.
    Wait,
    /// An error upstream returns: nothing more this sync.
    Fail(String),
}

pub(super) struct Sync<'a> {
    pub ctx: &'a SetCtx<'a>,
    pub claims: &'a BTreeMap<String, PersistentVolumeClaim>,
    pub now: Timestamp,
    pub resolved: &'a Resolved,
    pub plan: StatefulSetPlan,
    /// Pods at the current revision deleted for the update (`status.CurrentReplicas--`).
    pub current_delta: i64,
}

impl Sync<'_> {
    /// `updateStatefulSet` after the revisions: replicas, condemned pods, then the update.
    fn run(
        &mut self,
        in_range: &BTreeMap<i64, &Pod>,
        condemned: &[(i64, &Pod)],
        features: Features,
    ) -> Result<(), SpecError> {
        let monotonic = !self.ctx.parallel;
        let stop = |step: Step, plan: &mut StatefulSetPlan| match step {
            Step::Next => false,
            Step::Wait => monotonic,
            Step::Fail(error) => {
                plan.error = Some(error);
                true
            }
        };

        let (start, end) = (self.ctx.start, self.ctx.start + self.ctx.replicas);
        let mut created = 0usize;
        let mut next = Some(start);
        while let Some(o) = next.filter(|o| *o < end) {
            let step = match in_range.get(&o) {
                Some(pod) => self.process_replica(pod, monotonic),
                None if created < MAX_CREATES_PER_SYNC => {
                    created += 1;
                    self.create_replica(o, monotonic)
                }
                None => Step::Next,
            };
            if stop(step, &mut self.plan) {
                return Ok(());
            }
            // Past the create budget, skip straight to the next existing pod.
            next = if created < MAX_CREATES_PER_SYNC {
                Some(o + 1)
            } else {
                in_range.range(o + 1..).next().map(|(o, _)| *o)
            };
        }

        for (_, pod) in condemned {
            let updates = claims_to_update(self.ctx, self.claims, pod);
            self.plan.update_claims.extend(updates);
        }
        // Upstream's `firstUnavailablePod` among the condemned, lowest ordinal first; every
        // replica is available when an OrderedReady set gets here.
        let first_unavailable = condemned
            .iter()
            .rev()
            .find(|(_, p)| is_unavailable(self.ctx, p, self.now));
        for (_, pod) in condemned {
            let first = first_unavailable.is_some_and(|(_, f)| std::ptr::eq(*f, *pod));
            if stop(
                self.process_condemned(pod, first, monotonic),
                &mut self.plan,
            ) {
                return Ok(());
            }
        }

        if self.ctx.on_delete {
            return Ok(());
        }
        rolling_update(self, in_range, features.max_unavailable_stateful_set)
    }

    pub(super) fn delete(&mut self, pod: &Pod, reason: DeleteReason) {
        self.plan.delete_pods.push(DeletePod {
            pod: PodRef::from(pod),
            reason,
        });
    }

    /// Whether this plan already deletes the pod.
    pub(super) fn deleting(&self, pod: &Pod) -> bool {
        self.plan
            .delete_pods
            .iter()
            .any(|d| Some(&d.pod.name) == pod.metadata.name.as_ref())
    }

    /// The missing claims of `pod` to create first, with the references the retention policy
    /// asks for (`createPersistentVolumeClaims`); a claim being deleted is an error.
    fn create_claims(&mut self, pod: &Pod, ordinal: i64) -> Result<(), String> {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let mut error = None;
        for mut claim in claims_for(self.ctx, ordinal).into_values() {
            let name = claim.metadata.name.clone().unwrap_or_default();
            match self.claims.get(&name) {
                Some(existing) if existing.metadata.deletion_timestamp.is_some() => {
                    error = Some(format!("pvc {name} is being deleted"));
                }
                Some(_) => {}
                None => {
                    claim.metadata.owner_references =
                        Some(updated_owner_refs(self.ctx, &claim, pod)).filter(|r| !r.is_empty());
                    self.plan.create_claims.push(ClaimCreate {
                        claim,
                        pod: pod_name.clone(),
                    });
                }
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// A missing ordinal (`processReplica` on a pod not created yet).
    fn create_replica(&mut self, ordinal: i64, monotonic: bool) -> Step {
        let r = self.resolved;
        let pod = if at_current_revision(self.ctx, ordinal) {
            new_pod(self.ctx, &r.current_template, ordinal, &r.plan.current)
        } else {
            new_pod(self.ctx, &r.update_template, ordinal, &r.plan.update)
        };
        if claim_is_stale(self.ctx, self.claims, &pod) {
            return Step::Wait;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        if let Err(error) = self.create_claims(&pod, ordinal) {
            self.plan
                .events
                .push(pod_event(Verb::Create, self.ctx.name, &name, Some(&error)));
            return Step::Fail(error);
        }
        let updates = claims_to_update(self.ctx, self.claims, &pod);
        self.plan.update_claims.extend(updates);
        self.plan.create_pods.push(pod);
        if monotonic { Step::Wait } else { Step::Next }
    }

    /// An existing pod in range (`processReplica`).
    fn process_replica(&mut self, pod: &Pod, monotonic: bool) -> Step {
        if is_finished(pod) {
            if !is_terminating(pod) {
                self.delete(pod, DeleteReason::Recreate);
            }
            // Made again on a later sync, once the API has let go of the name.
            return Step::Wait;
        }
        let Some(o) = ordinal(pod) else {
            return Step::Next;
        };
        if is_pending(pod) {
            // `createMissingPersistentVolumeClaims`.
            if let Err(error) = self.create_claims(pod, o) {
                return Step::Fail(error);
            }
        }
        if monotonic
            && (is_terminating(pod)
                || !is_running_and_ready(pod)
                || !is_available(self.ctx, pod, self.now))
        {
            return Step::Wait;
        }
        // `UpdateStatefulPod`: identity and storage, then the claims' references.
        let mut fixed = pod.clone();
        let mut dirty = false;
        if !identity_matches(self.ctx, pod) {
            update_identity(self.ctx, &mut fixed);
            dirty = true;
        }
        if !storage_matches(self.ctx, pod) {
            update_storage(self.ctx, &mut fixed);
            dirty = true;
            if let Err(error) = self.create_claims(&fixed, o) {
                let name = fixed.metadata.name.clone().unwrap_or_default();
                self.plan
                    .events
                    .push(pod_event(Verb::Update, self.ctx.name, &name, Some(&error)));
                return Step::Fail(error);
            }
        }
        let updates = claims_to_update(self.ctx, self.claims, &fixed);
        self.plan.update_claims.extend(updates);
        if dirty {
            self.plan.update_pods.push(fixed);
        }
        Step::Next
    }

    /// A pod beyond the replicas (`processCondemned`).
    fn process_condemned(&mut self, pod: &Pod, first_unavailable: bool, monotonic: bool) -> Step {
        if is_terminating(pod) {
            return Step::Wait;
        }
        let healthy = is_running_and_ready(pod) && is_available(self.ctx, pod, self.now);
        if monotonic && !healthy && !first_unavailable {
            return Step::Wait;
        }
        self.delete(pod, DeleteReason::ScaleDown);
        Step::Wait
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "claims_tests.rs"]
mod claims_tests;

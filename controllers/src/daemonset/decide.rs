//! The "decide" half of the DaemonSet controller: from a DaemonSet, the nodes, the pods and
//! revisions of its namespace, one pod per eligible node, without I/O. It mirrors
//! `syncDaemonSet`, `manage`, `podsShouldBeOnNode`, `syncNodes` and `updateDaemonSetStatus` of
//! upstream's `pkg/controller/daemon/daemon_controller.go` (v1.35); the per-node work is in
//! `manage.rs`, the rolling update in `rolling.rs`, the history in `revisions.rs`, the node
//! predicates in `placement.rs`.
//!
//! Deliberate differences: nodes and the per-node pod map are walked in name order where
//! upstream walks a lister list or a Go map (so the candidates a rolling update picks are
//! deterministic); the spec is read with upstream's API defaults applied ([`Strategy::of`],
//! `revisionHistoryLimit` 10); create/delete expectations and slow-start batches stay with the
//! runtime, which says through [`SyncInput::expectations_satisfied`] whether the last plan's
//! creates and deletes have all been observed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;

use super::backoff::FailedPodBackoff;
use super::manage::manage;
use super::placement::{DaemonPlacement, Placement};
use super::plan::{
    CreatePod, DaemonSetPlan, Event, EventType, ObjectRef, SELECTING_ALL_REASON, SyncError,
};
use super::revisions::{cleanup_history, construct_history};
use super::rolling::rolling_update;
use super::util::{
    Strategy, compare_pods, create_pod_template, is_pod_updated, new_daemon_pod, target_node_name,
    template_generation,
};
use crate::replicaset::pods::{controller_of, is_pod_available, is_pod_ready, is_pod_terminal};
use crate::replicaset::selector::Selector;

/// At most this many pods are created, and this many deleted, per sync (`BurstReplicas`).
pub const BURST_REPLICAS: usize = 250;

/// Everything one sync reads.
#[derive(Debug, Clone, Copy)]
pub struct SyncInput<'a> {
    pub ds: &'a DaemonSet,
    /// Every node of the cluster.
    pub nodes: &'a [Node],
    /// The pods of the DaemonSet's namespace (others are ignored).
    pub pods: &'a [Pod],
    /// The ControllerRevisions of the DaemonSet's namespace (others are ignored).
    pub revisions: &'a [ControllerRevision],
    /// The backoff the previous plan of this DaemonSet returned.
    pub backoff: &'a FailedPodBackoff,
    /// False while creates or deletes of an earlier plan are still unobserved: then only the
    /// history and the status are decided, and `observedGeneration` is not raised.
    pub expectations_satisfied: bool,
    pub now: Timestamp,
}

/// [`decide_sync`] with no backoff history and satisfied expectations.
pub fn decide(
    ds: &DaemonSet,
    nodes: &[Node],
    pods: &[Pod],
    revisions: &[ControllerRevision],
    now: Timestamp,
) -> DaemonSetPlan {
    decide_sync(&SyncInput {
        ds,
        nodes,
        pods,
        revisions,
        backoff: &FailedPodBackoff::default(),
        expectations_satisfied: true,
        now,
    })
}

/// What the steps of one sync share.
pub(super) struct SyncCtx<'a> {
    pub ds: &'a DaemonSet,
    pub hash: &'a str,
    pub generation: Option<i64>,
    pub min_ready: i32,
    pub now: Timestamp,
    pub strategy: Strategy,
    /// Every node, by name, with its placement.
    pub nodes: BTreeMap<&'a str, Placement>,
    /// `getNodesToDaemonPods(ds, false)`: the claimed pods by target node, without terminal
    /// pods that are already being deleted.
    pub node_pods: BTreeMap<&'a str, Vec<&'a Pod>>,
}

impl SyncCtx<'_> {
    pub fn available(&self, pod: &Pod) -> bool {
        is_pod_available(pod, self.min_ready, self.now)
    }

    pub fn updated(&self, pod: &Pod) -> bool {
        is_pod_updated(pod, self.hash, self.generation)
    }
}

fn in_namespace(ds: &DaemonSet, namespace: Option<&str>) -> bool {
    let own = ds.metadata.namespace.as_deref();
    own.is_none() || namespace == own
}

/// Decides one sync of `input.ds`.
pub fn decide_sync(input: &SyncInput<'_>) -> DaemonSetPlan {
    let ds = input.ds;
    let mut plan = DaemonSetPlan {
        status: ds.status.clone().unwrap_or_default(),
        backoff: input.backoff.clone(),
        ..DaemonSetPlan::default()
    };
    plan.backoff.gc(input.now);
    let Some(spec) = ds.spec.as_ref() else {
        plan.error = Some(SyncError::MissingSpec);
        return plan;
    };
    let selector = Selector::parse(&spec.selector);
    if selector.as_ref().is_some_and(Selector::is_everything) {
        plan.events.push(Event {
            type_: EventType::Warning,
            reason: SELECTING_ALL_REASON,
            message: "This daemon set is selecting all pods. A non-empty selector is required."
                .into(),
        });
        return plan;
    }
    // Upstream computes no status for a DaemonSet being deleted: its revisions may already
    // be gone or orphaned.
    if ds.metadata.deletion_timestamp.is_some() {
        return plan;
    }
    let Some(selector) = selector else {
        plan.error = Some(SyncError::InvalidSelector);
        return plan;
    };

    let mut claimed = claim_pods(ds, &selector, input.pods, &mut plan);
    let revisions: Vec<&ControllerRevision> = input
        .revisions
        .iter()
        .filter(|r| in_namespace(ds, r.metadata.namespace.as_deref()))
        .collect();
    let history = match construct_history(
        ds,
        &spec.template,
        &selector,
        &revisions,
        &mut claimed,
        &mut plan.revisions,
    ) {
        Ok(history) => history,
        Err(error) => {
            // Upstream stops before claiming pods; only the collision count is written.
            plan.adopt.clear();
            plan.release.clear();
            if let SyncError::HashCollision {
                collision_count, ..
            } = &error
            {
                plan.status.collision_count = Some(*collision_count);
                plan.status_changed = true;
            }
            plan.error = Some(error);
            return plan;
        }
    };
    plan.hash = history.hash.clone();

    let placement =
        DaemonPlacement::new(spec.template.spec.as_ref().unwrap_or(&Default::default()));
    let ctx = SyncCtx {
        ds,
        hash: &history.hash,
        generation: template_generation(ds),
        min_ready: spec.min_ready_seconds.unwrap_or(0),
        now: input.now,
        strategy: Strategy::of(ds),
        nodes: input
            .nodes
            .iter()
            .map(|n| (n.metadata.name.as_deref().unwrap_or(""), placement.check(n)))
            .collect(),
        node_pods: node_pods(&claimed, false),
    };

    if input.expectations_satisfied {
        let (create, delete) = manage(&ctx, &mut plan);
        sync_nodes(&ctx, &mut plan, create, delete);
        // Upstream rolls only when `manage` set no expectations, i.e. did nothing.
        if plan.create.is_empty()
            && plan.delete.is_empty()
            && matches!(ctx.strategy, Strategy::RollingUpdate { .. })
        {
            match rolling_update(&ctx) {
                Ok((create, delete)) => sync_nodes(&ctx, &mut plan, create, delete),
                Err(error) => plan.error = Some(error),
            }
        }
        if plan.error.is_none() {
            plan.revisions.delete_old = cleanup_history(ds, &history.old, &claimed);
        }
    }
    update_status(&ctx, &mut plan, input.expectations_satisfied);
    plan
}

/// `getDaemonPods` (`ClaimPods`): pods this DaemonSet controls and the selector matches,
/// terminal ones included, plus matching orphans that are not being deleted (adopted).
/// Controlled pods that stopped matching are released.
fn claim_pods<'a>(
    ds: &DaemonSet,
    selector: &Selector,
    pods: &'a [Pod],
    plan: &mut DaemonSetPlan,
) -> Vec<Cow<'a, Pod>> {
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    let mut claimed = Vec::new();
    for pod in pods
        .iter()
        .filter(|p| in_namespace(ds, p.metadata.namespace.as_deref()))
    {
        let matches = selector.matches(pod.metadata.labels.as_ref());
        match controller_of(&pod.metadata) {
            Some(owner) if owner.uid == uid => {
                if matches {
                    claimed.push(Cow::Borrowed(pod));
                } else {
                    plan.release.push(pod.into());
                }
            }
            Some(_) => {}
            None if matches && pod.metadata.deletion_timestamp.is_none() => {
                plan.adopt.push(pod.into());
                claimed.push(Cow::Borrowed(pod));
            }
            None => {}
        }
    }
    claimed
}

/// `getNodesToDaemonPods`: claimed pods by target node; pods without one are skipped, and
/// terminal pods being deleted too unless `include_deleted_terminal`.
pub(super) fn node_pods<'a>(
    claimed: &'a [Cow<'_, Pod>],
    include_deleted_terminal: bool,
) -> BTreeMap<&'a str, Vec<&'a Pod>> {
    let mut by_node: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for pod in claimed.iter().map(|p| &**p) {
        if !include_deleted_terminal
            && is_pod_terminal(pod)
            && pod.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        if let Some(node) = target_node_name(pod) {
            by_node.entry(node).or_default().push(pod);
        }
    }
    by_node
}

/// `syncNodes`: the pods to create from the prepared template, each aimed at its node, and the
/// pods to delete, both cut to [`BURST_REPLICAS`].
fn sync_nodes(ctx: &SyncCtx<'_>, plan: &mut DaemonSetPlan, create: Vec<&str>, delete: Vec<&Pod>) {
    if !create.is_empty()
        && let Some(spec) = ctx.ds.spec.as_ref()
    {
        let template = create_pod_template(&spec.template, ctx.generation, ctx.hash);
        plan.create.extend(
            create
                .into_iter()
                .take(BURST_REPLICAS)
                .map(|node| CreatePod {
                    node: node.to_owned(),
                    pod: new_daemon_pod(ctx.ds, &template, node),
                }),
        );
    }
    plan.delete
        .extend(delete.into_iter().take(BURST_REPLICAS).map(ObjectRef::from));
}

/// `updateDaemonSetStatus` + `storeDaemonSetStatus`: per node that should run the daemon, the
/// oldest of its pods is counted; pods on other nodes are misscheduled.
fn update_status(ctx: &SyncCtx<'_>, plan: &mut DaemonSetPlan, observe_generation: bool) {
    let (mut desired, mut current, mut misscheduled) = (0, 0, 0);
    let (mut ready, mut updated, mut available) = (0, 0, 0);
    for (node, placement) in &ctx.nodes {
        let oldest = ctx
            .node_pods
            .get(node)
            .and_then(|pods| pods.iter().copied().min_by(|a, b| compare_pods(a, b)));
        if !placement.should_run {
            misscheduled += usize::from(oldest.is_some());
            continue;
        }
        desired += 1;
        let Some(pod) = oldest else { continue };
        current += 1;
        if is_pod_ready(pod) {
            ready += 1;
            available += usize::from(ctx.available(pod));
        }
        updated += usize::from(ctx.updated(pod));
    }
    let old = ctx.ds.status.clone().unwrap_or_default();
    let generation = ctx.ds.metadata.generation.unwrap_or(0);
    let z = |v: Option<i32>| v.unwrap_or(0);
    let unchanged = old.desired_number_scheduled == count(desired)
        && old.current_number_scheduled == count(current)
        && old.number_misscheduled == count(misscheduled)
        && old.number_ready == count(ready)
        && z(old.updated_number_scheduled) == count(updated)
        && z(old.number_available) == count(available)
        && z(old.number_unavailable) == count(desired - available)
        && old.observed_generation.unwrap_or(0) >= generation;
    let mut status = DaemonSetStatus {
        desired_number_scheduled: count(desired),
        current_number_scheduled: count(current),
        number_misscheduled: count(misscheduled),
        number_ready: count(ready),
        updated_number_scheduled: omit_zero(updated),
        number_available: omit_zero(available),
        number_unavailable: omit_zero(desired - available),
        ..old
    };
    if observe_generation {
        status.observed_generation = ctx.ds.metadata.generation.filter(|g| *g != 0);
    }
    plan.status = status;
    plan.status_changed = !unchanged;
    // A last line of defence against clock skew: look again once minReadySeconds have passed.
    if ctx.min_ready > 0 && ready != available {
        plan.requeue(Duration::from_secs(
            u64::try_from(ctx.min_ready).unwrap_or(0),
        ));
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Zero counters are left out, as Go's `omitempty` leaves them out of upstream's JSON.
fn omit_zero(n: usize) -> Option<i32> {
    (n != 0).then(|| count(n))
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

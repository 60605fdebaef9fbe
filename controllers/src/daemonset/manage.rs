//! `manage` and `podsShouldBeOnNode` of upstream's `pkg/controller/daemon/daemon_controller.go`:
//! per node, the daemon pod to create, the surplus, failed, succeeded or misplaced pods to
//! delete, with the failed-pod backoff and the events upstream raises on the way.

use k8s_openapi::api::core::v1::Pod;

use super::decide::SyncCtx;
use super::placement::Placement;
use super::plan::{
    DaemonSetPlan, Event, EventType, FAILED_DAEMON_POD_REASON, SUCCEEDED_DAEMON_POD_REASON,
};
use super::util::{compare_pods, pod_hash};
use crate::replicaset::pods::is_pod_ready;

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn unbound(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
        .is_empty()
}

/// `manage`: per node, `podsShouldBeOnNode`; then the unbound pods aimed at nodes that do
/// not exist (the pod GC cannot see those).
pub(super) fn manage<'a>(
    ctx: &SyncCtx<'a>,
    plan: &mut DaemonSetPlan,
) -> (Vec<&'a str>, Vec<&'a Pod>) {
    let mut create = Vec::new();
    let mut delete = Vec::new();
    for (&node, &placement) in &ctx.nodes {
        pods_should_be_on_node(ctx, plan, node, placement, &mut create, &mut delete);
    }
    for (node, pods) in &ctx.node_pods {
        if !ctx.nodes.contains_key(node) {
            delete.extend(pods.iter().copied().filter(|p| unbound(p)));
        }
    }
    (create, delete)
}

/// `podsShouldBeOnNode`.
fn pods_should_be_on_node<'a>(
    ctx: &SyncCtx<'a>,
    plan: &mut DaemonSetPlan,
    node: &'a str,
    placement: Placement,
    create: &mut Vec<&'a str>,
    delete: &mut Vec<&'a Pod>,
) {
    let pods = ctx.node_pods.get(node);
    if placement.should_run && pods.is_none() {
        create.push(node);
        return;
    }
    let live = pods
        .into_iter()
        .flatten()
        .copied()
        .filter(|p| p.metadata.deletion_timestamp.is_none());
    if !placement.should_continue_running {
        delete.extend(live);
        return;
    }
    let mut running = Vec::new();
    for pod in live {
        match phase(pod) {
            "Failed" => {
                // The kubelet may keep rejecting the pod: back off per node.
                let generation = ctx
                    .ds
                    .status
                    .as_ref()
                    .and_then(|s| s.observed_generation)
                    .unwrap_or(0);
                if let Some(delay) = plan.backoff.in_backoff(generation, node, ctx.now) {
                    plan.requeue(delay);
                    continue;
                }
                plan.backoff.next(generation, node, ctx.now);
                plan.events.push(pod_event(
                    EventType::Warning,
                    FAILED_DAEMON_POD_REASON,
                    "Found failed daemon pod",
                    pod,
                    node,
                    "kill",
                ));
                delete.push(pod);
            }
            "Succeeded" => {
                plan.events.push(pod_event(
                    EventType::Normal,
                    SUCCEEDED_DAEMON_POD_REASON,
                    "Found succeeded daemon pod",
                    pod,
                    node,
                    "delete",
                ));
                delete.push(pod);
            }
            _ => running.push(pod),
        }
    }
    running.sort_by(|a, b| compare_pods(a, b));
    if !ctx.strategy.allows_surge() {
        // One pod per node: all but the oldest go.
        delete.extend(running.iter().skip(1));
        return;
    }
    if running.len() <= 1 {
        if running.is_empty() && placement.should_run {
            create.push(node);
        }
        return;
    }
    // Surging: keep the oldest current pod and the oldest old pod; the old one goes once it
    // is not Ready or the current one is available.
    let mut oldest_new = None;
    let mut oldest_old = None;
    for pod in running {
        let slot = if pod_hash(pod) == ctx.hash {
            &mut oldest_new
        } else {
            &mut oldest_old
        };
        if slot.is_none() {
            *slot = Some(pod);
        } else {
            delete.push(pod);
        }
    }
    if let (Some(new), Some(old)) = (oldest_new, oldest_old)
        && (!is_pod_ready(old) || ctx.available(new))
    {
        delete.push(old);
    }
}

fn pod_event(
    type_: EventType,
    reason: &'static str,
    what: &str,
    pod: &Pod,
    node: &str,
    verb: &str,
) -> Event {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    Event {
        type_,
        reason,
        message: format!("{what} {namespace}/{name} on node {node}, will try to {verb} it"),
    }
}

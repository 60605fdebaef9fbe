//! The rolling update of a DaemonSet, after upstream's `rollingUpdate`,
//! `findUpdatedPodsOnNode` and `updatedDesiredNodeCounts` (`pkg/controller/daemon/update.go`).
//!
//! Without surge, old pods are deleted while fewer than `maxUnavailable` nodes lack an
//! available current pod, and `manage` creates their replacements on the next sync. With
//! surge, a current pod is created beside the old one (at most `maxSurge` at a time for old
//! pods that are still available), and the old pod is deleted once the new one is available.
//! Nodes are walked in name order (upstream walks a Go map, so which candidates it picks is
//! random).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use super::decide::SyncCtx;
use super::plan::SyncError;

/// The pods of one node split into the current one and the old one; `None` when a node has
/// more than one of either (left to `manage`, which prunes it first).
fn find_updated_pods_on_node<'a>(
    ctx: &SyncCtx<'_>,
    pods: &[&'a Pod],
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for &pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if ctx.updated(pod) { &mut new } else { &mut old };
        if slot.replace(pod).is_some() {
            return None;
        }
    }
    Some((new, old))
}

/// Nodes to create a current pod on and old pods to delete, or why the update cannot go on.
pub(super) fn rolling_update<'a>(
    ctx: &SyncCtx<'a>,
) -> Result<(Vec<&'a str>, Vec<&'a Pod>), SyncError> {
    // `updatedDesiredNodeCounts`: every node that should run the daemon is considered, with
    // or without pods.
    let mut node_pods: BTreeMap<&'a str, Vec<&'a Pod>> = ctx.node_pods.clone();
    let mut desired = 0usize;
    for (&node, placement) in &ctx.nodes {
        if placement.should_run {
            desired += 1;
            node_pods.entry(node).or_default();
        }
    }
    let mut max_unavailable = ctx
        .strategy
        .unavailable_count(desired)
        .map_err(SyncError::InvalidMaxUnavailable)?;
    let max_surge = ctx
        .strategy
        .surge_count(desired)
        .map_err(SyncError::InvalidMaxSurge)?;
    // An impossible configuration (both zero) falls back to one unavailable node.
    if desired > 0 && max_unavailable == 0 && max_surge == 0 {
        max_unavailable = 1;
    }
    if max_surge == 0 {
        Ok((Vec::new(), without_surge(ctx, &node_pods, max_unavailable)))
    } else {
        with_surge(ctx, &node_pods, max_surge, desired)
    }
}

fn without_surge<'a>(
    ctx: &SyncCtx<'_>,
    node_pods: &BTreeMap<&'a str, Vec<&'a Pod>>,
    max_unavailable: usize,
) -> Vec<&'a Pod> {
    let mut unavailable = 0usize;
    let mut replacements = Vec::new();
    let mut candidates = Vec::new();
    for pods in node_pods.values() {
        match find_updated_pods_on_node(ctx, pods) {
            // Excess pods, or no pod, or both an old and a new one: `manage` acts there first;
            // the node counts as unavailable meanwhile.
            None | Some((None, None) | (Some(_), Some(_))) => unavailable += 1,
            Some((Some(new), None)) => unavailable += usize::from(!ctx.available(new)),
            Some((None, Some(old))) => {
                if !ctx.available(old) {
                    // Replacing an unavailable pod costs no availability.
                    replacements.push(old);
                    unavailable += 1;
                } else if unavailable < max_unavailable {
                    candidates.push(old);
                }
            }
        }
    }
    let room = max_unavailable
        .saturating_sub(unavailable)
        .min(candidates.len());
    replacements.extend(candidates.into_iter().take(room));
    replacements
}

fn with_surge<'a>(
    ctx: &SyncCtx<'a>,
    node_pods: &BTreeMap<&'a str, Vec<&'a Pod>>,
    max_surge: usize,
    desired: usize,
) -> Result<(Vec<&'a str>, Vec<&'a Pod>), SyncError> {
    let mut delete = Vec::new();
    // Old pods on nodes the daemon no longer belongs on, deleted only as far as availability
    // elsewhere allows.
    let mut should_not_run = Vec::new();
    let mut allowed_nodes = Vec::new();
    let mut candidate_nodes = Vec::new();
    let mut surge = 0usize;
    let mut available = 0usize;
    let should_run = |node: &str| {
        ctx.nodes
            .get(node)
            .map(|p| p.should_run)
            .ok_or_else(|| SyncError::NodeNotFound(node.to_owned()))
    };
    for (&node, pods) in node_pods {
        let Some((new, old)) = find_updated_pods_on_node(ctx, pods) else {
            surge += 1;
            continue;
        };
        if let Some(pod) = old.or(new) {
            available += usize::from(ctx.available(pod));
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) if !ctx.available(old) => {
                if should_run(node)? {
                    allowed_nodes.push(node);
                } else {
                    delete.push(old);
                }
            }
            (None, Some(old)) => {
                if !should_run(node)? {
                    should_not_run.push(old);
                } else if surge < max_surge {
                    candidate_nodes.push(node);
                }
            }
            (Some(new), Some(old)) => {
                if ctx.available(new) {
                    delete.push(old);
                } else {
                    surge += 1;
                }
            }
        }
    }
    // With surge the owner expects full availability: a pod on a node that no longer wants it
    // goes only once a pod elsewhere has become available in its stead.
    let deletable = available.saturating_sub(desired).min(should_not_run.len());
    delete.extend(should_not_run.into_iter().take(deletable));
    let room = max_surge.saturating_sub(surge).min(candidate_nodes.len());
    allowed_nodes.extend(candidate_nodes.into_iter().take(room));
    Ok((allowed_nodes, delete))
}

#[cfg(test)]
#[path = "rolling_tests.rs"]
mod tests;

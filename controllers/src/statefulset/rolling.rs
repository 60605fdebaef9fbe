//! The destructive part of a RollingUpdate: which pods not at the update revision are deleted
//! this sync. Mirrors the tail of `updateStatefulSet` and `updateStatefulSetAfterInvariantEstablished`
//! of `stateful_set_control.go` and `getStatefulSetMaxUnavailable` of `stateful_set_utils.go`.
//!
//! Without `MaxUnavailableStatefulSet` (off by default from v1.35.4): delete the highest
//! ordinal at or above the partition that is not at the update revision, unless a higher one
//! is unavailable; one pod per sync. With it: up to `maxUnavailable` pods may be unavailable
//! at once; for Parallel sets this follows the fix of kubernetes#137666 (old pods that are
//! already unavailable are replaced without spending the budget), not the v1.35.0 code whose
//! Parallel regression made upstream turn the gate off again.
//!
//! A slot whose pod does not exist yet counts as unavailable and is never deleted (upstream
//! would delete a pod it is creating in the same sync when `rollingUpdate` is unset and the
//! pod is made at the current revision; defaulting always sets `rollingUpdate`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::decide::Sync;
use super::identity::{SetCtx, is_available, is_terminating, is_unavailable, pod_revision};
use super::plan::{DeleteReason, SpecError};

/// `getStatefulSetMaxUnavailable`: an integer, or a percentage of the replicas rounded down;
/// at least 1 either way, 1 when unset.
pub(super) fn max_unavailable(ctx: &SetCtx<'_>) -> Result<i64, SpecError> {
    let value = ctx
        .spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.as_ref());
    let n = match value {
        None => 1,
        Some(IntOrString::Int(n)) => i64::from(*n),
        Some(IntOrString::String(s)) => {
            let percent = s
                .strip_suffix('%')
                .and_then(|p| p.parse::<i64>().ok())
                .ok_or_else(|| SpecError::InvalidMaxUnavailable(s.clone()))?;
            percent.saturating_mul(ctx.replicas).div_euclid(100)
        }
    };
    Ok(n.max(1))
}

/// Plans the update deletions of a set whose replicas and condemned pods were seen to.
pub(super) fn rolling_update(
    sync: &mut Sync<'_>,
    in_range: &BTreeMap<i64, &Pod>,
    max_unavailable_gate: bool,
) -> Result<(), SpecError> {
    let ctx = sync.ctx;
    let lowest = ctx.start + ctx.partition.unwrap_or(0);
    let highest = ctx.start + ctx.replicas - 1;
    let update = sync.resolved.plan.update.clone();
    let stale = |p: &Pod| pod_revision(p) != update && !is_terminating(p);
    // Existing pods at or above the partition, highest ordinal first.
    let targets: Vec<(i64, &Pod)> = in_range
        .range(lowest..)
        .rev()
        .map(|(o, p)| (*o, *p))
        .collect();

    if !max_unavailable_gate {
        let mut expected = highest;
        for (o, pod) in targets {
            if o != expected {
                // A missing pod is unavailable: wait for it.
                return Ok(());
            }
            expected -= 1;
            if stale(pod) {
                if !sync.deleting(pod) {
                    sync.delete(pod, DeleteReason::Update);
                }
                sync.current_delta += 1;
                return Ok(());
            }
            if is_unavailable(ctx, pod, sync.now) {
                return Ok(());
            }
        }
        return Ok(());
    }

    let max = max_unavailable(ctx)?;
    let missing = ctx.replicas - i64::try_from(in_range.len()).unwrap_or(i64::MAX);
    let unavailable_pods: Vec<&Pod> = in_range
        .values()
        .copied()
        .filter(|p| is_unavailable(ctx, p, sync.now))
        .collect();
    let unavailable = missing + i64::try_from(unavailable_pods.len()).unwrap_or(i64::MAX);
    let needing_update = if ctx.parallel {
        unavailable_pods.iter().filter(|p| stale(p)).count()
    } else {
        0
    };
    if unavailable >= max && needing_update == 0 {
        return Ok(());
    }
    let mut budget = max - unavailable;
    if ctx.parallel {
        // Phase 1: old pods that are unavailable anyway.
        for (_, pod) in &targets {
            if stale(pod) && !is_available(ctx, pod, sync.now) && !sync.deleting(pod) {
                sync.delete(pod, DeleteReason::Update);
                sync.current_delta += 1;
            }
        }
    }
    // Phase 2 (or OrderedReady's single pass): as many more as the budget allows.
    for (_, pod) in &targets {
        if budget <= 0 {
            break;
        }
        let available = !ctx.parallel || is_available(ctx, pod, sync.now);
        if stale(pod) && available && !sync.deleting(pod) {
            sync.delete(pod, DeleteReason::Update);
            sync.current_delta += 1;
            budget -= 1;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "rolling_tests.rs"]
mod tests;

//! The "decide" half of the disruption controller: from a PodDisruptionBudget, the pods of its
//! namespace and the scale of their controllers, the budget's new status. It mirrors `trySync`,
//! `getExpectedPodCount`, `getExpectedScale`, `buildDisruptedPodMap`, `countHealthyPods`,
//! `updatePdbStatus` and `failSafe` of upstream's `pkg/controller/disruption/disruption.go`.
//!
//! The I/O half performs a sync as follows:
//! 1. [`owners_to_look_up`] lists the controller references whose scale the budget needs
//!    (none for an integer `minAvailable`); each is answered with
//!    [`super::find_in_informers`], else with a GET of its `/scale` subresource.
//! 2. [`decide`] with those answers; record [`PdbPlan::events`].
//! 3. Write [`PdbPlan::status`] when [`PdbPlan::status_changed`]. On a conflict, retry with
//!    backoff (upstream skips the fail-safe then); on any other write error, write
//!    [`fail_safe`] with that error's message instead.
//! 4. After a successful sync, sync again after [`PdbPlan::requeue_after`].
//!
//! Upstream's `getPodsForPdb` lists every pod the selector matches, terminal ones included,
//! and so does [`decide`]: a Succeeded pod counts in `expectedPods` for an integer
//! `minAvailable` (never as healthy), and its controller must be found for the other forms.
//! The `unhealthyPodEvictionPolicy` only matters to the eviction API; it does not change the
//! status.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

use super::expected::{clamp_i32, expected_pod_count, needs_scale};
use super::finders::ScaleLookup;
use super::policy::{
    DISRUPTION_ALLOWED_CONDITION, SYNC_FAILED_REASON, conditions_are_up_to_date,
    format_label_selector, selector_error, set_status_condition,
    update_disruption_allowed_condition,
};
use crate::replicaset::pods::{controller_of, is_pod_ready};
use crate::replicaset::selector::Selector;

/// How long a pod stays in `status.disruptedPods` after the eviction API admitted its
/// eviction (upstream's `DeletionTimeout`): by then the controller should have seen it
/// deleted; if not, the eviction is assumed not to have happened and the pod counts again.
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTarget {
    /// The PodDisruptionBudget being synced.
    Pdb,
    /// A pod of its namespace.
    Pod { name: String, uid: Option<String> },
}

/// An event to record (`record.EventRecorder.Eventf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdbEvent {
    /// "Normal" or "Warning".
    pub type_: &'static str,
    pub reason: &'static str,
    pub message: String,
    pub regarding: EventTarget,
}

/// What one sync of a PodDisruptionBudget should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PdbPlan {
    /// The status to write when [`Self::status_changed`]; the stored one otherwise. After a
    /// failure (see [`Self::error`]) it is the fail-safe status.
    pub status: PodDisruptionBudgetStatus,
    /// Whether [`Self::status`] must be written: upstream's steady-state check, which ignores
    /// condition timestamps and, on the fail-safe path, a plain comparison.
    pub status_changed: bool,
    /// When the earliest `disruptedPods` entry expires: sync again then.
    pub requeue_after: Option<Duration>,
    pub events: Vec<PdbEvent>,
    /// Why the status could not be computed: [`Self::status`] is then upstream's fail-safe
    /// (`disruptionsAllowed` 0, `DisruptionAllowed` False with reason `SyncFailed`). Upstream
    /// does not retry after writing it; the next pod or budget event syncs again.
    pub error: Option<String>,
}

/// Decides one sync of `pdb`. `pods` are the pods of its namespace (others are ignored);
/// `scales` answers for a pod's controller reference (see [`super::finders`]).
pub fn decide(
    pdb: &PodDisruptionBudget,
    pods: &[Pod],
    scales: &dyn Fn(&OwnerReference) -> ScaleLookup,
    now: Timestamp,
) -> PdbPlan {
    let mut events = Vec::new();
    match try_sync(pdb, pods, scales, now, &mut events) {
        Ok(mut plan) => {
            plan.events = events;
            plan
        }
        Err(message) => {
            let status = fail_safe(pdb, &message, now);
            PdbPlan {
                status_changed: pdb.status.clone().unwrap_or_default() != status,
                status,
                requeue_after: None,
                events,
                error: Some(message),
            }
        }
    }
}

/// `trySync`: the status, or the error that sends the sync to the fail-safe.
fn try_sync(
    pdb: &PodDisruptionBudget,
    pods: &[Pod],
    scales: &dyn Fn(&OwnerReference) -> ScaleLookup,
    now: Timestamp,
    events: &mut Vec<PdbEvent>,
) -> Result<PdbPlan, String> {
    let pods = select_pods(pdb, pods).inspect_err(|e| {
        events.push(pdb_event(
            "Warning",
            "NoPods",
            format!("Failed to get pods: {e}"),
        ));
    })?;
    if pods.is_empty() {
        events.push(pdb_event(
            "Normal",
            "NoPods",
            "No matching pods found".into(),
        ));
    }
    let spec = pdb.spec.clone().unwrap_or_default();
    let expected = expected_pod_count(&spec, &pods, scales).inspect_err(|e| {
        let message = format!("Failed to calculate the number of expected pods: {e}");
        events.push(pdb_event(
            "Warning",
            "CalculateExpectedPodCountFailed",
            message,
        ));
    })?;
    if !expected.unmanaged.is_empty() {
        let message = format!(
            "Pods selected by this PodDisruptionBudget (selector: {}) were found to be \
             unmanaged. As a result, the status of the PDB cannot be calculated correctly, \
             which may result in undefined behavior. To account for these pods please set \
             \".spec.minAvailable\" field of the PDB to an integer value.",
            format_label_selector(spec.selector.as_ref())
        );
        events.push(pdb_event("Warning", "UnmanagedPods", message));
    }

    let (disrupted, recheck) = build_disrupted_pod_map(pdb, &pods, now, events);
    let current_healthy = count_healthy_pods(&pods, &disrupted, now);
    let (status, status_changed) = update_pdb_status(
        pdb,
        current_healthy,
        expected.desired_healthy,
        expected.count,
        disrupted,
        now,
    );
    Ok(PdbPlan {
        status,
        status_changed,
        requeue_after: recheck
            .map(|at| Duration::try_from(at.duration_since(now)).unwrap_or_default()),
        events: Vec::new(),
        error: None,
    })
}

fn pdb_event(type_: &'static str, reason: &'static str, message: String) -> PdbEvent {
    PdbEvent {
        type_,
        reason,
        message,
        regarding: EventTarget::Pdb,
    }
}

/// `getPodsForPdb`: the pods of the budget's namespace its selector matches. An absent
/// selector matches nothing and an empty one everything (policy/v1; the v1beta1 empty
/// selector reaches us as a selector of [`super::PDB_V1BETA1_LABEL`]). An invalid selector is
/// an error.
pub fn select_pods<'a>(pdb: &PodDisruptionBudget, pods: &'a [Pod]) -> Result<Vec<&'a Pod>, String> {
    let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return Ok(Vec::new());
    };
    let Some(parsed) = Selector::parse(selector) else {
        return Err(selector_error(selector));
    };
    let namespace = pdb.metadata.namespace.as_deref();
    Ok(pods
        .iter()
        .filter(|p| namespace.is_none() || p.metadata.namespace.as_deref() == namespace)
        .filter(|p| parsed.matches(p.metadata.labels.as_ref()))
        .collect())
}

/// The distinct controller references of the selected pods whose scale [`decide`] will ask
/// for, in pod order; none when the budget does not need them or its selector is invalid.
pub fn owners_to_look_up(pdb: &PodDisruptionBudget, pods: &[Pod]) -> Vec<OwnerReference> {
    if !pdb.spec.as_ref().is_some_and(needs_scale) {
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    select_pods(pdb, pods)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| controller_of(&p.metadata))
        .filter(|owner| seen.insert(owner.uid.clone()))
        .cloned()
        .collect()
}

fn expiry(disrupted_at: &Time) -> Timestamp {
    disrupted_at
        .0
        .checked_add(DELETION_TIMEOUT)
        .unwrap_or(Timestamp::MAX)
}

/// `buildDisruptedPodMap`: the `disruptedPods` entries to keep, and when the earliest of them
/// expires. An entry goes when its pod is no longer selected, is being deleted (the eviction
/// happened), or was not deleted within [`DELETION_TIMEOUT`] (a `NotDeleted` event on the
/// pod says so).
fn build_disrupted_pod_map(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    now: Timestamp,
    events: &mut Vec<PdbEvent>,
) -> (BTreeMap<String, Time>, Option<Timestamp>) {
    let mut kept = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    let Some(old) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
        return (kept, recheck);
    };
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(disrupted_at) = old.get(&name) else {
            continue;
        };
        let expected_deletion = expiry(disrupted_at);
        if expected_deletion < now {
            // Upstream names the budget "<namespace>/<namespace>" here (a typo); we name it.
            let message = format!(
                "Pod was expected by PDB {}/{} to be deleted but it wasn't",
                pdb.metadata.namespace.as_deref().unwrap_or_default(),
                pdb.metadata.name.as_deref().unwrap_or_default(),
            );
            events.push(PdbEvent {
                type_: "Warning",
                reason: "NotDeleted",
                message,
                regarding: EventTarget::Pod {
                    name,
                    uid: pod.metadata.uid.clone(),
                },
            });
        } else {
            recheck = Some(recheck.map_or(expected_deletion, |t| t.min(expected_deletion)));
            kept.insert(name, disrupted_at.clone());
        }
    }
    (kept, recheck)
}

/// `countHealthyPods`: Ready pods that are not being deleted and whose eviction is not
/// pending in `disrupted`.
fn count_healthy_pods(pods: &[&Pod], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let healthy = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            let name = p.metadata.name.as_deref().unwrap_or_default();
            disrupted.get(name).is_none_or(|at| expiry(at) <= now)
        })
        .filter(|p| is_pod_ready(p))
        .count();
    clamp_i32(i64::try_from(healthy).unwrap_or(i64::MAX))
}

/// `updatePdbStatus`: the new status and whether it must be written. Disruptions are allowed
/// only while some pod is expected, so that a budget whose first pods just appeared is safe
/// until this controller has counted them.
fn update_pdb_status(
    pdb: &PodDisruptionBudget,
    current_healthy: i32,
    desired_healthy: i32,
    expected_pods: i32,
    disrupted: BTreeMap<String, Time>,
    now: Timestamp,
) -> (PodDisruptionBudgetStatus, bool) {
    let spare = i64::from(current_healthy) - i64::from(desired_healthy);
    let disruptions_allowed = if expected_pods <= 0 || spare <= 0 {
        0
    } else {
        clamp_i32(spare)
    };
    let old = pdb.status.clone().unwrap_or_default();
    let generation = pdb.metadata.generation.unwrap_or(0);
    let unchanged = old.current_healthy == current_healthy
        && old.desired_healthy == desired_healthy
        && old.expected_pods == expected_pods
        && old.disruptions_allowed == disruptions_allowed
        && old.disrupted_pods.clone().unwrap_or_default() == disrupted
        && old.observed_generation.unwrap_or(0) == generation
        && conditions_are_up_to_date(pdb);
    if unchanged {
        return (old, false);
    }
    let mut status = PodDisruptionBudgetStatus {
        current_healthy,
        desired_healthy,
        expected_pods,
        disruptions_allowed,
        // An empty map is left out, as Go's `omitempty` leaves it out.
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        observed_generation: (generation != 0).then_some(generation),
        conditions: old.conditions,
    };
    update_disruption_allowed_condition(&mut status, now);
    (status, true)
}

/// `failSafe`: the stored status with `disruptionsAllowed` 0 and `DisruptionAllowed` False,
/// reason `SyncFailed`, `message` as the condition's message, so that the eviction API admits
/// no eviction while the controller cannot tell whether one is safe.
pub fn fail_safe(
    pdb: &PodDisruptionBudget,
    message: &str,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut status = pdb.status.clone().unwrap_or_default();
    status.disruptions_allowed = 0;
    let observed_generation = status.observed_generation;
    set_status_condition(
        status.conditions.get_or_insert_with(Vec::new),
        Condition {
            type_: DISRUPTION_ALLOWED_CONDITION.into(),
            status: "False".into(),
            reason: SYNC_FAILED_REASON.into(),
            message: message.into(),
            observed_generation,
            last_transition_time: Time(now),
        },
    );
    status
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod status_tests;
#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

//! The Deployment's status and conditions: `calculateStatus` and `syncDeploymentStatus` of
//! upstream's `pkg/controller/deployment/sync.go`, `syncRolloutStatus` and
//! `requeueStuckDeployment` of `progress.go`, `checkPausedConditions`, and the condition
//! helpers of `util/deployment_util.go`.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::sync::Sync;
use super::util::{
    actual_replica_count, available_replica_count, has_progress_deadline, max_unavailable,
    progress_deadline_seconds, ready_replica_count, replica_count, replicas, rs_name,
    terminating_replica_count,
};

pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Progressing reasons.
pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
/// Available reasons.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// `NewDeploymentCondition`: both times are `now`.
pub(crate) fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub(crate) fn get_condition<'a>(
    status: &'a DeploymentStatus,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
}

/// `SetDeploymentCondition`: no change when status and reason are the same; the transition
/// time survives when only the reason changes; the condition moves to the end of the list.
pub(crate) fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = get_condition(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &condition.type_.clone());
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(condition);
}

pub(crate) fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
    }
}

/// The status as it reads back from the API: Go's `omitempty` drops zero counters and empty
/// condition lists, so those compare equal to absent ones.
pub(crate) fn normalized(status: &DeploymentStatus) -> DeploymentStatus {
    let nz = |v: Option<i32>| v.filter(|n| *n != 0);
    DeploymentStatus {
        available_replicas: nz(status.available_replicas),
        ready_replicas: nz(status.ready_replicas),
        replicas: nz(status.replicas),
        unavailable_replicas: nz(status.unavailable_replicas),
        updated_replicas: nz(status.updated_replicas),
        observed_generation: status.observed_generation.filter(|g| *g != 0),
        conditions: status.conditions.clone().filter(|c| !c.is_empty()),
        collision_count: status.collision_count,
        terminating_replicas: status.terminating_replicas,
    }
}

fn counter(status: &DeploymentStatus, f: fn(&DeploymentStatus) -> Option<i32>) -> i32 {
    f(status).unwrap_or(0)
}

/// `calculateStatus`: counters summed over the ReplicaSets, conditions carried over, and the
/// `Available` condition from replicas − maxUnavailable.
pub(crate) fn calculate_status(
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let available = available_replica_count(all.iter().copied());
    let total = replica_count(all.iter().copied());
    let current = d.status.clone().unwrap_or_default();
    let mut status = normalized(&DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(actual_replica_count(all.iter().copied())),
        updated_replicas: Some(actual_replica_count(new)),
        ready_replicas: Some(ready_replica_count(all.iter().copied())),
        available_replicas: Some(available),
        // More available than desired happens while scaling down; never report negative.
        unavailable_replicas: Some((total - available).max(0)),
        collision_count: current.collision_count,
        // `DeploymentReplicaSetTerminatingReplicas` is on by default in v1.35.
        terminating_replicas: terminating_replica_count(all.iter().copied()),
        conditions: current.conditions.clone(),
    });
    let condition = if available >= replicas(d) - max_unavailable(d) {
        let msg = "Deployment has minimum availability.";
        new_condition(
            AVAILABLE,
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            msg.into(),
            now,
        )
    } else {
        let msg = "Deployment does not have minimum availability.";
        new_condition(
            AVAILABLE,
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            msg.into(),
            now,
        )
    };
    set_condition(&mut status, condition);
    status
}

/// `DeploymentComplete`: every desired replica updated and available, no old ones left, and
/// the generation observed.
pub(crate) fn deployment_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let want = replicas(d);
    counter(status, |s| s.updated_replicas) == want
        && counter(status, |s| s.replicas) == want
        && counter(status, |s| s.available_replicas) == want
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// `DeploymentProgressing`: new pods updated, ready or available, or old pods gone, compared
/// with the status the Deployment had.
fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let c = |s: &DeploymentStatus, f: fn(&DeploymentStatus) -> Option<i32>| counter(s, f);
    let old_old = c(&old, |s| s.replicas) - c(&old, |s| s.updated_replicas);
    let new_old = c(new, |s| s.replicas) - c(new, |s| s.updated_replicas);
    c(new, |s| s.updated_replicas) > c(&old, |s| s.updated_replicas)
        || new_old < old_old
        || c(new, |s| s.ready_replicas) > c(&old, |s| s.ready_replicas)
        || c(new, |s| s.available_replicas) > c(&old, |s| s.available_replicas)
}

/// `DeploymentTimedOut`: the Progressing condition was last updated more than
/// `progressDeadlineSeconds` before `now` (or already says so). A completed rollout never times
/// out, and a condition without an update time counts as updated at the beginning of time.
fn deployment_timed_out(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(condition) = get_condition(new, PROGRESSING) else {
        return false;
    };
    match condition.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => return false,
        Some(TIMED_OUT) => return true,
        _ => {}
    }
    let Some(from) = condition.last_update_time.as_ref() else {
        return true;
    };
    deadline(d, from.0).is_some_and(|deadline| deadline < now)
}

fn deadline(d: &Deployment, from: Timestamp) -> Option<Timestamp> {
    from.checked_add(SignedDuration::from_secs(i64::from(
        progress_deadline_seconds(d),
    )))
    .ok()
}

fn progress_message(d: &Deployment, new: Option<&ReplicaSet>, what: &str) -> String {
    match new {
        Some(rs) => format!("ReplicaSet {:?} {what}.", rs_name(rs)),
        None => format!(
            "Deployment {:?} {what}.",
            d.metadata.name.as_deref().unwrap_or("")
        ),
    }
}

impl Sync {
    /// `syncDeploymentStatus`: status only, no progress estimate.
    pub(super) fn sync_deployment_status(&mut self, all: &[&ReplicaSet], new: Option<&ReplicaSet>) {
        self.d.status = Some(calculate_status(all, new, &self.d, self.now));
    }

    /// `syncRolloutStatus`: the status plus the Progressing condition (complete, progressing or
    /// timed out) and the ReplicaSets' failure conditions.
    pub(super) fn sync_rollout_status(&mut self, all: &[&ReplicaSet], new: Option<&ReplicaSet>) {
        let d = &self.d;
        let now = self.now;
        let mut status = calculate_status(all, new, d, now);
        if !has_progress_deadline(d) {
            remove_condition(&mut status, PROGRESSING);
        }
        let current_status = d.status.clone().unwrap_or_default();
        let current = get_condition(&current_status, PROGRESSING);
        let complete_before = counter(&status, |s| s.replicas)
            == counter(&status, |s| s.updated_replicas)
            && current.is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
        if has_progress_deadline(d) && !complete_before {
            if deployment_complete(d, &status) {
                let msg = progress_message(d, new, "has successfully progressed");
                set_condition(
                    &mut status,
                    new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now),
                );
            } else if deployment_progressing(d, &status) {
                // Unlike other conditions, Progressing is refreshed on every sign of progress
                // (its update time is what the deadline counts from), so it is replaced even
                // when the reason is unchanged; only the transition time survives.
                let msg = progress_message(d, new, "is progressing");
                let mut condition =
                    new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, msg, now);
                if let Some(current) = current {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    remove_condition(&mut status, PROGRESSING);
                }
                set_condition(&mut status, condition);
            } else if deployment_timed_out(d, &status, now) {
                let msg = progress_message(d, new, "has timed out progressing");
                set_condition(
                    &mut status,
                    new_condition(PROGRESSING, "False", TIMED_OUT, msg, now),
                );
            }
        }
        match replica_failure(all, new) {
            Some(failure) => set_condition(&mut status, failure),
            None => remove_condition(&mut status, REPLICA_FAILURE),
        }
        let status = normalized(&status);
        if status == normalized(&current_status) {
            self.requeue_after = requeue_stuck(d, &status, now);
            return;
        }
        self.d.status = Some(status);
    }

    /// `checkPausedConditions`: an Unknown Progressing condition while paused, so that the time
    /// spent paused does not count against the progress deadline once resumed.
    pub(super) fn check_paused_conditions(&mut self) {
        if !has_progress_deadline(&self.d) {
            return;
        }
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let status = self.d.status.get_or_insert_with(Default::default);
        let reason = get_condition(status, PROGRESSING).and_then(|c| c.reason.clone());
        // A reported lack of progress is not overwritten.
        if reason.as_deref() == Some(TIMED_OUT) {
            return;
        }
        let paused_condition = reason.as_deref() == Some(PAUSED);
        let (reason, message) = match (paused, paused_condition) {
            (true, false) => (PAUSED, "Deployment is paused"),
            (false, true) => (RESUMED, "Deployment is resumed"),
            _ => return,
        };
        set_condition(
            status,
            new_condition(PROGRESSING, "Unknown", reason, message.into(), self.now),
        );
    }
}

/// `getReplicaFailures`: the new ReplicaSet's `ReplicaFailure` condition, else the first one
/// among all ReplicaSets, as a Deployment condition.
fn replica_failure(all: &[&ReplicaSet], new: Option<&ReplicaSet>) -> Option<DeploymentCondition> {
    new.into_iter().chain(all.iter().copied()).find_map(|rs| {
        let c = rs
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == REPLICA_FAILURE)?;
        Some(DeploymentCondition {
            type_: REPLICA_FAILURE.into(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_transition_time: c.last_transition_time.clone(),
            last_update_time: c.last_transition_time.clone(),
        })
    })
}

/// `requeueStuckDeployment`: when a rollout shows no progress, when to look again for the
/// deadline; `Some(ZERO)` means now (rate limited). One second of slack as upstream adds.
fn requeue_stuck(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> Option<Duration> {
    let current_status = d.status.clone().unwrap_or_default();
    let current = get_condition(&current_status, PROGRESSING)?;
    if !has_progress_deadline(d)
        || deployment_complete(d, new)
        || current.reason.as_deref() == Some(TIMED_OUT)
    {
        return None;
    }
    let from = current
        .last_update_time
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    let after = deadline(d, from)?.duration_since(now);
    if after < SignedDuration::from_secs(1) {
        return Some(Duration::ZERO);
    }
    Duration::try_from(after)
        .ok()
        .map(|a| a + Duration::from_secs(1))
}

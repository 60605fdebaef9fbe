//! The delay before failed pods are replaced, after upstream's
//! `pkg/controller/job/backoff_utils.go`: 10 s after one failure, doubling with each further
//! failure since the last success, capped.
//!
//! Upstream keeps the count of failures since the last success in memory, fed with the pods
//! it sees finish. Here the count is derived from the pods themselves on every sync: finished
//! pods keep their phase until they are deleted (counted failed pods stay, only their
//! finalizer goes), so the history is at hand, and unlike upstream's store it survives a
//! restart of the controller.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::indexed::absolute_failure_count;
use super::podutil::{finished_time, has_tracking_finalizer, is_pod_failed, phase};

/// The delay after the first failure (`DefaultJobPodFailureBackOff`).
pub const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// The longest delay (`MaxJobPodFailureBackOff`). The Job documentation still says six
/// minutes; the controller has used ten since the backoff store of v1.28.
pub const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(600);

/// Failures since the last success and when the last of them happened (`backoffRecord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackoffRecord {
    pub failures_after_last_success: u32,
    pub last_failure: Option<Timestamp>,
}

impl BackoffRecord {
    /// From the job's pods: succeeded ones, and failed ones that are tracked or were counted.
    /// A pod deleted as surplus loses its finalizer before the delete, so while it terminates
    /// (even once Failed) it is not taken for a failure: upstream never sees it as a newly
    /// failed pod.
    pub fn from_pods(job: &Job, pods: &[&Pod]) -> Self {
        let last_success = pods
            .iter()
            .filter(|p| phase(p) == "Succeeded")
            .map(|p| finished_time(p))
            .max();
        let mut record = Self::default();
        for p in pods {
            let failed = if has_tracking_finalizer(p) {
                is_pod_failed(p, job)
            } else {
                phase(p) == "Failed" && p.metadata.deletion_timestamp.is_none()
            };
            if !failed {
                continue;
            }
            let at = finished_time(p);
            // A failure at the same moment as the last success does not count (upstream's
            // `!failedTime.After(lastSuccessTime)`).
            if last_success.is_some_and(|s| at <= s) {
                continue;
            }
            record.failures_after_last_success += 1;
            record.last_failure = record.last_failure.max(at);
        }
        record
    }

    /// How long pod creation still waits at `now` (`getRemainingTime`).
    pub fn remaining(&self, now: Timestamp) -> Duration {
        remaining_for(self.failures_after_last_success, self.last_failure, now)
    }
}

/// The wait of one index under `backoffLimitPerIndex`, from its last failed pod
/// (`getRemainingTimePerIndex`): that pod's failures so far plus its own.
pub(super) fn remaining_for_index(last_failed: Option<&Pod>, now: Timestamp) -> Duration {
    let Some(p) = last_failed else {
        return Duration::ZERO;
    };
    let failures = u32::try_from(absolute_failure_count(p))
        .unwrap_or(0)
        .saturating_add(1);
    remaining_for(failures, finished_time(p), now)
}

fn remaining_for(failures: u32, last_failure: Option<Timestamp>, now: Timestamp) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let mut delay = POD_FAILURE_BACKOFF;
    for _ in 1..failures {
        delay = delay.saturating_mul(2);
        if delay >= MAX_POD_FAILURE_BACKOFF {
            delay = MAX_POD_FAILURE_BACKOFF;
            break;
        }
    }
    // A pod without any time reads as finished at the zero time upstream: long ago.
    let Some(at) = last_failure else {
        return Duration::ZERO;
    };
    let elapsed = Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO);
    delay.saturating_sub(elapsed)
}

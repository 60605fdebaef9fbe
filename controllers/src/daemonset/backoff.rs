//! The delay before a failed daemon pod is deleted again on the same node. A kubelet that
//! rejects a pod makes the controller and kubelet fight (create, fail, delete, create); upstream
//! breaks the loop with a `flowcontrol.Backoff` (1 s doubling to 15 min, set up in
//! `cmd/kube-controller-manager/app/apps.go`) keyed by `<ds uid>/<observed generation>/<node>`
//! in `podsShouldBeOnNode` (`pkg/controller/daemon/daemon_controller.go`).
//!
//! The failed pods are deleted, so unlike the Job backoff this history cannot be read back
//! from the pods: the record is state the runtime keeps, one [`FailedPodBackoff`] per
//! DaemonSet UID, passed into each sync and replaced by the one the plan returns. Keying by
//! the observed generation means a new spec starts with a clean slate, as upstream.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// The first delay (`flowcontrol.NewBackOff(1*time.Second, ...)`).
pub const FAILED_POD_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// The longest delay; an entry untouched for twice this long is forgotten.
pub const FAILED_POD_BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

/// One node's backoff: the current delay and when it last grew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffEntry {
    pub delay: Duration,
    pub last_update: Timestamp,
}

/// The failed-pod backoff of one DaemonSet, by (observed generation, node name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailedPodBackoff {
    entries: BTreeMap<(i64, String), BackoffEntry>,
}

fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(since)).unwrap_or(Duration::ZERO)
}

/// `hasExpired`: stable again after twice the longest delay without a failure.
fn expired(entry: &BackoffEntry, now: Timestamp) -> bool {
    elapsed(entry.last_update, now) > FAILED_POD_BACKOFF_MAX * 2
}

impl FailedPodBackoff {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `node` under `generation`, if any.
    pub fn get(&self, generation: i64, node: &str) -> Option<&BackoffEntry> {
        self.entries.get(&(generation, node.to_owned()))
    }

    /// `IsInBackOffSinceUpdate`: the current delay when a failed pod on `node` must not be
    /// deleted yet at `now`.
    pub fn in_backoff(&self, generation: i64, node: &str, now: Timestamp) -> Option<Duration> {
        let entry = self.get(generation, node)?;
        (!expired(entry, now) && elapsed(entry.last_update, now) < entry.delay)
            .then_some(entry.delay)
    }

    /// `Next`: records a deletion at `now`; the delay starts at the initial value and doubles
    /// with each deletion inside the window, up to the maximum.
    pub fn next(&mut self, generation: i64, node: &str, now: Timestamp) {
        let key = (generation, node.to_owned());
        let delay = match self.entries.get(&key) {
            Some(entry) if !expired(entry, now) => {
                entry.delay.saturating_mul(2).min(FAILED_POD_BACKOFF_MAX)
            }
            _ => FAILED_POD_BACKOFF_INITIAL,
        };
        self.entries.insert(
            key,
            BackoffEntry {
                delay,
                last_update: now,
            },
        );
    }

    /// `GC`: forgets expired entries (upstream runs it once a minute; here every sync).
    pub fn gc(&mut self, now: Timestamp) {
        self.entries.retain(|_, entry| !expired(entry, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid test time")
    }

    #[test]
    fn doubles_until_quiet_then_resets() {
        let mut b = FailedPodBackoff::default();
        assert_eq!(b.in_backoff(1, "n", ts(100)), None);
        b.next(1, "n", ts(100));
        assert_eq!(b.in_backoff(1, "n", ts(100)), Some(Duration::from_secs(1)));
        assert_eq!(
            b.in_backoff(1, "n", ts(101)),
            None,
            "the window is half-open"
        );
        assert_eq!(
            b.in_backoff(2, "n", ts(100)),
            None,
            "a new generation starts clean"
        );
        assert_eq!(b.in_backoff(1, "m", ts(100)), None, "per node");
        b.next(1, "n", ts(101));
        b.next(1, "n", ts(103));
        assert_eq!(b.get(1, "n").map(|e| e.delay), Some(Duration::from_secs(4)));
        for i in 0..20 {
            b.next(1, "n", ts(200 + i));
        }
        assert_eq!(b.get(1, "n").map(|e| e.delay), Some(FAILED_POD_BACKOFF_MAX));
        // Quiet for more than twice the maximum: forgotten, and the next failure starts over.
        let later = ts(219 + 1801);
        assert_eq!(b.in_backoff(1, "n", later), None);
        b.next(1, "n", later);
        assert_eq!(
            b.get(1, "n").map(|e| e.delay),
            Some(FAILED_POD_BACKOFF_INITIAL)
        );
        b.gc(ts(10_000));
        assert!(b.is_empty());
    }
}

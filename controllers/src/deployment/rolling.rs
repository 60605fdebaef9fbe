//! The RollingUpdate strategy, after upstream's `pkg/controller/deployment/rolling.go`: grow the
//! new ReplicaSet while the total stays within replicas + maxSurge, shrink the old ones (oldest
//! first, unhealthy replicas first) while the available pods stay at or above
//! replicas − maxUnavailable, one kind of step per sync.

use k8s_openapi::api::apps::v1::ReplicaSet;

use super::status::deployment_complete;
use super::sync::{Abort, Sync};
use super::util::{
    available_replica_count, by_creation, max_unavailable, new_rs_new_replicas, replica_count,
    replicas, rs_available, rs_replicas,
};

impl Sync {
    /// `rolloutRolling`.
    pub(super) fn rollout_rolling(&mut self) -> Result<(), Abort> {
        let (new, old) = self.all_replica_sets(true)?;
        let Some(new) = new else { return Ok(()) };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new)).collect();
        if self.reconcile_new_replica_set(&all, &new) {
            self.sync_rollout_status(&all, Some(&new));
            return Ok(());
        }
        let active_old: Vec<ReplicaSet> = old
            .iter()
            .filter(|rs| rs_replicas(rs) > 0)
            .cloned()
            .collect();
        if self.reconcile_old_replica_sets(&all, active_old, &new) {
            self.sync_rollout_status(&all, Some(&new));
            return Ok(());
        }
        // Old ReplicaSets are pruned only once the rollout is complete as last reported.
        let status = self.d.status.clone().unwrap_or_default();
        if deployment_complete(&self.d, &status) {
            self.cleanup(&old);
        }
        self.sync_rollout_status(&all, Some(&new));
        Ok(())
    }

    /// `reconcileNewReplicaSet`: scale the new ReplicaSet up as far as maxSurge allows, or down
    /// when it is larger than the Deployment.
    fn reconcile_new_replica_set(&mut self, all: &[&ReplicaSet], new: &ReplicaSet) -> bool {
        let want = replicas(&self.d);
        let have = rs_replicas(new);
        if have == want {
            return false;
        }
        let to = if have > want {
            want
        } else {
            new_rs_new_replicas(&self.d, all, new)
        };
        self.scale_and_record(new, to).0
    }

    /// `reconcileOldReplicaSets`: how far old ReplicaSets may shrink is
    /// all pods − minAvailable − the new ReplicaSet's unavailable pods, so that new pods that
    /// never become available (a crash loop) cannot make the old ones shrink further.
    fn reconcile_old_replica_sets(
        &mut self,
        all: &[&ReplicaSet],
        old: Vec<ReplicaSet>,
        new: &ReplicaSet,
    ) -> bool {
        if replica_count(&old) == 0 {
            return false;
        }
        let min_available = replicas(&self.d) - max_unavailable(&self.d);
        let new_unavailable = rs_replicas(new) - rs_available(new);
        let max_scaled_down = replica_count(all.iter().copied()) - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        // Unhealthy replicas go first: deleting them does not reduce availability, and left
        // alone they would block the rollout until it times out (issue 16737).
        let Some((old, cleaned)) = self.cleanup_unhealthy_replicas(old, max_scaled_down) else {
            return false;
        };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(new)).collect();
        let scaled = self.scale_down_old_replica_sets(&all, &old);
        cleaned + scaled > 0
    }

    /// `cleanupUnhealthyReplicas`: shrink old ReplicaSets, oldest first, by their unavailable
    /// replicas, at most `max` in all. `None` where upstream errors (a ReplicaSet reporting more
    /// available replicas than it wants), which stops the scale-down for this sync.
    fn cleanup_unhealthy_replicas(
        &mut self,
        mut old: Vec<ReplicaSet>,
        max: i32,
    ) -> Option<(Vec<ReplicaSet>, i32)> {
        old.sort_by(by_creation);
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= max {
                break;
            }
            let have = rs_replicas(rs);
            if have == 0 || have == rs_available(rs) {
                continue;
            }
            let count = (max - total).min(have - rs_available(rs));
            if have - count > have {
                return None;
            }
            let (_, written) = self.scale_and_record(rs, have - count);
            *rs = written;
            total += count;
        }
        Some((old, total))
    }

    /// `scaleDownOldReplicaSetsForRollingUpdate`: shrink old ReplicaSets, oldest first, by the
    /// available pods above replicas − maxUnavailable.
    fn scale_down_old_replica_sets(&mut self, all: &[&ReplicaSet], old: &[ReplicaSet]) -> i32 {
        let min_available = replicas(&self.d) - max_unavailable(&self.d);
        let available = available_replica_count(all.iter().copied());
        if available <= min_available {
            return 0;
        }
        let mut old: Vec<&ReplicaSet> = old.iter().collect();
        old.sort_by(|a, b| by_creation(a, b));
        let target = available - min_available;
        let mut total = 0;
        for rs in old {
            if total >= target {
                break;
            }
            let have = rs_replicas(rs);
            if have == 0 {
                continue;
            }
            let count = have.min(target - total);
            self.scale_and_record(rs, have - count);
            total += count;
        }
        total
    }
}

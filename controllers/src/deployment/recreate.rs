//! The Recreate strategy, after upstream's `pkg/controller/deployment/recreate.go`: scale every
//! old ReplicaSet to zero, wait until no old pod runs, then create or scale up the new one.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;

use super::status::deployment_complete;
use super::sync::{Abort, Sync};
use super::util::{actual_replica_count, by_creation, find_new_replica_set, replicas, rs_replicas};
use crate::replicaset::pods::{controller_of, is_pod_terminal};

impl Sync {
    /// `rolloutRecreate`. `old_pods_running` is what [`old_pods_running`] found in the pods.
    pub(super) fn rollout_recreate(&mut self, old_pods_running: bool) -> Result<(), Abort> {
        // The new ReplicaSet is not created yet, so that nothing scales up before the old
        // ones are down.
        let (mut new, mut old) = self.all_replica_sets(false)?;
        let mut all: Vec<ReplicaSet> = old.iter().chain(new.as_ref()).cloned().collect();

        let mut scaled_down = false;
        for rs in old.iter().filter(|rs| rs_replicas(rs) > 0) {
            scaled_down |= self.scale_and_record(rs, 0).0;
        }
        let running = old_pods_running || actual_replica_count(&old) > 0;
        if scaled_down || running {
            let all: Vec<&ReplicaSet> = all.iter().collect();
            self.sync_rollout_status(&all, new.as_ref());
            return Ok(());
        }

        if new.is_none() {
            (new, old) = self.all_replica_sets(true)?;
            all = old.iter().chain(new.as_ref()).cloned().collect();
        }
        if let Some(rs) = new.as_ref() {
            self.scale_and_record(rs, replicas(&self.d));
        }
        let status = self.d.status.clone().unwrap_or_default();
        if deployment_complete(&self.d, &status) {
            self.cleanup(&old);
        }
        let all: Vec<&ReplicaSet> = all.iter().collect();
        self.sync_rollout_status(&all, new.as_ref());
        Ok(())
    }
}

/// Whether any pod of an old ReplicaSet of `d` is still in a non-terminal phase (upstream's
/// `oldPodsRunning` over its pod map; pods in phase Unknown count as running). `replica_sets`
/// are the ReplicaSets `d` owns, `pods` those of its namespace.
pub fn old_pods_running(d: &Deployment, replica_sets: &[ReplicaSet], pods: &[Pod]) -> bool {
    let mut rss = replica_sets.to_vec();
    rss.sort_by(by_creation);
    let new_uid = find_new_replica_set(d, &rss).and_then(|i| rss[i].metadata.uid.clone());
    let old_uids: Vec<&str> = rss
        .iter()
        .filter_map(|rs| rs.metadata.uid.as_deref())
        .filter(|uid| Some(*uid) != new_uid.as_deref())
        .collect();
    pods.iter().any(|pod| {
        controller_of(&pod.metadata).is_some_and(|r| old_uids.contains(&r.uid.as_str()))
            && !is_pod_terminal(pod)
    })
}

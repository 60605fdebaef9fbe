//! Opportunistic batching (upstream KEP-5598, `OpportunisticBatching`, alpha in v1.35): pods
//! with the same scheduling signature — the same requests, selectors, tolerations and so on,
//! as the replicas of one Job or Deployment have — would be filtered and scored the same way
//! against the same nodes. So one full cycle ranks its feasible nodes, and the following pods
//! of that signature take the next node of the ranking after Filter confirms, against the
//! current snapshot, that it still fits. A 10,000-pod training job then costs one Filter per
//! pod instead of thousands.
//!
//! The ranking is a cycle's view: it does not see what changed on other nodes since. So a
//! ranking is used for at most [`MAX_AGE`], and only by pods whose placement does not depend
//! on where other pods are: pods with pod (anti-)affinity or topology spread constraints, with
//! a nominated node, with volumes claims or resource claims are *unsignable* and always get a
//! full cycle (as upstream's plugins refuse to sign such pods). Correctness never depends on
//! the ranking: every node taken from it passes every Filter plugin first.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use crate::framework::PodInfo;

/// How long a ranking stays usable.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// Rankings kept at once, one per signature (pods of several jobs arrive interleaved).
pub const MAX_RANKINGS: usize = 16;
/// Ranked nodes tried per pod before falling back to a full cycle.
pub const MAX_TRIES: usize = 3;

/// The scheduling signature of a pod, or `None` when its placement depends on other pods'.
pub fn signature(pod: &PodInfo, scheduler_name: &str) -> Option<u64> {
    let spec = pod.pod.spec.as_ref()?;
    if pod.has_affinity()
        || spec
            .topology_spread_constraints
            .as_ref()
            .is_some_and(|c| !c.is_empty())
        || spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty())
        || spec
            .volumes
            .iter()
            .flatten()
            .any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some())
        || pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_ref())
            .is_some_and(|n| !n.is_empty())
        || spec.node_name.as_ref().is_some_and(|n| !n.is_empty())
    {
        return None;
    }
    let mut hasher = DefaultHasher::new();
    scheduler_name.hash(&mut hasher);
    pod.namespace().hash(&mut hasher);
    let fields = serde_json::json!([
        spec.containers
            .iter()
            .map(|c| (&c.resources, &c.ports))
            .collect::<Vec<_>>(),
        spec.init_containers
            .iter()
            .flatten()
            .map(|c| (&c.resources, &c.ports, &c.restart_policy))
            .collect::<Vec<_>>(),
        &spec.resources,
        &spec.overhead,
        &spec.node_selector,
        &spec.affinity,
        &spec.tolerations,
        &spec.priority,
        &spec.runtime_class_name,
        &spec.os,
        &spec.scheduling_gates,
    ]);
    fields.to_string().hash(&mut hasher);
    // Default topology spreading depends on the pod's labels (the workloads selecting it).
    pod.pod.metadata.labels.hash(&mut hasher);
    Some(hasher.finish())
}

/// The nodes a full cycle ranked for one signature, best first.
#[derive(Debug)]
pub struct Ranking {
    pub signature: u64,
    pub nodes: Vec<String>,
    /// The next node to offer.
    pub next: usize,
    pub made: Instant,
}

impl Ranking {
    pub fn usable(&self, signature: u64, now: Instant) -> bool {
        self.signature == signature && self.next < self.nodes.len() && now < self.made + MAX_AGE
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testing::{pod, pod_info};

    #[test]
    fn replicas_share_a_signature_and_differences_split_it() {
        let a = signature(&pod_info(pod("a", &[("cpu", "1")])), "default-scheduler");
        let b = signature(&pod_info(pod("b", &[("cpu", "1")])), "default-scheduler");
        let bigger = signature(&pod_info(pod("c", &[("cpu", "2")])), "default-scheduler");
        let other_profile = signature(&pod_info(pod("d", &[("cpu", "1")])), "gpu-scheduler");
        assert!(a.is_some());
        assert_eq!(a, b, "names do not matter");
        assert_ne!(a, bigger);
        assert_ne!(a, other_profile);
        let mut labelled = pod("e", &[("cpu", "1")]);
        labelled.metadata.labels = Some(BTreeMap::from([("app".into(), "x".into())]));
        assert_ne!(a, signature(&pod_info(labelled), "default-scheduler"));
    }

    #[test]
    fn pods_placed_relative_to_others_are_unsignable() {
        let mut spread = pod("a", &[]);
        spread
            .spec
            .as_mut()
            .expect("test fixture")
            .topology_spread_constraints = Some(vec![Default::default()]);
        assert_eq!(signature(&pod_info(spread), "default-scheduler"), None);
        let mut nominated = pod("b", &[]);
        nominated.status = Some(k8s_openapi::api::core::v1::PodStatus {
            nominated_node_name: Some("n1".into()),
            ..Default::default()
        });
        assert_eq!(signature(&pod_info(nominated), "default-scheduler"), None);
    }
}

//! Gang scheduling for training jobs: the pods of a group bind all together or not at all,
//! so a 10,000-pod job never holds half the cluster while it waits for the rest. Modelled on
//! the Coscheduling plugin of kubernetes-sigs/scheduler-plugins (its label-based
//! "lightweight" form, since this API server serves no PodGroup CRD):
//!
//! - a pod joins group `G` with the label `pod-group.scheduling.sigs.k8s.io/name: G`, and
//!   the group needs `pod-group.scheduling.sigs.k8s.io/min-available: N` members placed at
//!   once (default: 1, i.e. no gang); the label
//!   `scheduling.ultrak8s.io/gang-timeout-seconds` sets how long placed members wait at Permit
//!   for the rest (default 60 s);
//! - **PreEnqueue** keeps members out of the active queue until `N` of them exist;
//! - **PreFilter** refuses members of a group that failed in the last few seconds, so the
//!   rest of a failed gang does not grab nodes one by one;
//! - **Permit** holds each placed member (its resources stay reserved) until `N` members are
//!   placed, then lets them all go; after the timeout all are rejected;
//! - **PostFilter** (after preemption found nothing): one member fits nowhere, so the whole
//!   group is rejected at once and released; **Unreserve** does the same when a member is
//!   rejected or fails to bind.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use parking_lot::RwLock;

use crate::framework::events::{ActionType, EventResource};
use crate::framework::{
    ClusterEvent, CycleState, Diagnosis, Framework, Plugin, PodInfo, Points, PostFilterPlugin,
    PostFilterResult, PreEnqueuePlugin, PreFilterPlugin, PreFilterResult, ReservePlugin, Snapshot,
    Status, WaitingPods,
};
use crate::framework::{Code, PermitPlugin};

pub const NAME: &str = "Coscheduling";
pub const GROUP_LABEL: &str = "pod-group.scheduling.sigs.k8s.io/name";
pub const MIN_AVAILABLE_LABEL: &str = "pod-group.scheduling.sigs.k8s.io/min-available";
pub const TIMEOUT_LABEL: &str = "scheduling.ultrak8s.io/gang-timeout-seconds";
/// How long placed members wait for the rest by default (scheduler-plugins'
/// `permitWaitingTimeSeconds`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// After a group fails, its other members are refused this long (scheduler-plugins denies a
/// failed group for a short while too), so they wait for a cluster event together.
pub const DENY_AFTER_FAILURE: Duration = Duration::from_secs(3);

/// The group a pod belongs to: `namespace/name`, min-available, timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub group: String,
    pub min_available: usize,
    pub timeout: Duration,
}

/// The pod's group, when it has one; a min-available that is not a positive number is 1.
pub fn membership(pod: &Pod) -> Option<Membership> {
    let labels = pod.metadata.labels.as_ref()?;
    let name = labels.get(GROUP_LABEL).filter(|n| !n.is_empty())?;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let min_available = labels
        .get(MIN_AVAILABLE_LABEL)
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let timeout = labels
        .get(TIMEOUT_LABEL)
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    Some(Membership {
        group: format!("{namespace}/{name}"),
        min_available,
        timeout,
    })
}

#[derive(Debug, Default)]
struct Group {
    /// Every live (non-terminal) member, pending or placed.
    members: HashSet<String>,
    /// Members assumed onto a node or bound.
    placed: HashSet<String>,
    denied_until: Option<Instant>,
}

/// What the scheduler knows of every group, kept by its informer handlers (members) and by
/// its cycle (placed when assumed, unplaced when forgotten).
#[derive(Debug, Default)]
pub struct Gangs {
    groups: RwLock<HashMap<String, Group>>,
}

impl Gangs {
    /// A member seen (created, changed, or bound when `bound`).
    pub fn observe(&self, pod: &Pod, bound: bool) {
        let Some(m) = membership(pod) else { return };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut groups = self.groups.write();
        let group = groups.entry(m.group).or_default();
        group.members.insert(uid.clone());
        if bound {
            group.placed.insert(uid);
        }
    }

    /// A member deleted or finished.
    pub fn forget(&self, pod: &Pod) {
        let Some(m) = membership(pod) else { return };
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let mut groups = self.groups.write();
        if let Some(group) = groups.get_mut(&m.group) {
            group.members.remove(uid);
            group.placed.remove(uid);
            if group.members.is_empty() {
                groups.remove(&m.group);
            }
        }
    }

    pub fn placed(&self, pod: &Pod) {
        self.observe(pod, true);
    }

    pub fn unplaced(&self, pod: &Pod) {
        let Some(m) = membership(pod) else { return };
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        if let Some(group) = self.groups.write().get_mut(&m.group) {
            group.placed.remove(uid);
        }
    }

    fn counts(&self, group: &str) -> (usize, usize) {
        self.groups
            .read()
            .get(group)
            .map(|g| (g.members.len(), g.placed.len()))
            .unwrap_or((0, 0))
    }

    fn denied(&self, group: &str, now: Instant) -> bool {
        self.groups
            .read()
            .get(group)
            .and_then(|g| g.denied_until)
            .is_some_and(|until| now < until)
    }

    fn deny(&self, group: &str, now: Instant) {
        if let Some(g) = self.groups.write().get_mut(group) {
            g.denied_until = Some(now + DENY_AFTER_FAILURE);
        }
    }
}

pub struct Coscheduling {
    gangs: Arc<Gangs>,
    waiting: Arc<WaitingPods>,
}

impl Coscheduling {
    pub fn new(gangs: Arc<Gangs>, waiting: Arc<WaitingPods>) -> Coscheduling {
        Coscheduling { gangs, waiting }
    }

    /// Rejects every member of `group` waiting at Permit (they are unreserved and requeued)
    /// and refuses the group for a while.
    fn reject_group(&self, group: &str, message: &str) {
        let uids = self
            .waiting
            .select(|w| membership(&w.pod.pod).is_some_and(|m| m.group == group));
        for uid in uids {
            self.waiting.reject(&uid, NAME, message);
        }
        self.gangs.deny(group, Instant::now());
    }
}

impl Plugin for Coscheduling {
    fn name(&self) -> &'static str {
        NAME
    }

    /// A new member may complete a group; freed capacity may let a failed one fit.
    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::new(
                EventResource::UnscheduledPod,
                ActionType::ADD,
                "UnscheduledPodAdd",
            ),
            ClusterEvent::ASSIGNED_POD_DELETE,
            ClusterEvent::NODE_ADD,
            ClusterEvent::new(
                EventResource::Node,
                ActionType::UPDATE_NODE_ALLOCATABLE
                    .or(ActionType::UPDATE_NODE_TAINT)
                    .or(ActionType::UPDATE_NODE_LABEL),
                "NodeUpdate",
            ),
        ]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_enqueue.push(self.clone());
        points.pre_filter.push(self.clone());
        points.post_filter.push(self.clone());
        points.reserve.push(self.clone());
        points.permit.push(self);
    }
}

impl PreEnqueuePlugin for Coscheduling {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        let Some(m) = membership(&pod.pod) else {
            return Status::success();
        };
        let (members, _) = self.gangs.counts(&m.group);
        if members < m.min_available {
            return Status::new(
                Code::Pending,
                format!(
                    "pod group {} has {members} of the {} members it needs",
                    m.group, m.min_available
                ),
            );
        }
        Status::success()
    }
}

impl PreFilterPlugin for Coscheduling {
    fn pre_filter(
        &self,
        _state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let Some(m) = membership(&pod.pod) else {
            return (None, Status::skip());
        };
        let (members, _) = self.gangs.counts(&m.group);
        if members < m.min_available {
            return (
                None,
                Status::unresolvable(format!(
                    "pod group {} has {members} of the {} members it needs",
                    m.group, m.min_available
                )),
            );
        }
        if self.gangs.denied(&m.group, Instant::now()) {
            return (
                None,
                Status::unschedulable(format!("pod group {} failed to schedule recently", m.group)),
            );
        }
        (None, Status::success())
    }
}

impl PostFilterPlugin for Coscheduling {
    fn post_filter(
        &self,
        _state: &CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
        _diagnosis: &Diagnosis,
        _framework: &Framework,
    ) -> (Option<PostFilterResult>, Status) {
        let Some(m) = membership(&pod.pod) else {
            return (None, Status::unschedulable(""));
        };
        let (_, placed) = self.gangs.counts(&m.group);
        if placed >= m.min_available {
            // The gang already holds its minimum: this extra member just waits.
            return (None, Status::unschedulable(""));
        }
        let message = format!(
            "pod group {} rejected: member {} fits no node",
            m.group, pod.key
        );
        self.reject_group(&m.group, &message);
        (None, Status::unschedulable(message))
    }
}

impl ReservePlugin for Coscheduling {
    fn reserve(&self, _state: &mut CycleState, _pod: &PodInfo, _node: &str) -> Status {
        Status::success()
    }

    fn unreserve(&self, _state: &CycleState, pod: &PodInfo, _node: &str) {
        if let Some(m) = membership(&pod.pod) {
            let (_, placed) = self.gangs.counts(&m.group);
            if placed < m.min_available {
                self.reject_group(
                    &m.group,
                    &format!(
                        "pod group {} rejected: member {} was not bound",
                        m.group, pod.key
                    ),
                );
            }
        }
    }
}

impl PermitPlugin for Coscheduling {
    fn permit(
        &self,
        _state: &CycleState,
        pod: &PodInfo,
        _node: &str,
        _snapshot: &Snapshot,
    ) -> (Status, Duration) {
        let Some(m) = membership(&pod.pod) else {
            return (Status::success(), Duration::ZERO);
        };
        // The scheduler marks a member placed when it assumes it, before Permit.
        let (_, placed) = self.gangs.counts(&m.group);
        if placed >= m.min_available {
            let members = self
                .waiting
                .select(|w| membership(&w.pod.pod).is_some_and(|other| other.group == m.group));
            for uid in members {
                self.waiting.allow(&uid, NAME);
            }
            return (Status::success(), Duration::ZERO);
        }
        (
            Status::new(Code::Wait, format!("waiting for pod group {}", m.group)),
            m.timeout,
        )
    }
}

#[cfg(test)]
#[path = "coscheduling_tests.rs"]
mod tests;

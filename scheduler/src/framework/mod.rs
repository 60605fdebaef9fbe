//! The scheduling framework (upstream `pkg/scheduler/framework`): one trait per extension
//! point, the status a plugin answers with, the per-cycle state, the node snapshot plugins
//! read, and [`Framework`], which runs a profile's plugins at each point in order.
//!
//! A plugin is a struct that implements [`Plugin`] and the traits of the points it serves,
//! and lists them in [`Plugin::register`]. Every point up to Permit is synchronous and pure
//! (no I/O, reads only the snapshot and the cycle state): Filter and Score run in parallel
//! over nodes. PreBind, Bind and PostBind are async and may call the API.

mod cycle_state;
pub mod events;
pub mod quantity;
pub mod runtime;
mod snapshot;
mod status;
pub mod types;
mod waiting;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

pub use cycle_state::CycleState;
pub use events::{ActionType, ClusterEvent, EventResource};
pub use runtime::{Diagnosis, Framework, MAX_NODE_SCORE, NodeScore, PluginWeights};
pub use snapshot::Snapshot;
pub use status::{Code, Status};
pub use types::{NodeInfo, PodInfo, Resource};
pub use waiting::{WaitingPod, WaitingPods};

/// Every plugin: a name, the events that may make a pod it rejected schedulable, and the
/// extension points it serves.
pub trait Plugin: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// Events after which a pod this plugin rejected is worth retrying (upstream
    /// `EnqueueExtensions.EventsToRegister`). Empty: any event.
    fn events(&self) -> Vec<ClusterEvent> {
        Vec::new()
    }

    /// Adds `self` to the points it implements, e.g. `points.filter.push(self.clone())`.
    fn register(self: Arc<Self>, points: &mut Points);
}

/// The plugins of one profile at each extension point, in the order they run.
#[derive(Default, Clone)]
pub struct Points {
    pub pre_enqueue: Vec<Arc<dyn PreEnqueuePlugin>>,
    pub pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    pub filter: Vec<Arc<dyn FilterPlugin>>,
    pub post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    pub pre_score: Vec<Arc<dyn PreScorePlugin>>,
    pub score: Vec<Arc<dyn ScorePlugin>>,
    pub reserve: Vec<Arc<dyn ReservePlugin>>,
    pub permit: Vec<Arc<dyn PermitPlugin>>,
    pub pre_bind: Vec<Arc<dyn PreBindPlugin>>,
    pub bind: Vec<Arc<dyn BindPlugin>>,
    pub post_bind: Vec<Arc<dyn PostBindPlugin>>,
}

/// Gate before the queue: a pod that is not ready to be scheduled (a gang short of members,
/// `schedulingGates`) waits outside the active queue until an event lets it in.
pub trait PreEnqueuePlugin: Plugin {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status;
}

/// The nodes a PreFilter restricts the cycle to (e.g. NodeName: exactly one); `None`: all.
pub type PreFilterResult = Option<HashSet<String>>;

pub trait PreFilterPlugin: Plugin {
    /// Computes what Filter needs once per pod. Skip: this plugin's Filter is not called.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status);

    /// Preemption simulates removing or adding pods on a node: plugins whose PreFilter state
    /// counts pods (topology spread, inter-pod affinity) update it here (upstream
    /// `PreFilterExtensions`).
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _added: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }

    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _removed: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
}

/// Whether the pod fits this node. Called in parallel for many nodes; must be quick.
pub trait FilterPlugin: Plugin {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// What a PostFilter (preemption) decided: the pod is nominated to `node` once `victims` are
/// gone. The scheduler performs it (deletes the victims, sets `nominatedNodeName`).
#[derive(Debug, Clone)]
pub struct PostFilterResult {
    pub nominated_node: String,
    pub victims: Vec<Arc<PodInfo>>,
}

/// Runs when no node fits; may make room (preemption).
pub trait PostFilterPlugin: Plugin {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        diagnosis: &Diagnosis,
        framework: &Framework,
    ) -> (Option<PostFilterResult>, Status);
}

pub trait PreScorePlugin: Plugin {
    /// Computes what Score needs, over the nodes that passed Filter. Skip: no Score call.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status;
}

pub trait ScorePlugin: Plugin {
    /// A score for one feasible node; after [`ScorePlugin::normalize`] it must lie in
    /// `0..=MAX_NODE_SCORE`. Called in parallel.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status);

    /// Rescales the raw scores of every feasible node (upstream `ScoreExtensions`).
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [NodeScore]) -> Status {
        Status::success()
    }
}

/// Claims what the pod will use on the chosen node before binding; `unreserve` undoes it when
/// a later point fails. Unreserve must be idempotent.
pub trait ReservePlugin: Plugin {
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status;
    fn unreserve(&self, state: &CycleState, pod: &PodInfo, node: &str);
}

/// Success, Unschedulable (reject) or Wait with a timeout (gang scheduling holds a pod
/// until its group is complete).
pub trait PermitPlugin: Plugin {
    fn permit(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &str,
        snapshot: &Snapshot,
    ) -> (Status, Duration);
}

/// Work before the binding that may call the API (volume binding, DRA allocation).
pub trait PreBindPlugin: Plugin {
    fn pre_bind<'a>(
        &'a self,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status>;
}

/// Binds the pod. Skip: the next bind plugin decides.
pub trait BindPlugin: Plugin {
    fn bind<'a>(
        &'a self,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status>;
}

pub trait PostBindPlugin: Plugin {
    fn post_bind<'a>(
        &'a self,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, ()>;
}

//! The in-tree plugins, one file each, and the default profile that wires them as upstream's
//! `pkg/scheduler/apis/config/v1/default_plugins.go` does (order and score weights), plus
//! gang scheduling (Coscheduling, from kubernetes-sigs/scheduler-plugins).
//!
//! Shared helpers beside the plugins: `tolerations` (taint matching), `node_selector`
//! (node selector terms), `default_selector` (the workloads selecting a pod, for default
//! topology spreading), `preemption_candidates` (DefaultPreemption's victim choice).

pub mod balanced_allocation;
pub mod coscheduling;
pub mod default_binder;
pub mod default_preemption;
pub mod default_selector;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_selector;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod preemption_candidates;
pub mod scheduling_gates;
pub mod taint_toleration;
pub mod tolerations;

use std::sync::Arc;

use crate::framework::{Framework, Plugin, PluginWeights, WaitingPods};

/// What plugins that read beyond the snapshot are built with.
#[derive(Clone)]
pub struct Shared {
    pub client: kube::Client,
    pub gangs: Arc<coscheduling::Gangs>,
    /// PodDisruptionBudgets, for preemption's victim choice.
    pub pdbs: default_preemption::PdbLister,
    /// The workloads selecting a pod, for default topology spreading.
    pub default_selector: Arc<pod_topology_spread::DefaultSelectorFn>,
    pub percentage_of_nodes_to_score: Option<u32>,
}

/// The default plugins, in upstream's order, for the profile `scheduler_name`. Volume
/// plugins other than pre-bound claims and DynamicResources are not part of it yet.
pub fn default_profile(scheduler_name: &str, shared: &Shared) -> Framework {
    let waiting = Arc::new(WaitingPods::default());
    let plugins: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(scheduling_gates::SchedulingGates),
        // PreEnqueue, PreFilter and Permit: a gang is gated first and held last.
        Arc::new(coscheduling::Coscheduling::new(Arc::clone(&shared.gangs), Arc::clone(&waiting))),
        Arc::new(node_unschedulable::NodeUnschedulable::new()),
        Arc::new(node_name::NodeName::new()),
        Arc::new(taint_toleration::TaintToleration::new()),
        Arc::new(node_affinity::NodeAffinity::default()),
        Arc::new(node_ports::NodePorts::new()),
        Arc::new(node_resources_fit::NodeResourcesFit::default()),
        Arc::new(pod_topology_spread::PodTopologySpread::new(Arc::clone(&shared.default_selector))),
        Arc::new(inter_pod_affinity::InterPodAffinity::default()),
        // PostFilter: preemption first; Coscheduling's PostFilter rejects the rest of a gang
        // only when preemption found no room.
        Arc::new(default_preemption::DefaultPreemption::new(
            default_preemption::DefaultPreemptionArgs::default(),
            Arc::clone(&shared.pdbs),
        )),
        Arc::new(balanced_allocation::BalancedAllocation::default()),
        Arc::new(image_locality::ImageLocality::new()),
        Arc::new(default_binder::DefaultBinder::new(shared.client.clone())),
    ];
    let weights = PluginWeights::from([
        (node_resources_fit::NAME, 1),
        (balanced_allocation::NAME, 1),
        (image_locality::NAME, 1),
        (inter_pod_affinity::InterPodAffinity::NAME, 2),
        (node_affinity::NodeAffinity::NAME, 2),
        (pod_topology_spread::PodTopologySpread::NAME, 2),
        (taint_toleration::TaintToleration::NAME, 3),
    ]);
    let mut framework = Framework::new(scheduler_name, plugins, weights, waiting);
    framework.percentage_of_nodes_to_score = shared.percentage_of_nodes_to_score;
    framework
}

//! The in-tree plugins, one file each, and the default profile that wires them as upstream's
//! `pkg/scheduler/apis/config/v1/default_plugins.go` does (order and score weights), plus
//! gang scheduling (Coscheduling, from kubernetes-sigs/scheduler-plugins).
//!
//! Shared helpers beside the plugins: `tolerations` (taint matching), `node_selector`
//! (node selector terms), `default_selector` (the workloads selecting a pod, for default
//! topology spreading), `preemption_candidates` (DefaultPreemption's victim choice),
//! `dra_allocator` and `dra_cel` (DynamicResources' structured allocator and CEL selectors).

pub mod balanced_allocation;
pub mod coscheduling;
pub mod default_binder;
pub mod default_preemption;
pub mod default_selector;
pub mod dra_allocator;
pub mod dra_cel;
pub mod dynamic_resources;
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
pub mod volume_binding;

use std::sync::Arc;

use crate::framework::{Framework, Plugin, PluginWeights, WaitingPods};

/// What plugins that read beyond the snapshot are built with.
#[derive(Clone)]
pub struct Shared {
    pub client: kube::Client,
    pub gangs: Arc<coscheduling::Gangs>,
    /// PodDisruptionBudgets, for preemption's victim choice.
    pub pdbs: default_preemption::PdbLister,
    /// Claims, volumes and classes, for VolumeBinding.
    pub volumes: Arc<volume_binding::VolumeListers>,
    /// Dynamic resource allocation: claims, every claim, slices, device classes.
    pub dra: DraListers,
    /// The workloads selecting a pod, for default topology spreading.
    pub default_selector: Arc<pod_topology_spread::DefaultSelectorFn>,
    pub percentage_of_nodes_to_score: Option<u32>,
}

#[derive(Clone)]
pub struct DraListers {
    pub claim: dynamic_resources::ClaimLister,
    pub all_claims: dynamic_resources::AllClaimsLister,
    pub slices: dynamic_resources::SliceLister,
    pub classes: dynamic_resources::ClassLister,
}

/// The default plugins, in upstream's order, for the profile `scheduler_name`. Of the volume
/// plugins only VolumeBinding for bound claims is part of it yet (no VolumeRestrictions,
/// NodeVolumeLimits, VolumeZone).
pub fn default_profile(scheduler_name: &str, shared: &Shared) -> Framework {
    let waiting = Arc::new(WaitingPods::default());
    let plugins: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(scheduling_gates::SchedulingGates),
        // PreEnqueue, PreFilter and Permit: a gang is gated first and held last.
        Arc::new(coscheduling::Coscheduling::new(
            Arc::clone(&shared.gangs),
            Arc::clone(&waiting),
        )),
        Arc::new(node_unschedulable::NodeUnschedulable::new()),
        Arc::new(node_name::NodeName::new()),
        Arc::new(taint_toleration::TaintToleration::new()),
        Arc::new(node_affinity::NodeAffinity::default()),
        Arc::new(node_ports::NodePorts::new()),
        Arc::new(node_resources_fit::NodeResourcesFit::default()),
        Arc::new(volume_binding::VolumeBinding::new(
            volume_binding::VolumeListers {
                claim: Arc::clone(&shared.volumes.claim),
                volume: Arc::clone(&shared.volumes.volume),
                class: Arc::clone(&shared.volumes.class),
            },
        )),
        Arc::new(pod_topology_spread::PodTopologySpread::new(Arc::clone(
            &shared.default_selector,
        ))),
        Arc::new(inter_pod_affinity::InterPodAffinity::default()),
        Arc::new(dynamic_resources::DynamicResources::new(
            Arc::clone(&shared.dra.claim),
            Arc::clone(&shared.dra.all_claims),
            Arc::clone(&shared.dra.slices),
            Arc::clone(&shared.dra.classes),
            shared.client.clone(),
        )),
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

//! The in-tree plugins, one file each, and the default profile that wires them as upstream's
//! `pkg/scheduler/apis/config/v1/default_plugins.go` does (order and score weights).

pub mod coscheduling;
pub mod default_binder;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::framework::{Framework, Plugin, WaitingPods};

/// What plugins that read beyond the snapshot are built with.
#[derive(Clone)]
pub struct Shared {
    pub client: kube::Client,
    pub gangs: Arc<coscheduling::Gangs>,
    /// PodDisruptionBudgets, for preemption's victim choice.
    pub pdbs: Arc<dyn Fn() -> Vec<Arc<PodDisruptionBudget>> + Send + Sync>,
    pub percentage_of_nodes_to_score: Option<u32>,
}

/// The default plugins, in upstream's order, for the profile `scheduler_name`.
pub fn default_profile(scheduler_name: &str, shared: &Shared) -> Framework {
    let waiting = Arc::new(WaitingPods::default());
    let plugins: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(coscheduling::Coscheduling::new(Arc::clone(&shared.gangs), Arc::clone(&waiting))),
        Arc::new(default_binder::DefaultBinder::new(shared.client.clone())),
    ];
    let weights = HashMap::new();
    let mut framework = Framework::new(scheduler_name, plugins, weights, waiting);
    framework.percentage_of_nodes_to_score = shared.percentage_of_nodes_to_score;
    framework
}

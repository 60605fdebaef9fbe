//! VolumeBinding (upstream `plugins/volumebinding`), for claims that are already bound: a
//! pod whose PersistentVolumeClaims are bound to PersistentVolumes with node affinity (local
//! volumes, zonal disks) only fits nodes every such volume allows.
//!
//! Not supported yet, each with a clear reason rather than a silent guess: binding a claim
//! at scheduling time (`volumeBindingMode: WaitForFirstConsumer`) and dynamic provisioning.
//! A pod with an unbound claim of an `Immediate` class waits for the PV controller, as
//! upstream ("pod has unbound immediate PersistentVolumeClaims").

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::framework::events::{ActionType, EventResource};
use crate::framework::{
    ClusterEvent, CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, Points, PreFilterPlugin,
    PreFilterResult, Snapshot, Status,
};
use crate::plugins::node_selector::NodeSelectorMatcher;

pub const NAME: &str = "VolumeBinding";
pub const ERR_REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const ERR_REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

/// A claim by namespace and name.
pub type ClaimLister = Arc<dyn Fn(&str, &str) -> Option<Arc<PersistentVolumeClaim>> + Send + Sync>;
/// A cluster-scoped object by name.
pub type NamedLister<K> = Arc<dyn Fn(&str) -> Option<Arc<K>> + Send + Sync>;

/// Reads claims, volumes and classes from the scheduler's informers.
pub struct VolumeListers {
    pub claim: ClaimLister,
    pub volume: NamedLister<PersistentVolume>,
    pub class: NamedLister<StorageClass>,
}

pub struct VolumeBinding {
    listers: VolumeListers,
}

/// The node affinity of every bound volume the pod uses.
struct State(Vec<(String, NodeSelectorMatcher)>);

impl VolumeBinding {
    pub fn new(listers: VolumeListers) -> VolumeBinding {
        VolumeBinding { listers }
    }

    /// `namespace/claim` names of the pod's claims, ephemeral ones included.
    fn claims(pod: &Pod) -> Vec<String> {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        pod.spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .filter_map(|v| match (&v.persistent_volume_claim, &v.ephemeral) {
                (Some(claim), _) => Some(claim.claim_name.clone()),
                (None, Some(_)) => Some(format!("{name}-{}", v.name)),
                _ => None,
            })
            .collect()
    }
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> Vec<ClusterEvent> {
        let add_or_update = ActionType::ADD.or(ActionType::UPDATE);
        vec![
            ClusterEvent::new(
                EventResource::PersistentVolumeClaim,
                add_or_update,
                "PvcChange",
            ),
            ClusterEvent::new(EventResource::PersistentVolume, add_or_update, "PvChange"),
            ClusterEvent::new(
                EventResource::StorageClass,
                add_or_update,
                "StorageClassChange",
            ),
            ClusterEvent::new(
                EventResource::Node,
                ActionType::ADD.or(ActionType::UPDATE_NODE_LABEL),
                "NodeAddOrLabel",
            ),
        ]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_filter.push(self.clone());
        points.filter.push(self);
    }
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let claims = Self::claims(&pod.pod);
        if claims.is_empty() {
            return (None, Status::skip());
        }
        let mut affinities = Vec::new();
        for name in claims {
            let Some(claim) = (self.listers.claim)(pod.namespace(), &name) else {
                return (
                    None,
                    Status::unresolvable(format!("persistentvolumeclaim \"{name}\" not found")),
                );
            };
            if claim.metadata.deletion_timestamp.is_some() {
                return (
                    None,
                    Status::unresolvable(format!(
                        "persistentvolumeclaim \"{name}\" is being deleted"
                    )),
                );
            }
            let volume_name = claim
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.clone())
                .filter(|v| !v.is_empty());
            let Some(volume_name) = volume_name else {
                let class = claim
                    .spec
                    .as_ref()
                    .and_then(|s| s.storage_class_name.clone())
                    .unwrap_or_default();
                let delayed = (self.listers.class)(&class)
                    .and_then(|c| c.volume_binding_mode.clone())
                    .is_some_and(|m| m == "WaitForFirstConsumer");
                return if delayed {
                    (
                        None,
                        Status::unresolvable(format!(
                            "not supported: binding persistentvolumeclaim \"{name}\" at scheduling time (storage class \"{class}\" uses WaitForFirstConsumer)"
                        )),
                    )
                } else {
                    (None, Status::unresolvable(ERR_REASON_UNBOUND_IMMEDIATE))
                };
            };
            let Some(volume) = (self.listers.volume)(&volume_name) else {
                return (
                    None,
                    Status::unresolvable(format!("persistentvolume \"{volume_name}\" not found")),
                );
            };
            if let Some(required) = volume
                .spec
                .as_ref()
                .and_then(|s| s.node_affinity.as_ref())
                .and_then(|a| a.required.as_ref())
            {
                affinities.push((
                    volume_name,
                    NodeSelectorMatcher::from_node_selector(required),
                ));
            }
        }
        if affinities.is_empty() {
            return (None, Status::skip());
        }
        state.write(NAME, State(affinities));
        (None, Status::success())
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(State(affinities)) = state.read::<State>(NAME) else {
            return Status::error("VolumeBinding: no PreFilter state");
        };
        if affinities
            .iter()
            .all(|(_, matcher)| matcher.matches(&node.node))
        {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_NODE_CONFLICT)
        }
    }
}

#[cfg(test)]
#[path = "volume_binding_tests.rs"]
mod tests;

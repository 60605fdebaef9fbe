//! Cluster events and which plugins care about them (upstream `framework/types.go`
//! `ClusterEvent`, `EventsToRegister`). A pod rejected by plugins P waits in the
//! unschedulable set until an event one of P registered arrives: a node added, a pod deleted,
//! a taint removed. Anything else cannot make it fit, so it is not retried for it.

/// The kind of object an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventResource {
    /// A pod bound to a node (added, changed or deleted).
    AssignedPod,
    /// A pod not bound yet (another pending pod, e.g. a gang member arriving).
    UnscheduledPod,
    Node,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
    Namespace,
    /// Dynamic resource allocation objects.
    ResourceClaim,
    ResourceSlice,
    DeviceClass,
    /// Matches every resource.
    Any,
}

/// What happened, as bits so a plugin registers several at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActionType(pub u32);

impl ActionType {
    pub const ADD: ActionType = ActionType(1);
    pub const DELETE: ActionType = ActionType(1 << 1);
    pub const UPDATE_NODE_ALLOCATABLE: ActionType = ActionType(1 << 2);
    pub const UPDATE_NODE_LABEL: ActionType = ActionType(1 << 3);
    pub const UPDATE_NODE_TAINT: ActionType = ActionType(1 << 4);
    pub const UPDATE_NODE_CONDITION: ActionType = ActionType(1 << 5);
    pub const UPDATE_NODE_ANNOTATION: ActionType = ActionType(1 << 6);
    pub const UPDATE_POD_LABEL: ActionType = ActionType(1 << 7);
    /// A pod's requests went down (in-place resize) or it finished.
    pub const UPDATE_POD_SCALE_DOWN: ActionType = ActionType(1 << 8);
    /// Any other change.
    pub const UPDATE_OTHER: ActionType = ActionType(1 << 9);
    pub const UPDATE: ActionType = ActionType(
        Self::UPDATE_NODE_ALLOCATABLE.0
            | Self::UPDATE_NODE_LABEL.0
            | Self::UPDATE_NODE_TAINT.0
            | Self::UPDATE_NODE_CONDITION.0
            | Self::UPDATE_NODE_ANNOTATION.0
            | Self::UPDATE_POD_LABEL.0
            | Self::UPDATE_POD_SCALE_DOWN.0
            | Self::UPDATE_OTHER.0,
    );
    pub const ALL: ActionType = ActionType(Self::ADD.0 | Self::DELETE.0 | Self::UPDATE.0);

    pub const fn or(self, other: ActionType) -> ActionType {
        ActionType(self.0 | other.0)
    }

    pub fn intersects(self, other: ActionType) -> bool {
        self.0 & other.0 != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClusterEvent {
    pub resource: EventResource,
    pub action: ActionType,
    /// A short name for logs and metrics (upstream's event label).
    pub label: &'static str,
}

impl ClusterEvent {
    pub const fn new(resource: EventResource, action: ActionType, label: &'static str) -> Self {
        ClusterEvent {
            resource,
            action,
            label,
        }
    }

    /// Whether a plugin that registered `self` cares about `happened`.
    pub fn covers(&self, happened: &ClusterEvent) -> bool {
        (self.resource == EventResource::Any || self.resource == happened.resource)
            && self.action.intersects(happened.action)
    }

    pub const NODE_ADD: ClusterEvent =
        ClusterEvent::new(EventResource::Node, ActionType::ADD, "NodeAdd");
    pub const ASSIGNED_POD_DELETE: ClusterEvent = ClusterEvent::new(
        EventResource::AssignedPod,
        ActionType::DELETE,
        "AssignedPodDelete",
    );
    /// Pods are retried after sitting unschedulable this long even without an event
    /// (upstream's `podMaxInUnschedulablePodsDuration` flush).
    pub const UNSCHEDULABLE_TIMEOUT: ClusterEvent =
        ClusterEvent::new(EventResource::Any, ActionType::ALL, "UnschedulableTimeout");
}

/// The events of a node update, from what changed between the two versions (upstream
/// `nodeSchedulingPropertiesChange`).
pub fn node_update_events(
    old: &k8s_openapi::api::core::v1::Node,
    new: &k8s_openapi::api::core::v1::Node,
) -> ActionType {
    let mut action = ActionType(0);
    let spec = |n: &k8s_openapi::api::core::v1::Node| n.spec.clone().unwrap_or_default();
    let status = |n: &k8s_openapi::api::core::v1::Node| n.status.clone().unwrap_or_default();
    let (old_spec, new_spec) = (spec(old), spec(new));
    let (old_status, new_status) = (status(old), status(new));
    if old_spec.unschedulable != new_spec.unschedulable {
        action = action.or(ActionType::UPDATE_NODE_TAINT);
    }
    if old_status.allocatable != new_status.allocatable {
        action = action.or(ActionType::UPDATE_NODE_ALLOCATABLE);
    }
    if old.metadata.labels != new.metadata.labels {
        action = action.or(ActionType::UPDATE_NODE_LABEL);
    }
    if old_spec.taints != new_spec.taints {
        action = action.or(ActionType::UPDATE_NODE_TAINT);
    }
    let ready = |s: &k8s_openapi::api::core::v1::NodeStatus| {
        s.conditions
            .iter()
            .flatten()
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect::<Vec<_>>()
    };
    if ready(&old_status) != ready(&new_status) {
        action = action.or(ActionType::UPDATE_NODE_CONDITION);
    }
    if old.metadata.annotations != new.metadata.annotations {
        action = action.or(ActionType::UPDATE_NODE_ANNOTATION);
    }
    if old_status.images != new_status.images {
        action = action.or(ActionType::UPDATE_OTHER);
    }
    action
}

//! The "decide" half of the EndpointSlice controller: from a Service, its pods, the nodes and
//! the Service's existing slices, the slices to create, update and delete. It mirrors
//! `Reconcile`, `reconcileByAddressType`, `reconcileByPortMapping` and `finalize` of upstream's
//! `staging/src/k8s.io/endpointslice/reconciler.go`.
//!
//! Upstream draws endpoints and slices out of Go maps in random order; here they are taken
//! in key order (endpoints) and in the order the slices were given (slices), so that the same
//! inputs always give the same plan.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort as SlicePort, EndpointSlice};
use k8s_openapi::jiff::Timestamp;

use super::common::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, is_managed, non_empty_map, selected_pods,
    should_pod_be_in_endpoints, spec,
};
use super::hints::{HintMode, apply, hint_mode, needs_update};
use super::slice_parts::{
    CONTROLLER_NAME, EndpointKey, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, PortKey, address_types,
    endpoint_key, endpoint_ports, equal_beyond_hash, is_placeholder, new_slice, owned_by,
    pod_to_endpoint, port_key, slice_labels,
};
use super::trigger_time::format_trigger_time;
use crate::replicaset::pods::node_name;

/// What one sync of a Service's EndpointSlices should write. Empty when nothing changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlicePlan {
    /// New slices (named by the API server from `generateName`).
    pub create: Vec<EndpointSlice>,
    /// Slices to replace. Most carry the stored resourceVersion; one made from a slice to be
    /// deleted (upstream's `finalize` turns a create plus a delete into an update) carries the
    /// old name and no resourceVersion, and is written unconditionally.
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
    /// Pods left out because their node is unknown (and the Service does not publish
    /// not-ready addresses): upstream reports an error so that the sync is retried with
    /// backoff, after writing the rest.
    pub pods_missing_node: Vec<String>,
}

impl SlicePlan {
    /// Whether there is nothing to write (a retry may still be due, see
    /// [`SlicePlan::pods_missing_node`]).
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Decides one sync of a Service's EndpointSlices.
///
/// `pods` are the pods of the Service's namespace and `existing` its namespace's slices (others
/// are ignored: only slices labelled with the Service's name and managed by this controller
/// count, less those being deleted). `max_per_slice` is the most endpoints one slice holds
/// ([`DEFAULT_MAX_ENDPOINTS_PER_SLICE`](super::DEFAULT_MAX_ENDPOINTS_PER_SLICE) by default;
/// 0 reads as 1). `trigger_time` is what
/// [`TriggerTimeTracker::compute`](super::TriggerTimeTracker::compute) returned for this sync.
pub fn reconcile_slices(
    service: &Service,
    pods: &[Pod],
    nodes: &[Node],
    existing: &[EndpointSlice],
    max_per_slice: usize,
    trigger_time: Option<Timestamp>,
) -> SlicePlan {
    let mut plan = SlicePlan::default();
    if !is_managed(service) {
        return plan;
    }
    let ctx = Context {
        service,
        pods: selected_pods(service, pods),
        nodes: nodes
            .iter()
            .map(|n| (n.metadata.name.as_deref().unwrap_or_default(), n))
            .collect(),
        max: max_per_slice.max(1),
        hints: hint_mode(service),
    };
    let existing: Vec<&EndpointSlice> = existing.iter().filter(|s| is_ours(s, service)).collect();
    let types = address_types(service);
    let mut missing = BTreeSet::new();
    for address_type in &types {
        let of_type: Vec<&EndpointSlice> = existing
            .iter()
            .copied()
            .filter(|s| s.address_type == *address_type)
            .collect();
        let part = ctx.reconcile_address_type(address_type, &of_type, &mut missing);
        plan.create.extend(part.create);
        plan.update.extend(part.update);
        plan.delete.extend(part.delete);
    }
    // Slices of an address type the Service no longer has.
    plan.delete.extend(
        existing
            .iter()
            .filter(|s| !types.contains(&s.address_type.as_str()))
            .map(|s| (*s).clone()),
    );

    // Upstream's `finalize`: no new slices for a Service being deleted, as the garbage
    // collector would race them.
    if service.metadata.deletion_timestamp.is_some() {
        plan.create.clear();
    }
    for slice in plan.create.iter_mut().chain(plan.update.iter_mut()) {
        set_trigger_time(slice, trigger_time);
    }
    plan.pods_missing_node = missing.into_iter().collect();
    plan
}

/// The slices `syncService` lists for a Service: its namespace, both labels, not being deleted
/// (`dropEndpointSlicesPendingDeletion`, so that a stuck deletion does not stall the sync).
fn is_ours(slice: &EndpointSlice, service: &Service) -> bool {
    let labels = slice.metadata.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    slice.metadata.namespace == service.metadata.namespace
        && label(LABEL_SERVICE_NAME) == service.metadata.name.as_deref()
        && label(LABEL_MANAGED_BY) == Some(CONTROLLER_NAME)
        && slice.metadata.deletion_timestamp.is_none()
}

/// `addTriggerTimeAnnotation`: set, or removed when there is no trigger time.
fn set_trigger_time(slice: &mut EndpointSlice, trigger_time: Option<Timestamp>) {
    let mut annotations = slice.metadata.annotations.take().unwrap_or_default();
    match trigger_time {
        Some(t) => {
            annotations.insert(
                ANNOTATION_LAST_CHANGE_TRIGGER_TIME.into(),
                format_trigger_time(t),
            );
        }
        None => {
            annotations.remove(ANNOTATION_LAST_CHANGE_TRIGGER_TIME);
        }
    }
    slice.metadata.annotations = non_empty_map(annotations);
}

struct Context<'a> {
    service: &'a Service,
    pods: Vec<&'a Pod>,
    nodes: HashMap<&'a str, &'a Node>,
    max: usize,
    hints: HintMode,
}

/// The endpoints wanted for one set of ports, drawn in key order.
type EndpointSet = BTreeMap<EndpointKey, Endpoint>;

#[derive(Default)]
struct Changes {
    create: Vec<EndpointSlice>,
    update: Vec<EndpointSlice>,
    delete: Vec<EndpointSlice>,
}

/// Where an existing slice stands within one port mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unchanged,
    Update,
    Delete,
}

impl Context<'_> {
    /// `reconcileByAddressType`.
    fn reconcile_address_type(
        &self,
        address_type: &str,
        existing: &[&EndpointSlice],
        missing: &mut BTreeSet<String>,
    ) -> Changes {
        let mut changes = Changes::default();
        let mut existing_by_ports: BTreeMap<PortKey, Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in existing {
            if owned_by(slice, self.service) {
                let key = port_key(slice.ports.as_deref().unwrap_or_default());
                existing_by_ports.entry(key).or_default().push(slice);
            } else {
                changes.delete.push((*slice).clone());
            }
        }

        let publish_not_ready = spec(self.service)
            .and_then(|s| s.publish_not_ready_addresses)
            .unwrap_or(false);
        let mut desired: BTreeMap<PortKey, (Vec<SlicePort>, EndpointSet)> = BTreeMap::new();
        for pod in &self.pods {
            if !should_pod_be_in_endpoints(pod, true) {
                continue;
            }
            let mut ports = endpoint_ports(self.service, pod);
            let key = port_key(&ports);
            ports.sort_by_key(|p| port_key(std::slice::from_ref(p)));
            // The port mapping is wanted even when the pod is then skipped, as upstream.
            let (_, set) = desired.entry(key).or_insert_with(|| (ports, EndpointSet::new()));
            let node = self.nodes.get(node_name(pod)).copied();
            if node.is_none() && !publish_not_ready {
                missing.insert(pod.metadata.name.clone().unwrap_or_default());
                continue;
            }
            let endpoint = pod_to_endpoint(pod, node, self.service, address_type);
            if !endpoint.addresses.is_empty() {
                set.insert(endpoint_key(&endpoint), endpoint);
            }
        }

        for (key, (ports, mut set)) in desired {
            let slices = existing_by_ports.remove(&key).unwrap_or_default();
            let part = self.reconcile_port_mapping(&slices, &mut set, &ports, address_type);
            changes.create.extend(part.create);
            changes.update.extend(part.update);
            changes.delete.extend(part.delete);
        }
        // Port mappings no longer wanted: every slice of them goes.
        for slices in existing_by_ports.into_values() {
            changes.delete.extend(slices.into_iter().cloned());
        }

        // With no slice left, a placeholder without ports or endpoints stands for the Service
        // (so that consumers can tell "no endpoints" from "not synced yet").
        if existing.len() == changes.delete.len() && changes.create.is_empty() {
            let placeholder = new_slice(self.service, &[], address_type);
            if changes.delete.len() == 1 && is_placeholder(&changes.delete[0], &placeholder) {
                changes.delete.clear();
            } else {
                changes.create.push(placeholder);
            }
        }

        self.reconcile_hints(existing, &mut changes);
        self.reuse_deleted(&mut changes);
        changes
    }
}

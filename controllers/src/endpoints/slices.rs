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
            let (_, set) = desired
                .entry(key)
                .or_insert_with(|| (ports, EndpointSet::new()));
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

        // With no slice left, an empty placeholder slice (no ports, no endpoints) stands for
        // the Service, so that readers see a synced Service without endpoints; an existing
        // placeholder is kept rather than deleted and recreated.
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

    /// `reconcileByPortMapping`, in three steps:
    /// 1. keep in each existing slice the endpoints still wanted (updated where their
    ///    conditions, node, zone or target changed), refresh its labels, and mark it for update
    ///    or, once empty, deletion;
    /// 2. top up the slices already being updated, fullest first;
    /// 3. put what is left into the unchanged slice it fills best when it fits in one, else
    ///    into new slices.
    fn reconcile_port_mapping(
        &self,
        existing: &[&EndpointSlice],
        desired: &mut EndpointSet,
        ports: &[SlicePort],
        address_type: &str,
    ) -> Changes {
        let mut slots: Vec<(EndpointSlice, State)> = Vec::with_capacity(existing.len());
        for slice in existing {
            let mut kept = Vec::with_capacity(slice.endpoints.len());
            let mut changed = false;
            for endpoint in &slice.endpoints {
                // A duplicate of an endpoint already kept finds nothing and is dropped.
                if let Some(want) = desired.remove(&endpoint_key(endpoint)) {
                    changed |= !equal_beyond_hash(&want, endpoint);
                    kept.push(want);
                }
            }
            let (labels, labels_changed) =
                slice_labels(slice.metadata.labels.as_ref(), self.service);
            let mut slice = (*slice).clone();
            let state = if changed || kept.len() != slice.endpoints.len() {
                if kept.is_empty() {
                    State::Delete
                } else {
                    slice.endpoints = kept;
                    slice.metadata.labels = Some(labels);
                    State::Update
                }
            } else if labels_changed {
                slice.metadata.labels = Some(labels);
                State::Update
            } else {
                State::Unchanged
            };
            slots.push((slice, state));
        }

        if !desired.is_empty() {
            let mut updating: Vec<usize> = (0..slots.len())
                .filter(|&i| slots[i].1 == State::Update)
                .collect();
            updating.sort_by_key(|&i| std::cmp::Reverse(slots[i].0.endpoints.len()));
            for i in updating {
                fill(&mut slots[i].0.endpoints, desired, self.max);
            }
        }

        let mut create = Vec::new();
        while !desired.is_empty() {
            let target = if desired.len() < self.max {
                slice_to_fill(&slots, desired.len(), self.max)
            } else {
                None
            };
            match target {
                Some(i) => {
                    fill(&mut slots[i].0.endpoints, desired, self.max);
                    slots[i].1 = State::Update;
                }
                None => {
                    let mut slice = new_slice(self.service, ports, address_type);
                    fill(&mut slice.endpoints, desired, self.max);
                    create.push(slice);
                }
            }
        }

        let mut changes = Changes {
            create,
            ..Changes::default()
        };
        for (slice, state) in slots {
            match state {
                State::Unchanged => {}
                State::Update => changes.update.push(slice),
                State::Delete => changes.delete.push(slice),
            }
        }
        changes
    }

    /// Hints for the slices being written, and updates for unchanged slices whose hints are
    /// wrong (`trafficdist.ReconcileHints` / `RemoveHintsFromSlices`).
    fn reconcile_hints(&self, existing: &[&EndpointSlice], changes: &mut Changes) {
        let changed: BTreeSet<String> = changes
            .update
            .iter()
            .chain(&changes.delete)
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        for slice in existing {
            let name = slice.metadata.name.as_deref().unwrap_or_default();
            if !changed.contains(name) && needs_update(self.hints, slice) {
                changes.update.push((*slice).clone());
            }
        }
        for slice in changes.create.iter_mut().chain(changes.update.iter_mut()) {
            apply(self.hints, slice);
        }
    }

    /// `finalize`: a slice to create and one to delete become an update of the latter, when it
    /// is this Service's and of the same address type (a slice of an older Service of the same
    /// name is left to the garbage collector).
    fn reuse_deleted(&self, changes: &mut Changes) {
        let mut i = 0;
        while i < changes.delete.len() {
            let Some(last) = changes.create.last() else {
                break;
            };
            let candidate = &changes.delete[i];
            if candidate.address_type == last.address_type && owned_by(candidate, self.service) {
                let old = changes.delete.remove(i);
                if let Some(mut slice) = changes.create.pop() {
                    slice.metadata.name = old.metadata.name;
                    changes.update.push(slice);
                }
            } else {
                i += 1;
            }
        }
    }
}

/// Moves endpoints from `desired`, in key order, into `endpoints` until it holds `max`.
fn fill(endpoints: &mut Vec<Endpoint>, desired: &mut EndpointSet, max: usize) {
    while endpoints.len() < max {
        let Some((_, endpoint)) = desired.pop_first() else {
            break;
        };
        endpoints.push(endpoint);
    }
}

/// `getSliceToFill`: the unchanged slice that `count` more endpoints would bring closest to
/// full, if any has room for all of them.
fn slice_to_fill(slots: &[(EndpointSlice, State)], count: usize, max: usize) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, (slice, state)) in slots.iter().enumerate() {
        if *state != State::Unchanged {
            continue;
        }
        let Some(room) = max.checked_sub(slice.endpoints.len() + count) else {
            continue;
        };
        if best.is_none_or(|(closest, _)| room < closest) {
            best = Some((room, i));
            if room == 0 {
                break;
            }
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
#[path = "slices_tests.rs"]
mod tests;

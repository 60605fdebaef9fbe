//! DynamicResources (upstream `pkg/scheduler/framework/plugins/dynamicresources/
//! dynamicresources.go`): pods that ask for devices through ResourceClaims
//! (resource.k8s.io/v1) land only on nodes where every claim is, or can be, satisfied, and
//! the scheduler allocates the devices (structured parameters) before binding.
//!
//! - PreEnqueue: every claim of the pod must exist (a template's claim must have been
//!   generated and named in `pod.status.resourceClaimStatuses`); otherwise the pod waits
//!   (Pending). Note: no controller of ours generates claims from ResourceClaimTemplates yet,
//!   so a pod using a template waits until something creates the claim and records it.
//! - PreFilter: collects the claims; allocated ones restrict nodes by their
//!   `allocation.nodeSelector`; unallocated ones get an [`Allocator`] built once for the
//!   cycle over the ResourceSlices, DeviceClasses and the devices already in use (every
//!   claim's `status.allocation` plus this plugin's in-flight allocations). Skip without claims.
//! - Filter: "resourceclaim not available on the node" (UnschedulableAndUnresolvable) or
//!   "cannot allocate all claims" (Unschedulable, as v1.35 so preemption may free devices);
//!   the allocation found is remembered per node for Reserve.
//! - Reserve: holds the chosen node's allocation in-flight (claim uid → allocation), so the
//!   next pod's PreFilter already counts those devices; Unreserve drops it.
//! - PreBind: writes `status.allocation` and adds the pod to `status.reservedFor` through the
//!   `resourceclaims/status` subresource (after adding the `resource.kubernetes.io/
//!   delete-protection` finalizer), then turns the in-flight entry into an "assumed" one that
//!   still counts until the informer shows the allocation. Any API error (a conflict
//!   included) is an Error status: the pod is retried.
//!
//! Differences from upstream: a CEL compile/runtime error makes the node
//! UnschedulableAndUnresolvable with the error as reason (upstream aborts the cycle with an
//! Error); Unreserve does not remove the pod from `reservedFor` of claims that were already
//! allocated (it has no API access; PreBind is the only writer and runs last); no PostFilter
//! deallocation, no binding conditions, no extended-resource mapping; the features listed in
//! [`super::dra_allocator`] are refused with "not supported: <feature>"; the lister of all
//! claims is a fourth constructor argument (upstream reads its assume cache).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::resource::v1::{
    AllocationResult, DeviceClass, ResourceClaim, ResourceClaimConsumerReference, ResourceSlice,
};
use parking_lot::Mutex;

use super::dra_allocator::{
    Allocator, AllocatorError, DeviceId, NodeOutcome, SliceCache, allocated_devices, claim_key,
};
use super::dra_cel::CelCache;
use super::node_selector::NodeSelectorMatcher;
use crate::framework::{
    ActionType, ClusterEvent, Code, CycleState, EventResource, FilterPlugin, NodeInfo, Plugin,
    PodInfo, Points, PreBindPlugin, PreEnqueuePlugin, PreFilterPlugin, PreFilterResult,
    ReservePlugin, Snapshot, Status,
};

pub const NAME: &str = "DynamicResources";
/// The finalizer that keeps an allocated claim from vanishing under a running pod.
pub const FINALIZER: &str = "resource.kubernetes.io/delete-protection";
/// Upstream `ResourceClaimReservedForMaxSize`.
pub const RESERVED_FOR_MAX: usize = 256;

pub type ClaimLister = Arc<dyn Fn(&str, &str) -> Option<Arc<ResourceClaim>> + Send + Sync>;
pub type AllClaimsLister = Arc<dyn Fn() -> Vec<Arc<ResourceClaim>> + Send + Sync>;
pub type SliceLister = Arc<dyn Fn() -> Vec<Arc<ResourceSlice>> + Send + Sync>;
pub type ClassLister = Arc<dyn Fn(&str) -> Option<Arc<DeviceClass>> + Send + Sync>;

#[derive(Clone, Debug)]
struct InFlight {
    pod_uid: String,
    allocation: AllocationResult,
}

pub struct DynamicResources {
    claim: ClaimLister,
    all_claims: AllClaimsLister,
    slices: SliceLister,
    class: ClassLister,
    client: Option<kube::Client>,
    cel: Arc<CelCache>,
    slice_cache: SliceCache,
    /// Allocations between Reserve and the end of PreBind, by claim uid.
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// Written by PreBind but maybe not seen by the informer yet, by claim uid.
    assumed: Mutex<HashMap<String, Assumed>>,
}

/// An allocation PreBind wrote: its devices count as in use until the lister shows it.
#[derive(Clone, Debug)]
struct Assumed {
    namespace: String,
    name: String,
    devices: Vec<DeviceId>,
}

#[derive(Clone)]
struct DraState {
    claims: Vec<Arc<ResourceClaim>>,
    available_on: Vec<Option<NodeSelectorMatcher>>,
    unsupported: Option<Status>,
    allocator: Option<Arc<Allocator>>,
    node_allocations: Arc<Mutex<HashMap<String, Vec<AllocationResult>>>>,
}

impl DynamicResources {
    /// Listers built by the scheduler from its informers: one claim by namespace/name, all
    /// claims, all ResourceSlices, a DeviceClass by name; `client` for PreBind.
    pub fn new(
        claim: ClaimLister,
        all_claims: AllClaimsLister,
        slices: SliceLister,
        class: ClassLister,
        client: kube::Client,
    ) -> DynamicResources {
        let mut plugin = DynamicResources::without_client(claim, all_claims, slices, class);
        plugin.client = Some(client);
        plugin
    }

    /// The same without API access (PreBind answers Error); for tests and simulations.
    pub fn without_client(
        claim: ClaimLister,
        all_claims: AllClaimsLister,
        slices: SliceLister,
        class: ClassLister,
    ) -> DynamicResources {
        DynamicResources {
            claim,
            all_claims,
            slices,
            class,
            client: None,
            cel: Arc::new(CelCache::default()),
            slice_cache: SliceCache::default(),
            in_flight: Mutex::new(HashMap::new()),
            assumed: Mutex::new(HashMap::new()),
        }
    }

    /// The pod's claims, or why it cannot be scheduled yet (upstream
    /// `foreachPodResourceClaim` with `resourceclaim.Name` / `IsForPod`).
    fn pod_claims(&self, pod: &PodInfo) -> Result<Vec<Arc<ResourceClaim>>, String> {
        let spec_claims = pod
            .pod
            .spec
            .iter()
            .flat_map(|s| s.resource_claims.iter().flatten());
        let statuses = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.resource_claim_statuses.as_ref());
        let mut claims = Vec::new();
        for pc in spec_claims {
            let (name, generated) = if let Some(n) = &pc.resource_claim_name {
                (n.clone(), false)
            } else if pc.resource_claim_template_name.is_some() {
                match statuses.into_iter().flatten().find(|s| s.name == pc.name) {
                    Some(s) => match &s.resource_claim_name {
                        Some(n) => (n.clone(), true),
                        // No claim needed for this entry (upstream: nil name, skipped).
                        None => continue,
                    },
                    None => return Err("waiting for resource claim to be created".into()),
                }
            } else {
                return Err(format!(
                    "pod {}: resource claim {}: none of the supported fields are set",
                    pod.key, pc.name
                ));
            };
            let Some(claim) = (self.claim)(pod.namespace(), &name) else {
                return Err(format!("resourceclaim {name:?} not found"));
            };
            if claim.metadata.deletion_timestamp.is_some() {
                return Err(format!("resourceclaim {name:?} is being deleted"));
            }
            if generated {
                let owned = claim
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.uid == pod.uid && o.controller == Some(true));
                if !owned {
                    return Err(format!(
                        "ResourceClaim {} was not created for pod {} (pod is not owner)",
                        claim_key(&claim),
                        pod.key
                    ));
                }
            }
            claims.push(claim);
        }
        Ok(claims)
    }

    /// Devices in use: every claim's allocation, in-flight and assumed allocations.
    fn devices_in_use(&self) -> HashSet<DeviceId> {
        let mut used = HashSet::new();
        let mut allocated_uids = HashSet::new();
        for claim in (self.all_claims)() {
            if let Some(a) = claim.status.as_ref().and_then(|s| s.allocation.as_ref()) {
                used.extend(allocated_devices(a));
                if let Some(uid) = &claim.metadata.uid {
                    allocated_uids.insert(uid.clone());
                }
            }
        }
        for f in self.in_flight.lock().values() {
            used.extend(allocated_devices(&f.allocation));
        }
        let mut assumed = self.assumed.lock();
        // Once the informer shows the allocation (or the claim is gone) the entry is done.
        assumed.retain(|uid, a| {
            !allocated_uids.contains(uid)
                && (self.claim)(&a.namespace, &a.name)
                    .is_some_and(|c| c.metadata.uid.as_deref() == Some(uid))
        });
        for a in assumed.values() {
            used.extend(a.devices.iter().cloned());
        }
        used
    }
}

fn reserved_for_pod(claim: &ResourceClaim, pod: &PodInfo) -> bool {
    claim
        .status
        .iter()
        .flat_map(|s| s.reserved_for.iter().flatten())
        .any(|r| r.uid == pod.uid && r.resource == "pods")
}

fn uid(claim: &ResourceClaim) -> String {
    claim.metadata.uid.clone().unwrap_or_default()
}

impl Plugin for DynamicResources {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Upstream `EventsToRegister`: claims and slices appearing or changing, classes,
    /// new nodes, deleted pods (their devices are freed when the claim is deallocated), and
    /// the pod's own status update naming its generated claim.
    fn events(&self) -> Vec<ClusterEvent> {
        let add_update = ActionType::ADD.or(ActionType::UPDATE);
        vec![
            ClusterEvent::new(
                EventResource::ResourceClaim,
                add_update,
                "ResourceClaimChange",
            ),
            ClusterEvent::new(
                EventResource::ResourceSlice,
                add_update,
                "ResourceSliceChange",
            ),
            ClusterEvent::new(EventResource::DeviceClass, add_update, "DeviceClassChange"),
            ClusterEvent::NODE_ADD,
            ClusterEvent::ASSIGNED_POD_DELETE,
            ClusterEvent::new(
                EventResource::UnscheduledPod,
                ActionType::UPDATE_OTHER,
                "UpdatePodGeneratedResourceClaim",
            ),
        ]
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_enqueue.push(self.clone());
        points.pre_filter.push(self.clone());
        points.filter.push(self.clone());
        points.reserve.push(self.clone());
        points.pre_bind.push(self);
    }
}

impl PreEnqueuePlugin for DynamicResources {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        match self.pod_claims(pod) {
            Ok(_) => Status::success(),
            Err(reason) => Status::new(Code::Pending, reason),
        }
    }
}

impl PreFilterPlugin for DynamicResources {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let claims = match self.pod_claims(pod) {
            Ok(c) => c,
            Err(reason) => return (None, Status::unresolvable(reason)),
        };
        if claims.is_empty() {
            return (None, Status::skip());
        }
        let mut available_on = Vec::with_capacity(claims.len());
        let mut to_allocate = Vec::new();
        for claim in &claims {
            let status = claim.status.as_ref();
            match status.and_then(|s| s.allocation.as_ref()) {
                Some(allocation) => {
                    let reserved = status
                        .and_then(|s| s.reserved_for.as_ref())
                        .map_or(0, Vec::len);
                    if reserved >= RESERVED_FOR_MAX && !reserved_for_pod(claim, pod) {
                        return (None, Status::unresolvable("resourceclaim in use"));
                    }
                    match allocation
                        .node_selector
                        .as_ref()
                        .map(NodeSelectorMatcher::from_node_selector_strict)
                    {
                        None => available_on.push(None),
                        Some(Ok(m)) => available_on.push(Some(m)),
                        Some(Err(e)) => return (None, Status::error(e)),
                    }
                }
                None => {
                    available_on.push(None);
                    if self.in_flight.lock().contains_key(&uid(claim)) {
                        return (
                            None,
                            Status::unresolvable(format!(
                                "resource claim {} is in the process of being allocated",
                                claim_key(claim)
                            )),
                        );
                    }
                    to_allocate.push(Arc::clone(claim));
                }
            }
        }
        let mut unsupported = None;
        let mut allocator = None;
        if !to_allocate.is_empty() {
            let in_use = self.devices_in_use();
            let slices = self.slice_cache.parse_all(&(self.slices)());
            let class = |name: &str| (self.class)(name);
            match Allocator::new(to_allocate, &in_use, &class, &slices, Arc::clone(&self.cel)) {
                Ok(a) => allocator = Some(Arc::new(a)),
                Err(AllocatorError::MissingClass { request, class }) => {
                    return (
                        None,
                        Status::unresolvable(format!(
                            "request {request}: device class {class} does not exist"
                        )),
                    );
                }
                Err(AllocatorError::Unsupported(feature)) => {
                    unsupported = Some(Status::unresolvable(format!("not supported: {feature}")));
                }
            }
        }
        state.write(
            NAME,
            DraState {
                claims,
                available_on,
                unsupported,
                allocator,
                node_allocations: Arc::default(),
            },
        );
        (None, Status::success())
    }
}

impl FilterPlugin for DynamicResources {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<DraState>(NAME) else {
            return Status::error(format!("reading {NAME:?} from cycle state: not found"));
        };
        if let Some(status) = &s.unsupported {
            return status.clone();
        }
        if s.available_on
            .iter()
            .flatten()
            .any(|m| !m.matches(&node.node))
        {
            return Status::unresolvable("resourceclaim not available on the node");
        }
        let Some(allocator) = &s.allocator else {
            return Status::success();
        };
        match allocator.allocate(&node.node) {
            NodeOutcome::Allocated(results) => {
                s.node_allocations
                    .lock()
                    .insert(node.name().to_owned(), results);
                Status::success()
            }
            NodeOutcome::Unfit { cel_error: Some(e) } => Status::unresolvable(e),
            NodeOutcome::Unfit { cel_error: None } => {
                Status::unschedulable("cannot allocate all claims")
            }
        }
    }
}

impl ReservePlugin for DynamicResources {
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        let Some(s) = state.read::<DraState>(NAME) else {
            return Status::success();
        };
        let Some(allocator) = &s.allocator else {
            return Status::success();
        };
        let Some(results) = s.node_allocations.lock().get(node).cloned() else {
            return Status::error("claim allocation not found for node");
        };
        let mut in_flight = self.in_flight.lock();
        for (claim, allocation) in allocator.claims().iter().zip(results) {
            let key = uid(claim);
            if in_flight.get(&key).is_some_and(|f| f.pod_uid != pod.uid) {
                return Status::error(format!(
                    "resource claim {} is in the process of being allocated",
                    claim_key(claim)
                ));
            }
            in_flight.insert(
                key,
                InFlight {
                    pod_uid: pod.uid.clone(),
                    allocation,
                },
            );
        }
        Status::success()
    }

    fn unreserve(&self, state: &CycleState, pod: &PodInfo, _node: &str) {
        let Some(s) = state.read::<DraState>(NAME) else {
            return;
        };
        let mut in_flight = self.in_flight.lock();
        for claim in &s.claims {
            let key = uid(claim);
            if in_flight.get(&key).is_some_and(|f| f.pod_uid == pod.uid) {
                in_flight.remove(&key);
            }
        }
    }
}

impl PreBindPlugin for DynamicResources {
    fn pre_bind<'a>(
        &'a self,
        state: &'a CycleState,
        pod: &'a PodInfo,
        _node: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            let Some(s) = state.read::<DraState>(NAME) else {
                return Status::success();
            };
            for claim in &s.claims {
                if reserved_for_pod(claim, pod) {
                    continue;
                }
                let key = uid(claim);
                let allocated = claim
                    .status
                    .as_ref()
                    .is_some_and(|st| st.allocation.is_some());
                let allocation = if allocated {
                    None
                } else {
                    match self.in_flight.lock().get(&key) {
                        Some(f) if f.pod_uid == pod.uid => Some(f.allocation.clone()),
                        _ => return Status::error("claim allocation not found for node"),
                    }
                };
                if let Err(e) = self.bind_claim(claim, allocation.as_ref(), pod).await {
                    return Status::error(e);
                }
                if let Some(a) = allocation {
                    self.in_flight.lock().remove(&key);
                    let assumed = Assumed {
                        namespace: claim.metadata.namespace.clone().unwrap_or_default(),
                        name: claim.metadata.name.clone().unwrap_or_default(),
                        devices: allocated_devices(&a).collect(),
                    };
                    self.assumed.lock().insert(key, assumed);
                }
            }
            Status::success()
        })
    }
}

impl DynamicResources {
    /// Upstream `bindClaim`: finalizer first (a normal update), then allocation and
    /// reservation in one status update. The claim's resourceVersion makes a concurrent
    /// change a conflict.
    async fn bind_claim(
        &self,
        claim: &ResourceClaim,
        allocation: Option<&AllocationResult>,
        pod: &PodInfo,
    ) -> Result<(), String> {
        use kube::api::{Api, PostParams};
        let Some(client) = &self.client else {
            return Err("no API client to update ResourceClaims".into());
        };
        let ns = claim.metadata.namespace.as_deref().unwrap_or_default();
        let name = claim.metadata.name.as_deref().unwrap_or_default();
        let api: Api<ResourceClaim> = Api::namespaced(client.clone(), ns);
        let mut claim = claim.clone();
        let pp = PostParams::default();
        if let Some(allocation) = allocation {
            let finalizers = claim.metadata.finalizers.get_or_insert_with(Vec::new);
            if !finalizers.iter().any(|f| f == FINALIZER) {
                finalizers.push(FINALIZER.to_owned());
                claim = api
                    .replace(name, &pp, &claim)
                    .await
                    .map_err(|e| format!("add finalizer to claim {ns}/{name}: {e}"))?;
            }
            claim.status.get_or_insert_with(Default::default).allocation = Some(allocation.clone());
        }
        let status = claim.status.get_or_insert_with(Default::default);
        status
            .reserved_for
            .get_or_insert_with(Vec::new)
            .push(ResourceClaimConsumerReference {
                api_group: None,
                resource: "pods".into(),
                name: pod.name().to_owned(),
                uid: pod.uid.clone(),
            });
        api.replace_status(name, &pp, &claim)
            .await
            .map(|_| ())
            .map_err(|e| {
                let what = if allocation.is_some() {
                    "allocation and reservation"
                } else {
                    "reservation"
                };
                format!("add {what} to claim {ns}/{name}: {e}")
            })
    }
}

#[cfg(test)]
#[path = "dynamic_resources_tests.rs"]
mod tests;

//! The structured-parameters allocator of DynamicResources (upstream
//! `staging/src/k8s.io/dynamic-resource-allocation/structured/allocator.go` and `pools.go`):
//! given the pod's unallocated ResourceClaims, the published ResourceSlices, the DeviceClasses
//! and the devices already in use, it picks devices on one node for every request, or says
//! that the node cannot satisfy them. Pure: no I/O, callable from parallel Filter calls.
//!
//! What it does, as upstream:
//! - devices come from the slices of each pool's newest generation; a device is on a node when
//!   its slice (or, with `perDeviceNodeSelection`, the device itself) names the node
//!   (`nodeName`), matches it (`nodeSelector`) or is on every node (`allNodes`);
//! - a request (`exactly`) wants `count` devices (`ExactCount`, default 1) or every matching
//!   device on the node (`All`; refused while a pool is being updated, or when one of them is
//!   in use); a device matches when every selector of the request's DeviceClass and then of
//!   the request accepts it;
//! - a device serves one request of one claim; in-use devices are skipped;
//! - choices are backtracked, so an early request taking a device a later one needs does not
//!   fail the node;
//! - the result per claim: a device result per device (request, driver, pool, device), the
//!   class configs (`FromClass`) and the claim's configs (`FromClaim`), and a node selector:
//!   pinned to the node when a device is node-local, the slice's selector when one came from a
//!   selector slice, none when every device is on all nodes.
//!
//! Not supported (the claim is refused with "not supported: <feature>"): `firstAvailable`
//! (prioritized lists), `adminAccess`, constraints (`matchAttribute`/`distinctAttribute`),
//! request tolerations (device taints), consumable `capacity` requests. Devices that consume
//! shared counters (partitionable devices) and devices with a NoSchedule/NoExecute taint are
//! never picked (upstream would account counters / honour tolerations).
//! The search is bounded ([`SEARCH_BUDGET`] steps per node); past it the node counts as unfit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use k8s_openapi::api::core::v1::{Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::api::resource::v1::{
    AllocationResult, DeviceAllocationConfiguration, DeviceAllocationResult, DeviceClass,
    DeviceRequestAllocationResult, ResourceClaim, ResourceSlice,
};
use parking_lot::Mutex;

use super::dra_cel::{CelCache, CelDevice, CelError};
use super::node_selector::NodeSelectorMatcher;

/// Steps of the backtracking search per node before giving up on it.
pub const SEARCH_BUDGET: usize = 100_000;

/// A device, as allocation results and in-use sets name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId {
    pub driver: String,
    pub pool: String,
    pub device: String,
}

/// Where a slice's (or a device's) devices can be used.
#[derive(Clone, Debug)]
enum Scope {
    Node(String),
    All,
    Selector(NodeSelectorMatcher, NodeSelector),
    /// Per-device selection, or nothing set: decided by the device (or nowhere).
    PerDevice,
}

impl Scope {
    fn of(node_name: Option<&String>, all: Option<bool>, selector: Option<&NodeSelector>) -> Scope {
        if let Some(n) = node_name.filter(|n| !n.is_empty()) {
            Scope::Node(n.clone())
        } else if all == Some(true) {
            Scope::All
        } else if let Some(s) = selector {
            Scope::Selector(NodeSelectorMatcher::from_node_selector(s), s.clone())
        } else {
            Scope::PerDevice
        }
    }

    fn matches(&self, node: &Node) -> bool {
        match self {
            Scope::Node(n) => node.metadata.name.as_deref() == Some(n.as_str()),
            Scope::All => true,
            Scope::Selector(m, _) => m.matches(node),
            Scope::PerDevice => false,
        }
    }
}

#[derive(Debug)]
struct ParsedDevice {
    id: DeviceId,
    cel: CelDevice,
    /// `Some` with per-device node selection.
    scope: Option<Scope>,
    /// Tainted (NoSchedule/NoExecute) or consuming shared counters: never picked.
    unusable: bool,
}

/// One ResourceSlice version, parsed once (CEL values included) and shared by every cycle.
#[derive(Debug)]
pub struct ParsedSlice {
    driver: String,
    pool: String,
    generation: i64,
    slice_count: i64,
    scope: Scope,
    devices: Vec<ParsedDevice>,
}

impl ParsedSlice {
    pub fn new(slice: &ResourceSlice) -> ParsedSlice {
        let spec = &slice.spec;
        let scope = Scope::of(
            spec.node_name.as_ref(),
            spec.all_nodes,
            spec.node_selector.as_ref(),
        );
        let per_device = spec.per_device_node_selection == Some(true);
        let devices = spec
            .devices
            .iter()
            .flatten()
            .map(|d| ParsedDevice {
                id: DeviceId {
                    driver: spec.driver.clone(),
                    pool: spec.pool.name.clone(),
                    device: d.name.clone(),
                },
                cel: CelDevice::new(&spec.driver, d),
                scope: per_device.then(|| {
                    Scope::of(d.node_name.as_ref(), d.all_nodes, d.node_selector.as_ref())
                }),
                unusable: d.consumes_counters.as_ref().is_some_and(|c| !c.is_empty())
                    || d.taints
                        .iter()
                        .flatten()
                        .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute"),
            })
            .collect();
        ParsedSlice {
            driver: spec.driver.clone(),
            pool: spec.pool.name.clone(),
            generation: spec.pool.generation,
            slice_count: spec.pool.resource_slice_count,
            scope,
            devices,
        }
    }
}

/// Parsed slices by name/uid/resourceVersion: a slice is parsed again only when it changes.
#[derive(Default)]
pub struct SliceCache {
    parsed: Mutex<HashMap<String, Arc<ParsedSlice>>>,
}

impl SliceCache {
    /// The parsed form of `slices`; entries for slices no longer listed are dropped.
    pub fn parse_all(&self, slices: &[Arc<ResourceSlice>]) -> Vec<Arc<ParsedSlice>> {
        let key = |s: &ResourceSlice| {
            format!(
                "{}/{}/{}",
                s.metadata.name.as_deref().unwrap_or_default(),
                s.metadata.uid.as_deref().unwrap_or_default(),
                s.metadata.resource_version.as_deref().unwrap_or_default()
            )
        };
        let mut parsed = self.parsed.lock();
        let mut next = HashMap::with_capacity(slices.len());
        let out = slices
            .iter()
            .map(|s| {
                let k = key(s);
                let p = parsed
                    .remove(&k)
                    .or_else(|| next.get(&k).cloned())
                    .unwrap_or_else(|| Arc::new(ParsedSlice::new(s)));
                next.insert(k, Arc::clone(&p));
                p
            })
            .collect();
        *parsed = next;
        out
    }
}

/// Why claims cannot be allocated anywhere (independent of the node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllocatorError {
    /// A feature this allocator leaves out: "not supported: <feature>".
    Unsupported(String),
    /// "request <name>: device class <class> does not exist".
    MissingClass { request: String, class: String },
}

/// What one node can do for the claims.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeOutcome {
    /// One result per claim, in the order the claims were given.
    Allocated(Vec<AllocationResult>),
    /// Not on this node; `cel_error` is the first selector error met, if any.
    Unfit { cel_error: Option<String> },
}

#[derive(Debug)]
enum Mode {
    Count(usize),
    All,
}

#[derive(Debug)]
struct RequestPlan {
    claim: usize,
    name: String,
    selectors: Vec<String>,
    mode: Mode,
}

/// The claims of one pod to allocate, with everything node-independent prepared once
/// (upstream `NewAllocator`); [`Allocator::allocate`] runs per node.
pub struct Allocator {
    claims: Vec<Arc<ResourceClaim>>,
    configs: Vec<Vec<DeviceAllocationConfiguration>>,
    requests: Vec<RequestPlan>,
    devices: Vec<(Arc<ParsedSlice>, usize)>,
    in_use: Vec<bool>,
    incomplete_pool: Vec<bool>,
    by_node: HashMap<String, Vec<usize>>,
    elsewhere: Vec<usize>,
    /// Selector results per (request, device), computed on first use and shared by every
    /// node's Filter.
    matches: Vec<OnceLock<Result<bool, CelError>>>,
    cel: Arc<CelCache>,
}

impl Allocator {
    pub fn new(
        claims: Vec<Arc<ResourceClaim>>,
        in_use: &HashSet<DeviceId>,
        class: &dyn Fn(&str) -> Option<Arc<DeviceClass>>,
        slices: &[Arc<ParsedSlice>],
        cel: Arc<CelCache>,
    ) -> Result<Allocator, AllocatorError> {
        let mut requests = Vec::new();
        let mut configs = Vec::new();
        for (ci, claim) in claims.iter().enumerate() {
            let spec = claim.spec.devices.as_ref();
            if spec
                .and_then(|d| d.constraints.as_ref())
                .is_some_and(|c| !c.is_empty())
            {
                return Err(AllocatorError::Unsupported("constraints".into()));
            }
            let mut config = Vec::new();
            for request in spec.and_then(|d| d.requests.as_ref()).into_iter().flatten() {
                if request
                    .first_available
                    .as_ref()
                    .is_some_and(|f| !f.is_empty())
                {
                    return Err(AllocatorError::Unsupported("firstAvailable".into()));
                }
                let Some(exact) = &request.exactly else {
                    return Err(AllocatorError::Unsupported(format!(
                        "request {} without exactly",
                        request.name
                    )));
                };
                if exact.admin_access == Some(true) {
                    return Err(AllocatorError::Unsupported("adminAccess".into()));
                }
                if exact.tolerations.as_ref().is_some_and(|t| !t.is_empty()) {
                    return Err(AllocatorError::Unsupported("device taints".into()));
                }
                if exact.capacity.is_some() {
                    return Err(AllocatorError::Unsupported("consumable capacity".into()));
                }
                let Some(device_class) = class(&exact.device_class_name) else {
                    return Err(AllocatorError::MissingClass {
                        request: request.name.clone(),
                        class: exact.device_class_name.clone(),
                    });
                };
                let cel_of = |s: &k8s_openapi::api::resource::v1::DeviceSelector| {
                    s.cel.as_ref().map(|c| c.expression.clone())
                };
                let mut selectors: Vec<String> = device_class
                    .spec
                    .selectors
                    .iter()
                    .flatten()
                    .filter_map(cel_of)
                    .collect();
                selectors.extend(exact.selectors.iter().flatten().filter_map(cel_of));
                let mode = match exact.allocation_mode.as_deref() {
                    Some("All") => Mode::All,
                    None | Some("ExactCount") | Some("") => {
                        Mode::Count(usize::try_from(exact.count.unwrap_or(1).max(1)).unwrap_or(1))
                    }
                    Some(other) => {
                        return Err(AllocatorError::Unsupported(format!(
                            "allocationMode {other}"
                        )));
                    }
                };
                for c in device_class.spec.config.iter().flatten() {
                    config.push(DeviceAllocationConfiguration {
                        opaque: c.opaque.clone(),
                        requests: Some(vec![request.name.clone()]),
                        source: "FromClass".into(),
                    });
                }
                requests.push(RequestPlan {
                    claim: ci,
                    name: request.name.clone(),
                    selectors,
                    mode,
                });
            }
            for c in spec.and_then(|d| d.config.as_ref()).into_iter().flatten() {
                config.push(DeviceAllocationConfiguration {
                    opaque: c.opaque.clone(),
                    requests: c.requests.clone(),
                    source: "FromClaim".into(),
                });
            }
            configs.push(config);
        }

        // Pools: only the newest generation counts; fewer slices than announced = incomplete.
        let mut newest: HashMap<(&str, &str), (i64, i64, i64)> = HashMap::new();
        for s in slices {
            let e = newest
                .entry((&s.driver, &s.pool))
                .or_insert((s.generation, s.slice_count, 0));
            if s.generation > e.0 {
                *e = (s.generation, s.slice_count, 0);
            }
            if s.generation == e.0 {
                e.2 += 1;
            }
        }
        let mut devices = Vec::new();
        let mut incomplete_pool = Vec::new();
        let mut flags = Vec::new();
        let mut by_node: HashMap<String, Vec<usize>> = HashMap::new();
        let mut elsewhere = Vec::new();
        for s in slices {
            let Some(&(generation, count, seen)) =
                newest.get(&(s.driver.as_str(), s.pool.as_str()))
            else {
                continue;
            };
            if s.generation != generation {
                continue;
            }
            for (di, d) in s.devices.iter().enumerate() {
                let index = devices.len();
                devices.push((Arc::clone(s), di));
                incomplete_pool.push(seen < count);
                flags.push(in_use.contains(&d.id));
                match (&d.scope, &s.scope) {
                    (None, Scope::Node(n)) => by_node.entry(n.clone()).or_default().push(index),
                    _ => elsewhere.push(index),
                }
            }
        }
        let matches = (0..requests.len() * devices.len())
            .map(|_| OnceLock::new())
            .collect();
        Ok(Allocator {
            claims,
            configs,
            requests,
            devices,
            in_use: flags,
            incomplete_pool,
            by_node,
            elsewhere,
            matches,
            cel,
        })
    }

    pub fn claims(&self) -> &[Arc<ResourceClaim>] {
        &self.claims
    }

    fn device(&self, i: usize) -> &ParsedDevice {
        let (slice, di) = &self.devices[i];
        &slice.devices[*di]
    }

    fn on_node(&self, i: usize, node: &Node) -> bool {
        let (slice, di) = &self.devices[i];
        match &slice.devices[*di].scope {
            Some(scope) => scope.matches(node),
            None => slice.scope.matches(node),
        }
    }

    fn request_matches(&self, r: usize, i: usize) -> &Result<bool, CelError> {
        self.matches[r * self.devices.len() + i].get_or_init(|| {
            let device = &self.device(i).cel;
            for (n, expression) in self.requests[r].selectors.iter().enumerate() {
                match self.cel.matches(expression, device) {
                    Ok(true) => {}
                    Ok(false) => return Ok(false),
                    Err(e) => {
                        let prefix = format!(
                            "claim {}, request {}: selector #{n}: ",
                            claim_key(&self.claims[self.requests[r].claim]),
                            self.requests[r].name
                        );
                        return Err(match e {
                            CelError::Compile(m) => CelError::Compile(format!("{prefix}{m}")),
                            CelError::Runtime(m) => CelError::Runtime(format!("{prefix}{m}")),
                        });
                    }
                }
            }
            Ok(true)
        })
    }

    /// Devices for every request of every claim on `node`, or why not.
    pub fn allocate(&self, node: &Node) -> NodeOutcome {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let on_node: Vec<usize> = self
            .by_node
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .chain(
                self.elsewhere
                    .iter()
                    .copied()
                    .filter(|&i| self.on_node(i, node)),
            )
            .filter(|&i| !self.device(i).unusable)
            .collect();
        let mut cel_error: Option<String> = None;
        let mut wants: Vec<(Vec<usize>, usize)> = Vec::with_capacity(self.requests.len());
        let mut fixed: HashSet<usize> = HashSet::new();
        for r in 0..self.requests.len() {
            let mut matching = Vec::new();
            for &i in &on_node {
                match self.request_matches(r, i) {
                    Ok(true) => matching.push(i),
                    Ok(false) => {}
                    Err(e) => {
                        cel_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            match self.requests[r].mode {
                Mode::Count(n) => {
                    matching.retain(|&i| !self.in_use[i]);
                    wants.push((matching, n));
                }
                Mode::All => {
                    let blocked = matching.is_empty()
                        || matching.iter().any(|&i| {
                            self.in_use[i] || self.incomplete_pool[i] || fixed.contains(&i)
                        });
                    if blocked {
                        return NodeOutcome::Unfit { cel_error };
                    }
                    fixed.extend(matching.iter().copied());
                    let n = matching.len();
                    wants.push((matching, n));
                }
            }
        }
        let mut chosen: Vec<Vec<usize>> = vec![Vec::new(); wants.len()];
        let mut used: HashSet<usize> = HashSet::new();
        let mut budget = SEARCH_BUDGET;
        // "All" requests own their devices: take them first so Count requests avoid them.
        for (r, (cands, _)) in wants.iter().enumerate() {
            if matches!(self.requests[r].mode, Mode::All) {
                chosen[r] = cands.clone();
                used.extend(cands.iter().copied());
            }
        }
        if !self.search(&wants, 0, 0, &mut chosen, &mut used, &mut budget) {
            return NodeOutcome::Unfit { cel_error };
        }
        NodeOutcome::Allocated(self.results(&chosen, name))
    }

    /// Picks the devices of request `r` from position `start` on, then the later requests.
    fn search(
        &self,
        wants: &[(Vec<usize>, usize)],
        r: usize,
        start: usize,
        chosen: &mut Vec<Vec<usize>>,
        used: &mut HashSet<usize>,
        budget: &mut usize,
    ) -> bool {
        let Some((cands, n)) = wants.get(r) else {
            return true;
        };
        if matches!(self.requests[r].mode, Mode::All) || chosen[r].len() == *n {
            return self.search(wants, r + 1, 0, chosen, used, budget);
        }
        for (pos, &i) in cands.iter().enumerate().skip(start) {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            if used.contains(&i) {
                continue;
            }
            // Not enough candidates left to complete this request.
            if cands.len() - pos < n - chosen[r].len() {
                return false;
            }
            used.insert(i);
            chosen[r].push(i);
            if self.search(wants, r, pos + 1, chosen, used, budget) {
                return true;
            }
            chosen[r].pop();
            used.remove(&i);
        }
        false
    }

    fn results(&self, chosen: &[Vec<usize>], node: &str) -> Vec<AllocationResult> {
        let mut out = Vec::with_capacity(self.claims.len());
        for (ci, config) in self.configs.iter().enumerate() {
            let mut results = Vec::new();
            let mut pin = false;
            let mut selectors: BTreeMap<String, NodeSelector> = BTreeMap::new();
            for (r, devices) in chosen.iter().enumerate() {
                if self.requests[r].claim != ci {
                    continue;
                }
                for &i in devices {
                    let (slice, di) = &self.devices[i];
                    let d = &slice.devices[*di];
                    match d.scope.as_ref().unwrap_or(&slice.scope) {
                        Scope::Node(_) | Scope::PerDevice => pin = true,
                        Scope::Selector(_, s) => {
                            selectors.insert(format!("{s:?}"), s.clone());
                        }
                        Scope::All => {}
                    }
                    results.push(DeviceRequestAllocationResult {
                        request: self.requests[r].name.clone(),
                        driver: d.id.driver.clone(),
                        pool: d.id.pool.clone(),
                        device: d.id.device.clone(),
                        ..Default::default()
                    });
                }
            }
            let node_selector = if pin || selectors.len() > 1 {
                Some(pin_to_node(node))
            } else {
                selectors.into_values().next()
            };
            out.push(AllocationResult {
                devices: Some(DeviceAllocationResult {
                    results: Some(results),
                    config: (!config.is_empty()).then(|| config.clone()),
                }),
                node_selector,
                allocation_timestamp: None,
            });
        }
        out
    }
}

/// `matchFields: metadata.name In [node]` (upstream's node selector for node-local devices).
pub fn pin_to_node(node: &str) -> NodeSelector {
    NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.to_owned()]),
            }]),
            match_expressions: None,
        }],
    }
}

/// `namespace/name`, as upstream's `klog.KObj`.
pub fn claim_key(claim: &ResourceClaim) -> String {
    format!(
        "{}/{}",
        claim.metadata.namespace.as_deref().unwrap_or_default(),
        claim.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The devices an allocation result names.
pub fn allocated_devices(allocation: &AllocationResult) -> impl Iterator<Item = DeviceId> + '_ {
    allocation
        .devices
        .iter()
        .flat_map(|d| d.results.iter().flatten())
        .map(|r| DeviceId {
            driver: r.driver.clone(),
            pool: r.pool.clone(),
            device: r.device.clone(),
        })
}

//! What the scheduler knows about pods and nodes, computed once per object version: a pod's
//! resource requests, host ports and affinity terms ([`PodInfo`]); a node's allocatable
//! resources, the pods on it and what they use ([`NodeInfo`]). Upstream:
//! `pkg/scheduler/framework/types.go` and `component-helpers/resource/helpers.go`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Node, Pod, PodAffinityTerm};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use ultrak8s_controllers::Selector;

use super::quantity::{milli_value, value};

/// Requests for containers that ask for no CPU count as this much when spreading load
/// (upstream `DefaultMilliCPURequest`), so that best-effort pods do not all pile onto one node.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory counterpart (upstream `DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of every resource the scheduler counts. Extended resources (`nvidia.com/gpu`,
/// `aws.amazon.com/neuron`, hugepages) are in `scalar`, in whole units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pod_number: i64,
    pub scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// Reads a `ResourceList` (requests, limits, allocatable, overhead).
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resource {
        let mut r = Resource::default();
        for (name, q) in list.into_iter().flatten() {
            r.set(name, &q.0);
        }
        r
    }

    fn set(&mut self, name: &str, quantity: &str) {
        match name {
            "cpu" => self.milli_cpu = milli_value(quantity),
            "memory" => self.memory = value(quantity),
            "ephemeral-storage" => self.ephemeral_storage = value(quantity),
            "pods" => self.allowed_pod_number = value(quantity),
            other if is_scalar_resource(other) => {
                self.scalar.insert(other.to_owned(), value(quantity));
            }
            _ => {}
        }
    }

    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.get(name).copied().unwrap_or(0)
    }

    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += v;
        }
    }

    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() -= v;
        }
    }

    /// Each resource the larger of the two (upstream `SetMaxResource`).
    pub fn max_with(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let mine = self.scalar.entry(name.clone()).or_default();
            *mine = (*mine).max(*v);
        }
    }
}

/// Extended resources (a domain-prefixed name outside `kubernetes.io/`), hugepages and
/// attachable volume limits: counted like GPUs, in whole units (upstream
/// `schedutil.IsScalarResourceName`).
pub fn is_scalar_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || is_extended_resource(name)
}

/// `nvidia.com/gpu`, `aws.amazon.com/neuron`: a name with a domain that is not
/// `kubernetes.io` and not a `requests.` quota name (upstream `IsExtendedResourceName`).
pub fn is_extended_resource(name: &str) -> bool {
    match name.split_once('/') {
        Some((domain, _)) => {
            !(domain == "kubernetes.io"
                || domain.ends_with(".kubernetes.io")
                || name.starts_with("requests."))
        }
        None => false,
    }
}

/// A host port a pod binds: (host IP, protocol, port); `0.0.0.0` when no IP is given.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

/// A pod (anti-)affinity term with its selectors parsed (upstream `framework.AffinityTerm`).
/// `namespaces` empty and no namespace selector means "the pod's own namespace", already
/// filled in here.
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    pub namespaces: Vec<String>,
    /// `None`: the term selects no pod (an invalid selector, as upstream's conversion error).
    pub selector: Option<Selector>,
    pub topology_key: String,
    /// `Some`: namespaces whose labels match also count (an empty selector: every namespace).
    pub namespace_selector: Option<Selector>,
}

#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    pub term: AffinityTerm,
    pub weight: i32,
}

impl AffinityTerm {
    fn parse(term: &PodAffinityTerm, pod_namespace: &str) -> AffinityTerm {
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        let namespace_selector = term.namespace_selector.as_ref().and_then(Selector::parse);
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(pod_namespace.to_owned());
        }
        let selector = match &term.label_selector {
            Some(s) => Selector::parse(s),
            // No selector selects nothing (upstream `LabelSelectorAsSelector(nil)`).
            None => None,
        };
        // matchLabelKeys / mismatchLabelKeys were merged into the selector by the API server
        // when the pod was created (upstream does it in the registry), so nothing to do here.
        AffinityTerm {
            namespaces,
            selector,
            topology_key: term.topology_key.clone(),
            namespace_selector,
        }
    }

    /// Whether `pod` (in a namespace with `namespace_labels`) is one this term selects.
    pub fn matches(&self, pod: &Pod, namespace_labels: Option<&BTreeMap<String, String>>) -> bool {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let in_namespace = self.namespaces.iter().any(|n| n == namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(namespace_labels));
        in_namespace
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(pod.metadata.labels.as_ref()))
    }
}

/// A pod with everything the plugins read from it computed once.
#[derive(Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    /// `namespace/name`.
    pub key: String,
    pub uid: String,
    /// What the pod asks for (upstream `PodRequests`): containers, init containers (sidecars
    /// included), pod-level requests and overhead.
    pub requests: Resource,
    /// CPU and memory with the defaults for containers that ask for none (upstream
    /// `NonMissingContainerRequests`), for spreading scores.
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let (requests, non_zero) = match spec {
            Some(spec) => pod_requests(spec),
            None => (Resource::default(), Resource::default()),
        };
        let host_ports = spec
            .into_iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .flat_map(|c| c.ports.iter().flatten())
            .filter(|p| p.host_port.is_some_and(|h| h > 0))
            .map(|p| HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port: p.host_port.unwrap_or_default(),
            })
            .collect();
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let required = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .map(|t| AffinityTerm::parse(t, &namespace))
                .collect()
        };
        let weighted =
            |terms: Option<&Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>| {
                terms
                    .into_iter()
                    .flatten()
                    .map(|t| WeightedAffinityTerm {
                        term: AffinityTerm::parse(&t.pod_affinity_term, &namespace),
                        weight: t.weight,
                    })
                    .collect::<Vec<_>>()
            };
        PodInfo {
            key: format!("{namespace}/{name}"),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            requests,
            non_zero_milli_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            host_ports,
            required_affinity: required(pod_affinity.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            required_anti_affinity: required(anti.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_affinity: weighted(pod_affinity.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_anti_affinity: weighted(anti.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            pod,
        }
    }

    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn priority(&self) -> i32 {
        pod_priority(&self.pod)
    }

    /// Whether the pod has any pod affinity or anti-affinity term.
    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }
}

/// `spec.priority`, 0 when unset (upstream `corev1helpers.PodPriority`).
pub fn pod_priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// The pod's requests and the same with defaults for unset CPU/memory (upstream
/// `resource.PodRequests`): the sum over containers, or the largest init step when larger
/// (restartable sidecar init containers stay running, so they add to every later step and to
/// the containers), pod-level requests instead of the aggregate where given, plus overhead.
/// In-place resize (`status.resize`, allocated resources) is not considered yet.
fn pod_requests(spec: &k8s_openapi::api::core::v1::PodSpec) -> (Resource, Resource) {
    let requests_of = |c: &Container, non_zero: bool| {
        let mut r = Resource::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
        if non_zero {
            let has = |n: &str| {
                c.resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .is_some_and(|q| q.contains_key(n))
            };
            if !has("cpu") {
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
            }
            if !has("memory") {
                r.memory = DEFAULT_MEMORY_REQUEST;
            }
        }
        r
    };
    let aggregate = |non_zero: bool| {
        let mut total = Resource::default();
        for c in &spec.containers {
            total.add(&requests_of(c, non_zero));
        }
        let mut sidecars = Resource::default();
        let mut max_init = Resource::default();
        for c in spec.init_containers.iter().flatten() {
            let r = requests_of(c, non_zero);
            let step = if c.restart_policy.as_deref() == Some("Always") {
                sidecars.add(&r);
                sidecars.clone()
            } else {
                let mut step = r;
                step.add(&sidecars);
                step
            };
            max_init.max_with(&step);
        }
        total.add(&sidecars);
        total.max_with(&max_init);
        if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
            let pod_level = Resource::from_list(Some(pod_level));
            if pod_level.milli_cpu > 0 || pod_level.memory > 0 {
                if pod_level.milli_cpu > 0 {
                    total.milli_cpu = pod_level.milli_cpu;
                }
                if pod_level.memory > 0 {
                    total.memory = pod_level.memory;
                }
            }
        }
        total.add(&Resource::from_list(spec.overhead.as_ref()));
        total
    };
    (aggregate(false), aggregate(true))
}

/// A node with the pods the scheduler placed or found on it (upstream `framework.NodeInfo`).
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub pods: Vec<Arc<PodInfo>>,
    /// Pods with any pod (anti-)affinity term, and those with a required anti-affinity term:
    /// the only ones InterPodAffinity has to look at on other nodes.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    pub used_ports: Vec<HostPort>,
    /// Sum of the requests of the pods on the node.
    pub requested: Resource,
    /// The same with the defaults for unset CPU/memory.
    pub non_zero_requested: Resource,
    pub allocatable: Resource,
    /// Image name (every name the node reports for it) → size in bytes; shared, so that
    /// copying a NodeInfo when a pod is placed does not copy it.
    pub images: Arc<HashMap<String, i64>>,
    /// Claims of PersistentVolumeClaims by the pods on the node: `namespace/claim` → pods.
    pub pvc_ref_counts: HashMap<String, usize>,
    /// Bumped on every change; the snapshot copies nodes whose generation moved.
    pub generation: u64,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut info = NodeInfo {
            node: Arc::clone(&node),
            pods: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            used_ports: Vec::new(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            allocatable: Resource::default(),
            images: Arc::default(),
            pvc_ref_counts: HashMap::new(),
            generation: 0,
        };
        info.set_node(node);
        info
    }

    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or_default()
    }

    /// A new version of the node: allocatable and images are read again; pods stay.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let status = node.status.as_ref();
        self.allocatable = Resource::from_list(status.and_then(|s| s.allocatable.as_ref()));
        let mut images = HashMap::new();
        for image in status.and_then(|s| s.images.as_ref()).into_iter().flatten() {
            for name in image.names.iter().flatten() {
                images.insert(normalized_image_name(name), image.size_bytes.unwrap_or(0));
            }
        }
        self.images = Arc::new(images);
        self.node = node;
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.milli_cpu += pod.non_zero_milli_cpu;
        self.non_zero_requested.memory += pod.non_zero_memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        for claim in pvc_claims(&pod.pod) {
            *self.pvc_ref_counts.entry(claim).or_default() += 1;
        }
        if pod.has_affinity() {
            self.pods_with_affinity.push(Arc::clone(&pod));
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity.push(Arc::clone(&pod));
        }
        self.pods.push(pod);
    }

    /// Removes the pod with this uid; false when it was not on the node.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(at) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(at);
        self.pods_with_affinity.retain(|p| p.uid != uid);
        self.pods_with_required_anti_affinity
            .retain(|p| p.uid != uid);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.milli_cpu -= pod.non_zero_milli_cpu;
        self.non_zero_requested.memory -= pod.non_zero_memory;
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        for claim in pvc_claims(&pod.pod) {
            if let Some(n) = self.pvc_ref_counts.get_mut(&claim) {
                *n -= 1;
                if *n == 0 {
                    self.pvc_ref_counts.remove(&claim);
                }
            }
        }
        true
    }
}

/// `namespace/claim` for every PersistentVolumeClaim the pod mounts.
pub fn pvc_claims(pod: &Pod) -> Vec<String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(claim) = &v.persistent_volume_claim {
                Some(format!("{namespace}/{}", claim.claim_name))
            } else {
                // A generic ephemeral volume's claim is named `<pod>-<volume>`.
                v.ephemeral
                    .as_ref()
                    .map(|_| format!("{namespace}/{name}-{}", v.name))
            }
        })
        .collect()
}

/// An image name as a node reports it and a pod names it, made comparable: a name without a
/// tag or digest means `:latest` (upstream `normalizedImageName`).
pub fn normalized_image_name(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

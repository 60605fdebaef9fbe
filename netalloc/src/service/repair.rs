//! The repair loops of the bitmap allocators: rebuild the ClusterIP and NodePort state from
//! the stored Services and report what did not match.
//!
//! Mirrors `pkg/registry/core/service/ipallocator/controller/repair.go` and
//! `pkg/registry/core/service/portallocator/controller/repair.go`. One run:
//! 1. starts an empty allocator over the same range and allocates every value a Service
//!    holds, in the order the Services are listed; the first holder wins, each later holder
//!    is a duplicate ("... was assigned to multiple services; please recreate"), a value out
//!    of range is reported ("... is not within the service CIDR ..."), a value held but
//!    missing from the stored allocator is repaired ("... is not allocated; repairing");
//! 2. whatever the stored allocator holds that no Service claimed may have leaked: it is
//!    kept for `NUM_REPAIRS_BEFORE_LEAK_CLEANUP` runs (a Service may be half-created) and
//!    then freed ("... appears to have leaked: cleaning up").
//!
//! The caller persists `rebuilt` (upstream's "blast the rebuilt state into storage") and
//! logs or records the findings. A consistent state yields no finding and a `rebuilt` equal
//! to the stored allocator. Upstream prints "service name/namespace" (the arguments are
//! swapped in its `Errorf` calls); these messages print "namespace/name".

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use super::error::ServiceAllocError;
use super::ip::IpAllocator;
use super::port::PortAllocator;
use crate::cidr::Family;

/// How many runs must see a leak before it is freed (upstream `numRepairsBeforeLeakCleanup`).
pub const NUM_REPAIRS_BEFORE_LEAK_CLEANUP: u32 = 3;

/// A Service, by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
}

impl ServiceRef {
    pub fn new(namespace: &str, name: &str) -> Self {
        ServiceRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The ClusterIP fields of a stored Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceClusterIps {
    pub service: ServiceRef,
    /// `spec.clusterIPs` as stored; "" and "None" (headless) hold no address.
    pub cluster_ips: Vec<String>,
}

/// One entry of `spec.ports` as far as NodePorts matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePortSpec {
    /// `nodePort`; 0 when the port has none.
    pub node_port: i32,
    /// `protocol`: "TCP", "UDP" or "SCTP".
    pub protocol: String,
}

/// The NodePort fields of a stored Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceNodePorts {
    pub service: ServiceRef,
    pub ports: Vec<NodePortSpec>,
    /// `spec.healthCheckNodePort`; 0 when unset.
    pub health_check_node_port: i32,
}

/// One thing a repair run found; `Display` gives upstream's log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepairFinding<V> {
    /// A ClusterIP that does not parse.
    Invalid { raw: String, service: ServiceRef },
    /// Held by a Service but not by the stored allocator; the rebuilt state holds it.
    NotAllocated { value: V, service: ServiceRef },
    /// Held by this Service and by one listed before it.
    Duplicate { value: V, service: ServiceRef },
    /// Outside the range of the allocator.
    OutOfRange {
        value: V,
        service: ServiceRef,
        range: String,
    },
    /// Held by the stored allocator and by no Service, seen for the first time; kept for now.
    MaybeLeaked { value: V },
    /// Held by no Service for `NUM_REPAIRS_BEFORE_LEAK_CLEANUP` runs; freed.
    Leaked { value: V },
}

impl fmt::Display for RepairFinding<IpAddr> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid { raw, service } => {
                write!(
                    f,
                    "the cluster IP {raw} for service {service} is not a valid IP; please recreate"
                )
            }
            Self::NotAllocated { value, service } => {
                write!(
                    f,
                    "the cluster IP {value} for service {service} is not allocated; repairing"
                )
            }
            Self::Duplicate { value, service } => write!(
                f,
                "the cluster IP {value} for service {service} was assigned to multiple services; please recreate"
            ),
            Self::OutOfRange {
                value,
                service,
                range,
            } => write!(
                f,
                "the cluster IP {value} for service {service} is not within the service CIDR {range}; please recreate"
            ),
            Self::MaybeLeaked { value } => {
                write!(
                    f,
                    "the cluster IP {value} may have leaked: flagging for later clean up"
                )
            }
            Self::Leaked { value } => write!(
                f,
                "the cluster IP {value} appears to have leaked: cleaning up"
            ),
        }
    }
}

impl fmt::Display for RepairFinding<i32> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid { raw, service } => {
                write!(
                    f,
                    "the node port {raw} for service {service} is not a valid port; please recreate"
                )
            }
            Self::NotAllocated { value, service } => {
                write!(
                    f,
                    "the node port {value} for service {service} is not allocated; repairing"
                )
            }
            Self::Duplicate { value, service } => write!(
                f,
                "the node port {value} for service {service} was assigned to multiple services; please recreate"
            ),
            Self::OutOfRange {
                value,
                service,
                range,
            } => write!(
                f,
                "the port {value} for service {service} is not within the port range {range}; please recreate"
            ),
            Self::MaybeLeaked { value } => {
                write!(
                    f,
                    "the node port {value} may have leaked: flagging for later clean up"
                )
            }
            Self::Leaked { value } => write!(
                f,
                "the node port {value} appears to have leaked: cleaning up"
            ),
        }
    }
}

/// What one repair run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairOutcome<A, V> {
    /// The state to persist.
    pub rebuilt: A,
    /// What did not match, in the order found.
    pub findings: Vec<RepairFinding<V>>,
}

/// The allocator shape the generic loop needs.
trait Target: Clone {
    type Value: Copy + Ord;
    fn try_allocate(&mut self, v: Self::Value) -> Result<(), ServiceAllocError>;
    fn holds(&self, v: Self::Value) -> bool;
    fn free_value(&mut self, v: Self::Value);
    fn values(&self) -> Vec<Self::Value>;
    fn fresh(&self) -> Self;
    fn range_text(&self, v: Self::Value) -> String;
}

impl Target for Vec<IpAllocator> {
    type Value = IpAddr;
    fn try_allocate(&mut self, ip: IpAddr) -> Result<(), ServiceAllocError> {
        match self.iter_mut().find(|a| a.family() == Family::of(&ip)) {
            Some(a) => a.allocate(ip),
            None => Err(ServiceAllocError::IpNotInRange {
                ip,
                valid_range: String::new(),
            }),
        }
    }
    fn holds(&self, ip: IpAddr) -> bool {
        self.iter().any(|a| a.has(ip))
    }
    fn free_value(&mut self, ip: IpAddr) {
        self.iter_mut().for_each(|a| a.release(ip));
    }
    fn values(&self) -> Vec<IpAddr> {
        self.iter().flat_map(|a| a.allocated()).collect()
    }
    fn fresh(&self) -> Self {
        self.iter()
            .enumerate()
            .map(|(i, a)| a.empty_like(i as u64 + 1))
            .collect()
    }
    fn range_text(&self, ip: IpAddr) -> String {
        let family = Family::of(&ip);
        let ranges: Vec<String> = self
            .iter()
            .filter(|a| a.family() == family)
            .map(|a| a.cidr().to_string())
            .collect();
        if ranges.is_empty() {
            format!("({family} is not configured)")
        } else {
            ranges.join(",")
        }
    }
}

impl Target for PortAllocator {
    type Value = i32;
    fn try_allocate(&mut self, port: i32) -> Result<(), ServiceAllocError> {
        self.allocate(port)
    }
    fn holds(&self, port: i32) -> bool {
        self.has(port)
    }
    fn free_value(&mut self, port: i32) {
        self.release(port);
    }
    fn values(&self) -> Vec<i32> {
        self.allocated().collect()
    }
    fn fresh(&self) -> Self {
        self.empty_like(1)
    }
    fn range_text(&self, _: i32) -> String {
        self.range().to_string()
    }
}

/// One run of the generic loop; `leaks` carries the leak counters between runs.
fn run<T: Target>(
    stored: &T,
    claims: Vec<(ServiceRef, Result<T::Value, String>)>,
    leaks: &mut BTreeMap<T::Value, u32>,
) -> RepairOutcome<T, T::Value> {
    let mut unclaimed = stored.clone();
    let mut rebuilt = stored.fresh();
    let mut findings = Vec::new();
    for (service, claim) in claims {
        let value = match claim {
            Ok(v) => v,
            Err(raw) => {
                findings.push(RepairFinding::Invalid { raw, service });
                continue;
            }
        };
        match rebuilt.try_allocate(value) {
            Ok(()) => {
                if unclaimed.holds(value) {
                    unclaimed.free_value(value);
                } else {
                    findings.push(RepairFinding::NotAllocated { value, service });
                }
                leaks.remove(&value);
            }
            Err(ServiceAllocError::IpAllocated | ServiceAllocError::PortAllocated) => {
                findings.push(RepairFinding::Duplicate { value, service });
            }
            Err(_) => {
                let range = rebuilt.range_text(value);
                findings.push(RepairFinding::OutOfRange {
                    value,
                    service,
                    range,
                });
            }
        }
    }
    for value in unclaimed.values() {
        let left = match leaks.get(&value) {
            None => {
                findings.push(RepairFinding::MaybeLeaked { value });
                NUM_REPAIRS_BEFORE_LEAK_CLEANUP - 1
            }
            Some(&n) => n,
        };
        if left > 0 {
            // Pretend it is still in use until the count runs out.
            leaks.insert(value, left - 1);
            let _ = rebuilt.try_allocate(value);
        } else {
            // Upstream keeps the zeroed counter, which makes a later leak of the same value
            // free at once; dropping it restarts the count.
            leaks.remove(&value);
            findings.push(RepairFinding::Leaked { value });
        }
    }
    RepairOutcome { rebuilt, findings }
}

/// The ClusterIP repair loop of the bitmap allocators (one allocator per family).
#[derive(Clone, Debug, Default)]
pub struct ClusterIpRepair {
    leaks: BTreeMap<IpAddr, u32>,
}

impl ClusterIpRepair {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `services` against the `stored` allocators (at most one per family) and
    /// rebuilds them.
    pub fn run_once(
        &mut self,
        stored: &[IpAllocator],
        services: &[ServiceClusterIps],
    ) -> RepairOutcome<Vec<IpAllocator>, IpAddr> {
        let claims = services
            .iter()
            .flat_map(|s| {
                s.cluster_ips
                    .iter()
                    .filter(|ip| !ip.is_empty() && ip.as_str() != "None")
                    .map(|ip| {
                        (
                            s.service.clone(),
                            ip.parse::<IpAddr>().map_err(|_| ip.clone()),
                        )
                    })
            })
            .collect();
        run(&stored.to_vec(), claims, &mut self.leaks)
    }
}

/// The NodePort repair loop.
#[derive(Clone, Debug, Default)]
pub struct NodePortRepair {
    leaks: BTreeMap<i32, u32>,
}

impl NodePortRepair {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `services` against the `stored` allocator and rebuilds it.
    pub fn run_once(
        &mut self,
        stored: &PortAllocator,
        services: &[ServiceNodePorts],
    ) -> RepairOutcome<PortAllocator, i32> {
        let claims = services
            .iter()
            .flat_map(|s| {
                collect_service_node_ports(s)
                    .into_iter()
                    .map(|p| (s.service.clone(), Ok(p)))
            })
            .collect();
        run(stored, claims, &mut self.leaks)
    }
}

/// The NodePorts a Service holds (upstream `collectServiceNodePorts`): one port used with
/// several protocols counts once, one port repeated with the same protocol counts each time
/// (so the repeat shows as a duplicate), and the health-check port counts unless a non-TCP
/// port already uses it.
pub fn collect_service_node_ports(service: &ServiceNodePorts) -> Vec<i32> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
    for p in &service.ports {
        if p.node_port == 0 {
            continue;
        }
        let protocols = seen.entry(p.node_port).or_default();
        if protocols.is_empty() || protocols.contains(&p.protocol.as_str()) {
            out.push(p.node_port);
        }
        if !protocols.contains(&p.protocol.as_str()) {
            protocols.push(&p.protocol);
        }
    }
    let health = service.health_check_node_port;
    if health != 0 {
        match seen.get(&health) {
            None => out.push(health),
            Some(protocols) if protocols.contains(&"TCP") => out.push(health),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
#[path = "repair_tests.rs"]
mod tests;

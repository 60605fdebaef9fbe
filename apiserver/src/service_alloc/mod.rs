//! ClusterIPs and NodePorts of Services: the API server's side of netalloc's Service
//! allocators (upstream `pkg/registry/core/service/storage/alloc.go` with the bitmap
//! `ipallocator` and `portallocator`, and their repair controllers at start-up).
//!
//! - On create: `ipFamilyPolicy`/`ipFamilies` are settled (`families.rs`), then one ClusterIP
//!   per family (the requested one or any; none for headless and ExternalName), a NodePort
//!   per port of a NodePort or LoadBalancer Service, and a `healthCheckNodePort` for a
//!   LoadBalancer with `externalTrafficPolicy: Local` (`ops.rs`).
//! - On update: what changed is taken or released (a type change, a dual-stack upgrade or
//!   downgrade, ports added or removed); releases wait for the store write.
//! - On delete: everything the Service held is released.
//! - A write that fails after the allocation (validation, admission, the store) gives back
//!   what it took: the registry's `Finish` (`registry/hooks.rs`) reverts unless committed.
//!
//! State lives in memory and is rebuilt from the stored Services when the server starts
//! ([`ServiceAllocator::rebuild`], netalloc's repair loops: duplicates and values outside the
//! ranges are logged as warnings, as upstream's repair controllers report them).
//!
//! Departures from upstream:
//! - Several API servers sharing one store are not supported yet: each would keep its own
//!   bitmap. Upstream shares the state through the store (the `RangeAllocation` bitmaps in
//!   etcd, or, with `MultiCIDRServiceAllocator` (default since v1.33), one `IPAddress`
//!   object per ClusterIP).
//! - No `IPAddress` objects are written. The `kubernetes` ServiceCIDR is created at start-up
//!   to show the configured ranges; editing it or adding ServiceCIDRs does not change what
//!   is allocated (upstream allocates from every ready ServiceCIDR).
//! - Requested NodePorts are checked against the configured range here (upstream too) and
//!   no longer by validation with a fixed 30000-32767.

mod families;
mod ops;
mod startup;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use parking_lot::Mutex;
use ultrak8s_netalloc::cidr::{Cidr, Family};
use ultrak8s_netalloc::service::{
    ClusterIpRepair, IpAllocator, NodePortRepair, NodePortSpec, PortAllocator, PortRange,
    RepairFinding, ServiceAllocError, ServiceClusterIps, ServiceNodePorts, ServiceRef,
};

use crate::error::ApiError;
use crate::object::KubeObject;
use crate::registry::{Finish, WriteHooks};
use crate::resources::Resource;
use ops::{AllocError, Changes, Op, State};
pub use startup::DEFAULT_SERVICE_CIDR;

/// The service ranges the server hands addresses and ports from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRanges {
    /// `--service-cluster-ip-range`: one CIDR, or one per family (the first is primary: its
    /// family is the default, its first address is the `kubernetes` Service's).
    pub cluster_ip_ranges: Vec<Cidr>,
    /// `--service-node-port-range`.
    pub node_ports: PortRange,
}

/// kube-apiserver's default `--service-cluster-ip-range` (as kubeadm's).
pub const DEFAULT_SERVICE_CLUSTER_IP_RANGE: &str = "10.96.0.0/12";
/// kube-apiserver's default `--service-node-port-range`.
pub const DEFAULT_SERVICE_NODE_PORT_RANGE: &str = "30000-32767";

impl Default for ServiceRanges {
    fn default() -> Self {
        ServiceRanges::parse(
            DEFAULT_SERVICE_CLUSTER_IP_RANGE,
            DEFAULT_SERVICE_NODE_PORT_RANGE,
        )
        .expect("the default service ranges are valid")
    }
}

impl ServiceRanges {
    /// Parses the two flags: `cidrs` is comma-separated (IPv4 and IPv6 for dual-stack,
    /// primary first), `ports` is `low-high` (or Go's `low+count`).
    pub fn parse(cidrs: &str, ports: &str) -> Result<ServiceRanges, String> {
        let flag = "--service-cluster-ip-range";
        let ranges: Vec<Cidr> = cidrs
            .split(',')
            .map(|c| {
                c.trim()
                    .parse::<Cidr>()
                    .map_err(|e| format!("{flag}: {c:?}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        match ranges.as_slice() {
            [] => return Err(format!("{flag} must not be empty")),
            [a, b] if a.family() == b.family() => {
                return Err(format!(
                    "{flag}[0] and {flag}[1] must be of different IP families (dual-stack)"
                ));
            }
            [_, _, _, ..] => return Err(format!("{flag} must not contain more than two entries")),
            _ => {}
        }
        for cidr in &ranges {
            // The allocator's own limits (IPv4 at most /12, IPv6 at least /64).
            if cidr.family() == Family::V6 && cidr.prefix_len() < 64 {
                return Err(format!(
                    "{flag}: {}",
                    ServiceAllocError::PrefixTooShort {
                        prefix_len: cidr.prefix_len()
                    }
                ));
            }
            IpAllocator::new(*cidr, 0).map_err(|e| format!("{flag}: {e}"))?;
        }
        let node_ports: PortRange = ports
            .parse()
            .map_err(|e| format!("--service-node-port-range: {e}"))?;
        if node_ports.size() == 0 {
            return Err("--service-node-port-range must not be empty".to_owned());
        }
        Ok(ServiceRanges {
            cluster_ip_ranges: ranges,
            node_ports,
        })
    }

    /// The ClusterIP of `default/kubernetes`: the first address of the primary range
    /// (upstream `GetIndexedIP(primary, 1)`).
    pub fn kubernetes_service_ip(&self) -> Option<IpAddr> {
        self.cluster_ip_ranges
            .first()
            .and_then(|c| c.address_at(1).ok())
    }

    /// The families served, primary first.
    pub fn families(&self) -> Vec<Family> {
        self.cluster_ip_ranges.iter().map(Cidr::family).collect()
    }
}

/// The live allocators of one API server, the write hooks of `services`.
pub struct ServiceAllocator {
    ranges: ServiceRanges,
    families: Vec<Family>,
    /// Held only for the length of an allocation, never across an await.
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for ServiceAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAllocator")
            .field("ranges", &self.ranges)
            .finish_non_exhaustive()
    }
}

impl ServiceAllocator {
    /// The allocators with every value the stored `services` hold, and one warning per value
    /// that could not be taken (held twice, outside the ranges, not an address), in
    /// upstream's repair wording. The first Service listed keeps a value held twice.
    pub fn rebuild(
        ranges: ServiceRanges,
        services: &[Service],
    ) -> Result<(ServiceAllocator, Vec<String>), ServiceAllocError> {
        let fresh_ips = ranges
            .cluster_ip_ranges
            .iter()
            .map(|c| IpAllocator::new(*c, 0))
            .collect::<Result<Vec<_>, _>>()?;
        let fresh_ports = PortAllocator::new(ranges.node_ports, 0);
        let (ip_claims, port_claims): (Vec<_>, Vec<_>) = services.iter().map(claims).unzip();
        let ips = ClusterIpRepair::new().run_once(&fresh_ips, &ip_claims);
        let ports = NodePortRepair::new().run_once(&fresh_ports, &port_claims);
        // Against empty allocators every held value reads "not allocated; repairing": that
        // is the rebuild itself, not a finding.
        fn wanted<V>(f: &&RepairFinding<V>) -> bool {
            !matches!(f, RepairFinding::NotAllocated { .. })
        }
        let mut warnings: Vec<String> = ips
            .findings
            .iter()
            .filter(wanted)
            .map(ToString::to_string)
            .collect();
        warnings.extend(
            ports
                .findings
                .iter()
                .filter(wanted)
                .map(ToString::to_string),
        );
        let state = State {
            ips: ips.rebuilt,
            ports: ports.rebuilt,
        };
        let families = ranges.families();
        Ok((
            ServiceAllocator {
                ranges,
                families,
                state: Arc::new(Mutex::new(state)),
            },
            warnings,
        ))
    }

    pub fn ranges(&self) -> &ServiceRanges {
        &self.ranges
    }

    /// Every allocated ClusterIP, per range in order, each in increasing order.
    pub fn allocated_ips(&self) -> Vec<IpAddr> {
        let state = self.state.lock();
        state.ips.iter().flat_map(|a| a.allocated()).collect()
    }

    /// Every allocated NodePort (health-check ports included), in increasing order.
    pub fn allocated_ports(&self) -> Vec<i32> {
        self.state.lock().ports.allocated().collect()
    }

    /// The end of a request that changed `changes`.
    fn finish(&self, changes: Changes) -> Finish {
        if changes.taken.is_empty() && changes.release_on_commit.is_empty() {
            return Finish::nothing();
        }
        let state = Arc::clone(&self.state);
        Finish::new(move |success| {
            let mut state = state.lock();
            let back = if success {
                changes.release_on_commit
            } else {
                changes.taken
            };
            for held in back {
                state.release(held);
            }
        })
    }
}

impl WriteHooks for ServiceAllocator {
    fn begin_create(
        &self,
        resource: &Resource,
        obj: &mut dyn KubeObject,
    ) -> Result<Finish, ApiError> {
        let Some(svc) = obj.as_any_mut().downcast_mut::<Service>() else {
            return Ok(Finish::nothing());
        };
        let name = svc.metadata.name.clone().unwrap_or_default();
        // No spec: validation answers.
        let Some(spec) = svc.spec.as_mut() else {
            return Ok(Finish::nothing());
        };
        families::init_ip_family_fields(spec, None, &self.families)
            .map_err(|errors| ApiError::invalid(resource, &name, errors))?;
        let mut state = self.state.lock();
        let mut op = Op::new(&mut state);
        match op.allocate_create(spec) {
            Ok(()) => {
                let changes = op.finish();
                drop(state);
                Ok(self.finish(changes))
            }
            Err(e) => {
                op.revert();
                Err(into_api(e, resource, &name))
            }
        }
    }

    fn begin_update(
        &self,
        resource: &Resource,
        new: &mut dyn KubeObject,
        old: &dyn KubeObject,
    ) -> Result<Finish, ApiError> {
        let (Some(svc), Some(old)) = (
            new.as_any_mut().downcast_mut::<Service>(),
            old.as_any().downcast_ref::<Service>(),
        ) else {
            return Ok(Finish::nothing());
        };
        let name = svc.metadata.name.clone().unwrap_or_default();
        let (Some(spec), Some(old)) = (svc.spec.as_mut(), old.spec.as_ref()) else {
            return Ok(Finish::nothing());
        };
        families::init_ip_family_fields(spec, Some(old), &self.families)
            .map_err(|errors| ApiError::invalid(resource, &name, errors))?;
        let mut state = self.state.lock();
        let mut op = Op::new(&mut state);
        match op.allocate_update(spec, old) {
            Ok(()) => {
                let changes = op.finish();
                drop(state);
                Ok(self.finish(changes))
            }
            Err(e) => {
                op.revert();
                Err(into_api(e, resource, &name))
            }
        }
    }

    fn after_delete(&self, obj: &dyn KubeObject) {
        let Some(spec) = obj
            .as_any()
            .downcast_ref::<Service>()
            .and_then(|s| s.spec.as_ref())
        else {
            return;
        };
        let mut state = self.state.lock();
        for held in ops::held_by(spec) {
            state.release(held);
        }
    }
}

/// The one translation of an allocation error into a `Status`.
fn into_api(e: AllocError, resource: &Resource, name: &str) -> ApiError {
    match e {
        AllocError::Invalid(errors) => ApiError::invalid(resource, name, errors),
        AllocError::Internal(message) => ApiError::internal(message),
    }
}

/// What a stored Service holds, as the repair loops read it.
fn claims(svc: &Service) -> (ServiceClusterIps, ServiceNodePorts) {
    let meta = &svc.metadata;
    let service = ServiceRef::new(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    );
    let spec = svc.spec.clone().unwrap_or_default();
    let cluster_ips = match spec.type_.as_deref() {
        Some("ExternalName") => Vec::new(),
        _ => spec.cluster_ips.clone().unwrap_or_default(),
    };
    let ports = spec
        .ports
        .iter()
        .flatten()
        .map(|p| NodePortSpec {
            node_port: p.node_port.unwrap_or(0),
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
        })
        .collect();
    (
        ServiceClusterIps {
            service: service.clone(),
            cluster_ips,
        },
        ServiceNodePorts {
            service,
            ports,
            health_check_node_port: spec.health_check_node_port.unwrap_or(0),
        },
    )
}

/// A list of strings as Go's `%#v` prints a `[]string` (how upstream shows `clusterIPs` in a
/// field error: `[]string{"10.96.0.10"}`).
pub(crate) fn go_strings(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

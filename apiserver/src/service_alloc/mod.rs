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
//! ClusterIPs come from every ServiceCIDR (`cidrs.rs` follows them; `CidrSet` holds a
//! bitmap per CIDR) and each is recorded as an IPAddress object (`ipaddresses.rs`), as
//! upstream's `MultiCIDRServiceAllocator` (default since v1.33) does: creating the object is
//! the claim, so several API servers sharing one store never hand out one address twice
//! (a create that finds the object already there allocates again, up to 8 times). The
//! bitmaps are this server's view; the repair loop (`repair.rs`, at start-up and every
//! 3 minutes) rebuilds them from the stored IPAddresses and Services, writes the IPAddress a
//! ClusterIP lacks and deletes the ones nothing holds. Releases delete the objects before
//! the bits are cleared, and a delete answers once they are gone.
//!
//! Departures from upstream:
//! - NodePorts live in this server's memory (rebuilt from the stored Services at start-up);
//!   upstream keeps their bitmap in the store (a `RangeAllocation`). Several API servers
//!   sharing one store could hand out one NodePort twice: not supported yet.
//! - The families a Service defaults to come from `--service-cluster-ip-range`, not from
//!   the `kubernetes` ServiceCIDR.
//! - Requested NodePorts are checked against the configured range here (upstream too) and
//!   no longer by validation with a fixed 30000-32767.

mod cidrs;
mod families;
mod ipaddresses;
mod ops;
mod repair;
mod startup;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use parking_lot::Mutex;
use ultrak8s_netalloc::cidr::{Cidr, Family};
use ultrak8s_netalloc::service::{
    CidrSet, IpAddressFinding, IpAllocator, NodePortRepair, NodePortSpec, PortAllocator, PortRange, RepairFinding,
    ServiceAllocError, ServiceClusterIps, ServiceNodePorts, ServiceRef, repair_ip_addresses,
};

use crate::error::ApiError;
use crate::object::KubeObject;
use crate::registry::{After, Begun, Finish, WriteHooks};
use crate::resources::Resource;
use ipaddresses::{ClaimError, IpAddressObjects};
use ops::{AllocError, Changes, Held, Op, State};
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
    /// Where the IPAddress objects are written; `None`: the bitmaps alone (unit tests).
    objects: Option<IpAddressObjects>,
}

impl std::fmt::Debug for ServiceAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAllocator")
            .field("ranges", &self.ranges)
            .finish_non_exhaustive()
    }
}

/// How many times a create or update allocates again after its addresses turned out to be
/// held elsewhere (another API server took them since this one's last repair).
const CLAIM_ATTEMPTS: usize = 8;

impl ServiceAllocator {
    /// The allocators with every value the stored `services` hold (ClusterIPs from the
    /// `kubernetes` ServiceCIDR of the flags' ranges), and one warning per value that could
    /// not be taken (held twice, outside the ranges, not an address), in upstream's repair
    /// wording. The first Service listed keeps a value held twice. No IPAddress objects:
    /// the bitmaps alone, as unit tests drive them.
    pub fn rebuild(
        ranges: ServiceRanges,
        services: &[Service],
    ) -> Result<(ServiceAllocator, Vec<String>), ServiceAllocError> {
        let mut cidrs = CidrSet::new(0);
        cidrs.add(DEFAULT_SERVICE_CIDR, &ranges.cluster_ip_ranges)?;
        let (ip_claims, port_claims): (Vec<_>, Vec<_>) = services.iter().map(claims).unzip();
        let ips = repair_ip_addresses(&cidrs, &ip_claims, &[], SystemTime::now(), 0);
        let (ports, port_warnings) = rebuild_ports(ranges.node_ports, &port_claims);
        // With no IPAddress objects every held address reads "not allocated; repairing":
        // that is the rebuild itself, not a finding.
        let mut warnings: Vec<String> = ips
            .findings
            .iter()
            .filter(|f| !matches!(f, IpAddressFinding::NotAllocated { .. }))
            .map(ToString::to_string)
            .collect();
        warnings.extend(port_warnings);
        let state = State {
            ips: ips.rebuilt,
            ports,
        };
        let families = ranges.families();
        Ok((
            ServiceAllocator {
                ranges,
                families,
                state: Arc::new(Mutex::new(state)),
                objects: None,
            },
            warnings,
        ))
    }

    pub fn ranges(&self) -> &ServiceRanges {
        &self.ranges
    }

    /// Every allocated ClusterIP: IPv4 then IPv6, each in increasing order.
    pub fn allocated_ips(&self) -> Vec<IpAddr> {
        let state = self.state.lock();
        [Family::V4, Family::V6]
            .into_iter()
            .flat_map(|f| state.ips.allocated(f))
            .collect()
    }

    /// Every allocated NodePort (health-check ports included), in increasing order.
    pub fn allocated_ports(&self) -> Vec<i32> {
        self.state.lock().ports.allocated().collect()
    }

    /// Allocates for a create (`update: None`) or an update of `old`, claiming the new
    /// ClusterIPs as IPAddress objects unless `dry_run`; addresses another holder claimed
    /// first are kept out of this server's bitmap and the allocation starts again.
    async fn begin(
        &self,
        resource: &Resource,
        svc: &mut Service,
        old: Option<&ServiceSpec>,
        dry_run: bool,
    ) -> Result<Finish, ApiError> {
        let name = svc.metadata.name.clone().unwrap_or_default();
        let service = ServiceRef::new(
            svc.metadata.namespace.as_deref().unwrap_or_default(),
            &name,
        );
        // No spec: validation answers.
        let Some(spec) = svc.spec.as_mut() else {
            return Ok(Finish::nothing());
        };
        families::init_ip_family_fields(spec, old, &self.families)
            .map_err(|errors| ApiError::invalid(resource, &name, errors))?;
        let original = spec.clone();
        for _ in 0..CLAIM_ATTEMPTS {
            let mut changes = {
                let mut state = self.state.lock();
                let mut op = Op::new(&mut state);
                let result = match old {
                    None => op.allocate_create(spec),
                    Some(old) => op.allocate_update(spec, old),
                };
                if let Err(e) = result {
                    op.revert();
                    return Err(into_api(e, resource, &name));
                }
                op.finish()
            };
            let Some(objects) = self.objects.as_ref().filter(|_| !dry_run) else {
                return Ok(self.finish(changes, service, None));
            };
            let new_ips: Vec<IpAddr> = changes
                .taken
                .iter()
                .filter_map(|h| match h {
                    Held::Ip(ip) => Some(*ip),
                    Held::Port(_) => None,
                })
                .collect();
            match objects.claim(&new_ips, &service).await {
                Ok(()) => return Ok(self.finish(changes, service, Some(objects.clone()))),
                Err(ClaimError::Failed(e)) => {
                    // Nothing was claimed: the bitmaps alone give back.
                    drop(self.finish(changes, service, None));
                    return Err(e);
                }
                Err(ClaimError::HeldElsewhere(ips)) => {
                    // Those stay set here (their holder releases them through its own
                    // objects; the repair loop then frees them); the rest goes back.
                    changes.taken.retain(|h| !matches!(h, Held::Ip(ip) if ips.contains(ip)));
                    drop(self.finish(changes, service.clone(), None));
                    *spec = original.clone();
                }
            }
        }
        Err(ApiError::internal(format!(
            "failed to allocate a serviceIP: the addresses picked were held elsewhere \
             {CLAIM_ATTEMPTS} times"
        )))
    }

    /// The end of a request that changed `changes`. With `objects`, the ClusterIPs it gives
    /// back lose their IPAddress objects first (their bits are cleared once the objects are
    /// gone, so no other request picks an address whose object is still there).
    fn finish(
        &self,
        changes: Changes,
        service: ServiceRef,
        objects: Option<IpAddressObjects>,
    ) -> Finish {
        if changes.taken.is_empty() && changes.release_on_commit.is_empty() {
            return Finish::nothing();
        }
        let state = Arc::clone(&self.state);
        Finish::new(move |success| {
            let back = if success {
                changes.release_on_commit
            } else {
                changes.taken
            };
            release(&state, back, service, objects)
        })
    }
}

/// Gives `held` back: ports at once; ClusterIPs at once without `objects`, else in the work
/// returned, once their IPAddress objects are deleted.
fn release(
    state: &Arc<Mutex<State>>,
    held: Vec<Held>,
    service: ServiceRef,
    objects: Option<IpAddressObjects>,
) -> Option<After<'static>> {
    let mut ips = Vec::new();
    {
        let mut state = state.lock();
        for h in held {
            match (h, &objects) {
                (Held::Ip(ip), Some(_)) => ips.push(ip),
                (h, _) => state.release(h),
            }
        }
    }
    let objects = objects.filter(|_| !ips.is_empty())?;
    let state = Arc::clone(state);
    Some(Box::pin(async move {
        for ip in ips {
            objects.release(ip, &service).await;
            state.lock().release(Held::Ip(ip));
        }
    }))
}

impl WriteHooks for ServiceAllocator {
    fn begin_create<'a>(
        &'a self,
        resource: &'a Resource,
        obj: &'a mut dyn KubeObject,
        dry_run: bool,
    ) -> Begun<'a> {
        Box::pin(async move {
            match obj.as_any_mut().downcast_mut::<Service>() {
                Some(svc) => self.begin(resource, svc, None, dry_run).await,
                None => Ok(Finish::nothing()),
            }
        })
    }

    fn begin_update<'a>(
        &'a self,
        resource: &'a Resource,
        new: &'a mut dyn KubeObject,
        old: &'a dyn KubeObject,
        dry_run: bool,
    ) -> Begun<'a> {
        Box::pin(async move {
            let (Some(svc), Some(old)) = (
                new.as_any_mut().downcast_mut::<Service>(),
                old.as_any()
                    .downcast_ref::<Service>()
                    .and_then(|s| s.spec.as_ref()),
            ) else {
                return Ok(Finish::nothing());
            };
            self.begin(resource, svc, Some(old), dry_run).await
        })
    }

    fn after_delete<'a>(&'a self, obj: &'a dyn KubeObject) -> After<'a> {
        let after = obj.as_any().downcast_ref::<Service>().and_then(|svc| {
            let spec = svc.spec.as_ref()?;
            let service = ServiceRef::new(
                svc.metadata.namespace.as_deref().unwrap_or_default(),
                svc.metadata.name.as_deref().unwrap_or_default(),
            );
            release(&self.state, ops::held_by(spec), service, self.objects.clone())
        });
        Box::pin(async move {
            if let Some(after) = after {
                after.await;
            }
        })
    }
}

/// The NodePort allocator with every port `services` hold, and upstream's repair warnings
/// for the ports it could not take.
fn rebuild_ports(range: PortRange, services: &[ServiceNodePorts]) -> (PortAllocator, Vec<String>) {
    let outcome = NodePortRepair::new().run_once(&PortAllocator::new(range, 0), services);
    // Against an empty allocator every held port reads "not allocated; repairing": that is
    // the rebuild itself, not a finding.
    let warnings = outcome
        .findings
        .iter()
        .filter(|f| !matches!(f, RepairFinding::NotAllocated { .. }))
        .map(ToString::to_string)
        .collect();
    (outcome.rebuilt, warnings)
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

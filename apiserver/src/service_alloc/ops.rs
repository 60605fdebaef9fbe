//! What one request takes and gives back: upstream's `allocateCreate`, `allocateUpdate` and
//! `releaseAllocatedResources` (`pkg/registry/core/service/storage/alloc.go`) over the
//! in-memory bitmaps.
//!
//! An [`Op`] takes values at once (so a concurrent request cannot take them too) and defers
//! releases to the commit (so an update that fails keeps what the stored object holds).
//! Its [`Changes`] then wait for the store write: committed, the deferred releases happen;
//! reverted, what was taken is given back.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
use ultrak8s_netalloc::service::{CidrSet, PortAllocator, ServiceAllocError};

use super::families::{family_of_name, matching_prefer_dual_stack};
use super::go_strings;
use crate::error::FieldError;
use crate::strategy::service_defaults::{cluster_ips, kind, needs_health_check, needs_node_port};
use crate::strategy::service_validation::headless;

/// One allocated value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Held {
    Ip(IpAddr),
    Port(i32),
}

/// The allocators: ClusterIPs over every ServiceCIDR, and the NodePort range.
#[derive(Debug)]
pub(super) struct State {
    pub ips: CidrSet,
    pub ports: PortAllocator,
}

impl State {
    pub fn release(&mut self, held: Held) {
        match held {
            Held::Ip(ip) => self.ips.release(ip),
            Held::Port(port) => self.ports.release(port),
        }
    }
}

/// What a request changed: given back on revert, released on commit.
#[derive(Debug, Default)]
pub(super) struct Changes {
    pub taken: Vec<Held>,
    pub release_on_commit: Vec<Held>,
}

/// Why an allocation was refused; the hook turns it into a `Status`.
#[derive(Debug)]
pub(super) enum AllocError {
    /// 422 Invalid with these causes.
    Invalid(Vec<FieldError>),
    /// 500 InternalError (upstream answers a full range this way).
    Internal(String),
}

pub(super) struct Op<'a> {
    state: &'a mut State,
    changes: Changes,
}

impl<'a> Op<'a> {
    pub fn new(state: &'a mut State) -> Op<'a> {
        Op {
            state,
            changes: Changes::default(),
        }
    }

    /// Ends the operation; its changes wait for the store write.
    pub fn finish(self) -> Changes {
        self.changes
    }

    /// Gives back what was taken.
    pub fn revert(self) {
        for held in self.changes.taken {
            self.state.release(held);
        }
    }

    fn take_ip(&mut self, ip: IpAddr) -> Result<(), ServiceAllocError> {
        self.state.ips.allocate(ip)?;
        self.changes.taken.push(Held::Ip(ip));
        Ok(())
    }

    fn take_next_ip(&mut self, family_name: &str) -> Result<IpAddr, ServiceAllocError> {
        let family =
            family_of_name(family_name).ok_or_else(|| ServiceAllocError::InvalidFamilies {
                reason: format!("unknown family {family_name:?}"),
            })?;
        let ip = self.state.ips.allocate_next(family)?;
        self.changes.taken.push(Held::Ip(ip));
        Ok(ip)
    }

    fn take_port(&mut self, port: i32) -> Result<(), ServiceAllocError> {
        self.state.ports.allocate(port)?;
        self.changes.taken.push(Held::Port(port));
        Ok(())
    }

    fn take_next_port(&mut self) -> Result<i32, ServiceAllocError> {
        let port = self.state.ports.allocate_next()?;
        self.changes.taken.push(Held::Port(port));
        Ok(port)
    }

    fn release_later(&mut self, held: Held) {
        self.changes.release_on_commit.push(held);
    }

    /// `allocateCreate`: ClusterIPs, NodePorts, the health-check NodePort. On error the
    /// caller reverts.
    pub fn allocate_create(&mut self, spec: &mut ServiceSpec) -> Result<(), AllocError> {
        self.alloc_cluster_ips(spec)?;
        if needs_node_port(spec) {
            self.init_node_ports(spec)?;
        }
        if needs_health_check(spec) {
            self.alloc_health_check(spec)?;
        }
        Ok(())
    }

    /// `allocateUpdate`: what the change of `old` into `spec` takes and gives back.
    pub fn allocate_update(
        &mut self,
        spec: &mut ServiceSpec,
        old: &ServiceSpec,
    ) -> Result<(), AllocError> {
        self.update_cluster_ips(spec, old)?;
        if needs_node_port(old) && matches!(kind(spec), "ExternalName" | "ClusterIP") {
            for port in node_ports(old) {
                self.release_later(Held::Port(port));
            }
        }
        if needs_node_port(spec) {
            self.update_node_ports(spec, old)?;
        }
        match (needs_health_check(old), needs_health_check(spec)) {
            (false, true) => self.alloc_health_check(spec)?,
            (true, false) => {
                if let Some(port) = old.health_check_node_port.filter(|p| *p > 0) {
                    self.release_later(Held::Port(port));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `allocClusterIPs`: one address per family, the requested one or any.
    fn alloc_cluster_ips(&mut self, spec: &mut ServiceSpec) -> Result<(), AllocError> {
        if kind(spec) == "ExternalName" || headless(spec) {
            return Ok(());
        }
        let families = spec.ip_families.clone().unwrap_or_default();
        let ips = spec.cluster_ips.get_or_insert_with(Vec::new);
        while ips.len() < families.len() {
            ips.push(String::new()); // "allocate any" marker, as upstream
        }
        for (i, family) in families.iter().enumerate() {
            let requested = ips[i].clone();
            ips[i] = self.take_requested_or_next(&requested, family, ips)?;
        }
        spec.cluster_ip = ips.first().cloned();
        Ok(())
    }

    fn take_requested_or_next(
        &mut self,
        requested: &str,
        family: &str,
        all: &[String],
    ) -> Result<String, AllocError> {
        if requested.is_empty() {
            return self
                .take_next_ip(family)
                .map(|ip| ip.to_string())
                .map_err(|e| AllocError::Internal(format!("failed to allocate a serviceIP: {e}")));
        }
        let refused = |why: String| {
            AllocError::Invalid(vec![FieldError::invalid(
                "spec.clusterIPs",
                go_strings(all),
                format!("failed to allocate IP {requested}: {why}"),
            )])
        };
        let ip: IpAddr = requested
            .parse()
            .map_err(|_| refused("not a valid IP address".to_owned()))?;
        self.take_ip(ip).map_err(|e| refused(e.to_string()))?;
        Ok(requested.to_owned())
    }

    /// `updateClusterIPs`: from or to ExternalName, and dual-stack upgrades and downgrades.
    fn update_cluster_ips(
        &mut self,
        spec: &mut ServiceSpec,
        old: &ServiceSpec,
    ) -> Result<(), AllocError> {
        if matching_prefer_dual_stack(spec, Some(old)) {
            return Ok(());
        }
        if kind(old) == "ExternalName" && kind(spec) != "ExternalName" {
            return self.alloc_cluster_ips(spec);
        }
        if headless(old) {
            return Ok(());
        }
        if kind(old) != "ExternalName" && kind(spec) == "ExternalName" {
            for ip in cluster_ips(old).iter().filter_map(|ip| ip.parse().ok()) {
                self.release_later(Held::Ip(ip));
            }
            return Ok(());
        }
        let (old_families, families) = (
            old.ip_families.as_deref().unwrap_or_default(),
            spec.ip_families.clone().unwrap_or_default(),
        );
        if old_families.len() == 1 && families.len() == 2 {
            let ips = spec.cluster_ips.get_or_insert_with(Vec::new);
            if ips.len() < 2 {
                ips.push(String::new());
            }
            let requested = ips[1].clone();
            ips[1] = self.take_requested_or_next(&requested, &families[1], ips)?;
        } else if old_families.len() == 2
            && families.len() == 1
            && let Some(ip) = cluster_ips(old).get(1).and_then(|ip| ip.parse().ok())
        {
            self.release_later(Held::Ip(ip));
        }
        Ok(())
    }

    /// `initNodePorts`: ports that share a port number share a NodePort (TCP and UDP 53).
    fn init_node_ports(&mut self, spec: &mut ServiceSpec) -> Result<(), AllocError> {
        let allocate_all = should_allocate_node_ports(spec);
        let requested: Vec<ServicePort> = spec.ports.clone().unwrap_or_default();
        let mut by_port: HashMap<i32, i32> = HashMap::new();
        for (i, port) in spec.ports.iter_mut().flatten().enumerate() {
            let node_port = port.node_port.unwrap_or(0);
            if node_port == 0 && !allocate_all {
                continue; // respect explicit requests only
            }
            match by_port.get(&port.port).copied() {
                None => {
                    let found = requested_node_port(port.port, &requested);
                    let value = if found != 0 {
                        self.take_port(found)
                            .map_err(|e| port_refused(i, found, &e))?;
                        found
                    } else {
                        self.take_next_port().map_err(next_port_failed)?
                    };
                    port.node_port = Some(value);
                    by_port.insert(port.port, value);
                }
                Some(shared) if node_port != shared => {
                    if node_port == 0 {
                        port.node_port = Some(shared);
                    } else {
                        self.take_port(node_port)
                            .map_err(|e| port_refused(i, node_port, &e))?;
                    }
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// `updateNodePorts`: take what is new, keep what stays, release what went.
    fn update_node_ports(
        &mut self,
        spec: &mut ServiceSpec,
        old: &ServiceSpec,
    ) -> Result<(), AllocError> {
        let allocate_all = should_allocate_node_ports(spec);
        let old_ports = node_ports(old);
        let mut taken_now = HashSet::new();
        let mut seen: Vec<(String, i32)> = Vec::new();
        for (i, port) in spec.ports.iter_mut().flatten().enumerate() {
            let node_port = port.node_port.unwrap_or(0);
            if node_port == 0 && !allocate_all {
                continue;
            }
            let value = if node_port != 0 {
                if !old_ports.contains(&node_port) && taken_now.insert(node_port) {
                    self.take_port(node_port)
                        .map_err(|e| port_refused(i, node_port, &e))?;
                }
                node_port
            } else {
                let value = self.take_next_port().map_err(next_port_failed)?;
                port.node_port = Some(value);
                value
            };
            let key = (port.protocol.clone().unwrap_or_default(), value);
            if seen.contains(&key) {
                return Err(AllocError::Internal(format!(
                    "duplicate nodePort: {{{} {}}}",
                    key.0, key.1
                )));
            }
            seen.push(key);
        }
        let new_ports = node_ports(spec);
        for port in old_ports {
            if !new_ports.contains(&port) {
                self.release_later(Held::Port(port));
            }
        }
        Ok(())
    }

    /// `allocHealthCheckNodePort`.
    fn alloc_health_check(&mut self, spec: &mut ServiceSpec) -> Result<(), AllocError> {
        let requested = spec.health_check_node_port.unwrap_or(0);
        if requested != 0 {
            self.take_port(requested).map_err(|e| {
                AllocError::Internal(format!(
                    "failed to allocate requested HealthCheck NodePort {requested}: {e}"
                ))
            })?;
        } else {
            let port = self.take_next_port().map_err(|e| {
                AllocError::Internal(format!("failed to allocate a HealthCheck NodePort 0: {e}"))
            })?;
            spec.health_check_node_port = Some(port);
        }
        Ok(())
    }
}

/// `releaseAllocatedResources`: what a deleted Service held.
pub(super) fn held_by(spec: &ServiceSpec) -> Vec<Held> {
    let mut out = Vec::new();
    if kind(spec) != "ExternalName" && !headless(spec) {
        out.extend(
            cluster_ips(spec)
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .map(Held::Ip),
        );
    }
    out.extend(node_ports(spec).into_iter().map(Held::Port));
    if needs_health_check(spec)
        && let Some(port) = spec.health_check_node_port.filter(|p| *p > 0)
    {
        out.push(Held::Port(port));
    }
    out
}

/// `shouldAllocateNodePorts`: NodePort always, LoadBalancer unless
/// `allocateLoadBalancerNodePorts: false`.
fn should_allocate_node_ports(spec: &ServiceSpec) -> bool {
    match kind(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec.allocate_load_balancer_node_ports.unwrap_or(true),
        _ => false,
    }
}

/// alloc.go's `collectServiceNodePorts`: every non-zero `nodePort` of `spec.ports`.
fn node_ports(spec: &ServiceSpec) -> Vec<i32> {
    spec.ports
        .iter()
        .flatten()
        .filter_map(|p| p.node_port)
        .filter(|p| *p != 0)
        .collect()
}

/// `findRequestedNodePort`: the NodePort some entry with this port number asks for.
fn requested_node_port(port: i32, ports: &[ServicePort]) -> i32 {
    ports
        .iter()
        .find(|p| p.port == port && p.node_port.is_some_and(|n| n != 0))
        .and_then(|p| p.node_port)
        .unwrap_or(0)
}

fn port_refused(i: usize, port: i32, e: &ServiceAllocError) -> AllocError {
    AllocError::Invalid(vec![FieldError::invalid(
        format!("spec.ports[{i}].nodePort"),
        port.to_string(),
        e.to_string(),
    )])
}

fn next_port_failed(e: ServiceAllocError) -> AllocError {
    AllocError::Internal(format!("failed to allocate a nodePort: {e}"))
}

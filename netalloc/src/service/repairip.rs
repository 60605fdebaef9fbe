//! The repair loop of the ServiceCIDR API: reconcile Services' ClusterIPs with IPAddress
//! objects, and rebuild the `CidrSet` from them.
//!
//! Mirrors `pkg/registry/core/service/ipallocator/controller/repairip.go`
//! (`RepairIPAddress.doRunOnce`): first every Service (each ClusterIP must lie in some
//! ServiceCIDR and have an IPAddress that references it), then every IPAddress managed by the
//! allocator (it must reference a Service that exists and holds the address; one whose
//! Service is missing is deleted once it is older than the API server's 60 s request
//! timeout, since a Service may still be on its way).
//!
//! The caller applies `actions` to the API and logs `findings`. Where upstream needs two
//! runs to settle, this pass settles in one: objects created or recreated while checking
//! Services are not checked again as IPAddresses, and an IPAddress that references another
//! Service which does not hold the address is recreated for the Service that does, rather
//! than deleted now and created by the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use super::cidrset::CidrSet;
use super::repair::{ServiceClusterIps, ServiceRef};
use crate::cidr::Family;

/// The IPAddress label naming the controller that manages it.
pub const LABEL_MANAGED_BY: &str = "ipaddress.kubernetes.io/managed-by";
/// The IPAddress label naming the address family ("IPv4" or "IPv6").
pub const LABEL_IP_FAMILY: &str = "ipaddress.kubernetes.io/ip-family";
/// The value of `LABEL_MANAGED_BY` for ClusterIPs (upstream `ipallocator.ControllerName`).
pub const CONTROLLER_NAME: &str = "ipallocator.k8s.io";
/// How long an IPAddress without its Service is spared (the API server's request timeout).
pub const LEAK_GRACE_PERIOD: Duration = Duration::from_secs(60);

/// `spec.parentRef` of an IPAddress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentRef {
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

impl ParentRef {
    /// A reference to a core Service.
    pub fn service(service: &ServiceRef) -> Self {
        ParentRef {
            group: String::new(),
            resource: "services".to_owned(),
            namespace: service.namespace.clone(),
            name: service.name.clone(),
        }
    }

    fn as_service(&self) -> Option<ServiceRef> {
        (self.group.is_empty() && self.resource == "services")
            .then(|| ServiceRef::new(&self.namespace, &self.name))
    }
}

impl fmt::Display for ParentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{{} {} {} {}}}",
            self.group, self.resource, self.namespace, self.name
        )
    }
}

/// An IPAddress object as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpAddressObject {
    /// `metadata.name`: the address in canonical form.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub parent_ref: Option<ParentRef>,
    /// `metadata.creationTimestamp`.
    pub created_at: SystemTime,
}

impl IpAddressObject {
    /// The object the allocator writes for `ip` held by `service`.
    pub fn for_service(ip: IpAddr, service: &ServiceRef, created_at: SystemTime) -> Self {
        let labels = BTreeMap::from([
            (LABEL_IP_FAMILY.to_owned(), Family::of(&ip).to_string()),
            (LABEL_MANAGED_BY.to_owned(), CONTROLLER_NAME.to_owned()),
        ]);
        IpAddressObject {
            name: ip.to_string(),
            labels,
            parent_ref: Some(ParentRef::service(service)),
            created_at,
        }
    }

    fn managed(&self) -> bool {
        self.labels
            .get(LABEL_MANAGED_BY)
            .is_some_and(|v| v == CONTROLLER_NAME)
    }

    fn labels_ok(&self, ip: IpAddr) -> bool {
        self.managed()
            && self
                .labels
                .get(LABEL_IP_FAMILY)
                .is_some_and(|v| *v == Family::of(&ip).to_string())
    }
}

/// A change the caller must make to the IPAddress objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpAddressAction {
    /// Create the IPAddress of `ip` for `service`.
    Create { ip: IpAddr, service: ServiceRef },
    /// Delete the IPAddress of `ip` and create it again for `service`.
    Recreate { ip: IpAddr, service: ServiceRef },
    /// Delete the IPAddress `name`.
    Delete { name: String },
    /// Look at the IPAddress `name` again after `after` (it is inside its grace period).
    RequeueAfter { name: String, after: Duration },
}

/// One thing the run found; `Display` gives upstream's log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpAddressFinding {
    InvalidClusterIp {
        raw: String,
        service: ServiceRef,
    },
    OutOfRange {
        ip: IpAddr,
        service: ServiceRef,
    },
    NotAllocated {
        ip: IpAddr,
        service: ServiceRef,
    },
    WrongReference {
        ip: IpAddr,
        service: ServiceRef,
    },
    /// `service` claims `ip`, which `holder` holds already.
    Duplicate {
        ip: IpAddr,
        service: ServiceRef,
        holder: ServiceRef,
    },
    NotReferencingService {
        name: String,
        parent: Option<ParentRef>,
    },
    Leaked {
        name: String,
    },
    StaleReference {
        name: String,
        service: ServiceRef,
    },
}

impl fmt::Display for IpAddressFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fam = |ip: &IpAddr| Family::of(ip);
        match self {
            Self::InvalidClusterIp { raw, service } => {
                write!(
                    f,
                    "the ClusterIP {raw} for Service {service} is not a valid IP; please recreate Service"
                )
            }
            Self::OutOfRange { ip, service } => write!(
                f,
                "the ClusterIP [{}]: {ip} for Service {service} is not within any service CIDR; please recreate",
                fam(ip)
            ),
            Self::NotAllocated { ip, service } => {
                write!(
                    f,
                    "the ClusterIP [{}]: {ip} for Service {service} is not allocated; repairing",
                    fam(ip)
                )
            }
            Self::WrongReference { ip, service } => write!(
                f,
                "the ClusterIP [{}]: {ip} for Service {service} has a wrong reference; repairing",
                fam(ip)
            ),
            Self::Duplicate {
                ip,
                service,
                holder,
            } => write!(
                f,
                "the cluster IP [{}]:{ip} for service {service} was assigned to other services {holder}; please recreate",
                fam(ip)
            ),
            Self::NotReferencingService { name, parent } => {
                let parent = parent
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "<nil>".to_owned());
                write!(
                    f,
                    "IPAddress {name} appears to have been modified, not referencing a Service {parent}: cleaning up"
                )
            }
            Self::Leaked { name } => {
                write!(f, "IPAddress {name} appears to have leaked: cleaning up")
            }
            Self::StaleReference { name, service } => {
                write!(
                    f,
                    "the IPAddress: {name} for Service {service} has a wrong reference; cleaning up"
                )
            }
        }
    }
}

/// What one run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpAddressRepairOutcome {
    /// The ServiceCIDRs of the input with the addresses that remain after `actions`.
    pub rebuilt: CidrSet,
    pub findings: Vec<IpAddressFinding>,
    pub actions: Vec<IpAddressAction>,
}

/// One repair run over the ServiceCIDRs of `cidrs` (its allocations are ignored), the stored
/// Services and the stored IPAddress objects, at time `now`.
pub fn repair_ip_addresses(
    cidrs: &CidrSet,
    services: &[ServiceClusterIps],
    ip_addresses: &[IpAddressObject],
    now: SystemTime,
    seed: u64,
) -> IpAddressRepairOutcome {
    let mut findings = Vec::new();
    let mut actions = Vec::new();
    let by_service: BTreeMap<&ServiceRef, Vec<IpAddr>> = services
        .iter()
        .map(|s| {
            (
                &s.service,
                s.cluster_ips
                    .iter()
                    .filter_map(|ip| ip.parse().ok())
                    .collect(),
            )
        })
        .collect();
    let holds =
        |svc: &ServiceRef, ip: IpAddr| by_service.get(svc).is_some_and(|ips| ips.contains(&ip));
    // The IPAddresses as the run changes them: address -> object (None once deleted).
    let mut current: BTreeMap<IpAddr, &IpAddressObject> = BTreeMap::new();
    for obj in ip_addresses {
        if let Ok(ip) = obj.name.parse() {
            current.insert(ip, obj);
        }
    }
    let mut written: BTreeMap<IpAddr, ServiceRef> = BTreeMap::new();

    for svc in services {
        let service = &svc.service;
        for raw in svc
            .cluster_ips
            .iter()
            .filter(|ip| !ip.is_empty() && ip.as_str() != "None")
        {
            let Ok(ip) = raw.parse::<IpAddr>() else {
                findings.push(IpAddressFinding::InvalidClusterIp {
                    raw: raw.clone(),
                    service: service.clone(),
                });
                continue;
            };
            let in_some_cidr = cidrs
                .service_cidrs()
                .iter()
                .flat_map(|s| &s.cidrs)
                .any(|c| c.contains(ip));
            if !in_some_cidr {
                findings.push(IpAddressFinding::OutOfRange {
                    ip,
                    service: service.clone(),
                });
                continue;
            }
            // The holder as this run leaves it: written now, or as stored.
            let (holder, labels_ok) = match (written.get(&ip), current.get(&ip)) {
                (Some(w), _) => (Some(Some(w.clone())), true),
                (None, Some(obj)) => (
                    Some(obj.parent_ref.as_ref().and_then(ParentRef::as_service)),
                    obj.labels_ok(ip),
                ),
                (None, None) => (None, true),
            };
            let recreate = match holder {
                None => {
                    findings.push(IpAddressFinding::NotAllocated {
                        ip,
                        service: service.clone(),
                    });
                    actions.push(IpAddressAction::Create {
                        ip,
                        service: service.clone(),
                    });
                    written.insert(ip, service.clone());
                    continue;
                }
                Some(Some(h)) if h == *service => !labels_ok,
                Some(Some(h)) if holds(&h, ip) => {
                    findings.push(IpAddressFinding::Duplicate {
                        ip,
                        service: service.clone(),
                        holder: h,
                    });
                    false
                }
                Some(_) => {
                    findings.push(IpAddressFinding::WrongReference {
                        ip,
                        service: service.clone(),
                    });
                    true
                }
            };
            if recreate {
                actions.push(IpAddressAction::Recreate {
                    ip,
                    service: service.clone(),
                });
                written.insert(ip, service.clone());
            }
        }
    }

    let mut deleted: BTreeSet<IpAddr> = BTreeSet::new();
    for (&ip, obj) in &current {
        if written.contains_key(&ip) || !obj.managed() {
            continue;
        }
        let parent = obj.parent_ref.as_ref().and_then(ParentRef::as_service);
        let Some(parent) = parent else {
            findings.push(IpAddressFinding::NotReferencingService {
                name: obj.name.clone(),
                parent: obj.parent_ref.clone(),
            });
            actions.push(IpAddressAction::Delete {
                name: obj.name.clone(),
            });
            deleted.insert(ip);
            continue;
        };
        if !by_service.contains_key(&parent) {
            let lifetime = now.duration_since(obj.created_at).unwrap_or(Duration::ZERO);
            if lifetime > LEAK_GRACE_PERIOD {
                findings.push(IpAddressFinding::Leaked {
                    name: obj.name.clone(),
                });
                actions.push(IpAddressAction::Delete {
                    name: obj.name.clone(),
                });
                deleted.insert(ip);
            } else {
                actions.push(IpAddressAction::RequeueAfter {
                    name: obj.name.clone(),
                    after: LEAK_GRACE_PERIOD - lifetime,
                });
            }
            continue;
        }
        if !holds(&parent, ip) {
            findings.push(IpAddressFinding::StaleReference {
                name: obj.name.clone(),
                service: parent,
            });
            actions.push(IpAddressAction::Delete {
                name: obj.name.clone(),
            });
            deleted.insert(ip);
        }
    }

    let mut rebuilt = cidrs.empty_like(seed);
    let remaining = current
        .keys()
        .filter(|ip| !deleted.contains(ip))
        .chain(written.keys());
    for &ip in remaining {
        // Addresses outside every CIDR (a ServiceCIDR deleted by force) have no bitmap.
        let _ = rebuilt.reserve_existing(ip);
    }
    IpAddressRepairOutcome {
        rebuilt,
        findings,
        actions,
    }
}

#[cfg(test)]
#[path = "repairip_tests.rs"]
mod tests;

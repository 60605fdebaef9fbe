//! The one error type of the Service allocators (ClusterIP, NodePort, ServiceCIDR set).
//!
//! Messages keep upstream's wording where upstream has one, because users and tools match on
//! them (`kubectl` prints them inside `spec.clusterIPs: Invalid value: ...`, and several
//! installers probe the service range by parsing "The range of valid IPs is ..."):
//! `pkg/registry/core/service/ipallocator/interfaces.go`,
//! `pkg/registry/core/service/portallocator/allocator.go`,
//! `pkg/registry/core/service/allocator/bitmap.go`.

use std::net::IpAddr;

use crate::cidr::{Cidr, CidrError, Family};

/// Why an allocation, a release, a snapshot restore or a configuration change was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceAllocError {
    /// No address or port is left (upstream `ErrFull`).
    #[error("range is full")]
    Full,
    /// The requested ClusterIP is held already (upstream `ipallocator.ErrAllocated`).
    #[error("provided IP is already allocated")]
    IpAllocated,
    /// The requested ClusterIP lies outside every usable range (upstream `ErrNotInRange`).
    #[error(
        "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {valid_range}"
    )]
    IpNotInRange { ip: IpAddr, valid_range: String },
    /// A snapshot of another CIDR was offered (upstream `ipallocator.ErrMismatchedNetwork`).
    #[error("the provided network does not match the current range")]
    MismatchedNetwork,
    /// The ServiceCIDRs that hold the address are not ready or are terminating
    /// (upstream `ipallocator.ErrNotReady`).
    #[error("allocator not ready")]
    NotReady,
    /// No ServiceCIDR of the family exists (the REST layer's "not configured on this cluster").
    #[error("{family} is not configured on this cluster")]
    FamilyNotConfigured { family: Family },
    /// A requested address does not belong to the family asked for at that position.
    #[error("the provided IP ({ip}) does not belong to the {family} family")]
    FamilyMismatch { ip: IpAddr, family: Family },
    /// The family list of a dual-stack request is malformed (empty, repeated, or longer than
    /// the list of requested addresses allows).
    #[error("invalid IP families request: {reason}")]
    InvalidFamilies { reason: String },
    /// A CIDR too large for a bitmap; mirrors kube-apiserver's `--service-cluster-ip-range`
    /// check (`pkg/controlplane/apiserver/options/validation.go`, at most 20 host bits for IPv4).
    #[error(
        "specified service CIDR {cidr} is too large; for 32-bit addresses, the mask must be >= 12"
    )]
    CidrTooLarge { cidr: Cidr },
    /// An IPv6 ServiceCIDR shorter than /64 (upstream `NewIPAllocator`).
    #[error("shortest allowed prefix length for service CIDR is 64, got {prefix_len}")]
    PrefixTooShort { prefix_len: u8 },
    /// A CIDR in a snapshot or a ServiceCIDR did not parse.
    #[error(transparent)]
    Cidr(#[from] CidrError),
    /// The requested NodePort is held already (upstream `portallocator.ErrAllocated`).
    #[error("provided port is already allocated")]
    PortAllocated,
    /// The requested NodePort lies outside the range (upstream `portallocator.ErrNotInRange`).
    #[error("provided port is not in the valid range. The range of valid ports is {valid_ports}")]
    PortNotInRange { valid_ports: String },
    /// A snapshot of another port range was offered (upstream `ErrMismatchedNetwork`).
    #[error("the provided port range does not match the current port range")]
    MismatchedPortRange,
    /// `net.ParsePortRange` refused the text; the message is Go's.
    #[error("{0}")]
    InvalidPortRange(String),
    /// A snapshot whose bitmap marks offsets past the end of the range: garbage, or written
    /// for a larger range. Restoring it would hand out addresses that do not exist.
    #[error(
        "restoring snapshot encountered offset {offset} past the end of the range (size {max})"
    )]
    CorruptSnapshot { offset: usize, max: usize },
    /// A ServiceCIDR with this name exists already.
    #[error("ServiceCIDR {name:?} already exists")]
    ServiceCidrExists { name: String },
    /// No ServiceCIDR has this name.
    #[error("ServiceCIDR {name:?} not found")]
    ServiceCidrNotFound { name: String },
    /// The ServiceCIDR spec is invalid (mirrors `ValidateServiceCIDR`).
    #[error("ServiceCIDR {name:?} is invalid: spec.cidrs: {reason}")]
    InvalidServiceCidr { name: String, reason: String },
    /// Deleting the ServiceCIDR would orphan an allocated address; upstream keeps the
    /// finalizer (`pkg/controller/servicecidrs/servicecidrs_controller.go`).
    #[error(
        "ServiceCIDR {name:?} is still in use: There are still IPAddresses referencing the \
         ServiceCIDR, please remove them or create a new ServiceCIDR (first: {ip})"
    )]
    ServiceCidrInUse { name: String, ip: IpAddr },
}

//! Service allocators: ClusterIPs (one CIDR, or the ServiceCIDR set), NodePorts, and the
//! repair loops that rebuild them from stored objects.
//!
//! Pure cores for the API server to drive (no I/O, no clock, no locks: the caller owns the
//! allocator and serializes access). They mirror upstream v1.35's
//! `pkg/registry/core/service/{allocator,ipallocator,portallocator}`:
//!
//! - `bitmap`: the allocation bitmap with its static/dynamic bands (KEP-3070, KEP-3668).
//! - `ip`: `IpAllocator`, the ClusterIPs of one CIDR; `RangeAllocation`, the snapshot.
//! - `port`: `PortRange` (`--service-node-port-range` syntax) and `PortAllocator`.
//! - `cidrset`: `CidrSet`, ClusterIPs over every ServiceCIDR of the cluster.
//! - `dualstack`: `CidrSet::allocate_for_families`, one address per family, all or nothing.
//! - `repair`: the bitmap repair loops (`ClusterIpRepair`, `NodePortRepair`).
//! - `repairip`: the repair of the ServiceCIDR API (Services against IPAddress objects).
//! - `error`: `ServiceAllocError`, with upstream's messages.

pub mod bitmap;
pub mod cidrset;
pub mod dualstack;
pub mod error;
pub mod ip;
pub mod port;
pub mod repair;
pub mod repairip;

pub use bitmap::SplitMix64;
pub use cidrset::{CidrSet, ServiceCidr};
pub use error::ServiceAllocError;
pub use ip::{IpAllocator, RangeAllocation};
pub use port::{PortAllocator, PortRange};
pub use repair::{
    ClusterIpRepair, NodePortRepair, NodePortSpec, RepairFinding, RepairOutcome, ServiceClusterIps,
    ServiceNodePorts, ServiceRef,
};
pub use repairip::{
    IpAddressAction, IpAddressFinding, IpAddressObject, IpAddressRepairOutcome, ParentRef,
    repair_ip_addresses,
};

#[cfg(test)]
#[path = "props_tests.rs"]
mod props_tests;

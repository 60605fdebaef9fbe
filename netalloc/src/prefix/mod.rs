//! VPC-style prefix IPAM, as the AWS VPC CNI's prefix mode (`ENABLE_PREFIX_DELEGATION`) runs
//! it, moved into the control plane for clusters of 100,000 nodes.
//!
//! The cluster owns VPC CIDRs split into zoned subnets ([`PrefixConfig`]). A node controller
//! calls [`PrefixAllocator::allocate`] when a Node joins, and again as [`PrefixAllocator::want_for`]
//! says its pods fill its prefixes (the `WARM_PREFIX_TARGET` rule), records the prefixes on the
//! Node, and calls [`PrefixAllocator::release_node`] when the Node goes. The state is one bitmap
//! per subnet plus a short slot list per node; it is persisted as a [`PrefixSnapshot`] and,
//! after a restart, checked against the Nodes by [`repair::plan`]. On the node, the CNI plugin
//! hands pod addresses out of the node's prefixes with [`NodeAddresses`].
//!
//! Everything here is pure and synchronous: no I/O, no clock (except [`bench`]), no async.

mod allocator;
mod bitmap;
mod config;
mod error;
mod node_addresses;
mod snapshot;

pub mod bench;
pub mod repair;

pub use allocator::{PrefixAllocator, RecordedNode};
pub use bench::{BenchError, BenchFigures, bench};
pub use config::{
    DEFAULT_IPV4_PREFIX_LEN, DEFAULT_IPV6_PREFIX_LEN, DEFAULT_MAX_PODS, DEFAULT_WARM_PREFIX_TARGET,
    FamilyConfig, MAX_SLOTS_PER_SUBNET, PrefixConfig, SubnetConfig,
};
pub use error::{AllocError, ConfigError, RestoreError, SubnetFree};
pub use node_addresses::{
    AddressError, MAX_ADDRESSES_PER_PREFIX, NODE_ADDRESSES_VERSION, NodeAddresses,
    NodeAddressesSnapshot, PrefixState,
};
pub use repair::{DoubleAllocation, OutsidePrefix, RepairReport, WrongZone, plan};
pub use snapshot::{PrefixSnapshot, SNAPSHOT_VERSION, SubnetSnapshot};

#[cfg(test)]
mod allocator_tests;
#[cfg(test)]
mod bitmap_tests;
#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod node_addresses_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod repair_tests;
#[cfg(test)]
mod snapshot_tests;

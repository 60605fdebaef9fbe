//! Addresses for every node, pod and Service of one VPC, never handed out twice (see
//! `DESIGN.md`, "netalloc"). Pure allocation cores (bitmaps, no I/O, no clocks but the ones
//! passed in) with snapshots and repair planners; the API server, the node-IPAM controller
//! and the CNI plugin drive them.
//!
//! Where things go:
//! - `cidr.rs`: the CIDR type every allocator shares (IPv4 and IPv6, strict parsing).
//! - `prefix/`: VPC-style prefix IPAM as the VPC CNI's prefix mode: zoned subnets → node
//!   prefixes (/28, /80) → pod addresses (`NodeAddresses`), its snapshot and its repair plan.
//! - `service/`: ClusterIP allocation over ServiceCIDRs (dual-stack) and NodePort allocation,
//!   with upstream's bands, errors and repair loops.
//!
//! The I/O that drives them lives elsewhere: the node-IPAM controller
//! (`controllers/src/nodeipam.rs`) writes prefixes on Nodes, `ultrak8s cni` (`cmd/src/cni/`)
//! hands pod addresses out of them on the node, and the API server's registry allocates
//! ClusterIPs and NodePorts with `service` (`apiserver/src/service_alloc/`).

pub mod cidr;
pub mod prefix;
pub mod service;

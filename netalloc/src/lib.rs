//! VPC-style prefix IPAM, pod CIDRs, ClusterIP and NodePort allocators and their repair loops
//! (see `DESIGN.md`, "netalloc").
//!
//! Not built yet: issue 7 brings it.

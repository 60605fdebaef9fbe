//! The controllers of the cluster and the runtime they share (see `DESIGN.md`, "Controllers").
//! They reach the API only through a `kube::Client`: in `ultrak8s server` one over the
//! in-process `LocalService` (as `system:kube-controller-manager`), elsewhere one over HTTPS,
//! so they run against any conformant API server.
//!
//! Where things go:
//! - `runtime/`: shared informers, the work queue, expectations, the worker loop, leader
//!   election.
//! - one folder per controller: `decide.rs` (what to do, pure, `now` as a parameter) beside the
//!   reconciler that reads informers and writes through the API.
//! - `manager.rs`: which controllers run, leader election around them.
//!
//! Running today: replicaset and replicationcontroller, deployment, statefulset, daemonset,
//! job, cronjob, horizontal pod autoscaling (without metrics), TTL after finished, garbage collector, pod GC, node lifecycle, node IPAM (VPC prefixes from netalloc), endpoints and
//! EndpointSlices, ServiceCIDRs (finalizer and Ready), disruption, namespace, serviceaccount and the root-CA publisher. ResourceQuota
//! status is kept by the API server's quota keeper (`apiserver/src/quota/`), beside the usage
//! evaluator its admission plugin shares. `history.rs` holds the ControllerRevision rules
//! StatefulSets and DaemonSets share.

pub mod certificates;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod garbagecollector;
pub mod history;
pub mod job;
pub mod namespace;
mod manager;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod podautoscaler;
pub mod podgc;
pub mod replicaset;
pub mod rootcapublisher;
pub mod runtime;
pub mod serviceaccount;
pub mod servicecidrs;
pub mod statefulset;
pub mod ttlafterfinished;

/// Label selectors as every controller (and the scheduler) matches them.
pub use replicaset::selector::Selector;
pub use manager::{CONTROLLERS, ClientFor, LEASE_NAME, LEASE_NAMESPACE, Options, Selection, run};

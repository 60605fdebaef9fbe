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
//! Running today: replicaset, deployment, daemonset, job, TTL after finished, garbage collector, pod GC,
//! node lifecycle, endpoints and EndpointSlices. The namespace, serviceaccount, root CA and
//! resource-quota duties still run inside the API server (`apiserver/src/lifecycle.rs`,
//! `namespace_defaults.rs`, `quota/`) until they move here; the rest of issue 5 is to come.

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
pub mod nodelifecycle;
pub mod podgc;
pub mod replicaset;
pub mod rootcapublisher;
pub mod runtime;
pub mod serviceaccount;
pub mod statefulset;
pub mod ttlafterfinished;

pub use manager::{CONTROLLERS, ClientFor, LEASE_NAME, LEASE_NAMESPACE, Options, Selection, run};

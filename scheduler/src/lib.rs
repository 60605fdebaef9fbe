//! The scheduler (see `DESIGN.md`, "Scheduler"): binds pending pods to nodes through the
//! upstream framework's extension points, also at 100,000 nodes.
//!
//! Where things go:
//! - `framework/`: the extension-point traits, statuses, cycle state, pod and node info, the
//!   snapshot, and the runner of a profile's plugins ([`framework::Framework`]).
//! - `plugins/`: one file per plugin; `plugins/mod.rs` builds the default profile; helpers
//!   shared by plugins sit beside them (tolerations, node selectors, the DRA allocator and
//!   CEL).
//! - `profiles.rs`: the profiles by `schedulerName`.
//! - `cache.rs`: nodes and the pods on them, including pods assumed before their binding
//!   lands; hands out incremental snapshots.
//! - `queue.rs`: active, backoff and unschedulable pods; cluster events move pods back.
//! - `schedule.rs`: one pod's scheduling cycle, pure (snapshot in, decision out): PreFilter,
//!   sampled parallel Filter, PostFilter, Score, host selection; `batch.rs`: the ranking
//!   pods of one signature reuse (opportunistic batching).
//! - `scheduler.rs`: the I/O around it: informers feed cache and queue, the loop pops pods,
//!   runs the cycle, assumes, and binds asynchronously; failures become pod conditions and
//!   events; preemption victims are deleted there. `metrics.rs`: its Prometheus metrics.
//!
//! The scheduler uses the controllers' runtime (shared informers, leader election, events,
//! label selectors) from `ultrak8s-controllers`, as upstream's scheduler shares client-go
//! with the controller manager; it never reaches into the API server.

pub mod batch;
pub mod cache;
pub mod framework;
pub mod metrics;
pub mod plugins;
pub mod profiles;
pub mod queue;
pub mod schedule;
pub mod scheduler;
#[cfg(test)]
pub(crate) mod testing;

//! The controller runtime: shared informers (`informer.rs`), the deduplicating, batching work
//! queue with per-key backoff (`queue.rs`, `backoff.rs`), expectations for writes not yet seen
//! (`expectations.rs`), the Events controllers record (`events.rs`), the workers that run a
//! reconciler over a queue (`controller.rs`), leader election over a Lease (`leader.rs`) and
//! the metrics and progress signal (`metrics.rs`).

pub mod backoff;
pub mod controller;
pub mod events;
pub mod expectations;
pub mod informer;
pub mod leader;
pub mod metrics;
pub mod queue;

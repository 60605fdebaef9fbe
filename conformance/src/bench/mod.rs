//! Whole-system benchmarks, the `ultrak8s bench` scenarios. A scenario runs one workload, with
//! one client and one concurrency, against ultrak8s and against the real peer it stands in
//! for, side by side in one run, and reports each figure beside its target. Timing lives
//! here, never in a pass/fail test (the smoke test checks only that a report is complete).
//!
//! - `peers`: the servers under test as child processes: free ports, start, readiness,
//!   resident memory, stop (also when the run is dropped midway, e.g. on Ctrl-C).
//! - `workload`: the measured loops over the etcd v3 API (puts, single-key ranges, watch
//!   fan-out) and their latency percentiles.
//! - `report`: the figures of each peer, the rows with their targets and verdicts, the table
//!   and the JSON result.
//! - `store`: the `bench store` scenario: ultrak8s's store against etcd.
//! - `api`: the `bench api` scenario: the Kubernetes API under load, beside the SLOs.
//! - `controllers`: the `bench controllers` scenario: pod churn through Deployments, with the
//!   controllers' batching on and off, side by side.
//! - `scheduler`: the `bench scheduler` scenario: pods scheduled and bound per second at
//!   thousands of GPU/Trainium nodes, beside the anchors.
//! - `scenario`: the scale scenarios over simulated nodes (`join`, `pretrain`, `finetune`,
//!   `mixed`, `churn`) with their SLI reports, JSON results and HTML plots.

pub mod api;
pub mod controllers;
pub mod peers;
pub mod report;
pub mod scenario;
pub mod scheduler;
pub mod store;
pub mod workload;

use std::path::PathBuf;
use std::time::Duration;

/// Why a benchmark could not produce its report. Slow figures are not errors: they are
/// reported, with their verdict.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("{peer} did not answer within {waited:?}; its log ends with:\n{log_tail}")]
    NotReady {
        peer: &'static str,
        waited: Duration,
        log_tail: String,
    },
    #[error("{peer} exited ({status}); its log ends with:\n{log_tail}")]
    Exited {
        peer: &'static str,
        status: std::process::ExitStatus,
        log_tail: String,
    },
    #[error("{peer}: {source}")]
    Client {
        peer: &'static str,
        source: etcd_client::Error,
    },
    #[error("{peer}: {what}")]
    Workload { peer: &'static str, what: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl BenchError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let context = context.into();
        move |source| BenchError::Io { context, source }
    }
}

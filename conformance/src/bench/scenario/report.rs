//! The result of one scenario run, as written to its JSON file and drawn in its HTML page.
//! Every figure the run measured is here; `series` holds the per-second samples the plots
//! are drawn from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One scenario run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// `join`, `pretrain`, `finetune`, `mixed` or `churn`.
    pub scenario: String,
    /// RFC 3339, when the run started.
    pub started_at: String,
    /// The flags of the run (sizes, durations), by name.
    pub params: BTreeMap<String, serde_json::Value>,
    /// `ultrak8s server` started by the bench, or the `--kubeconfig` server.
    pub server: String,
    pub nproc: usize,
    pub nodes: NodeFigures,
    pub pods: PodFigures,
    /// Request latencies the server measured (its `apiserver_request_duration_seconds`
    /// histogram over the run), one row per verb, resource and scope with requests.
    pub latencies: Vec<LatencyFigure>,
    /// From a pod's create response to the watch event that shows it (the bench's watch).
    pub watch_delay: Percentiles,
    /// From a pod's create response to the watch event that shows it Running.
    pub pod_startup: Percentiles,
    /// The server process's CPU and memory (`None` for a server the bench did not start).
    pub server_cpu_seconds: Option<f64>,
    pub server_rss_max_bytes: Option<u64>,
    /// The simulator's own CPU (it runs in the bench's process).
    pub bench_cpu_seconds: f64,
    pub seconds: f64,
    /// One sample per second.
    pub series: Vec<Sample>,
    /// Anchors the figures are set beside (`EKS 2,000 nodes/min`...), by figure name.
    pub anchors: BTreeMap<String, String>,
    /// Checks of the report's own consistency that failed (empty: every pod is accounted
    /// for, every latency row has requests).
    pub inconsistencies: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeFigures {
    pub requested: u64,
    pub joined: u64,
    /// Seen Ready through the API at the end of the join.
    pub ready: u64,
    pub join_seconds: f64,
    pub joined_per_minute: f64,
    pub lease_renewals: u64,
    pub lease_renewal_errors: u64,
    /// Nodes failed and replaced (churn).
    pub replaced: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodFigures {
    pub created: u64,
    pub scheduled: u64,
    /// Seen Running at least once.
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub deleted: u64,
    /// Created and neither finished nor deleted at the end (still Pending or Running).
    pub live_at_end: u64,
    pub created_per_sec: f64,
    pub scheduled_per_sec: f64,
    pub running_per_sec: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyFigure {
    /// Upstream's metric verbs: GET, LIST, POST, PUT, PATCH, DELETE.
    pub verb: String,
    /// `pods`, `nodes`, `leases.coordination.k8s.io`, with `/status` for a subresource.
    pub resource: String,
    /// `resource` (one object), `namespace` or `cluster`.
    pub scope: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The SLO's p99 bound for this row (1 s for mutating and single-object reads, 5 s for
    /// namespace lists, 30 s for cluster lists).
    pub slo_p99_ms: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The cluster as seen in one second of the run (counts are cumulative, rates per second).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t: f64,
    pub nodes_joined: u64,
    pub nodes_ready: u64,
    pub pods_created: u64,
    pub pods_scheduled: u64,
    pub pods_running: u64,
    pub pods_finished: u64,
    /// The p99 of the mutating requests served in this second, in ms (0 if none).
    pub write_p99_ms: f64,
    /// The p99 of the single-object reads served in this second, in ms.
    pub read_p99_ms: f64,
    pub server_cpu_percent: f64,
    pub server_rss_bytes: u64,
}

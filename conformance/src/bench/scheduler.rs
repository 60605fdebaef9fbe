//! `bench scheduler`: pods scheduled and bound per second by the scheduler inside a real
//! `ultrak8s server` (a child process, fsync durability), shaped like upstream's
//! scheduler_perf `SchedulingBasic`: `nodes` Nodes created directly through the API (GPU
//! nodes with `nvidia.com/gpu: 8`, Trainium nodes with `aws.amazon.com/neuron: 16`, three
//! zones; no kubelet), then `pods` pods created as fast as the API takes them, each asking
//! for one accelerator. A watch sees each pod's binding; the latency of a pod is from its
//! create response to the watch event that shows it bound, the throughput is pods bound per
//! second from the first create to the last binding, with per-second samples.
//!
//! With `backlog`, the server runs no scheduler while the pods are created; then
//! `ultrak8s scheduler` starts as its own process against the server (over HTTPS, as
//! kube-scheduler runs) and drains the backlog: the figure is the scheduler's own capacity,
//! not bounded by how fast the pods can be created.
//!
//! Only the namespace controllers run beside the scheduler (no node lifecycle: with no
//! kubelet renewing leases it would taint every node, as scheduler_perf runs none either).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use http::Method;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde::Serialize;
use std::sync::Mutex as StdMutex;

use super::BenchError;
use super::api::{call, connect, drive, failed, request};
use super::peers::Peer;

pub struct SchedulerBench {
    pub server_binary: PathBuf,
    pub work_dir: PathBuf,
    pub nodes: u64,
    pub pods: u64,
    /// Every `trainium_every`-th node is a Trainium node (and as many pods ask for Neuron).
    pub trainium_every: u64,
    /// Creates in flight.
    pub clients: usize,
    /// `--percentage-of-nodes-to-score`; `None`: adaptive.
    pub percentage_of_nodes_to_score: Option<u32>,
    /// `--scheduler-batching`.
    pub batching: bool,
    /// Create every pod first, then start the scheduler as its own process.
    pub backlog: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub second: u64,
    pub bound: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SchedulerReport {
    pub batching: bool,
    pub backlog: bool,
    pub nodes: u64,
    pub pods: u64,
    pub nodes_created_per_sec: f64,
    pub pods_created_per_sec: f64,
    pub pods_bound: u64,
    /// From the first pod create (backlog: from the scheduler's start) to the last binding.
    pub seconds: f64,
    pub pods_scheduled_per_sec: f64,
    /// Median and best of the per-second binding counts (scheduler_perf's sampled figures).
    pub per_sec_p50: u64,
    pub per_sec_max: u64,
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    /// Bindings that went to a node without the accelerator asked for or over its capacity.
    pub misplaced: u64,
    pub server_cpu_seconds: f64,
    pub server_rss_bytes: u64,
    /// The scheduler process's CPU and memory (backlog mode; in-process otherwise).
    pub scheduler_cpu_seconds: Option<f64>,
    pub scheduler_rss_bytes: Option<u64>,
    pub samples: Vec<Sample>,
    pub nproc: usize,
}

const NAMESPACE: &str = "sched-bench";
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

fn is_trainium(n: u64, every: u64) -> bool {
    every > 0 && n % every == every - 1
}

fn node(n: u64, trainium: bool) -> Vec<u8> {
    let (instance, accelerator, count) = if trainium {
        ("trn2.48xlarge", "aws.amazon.com/neuron", "16")
    } else {
        ("p5.48xlarge", "nvidia.com/gpu", "8")
    };
    let allocatable = serde_json::json!({
        "cpu": "192", "memory": "2000Gi", "pods": "110", "ephemeral-storage": "7000Gi",
        accelerator: count,
    });
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": format!("node-{n:06}"),
            "labels": {
                "kubernetes.io/hostname": format!("node-{n:06}"),
                "topology.kubernetes.io/zone": ZONES[(n % 3) as usize],
                "node.kubernetes.io/instance-type": instance,
            },
        },
        "spec": {},
        "status": {
            "allocatable": allocatable,
            "capacity": allocatable,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    })
    .to_string()
    .into_bytes()
}

fn pod(n: u64, trainium: bool) -> Vec<u8> {
    let accelerator = if trainium {
        "aws.amazon.com/neuron"
    } else {
        "nvidia.com/gpu"
    };
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("pod-{n:07}"), "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {
            "automountServiceAccountToken": false,
            "containers": [{
                "name": "main",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {
                    "requests": {"cpu": "1", "memory": "4Gi", accelerator: "1"},
                    "limits": {accelerator: "1"},
                },
            }],
        },
    })
    .to_string()
    .into_bytes()
}

/// Bindings seen by the watch: pod name → when.
type Bound = Arc<StdMutex<HashMap<String, Instant>>>;

fn watch_bindings(client: kube::Client, from: String, bound: Bound) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let mut version = from;
        loop {
            let Ok(stream) = api
                .watch(&WatchParams::default().timeout(290), &version)
                .await
            else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let mut stream = stream.boxed();
            while let Some(event) = stream.next().await {
                let Ok(event) = event else { break };
                let pod = match event {
                    WatchEvent::Added(p) | WatchEvent::Modified(p) => p,
                    WatchEvent::Bookmark(b) => {
                        version = b.metadata.resource_version;
                        continue;
                    }
                    _ => continue,
                };
                if let Some(v) = &pod.metadata.resource_version {
                    version.clone_from(v);
                }
                if pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_ref())
                    .is_some()
                {
                    let name = pod.metadata.name.unwrap_or_default();
                    bound
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .entry(name)
                        .or_insert_with(Instant::now);
                }
            }
        }
    })
}

pub async fn run(bench: &SchedulerBench) -> Result<SchedulerReport, BenchError> {
    let mut flags = vec![
        "--controllers=namespace,serviceaccount,root-ca-cert-publisher".to_owned(),
        format!("--scheduler-batching={}", bench.batching),
        format!("--scheduler={}", !bench.backlog),
    ];
    let mut scheduler_flags = vec![format!("--scheduler-batching={}", bench.batching)];
    if let Some(p) = bench.percentage_of_nodes_to_score {
        flags.push(format!("--percentage-of-nodes-to-score={p}"));
        scheduler_flags.push(format!("--percentage-of-nodes-to-score={p}"));
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut peer = Peer::start_ultrak8s_with(&bench.server_binary, &bench.work_dir, &flags)?;
    peer.wait_ready(Duration::from_secs(30)).await?;
    let client = connect(&peer).await?;
    let ns =
        format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NAMESPACE}"}}}}"#);
    call(
        &client,
        request(Method::POST, "/api/v1/namespaces", ns.into_bytes())?,
    )
    .await?;
    let every = bench.trainium_every;
    let (_, node_seconds) = drive(&client, bench.clients, bench.nodes, move |n| {
        request(
            Method::POST,
            "/api/v1/nodes",
            node(n, is_trainium(n, every)),
        )
    })
    .await?;
    // Let the scheduler's informer take in every node before pods arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let from = pods_api
        .list(&ListParams::default().limit(1))
        .await
        .map_err(failed)?
        .metadata
        .resource_version
        .unwrap_or_default();
    let bound: Bound = Arc::default();
    let watcher = watch_bindings(client.clone(), from, Arc::clone(&bound));
    let cpu_before = peer.cpu_seconds()?;
    let created: Arc<StdMutex<HashMap<String, Instant>>> = Arc::default();
    let started = Instant::now();
    let samples: Arc<StdMutex<Vec<Sample>>> = Arc::default();
    let sampler = {
        let (bound, samples) = (Arc::clone(&bound), Arc::clone(&samples));
        tokio::spawn(async move {
            let mut second = 0;
            loop {
                let seen = bound
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len() as u64;
                samples
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Sample {
                        second,
                        bound: seen,
                    });
                second += 1;
                tokio::time::sleep_until((started + Duration::from_secs(second)).into()).await;
            }
        })
    };
    let pods_total = bench.pods;
    let (_, create_seconds) = {
        let created = Arc::clone(&created);
        drive(&client, bench.clients, pods_total, move |n| {
            created
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(format!("pod-{n:07}"), Instant::now());
            request(
                Method::POST,
                &format!("/api/v1/namespaces/{NAMESPACE}/pods"),
                pod(n, is_trainium(n, every)),
            )
        })
        .await?
    };
    // Backlog: every pod exists; now the scheduler starts, as its own process.
    let mut scheduler = None;
    let scheduler_started = Instant::now();
    if bench.backlog {
        let kubeconfig = peer.dir().join("data").join("admin.kubeconfig");
        let flags: Vec<&str> = scheduler_flags.iter().map(String::as_str).collect();
        scheduler = Some(Peer::start_ultrak8s_scheduler(
            &bench.server_binary,
            &bench.work_dir,
            &kubeconfig,
            &flags,
        )?);
    }
    // Wait for every binding (or until nothing moved for 30 s).
    let mut last = (0u64, Instant::now());
    loop {
        let seen = bound
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len() as u64;
        if seen >= pods_total {
            break;
        }
        if seen != last.0 {
            last = (seen, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            break;
        }
        if let Some(s) = scheduler.as_mut() {
            s.check_running()?;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sampler.abort();
    let samples = samples
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    watcher.abort();
    let server_cpu_seconds = peer.cpu_seconds()? - cpu_before;
    let server_rss_bytes = peer.rss_bytes()?;
    let bound = bound
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let created = created
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let (scheduler_cpu_seconds, scheduler_rss_bytes) = match scheduler.as_mut() {
        Some(s) => (Some(s.cpu_seconds()?), Some(s.rss_bytes()?)),
        None => (None, None),
    };
    let first = if bench.backlog {
        scheduler_started
    } else {
        started
    };
    let last_bound = bound.values().max().copied().unwrap_or(first);
    let seconds = last_bound.duration_since(first).as_secs_f64();
    let mut latencies: Vec<f64> = bound
        .iter()
        // Backlog: from the scheduler's start, as every pod was waiting for it.
        .filter_map(|(name, at)| {
            let since = if bench.backlog {
                Some(&scheduler_started)
            } else {
                created.get(name)
            };
            since.map(|c| at.saturating_duration_since(*c).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = (latencies.len() as f64 * q).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    };
    let mut per_second: Vec<u64> = samples
        .windows(2)
        .map(|w| w[1].bound - w[0].bound)
        .filter(|n| *n > 0)
        .collect();
    per_second.sort_unstable();
    let misplaced = misplaced(&client, every).await?;
    Ok(SchedulerReport {
        batching: bench.batching,
        backlog: bench.backlog,
        scheduler_cpu_seconds,
        scheduler_rss_bytes,
        nodes: bench.nodes,
        pods: pods_total,
        nodes_created_per_sec: bench.nodes as f64 / node_seconds.max(1e-9),
        pods_created_per_sec: pods_total as f64 / create_seconds.max(1e-9),
        pods_bound: bound.len() as u64,
        seconds,
        pods_scheduled_per_sec: bound.len() as f64 / seconds.max(1e-9),
        per_sec_p50: per_second.get(per_second.len() / 2).copied().unwrap_or(0),
        per_sec_max: per_second.last().copied().unwrap_or(0),
        latency_p50_ms: pct(0.50),
        latency_p90_ms: pct(0.90),
        latency_p99_ms: pct(0.99),
        misplaced,
        server_cpu_seconds,
        server_rss_bytes,
        samples,
        nproc: std::thread::available_parallelism().map_or(0, usize::from),
    })
}

/// Pods bound to a node of the wrong kind, or more accelerators bound to a node than it has.
async fn misplaced(client: &kube::Client, every: u64) -> Result<u64, BenchError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let mut used: HashMap<String, u64> = HashMap::new();
    let mut wrong = 0;
    let mut params = ListParams::default().limit(5_000);
    loop {
        let page = api.list(&params).await.map_err(failed)?;
        for pod in &page.items {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
                continue;
            };
            let pod_n: u64 = pod
                .metadata
                .name
                .as_deref()
                .and_then(|n| n.strip_prefix("pod-"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let node_n: u64 = node
                .strip_prefix("node-")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if is_trainium(pod_n, every) != is_trainium(node_n, every) {
                wrong += 1;
            }
            *used.entry(node).or_default() += 1;
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    for (node, n) in used {
        let node_n: u64 = node
            .strip_prefix("node-")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let capacity = if is_trainium(node_n, every) { 16 } else { 8 };
        wrong += n.saturating_sub(capacity);
    }
    Ok(wrong)
}

impl std::fmt::Display for SchedulerReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "bench scheduler: {} nodes, {} pods (one accelerator each), {} CPUs, {}, batching {}",
            self.nodes,
            self.pods,
            self.nproc,
            if self.backlog {
                "backlog drained by `ultrak8s scheduler` (own process, HTTPS)"
            } else {
                "pods scheduled while created, scheduler inside the server"
            },
            if self.batching { "on" } else { "off" }
        )?;
        let rows = [
            ("nodes created per second", format!("{:.0}", self.nodes_created_per_sec), String::new()),
            ("pods created per second", format!("{:.0}", self.pods_created_per_sec), String::new()),
            ("pods bound", format!("{} of {}", self.pods_bound, self.pods), String::new()),
            (
                "pods scheduled and bound per second",
                format!("{:.0}", self.pods_scheduled_per_sec),
                "upstream scheduler_perf 270 at 5K nodes; EKS 500 at 100K; GKE ~1,000; target 2,000 at 100K".to_owned(),
            ),
            ("  per-second samples p50 / max", format!("{} / {}", self.per_sec_p50, self.per_sec_max), String::new()),
            (latency_name(self.backlog, "p50"), format!("{:.0}", self.latency_p50_ms), String::new()),
            (latency_name(self.backlog, "p90"), format!("{:.0}", self.latency_p90_ms), String::new()),
            (latency_name(self.backlog, "p99"), format!("{:.0}", self.latency_p99_ms), String::new()),
            ("misplaced bindings", self.misplaced.to_string(), "must be 0".to_owned()),
            ("server CPU seconds while scheduling", format!("{:.1}", self.server_cpu_seconds), String::new()),
            ("server RSS (MiB)", format!("{:.0}", self.server_rss_bytes as f64 / 1048576.0), String::new()),
            (
                "scheduler process CPU s / RSS MiB",
                match (self.scheduler_cpu_seconds, self.scheduler_rss_bytes) {
                    (Some(cpu), Some(rss)) => format!("{cpu:.1} / {:.0}", rss as f64 / 1048576.0),
                    _ => "in-process".to_owned(),
                },
                String::new(),
            ),
        ];
        for (name, value, anchor) in rows {
            writeln!(f, "{name:<44} {value:>14}   {anchor}")?;
        }
        Ok(())
    }
}

fn latency_name(backlog: bool, which: &str) -> &'static str {
    match (backlog, which) {
        (true, "p50") => "start-to-bound latency p50 (ms)",
        (true, "p90") => "start-to-bound latency p90 (ms)",
        (true, _) => "start-to-bound latency p99 (ms)",
        (false, "p50") => "create-to-bound latency p50 (ms)",
        (false, "p90") => "create-to-bound latency p90 (ms)",
        (false, _) => "create-to-bound latency p99 (ms)",
    }
}

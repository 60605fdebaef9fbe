//! `bench controllers`: pod churn through Deployments, handled by the controllers of a real
//! `ultrak8s server` (a child process, fsync durability, every controller running), once with
//! the runtime's batching (informers hand events to handlers in chunks, workers take keys in
//! batches) and once without (one event per handler call, one key per wake-up, as client-go),
//! side by side. The churn scales Deployments between 0 and `pods_per_scale` replicas, so that
//! `pods_per_minute` pods are created and as many deleted each minute; the ReplicaSet,
//! Deployment and garbage collector controllers turn that into pod writes and see every pod
//! event. The figures come from the server's `/metrics` (queue depth sampled each second,
//! queue adds, reconciles, informer events and handler calls) and its CPU time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use http::Method;
use serde::Serialize;

use super::BenchError;
use super::api::{call, connect, failed, request};
use super::peers::Peer;

pub struct ControllersBench {
    pub server_binary: PathBuf,
    pub work_dir: PathBuf,
    pub deployments: u64,
    /// Pods created (and as many deleted) per minute of churn.
    pub pods_per_minute: u64,
    /// Replicas of a Deployment scaled up (each scale-up creates this many pods).
    pub pods_per_scale: u64,
    pub churn: Duration,
}

/// One sample of the queues.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub seconds: f64,
    /// Keys waiting in every controller's queue.
    pub depth: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub batching: bool,
    pub scale_operations: u64,
    /// Pods the churn asked for (created) and gave back (deleted).
    pub pods_requested: u64,
    pub churn_seconds: f64,
    /// From the end of the churn until every Deployment has its pods and the queues are empty.
    pub converge_seconds: f64,
    pub pod_events: u64,
    pub pod_handler_calls: u64,
    pub informer_events: u64,
    pub informer_handler_calls: u64,
    pub queue_adds: u64,
    pub reconciles: u64,
    pub depth_max: u64,
    pub depth_mean: f64,
    pub server_cpu_seconds: f64,
    pub server_rss_bytes: u64,
    pub samples: Vec<Sample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ControllersReport {
    pub deployments: u64,
    pub pods_per_minute: u64,
    pub runs: Vec<Run>,
    pub nproc: usize,
}

const NAMESPACE: &str = "churn";

fn deployment(name: &str) -> Vec<u8> {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "schedulerName": "bench-no-scheduler",
                    "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}],
                },
            },
        },
    })
    .to_string()
    .into_bytes()
}

/// The figures of `/metrics` this scenario reads, summed over controllers or resources.
#[derive(Default)]
struct Scrape {
    depth: u64,
    adds: u64,
    reconciles: u64,
    events: BTreeMap<String, u64>,
    calls: BTreeMap<String, u64>,
}

fn label(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("{key}=\""))? + key.len() + 2;
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_owned())
}

async fn scrape(client: &kube::Client) -> Result<Scrape, BenchError> {
    let text = client
        .request_text(request(Method::GET, "/metrics", Vec::new())?)
        .await
        .map_err(failed)?;
    let mut scrape = Scrape::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let value = value as u64;
        if name.starts_with("workqueue_depth{") {
            scrape.depth += value;
        } else if name.starts_with("workqueue_adds_total{") {
            scrape.adds += value;
        } else if name.starts_with("workqueue_work_duration_seconds_count{") {
            scrape.reconciles += value;
        } else if name.starts_with("ultrak8s_informer_events_total{") {
            *scrape.events.entry(label(name, "resource").unwrap_or_default()).or_default() += value;
        } else if name.starts_with("ultrak8s_informer_handler_calls_total{") {
            *scrape.calls.entry(label(name, "resource").unwrap_or_default()).or_default() += value;
        }
    }
    Ok(scrape)
}

/// Pods in the churn namespace (one page of 1 and the remaining count).
async fn pod_count(client: &kube::Client) -> Result<u64, BenchError> {
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods?limit=1");
    let text = client
        .request_text(request(Method::GET, &path, Vec::new())?)
        .await
        .map_err(failed)?;
    let list: serde_json::Value = serde_json::from_str(&text).map_err(failed)?;
    let items = list["items"].as_array().map_or(0, Vec::len) as u64;
    let rest = list
        .pointer("/metadata/remainingItemCount")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    Ok(items + rest)
}

async fn run_once(bench: &ControllersBench, batching: bool) -> Result<Run, BenchError> {
    let flag = format!("--controller-batching={batching}");
    let mut peer = Peer::start_ultrak8s_with(&bench.server_binary, &bench.work_dir, &[&flag])?;
    peer.wait_ready(Duration::from_secs(30)).await?;
    let client = connect(&peer).await?;
    let ns = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NAMESPACE}"}}}}"#);
    call(&client, request(Method::POST, "/api/v1/namespaces", ns.into_bytes())?).await?;
    let deployments = bench.deployments.max(1);
    for d in 0..deployments {
        let path = format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments");
        call(&client, request(Method::POST, &path, deployment(&format!("d{d}")))?).await?;
    }
    // Let the controllers settle on the empty Deployments before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = scrape(&client).await?;
    let cpu_before = peer.cpu_seconds()?;

    // Churn: operation k scales Deployment k % n up in even rounds and down in odd ones.
    let per_scale = bench.pods_per_scale.max(1);
    let ops_per_second = (2 * bench.pods_per_minute) as f64 / 60.0 / per_scale as f64;
    let interval = Duration::from_secs_f64(1.0 / ops_per_second.max(0.001));
    let mut replicas = vec![0u64; deployments as usize];
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut next_sample = Duration::ZERO;
    let mut ops = 0u64;
    let mut requested = 0u64;
    while started.elapsed() < bench.churn {
        let d = (ops % deployments) as usize;
        let up = (ops / deployments).is_multiple_of(2);
        replicas[d] = if up { per_scale } else { 0 };
        requested += per_scale;
        let path = format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/d{d}/scale");
        let body = format!(r#"{{"spec":{{"replicas":{}}}}}"#, replicas[d]);
        let req = request(Method::PATCH, &path, body.into_bytes())?;
        let mut req = req;
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/merge-patch+json"),
        );
        call(&client, req).await?;
        ops += 1;
        if started.elapsed() >= next_sample {
            let depth = scrape(&client).await?.depth;
            samples.push(Sample { seconds: started.elapsed().as_secs_f64(), depth });
            next_sample += Duration::from_secs(1);
        }
        let due = interval.mul_f64(ops as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    let churn_seconds = started.elapsed().as_secs_f64();

    // Convergence: every Deployment's pods exist and the queues are drained.
    let wanted: u64 = replicas.iter().sum();
    let converge = Instant::now();
    loop {
        let now = scrape(&client).await?;
        samples.push(Sample { seconds: started.elapsed().as_secs_f64(), depth: now.depth });
        if now.depth == 0 && pod_count(&client).await? == wanted {
            break;
        }
        if converge.elapsed() > Duration::from_secs(600) {
            return Err(failed(format!(
                "controllers did not converge within 600 s ({} pods of {wanted})",
                pod_count(&client).await?
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let converge_seconds = converge.elapsed().as_secs_f64();
    let after = scrape(&client).await?;
    let server_cpu_seconds = peer.cpu_seconds()? - cpu_before;
    let server_rss_bytes = peer.rss_bytes()?;
    let delta = |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, key: Option<&str>| -> u64 {
        a.iter()
            .filter(|(k, _)| key.is_none_or(|key| k.as_str() == key))
            .map(|(k, v)| v.saturating_sub(b.get(k).copied().unwrap_or(0)))
            .sum()
    };
    let depths: Vec<u64> = samples.iter().map(|s| s.depth).collect();
    Ok(Run {
        batching,
        scale_operations: ops,
        pods_requested: requested,
        churn_seconds,
        converge_seconds,
        pod_events: delta(&after.events, &before.events, Some("pods")),
        pod_handler_calls: delta(&after.calls, &before.calls, Some("pods")),
        informer_events: delta(&after.events, &before.events, None),
        informer_handler_calls: delta(&after.calls, &before.calls, None),
        queue_adds: after.adds.saturating_sub(before.adds),
        reconciles: after.reconciles.saturating_sub(before.reconciles),
        depth_max: depths.iter().copied().max().unwrap_or(0),
        depth_mean: depths.iter().sum::<u64>() as f64 / depths.len().max(1) as f64,
        server_cpu_seconds,
        server_rss_bytes,
        samples,
    })
}

/// Both runs: batching on, then off, each on a fresh server.
pub async fn run(bench: &ControllersBench) -> Result<ControllersReport, BenchError> {
    let on = run_once(bench, true).await?;
    let off = run_once(bench, false).await?;
    Ok(ControllersReport {
        deployments: bench.deployments,
        pods_per_minute: bench.pods_per_minute,
        runs: vec![on, off],
        nproc: std::thread::available_parallelism().map_or(0, usize::from),
    })
}

impl std::fmt::Display for ControllersReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "bench controllers: {} Deployments, {} pods created and {} deleted per minute, {} CPUs",
            self.deployments, self.pods_per_minute, self.pods_per_minute, self.nproc
        )?;
        let [on, off] = [&self.runs[0], &self.runs[1]];
        writeln!(f, "{:<44} {:>16} {:>16}", "", "batching on", "batching off")?;
        let rows: Vec<(&str, String, String)> = vec![
            ("scale operations", on.scale_operations.to_string(), off.scale_operations.to_string()),
            ("pods requested (created + deleted)", on.pods_requested.to_string(), off.pods_requested.to_string()),
            ("churn seconds", format!("{:.1}", on.churn_seconds), format!("{:.1}", off.churn_seconds)),
            ("pod events handled", on.pod_events.to_string(), off.pod_events.to_string()),
            ("pod events handled per second", per_sec(on.pod_events, on), per_sec(off.pod_events, off)),
            ("pod event deliveries (handler calls each)", on.pod_handler_calls.to_string(), off.pod_handler_calls.to_string()),
            ("events per delivery (all informers)", ratio(on.informer_events, on.informer_handler_calls), ratio(off.informer_events, off.informer_handler_calls)),
            ("queue adds", on.queue_adds.to_string(), off.queue_adds.to_string()),
            ("reconciles", on.reconciles.to_string(), off.reconciles.to_string()),
            ("queue adds per reconcile (coalescing)", ratio(on.queue_adds, on.reconciles), ratio(off.queue_adds, off.reconciles)),
            ("queue depth max", on.depth_max.to_string(), off.depth_max.to_string()),
            ("queue depth mean", format!("{:.1}", on.depth_mean), format!("{:.1}", off.depth_mean)),
            ("converged after churn (s)", format!("{:.2}", on.converge_seconds), format!("{:.2}", off.converge_seconds)),
            ("server CPU seconds", format!("{:.1}", on.server_cpu_seconds), format!("{:.1}", off.server_cpu_seconds)),
            ("server CPU ms per 1,000 pod events", cpu_per(on), cpu_per(off)),
            ("server RSS (MiB)", mib(on.server_rss_bytes), mib(off.server_rss_bytes)),
        ];
        for (name, a, b) in rows {
            writeln!(f, "{name:<44} {a:>16} {b:>16}")?;
        }
        writeln!(f, "queue depth over time (every 5 s, on / off):")?;
        let at = |run: &Run, second: f64| {
            run.samples
                .iter()
                .find(|s| s.seconds >= second)
                .map_or("-".to_owned(), |s| s.depth.to_string())
        };
        let end = on.churn_seconds.max(off.churn_seconds) + on.converge_seconds.max(off.converge_seconds);
        let mut second = 0.0;
        while second <= end {
            writeln!(f, "  t={second:>5.0}s {:>8} {:>8}", at(on, second), at(off, second))?;
            second += 5.0;
        }
        Ok(())
    }
}

fn per_sec(events: u64, run: &Run) -> String {
    let seconds = run.churn_seconds + run.converge_seconds;
    format!("{:.0}", events as f64 / seconds.max(0.001))
}

fn ratio(a: u64, b: u64) -> String {
    format!("{:.2}", a as f64 / b.max(1) as f64)
}

fn cpu_per(run: &Run) -> String {
    format!("{:.1}", run.server_cpu_seconds * 1e6 / run.pod_events.max(1) as f64)
}

fn mib(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / (1024.0 * 1024.0))
}

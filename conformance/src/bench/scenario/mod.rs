//! `ultrak8s bench join|pretrain|finetune|mixed|churn`: the EKS-style scale scenarios. Each
//! run starts `ultrak8s server` (a child process, fsync durability, node IPAM, every
//! controller and the scheduler) or uses the server of `--kubeconfig`, joins simulated nodes
//! (`crate::simnodes`, in this process), runs its workload, samples the cluster once a second
//! and writes its report (`report.rs`) as JSON, a self-contained HTML page (`plot.rs`) and a
//! text summary, compared with a previous result when given one (`compare.rs`). Request
//! latencies are the server's own (`apiserver_request_duration_seconds`, read as
//! clusterloader2 reads it: `sli.rs`).
//!
//! - `chart.rs`: the SVG charts and tables `plot.rs` draws with.
//! - `track.rs`: the watches (pods, nodes, watch-delay probes) and their counts.
//! - `workloads.rs`: what each scenario creates and waits for.

pub mod chart;
pub mod compare;
pub mod plot;
pub mod report;
pub mod sli;
mod track;
mod workloads;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::BenchError;
use super::api::{connect, failed, request};
use super::peers::{Peer, own_cpu_seconds};
use crate::simnodes::Simulator;
use report::{LatencyFigure, NodeFigures, Percentiles, PodFigures, Sample, ScenarioReport};
use sli::Histogram;

/// The scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Join,
    Pretrain,
    Finetune,
    Mixed,
    Churn,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Join => "join",
            Kind::Pretrain => "pretrain",
            Kind::Finetune => "finetune",
            Kind::Mixed => "mixed",
            Kind::Churn => "churn",
        }
    }
}

/// One scenario run's settings.
#[derive(Clone, Debug)]
pub struct ScenarioBench {
    pub kind: Kind,
    /// `ultrak8s` to start as the server (unless `kubeconfig`).
    pub server_binary: PathBuf,
    pub work_dir: PathBuf,
    /// Run against this server instead of starting one.
    pub kubeconfig: Option<PathBuf>,
    pub nodes: u64,
    /// How long the pods of the training jobs run.
    pub job_seconds: f64,
    /// How long `churn` (and `mixed`'s serving phase) lasts.
    pub duration: Duration,
    /// `churn`: pods created (and as many deleted) per minute.
    pub churn_pods_per_minute: u64,
    /// `churn`: the share of nodes failing and replaced per minute, in percent.
    pub node_failure_percent: f64,
    /// How long a phase may take before the run gives up on it.
    pub phase_timeout: Duration,
    pub progress: bool,
}

/// What a workload reads and drives.
pub(crate) struct Run {
    pub client: kube::Client,
    pub tracker: Arc<track::Tracker>,
    pub sim: Simulator,
    pub bench: ScenarioBench,
    pub namespace: String,
}

const NAMESPACE: &str = "scenario";

/// Node IPAM for as many as 131,072 nodes with two prefixes each: three zones of a /11.
const SUBNETS: [&str; 3] = [
    "--vpc-subnet=us-east-1a=10.0.0.0/11",
    "--vpc-subnet=us-east-1b=10.32.0.0/11",
    "--vpc-subnet=us-east-1c=10.64.0.0/11",
];

async fn client_for(bench: &ScenarioBench) -> Result<(kube::Client, Option<Peer>), BenchError> {
    if let Some(path) = &bench.kubeconfig {
        let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(failed)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(failed)?;
        return Ok((kube::Client::try_from(config).map_err(failed)?, None));
    }
    let mut flags: Vec<&str> = SUBNETS.to_vec();
    flags.push("--vpc-cidr=10.0.0.0/8");
    let mut peer = Peer::start_ultrak8s_with(&bench.server_binary, &bench.work_dir, &flags)?;
    peer.wait_ready(Duration::from_secs(30)).await?;
    let client = connect(&peer).await?;
    Ok((client, Some(peer)))
}

/// The server's request-duration histograms now.
async fn scrape(client: &kube::Client) -> BTreeMap<BTreeMap<String, String>, Histogram> {
    let Ok(req) = request(Method::GET, "/metrics", Vec::new()) else {
        return BTreeMap::new();
    };
    match client.request_text(req).await {
        Ok(text) => sli::parse_histograms(&text, "apiserver_request_duration_seconds"),
        Err(_) => BTreeMap::new(),
    }
}

type Histograms = BTreeMap<BTreeMap<String, String>, Histogram>;

fn label<'a>(labels: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    labels.get(name).map_or("", String::as_str)
}

fn mutating(verb: &str) -> bool {
    matches!(verb, "POST" | "PUT" | "PATCH" | "DELETE")
}

/// The sum of the window's histograms that `keep` picks (one latency over several series).
fn merged(
    after: &Histograms,
    before: &Histograms,
    keep: impl Fn(&BTreeMap<String, String>) -> bool,
) -> Histogram {
    let mut total: Option<Histogram> = None;
    for (labels, h) in after.iter().filter(|(l, _)| keep(l)) {
        let d = sli::delta(h, before.get(labels));
        match total.as_mut() {
            None => total = Some(d),
            Some(t) => sli::merge(t, &d),
        }
    }
    total.unwrap_or(Histogram {
        buckets: Vec::new(),
        sum: 0.0,
        count: 0.0,
    })
}

fn ms(h: &Histogram, q: f64) -> f64 {
    sli::quantile(h, q).map_or(0.0, |s| s * 1000.0)
}

/// The latency rows of the run: every verb, resource and scope with requests, WATCH left
/// out (as the SLIs leave it out).
fn latency_rows(after: &Histograms, before: &Histograms) -> Vec<LatencyFigure> {
    let mut rows = Vec::new();
    for (labels, h) in after {
        let verb = label(labels, "verb");
        if matches!(verb, "WATCH" | "CONNECT") {
            continue;
        }
        let d = sli::delta(h, before.get(labels));
        if d.count < 1.0 {
            continue;
        }
        let (group, subresource) = (label(labels, "group"), label(labels, "subresource"));
        let mut resource = label(labels, "resource").to_owned();
        if !group.is_empty() {
            resource = format!("{resource}.{group}");
        }
        if !subresource.is_empty() {
            resource = format!("{resource}/{subresource}");
        }
        let scope = label(labels, "scope").to_owned();
        let slo_p99_ms = match (verb, scope.as_str()) {
            ("LIST", "cluster") => 30_000.0,
            ("LIST", _) => 5_000.0,
            _ => 1_000.0,
        };
        rows.push(LatencyFigure {
            verb: verb.to_owned(),
            resource,
            scope,
            count: d.count as u64,
            p50_ms: ms(&d, 0.5),
            p99_ms: ms(&d, 0.99),
            slo_p99_ms,
        });
    }
    rows.sort_by(|a, b| (b.count, &a.verb, &a.resource).cmp(&(a.count, &b.verb, &b.resource)));
    rows
}

fn percentiles(mut nanos: Vec<u64>) -> Percentiles {
    nanos.sort_unstable();
    let pct = |q: f64| super::api::quantile_ms(&nanos, q);
    Percentiles {
        count: nanos.len() as u64,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    }
}

/// Samples the cluster once a second until `stop`.
fn sample(
    client: kube::Client,
    tracker: Arc<track::Tracker>,
    registered: Arc<dyn Fn() -> u64 + Send + Sync>,
    peer: Arc<Mutex<Option<Peer>>>,
    samples: Arc<Mutex<Vec<Sample>>>,
    rss_max: Arc<Mutex<u64>>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut before = scrape(&client).await;
        let mut cpu_before = peer.lock().as_mut().and_then(|p| p.cpu_seconds().ok());
        let mut last_at = Instant::now();
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.tick().await;
        loop {
            // The last sample is taken as the run stops (a short run still has one).
            let stopping = tokio::select! {
                _ = every.tick() => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            let after = scrape(&client).await;
            let writes = merged(&after, &before, |l| mutating(label(l, "verb")));
            let reads = merged(&after, &before, |l| {
                label(l, "verb") == "GET" && label(l, "scope") == "resource"
            });
            before = after;
            let (cpu, rss) = {
                let mut guard = peer.lock();
                match guard.as_mut() {
                    Some(p) => (p.cpu_seconds().ok(), p.rss_bytes().unwrap_or(0)),
                    None => (None, 0),
                }
            };
            let dt = last_at.elapsed().as_secs_f64().max(1e-3);
            last_at = Instant::now();
            let cpu_percent = match (cpu, cpu_before) {
                (Some(now), Some(then)) => (now - then) / dt * 100.0,
                _ => 0.0,
            };
            cpu_before = cpu;
            {
                let mut max = rss_max.lock();
                *max = (*max).max(rss);
            }
            let t = tracker.totals();
            samples.lock().push(Sample {
                t: started.elapsed().as_secs_f64(),
                nodes_joined: registered(),
                nodes_ready: t.ready_nodes,
                pods_created: t.created,
                pods_scheduled: t.scheduled,
                pods_running: t.running,
                pods_finished: t.succeeded + t.failed,
                write_p99_ms: ms(&writes, 0.99),
                read_p99_ms: ms(&reads, 0.99),
                server_cpu_percent: cpu_percent,
                server_rss_bytes: rss,
            });
            if stopping {
                return;
            }
        }
    })
}

/// Runs one scenario and returns its report.
pub async fn run(bench: &ScenarioBench) -> Result<ScenarioReport, BenchError> {
    let started_at = k8s_openapi::jiff::Timestamp::now().to_string();
    let (client, peer) = client_for(bench).await?;
    let server = if peer.is_some() {
        "ultrak8s server (started by the bench)".to_owned()
    } else {
        format!(
            "--kubeconfig {}",
            bench.kubeconfig.clone().unwrap_or_default().display()
        )
    };
    let peer = Arc::new(Mutex::new(peer));
    let ns =
        format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NAMESPACE}"}}}}"#);
    // An existing namespace (a rerun against the same server) is fine.
    let _ = client
        .request_text(request(
            Method::POST,
            "/api/v1/namespaces",
            ns.into_bytes(),
        )?)
        .await;
    let tracker = Arc::new(track::Tracker::default());
    let (stop, stopped) = watch::channel(false);
    track::start(&client, &tracker, NAMESPACE, &stopped);
    let metrics_before = scrape(&client).await;
    let cpu_before = peer.lock().as_mut().and_then(|p| p.cpu_seconds().ok());
    let own_cpu_before = own_cpu_seconds().unwrap_or(0.0);
    let clock = Instant::now();

    // Every scenario starts with its nodes joining.
    let sim_config = workloads::sim_config(bench);
    let fleet_registered: Arc<Mutex<Option<Arc<crate::simnodes::Fleet>>>> = Arc::default();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let rss_max: Arc<Mutex<u64>> = Arc::default();
    let registered = {
        let fleet = Arc::clone(&fleet_registered);
        Arc::new(move || fleet.lock().as_ref().map_or(0, |f| f.registered_count()))
    };
    let sampler = sample(
        client.clone(),
        Arc::clone(&tracker),
        registered,
        Arc::clone(&peer),
        Arc::clone(&samples),
        Arc::clone(&rss_max),
        stopped.clone(),
    );
    let sim = Simulator::start(client.clone(), sim_config)
        .await
        .map_err(failed)?;
    *fleet_registered.lock() = Some(Arc::clone(&sim.fleet));
    let run = Run {
        client: client.clone(),
        tracker: Arc::clone(&tracker),
        sim,
        bench: bench.clone(),
        namespace: NAMESPACE.to_owned(),
    };
    let outcome = workloads::run(&run).await;
    let seconds = clock.elapsed().as_secs_f64();
    let metrics_after = scrape(&client).await;
    let sim_report = run.sim.report();
    let ready_at_end = track::count_ready(&client).await.map_err(failed)?;
    run.sim.stop();
    stop.send_replace(true);
    let _ = sampler.await;
    let (server_cpu, server_rss) = {
        let mut guard = peer.lock();
        match guard.as_mut() {
            Some(p) => (
                p.cpu_seconds().ok().zip(cpu_before).map(|(a, b)| a - b),
                Some((*rss_max.lock()).max(p.rss_bytes().unwrap_or(0))),
            ),
            None => (None, None),
        }
    };
    let outcome = outcome?;
    let totals = tracker.totals();
    let (startups, watch_delays) = tracker.durations();
    let samples = samples.lock().clone();
    let per_sec = |n: u64, secs: f64| n as f64 / secs.max(1e-9);
    let pod_secs = outcome.pod_seconds.max(1e-9);
    let mut report = ScenarioReport {
        scenario: bench.kind.name().to_owned(),
        started_at,
        params: workloads::params(bench),
        server,
        nproc: std::thread::available_parallelism().map_or(1, usize::from),
        nodes: NodeFigures {
            requested: bench.nodes,
            joined: sim_report.nodes,
            ready: ready_at_end,
            join_seconds: sim_report.join_seconds,
            joined_per_minute: sim_report.nodes_per_minute,
            lease_renewals: sim_report.lease_renewals,
            lease_renewal_errors: sim_report.lease_renewal_errors,
            replaced: run.sim.replaced(),
        },
        pods: PodFigures {
            created: totals.created,
            scheduled: totals.scheduled,
            running: totals.running,
            succeeded: totals.succeeded,
            failed: totals.failed,
            deleted: totals.deleted,
            live_at_end: totals.live,
            created_per_sec: per_sec(totals.created, pod_secs),
            scheduled_per_sec: per_sec(totals.scheduled, pod_secs),
            running_per_sec: per_sec(totals.running, pod_secs),
        },
        latencies: latency_rows(&metrics_after, &metrics_before),
        watch_delay: percentiles(watch_delays),
        pod_startup: percentiles(startups),
        server_cpu_seconds: server_cpu,
        server_rss_max_bytes: server_rss,
        bench_cpu_seconds: own_cpu_seconds().unwrap_or(0.0) - own_cpu_before,
        seconds,
        series: samples,
        anchors: workloads::anchors(),
        inconsistencies: Vec::new(),
    };
    report.inconsistencies = check(&report, outcome.expected_pods, totals.tracked);
    Ok(report)
}

/// What the report must satisfy: every created pod accounted for, latencies present.
fn check(r: &ScenarioReport, expected_pods: u64, tracked: u64) -> Vec<String> {
    let mut out = Vec::new();
    let p = &r.pods;
    if p.created < expected_pods {
        out.push(format!(
            "{} pods created, {expected_pods} expected",
            p.created
        ));
    }
    // Every pod seen is still there (live or finished) or was deleted.
    if tracked + p.deleted != p.created {
        out.push(format!(
            "pods unaccounted for: {} created, {tracked} still there, {} deleted",
            p.created, p.deleted
        ));
    }
    if p.running > p.scheduled || p.scheduled > p.created {
        out.push(format!(
            "counts out of order: created {} scheduled {} running {}",
            p.created, p.scheduled, p.running
        ));
    }
    if r.latencies.is_empty() {
        out.push("no request latencies were measured".to_owned());
    }
    let wanted = r.nodes.requested + r.nodes.replaced;
    if r.nodes.joined != wanted {
        out.push(format!("{} of {wanted} nodes joined", r.nodes.joined));
    }
    if r.series.is_empty() {
        out.push("no samples were taken".to_owned());
    }
    out
}

/// Writes `<dir>/<scenario>.json`, `.html` and `.txt`; returns the text summary.
pub fn write(
    report: &ScenarioReport,
    previous: Option<&ScenarioReport>,
    dir: &std::path::Path,
) -> Result<String, BenchError> {
    std::fs::create_dir_all(dir).map_err(BenchError::io("creating the output folder"))?;
    let base = dir.join(&report.scenario);
    let json = serde_json::to_string_pretty(report).map_err(failed)?;
    std::fs::write(base.with_extension("json"), json)
        .map_err(BenchError::io("writing the JSON result"))?;
    std::fs::write(
        base.with_extension("html"),
        plot::render_html(report, previous),
    )
    .map_err(BenchError::io("writing the HTML page"))?;
    let mut text = plot::render_text(report);
    if let Some(previous) = previous {
        text.push('\n');
        text.push_str(&compare::compare_text(&compare::compare(report, previous)));
    }
    std::fs::write(base.with_extension("txt"), &text)
        .map_err(BenchError::io("writing the summary"))?;
    Ok(text)
}

//! `ultrak8s bench <scenario>`: whole-system benchmarks that measure ultrak8s beside the peer
//! it stands in for, in one run (the scenarios live in `ultrak8s_conformance::bench`). Prints
//! the table, writes the JSON result, and stops every server it started, also on Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use ultrak8s_conformance::bench::api::{self, ApiBench};
use ultrak8s_conformance::bench::controllers::{self, ControllersBench};
use ultrak8s_conformance::bench::scenario::{self as scale, Kind, ScenarioBench};
use ultrak8s_conformance::bench::scheduler::{self, SchedulerBench};
use ultrak8s_conformance::bench::store::{self, StoreBench};
use ultrak8s_conformance::bench::workload::Limit;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// The store against a real etcd (Debian's `etcd`), both with fsync: puts, ranges, watch
    /// fan-out and resident memory, with the same client and concurrency.
    Store(StoreArgs),
    /// The Kubernetes API of `ultrak8s server` (fsync) under load: create, get, list and watch
    /// fan-out with many pods stored, beside the Kubernetes SLOs.
    Api(ApiArgs),
    /// Pod churn through Deployments handled by the controllers of `ultrak8s server`, with
    /// the runtime's batching on and off, side by side: events handled, reconciles, queue
    /// depth over time, convergence and CPU.
    Controllers(ControllersArgs),
    /// Pods scheduled and bound per second by the scheduler of `ultrak8s server` at thousands
    /// of GPU/Trainium nodes created through the API (as upstream's scheduler_perf), with
    /// create-to-bound latency, beside the anchors.
    Scheduler(SchedulerArgs),
    /// Simulated nodes join from zero (anchor: EKS 2,000 ready nodes per minute).
    Join(ScaleArgs),
    /// One gang-scheduled Job with a pod per node (8 GPUs each) on every node.
    Pretrain(ScaleArgs),
    /// 10 gang-scheduled Jobs, each on a tenth of the nodes.
    Finetune(ScaleArgs),
    /// 70% of the nodes in fine-tuning Jobs, 30% serving inference Deployments that are
    /// then rolled to a new version.
    Mixed(ScaleArgs),
    /// Steady pod creates and deletes while 1% of the nodes fail and are replaced every
    /// minute.
    Churn(ScaleArgs),
    /// The prefix allocator of node IPAM at cluster scale: prefixes allocated and released
    /// per second and memory held, for `--nodes` nodes with `--prefixes-per-node` /28s each;
    /// and ClusterIPs allocated per second.
    Netalloc(NetallocArgs),
}

/// The flags of the scale scenarios (`join`, `pretrain`, `finetune`, `mixed`, `churn`): a
/// small run by default, sized for CI smoke runs.
#[derive(Args, Debug)]
struct ScaleArgs {
    /// Simulated nodes.
    #[arg(long, default_value_t = 200)]
    nodes: u64,
    /// Run against this server instead of starting `ultrak8s server`.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The `ultrak8s` binary to start as the server (default: this one).
    #[arg(long)]
    server_binary: Option<PathBuf>,
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Seconds each training pod runs.
    #[arg(long, default_value_t = 10.0)]
    job_seconds: f64,
    /// Seconds `churn` runs.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// `churn`: pods created (and as many deleted) per minute.
    #[arg(long, default_value_t = 600)]
    churn_pods_per_minute: u64,
    /// `churn`: percent of the nodes failing and replaced per minute.
    #[arg(long, default_value_t = 1.0)]
    node_failure_percent: f64,
    /// Seconds a phase (nodes Ready, pods Running...) may take before the run fails.
    #[arg(long, default_value_t = 600.0)]
    phase_timeout: f64,
    /// Where `<scenario>.json`, `.html` and `.txt` go.
    #[arg(long, default_value = "bench-results")]
    out_dir: PathBuf,
    /// A previous JSON result of the same scenario to compare with.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Draw the progress line while nodes join.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    progress: bool,
}

#[derive(Args, Debug)]
struct NetallocArgs {
    #[arg(long, default_value_t = 100_000)]
    nodes: u32,
    #[arg(long, default_value_t = 2)]
    prefixes_per_node: usize,
    #[arg(long, default_value = "bench-netalloc.json")]
    out: PathBuf,
}

#[derive(serde::Serialize)]
struct NetallocReport {
    nodes: u32,
    prefixes_per_node: usize,
    prefixes_per_sec: f64,
    node_releases_per_sec: f64,
    memory_bytes: usize,
    snapshot_bytes: usize,
    distinct_prefixes: usize,
    cluster_ips_per_sec: f64,
}

impl std::fmt::Display for NetallocReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "bench netalloc: {} nodes x {} /28 prefixes, 4 zones of one VPC, one thread",
            self.nodes, self.prefixes_per_node
        )?;
        let rows = [
            (
                "prefixes allocated per second",
                format!("{:.0}", self.prefixes_per_sec),
                "target >= 100,000/s (EKS joins 2,000 nodes/min = 67 prefixes/s)",
            ),
            (
                "nodes released per second",
                format!("{:.0}", self.node_releases_per_sec),
                "",
            ),
            (
                "distinct prefixes",
                self.distinct_prefixes.to_string(),
                "must equal nodes x prefixes",
            ),
            (
                "allocator memory (MiB)",
                format!("{:.1}", self.memory_bytes as f64 / 1048576.0),
                "bitmaps + one short list per node",
            ),
            (
                "snapshot JSON (MiB)",
                format!("{:.1}", self.snapshot_bytes as f64 / 1048576.0),
                "",
            ),
            (
                "ClusterIPs allocated per second (/16)",
                format!("{:.0}", self.cluster_ips_per_sec),
                "",
            ),
        ];
        for (name, value, anchor) in rows {
            writeln!(f, "{name:<40} {value:>12}   {anchor}")?;
        }
        Ok(())
    }
}

fn run_netalloc(args: NetallocArgs) -> anyhow::Result<()> {
    use ultrak8s_netalloc::service::IpAllocator;
    let figures = ultrak8s_netalloc::prefix::bench(args.nodes, args.prefixes_per_node)
        .map_err(|e| anyhow::anyhow!("prefix benchmark: {e}"))?;
    let range: ultrak8s_netalloc::cidr::Cidr =
        "10.96.0.0/16".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut ips = IpAllocator::new(range, 1).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = std::time::Instant::now();
    let mut allocated = 0u64;
    while ips.allocate_next().is_ok() {
        allocated += 1;
    }
    let cluster_ips_per_sec = allocated as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let report = NetallocReport {
        nodes: args.nodes,
        prefixes_per_node: args.prefixes_per_node,
        prefixes_per_sec: figures.allocations_per_sec,
        node_releases_per_sec: figures.releases_per_sec,
        memory_bytes: figures.bytes,
        snapshot_bytes: figures.snapshot_bytes,
        distinct_prefixes: figures.distinct_prefixes,
        cluster_ips_per_sec,
    };
    write_report(&report, &args.out)
}

#[derive(Args, Debug)]
struct SchedulerArgs {
    #[arg(long, default_value_t = 5_000)]
    nodes: u64,
    #[arg(long, default_value_t = 10_000)]
    pods: u64,
    /// Every N-th node is a Trainium node (`aws.amazon.com/neuron: 16`), the rest GPU nodes
    /// (`nvidia.com/gpu: 8`); as many pods ask for Neuron. 0: GPU nodes only.
    #[arg(long, default_value_t = 5)]
    trainium_every: u64,
    /// Creates in flight.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Passed to the server; unset: adaptive.
    #[arg(long)]
    percentage_of_nodes_to_score: Option<u32>,
    /// Passed to the scheduler as `--scheduler-batching`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    batching: bool,
    /// Create every pod first, then start `ultrak8s scheduler` as its own process to drain
    /// the backlog (the scheduler's own capacity, not bounded by the create rate).
    #[arg(long)]
    backlog: bool,
    #[arg(long)]
    server_binary: Option<PathBuf>,
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[arg(long, default_value = "bench-scheduler.json")]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct ControllersArgs {
    #[arg(long, default_value_t = 1_000)]
    deployments: u64,
    /// Pods created, and as many deleted, per minute.
    #[arg(long, default_value_t = 10_000)]
    pods_per_minute: u64,
    /// Replicas a Deployment is scaled up to (and back to 0 from).
    #[arg(long, default_value_t = 10)]
    pods_per_scale: u64,
    /// How long the churn lasts per run (`60s`, `2m`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    churn: Duration,
    /// The ultrak8s binary to run as the server (default: this one).
    #[arg(long)]
    server_binary: Option<PathBuf>,
    /// Where the server keeps its data (a temporary directory). Default: $TMPDIR or /tmp.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Where the JSON result goes.
    #[arg(long, default_value = "bench-controllers.json")]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct ApiArgs {
    /// Pods created and stored before the read workloads.
    #[arg(long, default_value_t = 100_000)]
    pods: u64,
    /// Namespaces the pods are spread over.
    #[arg(long, default_value_t = 10)]
    namespaces: u64,
    /// Requests in flight in the create and get workloads.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Single-pod reads.
    #[arg(long, default_value_t = 20_000)]
    gets: u64,
    /// Cluster-wide lists of every pod (whole, and in pages).
    #[arg(long, default_value_t = 5)]
    lists: u32,
    /// Watchers of the fan-out workload.
    #[arg(long, default_value_t = 200)]
    watchers: usize,
    /// Pods created while they watch.
    #[arg(long, default_value_t = 1_000)]
    watch_events: u64,
    /// The ultrak8s binary to run as the server (default: this one).
    #[arg(long)]
    server_binary: Option<PathBuf>,
    /// Where the server keeps its data (a temporary directory). Default: $TMPDIR or /tmp.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Where the JSON result goes.
    #[arg(long, default_value = "bench-api.json")]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct StoreArgs {
    /// How long each put and range workload runs (e.g. 10s, 500ms, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Run each put and range workload for this many requests instead of --duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Concurrent clients of the "many clients" workloads.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// gRPC connections those clients share (the same number to each server).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 1024)]
    value_size: usize,
    /// Keys loaded before the memory figure; the range workload reads them.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Watchers of the fan-out workload, all on one prefix.
    #[arg(long, default_value_t = 1_000)]
    watchers: usize,
    /// Watch streams (each on its own connection) the watchers are spread over.
    #[arg(long, default_value_t = 10)]
    watch_streams: usize,
    /// Keys the single writer of the fan-out workload puts.
    #[arg(long, default_value_t = 1_000)]
    watch_puts: u64,
    /// The ultrak8s binary to run as the server (default: this one); e.g. another build, or a
    /// script that runs it under a profiler.
    #[arg(long)]
    server_binary: Option<PathBuf>,
    /// The etcd binary to compare with.
    #[arg(long, default_value = "etcd")]
    etcd: PathBuf,
    /// Where both servers keep their data (temporary directories, removed at the end); the
    /// same file system for both, as it sets the cost of an fsync. Default: $TMPDIR or /tmp.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Where the JSON result goes.
    #[arg(long, default_value = "bench-store.json")]
    out: PathBuf,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Store(args) => run_store(args).await,
        Scenario::Api(args) => run_api(args).await,
        Scenario::Controllers(args) => run_controllers(args).await,
        Scenario::Scheduler(args) => run_scheduler(args).await,
        Scenario::Netalloc(args) => run_netalloc(args),
        Scenario::Join(args) => run_scale(Kind::Join, args).await,
        Scenario::Pretrain(args) => run_scale(Kind::Pretrain, args).await,
        Scenario::Finetune(args) => run_scale(Kind::Finetune, args).await,
        Scenario::Mixed(args) => run_scale(Kind::Mixed, args).await,
        Scenario::Churn(args) => run_scale(Kind::Churn, args).await,
    }
}

fn positive_seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("--{flag} must be a positive number of seconds, not {value}"))
}

async fn run_scale(kind: Kind, args: ScaleArgs) -> anyhow::Result<()> {
    let server_binary = match args.server_binary {
        Some(binary) => binary,
        None => std::env::current_exe().context("finding the ultrak8s binary")?,
    };
    if !(args.job_seconds.is_finite() && args.job_seconds >= 0.0) {
        anyhow::bail!("--job-seconds must be zero or more");
    }
    if !(0.0..=100.0).contains(&args.node_failure_percent) {
        anyhow::bail!("--node-failure-percent must be between 0 and 100");
    }
    let previous = match &args.compare {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                scale::compare::load(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let bench = ScenarioBench {
        kind,
        server_binary,
        work_dir: args.work_dir.unwrap_or_else(std::env::temp_dir),
        kubeconfig: args.kubeconfig,
        nodes: args.nodes,
        job_seconds: args.job_seconds,
        duration: positive_seconds("duration", args.duration)?,
        churn_pods_per_minute: args.churn_pods_per_minute,
        node_failure_percent: args.node_failure_percent,
        phase_timeout: positive_seconds("phase-timeout", args.phase_timeout)?,
        progress: args.progress,
    };
    let report = until_interrupted(scale::run(&bench), "bench").await?;
    let text = scale::write(&report, previous.as_ref(), &args.out_dir)?;
    println!("{text}");
    println!(
        "results: {}/{}.{{json,html,txt}}",
        args.out_dir.display(),
        report.scenario
    );
    if !report.inconsistencies.is_empty() {
        anyhow::bail!(
            "the report is inconsistent: {}",
            report.inconsistencies.join("; ")
        );
    }
    Ok(())
}

async fn run_scheduler(args: SchedulerArgs) -> anyhow::Result<()> {
    let server_binary = match args.server_binary {
        Some(binary) => binary,
        None => std::env::current_exe().context("finding the ultrak8s binary")?,
    };
    let bench = SchedulerBench {
        server_binary,
        work_dir: args.work_dir.unwrap_or_else(std::env::temp_dir),
        nodes: args.nodes,
        pods: args.pods,
        trainium_every: args.trainium_every,
        clients: args.clients,
        percentage_of_nodes_to_score: args.percentage_of_nodes_to_score,
        batching: args.batching,
        backlog: args.backlog,
    };
    let report = until_interrupted(scheduler::run(&bench), "bench scheduler").await?;
    write_report(&report, &args.out)
}

async fn run_controllers(args: ControllersArgs) -> anyhow::Result<()> {
    let server_binary = match args.server_binary {
        Some(binary) => binary,
        None => std::env::current_exe().context("finding the ultrak8s binary")?,
    };
    let bench = ControllersBench {
        server_binary,
        work_dir: args.work_dir.unwrap_or_else(std::env::temp_dir),
        deployments: args.deployments,
        pods_per_minute: args.pods_per_minute,
        pods_per_scale: args.pods_per_scale,
        churn: args.churn,
    };
    let report = until_interrupted(controllers::run(&bench), "bench controllers").await?;
    write_report(&report, &args.out)
}

/// Runs a scenario unless a signal comes first (dropping its future stops its server).
async fn until_interrupted<T>(
    scenario: impl std::future::Future<Output = Result<T, ultrak8s_conformance::bench::BenchError>>,
    name: &'static str,
) -> anyhow::Result<T> {
    tokio::select! {
        report = scenario => report.context(name),
        signal = crate::server::shutdown_signal() => {
            signal?;
            anyhow::bail!("interrupted; the server stopped");
        }
    }
}

/// Prints the report's table and writes its JSON to `out`.
fn write_report(
    report: &(impl std::fmt::Display + serde::Serialize),
    out: &std::path::Path,
) -> anyhow::Result<()> {
    println!("{report}");
    let json = serde_json::to_string_pretty(report).context("encoding the result")?;
    std::fs::write(out, json + "\n").with_context(|| format!("writing {}", out.display()))?;
    println!("JSON result: {}", out.display());
    Ok(())
}

async fn run_api(args: ApiArgs) -> anyhow::Result<()> {
    let server_binary = match args.server_binary {
        Some(binary) => binary,
        None => std::env::current_exe().context("finding the ultrak8s binary")?,
    };
    let bench = ApiBench {
        server_binary,
        work_dir: args.work_dir.unwrap_or_else(std::env::temp_dir),
        pods: args.pods,
        namespaces: args.namespaces,
        clients: args.clients,
        gets: args.gets,
        lists: args.lists,
        watchers: args.watchers,
        watch_events: args.watch_events,
    };
    let report = until_interrupted(api::run(&bench), "bench api").await?;
    write_report(&report, &args.out)
}

async fn run_store(args: StoreArgs) -> anyhow::Result<()> {
    let server_binary = match args.server_binary {
        Some(binary) => binary,
        None => std::env::current_exe().context("finding the ultrak8s binary")?,
    };
    let mut bench = StoreBench::new(server_binary);
    bench.etcd_binary = args.etcd;
    if let Some(work_dir) = args.work_dir {
        bench.work_dir = work_dir;
    }
    bench.limit = args
        .requests
        .map_or(Limit::Duration(args.duration), Limit::Count);
    bench.clients = args.clients;
    bench.connections = args.connections;
    bench.value_bytes = args.value_size;
    bench.keys = args.keys;
    bench.watchers = args.watchers;
    bench.watch_streams = args.watch_streams;
    bench.watch_puts = args.watch_puts;
    // Dropping the benchmark's future (on a signal) kills both servers and removes their data.
    let report = tokio::select! {
        report = store::run(&bench) => report.context("bench store")?,
        signal = crate::server::shutdown_signal() => {
            signal?;
            anyhow::bail!("interrupted; both servers stopped");
        }
    };
    println!("{report}");
    std::fs::write(&args.out, report.to_json() + "\n")
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("JSON result: {}", args.out.display());
    Ok(())
}

/// "10s", "500ms", "2m" or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use ms, s or m)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("{text:?}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_or_without_a_unit() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("s").is_err());
    }
}

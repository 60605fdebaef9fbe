//! `ultrak8s simnodes`: simulated nodes (Nodes, Leases, status, the pods' lifecycle) against
//! any API server, until interrupted. The simulator is `ultrak8s_conformance::simnodes`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ultrak8s_conformance::simnodes::{SimConfig, Simulator};

#[derive(Args)]
pub struct SimNodesArgs {
    /// The API server to join.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 100)]
    count: u64,
    /// The index of the first node (several simulators can share a cluster).
    #[arg(long, default_value_t = 0)]
    first_index: u64,
    /// Nodes are named `<prefix><index>` with six digits.
    #[arg(long, default_value = "sim-")]
    name_prefix: String,
    /// Zones, round-robin (`topology.kubernetes.io/zone`).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "us-east-1a,us-east-1b,us-east-1c"
    )]
    zones: Vec<String>,
    /// Every K-th node is a Trainium node (`aws.amazon.com/neuron: 16`); 0 for none. The
    /// others are GPU nodes (`nvidia.com/gpu: 8`) unless `--cpu-every` makes them CPU nodes.
    #[arg(long, default_value_t = 5)]
    trainium_every: u64,
    /// Every K-th node (not Trainium) is a CPU-only node; 0 for none.
    #[arg(long, default_value_t = 0)]
    cpu_every: u64,
    /// The pods each node takes (`status.allocatable.pods`).
    #[arg(long, default_value_t = 110)]
    max_pods: u32,
    /// Seconds between lease renewals (the kubelet's 10).
    #[arg(long, default_value_t = 10.0)]
    lease_period: f64,
    /// Seconds between node status reports (the kubelet's nodeStatusReportFrequency, 300).
    #[arg(long, default_value_t = 300.0)]
    status_period: f64,
    /// Seconds a pod that does not restart runs before it succeeds, unless its
    /// `simnodes.ultrak8s.io/duration` annotation says otherwise.
    #[arg(long, default_value_t = 5.0)]
    job_duration: f64,
    /// Registrations in flight.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Draw the progress line while nodes join.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    progress: bool,
}

fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("--{flag} must be a positive number of seconds, not {value}"))
}

pub async fn run(args: SimNodesArgs) -> anyhow::Result<()> {
    if !(args.job_duration.is_finite() && args.job_duration >= 0.0) {
        anyhow::bail!("--job-duration must be zero or more seconds");
    }
    let config = SimConfig {
        prefix: args.name_prefix,
        first: args.first_index,
        count: args.count,
        zones: args.zones,
        trainium_every: args.trainium_every,
        cpu_every: args.cpu_every,
        max_pods: args.max_pods,
        lease_period: seconds("lease-period", args.lease_period)?,
        status_period: seconds("status-period", args.status_period)?,
        job_duration_secs: args.job_duration,
        clients: args.clients,
        progress: args.progress,
        ..SimConfig::default()
    };
    let client = kube::Client::try_from(crate::controllers::kube_config(&args.kubeconfig).await?)?;
    let simulator = Simulator::start(client, config).await?;
    let joined = simulator.report();
    tracing::info!(
        nodes = joined.nodes,
        seconds = format!("{:.1}", joined.join_seconds),
        nodes_per_minute = format!("{:.0}", joined.nodes_per_minute),
        "simulated nodes joined; running until interrupted"
    );
    let mut every = tokio::time::interval(Duration::from_secs(60));
    every.tick().await;
    let signal = crate::server::shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = every.tick() => {
                let r = simulator.report();
                tracing::info!(
                    renewals = r.lease_renewals, renewal_errors = r.lease_renewal_errors,
                    status_reports = r.status_reports, pods_started = r.pods_started,
                    pods_finished = r.pods_finished, pods_deleted = r.pods_deleted,
                    "simnodes"
                );
            }
            _ = &mut signal => break,
        }
    }
    simulator.stop();
    let r = simulator.report();
    println!("{}", serde_json::to_string_pretty(&r)?);
    Ok(())
}

//! `ultrak8s controllers`: the controllers alone, against any conformant API server (ours or a
//! stock kube-apiserver), with one client for all of them from a kubeconfig. Leader election
//! over `kube-system/kube-controller-manager` lets it run beside other instances (or beside
//! an `ultrak8s server` that runs its own).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

#[derive(Args, Debug)]
pub struct ControllersArgs {
    /// The API server and the identity to act as (it needs the rights of
    /// `system:kube-controller-manager` and of every controller role).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// Workers per controller.
    #[arg(long, default_value_t = 5)]
    workers: usize,
}

pub async fn run(args: ControllersArgs) -> anyhow::Result<()> {
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .context("kubeconfig")?;
    let client = kube::Client::try_from(config).context("client")?;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let shared = client.clone();
    let options = ultrak8s_controllers::Options {
        identity: format!("{}_{}", hostname.trim(), uuid::Uuid::new_v4()),
        leader_election: args.leader_elect,
        workers: args.workers,
        metrics: Arc::default(),
        node_monitor: ultrak8s_controllers::nodelifecycle::MonitorTimes::default(),
        client_for: Arc::new(move |_| shared.clone()),
    };
    tracing::info!(kubeconfig = %args.kubeconfig.display(), "ultrak8s controllers starting");
    ultrak8s_controllers::run(client, options, async {
        let _ = crate::server::shutdown_signal().await;
    })
    .await;
    Ok(())
}

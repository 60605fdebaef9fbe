//! `ultrak8s scheduler`: the scheduler alone, against any conformant API server (ours or a
//! stock kube-apiserver), from a kubeconfig, with leader election over
//! `kube-system/kube-scheduler` so it can run beside other instances.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// The API server and the identity to act as (it needs the rights of
    /// `system:kube-scheduler`).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    #[command(flatten)]
    options: SchedulerFlags,
}

/// The flags `ultrak8s server` shares with `ultrak8s scheduler`.
#[derive(Args, Debug, Clone)]
pub struct SchedulerFlags {
    /// The share of nodes evaluated per pod once enough fit (1–100); unset: adaptive, as
    /// upstream (50% at 100 nodes down to 5% from 5,625 nodes on).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Pods with the same scheduling signature (the replicas of a Job or Deployment) take
    /// the next node of the last full cycle's ranking once Filter confirms it still fits
    /// (upstream's alpha OpportunisticBatching); `false`: a full cycle for every pod.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub scheduler_batching: bool,
    /// The `schedulerName`s served, each a profile with the default plugins.
    #[arg(long = "scheduler-name", default_value = "default-scheduler")]
    pub scheduler_names: Vec<String>,
}

impl SchedulerFlags {
    pub fn options(&self, leader_election: bool) -> ultrak8s_scheduler::scheduler::Options {
        let mut options =
            ultrak8s_scheduler::scheduler::Options::new(&crate::controllers::identity());
        options.leader_election = leader_election;
        options.percentage_of_nodes_to_score = self.percentage_of_nodes_to_score;
        options.profiles = self.scheduler_names.clone();
        options.batching = self.scheduler_batching;
        options
    }
}

pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let config = crate::controllers::kube_config(&args.kubeconfig).await?;
    let client = kube::Client::try_from(config)?;
    tracing::info!(kubeconfig = %args.kubeconfig.display(), "ultrak8s scheduler starting");
    ultrak8s_scheduler::scheduler::run(client, args.options.options(args.leader_elect), async {
        let _ = crate::server::shutdown_signal().await;
    })
    .await;
    Ok(())
}

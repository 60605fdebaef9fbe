//! `ultrak8s conformance`: the upstream conformance suite against a fresh `ultrak8s server`
//! over simulated nodes (`ultrak8s_conformance::runner`); `conformance/run` builds the suite
//! and calls this.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ultrak8s_conformance::runner::{self, RunnerConfig};

#[derive(Args)]
pub struct ConformanceArgs {
    /// Where `e2e.test` and `ginkgo` are (`conformance/e2e/build.sh` puts them there).
    #[arg(long, env = "ULTRAK8S_E2E_DIR")]
    e2e_dir: PathBuf,
    /// The results folder (sonobuoy's layout: plugins/e2e/results/global/).
    #[arg(long, default_value = "conformance-results")]
    results: PathBuf,
    /// Which specs run (Ginkgo's focus regex).
    #[arg(long, default_value = "\\[Conformance\\]")]
    focus: String,
    /// Specs left out (Ginkgo's skip regex); none by default, as sonobuoy's certified mode.
    #[arg(long)]
    skip: Option<String>,
    /// Ginkgo processes for the parallel specs; the `[Serial]` ones run after, in one.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Simulated nodes.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Make the suite's clients speak JSON instead of protobuf.
    #[arg(long)]
    json_only: bool,
    /// Write the status page (the repository's `conformance/STATUS.md`).
    #[arg(long)]
    status: Option<PathBuf>,
    /// The suite's own time limit, in minutes.
    #[arg(long, default_value_t = 600)]
    timeout_minutes: u64,
    /// The `ultrak8s` binary to start as the server (default: this one).
    #[arg(long)]
    server_binary: Option<PathBuf>,
}

pub async fn run(args: ConformanceArgs) -> anyhow::Result<()> {
    let server_binary = match args.server_binary {
        Some(binary) => binary,
        None => std::env::current_exe().context("finding the ultrak8s binary")?,
    };
    if args.nodes < 2 {
        anyhow::bail!("--nodes: the suite needs at least two schedulable nodes");
    }
    let config = RunnerConfig {
        server_binary,
        e2e_dir: args.e2e_dir,
        results: std::path::absolute(&args.results).context("the results folder")?,
        focus: args.focus,
        skip: args.skip,
        parallel: args.parallel.max(1),
        nodes: args.nodes,
        json_only: args.json_only,
        status: args.status,
        timeout: Duration::from_secs(args.timeout_minutes.max(1) * 60),
    };
    let outcome = tokio::select! {
        outcome = runner::run(&config) => outcome.context("conformance run")?,
        signal = crate::server::shutdown_signal() => {
            signal?;
            anyhow::bail!("interrupted; the server and the suite stopped");
        }
    };
    println!("{}", outcome.summary);
    println!(
        "{:.0} minutes; results in {}",
        outcome.seconds / 60.0,
        config.results.display()
    );
    Ok(())
}

//! The `ultrak8s` binary: command line, configuration, wiring and shutdown. Thin: every
//! capability lives in a library crate; this file only parses flags and starts them.
//!
//! Subcommands: `server` (the control plane: the Kubernetes API over the store, the store's
//! etcd API, the scheduler and the controllers), `controllers` and `scheduler` (each alone
//! against any API server), `token` (bootstrap tokens for joining nodes), `bench`
//! (whole-system benchmarks beside a real peer, e.g. `bench store` against etcd), `simnodes`
//! (simulated nodes), `conformance` (the upstream suite against a fresh server) and `cni` (the
//! CNI IPAM plugin; also what the binary is when started under the name `ultrak8s-cni`).

mod bench;
mod cni;
mod conformance;
mod controllers;
mod ipam;
mod scheduler;
mod server;
mod simnodes;
mod token;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ultrak8s",
    version,
    about = "A Kubernetes control plane for AI clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane on this host, with an embedded store.
    Server(server::ServerArgs),
    /// Run the controllers alone against an API server (`--kubeconfig`).
    Controllers(controllers::ControllersArgs),
    /// Run the scheduler alone against an API server (`--kubeconfig`).
    Scheduler(scheduler::SchedulerArgs),
    /// Bootstrap tokens, with which nodes join.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Measure ultrak8s beside the real peer it stands in for, in one run.
    Bench(bench::BenchArgs),
    /// Simulated nodes (kwok-style): Nodes, Leases, status and pods, no containers.
    Simnodes(simnodes::SimNodesArgs),
    /// The upstream conformance suite (built by conformance/e2e/build.sh) against a fresh
    /// server over simulated nodes; results in sonobuoy's layout.
    Conformance(conformance::ConformanceArgs),
    /// The CNI IPAM plugin: CNI_* variables in the environment, the network configuration on
    /// stdin, the result on stdout (link the binary as `ultrak8s-cni` to install it).
    Cni,
}

/// Logs go to stderr, never stdout: the CNI plugin's stdout is its result.
fn init_logging(default_level: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> anyhow::Result<()> {
    // A CNI runtime starts a plugin by its name, with no arguments.
    if cni::invoked_as_plugin() {
        init_logging("warn");
        std::process::exit(cni::run());
    }
    let cli = Cli::parse();
    if let Command::Cni = cli.command {
        init_logging("warn");
        std::process::exit(cni::run());
    }
    init_logging("info");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Server(args) => runtime.block_on(server::run(args)),
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::Simnodes(args) => runtime.block_on(simnodes::run(args)),
        Command::Conformance(args) => runtime.block_on(conformance::run(args)),
        Command::Token(command) => runtime.block_on(token::run(command)),
        Command::Controllers(args) => runtime.block_on(controllers::run(args)),
        Command::Scheduler(args) => runtime.block_on(scheduler::run(args)),
        // Handled above, without a multi-threaded runtime.
        Command::Cni => Ok(()),
    }
}

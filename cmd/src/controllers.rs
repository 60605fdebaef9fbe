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
    /// The controllers to run: `*`, names, `-name` (as `ultrak8s server --controllers`).
    #[arg(long, default_value = "*", value_parser = crate::server::parse_controllers)]
    controllers: ultrak8s_controllers::Selection,
    /// The CA bundle published in every namespace as `kube-root-ca.crt` (default: the
    /// kubeconfig's certificate authority, as kube-controller-manager's `--root-ca-file`).
    #[arg(long)]
    root_ca_file: Option<PathBuf>,
    /// The CA certificate and key the CSR signer issues with (without them the signer does
    /// not run), as kube-controller-manager's flags of the same names.
    #[arg(long, requires = "cluster_signing_key_file")]
    cluster_signing_cert_file: Option<PathBuf>,
    #[arg(long, requires = "cluster_signing_cert_file")]
    cluster_signing_key_file: Option<PathBuf>,
    #[command(flatten)]
    ipam: crate::ipam::IpamFlags,
}

pub async fn run(args: ControllersArgs) -> anyhow::Result<()> {
    let config = kube_config(&args.kubeconfig).await?;
    let root_ca = match &args.root_ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        ),
        None => config.root_cert.as_ref().map(|certs| {
            certs
                .iter()
                .map(|der| pem_certificate(der))
                .collect::<String>()
        }),
    };
    let signing_ca = match (&args.cluster_signing_cert_file, &args.cluster_signing_key_file) {
        (Some(cert), Some(key)) => Some(read_signing_ca(cert, key)?),
        _ => None,
    };
    let client = kube::Client::try_from(config).context("client")?;
    let shared = client.clone();
    let options = ultrak8s_controllers::Options {
        identity: identity(),
        leader_election: args.leader_elect,
        workers: args.workers,
        metrics: Arc::default(),
        node_monitor: ultrak8s_controllers::nodelifecycle::MonitorTimes::default(),
        hpa_sync_period: ultrak8s_controllers::podautoscaler::DEFAULT_SYNC_PERIOD,
        node_ipam: args.ipam.config()?,
        controllers: args.controllers,
        root_ca,
        signing_ca,
        batching: true,
        client_for: Arc::new(move |_| shared.clone()),
    };
    tracing::info!(kubeconfig = %args.kubeconfig.display(), "ultrak8s controllers starting");
    ultrak8s_controllers::run(client, options, async {
        let _ = crate::server::shutdown_signal().await;
    })
    .await;
    Ok(())
}

/// The client configuration a kubeconfig file gives (its current context).
pub(crate) async fn kube_config(path: &std::path::Path) -> anyhow::Result<kube::Config> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading {}", path.display()))?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .context("kubeconfig")
}

/// `<hostname>_<random>`: a leader-election identity, as upstream's components make.
pub(crate) fn identity() -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}_{}", hostname.trim(), uuid::Uuid::new_v4())
}

/// One DER certificate as PEM.
fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Reads a signing CA's certificate and key (PEM), with upstream's one-year longest validity.
pub(crate) fn read_signing_ca(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<ultrak8s_controllers::certificates::SigningCa> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    Ok(ultrak8s_controllers::certificates::SigningCa {
        cert_pem: read(cert)?,
        key_pem: read(key)?,
        max_duration: ultrak8s_controllers::certificates::DEFAULT_MAX_DURATION,
    })
}

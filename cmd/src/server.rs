//! `ultrak8s server`: opens the store, serves the Kubernetes API over HTTPS and the store over
//! the etcd v3 API; stops cleanly on SIGINT or SIGTERM, flushing every journal before exit.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;
use ultrak8s_apiserver::auth::authn::read_token_file;
use ultrak8s_apiserver::auth::serviceaccount::ServiceAccountTokens;
use ultrak8s_apiserver::http::local::{CONTROLLER_MANAGER_USER, LocalService, SCHEDULER_USER};
use ultrak8s_apiserver::pki::{Pki, PkiOptions};
use ultrak8s_apiserver::server::{ApiConfig, ApiServer, Security};
use ultrak8s_apiserver::service_alloc::ServiceRanges;
use ultrak8s_store::facade::{self, FacadeConfig};
use ultrak8s_store::{Durability, EngineKind, PartitionSpec, Store, StoreConfig};

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Where the store's journals, snapshots and (later) certificates live.
    #[arg(long, env = "ULTRAK8S_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// When a write is acknowledged: after fsync (`fsync`), after the write reached the OS
    /// (`buffered`: survives a process crash, not a host crash), or at once (`none`: nothing
    /// is written to disk).
    #[arg(long, default_value = "fsync")]
    durability: Durability,
    /// The engine that holds each partition's versions: `memory` or `rocksdb`.
    #[arg(long, default_value = "memory")]
    engine: EngineKind,
    /// A partition as name=prefix[,prefix...]; repeat for several. Replaces the defaults
    /// (events, leases, pods, nodes); keys no prefix claims go to the `rest` partition.
    #[arg(long = "partition")]
    partitions: Vec<PartitionSpec>,
    /// Where the etcd v3 API is served. Beyond loopback it is TLS with the API server's
    /// certificate and requires client certificates of the cluster CA (etcd's
    /// `--client-cert-auth`); on loopback it is plain, as a local etcd's is.
    #[arg(long, default_value = "127.0.0.1:2379")]
    etcd_listen: SocketAddr,
    /// The largest request the store accepts, in bytes (etcd's --max-request-bytes).
    #[arg(long, default_value_t = ultrak8s_store::store::DEFAULT_MAX_REQUEST_BYTES)]
    max_request_bytes: usize,
    /// The address the Kubernetes API listens on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// The port of the Kubernetes API (HTTPS); 0 picks a free one (the admin kubeconfig names
    /// it).
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// The address other hosts reach this server at; default: the first non-loopback address
    /// of this host, else 127.0.0.1.
    #[arg(long)]
    advertise_address: Option<IpAddr>,
    /// More names or addresses for the serving certificate; repeat for several.
    #[arg(long = "tls-san")]
    tls_sans: Vec<String>,
    /// Whether requests without credentials are served as `system:anonymous` (RBAC lets
    /// them read only /version and the health endpoints).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    anonymous_auth: bool,
    /// A CSV file of static bearer tokens: `token,user,uid[,"group1,group2"]`.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// The `iss` of ServiceAccount tokens; repeat to also accept tokens of earlier issuers.
    #[arg(long = "service-account-issuer")]
    service_account_issuers: Vec<String>,
    /// The audiences the API accepts in ServiceAccount tokens (default: the issuer).
    #[arg(long = "api-audiences", value_delimiter = ',')]
    api_audiences: Vec<String>,
    /// The controllers to run in this process (they reach the API in-process, each as its
    /// own ServiceAccount): `*` for all, names to add, `-name` to leave one out (upstream's
    /// syntax, e.g. `*,-podgc`); empty for none.
    #[arg(long, default_value = "*", value_parser = parse_controllers)]
    controllers: ultrak8s_controllers::Selection,
    /// Informers hand watch events to controllers in batches and workers take keys in
    /// batches; `false` does both one at a time, as client-go (for `bench controllers`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    controller_batching: bool,
    #[command(flatten)]
    ipam: crate::ipam::IpamFlags,
    /// Run the scheduler in this process (as `system:kube-scheduler`, in-process).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    scheduler: bool,
    #[command(flatten)]
    scheduler_flags: crate::scheduler::SchedulerFlags,
    /// The ClusterIP ranges of Services: one CIDR, or an IPv4 and an IPv6 one (comma-
    /// separated, primary first) for dual-stack. The `kubernetes` Service gets the first
    /// address of the primary range. Allocation state is kept in this process (rebuilt from
    /// the stored Services at start-up), so several servers must not share one store yet.
    #[arg(long, default_value = ultrak8s_apiserver::service_alloc::DEFAULT_SERVICE_CLUSTER_IP_RANGE)]
    service_cluster_ip_range: String,
    /// The ports NodePort and LoadBalancer Services get node ports from, `low-high`.
    #[arg(long, default_value = ultrak8s_apiserver::service_alloc::DEFAULT_SERVICE_NODE_PORT_RANGE)]
    service_node_port_range: String,
    /// Run the controllers only while this server holds the
    /// `kube-system/kube-controller-manager` Lease (several servers, one active set).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    // Checked before anything is opened: a bad flag changes nothing on disk.
    let service_ranges =
        ServiceRanges::parse(&args.service_cluster_ip_range, &args.service_node_port_range)
            .map_err(anyhow::Error::msg)?;
    let mut config = StoreConfig::new(&args.data_dir);
    config.durability = args.durability;
    config.engine = args.engine;
    config.max_request_bytes = args.max_request_bytes;
    if !args.partitions.is_empty() {
        config.partitions = args.partitions.clone();
    }
    let store = Store::open(config)
        .await
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let etcd_tls = !args.etcd_listen.ip().is_loopback();
    let listener = facade::bind(args.etcd_listen, etcd_tls).await?;
    let api_addr = SocketAddr::new(args.bind_address, args.secure_port);
    let api_listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .with_context(|| format!("listening on {api_addr}"))?;
    // Port 0 picks a free port; the kubeconfig and the `kubernetes` Service name the real one.
    let api_addr = api_listener.local_addr()?;
    let advertise = args
        .advertise_address
        .unwrap_or_else(default_advertise_address);
    let server_url = format!(
        "https://{}",
        SocketAddr::new(kubeconfig_host(&args), api_addr.port())
    );
    let mut pki_options = PkiOptions::new(server_url);
    pki_options.extra_sans = args.tls_sans.clone();
    pki_options.extra_sans.push(advertise.to_string());
    let pki = Pki::load_or_create(&args.data_dir, &pki_options).context("cluster PKI")?;
    let tls = Arc::new(pki.server_config().context("TLS configuration")?);
    let mut facade_config = FacadeConfig::default();
    if etcd_tls {
        let config = pki
            .etcd_server_config()
            .context("etcd API TLS configuration")?;
        facade_config.tls = Some(Arc::new(config));
    }
    let mut security = Security::default();
    security.authn.anonymous = args.anonymous_auth;
    if let Some(path) = &args.token_auth_file {
        security.authn.static_tokens = read_token_file(path).map_err(anyhow::Error::msg)?;
    }
    let mut tokens = ServiceAccountTokens::new(Arc::clone(pki.service_account_key()));
    if !args.service_account_issuers.is_empty() {
        tokens.issuers = args.service_account_issuers.clone();
        tokens.audiences = vec![tokens.issuer().to_owned()];
    }
    if !args.api_audiences.is_empty() {
        tokens.audiences = args.api_audiences.clone();
    }
    security.service_account_tokens = Some(tokens);
    let api = ApiServer::with_security(Arc::clone(&store), security);
    let api_config = ApiConfig {
        advertise_address: advertise,
        secure_port: api_addr.port(),
        service_ranges,
    };
    api.bootstrap(&api_config)
        .await
        .map_err(|e| anyhow::anyhow!("bootstrapping the API server: {e}"))?;
    tracing::info!(
        api = %api_addr,
        etcd = %args.etcd_listen,
        data_dir = %args.data_dir.display(),
        durability = %args.durability,
        kubeconfig = %pki.admin_kubeconfig_path().display(),
        "ultrak8s server is up"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.changed().await;
    };
    let serving = tokio::spawn(facade::serve(
        Arc::clone(&store),
        listener,
        facade_config,
        stopped(stop_rx.clone()),
    ));
    if args.controllers != ultrak8s_controllers::Selection::none() {
        let mut options = controller_options(&api, args.leader_elect);
        options.controllers = args.controllers.clone();
        options.batching = args.controller_batching;
        options.root_ca = Some(pki.ca_pem().to_owned());
        options.node_ipam = args.ipam.config()?;
        options.signing_ca = Some(signing_ca(&pki)?);
        let metrics = Arc::clone(&options.metrics);
        api.add_metrics_source(Arc::new(move || metrics.render()));
        let metrics = Arc::clone(&options.metrics);
        api.add_health_check("controllers", move || {
            metrics.progress(CONTROLLER_STUCK_AFTER)
        });
        let client = kube::Client::new(LocalService::new(&api, CONTROLLER_MANAGER_USER), "default");
        tokio::spawn(ultrak8s_controllers::run(
            client,
            options,
            stopped(stop_rx.clone()),
        ));
    }
    if args.scheduler {
        let options = args.scheduler_flags.options(args.leader_elect);
        let metrics = std::sync::Arc::clone(&options.metrics);
        api.add_metrics_source(std::sync::Arc::new(move || metrics.render()));
        let client = kube::Client::new(LocalService::new(&api, SCHEDULER_USER), "default");
        tokio::spawn(ultrak8s_scheduler::scheduler::run(client, options, stopped(stop_rx.clone())));
    }
    let api_serving = tokio::spawn(ultrak8s_apiserver::http::serve(
        api_listener,
        tls,
        api,
        stopped(stop_rx),
    ));
    shutdown_signal().await?;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    api_serving.await.context("API server task")?;
    serving.await.context("etcd API task")??;
    store.close().await.context("flushing the store")?;
    Ok(())
}

/// The cluster CA as the CSR signer's CA (kube-controller-manager's default
/// `--cluster-signing-duration` of one year).
fn signing_ca(pki: &Pki) -> anyhow::Result<ultrak8s_controllers::certificates::SigningCa> {
    let (cert, key) = pki.ca_files();
    crate::controllers::read_signing_ca(&cert, &key)
}

pub(crate) fn parse_controllers(spec: &str) -> Result<ultrak8s_controllers::Selection, String> {
    ultrak8s_controllers::Selection::parse(spec)
}

/// A controller whose oldest reconcile has run this long makes `/healthz` fail: it holds
/// the lease but makes no progress (reconciles take milliseconds to seconds).
const CONTROLLER_STUCK_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// The in-process controllers: each writes as its own ServiceAccount in kube-system.
pub(crate) fn controller_options(
    api: &Arc<ApiServer>,
    leader_election: bool,
) -> ultrak8s_controllers::Options {
    let api = Arc::clone(api);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    ultrak8s_controllers::Options {
        identity: format!("{}_{}", hostname.trim(), uuid::Uuid::new_v4()),
        leader_election,
        workers: 5,
        metrics: Arc::default(),
        node_monitor: ultrak8s_controllers::nodelifecycle::MonitorTimes::default(),
        hpa_sync_period: ultrak8s_controllers::podautoscaler::DEFAULT_SYNC_PERIOD,
        node_ipam: None,
        controllers: ultrak8s_controllers::Selection::all(),
        root_ca: None,
        signing_ca: None,
        batching: true,
        client_for: Arc::new(move |account| {
            kube::Client::new(
                LocalService::service_account(&api, "kube-system", account),
                "default",
            )
        }),
    }
}

/// The host the admin kubeconfig dials: loopback when the API listens everywhere or on
/// loopback, else the address it listens on.
fn kubeconfig_host(args: &ServerArgs) -> IpAddr {
    if args.bind_address.is_unspecified() || args.bind_address.is_loopback() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        args.bind_address
    }
}

/// The first non-loopback IPv4 address of this host (found by asking the kernel which source
/// address it would use for a route outwards; nothing is sent), else 127.0.0.1.
fn default_advertise_address() -> IpAddr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| socket.connect("10.255.255.255:1").map(|()| socket))
        .and_then(|socket| socket.local_addr());
    match probe {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip(),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

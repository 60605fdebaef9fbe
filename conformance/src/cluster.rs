//! The cluster harness: a whole API server (store, registry, HTTPS with the cluster PKI) in
//! this process on an ephemeral loopback port, with an admin kubeconfig for kubectl and a
//! kube-rs client. Tests and benchmarks start one per case.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use ultrak8s_apiserver::auth::authn::AuthnConfig;
use ultrak8s_apiserver::auth::serviceaccount::ServiceAccountTokens;
use ultrak8s_apiserver::http::local::{CONTROLLER_MANAGER_USER, LocalService, SCHEDULER_USER};
use ultrak8s_apiserver::pki::{Pki, PkiOptions};
use ultrak8s_apiserver::server::{ApiConfig, ApiServer, Security};
use ultrak8s_apiserver::service_alloc::ServiceRanges;
use ultrak8s_store::{Durability, Store, StoreConfig};

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Why a cluster did not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("store: {0}")]
    Store(#[from] ultrak8s_store::error::StoreError),
    #[error("PKI: {0}")]
    Pki(#[from] ultrak8s_apiserver::pki::PkiError),
    #[error("API server: {0}")]
    Api(#[from] ultrak8s_apiserver::error::ApiError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("client: {0}")]
    Client(String),
    #[error("controllers: {0}")]
    Controllers(String),
}

pub struct TestCluster {
    pub url: String,
    pub kubeconfig: PathBuf,
    pub store: Arc<Store>,
    pub api: Arc<ApiServer>,
    pub pki: Arc<Pki>,
    stop: watch::Sender<bool>,
    dir: tempfile::TempDir,
}

impl TestCluster {
    /// A cluster with a fresh data directory and buffered durability (tests need no fsync).
    pub async fn start() -> Result<TestCluster, ClusterError> {
        Self::start_with(AuthnConfig::default()).await
    }

    /// A cluster whose controllers run in-process (no leader election), each writing as its
    /// own ServiceAccount, as in `ultrak8s server`.
    pub async fn start_with_controllers() -> Result<TestCluster, ClusterError> {
        let cluster = Self::start().await?;
        // The namespace controllers run in every test cluster already.
        let rest = "*,-namespace,-serviceaccount,-root-ca-cert-publisher";
        let selection = ultrak8s_controllers::Selection::parse(rest).map_err(ClusterError::Controllers)?;
        cluster.spawn_controllers(selection, true);
        Ok(cluster)
    }

    /// A cluster running only the named controllers (a comma-separated list), besides the
    /// namespace ones every test cluster runs: for tests that play the other controllers'
    /// part themselves.
    pub async fn start_with_only(controllers: &str) -> Result<TestCluster, ClusterError> {
        let cluster = Self::start().await?;
        let selection = ultrak8s_controllers::Selection::parse(controllers)
            .map_err(ClusterError::Controllers)?;
        cluster.spawn_controllers(selection, true);
        Ok(cluster)
    }

    /// Runs the scheduler in-process (no leader election) as `system:kube-scheduler`, as
    /// `ultrak8s server` does; its metrics join the server's `/metrics`.
    pub fn spawn_scheduler(&self, percentage_of_nodes_to_score: Option<u32>) {
        let mut options = ultrak8s_scheduler::scheduler::Options::new("test");
        options.percentage_of_nodes_to_score = percentage_of_nodes_to_score;
        let metrics = Arc::clone(&options.metrics);
        self.api.add_metrics_source(Arc::new(move || metrics.render()));
        let client = kube::Client::new(LocalService::new(&self.api, SCHEDULER_USER), "default");
        let mut stopped = self.stop.subscribe();
        tokio::spawn(ultrak8s_scheduler::scheduler::run(client, options, async move {
            let _ = stopped.changed().await;
        }));
    }

    /// A cluster running node IPAM with `config` (besides the namespace controllers).
    pub async fn start_with_node_ipam(
        config: ultrak8s_netalloc::prefix::PrefixConfig,
    ) -> Result<TestCluster, ClusterError> {
        let cluster = Self::start().await?;
        let selection = ultrak8s_controllers::Selection::parse("nodeipam")
            .map_err(ClusterError::Controllers)?;
        cluster.spawn_controllers_with(selection, true, Some(config));
        Ok(cluster)
    }

    /// A cluster running the named controllers (a comma-separated list) with node IPAM
    /// configured by `config` (name `nodeipam` in the list to run it).
    pub async fn start_with_only_and_ipam(
        controllers: &str,
        config: ultrak8s_netalloc::prefix::PrefixConfig,
    ) -> Result<TestCluster, ClusterError> {
        let cluster = Self::start().await?;
        let selection = ultrak8s_controllers::Selection::parse(controllers)
            .map_err(ClusterError::Controllers)?;
        cluster.spawn_controllers_with(selection, true, Some(config));
        Ok(cluster)
    }

    /// Runs `selection` in-process; `metrics`: whether the server's `/metrics` shows theirs.
    fn spawn_controllers(&self, controllers: ultrak8s_controllers::Selection, metrics: bool) {
        self.spawn_controllers_with(controllers, metrics, None);
    }

    fn spawn_controllers_with(
        &self,
        controllers: ultrak8s_controllers::Selection,
        metrics: bool,
        node_ipam: Option<ultrak8s_netalloc::prefix::PrefixConfig>,
    ) {
        let api = Arc::clone(&self.api);
        let options = ultrak8s_controllers::Options {
            identity: "test".to_owned(),
            leader_election: false,
            workers: 2,
            metrics: Arc::default(),
            // Short, so that tests see silent nodes within seconds.
            node_monitor: ultrak8s_controllers::nodelifecycle::MonitorTimes {
                period: std::time::Duration::from_millis(300),
                grace: std::time::Duration::from_secs(2),
            },
            // Short, so that tests see HPAs act within seconds.
            hpa_sync_period: std::time::Duration::from_secs(1),
            node_ipam,
            controllers,
            root_ca: Some(self.pki.ca_pem().to_owned()),
            signing_ca: signing_ca(&self.pki),
            batching: true,
            client_for: Arc::new(move |account| {
                kube::Client::new(
                    LocalService::service_account(&api, "kube-system", account),
                    "default",
                )
            }),
        };
        if metrics {
            let metrics = Arc::clone(&options.metrics);
            self.api
                .add_metrics_source(Arc::new(move || metrics.render()));
        }
        let client = kube::Client::new(
            LocalService::new(&self.api, CONTROLLER_MANAGER_USER),
            "default",
        );
        let mut stopped = self.stop.subscribe();
        tokio::spawn(ultrak8s_controllers::run(client, options, async move {
            let _ = stopped.changed().await;
        }));
    }

    /// A cluster that authenticates as `authn` says (static tokens, anonymous requests),
    /// besides client certificates and ServiceAccount tokens.
    pub async fn start_with(authn: AuthnConfig) -> Result<TestCluster, ClusterError> {
        let dir = tempfile::tempdir()?;
        let mut config = StoreConfig::new(dir.path().join("store"));
        config.durability = Durability::Buffered;
        let store = Store::open(config).await?;
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
                .await?;
        let port = listener.local_addr()?.port();
        let url = format!("https://127.0.0.1:{port}");
        let pki = Pki::load_or_create(dir.path(), &PkiOptions::new(url.clone()))?;
        let tls = Arc::new(pki.server_config()?);
        let security = Security {
            authn,
            service_account_tokens: Some(ServiceAccountTokens::new(Arc::clone(
                pki.service_account_key(),
            ))),
        };
        let api = ApiServer::with_security(Arc::clone(&store), security);
        api.bootstrap(&ApiConfig {
            advertise_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            secure_port: port,
            // The binary's defaults: 10.96.0.0/12 and 30000-32767.
            service_ranges: ServiceRanges::default(),
        })
        .await?;
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(ultrak8s_apiserver::http::serve(
            listener,
            tls,
            Arc::clone(&api),
            async move {
                let _ = stopped.changed().await;
            },
        ));
        let cluster = TestCluster {
            url,
            kubeconfig: pki.admin_kubeconfig_path(),
            pki: Arc::new(pki),
            store,
            api,
            stop,
            dir,
        };
        // What every cluster has: namespaces terminate, and each holds its `default`
        // ServiceAccount and `kube-root-ca.crt`.
        let basics = "namespace,serviceaccount,root-ca-cert-publisher";
        let selection = ultrak8s_controllers::Selection::parse(basics).map_err(ClusterError::Controllers)?;
        cluster.spawn_controllers(selection, false);
        Ok(cluster)
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A kube-rs client with the admin identity.
    pub async fn client(&self) -> Result<kube::Client, ClusterError> {
        let config = self.config().await?;
        kube::Client::try_from(config).map_err(|e| ClusterError::Client(e.to_string()))
    }

    /// A kube-rs client that authenticates with a bearer token.
    pub async fn client_with_token(&self, token: &str) -> Result<kube::Client, ClusterError> {
        let mut config = self.config().await?;
        config.auth_info = kube::config::AuthInfo {
            token: Some(token.to_owned().into()),
            ..Default::default()
        };
        kube::Client::try_from(config).map_err(|e| ClusterError::Client(e.to_string()))
    }

    /// A kube-rs client with a client certificate for `user` in `groups`.
    pub async fn client_as(
        &self,
        user: &str,
        groups: &[&str],
    ) -> Result<kube::Client, ClusterError> {
        let (cert, key) = self.pki.issue_client_cert(user, groups)?;
        self.client_with_cert(&cert, &key).await
    }

    /// A kube-rs client that authenticates with a client certificate and its key (PEM).
    pub async fn client_with_cert(&self, cert: &str, key: &str) -> Result<kube::Client, ClusterError> {
        let mut config = self.config().await?;
        config.auth_info = kube::config::AuthInfo {
            client_certificate_data: Some(base64_encode(cert)),
            client_key_data: Some(base64_encode(key).into()),
            ..Default::default()
        };
        kube::Client::try_from(config).map_err(|e| ClusterError::Client(e.to_string()))
    }

    /// A kube-rs client that sends no credentials.
    pub async fn anonymous_client(&self) -> Result<kube::Client, ClusterError> {
        let mut config = self.config().await?;
        config.auth_info = kube::config::AuthInfo::default();
        kube::Client::try_from(config).map_err(|e| ClusterError::Client(e.to_string()))
    }

    async fn config(&self) -> Result<kube::Config, ClusterError> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .map_err(|e| ClusterError::Client(e.to_string()))?;
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| ClusterError::Client(e.to_string()))?;
        // Tests read the server's answer: kube-rs would otherwise retry a 429 (an eviction a
        // budget refuses) for minutes, where kubectl and client-go return it.
        config.default_retry = false;
        Ok(config)
    }

    /// Runs kubectl with the admin kubeconfig.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> KubectlOutput {
        self.kubectl_env(args, stdin, &[]).await
    }

    pub async fn kubectl_env(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> KubectlOutput {
        use tokio::io::AsyncWriteExt;
        let mut command = tokio::process::Command::new("kubectl");
        command
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .args(args)
            .env("HOME", self.dir.path())
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                return KubectlOutput {
                    ok: false,
                    stdout: String::new(),
                    stderr: format!("kubectl did not start: {e}"),
                };
            }
        };
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(input) = stdin {
                let _ = pipe.write_all(input.as_bytes()).await;
            }
            drop(pipe);
        }
        match child.wait_with_output().await {
            Ok(out) => KubectlOutput {
                ok: out.status.success(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            },
            Err(e) => KubectlOutput {
                ok: false,
                stdout: String::new(),
                stderr: e.to_string(),
            },
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// What kubectl printed and whether it succeeded.
#[derive(Debug)]
pub struct KubectlOutput {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl KubectlOutput {
    /// Panics with both streams unless kubectl succeeded; returns stdout (for tests).
    pub fn expect_ok(self, what: &str) -> String {
        assert!(
            self.ok,
            "{what} failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stdout
    }
}

/// The cluster CA as the CSR signer's CA (as `ultrak8s server` uses it).
fn signing_ca(pki: &Pki) -> Option<ultrak8s_controllers::certificates::SigningCa> {
    let (cert, key) = pki.ca_files();
    Some(ultrak8s_controllers::certificates::SigningCa {
        cert_pem: std::fs::read_to_string(cert).ok()?,
        key_pem: std::fs::read_to_string(key).ok()?,
        max_duration: ultrak8s_controllers::certificates::DEFAULT_MAX_DURATION,
    })
}

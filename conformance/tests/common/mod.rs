#![allow(dead_code)]

//! An in-process store serving the etcd v3 API on an ephemeral loopback port.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use ultrak8s_store::facade::{self, FacadeConfig};
use ultrak8s_store::{Durability, Store, StoreConfig};

pub struct EtcdServer {
    pub endpoint: String,
    pub store: Arc<Store>,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl EtcdServer {
    pub async fn start() -> EtcdServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = StoreConfig::new(dir.path());
        config.durability = Durability::Buffered;
        let store = Store::open(config).await.expect("open store");
        let listener = facade::bind("127.0.0.1:0".parse().expect("addr"), false)
            .await
            .expect("bind loopback");
        let endpoint = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let (stop, stopped) = oneshot::channel::<()>();
        let config = FacadeConfig {
            progress_notify_interval: Duration::from_millis(300),
            ..FacadeConfig::default()
        };
        tokio::spawn(facade::serve(
            Arc::clone(&store),
            listener,
            config,
            async move {
                let _ = stopped.await;
            },
        ));
        EtcdServer {
            endpoint,
            store,
            stop: Some(stop),
            _dir: dir,
        }
    }

    pub async fn client(&self) -> etcd_client::Client {
        etcd_client::Client::connect([self.endpoint.as_str()], None)
            .await
            .expect("connect")
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What etcdctl printed and whether it succeeded.
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs Debian's etcdctl (v3 API) against `endpoint`, feeding `stdin`.
pub async fn etcdctl(endpoint: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .arg("--dial-timeout=5s")
        .arg("--command-timeout=10s")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("etcdctl is installed (scripts/deps installs Debian's etcd-client)");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("etcdctl finished in time")
        .expect("etcdctl ran");
    Output {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

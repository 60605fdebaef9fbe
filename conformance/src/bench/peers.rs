//! The servers under test, each a child process with its own temporary directory (data and
//! log) on free loopback ports. Dropping a [`Peer`] kills its process, reaps it and removes
//! the directory, so a benchmark that fails or is interrupted (its future dropped on Ctrl-C)
//! leaves nothing running and nothing on disk.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions};
use tempfile::TempDir;

use super::BenchError;

/// The key a readiness probe reads; it need not exist, the answer is what counts.
const PROBE_KEY: &str = "/registry/configmaps/bench-probe";
/// How much of a peer's log an error quotes.
const LOG_TAIL_BYTES: usize = 4096;

pub struct Peer {
    name: &'static str,
    endpoint: String,
    child: Child,
    log_path: PathBuf,
    /// Removed when the peer is dropped, after `Drop::drop` has reaped the process.
    _dir: TempDir,
}

impl Peer {
    /// Starts etcd with its default durability (an fsync per raft batch), as a one-member
    /// cluster on loopback.
    pub fn start_etcd(
        binary: &Path,
        work_dir: &Path,
        quota_bytes: u64,
    ) -> Result<Peer, BenchError> {
        let dir = temp_dir(work_dir, "etcd")?;
        let [client, peer] = free_ports()?;
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut command = Command::new(binary);
        command
            .arg("--name=bench")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=bench={peer_url}"))
            .arg("--initial-cluster-state=new")
            .arg(format!("--quota-backend-bytes={quota_bytes}"));
        // etcd 3.4 refuses to start when an ETCD_* variable shadows one of the flags above.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCD_") {
                command.env_remove(name);
            }
        }
        Peer::spawn("etcd", command, binary, dir, client_url)
    }

    /// Starts `ultrak8s server` (the binary at `binary`) with `--durability fsync`.
    pub fn start_ultrak8s(binary: &Path, work_dir: &Path) -> Result<Peer, BenchError> {
        Self::start_ultrak8s_with(binary, work_dir, &[])
    }

    /// [`Peer::start_ultrak8s`] with more server flags.
    pub fn start_ultrak8s_with(
        binary: &Path,
        work_dir: &Path,
        extra: &[&str],
    ) -> Result<Peer, BenchError> {
        let dir = temp_dir(work_dir, "ultrak8s")?;
        let [client, api] = free_ports()?;
        let mut command = Command::new(binary);
        command
            .arg("server")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--etcd-listen")
            .arg(format!("127.0.0.1:{client}"))
            .arg("--durability")
            .arg("fsync")
            .arg("--bind-address")
            .arg("127.0.0.1")
            .arg("--secure-port")
            .arg(api.to_string())
            .args(extra);
        Peer::spawn(
            "ultrak8s",
            command,
            binary,
            dir,
            format!("http://127.0.0.1:{client}"),
        )
    }

    /// Starts `ultrak8s scheduler` (the binary at `binary`) against the API server of
    /// `kubeconfig`, without leader election, with more flags.
    pub fn start_ultrak8s_scheduler(
        binary: &Path,
        work_dir: &Path,
        kubeconfig: &Path,
        extra: &[&str],
    ) -> Result<Peer, BenchError> {
        let dir = temp_dir(work_dir, "ultrak8s-scheduler")?;
        let mut command = Command::new(binary);
        command
            .arg("scheduler")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--leader-elect=false")
            .args(extra);
        Peer::spawn("ultrak8s scheduler", command, binary, dir, String::new())
    }

    fn spawn(
        name: &'static str,
        mut command: Command,
        binary: &Path,
        dir: TempDir,
        endpoint: String,
    ) -> Result<Peer, BenchError> {
        let log_path = dir.path().join("log");
        let log = File::create(&log_path).map_err(BenchError::io("creating a peer's log"))?;
        let log_err = log
            .try_clone()
            .map_err(BenchError::io("creating a peer's log"))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| BenchError::Spawn {
                program: binary.to_path_buf(),
                source,
            })?;
        Ok(Peer {
            name,
            endpoint,
            child,
            log_path,
            _dir: dir,
        })
    }

    /// Waits until the peer answers a range request (for etcd: it has elected itself leader).
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), BenchError> {
        let started = Instant::now();
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_millis(500))
            .with_timeout(Duration::from_secs(1));
        loop {
            self.check_running()?;
            if let Ok(mut client) = Client::connect([&self.endpoint], Some(options.clone())).await
                && client.get(PROBE_KEY, None).await.is_ok()
            {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(BenchError::NotReady {
                    peer: self.name,
                    waited: timeout,
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The directory the peer keeps its data under (for ultrak8s: `data/admin.kubeconfig`).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The client URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fails with the log's tail if the process has exited.
    pub fn check_running(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(BenchError::Exited {
                peer: self.name,
                status,
                log_tail: self.log_tail(),
            }),
            Err(source) => Err(BenchError::Io {
                context: format!("waiting for {}", self.name),
                source,
            }),
        }
    }

    /// Resident memory of the process (`VmRSS` in `/proc/<pid>/status`), in bytes.
    pub fn rss_bytes(&mut self) -> Result<u64, BenchError> {
        self.check_running()?;
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).map_err(BenchError::io(path))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| BenchError::Workload {
                peer: self.name,
                what: "no VmRSS line in /proc/<pid>/status".into(),
            })
    }

    /// CPU time the process has used (user + system, all its threads, live or exited).
    pub fn cpu_seconds(&mut self) -> Result<f64, BenchError> {
        self.check_running()?;
        cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read(&self.log_path).unwrap_or_default();
        let tail = &log[log.len().saturating_sub(LOG_TAIL_BYTES)..];
        String::from_utf8_lossy(tail).into_owned()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SIGKILL, not SIGTERM: the data is thrown away, and a process that ignores or is slow
        // to handle SIGTERM must not keep the benchmark (or its Ctrl-C) waiting.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time this process (the benchmark's clients) has used.
pub fn own_cpu_seconds() -> Result<f64, BenchError> {
    cpu_seconds("/proc/self/stat")
}

/// `utime + stime` of a `/proc/<pid>/stat` file, in seconds. They count in clock ticks of
/// `USER_HZ`, which Linux fixes at 100 for user space on every architecture (proc(5)).
fn cpu_seconds(path: &str) -> Result<f64, BenchError> {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string(path).map_err(BenchError::io(path))?;
    // The command name (field 2) may hold spaces; the fields after it do not. utime and stime
    // are fields 14 and 15, the 12th and 13th after the name.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after_name.split_whitespace().skip(11);
    let mut tick = || fields.next().and_then(|field| field.parse::<u64>().ok());
    match (tick(), tick()) {
        (Some(user), Some(system)) => Ok((user + system) as f64 / USER_HZ),
        _ => Err(BenchError::Io {
            context: format!("reading {path}"),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no utime/stime"),
        }),
    }
}

/// The version line of `etcd --version` ("3.4.23").
pub fn etcd_version(binary: &Path) -> Result<String, BenchError> {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|source| BenchError::Spawn {
            program: binary.to_path_buf(),
            source,
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix("etcd Version:"))
        .map_or_else(
            || text.trim().to_owned(),
            |version| version.trim().to_owned(),
        ))
}

fn temp_dir(work_dir: &Path, name: &str) -> Result<TempDir, BenchError> {
    tempfile::Builder::new()
        .prefix(&format!("ultrak8s-bench-{name}-"))
        .tempdir_in(work_dir)
        .map_err(BenchError::io(format!(
            "creating a directory in {}",
            work_dir.display()
        )))
}

/// `N` distinct free loopback ports. They are free when this returns; a process that takes one
/// before the peer binds it makes the peer fail to start, with its log in the error.
fn free_ports<const N: usize>() -> Result<[u16; N], BenchError> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(BenchError::io("finding a free port"))?;
        *port = listener
            .local_addr()
            .map_err(BenchError::io("finding a free port"))?
            .port();
        listeners.push(listener);
    }
    Ok(ports)
}

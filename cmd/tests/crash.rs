//! `kill -9` under write load: every write the server acknowledged is there after a restart,
//! and a torn journal tail is cut rather than replayed. Runs the real binary as a process.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Server {
    child: Child,
    endpoint: String,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Server {
    async fn start(data_dir: &std::path::Path, durability: &str) -> Server {
        let port = free_port();
        let endpoint = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
            .args([
                "server",
                "--durability",
                durability,
                "--secure-port",
                "0",
                "--bind-address",
                "127.0.0.1",
                "--etcd-listen",
                &endpoint,
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ultrak8s server");
        let server = Server { child, endpoint };
        for _ in 0..200 {
            if let Ok(mut client) = server.client().await
                && client.status().await.is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not come up on {}", server.endpoint);
    }

    async fn client(&self) -> Result<etcd_client::Client, etcd_client::Error> {
        let options = etcd_client::ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(5));
        etcd_client::Client::connect([self.endpoint.as_str()], Some(options)).await
    }

    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes from `writers` concurrent clients until the server dies; returns what was
/// acknowledged.
async fn write_until_killed(
    server: &mut Server,
    round: usize,
    writers: usize,
    kill_after: Duration,
) -> BTreeMap<String, String> {
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let mut client = server.client().await.expect("connect");
        let acked = Arc::clone(&acked);
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let key = format!("/registry/configmaps/crash/r{round}-w{writer}-{i:06}");
                let value = format!("value-{round}-{writer}-{i}-{}", "x".repeat(200));
                match client.put(key.clone(), value.clone(), None).await {
                    Ok(_) => {
                        acked.lock().expect("lock").insert(key, value);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(kill_after).await;
    server.kill9();
    for task in tasks {
        task.await.expect("writer task");
    }
    Arc::try_unwrap(acked)
        .expect("writers done")
        .into_inner()
        .expect("lock")
}

async fn check_all_present(server: &Server, acked: &BTreeMap<String, String>) {
    let mut client = server.client().await.expect("connect");
    let mut stored: BTreeMap<String, String> = BTreeMap::new();
    // Page through the keys: all of them in one response would exceed the client's 4 MiB
    // message limit.
    let mut start = "/registry/configmaps/crash/".to_owned();
    loop {
        let options = etcd_client::GetOptions::new()
            .with_range("/registry/configmaps/crash0")
            .with_limit(1000);
        let page = client
            .get(start.as_str(), Some(options))
            .await
            .expect("get");
        for kv in page.kvs() {
            let key = kv.key_str().expect("utf8").to_owned();
            stored.insert(key, kv.value_str().expect("utf8").to_owned());
        }
        match (page.more(), page.kvs().last()) {
            (true, Some(last)) => start = format!("{}\0", last.key_str().expect("utf8")),
            _ => break,
        }
    }
    let missing: Vec<&String> = acked
        .keys()
        .filter(|k| stored.get(*k) != acked.get(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
}

fn last_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let journal = dir.join("journal").join("rest");
    let mut segments: Vec<_> = std::fs::read_dir(&journal)
        .expect("journal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    segments.pop().expect("a segment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_torn_tails() {
    for durability in ["fsync", "buffered"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut acked = BTreeMap::new();
        for (round, kill_ms) in [(0usize, 700u64), (1, 1100), (2, 450)] {
            let mut server = Server::start(dir.path(), durability).await;
            check_all_present(&server, &acked).await;
            let written =
                write_until_killed(&mut server, round, 16, Duration::from_millis(kill_ms)).await;
            assert!(
                !written.is_empty(),
                "{durability} round {round}: some writes were acknowledged"
            );
            acked.extend(written);
            // A torn write: half a record's worth of garbage at the end of the journal.
            let segment = last_segment(dir.path());
            let mut bytes = std::fs::read(&segment).expect("read segment");
            bytes.extend_from_slice(&[0x5a; 37]);
            std::fs::write(&segment, bytes).expect("tear the tail");
        }
        let server = Server::start(dir.path(), durability).await;
        check_all_present(&server, &acked).await;
        eprintln!(
            "{durability}: {} acknowledged writes survived 3 kill -9s",
            acked.len()
        );
    }
}

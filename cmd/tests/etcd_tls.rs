//! The etcd API beyond loopback: TLS with the server's certificate, and only clients with a
//! certificate of the cluster CA get in (etcd's `--client-cert-auth`). Driven by Debian's
//! etcdctl against the real binary.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn etcdctl(endpoint: &str, pki: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new("etcdctl");
    command
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .arg("--dial-timeout=2s")
        .arg("--command-timeout=3s");
    if let Some(pki) = pki {
        command
            .arg(format!("--cacert={}", pki.join("ca.crt").display()))
            .arg(format!("--cert={}", pki.join("admin.crt").display()))
            .arg(format!("--key={}", pki.join("admin.key").display()));
    }
    command
        .args(args)
        .output()
        .expect("etcdctl (Debian's etcd-client) runs")
}

#[test]
fn beyond_loopback_the_etcd_api_wants_a_client_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
        .args([
            "server",
            "--secure-port",
            "0",
            "--bind-address",
            "127.0.0.1",
        ])
        .arg("--etcd-listen")
        .arg(format!("0.0.0.0:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ultrak8s server");
    let _server = Server(child);
    let endpoint = format!("https://127.0.0.1:{port}");
    let pki = dir.path().join("pki");
    let mut up = false;
    for _ in 0..200 {
        if pki.join("admin.key").exists()
            && etcdctl(&endpoint, Some(&pki), &["endpoint", "health"])
                .status
                .success()
        {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "the etcd API never answered over TLS");

    let put = etcdctl(&endpoint, Some(&pki), &["put", "/greeting", "hello"]);
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let get = etcdctl(
        &endpoint,
        Some(&pki),
        &["get", "/greeting", "--print-value-only"],
    );
    assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "hello");

    // Trusting the server but presenting no certificate: refused.
    let anonymous = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .arg(format!("--cacert={}", pki.join("ca.crt").display()))
        .args([
            "--dial-timeout=2s",
            "--command-timeout=3s",
            "get",
            "/greeting",
        ])
        .output()
        .expect("etcdctl");
    assert!(!anonymous.status.success());
    // Plain gRPC to a TLS port: refused.
    let plain = etcdctl(
        &format!("http://127.0.0.1:{port}"),
        None,
        &["get", "/greeting"],
    );
    assert!(!plain.status.success());
}

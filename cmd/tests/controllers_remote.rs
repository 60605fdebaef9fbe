//! `ultrak8s controllers` against a server that runs none: they take the leader Lease and do
//! their work over HTTPS with a kubeconfig, as they would against a stock kube-apiserver.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], dir: &Path) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ultrak8s");
    Process(child)
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("kubectl output")
}

const REPLICA_SET: &str = r#"{"apiVersion": "apps/v1", "kind": "ReplicaSet",
  "metadata": {"name": "web"},
  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
           "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}"#;

#[test]
fn remote_controllers_lead_and_reconcile_over_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    let etcd = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let etcd_port = etcd.local_addr().expect("addr").port();
    drop(etcd);
    let _server = spawn(
        &[
            "server",
            "--data-dir",
            "data",
            "--secure-port",
            "0",
            "--bind-address",
            "127.0.0.1",
            "--etcd-listen",
            &format!("127.0.0.1:{etcd_port}"),
            "--controllers=",
        ],
        dir.path(),
    );
    let kubeconfig = dir.path().join("data/admin.kubeconfig");
    let mut up = false;
    for _ in 0..200 {
        if kubeconfig.exists()
            && kubectl(&kubeconfig, &["get", "--raw", "/readyz"], None)
                .status
                .success()
        {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "the server never answered");
    let created = kubectl(&kubeconfig, &["apply", "-f", "-"], Some(REPLICA_SET));
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let pods = || {
        let out = kubectl(
            &kubeconfig,
            &["get", "pods", "-l", "app=web", "-o", "name"],
            None,
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pods(), 0, "no controller runs in the server");

    let _controllers = spawn(
        &["controllers", "--kubeconfig", "data/admin.kubeconfig"],
        dir.path(),
    );
    let mut reconciled = false;
    for _ in 0..300 {
        if pods() == 2 {
            reconciled = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(reconciled, "the remote controllers never made the pods");
    let lease = kubectl(
        &kubeconfig,
        &[
            "-n",
            "kube-system",
            "get",
            "lease",
            "kube-controller-manager",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
        None,
    );
    assert!(
        !String::from_utf8_lossy(&lease.stdout).trim().is_empty(),
        "a holder leads"
    );
}

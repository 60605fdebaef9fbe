//! `ultrak8s scheduler` against a server that runs none: it takes the `kube-scheduler` Lease
//! and binds pods over HTTPS with a kubeconfig, as it would against a stock kube-apiserver.

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

const NODE: &str = r#"{"apiVersion": "v1", "kind": "Node",
  "metadata": {"name": "gpu-1", "labels": {"kubernetes.io/hostname": "gpu-1"}},
  "status": {"allocatable": {"cpu": "96", "memory": "1Ti", "pods": "110", "nvidia.com/gpu": "8"},
             "capacity": {"cpu": "96", "memory": "1Ti", "pods": "110", "nvidia.com/gpu": "8"}}}"#;

const POD: &str = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "train"},
  "spec": {"containers": [{"name": "c", "image": "trainer",
    "resources": {"requests": {"nvidia.com/gpu": "2"}, "limits": {"nvidia.com/gpu": "2"}}}]}}"#;

#[test]
fn remote_scheduler_leads_and_binds_over_https() {
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
            "--scheduler=false",
            "--controllers=namespace,serviceaccount,root-ca-cert-publisher",
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
    for object in [NODE, POD] {
        let mut created = kubectl(&kubeconfig, &["create", "-f", "-"], Some(object));
        // The ServiceAccount controller may not have made `default` yet: retry a little.
        for _ in 0..50 {
            if created.status.success() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            created = kubectl(&kubeconfig, &["create", "-f", "-"], Some(object));
        }
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
    }
    let node_of_pod = || {
        let out = kubectl(
            &kubeconfig,
            &["get", "pod", "train", "-o", "jsonpath={.spec.nodeName}"],
            None,
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(node_of_pod(), "", "no scheduler runs in the server");

    let _scheduler = spawn(
        &["scheduler", "--kubeconfig", "data/admin.kubeconfig"],
        dir.path(),
    );
    let mut bound = false;
    for _ in 0..300 {
        if node_of_pod() == "gpu-1" {
            bound = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(bound, "the remote scheduler never bound the pod");
    let lease = kubectl(
        &kubeconfig,
        &[
            "-n",
            "kube-system",
            "get",
            "lease",
            "kube-scheduler",
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

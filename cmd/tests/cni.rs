//! `ultrak8s-cni` as a real runtime meets it: Debian's `bridge` plugin
//! (`containernetworking-plugins`, installed by `scripts/deps`) finds it by name on `CNI_PATH`
//! and delegates IPAM to it. Two network namespaces get distinct addresses out of one /28 and
//! reach each other across the bridge. Needs root and `ip`; skips with a message otherwise.
//!
//! Also, without root: 20 plugin processes started at once on one state file.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BRIDGE_PLUGIN: &str = "/usr/lib/cni/bridge";

/// A temporary CNI bin directory holding the binary under its plugin name.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_ultrak8s"),
        dir.path().join("ultrak8s-cni"),
    )
    .expect("symlink the plugin");
    dir
}

/// Runs a CNI plugin binary with `env` and `stdin`.
fn cni(plugin: &Path, env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut child = Command::new(plugin)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", plugin.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("plugin output")
}

fn sh(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn why_not_root_network() -> Option<String> {
    let uid = sh("id", &["-u"]);
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("`ip` (iproute2) is not installed".into());
    }
    if !Path::new(BRIDGE_PLUGIN).exists() {
        return Some(format!(
            "{BRIDGE_PLUGIN} is missing (scripts/deps installs containernetworking-plugins)"
        ));
    }
    if Command::new("ping").arg("-V").output().is_err() {
        return Some("`ping` is not installed (iputils-ping)".into());
    }
    None
}

/// Namespaces and the bridge of one test; DEL, delete and remove them even on failure.
struct Network {
    name: String,
    bridge: String,
    namespaces: Vec<String>,
    path: String,
    conf: Vec<u8>,
    _bin: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Network {
    fn env<'a>(&'a self, verb: &'a str, ns: &'a str, netns: &'a str) -> [(&'a str, &'a str); 5] {
        [
            ("CNI_COMMAND", verb),
            ("CNI_CONTAINERID", ns),
            ("CNI_NETNS", netns),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", &self.path),
        ]
    }

    fn call(&self, verb: &str, ns: &str, conf: &[u8]) -> Output {
        let netns = format!("/var/run/netns/{ns}");
        cni(Path::new(BRIDGE_PLUGIN), &self.env(verb, ns, &netns), conf)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = self.call("DEL", ns, &self.conf);
            let _ = sh("ip", &["netns", "del", ns]);
        }
        let _ = sh("ip", &["link", "del", &self.bridge]);
    }
}

#[test]
fn bridge_plugin_gets_pod_addresses_from_ultrak8s_cni() {
    if let Some(why) = why_not_root_network() {
        eprintln!("SKIPPED bridge_plugin_gets_pod_addresses_from_ultrak8s_cni: {why}");
        return;
    }
    let id = std::process::id() % 100_000;
    let bin = plugin_dir();
    let data = tempfile::tempdir().expect("tempdir");
    let name = format!("u8cni-e2e-{id}");
    let bridge = format!("u8cni{id}");
    let conf = serde_json::to_vec(&serde_json::json!({
        "cniVersion": "1.0.0", "name": name, "type": "bridge", "bridge": bridge,
        "isGateway": true,
        "ipam": {"type": "ultrak8s-cni", "prefixes": ["10.77.0.16/28"],
                 "dataDir": data.path().display().to_string()}
    }))
    .expect("json");
    let mut net = Network {
        name,
        bridge,
        namespaces: Vec::new(),
        path: format!("{}:/usr/lib/cni", bin.path().display()),
        conf,
        _bin: bin,
        data,
    };
    let mut addresses = Vec::new();
    let mut results = Vec::new();
    for side in ["a", "b"] {
        let ns = format!("u8cni-{side}-{id}");
        let out = sh("ip", &["netns", "add", &ns]);
        assert!(
            out.status.success(),
            "ip netns add {ns}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        net.namespaces.push(ns.clone());
        let out = net.call("ADD", &ns, &net.conf);
        assert!(
            out.status.success(),
            "bridge ADD for {ns}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("result JSON");
        let address = result["ips"][0]["address"]
            .as_str()
            .expect("an address")
            .to_owned();
        assert_eq!(result["ips"][0]["gateway"], "10.77.0.17", "{result}");
        let (ip, len) = address.split_once('/').expect("address/len");
        let ip: IpAddr = ip.parse().expect("ip");
        let last: u8 = match ip {
            IpAddr::V4(v4) => v4.octets()[3],
            IpAddr::V6(_) => panic!("an IPv4 address, got {ip}"),
        };
        assert_eq!(len, "28");
        assert!(
            (18..31).contains(&last),
            "{ip} is a host address of 10.77.0.16/28 but not the gateway"
        );
        addresses.push(ip);
        results.push(result);
    }
    assert_ne!(addresses[0], addresses[1], "two pods, two addresses");

    let (a, b) = (&net.namespaces[0], &net.namespaces[1]);
    let ping = sh(
        "ip",
        &[
            "netns",
            "exec",
            a,
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            &addresses[1].to_string(),
        ],
    );
    assert!(
        ping.status.success(),
        "{a} pings {}: {}{}",
        addresses[1],
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr)
    );

    // CHECK through the bridge plugin, which asks the IPAM plugin with the ADD's result.
    let mut check: serde_json::Value = serde_json::from_slice(&net.conf).expect("json");
    check["prevResult"] = results[1].clone();
    let out = net.call("CHECK", b, &serde_json::to_vec(&check).expect("json"));
    assert!(
        out.status.success(),
        "CHECK: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    for ns in [a, b] {
        let out = net.call("DEL", ns, &net.conf);
        assert!(
            out.status.success(),
            "DEL {ns}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let state: PathBuf = net.data.path().join(&net.name).join("addresses-ipv4.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state).expect("state file")).expect("json");
    assert_eq!(state["containers"], serde_json::json!({}), "DEL freed both");
}

#[test]
fn twenty_plugin_processes_at_once_get_twenty_addresses() {
    let bin = plugin_dir();
    let plugin = bin.path().join("ultrak8s-cni");
    let data = tempfile::tempdir().expect("tempdir");
    let conf = serde_json::to_vec(&serde_json::json!({
        "cniVersion": "0.4.0", "name": "par", "type": "bridge",
        "ipam": {"type": "ultrak8s-cni", "prefixes": ["10.78.0.0/27"],
                 "dataDir": data.path().display().to_string()}
    }))
    .expect("json");
    let addresses: Vec<IpAddr> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|n| {
                let (plugin, conf) = (&plugin, &conf);
                scope.spawn(move || {
                    let id = format!("pod{n}");
                    let env = [
                        ("CNI_COMMAND", "ADD"),
                        ("CNI_CONTAINERID", id.as_str()),
                        ("CNI_NETNS", "/var/run/netns/none"),
                        ("CNI_IFNAME", "eth0"),
                        ("CNI_PATH", "/usr/lib/cni"),
                    ];
                    let out = cni(plugin, &env, conf);
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stdout)
                    );
                    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
                    assert_eq!(
                        r["ips"][0]["version"], "4",
                        "0.4.0 results carry the version"
                    );
                    let a = r["ips"][0]["address"].as_str().expect("address");
                    a.split('/').next().expect("ip").parse().expect("ip")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let distinct: BTreeSet<IpAddr> = addresses.iter().copied().collect();
    assert_eq!(distinct.len(), 20, "{addresses:?}");
}

#[test]
fn errors_go_to_stdout_as_json_with_a_failing_status() {
    let bin = plugin_dir();
    let out = cni(
        &bin.path().join("ultrak8s-cni"),
        &[("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "c"), ("CNI_IFNAME", "eth0"), ("CNI_NETNS", "/n")],
        br#"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "ultrak8s-cni", "prefixes": ["10.0.0.1/28"]}}"#,
    );
    assert!(!out.status.success());
    let error: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("error JSON on stdout");
    assert_eq!(error["code"], 7);
    assert_eq!(error["cniVersion"], "1.0.0");
    // The subcommand is the same plugin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
        .arg("cni")
        .env("CNI_COMMAND", "VERSION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ultrak8s cni");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(br#"{"cniVersion":"1.0.0"}"#)
        .expect("write");
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success());
    let version: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        version["supportedVersions"]
            .as_array()
            .expect("list")
            .contains(&"1.0.0".into())
    );
}

/// The `kubeconfig` form: the prefixes come from the Node (`spec.podCIDRs` and the
/// `netalloc.ultrak8s.io/prefixes` annotation) of an API server in this process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_read_from_the_node() {
    use k8s_openapi::api::core::v1::Node;
    use kube::api::{Api, PostParams};

    let cluster = ultrak8s_conformance::cluster::TestCluster::start()
        .await
        .expect("cluster starts");
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "node-1",
                     "annotations": {"netalloc.ultrak8s.io/prefixes": "10.79.0.16/28"}},
        "spec": {"podCIDRs": ["10.79.0.0/28"]}
    }))
    .expect("node");
    let client = cluster.client().await.expect("client");
    Api::<Node>::all(client)
        .create(&PostParams::default(), &node)
        .await
        .expect("create the Node");

    let bin = plugin_dir();
    let plugin = bin.path().join("ultrak8s-cni");
    let data = tempfile::tempdir().expect("tempdir");
    let conf = |node: &str| {
        serde_json::to_vec(&serde_json::json!({
            "cniVersion": "1.0.0", "name": "kc", "type": "bridge",
            "ipam": {"type": "ultrak8s-cni", "kubeconfig": cluster.kubeconfig, "nodeName": node,
                     "dataDir": data.path().display().to_string()}
        }))
        .expect("json")
    };
    let (known, unknown) = (conf("node-1"), conf("node-2"));
    let outputs = tokio::task::spawn_blocking(move || {
        let add = |id: String, conf: &[u8]| {
            let env = [
                ("CNI_COMMAND", "ADD"),
                ("CNI_CONTAINERID", id.as_str()),
                ("CNI_NETNS", "/var/run/netns/none"),
                ("CNI_IFNAME", "eth0"),
            ];
            cni(&plugin, &env, conf)
        };
        let mut outputs: Vec<Output> = (0..14).map(|n| add(format!("pod{n}"), &known)).collect();
        outputs.push(add("stranger".into(), &unknown));
        outputs
    })
    .await
    .expect("plugin runs");
    let json = |out: &Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    for out in &outputs[..13] {
        assert!(out.status.success(), "{}", json(out));
        assert_eq!(json(out)["ips"][0]["gateway"], "10.79.0.1", "podCIDR first");
    }
    let last = json(&outputs[13]);
    assert_eq!(
        last["ips"][0]["gateway"], "10.79.0.17",
        "then the annotation's prefix: {last}"
    );
    assert!(!outputs[14].status.success());
    assert_eq!(
        json(&outputs[14])["code"],
        11,
        "no Node yet: try again later"
    );
}

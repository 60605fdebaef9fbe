//! The plugin through its front door (`invoke`: environment and stdin in, JSON out), table by
//! table, and the lock under 20 concurrent ADDs.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use serde_json::{Value, json};

use super::{CniError, Code, Invocation, Verb, invoke};

fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    let map: HashMap<&str, &str> = pairs.iter().copied().collect();
    move |name| map.get(name).map(|v| (*v).to_owned())
}

fn conf(dir: &std::path::Path, version: &str, ipam: Value) -> Vec<u8> {
    let mut ipam = ipam;
    ipam["type"] = "ultrak8s-cni".into();
    ipam["dataDir"] = dir.display().to_string().into();
    serde_json::to_vec(
        &json!({"cniVersion": version, "name": "pods", "type": "bridge", "ipam": ipam}),
    )
    .expect("serializes")
}

/// Runs `verb` for `container` (ifname eth0); returns stdout's JSON or the error.
fn call(verb: &str, container: &str, stdin: &[u8]) -> Result<Option<Value>, CniError> {
    let pairs = [
        ("CNI_COMMAND", verb),
        ("CNI_CONTAINERID", container),
        ("CNI_IFNAME", "eth0"),
        ("CNI_NETNS", "/var/run/netns/x"),
        ("CNI_PATH", "/opt/cni/bin"),
        (
            "CNI_ARGS",
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web",
        ),
    ];
    invoke(env(&pairs), stdin).map_err(|(e, _)| e)
}

fn address(result: &Value, index: usize) -> (IpAddr, u8) {
    let text = result["ips"][index]["address"]
        .as_str()
        .expect("an address");
    let (ip, len) = text.split_once('/').expect("address/len");
    (ip.parse().expect("ip"), len.parse().expect("len"))
}

#[test]
fn environment_errors_are_code_4() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "CNI_COMMAND env variable missing"),
        (&[("CNI_COMMAND", "PUT")], "unknown CNI_COMMAND: PUT"),
        (
            &[
                ("CNI_COMMAND", "ADD"),
                ("CNI_IFNAME", "eth0"),
                ("CNI_NETNS", "/n"),
            ],
            "CNI_CONTAINERID env variable missing",
        ),
        (
            &[("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "abc")],
            "CNI_IFNAME env variable missing",
        ),
        (
            &[
                ("CNI_COMMAND", "ADD"),
                ("CNI_CONTAINERID", "abc"),
                ("CNI_IFNAME", "eth0"),
            ],
            "CNI_NETNS env variable missing",
        ),
        (
            &[
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", "-abc"),
                ("CNI_IFNAME", "eth0"),
            ],
            "invalid CNI_CONTAINERID \"-abc\"",
        ),
        (
            &[
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", "a/b"),
                ("CNI_IFNAME", "eth0"),
            ],
            "invalid CNI_CONTAINERID \"a/b\"",
        ),
        (
            &[
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", "abc"),
                ("CNI_IFNAME", "a/b"),
            ],
            "invalid CNI_IFNAME \"a/b\"",
        ),
        (
            &[
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", "abc"),
                ("CNI_IFNAME", "eth0"),
                ("CNI_ARGS", "A=1;B"),
            ],
            "invalid CNI_ARGS pair \"B\"",
        ),
    ];
    for (pairs, msg) in cases {
        let error = Invocation::from_env(env(pairs)).expect_err(msg);
        assert_eq!(error.code, Code::InvalidEnv, "{msg}");
        assert_eq!(error.msg, *msg);
    }
}

#[test]
fn environment_is_read() {
    let pairs = [
        ("CNI_COMMAND", "DEL"),
        ("CNI_CONTAINERID", "0f3a_b.c-d"),
        ("CNI_IFNAME", "net1"),
        ("CNI_ARGS", "K8S_POD_NAME=web;X=a=b"),
    ];
    let inv = Invocation::from_env(env(&pairs)).expect("valid");
    assert_eq!(inv.verb, Verb::Del);
    assert_eq!(inv.key().as_deref(), Some("0f3a_b.c-d/net1"));
    assert_eq!(inv.netns, None);
    assert_eq!(
        inv.args,
        vec![
            ("K8S_POD_NAME".into(), "web".into()),
            ("X".into(), "a=b".into())
        ]
    );
}

#[test]
fn error_object_has_the_spec_fields() {
    let e = CniError::new(Code::TryAgainLater, "busy", "later");
    assert_eq!(
        e.to_json("0.4.0"),
        json!({"cniVersion": "0.4.0", "code": 11, "msg": "busy", "details": "later"})
    );
    let e = CniError::new(Code::InvalidConfig, "bad", "");
    assert_eq!(
        e.to_json("1.0.0"),
        json!({"cniVersion": "1.0.0", "code": 7, "msg": "bad"})
    );
}

#[test]
fn version_lists_the_supported_versions() {
    let out = invoke(
        env(&[("CNI_COMMAND", "VERSION")]),
        br#"{"cniVersion":"0.4.0"}"#,
    )
    .expect("VERSION works")
    .expect("prints");
    assert_eq!(out["cniVersion"], "0.4.0");
    assert_eq!(
        out["supportedVersions"],
        json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
    // An environment error is written in the configuration's version.
    let (error, version) = invoke(env(&[]), br#"{"cniVersion":"0.3.1"}"#).expect_err("no verb");
    assert_eq!((error.code, version.as_str()), (Code::InvalidEnv, "0.3.1"));
}

#[test]
fn configuration_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let cases: Vec<(String, Code, &str)> = vec![
        ("{not json".into(), Code::Decode, "the network configuration is not JSON"),
        (r#"{"cniVersion":"0.2.0","name":"n","ipam":{}}"#.into(), Code::IncompatibleVersion, "incompatible CNI version \"0.2.0\""),
        (r#"{"cniVersion":"1.0.0","name":"n"}"#.into(), Code::InvalidConfig, "the network configuration has no \"ipam\" object"),
        (r#"{"cniVersion":"1.0.0","name":"../x","ipam":{"prefixes":["10.0.0.0/28"]}}"#.into(), Code::InvalidConfig, "invalid network name \"../x\""),
        (r#"{"cniVersion":"1.0.0","name":"n","ipam":{"prefixes":"10.0.0.0/28"}}"#.into(), Code::InvalidConfig, "the network configuration is not valid"),
        (r#"{"cniVersion":"1.0.0","name":"n","ipam":{}}"#.into(), Code::InvalidConfig, "the ipam object names no prefixes"),
        (format!(r#"{{"cniVersion":"1.0.0","name":"n","ipam":{{"dataDir":"{d}","prefixes":["10.0.0.1/28"]}}}}"#), Code::InvalidConfig, "prefix \"10.0.0.1/28\" is not valid"),
        (r#"{"cniVersion":"1.0.0","name":"n","ipam":{"type":"host-local","prefixes":["10.0.0.0/28"]}}"#.into(), Code::InvalidConfig, "ipam type \"host-local\" is not ultrak8s-cni"),
        (r#"{"cniVersion":"1.0.0","name":"n","ipam":{"prefixes":["10.0.0.0/28"],"gateway":"x"}}"#.into(), Code::InvalidConfig, "gateway \"x\" is not an IP address"),
        (r#"{"cniVersion":"1.0.0","name":"n","ipam":{"prefixes":["10.0.0.0/28"],"routes":[{"dst":"0.0.0.0"}]}}"#.into(), Code::InvalidConfig, "route destination \"0.0.0.0\" is not valid"),
    ];
    for (stdin, code, msg) in cases {
        let error = call("ADD", "c1", stdin.as_bytes()).expect_err(msg);
        assert_eq!((error.code, error.msg.as_str()), (code, msg), "{stdin}");
    }
    let e = call("ADD", "c1", format!(r#"{{"cniVersion":"1.0.0","name":"n","ipam":{{"dataDir":"{d}","prefixes":["10.0.0.1/28"]}}}}"#).as_bytes()).expect_err("host bits");
    assert!(
        e.details.contains("10.0.0.0/28"),
        "names the canonical form: {}",
        e.details
    );
    let e = call(
        "CHECK",
        "c1",
        &conf(dir.path(), "0.3.1", json!({"prefixes": ["10.0.0.0/28"]})),
    )
    .expect_err("old");
    assert_eq!(e.code, Code::IncompatibleVersion);
}

#[test]
fn add_is_idempotent_and_skips_network_gateway_and_broadcast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stdin = conf(
        dir.path(),
        "1.0.0",
        json!({"prefixes": ["10.77.0.16/28"], "routes": [{"dst": "0.0.0.0/0"}]}),
    );
    let first = call("ADD", "c0", &stdin).expect("ADD").expect("result");
    assert_eq!(first["cniVersion"], "1.0.0");
    assert_eq!(first["ips"][0]["gateway"], "10.77.0.17");
    assert_eq!(first["routes"], json!([{"dst": "0.0.0.0/0"}]));
    assert!(
        first["ips"][0].get("version").is_none(),
        "1.0.0 has no version field"
    );
    assert_eq!(
        call("ADD", "c0", &stdin).expect("again").expect("result"),
        first,
        "idempotent"
    );
    let mut seen = BTreeSet::from([address(&first, 0).0]);
    for n in 1..13 {
        let r = call("ADD", &format!("c{n}"), &stdin)
            .expect("ADD")
            .expect("result");
        let (ip, len) = address(&r, 0);
        assert_eq!(len, 28);
        assert!(seen.insert(ip), "{ip} handed out twice");
    }
    let reserved: Vec<IpAddr> = ["10.77.0.16", "10.77.0.17", "10.77.0.31"]
        .iter()
        .map(|a| a.parse().expect("ip"))
        .collect();
    assert!(seen.iter().all(|a| !reserved.contains(a)), "{seen:?}");
    assert_eq!(seen.len(), 13, "16 addresses less 3 reserved");
    let full = call("ADD", "c13", &stdin).expect_err("exhausted");
    assert_eq!(full.code, Code::TryAgainLater);
    // DEL frees one; DEL of a stranger and a second DEL succeed.
    assert_eq!(call("DEL", "c3", &stdin).expect("DEL"), None);
    assert_eq!(call("DEL", "c3", &stdin).expect("DEL again"), None);
    assert_eq!(call("DEL", "nobody", &stdin).expect("DEL unknown"), None);
    call("ADD", "c13", &stdin).expect("room again");
}

#[test]
fn legacy_versions_and_routed_prefixes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stdin = conf(
        dir.path(),
        "0.4.0",
        json!({"prefixes": ["10.0.1.0/28"], "routed": true, "gateway": "169.254.1.1"}),
    );
    let mut seen = BTreeSet::new();
    for n in 0..16 {
        let r = call("ADD", &format!("c{n}"), &stdin)
            .expect("ADD")
            .expect("result");
        assert_eq!(r["ips"][0]["version"], "4");
        assert_eq!(r["ips"][0]["gateway"], "169.254.1.1");
        let (ip, len) = address(&r, 0);
        assert_eq!(len, 32);
        seen.insert(ip);
    }
    assert_eq!(seen.len(), 16, "a routed prefix is all pods'");
}

#[test]
fn dual_stack_gets_one_address_per_family_and_check_compares() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stdin = conf(
        dir.path(),
        "1.0.0",
        json!({"prefixes": ["10.0.1.0/28", "fd00:1::/80"]}),
    );
    let r = call("ADD", "c1", &stdin).expect("ADD").expect("result");
    assert_eq!(address(&r, 0), ("10.0.1.2".parse().expect("ip"), 28));
    assert_eq!(address(&r, 1), ("fd00:1::2".parse().expect("ip"), 80));
    assert_eq!(r["ips"][1]["gateway"], "fd00:1::1");
    assert!(dir.path().join("pods/addresses-ipv4.json").exists());
    assert!(dir.path().join("pods/addresses-ipv6.json").exists());

    let mut with_prev: Value = serde_json::from_slice(&stdin).expect("json");
    with_prev["prevResult"] = r.clone();
    let check = serde_json::to_vec(&with_prev).expect("json");
    assert_eq!(call("CHECK", "c1", &check).expect("CHECK"), None);
    with_prev["prevResult"]["ips"][0]["address"] = "10.0.1.9/28".into();
    let e = call(
        "CHECK",
        "c1",
        &serde_json::to_vec(&with_prev).expect("json"),
    )
    .expect_err("differs");
    assert_eq!(e.code, Code::CheckFailed);
    call("DEL", "c1", &stdin).expect("DEL");
    assert_eq!(
        call("CHECK", "c1", &check).expect_err("gone").code,
        Code::CheckFailed
    );
}

#[test]
fn gc_frees_what_the_runtime_no_longer_knows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stdin = conf(dir.path(), "1.1.0", json!({"prefixes": ["10.0.1.0/29"]}));
    for c in ["a", "b", "c"] {
        call("ADD", c, &stdin).expect("ADD");
    }
    let mut gc: Value = serde_json::from_slice(&stdin).expect("json");
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "b", "ifname": "eth0"}]);
    let gc = serde_json::to_vec(&gc).expect("json");
    let pairs = [("CNI_COMMAND", "GC"), ("CNI_PATH", "/opt/cni/bin")];
    assert_eq!(
        invoke(env(&pairs), &gc).map_err(|(e, _)| e).expect("GC"),
        None
    );
    // A /29 holds 8 addresses, 3 reserved: b and 4 new ones fit, a sixth does not.
    for c in ["d", "e", "f", "g"] {
        call("ADD", c, &stdin).expect("room after GC");
    }
    let status = [("CNI_COMMAND", "STATUS")];
    let e = invoke(env(&status), &stdin).expect_err("full");
    assert_eq!(e.0.code, Code::NotAvailable);
    assert_eq!(
        call("ADD", "h", &stdin).expect_err("full").code,
        Code::TryAgainLater
    );
}

#[test]
fn prefixes_follow_the_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = conf(dir.path(), "1.0.0", json!({"prefixes": ["10.0.1.0/28"]}));
    let two = conf(
        dir.path(),
        "1.0.0",
        json!({"prefixes": ["10.0.1.0/28", "10.0.1.16/28"]}),
    );
    let other = conf(dir.path(), "1.0.0", json!({"prefixes": ["10.0.1.32/28"]}));
    for n in 0..13 {
        call("ADD", &format!("a{n}"), &one).expect("ADD");
    }
    let r = call("ADD", "b", &two)
        .expect("granted a second prefix")
        .expect("result");
    assert_eq!(r["ips"][0]["gateway"], "10.0.1.17");
    call("DEL", "b", &two).expect("DEL");
    // 10.0.1.16/28 is free again and withdrawn; 10.0.1.0/28 is in use and stays.
    let r = call("ADD", "c", &other).expect("ADD").expect("result");
    assert_eq!(r["ips"][0]["gateway"], "10.0.1.33");
    let state =
        std::fs::read_to_string(dir.path().join("pods/addresses-ipv4.json")).expect("state");
    let snapshot: Value = serde_json::from_str(&state).expect("json");
    let prefixes: Vec<&str> = snapshot["prefixes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["prefix"].as_str().expect("text"))
        .collect();
    assert_eq!(prefixes, ["10.0.1.0/28", "10.0.1.32/28"]);
    assert!(!state.contains("!reserved"), "reservations are not stored");
}

#[test]
fn corrupt_state_is_reported_not_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stdin = conf(dir.path(), "1.0.0", json!({"prefixes": ["10.0.1.0/28"]}));
    std::fs::create_dir_all(dir.path().join("pods")).expect("mkdir");
    let path = dir.path().join("pods/addresses-ipv4.json");
    std::fs::write(&path, "{garbage").expect("write");
    assert_eq!(
        call("ADD", "a", &stdin).expect_err("corrupt").code,
        Code::CorruptState
    );
    let twice = r#"{"version":1,"prefixes":[{"prefix":"10.0.1.0/28"}],"containers":{"a/eth0":"10.0.1.2","b/eth0":"10.0.1.2"}}"#;
    std::fs::write(&path, twice).expect("write");
    assert_eq!(
        call("DEL", "a", &stdin).expect_err("corrupt").code,
        Code::CorruptState
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), twice);
}

#[test]
fn twenty_concurrent_adds_get_twenty_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stdin = conf(
        dir.path(),
        "1.0.0",
        json!({"prefixes": ["10.0.2.0/28", "10.0.2.16/28"]}),
    );
    let addresses: Vec<IpAddr> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|n| {
                let stdin = &stdin;
                scope.spawn(move || {
                    let r = call("ADD", &format!("pod{n}"), stdin)
                        .expect("ADD")
                        .expect("result");
                    address(&r, 0).0
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
    let state = std::fs::read(dir.path().join("pods/addresses-ipv4.json")).expect("state");
    let pool = ultrak8s_netalloc::prefix::NodeAddresses::restore_json(&state).expect("restores");
    assert_eq!(pool.used(), 20, "every ADD was recorded");
}

#[test]
fn node_prefixes_come_from_pod_cidrs_and_the_annotation() {
    let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(json!({
        "metadata": {"name": "n1", "annotations": {super::PREFIXES_ANNOTATION: "10.0.1.16/28, 10.0.1.0/28,,10.0.1.32/28"}},
        "spec": {"podCIDRs": ["10.0.1.0/28", "fd00::/80"]}
    }))
    .expect("node");
    let got: Vec<String> = super::node::node_prefixes(&node)
        .expect("valid")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        ["10.0.1.0/28", "fd00::/80", "10.0.1.16/28", "10.0.1.32/28"]
    );
    let bad: k8s_openapi::api::core::v1::Node = serde_json::from_value(json!({
        "metadata": {"name": "n1", "annotations": {super::PREFIXES_ANNOTATION: "10.0.1.1/28"}}
    }))
    .expect("node");
    assert!(super::node::node_prefixes(&bad).is_err());
}

use serde_json::json;

use super::*;

const NOW: &str = "2026-11-29T17:00:00Z";

fn pod(spec: Value, annotations: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "annotations": annotations},
        "spec": spec,
    }))
    .expect("pod")
}

#[test]
fn nodes_are_gpu_trainium_or_cpu_machines_with_zone_and_region() {
    let gpu = node("sim-000000", 0, Machine::Gpu, "us-east-1a", 110, NOW);
    assert_eq!(gpu["status"]["allocatable"]["nvidia.com/gpu"], "8");
    assert_eq!(gpu["status"]["allocatable"]["pods"], "110");
    assert_eq!(
        gpu["metadata"]["labels"]["topology.kubernetes.io/region"],
        "us-east-1"
    );
    assert_eq!(
        gpu["metadata"]["labels"]["node.kubernetes.io/instance-type"],
        "p5.48xlarge"
    );
    assert_eq!(gpu["status"]["addresses"][0]["address"], "198.18.0.1");
    assert_eq!(gpu["status"]["nodeInfo"]["kubeletVersion"], KUBELET_VERSION);
    assert_eq!(gpu["status"]["conditions"][3]["type"], "Ready");
    assert_eq!(gpu["status"]["conditions"][3]["lastHeartbeatTime"], NOW);
    let trn = node("sim-000004", 4, Machine::Trainium, "eu-west-2", 64, NOW);
    assert_eq!(trn["status"]["capacity"]["aws.amazon.com/neuron"], "16");
    assert!(trn["status"]["capacity"].get("nvidia.com/gpu").is_none());
    assert_eq!(
        trn["metadata"]["labels"]["topology.kubernetes.io/region"],
        "eu-west-2"
    );
    let cpu = node("sim-000009", 9, Machine::Cpu, "a", 110, NOW);
    assert_eq!(cpu["status"]["allocatable"]["cpu"], "16");
    // Every body is a valid Node.
    for body in [gpu, trn, cpu] {
        serde_json::from_value::<k8s_openapi::api::core::v1::Node>(body).expect("a Node");
    }
    assert_eq!(
        node_ip(131_071).map(|ip| ip.to_string()).as_deref(),
        Some("198.20.0.0")
    );
    assert_eq!(node_ip(131_072), None);
}

#[test]
fn the_status_heartbeat_keeps_transition_times() {
    let patch = node_status_patch("2026-11-29T17:00:10Z", "2026-11-29T17:00:00Z");
    let conditions = patch["status"]["conditions"]
        .as_array()
        .expect("conditions");
    assert_eq!(conditions.len(), 4);
    let ready = conditions
        .iter()
        .find(|c| c["type"] == "Ready")
        .expect("Ready");
    assert_eq!(ready["status"], "True");
    assert_eq!(ready["lastHeartbeatTime"], "2026-11-29T17:00:10Z");
    assert_eq!(ready["lastTransitionTime"], "2026-11-29T17:00:00Z");
}

#[test]
fn leases_are_owned_by_their_node() {
    let time = |t: &str| t.parse::<Timestamp>().expect("a time");
    let json = |l: Lease| serde_json::to_value(l).expect("JSON");
    let l = json(lease(
        "sim-000001",
        Some("uid-9"),
        time("2026-11-29T17:00:00.000000Z"),
        40,
    ));
    assert_eq!(l["spec"]["holderIdentity"], "sim-000001");
    assert_eq!(l["metadata"]["ownerReferences"][0]["uid"], "uid-9");
    serde_json::from_value::<k8s_openapi::api::coordination::v1::Lease>(l).expect("a Lease");
    let renewal = json(lease(
        "sim-000001",
        None,
        time("2026-11-29T17:00:10.000000Z"),
        40,
    ));
    assert!(renewal["metadata"].get("ownerReferences").is_none());
}

#[test]
fn only_pods_that_do_not_restart_finish() {
    let containers = json!([{"name": "c", "image": "busybox"}]);
    let always = pod(json!({"containers": containers}), json!({}));
    assert_eq!(finishes_after(&always, 5.0), None);
    let job = pod(
        json!({"restartPolicy": "Never", "containers": containers}),
        json!({}),
    );
    assert_eq!(finishes_after(&job, 5.0), Some((5.0, 0)));
    let failing = pod(
        json!({"restartPolicy": "OnFailure", "containers": containers}),
        json!({DURATION_ANNOTATION: "1.5m", EXIT_CODE_ANNOTATION: "3"}),
    );
    assert_eq!(finishes_after(&failing, 5.0), Some((90.0, 3)));
    let garbage = pod(
        json!({"restartPolicy": "Never", "containers": containers}),
        json!({DURATION_ANNOTATION: "soon", EXIT_CODE_ANNOTATION: "x"}),
    );
    assert_eq!(finishes_after(&garbage, 7.0), Some((7.0, 0)));
    assert_eq!(parse_duration("2h"), Some(7200.0));
    assert_eq!(parse_duration("30"), Some(30.0));
    assert_eq!(parse_duration("-1s"), None);
    assert_eq!(parse_duration(""), None);
}

#[test]
fn running_and_finished_statuses_are_valid_pod_statuses() {
    let p = pod(
        json!({"restartPolicy": "Never",
               "initContainers": [{"name": "init", "image": "busybox"}],
               "containers": [{"name": "main", "image": "trainer:1"}]}),
        json!({}),
    );
    let ip: IpAddr = "10.0.1.5".parse().expect("ip");
    let now = "2026-11-29T17:00:00Z";
    let running = running_status(&p, "198.18.0.1", ip, now);
    let status: k8s_openapi::api::core::v1::PodStatus =
        serde_json::from_value(running["status"].clone()).expect("a PodStatus");
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.0.1.5"));
    let main = &status.container_statuses.expect("containers")[0];
    assert!(
        main.ready
            && main
                .state
                .as_ref()
                .and_then(|s| s.running.as_ref())
                .is_some()
    );
    assert_eq!(status.init_container_statuses.map(|s| s.len()), Some(1));
    let failed = finished_status(&p, 2, now, "2026-11-29T17:00:05Z");
    let status: k8s_openapi::api::core::v1::PodStatus =
        serde_json::from_value(failed["status"].clone()).expect("a PodStatus");
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let terminated = status.container_statuses.expect("containers")[0]
        .state
        .clone()
        .and_then(|s| s.terminated)
        .expect("terminated");
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (2, Some("Error"))
    );
    let done = finished_status(&p, 0, now, now);
    assert_eq!(done["status"]["phase"], "Succeeded");
}

//! The objects a simulated kubelet writes, as JSON: its Node, its Lease, its node status
//! heartbeat, and the status of its pods as they start and finish. Pure: times and addresses
//! are passed in.

use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

/// The label every simulated Node carries (what `kwok` calls its nodes by).
pub const SIMULATED_LABEL: &str = "simnodes.ultrak8s.io/simulated";
/// Pod annotation: how long a pod of a Job (restartPolicy Never/OnFailure) runs, e.g. `30s`.
pub const DURATION_ANNOTATION: &str = "simnodes.ultrak8s.io/duration";
/// Pod annotation: the exit code its containers finish with (`0`: Succeeded, else Failed).
pub const EXIT_CODE_ANNOTATION: &str = "simnodes.ultrak8s.io/exit-code";
/// The kubelet version simulated nodes report.
pub const KUBELET_VERSION: &str = "v1.35.4";

/// What kind of machine a simulated node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// `p5.48xlarge`: 8 × `nvidia.com/gpu`.
    Gpu,
    /// `trn2.48xlarge`: 16 × `aws.amazon.com/neuron`.
    Trainium,
    /// `m7i.4xlarge`: CPU only.
    Cpu,
}

impl Machine {
    fn instance_type(self) -> &'static str {
        match self {
            Machine::Gpu => "p5.48xlarge",
            Machine::Trainium => "trn2.48xlarge",
            Machine::Cpu => "m7i.4xlarge",
        }
    }

    fn allocatable(self, max_pods: u32) -> Value {
        let mut a = match self {
            Machine::Gpu | Machine::Trainium => json!({
                "cpu": "192", "memory": "2000Gi", "ephemeral-storage": "7000Gi",
                "hugepages-1Gi": "0", "hugepages-2Mi": "0",
            }),
            Machine::Cpu => json!({
                "cpu": "16", "memory": "64Gi", "ephemeral-storage": "500Gi",
                "hugepages-1Gi": "0", "hugepages-2Mi": "0",
            }),
        };
        a["pods"] = json!(max_pods.to_string());
        match self {
            Machine::Gpu => a["nvidia.com/gpu"] = json!("8"),
            Machine::Trainium => a["aws.amazon.com/neuron"] = json!("16"),
            Machine::Cpu => {}
        }
        a
    }
}

/// The InternalIP of node `index`: 198.18.0.0/15 (the benchmarking range), 131,072 nodes.
pub fn node_ip(index: u64) -> Option<Ipv4Addr> {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
    (index < (1 << 17)).then(|| Ipv4Addr::from(base + index as u32 + 1))
}

/// The Node a simulated kubelet registers, Ready since `now`.
pub fn node(
    name: &str,
    index: u64,
    machine: Machine,
    zone: &str,
    max_pods: u32,
    now: &str,
) -> Value {
    let allocatable = machine.allocatable(max_pods);
    let ip = node_ip(index).map(|ip| ip.to_string()).unwrap_or_default();
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": region_of(zone),
                "node.kubernetes.io/instance-type": machine.instance_type(),
                SIMULATED_LABEL: "true",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {
            "capacity": allocatable,
            "allocatable": allocatable,
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
            ],
            "conditions": node_conditions(now),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": format!("{index:032x}"),
                "systemUUID": format!("{index:032x}"),
                "bootID": format!("{index:032x}"),
                "kernelVersion": "6.1.0-ultrak8s-sim",
                "osImage": "ultrak8s simulated node",
                "containerRuntimeVersion": "sim://1.0.0",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    })
}

/// The status conditions a healthy kubelet reports, heartbeat `now` (RFC 3339).
pub fn node_conditions(now: &str) -> Value {
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!([
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available"
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure"
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available"
        ),
        condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status"
        ),
    ])
}

/// The node status heartbeat: a strategic merge patch of the conditions (merged by `type`),
/// as the kubelet's `tryUpdateNodeStatus` sends. `since` keeps each transition time.
pub fn node_status_patch(now: &str, since: &str) -> Value {
    let mut conditions = node_conditions(now);
    for c in conditions.as_array_mut().into_iter().flatten() {
        c["lastTransitionTime"] = json!(since);
    }
    json!({"status": {"conditions": conditions}})
}

fn region_of(zone: &str) -> &str {
    // us-east-1a → us-east-1: a zone is its region and one letter.
    zone.strip_suffix(|c: char| c.is_ascii_lowercase())
        .filter(|r| r.ends_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(zone)
}

/// The node's Lease in `kube-node-lease`, owned by the Node as the kubelet makes it. Typed,
/// so a renewal (10,000 a second at 100,000 nodes) is encoded once, by the client.
pub fn lease(name: &str, node_uid: Option<&str>, now: Timestamp, duration_secs: u32) -> Lease {
    let owner = node_uid.map(|uid| {
        vec![OwnerReference {
            api_version: "v1".to_owned(),
            kind: "Node".to_owned(),
            name: name.to_owned(),
            uid: uid.to_owned(),
            ..OwnerReference::default()
        }]
    });
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("kube-node-lease".to_owned()),
            owner_references: owner,
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.to_owned()),
            lease_duration_seconds: Some(i32::try_from(duration_secs).unwrap_or(i32::MAX)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

/// How a pod of this node ends, if it ends: `Some((seconds, exit code))` for pods that do
/// not restart (Jobs' pods), from their annotations or `default_secs`.
pub fn finishes_after(pod: &Pod, default_secs: f64) -> Option<(f64, i32)> {
    let spec = pod.spec.as_ref()?;
    if spec.restart_policy.as_deref().unwrap_or("Always") == "Always" {
        return None;
    }
    let annotations = pod.metadata.annotations.as_ref();
    let get = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    let secs = get(DURATION_ANNOTATION)
        .and_then(parse_duration)
        .unwrap_or(default_secs);
    let code = get(EXIT_CODE_ANNOTATION)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Some((secs, code))
}

/// `30`, `30s`, `1.5m`, `2h`: seconds.
pub fn parse_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = match text.chars().last()? {
        's' => (&text[..text.len() - 1], 1.0),
        'm' => (&text[..text.len() - 1], 60.0),
        'h' => (&text[..text.len() - 1], 3600.0),
        _ => (text, 1.0),
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value * scale)
}

fn container_names(pod: &Pod, init: bool) -> Vec<(String, String)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let list = if init {
        spec.init_containers.as_deref().unwrap_or_default()
    } else {
        &spec.containers
    };
    list.iter()
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect()
}

fn pod_condition(type_: &str, status: &str, reason: Option<&str>, now: &str) -> Value {
    let mut c = json!({"type": type_, "status": status, "lastTransitionTime": now,
                       "lastProbeTime": null});
    if let Some(reason) = reason {
        c["reason"] = json!(reason);
    }
    c
}

/// The status of a pod whose containers started at `now`: Running and Ready, with `pod_ip`.
pub fn running_status(pod: &Pod, host_ip: &str, pod_ip: IpAddr, now: &str) -> Value {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let id = |name: &str| format!("sim://{uid}/{name}");
    let init: Vec<Value> = container_names(pod, true)
        .into_iter()
        .map(|(name, image)| {
            json!({"name": name, "image": image, "imageID": format!("sim://{image}"),
                   "containerID": id(&name), "ready": true, "restartCount": 0,
                   "started": false,
                   "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                             "startedAt": now, "finishedAt": now, "containerID": id(&name)}}})
        })
        .collect();
    let main: Vec<Value> = container_names(pod, false)
        .into_iter()
        .map(|(name, image)| {
            json!({"name": name, "image": image, "imageID": format!("sim://{image}"),
                   "containerID": id(&name), "ready": true, "restartCount": 0,
                   "started": true, "state": {"running": {"startedAt": now}}})
        })
        .collect();
    let mut status = json!({
        "phase": "Running",
        "conditions": [
            pod_condition("PodReadyToStartContainers", "True", None, now),
            pod_condition("Initialized", "True", None, now),
            pod_condition("Ready", "True", None, now),
            pod_condition("ContainersReady", "True", None, now),
            pod_condition("PodScheduled", "True", None, now),
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip.to_string(),
        "podIPs": [{"ip": pod_ip.to_string()}],
        "startTime": now,
        "containerStatuses": main,
    });
    if !init.is_empty() {
        status["initContainerStatuses"] = json!(init);
    }
    json!({"status": status})
}

/// The status of a pod whose containers exited with `exit_code` at `now`.
pub fn finished_status(pod: &Pod, exit_code: i32, started: &str, now: &str) -> Value {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let (phase, reason) = if exit_code == 0 {
        ("Succeeded", "Completed")
    } else {
        ("Failed", "Error")
    };
    let main: Vec<Value> = container_names(pod, false)
        .into_iter()
        .map(|(name, image)| {
            let id = format!("sim://{uid}/{name}");
            json!({"name": name, "image": image, "imageID": format!("sim://{image}"),
                   "containerID": id, "ready": false, "restartCount": 0, "started": false,
                   "state": {"terminated": {"exitCode": exit_code, "reason": reason,
                             "startedAt": started, "finishedAt": now, "containerID": id}}})
        })
        .collect();
    json!({"status": {
        "phase": phase,
        "conditions": [
            pod_condition("PodReadyToStartContainers", "False", None, now),
            pod_condition("Initialized", "True", Some("PodCompleted"), now),
            pod_condition("Ready", "False", Some("PodCompleted"), now),
            pod_condition("ContainersReady", "False", Some("PodCompleted"), now),
            pod_condition("PodScheduled", "True", None, now),
        ],
        "containerStatuses": main,
    }})
}

#[cfg(test)]
#[path = "objects_tests.rs"]
mod tests;

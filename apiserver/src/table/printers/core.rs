//! Core kinds but Pod, Event and the volumes: Node, Service, Endpoints, Namespace, ConfigMap,
//! Secret, ServiceAccount, ReplicationController, PodTemplate and ResourceQuota.

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::fields::{
    at, containers, count, flag, format_labels, int, items, map, name, or, quantity, text,
};
use super::{AGE, CONTAINERS, IMAGES, NAME, Table, col, wide};
use crate::table::age;

pub(super) static NODE: Table = Table {
    columns: &[
        NAME,
        col("Status", "string", "The status of the node"),
        col("Roles", "string", "The roles of the node"),
        AGE,
        col("Version", "string", "Kubelet Version reported by the node."),
        wide(
            "Internal-IP",
            "string",
            "List of addresses reachable to the node.",
        ),
        wide(
            "External-IP",
            "string",
            "List of addresses reachable to the node.",
        ),
        wide("OS-Image", "string", "OS Image reported by the node."),
        wide(
            "Kernel-Version",
            "string",
            "Kernel Version reported by the node.",
        ),
        wide(
            "Container-Runtime",
            "string",
            "ContainerRuntime Version reported by the node.",
        ),
    ],
    cells: node,
};

/// Upstream `printNode`: only the Ready condition makes the status (the last one listed, as
/// upstream indexes the conditions by type).
fn node(obj: &Value, now: Timestamp) -> Vec<Value> {
    let conditions = items(obj, "/status/conditions");
    let ready = conditions.iter().rfind(|c| text(c, "/type") == "Ready");
    let mut status = match ready {
        Some(c) if text(c, "/status") == "True" => vec!["Ready"],
        Some(_) => vec!["NotReady"],
        None => vec!["Unknown"],
    };
    if flag(obj, "/spec/unschedulable") {
        status.push("SchedulingDisabled");
    }
    let info = |field: &str| or(text(obj, &format!("/status/nodeInfo/{field}")), "<unknown>");
    let address = |kind: &str| {
        let addresses = items(obj, "/status/addresses");
        let found = addresses.iter().find(|a| text(a, "/type") == kind);
        found.map_or("<none>", |a| text(a, "/address"))
    };
    vec![
        name(obj),
        status.join(",").into(),
        node_roles(obj).into(),
        age(obj, now),
        text(obj, "/status/nodeInfo/kubeletVersion").into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

/// Upstream `findNodeRoles`: `node-role.kubernetes.io/<role>` keys and the value of
/// `kubernetes.io/role`, sorted and distinct.
fn node_roles(obj: &Value) -> String {
    let mut roles = BTreeSet::new();
    for (key, value) in map(obj, "/metadata/labels").into_iter().flatten() {
        let value = value.as_str().unwrap_or("");
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role);
            }
        } else if key == "kubernetes.io/role" && !value.is_empty() {
            roles.insert(value);
        }
    }
    let roles: Vec<&str> = roles.into_iter().collect();
    or(&roles.join(","), "<none>").to_owned()
}

pub(super) static SERVICE: Table = Table {
    columns: &[
        NAME,
        col(
            "Type",
            "string",
            "type determines how the Service is exposed.",
        ),
        col(
            "Cluster-IP",
            "string",
            "clusterIP is the IP address of the service.",
        ),
        col(
            "External-IP",
            "string",
            "externalIPs is a list of IP addresses.",
        ),
        col(
            "Port(s)",
            "string",
            "The list of ports that are exposed by this service.",
        ),
        AGE,
        wide(
            "Selector",
            "string",
            "Route service traffic to pods with these labels.",
        ),
    ],
    cells: service,
};

fn service(obj: &Value, now: Timestamp) -> Vec<Value> {
    // A v1 object names its first cluster IP twice; upstream prints `clusterIPs[0]`, which
    // the registry always fills.
    let first_ip = items(obj, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str);
    let cluster_ip = or(
        or(first_ip.unwrap_or(""), text(obj, "/spec/clusterIP")),
        "<none>",
    );
    let ports: Vec<String> = items(obj, "/spec/ports")
        .iter()
        .map(|p| {
            let (port, protocol) = (int(p, "/port"), text(p, "/protocol"));
            match int(p, "/nodePort") {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    vec![
        name(obj),
        text(obj, "/spec/type").into(),
        cluster_ip.into(),
        service_external_ip(obj).into(),
        or(&ports.join(","), "<none>").into(),
        age(obj, now),
        format_labels(at(obj, "/spec/selector")).into(),
    ]
}

/// Upstream `getServiceExternalIP`, unclipped as in wide output.
fn service_external_ip(obj: &Value) -> String {
    let external: Vec<&str> = items(obj, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match text(obj, "/spec/type") {
        "ClusterIP" | "NodePort" => or(&external.join(","), "<none>").to_owned(),
        "LoadBalancer" => {
            let ingress = items(obj, "/status/loadBalancer/ingress");
            let mut all: Vec<&str> = load_balancer_addresses(ingress).into_iter().collect();
            all.extend(external);
            or(&all.join(","), "<pending>").to_owned()
        }
        "ExternalName" => text(obj, "/spec/externalName").to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// The IP, else the hostname, of each load-balancer ingress point, sorted and distinct
/// (upstream `loadBalancerStatusStringer`).
pub(super) fn load_balancer_addresses(ingress: &[Value]) -> BTreeSet<&str> {
    ingress
        .iter()
        .map(|i| or(text(i, "/ip"), text(i, "/hostname")))
        .filter(|a| !a.is_empty())
        .collect()
}

pub(super) static ENDPOINTS: Table = Table {
    columns: &[
        NAME,
        col(
            "Endpoints",
            "string",
            "The set of all endpoints is the union of all subsets.",
        ),
        AGE,
    ],
    cells: |obj, now| vec![name(obj), endpoints(obj).into(), age(obj, now)],
};

/// Upstream `formatEndpoints` over all ports: `ip:port` per address and port, three at most.
fn endpoints(obj: &Value) -> String {
    let subsets = items(obj, "/subsets");
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    let mut all = Vec::new();
    for subset in subsets {
        let addresses = items(subset, "/addresses").iter().map(|a| text(a, "/ip"));
        match items(subset, "/ports") {
            // A headless service may have no ports.
            [] => all.extend(addresses.map(str::to_owned)),
            ports => {
                for port in ports {
                    let port = int(port, "/port");
                    all.extend(addresses.clone().map(|ip| join_host_port(ip, port)));
                }
            }
        }
    }
    const MAX: usize = 3;
    if all.len() > MAX {
        format!("{} + {} more...", all[..MAX].join(","), all.len() - MAX)
    } else {
        all.join(",")
    }
}

/// Go's `net.JoinHostPort`: IPv6 addresses in brackets.
pub(super) fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

pub(super) static NAMESPACE: Table = Table {
    columns: &[
        NAME,
        col("Status", "string", "The status of the namespace"),
        AGE,
    ],
    cells: |obj, now| vec![name(obj), text(obj, "/status/phase").into(), age(obj, now)],
};

pub(super) static CONFIG_MAP: Table = Table {
    columns: &[
        NAME,
        col("Data", "string", "Data contains the configuration data."),
        AGE,
    ],
    cells: |obj, now| {
        let entries = count(obj, "/data") + count(obj, "/binaryData");
        vec![name(obj), entries.into(), age(obj, now)]
    },
};

pub(super) static SECRET: Table = Table {
    columns: &[
        NAME,
        col(
            "Type",
            "string",
            "Used to facilitate programmatic handling of secret data.",
        ),
        col("Data", "string", "Data contains the secret data."),
        AGE,
    ],
    cells: |obj, now| {
        let kind = text(obj, "/type").into();
        vec![name(obj), kind, count(obj, "/data").into(), age(obj, now)]
    },
};

/// Since v1.35 upstream no longer counts the `secrets` a service account lists: no core
/// component has filled them since v1.24 (kubernetes/kubernetes#117160).
pub(super) static SERVICE_ACCOUNT: Table = Table {
    columns: &[NAME, AGE],
    cells: |obj, now| vec![name(obj), age(obj, now)],
};

pub(super) static REPLICATION_CONTROLLER: Table = Table {
    columns: &[
        NAME,
        col(
            "Desired",
            "integer",
            "Replicas is the number of desired replicas.",
        ),
        col(
            "Current",
            "integer",
            "Replicas is the most recently observed number of replicas.",
        ),
        col(
            "Ready",
            "integer",
            "The number of ready replicas for this replication controller.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        wide("Selector", "string", "Selector is a label query over pods."),
    ],
    cells: |obj, now| {
        let [names, images] = containers(at(obj, "/spec/template/spec"));
        vec![
            name(obj),
            int(obj, "/spec/replicas").into(),
            int(obj, "/status/replicas").into(),
            int(obj, "/status/readyReplicas").into(),
            age(obj, now),
            names,
            images,
            format_labels(at(obj, "/spec/selector")).into(),
        ]
    },
};

pub(super) static POD_TEMPLATE: Table = Table {
    columns: &[
        NAME,
        col(
            "Containers",
            "string",
            "Names of each container in the template.",
        ),
        col(
            "Images",
            "string",
            "Images referenced by each container in the template.",
        ),
        col("Pod Labels", "string", "The labels for the pod template."),
    ],
    cells: |obj, _now| {
        let [names, images] = containers(at(obj, "/template/spec"));
        let labels = format_labels(at(obj, "/template/metadata/labels"));
        vec![name(obj), names, images, labels.into()]
    },
};

pub(super) static RESOURCE_QUOTA: Table = Table {
    columns: &[
        NAME,
        col(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        col(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent \
             of contention on the node.",
        ),
        AGE,
    ],
    cells: resource_quota,
};

/// Upstream `printResourceQuota`: `resource: used/hard` for each hard limit by name, the
/// `limits.*` ones in their own column.
fn resource_quota(obj: &Value, now: Timestamp) -> Vec<Value> {
    let mut hard: Vec<(&String, &Value)> = map(obj, "/status/hard").into_iter().flatten().collect();
    hard.sort_by_key(|(resource, _)| *resource);
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for (resource, hard) in hard {
        let used = map(obj, "/status/used").and_then(|used| used.get(resource));
        let entry = format!("{resource}: {}/{}", quantity(used), quantity(Some(hard)));
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name(obj),
        requests.join(", ").into(),
        limits.join(", ").into(),
        age(obj, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().expect("a valid timestamp")
    }

    #[test]
    fn node_prints_readiness_roles_and_system_info() {
        let node = json!({
            "metadata": {
                "name": "worker-1",
                "creationTimestamp": "2024-04-28T12:00:00Z",
                "labels": {
                    "node-role.kubernetes.io/worker": "",
                    "node-role.kubernetes.io/control-plane": "",
                    "kubernetes.io/role": "infra",
                    "node-role.kubernetes.io/": "",
                },
            },
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": "False"},
                ],
                "addresses": [
                    {"type": "Hostname", "address": "worker-1"},
                    {"type": "InternalIP", "address": "10.0.0.7"},
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.35.0",
                    "osImage": "Debian GNU/Linux 13 (trixie)",
                    "kernelVersion": "6.12.0",
                },
            },
        });
        assert_eq!(
            NODE.cells(&node, now()),
            vec![
                json!("worker-1"),
                json!("NotReady,SchedulingDisabled"),
                json!("control-plane,infra,worker"),
                json!("3d"),
                json!("v1.35.0"),
                json!("10.0.0.7"),
                json!("<none>"),
                json!("Debian GNU/Linux 13 (trixie)"),
                json!("6.12.0"),
                json!("<unknown>"),
            ]
        );
        let bare = NODE.cells(&json!({"metadata": {"name": "n"}}), now());
        assert_eq!(bare[1..3], [json!("Unknown"), json!("<none>")]);
    }

    use crate::table::Printer;

    #[test]
    fn service_prints_type_addresses_and_ports() {
        let service = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {
                "type": "LoadBalancer",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10", "fd00::10"],
                "externalIPs": ["192.0.2.9"],
                "ports": [
                    {"port": 80, "protocol": "TCP", "nodePort": 30080},
                    {"port": 53, "protocol": "UDP"},
                ],
                "selector": {"tier": "front", "app": "web"},
            },
            "status": {"loadBalancer": {"ingress": [
                {"hostname": "lb.example.com"},
                {"ip": "203.0.113.5", "hostname": "ignored"},
            ]}},
        });
        assert_eq!(
            SERVICE.cells(&service, now()),
            vec![
                json!("web"),
                json!("LoadBalancer"),
                json!("10.96.0.10"),
                json!("203.0.113.5,lb.example.com,192.0.2.9"),
                json!("80:30080/TCP,53/UDP"),
                json!("60m"),
                json!("app=web,tier=front"),
            ]
        );
        let pending = json!({"spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.11"]}});
        let cells = SERVICE.cells(&pending, now());
        assert_eq!(
            cells[2..5],
            [json!("10.96.0.11"), json!("<pending>"), json!("<none>")]
        );
        let headless = json!({"spec": {"type": "ClusterIP", "clusterIPs": ["None"]}});
        assert_eq!(
            SERVICE.cells(&headless, now())[2..4],
            [json!("None"), json!("<none>")]
        );
        let external = json!({"spec": {"type": "ExternalName", "externalName": "db.example"}});
        assert_eq!(
            SERVICE.cells(&external, now())[2..4],
            [json!("<none>"), json!("db.example")]
        );
    }

    #[test]
    fn secret_counts_its_data() {
        let secret = json!({
            "metadata": {"name": "tls", "creationTimestamp": "2024-04-30T12:00:00Z"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
        });
        assert_eq!(
            SECRET.cells(&secret, now()),
            vec![
                json!("tls"),
                json!("kubernetes.io/tls"),
                json!(2),
                json!("24h")
            ]
        );
    }

    #[test]
    fn endpoints_list_three_addresses_then_a_count() {
        let endpoints = json!({"subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::2"}], "ports": [{"port": 80}]},
            {"addresses": [{"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}], "ports": [{"port": 8080}]},
        ]});
        let cells = ENDPOINTS.cells(&endpoints, now());
        assert_eq!(
            cells[1],
            json!("10.0.0.1:80,[fd00::2]:80,10.0.0.3:8080 + 1 more...")
        );
        assert_eq!(ENDPOINTS.cells(&json!({}), now())[1], json!("<none>"));
    }

    #[test]
    fn resource_quota_splits_requests_from_limits() {
        let quota = json!({"status": {
            "hard": {"requests.cpu": "2", "limits.memory": "2Gi", "pods": "10"},
            "used": {"requests.cpu": "500m", "pods": "3"},
        }});
        let cells = RESOURCE_QUOTA.cells(&quota, now());
        assert_eq!(cells[1], json!("pods: 3/10, requests.cpu: 500m/2"));
        assert_eq!(cells[2], json!("limits.memory: 0/2Gi"));
    }
}

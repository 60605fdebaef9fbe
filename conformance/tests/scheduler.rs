//! The scheduler through real clients: nodes are created through the API with GPU and
//! Neuron capacity (no kubelet runs), pods through kubectl; the in-process scheduler binds
//! them. What a user would check: where each pod lands, that pods which cannot fit stay
//! pending with the reason in `kubectl describe`, that a gang binds whole or not at all, and
//! that a high-priority pod preempts the lowest-priority ones.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually;
use ultrak8s_conformance::standin::finish_graceful_deletions;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn node(
    client: &kube::Client,
    name: &str,
    allocatable: serde_json::Value,
    extra: serde_json::Value,
) -> TestResult {
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    });
    if let (Some(node), Some(extra)) = (node.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            match (node.get_mut(key), value) {
                (Some(serde_json::Value::Object(into)), serde_json::Value::Object(from)) => {
                    for (k, v) in from {
                        into.insert(k.clone(), v.clone());
                    }
                }
                _ => {
                    node.insert(key.clone(), value.clone());
                }
            }
        }
    }
    let node: Node = serde_json::from_value(node)?;
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await?;
    Ok(())
}

fn node_of(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()?
        .node_name
        .clone()
        .filter(|n| !n.is_empty())
}

async fn placements(pods: &Api<Pod>, selector: &str) -> BTreeMap<String, Option<String>> {
    pods.list(&ListParams::default().labels(selector))
        .await
        .map(|l| {
            l.items
                .iter()
                .map(|p| (p.metadata.name.clone().unwrap_or_default(), node_of(p)))
                .collect()
        })
        .unwrap_or_default()
}

fn gpu_pod(name: &str, gpus: u32, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  containers:\n  - name: c\n    image: trainer\n    resources:\n      requests: {{cpu: 100m, nvidia.com/gpu: {gpus}}}\n      limits: {{nvidia.com/gpu: {gpus}}}\n"
    )
}

#[tokio::test]
async fn gpu_pods_land_only_where_enough_gpus_are_free() -> TestResult {
    let cluster = TestCluster::start().await?;
    let client = cluster.client().await?;
    node(
        &client,
        "cpu-1",
        json!({"cpu": "32", "memory": "128Gi", "pods": "110"}),
        json!({}),
    )
    .await?;
    node(
        &client,
        "gpu-1",
        json!({"cpu": "96", "memory": "1Ti", "pods": "110", "nvidia.com/gpu": "8"}),
        json!({}),
    )
    .await?;
    node(
        &client,
        "gpu-2",
        json!({"cpu": "96", "memory": "1Ti", "pods": "110", "nvidia.com/gpu": "8"}),
        json!({}),
    )
    .await?;
    node(
        &client,
        "trn-1",
        json!({"cpu": "128", "memory": "512Gi", "pods": "110", "aws.amazon.com/neuron": "16"}),
        json!({}),
    )
    .await?;
    cluster.spawn_scheduler(None);
    // Four 4-GPU pods fill both GPU nodes exactly; a fifth cannot fit anywhere.
    let manifests: String = (1..=5)
        .map(|i| gpu_pod(&format!("train-{i}"), 4, "job: train"))
        .collect::<Vec<_>>()
        .join("---\n");
    cluster
        .kubectl(&["apply", "-f", "-"], Some(&manifests))
        .await
        .expect_ok("kubectl apply");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually("four GPU pods bound", || async {
        placements(&pods, "job=train")
            .await
            .values()
            .filter(|n| n.is_some())
            .count()
            == 4
    })
    .await;
    let placed = placements(&pods, "job=train").await;
    let mut per_node: BTreeMap<String, u32> = BTreeMap::new();
    for node in placed.values().flatten() {
        *per_node.entry(node.clone()).or_default() += 1;
    }
    assert_eq!(
        per_node,
        BTreeMap::from([("gpu-1".into(), 2), ("gpu-2".into(), 2)]),
        "{placed:?}"
    );
    let pending: Vec<&String> = placed
        .iter()
        .filter(|(_, n)| n.is_none())
        .map(|(p, _)| p)
        .collect();
    assert_eq!(pending.len(), 1);
    // The user reads why in `kubectl describe pod`, with every node's reason counted.
    let pending = pending[0].clone();
    eventually("FailedScheduling shows in kubectl describe", || async {
        let out = cluster
            .kubectl(&["describe", "pod", &pending], None)
            .await
            .expect_ok("describe");
        out.contains("FailedScheduling")
            && out.contains("0/4 nodes are available: 4 Insufficient nvidia.com/gpu.")
    })
    .await;
    let pod = pods.get(&pending).await?;
    let condition = pod
        .status
        .and_then(|s| s.conditions)
        .and_then(|c| c.into_iter().find(|c| c.type_ == "PodScheduled"))
        .ok_or("no PodScheduled condition")?;
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("False", Some("Unschedulable"))
    );
    // Freeing a GPU node lets the pending pod in (the pod deletion is the event that retries it).
    let victim = placed
        .iter()
        .find(|(_, n)| n.as_deref() == Some("gpu-1"))
        .map(|(p, _)| p.clone())
        .ok_or("none on gpu-1")?;
    cluster
        .kubectl(
            &["delete", "pod", &victim, "--grace-period=0", "--force"],
            None,
        )
        .await
        .expect_ok("delete");
    eventually("the pending pod is bound after a GPU pod left", || async {
        pods.get(&pending)
            .await
            .ok()
            .and_then(|p| node_of(&p))
            .as_deref()
            == Some("gpu-1")
    })
    .await;
    // A Neuron pod goes to the Trainium node.
    let neuron = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: neuron\nspec:\n  containers:\n  - name: c\n    image: trainer\n    resources:\n      requests: {aws.amazon.com/neuron: 16}\n      limits: {aws.amazon.com/neuron: 16}\n";
    cluster
        .kubectl(&["apply", "-f", "-"], Some(neuron))
        .await
        .expect_ok("apply neuron");
    eventually("the Neuron pod is on trn-1", || async {
        pods.get("neuron")
            .await
            .ok()
            .and_then(|p| node_of(&p))
            .as_deref()
            == Some("trn-1")
    })
    .await;
    Ok(())
}

#[tokio::test]
async fn taints_and_affinity_are_honoured() -> TestResult {
    let cluster = TestCluster::start().await?;
    let client = cluster.client().await?;
    let small = json!({"cpu": "8", "memory": "32Gi", "pods": "110"});
    node(&client, "tainted", small.clone(), json!({"spec": {"taints": [{"key": "dedicated", "value": "infer", "effect": "NoSchedule"}]}, "metadata": {"labels": {"zone": "a"}}})).await?;
    node(
        &client,
        "zone-a",
        small.clone(),
        json!({"metadata": {"labels": {"zone": "a"}}}),
    )
    .await?;
    node(
        &client,
        "zone-b",
        small.clone(),
        json!({"metadata": {"labels": {"zone": "b"}}}),
    )
    .await?;
    node(
        &client,
        "cordoned",
        small,
        json!({"spec": {"unschedulable": true}, "metadata": {"labels": {"zone": "b"}}}),
    )
    .await?;
    cluster.spawn_scheduler(None);
    let manifests = r#"
apiVersion: v1
kind: Pod
metadata: {name: wants-b, labels: {t: x}}
spec:
  nodeSelector: {zone: b}
  containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: affine-a, labels: {t: x}}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: zone, operator: In, values: [a]}]
  containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: tolerates, labels: {t: x}}
spec:
  nodeSelector: {zone: a}
  tolerations: [{key: dedicated, operator: Equal, value: infer, effect: NoSchedule}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchFields: [{key: metadata.name, operator: In, values: [tainted]}]
  containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: nowhere, labels: {t: x}}
spec:
  nodeSelector: {zone: c}
  containers: [{name: c, image: x}]
"#;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(manifests))
        .await
        .expect_ok("apply");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually("three pods bound", || async {
        placements(&pods, "t=x")
            .await
            .values()
            .filter(|n| n.is_some())
            .count()
            == 3
    })
    .await;
    let placed = placements(&pods, "t=x").await;
    assert_eq!(
        placed["wants-b"].as_deref(),
        Some("zone-b"),
        "never the cordoned node"
    );
    assert_eq!(
        placed["affine-a"].as_deref(),
        Some("zone-a"),
        "never the tainted node"
    );
    assert_eq!(placed["tolerates"].as_deref(), Some("tainted"));
    assert_eq!(placed["nowhere"], None);
    eventually("the reasons are counted per node", || async {
        let out = cluster
            .kubectl(&["describe", "pod", "nowhere"], None)
            .await
            .expect_ok("describe");
        out.contains("0/4 nodes are available")
            && out.contains("node(s) didn't match Pod's node affinity/selector")
    })
    .await;
    Ok(())
}

fn gang(name: &str, members: usize, min: usize, gpus: u32) -> String {
    (0..members)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}-{i}\n  labels:\n    gang: {name}\n    pod-group.scheduling.sigs.k8s.io/name: {name}\n    pod-group.scheduling.sigs.k8s.io/min-available: \"{min}\"\n    scheduling.ultrak8s.io/gang-timeout-seconds: \"5\"\nspec:\n  containers:\n  - name: c\n    image: trainer\n    resources:\n      requests: {{nvidia.com/gpu: {gpus}}}\n      limits: {{nvidia.com/gpu: {gpus}}}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[tokio::test]
async fn a_gang_binds_whole_or_not_at_all() -> TestResult {
    let cluster = TestCluster::start().await?;
    let client = cluster.client().await?;
    for i in 1..=3 {
        node(
            &client,
            &format!("gpu-{i}"),
            json!({"cpu": "96", "memory": "1Ti", "pods": "110", "nvidia.com/gpu": "8"}),
            json!({}),
        )
        .await?;
    }
    cluster.spawn_scheduler(None);
    // 24 GPUs in all. A gang of 4 × 8 GPUs cannot fit: none of its pods may hold a node.
    cluster
        .kubectl(&["apply", "-f", "-"], Some(&gang("big", 4, 4, 8)))
        .await
        .expect_ok("apply big");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(
        "every member of the big gang reports why it is pending",
        || async {
            let list = pods
                .list(&ListParams::default().labels("gang=big"))
                .await
                .map(|l| l.items)
                .unwrap_or_default();
            list.len() == 4
                && list.iter().all(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| {
                            c.iter()
                                .any(|c| c.type_ == "PodScheduled" && c.status == "False")
                        })
                })
        },
    )
    .await;
    // Held members are released again: after the timeout no member is bound.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert!(
        placements(&pods, "gang=big")
            .await
            .values()
            .all(Option::is_none)
    );
    // A gang that fits (3 × 8 GPUs) binds whole, even while the big one keeps retrying.
    cluster
        .kubectl(
            &[
                "delete",
                "pod",
                "-l",
                "gang=big",
                "--grace-period=0",
                "--force",
            ],
            None,
        )
        .await
        .expect_ok("delete big");
    cluster
        .kubectl(&["apply", "-f", "-"], Some(&gang("fits", 3, 3, 8)))
        .await
        .expect_ok("apply fits");
    eventually("the fitting gang is bound whole", || async {
        let placed = placements(&pods, "gang=fits").await;
        placed.len() == 3 && placed.values().all(Option::is_some)
    })
    .await;
    let nodes: std::collections::BTreeSet<String> = placements(&pods, "gang=fits")
        .await
        .into_values()
        .flatten()
        .collect();
    assert_eq!(nodes.len(), 3, "one 8-GPU member per node");
    Ok(())
}

#[tokio::test]
async fn a_high_priority_pod_preempts_the_lowest() -> TestResult {
    let cluster = TestCluster::start().await?;
    let client = cluster.client().await?;
    node(
        &client,
        "gpu-1",
        json!({"cpu": "96", "memory": "1Ti", "pods": "110", "nvidia.com/gpu": "8"}),
        json!({}),
    )
    .await?;
    cluster.spawn_scheduler(None);
    // The victims' graceful deletions end as a kubelet would end them.
    let _kubelet = finish_graceful_deletions(client.clone(), "default");
    let classes = r#"
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: mid}
value: 100
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
"#;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(classes))
        .await
        .expect_ok("priority classes");
    let pod = |name: &str, class: &str, gpus: u32| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{p: x}}\nspec:\n  priorityClassName: {class}\n  containers:\n  - name: c\n    image: x\n    resources:\n      requests: {{nvidia.com/gpu: {gpus}}}\n      limits: {{nvidia.com/gpu: {gpus}}}\n"
        )
    };
    let fill = [
        pod("low-a", "low", 2),
        pod("low-b", "low", 2),
        pod("mid-a", "mid", 4),
    ]
    .join("---\n");
    cluster
        .kubectl(&["apply", "-f", "-"], Some(&fill))
        .await
        .expect_ok("fill the node");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually("the node is full", || async {
        placements(&pods, "p=x")
            .await
            .values()
            .filter(|n| n.is_some())
            .count()
            == 3
    })
    .await;
    // Needs 4 GPUs: evicting both 2-GPU low pods is enough; the mid pod stays.
    cluster
        .kubectl(&["apply", "-f", "-"], Some(&pod("urgent", "high", 4)))
        .await
        .expect_ok("urgent");
    eventually("the urgent pod is bound after preemption", || async {
        pods.get("urgent")
            .await
            .ok()
            .and_then(|p| node_of(&p))
            .as_deref()
            == Some("gpu-1")
    })
    .await;
    let left: Vec<String> = placements(&pods, "p=x").await.into_keys().collect();
    assert_eq!(left, ["mid-a", "urgent"]);
    let events = cluster
        .kubectl(
            &[
                "get",
                "events",
                "--field-selector",
                "reason=Preempted",
                "-o",
                "name",
            ],
            None,
        )
        .await
        .expect_ok("events");
    assert_eq!(events.lines().count(), 2, "{events}");
    Ok(())
}

#[tokio::test]
async fn a_resource_claim_gets_a_matching_gpu_through_dra() -> TestResult {
    let cluster = TestCluster::start().await?;
    let client = cluster.client().await?;
    let small = json!({"cpu": "96", "memory": "1Ti", "pods": "110"});
    node(&client, "a100-node", small.clone(), json!({})).await?;
    node(&client, "h100-node", small, json!({})).await?;
    cluster.spawn_scheduler(None);
    let slices = |node: &str, product: &str| {
        format!(
            r#"
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {{name: {node}-gpus}}
spec:
  driver: gpu.nvidia.com
  nodeName: {node}
  pool: {{name: {node}, generation: 1, resourceSliceCount: 1}}
  devices:
  - name: gpu-0
    attributes:
      productName: {{string: {product}}}
    capacity:
      memory: {{value: 80Gi}}
  - name: gpu-1
    attributes:
      productName: {{string: {product}}}
    capacity:
      memory: {{value: 80Gi}}
"#
        )
    };
    let objects = format!(
        r#"
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {{name: gpu.nvidia.com}}
spec:
  selectors:
  - cel: {{expression: 'device.driver == "gpu.nvidia.com"'}}
---
{}
---
{}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {{name: two-h100}}
spec:
  devices:
    requests:
    - name: gpus
      exactly:
        deviceClassName: gpu.nvidia.com
        allocationMode: ExactCount
        count: 2
        selectors:
        - cel:
            expression: 'device.attributes["gpu.nvidia.com"].productName == "H100" && device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("40Gi")) >= 0'
---
apiVersion: v1
kind: Pod
metadata: {{name: trainer}}
spec:
  resourceClaims: [{{name: gpus, resourceClaimName: two-h100}}]
  containers:
  - name: c
    image: trainer
    resources:
      claims: [{{name: gpus}}]
"#,
        slices("a100-node", "A100"),
        slices("h100-node", "H100")
    );
    cluster
        .kubectl(&["apply", "-f", "-"], Some(&objects))
        .await
        .expect_ok("apply DRA objects");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually("the pod is bound to the node with H100s", || async {
        pods.get("trainer")
            .await
            .ok()
            .and_then(|p| node_of(&p))
            .as_deref()
            == Some("h100-node")
    })
    .await;
    let claim = cluster
        .kubectl(&["get", "resourceclaim", "two-h100", "-o", "json"], None)
        .await
        .expect_ok("get claim");
    let claim: serde_json::Value = serde_json::from_str(&claim)?;
    let results = claim
        .pointer("/status/allocation/devices/results")
        .and_then(|r| r.as_array())
        .ok_or("no allocation")?;
    let mut devices: Vec<&str> = results
        .iter()
        .filter_map(|r| r["device"].as_str())
        .collect();
    devices.sort();
    assert_eq!(devices, ["gpu-0", "gpu-1"]);
    assert!(
        results
            .iter()
            .all(|r| r["pool"] == "h100-node" && r["driver"] == "gpu.nvidia.com")
    );
    assert_eq!(
        claim
            .pointer("/status/reservedFor/0/name")
            .and_then(|n| n.as_str()),
        Some("trainer")
    );
    Ok(())
}

#[tokio::test]
async fn a_bound_local_volume_pins_its_pod() -> TestResult {
    let cluster = TestCluster::start().await?;
    let client = cluster.client().await?;
    let small = json!({"cpu": "8", "memory": "32Gi", "pods": "110"});
    node(&client, "disk-1", small.clone(), json!({})).await?;
    node(&client, "disk-2", small, json!({})).await?;
    cluster.spawn_scheduler(None);
    let objects = r#"
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-1}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  claimRef: {namespace: default, name: data}
  local: {path: /mnt/disk}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [disk-2]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local
  volumeName: local-1
  resources: {requests: {storage: 100Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
  containers: [{name: c, image: db}]
---
apiVersion: v1
kind: Pod
metadata: {name: orphan}
spec:
  volumes: [{name: data, persistentVolumeClaim: {claimName: missing}}]
  containers: [{name: c, image: db}]
"#;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(objects))
        .await
        .expect_ok("apply");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually("the pod is on the volume's node", || async {
        pods.get("db")
            .await
            .ok()
            .and_then(|p| node_of(&p))
            .as_deref()
            == Some("disk-2")
    })
    .await;
    eventually("a pod whose claim is missing says so", || async {
        let out = cluster
            .kubectl(&["describe", "pod", "orphan"], None)
            .await
            .expect_ok("describe");
        out.contains("persistentvolumeclaim \"missing\" not found")
    })
    .await;
    Ok(())
}

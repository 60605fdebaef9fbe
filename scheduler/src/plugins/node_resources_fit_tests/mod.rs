use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Container, ContainerResizePolicy, Node, NodeSpec, NodeStatus, Pod, PodSpec,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::{Code, NodeInfo, PodInfo};

type List<'a> = &'a [(&'a str, &'a str)];

fn list(items: List) -> BTreeMap<String, Quantity> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

fn container(requests: List) -> Container {
    Container {
        name: "c".into(),
        resources: Some(ResourceRequirements {
            requests: Some(list(requests)),
            ..Default::default()
        }),
        resize_policy: None::<Vec<ContainerResizePolicy>>,
        ..Default::default()
    }
}

/// A pod with one container per entry of `containers` and of `init`.
fn pod_spec(containers: &[List], init: &[List]) -> PodSpec {
    PodSpec {
        containers: containers.iter().map(|r| container(r)).collect(),
        init_containers: (!init.is_empty()).then(|| init.iter().map(|r| container(r)).collect()),
        ..Default::default()
    }
}

fn pod_from(name: &str, spec: PodSpec) -> PodInfo {
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(spec),
        ..Default::default()
    }))
}

fn pod(containers: &[List], init: &[List]) -> PodInfo {
    pod_from("p", pod_spec(containers, init))
}

fn node(name: &str, allocatable: List, existing: &[List]) -> NodeInfo {
    let mut info = NodeInfo::new(Arc::new(Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(list(allocatable)),
            ..Default::default()
        }),
    }));
    for (i, r) in existing.iter().enumerate() {
        info.add_pod(Arc::new(pod_from(
            &format!("{name}-existing-{i}"),
            pod_spec(&[r], &[]),
        )));
    }
    info
}

/// Upstream's test node: 10 millicores, 20 bytes, 32 pods, 5 `example.com/aaa`,
/// 20 bytes of ephemeral storage, 5 `hugepages-2Mi`.
const NODE: List = &[
    ("cpu", "10m"),
    ("memory", "20"),
    ("pods", "32"),
    ("example.com/aaa", "5"),
    ("ephemeral-storage", "20"),
    ("hugepages-2Mi", "5"),
    ("aws.amazon.com/neuroncore", "2"),
];

fn run_filter(plugin: &NodeResourcesFit, pod: &PodInfo, node: &NodeInfo) -> Status {
    let mut state = CycleState::default();
    let (result, status) = plugin.pre_filter(&mut state, pod, &Snapshot::default());
    assert!(result.is_none());
    assert!(status.is_success());
    plugin.filter(&state, pod, node)
}

mod filtering;
mod scoring;

//! Table-driven tests after upstream `dynamicresources_test.go` and the structured
//! allocator's `allocator_test.go` (scenarios rewritten for GPUs and Neuron devices).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodResourceClaim,
    PodResourceClaimStatus, PodSpec, PodStatus,
};
use k8s_openapi::api::resource::v1::{
    AllocationResult, CELDeviceSelector, Device, DeviceAllocationResult, DeviceAttribute,
    DeviceClaim, DeviceClassConfiguration, DeviceClassSpec, DeviceRequest,
    DeviceRequestAllocationResult, DeviceSelector, DeviceSubRequest, ExactDeviceRequest,
    OpaqueDeviceConfiguration, ResourceClaimSpec, ResourceClaimStatus, ResourcePool,
    ResourceSliceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::*;
use crate::framework::Snapshot;

const GPU: &str = "gpu.nvidia.com";
const NEURON: &str = "neuron.amazonaws.com";

fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn device(name: &str, product: &str) -> Device {
    Device {
        name: name.into(),
        attributes: Some(BTreeMap::from([(
            "productName".to_owned(),
            DeviceAttribute {
                string: Some(product.into()),
                ..Default::default()
            },
        )])),
        ..Default::default()
    }
}

#[derive(Clone, Copy)]
enum Where<'a> {
    Node(&'a str),
    All,
    Label(&'a str, &'a str),
}

fn slice(
    name: &str,
    driver: &str,
    pool: &str,
    generation: i64,
    at: Where,
    devices: Vec<Device>,
) -> ResourceSlice {
    let (node_name, all_nodes, node_selector) = match at {
        Where::Node(n) => (Some(n.to_owned()), None, None),
        Where::All => (None, Some(true), None),
        Where::Label(k, v) => (
            None,
            None,
            Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: k.into(),
                        operator: "In".into(),
                        values: Some(vec![v.into()]),
                    }]),
                    match_fields: None,
                }],
            }),
        ),
    };
    ResourceSlice {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: ResourceSliceSpec {
            driver: driver.into(),
            pool: ResourcePool {
                name: pool.into(),
                generation,
                resource_slice_count: 1,
            },
            node_name,
            all_nodes,
            node_selector,
            devices: Some(devices),
            ..Default::default()
        },
    }
}

fn class(name: &str, expression: &str) -> DeviceClass {
    DeviceClass {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: DeviceClassSpec {
            selectors: Some(vec![DeviceSelector {
                cel: Some(CELDeviceSelector {
                    expression: expression.into(),
                }),
            }]),
            ..Default::default()
        },
    }
}

fn request(
    name: &str,
    class: &str,
    selectors: &[&str],
    count: Option<i64>,
    mode: Option<&str>,
) -> DeviceRequest {
    DeviceRequest {
        name: name.into(),
        exactly: Some(ExactDeviceRequest {
            device_class_name: class.into(),
            selectors: Some(
                selectors
                    .iter()
                    .map(|e| DeviceSelector {
                        cel: Some(CELDeviceSelector {
                            expression: (*e).into(),
                        }),
                    })
                    .collect(),
            ),
            count,
            allocation_mode: mode.map(str::to_owned),
            ..Default::default()
        }),
        first_available: None,
    }
}

fn claim(name: &str, requests: Vec<DeviceRequest>) -> ResourceClaim {
    ResourceClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: ResourceClaimSpec {
            devices: Some(DeviceClaim {
                requests: Some(requests),
                ..Default::default()
            }),
        },
        status: None,
    }
}

fn allocated(
    mut c: ResourceClaim,
    devices: &[(&str, &str, &str)],
    on: Option<&str>,
) -> ResourceClaim {
    c.status = Some(ResourceClaimStatus {
        allocation: Some(AllocationResult {
            devices: Some(DeviceAllocationResult {
                results: Some(
                    devices
                        .iter()
                        .map(|(driver, pool, device)| DeviceRequestAllocationResult {
                            request: "req".into(),
                            driver: (*driver).into(),
                            pool: (*pool).into(),
                            device: (*device).into(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                config: None,
            }),
            node_selector: on.map(super::super::dra_allocator::pin_to_node),
            allocation_timestamp: None,
        }),
        ..Default::default()
    });
    c
}

fn pod(name: &str, claims: &[&str]) -> PodInfo {
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("pod-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            resource_claims: Some(
                claims
                    .iter()
                    .map(|c| PodResourceClaim {
                        name: (*c).into(),
                        resource_claim_name: Some((*c).into()),
                        resource_claim_template_name: None,
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    }))
}

fn plugin(
    claims: Vec<ResourceClaim>,
    slices: Vec<ResourceSlice>,
    classes: Vec<DeviceClass>,
) -> DynamicResources {
    let claims: Vec<Arc<ResourceClaim>> = claims.into_iter().map(Arc::new).collect();
    let slices: Vec<Arc<ResourceSlice>> = slices.into_iter().map(Arc::new).collect();
    let classes: Vec<Arc<DeviceClass>> = classes.into_iter().map(Arc::new).collect();
    let by_name = claims.clone();
    DynamicResources::without_client(
        Arc::new(move |ns, name| {
            by_name
                .iter()
                .find(|c| {
                    c.metadata.namespace.as_deref() == Some(ns)
                        && c.metadata.name.as_deref() == Some(name)
                })
                .cloned()
        }),
        Arc::new(move || claims.clone()),
        Arc::new(move || slices.clone()),
        Arc::new(move |name| {
            classes
                .iter()
                .find(|c| c.metadata.name.as_deref() == Some(name))
                .cloned()
        }),
    )
}

fn gpu_class() -> DeviceClass {
    class("gpu", r#"device.driver == "gpu.nvidia.com""#)
}

fn neuron_class() -> DeviceClass {
    class("neuron", r#"device.driver == "neuron.amazonaws.com""#)
}

const H100: &str = r#"device.attributes["gpu.nvidia.com"].productName == "H100""#;

/// Runs PreFilter and Filter on every node; (pre-filter status, per-node status).
fn run(
    p: &DynamicResources,
    pod: &PodInfo,
    nodes: &[Node],
) -> (Status, CycleState, Vec<(String, Status)>) {
    let mut state = CycleState::default();
    let (_, pre) = p.pre_filter(&mut state, pod, &Snapshot::default());
    let mut out = Vec::new();
    if pre.is_success() {
        for n in nodes {
            let info = NodeInfo::new(Arc::new(n.clone()));
            out.push((info.name().to_owned(), p.filter(&state, pod, &info)));
        }
    }
    (pre, state, out)
}

#[derive(Debug, PartialEq)]
enum Want {
    Fit,
    No(Code, &'static str),
}

#[test]
fn filter_table() {
    use Want::*;
    let nodes = [
        node("node-a", &[("zone", "a")]),
        node("node-b", &[("zone", "b")]),
    ];
    struct Case {
        name: &'static str,
        claims: Vec<ResourceClaim>,
        slices: Vec<ResourceSlice>,
        classes: Vec<DeviceClass>,
        pod_claims: &'static [&'static str],
        pre_filter: Option<(Code, &'static str)>,
        want: [Want; 2],
    }
    let unsched = |r| No(Code::Unschedulable, r);
    let unres = |r| No(Code::UnschedulableAndUnresolvable, r);
    let cases = vec![
        Case {
            name: "CEL selector on productName picks the node with an H100",
            claims: vec![claim("c", vec![request("gpu", "gpu", &[H100], None, None)])],
            slices: vec![
                slice(
                    "a",
                    GPU,
                    "node-a",
                    1,
                    Where::Node("node-a"),
                    vec![device("gpu-0", "A100")],
                ),
                slice(
                    "b",
                    GPU,
                    "node-b",
                    1,
                    Where::Node("node-b"),
                    vec![device("gpu-0", "H100")],
                ),
            ],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [unsched("cannot allocate all claims"), Fit],
        },
        Case {
            name: "count 2 needs two free devices",
            claims: vec![claim("c", vec![request("gpu", "gpu", &[], Some(2), None)])],
            slices: vec![
                slice(
                    "a",
                    GPU,
                    "node-a",
                    1,
                    Where::Node("node-a"),
                    vec![device("gpu-0", "H100")],
                ),
                slice(
                    "b",
                    GPU,
                    "node-b",
                    1,
                    Where::Node("node-b"),
                    vec![device("gpu-0", "H100"), device("gpu-1", "H100")],
                ),
            ],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [unsched("cannot allocate all claims"), Fit],
        },
        Case {
            name: "devices allocated to another claim are not reused",
            claims: vec![
                claim("c", vec![request("gpu", "gpu", &[], None, None)]),
                allocated(
                    claim("other", vec![]),
                    &[(GPU, "node-b", "gpu-0")],
                    Some("node-b"),
                ),
            ],
            slices: vec![
                slice(
                    "a",
                    GPU,
                    "node-a",
                    1,
                    Where::Node("node-a"),
                    vec![device("gpu-0", "H100")],
                ),
                slice(
                    "b",
                    GPU,
                    "node-b",
                    1,
                    Where::Node("node-b"),
                    vec![device("gpu-0", "H100")],
                ),
            ],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [Fit, unsched("cannot allocate all claims")],
        },
        Case {
            name: "Neuron devices through the DeviceClass selector",
            claims: vec![claim(
                "c",
                vec![request("nc", "neuron", &[], Some(2), None)],
            )],
            slices: vec![
                slice(
                    "a",
                    GPU,
                    "node-a",
                    1,
                    Where::Node("node-a"),
                    vec![device("gpu-0", "H100"), device("gpu-1", "H100")],
                ),
                slice(
                    "b",
                    NEURON,
                    "node-b",
                    1,
                    Where::Node("node-b"),
                    vec![device("neuron-0", "trn2"), device("neuron-1", "trn2")],
                ),
            ],
            classes: vec![gpu_class(), neuron_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [unsched("cannot allocate all claims"), Fit],
        },
        Case {
            name: "allNodes slices serve every node",
            claims: vec![claim("c", vec![request("gpu", "gpu", &[], None, None)])],
            slices: vec![slice(
                "net",
                GPU,
                "fabric",
                1,
                Where::All,
                vec![device("gpu-0", "H100")],
            )],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [Fit, Fit],
        },
        Case {
            name: "nodeSelector slices serve matching nodes",
            claims: vec![claim("c", vec![request("gpu", "gpu", &[], None, None)])],
            slices: vec![slice(
                "z",
                GPU,
                "zone-b",
                1,
                Where::Label("zone", "b"),
                vec![device("gpu-0", "H100")],
            )],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [unsched("cannot allocate all claims"), Fit],
        },
        Case {
            name: "only the newest generation of a pool counts",
            claims: vec![claim("c", vec![request("gpu", "gpu", &[H100], None, None)])],
            slices: vec![
                slice(
                    "old",
                    GPU,
                    "node-a",
                    1,
                    Where::Node("node-a"),
                    vec![device("gpu-0", "H100")],
                ),
                slice(
                    "new",
                    GPU,
                    "node-a",
                    2,
                    Where::Node("node-a"),
                    vec![device("gpu-0", "A100")],
                ),
            ],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [
                unsched("cannot allocate all claims"),
                unsched("cannot allocate all claims"),
            ],
        },
        Case {
            name: "allocationMode All takes every matching device, none may be in use",
            claims: vec![
                claim("c", vec![request("gpu", "gpu", &[], None, Some("All"))]),
                allocated(
                    claim("other", vec![]),
                    &[(GPU, "node-a", "gpu-1")],
                    Some("node-a"),
                ),
            ],
            slices: vec![
                slice(
                    "a",
                    GPU,
                    "node-a",
                    1,
                    Where::Node("node-a"),
                    vec![device("gpu-0", "H100"), device("gpu-1", "H100")],
                ),
                slice(
                    "b",
                    GPU,
                    "node-b",
                    1,
                    Where::Node("node-b"),
                    vec![device("gpu-0", "H100"), device("gpu-1", "H100")],
                ),
            ],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [unsched("cannot allocate all claims"), Fit],
        },
        Case {
            name: "backtracking: the first request must leave the H100 to the second",
            claims: vec![claim(
                "c",
                vec![
                    request("any", "gpu", &[], None, None),
                    request("h100", "gpu", &[H100], None, None),
                ],
            )],
            slices: vec![slice(
                "a",
                GPU,
                "node-a",
                1,
                Where::Node("node-a"),
                vec![device("gpu-0", "H100"), device("gpu-1", "A100")],
            )],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [Fit, unsched("cannot allocate all claims")],
        },
        Case {
            name: "two claims of one pod never share a device",
            claims: vec![
                claim("c1", vec![request("gpu", "gpu", &[], None, None)]),
                claim("c2", vec![request("gpu", "gpu", &[], None, None)]),
            ],
            slices: vec![
                slice(
                    "a",
                    GPU,
                    "node-a",
                    1,
                    Where::Node("node-a"),
                    vec![device("gpu-0", "H100")],
                ),
                slice(
                    "b",
                    GPU,
                    "node-b",
                    1,
                    Where::Node("node-b"),
                    vec![device("gpu-0", "H100"), device("gpu-1", "H100")],
                ),
            ],
            classes: vec![gpu_class()],
            pod_claims: &["c1", "c2"],
            pre_filter: None,
            want: [unsched("cannot allocate all claims"), Fit],
        },
        Case {
            name: "an allocated claim restricts nodes through its node selector",
            claims: vec![allocated(
                claim("c", vec![]),
                &[(GPU, "node-b", "gpu-0")],
                Some("node-b"),
            )],
            slices: vec![],
            classes: vec![],
            pod_claims: &["c"],
            pre_filter: None,
            want: [unres("resourceclaim not available on the node"), Fit],
        },
        Case {
            name: "a selector that does not compile is a clear status, not a panic",
            claims: vec![claim(
                "c",
                vec![request(
                    "gpu",
                    "gpu",
                    &[r#"device.attributes["gpu.nvidia.com"].productName =="#],
                    None,
                    None,
                )],
            )],
            slices: vec![slice(
                "a",
                GPU,
                "node-a",
                1,
                Where::Node("node-a"),
                vec![device("gpu-0", "H100")],
            )],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [
                unres("CEL compile error"),
                unsched("cannot allocate all claims"),
            ],
        },
        Case {
            name: "a selector failing at runtime is a clear status",
            claims: vec![claim(
                "c",
                vec![request(
                    "gpu",
                    "gpu",
                    &[r#"device.attributes["gpu.nvidia.com"].memory > 4"#],
                    None,
                    None,
                )],
            )],
            slices: vec![slice(
                "a",
                GPU,
                "node-a",
                1,
                Where::Node("node-a"),
                vec![device("gpu-0", "H100")],
            )],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [
                unres("CEL runtime error"),
                unsched("cannot allocate all claims"),
            ],
        },
        Case {
            name: "a missing DeviceClass stops PreFilter",
            claims: vec![claim("c", vec![request("gpu", "missing", &[], None, None)])],
            slices: vec![],
            classes: vec![],
            pod_claims: &["c"],
            pre_filter: Some((
                Code::UnschedulableAndUnresolvable,
                "request gpu: device class missing does not exist",
            )),
            want: [Fit, Fit],
        },
        Case {
            name: "a missing claim stops PreFilter",
            claims: vec![],
            slices: vec![],
            classes: vec![],
            pod_claims: &["c"],
            pre_filter: Some((
                Code::UnschedulableAndUnresolvable,
                r#"resourceclaim "c" not found"#,
            )),
            want: [Fit, Fit],
        },
        Case {
            name: "prioritized lists are refused",
            claims: vec![claim(
                "c",
                vec![DeviceRequest {
                    name: "gpu".into(),
                    exactly: None,
                    first_available: Some(vec![DeviceSubRequest {
                        name: "big".into(),
                        device_class_name: "gpu".into(),
                        ..Default::default()
                    }]),
                }],
            )],
            slices: vec![],
            classes: vec![gpu_class()],
            pod_claims: &["c"],
            pre_filter: None,
            want: [
                unres("not supported: firstAvailable"),
                unres("not supported: firstAvailable"),
            ],
        },
        Case {
            name: "pod without claims: Skip",
            claims: vec![],
            slices: vec![],
            classes: vec![],
            pod_claims: &[],
            pre_filter: Some((Code::Skip, "")),
            want: [Fit, Fit],
        },
    ];
    for case in cases {
        let p = plugin(case.claims, case.slices, case.classes);
        let pod = pod("p", case.pod_claims);
        let (pre, _, statuses) = run(&p, &pod, &nodes);
        if let Some((code, reason)) = case.pre_filter {
            assert_eq!(pre.code, code, "{}: {pre:?}", case.name);
            assert!(pre.message().starts_with(reason), "{}: {pre:?}", case.name);
            continue;
        }
        assert!(pre.is_success(), "{}: {pre:?}", case.name);
        for ((node, got), want) in statuses.iter().zip(&case.want) {
            match want {
                Fit => assert!(got.is_success(), "{} on {node}: {got:?}", case.name),
                No(code, reason) => {
                    assert_eq!(got.code, *code, "{} on {node}: {got:?}", case.name);
                    assert!(
                        got.message().contains(reason),
                        "{} on {node}: {got:?}",
                        case.name
                    );
                }
            }
        }
    }
}

#[test]
fn allocation_result_names_devices_config_and_node() {
    let mut gpu = gpu_class();
    gpu.spec.config = Some(vec![DeviceClassConfiguration {
        opaque: Some(OpaqueDeviceConfiguration {
            driver: GPU.into(),
            parameters: k8s_openapi::apimachinery::pkg::runtime::RawExtension(
                serde_json::json!({"sharing": "none"}),
            ),
        }),
    }]);
    let p = plugin(
        vec![claim(
            "c",
            vec![request("gpu", "gpu", &[H100], Some(2), None)],
        )],
        vec![
            slice(
                "b",
                GPU,
                "node-b",
                1,
                Where::Node("node-b"),
                vec![
                    device("gpu-0", "A100"),
                    device("gpu-1", "H100"),
                    device("gpu-2", "H100"),
                ],
            ),
            slice(
                "net",
                GPU,
                "fabric",
                1,
                Where::All,
                vec![device("gpu-9", "A100")],
            ),
        ],
        vec![gpu],
    );
    let pod = pod("p", &["c"]);
    let nodes = [node("node-b", &[])];
    let (_, mut state, statuses) = run(&p, &pod, &nodes);
    assert!(statuses[0].1.is_success());
    assert!(p.reserve(&mut state, &pod, "node-b").is_success());
    let in_flight = p.in_flight.lock();
    let a = &in_flight["uid-c"].allocation;
    let results = a
        .devices
        .as_ref()
        .expect("test data")
        .results
        .as_ref()
        .expect("test data");
    let names: Vec<_> = results
        .iter()
        .map(|r| {
            (
                r.request.as_str(),
                r.driver.as_str(),
                r.pool.as_str(),
                r.device.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("gpu", GPU, "node-b", "gpu-1"),
            ("gpu", GPU, "node-b", "gpu-2")
        ]
    );
    let config = a
        .devices
        .as_ref()
        .expect("test data")
        .config
        .as_ref()
        .expect("test data");
    assert_eq!(config[0].source, "FromClass");
    assert_eq!(config[0].requests.as_deref(), Some(&["gpu".to_owned()][..]));
    assert_eq!(
        a.node_selector,
        Some(super::super::dra_allocator::pin_to_node("node-b"))
    );
}

#[test]
fn in_flight_allocations_are_not_handed_out_twice() {
    let p = plugin(
        vec![
            claim("c1", vec![request("gpu", "gpu", &[], None, None)]),
            claim("c2", vec![request("gpu", "gpu", &[], None, None)]),
        ],
        vec![slice(
            "a",
            GPU,
            "node-a",
            1,
            Where::Node("node-a"),
            vec![device("gpu-0", "H100")],
        )],
        vec![gpu_class()],
    );
    let nodes = [node("node-a", &[])];
    let first = pod("first", &["c1"]);
    let second = pod("second", &["c2"]);
    let (_, mut state, statuses) = run(&p, &first, &nodes);
    assert!(statuses[0].1.is_success());
    assert!(p.reserve(&mut state, &first, "node-a").is_success());
    // The API does not show the allocation yet: the device is still taken.
    let (_, _, statuses) = run(&p, &second, &nodes);
    assert_eq!(statuses[0].1.message(), "cannot allocate all claims");
    // The same claim, asked for by another pod meanwhile, waits for the allocation.
    let sharer = pod("sharer", &["c1"]);
    let (pre, _, _) = run(&p, &sharer, &nodes);
    assert_eq!(
        pre.message(),
        "resource claim default/c1 is in the process of being allocated"
    );
    // PreBind without API access fails, and the framework unreserves.
    let status = futures::executor::block_on(p.pre_bind(&state, &first, "node-a"));
    assert_eq!(status.code, Code::Error);
    p.unreserve(&state, &first, "node-a");
    p.unreserve(&state, &first, "node-a"); // idempotent
    let (_, _, statuses) = run(&p, &second, &nodes);
    assert!(statuses[0].1.is_success(), "{statuses:?}");
}

#[test]
fn pre_enqueue_waits_for_claims() {
    let generated = {
        let mut c = claim("p-gpu-x7", vec![request("gpu", "gpu", &[], None, None)]);
        c.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: "p".into(),
            uid: "pod-p".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        c
    };
    let p = plugin(vec![claim("direct", vec![]), generated], vec![], vec![]);
    let with_template = |status: Option<&str>| {
        let mut pod = (*pod("p", &[]).pod).clone();
        pod.spec.as_mut().expect("test data").resource_claims = Some(vec![PodResourceClaim {
            name: "gpu".into(),
            resource_claim_name: None,
            resource_claim_template_name: Some("gpu-template".into()),
        }]);
        pod.status = status.map(|name| PodStatus {
            resource_claim_statuses: Some(vec![PodResourceClaimStatus {
                name: "gpu".into(),
                resource_claim_name: Some(name.into()),
            }]),
            ..Default::default()
        });
        PodInfo::new(Arc::new(pod))
    };
    let cases: Vec<(&str, PodInfo, Code, &str)> = vec![
        ("no claims", pod("p", &[]), Code::Success, ""),
        ("existing claim", pod("p", &["direct"]), Code::Success, ""),
        (
            "missing claim",
            pod("p", &["nope"]),
            Code::Pending,
            r#"resourceclaim "nope" not found"#,
        ),
        (
            "template claim not created yet",
            with_template(None),
            Code::Pending,
            "waiting for resource claim to be created",
        ),
        (
            "template claim created",
            with_template(Some("p-gpu-x7")),
            Code::Success,
            "",
        ),
        (
            "claim not owned by the pod",
            with_template(Some("direct")),
            Code::Pending,
            "ResourceClaim default/direct was not created for pod default/p (pod is not owner)",
        ),
    ];
    for (name, pod, code, reason) in cases {
        let status = p.pre_enqueue(&pod);
        assert_eq!(status.code, code, "{name}: {status:?}");
        assert_eq!(status.message(), reason, "{name}");
    }
}

#[test]
fn registers_upstream_events() {
    let p = plugin(vec![], vec![], vec![]);
    let events = p.events();
    for (resource, action) in [
        (EventResource::ResourceClaim, ActionType::ADD),
        (EventResource::ResourceClaim, ActionType::UPDATE_OTHER),
        (EventResource::ResourceSlice, ActionType::ADD),
        (EventResource::ResourceSlice, ActionType::UPDATE_OTHER),
        (EventResource::DeviceClass, ActionType::UPDATE_OTHER),
        (EventResource::Node, ActionType::ADD),
        (EventResource::AssignedPod, ActionType::DELETE),
    ] {
        let happened = ClusterEvent::new(resource, action, "test");
        assert!(
            events.iter().any(|e| e.covers(&happened)),
            "{resource:?} {action:?}"
        );
    }
    assert!(!events.iter().any(|e| e.covers(&ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_LABEL,
        "x"
    ))));
}

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

#[test]
fn filter_enough_requests_table() {
    struct Case {
        name: &'static str,
        containers: &'static [List<'static>],
        init: &'static [List<'static>],
        existing: &'static [List<'static>],
        args: NodeResourcesFitArgs,
        reasons: &'static [&'static str],
        code: Code,
    }
    let plain = NodeResourcesFitArgs::default;
    let ignoring = |names: &[&str], groups: &[&str]| NodeResourcesFitArgs {
        ignored_resources: names.iter().map(|s| s.to_string()).collect(),
        ignored_resource_groups: groups.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    use Code::{Success, Unschedulable, UnschedulableAndUnresolvable as Unresolvable};
    let cases = vec![
        Case {
            name: "no resources requested always fits",
            containers: &[&[]],
            init: &[],
            existing: &[&[("cpu", "10m"), ("memory", "20")]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "too many resources fails",
            containers: &[&[("cpu", "1m"), ("memory", "1")]],
            init: &[],
            existing: &[&[("cpu", "10m"), ("memory", "20")]],
            args: plain(),
            reasons: &["Insufficient cpu", "Insufficient memory"],
            code: Unschedulable,
        },
        Case {
            name: "too many resources fails due to init container cpu",
            containers: &[&[("cpu", "1m"), ("memory", "1")]],
            init: &[&[("cpu", "3m"), ("memory", "1")]],
            existing: &[&[("cpu", "8m"), ("memory", "19")]],
            args: plain(),
            reasons: &["Insufficient cpu"],
            code: Unschedulable,
        },
        Case {
            name: "too many resources fails due to highest init container cpu",
            containers: &[&[("cpu", "1m"), ("memory", "1")]],
            init: &[
                &[("cpu", "3m"), ("memory", "1")],
                &[("cpu", "2m"), ("memory", "1")],
            ],
            existing: &[&[("cpu", "8m"), ("memory", "19")]],
            args: plain(),
            reasons: &["Insufficient cpu"],
            code: Unschedulable,
        },
        Case {
            name: "too many resources fails due to init container memory",
            containers: &[&[("cpu", "1m"), ("memory", "1")]],
            init: &[&[("cpu", "1m"), ("memory", "3")]],
            existing: &[&[("cpu", "9m"), ("memory", "19")]],
            args: plain(),
            reasons: &["Insufficient memory"],
            code: Unschedulable,
        },
        Case {
            name: "init container fits because it's the max, not sum, of containers and init containers",
            containers: &[&[("cpu", "1m"), ("memory", "1")]],
            init: &[&[("cpu", "1m"), ("memory", "1")]],
            existing: &[&[("cpu", "9m"), ("memory", "19")]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "multiple init containers fit because it's the max, not sum",
            containers: &[&[("cpu", "1m"), ("memory", "1")]],
            init: &[
                &[("cpu", "1m"), ("memory", "1")],
                &[("cpu", "1m"), ("memory", "1")],
            ],
            existing: &[&[("cpu", "9m"), ("memory", "19")]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "both resources fit",
            containers: &[&[("cpu", "1m"), ("memory", "1")]],
            init: &[],
            existing: &[&[("cpu", "5m"), ("memory", "5")]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "one resource memory fits",
            containers: &[&[("cpu", "2m"), ("memory", "1")]],
            init: &[],
            existing: &[&[("cpu", "9m"), ("memory", "5")]],
            args: plain(),
            reasons: &["Insufficient cpu"],
            code: Unschedulable,
        },
        Case {
            name: "one resource cpu fits",
            containers: &[&[("cpu", "1m"), ("memory", "2")]],
            init: &[],
            existing: &[&[("cpu", "5m"), ("memory", "19")]],
            args: plain(),
            reasons: &["Insufficient memory"],
            code: Unschedulable,
        },
        Case {
            name: "equal edge case",
            containers: &[&[("cpu", "5m"), ("memory", "1")]],
            init: &[],
            existing: &[&[("cpu", "5m"), ("memory", "19")]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "equal edge case for init container",
            containers: &[&[("cpu", "4m"), ("memory", "1")]],
            init: &[&[("cpu", "5m"), ("memory", "1")]],
            existing: &[&[("cpu", "5m"), ("memory", "19")]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "extended resource fits",
            containers: &[&[("example.com/aaa", "1")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "extended resource fits for init container",
            containers: &[&[]],
            init: &[&[("example.com/aaa", "1")]],
            existing: &[&[]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "extended resource capacity enforced",
            containers: &[&[("example.com/aaa", "10")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &["Insufficient example.com/aaa"],
            code: Unresolvable,
        },
        Case {
            name: "extended resource capacity enforced for init container",
            containers: &[&[]],
            init: &[&[("example.com/aaa", "10")]],
            existing: &[&[]],
            args: plain(),
            reasons: &["Insufficient example.com/aaa"],
            code: Unresolvable,
        },
        Case {
            name: "extended resource allocatable enforced",
            containers: &[&[("example.com/aaa", "1")]],
            init: &[],
            existing: &[&[("example.com/aaa", "5")]],
            args: plain(),
            reasons: &["Insufficient example.com/aaa"],
            code: Unschedulable,
        },
        Case {
            name: "extended resource allocatable enforced for multiple containers",
            containers: &[&[("example.com/aaa", "3")], &[("example.com/aaa", "3")]],
            init: &[],
            existing: &[&[("example.com/aaa", "2")]],
            args: plain(),
            reasons: &["Insufficient example.com/aaa"],
            code: Unresolvable,
        },
        Case {
            name: "extended resource allocatable admits multiple init containers",
            containers: &[&[]],
            init: &[&[("example.com/aaa", "3")], &[("example.com/aaa", "2")]],
            existing: &[&[("example.com/aaa", "2")]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "extended resource allocatable enforced for multiple init containers",
            containers: &[&[]],
            init: &[&[("example.com/aaa", "6")], &[("example.com/aaa", "3")]],
            existing: &[&[("example.com/aaa", "2")]],
            args: plain(),
            reasons: &["Insufficient example.com/aaa"],
            code: Unresolvable,
        },
        Case {
            name: "extended resource allocatable enforced for unknown resource",
            containers: &[&[("example.com/bbb", "1")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &["Insufficient example.com/bbb"],
            code: Unresolvable,
        },
        Case {
            name: "extended resource allocatable enforced for unknown resource for init container",
            containers: &[&[]],
            init: &[&[("example.com/bbb", "1")]],
            existing: &[&[]],
            args: plain(),
            reasons: &["Insufficient example.com/bbb"],
            code: Unresolvable,
        },
        Case {
            name: "kubernetes.io resource is not an extended resource and is not checked",
            containers: &[&[("kubernetes.io/something", "10")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "hugepages resource capacity enforced",
            containers: &[&[("hugepages-2Mi", "10")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &["Insufficient hugepages-2Mi"],
            code: Unresolvable,
        },
        Case {
            name: "hugepages resource allocatable enforced for multiple containers",
            containers: &[&[("hugepages-2Mi", "3")], &[("hugepages-2Mi", "3")]],
            init: &[],
            existing: &[&[("hugepages-2Mi", "2")]],
            args: plain(),
            reasons: &["Insufficient hugepages-2Mi"],
            code: Unresolvable,
        },
        Case {
            name: "hugepages resource allocatable enforced by existing pods",
            containers: &[&[("hugepages-2Mi", "3")]],
            init: &[],
            existing: &[&[("hugepages-2Mi", "3")]],
            args: plain(),
            reasons: &["Insufficient hugepages-2Mi"],
            code: Unschedulable,
        },
        Case {
            name: "skip checking ignored extended resource",
            containers: &[&[("example.com/bbb", "1")]],
            init: &[],
            existing: &[&[]],
            args: ignoring(&["example.com/bbb"], &[]),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "skip checking ignored extended resource via resource groups",
            containers: &[&[("example.com/bbb", "1")]],
            init: &[],
            existing: &[&[]],
            args: ignoring(&[], &["example.com"]),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "resource groups do not ignore other domains",
            containers: &[&[("other.io/ccc", "1")]],
            init: &[],
            existing: &[&[]],
            args: ignoring(&[], &["example.com"]),
            reasons: &["Insufficient other.io/ccc"],
            code: Unresolvable,
        },
        Case {
            name: "ignored resources do not apply to hugepages",
            containers: &[&[("hugepages-2Mi", "10")]],
            init: &[],
            existing: &[&[]],
            args: ignoring(&["hugepages-2Mi"], &["hugepages-2Mi"]),
            reasons: &["Insufficient hugepages-2Mi"],
            code: Unresolvable,
        },
        Case {
            name: "ephemeral storage request exceeds allocatable",
            containers: &[&[("ephemeral-storage", "25")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &["Insufficient ephemeral-storage"],
            code: Unresolvable,
        },
        Case {
            name: "ephemeral storage is used by existing pods",
            containers: &[&[("ephemeral-storage", "10")]],
            init: &[],
            existing: &[&[("ephemeral-storage", "15")]],
            args: plain(),
            reasons: &["Insufficient ephemeral-storage"],
            code: Unschedulable,
        },
        Case {
            name: "ephemeral storage fits",
            containers: &[&[("ephemeral-storage", "10")]],
            init: &[],
            existing: &[&[("ephemeral-storage", "10")]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "neuroncore fits",
            containers: &[&[("aws.amazon.com/neuroncore", "2")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
        Case {
            name: "neuroncore taken",
            containers: &[&[("aws.amazon.com/neuroncore", "1")]],
            init: &[],
            existing: &[&[("aws.amazon.com/neuroncore", "2")]],
            args: plain(),
            reasons: &["Insufficient aws.amazon.com/neuroncore"],
            code: Unschedulable,
        },
        Case {
            name: "gpu on a node without gpus",
            containers: &[&[("nvidia.com/gpu", "1")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &["Insufficient nvidia.com/gpu"],
            code: Unresolvable,
        },
        Case {
            name: "one unresolvable reason makes the whole status unresolvable",
            containers: &[&[("cpu", "1m"), ("example.com/aaa", "6")]],
            init: &[],
            existing: &[&[("cpu", "10m")]],
            args: plain(),
            reasons: &["Insufficient cpu", "Insufficient example.com/aaa"],
            code: Unresolvable,
        },
        Case {
            name: "a zero extended request is not checked",
            containers: &[&[("example.com/bbb", "0")]],
            init: &[],
            existing: &[&[]],
            args: plain(),
            reasons: &[],
            code: Success,
        },
    ];
    for case in cases {
        let plugin = NodeResourcesFit::new(case.args).expect(case.name);
        let p = pod(case.containers, case.init);
        let n = node("n", NODE, case.existing);
        let status = run_filter(&plugin, &p, &n);
        assert_eq!(status.code, case.code, "{}: {:?}", case.name, status);
        assert_eq!(status.reasons, case.reasons, "{}", case.name);
        if !status.is_success() {
            assert_eq!(status.plugin, NAME, "{}", case.name);
        }
    }
}

#[test]
fn filter_pod_overhead_sidecars_and_pod_level_table() {
    let with_overhead = |overhead: List| {
        let mut spec = pod_spec(&[&[("cpu", "1m"), ("memory", "1")]], &[]);
        spec.overhead = Some(list(overhead));
        pod_from("o", spec)
    };
    let sidecar = {
        let mut spec = pod_spec(&[&[("cpu", "1m")]], &[&[("cpu", "3m")]]);
        if let Some(init) = spec.init_containers.as_mut() {
            init[0].restart_policy = Some("Always".into());
        }
        pod_from("s", spec)
    };
    let pod_level = {
        let mut spec = pod_spec(&[&[("cpu", "1m")]], &[]);
        spec.resources = Some(ResourceRequirements {
            requests: Some(list(&[("cpu", "6m")])),
            ..Default::default()
        });
        pod_from("l", spec)
    };
    let cases: Vec<(&str, PodInfo, List, &[&str])> = vec![
        (
            "overhead fits",
            with_overhead(&[("cpu", "3m"), ("memory", "13")]),
            &[("cpu", "5m"), ("memory", "5")],
            &[],
        ),
        (
            "overhead makes memory insufficient",
            with_overhead(&[("cpu", "1m"), ("memory", "15")]),
            &[("cpu", "5m"), ("memory", "5")],
            &["Insufficient memory"],
        ),
        (
            "restartable init container adds to the containers",
            sidecar,
            &[("cpu", "7m")],
            &["Insufficient cpu"],
        ),
        (
            "pod-level requests replace the container sum",
            pod_level,
            &[("cpu", "5m")],
            &["Insufficient cpu"],
        ),
    ];
    let plugin = NodeResourcesFit::default();
    for (name, p, existing, reasons) in cases {
        let n = node("n", NODE, &[existing]);
        let status = run_filter(&plugin, &p, &n);
        assert_eq!(status.reasons, reasons, "{name}");
        let want = if reasons.is_empty() {
            Code::Success
        } else {
            Code::Unschedulable
        };
        assert_eq!(status.code, want, "{name}");
    }
}

#[test]
fn filter_pod_count_table() {
    // (name, allowed pods, existing pods, pod requests, reasons)
    let cases: Vec<(&str, &str, usize, List, &[&str])> = vec![
        (
            "even without requests, too many pods",
            "1",
            1,
            &[],
            &["Too many pods"],
        ),
        (
            "even for an extended resource, too many pods",
            "1",
            1,
            &[("example.com/aaa", "1")],
            &["Too many pods"],
        ),
        (
            "too many pods and too many resources",
            "1",
            1,
            &[("cpu", "11m")],
            &["Too many pods", "Insufficient cpu"],
        ),
        ("room for one more", "2", 1, &[], &[]),
        ("no pods allowed", "0", 0, &[], &["Too many pods"]),
    ];
    let plugin = NodeResourcesFit::default();
    for (name, allowed, existing, requests, reasons) in cases {
        let alloc: Vec<(&str, &str)> = vec![
            ("cpu", "10m"),
            ("memory", "20"),
            ("example.com/aaa", "5"),
            ("pods", allowed),
        ];
        let empty: List = &[];
        let n = node("n", &alloc, &vec![empty; existing]);
        let p = pod(&[requests], &[]);
        let status = run_filter(&plugin, &p, &n);
        assert_eq!(status.reasons, reasons, "{name}");
        // "Too many pods" alone stays Unschedulable: preemption can free a slot.
        if reasons == ["Too many pods"] {
            assert_eq!(status.code, Code::Unschedulable, "{name}");
        }
    }
}

#[test]
fn filter_without_pre_filter_state_is_an_error() {
    let plugin = NodeResourcesFit::default();
    let status = plugin.filter(
        &CycleState::default(),
        &pod(&[&[]], &[]),
        &node("n", NODE, &[]),
    );
    assert_eq!(status.code, Code::Error);
}

#[test]
fn fits_request_reports_amounts() {
    let p = pod(&[&[("cpu", "4m"), ("example.com/aaa", "7")]], &[]);
    let n = node("n", NODE, &[&[("cpu", "8m")]]);
    let got = fits_request(&p, &n);
    assert_eq!(
        got,
        vec![
            InsufficientResource {
                resource_name: "cpu".into(),
                reason: "Insufficient cpu".into(),
                requested: 4,
                used: 8,
                capacity: 10,
                unresolvable: false
            },
            InsufficientResource {
                resource_name: "example.com/aaa".into(),
                reason: "Insufficient example.com/aaa".into(),
                requested: 7,
                used: 0,
                capacity: 5,
                unresolvable: true
            },
        ]
    );
    assert!(fits_request(&pod(&[&[("cpu", "2m")]], &[]), &n).is_empty());
}

fn score_one(plugin: &NodeResourcesFit, p: &PodInfo, n: &NodeInfo) -> i64 {
    let mut state = CycleState::default();
    let nodes = [Arc::new(n.clone())];
    assert!(
        plugin
            .pre_score(&mut state, p, &nodes, &Snapshot::default())
            .is_success()
    );
    let (score, status) = plugin.score(&state, p, n);
    assert!(status.is_success(), "{status:?}");
    // Score without PreScore state computes the same.
    assert_eq!(plugin.score(&CycleState::default(), p, n).0, score);
    score
}

fn strategy(s: ScoringStrategy, resources: &[(&str, i64)]) -> NodeResourcesFit {
    NodeResourcesFit::new(NodeResourcesFitArgs {
        scoring_strategy: s,
        resources: resources
            .iter()
            .map(|(n, w)| ResourceSpec::new(n, *w))
            .collect(),
        ..Default::default()
    })
    .expect("valid args")
}

const CPU_MEM: &[(&str, i64)] = &[("cpu", 1), ("memory", 1)];
const WITH_GPU: &[(&str, i64)] = &[("cpu", 1), ("memory", 1), ("nvidia.com/gpu", 3)];

#[test]
fn score_table() {
    let least = || strategy(ScoringStrategy::LeastAllocated, CPU_MEM);
    let most = || strategy(ScoringStrategy::MostAllocated, CPU_MEM);
    let rtcr = |points: &[(i64, i64)], resources: &[(&str, i64)]| {
        let shape = points
            .iter()
            .map(|&(utilization, score)| UtilizationShapePoint { utilization, score })
            .collect();
        strategy(
            ScoringStrategy::RequestedToCapacityRatio { shape },
            resources,
        )
    };
    let pack: &[(i64, i64)] = &[(0, 0), (100, 10)];
    let spread: &[(i64, i64)] = &[(0, 10), (100, 0)];
    let two: &[List] = &[
        &[("cpu", "1000m"), ("memory", "2000")],
        &[("cpu", "2000m"), ("memory", "3000")],
    ];
    let gpu_pod: &[List] = &[&[
        ("cpu", "1000m"),
        ("memory", "2000"),
        ("nvidia.com/gpu", "1"),
    ]];
    let small: &[List] = &[&[("cpu", "1000m"), ("memory", "2000")]];
    let n4: List = &[("cpu", "4000m"), ("memory", "10000")];
    let n6: List = &[("cpu", "6000m"), ("memory", "10000")];
    let n4gpu: List = &[
        ("cpu", "4000m"),
        ("memory", "10000"),
        ("nvidia.com/gpu", "4"),
    ];
    let none: &[List] = &[];
    // (name, plugin, pod containers, node allocatable, existing pods, expected)
    type Case<'a> = (
        &'a str,
        NodeResourcesFit,
        &'a [List<'a>],
        List<'a>,
        &'a [List<'a>],
        i64,
    );
    let cases: Vec<Case> = vec![
        // cpu (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50 → 37.
        (
            "least: resources requested, 4 cores",
            least(),
            two,
            n4,
            none,
            37,
        ),
        (
            "least: resources requested, 6 cores",
            least(),
            two,
            n6,
            none,
            50,
        ),
        // cpu (10000-9000)*100/10000 = 10, memory (20000-15000)*100/20000 = 25 → 17.
        (
            "least: existing pods count",
            least(),
            two,
            &[("cpu", "10"), ("memory", "20000")],
            &[&[("cpu", "6"), ("memory", "10000")]],
            17,
        ),
        // cpu over capacity scores 0, memory 50 → 25.
        (
            "least: requested beyond capacity",
            least(),
            &[&[("cpu", "5"), ("memory", "5000")]],
            n4,
            none,
            25,
        ),
        // Best effort: 100m and 200Mi count. cpu 3900*100/4000 = 97; memory
        // (2Gi-200Mi)*100/2Gi = 90 → 93.
        (
            "least: best-effort pod counts default requests",
            least(),
            &[&[]],
            &[("cpu", "4"), ("memory", "2Gi")],
            none,
            93,
        ),
        // A best-effort pod already on the node counts its defaults too: cpu 3800/4000 → 95,
        // memory (2Gi-400Mi)/2Gi → 80 → 87.
        (
            "least: existing best-effort pods count default requests",
            least(),
            &[&[]],
            &[("cpu", "4"), ("memory", "2Gi")],
            &[&[]],
            87,
        ),
        (
            "least: a node without allocatable scores 0",
            least(),
            two,
            &[],
            none,
            0,
        ),
        // cpu 75, memory 80, gpu 3*100/4 = 75 weighted 3 → (75+80+225)/5 = 76.
        (
            "least: weighted gpu",
            strategy(ScoringStrategy::LeastAllocated, WITH_GPU),
            gpu_pod,
            n4gpu,
            none,
            76,
        ),
        // The node has no gpu: only cpu and memory count → 77.
        (
            "least: gpu resource skipped on a node without it",
            strategy(ScoringStrategy::LeastAllocated, WITH_GPU),
            gpu_pod,
            n4,
            none,
            77,
        ),
        // The pod asks for no gpu: not scored even where the node has some → 77.
        (
            "least: gpu not requested is not scored",
            strategy(ScoringStrategy::LeastAllocated, WITH_GPU),
            small,
            n4gpu,
            none,
            77,
        ),
        // cpu 75, memory 50 → 62.
        (
            "most: resources requested, 4 cores",
            most(),
            two,
            n4,
            none,
            62,
        ),
        (
            "most: resources requested, 6 cores",
            most(),
            two,
            n6,
            none,
            50,
        ),
        // cpu over capacity counts as full: 100, memory 50 → 75.
        (
            "most: requested beyond capacity",
            most(),
            &[&[("cpu", "5"), ("memory", "5000")]],
            n4,
            none,
            75,
        ),
        // cpu 25, memory 20, gpu 25×3 → (25+20+75)/5 = 24.
        (
            "most: weighted gpu",
            strategy(ScoringStrategy::MostAllocated, WITH_GPU),
            gpu_pod,
            n4gpu,
            none,
            24,
        ),
        // cpu 75 → 75, memory 50 → 50: round(62.5) = 63.
        ("rtcr: bin packing", rtcr(pack, CPU_MEM), two, n4, none, 63),
        // cpu 75 → 25, memory 50 → 50: round(37.5) = 38.
        ("rtcr: spreading", rtcr(spread, CPU_MEM), two, n4, none, 38),
        // (75×3 + 50)/4 = 68.75 → 69.
        (
            "rtcr: weighted",
            rtcr(pack, &[("cpu", 3), ("memory", 1)]),
            two,
            n4,
            none,
            69,
        ),
        // A resource scoring 0 is left out of the mean: cpu at 0% → 0, memory 50 → 50.
        (
            "rtcr: zero-scoring resource left out",
            rtcr(pack, CPU_MEM),
            &[&[("cpu", "0"), ("memory", "5000")]],
            n4,
            none,
            50,
        ),
        // cpu over capacity counts as 100% → 100, memory 50 → 75.
        (
            "rtcr: over capacity",
            rtcr(pack, CPU_MEM),
            &[&[("cpu", "5"), ("memory", "5000")]],
            n4,
            none,
            75,
        ),
        // gpu 25% → 25 (weight 3), cpu 25, memory 20 → (75+25+20)/5 = 24.
        (
            "rtcr: extended resource",
            rtcr(pack, WITH_GPU),
            gpu_pod,
            n4gpu,
            none,
            24,
        ),
        (
            "rtcr: everything zero scores 0",
            rtcr(pack, CPU_MEM),
            &[&[("cpu", "0"), ("memory", "0")]],
            n4,
            none,
            0,
        ),
    ];
    for (name, plugin, containers, alloc, existing, want) in cases {
        let p = pod(containers, &[]);
        let n = node("n", alloc, existing);
        assert_eq!(score_one(&plugin, &p, &n), want, "{name}");
    }
}

#[test]
fn score_with_no_resources_is_an_error() {
    let plugin = strategy(ScoringStrategy::LeastAllocated, &[]);
    let (_, status) = plugin.score(
        &CycleState::default(),
        &pod(&[&[]], &[]),
        &node("n", NODE, &[]),
    );
    assert_eq!(status.code, Code::Error);
}

#[test]
fn broken_linear_table() {
    let shape = [
        UtilizationShapePoint {
            utilization: 10,
            score: 1,
        },
        UtilizationShapePoint {
            utilization: 90,
            score: 9,
        },
    ];
    for (p, want) in [
        (0, 1),
        (5, 1),
        (10, 1),
        (15, 1),
        (20, 2),
        (50, 5),
        (89, 8),
        (90, 9),
        (95, 9),
        (100, 9),
    ] {
        assert_eq!(broken_linear(&shape, p), want, "p={p}");
    }
    let falling = [
        UtilizationShapePoint {
            utilization: 0,
            score: 100,
        },
        UtilizationShapePoint {
            utilization: 50,
            score: 20,
        },
        UtilizationShapePoint {
            utilization: 100,
            score: 60,
        },
    ];
    for (p, want) in [(0, 100), (25, 60), (50, 20), (75, 40), (100, 60)] {
        assert_eq!(broken_linear(&falling, p), want, "p={p}");
    }
    assert_eq!(broken_linear(&[], 50), 0);
}

#[test]
fn per_resource_scores() {
    // (requested, capacity, least, most)
    for (req, cap, least, most) in [
        (0, 100, 100, 0),
        (25, 100, 75, 25),
        (1, 3, 66, 33),
        (100, 100, 0, 100),
        (150, 100, 0, 100),
        (5, 0, 0, 0),
        (i64::MAX / 2, i64::MAX, 50, 49),
    ] {
        assert_eq!(least_requested_score(req, cap), least, "least {req}/{cap}");
        assert_eq!(most_requested_score(req, cap), most, "most {req}/{cap}");
    }
}

#[test]
fn args_validation_table() {
    let shape = |points: &[(i64, i64)]| ScoringStrategy::RequestedToCapacityRatio {
        shape: points
            .iter()
            .map(|&(utilization, score)| UtilizationShapePoint { utilization, score })
            .collect(),
    };
    let with =
        |s: ScoringStrategy, resources: &[(&str, i64)], groups: &[&str]| NodeResourcesFitArgs {
            scoring_strategy: s,
            resources: resources
                .iter()
                .map(|(n, w)| ResourceSpec::new(n, *w))
                .collect(),
            ignored_resource_groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        };
    let cases = vec![
        ("default", NodeResourcesFitArgs::default(), true),
        (
            "most allocated",
            with(ScoringStrategy::MostAllocated, CPU_MEM, &[]),
            true,
        ),
        (
            "weight 0",
            with(ScoringStrategy::LeastAllocated, &[("cpu", 0)], &[]),
            false,
        ),
        (
            "weight 101",
            with(ScoringStrategy::LeastAllocated, &[("cpu", 101)], &[]),
            false,
        ),
        (
            "weight 100",
            with(ScoringStrategy::LeastAllocated, &[("cpu", 100)], &[]),
            true,
        ),
        (
            "duplicate resource",
            with(
                ScoringStrategy::LeastAllocated,
                &[("cpu", 1), ("cpu", 2)],
                &[],
            ),
            false,
        ),
        (
            "group with a slash",
            with(
                ScoringStrategy::LeastAllocated,
                CPU_MEM,
                &["example.com/aaa"],
            ),
            false,
        ),
        (
            "group",
            with(ScoringStrategy::LeastAllocated, CPU_MEM, &["example.com"]),
            true,
        ),
        (
            "shape ok",
            with(shape(&[(0, 0), (100, 10)]), CPU_MEM, &[]),
            true,
        ),
        ("shape empty", with(shape(&[]), CPU_MEM, &[]), false),
        (
            "shape not increasing",
            with(shape(&[(50, 0), (50, 10)]), CPU_MEM, &[]),
            false,
        ),
        (
            "shape utilization over 100",
            with(shape(&[(0, 0), (101, 10)]), CPU_MEM, &[]),
            false,
        ),
        (
            "shape negative utilization",
            with(shape(&[(-1, 0)]), CPU_MEM, &[]),
            false,
        ),
        (
            "shape score over 10",
            with(shape(&[(0, 11)]), CPU_MEM, &[]),
            false,
        ),
    ];
    for (name, args, ok) in cases {
        assert_eq!(NodeResourcesFit::new(args).is_ok(), ok, "{name}");
    }
}

#[test]
fn registers_and_events() {
    let plugin = Arc::new(NodeResourcesFit::default());
    assert_eq!(plugin.name(), "NodeResourcesFit");
    let mut points = Points::default();
    plugin.clone().register(&mut points);
    assert_eq!(
        (
            points.pre_filter.len(),
            points.filter.len(),
            points.pre_score.len(),
            points.score.len()
        ),
        (1, 1, 1, 1)
    );
    let events = plugin.events();
    let covered = |e: &ClusterEvent| events.iter().any(|r| r.covers(e));
    assert!(covered(&ClusterEvent::NODE_ADD));
    assert!(covered(&ClusterEvent::ASSIGNED_POD_DELETE));
    assert!(covered(&ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_ALLOCATABLE,
        "x"
    )));
    assert!(covered(&ClusterEvent::new(
        EventResource::AssignedPod,
        ActionType::UPDATE_POD_SCALE_DOWN,
        "x"
    )));
    assert!(!covered(&ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_LABEL,
        "x"
    )));
    assert!(!covered(&ClusterEvent::new(
        EventResource::AssignedPod,
        ActionType::ADD,
        "x"
    )));
}

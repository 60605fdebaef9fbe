use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Node, NodeStatus, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::Code;

type List<'a> = &'a [(&'a str, &'a str)];

fn list(items: List) -> BTreeMap<String, Quantity> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

fn pod(name: &str, containers: &[List]) -> PodInfo {
    let containers = containers
        .iter()
        .map(|r| Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(list(r)),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }))
}

fn node(allocatable: List, existing: &[List]) -> NodeInfo {
    let mut info = NodeInfo::new(Arc::new(Node {
        metadata: ObjectMeta {
            name: Some("n".into()),
            ..Default::default()
        },
        status: Some(NodeStatus {
            allocatable: Some(list(allocatable)),
            ..Default::default()
        }),
        ..Default::default()
    }));
    for (i, r) in existing.iter().enumerate() {
        info.add_pod(Arc::new(pod(&format!("existing-{i}"), &[r])));
    }
    info
}

fn with(resources: &[&str]) -> BalancedAllocation {
    BalancedAllocation::new(resources.iter().map(|n| ResourceSpec::new(n, 1)).collect())
        .expect("valid")
}

#[test]
fn score_table() {
    let two: &[List] = &[
        &[("cpu", "1000m"), ("memory", "2000")],
        &[("cpu", "2000m"), ("memory", "3000")],
    ];
    let n4: List = &[("cpu", "4"), ("memory", "10000")];
    let n4gpu: List = &[("cpu", "4"), ("memory", "10000"), ("nvidia.com/gpu", "4")];
    let none: &[List] = &[];
    // (name, plugin, pod containers, node allocatable, existing pods, expected score)
    type Case<'a> = (
        &'a str,
        BalancedAllocation,
        &'a [List<'a>],
        List<'a>,
        &'a [List<'a>],
        i64,
    );
    let cases: Vec<Case> = vec![
        // cpu 0.75, memory 0.5 → std 0.125 → 87.
        (
            "resources requested, 4 cores",
            BalancedAllocation::default(),
            two,
            n4,
            none,
            87,
        ),
        // cpu 0.5, memory 0.5 → 100.
        (
            "resources requested, 6 cores",
            BalancedAllocation::default(),
            two,
            &[("cpu", "6"), ("memory", "10000")],
            none,
            100,
        ),
        // Existing pods count their plain requests (the one without memory adds none):
        // cpu 6000/10000 = 0.6, memory 5000/20000 = 0.25 → std 0.175 → 82.
        (
            "existing pods count plain requests",
            BalancedAllocation::default(),
            two,
            &[("cpu", "10"), ("memory", "20000")],
            &[&[("cpu", "3")]],
            82,
        ),
        // cpu capped at 1, memory 0.5 → std 0.25 → 75.
        (
            "fraction capped at one",
            BalancedAllocation::default(),
            &[&[("cpu", "5"), ("memory", "5000")]],
            n4,
            none,
            75,
        ),
        // Only cpu requested: cpu 0.25, memory 0 → std 0.125 → 87.
        (
            "only cpu requested",
            BalancedAllocation::default(),
            &[&[("cpu", "1")]],
            n4,
            none,
            87,
        ),
        // cpu 0.25, memory 0.2, gpu 0.5 → population std 0.1312 → 86.
        (
            "three resources",
            with(&["cpu", "memory", "nvidia.com/gpu"]),
            &[&[("cpu", "1"), ("memory", "2000"), ("nvidia.com/gpu", "2")]],
            n4gpu,
            none,
            86,
        ),
        // The pod does not ask for gpus: cpu 0.25, memory 0.2 → std 0.025 → 97.
        (
            "extended resource not requested is left out",
            with(&["cpu", "memory", "nvidia.com/gpu"]),
            &[&[("cpu", "1"), ("memory", "2000")]],
            n4gpu,
            none,
            97,
        ),
        // The node has no gpus: the same.
        (
            "extended resource the node lacks is left out",
            with(&["cpu", "memory", "nvidia.com/gpu"]),
            &[&[("cpu", "1"), ("memory", "2000"), ("nvidia.com/gpu", "2")]],
            n4,
            none,
            97,
        ),
        // No allocatable at all: no fractions, std 0.
        (
            "node without allocatable",
            BalancedAllocation::default(),
            two,
            &[],
            none,
            100,
        ),
        // One resource listed: a single fraction has no deviation.
        ("single resource", with(&["cpu"]), two, n4, none, 100),
    ];
    for (name, plugin, containers, alloc, existing, want) in cases {
        let p = pod("p", containers);
        let n = node(alloc, existing);
        let mut state = CycleState::default();
        let status = plugin.pre_score(&mut state, &p, &[Arc::new(n.clone())], &Snapshot::default());
        assert!(status.is_success(), "{name}: {status:?}");
        let (score, status) = plugin.score(&state, &p, &n);
        assert!(status.is_success(), "{name}");
        assert_eq!(score, want, "{name}");
        assert_eq!(
            plugin.score(&CycleState::default(), &p, &n).0,
            want,
            "{name} without state"
        );
    }
}

#[test]
fn best_effort_pods_are_skipped() {
    let plugin = BalancedAllocation::default();
    let n = node(&[("cpu", "4"), ("memory", "10000")], &[]);
    for (name, containers) in [
        ("no requests", &[&[] as List][..]),
        (
            "requests of other resources only",
            &[&[("ephemeral-storage", "1Gi")] as List][..],
        ),
        (
            "explicit zero requests",
            &[&[("cpu", "0"), ("memory", "0")] as List][..],
        ),
    ] {
        let p = pod("p", containers);
        let mut state = CycleState::default();
        let status = plugin.pre_score(&mut state, &p, &[], &Snapshot::default());
        assert_eq!(status.code, Code::Skip, "{name}");
        assert_eq!(
            plugin.score(&CycleState::default(), &p, &n),
            (0, Status::success()),
            "{name}"
        );
    }
}

#[test]
fn balanced_score_edges() {
    assert_eq!(balanced_score(&[], &[]), 100);
    assert_eq!(balanced_score(&[0, 0], &[0, 0]), 100);
    assert_eq!(balanced_score(&[10, 0], &[10, 10]), 50);
    assert_eq!(balanced_score(&[i64::MAX, 0], &[1, 1]), 50);
}

#[test]
fn args_validation_table() {
    let build = |r: &[(&str, i64)]| {
        BalancedAllocation::new(r.iter().map(|(n, w)| ResourceSpec::new(n, *w)).collect())
    };
    assert!(build(&[("cpu", 1), ("memory", 1)]).is_ok());
    assert!(build(&[("cpu", 1), ("memory", 1), ("nvidia.com/gpu", 1)]).is_ok());
    assert!(build(&[("cpu", 2)]).is_err(), "weight must be 1");
    assert!(build(&[("cpu", 0)]).is_err(), "weight must be 1");
    assert!(build(&[("cpu", 1), ("cpu", 1)]).is_err(), "duplicate");
}

#[test]
fn registers_pre_score_and_score() {
    let plugin = Arc::new(BalancedAllocation::default());
    assert_eq!(plugin.name(), "NodeResourcesBalancedAllocation");
    let mut points = Points::default();
    plugin.clone().register(&mut points);
    assert_eq!(
        (
            points.pre_score.len(),
            points.score.len(),
            points.filter.len()
        ),
        (1, 1, 0)
    );
    assert!(plugin.events().is_empty());
}

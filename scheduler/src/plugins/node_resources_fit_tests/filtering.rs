use super::*;

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

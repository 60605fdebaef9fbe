use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::*;

const NEG: i32 = -100;
const LOW: i32 = 0;
const MID: i32 = 100;
const HIGH: i32 = 1000;

/// A pod in `default` with a priority, labels and an optional start (nanoseconds).
fn pod(name: &str, priority: i32, labels: &[(&str, &str)], start: Option<i128>) -> Arc<PodInfo> {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(name.into()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(PodSpec {
            priority: Some(priority),
            ..Default::default()
        }),
        status: Some(PodStatus {
            start_time: start
                .map(|n| Time(Timestamp::from_nanosecond(n).unwrap_or(Timestamp::UNIX_EPOCH))),
            ..Default::default()
        }),
    })))
}

fn pdb(
    namespace: &str,
    selector: Option<&[(&str, &str)]>,
    allowed: i32,
    disrupted: &[&str],
) -> Arc<PodDisruptionBudget> {
    Arc::new(PodDisruptionBudget {
        metadata: ObjectMeta {
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            selector: selector.map(|s| LabelSelector {
                match_labels: Some(
                    s.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: Some(PodDisruptionBudgetStatus {
            disruptions_allowed: allowed,
            disrupted_pods: Some(
                disrupted
                    .iter()
                    .map(|n| (n.to_string(), Time(Timestamp::UNIX_EPOCH)))
                    .collect(),
            ),
            ..Default::default()
        }),
    })
}

fn names(pods: &[Arc<PodInfo>]) -> Vec<&str> {
    pods.iter().map(|p| p.name()).collect()
}

#[test]
fn filter_pods_with_pdb_violation_table() {
    let app = &[("app", "foo")][..];
    struct Case {
        name: &'static str,
        pods: Vec<Arc<PodInfo>>,
        pdbs: Vec<Arc<PodDisruptionBudget>>,
        violating: Vec<&'static str>,
        non_violating: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            name: "no pdbs: nothing violates",
            pods: vec![pod("a", LOW, app, None), pod("b", LOW, app, None)],
            pdbs: vec![],
            violating: vec![],
            non_violating: vec!["a", "b"],
        },
        Case {
            name: "one disruption allowed: the second matching pod violates",
            pods: vec![pod("a", LOW, app, None), pod("b", LOW, app, None)],
            pdbs: vec![pdb("default", Some(app), 1, &[])],
            violating: vec!["b"],
            non_violating: vec!["a"],
        },
        Case {
            name: "pods already in disruptedPods do not use up the budget",
            pods: vec![
                pod("a", LOW, app, None),
                pod("b", LOW, app, None),
                pod("c", LOW, app, None),
            ],
            pdbs: vec![pdb("default", Some(app), 1, &["c"])],
            violating: vec!["b"],
            non_violating: vec!["a", "c"],
        },
        Case {
            name: "a PDB in another namespace does not apply",
            pods: vec![pod("a", LOW, app, None)],
            pdbs: vec![pdb("other", Some(app), 0, &[])],
            violating: vec![],
            non_violating: vec!["a"],
        },
        Case {
            name: "a PDB with an empty selector matches nothing",
            pods: vec![pod("a", LOW, app, None)],
            pdbs: vec![pdb("default", Some(&[]), 0, &[])],
            violating: vec![],
            non_violating: vec!["a"],
        },
        Case {
            name: "a PDB without a selector matches nothing",
            pods: vec![pod("a", LOW, app, None)],
            pdbs: vec![pdb("default", None, 0, &[])],
            violating: vec![],
            non_violating: vec!["a"],
        },
        Case {
            name: "a pod without labels matches no PDB",
            pods: vec![pod("a", LOW, &[], None)],
            pdbs: vec![pdb("default", Some(app), 0, &[])],
            violating: vec![],
            non_violating: vec!["a"],
        },
        Case {
            name: "selector mismatch",
            pods: vec![pod("a", LOW, &[("app", "bar")], None)],
            pdbs: vec![pdb("default", Some(app), 0, &[])],
            violating: vec![],
            non_violating: vec!["a"],
        },
        Case {
            name: "violating any one of several matching PDBs is violating; order kept",
            pods: vec![
                pod("a", LOW, &[("app", "foo"), ("tier", "x")], None),
                pod("b", LOW, &[("app", "foo"), ("tier", "x")], None),
                pod("c", LOW, &[("app", "foo")], None),
            ],
            pdbs: vec![
                pdb("default", Some(&[("tier", "x")]), 1, &[]),
                pdb("default", Some(app), 5, &[]),
            ],
            violating: vec!["b"],
            non_violating: vec!["a", "c"],
        },
    ];
    for c in cases {
        let (v, nv) = filter_pods_with_pdb_violation(&c.pods, &c.pdbs);
        assert_eq!(names(&v), c.violating, "{}: violating", c.name);
        assert_eq!(names(&nv), c.non_violating, "{}: non-violating", c.name);
    }
}

#[test]
fn more_important_first_table() {
    let cases = [
        (
            "higher priority first",
            pod("a", HIGH, &[], Some(5)),
            pod("b", LOW, &[], Some(1)),
            Ordering::Less,
        ),
        (
            "lower priority last",
            pod("a", LOW, &[], Some(1)),
            pod("b", MID, &[], Some(5)),
            Ordering::Greater,
        ),
        (
            "equal priority: earlier start first",
            pod("a", MID, &[], Some(1)),
            pod("b", MID, &[], Some(2)),
            Ordering::Less,
        ),
        (
            "equal priority: no start time counts as latest",
            pod("a", MID, &[], None),
            pod("b", MID, &[], Some(2)),
            Ordering::Greater,
        ),
        (
            "equal everything",
            pod("a", MID, &[], Some(3)),
            pod("b", MID, &[], Some(3)),
            Ordering::Equal,
        ),
    ];
    for (name, a, b, want) in cases {
        assert_eq!(more_important_first(&a, &b), want, "{name}");
    }
}

fn cand(node: &str, violations: i64, victims: &[(i32, Option<i128>)]) -> Candidate {
    Candidate {
        node: node.into(),
        victims: victims
            .iter()
            .enumerate()
            .map(|(i, &(p, s))| pod(&format!("{node}-{i}"), p, &[], s))
            .collect(),
        num_pdb_violations: violations,
    }
}

#[test]
fn pick_one_node_for_preemption_table() {
    struct Case {
        name: &'static str,
        candidates: Vec<Candidate>,
        want: Option<&'static str>,
    }
    let cases = vec![
        Case {
            name: "no candidates",
            candidates: vec![],
            want: None,
        },
        Case {
            name: "a single candidate",
            candidates: vec![cand("n1", 3, &[(HIGH, None)])],
            want: Some("n1"),
        },
        Case {
            name: "fewest PDB violations wins over lower priority",
            candidates: vec![
                cand("n1", 1, &[(LOW, Some(0))]),
                cand("n2", 0, &[(MID, Some(0))]),
            ],
            want: Some("n2"),
        },
        Case {
            name: "lowest highest-victim priority",
            candidates: vec![
                cand("n1", 0, &[(HIGH, Some(0))]),
                cand("n2", 0, &[(MID, Some(0)), (LOW, Some(0)), (LOW, Some(0))]),
            ],
            want: Some("n2"),
        },
        Case {
            name: "smallest sum of priorities",
            candidates: vec![
                cand("n1", 0, &[(MID, Some(0)), (LOW, Some(0))]),
                cand("n2", 0, &[(MID, Some(0)), (NEG, Some(0))]),
            ],
            want: Some("n2"),
        },
        Case {
            name: "sum of adjusted priorities: more negative victims do not win",
            candidates: vec![
                cand("n1", 0, &[(MID, Some(0)), (NEG, Some(0)), (NEG, Some(0))]),
                cand("n2", 0, &[(MID, Some(0)), (NEG, Some(0))]),
            ],
            want: Some("n2"),
        },
        Case {
            name: "fewest victims when sums tie",
            candidates: vec![
                cand("n1", 0, &[(MID, Some(0)), (LOW, Some(0)), (LOW, Some(0))]),
                cand("n2", 0, &[(MID, Some(0)), (LOW, Some(0))]),
            ],
            want: Some("n2"),
        },
        Case {
            name: "latest start time of the highest-priority victims",
            candidates: vec![
                cand("n1", 0, &[(MID, Some(2)), (MID, Some(2))]),
                cand("n2", 0, &[(MID, Some(3)), (MID, Some(3))]),
                cand("n3", 0, &[(MID, Some(1)), (MID, Some(1))]),
            ],
            want: Some("n2"),
        },
        Case {
            name: "earliest of each node's highest-priority victims compared",
            candidates: vec![
                cand("n1", 0, &[(MID, Some(4)), (MID, Some(2))]),
                cand("n2", 0, &[(MID, Some(5)), (MID, Some(1))]),
                cand("n3", 0, &[(MID, Some(3)), (MID, Some(6))]),
            ],
            want: Some("n3"),
        },
        Case {
            name: "complete tie: the first",
            candidates: vec![
                cand("n1", 0, &[(MID, Some(1))]),
                cand("n2", 0, &[(MID, Some(1))]),
            ],
            want: Some("n1"),
        },
    ];
    for c in cases {
        let got =
            pick_one_node_for_preemption(&c.candidates).map(|i| c.candidates[i].node.as_str());
        assert_eq!(got, c.want, "{}", c.name);
    }
}

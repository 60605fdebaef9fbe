use super::*;

// ---------------------------------------------------------------------------------------
// PostFilter.

enum Want {
    /// The nominated node and the victims, most important first.
    Nominated(&'static str, Vec<&'static str>),
    /// One of these nodes (ties upstream leaves to map order).
    AnyOf(Vec<&'static str>),
    Rejected(Code, &'static str),
}

struct Case {
    name: &'static str,
    pod: P,
    pods: Vec<P>,
    nodes: Vec<N>,
    /// `None`: every node Unschedulable.
    statuses: Option<Vec<(&'static str, Code)>>,
    pdbs: Vec<Arc<PodDisruptionBudget>>,
    plugins: Plugins,
    want: Want,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            name: "",
            pod: pod("p"),
            pods: Vec::new(),
            nodes: Vec::new(),
            statuses: None,
            pdbs: Vec::new(),
            plugins: Plugins::Fit,
            want: Want::Rejected(Code::Error, ""),
        }
    }
}

fn run(c: &Case) -> (Option<PostFilterResult>, Status) {
    let fw = framework(c.plugins);
    let snap = snapshot(&c.nodes, &c.pods);
    let preemptor = c.pod.info();
    let mut state = CycleState::default();
    let (_, status) = fw.run_pre_filter(&mut state, &preemptor, &snap);
    assert!(status.is_success(), "{}: PreFilter {status:?}", c.name);
    let diag = match &c.statuses {
        Some(s) => diagnosis(s),
        None => diagnosis(&c.nodes.iter().map(|n| (n.name, U)).collect::<Vec<_>>()),
    };
    let pl = plugin(c.pdbs.clone(), DefaultPreemptionArgs::default(), 0);
    pl.post_filter(&state, &preemptor, &snap, &diag, &fw)
}

fn check(cases: Vec<Case>) {
    for c in &cases {
        let (result, status) = run(c);
        match &c.want {
            Want::Nominated(n, victims) => {
                assert!(status.is_success(), "{}: {status:?}", c.name);
                let r = result.unwrap_or_else(|| panic!("{}: no result", c.name));
                assert_eq!(r.nominated_node, *n, "{}", c.name);
                assert_eq!(names(&r.victims), *victims, "{}", c.name);
            }
            Want::AnyOf(nodes) => {
                assert!(status.is_success(), "{}: {status:?}", c.name);
                let r = result.unwrap_or_else(|| panic!("{}: no result", c.name));
                assert!(
                    nodes.contains(&r.nominated_node.as_str()),
                    "{}: got {}",
                    c.name,
                    r.nominated_node
                );
            }
            Want::Rejected(code, message) => {
                assert!(result.is_none(), "{}: unexpected {result:?}", c.name);
                assert_eq!(status.code, *code, "{}: {status:?}", c.name);
                assert_eq!(status.message(), *message, "{}", c.name);
            }
        }
    }
}

#[test]
fn post_filter_table() {
    let node_res = (200, 400);
    check(vec![
        Case {
            name: "pod with higher priority can be made schedulable",
            pod: pod("p").prio(HIGH),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![one_pod_node("node1")],
            want: Want::Nominated("node1", vec!["p1"]),
            ..Default::default()
        },
        Case {
            name: "pod with tied priority is still unschedulable",
            pod: pod("p"),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![one_pod_node("node1")],
            want: Want::Rejected(
                U,
                "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
            ),
            ..Default::default()
        },
        Case {
            name: "preemption should respect the statuses of the cycle",
            pod: pod("p").prio(HIGH),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![one_pod_node("node1")],
            statuses: Some(vec![("node1", UR)]),
            want: Want::Rejected(
                U,
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            ),
            ..Default::default()
        },
        Case {
            name: "a node without a status is unresolvable",
            pod: pod("p").prio(HIGH),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![one_pod_node("node1")],
            statuses: Some(vec![]),
            want: Want::Rejected(
                U,
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            ),
            ..Default::default()
        },
        Case {
            name: "pod can be made schedulable on one node",
            pod: pod("p").prio(MID),
            pods: vec![
                pod("p1").prio(HIGH).node("node1"),
                pod("p2").prio(LOW).node("node2"),
            ],
            nodes: vec![one_pod_node("node1"), one_pod_node("node2")],
            want: Want::Nominated("node2", vec!["p2"]),
            ..Default::default()
        },
        Case {
            name: "pod can be made schedulable on minHighestPriority node",
            pod: pod("p").prio(VERY_HIGH),
            pods: vec![
                pod("p1")
                    .label("pdb", "non-violating")
                    .prio(HIGH)
                    .node("node1"),
                pod("p2").label("pdb", "violating").prio(LOW).node("node1"),
                pod("p3").label("pdb", "violating").prio(MID).node("node2"),
            ],
            pdbs: vec![
                pdb(&[("pdb", "violating")], 0, &[]),
                pdb(&[("pdb", "non-violating")], i32::MAX, &[]),
            ],
            nodes: vec![one_pod_node("node1"), one_pod_node("node2")],
            want: Want::Nominated("node2", vec!["p3"]),
            ..Default::default()
        },
        Case {
            name: "a PDB-violating victim is avoided when another candidate exists",
            pod: pod("p").prio(HIGH),
            pods: vec![
                pod("guarded").label("app", "db").prio(LOW).node("node1"),
                pod("free").prio(MID).node("node2"),
            ],
            pdbs: vec![pdb(&[("app", "db")], 0, &[])],
            nodes: vec![one_pod_node("node1"), one_pod_node("node2")],
            want: Want::Nominated("node2", vec!["free"]),
            ..Default::default()
        },
        Case {
            name: "a PDB-violating victim is taken when it is the only way",
            pod: pod("p").prio(HIGH),
            pods: vec![
                pod("guarded").label("app", "db").prio(LOW).node("node1"),
                pod("x").prio(HIGH).node("node2"),
            ],
            pdbs: vec![pdb(&[("app", "db")], 0, &[])],
            nodes: vec![one_pod_node("node1"), one_pod_node("node2")],
            want: Want::Nominated("node1", vec!["guarded"]),
            ..Default::default()
        },
        Case {
            name: "no candidate nodes found, no enough resource after removing low priority pods",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1"), pod("p2").node("node2")],
            nodes: vec![node("node1", node_res), node("node2", node_res)],
            want: Want::Rejected(
                U,
                "preemption: 0/2 nodes are available: 2 Insufficient cpu.",
            ),
            ..Default::default()
        },
        Case {
            name: "no candidate nodes found with mixed reasons, no lower priority pod and no enough CPU resource",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(HIGH),
                pod("p2").node("node2"),
                pod("p3").node("node3").prio(HIGH),
            ],
            nodes: vec![
                one_pod_node("node1"),
                node("node2", node_res),
                one_pod_node("node3"),
            ],
            want: Want::Rejected(
                U,
                "preemption: 0/3 nodes are available: 1 Insufficient cpu, 2 No preemption victims found for incoming pod.",
            ),
            ..Default::default()
        },
        Case {
            name: "no candidate nodes found with mixed reason, 2 UnschedulableAndUnresolvable nodes and 2 nodes don't have enough CPU resource",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1"), pod("p2").node("node2")],
            nodes: vec![
                node("node1", node_res),
                node("node2", node_res),
                node("node3", node_res),
                node("node4", node_res),
            ],
            statuses: Some(vec![("node1", U), ("node2", U), ("node4", UR)]),
            want: Want::Rejected(
                U,
                "preemption: 0/4 nodes are available: 2 Insufficient cpu, 2 Preemption is not helpful for scheduling.",
            ),
            ..Default::default()
        },
        Case {
            name: "only one node but failed with TestPlugin",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![node("node1", LARGE).label("error", "true")],
            plugins: Plugins::FitAndError,
            want: Want::Rejected(
                Code::Error,
                "preemption: running RemovePod on PreFilter plugin \"test-plugin\": failed to remove pod: p",
            ),
            ..Default::default()
        },
        Case {
            name: "every node fails with TestPlugin: one error, reported once",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1"), pod("p2").node("node2")],
            nodes: vec![
                node("node1", LARGE).label("error", "true"),
                node("node2", LARGE).label("error", "true"),
            ],
            plugins: Plugins::FitAndError,
            want: Want::Rejected(
                Code::Error,
                "preemption: running RemovePod on PreFilter plugin \"test-plugin\": failed to remove pod: p",
            ),
            ..Default::default()
        },
        Case {
            name: "one failed with TestPlugin and the other pass",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1"), pod("p2").node("node2").req(MEDIUM)],
            nodes: vec![
                node("node1", LARGE).label("error", "true"),
                node("node2", LARGE),
            ],
            plugins: Plugins::FitAndError,
            want: Want::Nominated("node2", vec!["p2"]),
            ..Default::default()
        },
        Case {
            name: "preemptionPolicy Never does not preempt",
            pod: pod("p").prio(HIGH).req(VERY_LARGE).never(),
            pods: vec![pod("p1.1").node("node1").prio(LOW).req(SMALL)],
            nodes: vec![node("node1", VERY_LARGE)],
            want: Want::Rejected(U, "preemption: not eligible due to preemptionPolicy=Never."),
            ..Default::default()
        },
        Case {
            name: "a victim of an earlier preemption still terminating on the nominated node",
            pod: pod("p").prio(HIGH).nominated("node1"),
            pods: vec![pod("p1").prio(LOW).node("node1").preempted()],
            nodes: vec![one_pod_node("node1")],
            want: Want::Rejected(
                U,
                "preemption: not eligible due to a terminating pod on the nominated node.",
            ),
            ..Default::default()
        },
        Case {
            name: "basic preemption logic (TestPreempt)",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(LOW).req(SMALL),
                pod("p1.2").node("node1").prio(LOW).req(SMALL),
                pod("p2.1").node("node2").prio(HIGH).req(LARGE),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM),
            ],
            nodes: vec![
                node("node1", VERY_LARGE),
                node("node2", VERY_LARGE),
                node("node3", VERY_LARGE),
            ],
            want: Want::Nominated("node1", vec!["p1.1", "p1.2"]),
            ..Default::default()
        },
        Case {
            name: "equal and higher priority pods are never victims",
            pod: pod("p").prio(MID).req(LARGE),
            pods: vec![
                pod("same").node("node1").prio(MID).req(LARGE),
                pod("higher").node("node2").prio(HIGH).req(LARGE),
                pod("small").node("node2").prio(LOW).req(SMALL),
            ],
            nodes: vec![node("node1", VERY_LARGE), node("node2", VERY_LARGE)],
            want: Want::Rejected(
                U,
                "preemption: 0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 No preemption victims found for incoming pod.",
            ),
            ..Default::default()
        },
        Case {
            name: "pod with anti-affinity is preempted",
            pod: pod("p").label("foo", "").prio(HIGH).req(SMALL),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label("anti", "foo")
                    .prio(LOW)
                    .req(SMALL),
                pod("p1.2").node("node1").prio(MID).req(SMALL),
                pod("p1.3").node("node1").prio(HIGH).req(SMALL),
                pod("p2").node("node2").prio(HIGH).req(SMALL),
            ],
            nodes: vec![node("node1", VERY_LARGE), node("node2", VERY_LARGE)],
            statuses: Some(vec![("node1", U), ("node2", UR)]),
            plugins: Plugins::FitAndAnti,
            want: Want::Nominated("node1", vec!["p1.1"]),
            ..Default::default()
        },
    ]);
}

/// TestSelectBestCandidate: every node is full, the preemptor needs a whole node.
#[test]
fn select_best_candidate_table() {
    let full = |n: &'static str| node(n, VERY_LARGE);
    let p = || pod("p").prio(HIGH).req(VERY_LARGE);
    check(vec![
        Case {
            name: "a pod that fits on both nodes when lower priority pods are preempted",
            pod: p().req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
            ],
            nodes: vec![full("node1"), full("node2")],
            want: Want::AnyOf(vec!["node1", "node2"]),
            ..Default::default()
        },
        Case {
            name: "node with min highest priority pod is picked",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(MEDIUM),
                pod("p1.2").node("node1").prio(LOW).req(MEDIUM),
                pod("p2.1").node("node2").prio(HIGH - 1).req(MEDIUM),
                pod("p3.1").node("node3").prio(LOW).req(MEDIUM),
                pod("p3.2").node("node3").prio(LOW).req(MEDIUM),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::Nominated("node3", vec!["p3.1", "p3.2"]),
            ..Default::default()
        },
        Case {
            name: "when highest priorities are the same, minimum sum of priorities is picked",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(MEDIUM),
                pod("p1.2").node("node1").prio(LOW).req(MEDIUM),
                pod("p2.1").node("node2").prio(MID).req(MEDIUM),
                pod("p2.2").node("node2").prio(NEG).req(MEDIUM),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM),
                pod("p3.2").node("node3").prio(MID).req(MEDIUM),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::Nominated("node2", vec!["p2.1", "p2.2"]),
            ..Default::default()
        },
        Case {
            name: "sum of adjusted priorities is considered",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(SMALL).start(0),
                pod("p1.2").node("node1").prio(NEG).req(SMALL).start(0),
                pod("p1.3").node("node1").prio(NEG).req(SMALL).start(0),
                pod("p2.1").node("node2").prio(MID).req(LARGE).start(0),
                pod("p2.2").node("node2").prio(NEG).req(MEDIUM).start(0),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM).start(0),
                pod("p3.2").node("node3").prio(NEG).req(SMALL).start(0),
                pod("p3.3").node("node3").prio(LOW).req(SMALL).start(0),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::AnyOf(vec!["node2"]),
            ..Default::default()
        },
        Case {
            name: "non-overlapping lowest high priority, sum priorities, and number of pods",
            pod: pod("p").prio(VERY_HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(SMALL).start(0),
                pod("p1.2").node("node1").prio(LOW).req(SMALL).start(0),
                pod("p1.3").node("node1").prio(LOW).req(SMALL).start(0),
                pod("p2.1").node("node2").prio(HIGH).req(LARGE).start(0),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM).start(0),
                pod("p3.2").node("node3").prio(LOW).req(SMALL).start(0),
                pod("p3.3").node("node3").prio(LOW).req(SMALL).start(0),
                pod("p3.4").node("node3").prio(LOW).req(MEDIUM).start(0),
                pod("p4.1").node("node4").prio(MID).req(MEDIUM).start(0),
                pod("p4.2").node("node4").prio(MID).req(SMALL).start(0),
                pod("p4.3").node("node4").prio(MID).req(SMALL).start(0),
                pod("p4.4").node("node4").prio(NEG).req(SMALL).start(0),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3"), full("node4")],
            want: Want::AnyOf(vec!["node1"]),
            ..Default::default()
        },
        Case {
            name: "same priority, same number of victims, different start time for each node's pod",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(MEDIUM).start(2),
                pod("p1.2").node("node1").prio(MID).req(MEDIUM).start(2),
                pod("p2.1").node("node2").prio(MID).req(MEDIUM).start(3),
                pod("p2.2").node("node2").prio(MID).req(MEDIUM).start(3),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM).start(1),
                pod("p3.2").node("node3").prio(MID).req(MEDIUM).start(1),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::AnyOf(vec!["node2"]),
            ..Default::default()
        },
        Case {
            name: "same priority, same number of victims, different start time for all pods",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(MEDIUM).start(4),
                pod("p1.2").node("node1").prio(MID).req(MEDIUM).start(2),
                pod("p2.1").node("node2").prio(MID).req(MEDIUM).start(5),
                pod("p2.2").node("node2").prio(MID).req(MEDIUM).start(1),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM).start(3),
                pod("p3.2").node("node3").prio(MID).req(MEDIUM).start(6),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::AnyOf(vec!["node3"]),
            ..Default::default()
        },
        Case {
            name: "different priority, same number of victims, different start time for all pods",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(LOW).req(MEDIUM).start(4),
                pod("p1.2").node("node1").prio(MID).req(MEDIUM).start(2),
                pod("p2.1").node("node2").prio(MID).req(MEDIUM).start(6),
                pod("p2.2").node("node2").prio(LOW).req(MEDIUM).start(1),
                pod("p3.1").node("node3").prio(LOW).req(MEDIUM).start(3),
                pod("p3.2").node("node3").prio(MID).req(MEDIUM).start(5),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::Nominated("node2", vec!["p2.1", "p2.2"]),
            ..Default::default()
        },
    ]);
}

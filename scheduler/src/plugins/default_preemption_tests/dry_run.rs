use super::*;

// ---------------------------------------------------------------------------------------
// Dry run.

struct DryCase {
    name: &'static str,
    pod: P,
    pods: Vec<P>,
    nodes: Vec<N>,
    pdbs: Vec<Arc<PodDisruptionBudget>>,
    args: DefaultPreemptionArgs,
    offset: usize,
    plugins: Plugins,
    /// (node, victims most important first, PDB violations), in the order returned.
    want: Vec<(&'static str, Vec<&'static str>, i64)>,
}

impl Default for DryCase {
    fn default() -> Self {
        DryCase {
            name: "",
            pod: pod("p"),
            pods: Vec::new(),
            nodes: Vec::new(),
            pdbs: Vec::new(),
            args: DefaultPreemptionArgs::default(),
            offset: 0,
            plugins: Plugins::Fit,
            want: Vec::new(),
        }
    }
}

#[test]
fn dry_run_preemption_table() {
    let two = || vec![node("node1", VERY_LARGE), node("node2", VERY_LARGE)];
    let app = ("app", "foo");
    let cases = vec![
        DryCase {
            name: "a pod that fits on both nodes when lower priority pods are preempted",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
            ],
            nodes: two(),
            want: vec![("node1", vec!["p1"], 0), ("node2", vec!["p2"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "a pod that would fit on the nodes, but other pods running are higher priority, no preemption would happen",
            pod: pod("p").prio(LOW).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
            ],
            nodes: two(),
            want: vec![],
            ..Default::default()
        },
        DryCase {
            name: "medium priority pod is preempted, but lower priority one stays as it is small",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(LOW).req(SMALL),
                pod("p1.2").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
            ],
            nodes: two(),
            want: vec![("node1", vec!["p1.2"], 0), ("node2", vec!["p2"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "mixed priority pods are preempted",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(SMALL),
                pod("p1.2").node("node1").prio(LOW).req(SMALL),
                pod("p1.3").node("node1").prio(MID).req(MEDIUM),
                pod("p1.4").node("node1").prio(HIGH).req(SMALL),
                pod("p2").node("node2").prio(HIGH).req(LARGE),
            ],
            nodes: two(),
            want: vec![("node1", vec!["p1.3", "p1.2"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "mixed priority pods are preempted, pick later StartTime one when priorities are equal",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(LOW).req(SMALL).start(5),
                pod("p1.2").node("node1").prio(LOW).req(SMALL).start(4),
                pod("p1.3").node("node1").prio(MID).req(MEDIUM).start(3),
                pod("p1.4").node("node1").prio(HIGH).req(SMALL).start(2),
                pod("p2").node("node2").prio(HIGH).req(LARGE).start(1),
            ],
            nodes: two(),
            want: vec![("node1", vec!["p1.3", "p1.1"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "pod with anti-affinity is preempted; the state copy is per node",
            pod: pod("p").label("foo", "").prio(HIGH).req(SMALL),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label("anti", "foo")
                    .prio(LOW)
                    .req(SMALL),
                pod("p1.2").node("node1").prio(MID).req(SMALL),
                pod("p2.1")
                    .node("node2")
                    .label("anti", "foo")
                    .prio(LOW)
                    .req(SMALL),
                pod("p2.2")
                    .node("node2")
                    .label("anti", "foo")
                    .prio(MID)
                    .req(SMALL),
            ],
            nodes: two(),
            plugins: Plugins::FitAndAnti,
            want: vec![
                ("node1", vec!["p1.1"], 0),
                ("node2", vec!["p2.2", "p2.1"], 0),
            ],
            ..Default::default()
        },
        DryCase {
            name: "preemption with violation of same pdb",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(1),
                pod("p1.2")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(2),
            ],
            nodes: vec![node("node1", VERY_LARGE)],
            pdbs: vec![pdb(&[app], 1, &[])],
            want: vec![("node1", vec!["p1.1", "p1.2"], 1)],
            ..Default::default()
        },
        DryCase {
            name: "preemption with violation of the pdb with pod whose eviction was processed, the victim doesn't belong to DisruptedPods",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(1),
                pod("p1.2")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(2),
            ],
            nodes: vec![node("node1", VERY_LARGE)],
            pdbs: vec![pdb(&[app], 1, &["p2"])],
            want: vec![("node1", vec!["p1.1", "p1.2"], 1)],
            ..Default::default()
        },
        DryCase {
            name: "preemption with violation of the pdb with pod whose eviction was processed, the victim belongs to DisruptedPods",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(1),
                pod("p1.2")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(2),
            ],
            nodes: vec![node("node1", VERY_LARGE)],
            pdbs: vec![pdb(&[app], 1, &["p1.2"])],
            want: vec![("node1", vec!["p1.1", "p1.2"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "preemption with violation of the pdb with pod whose eviction was processed, the victim which belongs to DisruptedPods is treated as 'nonViolating'",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(1),
                pod("p1.2")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(2),
                pod("p1.3")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(3),
            ],
            nodes: vec![node("node1", VERY_LARGE)],
            pdbs: vec![pdb(&[app], 1, &["p1.3"])],
            want: vec![("node1", vec!["p1.1", "p1.2", "p1.3"], 1)],
            ..Default::default()
        },
        DryCase {
            name: "PDB-violating victims are reprieved first",
            pod: pod("p").prio(HIGH).req(MEDIUM),
            pods: vec![
                pod("guarded")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(LOW)
                    .req(MEDIUM),
                pod("free").node("node1").prio(MID).req(MEDIUM),
            ],
            nodes: vec![node("node1", (400, 400))],
            pdbs: vec![pdb(&[app], 0, &[])],
            want: vec![("node1", vec!["free"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "all nodes are possible candidates, but DefaultPreemptionArgs limits to 2",
            args: DefaultPreemptionArgs {
                min_candidate_nodes_percentage: 40,
                min_candidate_nodes_absolute: 1,
            },
            offset: 4,
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
                pod("p3").node("node3").prio(MID).req(LARGE),
                pod("p4").node("node4").prio(MID).req(LARGE),
                pod("p5").node("node5").prio(MID).req(LARGE),
            ],
            nodes: ["node1", "node2", "node3", "node4", "node5"]
                .map(|n| node(n, VERY_LARGE))
                .to_vec(),
            want: vec![("node5", vec!["p5"], 0), ("node1", vec!["p1"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "some are not candidates because they fit without the preemptor's victims, limit 2",
            args: DefaultPreemptionArgs {
                min_candidate_nodes_percentage: 40,
                min_candidate_nodes_absolute: 1,
            },
            offset: 1,
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(HIGH).req(LARGE),
                pod("p3").node("node3").prio(MID).req(LARGE),
                pod("p4").node("node4").prio(HIGH).req(LARGE),
                pod("p5").node("node5").prio(MID).req(LARGE),
            ],
            nodes: ["node1", "node2", "node3", "node4", "node5"]
                .map(|n| node(n, VERY_LARGE))
                .to_vec(),
            want: vec![("node3", vec!["p3"], 0), ("node5", vec!["p5"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "violating candidates do not stop the search until a non-violating one is found",
            args: DefaultPreemptionArgs {
                min_candidate_nodes_percentage: 0,
                min_candidate_nodes_absolute: 1,
            },
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(LARGE),
                pod("p2")
                    .node("node2")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(LARGE),
                pod("p3").node("node3").prio(MID).req(LARGE),
                pod("p4").node("node4").prio(MID).req(LARGE),
            ],
            nodes: ["node1", "node2", "node3", "node4"]
                .map(|n| node(n, VERY_LARGE))
                .to_vec(),
            pdbs: vec![pdb(&[app], 0, &[])],
            want: vec![("node3", vec!["p3"], 0), ("node1", vec!["p1"], 1)],
            ..Default::default()
        },
    ];
    for c in cases {
        let fw = framework(c.plugins);
        let snap = snapshot(&c.nodes, &c.pods);
        let preemptor = c.pod.info();
        let mut state = CycleState::default();
        assert!(
            fw.run_pre_filter(&mut state, &preemptor, &snap)
                .1
                .is_success(),
            "{}",
            c.name
        );
        let pl = plugin(c.pdbs.clone(), c.args, c.offset);
        let potential = snap.nodes().to_vec();
        let num = pl.calculate_num_candidates(potential.len());
        let (candidates, _, errors) =
            pl.dry_run_preemption(&state, &preemptor, &potential, &c.pdbs, c.offset, num, &fw);
        assert!(errors.is_empty(), "{}: {errors:?}", c.name);
        let got: Vec<(&str, Vec<&str>, i64)> = candidates
            .iter()
            .map(|c| (c.node.as_str(), names(&c.victims), c.num_pdb_violations))
            .collect();
        assert_eq!(got, c.want, "{}", c.name);
    }
}

#[test]
fn dry_run_over_many_nodes_matches_a_sequential_run() {
    // 100 nodes, 10 candidates wanted (10%, min 10): chunks run in parallel but the result
    // must be the first 10 candidates from the offset, every time.
    let names: Vec<&'static str> = (0..100)
        .map(|i| &*Box::leak(format!("node{i:03}").into_boxed_str()))
        .collect();
    let pods: Vec<P> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let name: &'static str = Box::leak(format!("v{i:03}").into_boxed_str());
            pod(name)
                .node(n)
                .prio(if i % 3 == 0 { HIGH } else { LOW })
                .req(LARGE)
        })
        .collect();
    let nodes: Vec<N> = names.iter().map(|n| node(n, VERY_LARGE)).collect();
    let fw = framework(Plugins::Fit);
    let snap = snapshot(&nodes, &pods);
    let preemptor = pod("p").prio(MID).req(LARGE).info();
    let mut state = CycleState::default();
    assert!(
        fw.run_pre_filter(&mut state, &preemptor, &snap)
            .1
            .is_success()
    );
    let args = DefaultPreemptionArgs {
        min_candidate_nodes_percentage: 10,
        min_candidate_nodes_absolute: 10,
    };
    let pl = plugin(Vec::new(), args, 95);
    let num = pl.calculate_num_candidates(100);
    assert_eq!(num, 10);
    let want: Vec<String> = (95..200)
        .map(|i| i % 100)
        .filter(|i| i % 3 != 0)
        .take(10)
        .map(|i| format!("node{i:03}"))
        .collect();
    for _ in 0..5 {
        let (candidates, _, _) =
            pl.dry_run_preemption(&state, &preemptor, snap.nodes(), &[], 95, num, &fw);
        let got: Vec<String> = candidates.iter().map(|c| c.node.clone()).collect();
        assert_eq!(got, want);
    }
}

// ---------------------------------------------------------------------------------------
// Eligibility, arguments, registration.

#[test]
fn pod_eligible_to_preempt_others_table() {
    let tt = Status::unresolvable("node(s) had untolerated taint {gpu: true}");
    let unsched = Status::unschedulable("Insufficient cpu");
    type EligibleCase<'a> = (&'a str, P, Vec<P>, Option<&'a Status>, Result<(), &'a str>);
    let cases: Vec<EligibleCase> = vec![
        (
            "Pod with nominated node whose status is unresolvable",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(LOW).node("node1").preempted()],
            Some(&tt),
            Ok(()),
        ),
        (
            "Pod without nominated node",
            pod("p").prio(HIGH),
            vec![],
            None,
            Ok(()),
        ),
        (
            "Pod with 'PreemptNever' preemption policy",
            pod("p").prio(HIGH).never(),
            vec![],
            None,
            Err("not eligible due to preemptionPolicy=Never."),
        ),
        (
            "preemption victim pod terminating, as indicated by the dedicated DisruptionTarget condition",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(LOW).node("node1").preempted()],
            Some(&unsched),
            Err("not eligible due to a terminating pod on the nominated node."),
        ),
        (
            "non-victim Pods terminating",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(LOW).node("node1").terminating()],
            Some(&unsched),
            Ok(()),
        ),
        (
            "terminating preempted pod of equal priority does not hold the pod back",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(HIGH).node("node1").preempted()],
            Some(&unsched),
            Ok(()),
        ),
        (
            "nominated node without a status counts as unresolvable",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(LOW).node("node1").preempted()],
            None,
            Ok(()),
        ),
    ];
    let pl = plugin(Vec::new(), DefaultPreemptionArgs::default(), 0);
    for (name, p, pods, status, want) in cases {
        let snap = snapshot(&[node("node1", VERY_LARGE)], &pods);
        assert_eq!(
            pl.pod_eligible_to_preempt_others(&p.info(), &snap, status),
            want,
            "{name}"
        );
    }
}

#[test]
fn calculate_num_candidates_table() {
    let cases = [
        (
            "all nodes when fewer than the absolute minimum",
            10,
            100,
            50,
            50,
        ),
        ("the absolute minimum", 10, 100, 500, 100),
        ("the percentage when above the minimum", 10, 100, 5000, 500),
        ("percentage only", 40, 0, 5, 2),
        ("never more than the nodes", 100, 1, 3, 3),
        ("no nodes", 10, 100, 0, 0),
        (
            "at least one when the percentage rounds down to 0",
            10,
            0,
            5,
            1,
        ),
    ];
    for (name, pct, abs, nodes, want) in cases {
        let args = DefaultPreemptionArgs {
            min_candidate_nodes_percentage: pct,
            min_candidate_nodes_absolute: abs,
        };
        assert_eq!(
            plugin(Vec::new(), args, 0).calculate_num_candidates(nodes),
            want,
            "{name}"
        );
    }
}

#[test]
fn args_validation_table() {
    let cases = [
        (10, 100, true),
        (0, 100, true),
        (50, 0, true),
        (101, 10, false),
        (-1, 10, false),
        (10, -1, false),
        (0, 0, false),
    ];
    for (pct, abs, ok) in cases {
        let args = DefaultPreemptionArgs {
            min_candidate_nodes_percentage: pct,
            min_candidate_nodes_absolute: abs,
        };
        assert_eq!(
            args.validate().is_ok(),
            ok,
            "{pct} {abs}: {:?}",
            args.validate()
        );
    }
    // Invalid arguments are clamped: the plugin still looks for at least one candidate.
    let pl = plugin(
        Vec::new(),
        DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 0,
            min_candidate_nodes_absolute: 0,
        },
        0,
    );
    assert_eq!(pl.calculate_num_candidates(7), 1);
}

#[test]
fn offset_from_pod_uid_is_stable_and_in_range() {
    let pl = DefaultPreemption::new(DefaultPreemptionArgs::default(), Arc::new(Vec::new));
    let mut seen = HashSet::new();
    for i in 0..50 {
        let name: &'static str = Box::leak(format!("pod{i}").into_boxed_str());
        let info = pod(name).info();
        let a = pl.offset_for(&info, 7);
        assert_eq!(a, pl.offset_for(&info, 7));
        assert!(a < 7);
        seen.insert(a);
    }
    assert!(seen.len() > 3, "offsets should spread: {seen:?}");
    assert_eq!(pl.offset_for(&pod("x").info(), 0), 0);
}

#[test]
fn plugin_registration_and_events() {
    let pl = Arc::new(plugin(Vec::new(), DefaultPreemptionArgs::default(), 0));
    assert_eq!(pl.name(), "DefaultPreemption");
    assert_eq!(pl.events(), vec![ClusterEvent::ASSIGNED_POD_DELETE]);
    let mut points = Points::default();
    pl.register(&mut points);
    assert_eq!(points.post_filter.len(), 1);
    assert!(points.filter.is_empty() && points.pre_filter.is_empty());
}

#[test]
fn aggregate_errors_table() {
    let cases: [(&[&str], &str); 3] = [
        (&["a"], "a"),
        (&["a", "a", "a"], "a"),
        (&["a", "b", "a"], "[a, b]"),
    ];
    for (errors, want) in cases {
        assert_eq!(
            aggregate(errors.iter().map(|e| e.to_string()).collect()),
            want
        );
    }
}

#[test]
fn no_nodes_is_an_error() {
    let fw = framework(Plugins::Fit);
    let pl = plugin(Vec::new(), DefaultPreemptionArgs::default(), 0);
    let (r, s) = pl.post_filter(
        &CycleState::default(),
        &pod("p").prio(HIGH).info(),
        &Snapshot::default(),
        &Diagnosis::default(),
        &fw,
    );
    assert!(r.is_none());
    assert_eq!(s.code, Code::Error);
    assert_eq!(s.message(), "preemption: no nodes available");
}

#[test]
fn run_post_filter_through_the_framework() {
    // Registered in a profile, the framework returns the plugin's result.
    let list: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(FakeFit),
        Arc::new(plugin(Vec::new(), DefaultPreemptionArgs::default(), 0)),
    ];
    let fw = Framework::new(
        "default-scheduler",
        list,
        HashMap::new(),
        Arc::new(WaitingPods::default()),
    );
    let snap = snapshot(&[one_pod_node("node1")], &[pod("p1").node("node1")]);
    let preemptor = pod("p").prio(HIGH).info();
    let mut state = CycleState::default();
    assert!(
        fw.run_pre_filter(&mut state, &preemptor, &snap)
            .1
            .is_success()
    );
    let (r, s) = fw.run_post_filter(&state, &preemptor, &snap, &diagnosis(&[("node1", U)]));
    assert!(s.is_success(), "{s:?}");
    assert_eq!(r.map(|r| r.nominated_node), Some("node1".to_string()));
}

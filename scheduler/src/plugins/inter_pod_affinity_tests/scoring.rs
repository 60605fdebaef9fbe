use super::*;

// ---------------------------------------------------------------------------------------
// Scoring (upstream scoring_test.go).

/// PreScore over all nodes, then Score and NormalizeScore; `Err` with PreScore's status
/// when it did not succeed.
fn run_scores(
    p: &InterPodAffinity,
    pod: &Pod,
    pods: &[Pod],
    nodes: &[Node],
) -> Result<Vec<i64>, Status> {
    let snap = snapshot(pods, nodes);
    let pod = info(pod);
    let feasible: Vec<Arc<NodeInfo>> = nodes
        .iter()
        .filter_map(|n| {
            snap.get(n.metadata.name.as_deref().unwrap_or_default())
                .cloned()
        })
        .collect();
    let mut state = CycleState::default();
    let status = p.pre_score(&mut state, &pod, &feasible, &snap);
    if !status.is_success() {
        return Err(status);
    }
    let mut scores: Vec<NodeScore> = feasible
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (score, status) = p.score(&state, &pod, n);
            assert!(status.is_success(), "{status:?}");
            NodeScore { node: i, score }
        })
        .collect();
    let status = p.normalize(&state, &pod, &mut scores);
    assert!(status.is_success(), "{status:?}");
    Ok(scores.into_iter().map(|s| s.score).collect())
}

const MAX: i64 = MAX_NODE_SCORE;

#[test]
fn preferred_affinity() {
    let rg_china: &[(&str, &str)] = &[("region", "China")];
    let rg_india: &[(&str, &str)] = &[("region", "India")];
    let az1: &[(&str, &str)] = &[("az", "az1")];
    let az2: &[(&str, &str)] = &[("az", "az2")];
    let rg_china_az1: &[(&str, &str)] = &[("region", "China"), ("az", "az1")];
    let s1: &[(&str, &str)] = &[("security", "S1")];
    let s2: &[(&str, &str)] = &[("security", "S2")];

    let stay_with_s1_in_region =
        |p: MakePod| p.preferred_affinity(5, term_in("security", "region", &["S1"]));
    let stay_with_s2_in_region =
        |p: MakePod| p.preferred_affinity(6, term_in("security", "region", &["S2"]));
    let affinity3 = |p: MakePod| {
        p.preferred_affinity(
            8,
            term(
                vec![
                    expr("security", "NotIn", &["S1"]),
                    expr("security", "In", &["S2"]),
                ],
                "region",
            ),
        )
        .preferred_affinity(
            2,
            term(
                vec![
                    expr("security", "Exists", &[]),
                    expr("wrongkey", "DoesNotExist", &[]),
                ],
                "region",
            ),
        )
    };
    let hard_affinity = |p: MakePod| {
        p.affinity_term(term_in("security", "region", &["S1", "value2"]))
            .affinity_term(term(
                vec![
                    expr("security", "Exists", &[]),
                    expr("wrongkey", "DoesNotExist", &[]),
                ],
                "region",
            ))
    };
    let away_from_s1_in_az =
        |p: MakePod| p.preferred_anti_affinity(5, term_in("security", "az", &["S1"]));
    let away_from_s2_in_az =
        |p: MakePod| p.preferred_anti_affinity(5, term_in("security", "az", &["S2"]));
    let stay_s1_region_away_s2_az = |p: MakePod| {
        p.preferred_affinity(8, term_in("security", "region", &["S1"]))
            .preferred_anti_affinity(5, term_in("security", "az", &["S2"]))
    };
    let ns_term = || {
        with_ns_selector(
            with_namespaces(term_in("security", "region", &["S1"]), &["subteam2.team2"]),
            team1_selector(),
        )
    };
    let affinity_ns_selector = |p: MakePod| p.preferred_affinity(5, ns_term());
    let anti_affinity_ns_selector = |p: MakePod| p.preferred_anti_affinity(5, ns_term());

    let on = |n: &str, labels: &[(&str, &str)]| make_pod().node(n).labels(labels).obj();
    let on_ns = |n: &str, ns: &str| make_pod().node(n).namespace(ns).labels(s1).obj();

    struct Case {
        name: &'static str,
        pod: Pod,
        pods: Vec<Pod>,
        nodes: Vec<Node>,
        ignore_existing: bool,
        want: Result<Vec<i64>, Code>,
    }
    let cases = vec![
        Case {
            name: "all nodes are the same priority as Affinity is nil: Skip",
            pod: make_pod().labels(s1).obj(),
            pods: vec![],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_india),
                node("node3", az1),
            ],
            ignore_existing: false,
            want: Err(Code::Skip),
        },
        Case {
            name: "affinity: matching topology key and pods scores high",
            pod: stay_with_s1_in_region(make_pod().labels(s1)).obj(),
            pods: vec![on("node1", s1), on("node2", s2), on("node3", s1)],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_india),
                node("node3", az1),
            ],
            ignore_existing: false,
            want: Ok(vec![MAX, 0, 0]),
        },
        Case {
            name: "all nodes in the domain of a matching pod score the same",
            pod: stay_with_s1_in_region(make_pod()).obj(),
            pods: vec![on("node1", s1)],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_china_az1),
                node("node3", rg_india),
            ],
            ignore_existing: false,
            want: Ok(vec![MAX, MAX, 0]),
        },
        Case {
            name: "affinity: the region with more matching pods scores high",
            pod: stay_with_s2_in_region(make_pod().labels(s1)).obj(),
            pods: vec![
                on("node1", s2),
                on("node1", s2),
                on("node2", s2),
                on("node3", s2),
                on("node4", s2),
                on("node5", s2),
            ],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_india),
                node("node3", rg_china),
                node("node4", rg_china),
                node("node5", rg_india),
            ],
            ignore_existing: false,
            want: Ok(vec![MAX, 0, MAX, MAX, 0]),
        },
        Case {
            name: "affinity: different label operators and values, some not matching",
            pod: affinity3(make_pod().labels(s1)).obj(),
            pods: vec![on("node1", s1), on("node2", s2), on("node3", s1)],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_india),
                node("node3", az1),
            ],
            ignore_existing: false,
            want: Ok(vec![20, MAX, 0]),
        },
        Case {
            name: "affinity symmetry: existing pods' preferred affinity",
            pod: make_pod().labels(s2).obj(),
            pods: vec![
                stay_with_s1_in_region(make_pod().node("node1").labels(s1)).obj(),
                stay_with_s2_in_region(make_pod().node("node2").labels(s2)).obj(),
            ],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_india),
                node("node3", az1),
            ],
            ignore_existing: false,
            want: Ok(vec![0, MAX, 0]),
        },
        Case {
            name: "affinity symmetry with a namespace selector",
            pod: make_pod().namespace("subteam1.team1").labels(s1).obj(),
            pods: vec![
                affinity_ns_selector(make_pod().node("node1").labels(s1)).obj(),
                stay_with_s2_in_region(make_pod().node("node2").labels(s2)).obj(),
            ],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_india),
                node("node3", az1),
            ],
            ignore_existing: false,
            want: Ok(vec![MAX, 0, 0]),
        },
        Case {
            name: "anti-affinity symmetry with a namespace selector",
            pod: make_pod().namespace("subteam1.team1").labels(s1).obj(),
            pods: vec![
                anti_affinity_ns_selector(make_pod().node("node1").labels(s1)).obj(),
                stay_with_s2_in_region(make_pod().node("node2").labels(s2)).obj(),
            ],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_india),
                node("node3", az1),
            ],
            ignore_existing: false,
            want: Ok(vec![0, MAX, MAX]),
        },
        Case {
            name: "affinity symmetry: existing pods' required affinity (hard weight)",
            pod: make_pod().labels(s1).obj(),
            pods: vec![
                hard_affinity(make_pod().node("node1").labels(s1)).obj(),
                hard_affinity(make_pod().node("node2").labels(s2)).obj(),
            ],
            nodes: vec![
                node("node1", rg_china),
                node("node2", rg_india),
                node("node3", az1),
            ],
            ignore_existing: false,
            want: Ok(vec![MAX, MAX, 0]),
        },
        Case {
            name: "anti-affinity: a node without matching pods scores high",
            pod: away_from_s1_in_az(make_pod().labels(s1)).obj(),
            pods: vec![on("node1", s1), on("node2", s2)],
            nodes: vec![node("node1", az1), node("node2", rg_china)],
            ignore_existing: false,
            want: Ok(vec![0, MAX]),
        },
        Case {
            name: "anti-affinity: a node without the topology key scores high",
            pod: away_from_s1_in_az(make_pod().labels(s1)).obj(),
            pods: vec![on("node1", s1), on("node2", s1)],
            nodes: vec![node("node1", az1), node("node2", rg_china)],
            ignore_existing: false,
            want: Ok(vec![0, MAX]),
        },
        Case {
            name: "anti-affinity: the node with more matching pods scores low",
            pod: away_from_s1_in_az(make_pod().labels(s1)).obj(),
            pods: vec![on("node1", s1), on("node1", s1), on("node2", s2)],
            nodes: vec![node("node1", az1), node("node2", rg_india)],
            ignore_existing: false,
            want: Ok(vec![0, MAX]),
        },
        Case {
            name: "anti-affinity symmetry: existing pods' preferred anti-affinity",
            pod: make_pod().labels(s2).obj(),
            pods: vec![
                away_from_s2_in_az(make_pod().node("node1").labels(s1)).obj(),
                away_from_s1_in_az(make_pod().node("node2").labels(s2)).obj(),
            ],
            nodes: vec![node("node1", az1), node("node2", az2)],
            ignore_existing: false,
            want: Ok(vec![0, MAX]),
        },
        Case {
            name: "affinity and anti-affinity together",
            pod: stay_s1_region_away_s2_az(make_pod().labels(s1)).obj(),
            pods: vec![on("node1", s1), on("node2", s1)],
            nodes: vec![node("node1", rg_china), node("node2", az1)],
            ignore_existing: false,
            want: Ok(vec![MAX, 0]),
        },
        Case {
            name: "affinity and anti-affinity: same region, spread over nodes",
            pod: stay_s1_region_away_s2_az(make_pod().labels(s1)).obj(),
            pods: vec![
                on("node1", s1),
                on("node1", s1),
                on("node2", s1),
                on("node3", s1),
                on("node3", s1),
                on("node4", s1),
                on("node5", s1),
            ],
            nodes: vec![
                node("node1", rg_china_az1),
                node("node2", rg_india),
                node("node3", rg_china),
                node("node4", rg_china),
                node("node5", rg_india),
            ],
            ignore_existing: false,
            want: Ok(vec![MAX, 0, MAX, MAX, 0]),
        },
        Case {
            name: "affinity, anti-affinity and symmetry together",
            pod: stay_s1_region_away_s2_az(make_pod().labels(s1)).obj(),
            pods: vec![
                on("node1", s1),
                on("node2", s2),
                stay_s1_region_away_s2_az(make_pod().node("node3")).obj(),
                away_from_s1_in_az(make_pod().node("node4")).obj(),
            ],
            nodes: vec![
                node("node1", rg_china),
                node("node2", az1),
                node("node3", rg_india),
                node("node4", az2),
            ],
            ignore_existing: false,
            want: Ok(vec![MAX, 0, MAX, 0]),
        },
        Case {
            name: "some nodes of a domain without pods with affinity (issue 82796)",
            pod: make_pod().labels(s1).obj(),
            pods: vec![
                on("node1", s1),
                stay_s1_region_away_s2_az(make_pod().node("node2")).obj(),
            ],
            nodes: vec![node("node1", rg_china), node("node2", rg_china)],
            ignore_existing: false,
            want: Ok(vec![0, 0]),
        },
        Case {
            name: "invalid preferred affinity fails PreScore",
            pod: make_pod()
                .preferred_affinity(8, term(vec![expr("security", "In", &[])], "region"))
                .obj(),
            pods: vec![],
            nodes: vec![node("node1", rg_china), node("node2", rg_china)],
            ignore_existing: false,
            want: Err(Code::Error),
        },
        Case {
            name: "invalid preferred anti-affinity fails PreScore",
            pod: make_pod()
                .preferred_anti_affinity(5, term(vec![expr("security", "Exists", &["x"])], "az"))
                .obj(),
            pods: vec![],
            nodes: vec![node("node1", rg_china), node("node2", rg_china)],
            ignore_existing: false,
            want: Err(Code::Error),
        },
        Case {
            name: "affinity with pods matching the namespace selector",
            pod: affinity_ns_selector(make_pod().namespace("subteam1.team1").labels(s1)).obj(),
            pods: vec![
                on_ns("node1", "subteam1.team1"),
                on_ns("node1", "subteam1.team1"),
                on_ns("node1", "subteam1.team2"),
                on_ns("node2", "subteam2.team1"),
            ],
            nodes: vec![node("node1", rg_china), node("node2", rg_india)],
            ignore_existing: false,
            want: Ok(vec![MAX, 0]),
        },
        Case {
            name: "affinity with pods matching both the namespace selector and namespaces",
            pod: affinity_ns_selector(make_pod().namespace("subteam1.team1").labels(s1)).obj(),
            pods: vec![
                on_ns("node1", "subteam1.team1"),
                on_ns("node1", "subteam1.team1"),
                on_ns("node1", "subteam2.team2"),
                on_ns("node2", "subteam2.team1"),
            ],
            nodes: vec![node("node1", rg_china), node("node2", rg_india)],
            ignore_existing: false,
            want: Ok(vec![MAX, 0]),
        },
        Case {
            name: "anti-affinity with pods matching the namespace selector",
            pod: anti_affinity_ns_selector(make_pod().namespace("subteam1.team1").labels(s1)).obj(),
            pods: vec![
                on_ns("node1", "subteam1.team1"),
                on_ns("node1", "subteam1.team1"),
                on_ns("node1", "subteam1.team2"),
                on_ns("node2", "subteam2.team1"),
            ],
            nodes: vec![node("node1", rg_china), node("node2", rg_india)],
            ignore_existing: false,
            want: Ok(vec![0, MAX]),
        },
        Case {
            name: "anti-affinity with pods matching both the namespace selector and namespaces",
            pod: anti_affinity_ns_selector(make_pod().namespace("subteam1.team1").labels(s1)).obj(),
            pods: vec![
                on_ns("node1", "subteam1.team1"),
                on_ns("node1", "subteam1.team1"),
                on_ns("node1", "subteam2.team2"),
                on_ns("node2", "subteam2.team1"),
            ],
            nodes: vec![node("node1", rg_china), node("node2", rg_india)],
            ignore_existing: false,
            want: Ok(vec![0, MAX]),
        },
        Case {
            name: "ignore preferred terms of existing pods: Skip",
            pod: make_pod().labels(s2).obj(),
            pods: vec![
                stay_s1_region_away_s2_az(make_pod().node("node1").labels(s1)).obj(),
                stay_with_s2_in_region(make_pod().node("node2").labels(s2)).obj(),
            ],
            nodes: vec![node("node1", rg_china), node("node2", rg_india)],
            ignore_existing: true,
            want: Err(Code::Skip),
        },
        Case {
            name: "do not ignore preferred terms of existing pods",
            pod: make_pod().labels(s2).obj(),
            pods: vec![
                stay_s1_region_away_s2_az(make_pod().node("node1").labels(s1)).obj(),
                stay_with_s2_in_region(make_pod().node("node2").labels(s2)).obj(),
            ],
            nodes: vec![node("node1", rg_china), node("node2", rg_india)],
            ignore_existing: false,
            want: Ok(vec![0, MAX]),
        },
        Case {
            name: "ignore flag set, but the incoming pod has preferred terms: existing pods count too",
            pod: stay_with_s1_in_region(make_pod().labels(s2)).obj(),
            pods: vec![
                on("node1", s1),
                stay_with_s2_in_region(make_pod().node("node2").labels(&[("x", "y")])).obj(),
                stay_with_s2_in_region(make_pod().node("node2").labels(&[("x", "y")])).obj(),
            ],
            nodes: vec![node("node1", rg_china), node("node2", rg_india)],
            ignore_existing: true,
            want: Ok(vec![0, MAX]),
        },
        Case {
            name: "no nodes to score: Skip",
            pod: make_pod().labels(s2).obj(),
            pods: vec![],
            nodes: vec![],
            ignore_existing: false,
            want: Err(Code::Skip),
        },
    ];
    for case in cases {
        let p = InterPodAffinity::new(InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: case.ignore_existing,
        });
        let got = run_scores(&p, &case.pod, &case.pods, &case.nodes).map_err(|s| s.code);
        assert_eq!(got, case.want, "{}", case.name);
    }
}

#[test]
fn preferred_affinity_with_hard_pod_affinity_symmetric_weight() {
    let hard = |p: MakePod| {
        p.affinity_term(with_ns_selector(
            with_namespaces(
                term_in("service", "region", &["S1"]),
                &["", "subteam2.team2"],
            ),
            team1_selector(),
        ))
    };
    let s1: &[(&str, &str)] = &[("service", "S1")];
    let nodes = vec![
        node("node1", &[("region", "China")]),
        node("node2", &[("region", "India")]),
        node("node3", &[("az", "az1")]),
    ];
    let pods = vec![
        hard(make_pod().node("node1")).obj(),
        hard(make_pod().node("node2")).obj(),
    ];
    let cases: Vec<(&str, Pod, i32, WantScores)> = vec![
        (
            "with default weight",
            make_pod().labels(s1).obj(),
            1,
            Ok(vec![MAX, MAX, 0]),
        ),
        (
            "with zero weight",
            make_pod().labels(s1).obj(),
            0,
            Err(Code::Skip),
        ),
        (
            "with no matching namespace",
            make_pod().namespace("subteam1.team2").labels(s1).obj(),
            1,
            Err(Code::Skip),
        ),
        (
            "with matching NamespaceSelector",
            make_pod().namespace("subteam1.team1").labels(s1).obj(),
            1,
            Ok(vec![MAX, MAX, 0]),
        ),
        (
            "with matching Namespaces",
            make_pod().namespace("subteam2.team2").labels(s1).obj(),
            1,
            Ok(vec![MAX, MAX, 0]),
        ),
    ];
    for (name, pod, weight, want) in cases {
        let p = InterPodAffinity::new(InterPodAffinityArgs {
            hard_pod_affinity_weight: weight,
            ignore_preferred_terms_of_existing_pods: false,
        });
        let got = run_scores(&p, &pod, &pods, &nodes).map_err(|s| s.code);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn raw_scores_may_be_negative_and_normalize_linearly() {
    // Weights: node1 -10 (two S1 pods, anti 5 each), node2 0, node3 +7 (one preferred match).
    let s1: &[(&str, &str)] = &[("security", "S1")];
    let pod = make_pod()
        .preferred_anti_affinity(5, term_in("security", "zone", &["S1"]))
        .preferred_affinity(7, term_in("app", "zone", &["db"]))
        .obj();
    let pods = vec![
        make_pod().node("node1").labels(s1).obj(),
        make_pod().node("node1").labels(s1).obj(),
        make_pod().node("node3").labels(&[("app", "db")]).obj(),
    ];
    let nodes = vec![
        node("node1", &[("zone", "z1")]),
        node("node2", &[("zone", "z2")]),
        node("node3", &[("zone", "z3")]),
    ];
    let snap = snapshot(&pods, &nodes);
    let p = plugin();
    let pod = info(&pod);
    let mut state = CycleState::default();
    assert!(
        p.pre_score(&mut state, &pod, snap.nodes(), &snap)
            .is_success()
    );
    let raw: Vec<i64> = ["node1", "node2", "node3"]
        .iter()
        .map(|n| p.score(&state, &pod, snap.get(n).expect("node")).0)
        .collect();
    assert_eq!(raw, vec![-10, 0, 7]);
    let mut scores: Vec<NodeScore> = raw
        .iter()
        .enumerate()
        .map(|(node, &score)| NodeScore { node, score })
        .collect();
    assert!(p.normalize(&state, &pod, &mut scores).is_success());
    // 100 * (0 - -10) / 17 = 58.8 → 58 (truncated, as upstream's int64(float64)).
    assert_eq!(
        scores.iter().map(|s| s.score).collect::<Vec<_>>(),
        vec![0, 58, MAX]
    );
}

#[test]
fn score_without_pre_score_state_is_an_error() {
    let node = NodeInfo::new(Arc::new(node("n", &[("zone", "z")])));
    let pod = info(&Pod::default());
    let (_, status) = plugin().score(&CycleState::default(), &pod, &node);
    assert_eq!(status.code, Code::Error);
    let mut scores = vec![NodeScore { node: 0, score: 3 }];
    assert_eq!(
        plugin()
            .normalize(&CycleState::default(), &pod, &mut scores)
            .code,
        Code::Error
    );
}

// ---------------------------------------------------------------------------------------
// Plugin wiring.

#[test]
fn name_args_events_and_points() {
    assert_eq!(InterPodAffinity::NAME, "InterPodAffinity");
    assert_eq!(
        InterPodAffinityArgs::default(),
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false
        }
    );
    let clamped = InterPodAffinity::new(InterPodAffinityArgs {
        hard_pod_affinity_weight: 1000,
        ignore_preferred_terms_of_existing_pods: false,
    });
    assert_eq!(clamped.args.hard_pod_affinity_weight, 100);

    let p = Arc::new(plugin());
    assert_eq!(p.name(), "InterPodAffinity");
    let events = p.events();
    let happened = |resource, action| ClusterEvent::new(resource, action, "x");
    let covered = |e: ClusterEvent| events.iter().any(|r| r.covers(&e));
    assert!(covered(happened(
        EventResource::AssignedPod,
        ActionType::ADD
    )));
    assert!(covered(happened(
        EventResource::AssignedPod,
        ActionType::DELETE
    )));
    assert!(covered(happened(
        EventResource::AssignedPod,
        ActionType::UPDATE_POD_LABEL
    )));
    assert!(covered(happened(EventResource::Node, ActionType::ADD)));
    assert!(covered(happened(
        EventResource::Node,
        ActionType::UPDATE_NODE_LABEL
    )));
    assert!(!covered(happened(
        EventResource::Node,
        ActionType::UPDATE_NODE_TAINT
    )));
    assert!(!covered(happened(EventResource::Node, ActionType::DELETE)));
    assert!(!covered(happened(
        EventResource::UnscheduledPod,
        ActionType::ADD
    )));
    assert!(!covered(happened(
        EventResource::AssignedPod,
        ActionType::UPDATE_POD_SCALE_DOWN
    )));

    let mut points = Points::default();
    p.register(&mut points);
    assert_eq!(points.pre_filter.len(), 1);
    assert_eq!(points.filter.len(), 1);
    assert_eq!(points.pre_score.len(), 1);
    assert_eq!(points.score.len(), 1);
    assert!(points.reserve.is_empty() && points.permit.is_empty());
}

/// Many nodes: the counts and decisions stay right when the work is split over threads,
/// and a pod without terms looks only at the few nodes with anti-affinity pods.
#[test]
fn large_cluster() {
    const NODES: usize = 5000;
    let mut infos = Vec::with_capacity(NODES);
    for i in 0..NODES {
        let zone = format!("z{}", i % 10);
        let name = format!("n{i}");
        let mut info = NodeInfo::new(Arc::new(node(
            &name,
            &[("zone", &zone), ("hostname", &name)],
        )));
        info.add_pod(Arc::new(info_of(
            make_pod()
                .name(&format!("p{i}"))
                .node(&name)
                .labels(&[("app", "web")])
                .obj(),
        )));
        if i == 7 {
            info.add_pod(Arc::new(info_of(
                make_pod()
                    .name("guard")
                    .node(&name)
                    .labels(&[("app", "guard")])
                    .anti_affinity_term(term_in("app", "zone", &["batch"]))
                    .obj(),
            )));
        }
        infos.push(info);
    }
    let snap = Snapshot::new(infos);
    assert_eq!(snap.with_required_anti_affinity().len(), 1);
    let p = plugin();

    // A batch pod: blocked in zone z7 by the guard's anti-affinity only.
    let batch = info(&make_pod().labels(&[("app", "batch")]).obj());
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &batch, &snap).1.is_success());
    let blocked = snap
        .nodes()
        .iter()
        .filter(|n| !p.filter(&state, &batch, n).is_success())
        .count();
    assert_eq!(blocked, NODES / 10);

    // A web pod without terms: nothing applies, Skip.
    let web = info(&make_pod().labels(&[("app", "web")]).obj());
    assert!(
        p.pre_filter(&mut CycleState::default(), &web, &snap)
            .1
            .is_skip()
    );

    // Hostname anti-affinity against every web pod: every node is taken.
    let spread = info(
        &make_pod()
            .anti_affinity_term(term_in("app", "hostname", &["web"]))
            .obj(),
    );
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &spread, &snap).1.is_success());
    let s = state.read::<PreFilterState>(PRE_FILTER_KEY).expect("state");
    assert_eq!(
        s.anti_affinity_counts.0.get("hostname").map(HashMap::len),
        Some(NODES)
    );
    assert!(
        snap.nodes()
            .iter()
            .all(|n| p.filter(&state, &spread, n) == anti_fail())
    );

    // Zone affinity to web pods: every zone has 500 of them.
    let near = info(
        &make_pod()
            .affinity_term(term_in("app", "zone", &["web"]))
            .obj(),
    );
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &near, &snap).1.is_success());
    let s = state.read::<PreFilterState>(PRE_FILTER_KEY).expect("state");
    assert_eq!(s.affinity_counts.get("zone", "z3"), (NODES / 10) as i64);
    assert!(
        snap.nodes()
            .iter()
            .all(|n| p.filter(&state, &near, n).is_success())
    );
}

fn info_of(pod: Pod) -> PodInfo {
    PodInfo::new(Arc::new(pod))
}

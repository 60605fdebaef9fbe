use super::*;

/// PreScore over `feasible` (a subset of the snapshot's nodes, by name), then Score and
/// normalize; `None` when PreScore skips.
fn scores(
    p: &PodTopologySpread,
    incoming: Incoming,
    nodes: Vec<Node>,
    feasible: &[&str],
    pods: &[Arc<PodInfo>],
) -> Option<Vec<i64>> {
    let snap = snapshot(nodes, pods);
    let pod = incoming.build();
    let feasible: Vec<Arc<NodeInfo>> = feasible
        .iter()
        .map(|n| Arc::clone(snap.get(n).expect("node")))
        .collect();
    let mut state = CycleState::default();
    let status = p.pre_score(&mut state, &pod, &feasible, &snap);
    if status.is_skip() {
        return None;
    }
    assert!(status.is_success(), "{status:?}");
    let mut out = Vec::new();
    for (i, n) in feasible.iter().enumerate() {
        let (score, status) = p.score(&state, &pod, n);
        assert!(status.is_success(), "{status:?}");
        out.push(NodeScore { node: i, score });
    }
    assert!(p.normalize(&state, &pod, &mut out).is_success());
    Some(out.iter().map(|s| s.score).collect())
}

#[test]
fn score_table() {
    let hosts = |names: &[&str]| {
        names
            .iter()
            .map(|n| node(n, &[(HOST, n)]))
            .collect::<Vec<_>>()
    };
    let on_host = |max_skew| Incoming {
        labels: &[("foo", "")],
        spreads: vec![soft(max_skew, HOST, exists("foo"))],
        ..Incoming::default()
    };
    let spread_2103 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-d1", "node-d"),
            ("p-d2", "node-d"),
            ("p-d3", "node-d"),
        ])
    };
    let spread_4321 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-a3", "node-a"),
            ("p-a4", "node-a"),
            ("p-b1", "node-b"),
            ("p-b2", "node-b"),
            ("p-b3", "node-b"),
            ("p-c1", "node-c"),
            ("p-c2", "node-c"),
            ("p-d1", "node-d"),
        ])
    };
    let spread_4213 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-a3", "node-a"),
            ("p-a4", "node-a"),
            ("p-b1", "node-b"),
            ("p-b2", "node-b"),
            ("p-x1", "node-x"),
            ("p-y1", "node-y"),
            ("p-y2", "node-y"),
            ("p-y3", "node-y"),
        ])
    };
    let zoned = || {
        [
            ("node-a", "zone1"),
            ("node-b", "zone1"),
            ("node-x", "zone2"),
            ("node-y", "zone2"),
        ]
        .iter()
        .map(|(n, z)| node(n, &[("zone", z), (HOST, n)]))
        .collect::<Vec<_>>()
    };
    let abcd = ["node-a", "node-b", "node-c", "node-d"];
    // (name, incoming pod, nodes, feasible nodes, existing pods, want normalized scores)
    let cases: Vec<(
        &str,
        Incoming,
        Vec<Node>,
        Vec<&str>,
        Vec<Arc<PodInfo>>,
        Vec<i64>,
    )> = vec![
        (
            "no existing pods",
            on_host(1),
            hosts(&["node-a", "node-b"]),
            vec!["node-a", "node-b"],
            vec![],
            vec![100, 100],
        ),
        (
            "only one candidate",
            on_host(1),
            hosts(&["node-a", "node-b"]),
            vec!["node-a"],
            foo_pods(&[("p-a1", "node-a"), ("p-a2", "node-a"), ("p-b1", "node-b")]),
            vec![100],
        ),
        (
            "same number of matching pods",
            on_host(1),
            hosts(&["node-a", "node-b"]),
            vec!["node-a", "node-b"],
            foo_pods(&[("p-a1", "node-a"), ("p-b1", "node-b")]),
            vec![100, 100],
        ),
        (
            "2/1/0/3 on four candidates",
            on_host(1),
            hosts(&abcd),
            abcd.to_vec(),
            spread_2103(),
            vec![20, 60, 100, 0],
        ),
        (
            "null selector",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![soft(1, HOST, None)],
                ..Incoming::default()
            },
            hosts(&abcd),
            abcd.to_vec(),
            spread_2103(),
            vec![100, 100, 100, 100],
        ),
        (
            "2/1/0/3, maxSkew 2",
            on_host(2),
            hosts(&abcd),
            abcd.to_vec(),
            spread_2103(),
            vec![33, 66, 100, 16],
        ),
        (
            "4/3/2/1, maxSkew 3",
            on_host(3),
            hosts(&abcd),
            abcd.to_vec(),
            spread_4321(),
            vec![44, 66, 77, 100],
        ),
        (
            "4/2/1/~3~: three candidates",
            on_host(1),
            hosts(&["node-a", "node-b", "node-x", "node-y"]),
            vec!["node-a", "node-b", "node-x"],
            spread_4213(),
            vec![33, 83, 100],
        ),
        (
            "4/?2?/1/~3~: node-b lacks the key",
            on_host(1),
            vec![
                node("node-a", &[(HOST, "node-a")]),
                node("node-b", &[("n", "node-b")]),
                node("node-x", &[(HOST, "node-x")]),
                node("node-y", &[(HOST, "node-y")]),
            ],
            vec!["node-a", "node-b", "node-x"],
            spread_4213(),
            vec![16, 0, 100],
        ),
        (
            "zones 4/2/1/~3~",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![soft(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            zoned(),
            vec!["node-a", "node-b", "node-x"],
            spread_4213(),
            vec![75, 75, 100],
        ),
        (
            "zone and node, 2/~1~/2/~4~",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![soft(1, "zone", exists("foo")), soft(1, HOST, exists("foo"))],
                ..Incoming::default()
            },
            zoned(),
            vec!["node-a", "node-x"],
            foo_pods(&[
                ("p-a1", "node-a"),
                ("p-a2", "node-a"),
                ("p-b1", "node-b"),
                ("p-x1", "node-x"),
                ("p-x2", "node-x"),
                ("p-y1", "node-y"),
                ("p-y2", "node-y"),
                ("p-y3", "node-y"),
                ("p-y4", "node-y"),
            ]),
            vec![100, 63],
        ),
    ];
    for (name, incoming, nodes, feasible, pods, want) in cases {
        assert_eq!(
            scores(&plugin(), incoming, nodes, &feasible, &pods),
            Some(want),
            "{name}"
        );
    }
}

#[test]
fn system_default_constraints_table() {
    let hosts = |names: &[&str]| {
        names
            .iter()
            .map(|n| node(n, &[(HOST, n)]))
            .collect::<Vec<_>>()
    };
    let abcd = ["node-a", "node-b", "node-c", "node-d"];
    let pods = foo_pods(&[
        ("p-a1", "node-a"),
        ("p-a2", "node-a"),
        ("p-a3", "node-a"),
        ("p-a4", "node-a"),
        ("p-b1", "node-b"),
        ("p-b2", "node-b"),
        ("p-b3", "node-b"),
        ("p-c1", "node-c"),
        ("p-c2", "node-c"),
        ("p-d1", "node-d"),
    ]);
    // A "service" selecting `foo`, as the scheduler's closure would build it.
    let service = PodTopologySpread::new(Arc::new(|pod: &Pod| {
        pod.metadata
            .labels
            .as_ref()
            .filter(|l| l.contains_key("foo"))
            .and_then(|_| {
                Selector::parse(&LabelSelector {
                    match_labels: Some(labels(&[("foo", "")])),
                    match_expressions: None,
                })
            })
    }));
    let incoming = || Incoming {
        labels: &[("foo", "")],
        ..Incoming::default()
    };
    // Nodes without a zone still get hostname spreading (system defaulting): same scores as
    // one hostname constraint with maxSkew 3.
    assert_eq!(
        scores(&service, incoming(), hosts(&abcd), &abcd, &pods),
        Some(vec![44, 66, 77, 100])
    );
    // No owner selector: no default constraints.
    let none = PodTopologySpread::new(Arc::new(|_: &Pod| None));
    assert_eq!(scores(&none, incoming(), hosts(&abcd), &abcd, &pods), None);
    // An empty selector counts as none.
    let everything = PodTopologySpread::new(Arc::new(|_: &Pod| {
        Selector::parse(&LabelSelector::default())
    }));
    assert_eq!(
        scores(&everything, incoming(), hosts(&abcd), &abcd, &pods),
        None
    );
    // System defaults are all ScheduleAnyway: PreFilter skips.
    let snap = snapshot(hosts(&abcd), &pods);
    let (_, status) = service.pre_filter(&mut CycleState::default(), &incoming().build(), &snap);
    assert!(status.is_skip());
    // The pod's own constraints replace the defaults.
    let own = Incoming {
        labels: &[("foo", "")],
        spreads: vec![soft(1, HOST, exists("foo"))],
        ..Incoming::default()
    };
    assert_eq!(
        scores(&service, own, hosts(&abcd), &abcd, &pods),
        Some(vec![28, 57, 71, 100])
    );
    // List defaulting (hard default constraint): Filter uses it with the closure's selector.
    let listed = PodTopologySpread::with_default_constraints(
        vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: HOST.into(),
            when_unsatisfiable: DO_NOT_SCHEDULE.into(),
            ..TopologySpreadConstraint::default()
        }],
        Arc::new(|_: &Pod| {
            Selector::parse(&LabelSelector {
                match_labels: Some(labels(&[("foo", "")])),
                match_expressions: None,
            })
        }),
    );
    let pod = incoming().build();
    let mut state = CycleState::default();
    assert!(listed.pre_filter(&mut state, &pod, &snap).1.is_success());
    let codes: Vec<Code> = snap
        .nodes()
        .iter()
        .map(|n| listed.filter(&state, &pod, n).code)
        .collect();
    assert_eq!(
        codes,
        vec![
            Code::Unschedulable,
            Code::Unschedulable,
            Code::Unschedulable,
            Code::Success
        ]
    );
}

#[test]
fn registration_and_events() {
    let p = Arc::new(plugin());
    assert_eq!(p.name(), "PodTopologySpread");
    let events = p.events();
    let covers = |resource, action| {
        events
            .iter()
            .any(|e| e.covers(&ClusterEvent::new(resource, action, "x")))
    };
    assert!(covers(EventResource::AssignedPod, ActionType::ADD));
    assert!(covers(EventResource::AssignedPod, ActionType::DELETE));
    assert!(covers(
        EventResource::AssignedPod,
        ActionType::UPDATE_POD_LABEL
    ));
    assert!(covers(EventResource::Node, ActionType::ADD));
    assert!(covers(EventResource::Node, ActionType::DELETE));
    assert!(covers(EventResource::Node, ActionType::UPDATE_NODE_LABEL));
    assert!(covers(EventResource::Node, ActionType::UPDATE_NODE_TAINT));
    assert!(!covers(
        EventResource::Node,
        ActionType::UPDATE_NODE_ALLOCATABLE
    ));
    let mut points = Points::default();
    p.register(&mut points);
    assert_eq!(
        (
            points.pre_filter.len(),
            points.filter.len(),
            points.pre_score.len(),
            points.score.len()
        ),
        (1, 1, 1, 1)
    );
}

use super::*;

#[test]
fn pre_filter_state_table() {
    let five = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-y1", "node-y"),
            ("p-y2", "node-y"),
        ])
    };
    let seven = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-y1", "node-y"),
            ("p-y2", "node-y"),
            ("p-y3", "node-y"),
            ("p-y4", "node-y"),
        ])
    };
    let bar_selector = Some(LabelSelector {
        match_labels: Some(labels(&[("foo", "bar")])),
        match_expressions: None,
    });
    let three_zones = || {
        let mut n = four_nodes();
        n.push(node("node-o", &[("zone", "zone3"), ("node", "node-o")]));
        n.push(node("node-p", &[("zone", "zone3"), ("node", "node-p")]));
        n
    };
    let ns_mixed = || {
        vec![
            existing("p-a1", "node-a", "default", &[("foo", "")], false),
            existing("p-a2", "node-a", "ns1", &[("foo", "")], false),
            existing("p-b1", "node-b", "default", &[("foo", "")], false),
            existing("p-y1", "node-y", "ns2", &[("foo", "")], false),
            existing("p-y2", "node-y", "default", &[("foo", "")], false),
        ]
    };
    // (name, incoming pod, nodes, existing pods, want counts per constraint, want minimum per constraint)
    let cases: Vec<(
        &str,
        Incoming,
        Vec<Node>,
        Vec<Arc<PodInfo>>,
        Vec<BTreeMap<String, i64>>,
        Vec<i64>,
    )> = vec![
        (
            "clean cluster",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(5, "zone", bar_selector)],
                ..Incoming::default()
            },
            four_nodes(),
            vec![],
            vec![tp(&[("zone1", 0), ("zone2", 0)])],
            vec![0],
        ),
        (
            "one constraint",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2)])],
            vec![2],
        ),
        (
            "null selector counts nothing",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", None)],
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 0), ("zone2", 0)])],
            vec![0],
        ),
        (
            "empty selector counts nothing",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", Some(LabelSelector::default()))],
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 0), ("zone2", 0)])],
            vec![0],
        ),
        (
            "three zones",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            three_zones(),
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2), ("zone3", 0)])],
            vec![0],
        ),
        (
            "other namespaces do not count",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            four_nodes(),
            ns_mixed(),
            vec![tp(&[("zone1", 2), ("zone2", 1)])],
            vec![1],
        ),
        (
            "two constraints",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![
                    hard(1, "zone", exists("foo")),
                    hard(1, "node", exists("foo")),
                ],
                ..Incoming::default()
            },
            four_nodes(),
            seven(),
            vec![
                tp(&[("zone1", 3), ("zone2", 4)]),
                tp(&[("node-a", 2), ("node-b", 1), ("node-x", 0), ("node-y", 4)]),
            ],
            vec![3, 0],
        ),
        (
            "soft constraints are bypassed",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![
                    soft(1, "zone", exists("foo")),
                    hard(1, "zone", exists("foo")),
                    soft(1, "node", exists("foo")),
                    hard(1, "node", exists("foo")),
                ],
                ..Incoming::default()
            },
            four_nodes()
                .into_iter()
                .filter(|n| n.metadata.name.as_deref() != Some("node-x"))
                .collect(),
            seven(),
            vec![
                tp(&[("zone1", 3), ("zone2", 4)]),
                tp(&[("node-a", 2), ("node-b", 1), ("node-y", 4)]),
            ],
            vec![3, 1],
        ),
        (
            "nodes without every key are skipped",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![
                    hard(1, "zone", exists("foo")),
                    hard(1, "node", exists("foo")),
                ],
                ..Incoming::default()
            },
            vec![
                node("node-a", &[("zone", "zone1"), ("node", "node-a")]),
                node("node-b", &[("zon", "zone1"), ("node", "node-b")]),
                node("node-x", &[("zone", "zone2"), ("node", "node-x")]),
                node("node-y", &[("zone", "zone2"), ("node", "node-y")]),
            ],
            seven(),
            vec![
                tp(&[("zone1", 2), ("zone2", 4)]),
                tp(&[("node-a", 2), ("node-x", 0), ("node-y", 4)]),
            ],
            vec![2, 0],
        ),
        (
            "node affinity honored: excluded nodes do not count",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                affinity: Some(NodeSelectorRequirement {
                    key: "node".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["node-a".into()]),
                }),
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 1), ("zone2", 2)])],
            vec![1],
        ),
        (
            "node affinity ignored: every node counts",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    affinity_policy: Some("Ignore"),
                    ..hard(1, "zone", exists("foo"))
                }],
                affinity: Some(NodeSelectorRequirement {
                    key: "node".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["node-a".into()]),
                }),
                ..Incoming::default()
            },
            four_nodes(),
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2)])],
            vec![2],
        ),
        (
            "node taints honored: tainted nodes do not count",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    taints_policy: Some("Honor"),
                    ..hard(1, "zone", exists("foo"))
                }],
                ..Incoming::default()
            },
            {
                let mut n = four_nodes();
                n[3] = tainted(n[3].clone());
                n
            },
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 0)])],
            vec![0],
        ),
        (
            "node taints honored but tolerated",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    taints_policy: Some("Honor"),
                    ..hard(1, "zone", exists("foo"))
                }],
                tolerations: vec![Toleration {
                    key: Some("node.kubernetes.io/unschedulable".into()),
                    operator: Some("Exists".into()),
                    ..Toleration::default()
                }],
                ..Incoming::default()
            },
            {
                let mut n = four_nodes();
                n[3] = tainted(n[3].clone());
                n
            },
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2)])],
            vec![2],
        ),
        (
            "node taints ignored by default",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                ..Incoming::default()
            },
            {
                let mut n = four_nodes();
                n[3] = tainted(n[3].clone());
                n
            },
            five(),
            vec![tp(&[("zone1", 3), ("zone2", 2)])],
            vec![2],
        ),
        (
            "matchLabelKeys narrow the selector to the pod's value",
            Incoming {
                labels: &[("foo", ""), ("version", "v1")],
                spreads: vec![Spread {
                    match_label_keys: Some(vec!["version".into(), "absent".into()]),
                    ..hard(1, "zone", exists("foo"))
                }],
                ..Incoming::default()
            },
            four_nodes(),
            vec![
                existing(
                    "p-a1",
                    "node-a",
                    "default",
                    &[("foo", ""), ("version", "v1")],
                    false,
                ),
                existing(
                    "p-a2",
                    "node-a",
                    "default",
                    &[("foo", ""), ("version", "v2")],
                    false,
                ),
                existing(
                    "p-y1",
                    "node-y",
                    "default",
                    &[("foo", ""), ("version", "v1")],
                    false,
                ),
            ],
            vec![tp(&[("zone1", 1), ("zone2", 1)])],
            vec![1],
        ),
        (
            "terminating pods do not count",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                ..Incoming::default()
            },
            vec![
                node("node-a", &[("node", "node-a")]),
                node("node-b", &[("node", "node-b")]),
            ],
            vec![
                existing("p-a", "node-a", "default", &[("foo", "")], true),
                existing("p-b", "node-b", "default", &[("foo", "")], false),
            ],
            vec![tp(&[("node-a", 0), ("node-b", 1)])],
            vec![0],
        ),
    ];
    for (name, incoming, nodes, pods, want_counts, want_min) in cases {
        let snap = snapshot(nodes, &pods);
        let mut state = CycleState::default();
        let (result, status) = plugin().pre_filter(&mut state, &incoming.build(), &snap);
        assert!(
            status.is_success() && result.is_none(),
            "{name}: {status:?}"
        );
        assert_eq!(counts(&state), want_counts, "{name}");
        assert_eq!(minimums(&state), want_min, "{name}");
    }
}

#[test]
fn pre_filter_skips_and_errors() {
    let snap = snapshot(four_nodes(), &[]);
    let mut state = CycleState::default();
    // No constraints, no defaults: Skip.
    let (_, status) = plugin().pre_filter(&mut state, &Incoming::default().build(), &snap);
    assert!(status.is_skip());
    // Only soft constraints: Skip.
    let soft_only = Incoming {
        spreads: vec![soft(1, "zone", exists("foo"))],
        ..Incoming::default()
    };
    let (_, status) = plugin().pre_filter(&mut state, &soft_only.build(), &snap);
    assert!(status.is_skip());
    // An invalid selector is an error.
    let bad = Some(LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "foo".into(),
            operator: "In".into(),
            values: None,
        }]),
        match_labels: None,
    });
    let invalid = Incoming {
        spreads: vec![hard(1, "zone", bad)],
        ..Incoming::default()
    };
    let (_, status) = plugin().pre_filter(&mut state, &invalid.build(), &snap);
    assert_eq!(status.code, Code::Error);
    // Filter without PreFilter state is an error, not a panic.
    let info = NodeInfo::new(Arc::new(four_nodes().remove(0)));
    assert_eq!(
        plugin()
            .filter(&CycleState::default(), &Incoming::default().build(), &info)
            .code,
        Code::Error
    );
}

/// Runs PreFilter then Filter on every node; the codes per node, in node order.
fn filter_codes(incoming: Incoming, nodes: Vec<Node>, pods: &[Arc<PodInfo>]) -> Vec<Code> {
    let snap = snapshot(nodes, pods);
    let pod = incoming.build();
    let p = plugin();
    let mut state = CycleState::default();
    let (_, status) = p.pre_filter(&mut state, &pod, &snap);
    assert!(status.is_success(), "{status:?}");
    snap.nodes()
        .iter()
        .map(|n| p.filter(&state, &pod, n).code)
        .collect()
}

#[test]
fn single_constraint_filter_table() {
    use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as X};
    let foo = |max_skew, key| Incoming {
        labels: &[("foo", "")],
        spreads: vec![hard(max_skew, key, exists("foo"))],
        ..Incoming::default()
    };
    let spread_2103 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-y1", "node-y"),
            ("p-y2", "node-y"),
            ("p-y3", "node-y"),
        ])
    };
    let with_min = |max_skew, key, min| Incoming {
        labels: &[("foo", "")],
        spreads: vec![Spread {
            min_domains: Some(min),
            ..hard(max_skew, key, exists("foo"))
        }],
        ..Incoming::default()
    };
    let three_nodes = || {
        ["node-a", "node-b", "node-c"]
            .iter()
            .map(|n| node(n, &[("node", n)]))
            .collect::<Vec<_>>()
    };
    let spread_221 = || {
        foo_pods(&[
            ("p-a1", "node-a"),
            ("p-a2", "node-a"),
            ("p-b1", "node-b"),
            ("p-b2", "node-b"),
            ("p-c1", "node-c"),
        ])
    };
    let zone_21 = || foo_pods(&[("p-b1", "node-a"), ("p-b2", "node-b"), ("p-y1", "node-y")]);
    let policy_nodes = || {
        vec![
            node("node-a", &[("node", "node-a"), ("foo", "")]),
            node("node-b", &[("node", "node-b"), ("foo", "")]),
            node("node-x", &[("node", "node-x"), ("foo", "")]),
            tainted(node("node-y", &[("node", "node-y")])),
        ]
    };
    let policy_pods = || foo_pods(&[("p-b1", "node-a"), ("p-b2", "node-b"), ("p-y1", "node-y")]);
    let foo_exists = || NodeSelectorRequirement {
        key: "foo".into(),
        operator: "In".into(),
        values: Some(vec![String::new()]),
    };
    // (name, incoming pod, nodes, existing pods, want codes in node order)
    let cases: Vec<(&str, Incoming, Vec<Node>, Vec<Arc<PodInfo>>, Vec<Code>)> = vec![
        (
            "no existing pods",
            foo(1, "zone"),
            four_nodes(),
            vec![],
            vec![S, S, S, S],
        ),
        (
            "incoming pod does not match itself",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("bar"))],
                ..Incoming::default()
            },
            four_nodes(),
            vec![],
            vec![S, S, S, S],
        ),
        (
            "pods in other namespaces do not count",
            foo(1, "zone"),
            four_nodes(),
            vec![
                existing("p-a1", "node-a", "ns1", &[("foo", "")], false),
                existing("p-b1", "node-a", "ns2", &[("foo", "")], false),
                existing("p-x1", "node-x", "default", &[("foo", "")], false),
                existing("p-y1", "node-y", "default", &[("foo", "")], false),
            ],
            vec![S, S, U, U],
        ),
        (
            "existing pods do not match a null selector",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", None)],
                ..Incoming::default()
            },
            four_nodes(),
            foo_pods(&[("p-x1", "node-x"), ("p-y1", "node-y")]),
            vec![S, S, S, S],
        ),
        (
            "3/3 over zones: all fit",
            foo(1, "zone"),
            four_nodes(),
            spread_2103(),
            vec![S, S, S, S],
        ),
        (
            "1/2 over zones, node-b lacks the zone label",
            foo(1, "zone"),
            vec![
                node("node-a", &[("zone", "zone1"), ("node", "node-a")]),
                node("node-b", &[("zon", "zone1"), ("node", "node-b")]),
                node("node-x", &[("zone", "zone2"), ("node", "node-x")]),
                node("node-y", &[("zone", "zone2"), ("node", "node-y")]),
            ],
            foo_pods(&[
                ("p-a1", "node-a"),
                ("p-b1", "node-b"),
                ("p-x1", "node-x"),
                ("p-y1", "node-y"),
            ]),
            vec![S, X, U, U],
        ),
        (
            "no node has the rack label",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "rack", exists("foo"))],
                ..Incoming::default()
            },
            vec![
                node("node-a", &[("zone", "zone1")]),
                node("node-x", &[("zone", "zone2")]),
            ],
            vec![],
            vec![X, X],
        ),
        (
            "2/1/0/3 over nodes: only node-x fits",
            foo(1, "node"),
            four_nodes(),
            spread_2103(),
            vec![U, U, S, U],
        ),
        (
            "2/1/0/3, maxSkew 2: node-b and node-x fit",
            foo(2, "node"),
            four_nodes(),
            spread_2103(),
            vec![U, S, S, U],
        ),
        (
            "2/1/0/3, the pod does not match itself",
            Incoming {
                labels: &[("bar", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                ..Incoming::default()
            },
            four_nodes(),
            spread_2103(),
            vec![U, S, S, U],
        ),
        (
            "node affinity In: 2/~1~/~0~/3, node-a fits",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                affinity: Some(NodeSelectorRequirement {
                    key: "node".into(),
                    operator: "In".into(),
                    values: Some(vec!["node-a".into(), "node-y".into()]),
                }),
                ..Incoming::default()
            },
            four_nodes(),
            spread_2103(),
            vec![S, S, S, U],
        ),
        (
            "terminating pods are excluded",
            foo(1, "node"),
            vec![
                node("node-a", &[("node", "node-a")]),
                node("node-b", &[("node", "node-b")]),
            ],
            vec![
                existing("p-a", "node-a", "default", &[("foo", "")], true),
                existing("p-b", "node-b", "default", &[("foo", "")], false),
            ],
            vec![S, U],
        ),
        (
            "node affinity NotIn: 0/~2~/0/1, node-a fits",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "zone", exists("foo"))],
                affinity: Some(NodeSelectorRequirement {
                    key: "node".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["node-b".into()]),
                }),
                ..Incoming::default()
            },
            four_nodes(),
            foo_pods(&[("p-b1", "node-b"), ("p-b2", "node-b"), ("p-y1", "node-y")]),
            vec![S, S, U, U],
        ),
        (
            "2/2/1, maxSkew 2, fewer domains than minDomains",
            with_min(2, "node", 4),
            three_nodes(),
            spread_221(),
            vec![U, U, S],
        ),
        (
            "2/2/1, maxSkew 2, more domains than minDomains",
            with_min(2, "node", 2),
            three_nodes(),
            spread_221(),
            vec![S, S, S],
        ),
        (
            "zones 2/1, maxSkew 2, fewer domains than minDomains",
            with_min(2, "zone", 3),
            four_nodes(),
            zone_21(),
            vec![U, U, S, S],
        ),
        (
            "zones 2/1, maxSkew 2, more domains than minDomains",
            with_min(2, "zone", 1),
            four_nodes(),
            zone_21(),
            vec![S, S, S, S],
        ),
        (
            "nodeAffinityPolicy Honor with nodeSelector",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                node_selector: Some(&[("foo", "")]),
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, S],
        ),
        (
            "nodeAffinityPolicy Ignore with nodeSelector",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    affinity_policy: Some("Ignore"),
                    ..hard(1, "node", exists("foo"))
                }],
                node_selector: Some(&[("foo", "")]),
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, U],
        ),
        (
            "nodeAffinityPolicy Honor with nodeAffinity",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![hard(1, "node", exists("foo"))],
                affinity: Some(foo_exists()),
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, S],
        ),
        (
            "nodeAffinityPolicy Ignore with nodeAffinity",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    affinity_policy: Some("Ignore"),
                    ..hard(1, "node", exists("foo"))
                }],
                affinity: Some(foo_exists()),
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, U],
        ),
        (
            "nodeTaintsPolicy Honor",
            Incoming {
                labels: &[("foo", "")],
                spreads: vec![Spread {
                    taints_policy: Some("Honor"),
                    ..hard(1, "node", exists("foo"))
                }],
                ..Incoming::default()
            },
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, S],
        ),
        (
            "nodeTaintsPolicy Ignore (default)",
            foo(1, "node"),
            policy_nodes(),
            policy_pods(),
            vec![U, U, S, U],
        ),
    ];
    for (name, incoming, nodes, pods, want) in cases {
        assert_eq!(filter_codes(incoming, nodes, &pods), want, "{name}");
    }
}

#[test]
fn multiple_constraints_filter_table() {
    use Code::{Success as S, Unschedulable as U};
    let both = |zone_selector, node_selector| Incoming {
        labels: &[("foo", ""), ("bar", "")],
        spreads: vec![
            hard(1, "zone", zone_selector),
            hard(1, "node", node_selector),
        ],
        ..Incoming::default()
    };
    // (name, incoming pod, existing pods, want codes for node-a, node-b, node-x, node-y)
    let cases: Vec<(&str, Incoming, Vec<Arc<PodInfo>>, Vec<Code>)> = vec![
        (
            "zone and node, spreads [3/3, 2/1/0/3]: node-x",
            both(exists("foo"), exists("foo")),
            foo_pods(&[
                ("p-a1", "node-a"),
                ("p-a2", "node-a"),
                ("p-b1", "node-b"),
                ("p-y1", "node-y"),
                ("p-y2", "node-y"),
                ("p-y3", "node-y"),
            ]),
            vec![U, U, S, U],
        ),
        (
            "zone and node, spreads [3/4, 2/1/0/4]: none",
            both(exists("foo"), exists("foo")),
            foo_pods(&[
                ("p-a1", "node-a"),
                ("p-a2", "node-a"),
                ("p-b1", "node-b"),
                ("p-y1", "node-y"),
                ("p-y2", "node-y"),
                ("p-y3", "node-y"),
                ("p-y4", "node-y"),
            ]),
            vec![U, U, U, U],
        ),
        (
            "different selectors, spreads [1/0, 0/0/0/1]: node-x",
            both(exists("foo"), exists("bar")),
            vec![
                existing("p-a1", "node-a", "default", &[("foo", "")], false),
                existing("p-y1", "node-y", "default", &[("bar", "")], false),
            ],
            vec![U, U, S, U],
        ),
        (
            "different selectors, spreads [1/0, 0/1/0/0]: node-x and node-y",
            both(exists("foo"), exists("bar")),
            vec![
                existing("p-a1", "node-a", "default", &[("foo", "")], false),
                existing("p-b1", "node-b", "default", &[("bar", "")], false),
            ],
            vec![U, U, S, S],
        ),
    ];
    for (name, incoming, pods, want) in cases {
        assert_eq!(filter_codes(incoming, four_nodes(), &pods), want, "{name}");
    }
}

#[test]
fn add_and_remove_pod_update_counts() {
    let incoming = || Incoming {
        labels: &[("foo", "")],
        spreads: vec![
            hard(1, "zone", exists("foo")),
            hard(1, "node", exists("foo")),
        ],
        ..Incoming::default()
    };
    let pods = foo_pods(&[("p-a1", "node-a"), ("p-b1", "node-b"), ("p-x1", "node-x")]);
    let snap = snapshot(four_nodes(), &pods);
    let pod = incoming().build();
    let p = plugin();
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &pod, &snap).1.is_success());
    assert_eq!(
        counts(&state),
        vec![
            tp(&[("zone1", 2), ("zone2", 1)]),
            tp(&[("node-a", 1), ("node-b", 1), ("node-x", 1), ("node-y", 0)])
        ]
    );
    assert_eq!(minimums(&state), vec![1, 0]);
    let before = state.clone();
    let node_x = snap.get("node-x").expect("node-x");
    let node_y = snap.get("node-y").expect("node-y");
    // Adding a matching pod on node-y raises zone2 and node-y.
    let added = existing("p-y1", "node-y", "default", &[("foo", "")], false);
    assert!(p.add_pod(&mut state, &pod, &added, node_y).is_success());
    assert_eq!(
        counts(&state),
        vec![
            tp(&[("zone1", 2), ("zone2", 2)]),
            tp(&[("node-a", 1), ("node-b", 1), ("node-x", 1), ("node-y", 1)])
        ]
    );
    assert_eq!(minimums(&state), vec![2, 1]);
    // The copy taken before is untouched (preemption simulates on copies).
    assert_eq!(counts(&before)[0], tp(&[("zone1", 2), ("zone2", 1)]));
    // Removing the pod on node-x lowers zone2 and node-x.
    assert!(
        p.remove_pod(&mut state, &pod, &pods[2], node_x)
            .is_success()
    );
    assert_eq!(
        counts(&state),
        vec![
            tp(&[("zone1", 2), ("zone2", 1)]),
            tp(&[("node-a", 1), ("node-b", 1), ("node-x", 0), ("node-y", 1)])
        ]
    );
    assert_eq!(minimums(&state), vec![1, 0]);
    // Pods of another namespace or not matching change nothing.
    let other_ns = existing("q", "node-y", "other", &[("foo", "")], false);
    let unmatched = existing("r", "node-y", "default", &[("bar", "")], false);
    let expected = counts(&state);
    assert!(p.add_pod(&mut state, &pod, &other_ns, node_y).is_success());
    assert!(p.add_pod(&mut state, &pod, &unmatched, node_y).is_success());
    assert_eq!(counts(&state), expected);
    // A node without every topology key changes nothing.
    let keyless = NodeInfo::new(Arc::new(node("node-z", &[("zone", "zone3")])));
    assert!(p.add_pod(&mut state, &pod, &added, &keyless).is_success());
    assert_eq!(counts(&state), expected);
    // Without PreFilter state: an error.
    assert_eq!(
        p.add_pod(&mut CycleState::default(), &pod, &added, node_y)
            .code,
        Code::Error
    );
}

#[test]
fn critical_paths_table() {
    // (updates, want [min, second])
    let cases: Vec<(Vec<(&str, i64)>, [(&str, i64); 2])> = vec![
        (vec![("a", 3), ("b", 1), ("c", 2)], [("b", 1), ("c", 2)]),
        (vec![("a", 1), ("b", 2), ("a", 5)], [("b", 2), ("a", 5)]),
        (vec![("a", 1), ("b", 2), ("b", 0)], [("b", 0), ("a", 1)]),
        (vec![("a", 0)], [("a", 0), ("", i64::from(i32::MAX))]),
    ];
    for (updates, want) in cases {
        let mut paths = CriticalPaths::new();
        for (v, n) in &updates {
            paths.update(v, *n);
        }
        let want = CriticalPaths([
            (want[0].0.to_owned(), want[0].1),
            (want[1].0.to_owned(), want[1].1),
        ]);
        assert_eq!(paths, want, "{updates:?}");
    }
}

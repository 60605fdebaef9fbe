use super::*;

// ---------------------------------------------------------------------------------------
// Filtering (upstream filtering_test.go).

struct FilterCase {
    name: &'static str,
    pod: Pod,
    pods: Vec<Pod>,
    nodes: Vec<Node>,
    want_pre_filter: Status,
    /// One per node; ignored when PreFilter does not succeed.
    want: Vec<Status>,
}

fn check_filter_cases(cases: Vec<FilterCase>) {
    for case in cases {
        let (pre, got) = run_filters(&case.pod, &case.pods, &case.nodes);
        assert_eq!(pre, case.want_pre_filter, "{}: PreFilter", case.name);
        if pre.is_success() {
            assert_eq!(got, case.want, "{}: Filter", case.name);
        }
    }
}

#[test]
fn required_affinity_single_node() {
    let pod_label: &[(&str, &str)] = &[("service", "securityscan")];
    let pod_label2: &[(&str, &str)] = &[("security", "S1")];
    let existing = make_pod().labels(pod_label).node("node1").obj();
    let node1 = || vec![node("node1", &[("region", "r1"), ("zone", "z11")])];
    let case = |name, pod: Pod, pods: Vec<Pod>, want_pre_filter: Status, want: Status| FilterCase {
        name,
        pod,
        pods,
        nodes: node1(),
        want_pre_filter,
        want: vec![want],
    };
    let cases = vec![
        case(
            "a pod without required pod affinity on a node with no existing pods: Skip",
            Pod::default(),
            vec![],
            Status::skip(),
            ok(),
        ),
        case(
            "satisfies required PodAffinity using In operator that matches the existing pod",
            make_pod()
                .labels(pod_label2)
                .affinity_term(term_in("service", "region", &["securityscan", "value2"]))
                .obj(),
            vec![existing.clone()],
            ok(),
            ok(),
        ),
        case(
            "satisfies required PodAffinity using NotIn operator that matches the existing pod",
            make_pod()
                .labels(pod_label2)
                .affinity_term(term_not_in(
                    "service",
                    "region",
                    &["securityscan3", "value3"],
                ))
                .obj(),
            vec![existing.clone()],
            ok(),
            ok(),
        ),
        case(
            "does not satisfy the PodAffinity with labelSelector because of a different namespace",
            make_pod()
                .labels(pod_label2)
                .affinity_term(with_namespaces(
                    term_in("service", "", &["securityscan", "value2"]),
                    &["DiffNameSpace"],
                ))
                .obj(),
            vec![
                make_pod()
                    .namespace("ns")
                    .labels(pod_label)
                    .node("node1")
                    .obj(),
            ],
            ok(),
            affinity_fail(),
        ),
        case(
            "doesn't satisfy the PodAffinity because of an unmatching labelSelector",
            make_pod()
                .labels(pod_label)
                .affinity_term(term_in("service", "", &["antivirusscan", "value2"]))
                .obj(),
            vec![existing.clone()],
            ok(),
            affinity_fail(),
        ),
        case(
            "satisfies the PodAffinity with different label operators in multiple terms",
            make_pod()
                .labels(pod_label2)
                .affinity_term(term(
                    vec![
                        expr("service", "Exists", &[]),
                        expr("wrongkey", "DoesNotExist", &[]),
                    ],
                    "region",
                ))
                .affinity_term(term(
                    vec![
                        expr("service", "In", &["securityscan"]),
                        expr("service", "NotIn", &["WrongValue"]),
                    ],
                    "region",
                ))
                .obj(),
            vec![existing.clone()],
            ok(),
            ok(),
        ),
        case(
            "matchExpressions are ANDed: one item doesn't match",
            make_pod()
                .labels(pod_label2)
                .affinity_term(term(
                    vec![
                        expr("service", "Exists", &[]),
                        expr("wrongkey", "DoesNotExist", &[]),
                    ],
                    "region",
                ))
                .affinity_term(term(
                    vec![
                        expr("service", "In", &["securityscan2"]),
                        expr("service", "NotIn", &["WrongValue"]),
                    ],
                    "region",
                ))
                .obj(),
            vec![existing.clone()],
            ok(),
            affinity_fail(),
        ),
        case(
            "satisfies the PodAffinity and PodAntiAffinity with the existing pod",
            make_pod()
                .labels(pod_label2)
                .affinity_term(term_in("service", "region", &["securityscan", "value2"]))
                .anti_affinity_term(term_in("service", "node", &["antivirusscan", "value2"]))
                .obj(),
            vec![existing.clone()],
            ok(),
            ok(),
        ),
        case(
            "satisfies PodAffinity, PodAntiAffinity and PodAntiAffinity symmetry",
            make_pod()
                .labels(pod_label2)
                .affinity_term(term_in("service", "region", &["securityscan", "value2"]))
                .anti_affinity_term(term_in("service", "node", &["antivirusscan", "value2"]))
                .obj(),
            vec![
                make_pod()
                    .node("node1")
                    .labels(pod_label)
                    .anti_affinity_term(term_in("service", "node", &["antivirusscan", "value2"]))
                    .obj(),
            ],
            ok(),
            ok(),
        ),
        case(
            "satisfies the PodAffinity but not the PodAntiAffinity",
            make_pod()
                .labels(pod_label2)
                .affinity_term(term_in("service", "region", &["securityscan", "value2"]))
                .anti_affinity_term(term_in("service", "zone", &["securityscan", "value2"]))
                .obj(),
            vec![existing.clone()],
            ok(),
            anti_fail(),
        ),
        case(
            "satisfies PodAffinity and PodAntiAffinity but not the existing pod's anti-affinity",
            make_pod()
                .labels(pod_label)
                .affinity_term(term_in("service", "region", &["securityscan", "value2"]))
                .anti_affinity_term(term_in("service", "node", &["antivirusscan", "value2"]))
                .obj(),
            vec![
                make_pod()
                    .labels(pod_label)
                    .node("node1")
                    .anti_affinity_term(term_in("service", "zone", &["securityscan", "value2"]))
                    .obj(),
            ],
            ok(),
            existing_fail(),
        ),
        case(
            "the pod doesn't match its own affinity and no pod in the cluster does",
            make_pod()
                .labels(pod_label)
                .affinity_term(term_not_in(
                    "service",
                    "region",
                    &["securityscan", "value2"],
                ))
                .obj(),
            vec![make_pod().labels(pod_label).node("node2").obj()],
            ok(),
            affinity_fail(),
        ),
        case(
            "an existing pod's anti-affinity is respected when the pod has none (violated)",
            make_pod().labels(pod_label).obj(),
            vec![
                make_pod()
                    .node("node1")
                    .labels(pod_label)
                    .anti_affinity_term(term_in("service", "zone", &["securityscan", "value2"]))
                    .obj(),
            ],
            ok(),
            existing_fail(),
        ),
        case(
            "an existing pod's anti-affinity is respected when the pod has none (satisfied): Skip",
            make_pod().labels(pod_label).obj(),
            vec![
                make_pod()
                    .node("node1")
                    .labels(pod_label)
                    .anti_affinity_term(term_not_in("service", "zone", &["securityscan", "value2"]))
                    .obj(),
            ],
            Status::skip(),
            ok(),
        ),
        case(
            "satisfies the existing pod's anti-affinity but not its own",
            make_pod()
                .labels(pod_label)
                .anti_affinity_term(term_exists("service", "region"))
                .anti_affinity_term(term_exists("security", "region"))
                .obj(),
            vec![
                make_pod()
                    .node("node1")
                    .labels(pod_label2)
                    .anti_affinity_term(term_exists("security", "zone"))
                    .obj(),
            ],
            ok(),
            anti_fail(),
        ),
        case(
            "anti-affinity symmetry a1: the pods partially match each other",
            make_pod()
                .labels(pod_label)
                .anti_affinity_term(term_exists("service", "zone"))
                .anti_affinity_term(term_exists("security", "zone"))
                .obj(),
            vec![
                make_pod()
                    .node("node1")
                    .labels(pod_label2)
                    .anti_affinity_term(term_exists("security", "zone"))
                    .obj(),
            ],
            ok(),
            anti_fail(),
        ),
        case(
            "anti-affinity symmetry a2: the pods partially match each other",
            make_pod()
                .labels(pod_label2)
                .anti_affinity_term(term_exists("security", "zone"))
                .obj(),
            vec![
                make_pod()
                    .node("node1")
                    .labels(pod_label)
                    .anti_affinity_term(term_exists("service", "zone"))
                    .anti_affinity_term(term_exists("security", "zone"))
                    .obj(),
            ],
            ok(),
            existing_fail(),
        ),
        case(
            "anti-affinity symmetry b1: the pods partially match each other",
            make_pod()
                .labels(&[("abc", ""), ("xyz", "")])
                .anti_affinity_term(term_exists("abc", "zone"))
                .anti_affinity_term(term_exists("def", "zone"))
                .obj(),
            vec![
                make_pod()
                    .node("node1")
                    .labels(&[("def", ""), ("xyz", "")])
                    .anti_affinity_term(term_exists("abc", "zone"))
                    .anti_affinity_term(term_exists("def", "zone"))
                    .obj(),
            ],
            ok(),
            anti_fail(),
        ),
        case(
            "anti-affinity symmetry b2: the pods partially match each other",
            make_pod()
                .labels(&[("def", ""), ("xyz", "")])
                .anti_affinity_term(term_exists("abc", "zone"))
                .anti_affinity_term(term_exists("def", "zone"))
                .obj(),
            vec![
                make_pod()
                    .node("node1")
                    .labels(&[("abc", ""), ("xyz", "")])
                    .anti_affinity_term(term_exists("abc", "zone"))
                    .anti_affinity_term(term_exists("def", "zone"))
                    .obj(),
            ],
            ok(),
            anti_fail(),
        ),
        case(
            "an invalid affinity selector fails PreFilter",
            make_pod()
                .labels(pod_label)
                .affinity_term(term(vec![expr("service", "In", &[])], "region"))
                .affinity_term(term_in("service", "node", &["antivirusscan", "value2"]))
                .obj(),
            vec![],
            Status::unresolvable("parsing pod: requiredAffinityTerms: invalid label selector"),
            ok(),
        ),
        case(
            "an invalid anti-affinity selector fails PreFilter",
            make_pod()
                .labels(pod_label)
                .affinity_term(term_in("service", "region", &["foo"]))
                .anti_affinity_term(term(vec![expr("service", "Bogus", &["x"])], "node"))
                .obj(),
            vec![],
            Status::unresolvable("parsing pod: requiredAntiAffinityTerms: invalid label selector"),
            ok(),
        ),
        case(
            "affinity with a NamespaceSelector",
            make_pod()
                .labels(pod_label2)
                .affinity_term(with_ns_selector(
                    term_in("service", "region", &["securityscan", "value2"]),
                    team1_selector(),
                ))
                .obj(),
            vec![
                make_pod()
                    .namespace("subteam1.team1")
                    .labels(pod_label)
                    .node("node1")
                    .obj(),
            ],
            ok(),
            ok(),
        ),
        case(
            "affinity with a non-matching NamespaceSelector",
            make_pod()
                .labels(pod_label2)
                .affinity_term(with_ns_selector(
                    term_in("service", "region", &["securityscan", "value2"]),
                    team1_selector(),
                ))
                .obj(),
            vec![
                make_pod()
                    .namespace("subteam1.team2")
                    .labels(pod_label)
                    .node("node1")
                    .obj(),
            ],
            ok(),
            affinity_fail(),
        ),
        case(
            "anti-affinity with a matching NamespaceSelector",
            make_pod()
                .namespace("subteam1.team1")
                .labels(pod_label2)
                .anti_affinity_term(with_ns_selector(
                    term_in("service", "zone", &["securityscan", "value2"]),
                    team1_selector(),
                ))
                .obj(),
            vec![
                make_pod()
                    .namespace("subteam2.team1")
                    .labels(pod_label)
                    .node("node1")
                    .obj(),
            ],
            ok(),
            anti_fail(),
        ),
        case(
            "anti-affinity with a NamespaceSelector matching all namespaces",
            make_pod()
                .namespace("subteam1.team1")
                .labels(pod_label2)
                .anti_affinity_term(with_ns_selector(
                    term_in("service", "zone", &["securityscan", "value2"]),
                    vec![],
                ))
                .obj(),
            vec![
                make_pod()
                    .namespace("subteam2.team1")
                    .labels(pod_label)
                    .node("node1")
                    .obj(),
            ],
            ok(),
            anti_fail(),
        ),
        case(
            "anti-affinity with a non-matching NamespaceSelector",
            make_pod()
                .namespace("subteam1.team1")
                .labels(pod_label2)
                .anti_affinity_term(with_ns_selector(
                    term_in("service", "zone", &["securityscan", "value2"]),
                    team1_selector(),
                ))
                .obj(),
            vec![
                make_pod()
                    .namespace("subteam1.team2")
                    .labels(pod_label)
                    .node("node1")
                    .obj(),
            ],
            ok(),
            ok(),
        ),
    ];
    check_filter_cases(cases);
}

#[test]
fn required_affinity_multiple_nodes() {
    let rg_china: &[(&str, &str)] = &[("region", "China")];
    let rg_china_az1: &[(&str, &str)] = &[("region", "China"), ("az", "az1")];
    let rg_india: &[(&str, &str)] = &[("region", "India")];
    let three = |a: &str, b: &str, c: &str| {
        vec![node(a, rg_china), node(b, rg_china_az1), node(c, rg_india)]
    };
    let hosts = |zones: [&str; 2]| {
        vec![
            node(
                "nodeA",
                &[("region", "r1"), ("zone", zones[0]), ("hostname", "nodeA")],
            ),
            node(
                "nodeB",
                &[("region", "r1"), ("zone", zones[1]), ("hostname", "nodeB")],
            ),
        ]
    };
    let cases = vec![
        FilterCase {
            name: "all nodes in the domain of a matching pod fit",
            pod: make_pod()
                .affinity_term(term_in("foo", "region", &["bar"]))
                .obj(),
            pods: vec![
                make_pod()
                    .name("p1")
                    .node("node1")
                    .labels(&[("foo", "bar")])
                    .obj(),
            ],
            nodes: three("node1", "node2", "node3"),
            want_pre_filter: ok(),
            want: vec![ok(), ok(), affinity_fail()],
        },
        FilterCase {
            name: "the first pod of a collection that selects itself is not blocked anywhere",
            pod: make_pod()
                .labels(&[("foo", "bar"), ("service", "securityscan")])
                .affinity_term(term_in("foo", "zone", &["bar"]))
                .affinity_term(term_in("service", "zone", &["securityscan"]))
                .obj(),
            pods: vec![
                make_pod()
                    .name("p1")
                    .node("nodeA")
                    .labels(&[("foo", "bar")])
                    .obj(),
            ],
            nodes: vec![
                node("nodeA", &[("zone", "az1"), ("hostname", "h1")]),
                node("nodeB", &[("zone", "az2"), ("hostname", "h2")]),
            ],
            want_pre_filter: ok(),
            want: vec![ok(), ok()],
        },
        FilterCase {
            name: "the first pod of a collection only fits nodes with the topology keys",
            pod: make_pod()
                .labels(&[("foo", "bar"), ("service", "securityscan")])
                .affinity_term(term_in("foo", "zone", &["bar"]))
                .affinity_term(term_in("service", "zone", &["securityscan"]))
                .obj(),
            pods: vec![
                make_pod()
                    .name("p1")
                    .node("nodeA")
                    .labels(&[("foo", "bar")])
                    .obj(),
            ],
            nodes: vec![
                node("nodeA", &[("zoneLabel", "az1"), ("hostname", "h1")]),
                node("nodeB", &[("zoneLabel", "az2"), ("hostname", "h2")]),
            ],
            want_pre_filter: ok(),
            want: vec![affinity_fail(), affinity_fail()],
        },
        FilterCase {
            name: "anti-affinity: both nodes share the region of the matching pod",
            pod: make_pod()
                .anti_affinity_term(term_in("foo", "region", &["abc"]))
                .obj(),
            pods: vec![make_pod().node("nodeA").labels(&[("foo", "abc")]).obj()],
            nodes: vec![
                node("nodeA", &[("region", "r1"), ("hostname", "nodeA")]),
                node("nodeB", &[("region", "r1"), ("hostname", "nodeB")]),
            ],
            want_pre_filter: ok(),
            want: vec![anti_fail(), anti_fail()],
        },
        FilterCase {
            name: "anti-affinity matches when any term matches",
            pod: make_pod()
                .anti_affinity_term(term_in("foo", "region", &["abc"]))
                .anti_affinity_term(term_in("service", "zone", &["securityscan"]))
                .obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .labels(&[("foo", "abc"), ("service", "securityscan")])
                    .obj(),
            ],
            nodes: vec![
                node(
                    "nodeA",
                    &[("region", "r1"), ("zone", "z1"), ("hostname", "nodeA")],
                ),
                node(
                    "nodeB",
                    &[("region", "r1"), ("zone", "z2"), ("hostname", "nodeB")],
                ),
            ],
            want_pre_filter: ok(),
            want: vec![anti_fail(), anti_fail()],
        },
        FilterCase {
            name: "anti-affinity: the other region fits",
            pod: make_pod()
                .anti_affinity_term(term_in("foo", "region", &["abc"]))
                .obj(),
            pods: vec![make_pod().node("nodeA").labels(&[("foo", "abc")]).obj()],
            nodes: three("nodeA", "nodeB", "nodeC"),
            want_pre_filter: ok(),
            want: vec![anti_fail(), anti_fail(), ok()],
        },
        FilterCase {
            name: "anti-affinity of a pod in another namespace does not count",
            pod: make_pod()
                .namespace("NS1")
                .labels(&[("foo", "123")])
                .anti_affinity_term(term_in("foo", "region", &["bar"]))
                .obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .namespace("NS1")
                    .labels(&[("foo", "bar")])
                    .obj(),
                make_pod()
                    .node("nodeC")
                    .namespace("NS2")
                    .anti_affinity_term(term_in("foo", "region", &["123"]))
                    .obj(),
            ],
            nodes: three("nodeA", "nodeB", "nodeC"),
            want_pre_filter: ok(),
            want: vec![anti_fail(), anti_fail(), ok()],
        },
        FilterCase {
            name: "existing anti-affinity: a term whose topology key no node has: Skip",
            pod: make_pod().labels(&[("foo", "")]).obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .anti_affinity_term(term_exists("foo", "invalid-node-label"))
                    .obj(),
            ],
            nodes: hosts(["z1", "z1"]),
            want_pre_filter: Status::skip(),
            want: vec![ok(), ok()],
        },
        FilterCase {
            name: "incoming anti-affinity: the selector matches but no node has the topology key",
            pod: make_pod()
                .node("nodeA")
                .anti_affinity_term(term_exists("foo", "invalid-node-label"))
                .obj(),
            pods: vec![make_pod().node("nodeA").labels(&[("foo", "")]).obj()],
            nodes: hosts(["z1", "z1"]),
            want_pre_filter: ok(),
            want: vec![ok(), ok()],
        },
        FilterCase {
            name: "existing anti-affinity: the pod violates each existing pod's terms on all nodes",
            pod: make_pod().labels(&[("foo", ""), ("bar", "")]).obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .anti_affinity_term(term_exists("foo", "zone"))
                    .obj(),
                make_pod()
                    .node("nodeA")
                    .anti_affinity_term(term_exists("bar", "region"))
                    .obj(),
            ],
            nodes: hosts(["z1", "z2"]),
            want_pre_filter: ok(),
            want: vec![existing_fail(), existing_fail()],
        },
        FilterCase {
            name: "incoming anti-affinity: the pod violates at least one term on each node",
            pod: make_pod()
                .anti_affinity_term(term_exists("foo", "zone"))
                .anti_affinity_term(term_exists("bar", "region"))
                .obj(),
            pods: vec![
                make_pod().node("nodeA").labels(&[("foo", "")]).obj(),
                make_pod().node("nodeB").labels(&[("bar", "")]).obj(),
            ],
            nodes: hosts(["z1", "z2"]),
            want_pre_filter: ok(),
            want: vec![anti_fail(), anti_fail()],
        },
        FilterCase {
            name: "existing anti-affinity: selector and topology key must both match (one key missing)",
            pod: make_pod().labels(&[("foo", ""), ("bar", "")]).obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .anti_affinity_term(term_exists("foo", "invalid-node-label"))
                    .anti_affinity_term(term_exists("bar", "zone"))
                    .obj(),
            ],
            nodes: hosts(["z1", "z2"]),
            want_pre_filter: ok(),
            want: vec![existing_fail(), ok()],
        },
        FilterCase {
            name: "incoming anti-affinity: selector and topology key must both match (one key missing)",
            pod: make_pod()
                .anti_affinity_term(term_exists("foo", "invalid-node-label"))
                .anti_affinity_term(term_exists("bar", "zone"))
                .obj(),
            pods: vec![
                make_pod()
                    .name("podA")
                    .node("nodeA")
                    .labels(&[("foo", ""), ("bar", "")])
                    .obj(),
            ],
            nodes: hosts(["z1", "z2"]),
            want_pre_filter: ok(),
            want: vec![anti_fail(), ok()],
        },
        FilterCase {
            name: "existing anti-affinity: selector and topology key must both match (all keys valid)",
            pod: make_pod().labels(&[("foo", ""), ("bar", "")]).obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .anti_affinity_term(term_exists("foo", "region"))
                    .anti_affinity_term(term_exists("bar", "zone"))
                    .obj(),
            ],
            nodes: hosts(["z1", "z2"]),
            want_pre_filter: ok(),
            want: vec![existing_fail(), existing_fail()],
        },
        FilterCase {
            name: "incoming anti-affinity: selector and topology key must both match (all keys valid)",
            pod: make_pod()
                .anti_affinity_term(term_exists("foo", "region"))
                .anti_affinity_term(term_exists("bar", "zone"))
                .obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .labels(&[("foo", ""), ("bar", "")])
                    .obj(),
            ],
            nodes: hosts(["z1", "z2"]),
            want_pre_filter: ok(),
            want: vec![anti_fail(), anti_fail()],
        },
        FilterCase {
            name: "existing anti-affinity: pods on nodeA and nodeB each have a matching term; nodeC fits",
            pod: make_pod().labels(&[("foo", ""), ("bar", "")]).obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .anti_affinity_term(term_exists("foo", "zone"))
                    .anti_affinity_term(term_exists("labelA", "zone"))
                    .obj(),
                make_pod()
                    .node("nodeB")
                    .anti_affinity_term(term_exists("bar", "zone"))
                    .anti_affinity_term(term_exists("labelB", "zone"))
                    .obj(),
            ],
            nodes: vec![
                node(
                    "nodeA",
                    &[("region", "r1"), ("zone", "z1"), ("hostname", "nodeA")],
                ),
                node(
                    "nodeB",
                    &[("region", "r1"), ("zone", "z2"), ("hostname", "nodeB")],
                ),
                node(
                    "nodeC",
                    &[("region", "r1"), ("zone", "z3"), ("hostname", "nodeC")],
                ),
            ],
            want_pre_filter: ok(),
            want: vec![existing_fail(), existing_fail(), ok()],
        },
        FilterCase {
            name: "incoming affinity: all terms match one pod, then all topology keys",
            pod: make_pod()
                .affinity_term(term_exists("foo", "region"))
                .affinity_term(term_exists("bar", "zone"))
                .obj(),
            pods: vec![
                make_pod()
                    .name("pod1")
                    .labels(&[("foo", ""), ("bar", "")])
                    .node("nodeA")
                    .obj(),
            ],
            nodes: hosts(["z1", "z1"]),
            want_pre_filter: ok(),
            want: vec![ok(), ok()],
        },
        FilterCase {
            name: "incoming affinity: the terms must be satisfied by the same pod",
            pod: make_pod()
                .affinity_term(term_exists("foo", "region"))
                .affinity_term(term_exists("bar", "zone"))
                .obj(),
            pods: vec![
                make_pod()
                    .node("nodeA")
                    .name("pod1")
                    .labels(&[("foo", "")])
                    .obj(),
                make_pod()
                    .node("nodeB")
                    .name("pod2")
                    .labels(&[("bar", "")])
                    .obj(),
            ],
            nodes: hosts(["z1", "z2"]),
            want_pre_filter: ok(),
            want: vec![affinity_fail(), affinity_fail()],
        },
    ];
    check_filter_cases(cases);
}

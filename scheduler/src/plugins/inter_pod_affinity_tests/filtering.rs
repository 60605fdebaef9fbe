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

/// (topology key, value, count) triples, sorted.
type Counts = Vec<(String, String, i64)>;


/// The three counting maps as (key, value, count) triples, sorted, for comparison.
fn flat(map: &TopologyMap) -> Vec<(String, String, i64)> {
    let mut out: Vec<_> = map
        .0
        .iter()
        .flat_map(|(k, values)| values.iter().map(move |(v, n)| (k.clone(), v.clone(), *n)))
        .collect();
    out.sort();
    out
}

fn triples(list: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    let mut out: Vec<_> = list
        .iter()
        .map(|(k, v, n)| ((*k).to_owned(), (*v).to_owned(), *n))
        .collect();
    out.sort();
    out
}

fn counts_of(state: &CycleState) -> [Vec<(String, String, i64)>; 3] {
    let s = state
        .read::<PreFilterState>(PRE_FILTER_KEY)
        .expect("prefilter state");
    [
        flat(&s.existing_anti_affinity_counts),
        flat(&s.affinity_counts),
        flat(&s.anti_affinity_counts),
    ]
}

#[test]
fn pre_filter_state_add_remove_pod() {
    let label1: &[(&str, &str)] = &[("region", "r1"), ("zone", "z11")];
    let label2: &[(&str, &str)] = &[("region", "r1"), ("zone", "z12")];
    let label3: &[(&str, &str)] = &[("region", "r2"), ("zone", "z21")];
    let nodes = vec![
        node("nodeA", label1),
        node("nodeB", label2),
        node("nodeC", label3),
    ];
    let selector1: &[(&str, &str)] = &[("foo", "bar")];
    let anti_foo_bar = |p: MakePod| p.anti_affinity_term(term_in("foo", "region", &["bar"]));
    let anti_complex = |p: MakePod| {
        p.anti_affinity_term(term_in("foo", "region", &["bar", "buzz"]))
            .anti_affinity_term(term_not_in("service", "zone", &["bar", "security", "test"]))
    };
    let affinity_complex = |p: MakePod| {
        p.affinity_term(term_in("foo", "region", &["bar", "buzz"]))
            .affinity_term(term_not_in("service", "zone", &["bar", "security", "test"]))
    };
    struct Case {
        name: &'static str,
        pending: Pod,
        added: Pod,
        existing: Vec<Pod>,
        want_anti: Vec<(String, String, i64)>,
        want_affinity: Vec<(String, String, i64)>,
    }
    let cases = vec![
        Case {
            name: "anti-affinity counts updated after adding and removing a pod",
            pending: anti_foo_bar(make_pod().name("pending").labels(selector1)).obj(),
            existing: vec![
                make_pod().name("p1").labels(selector1).node("nodeA").obj(),
                anti_foo_bar(make_pod().name("p2").node("nodeC")).obj(),
            ],
            added: anti_foo_bar(make_pod().name("addedPod").labels(selector1).node("nodeB")).obj(),
            want_anti: triples(&[("region", "r1", 2)]),
            want_affinity: vec![],
        },
        Case {
            name: "complex anti-affinity counts updated after adding and removing a pod",
            pending: anti_complex(make_pod().name("pending").labels(selector1)).obj(),
            existing: vec![
                make_pod().name("p1").labels(selector1).node("nodeA").obj(),
                anti_foo_bar(make_pod().name("p2").node("nodeC")).obj(),
            ],
            added: anti_complex(make_pod().name("addedPod").labels(selector1).node("nodeA")).obj(),
            want_anti: triples(&[("region", "r1", 2), ("zone", "z11", 2), ("zone", "z21", 1)]),
            want_affinity: vec![],
        },
        Case {
            name: "affinity and anti-affinity counts updated after adding and removing a pod",
            pending: affinity_complex(make_pod().name("pending").labels(selector1)).obj(),
            existing: vec![
                make_pod().name("p1").labels(selector1).node("nodeA").obj(),
                affinity_complex(anti_foo_bar(make_pod().name("p2").node("nodeC"))).obj(),
            ],
            added: anti_complex(make_pod().name("addedPod").labels(selector1).node("nodeA")).obj(),
            want_anti: vec![],
            want_affinity: triples(&[("region", "r1", 2), ("zone", "z11", 2)]),
        },
    ];
    let p = plugin();
    for case in cases {
        let pending = info(&case.pending);
        let prefilter = |pods: &[Pod]| {
            let snap = snapshot(pods, &nodes);
            let mut state = CycleState::default();
            let (_, status) = p.pre_filter(&mut state, &pending, &snap);
            assert!(status.is_success(), "{}: {status:?}", case.name);
            (state, snap)
        };
        let mut all = case.existing.clone();
        all.push(case.added.clone());
        let (all_state, _) = prefilter(&all);
        let (mut state, snap) = prefilter(&case.existing);
        let original = counts_of(&state);

        let added = Arc::new(info(&case.added));
        let node_name = case
            .added
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let node = snap.get(&node_name).expect("node").clone();
        assert!(p.add_pod(&mut state, &pending, &added, &node).is_success());
        let after_add = counts_of(&state);
        assert_eq!(
            after_add[2], case.want_anti,
            "{}: anti-affinity counts",
            case.name
        );
        assert_eq!(
            after_add[1], case.want_affinity,
            "{}: affinity counts",
            case.name
        );
        assert_eq!(
            after_add,
            counts_of(&all_state),
            "{}: same as PreFilter with the pod",
            case.name
        );

        assert!(
            p.remove_pod(&mut state, &pending, &added, &node)
                .is_success()
        );
        assert_eq!(
            counts_of(&state),
            original,
            "{}: back to the original",
            case.name
        );
    }
}

#[test]
fn incoming_affinity_anti_affinity_counts() {
    let normal = |labels: &[&str]| {
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (*l, "")).collect();
        make_pod().name("normal").node("nodeA").labels(&pairs).obj()
    };
    let node_a = vec![node("nodeA", &[("hostname", "nodeA")])];
    let one = triples(&[("hostname", "nodeA", 1)]);
    let two = triples(&[("hostname", "nodeA", 2)]);
    // (name, existing pods, incoming pod, want affinity counts, want anti-affinity counts)
    let cases: Vec<(&str, Vec<Pod>, Pod, Counts, Counts)> = vec![
        (
            "nil test",
            vec![],
            make_pod().name("aaa-normal").obj(),
            vec![],
            vec![],
        ),
        (
            "incoming pod without affinity/anti-affinity is a no-op",
            vec![normal(&["aaa"])],
            make_pod().name("aaa-normal").obj(),
            vec![],
            vec![],
        ),
        (
            "no pod has a label that matches the incoming pod's affinity or anti-affinity",
            vec![normal(&["bbb"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .obj(),
            vec![],
            vec![],
        ),
        (
            "existing pod matches affinity and anti-affinity, single term",
            vec![normal(&["aaa"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .obj(),
            one.clone(),
            one.clone(),
        ),
        (
            "existing pod matches affinity and anti-affinity, multiple terms (one count per term)",
            vec![normal(&["aaa", "bbb"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .affinity_term(term_exists("bbb", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .obj(),
            two,
            one.clone(),
        ),
        (
            "existing pod doesn't match all affinity terms but matches anti-affinity",
            vec![normal(&["aaa"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .affinity_term(term_exists("bbb", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("bbb", "hostname"))
                .obj(),
            vec![],
            one.clone(),
        ),
        (
            "anti-affinity with more than one term, existing pod violates part, case 1",
            vec![normal(&["aaa", "bbb"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .affinity_term(term_exists("ccc", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("ccc", "hostname"))
                .obj(),
            vec![],
            one.clone(),
        ),
        (
            "anti-affinity with more than one term, existing pod violates part, case 2",
            vec![normal(&["bbb"])],
            make_pod()
                .affinity_term(term_exists("aaa", "hostname"))
                .affinity_term(term_exists("bbb", "hostname"))
                .anti_affinity_term(term_exists("aaa", "hostname"))
                .anti_affinity_term(term_exists("bbb", "hostname"))
                .obj(),
            vec![],
            one,
        ),
    ];
    for (name, pods, pod, want_affinity, want_anti) in cases {
        let snap = snapshot(&pods, &node_a);
        let pod = info(&pod);
        let (affinity, anti) = incoming_counts(
            &pod.required_affinity,
            &pod.required_anti_affinity,
            snap.nodes(),
        );
        assert_eq!(flat(&affinity), want_affinity, "{name}: affinity");
        assert_eq!(flat(&anti), want_anti, "{name}: anti-affinity");
    }
}

#[test]
fn filter_without_pre_filter_state_is_an_error() {
    let node = NodeInfo::new(Arc::new(node("n", &[])));
    let status = plugin().filter(&CycleState::default(), &info(&Pod::default()), &node);
    assert_eq!(status.code, Code::Error);
    assert_eq!(
        status.message(),
        "error reading \"PreFilterInterPodAffinity\" from cycleState: not found"
    );
    let mut state = CycleState::default();
    let added = Arc::new(info(&Pod::default()));
    assert_eq!(
        plugin()
            .add_pod(&mut state, &info(&Pod::default()), &added, &node)
            .code,
        Code::Error
    );
}

/// Preemption: removing the victim whose anti-affinity blocks the node makes it fit, and
/// removing the only pod a required affinity matched makes the pod unschedulable there.
#[test]
fn add_remove_pod_changes_filter_outcome() {
    let nodes = vec![node("n1", &[("zone", "z1")]), node("n2", &[("zone", "z2")])];
    let blocker = make_pod()
        .name("blocker")
        .node("n1")
        .anti_affinity_term(term_in("app", "zone", &["web"]))
        .obj();
    let snap = snapshot(std::slice::from_ref(&blocker), &nodes);
    let p = plugin();
    let pod = info(&make_pod().labels(&[("app", "web")]).obj());
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &pod, &snap).1.is_success());
    let n1 = snap.get("n1").expect("n1").clone();
    let n2 = snap.get("n2").expect("n2").clone();
    assert_eq!(p.filter(&state, &pod, &n1), existing_fail());
    assert_eq!(p.filter(&state, &pod, &n2), ok());
    let victim = Arc::new(info(&blocker));
    let mut simulated = state.clone();
    assert!(
        p.remove_pod(&mut simulated, &pod, &victim, &n1)
            .is_success()
    );
    assert_eq!(p.filter(&simulated, &pod, &n1), ok());
    // The original state is untouched by the simulation.
    assert_eq!(p.filter(&state, &pod, &n1), existing_fail());
    // Adding it to n2 instead moves the block there.
    assert!(p.add_pod(&mut simulated, &pod, &victim, &n2).is_success());
    assert_eq!(p.filter(&simulated, &pod, &n2), existing_fail());

    // Required affinity: the only matching pod removed; the pod doesn't select itself.
    let db = make_pod()
        .name("db")
        .node("n1")
        .labels(&[("app", "db")])
        .obj();
    let snap = snapshot(std::slice::from_ref(&db), &nodes);
    let pod = info(
        &make_pod()
            .affinity_term(term_in("app", "zone", &["db"]))
            .obj(),
    );
    let mut state = CycleState::default();
    assert!(p.pre_filter(&mut state, &pod, &snap).1.is_success());
    let n1 = snap.get("n1").expect("n1").clone();
    assert_eq!(p.filter(&state, &pod, &n1), ok());
    assert!(
        p.remove_pod(&mut state, &pod, &Arc::new(info(&db)), &n1)
            .is_success()
    );
    assert_eq!(p.filter(&state, &pod, &n1), affinity_fail());
}

//! Tables after upstream `interpodaffinity/filtering_test.go` and `scoring_test.go`
//! (TestRequiredAffinitySingleNode, TestRequiredAffinityMultipleNodes,
//! TestPreFilterStateAddRemovePod, TestGetTPMapMatchingIncomingAffinityAntiAffinity,
//! TestPreferredAffinity, TestPreferredAffinityWithHardPodAffinitySymmetricWeight), plus our
//! own checks of events, missing state, preemption updates and a large cluster.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Node, Pod, PodAffinityTerm, PodSpec, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};

use super::*;
use crate::framework::{Code, CycleState, NodeInfo, PodInfo, Snapshot, Status};

// ---------------------------------------------------------------------------------------
// Builders (after upstream's `st.MakePod()`).

fn label_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: key.to_owned(),
        operator: op.to_owned(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).to_owned()).collect()),
    }
}

/// A term selecting pods by `exprs` (ANDed) in the domain of `topology`.
fn term(exprs: Vec<LabelSelectorRequirement>, topology: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(exprs),
            match_labels: None,
        }),
        topology_key: topology.to_owned(),
        ..Default::default()
    }
}

fn term_in(key: &str, topology: &str, values: &[&str]) -> PodAffinityTerm {
    term(vec![expr(key, "In", values)], topology)
}

fn term_not_in(key: &str, topology: &str, values: &[&str]) -> PodAffinityTerm {
    term(vec![expr(key, "NotIn", values)], topology)
}

fn term_exists(key: &str, topology: &str) -> PodAffinityTerm {
    term(vec![expr(key, "Exists", &[])], topology)
}

fn with_namespaces(mut t: PodAffinityTerm, namespaces: &[&str]) -> PodAffinityTerm {
    t.namespaces = Some(namespaces.iter().map(|n| (*n).to_owned()).collect());
    t
}

fn with_ns_selector(
    mut t: PodAffinityTerm,
    exprs: Vec<LabelSelectorRequirement>,
) -> PodAffinityTerm {
    t.namespace_selector = Some(LabelSelector {
        match_expressions: (!exprs.is_empty()).then_some(exprs),
        match_labels: None,
    });
    t
}

fn team1_selector() -> Vec<LabelSelectorRequirement> {
    vec![expr("team", "In", &["team1"])]
}

#[derive(Default)]
struct MakePod {
    pod: Pod,
}

fn make_pod() -> MakePod {
    MakePod::default()
}

impl MakePod {
    fn spec(&mut self) -> &mut PodSpec {
        self.pod.spec.get_or_insert_with(Default::default)
    }

    fn affinity(&mut self) -> &mut Affinity {
        self.spec().affinity.get_or_insert_with(Default::default)
    }

    fn name(mut self, name: &str) -> Self {
        self.pod.metadata.name = Some(name.to_owned());
        self.pod.metadata.uid = Some(format!("uid-{name}"));
        self
    }

    fn namespace(mut self, namespace: &str) -> Self {
        self.pod.metadata.namespace = Some(namespace.to_owned());
        self
    }

    fn node(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.to_owned());
        self
    }

    fn labels(mut self, pairs: &[(&str, &str)]) -> Self {
        let labels = self
            .pod
            .metadata
            .labels
            .get_or_insert_with(Default::default);
        labels.extend(label_map(pairs));
        self
    }

    fn affinity_term(mut self, t: PodAffinityTerm) -> Self {
        let a = self
            .affinity()
            .pod_affinity
            .get_or_insert_with(Default::default);
        a.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }

    fn anti_affinity_term(mut self, t: PodAffinityTerm) -> Self {
        let a = self
            .affinity()
            .pod_anti_affinity
            .get_or_insert_with(Default::default);
        a.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }

    fn preferred_affinity(mut self, weight: i32, t: PodAffinityTerm) -> Self {
        let a = self
            .affinity()
            .pod_affinity
            .get_or_insert_with(Default::default);
        a.preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: t,
            });
        self
    }

    fn preferred_anti_affinity(mut self, weight: i32, t: PodAffinityTerm) -> Self {
        let a = self
            .affinity()
            .pod_anti_affinity
            .get_or_insert_with(Default::default);
        a.preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: t,
            });
        self
    }

    fn obj(self) -> Pod {
        self.pod
    }
}

fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: (!labels.is_empty()).then(|| label_map(labels)),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Upstream's namespace fixtures (`scoring_test.go` `namespaces`, plus `NS1`).
fn namespaces() -> HashMap<String, BTreeMap<String, String>> {
    [
        ("subteam1.team1", "team1"),
        ("subteam2.team1", "team1"),
        ("subteam1.team2", "team2"),
        ("subteam2.team2", "team2"),
    ]
    .into_iter()
    .map(|(ns, team)| (ns.to_owned(), label_map(&[("team", team)])))
    .chain([("NS1".to_owned(), BTreeMap::new())])
    .collect()
}

/// Nodes with the pods bound to them (pods on nodes not listed are dropped).
fn snapshot(pods: &[Pod], nodes: &[Node]) -> Snapshot {
    let infos = nodes
        .iter()
        .map(|n| {
            let mut info = NodeInfo::new(Arc::new(n.clone()));
            for p in pods {
                let on = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
                if on.is_some() && on == n.metadata.name.as_deref() {
                    info.add_pod(Arc::new(PodInfo::new(Arc::new(p.clone()))));
                }
            }
            info
        })
        .collect();
    let mut snapshot = Snapshot::new(infos);
    snapshot.namespace_labels = Arc::new(namespaces());
    snapshot
}

fn info(pod: &Pod) -> PodInfo {
    PodInfo::new(Arc::new(pod.clone()))
}

fn plugin() -> InterPodAffinity {
    InterPodAffinity::new(InterPodAffinityArgs::default())
}

fn affinity_fail() -> Status {
    Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH)
}

fn anti_fail() -> Status {
    Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
}

fn existing_fail() -> Status {
    Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
}

fn ok() -> Status {
    Status::success()
}

/// PreFilter, then (when it succeeded) Filter on every node in order.
fn run_filters(pod: &Pod, pods: &[Pod], nodes: &[Node]) -> (Status, Vec<Status>) {
    let snapshot = snapshot(pods, nodes);
    let p = plugin();
    let pod = info(pod);
    let mut state = CycleState::default();
    let (result, status) = p.pre_filter(&mut state, &pod, &snapshot);
    assert!(result.is_none());
    if !status.is_success() {
        return (status, Vec::new());
    }
    let statuses = nodes
        .iter()
        .map(|n| {
            let name = n.metadata.name.as_deref().unwrap_or_default();
            let node = snapshot.get(name).expect("node in snapshot");
            p.filter(&state, &pod, node)
        })
        .collect();
    (status, statuses)
}

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

/// Normalized scores per node, or PreScore's code when it did not succeed.
type WantScores = Result<Vec<i64>, Code>;

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

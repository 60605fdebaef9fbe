//! Tables after upstream `component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity_test.go`
//! (`TestNodeSelectorMatch`, `TestPreferredSchedulingTermsScore`, `TestRequiredNodeAffinityMatch`).

use k8s_openapi::api::core::v1::{Affinity, NodeAffinity as NodeAffinitySpec, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.to_owned(),
        operator: op.to_owned(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

fn exprs(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Some(reqs),
        match_fields: None,
    }
}

fn fields(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: None,
        match_fields: Some(reqs),
    }
}

fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: (!name.is_empty()).then(|| name.to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        ..Node::default()
    }
}

fn selector(terms: Vec<NodeSelectorTerm>) -> NodeSelector {
    NodeSelector {
        node_selector_terms: terms,
    }
}

#[test]
fn node_selector_match_table() {
    // (name, terms, node, want match, want strict parse error)
    let cases: Vec<(&str, Vec<NodeSelectorTerm>, Node, bool, bool)> = vec![
        (
            "no terms selects nothing",
            vec![],
            node("n", &[("foo", "bar")]),
            false,
            false,
        ),
        (
            "empty term selects nothing",
            vec![NodeSelectorTerm::default()],
            node("n", &[("foo", "bar")]),
            false,
            false,
        ),
        (
            "In matches",
            vec![exprs(vec![req("foo", "In", &["bar", "baz"])])],
            node("n", &[("foo", "bar")]),
            true,
            false,
        ),
        (
            "In without the label",
            vec![exprs(vec![req("foo", "In", &["bar"])])],
            node("n", &[]),
            false,
            false,
        ),
        (
            "NotIn matches an absent label",
            vec![exprs(vec![req("foo", "NotIn", &["bar"])])],
            node("n", &[]),
            true,
            false,
        ),
        (
            "NotIn rejects a listed value",
            vec![exprs(vec![req("foo", "NotIn", &["bar"])])],
            node("n", &[("foo", "bar")]),
            false,
            false,
        ),
        (
            "Exists",
            vec![exprs(vec![req("GPU", "Exists", &[])])],
            node("n", &[("GPU", "NVIDIA")]),
            true,
            false,
        ),
        (
            "DoesNotExist",
            vec![exprs(vec![req("GPU", "DoesNotExist", &[])])],
            node("n", &[("GPU", "NVIDIA")]),
            false,
            false,
        ),
        (
            "Gt with leading zeros",
            vec![exprs(vec![req("kernel-version", "Gt", &["0204"])])],
            node("n", &[("kernel-version", "0206")]),
            true,
            false,
        ),
        (
            "Lt on a non-numeric label",
            vec![exprs(vec![req("kernel-version", "Lt", &["10"])])],
            node("n", &[("kernel-version", "abc")]),
            false,
            false,
        ),
        (
            "Gt with two values is invalid",
            vec![exprs(vec![req("v", "Gt", &["1", "2"])])],
            node("n", &[("v", "5")]),
            false,
            true,
        ),
        (
            "Gt with a non-integer is invalid",
            vec![exprs(vec![req("v", "Gt", &["x"])])],
            node("n", &[("v", "5")]),
            false,
            true,
        ),
        (
            "In without values is invalid",
            vec![exprs(vec![req("foo", "In", &[])])],
            node("n", &[("foo", "bar")]),
            false,
            true,
        ),
        (
            "Exists with values is invalid",
            vec![exprs(vec![req("foo", "Exists", &["bar"])])],
            node("n", &[("foo", "bar")]),
            false,
            true,
        ),
        (
            "unknown operator is invalid",
            vec![exprs(vec![req("foo", "Equals", &["bar"])])],
            node("n", &[("foo", "bar")]),
            false,
            true,
        ),
        (
            "invalid label value is invalid",
            vec![exprs(vec![req(
                "foo",
                "NotIn",
                &["invalid value: ___@#$%^"],
            )])],
            node("n", &[("foo", "bar")]),
            false,
            true,
        ),
        (
            "invalid label key is invalid",
            vec![exprs(vec![req("-foo", "Exists", &[])])],
            node("n", &[("-foo", "bar")]),
            false,
            true,
        ),
        (
            "prefixed key",
            vec![exprs(vec![req("example.com/gpu", "Exists", &[])])],
            node("n", &[("example.com/gpu", "")]),
            true,
            false,
        ),
        (
            "expressions ANDed",
            vec![exprs(vec![
                req("GPU", "Exists", &[]),
                req("GPU", "NotIn", &["AMD", "INTER"]),
            ])],
            node("n", &[("GPU", "NVIDIA-GRID-K1")]),
            true,
            false,
        ),
        (
            "expressions ANDed, one fails",
            vec![exprs(vec![
                req("GPU", "Exists", &[]),
                req("GPU", "In", &["AMD", "INTER"]),
            ])],
            node("n", &[("GPU", "NVIDIA-GRID-K1")]),
            false,
            false,
        ),
        (
            "terms ORed",
            vec![
                exprs(vec![req("foo", "In", &["bar", "value2"])]),
                exprs(vec![req("diffkey", "In", &["wrong", "value2"])]),
            ],
            node("n", &[("foo", "bar")]),
            true,
            false,
        ),
        (
            "an invalid term does not stop a later valid one",
            vec![
                exprs(vec![req("foo", "Bogus", &[])]),
                exprs(vec![req("foo", "In", &["bar"])]),
            ],
            node("n", &[("foo", "bar")]),
            true,
            true,
        ),
        (
            "matchFields metadata.name In",
            vec![fields(vec![req(OBJECT_NAME_FIELD, "In", &["node1"])])],
            node("node1", &[]),
            true,
            false,
        ),
        (
            "matchFields metadata.name In, other node",
            vec![fields(vec![req(OBJECT_NAME_FIELD, "In", &["node1"])])],
            node("node2", &[]),
            false,
            false,
        ),
        (
            "matchFields NotIn",
            vec![fields(vec![req(OBJECT_NAME_FIELD, "NotIn", &["node1"])])],
            node("node2", &[]),
            true,
            false,
        ),
        (
            "matchFields is ignored for a node without a name",
            vec![fields(vec![req(OBJECT_NAME_FIELD, "In", &["node1"])])],
            node("", &[]),
            true,
            false,
        ),
        (
            "matchFields on an unknown field reads the empty string",
            vec![fields(vec![req("metadata.uid", "In", &["x"])])],
            node("node1", &[]),
            false,
            false,
        ),
        (
            "matchFields with two values is invalid",
            vec![fields(vec![req(
                OBJECT_NAME_FIELD,
                "In",
                &["node1", "node2"],
            )])],
            node("node1", &[]),
            false,
            true,
        ),
        (
            "matchFields Exists is invalid",
            vec![fields(vec![req(OBJECT_NAME_FIELD, "Exists", &[])])],
            node("node1", &[]),
            false,
            true,
        ),
        (
            "fields and expressions in one term are ANDed",
            vec![NodeSelectorTerm {
                match_expressions: Some(vec![req("foo", "In", &["bar"])]),
                match_fields: Some(vec![req(OBJECT_NAME_FIELD, "In", &["node1"])]),
            }],
            node("node2", &[("foo", "bar")]),
            false,
            false,
        ),
    ];
    for (name, terms, node, want, want_err) in cases {
        let sel = selector(terms);
        assert_eq!(
            NodeSelectorMatcher::from_node_selector(&sel).matches(&node),
            want,
            "{name}"
        );
        assert_eq!(
            NodeSelectorMatcher::from_node_selector_strict(&sel).is_err(),
            want_err,
            "{name}: strict"
        );
    }
}

#[test]
fn required_node_affinity_from_pod_table() {
    let pod = |selector: Option<&[(&str, &str)]>, terms: Option<Vec<NodeSelectorTerm>>| Pod {
        spec: Some(PodSpec {
            node_selector: selector.map(|s| {
                s.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            affinity: terms.map(|t| Affinity {
                node_affinity: Some(NodeAffinitySpec {
                    required_during_scheduling_ignored_during_execution: Some(selector_of(t)),
                    ..NodeAffinitySpec::default()
                }),
                ..Affinity::default()
            }),
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    fn selector_of(terms: Vec<NodeSelectorTerm>) -> NodeSelector {
        NodeSelector {
            node_selector_terms: terms,
        }
    }
    let foo_in = || vec![exprs(vec![req("foo", "Exists", &[])])];
    // (name, pod, node, want)
    let cases = vec![
        ("nothing required", pod(None, None), node("n", &[]), true),
        (
            "selector matches",
            pod(Some(&[("foo", "bar")]), None),
            node("n", &[("foo", "bar"), ("baz", "blah")]),
            true,
        ),
        (
            "selector subset of node",
            pod(Some(&[("foo", "bar"), ("baz", "blah")]), None),
            node("n", &[("foo", "bar")]),
            false,
        ),
        (
            "selector and affinity both satisfied",
            pod(Some(&[("foo", "bar")]), Some(foo_in())),
            node("n", &[("foo", "bar")]),
            true,
        ),
        (
            "affinity satisfied, selector not",
            pod(Some(&[("foo", "bar")]), Some(foo_in())),
            node("n", &[("foo", "barrrrrr")]),
            false,
        ),
        (
            "required with no terms matches nothing",
            pod(None, Some(vec![])),
            node("n", &[("foo", "bar")]),
            false,
        ),
    ];
    for (name, pod, node, want) in cases {
        let m = NodeSelectorMatcher::from_pod(&pod);
        assert_eq!(m.matches(&node), want, "{name}");
    }
    assert!(NodeSelectorMatcher::from_pod(&Pod::default()).is_everything());
    let map: BTreeMap<String, String> = [("a".to_string(), "b".to_string())].into();
    assert!(NodeSelectorMatcher::from_map(&map).matches(&node("n", &[("a", "b")])));
    assert!(!NodeSelectorMatcher::from_map(&map).matches(&node("n", &[("a", "c")])));
}

#[test]
fn preferred_terms_score_table() {
    let pref = |weight: i32, term: NodeSelectorTerm| PreferredSchedulingTerm {
        weight,
        preference: term,
    };
    let terms = vec![
        pref(2, exprs(vec![req("foo", "In", &["bar"])])),
        pref(4, exprs(vec![req("key", "In", &["value"])])),
        pref(
            5,
            exprs(vec![
                req("foo", "In", &["bar"]),
                req("key", "In", &["value"]),
                req("az", "In", &["az1"]),
            ]),
        ),
        // Weight 0 and empty terms are dropped.
        pref(0, exprs(vec![req("foo", "Exists", &[])])),
        pref(7, NodeSelectorTerm::default()),
    ];
    let scorer = PreferredTermsScorer::new(&terms).expect("valid terms");
    let cases = [
        ("node1", node("node1", &[("foo", "bar")]), 2),
        ("node2", node("node2", &[("key", "value")]), 4),
        (
            "node5",
            node("node5", &[("foo", "bar"), ("key", "value"), ("az", "az1")]),
            11,
        ),
        ("none", node("none", &[("abc", "az11")]), 0),
    ];
    for (name, node, want) in cases {
        assert_eq!(scorer.score(&node), want, "{name}");
    }
    let invalid = vec![pref(1, exprs(vec![req("foo", "In", &[])]))];
    assert!(PreferredTermsScorer::new(&invalid).is_err());
    assert!(PreferredTermsScorer::new(&[]).is_ok_and(|s| s.is_empty()));
}

#[test]
fn label_syntax_table() {
    for (s, want) in [
        ("foo", true),
        ("a.b-c_d", true),
        ("example.com/foo", true),
        ("Example.com/foo", false),
        ("/foo", false),
        ("a/b/c", false),
        ("-foo", false),
        ("foo-", false),
        ("", false),
        (&"x".repeat(64), false),
    ] {
        assert_eq!(is_qualified_name(s), want, "key {s:?}");
    }
    for (s, want) in [
        ("", true),
        ("bar", true),
        ("0204", true),
        ("-5", false),
        ("a b", false),
    ] {
        assert_eq!(is_label_value(s), want, "value {s:?}");
    }
}

use super::*;

fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Toleration {
        key: opt(key),
        operator: opt(op),
        value: opt(value),
        effect: opt(effect),
        toleration_seconds: None,
    }
}

fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.to_owned(),
        value: (!value.is_empty()).then(|| value.to_owned()),
        effect: effect.to_owned(),
        time_added: None,
    }
}

#[test]
fn toleration_tolerates_taint_table() {
    // (description, toleration, taint, expected)
    let cases = [
        (
            "empty key and Exists tolerates every taint",
            tol("", "Exists", "", ""),
            taint("foo", "bar", "NoSchedule"),
            true,
        ),
        (
            "empty key, Exists, matching effect",
            tol("", "Exists", "", "NoSchedule"),
            taint("foo", "bar", "NoSchedule"),
            true,
        ),
        (
            "empty key, Exists, other effect",
            tol("", "Exists", "", "NoExecute"),
            taint("foo", "bar", "NoSchedule"),
            false,
        ),
        (
            "same key, Equal, same value, same effect",
            tol("foo", "Equal", "bar", "NoSchedule"),
            taint("foo", "bar", "NoSchedule"),
            true,
        ),
        (
            "empty operator means Equal",
            tol("foo", "", "bar", "NoSchedule"),
            taint("foo", "bar", "NoSchedule"),
            true,
        ),
        (
            "empty operator, different value",
            tol("foo", "", "baz", "NoSchedule"),
            taint("foo", "bar", "NoSchedule"),
            false,
        ),
        (
            "Equal, different value",
            tol("foo", "Equal", "baz", "NoSchedule"),
            taint("foo", "bar", "NoSchedule"),
            false,
        ),
        (
            "Equal, empty values on both sides",
            tol("foo", "Equal", "", "NoSchedule"),
            taint("foo", "", "NoSchedule"),
            true,
        ),
        (
            "Exists with key ignores the value",
            tol("foo", "Exists", "", "NoSchedule"),
            taint("foo", "anything", "NoSchedule"),
            true,
        ),
        (
            "different key",
            tol("other", "Exists", "", "NoSchedule"),
            taint("foo", "bar", "NoSchedule"),
            false,
        ),
        (
            "empty effect matches every effect",
            tol("foo", "Equal", "bar", ""),
            taint("foo", "bar", "NoExecute"),
            true,
        ),
        (
            "effect mismatch",
            tol("foo", "Equal", "bar", "PreferNoSchedule"),
            taint("foo", "bar", "NoSchedule"),
            false,
        ),
        (
            "unknown operator tolerates nothing",
            tol("foo", "Bogus", "bar", "NoSchedule"),
            taint("foo", "bar", "NoSchedule"),
            false,
        ),
        (
            "Lt with the gate off tolerates nothing",
            tol("foo", "Lt", "10", "NoSchedule"),
            taint("foo", "5", "NoSchedule"),
            false,
        ),
        (
            "Gt with the gate off tolerates nothing",
            tol("foo", "Gt", "1", "NoSchedule"),
            taint("foo", "5", "NoSchedule"),
            false,
        ),
        (
            "the unschedulable taint, tolerated by key and Exists",
            tol(
                "node.kubernetes.io/unschedulable",
                "Exists",
                "",
                "NoSchedule",
            ),
            taint("node.kubernetes.io/unschedulable", "", "NoSchedule"),
            true,
        ),
    ];
    for (name, toleration, taint, want) in cases {
        assert_eq!(tolerates(&toleration, &taint), want, "{name}");
    }
}

#[test]
fn comparison_operators_table() {
    // (description, toleration, taint, expected with the gate on)
    let cases = [
        (
            "Lt: taint below toleration",
            tol("k", "Lt", "10", ""),
            taint("k", "5", "NoSchedule"),
            true,
        ),
        (
            "Lt: equal values",
            tol("k", "Lt", "10", ""),
            taint("k", "10", "NoSchedule"),
            false,
        ),
        (
            "Lt: taint above",
            tol("k", "Lt", "10", ""),
            taint("k", "11", "NoSchedule"),
            false,
        ),
        (
            "Gt: taint above toleration",
            tol("k", "Gt", "10", ""),
            taint("k", "11", "NoSchedule"),
            true,
        ),
        (
            "Gt: equal values",
            tol("k", "Gt", "10", ""),
            taint("k", "10", "NoSchedule"),
            false,
        ),
        (
            "Gt: negative numbers",
            tol("k", "Gt", "-5", ""),
            taint("k", "-1", "NoSchedule"),
            true,
        ),
        (
            "Lt: zero",
            tol("k", "Lt", "1", ""),
            taint("k", "0", "NoSchedule"),
            true,
        ),
        (
            "leading zero is not canonical",
            tol("k", "Lt", "010", ""),
            taint("k", "5", "NoSchedule"),
            false,
        ),
        (
            "non-numeric taint value",
            tol("k", "Lt", "10", ""),
            taint("k", "abc", "NoSchedule"),
            false,
        ),
        (
            "empty taint value",
            tol("k", "Gt", "1", ""),
            taint("k", "", "NoSchedule"),
            false,
        ),
        (
            "overflowing value",
            tol("k", "Lt", "99999999999999999999", ""),
            taint("k", "1", "NoSchedule"),
            false,
        ),
        (
            "lone minus",
            tol("k", "Gt", "-", ""),
            taint("k", "1", "NoSchedule"),
            false,
        ),
        (
            "key mismatch still wins",
            tol("j", "Lt", "10", ""),
            taint("k", "5", "NoSchedule"),
            false,
        ),
        (
            "effect mismatch still wins",
            tol("k", "Lt", "10", "NoExecute"),
            taint("k", "5", "NoSchedule"),
            false,
        ),
        (
            "Equal unaffected by the gate",
            tol("k", "Equal", "5", ""),
            taint("k", "5", "NoSchedule"),
            true,
        ),
    ];
    for (name, toleration, taint, want) in cases {
        assert_eq!(tolerates_with(&toleration, &taint, true), want, "{name}");
    }
}

#[test]
fn find_untolerated_table() {
    let no_schedule = |t: &Taint| t.effect == "NoSchedule" || t.effect == "NoExecute";
    let all = |_: &Taint| true;
    // (description, taints, tolerations, use the NoSchedule/NoExecute filter, expected key)
    type Case<'a> = (&'a str, Vec<Taint>, Vec<Toleration>, bool, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("no taints", vec![], vec![], true, None),
        (
            "an untolerated taint",
            vec![taint("dedicated", "user1", "NoSchedule")],
            vec![],
            true,
            Some("dedicated"),
        ),
        (
            "the taint is tolerated",
            vec![taint("dedicated", "user1", "NoSchedule")],
            vec![tol("dedicated", "Equal", "user1", "NoSchedule")],
            true,
            None,
        ),
        (
            "the first untolerated one is returned",
            vec![
                taint("a", "1", "NoSchedule"),
                taint("b", "2", "NoExecute"),
                taint("c", "3", "NoSchedule"),
            ],
            vec![tol("a", "Exists", "", "")],
            true,
            Some("b"),
        ),
        (
            "PreferNoSchedule is filtered out",
            vec![taint("soft", "", "PreferNoSchedule")],
            vec![],
            true,
            None,
        ),
        (
            "PreferNoSchedule counts without the filter",
            vec![taint("soft", "", "PreferNoSchedule")],
            vec![],
            false,
            Some("soft"),
        ),
        (
            "a wildcard toleration tolerates all",
            vec![taint("a", "1", "NoSchedule"), taint("b", "2", "NoExecute")],
            vec![tol("", "Exists", "", "")],
            true,
            None,
        ),
        (
            "a toleration for another effect does not help",
            vec![taint("a", "1", "NoExecute")],
            vec![tol("a", "Equal", "1", "NoSchedule")],
            true,
            Some("a"),
        ),
    ];
    for (name, taints, tolerations, filtered, want) in cases {
        let got = if filtered {
            find_untolerated(&taints, &tolerations, no_schedule)
        } else {
            find_untolerated(&taints, &tolerations, all)
        };
        assert_eq!(got.map(|t| t.key.as_str()), want, "{name}");
    }
}

#[test]
fn tolerated_by_any_table() {
    let t = taint("foo", "bar", "NoSchedule");
    assert!(!tolerated_by_any(&[], &t));
    assert!(tolerated_by_any(
        &[tol("x", "Exists", "", ""), tol("foo", "Equal", "bar", "")],
        &t
    ));
    assert!(!tolerated_by_any(
        &[tol("x", "Exists", "", ""), tol("foo", "Equal", "baz", "")],
        &t
    ));
}

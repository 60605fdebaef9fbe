use std::collections::BTreeMap;

use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::policy::{INSUFFICIENT_PODS_REASON, PDB_V1BETA1_LABEL, SUFFICIENT_PODS_REASON};
use super::*;
use crate::replicaset::pods::testing::{deleting, phase, pod, ready, ts};

pub(super) const NOW: i64 = 100_000;

pub(super) fn pdb(
    min_available: Option<IntOrString>,
    max_unavailable: Option<IntOrString>,
) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: ObjectMeta {
            name: Some("web-pdb".into()),
            namespace: Some("default".into()),
            generation: Some(2),
            ..Default::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            min_available,
            max_unavailable,
            selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                ..Default::default()
            }),
            unhealthy_pod_eviction_policy: None,
        }),
        status: None,
    }
}

pub(super) fn int(n: i32) -> Option<IntOrString> {
    Some(IntOrString::Int(n))
}

pub(super) fn pct(s: &str) -> Option<IntOrString> {
    Some(IntOrString::String(s.into()))
}

/// A pod of the budget, Ready since long ago when `is_ready`, controlled by `owner` (a
/// ReplicaSet UID of [`scales`]) when given.
pub(super) fn web(name: &str, owner: Option<&str>, is_ready: bool) -> Pod {
    let mut p = pod(name, &[("app", "web")]);
    if is_ready {
        p = ready(p, 1_000);
    }
    if let Some(uid) = owner {
        p.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("rs-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
    }
    p
}

pub(super) fn many(prefix: &str, n: usize, owner: Option<&str>, is_ready: bool) -> Vec<Pod> {
    (0..n)
        .map(|i| web(&format!("{prefix}{i}"), owner, is_ready))
        .collect()
}

/// The controllers of the tests: `rs-1` (3 replicas), `rs-2a` and `rs-2b` (two ReplicaSets of
/// one Deployment of 5), `ss-1` (2), `rs-0` (scaled to 0), `gone` (not found), `broken`.
pub(super) fn scales(owner: &OwnerReference) -> ScaleLookup {
    let found = |uid: &str, replicas| ScaleLookup::Found {
        uid: uid.into(),
        replicas,
    };
    match owner.uid.as_str() {
        "rs-1" => found("rs-1", 3),
        "rs-2a" | "rs-2b" => found("dep-2", 5),
        "ss-1" => found("ss-1", 2),
        "rs-0" => found("rs-0", 0),
        "broken" => {
            ScaleLookup::Error("jobs.batch does not implement the scale subresource".into())
        }
        _ => ScaleLookup::NotFound,
    }
}

pub(super) fn run(pdb: &PodDisruptionBudget, pods: &[Pod]) -> PdbPlan {
    decide(pdb, pods, &scales, ts(NOW))
}

/// (what, minAvailable, maxUnavailable, pods, (expectedPods, desiredHealthy, currentHealthy,
/// disruptionsAllowed) or the sync's error)
type Case = (
    &'static str,
    Option<IntOrString>,
    Option<IntOrString>,
    Vec<Pod>,
    Result<(i32, i32, i32, i32), &'static str>,
);

#[test]
fn status_rules() {
    let mixed: Vec<Pod> = [
        many("a", 3, Some("rs-1"), true),
        many("b", 1, Some("rs-2a"), true),
        many("c", 1, Some("rs-2b"), true),
        many("d", 2, Some("ss-1"), true),
    ]
    .concat();
    let cases: Vec<Case> = vec![
        (
            "minAvailable int",
            int(2),
            None,
            many("p", 3, Some("rs-1"), true),
            Ok((3, 2, 3, 1)),
        ),
        (
            "minAvailable int, no controllers needed",
            int(2),
            None,
            many("p", 3, None, true),
            Ok((3, 2, 3, 1)),
        ),
        (
            "minAvailable int, controller gone does not matter",
            int(1),
            None,
            many("p", 2, Some("gone"), true),
            Ok((2, 1, 2, 1)),
        ),
        (
            "minAvailable int above healthy",
            int(4),
            None,
            many("p", 3, Some("rs-1"), true),
            Ok((3, 4, 3, 0)),
        ),
        (
            "minAvailable 50% rounds up",
            pct("50%"),
            None,
            many("p", 2, Some("rs-1"), true),
            Ok((3, 2, 2, 0)),
        ),
        (
            "minAvailable 34% of 3 is 2",
            pct("34%"),
            None,
            many("p", 3, Some("rs-1"), true),
            Ok((3, 2, 3, 1)),
        ),
        (
            "minAvailable 0%",
            pct("0%"),
            None,
            many("p", 3, Some("rs-1"), true),
            Ok((3, 0, 3, 3)),
        ),
        (
            "maxUnavailable int",
            None,
            int(1),
            many("p", 3, Some("rs-1"), true),
            Ok((3, 2, 3, 1)),
        ),
        (
            "maxUnavailable 50% rounds up",
            None,
            pct("50%"),
            many("p", 3, Some("rs-1"), true),
            Ok((3, 1, 3, 2)),
        ),
        (
            "maxUnavailable above expected",
            None,
            int(5),
            many("p", 3, Some("rs-1"), true),
            Ok((3, 0, 3, 3)),
        ),
        (
            "maxUnavailable 0",
            None,
            int(0),
            many("p", 3, Some("rs-1"), true),
            Ok((3, 3, 3, 0)),
        ),
        (
            "both set: maxUnavailable wins",
            int(3),
            int(1),
            many("p", 3, Some("rs-1"), true),
            Ok((3, 2, 3, 1)),
        ),
        (
            "multiple controllers, Deployment counted once",
            None,
            int(5),
            mixed.clone(),
            Ok((10, 5, 7, 2)),
        ),
        (
            "multiple controllers, percentage",
            pct("50%"),
            None,
            mixed,
            Ok((10, 5, 7, 2)),
        ),
        (
            "controller scaled to 0 allows nothing",
            None,
            pct("100%"),
            many("p", 1, Some("rs-0"), true),
            Ok((0, 0, 1, 0)),
        ),
        (
            "pods not ready",
            int(1),
            None,
            many("p", 3, Some("rs-1"), false),
            Ok((3, 1, 0, 0)),
        ),
        (
            "terminating pods are not healthy",
            int(1),
            None,
            many("p", 2, Some("rs-1"), true)
                .into_iter()
                .map(deleting)
                .collect(),
            Ok((2, 1, 0, 0)),
        ),
        (
            "terminal pods count as expected, not healthy",
            int(1),
            None,
            vec![
                phase(web("done", None, false), "Succeeded"),
                web("p0", None, true),
            ],
            Ok((2, 1, 1, 0)),
        ),
        (
            "unmanaged pods are skipped for maxUnavailable",
            None,
            int(1),
            [many("p", 3, Some("rs-1"), true), many("u", 2, None, true)].concat(),
            Ok((3, 2, 5, 3)),
        ),
        ("no pods", int(0), None, vec![], Ok((0, 0, 0, 0))),
        (
            "no pods, maxUnavailable",
            None,
            int(1),
            vec![],
            Ok((0, 0, 0, 0)),
        ),
        (
            "neither set",
            None,
            None,
            many("p", 3, Some("rs-1"), true),
            Ok((0, 0, 3, 0)),
        ),
        (
            "controller not found",
            None,
            int(1),
            many("p", 1, Some("gone"), true),
            Err("found no controllers for pod \"p0\""),
        ),
        (
            "controller lookup fails",
            pct("50%"),
            None,
            many("p", 1, Some("broken"), true),
            Err("jobs.batch does not implement the scale subresource"),
        ),
        (
            "percentage that does not parse",
            pct("abc%"),
            None,
            many("p", 1, Some("rs-1"), true),
            Err(
                "invalid value for IntOrString: invalid value \"abc%\": strconv.Atoi: parsing \"abc\": invalid syntax",
            ),
        ),
        (
            "string that is no percentage",
            None,
            pct("5"),
            many("p", 1, Some("rs-1"), true),
            Err("invalid value for IntOrString: invalid type: string is not a percentage"),
        ),
    ];
    for (name, min, max, pods, want) in cases {
        let plan = run(&pdb(min, max), &pods);
        let got = match &plan.error {
            None => Ok((
                plan.status.expected_pods,
                plan.status.desired_healthy,
                plan.status.current_healthy,
                plan.status.disruptions_allowed,
            )),
            Some(e) => Err(e.as_str()),
        };
        assert_eq!(got, want, "{name}");
        assert!(plan.status_changed, "{name}: a first sync writes");
        let condition = &plan.status.conditions.as_ref().expect("condition")[0];
        let want_reason = match want {
            Ok((.., allowed)) if allowed > 0 => SUFFICIENT_PODS_REASON,
            Ok(_) => INSUFFICIENT_PODS_REASON,
            Err(_) => SYNC_FAILED_REASON,
        };
        assert_eq!(condition.reason, want_reason, "{name}");
        assert_eq!(
            condition.status == "True",
            want_reason == SUFFICIENT_PODS_REASON,
            "{name}"
        );
    }
}

fn event_reasons(plan: &PdbPlan) -> Vec<&str> {
    plan.events.iter().map(|e| e.reason).collect()
}

#[test]
fn events() {
    let plan = run(&pdb(int(1), None), &[]);
    assert_eq!(event_reasons(&plan), ["NoPods"]);
    assert_eq!(plan.events[0].type_, "Normal");
    assert_eq!(plan.events[0].message, "No matching pods found");

    let plan = run(&pdb(None, int(1)), &many("p", 1, Some("gone"), true));
    assert_eq!(event_reasons(&plan), ["CalculateExpectedPodCountFailed"]);
    assert_eq!(
        plan.events[0].message,
        "Failed to calculate the number of expected pods: found no controllers for pod \"p0\""
    );

    let pods = [many("p", 1, Some("rs-1"), true), many("u", 1, None, true)].concat();
    let plan = run(&pdb(None, int(1)), &pods);
    assert_eq!(event_reasons(&plan), ["UnmanagedPods"]);
    assert!(
        plan.events[0].message.contains("(selector: app=web)"),
        "{}",
        plan.events[0].message
    );
    // An integer minAvailable does not look at controllers, so nothing is unmanaged.
    assert!(run(&pdb(int(1), None), &pods).events.is_empty());
}

fn with_selector(selector: Option<LabelSelector>) -> PodDisruptionBudget {
    let mut p = pdb(int(1), None);
    p.spec.as_mut().expect("spec").selector = selector;
    p
}

#[test]
fn selection() {
    let mut other_ns = web("elsewhere", None, true);
    other_ns.metadata.namespace = Some("other".into());
    let pods = vec![
        web("w", None, true),
        ready(pod("unlabeled", &[]), 1_000),
        ready(pod("db", &[("app", "db")]), 1_000),
        other_ns,
    ];
    let v1beta1_none = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: PDB_V1BETA1_LABEL.into(),
            operator: "Exists".into(),
            values: None,
        }]),
        ..Default::default()
    };
    // (what, selector, selected pods)
    let cases = [
        (
            "matchLabels",
            pdb(int(1), None).spec.and_then(|s| s.selector),
            1,
        ),
        (
            "empty selects the whole namespace (policy/v1)",
            Some(LabelSelector::default()),
            3,
        ),
        ("absent selects nothing", None, 0),
        (
            "v1beta1 empty selector selects nothing",
            Some(v1beta1_none),
            0,
        ),
    ];
    for (name, selector, want) in cases {
        let budget = with_selector(selector);
        let selected = select_pods(&budget, &pods).expect("valid selector");
        assert_eq!(selected.len(), want, "{name}");
        let plan = decide(&budget, &pods, &scales, ts(NOW));
        assert_eq!(
            plan.status.expected_pods,
            i32::try_from(want).expect("small"),
            "{name}"
        );
        assert_eq!(
            event_reasons(&plan).contains(&"NoPods"),
            want == 0,
            "{name}"
        );
    }

    let invalid = with_selector(Some(LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "app".into(),
            operator: "Gt".into(),
            values: Some(vec!["1".into()]),
        }]),
        ..Default::default()
    }));
    let plan = decide(&invalid, &pods, &scales, ts(NOW));
    assert_eq!(
        plan.error.as_deref(),
        Some("\"Gt\" is not a valid label selector operator")
    );
    assert_eq!(event_reasons(&plan), ["NoPods"]);
    assert_eq!(plan.events[0].type_, "Warning");
    assert!(owners_to_look_up(&invalid, &pods).is_empty());
}

#[test]
fn owners_to_look_up_only_when_needed() {
    let pods = [
        many("a", 2, Some("rs-1"), true),
        many("b", 1, Some("rs-2a"), true),
        many("u", 1, None, true),
    ]
    .concat();
    let uids = |budget: &PodDisruptionBudget| -> Vec<String> {
        owners_to_look_up(budget, &pods)
            .into_iter()
            .map(|o| o.uid)
            .collect()
    };
    assert!(uids(&pdb(int(1), None)).is_empty());
    assert_eq!(uids(&pdb(pct("50%"), None)), ["rs-1", "rs-2a"]);
    assert_eq!(uids(&pdb(None, int(1))), ["rs-1", "rs-2a"]);
}

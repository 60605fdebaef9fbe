use k8s_openapi::api::core::v1::PodStatus;

use super::*;
use crate::replicaset::pods::testing::{deleting, phase, pod, ready, ts};

const NOW: i64 = 100_000;

/// A Running, Ready pod with a `DisruptionTarget` condition.
fn target(status: &str, reason: &str, since: Option<i64>) -> Pod {
    let mut p = ready(pod("p", &[]), 1_000);
    p.metadata.generation = Some(4);
    let conditions = p
        .status
        .get_or_insert_with(PodStatus::default)
        .conditions
        .get_or_insert_with(Vec::new);
    conditions.push(PodCondition {
        type_: DISRUPTION_TARGET.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some("evicting".into()),
        last_transition_time: since.map(|s| Time(ts(s))),
        ..PodCondition::default()
    });
    p
}

#[test]
fn decisions() {
    let eviction = "EvictionByEvictionAPI";
    // (what, pod, decision: None = not stale, Some(Some(secs)) = recheck, Some(None) = reset)
    let cases: Vec<(&str, Pod, Option<Option<u64>>)> = vec![
        ("no condition", ready(pod("p", &[]), 1_000), None),
        (
            "condition False",
            target("False", eviction, Some(NOW - 600)),
            None,
        ),
        (
            "set by the kubelet",
            target("True", TERMINATION_BY_KUBELET, Some(NOW - 600)),
            None,
        ),
        (
            "being deleted",
            deleting(target("True", eviction, Some(NOW - 600))),
            None,
        ),
        (
            "Succeeded",
            phase(target("True", eviction, Some(NOW - 600)), "Succeeded"),
            None,
        ),
        (
            "Failed",
            phase(target("True", eviction, Some(NOW - 600)), "Failed"),
            None,
        ),
        (
            "fresh",
            target("True", eviction, Some(NOW - 30)),
            Some(Some(90)),
        ),
        (
            "just set",
            target("True", eviction, Some(NOW)),
            Some(Some(120)),
        ),
        (
            "set in the future (skew)",
            target("True", eviction, Some(NOW + 10)),
            Some(Some(130)),
        ),
        (
            "exactly stale",
            target("True", eviction, Some(NOW - 120)),
            Some(None),
        ),
        (
            "stale",
            target("True", eviction, Some(NOW - 600)),
            Some(None),
        ),
        (
            "preemption is stale too",
            target("True", "PreemptionByScheduler", Some(NOW - 600)),
            Some(None),
        ),
        (
            "no transition time",
            target("True", eviction, None),
            Some(None),
        ),
    ];
    for (name, p, want) in cases {
        let got = match stale_disruption(&p, ts(NOW)) {
            StaleDecision::NotStale => None,
            StaleDecision::RecheckAfter(d) => Some(Some(d.as_secs())),
            StaleDecision::Reset { .. } => Some(None),
        };
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn reset_writes_the_condition_false() {
    let p = target("True", "EvictionByEvictionAPI", Some(NOW - 600));
    let StaleDecision::Reset {
        condition,
        conditions,
    } = stale_disruption(&p, ts(NOW))
    else {
        panic!("stale condition not reset");
    };
    let want = PodCondition {
        type_: DISRUPTION_TARGET.into(),
        status: "False".into(),
        last_transition_time: Some(Time(ts(NOW))),
        observed_generation: Some(4),
        ..PodCondition::default()
    };
    assert_eq!(condition, want);
    // Ready stays first and untouched; the old condition is replaced in place.
    assert_eq!(conditions.len(), 2);
    assert_eq!(conditions[0].type_, "Ready");
    assert_eq!(conditions[1], want);
}

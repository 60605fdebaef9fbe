//! The status across syncs: `disruptedPods` expiry, the steady-state check that spares a
//! write, and the fail-safe.

use std::collections::BTreeMap;

use super::super::policy::{INSUFFICIENT_PODS_REASON, SUFFICIENT_PODS_REASON};
use super::tests::{NOW, int, many, pdb, run, scales, web};
use super::*;
use crate::replicaset::pods::testing::{deleting, ts};

fn at(secs: i64) -> Time {
    Time(ts(secs))
}

#[test]
fn disrupted_pods_expire() {
    let mut budget = pdb(int(1), None);
    budget.status = Some(PodDisruptionBudgetStatus {
        disrupted_pods: Some(BTreeMap::from([
            // Evicted 30 s ago: still expected to go, not counted healthy.
            ("fresh".to_string(), at(NOW - 30)),
            // Evicted 10 s ago but already another entry expires sooner.
            ("later".to_string(), at(NOW - 10)),
            // Evicted 3 min ago and still not deleted: dropped, healthy again.
            ("stale".to_string(), at(NOW - 180)),
            // Being deleted now: the eviction happened.
            ("going".to_string(), at(NOW - 10)),
            // No longer selected.
            ("gone".to_string(), at(NOW - 10)),
            // Expires exactly now: kept, yet counted healthy (upstream's strict `After`).
            ("edge".to_string(), at(NOW - 120)),
        ])),
        ..Default::default()
    });
    let pods = vec![
        web("fresh", None, true),
        web("later", None, true),
        web("stale", None, true),
        deleting(web("going", None, true)),
        web("edge", None, true),
        web("other", None, true),
    ];
    let plan = decide(&budget, &pods, &scales, ts(NOW));
    let kept: Vec<&str> = plan
        .status
        .disrupted_pods
        .as_ref()
        .expect("entries kept")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(kept, ["edge", "fresh", "later"]);
    // stale, edge and other.
    assert_eq!(plan.status.current_healthy, 3);
    assert_eq!(plan.status.expected_pods, 6);
    assert_eq!(plan.requeue_after, Some(Duration::ZERO), "edge expires now");

    let not_deleted: Vec<&PdbEvent> = plan
        .events
        .iter()
        .filter(|e| e.reason == "NotDeleted")
        .collect();
    assert_eq!(not_deleted.len(), 1);
    assert_eq!(
        not_deleted[0].regarding,
        EventTarget::Pod {
            name: "stale".into(),
            uid: Some("uid-stale".into())
        }
    );
    assert_eq!(
        not_deleted[0].message,
        "Pod was expected by PDB default/web-pdb to be deleted but it wasn't"
    );

    // Without the edge entry, the sync comes back when "fresh" expires.
    let pods: Vec<Pod> = pods
        .into_iter()
        .filter(|p| p.metadata.name.as_deref() != Some("edge"))
        .collect();
    let plan = decide(&budget, &pods, &scales, ts(NOW));
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(90)));

    let plan = run(&pdb(int(1), None), &pods);
    assert_eq!(plan.requeue_after, None);
    assert_eq!(plan.status.disrupted_pods, None);
}

/// The budget as the API server would return it after writing `plan`'s status.
fn written(mut budget: PodDisruptionBudget, plan: &PdbPlan) -> PodDisruptionBudget {
    budget.status = Some(plan.status.clone());
    budget
}

#[test]
fn unchanged_status_is_not_written() {
    let budget = pdb(int(1), None);
    let pods = many("p", 3, Some("rs-1"), true);
    let first = decide(&budget, &pods, &scales, ts(NOW));
    assert!(first.status_changed);
    assert_eq!(first.status.observed_generation, Some(2));
    let condition = &first.status.conditions.as_ref().expect("condition")[0];
    assert_eq!(condition.last_transition_time, at(NOW));
    assert_eq!(condition.observed_generation, Some(2));

    let budget = written(budget, &first);
    let second = decide(&budget, &pods, &scales, ts(NOW + 60));
    assert!(!second.status_changed);
    assert_eq!(second.status, first.status);

    // The unhealthy pod eviction policy is the eviction API's business only.
    let mut always_allow = budget.clone();
    always_allow
        .spec
        .as_mut()
        .expect("spec")
        .unhealthy_pod_eviction_policy = Some("AlwaysAllow".into());
    let plan = decide(&always_allow, &pods, &scales, ts(NOW + 60));
    assert!(!plan.status_changed);

    // A new generation is observed even when the counts stay.
    let mut bumped = budget.clone();
    bumped.metadata.generation = Some(3);
    let plan = decide(&bumped, &pods, &scales, ts(NOW + 60));
    assert!(plan.status_changed);
    let condition = &plan.status.conditions.as_ref().expect("condition")[0];
    assert_eq!(condition.observed_generation, Some(3));
    assert_eq!(
        condition.last_transition_time,
        at(NOW),
        "status did not flip: time kept"
    );

    // Healthy pods dropping below the budget flip the condition, with a new time.
    let fewer = many("p", 1, Some("rs-1"), true);
    let plan = decide(&budget, &fewer, &scales, ts(NOW + 60));
    assert!(plan.status_changed);
    let condition = &plan.status.conditions.as_ref().expect("condition")[0];
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("False", INSUFFICIENT_PODS_REASON)
    );
    assert_eq!(condition.last_transition_time, at(NOW + 60));
}

#[test]
fn fail_safe_status() {
    let budget = pdb(None, int(1));
    let healthy = decide(&budget, &many("p", 3, Some("rs-1"), true), &scales, ts(NOW));
    assert_eq!(healthy.status.disruptions_allowed, 1);
    let budget = written(budget, &healthy);

    let broken = many("p", 3, Some("gone"), true);
    let plan = decide(&budget, &broken, &scales, ts(NOW + 5));
    assert!(plan.status_changed);
    assert_eq!(
        plan.error.as_deref(),
        Some("found no controllers for pod \"p0\"")
    );
    let status = &plan.status;
    assert_eq!(status.disruptions_allowed, 0);
    // The rest of the stored status stays as it was.
    assert_eq!(
        (
            status.expected_pods,
            status.desired_healthy,
            status.current_healthy
        ),
        (3, 2, 3)
    );
    let conditions = status.conditions.as_ref().expect("condition");
    assert_eq!(conditions.len(), 1);
    let condition = &conditions[0];
    assert_eq!(
        (
            condition.status.as_str(),
            condition.reason.as_str(),
            condition.message.as_str()
        ),
        (
            "False",
            SYNC_FAILED_REASON,
            "found no controllers for pod \"p0\""
        )
    );
    assert_eq!(condition.last_transition_time, at(NOW + 5));
    assert_eq!(condition.observed_generation, Some(2));

    // The same failure again changes nothing.
    let budget = written(budget, &plan);
    let again = decide(&budget, &broken, &scales, ts(NOW + 10));
    assert!(!again.status_changed);

    // Once the controller is found again, the condition recovers and the message clears.
    let recovered = decide(
        &budget,
        &many("p", 3, Some("rs-1"), true),
        &scales,
        ts(NOW + 20),
    );
    assert!(recovered.status_changed);
    let condition = &recovered.status.conditions.as_ref().expect("condition")[0];
    assert_eq!(
        (condition.reason.as_str(), condition.message.as_str()),
        (SUFFICIENT_PODS_REASON, "")
    );

    // The I/O half's entry point for a failed status write.
    let status = fail_safe(&pdb(int(1), None), "etcd timeout", ts(NOW));
    assert_eq!(status.disruptions_allowed, 0);
    assert_eq!(
        status.conditions.as_ref().expect("condition")[0].message,
        "etcd timeout"
    );
}

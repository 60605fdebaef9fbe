use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSetSpec;
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::super::pods::testing::*;
use super::*;

const NOW: i64 = 100_000;
const RS_UID: &str = "rs-uid";

fn rs(replicas: i32) -> ReplicaSet {
    let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some("web-abc".into()),
            namespace: Some("default".into()),
            uid: Some(RS_UID.into()),
            generation: Some(3),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: None,
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(
                        labels
                            .into_iter()
                            .chain([("tier".into(), "front".into())])
                            .collect(),
                    ),
                    annotations: Some(BTreeMap::from([("a".into(), "b".into())])),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Always".into()),
                    ..Default::default()
                }),
            }),
        }),
        status: None,
    }
}

/// A pod of ours: matching labels and our controller reference.
fn mine(name: &str) -> Pod {
    owned_by(pod(name, &[("app", "web"), ("tier", "front")]), RS_UID)
}

fn names(refs: &[PodRef]) -> Vec<&str> {
    refs.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn scale_counts() {
    // (replicas, pods we own, pods to create, pods to delete)
    let cases = [
        (3, 3, 0, 0),
        (5, 2, 3, 0),
        (1, 4, 0, 3),
        (0, 2, 0, 2),
        (2000, 0, 500, 0),
        (0, 700, 0, 500),
    ];
    for (replicas, have, create, delete) in cases {
        let pods: Vec<Pod> = (0..have).map(|i| mine(&format!("p{i}"))).collect();
        let plan = decide(&rs(replicas), &pods, ts(NOW));
        assert_eq!(
            plan.create.as_ref().map_or(0, |c| c.count),
            create,
            "create {replicas}/{have}"
        );
        assert_eq!(plan.delete.len(), delete, "delete {replicas}/{have}");
    }
}

#[test]
fn created_pod_comes_from_template() {
    let plan = decide(&rs(1), &[], ts(NOW));
    let create = plan.create.expect("one pod to create");
    let meta = &create.pod.metadata;
    assert_eq!(meta.generate_name.as_deref(), Some("web-abc-"));
    assert_eq!(
        meta.labels
            .as_ref()
            .and_then(|l| l.get("tier"))
            .map(String::as_str),
        Some("front")
    );
    assert_eq!(
        meta.annotations
            .as_ref()
            .and_then(|a| a.get("a"))
            .map(String::as_str),
        Some("b")
    );
    let owner = &meta.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("ReplicaSet", RS_UID)
    );
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    assert_eq!(
        create.pod.spec.and_then(|s| s.restart_policy).as_deref(),
        Some("Always")
    );
}

#[test]
fn deletion_prefers_early_startup_phases() {
    let pods = vec![
        on_node(ready(mine("ready-old"), NOW - 50_000), "n1"),
        on_node(phase(mine("running"), "Running"), "n1"),
        on_node(mine("pending"), "n2"),
        mine("unscheduled"),
        on_node(phase(mine("unknown"), "Unknown"), "n2"),
        on_node(ready(mine("ready-new"), NOW - 5), "n3"),
    ];
    let cases = [
        (5, vec!["unscheduled"]),
        (4, vec!["unscheduled", "pending"]),
        (3, vec!["unscheduled", "pending", "unknown"]),
        (2, vec!["unscheduled", "pending", "unknown", "running"]),
        (
            1,
            vec!["unscheduled", "pending", "unknown", "running", "ready-new"],
        ),
    ];
    for (replicas, want) in cases {
        let plan = decide(&rs(replicas), &pods, ts(NOW));
        assert_eq!(names(&plan.delete), want, "replicas {replicas}");
    }
}

#[test]
fn adoption_and_release() {
    let pods = vec![
        mine("owned"),
        pod("orphan", &[("app", "web")]),
        pod("orphan-other-labels", &[("app", "db")]),
        owned_by(pod("someone-elses", &[("app", "web")]), "other-uid"),
        owned_by(pod("relabeled", &[("app", "db")]), RS_UID),
        deleting(pod("orphan-terminating", &[("app", "web")])),
        phase(pod("orphan-succeeded", &[("app", "web")]), "Succeeded"),
    ];
    let plan = decide(&rs(2), &pods, ts(NOW));
    assert_eq!(names(&plan.adopt), ["orphan"]);
    assert_eq!(names(&plan.release), ["relabeled"]);
    assert!(
        plan.create.is_none() && plan.delete.is_empty(),
        "owned + adopted = 2 replicas"
    );
    assert_eq!(plan.status.replicas, 2);
    // fullyLabeled needs the template's extra `tier` label: the adopted orphan lacks it.
    assert_eq!(plan.status.fully_labeled_replicas, Some(1));

    // A ReplicaSet being deleted neither adopts, releases, creates nor deletes.
    let mut gone = rs(5);
    gone.metadata.deletion_timestamp = Some(Time(ts(NOW)));
    let plan = decide(&gone, &pods, ts(NOW));
    assert!(plan.adopt.is_empty() && plan.release.is_empty());
    assert!(plan.create.is_none() && plan.delete.is_empty());
    assert_eq!(plan.status.replicas, 1);
}

#[test]
fn terminating_pods_are_replaced_and_counted() {
    let pods = vec![mine("a"), deleting(mine("b")), phase(mine("c"), "Failed")];
    let plan = decide(&rs(2), &pods, ts(NOW));
    assert_eq!(
        plan.create.map(|c| c.count),
        Some(1),
        "b is terminating, c failed"
    );
    assert_eq!(plan.status.replicas, 1);
    assert_eq!(plan.status.terminating_replicas, Some(1));
}

#[test]
fn status_counts_with_min_ready_seconds() {
    let mut set = rs(4);
    if let Some(spec) = set.spec.as_mut() {
        spec.min_ready_seconds = Some(30);
    }
    let pods = vec![
        ready(mine("long-ready"), NOW - 100),
        ready(mine("just-ready"), NOW - 10),
        ready(mine("exactly"), NOW - 30),
        mine("not-ready"),
    ];
    let plan = decide(&set, &pods, ts(NOW));
    let s = &plan.status;
    assert_eq!(
        (s.replicas, s.ready_replicas, s.available_replicas),
        (4, Some(3), Some(1))
    );
    assert_eq!(s.observed_generation, Some(3));
    // "exactly" becomes available strictly after 30s, i.e. now; "just-ready" in 20s.
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(1)));
    let later = decide(&set, &pods, ts(NOW + 1));
    assert_eq!(later.status.available_replicas, Some(2));
    assert_eq!(later.requeue_after, Some(Duration::from_secs(20)));
}

#[test]
fn status_write_is_skipped_in_steady_state() {
    let mut set = rs(1);
    let pods = vec![mine("a")];
    let plan = decide(&set, &pods, ts(NOW));
    assert!(status_changed(&set, &plan.status));
    set.status = Some(plan.status.clone());
    let again = decide(&set, &pods, ts(NOW));
    assert!(!status_changed(&set, &again.status));
}

#[test]
fn replica_failure_condition() {
    let mut status = ReplicaSetStatus::default();
    set_replica_failure(
        &mut status,
        Some(ManageError::Create("quota exceeded")),
        ts(NOW),
    );
    let cond = &status.conditions.as_ref().expect("condition")[0];
    assert_eq!(
        (cond.type_.as_str(), cond.reason.as_deref()),
        ("ReplicaFailure", Some("FailedCreate"))
    );
    // A second failure keeps the first condition (upstream only adds when absent).
    set_replica_failure(&mut status, Some(ManageError::Delete("boom")), ts(NOW + 5));
    let conds = status.conditions.as_ref().expect("condition");
    assert_eq!(
        (conds.len(), conds[0].reason.as_deref()),
        (1, Some("FailedCreate"))
    );
    set_replica_failure(&mut status, None, ts(NOW + 9));
    assert_eq!(status.conditions, None);
}

#[test]
fn invalid_selector_does_nothing() {
    let mut set = rs(3);
    if let Some(spec) = set.spec.as_mut() {
        spec.selector.match_expressions = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "app".into(),
                operator: "Near".into(),
                values: None,
            },
        ]);
    }
    let plan = decide(&set, &[mine("a")], ts(NOW));
    assert_eq!(plan, ReplicaSetPlan::default());
}

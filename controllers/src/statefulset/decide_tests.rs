use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::super::revisions::RevisionAction;
use super::super::testing::*;
use super::*;

#[test]
fn ordered_ready_scales_up_one_pod_at_a_time() {
    let (s, _, revs) = steady(set(3), 0);
    let r1 = name_of(&revs[0]);
    let not_ready = phase(member(0, &r1, false), "Pending");
    let mut min_ready = s.clone();
    spec(&mut min_ready).min_ready_seconds = Some(30);
    let just_ready = ready(member(0, &r1, false), NOW - 10);
    // (what, set, pods, pods created)
    let cases: Vec<(&str, &StatefulSet, Vec<Pod>, Vec<&str>)> = vec![
        ("empty: the lowest ordinal", &s, vec![], vec!["web-0"]),
        (
            "web-0 ready: the next",
            &s,
            vec![member(0, &r1, false)],
            vec!["web-1"],
        ),
        ("web-0 not ready: wait", &s, vec![not_ready], vec![]),
        (
            "web-0 not available yet: wait",
            &min_ready,
            vec![just_ready],
            vec![],
        ),
        (
            "gap filled first",
            &s,
            vec![member(0, &r1, false), member(2, &r1, false)],
            vec!["web-1"],
        ),
        (
            "terminating blocks",
            &s,
            vec![deleting(member(0, &r1, false))],
            vec![],
        ),
    ];
    for (what, set, pods, want) in cases {
        let plan = run(set, &pods, &revs);
        assert_eq!(created(&plan), want, "{what}");
        assert!(plan.delete_pods.is_empty(), "{what}");
    }
    let plan = run(&min_ready, &[ready(member(0, &r1, false), NOW - 10)], &revs);
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(30)));
}

#[test]
fn parallel_creates_all_missing_pods() {
    let (s, pods, revs) = steady(parallel(set(4)), 1);
    let plan = run(&s, &[phase(pods[0].clone(), "Pending")], &revs);
    assert_eq!(created(&plan), ["web-1", "web-2", "web-3"]);
}

#[test]
fn scale_down_from_the_highest_ordinal() {
    let (s, pods, revs) = steady(set(1), 3);
    let r1 = name_of(&revs[0]);
    let plan = run(&s, &pods, &revs);
    assert_eq!(
        deleted(&plan),
        [("web-2", DeleteReason::ScaleDown)],
        "one at a time"
    );

    let (p, _, _) = steady(parallel(set(1)), 0);
    let plan = run(&p, &pods, &revs);
    let want = [
        ("web-2", DeleteReason::ScaleDown),
        ("web-1", DeleteReason::ScaleDown),
    ];
    assert_eq!(deleted(&plan), want, "Parallel: all at once");

    // web-1 unready: web-2 (healthy) still goes; with both unready only the lowest unhealthy
    // one may go, and it is not the highest, so nothing.
    let unready = |o| unready(member(o, &r1, false));
    let plan = run(&s, &[pods[0].clone(), unready(1), pods[2].clone()], &revs);
    assert_eq!(deleted(&plan), [("web-2", DeleteReason::ScaleDown)]);
    let plan = run(&s, &[pods[0].clone(), unready(1), unready(2)], &revs);
    assert!(plan.delete_pods.is_empty());
    // A terminating condemned pod blocks the next.
    let plan = run(
        &s,
        &[pods[0].clone(), pods[1].clone(), deleting(pods[2].clone())],
        &revs,
    );
    assert!(plan.delete_pods.is_empty());
    // An unready replica blocks scale-down.
    let plan = run(&s, &[unready(0), pods[1].clone(), pods[2].clone()], &revs);
    assert!(plan.delete_pods.is_empty());
}

#[test]
fn finished_pods_are_deleted_then_recreated() {
    let (s, pods, revs) = steady(set(3), 3);
    for end in ["Failed", "Succeeded"] {
        let mut with_failed = pods.clone();
        with_failed[1] = phase(pods[1].clone(), end);
        let plan = run(&s, &with_failed, &revs);
        assert_eq!(deleted(&plan), [("web-1", DeleteReason::Recreate)], "{end}");
        assert!(plan.create_pods.is_empty(), "made again once gone: {end}");
        let plan = run(&s, &[pods[0].clone(), pods[2].clone()], &revs);
        assert_eq!(created(&plan), ["web-1"]);
    }
}

#[test]
fn ordinals_start_shifts_the_range() {
    let (mut s, _, revs) = steady(set(2), 0);
    spec(&mut s).ordinals =
        Some(k8s_openapi::api::apps::v1::StatefulSetOrdinals { start: Some(5) });
    let plan = run(&s, &[], &revs);
    assert_eq!(created(&plan), ["web-5"]);
    let r1 = name_of(&revs[0]);
    let pods = vec![
        member(5, &r1, false),
        member(6, &r1, false),
        member(0, &r1, false),
    ];
    let plan = run(&s, &pods, &revs);
    assert_eq!(deleted(&plan), [("web-0", DeleteReason::ScaleDown)]);
    assert_eq!(plan.status.replicas, 3);
}

#[test]
fn adoption_and_release() {
    let (s, _, revs) = steady(set(2), 0);
    let r1 = name_of(&revs[0]);
    let orphan = |p: Pod| Pod {
        metadata: ObjectMeta {
            owner_references: None,
            ..p.metadata
        },
        ..p
    };
    let mut relabeled = member(1, &r1, false);
    relabeled.metadata.labels = Some(labels(&[("app", "db")]));
    let pods = vec![
        member(0, &r1, false),
        orphan(member(1, &r1, false)),
        orphan(pod("web-x", &[("app", "web")])),
        orphan(pod("other-3", &[("app", "web")])),
        relabeled,
        deleting(orphan(member(2, &r1, false))),
    ];
    let plan = run(&s, &pods, &revs);
    let names = |r: &[PodRef]| r.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&plan.adopt), ["web-1"]);
    assert_eq!(names(&plan.release), ["web-1"], "the relabeled namesake");
    assert_eq!(plan.status.replicas, 2);
}

#[test]
fn identity_and_storage_are_repaired() {
    let (s, _, revs) = steady(with_claims(set(1)), 0);
    let r1 = name_of(&revs[0]);
    let mut p = member(0, &r1, false);
    p.metadata
        .labels
        .as_mut()
        .map(|l| l.remove("statefulset.kubernetes.io/pod-name"));
    let plan = run_with(
        &s,
        &[p],
        &revs,
        &claims_map(vec![claim(0, vec![])]),
        Features::default(),
    );
    let fixed = &plan.update_pods[0];
    assert!(identity_matches(&SetCtx::new(&s).expect("ctx"), fixed));
    let volumes = fixed
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default();
    assert_eq!(volumes.len(), 1);
    assert!(plan.create_claims.is_empty(), "the claim exists");
}

#[test]
fn status_counts_and_completion() {
    let (mut s, _, revs) = steady(set(3), 0);
    spec(&mut s).template = template("nginx:2");
    let (r1, r2) = (name_of(&revs[0]), name_of(&revision("nginx:2", 2)));
    let pods = vec![
        member(0, &r1, false),
        phase(member(1, &r2, false), "Pending"),
        deleting(member(2, &r1, false)),
    ];
    let plan = run(&s, &pods, &revs);
    let st = &plan.status;
    assert_eq!(st.replicas, 3);
    assert_eq!(
        (st.ready_replicas, st.available_replicas),
        (Some(2), Some(2)),
        "terminating counts as ready"
    );
    assert_eq!(
        (st.current_replicas, st.updated_replicas),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            st.current_revision.as_deref(),
            st.update_revision.as_deref()
        ),
        (Some(&*r1), Some(&*r2))
    );
    assert_eq!(
        (st.observed_generation, st.collision_count),
        (Some(2), Some(0))
    );
    assert!(plan.status_changed);

    // Every pod at the update revision and ready: the update completes.
    let done: Vec<Pod> = (0..3).map(|o| member(o, &r2, false)).collect();
    let r2rev = revision("nginx:2", 2);
    let plan = run(&s, &done, &[revs[0].clone(), r2rev]);
    assert_eq!(plan.revisions.action, RevisionAction::Keep);
    assert_eq!(plan.status.current_revision.as_deref(), Some(&*r2));
    assert_eq!(plan.status.current_replicas, Some(3));
}

#[test]
fn steady_state_writes_no_status() {
    let (mut s, pods, revs) = steady(set(2), 2);
    let plan = run(&s, &pods, &revs);
    assert!(plan.status_changed);
    s.status = Some(plan.status.clone());
    let again = run(&s, &pods, &revs);
    assert!(!again.status_changed);
    assert!(
        again.create_pods.is_empty()
            && again.delete_pods.is_empty()
            && again.update_claims.is_empty()
    );
    assert_eq!(again.revisions.action, RevisionAction::Keep);
    s.metadata.generation = Some(3);
    assert!(
        run(&s, &pods, &revs).status_changed,
        "a new generation is observed"
    );
}

#[test]
fn bad_specs_are_errors() {
    let mut s = set(-1);
    assert_eq!(
        decide(&s, &[], &[], &BTreeMap::new(), ts(NOW)),
        Err(SpecError::NegativeReplicas(-1))
    );
    spec(&mut s).replicas = Some(1);
    spec(&mut s).selector.match_expressions = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
            key: "app".into(),
            operator: "Near".into(),
            values: None,
        },
    ]);
    assert_eq!(
        decide(&s, &[], &[], &BTreeMap::new(), ts(NOW)),
        Err(SpecError::InvalidSelector)
    );
    s.spec = None;
    assert_eq!(
        decide(&s, &[], &[], &BTreeMap::new(), ts(NOW)),
        Err(SpecError::MissingSpec)
    );
}

#[test]
fn set_being_deleted_only_counts() {
    let (mut s, pods, revs) = steady(set(5), 2);
    s.metadata.deletion_timestamp = Some(Time(ts(NOW)));
    let plan = run(&s, &pods, &revs);
    assert!(plan.create_pods.is_empty() && plan.delete_pods.is_empty());
    assert_eq!(plan.status.replicas, 2);
}

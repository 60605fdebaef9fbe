use std::collections::BTreeMap;

use super::super::decide::{Features, decide_with};
use super::super::identity::pod_revision;
use super::super::plan::StatefulSetPlan;
use super::super::revisions::RevisionAction;
use super::super::testing::*;
use super::*;

#[test]
fn rolling_update_goes_from_the_top_and_honours_the_partition() {
    let (mut s, _, revs) = steady(set(3), 0);
    spec(&mut s).template = template("nginx:2");
    let (r1, r2) = (name_of(&revs[0]), name_of(&revision("nginx:2", 2)));
    let at = |o: i64, r: &str| member(o, r, false);
    // (partition, pods, deleted)
    let cases: Vec<(i32, Vec<Pod>, Vec<&str>)> = vec![
        (0, vec![at(0, &r1), at(1, &r1), at(2, &r1)], vec!["web-2"]),
        (0, vec![at(0, &r1), at(1, &r1), at(2, &r2)], vec!["web-1"]),
        (
            0,
            vec![at(0, &r1), at(1, &r1), phase(at(2, &r2), "Pending")],
            vec![],
        ),
        (2, vec![at(0, &r1), at(1, &r1), at(2, &r1)], vec!["web-2"]),
        (2, vec![at(0, &r1), at(1, &r1), at(2, &r2)], vec![]),
        (5, vec![at(0, &r1), at(1, &r1), at(2, &r1)], vec![]),
    ];
    for (partition, pods, want) in cases {
        if let Some(ru) = spec(&mut s)
            .update_strategy
            .as_mut()
            .and_then(|u| u.rolling_update.as_mut())
        {
            ru.partition = Some(partition);
        }
        let plan = run(&s, &pods, &revs);
        assert_eq!(plan.revisions.update, r2);
        assert!(matches!(plan.revisions.action, RevisionAction::Create(_)));
        let got: Vec<&str> = deleted(&plan).iter().map(|(n, _)| *n).collect();
        assert_eq!(got, want, "partition {partition}");
        assert!(
            plan.delete_pods
                .iter()
                .all(|d| d.reason == DeleteReason::Update)
        );
    }
    // A pod below the partition is made at the current revision, one above at the update's.
    if let Some(ru) = spec(&mut s)
        .update_strategy
        .as_mut()
        .and_then(|u| u.rolling_update.as_mut())
    {
        ru.partition = Some(1);
    }
    let plan = run(&s, &[], &revs);
    assert_eq!(pod_revision(&plan.create_pods[0]), r1);
    let plan = run(&parallel(s.clone()), &[], &revs);
    let revisions: Vec<&str> = plan.create_pods.iter().map(pod_revision).collect();
    assert_eq!(revisions, [r1.as_str(), &r2, &r2]);
}

#[test]
fn on_delete_never_deletes_for_the_update() {
    let (mut s, pods, revs) = steady(set(3), 3);
    let strategy = spec(&mut s)
        .update_strategy
        .get_or_insert_with(Default::default);
    strategy.type_ = Some("OnDelete".into());
    strategy.rolling_update = None;
    spec(&mut s).template = template("nginx:2");
    let plan = run(&s, &pods, &revs);
    assert!(plan.delete_pods.is_empty());
    // A pod made again takes the update revision.
    let plan = run(&s, &pods[..2], &revs);
    assert_eq!(pod_revision(&plan.create_pods[0]), plan.revisions.update);
}

#[test]
fn max_unavailable_gate() {
    let (mut s, _, revs) = steady(set(4), 0);
    spec(&mut s).template = template("nginx:2");
    if let Some(ru) = spec(&mut s)
        .update_strategy
        .as_mut()
        .and_then(|u| u.rolling_update.as_mut())
    {
        ru.max_unavailable = Some(IntOrString::String("50%".into()));
    }
    let r1 = name_of(&revs[0]);
    let pods: Vec<Pod> = (0..4).map(|o| member(o, &r1, false)).collect();
    let on = Features {
        max_unavailable_stateful_set: true,
    };
    let names = |plan: &StatefulSetPlan| {
        deleted(plan)
            .iter()
            .map(|(n, _)| n.to_string())
            .collect::<Vec<_>>()
    };
    let plan = run_with(&s, &pods, &revs, &BTreeMap::new(), on);
    assert_eq!(names(&plan), ["web-3", "web-2"]);
    assert_eq!(plan.status.current_replicas, Some(2));
    let plan = run(&s, &pods, &revs);
    assert_eq!(names(&plan), ["web-3"], "gate off: one at a time");

    // Parallel: an old pod that is unavailable anyway is replaced beyond the budget.
    let p = parallel(s.clone());
    let mut broken = pods.clone();
    broken[0] = unready(pods[0].clone());
    broken[1] = unready(pods[1].clone());
    let plan = run_with(&p, &broken, &revs, &BTreeMap::new(), on);
    assert_eq!(names(&plan), ["web-1", "web-0"]);

    if let Some(ru) = spec(&mut s)
        .update_strategy
        .as_mut()
        .and_then(|u| u.rolling_update.as_mut())
    {
        ru.max_unavailable = Some(IntOrString::String("half".into()));
    }
    let err = decide_with(&s, &pods, &revs, &BTreeMap::new(), ts(NOW), on);
    assert_eq!(err, Err(SpecError::InvalidMaxUnavailable("half".into())));
}

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSetStatus;

use super::super::decide::decide;
use super::super::testing::*;
use super::*;

fn with_status(mut s: StatefulSet, current: &str, update: &str) -> StatefulSet {
    s.status = Some(StatefulSetStatus {
        current_revision: Some(current.into()),
        update_revision: Some(update.into()),
        ..Default::default()
    });
    s
}

#[test]
fn first_sync_creates_the_revision() {
    let plan = decide(&set(1), &[], &[], &BTreeMap::new(), ts(NOW)).expect("valid");
    let RevisionAction::Create(created) = &plan.revisions.action else {
        panic!("expected a create, got {:?}", plan.revisions.action);
    };
    assert_eq!(created.revision, 1);
    assert_eq!(plan.revisions.current, plan.revisions.update);
    assert_eq!(name_of(created), name_of(&revision("nginx:1", 1)));
    assert_eq!(created.metadata.owner_references, Some(vec![set_ref()]));
}

#[test]
fn rollback_renumbers_the_old_revision() {
    let (r1, r2) = (revision("nginx:1", 1), revision("nginx:2", 2));
    let s = with_status(set(1), &name_of(&r2), &name_of(&r2));
    let plan = decide(
        &s,
        &[],
        &[r1.clone(), r2.clone()],
        &BTreeMap::new(),
        ts(NOW),
    )
    .expect("valid");
    assert_eq!(
        plan.revisions.action,
        RevisionAction::Renumber {
            name: name_of(&r1),
            revision: 3
        }
    );
    assert_eq!(
        (
            plan.revisions.current.clone(),
            plan.revisions.update.clone()
        ),
        (name_of(&r2), name_of(&r1))
    );
}

#[test]
fn history_is_truncated_oldest_first_keeping_live_revisions() {
    let images = ["a", "b", "c", "d", "e", "nginx:1"];
    let revisions: Vec<ControllerRevision> = images
        .iter()
        .enumerate()
        .map(|(i, image)| revision(image, i as i64 + 1))
        .collect();
    let names: Vec<String> = revisions.iter().map(name_of).collect();
    // current e, update nginx:1; a pod still runs b: a, c and d are history.
    let mut s = with_status(set(1), &names[4], &names[5]);
    spec(&mut s).revision_history_limit = Some(1);
    let pods = vec![member(0, &names[1], false)];
    // (limit, deleted)
    let cases: [(i32, &[usize]); 5] = [
        (1, &[0, 2]),
        (2, &[0]),
        (0, &[0, 2, 3]),
        (5, &[]),
        (-1, &[]),
    ];
    for (limit, want) in cases {
        spec(&mut s).revision_history_limit = Some(limit);
        let plan = decide(&s, &pods, &revisions, &BTreeMap::new(), ts(NOW)).expect("valid");
        let want: Vec<String> = want.iter().map(|i| names[*i].clone()).collect();
        assert_eq!(plan.revisions.delete, want, "limit {limit}");
        assert_eq!(plan.revisions.action, RevisionAction::Keep);
    }
}

#[test]
fn collisions_bump_the_count_and_rename() {
    let s = set(1);
    let planned = revision("nginx:1", 1);
    assert_eq!(
        on_revision_exists(&s, &planned, &planned.clone()),
        RevisionConflict::SameRevision
    );
    let other = revision("other", 1);
    let RevisionConflict::Collision { status } = on_revision_exists(&s, &planned, &other) else {
        panic!("expected a collision");
    };
    assert_eq!(status.collision_count, Some(1));
    let mut bumped = s.clone();
    bumped.status = Some(status);
    let plan = decide(&bumped, &[], &[], &BTreeMap::new(), ts(NOW)).expect("valid");
    assert_ne!(plan.revisions.update, name_of(&planned), "a new name");
    assert_eq!(plan.status.collision_count, Some(1));
}

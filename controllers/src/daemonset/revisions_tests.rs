use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSetStatus};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::daemonset::decide::decide;
use crate::daemonset::plan::DaemonSetPlan;
use crate::daemonset::testing::*;

fn names(refs: &[ObjectRef]) -> Vec<&str> {
    refs.iter().map(|r| r.name.as_str()).collect()
}

fn sync(ds: &DaemonSet, pods: &[Pod], revisions: &[ControllerRevision]) -> DaemonSetPlan {
    decide(ds, &nodes(&["a"]), pods, revisions, ts(1_000))
}

/// Revisions 1..=n of `ds` with images `nginx:1`..`nginx:n`; the last one is current.
fn history(n: i64) -> (DaemonSet, Vec<ControllerRevision>, Vec<String>) {
    let mut ds = ds();
    let mut revisions = Vec::new();
    let mut hashes = Vec::new();
    for i in 1..=n {
        ds = with_image(ds, &format!("nginx:{i}"));
        let (mut r, hash) = revision_of(&ds);
        r.revision = i;
        revisions.push(r);
        hashes.push(hash);
    }
    (ds, revisions, hashes)
}

#[test]
fn first_revision_is_created_like_upstream() {
    let mut ds = ds();
    ds.metadata.annotations = Some([("note".into(), "kept".into())].into());
    let plan = sync(&ds, &[], &[]);
    let r = plan.revisions.create.expect("created");
    assert_eq!(r.revision, 1);
    assert_eq!(r.metadata.name, Some(format!("web-{}", plan.hash)));
    assert_eq!(
        plan.hash,
        compute_hash(&ds.spec.as_ref().expect("spec").template, None)
    );
    let labels = r.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(labels.get(CONTROLLER_REVISION_HASH_LABEL), Some(&plan.hash));
    assert_eq!(r.metadata.annotations, ds.metadata.annotations);
    assert_eq!(
        r.metadata
            .owner_references
            .as_ref()
            .map(|o| o[0].uid.as_str()),
        Some(DS_UID)
    );
    assert_eq!(
        crate::history::template_of(&r),
        Some(ds.spec.expect("spec").template)
    );
}

#[test]
fn current_revision_is_reused_renumbered_and_labelled() {
    let (ds, mut revisions, hashes) = history(3);
    // The current template came back after an update to nginx:2 ... (revision 2 is newest).
    revisions[2].revision = 1;
    revisions[0].revision = 3;
    let plan = sync(&ds, &[], &revisions);
    assert!(plan.revisions.create.is_none());
    assert_eq!(plan.hash, hashes[2]);
    assert_eq!(plan.revisions.update.len(), 1);
    assert_eq!(
        plan.revisions.update[0].revision, 4,
        "renumbered past every old revision"
    );

    // A revision without the hash label gets its own name as the label.
    let (ds, mut revisions, _) = history(2);
    revisions[0]
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .remove(CONTROLLER_REVISION_HASH_LABEL);
    let plan = sync(&ds, &[], &revisions);
    let fixed = &plan.revisions.update[0];
    assert_eq!(
        fixed
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(CONTROLLER_REVISION_HASH_LABEL)),
        fixed.metadata.name.as_ref()
    );
}

#[test]
fn duplicate_current_revisions_are_merged() {
    let (ds, revisions, hashes) = history(1);
    let mut twin = revisions[0].clone();
    twin.metadata.name = Some("web-twin".into());
    twin.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(CONTROLLER_REVISION_HASH_LABEL.into(), "twin".into());
    twin.revision = 2;
    let pods = vec![running("p-old", "a", &hashes[0])];
    let plan = sync(&ds, &pods, &[revisions[0].clone(), twin]);
    assert_eq!(plan.hash, "twin", "the highest revision is kept");
    assert_eq!(
        names(&plan.revisions.delete_duplicates),
        [revisions[0].metadata.name.as_deref().unwrap_or("")]
    );
    assert_eq!(names(&plan.revisions.relabel_pods), ["p-old"]);
    // The relabelled pod already counts as current.
    assert_eq!(plan.status.updated_number_scheduled, Some(1));
    assert!(plan.delete.is_empty());
}

#[test]
fn hash_collision_raises_the_count_and_stops() {
    let ds = with_status(ds(), DaemonSetStatus::default());
    let (mut squatter, _) = revision_of(&ds);
    // Same name, other template, and not ours: a collision.
    squatter.data = Some(RawExtension(serde_json::json!({"spec": {"template": {}}})));
    squatter.metadata.owner_references = None;
    squatter.metadata.labels = Some([("app".into(), "other".into())].into());
    let plan = sync(&ds, &[running("p", "a", "x")], &[squatter]);
    assert!(matches!(
        plan.error,
        Some(SyncError::HashCollision {
            collision_count: 1,
            ..
        })
    ));
    assert_eq!(plan.status.collision_count, Some(1));
    assert!(plan.status_changed);
    assert!(plan.create.is_empty() && plan.revisions.create.is_none() && plan.adopt.is_empty());

    // With the count raised, the name moves on.
    let bumped = with_status(
        ds,
        DaemonSetStatus {
            collision_count: Some(1),
            ..Default::default()
        },
    );
    let plan = sync(&bumped, &[], &[]);
    assert!(plan.error.is_none());
    assert_eq!(
        plan.hash,
        compute_hash(&bumped.spec.as_ref().expect("spec").template, Some(1))
    );
}

#[test]
fn history_is_truncated_to_the_limit_sparing_live_revisions() {
    let (mut ds, revisions, hashes) = history(6);
    ds.spec
        .get_or_insert_with(Default::default)
        .revision_history_limit = Some(2);
    // A pod still runs revision 2; revision 6 is current.
    let pods = vec![running("p", "a", &hashes[1])];
    let ds = on_delete(ds);
    let plan = sync(&ds, &pods, &revisions);
    let doomed: Vec<&str> = names(&plan.revisions.delete_old);
    let name = |i: usize| revisions[i].metadata.name.as_deref().unwrap_or("");
    assert_eq!(
        doomed,
        [name(0), name(2), name(3)],
        "five old, keep two, spare the live one"
    );

    // Within the limit nothing goes.
    let (ds, revisions, _) = history(3);
    assert!(
        sync(&rolling(ds, IntOrString::Int(1), 0), &[], &revisions)
            .revisions
            .delete_old
            .is_empty()
    );
}

#[test]
fn orphan_revisions_are_adopted_and_strays_released() {
    let (ds, mut revisions, _) = history(2);
    revisions[0].metadata.owner_references = None;
    revisions[1]
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("app".into(), "gone".into());
    let plan = sync(&ds, &[], &revisions);
    assert_eq!(
        names(&plan.revisions.adopt),
        [revisions[0].metadata.name.as_deref().unwrap_or("")]
    );
    assert_eq!(
        names(&plan.revisions.release),
        [revisions[1].metadata.name.as_deref().unwrap_or("")]
    );
    // The released one held the current template: no new revision is made, as its name is
    // taken by that very revision with the same data (upstream's AlreadyExists path).
    assert!(plan.revisions.create.is_none());
    assert!(plan.error.is_none());
}

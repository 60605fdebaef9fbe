use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::daemonset::decide::decide;
use crate::daemonset::plan::{DaemonSetPlan, SyncError};
use crate::daemonset::testing::*;

/// The old revision `v1` and the DaemonSet updated to `v2`, with the hashes of both.
fn updated(ds: DaemonSet) -> (DaemonSet, Vec<ControllerRevision>, String, String) {
    let (old_rev, old_hash) = revision_of(&ds);
    let ds = with_image(ds, "nginx:2");
    let (new_rev, new_hash) = revision_of(&ds);
    let mut new_rev = new_rev;
    new_rev.revision = 2;
    (ds, vec![old_rev, new_rev], old_hash, new_hash)
}

fn sync(
    ds: &DaemonSet,
    nodes: &[Node],
    pods: &[k8s_openapi::api::core::v1::Pod],
    revisions: &[ControllerRevision],
) -> DaemonSetPlan {
    decide(ds, nodes, pods, revisions, ts(1_000))
}

#[test]
fn max_unavailable_one_replaces_one_node_at_a_time() {
    let (ds, revisions, old, new) = updated(rolling(ds(), IntOrString::Int(1), 0));
    let nodes = nodes(&["a", "b", "c"]);
    let all_old = vec![
        running("a-1", "a", &old),
        running("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    let plan = sync(&ds, &nodes, &all_old, &revisions);
    assert_eq!(deleted(&plan), ["a-1"]);
    assert!(
        plan.create.is_empty(),
        "manage creates the replacement next sync"
    );

    // a's replacement exists but is not available yet: nothing more goes.
    let pods = vec![
        daemon_pod("a-2", "a", &new),
        running("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    let plan = sync(&ds, &nodes, &pods, &revisions);
    assert!(plan.delete.is_empty() && plan.create.is_empty());
    assert_eq!(plan.status.updated_number_scheduled, Some(1));

    // Once it is available, the next old pod goes.
    let pods = vec![
        running("a-2", "a", &new),
        running("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    assert_eq!(deleted(&sync(&ds, &nodes, &pods, &revisions)), ["b-1"]);

    // Old pods that are not available anyway are all replaced at once.
    let pods = vec![
        daemon_pod("a-1", "a", &old),
        daemon_pod("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    assert_eq!(
        deleted(&sync(&ds, &nodes, &pods, &revisions)),
        ["a-1", "b-1"]
    );
}

#[test]
fn max_unavailable_as_a_percentage_rounds_up() {
    let (half, revisions, old, _) = updated(rolling(ds(), IntOrString::String("50%".into()), 0));
    let nodes = nodes(&["a", "b", "c"]);
    let pods = vec![
        running("a-1", "a", &old),
        running("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    assert_eq!(
        deleted(&sync(&half, &nodes, &pods, &revisions)),
        ["a-1", "b-1"]
    );

    let (bad, revisions, _, _) = updated(rolling(ds(), IntOrString::String("half".into()), 0));
    let plan = sync(&bad, &nodes, &pods, &revisions);
    assert!(matches!(
        plan.error,
        Some(SyncError::InvalidMaxUnavailable(_))
    ));
    assert!(plan.delete.is_empty() && plan.revisions.delete_old.is_empty());
    assert_eq!(
        plan.status.desired_number_scheduled, 3,
        "the status is still written"
    );
}

#[test]
fn max_surge_creates_first_and_deletes_once_available() {
    let (ds, revisions, old, new) = updated(rolling(ds(), IntOrString::Int(0), 1));
    let nodes = nodes(&["a", "b", "c"]);
    let pods = vec![
        running("a-1", "a", &old),
        running("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    let plan = sync(&ds, &nodes, &pods, &revisions);
    assert_eq!(created_on(&plan), ["a"]);
    assert!(
        plan.delete.is_empty(),
        "no old pod goes before its replacement is available"
    );
    let pod_labels = plan.create[0]
        .pod
        .metadata
        .labels
        .clone()
        .unwrap_or_default();
    assert_eq!(pod_labels.get("controller-revision-hash"), Some(&new));

    // The surge pod is not available yet: the surge budget is spent.
    let surging = vec![
        daemon_pod("a-2", "a", &new),
        running("a-1", "a", &old),
        running("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    let plan = sync(&ds, &nodes, &surging, &revisions);
    assert!(plan.create.is_empty() && plan.delete.is_empty());

    // Available: the old pod on that node goes.
    let done = vec![
        running("a-2", "a", &new),
        running("a-1", "a", &old),
        running("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    let plan = sync(&ds, &nodes, &done, &revisions);
    assert_eq!(deleted(&plan), ["a-1"]);
    assert!(plan.create.is_empty());

    // An old pod that is not available is replaced beside the surge budget.
    let mixed = vec![
        running("a-1", "a", &old),
        daemon_pod("b-1", "b", &old),
        running("c-1", "c", &old),
    ];
    assert_eq!(
        created_on(&sync(&ds, &nodes, &mixed, &revisions)),
        ["a", "b"]
    );
}

#[test]
fn surge_deletes_pods_on_forsaken_nodes_only_when_covered() {
    let (ds, revisions, old, new) = updated(rolling(ds(), IntOrString::Int(0), 1));
    // `x` took a NoSchedule taint: its old pod may stay (manage leaves it) until availability
    // elsewhere covers for it.
    let nodes = vec![tainted(node("x"), "k", "NoSchedule"), node("b")];
    let covered = vec![running("x-1", "x", &old), running("b-2", "b", &new)];
    assert_eq!(deleted(&sync(&ds, &nodes, &covered, &revisions)), ["x-1"]);
    let uncovered = vec![running("x-1", "x", &old), daemon_pod("b-2", "b", &new)];
    assert!(sync(&ds, &nodes, &uncovered, &revisions).delete.is_empty());
}

#[test]
fn on_delete_leaves_old_pods_alone() {
    let (ds, revisions, old, _) = updated(on_delete(ds()));
    let nodes = nodes(&["a", "b"]);
    let pods = vec![running("a-1", "a", &old), running("b-1", "b", &old)];
    let plan = sync(&ds, &nodes, &pods, &revisions);
    assert!(plan.create.is_empty() && plan.delete.is_empty());
    assert_eq!(
        plan.status.updated_number_scheduled, None,
        "no pod is up to date"
    );
    // A deleted pod comes back at the new revision.
    let plan = sync(&ds, &nodes, &pods[1..], &revisions);
    assert_eq!(created_on(&plan), ["a"]);
}

#[test]
fn rolling_waits_for_manage() {
    let (ds, revisions, old, _) = updated(rolling(ds(), IntOrString::Int(1), 0));
    let nodes = nodes(&["a", "b", "c"]);
    // c has no pod: manage creates it and the rolling update waits for the next sync.
    let pods = vec![running("a-1", "a", &old), running("b-1", "b", &old)];
    let plan = sync(&ds, &nodes, &pods, &revisions);
    assert_eq!(created_on(&plan), ["c"]);
    assert!(plan.delete.is_empty());
}

#[test]
fn template_generation_label_counts_as_updated() {
    let mut ds = rolling(ds(), IntOrString::Int(1), 0);
    ds.metadata.annotations = Some(
        [(
            "deprecated.daemonset.template.generation".into(),
            "2".into(),
        )]
        .into(),
    );
    let (ds, revisions, _, _) = updated(ds);
    let mut legacy = running("a-1", "a", "unknown-hash");
    legacy
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("pod-template-generation".into(), "2".into());
    let plan = sync(&ds, &nodes(&["a"]), &[legacy], &revisions);
    assert!(plan.delete.is_empty());
    assert_eq!(plan.status.updated_number_scheduled, Some(1));
}

#[test]
fn surge_manage_keeps_one_old_and_one_new_pod() {
    let (ds, revisions, old, new) = updated(rolling(ds(), IntOrString::Int(0), 1));
    let pods = vec![
        // a: the old pod is not Ready, so it goes even though the new one is not available.
        daemon_pod("a-1", "a", &old),
        daemon_pod("a-2", "a", &new),
        // b: a second new pod is surplus; the Ready old pod waits for the oldest new one.
        running("b-1", "b", &old),
        created(daemon_pod("b-2", "b", &new), 500),
        created(daemon_pod("b-3", "b", &new), 600),
    ];
    let plan = sync(&ds, &nodes(&["a", "b"]), &pods, &revisions);
    assert_eq!(deleted(&plan), ["a-1", "b-3"]);
    assert!(plan.create.is_empty());
}

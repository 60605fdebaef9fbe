use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};

use super::*;
use crate::daemonset::backoff::FAILED_POD_BACKOFF_INITIAL;
use crate::daemonset::placement::TAINT_NODE_NOT_READY;
use crate::daemonset::plan::{FAILED_DAEMON_POD_REASON, SUCCEEDED_DAEMON_POD_REASON};
use crate::daemonset::testing::*;
use crate::daemonset::util::{DEPRECATED_TEMPLATE_GENERATION, POD_TEMPLATE_GENERATION_LABEL};
use crate::history::CONTROLLER_REVISION_HASH_LABEL;

fn sync(
    ds: &DaemonSet,
    nodes: &[Node],
    pods: &[Pod],
    revisions: &[ControllerRevision],
) -> DaemonSetPlan {
    decide(ds, nodes, pods, revisions, ts(1_000))
}

#[test]
fn one_pod_per_eligible_node() {
    let mut ds = ds();
    ds.metadata.annotations = Some([(DEPRECATED_TEMPLATE_GENERATION.into(), "3".into())].into());
    let plan = sync(&ds, &nodes(&["b", "a", "c"]), &[], &[]);
    assert_eq!(created_on(&plan), ["a", "b", "c"]);
    assert!(plan.delete.is_empty() && plan.error.is_none());
    let revision = plan.revisions.create.as_ref().expect("first revision");
    assert_eq!(revision.metadata.name, Some(format!("web-{}", plan.hash)));
    let create = &plan.create[0];
    let pod = &create.pod;
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(pod.metadata.namespace.as_deref(), Some("default"));
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(CONTROLLER_REVISION_HASH_LABEL), Some(&plan.hash));
    assert_eq!(
        labels
            .get(POD_TEMPLATE_GENERATION_LABEL)
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(labels.get("app").map(String::as_str), Some("web"));
    let owner = &pod.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("DaemonSet", DS_UID, Some(true))
    );
    let spec = pod.spec.as_ref().expect("spec");
    assert_eq!(spec.node_name, None, "the scheduler binds the pod");
    assert_eq!(target_node_name(pod), Some(create.node.as_str()));
    assert!(
        spec.tolerations
            .iter()
            .flatten()
            .any(|t| t.key.as_deref() == Some(TAINT_NODE_NOT_READY))
    );
    // Status of this first sync: three nodes want the daemon, none has it yet.
    assert_eq!(
        (
            plan.status.desired_number_scheduled,
            plan.status.current_number_scheduled
        ),
        (3, 0)
    );
    assert_eq!(plan.status.number_unavailable, Some(3));
    assert_eq!(plan.status.observed_generation, Some(1));
    assert!(plan.status_changed);
}

#[test]
fn excluded_nodes_get_no_pod_and_lose_theirs() {
    let mut ds = ds();
    template_spec(&mut ds).node_selector = Some([("role".into(), "edge".into())].into());
    let (rev, hash) = revision_of(&ds);
    let nodes = vec![
        labelled(node("edge"), &[("role", "edge")]),
        node("core"),
        tainted(
            labelled(node("gpu"), &[("role", "edge")]),
            "gpu",
            "NoSchedule",
        ),
        tainted(
            labelled(node("bad"), &[("role", "edge")]),
            "bad",
            "NoExecute",
        ),
    ];
    let pods = vec![
        running("on-core", "core", &hash),
        running("on-gpu", "gpu", &hash),
        running("on-bad", "bad", &hash),
    ];
    let plan = sync(&ds, &nodes, &pods, &[rev]);
    assert_eq!(created_on(&plan), ["edge"]);
    // `gpu` only forbids new pods; its running one stays.
    assert_eq!(deleted(&plan), ["on-bad", "on-core"]);
    assert_eq!(plan.status.desired_number_scheduled, 1);
    assert_eq!(plan.status.number_misscheduled, 3);
}

#[test]
fn duplicates_on_a_node_are_reduced_to_the_oldest() {
    let ds = ds();
    let (rev, hash) = revision_of(&ds);
    let mut unbound = created(daemon_pod("unbound", "n1", &hash), 10);
    unbound.spec.get_or_insert_with(Default::default).node_name = None;
    unbound.spec.get_or_insert_with(Default::default).affinity = Some(
        crate::daemonset::util::replace_node_name_affinity(None, "n1"),
    );
    let pods = vec![
        created(running("young", "n1", &hash), 300),
        created(running("old", "n1", &hash), 200),
        unbound,
        deleting(running("going", "n1", &hash)),
    ];
    let plan = sync(&ds, &nodes(&["n1"]), &pods, &[rev]);
    assert!(plan.create.is_empty());
    assert_eq!(
        deleted(&plan),
        ["unbound", "young"],
        "bound pods rank before unbound ones"
    );
}

#[test]
fn failed_pod_is_deleted_with_backoff_and_replaced() {
    let ds = ds();
    let (rev, hash) = revision_of(&ds);
    let revisions = vec![rev];
    let failed = with_phase(daemon_pod("crashed", "n1", &hash), "Failed");
    let plan = sync(
        &ds,
        &nodes(&["n1"]),
        std::slice::from_ref(&failed),
        &revisions,
    );
    assert_eq!(deleted(&plan), ["crashed"]);
    assert!(
        plan.create.is_empty(),
        "the replacement waits for the delete"
    );
    assert_eq!(plan.events.len(), 1);
    assert_eq!(plan.events[0].reason, FAILED_DAEMON_POD_REASON);
    assert_eq!(
        plan.events[0].message,
        "Found failed daemon pod default/crashed on node n1, will try to kill it"
    );
    assert_eq!(
        plan.backoff.get(0, "n1").map(|e| e.delay),
        Some(FAILED_POD_BACKOFF_INITIAL)
    );

    // The replacement fails at once: within the backoff the pod is left, and the sync comes
    // back when the delay is over.
    let again = with_phase(daemon_pod("crashed-2", "n1", &hash), "Failed");
    let input = SyncInput {
        ds: &ds,
        nodes: &nodes(&["n1"]),
        pods: std::slice::from_ref(&again),
        revisions: &revisions,
        backoff: &plan.backoff,
        expectations_satisfied: true,
        now: ts(1_000),
    };
    let held = decide_sync(&input);
    assert!(held.delete.is_empty() && held.events.is_empty());
    assert_eq!(held.requeue_after, Some(FAILED_POD_BACKOFF_INITIAL));
    let later = decide_sync(&SyncInput {
        now: ts(1_002),
        ..input
    });
    assert_eq!(deleted(&later), ["crashed-2"]);
    assert_eq!(
        later.backoff.get(0, "n1").map(|e| e.delay),
        Some(FAILED_POD_BACKOFF_INITIAL * 2)
    );

    // Once the failed pod is gone, a new one is created.
    let plan = sync(&ds, &nodes(&["n1"]), &[], &revisions);
    assert_eq!(created_on(&plan), ["n1"]);
}

#[test]
fn succeeded_pod_is_deleted_with_an_event() {
    let ds = ds();
    let (rev, hash) = revision_of(&ds);
    let done = with_phase(daemon_pod("done", "n1", &hash), "Succeeded");
    let plan = sync(&ds, &nodes(&["n1"]), &[done], &[rev]);
    assert_eq!(deleted(&plan), ["done"]);
    assert_eq!(plan.events[0].reason, SUCCEEDED_DAEMON_POD_REASON);
    assert!(plan.backoff.is_empty(), "only failures back off");
}

#[test]
fn unbound_pods_for_missing_nodes_are_deleted() {
    let ds = ds();
    let (rev, hash) = revision_of(&ds);
    let mut lost = daemon_pod("lost", "gone", &hash);
    lost.spec.get_or_insert_with(Default::default).node_name = None;
    lost.spec.get_or_insert_with(Default::default).affinity = Some(
        crate::daemonset::util::replace_node_name_affinity(None, "gone"),
    );
    let bound = running("bound", "also-gone", &hash);
    let plan = sync(
        &ds,
        &nodes(&["n1"]),
        &[lost, bound, running("ok", "n1", &hash)],
        &[rev],
    );
    assert_eq!(
        deleted(&plan),
        ["lost"],
        "bound pods on missing nodes are the pod GC's"
    );
}

#[test]
fn claims_orphans_and_releases_strays() {
    let ds = ds();
    let (rev, hash) = revision_of(&ds);
    let mut orphan = running("orphan", "n1", &hash);
    orphan.metadata.owner_references = None;
    let mut stray = running("stray", "n2", &hash);
    stray.metadata.labels = Some([("app".into(), "other".into())].into());
    let mut foreign = running("foreign", "n2", &hash);
    foreign
        .metadata
        .owner_references
        .get_or_insert_with(Vec::new)[0]
        .uid = "other".into();
    let mut terminating_orphan = deleting(running("t", "n2", &hash));
    terminating_orphan.metadata.owner_references = None;
    let plan = sync(
        &ds,
        &nodes(&["n1", "n2"]),
        &[orphan, stray, foreign, terminating_orphan],
        &[rev],
    );
    let names = |refs: &[ObjectRef]| refs.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&plan.adopt), ["orphan"]);
    assert_eq!(names(&plan.release), ["stray"]);
    assert_eq!(created_on(&plan), ["n2"], "n1 is served by the adopted pod");
}

#[test]
fn status_counts_and_steady_state() {
    let mut ds = with_status(ds(), DaemonSetStatus::default());
    ds.spec
        .get_or_insert_with(Default::default)
        .min_ready_seconds = Some(30);
    let (rev, hash) = revision_of(&ds);
    let nodes = vec![
        node("a"),
        node("b"),
        node("c"),
        node("d"),
        tainted(node("x"), "k", "NoSchedule"),
    ];
    let pods = vec![
        running("a-1", "a", &hash), // ready since 100: available at 1000
        ready(daemon_pod("b-1", "b", &hash), 990), // ready, not yet available
        daemon_pod("c-1", "c", "old"), // pending, out of date
        running("x-1", "x", &hash), // on a node that should not run it
    ];
    let plan = sync(&ds, &nodes, &pods, std::slice::from_ref(&rev));
    let s = &plan.status;
    assert_eq!(
        (
            s.desired_number_scheduled,
            s.current_number_scheduled,
            s.number_misscheduled,
            s.number_ready
        ),
        (4, 3, 1, 2)
    );
    assert_eq!(
        (
            s.number_available,
            s.number_unavailable,
            s.updated_number_scheduled
        ),
        (Some(1), Some(3), Some(2))
    );
    assert_eq!(
        plan.requeue_after,
        Some(Duration::from_secs(30)),
        "b-1 becomes available later"
    );
    assert!(plan.status_changed);

    // Feeding the written status back: nothing to write.
    let ds = with_status(ds, plan.status.clone());
    let again = sync(&ds, &nodes, &pods, &[rev]);
    assert_eq!(again.status, plan.status);
    assert!(!again.status_changed);
}

#[test]
fn unsatisfied_expectations_only_update_status() {
    let ds = with_status(
        ds(),
        DaemonSetStatus {
            observed_generation: Some(0),
            ..Default::default()
        },
    );
    let input = SyncInput {
        ds: &ds,
        nodes: &nodes(&["a"]),
        pods: &[],
        revisions: &[],
        backoff: &FailedPodBackoff::default(),
        expectations_satisfied: false,
        now: ts(1_000),
    };
    let plan = decide_sync(&input);
    assert!(plan.create.is_empty() && plan.delete.is_empty());
    assert!(plan.revisions.create.is_some(), "the history is still kept");
    assert_eq!(plan.status.desired_number_scheduled, 1);
    assert_eq!(
        plan.status.observed_generation,
        Some(0),
        "the generation is not observed"
    );
    assert!(plan.status_changed);
}

#[test]
fn deleted_selecting_all_and_invalid_daemonsets() {
    let mut gone = ds();
    gone.metadata.deletion_timestamp = Some(Time(ts(5)));
    let plan = sync(&gone, &nodes(&["a"]), &[], &[]);
    assert!(plan.create.is_empty() && plan.revisions.create.is_none() && !plan.status_changed);

    let mut all = ds();
    all.spec.get_or_insert_with(Default::default).selector = LabelSelector::default();
    let plan = sync(&all, &nodes(&["a"]), &[], &[]);
    assert!(plan.create.is_empty() && !plan.status_changed);
    assert_eq!(plan.events[0].reason, SELECTING_ALL_REASON);

    let mut bad = ds();
    bad.spec
        .get_or_insert_with(Default::default)
        .selector
        .match_expressions = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
            key: "app".into(),
            operator: "Sometimes".into(),
            values: None,
        },
    ]);
    let plan = sync(&bad, &nodes(&["a"]), &[], &[]);
    assert_eq!(plan.error, Some(SyncError::InvalidSelector));
    assert!(plan.create.is_empty() && !plan.status_changed);

    let plan = sync(&DaemonSet::default(), &nodes(&["a"]), &[], &[]);
    assert_eq!(plan.error, Some(SyncError::MissingSpec));
}

#[test]
fn creates_and_deletes_are_capped_per_sync() {
    let ds = ds();
    let names: Vec<String> = (0..300).map(|i| format!("n{i:03}")).collect();
    let many: Vec<Node> = names.iter().map(|n| node(n)).collect();
    let plan = sync(&ds, &many, &[], &[]);
    assert_eq!(plan.create.len(), BURST_REPLICAS);
    assert_eq!(plan.status.desired_number_scheduled, 300);
}

use std::sync::Arc;

use super::*;
use crate::testing::{bound, node, pod, pod_info};

fn cpu_requested(snapshot: &Snapshot, node: &str) -> i64 {
    snapshot
        .get(node)
        .map(|n| n.requested.milli_cpu)
        .unwrap_or(-1)
}

#[test]
fn assumed_pod_counts_until_forgotten() {
    let mut cache = Cache::new();
    let mut snapshot = Snapshot::default();
    cache.add_node(Arc::new(node("n1", &[("cpu", "4")])));
    cache
        .assume_pod(pod_info(pod("a", &[("cpu", "1")])), "n1")
        .expect("test fixture");
    assert!(cache.is_assumed("uid-a"));
    cache.update_snapshot(&mut snapshot);
    assert_eq!(cpu_requested(&snapshot, "n1"), 1000);
    assert_eq!(
        cache.assume_pod(pod_info(pod("a", &[("cpu", "1")])), "n1"),
        Err(CacheError::AlreadyKnown("default/a".into()))
    );
    cache.forget_pod("uid-a");
    cache.update_snapshot(&mut snapshot);
    assert_eq!(cpu_requested(&snapshot, "n1"), 0);
}

#[test]
fn informer_confirms_assumed_pod_once() {
    let mut cache = Cache::new();
    let mut snapshot = Snapshot::default();
    cache.add_node(Arc::new(node("n1", &[("cpu", "4")])));
    cache
        .assume_pod(pod_info(pod("a", &[("cpu", "1")])), "n1")
        .expect("test fixture");
    cache.add_pod(Arc::new(bound(pod("a", &[("cpu", "1")]), "n1")));
    assert!(!cache.is_assumed("uid-a"));
    // Forgetting a confirmed pod does nothing: only assumed pods are forgotten.
    cache.forget_pod("uid-a");
    cache.update_snapshot(&mut snapshot);
    assert_eq!(cpu_requested(&snapshot, "n1"), 1000);
    assert_eq!(snapshot.get("n1").map(|n| n.pods.len()), Some(1));
    cache.remove_pod("uid-a");
    cache.update_snapshot(&mut snapshot);
    assert_eq!(cpu_requested(&snapshot, "n1"), 0);
}

#[test]
fn pods_before_their_node_wait_as_orphans() {
    let mut cache = Cache::new();
    let mut snapshot = Snapshot::default();
    cache.add_pod(Arc::new(bound(pod("a", &[("cpu", "2")]), "late")));
    cache.update_snapshot(&mut snapshot);
    assert!(snapshot.get("late").is_none());
    cache.add_node(Arc::new(node("late", &[("cpu", "4")])));
    cache.update_snapshot(&mut snapshot);
    assert_eq!(cpu_requested(&snapshot, "late"), 2000);
    cache.remove_node("late");
    cache.update_snapshot(&mut snapshot);
    assert!(snapshot.is_empty());
    // The pod comes back with its node.
    cache.add_node(Arc::new(node("late", &[("cpu", "4")])));
    cache.update_snapshot(&mut snapshot);
    assert_eq!(cpu_requested(&snapshot, "late"), 2000);
}

#[test]
fn snapshot_copies_only_changed_nodes() {
    let mut cache = Cache::new();
    let mut snapshot = Snapshot::default();
    for i in 0..100 {
        cache.add_node(Arc::new(node(&format!("n{i}"), &[("cpu", "4")])));
    }
    cache.update_snapshot(&mut snapshot);
    let before: Vec<_> = snapshot.nodes().iter().map(Arc::clone).collect();
    cache
        .assume_pod(pod_info(pod("a", &[("cpu", "1")])), "n7")
        .expect("test fixture");
    cache.update_snapshot(&mut snapshot);
    let changed: Vec<&str> = snapshot
        .nodes()
        .iter()
        .zip(&before)
        .filter(|(now, then)| !Arc::ptr_eq(now, then))
        .map(|(now, _)| now.name())
        .collect();
    assert_eq!(changed, vec!["n7"]);
    // The old snapshot's node was not changed under its readers (copy on write).
    assert_eq!(
        before[snapshot
            .nodes()
            .iter()
            .position(|n| n.name() == "n7")
            .expect("test fixture")]
        .requested
        .milli_cpu,
        0
    );
}

#[test]
fn node_removal_keeps_index_consistent() {
    let mut cache = Cache::new();
    let mut snapshot = Snapshot::default();
    for name in ["a", "b", "c"] {
        cache.add_node(Arc::new(node(name, &[("cpu", "1")])));
    }
    cache.update_snapshot(&mut snapshot);
    cache.remove_node("a");
    cache.update_snapshot(&mut snapshot);
    let mut names: Vec<&str> = snapshot.nodes().iter().map(|n| n.name()).collect();
    names.sort();
    assert_eq!(names, vec!["b", "c"]);
    assert!(snapshot.get("c").is_some_and(|n| n.name() == "c"));
    assert!(snapshot.get("b").is_some_and(|n| n.name() == "b"));
}

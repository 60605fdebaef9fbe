use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::framework::{FilterPlugin, NodeScore, Plugin, Points, ScorePlugin, WaitingPods};
use crate::testing::{node, node_info, pod, pod_info};

/// Fits nodes whose name does not start with "full"; scores by the number in the name.
struct Fake;

impl Plugin for Fake {
    fn name(&self) -> &'static str {
        "Fake"
    }
    fn register(self: Arc<Self>, points: &mut Points) {
        points.filter.push(self.clone());
        points.score.push(self);
    }
}

impl FilterPlugin for Fake {
    fn filter(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        if node.name().starts_with("full") {
            Status::unschedulable("Insufficient cpu")
        } else {
            Status::success()
        }
    }
}

impl ScorePlugin for Fake {
    fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let digits: String = node.name().chars().filter(char::is_ascii_digit).collect();
        (digits.parse().unwrap_or(0), Status::success())
    }
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0).max(1);
        for s in scores {
            s.score = s.score * crate::framework::MAX_NODE_SCORE / max;
        }
        Status::success()
    }
}

fn framework() -> Framework {
    Framework::new(
        "default-scheduler",
        vec![Arc::new(Fake)],
        HashMap::new(),
        Arc::new(WaitingPods::default()),
    )
}

fn snapshot(names: &[&str]) -> Snapshot {
    Snapshot::new(
        names
            .iter()
            .map(|n| node_info(node(n, &[("cpu", "1")]), vec![]))
            .collect(),
    )
}

#[test]
fn feasible_sample_sizes() {
    for (percentage, all, want) in [
        (None, 0, 0),
        (None, 50, 50),
        (None, 99, 99),
        (None, 100, 100),
        (None, 1_000, 420),
        (None, 5_000, 500),
        (None, 6_000, 300),
        (None, 100_000, 5_000),
        (Some(100), 100_000, 100_000),
        (Some(1), 5_000, 100),
        (Some(0), 1_000, 420),
    ] {
        assert_eq!(
            num_feasible_nodes_to_find(percentage, all),
            want,
            "{percentage:?} {all}"
        );
    }
}

#[test]
fn picks_the_highest_score_among_feasible_nodes() {
    let fw = framework();
    let snap = snapshot(&["n1", "n7", "full9", "n3"]);
    let decision = Cycle::default()
        .schedule(
            &fw,
            &mut CycleState::default(),
            &pod_info(pod("p", &[])),
            &snap,
        )
        .expect("test fixture");
    assert_eq!(
        decision,
        Decision {
            node: "n7".into(),
            evaluated: 4,
            feasible: 3
        }
    );
}

#[test]
fn no_fit_reports_every_reason_counted() {
    let fw = framework();
    let snap = snapshot(&["full1", "full2"]);
    let Err(Failure::Unschedulable {
        diagnosis,
        preemption,
    }) = Cycle::default().schedule(
        &fw,
        &mut CycleState::default(),
        &pod_info(pod("p", &[])),
        &snap,
    )
    else {
        panic!("expected unschedulable");
    };
    assert!(preemption.is_none());
    assert_eq!(
        diagnosis.message(),
        "0/2 nodes are available: 2 Insufficient cpu."
    );
    assert!(diagnosis.unschedulable_plugins.contains("Fake"));
}

#[test]
fn no_nodes_at_all() {
    let Err(Failure::Unschedulable { diagnosis, .. }) = Cycle::default().schedule(
        &framework(),
        &mut CycleState::default(),
        &pod_info(pod("p", &[])),
        &Snapshot::default(),
    ) else {
        panic!("expected unschedulable");
    };
    assert_eq!(diagnosis.message(), "no nodes available to schedule pods");
}

#[test]
fn search_resumes_where_the_last_stopped() {
    // 1,000 nodes: 420 are evaluated per pod, so the second pod starts at node 420.
    let names: Vec<String> = (0..1000).map(|i| format!("n{i:04}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let snap = snapshot(&refs);
    let fw = framework();
    let mut cycle = Cycle {
        batching: false,
        ..Cycle::default()
    };
    let first = cycle
        .schedule(
            &fw,
            &mut CycleState::default(),
            &pod_info(pod("a", &[])),
            &snap,
        )
        .expect("test fixture");
    assert_eq!(first.feasible, 420);
    assert_eq!(cycle.next_start, 420);
    cycle
        .schedule(
            &fw,
            &mut CycleState::default(),
            &pod_info(pod("b", &[])),
            &snap,
        )
        .expect("test fixture");
    assert_eq!(cycle.next_start, 840);
}

#[test]
fn ties_are_broken_among_all_best_nodes() {
    let mut cycle = Cycle::new(42);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        seen.insert(cycle.select_host(&[5, 9, 9, 1, 9]));
    }
    assert_eq!(seen, [1, 2, 4].into_iter().collect());
}

#[test]
fn pods_of_one_signature_take_the_ranking_in_order() {
    let fw = framework();
    let snap = snapshot(&["n1", "n7", "full9", "n3", "n5"]);
    let mut cycle = Cycle::default();
    let first = cycle
        .schedule(
            &fw,
            &mut CycleState::default(),
            &pod_info(pod("a", &[])),
            &snap,
        )
        .expect("test fixture");
    assert_eq!((first.node.as_str(), first.evaluated), ("n7", 5));
    // The replicas that follow get the next best nodes with one Filter each.
    let second = cycle
        .schedule(
            &fw,
            &mut CycleState::default(),
            &pod_info(pod("b", &[])),
            &snap,
        )
        .expect("test fixture");
    assert_eq!((second.node.as_str(), second.evaluated), ("n5", 1));
    // A pod of another signature gets a full cycle, and leaves the first ranking alone.
    let other = cycle
        .schedule(
            &fw,
            &mut CycleState::default(),
            &pod_info(pod("d", &[("cpu", "1")])),
            &snap,
        )
        .expect("test fixture");
    assert_eq!(other.evaluated, 5);
    // A node that stopped fitting is skipped: Filter has the last word.
    let snap = snapshot(&["n1", "n7", "full9", "full3", "n5"]);
    let third = cycle
        .schedule(
            &fw,
            &mut CycleState::default(),
            &pod_info(pod("c", &[])),
            &snap,
        )
        .expect("test fixture");
    assert_eq!((third.node.as_str(), third.evaluated), ("n1", 1));
    // The ranking is used up: the next pod gets a full cycle again.
    let fourth = cycle
        .schedule(
            &fw,
            &mut CycleState::default(),
            &pod_info(pod("e", &[])),
            &snap,
        )
        .expect("test fixture");
    assert_eq!(fourth.evaluated, 5);
}

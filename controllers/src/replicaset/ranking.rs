//! Which pods a ReplicaSet deletes first when it has too many: upstream's `ActivePodsWithRanks`
//! ordering (`pkg/controller/controller_utils.go`) with the "related pods on the same node"
//! rank of `getPodsRankedByRelatedPodsOnSameNode` (`pkg/controller/replicaset/replica_set.go`).
//!
//! v1.35 has `LogarithmicScaleDown` locked on (GA since 1.31) and `PodDeletionCost` on by
//! default, so both are always applied here.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::pods::{
    is_pod_active, is_pod_ready, max_container_restarts, node_name, phase_ordinal, ready_since,
};

/// The annotation a user sets to steer which pods go first (lower cost first).
const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Picks `diff` pods of `pods` to delete. `related` are the pods of every ReplicaSet with the
/// same controller (the Deployment's other ReplicaSets included); a pod colocated with more
/// active related pods goes first, spreading what remains.
pub(crate) fn pods_to_delete<'a>(
    pods: &[&'a Pod],
    related: &[&Pod],
    diff: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
    // As upstream: no need to rank when every pod goes.
    if diff >= pods.len() {
        return pods.to_vec();
    }
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in related.iter().filter(|p| is_pod_active(p)) {
        *on_node.entry(node_name(p)).or_default() += 1;
    }
    let mut ranked: Vec<(&Pod, usize)> = pods
        .iter()
        .map(|p| (*p, on_node.get(node_name(p)).copied().unwrap_or(0)))
        .collect();
    stable_sort_by_less(&mut ranked, |a, b| delete_first(a, b, now));
    ranked.into_iter().take(diff).map(|(p, _)| p).collect()
}

/// `ActivePodsWithRanks.Less`: whether `a` should be deleted before `b`.
fn delete_first(a: &(&Pod, usize), b: &(&Pod, usize), now: Timestamp) -> bool {
    let ((pa, rank_a), (pb, rank_b)) = (a, b);
    // 1. Unassigned < assigned.
    let (na, nb) = (node_name(pa), node_name(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return na.is_empty();
    }
    // 2. Pending < Unknown < Running.
    if phase_ordinal(pa) != phase_ordinal(pb) {
        return phase_ordinal(pa) < phase_ordinal(pb);
    }
    // 3. Not ready < ready.
    let (ready_a, ready_b) = (is_pod_ready(pa), is_pod_ready(pb));
    if ready_a != ready_b {
        return !ready_a;
    }
    // 4. Lower pod-deletion-cost < higher.
    let (cost_a, cost_b) = (deletion_cost(pa), deletion_cost(pb));
    if cost_a != cost_b {
        return cost_a < cost_b;
    }
    // 5. Doubled up < not doubled up.
    if rank_a != rank_b {
        return rank_a > rank_b;
    }
    // 6. Ready for less time < more time, in logarithmic buckets.
    if ready_a && ready_b {
        let (ta, tb) = (ready_since(pa), ready_since(pb));
        if ta != tb {
            return newer_first(ta, tb, pa, pb, now);
        }
    }
    // 7. Higher restart counts < lower.
    let (ra, rb) = (max_container_restarts(pa), max_container_restarts(pb));
    if ra != rb {
        return ra > rb;
    }
    // 8. Empty creation time < newer < older, in logarithmic buckets.
    let (ca, cb) = (creation(pa), creation(pb));
    if ca != cb {
        return newer_first(ca, cb, pa, pb, now);
    }
    false
}

fn creation(p: &Pod) -> Option<Timestamp> {
    p.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// `LogarithmicScaleDown`: times are compared by the base-2 logarithm of their age, so pods
/// of about the same age are treated alike and their UIDs break the tie (a random choice,
/// which spreads deletions); a missing time counts as newest (`afterOrZero`).
fn newer_first(
    ta: Option<Timestamp>,
    tb: Option<Timestamp>,
    pa: &Pod,
    pb: &Pod,
    now: Timestamp,
) -> bool {
    let (Some(ta), Some(tb)) = (ta, tb) else {
        return ta.is_none();
    };
    let diff = log_rank(ta, now) - log_rank(tb, now);
    if diff == 0 {
        return pa.metadata.uid < pb.metadata.uid;
    }
    diff < 0
}

/// `floor(log2(now - t))` in nanoseconds, -1 when `t` is not in the past.
fn log_rank(t: Timestamp, now: Timestamp) -> i64 {
    let age = now.as_nanosecond() - t.as_nanosecond();
    if age <= 0 {
        return -1;
    }
    // Go converts the duration to float64 and truncates the logarithm; so does this.
    (age as f64).log2() as i64
}

/// The pod's deletion cost; 0 when absent or invalid (a `+` sign or leading zeros are
/// invalid, as in `getDeletionCostFromPodAnnotations`).
fn deletion_cost(p: &Pod) -> i32 {
    let Some(value) = p
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
    else {
        return 0;
    };
    let valid_first = match value.as_bytes().first() {
        Some(b'-') => true,
        Some(b'0') => value == "0",
        Some(b'1'..=b'9') => true,
        _ => false,
    };
    if !valid_first {
        return 0;
    }
    value.parse::<i32>().unwrap_or(0)
}

/// A stable merge sort driven by a "less" predicate. The ranking above is not a strict weak
/// order in every corner (logarithmic buckets fall back to UIDs while equal times fall through
/// to later criteria), so it must not go to `slice::sort_by`, which may panic on such input;
/// this never panics and, like Go's `sort.Sort`, just yields some consistent order.
pub(crate) fn stable_sort_by_less<T: Clone>(items: &mut [T], less: impl Fn(&T, &T) -> bool + Copy) {
    if items.len() <= 1 {
        return;
    }
    let mid = items.len() / 2;
    stable_sort_by_less(&mut items[..mid], less);
    stable_sort_by_less(&mut items[mid..], less);
    let mut merged = Vec::with_capacity(items.len());
    let (left, right) = items.split_at(mid);
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        // Take from the right only when strictly less, which keeps the sort stable.
        if less(&right[j], &left[i]) {
            merged.push(right[j].clone());
            j += 1;
        } else {
            merged.push(left[i].clone());
            i += 1;
        }
    }
    merged.extend_from_slice(&left[i..]);
    merged.extend_from_slice(&right[j..]);
    for (slot, item) in items.iter_mut().zip(merged) {
        *slot = item;
    }
}

/// An `Ordering` view of [`delete_first`], for callers that want one (tests, diagnostics).
#[cfg(test)]
fn order(a: &Pod, b: &Pod, now: Timestamp) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if delete_first(&(a, 0), &(b, 0), now) {
        Ordering::Less
    } else if delete_first(&(b, 0), &(a, 0), now) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::collections::BTreeMap;

    use super::super::pods::testing::*;
    use super::*;

    const NOW: i64 = 1_000_000;

    fn cost(mut p: Pod, c: &str) -> Pod {
        p.metadata.annotations = Some(BTreeMap::from([(
            POD_DELETION_COST.to_string(),
            c.to_string(),
        )]));
        p
    }

    fn name(p: &Pod) -> &str {
        p.metadata.name.as_deref().unwrap_or("")
    }

    /// Pairs from upstream's `TestSortingActivePodsWithRanks`: the first of each pair is
    /// deleted first.
    #[test]
    fn upstream_pairwise_order() {
        let running = |n: &str| on_node(phase(pod(n, &[]), "Running"), "node");
        let cases: Vec<(&str, Pod, Pod)> = vec![
            (
                "unassigned before assigned",
                pod("a", &[]),
                on_node(pod("b", &[]), "node"),
            ),
            (
                "pending before unknown",
                on_node(pod("a", &[]), "node"),
                on_node(phase(pod("b", &[]), "Unknown"), "node"),
            ),
            (
                "unknown before running",
                on_node(phase(pod("a", &[]), "Unknown"), "node"),
                running("b"),
            ),
            (
                "not ready before ready",
                running("a"),
                on_node(ready(pod("b", &[]), NOW - 100), "node"),
            ),
            (
                "lower deletion cost first",
                cost(running("a"), "-5"),
                cost(running("b"), "10"),
            ),
            (
                "ready recently before ready long ago",
                on_node(ready(pod("a", &[]), NOW - 10), "node"),
                on_node(ready(pod("b", &[]), NOW - 100_000), "node"),
            ),
            (
                "more restarts first",
                restarts(running("a"), 5),
                restarts(running("b"), 1),
            ),
            (
                "newer first",
                created(running("a"), NOW - 10),
                created(running("b"), NOW - 100_000),
            ),
            (
                "no creation time first",
                {
                    let mut p = running("a");
                    p.metadata.creation_timestamp = None;
                    p
                },
                running("b"),
            ),
        ];
        for (what, first, second) in cases {
            assert_eq!(order(&first, &second, ts(NOW)), Ordering::Less, "{what}");
            assert_eq!(
                order(&second, &first, ts(NOW)),
                Ordering::Greater,
                "{what} (reversed)"
            );
        }
    }

    #[test]
    fn same_log_bucket_falls_back_to_uid() {
        // 1000s and 1001s old sit in the same log2(ns) bucket: UID decides, not age.
        let a = created(on_node(phase(pod("z", &[]), "Running"), "n"), NOW - 1_000);
        let b = created(on_node(phase(pod("a", &[]), "Running"), "n"), NOW - 1_001);
        assert_eq!(order(&b, &a, ts(NOW)), Ordering::Less, "uid-a < uid-z");
    }

    #[test]
    fn invalid_deletion_costs_read_as_zero() {
        for (value, want) in [
            ("+10", 0),
            ("008", 0),
            ("0", 0),
            ("-3", -3),
            ("7", 7),
            ("x", 0),
            ("", 0),
        ] {
            assert_eq!(
                deletion_cost(&cost(pod("p", &[]), value)),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn doubled_up_pods_go_first() {
        // Two ready pods of ours; node-1 also runs two pods of a sibling ReplicaSet.
        let mine = [
            on_node(ready(pod("p1", &[]), 10), "node-1"),
            on_node(ready(pod("p2", &[]), 10), "node-2"),
        ];
        let sibling = [
            on_node(ready(pod("s1", &[]), 10), "node-1"),
            on_node(ready(pod("s2", &[]), 10), "node-1"),
        ];
        let pods: Vec<&Pod> = mine.iter().collect();
        let related: Vec<&Pod> = mine.iter().chain(sibling.iter()).collect();
        let chosen = pods_to_delete(&pods, &related, 1, ts(NOW));
        assert_eq!(chosen.iter().map(|p| name(p)).collect::<Vec<_>>(), ["p1"]);
        // Without related pods the ranks tie and the UID decides (p1 < p2 as well, so check
        // the rank matters by flipping which node is crowded).
        let flipped = [
            on_node(ready(pod("p1", &[]), 10), "node-2"),
            on_node(ready(pod("p2", &[]), 10), "node-1"),
        ];
        let pods: Vec<&Pod> = flipped.iter().collect();
        let chosen = pods_to_delete(&pods, &related, 1, ts(NOW));
        assert_eq!(chosen.iter().map(|p| name(p)).collect::<Vec<_>>(), ["p2"]);
    }

    #[test]
    fn all_pods_go_unsorted() {
        let ps = [on_node(ready(pod("b", &[]), 1), "n"), pod("a", &[])];
        let refs: Vec<&Pod> = ps.iter().collect();
        let chosen = pods_to_delete(&refs, &refs, 5, ts(NOW));
        assert_eq!(
            chosen.iter().map(|p| name(p)).collect::<Vec<_>>(),
            ["b", "a"]
        );
    }

    #[test]
    fn merge_sort_is_stable() {
        let mut v = vec![(1, 'a'), (0, 'b'), (1, 'c'), (0, 'd')];
        stable_sort_by_less(&mut v, |x, y| x.0 < y.0);
        assert_eq!(v, vec![(0, 'b'), (0, 'd'), (1, 'a'), (1, 'c')]);
    }
}

//! Completion indexes of Indexed Jobs, after upstream's
//! `pkg/controller/job/indexed_job_utils.go`: the compressed interval lists of
//! `status.completedIndexes` / `status.failedIndexes` ("1,3-5"), the index of a pod, which
//! indexes are still pending, which duplicated pods go first, and the per-index failure counts
//! that `backoffLimitPerIndex` keeps in pod annotations.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::failure_policy::{Action, match_pod_failure_policy};
use super::podutil::{finished_time, has_tracking_finalizer, is_pod_failed, ordered_for_removal};

/// The annotation (and label) carrying a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Failures of earlier pods of the same index that counted against `backoffLimitPerIndex`.
pub const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// Failures of earlier pods of the same index that a podFailurePolicy `Ignore` rule excused.
pub const INDEX_IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";

/// An inclusive run of indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub first: i64,
    pub last: i64,
}

/// Sorted, disjoint intervals: upstream's `orderedIntervals`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedIntervals(pub Vec<Interval>);

impl OrderedIntervals {
    /// Parses a compressed list as `parseIndexesFromString` does, quirks included: a malformed
    /// interval is skipped, the first interval starting at or past `completions` ends the
    /// parse, an end past it is clamped, and an interval adjacent to the previous one is joined
    /// to it.
    pub fn parse(s: &str, completions: i64) -> Self {
        let mut out: Vec<Interval> = Vec::new();
        if s.is_empty() {
            return Self(out);
        }
        for part in s.split(',') {
            let mut limits = part.split('-');
            let Some(Ok(first)) = limits.next().map(str::parse::<i64>) else {
                continue;
            };
            if first >= completions {
                break;
            }
            let last = match limits.next().map(str::parse::<i64>) {
                Some(Ok(last)) => last.min(completions - 1),
                Some(Err(_)) => continue,
                None => first,
            };
            match out.last_mut() {
                Some(prev) if prev.last == first - 1 => prev.last = last,
                _ => out.push(Interval { first, last }),
            }
        }
        Self(out)
    }

    /// The union with `indexes`, given in increasing order (`withOrderedIndexes`).
    pub fn with_ordered_indexes(&self, indexes: impl IntoIterator<Item = i64>) -> Self {
        let singles = indexes
            .into_iter()
            .map(|i| Interval { first: i, last: i })
            .collect();
        self.merge(&Self(singles))
    }

    /// The union of two ordered lists; adjacent and overlapping intervals are joined.
    pub fn merge(&self, other: &Self) -> Self {
        let mut out: Vec<Interval> = Vec::with_capacity(self.0.len() + other.0.len());
        let (mut a, mut b) = (self.0.iter().peekable(), other.0.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.first < y.first => a.next(),
                (_, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            };
            let Some(iv) = next.copied() else {
                break;
            };
            match out.last_mut() {
                Some(prev) if iv.first <= prev.last + 1 => prev.last = prev.last.max(iv.last),
                _ => out.push(iv),
            }
        }
        Self(out)
    }

    /// How many indexes the intervals hold.
    pub fn total(&self) -> i64 {
        self.0.iter().map(|iv| iv.last - iv.first + 1).sum()
    }

    /// Whether `ix` is in one of the intervals (a binary search on their ends).
    pub fn has(&self, ix: i64) -> bool {
        let pos = self.0.partition_point(|iv| iv.last < ix);
        self.0.get(pos).is_some_and(|iv| iv.first <= ix)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The compressed form: a run of two is written "3,4", longer runs "3-5".
impl fmt::Display for OrderedIntervals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, iv) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", iv.first)?;
            if iv.last == iv.first + 1 {
                write!(f, ",{}", iv.last)?;
            } else if iv.last > iv.first {
                write!(f, "-{}", iv.last)?;
            }
        }
        Ok(())
    }
}

/// The pod's completion index; `None` when the annotation is missing, malformed or negative
/// (`getCompletionIndex`).
pub fn completion_index(pod: &Pod) -> Option<i64> {
    let value = pod.metadata.annotations.as_ref()?.get(COMPLETION_INDEX)?;
    value.parse::<i64>().ok().filter(|i| *i >= 0)
}

/// The index when it is one this job runs (below `completions`).
pub(super) fn valid_index(pod: &Pod, completions: i64) -> Option<i64> {
    completion_index(pod).filter(|ix| *ix < completions)
}

/// The indexes recorded in the status and those with a succeeded pod not yet counted
/// (`calculateSucceededIndexes`): `(previous, current)`.
pub(super) fn succeeded_indexes(
    recorded: &str,
    pods: &[&Pod],
    completions: i64,
) -> (OrderedIntervals, OrderedIntervals) {
    let prev = OrderedIntervals::parse(recorded, completions);
    let new: BTreeSet<i64> = pods
        .iter()
        .filter(|p| super::podutil::phase(p) == "Succeeded" && has_tracking_finalizer(p))
        .filter_map(|p| valid_index(p, completions))
        .collect();
    let current = prev.with_ordered_indexes(new);
    (prev, current)
}

/// The recorded failed indexes plus those whose pod just used up `backoffLimitPerIndex` or
/// matched a `FailIndex` rule (`calculateFailedIndexes`).
pub(super) fn failed_indexes(
    job: &Job,
    recorded: Option<&str>,
    pods: &[&Pod],
    completions: i64,
    limit: i32,
) -> OrderedIntervals {
    let prev = OrderedIntervals::parse(recorded.unwrap_or(""), completions);
    let new: BTreeSet<i64> = pods
        .iter()
        .filter(|p| has_tracking_finalizer(p) && is_index_failed(job, p, limit))
        .filter_map(|p| valid_index(p, completions))
        .collect();
    prev.with_ordered_indexes(new)
}

fn is_index_failed(job: &Job, pod: &Pod, limit: i32) -> bool {
    if !is_pod_failed(pod, job) {
        return false;
    }
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref());
    let m = match_pod_failure_policy(policy, pod);
    if m.action == Some(Action::FailIndex) {
        return true;
    }
    m.counts && failure_count(pod) >= limit
}

/// The first `count` indexes below `completions` that have no succeeded, failed or running
/// pod (`firstPendingIndexes`). `busy` are the indexes of the active pods (and, when
/// replacements wait for the Failed phase, of the terminating ones).
pub(super) fn first_pending_indexes(
    count: usize,
    completions: i64,
    succeeded: &OrderedIntervals,
    busy: BTreeSet<i64>,
    failed: Option<&OrderedIntervals>,
) -> Vec<i64> {
    let mut taken = succeeded.with_ordered_indexes(busy);
    if let Some(failed) = failed {
        taken = taken.merge(failed);
    }
    let mut out = Vec::with_capacity(count);
    let mut candidate = 0;
    // Bounded by the number of intervals and `count`, not by `completions`.
    for iv in taken.0.iter().chain([&Interval {
        first: completions,
        last: completions,
    }]) {
        while candidate < completions && out.len() < count && candidate < iv.first {
            out.push(candidate);
            candidate += 1;
        }
        candidate = candidate.max(iv.last + 1);
    }
    out
}

/// Splits active pods into those to delete whatever the count (no index, an index past
/// `completions`, or all but one of the pods sharing an index; the one kept is the last in
/// deletion order) and the rest (`appendDuplicatedIndexPodsForRemoval`).
pub(super) fn duplicated_for_removal<'a>(
    pods: &[&'a Pod],
    completions: i64,
) -> (Vec<&'a Pod>, Vec<&'a Pod>) {
    let mut by_index: BTreeMap<Option<i64>, Vec<&'a Pod>> = BTreeMap::new();
    for p in pods {
        by_index.entry(completion_index(p)).or_default().push(p);
    }
    let (mut rm, mut left) = (Vec::new(), Vec::new());
    // `None` sorts first, as upstream's unknown index -1 does.
    for (ix, mut group) in by_index {
        match ix {
            Some(ix) if ix < completions => {
                ordered_for_removal(&mut group);
                if let Some(keep) = group.pop() {
                    rm.extend(group);
                    left.push(keep);
                }
            }
            _ => rm.extend(group),
        }
    }
    (rm, left)
}

/// For each index without a succeeded, failed or active pod, its last failed pod: its removal
/// waits until the replacement is created, so that the replacement can carry the failure
/// counts forward (`getPodsWithDelayedDeletionPerIndex`). `tracked` are the pods still
/// holding the finalizer.
pub(super) fn pods_with_delayed_deletion<'a>(
    job: &Job,
    tracked: &[&'a Pod],
    completions: i64,
    succeeded: &OrderedIntervals,
    failed: &OrderedIntervals,
    active: &BTreeSet<i64>,
) -> BTreeMap<i64, &'a Pod> {
    let mut out: BTreeMap<i64, &'a Pod> = BTreeMap::new();
    for p in tracked.iter().filter(|p| is_pod_failed(p, job)) {
        let Some(ix) = valid_index(p, completions) else {
            continue;
        };
        if succeeded.has(ix) || failed.has(ix) || active.contains(&ix) {
            continue;
        }
        let replace = out.get(&ix).is_none_or(|last| {
            absolute_failure_count(last) <= absolute_failure_count(p)
                && finished_time(p) >= finished_time(last)
        });
        if replace {
            out.insert(ix, p);
        }
    }
    out
}

/// The failure counts a replacement for `replaced` carries: `(counted, ignored)`
/// (`getNewIndexFailureCounts`).
pub(super) fn new_index_failure_counts(job: &Job, replaced: Option<&Pod>) -> (i32, i32) {
    let Some(p) = replaced else {
        return (0, 0);
    };
    let (mut counted, mut ignored) = (failure_count(p), ignored_failure_count(p));
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref());
    if match_pod_failure_policy(policy, p).counts {
        counted = counted.saturating_add(1);
    } else {
        ignored = ignored.saturating_add(1);
    }
    (counted, ignored)
}

pub(super) fn failure_count(pod: &Pod) -> i32 {
    annotation_count(pod, INDEX_FAILURE_COUNT)
}

fn ignored_failure_count(pod: &Pod) -> i32 {
    annotation_count(pod, INDEX_IGNORED_FAILURE_COUNT)
}

pub(super) fn absolute_failure_count(pod: &Pod) -> i32 {
    failure_count(pod).saturating_add(ignored_failure_count(pod))
}

/// A count annotation; a missing, malformed or negative value reads as 0 (`parseInt32`), so
/// a user editing it cannot grant an index more retries than the annotation's absence would.
fn annotation_count(pod: &Pod, key: &str) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(0)
}

/// `generateName` of an indexed pod, `<job>-<index>-`, the job name cut so that the prefix
/// stays within the 58 characters a generated name may use (`podGenerateNameWithIndex`).
pub(super) fn generate_name_with_index(job: &str, index: i64) -> String {
    const MAX_GENERATED_NAME_LENGTH: usize = 58;
    let suffix = format!("-{index}-");
    let keep = MAX_GENERATED_NAME_LENGTH.saturating_sub(suffix.len());
    if job.len() + suffix.len() <= MAX_GENERATED_NAME_LENGTH {
        return format!("{job}{suffix}");
    }
    // Names are ASCII (DNS labels); `get` keeps this safe on anything else.
    let cut = job.get(..keep).unwrap_or(job);
    format!("{cut}{suffix}")
}

#[cfg(test)]
#[path = "indexed_tests.rs"]
mod tests;

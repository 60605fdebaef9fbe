//! `spec.podFailurePolicy` and `spec.successPolicy`, after upstream's
//! `pkg/controller/job/{pod_failure_policy.go,success_policy.go}`.

use k8s_openapi::api::batch::v1::{
    PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, SuccessPolicy,
};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::indexed::OrderedIntervals;

/// The action of the first podFailurePolicy rule a failed pod matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FailJob,
    FailIndex,
    Ignore,
    Count,
}

/// What a failed pod means under the policy (`matchPodFailurePolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMatch {
    /// Set when a `FailJob` rule matched: the message of the job's failure condition.
    pub fail_job_message: Option<String>,
    /// Whether the failure counts against `backoffLimit` (and `backoffLimitPerIndex`): only
    /// an `Ignore` rule excuses it.
    pub counts: bool,
    pub action: Option<Action>,
}

const NO_MATCH: PolicyMatch = PolicyMatch {
    fail_job_message: None,
    counts: true,
    action: None,
};

/// Matches a failed pod against the rules in order; the first rule that matches decides. A
/// rule with an action this version does not know is passed over, as Go's `switch` without a
/// matching case does.
pub fn match_pod_failure_policy(policy: Option<&PodFailurePolicy>, pod: &Pod) -> PolicyMatch {
    let Some(policy) = policy else {
        return NO_MATCH;
    };
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    for (index, rule) in policy.rules.iter().enumerate() {
        let fail_job = if let Some(req) = &rule.on_exit_codes {
            let Some(c) = matching_container(pod, req) else {
                continue;
            };
            let code = exit_code(c).unwrap_or(0);
            format!(
                "Container {} for pod {namespace}/{name} failed with exit code {code} matching \
                 {} rule at index {index}",
                c.name, rule.action
            )
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
            // Pod conditions are scanned in the outer loop, as upstream: the first condition
            // matching any pattern names the failure.
            let Some(cond) = conditions.into_iter().flatten().find(|c| {
                patterns.iter().any(|p| {
                    p.type_ == c.type_ && p.status.as_deref().unwrap_or("True") == c.status
                })
            }) else {
                continue;
            };
            format!(
                "Pod {namespace}/{name} has condition {} matching {} rule at index {index}",
                cond.type_, rule.action
            )
        } else {
            continue;
        };
        let (counts, action) = match rule.action.as_str() {
            "Ignore" => (false, Action::Ignore),
            "Count" => (true, Action::Count),
            "FailIndex" => (true, Action::FailIndex),
            "FailJob" => {
                return PolicyMatch {
                    fail_job_message: Some(fail_job),
                    counts: true,
                    action: Some(Action::FailJob),
                };
            }
            _ => continue,
        };
        return PolicyMatch {
            fail_job_message: None,
            counts,
            action: Some(action),
        };
    }
    NO_MATCH
}

fn exit_code(c: &ContainerStatus) -> Option<i32> {
    Some(c.state.as_ref()?.terminated.as_ref()?.exit_code)
}

/// The first terminated container with a non-zero exit code matching the requirement, among
/// the regular containers first and then the init containers (`matchOnExitCodes`).
fn matching_container<'a>(
    pod: &'a Pod,
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    let lists = [&status.container_statuses, &status.init_container_statuses];
    lists.into_iter().flatten().find_map(|list| {
        list.iter().find(|c| {
            let Some(code) = exit_code(c) else {
                return false;
            };
            let name_ok = req.container_name.as_deref().is_none_or(|n| n == c.name);
            name_ok
                && code != 0
                && match req.operator.as_str() {
                    "In" => req.values.contains(&code),
                    "NotIn" => !req.values.contains(&code),
                    _ => false,
                }
        })
    })
}

/// The message of the first successPolicy rule the succeeded indexes satisfy
/// (`matchSuccessPolicy`), `None` when none does.
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i64,
    succeeded: &OrderedIntervals,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    policy.rules.iter().enumerate().find_map(|(index, rule)| {
        let met = match (&rule.succeeded_indexes, rule.succeeded_count) {
            (Some(indexes), count) => {
                let required = OrderedIntervals::parse(indexes, completions);
                // An unparsable (or out of range) list matches nothing.
                !required.is_empty() && succeeded_indexes_rule(&required, succeeded, count)
            }
            (None, Some(count)) => succeeded.total() >= i64::from(count),
            (None, None) => false,
        };
        met.then(|| format!("Matched rules at index {index}"))
    })
}

/// Whether the succeeded indexes cover all of `required`, or at least `count` of them.
fn succeeded_indexes_rule(
    required: &OrderedIntervals,
    succeeded: &OrderedIntervals,
    count: Option<i32>,
) -> bool {
    // Both lists are ordered and disjoint: walk them together, advancing whichever interval
    // ends first.
    let (mut i, mut j, mut covered) = (0, 0, 0i64);
    while let (Some(r), Some(s)) = (required.0.get(i), succeeded.0.get(j)) {
        covered += (r.last.min(s.last) - r.first.max(s.first) + 1).max(0);
        if s.last <= r.last {
            j += 1;
        }
        if r.last <= s.last {
            i += 1;
        }
    }
    covered == required.total() || count.is_some_and(|c| covered >= i64::from(c))
}

#[cfg(test)]
#[path = "failure_policy_tests.rs"]
mod tests;

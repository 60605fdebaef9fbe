//! The PodDisruptionBudget vocabulary the disruption controller writes and the eviction API
//! reads, and the small apimachinery helpers its status needs:
//! - the `DisruptionAllowed` condition and its reasons (k8s.io/api `policy/v1/types.go`);
//! - how that condition follows `disruptionsAllowed`: `UpdateDisruptionAllowedCondition` and
//!   `ConditionsAreUpToDate` of k8s.io/component-helpers `apps/poddisruptionbudget/helpers.go`;
//! - `meta.SetStatusCondition` (k8s.io/apimachinery `pkg/api/meta/conditions.go`);
//! - `intstr.GetScaledValueFromIntOrPercent` (k8s.io/apimachinery `pkg/util/intstr`);
//! - `metav1.FormatLabelSelector` for event messages.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use crate::replicaset::selector::Selector;

/// The condition type that says whether the budget allows a disruption now.
pub const DISRUPTION_ALLOWED_CONDITION: &str = "DisruptionAllowed";
/// `DisruptionAllowed` False: the controller could not compute the status (fail-safe).
pub const SYNC_FAILED_REASON: &str = "SyncFailed";
/// `DisruptionAllowed` True: more pods are healthy than the budget requires.
pub const SUFFICIENT_PODS_REASON: &str = "SufficientPods";
/// `DisruptionAllowed` False: no pod may be disrupted now.
pub const INSUFFICIENT_PODS_REASON: &str = "InsufficientPods";
/// The label with which the API server spells a policy/v1beta1 empty selector (which selected
/// nothing there) in policy/v1 as `{matchExpressions: [{key: <this>, operator: Exists}]}`
/// (`pkg/apis/policy/helper.go`). Pods do not carry it, so such a budget selects nothing
/// through ordinary selector matching; no special case is needed here.
pub const PDB_V1BETA1_LABEL: &str = "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match";

/// `meta.SetStatusCondition`: adds `new` when no condition of its type exists, otherwise
/// updates status, reason, message and observed generation in place. The transition time
/// (`new.last_transition_time`, which callers set to now) is taken only when the condition is
/// added or its status flips, so a steady condition keeps its time. Returns whether anything
/// changed.
pub fn set_status_condition(conditions: &mut Vec<Condition>, new: Condition) -> bool {
    let Some(existing) = conditions.iter_mut().find(|c| c.type_ == new.type_) else {
        conditions.push(new);
        return true;
    };
    let mut changed = false;
    if existing.status != new.status {
        existing.status = new.status;
        existing.last_transition_time = new.last_transition_time;
        changed = true;
    }
    if existing.reason != new.reason {
        existing.reason = new.reason;
        changed = true;
    }
    if existing.message != new.message {
        existing.message = new.message;
        changed = true;
    }
    // Go's int64 has no "unset": 0 and absent are the same generation.
    if existing.observed_generation.unwrap_or(0) != new.observed_generation.unwrap_or(0) {
        existing.observed_generation = new.observed_generation;
        changed = true;
    }
    changed
}

/// `UpdateDisruptionAllowedCondition`: `DisruptionAllowed` True/`SufficientPods` when
/// `disruptionsAllowed > 0`, else False/`InsufficientPods`; empty message, and the status's
/// observed generation.
pub fn update_disruption_allowed_condition(status: &mut PodDisruptionBudgetStatus, now: Timestamp) {
    let (value, reason) = if status.disruptions_allowed > 0 {
        ("True", SUFFICIENT_PODS_REASON)
    } else {
        ("False", INSUFFICIENT_PODS_REASON)
    };
    let observed_generation = status.observed_generation;
    set_status_condition(
        status.conditions.get_or_insert_with(Vec::new),
        Condition {
            type_: DISRUPTION_ALLOWED_CONDITION.into(),
            status: value.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation,
            last_transition_time: Time(now),
        },
    );
}

/// `ConditionsAreUpToDate`: the stored `DisruptionAllowed` condition exists, the status has
/// observed the current generation, and status and reason agree with the stored
/// `disruptionsAllowed`. The message is not compared, so a `SyncFailed` condition is never up
/// to date (its reason differs) while an `InsufficientPods` one with a stale message is.
pub fn conditions_are_up_to_date(pdb: &PodDisruptionBudget) -> bool {
    let Some(status) = pdb.status.as_ref() else {
        return false;
    };
    let Some(condition) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == DISRUPTION_ALLOWED_CONDITION)
    else {
        return false;
    };
    if status.observed_generation.unwrap_or(0) != pdb.metadata.generation.unwrap_or(0) {
        return false;
    }
    if status.disruptions_allowed > 0 {
        condition.status == "True" && condition.reason == SUFFICIENT_PODS_REASON
    } else {
        condition.status == "False" && condition.reason == INSUFFICIENT_PODS_REASON
    }
}

/// `intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)`: an integer as is, a
/// percentage `p%` of `total` rounded up. A string that is not a percentage, or whose number
/// does not parse, is an error with upstream's message.
pub fn scaled_value(value: &IntOrString, total: i32) -> Result<i64, String> {
    let text = match value {
        IntOrString::Int(n) => return Ok(i64::from(*n)),
        IntOrString::String(s) => s,
    };
    let Some(number) = text.strip_suffix('%') else {
        return Err(
            "invalid value for IntOrString: invalid type: string is not a percentage".into(),
        );
    };
    let percent: i64 = number.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!(
            "invalid value for IntOrString: invalid value {text:?}: strconv.Atoi: parsing \
             {number:?}: {why}"
        )
    })?;
    let product = i128::from(percent) * i128::from(total);
    // Ceiling division; Rust's `/` truncates toward zero, which is the ceiling for negatives.
    let scaled = if product > 0 {
        (product + 99) / 100
    } else {
        product / 100
    };
    Ok(i64::try_from(scaled).unwrap_or(if scaled > 0 { i64::MAX } else { i64::MIN }))
}

/// Why a selector that [`Selector::parse`] rejects is invalid, in the words of upstream's
/// `LabelSelectorAsSelector` (field paths and Go value syntax left out).
pub fn selector_error(selector: &LabelSelector) -> String {
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.as_deref().unwrap_or_default();
        match expr.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return format!(
                    "values: Invalid value: {values:?}: for 'in', 'notin' operators, values set \
                     can't be empty"
                );
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return format!(
                    "values: Invalid value: {values:?}: values set must be empty for exists and \
                     does not exist"
                );
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => return format!("{other:?} is not a valid label selector operator"),
        }
    }
    "invalid label selector".into()
}

/// `metav1.FormatLabelSelector`: the selector in its string form (`app=web,tier in (a,b)`,
/// requirements sorted by key, values sorted), `<none>` when it selects everything or is
/// absent, `<error>` when invalid.
pub fn format_label_selector(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else {
        return "<none>".into();
    };
    if Selector::parse(selector).is_none() {
        return "<error>".into();
    }
    let mut parts: Vec<(String, String)> = Vec::new();
    for (key, value) in selector.match_labels.iter().flatten() {
        parts.push((key.clone(), format!("{key}={value}")));
    }
    for expr in selector.match_expressions.iter().flatten() {
        let key = &expr.key;
        let mut values = expr.values.clone().unwrap_or_default();
        values.sort();
        let set = values.join(",");
        let text = match expr.operator.as_str() {
            "In" => format!("{key} in ({set})"),
            "NotIn" => format!("{key} notin ({set})"),
            "Exists" => key.clone(),
            _ => format!("!{key}"),
        };
        parts.push((key.clone(), text));
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    let joined: Vec<String> = parts.into_iter().map(|(_, text)| text).collect();
    if joined.is_empty() {
        "<none>".into()
    } else {
        joined.join(",")
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;

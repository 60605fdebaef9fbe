//! Whether a pod's tolerations tolerate a node's taints, shared by NodeUnschedulable and
//! TaintToleration (upstream `k8s.io/api/core/v1/toleration.go` `Toleration.ToleratesTaint`
//! and `k8s.io/component-helpers/scheduling/corev1/helpers.go`
//! `FindMatchingUntoleratedTaint` / `TolerationsTolerateTaint`).
//!
//! Matching rules (upstream's, in order):
//! 1. a toleration with an effect matches only taints with that effect; no effect: any;
//! 2. a toleration with a key matches only taints with that key; no key: any (the API
//!    server only admits an empty key together with `Exists`);
//! 3. operator `Equal` (or none, which defaults to `Equal`) needs equal values; `Exists`
//!    matches any value; anything else matches nothing.
//!
//! The numeric `Lt`/`Gt` operators of the alpha `TaintTolerationComparisonOperators`
//! feature gate (off by default in v1.35) are supported only through
//! [`tolerates_with`] with `comparison_operators = true`; [`tolerates`] behaves as upstream
//! with the gate off (`Lt`/`Gt` tolerate nothing).

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// Whether `toleration` tolerates `taint`, with the comparison-operator gate off (the
/// v1.35 default). Upstream `Toleration.ToleratesTaint(logger, taint, false)`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    tolerates_with(toleration, taint, false)
}

/// [`tolerates`] with the alpha `TaintTolerationComparisonOperators` gate given:
/// when on, `Lt` tolerates a taint whose value is a decimal integer below the toleration's,
/// `Gt` one above it (upstream `compareNumericValues`: `taint < toleration` for `Lt`).
pub fn tolerates_with(toleration: &Toleration, taint: &Taint, comparison_operators: bool) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    let value = toleration.value.as_deref().unwrap_or_default();
    let taint_value = taint.value.as_deref().unwrap_or_default();
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => value == taint_value,
        "Exists" => true,
        op @ ("Lt" | "Gt") if comparison_operators => {
            match (decimal_integer(value), decimal_integer(taint_value)) {
                (Some(tol), Some(tnt)) if op == "Lt" => tnt < tol,
                (Some(tol), Some(tnt)) => tnt > tol,
                _ => false,
            }
        }
        _ => false,
    }
}

/// A decimal integer in canonical form (`0`, or an optional `-` then digits without a
/// leading zero) that fits an `i64` (upstream `content.IsDecimalInteger` + `ParseInt`).
fn decimal_integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = s == "0"
        || (!digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

/// Whether any of `tolerations` tolerates `taint` (upstream `TolerationsTolerateTaint`).
pub fn tolerated_by_any(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The first taint that passes `filter` and that no toleration tolerates, if any (upstream
/// `FindMatchingUntoleratedTaint`). `filter` picks the taints that matter, e.g. only
/// `NoSchedule`/`NoExecute` for Filter, only `PreferNoSchedule` for Score.
pub fn find_untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|taint| filter(taint))
        .find(|taint| !tolerated_by_any(tolerations, taint))
}

#[cfg(test)]
#[path = "tolerations_tests.rs"]
mod tests;

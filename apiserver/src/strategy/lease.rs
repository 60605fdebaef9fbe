//! Leases (upstream `pkg/registry/coordination/lease/strategy.go` and
//! `pkg/apis/coordination/validation`). Holders renew by update, so the rules are few.

use k8s_openapi::api::coordination::v1::Lease;

use crate::error::FieldError;
use crate::strategy::Strategy;
use crate::strategy::checks;

pub struct LeaseStrategy;

/// The coordinated-leader-election strategies Kubernetes defines.
const STRATEGIES: [&str; 1] = ["OldestEmulationVersion"];

impl Strategy for LeaseStrategy {
    type Object = Lease;

    /// `ValidateLeaseSpec`.
    fn validate(&self, lease: &Lease) -> Vec<FieldError> {
        let mut out = Vec::new();
        let Some(spec) = &lease.spec else {
            return out;
        };
        if let Some(duration) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            out.push(FieldError::invalid(
                "spec.leaseDurationSeconds",
                duration.to_string(),
                "must be greater than 0",
            ));
        }
        if let Some(transitions) = spec.lease_transitions.filter(|t| *t < 0) {
            out.push(FieldError::invalid(
                "spec.leaseTransitions",
                transitions.to_string(),
                checks::NEGATIVE,
            ));
        }
        if let Some(strategy) = &spec.strategy {
            // Upstream appends "strategy" to a path that already ends in it.
            let field = "spec.strategy.strategy";
            if !strategy.contains('/') {
                if !STRATEGIES.contains(&strategy.as_str()) {
                    out.push(FieldError::not_supported(field, strategy, &STRATEGIES));
                }
            } else {
                checks::qualified_name_field(strategy, field, &mut out);
            }
        }
        let strategy = spec.strategy.as_deref().unwrap_or_default();
        if spec
            .preferred_holder
            .as_deref()
            .is_some_and(|h| !h.is_empty())
            && strategy.is_empty()
        {
            out.push(FieldError::forbidden(
                "spec.preferredHolder",
                "may only be specified if `strategy` is defined",
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lease_rules() {
        let table = [
            (
                json!({"holderIdentity": "node-1", "leaseDurationSeconds": 40, "leaseTransitions": 0}),
                vec![],
            ),
            (
                json!({"leaseDurationSeconds": 0}),
                vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
            ),
            (
                json!({"leaseTransitions": -1}),
                vec![
                    "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                ],
            ),
            (
                json!({"strategy": "Newest"}),
                vec![
                    "spec.strategy.strategy: Unsupported value: \"Newest\": supported values: \"OldestEmulationVersion\"",
                ],
            ),
            (json!({"strategy": "example.com/custom"}), vec![]),
            (
                json!({"preferredHolder": "node-2"}),
                vec![
                    "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
                ],
            ),
        ];
        for (spec, want) in table {
            let lease: Lease =
                serde_json::from_value(json!({"metadata": {"name": "l"}, "spec": spec}))
                    .expect("lease");
            let got: Vec<String> = LeaseStrategy
                .validate(&lease)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want);
        }
    }
}

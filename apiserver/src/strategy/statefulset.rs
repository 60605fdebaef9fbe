//! StatefulSets (upstream `pkg/registry/apps/statefulset/strategy.go`,
//! `SetDefaults_StatefulSet`, `ValidateStatefulSetSpec` and `ValidateStatefulSetUpdate`).
//! `apps.rs` re-exports the strategy with the other apps/v1 workloads.

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetStatus, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::PersistentVolumeClaimStatus;

use crate::error::FieldError;
use crate::strategy::apps::{
    int_or_percent, int_or_percent_value, not_over_100_percent, selector_rules,
};
use crate::strategy::checks::{self, quote};
use crate::strategy::pod_template;
use crate::strategy::{NameRule, Strategy};

pub struct StatefulSetStrategy;

impl Strategy for StatefulSetStrategy {
    type Object = StatefulSet;

    /// Upstream `ValidateStatefulSetName`: a DNS label, so pod names stay valid hostnames.
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }

    fn prepare_for_create(&self, sts: &mut StatefulSet) {
        sts.status = Some(StatefulSetStatus::default());
        stateful_set_defaults(sts);
    }

    fn prepare_for_update(&self, new: &mut StatefulSet, _old: &StatefulSet) {
        stateful_set_defaults(new);
    }

    fn validate(&self, sts: &StatefulSet) -> Vec<FieldError> {
        let mut out = Vec::new();
        let Some(spec) = &sts.spec else {
            out.push(FieldError::required("spec", ""));
            return out;
        };
        match spec.pod_management_policy.as_deref().unwrap_or_default() {
            "" => out.push(FieldError::required("spec.podManagementPolicy", "")),
            "OrderedReady" | "Parallel" => {}
            other => out.push(FieldError::invalid(
                "spec.podManagementPolicy",
                quote(other),
                "must be 'OrderedReady' or 'Parallel'",
            )),
        }
        update_strategy(spec.update_strategy.as_ref(), &mut out);
        if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
            let path = "spec.persistentVolumeClaimRetentionPolicy";
            for (field, value) in [
                ("whenDeleted", &policy.when_deleted),
                ("whenScaled", &policy.when_scaled),
            ] {
                let value = value.as_deref().unwrap_or_default();
                if !matches!(value, "Retain" | "Delete") {
                    out.push(FieldError::not_supported(
                        format!("{path}.{field}"),
                        value,
                        &["Retain", "Delete"],
                    ));
                }
            }
        }
        checks::nonnegative(
            i64::from(spec.replicas.unwrap_or(0)),
            "spec.replicas",
            &mut out,
        );
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        checks::nonnegative(i64::from(min_ready), "spec.minReadySeconds", &mut out);
        if let Some(start) = spec.ordinals.as_ref().and_then(|o| o.start) {
            checks::nonnegative(i64::from(start), "spec.ordinals.start", &mut out);
        }
        selector_rules(&spec.selector, &mut out);
        let template = &spec.template;
        if pod_template::selector_matches(&spec.selector, template, "spec.template", &mut out)
            .is_none()
        {
            out.push(FieldError::invalid(
                "spec.selector",
                checks::json(&spec.selector),
                "",
            ));
        } else {
            // Upstream checks only the template's metadata: its volumes may come from
            // volumeClaimTemplates, which a pod spec check would not know.
            let default_spec = Default::default();
            let pod_spec = template.spec.as_ref().unwrap_or(&default_spec);
            pod_template::metadata(template, pod_spec, "spec.template", &mut out);
        }
        pod_template::always_restart(template, "StatefulSet", "spec.template", &mut out);
        out
    }

    fn validate_update(&self, new: &StatefulSet, old: &StatefulSet) -> Vec<FieldError> {
        let mut out = self.validate(new);
        if let (Some(spec), Some(old_spec)) = (&new.spec, &old.spec) {
            let mut rest = spec.clone();
            rest.replicas = old_spec.replicas;
            rest.template.clone_from(&old_spec.template);
            rest.update_strategy.clone_from(&old_spec.update_strategy);
            rest.min_ready_seconds = old_spec.min_ready_seconds;
            rest.ordinals.clone_from(&old_spec.ordinals);
            rest.persistent_volume_claim_retention_policy
                .clone_from(&old_spec.persistent_volume_claim_retention_policy);
            if rest != *old_spec {
                out.push(FieldError::forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', \
                     'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and \
                     'minReadySeconds' are forbidden",
                ));
            }
        }
        out
    }
}

fn stateful_set_defaults(sts: &mut StatefulSet) {
    let Some(spec) = sts.spec.as_mut() else {
        return;
    };
    spec.pod_management_policy
        .get_or_insert_with(|| "OrderedReady".to_owned());
    let strategy = spec
        .update_strategy
        .get_or_insert_with(StatefulSetUpdateStrategy::default);
    if strategy.type_.as_deref().is_none_or(str::is_empty) {
        strategy.type_ = Some("RollingUpdate".to_owned());
        strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
    }
    if strategy.type_.as_deref() == Some("RollingUpdate")
        && let Some(rolling) = strategy.rolling_update.as_mut()
    {
        rolling.partition.get_or_insert(0);
    }
    let retention = spec
        .persistent_volume_claim_retention_policy
        .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
    retention
        .when_deleted
        .get_or_insert_with(|| "Retain".to_owned());
    retention
        .when_scaled
        .get_or_insert_with(|| "Retain".to_owned());
    spec.replicas.get_or_insert(1);
    spec.revision_history_limit.get_or_insert(10);
    pod_template::apply_defaults(&mut spec.template);
    // Claim templates are claims: they get `SetDefaults_PersistentVolumeClaim(Spec)`.
    for claim in spec.volume_claim_templates.iter_mut().flatten() {
        let status = claim
            .status
            .get_or_insert_with(PersistentVolumeClaimStatus::default);
        status.phase.get_or_insert_with(|| "Pending".to_owned());
        let claim_spec = claim.spec.get_or_insert_with(Default::default);
        claim_spec
            .volume_mode
            .get_or_insert_with(|| "Filesystem".to_owned());
    }
}

/// The update strategy of a StatefulSet.
fn update_strategy(strategy: Option<&StatefulSetUpdateStrategy>, out: &mut Vec<FieldError>) {
    let kind = strategy
        .and_then(|s| s.type_.as_deref())
        .unwrap_or_default();
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    let path = "spec.updateStrategy";
    match kind {
        "" => out.push(FieldError::required(path, "")),
        "OnDelete" => {
            if let Some(r) = rolling {
                out.push(FieldError::invalid(
                    format!("{path}.rollingUpdate"),
                    checks::json(r),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            let Some(r) = rolling else { return };
            let at = format!("{path}.rollingUpdate");
            checks::nonnegative(
                i64::from(r.partition.unwrap_or(0)),
                format!("{at}.partition"),
                out,
            );
            if let Some(max) = &r.max_unavailable {
                let field = format!("{at}.maxUnavailable");
                int_or_percent(max, &field, out);
                if int_or_percent_value(max) == 0 {
                    out.push(FieldError::invalid(
                        &field,
                        checks::json(max),
                        "cannot be 0",
                    ));
                }
                not_over_100_percent(max, &field, out);
            }
        }
        _ => out.push(FieldError::invalid(
            path,
            checks::json(&strategy),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::{created, errors, merged};
    use serde_json::{Value, json};

    fn spec_with(extra: Value) -> Value {
        let spec = json!({"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}}});
        merged(spec, extra)
    }

    #[test]
    fn statefulset_defaults_and_rules() {
        let sts = created(
            &StatefulSetStrategy,
            spec_with(
                json!({"serviceName": "web", "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}),
            ),
        );
        let got = serde_json::to_value(&sts).expect("json");
        let spec = &got["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["status"],
            json!({"phase": "Pending"})
        );
        assert_eq!(StatefulSetStrategy.name_rule(), NameRule::Label);
        assert!(StatefulSetStrategy.validate(&sts).is_empty());

        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"podManagementPolicy": "Random"}),
                vec![
                    "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                ],
            ),
            (
                json!({"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate: Invalid value: {\"partition\":1}: only allowed for updateStrategy 'RollingUpdate'",
                ],
            ),
            (
                json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1, "maxUnavailable": 0}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0",
                    "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0",
                ],
            ),
            (
                json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}}),
                vec![
                    "spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
                ],
            ),
        ];
        for (extra, want) in table {
            assert_eq!(
                errors(&StatefulSetStrategy, spec_with(extra.clone())),
                want,
                "{extra}"
            );
        }
        let mut changed = sts.clone();
        if let Some(spec) = changed.spec.as_mut() {
            spec.service_name = Some("other".into());
            spec.replicas = Some(3);
        }
        let got: Vec<String> = StatefulSetStrategy
            .validate_update(&changed, &sts)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            vec![
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
            ]
        );
    }
}

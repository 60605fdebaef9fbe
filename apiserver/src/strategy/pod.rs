//! Pods (upstream `pkg/registry/core/pod/strategy.go`).

use k8s_openapi::api::core::v1::{Pod, PodStatus};

use crate::error::FieldError;
use crate::strategy::Strategy;

pub struct PodStrategy;

/// Upstream's default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;

impl Strategy for PodStrategy {
    type Object = Pod;

    fn prepare_for_create(&self, pod: &mut Pod) {
        pod.status = Some(PodStatus {
            phase: Some("Pending".to_owned()),
            ..PodStatus::default()
        });
        super::pod_defaults::apply(pod);
    }

    /// The registry keeps the stored status on a main-resource update and takes the new one
    /// through `/status`, so the strategy leaves it alone.
    fn prepare_for_update(&self, new: &mut Pod, _old: &Pod) {
        super::pod_defaults::apply(new);
    }

    fn validate(&self, pod: &Pod) -> Vec<FieldError> {
        super::pod_validation::validate(pod)
    }

    fn validate_update(&self, new: &Pod, old: &Pod) -> Vec<FieldError> {
        super::pod_validation::validate_update(new, old)
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]
    }

    fn field(&self, pod: &Pod, name: &str) -> Option<String> {
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        Some(match name {
            "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
            "spec.restartPolicy" => spec
                .and_then(|s| s.restart_policy.clone())
                .unwrap_or_default(),
            "spec.schedulerName" => spec
                .and_then(|s| s.scheduler_name.clone())
                .unwrap_or_default(),
            "spec.serviceAccountName" => spec
                .and_then(|s| s.service_account_name.clone())
                .unwrap_or_default(),
            "spec.hostNetwork" => spec
                .and_then(|s| s.host_network)
                .unwrap_or(false)
                .to_string(),
            "status.phase" => status.and_then(|s| s.phase.clone()).unwrap_or_default(),
            "status.podIP" => status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
            "status.nominatedNodeName" => status
                .and_then(|s| s.nominated_node_name.clone())
                .unwrap_or_default(),
            _ => return None,
        })
    }

    /// A pod bound to a node is deleted by its kubelet once the containers stop; an unbound or
    /// finished pod goes at once (upstream `podStrategy.CheckGracefulDeleteWithOptions`).
    fn graceful_delete(&self, pod: &Pod) -> Option<i64> {
        let spec = pod.spec.as_ref()?;
        spec.node_name.as_ref().filter(|n| !n.is_empty())?;
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            return None;
        }
        Some(
            spec.termination_grace_period_seconds
                .unwrap_or(DEFAULT_GRACE_SECONDS),
        )
    }
}

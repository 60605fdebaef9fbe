//! Whole messages as users and the e2e suite see them: several violations joined in check
//! order, baseline before restricted, with upstream's pluralization.

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::super::{
    AggregateCheckResult, Config, Denial, Level, Request, admit_pod, check_pod, forbidden_message,
};
use super::{lv, pod};

fn detail(level: Level, version: &str, pod: &Pod) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    AggregateCheckResult::from_results(&check_pod(lv(level, version), &pod.metadata, &spec))
        .forbidden_detail()
}

/// A pod as `kubectl run pause --image=pause` makes it: one container, no security context.
fn bare_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": name, "image": "registry.k8s.io/pause"}]},
    }))
    .expect("valid pod")
}

#[test]
fn bare_pod_at_restricted_latest() {
    assert_eq!(
        detail(Level::Restricted, "latest", &bare_pod("pause")),
        "allowPrivilegeEscalation != false (container \"pause\" must set \
         securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \
         \"pause\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true \
         (pod or container \"pause\" must set securityContext.runAsNonRoot=true), seccompProfile \
         (pod or container \"pause\" must set securityContext.seccompProfile.type to \
         \"RuntimeDefault\" or \"Localhost\")"
    );
}

#[test]
fn bare_pod_at_older_restricted_versions() {
    let p = bare_pod("pause");
    assert_eq!(
        detail(Level::Restricted, "v1.0", &p),
        "runAsNonRoot != true (pod or container \"pause\" must set \
         securityContext.runAsNonRoot=true)"
    );
    assert_eq!(
        detail(Level::Restricted, "v1.21", &p),
        "allowPrivilegeEscalation != false (container \"pause\" must set \
         securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container \
         \"pause\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \
         \"pause\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \
         \"Localhost\")"
    );
    assert_eq!(detail(Level::Baseline, "latest", &p), "");
}

#[test]
fn baseline_reasons_come_before_restricted_ones() {
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "tailscale"},
        "spec": {
            "hostNetwork": true,
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [{"name": "sysctler", "securityContext": {"privileged": true}}],
            "containers": [{"name": "tailscale", "securityContext": {"privileged": true}}],
        },
    }))
    .expect("valid pod");
    assert_eq!(
        detail(Level::Restricted, "latest", &p),
        "host namespaces (hostNetwork=true), privileged (containers \"sysctler\", \"tailscale\" \
         must not set securityContext.privileged=true), allowPrivilegeEscalation != false \
         (containers \"sysctler\", \"tailscale\" must set \
         securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers \
         \"sysctler\", \"tailscale\" must set securityContext.capabilities.drop=[\"ALL\"])"
    );
}

#[test]
fn forbidden_pod_message_at_baseline() {
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "privileged-pod-pss"},
        "spec": {
            "hostPID": true,
            "containers": [{"name": "ubuntu", "securityContext": {"privileged": true}}],
        },
    }))
    .expect("valid pod");
    let labels = [(
        "pod-security.kubernetes.io/enforce".to_string(),
        "baseline".to_string(),
    )];
    let labels = labels.into_iter().collect();
    let req = Request {
        namespace: "ns",
        namespace_labels: Some(&labels),
        ..Request::default()
    };
    let decision = admit_pod(&Config::default(), &req, &p, None);
    let Some(Denial::Forbidden { reason }) = decision.denial else {
        panic!("expected a denial, got {decision:?}");
    };
    assert_eq!(
        forbidden_message("pods", "privileged-pod-pss", &reason),
        "pods \"privileged-pod-pss\" is forbidden: violates PodSecurity \"baseline:latest\": host \
         namespaces (hostPID=true), privileged (container \"ubuntu\" must not set \
         securityContext.privileged=true)"
    );
    assert_eq!(forbidden_message("pods", "", "x"), "pods is forbidden: x");
}

#[test]
fn reasons_group_existing_pods() {
    let kube_proxy = pod(json!({
        "spec": {
            "hostNetwork": true,
            "volumes": [{"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}],
            "containers": [{"securityContext": {"privileged": true}}],
        },
    }));
    let spec = kube_proxy.spec.clone().unwrap_or_default();
    let result = check_pod(lv(Level::Baseline, "latest"), &kube_proxy.metadata, &spec);
    assert_eq!(
        AggregateCheckResult::from_results(&result).forbidden_reason(),
        "host namespaces, hostPath volumes, privileged"
    );
}

#[test]
fn empty_detail_prints_the_reason_alone() {
    let aggregate = AggregateCheckResult {
        forbidden_reasons: vec!["a".to_string(), "b".to_string()],
        forbidden_details: vec![String::new(), "x".to_string()],
    };
    assert_eq!(aggregate.forbidden_detail(), "a, b (x)");
}

//! Defaults of a pod (upstream `pkg/apis/core/v1/defaults.go`, the pod parts).

use k8s_openapi::api::core::v1::{Container, Pod, PodSecurityContext};

pub fn apply(pod: &mut Pod) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    spec.restart_policy.get_or_insert_with(|| "Always".to_owned());
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".to_owned());
    spec.scheduler_name
        .get_or_insert_with(|| "default-scheduler".to_owned());
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.security_context
        .get_or_insert_with(PodSecurityContext::default);
    spec.enable_service_links.get_or_insert(true);
    spec.priority.get_or_insert(0);
    for container in spec.containers.iter_mut() {
        container_defaults(container);
    }
    for container in spec.init_containers.iter_mut().flatten() {
        container_defaults(container);
    }
}

fn container_defaults(container: &mut Container) {
    container
        .termination_message_path
        .get_or_insert_with(|| "/dev/termination-log".to_owned());
    container
        .termination_message_policy
        .get_or_insert_with(|| "File".to_owned());
    if container.image_pull_policy.is_none() {
        let image = container.image.as_deref().unwrap_or_default();
        // Upstream: Always for `:latest` or an untagged image, IfNotPresent otherwise.
        let last = image.rsplit('/').next().unwrap_or(image);
        let tagged = last.contains(':') || image.contains('@');
        let latest = last.ends_with(":latest");
        container.image_pull_policy = Some(
            if !tagged || latest {
                "Always"
            } else {
                "IfNotPresent"
            }
            .to_owned(),
        );
    }
    for port in container.ports.iter_mut().flatten() {
        port.protocol.get_or_insert_with(|| "TCP".to_owned());
    }
}

//! Defaults of a pod and of every pod spec embedded elsewhere (upstream
//! `pkg/apis/core/v1/defaults.go` and the `+default` tags of `k8s.io/api/core/v1/types.go`),
//! and the pod's QoS class (upstream `pkg/apis/core/helper/qos`).

use k8s_openapi::api::core::v1::{
    Container, EphemeralContainer, LifecycleHandler, ObjectFieldSelector, Pod, PodSecurityContext,
    PodSpec, Probe, ResourceRequirements, Volume,
};

use crate::strategy::quantity::Quantity;

/// Upstream's `DefaultTerminationGracePeriodSeconds`.
pub const DEFAULT_GRACE_SECONDS: i64 = 30;
/// Upstream's `SecretVolumeSourceDefaultMode` (and its ConfigMap, DownwardAPI, Projected twins).
const DEFAULT_MODE: i32 = 0o644;

/// Everything a new or updated pod gets: `SetDefaults_Pod` (pods only), the pod-spec defaults,
/// and `status.qosClass` when the status has none yet (upstream sets it in
/// `podStrategy.PrepareForCreate`; an update keeps the stored one).
pub fn apply(pod: &mut Pod) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    pod_only(spec);
    apply_spec(spec);
    if let Some(status) = pod.status.as_mut()
        && status.qos_class.is_none()
    {
        status.qos_class = Some(qos_class(spec).to_owned());
    }
}

/// `SetDefaults_Pod`: defaults a pod gets but a template does not, so that controllers'
/// templates stay as their authors wrote them.
fn pod_only(spec: &mut PodSpec) {
    let init = spec.init_containers.iter_mut().flatten();
    for container in spec.containers.iter_mut().chain(init) {
        let Some(resources) = container.resources.as_mut() else {
            continue;
        };
        requests_from_limits(resources);
    }
    spec.enable_service_links.get_or_insert(true);
    if spec.host_network == Some(true) {
        let init = spec.init_containers.iter_mut().flatten();
        for container in spec.containers.iter_mut().chain(init) {
            for port in container.ports.iter_mut().flatten() {
                if port.host_port.is_none_or(|p| p == 0) {
                    port.host_port = Some(port.container_port);
                }
            }
        }
    }
}

/// Limits without a request make the request (a pod asking for at most 1 CPU is
/// scheduled as needing 1 CPU).
fn requests_from_limits(resources: &mut ResourceRequirements) {
    let Some(limits) = resources.limits.as_ref() else {
        return;
    };
    let requests = resources.requests.get_or_insert_with(Default::default);
    for (name, value) in limits {
        requests
            .entry(name.clone())
            .or_insert_with(|| value.clone());
    }
}

/// `SetDefaults_PodSpec` and the defaults of everything inside a pod spec; templates too.
pub fn apply_spec(spec: &mut PodSpec) {
    spec.dns_policy
        .get_or_insert_with(|| "ClusterFirst".to_owned());
    spec.restart_policy
        .get_or_insert_with(|| "Always".to_owned());
    spec.security_context
        .get_or_insert_with(PodSecurityContext::default);
    spec.termination_grace_period_seconds
        .get_or_insert(DEFAULT_GRACE_SECONDS);
    spec.scheduler_name
        .get_or_insert_with(|| "default-scheduler".to_owned());
    // v1's `serviceAccount` is a deprecated alias of `serviceAccountName`; upstream's
    // conversion reads it when the new field is empty and always writes both.
    if spec
        .service_account_name
        .as_deref()
        .is_none_or(str::is_empty)
    {
        spec.service_account_name.clone_from(&spec.service_account);
    }
    if spec
        .service_account_name
        .as_deref()
        .is_some_and(|n| !n.is_empty())
    {
        spec.service_account.clone_from(&spec.service_account_name);
    }
    let init = spec.init_containers.iter_mut().flatten();
    for container in spec.containers.iter_mut().chain(init) {
        container_defaults(container);
    }
    for ephemeral in spec.ephemeral_containers.iter_mut().flatten() {
        ephemeral_defaults(ephemeral);
    }
    for volume in spec.volumes.iter_mut().flatten() {
        volume_defaults(volume);
    }
}

fn container_defaults(container: &mut Container) {
    if container.image_pull_policy.is_none() {
        let policy = pull_policy(container.image.as_deref().unwrap_or_default());
        container.image_pull_policy = Some(policy.to_owned());
    }
    container
        .termination_message_path
        .get_or_insert_with(|| "/dev/termination-log".to_owned());
    container
        .termination_message_policy
        .get_or_insert_with(|| "File".to_owned());
    for port in container.ports.iter_mut().flatten() {
        port.protocol.get_or_insert_with(|| "TCP".to_owned());
    }
    for env in container.env.iter_mut().flatten() {
        if let Some(field_ref) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            field_selector_defaults(field_ref);
        }
    }
    let probes = [
        &mut container.liveness_probe,
        &mut container.readiness_probe,
        &mut container.startup_probe,
    ];
    for probe in probes.into_iter().flatten() {
        probe_defaults(probe);
    }
    if let Some(lifecycle) = container.lifecycle.as_mut() {
        for handler in [&mut lifecycle.post_start, &mut lifecycle.pre_stop]
            .into_iter()
            .flatten()
        {
            handler_defaults(handler);
        }
    }
}

/// An ephemeral container has a container's fields (upstream converts one to the other).
fn ephemeral_defaults(ephemeral: &mut EphemeralContainer) {
    let Ok(value) = serde_json::to_value(&*ephemeral) else {
        return;
    };
    let Ok(mut container) = serde_json::from_value::<Container>(value) else {
        return;
    };
    container_defaults(&mut container);
    let target = ephemeral.target_container_name.take();
    let defaulted = serde_json::to_value(container).and_then(serde_json::from_value);
    if let Ok(defaulted) = defaulted {
        *ephemeral = defaulted;
    }
    ephemeral.target_container_name = target;
}

/// Upstream: `Always` for `:latest` or an untagged image, `IfNotPresent` otherwise (a digest
/// counts as a tag, and so does an image reference that does not parse, such as "").
fn pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    let tagged = last.contains(':') || image.contains('@');
    if image.is_empty() || (tagged && !last.ends_with(":latest")) {
        "IfNotPresent"
    } else {
        "Always"
    }
}

fn probe_defaults(probe: &mut Probe) {
    let unset = |v: &Option<i32>| v.is_none_or(|v| v == 0);
    if unset(&probe.timeout_seconds) {
        probe.timeout_seconds = Some(1);
    }
    if unset(&probe.period_seconds) {
        probe.period_seconds = Some(10);
    }
    if unset(&probe.success_threshold) {
        probe.success_threshold = Some(1);
    }
    if unset(&probe.failure_threshold) {
        probe.failure_threshold = Some(3);
    }
    if let Some(http) = probe.http_get.as_mut() {
        http.path.get_or_insert_with(|| "/".to_owned());
        http.scheme.get_or_insert_with(|| "HTTP".to_owned());
    }
}

fn handler_defaults(handler: &mut LifecycleHandler) {
    if let Some(http) = handler.http_get.as_mut() {
        http.path.get_or_insert_with(|| "/".to_owned());
        http.scheme.get_or_insert_with(|| "HTTP".to_owned());
    }
}

fn field_selector_defaults(selector: &mut ObjectFieldSelector) {
    if selector.api_version.as_deref().is_none_or(str::is_empty) {
        selector.api_version = Some("v1".to_owned());
    }
}

/// `SetDefaults_Volume` (no source means an emptyDir) and each source's defaults.
fn volume_defaults(volume: &mut Volume) {
    let name = std::mem::take(&mut volume.name);
    if *volume == Volume::default() {
        volume.empty_dir = Some(Default::default());
    }
    volume.name = name;
    if let Some(secret) = volume.secret.as_mut() {
        secret.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(config_map) = volume.config_map.as_mut() {
        config_map.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(downward) = volume.downward_api.as_mut() {
        downward.default_mode.get_or_insert(DEFAULT_MODE);
        let field_refs = downward.items.iter_mut().flatten();
        field_refs
            .filter_map(|i| i.field_ref.as_mut())
            .for_each(field_selector_defaults);
    }
    if let Some(projected) = volume.projected.as_mut() {
        projected.default_mode.get_or_insert(DEFAULT_MODE);
        for source in projected.sources.iter_mut().flatten() {
            if let Some(token) = source.service_account_token.as_mut() {
                token.expiration_seconds.get_or_insert(3600);
            }
            let items = source.downward_api.as_mut().and_then(|d| d.items.as_mut());
            let field_refs = items.into_iter().flatten();
            field_refs
                .filter_map(|i| i.field_ref.as_mut())
                .for_each(field_selector_defaults);
        }
    }
    if let Some(host_path) = volume.host_path.as_mut() {
        host_path.type_.get_or_insert_with(String::new);
    }
    if let Some(iscsi) = volume.iscsi.as_mut() {
        iscsi
            .iscsi_interface
            .get_or_insert_with(|| "default".to_owned());
    }
    if let Some(rbd) = volume.rbd.as_mut() {
        rbd.pool.get_or_insert_with(|| "rbd".to_owned());
        rbd.user.get_or_insert_with(|| "admin".to_owned());
        rbd.keyring
            .get_or_insert_with(|| "/etc/ceph/keyring".to_owned());
    }
    if let Some(disk) = volume.azure_disk.as_mut() {
        disk.caching_mode
            .get_or_insert_with(|| "ReadWrite".to_owned());
        disk.kind.get_or_insert_with(|| "Shared".to_owned());
        disk.fs_type.get_or_insert_with(|| "ext4".to_owned());
        disk.read_only.get_or_insert(false);
    }
    if let Some(scale_io) = volume.scale_io.as_mut() {
        scale_io
            .storage_mode
            .get_or_insert_with(|| "ThinProvisioned".to_owned());
        scale_io.fs_type.get_or_insert_with(|| "xfs".to_owned());
    }
    if let Some(claim) = volume
        .ephemeral
        .as_mut()
        .and_then(|e| e.volume_claim_template.as_mut())
    {
        claim
            .spec
            .volume_mode
            .get_or_insert_with(|| "Filesystem".to_owned());
    }
    if let Some(image) = volume.image.as_mut()
        && image.pull_policy.is_none()
    {
        let policy = pull_policy(image.reference.as_deref().unwrap_or_default());
        image.pull_policy = Some(policy.to_owned());
    }
}

/// Upstream's `ComputePodQOS` over containers' cpu and memory: BestEffort without any
/// request or limit, Guaranteed when every container limits both and requests equal limits,
/// Burstable otherwise.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];
    let mut requests: [Option<Quantity>; 2] = [None, None];
    let mut limits: [Option<Quantity>; 2] = [None, None];
    let mut guaranteed = true;
    let sum = |total: &mut Option<Quantity>, value: Quantity| {
        *total = Some(total.map_or(value, |t| t.add(&value)));
    };
    let init = spec.init_containers.iter().flatten();
    for container in spec.containers.iter().chain(init) {
        let resources = container.resources.as_ref();
        let mut limited = [false, false];
        for (i, name) in QOS_RESOURCES.iter().enumerate() {
            let positive = |list: Option<&std::collections::BTreeMap<_, _>>| {
                list.and_then(|l| l.get(*name))
                    .and_then(
                        |q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| {
                            Quantity::parse(&q.0).ok()
                        },
                    )
                    .filter(|q| *q > Quantity::zero())
            };
            if let Some(q) = positive(resources.and_then(|r| r.requests.as_ref())) {
                sum(&mut requests[i], q);
            }
            if let Some(q) = positive(resources.and_then(|r| r.limits.as_ref())) {
                sum(&mut limits[i], q);
                limited[i] = true;
            }
        }
        guaranteed &= limited == [true, true];
    }
    if requests.iter().chain(&limits).all(Option::is_none) {
        return "BestEffort";
    }
    let matching = requests
        .iter()
        .zip(&limits)
        .all(|(req, lim)| req.is_none() || req == lim);
    let same_count = requests.iter().filter(|r| r.is_some()).count()
        == limits.iter().filter(|l| l.is_some()).count();
    if guaranteed && matching && same_count {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"spec": spec, "status": {}})).expect("pod")
    }

    #[test]
    fn pod_spec_defaults() {
        let mut p = pod(json!({
            "serviceAccount": "robot",
            "hostNetwork": true,
            "containers": [{
                "name": "c",
                "image": "nginx:1.25",
                "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "livenessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            }],
            "volumes": [{"name": "scratch"}, {"name": "s", "secret": {"secretName": "x"}}],
        }));
        apply(&mut p);
        let got = serde_json::to_value(&p).expect("json");
        let spec = &got["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["serviceAccountName"], "robot");
        assert_eq!(spec["serviceAccount"], "robot");
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(
            c["ports"][0],
            json!({"containerPort": 80, "hostPort": 80, "protocol": "TCP"})
        );
        assert_eq!(
            c["resources"]["requests"],
            json!({"cpu": "1", "memory": "1Gi"})
        );
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            spec["volumes"][0],
            json!({"name": "scratch", "emptyDir": {}})
        );
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
        assert_eq!(got["status"]["qosClass"], "Guaranteed");
    }

    #[test]
    fn pull_policies() {
        let table = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v1", "IfNotPresent"),
            ("app@sha256:abc", "IfNotPresent"),
            ("", "IfNotPresent"),
        ];
        for (image, want) in table {
            assert_eq!(pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn qos_classes() {
        let qos = |resources: serde_json::Value| {
            let p = pod(json!({"containers": [{"name": "c", "resources": resources}]}));
            qos_class(p.spec.as_ref().expect("spec"))
        };
        assert_eq!(qos(json!({})), "BestEffort");
        assert_eq!(qos(json!({"requests": {"cpu": "100m"}})), "Burstable");
        assert_eq!(
            qos(json!({"requests": {"cpu": "1", "memory": "1Gi"},
                       "limits": {"cpu": "1000m", "memory": "1Gi"}})),
            "Guaranteed"
        );
        assert_eq!(qos(json!({"limits": {"cpu": "1"}})), "Burstable");
        assert_eq!(
            qos(json!({"requests": {"nvidia.com/gpu": "1"}})),
            "BestEffort"
        );
    }

    #[test]
    fn templates_keep_their_resources_and_links() {
        let mut spec: PodSpec = serde_json::from_value(json!({
            "containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}}],
        }))
        .expect("spec");
        apply_spec(&mut spec);
        let c = &spec.containers[0];
        assert!(c.resources.as_ref().is_some_and(|r| r.requests.is_none()));
        assert_eq!(spec.enable_service_links, None);
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    }
}

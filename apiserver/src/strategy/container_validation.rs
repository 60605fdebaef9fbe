//! Validation of a pod spec's containers (upstream `pkg/apis/core/validation/validation.go`:
//! `validateContainers`, `validateInitContainers`, `validateContainerCommon` and what they
//! call). Field paths and messages are upstream's, quirks included.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{Container, SecurityContext, Volume};

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::volume_validation::local_descending_path;
use crate::strategy::{container_env, probe_validation, resource_validation};

/// What container checks need from the surrounding pod spec.
pub struct PodContext<'a> {
    /// The pod's volumes that passed validation, by name.
    pub volumes: &'a BTreeMap<String, &'a Volume>,
    pub grace_period: Option<i64>,
    pub restart_policy: &'a str,
    pub host_users: bool,
}

/// `validateContainers`: the regular containers.
pub fn containers(list: &[Container], ctx: &PodContext, path: &str, out: &mut Vec<FieldError>) {
    if list.is_empty() {
        out.push(FieldError::required(path, ""));
        return;
    }
    let mut names = HashSet::new();
    for (i, c) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        common(c, ctx, &at, out);
        if !names.insert(c.name.as_str()) {
            out.push(FieldError::duplicate(format!("{at}.name"), quote(&c.name)));
        }
        probe_validation::probes_and_lifecycle(c, ctx.grace_period, &at, out);
        if c.restart_policy.is_some() {
            out.push(FieldError::forbidden(
                format!("{at}.restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    host_port_conflicts(list, path, out);
}

/// `validateInitContainers`.
pub fn init_containers(
    list: &[Container],
    regular: &[Container],
    ctx: &PodContext,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let mut names: HashSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        common(c, ctx, &at, out);
        let restartable = c.restart_policy.as_deref() == Some("Always");
        if let Some(policy) = c.restart_policy.as_deref().filter(|p| *p != "Always") {
            out.push(FieldError::not_supported(
                format!("{at}.restartPolicy"),
                policy,
                &["Always"],
            ));
        }
        if names.contains(c.name.as_str()) {
            out.push(FieldError::duplicate(format!("{at}.name"), quote(&c.name)));
        } else if !c.name.is_empty() {
            names.insert(c.name.as_str());
        }
        // Init containers run one at a time: each is checked on its own.
        host_port_conflicts(std::slice::from_ref(c), path, out);
        if restartable {
            probe_validation::probes_and_lifecycle(c, ctx.grace_period, &at, out);
            continue;
        }
        let forbidden = [
            ("lifecycle", c.lifecycle.is_some()),
            ("livenessProbe", c.liveness_probe.is_some()),
            ("readinessProbe", c.readiness_probe.is_some()),
            ("startupProbe", c.startup_probe.is_some()),
        ];
        for (field, set) in forbidden {
            if set {
                out.push(FieldError::forbidden(
                    format!("{at}.{field}"),
                    "may not be set for init containers without restartPolicy=Always",
                ));
            }
        }
    }
}

/// `validateContainerCommon`.
fn common(c: &Container, ctx: &PodContext, at: &str, out: &mut Vec<FieldError>) {
    if c.name.is_empty() {
        out.push(FieldError::required(format!("{at}.name"), ""));
    } else {
        checks::dns_label_field(&c.name, &format!("{at}.name"), out);
    }
    if c.image.as_deref().is_none_or(str::is_empty) {
        out.push(FieldError::required(format!("{at}.image"), ""));
    }
    match c.termination_message_policy.as_deref().unwrap_or_default() {
        "File" | "FallbackToLogsOnError" => {}
        "" => out.push(FieldError::required(
            format!("{at}.terminationMessagePolicy"),
            "",
        )),
        other => out.push(FieldError::not_supported(
            format!("{at}.terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    ports(c, &format!("{at}.ports"), out);
    for (i, env) in c.env.iter().flatten().enumerate() {
        container_env::env_var(env, &format!("{at}.env[{i}]"), out);
    }
    container_env::env_from(c, &format!("{at}.envFrom"), out);
    volume_mounts(c, ctx, &format!("{at}.volumeMounts"), out);
    volume_devices(c, ctx, &format!("{at}.volumeDevices"), out);
    match c.image_pull_policy.as_deref().unwrap_or_default() {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => out.push(FieldError::required(format!("{at}.imagePullPolicy"), "")),
        other => out.push(FieldError::not_supported(
            format!("{at}.imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(resources) = &c.resources {
        resource_validation::resource_requirements(resources, &format!("{at}.resources"), out);
    }
    resize_policy(c, ctx.restart_policy, &format!("{at}.resizePolicy"), out);
    if let Some(sc) = &c.security_context {
        security_context(sc, ctx.host_users, &format!("{at}.securityContext"), out);
    }
}

/// `validateContainerPorts`.
fn ports(c: &Container, path: &str, out: &mut Vec<FieldError>) {
    let mut names = HashSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let at = format!("{path}[{i}]");
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let errors = checks::port_name(name);
            if !errors.is_empty() {
                for e in errors {
                    out.push(FieldError::invalid(format!("{at}.name"), quote(name), e));
                }
            } else if !names.insert(name) {
                out.push(FieldError::duplicate(format!("{at}.name"), quote(name)));
            }
        }
        if port.container_port == 0 {
            out.push(FieldError::required(format!("{at}.containerPort"), ""));
        } else if let Some(e) = checks::port_num(i64::from(port.container_port)) {
            let value = port.container_port.to_string();
            out.push(FieldError::invalid(format!("{at}.containerPort"), value, e));
        }
        if let Some(host) = port.host_port.filter(|p| *p != 0)
            && let Some(e) = checks::port_num(i64::from(host))
        {
            out.push(FieldError::invalid(
                format!("{at}.hostPort"),
                host.to_string(),
                e,
            ));
        }
        match port.protocol.as_deref().unwrap_or_default() {
            "" => out.push(FieldError::required(format!("{at}.protocol"), "")),
            "TCP" | "UDP" | "SCTP" => {}
            other => out.push(FieldError::not_supported(
                format!("{at}.protocol"),
                other,
                &["SCTP", "TCP", "UDP"],
            )),
        }
    }
}

/// `AccumulateUniqueHostPorts`: one host port per protocol and host IP.
fn host_port_conflicts(list: &[Container], path: &str, out: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (ci, c) in list.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let Some(host) = port.host_port.filter(|p| *p != 0) else {
                continue;
            };
            let protocol = port.protocol.as_deref().unwrap_or_default();
            let key = format!(
                "{protocol}/{}/{host}",
                port.host_ip.as_deref().unwrap_or_default()
            );
            if !seen.insert(key.clone()) {
                let field = format!("{path}[{ci}].ports[{pi}].hostPort");
                out.push(FieldError::duplicate(field, quote(&key)));
            }
        }
    }
}

/// `ValidateVolumeMounts`. Some paths name the list rather than the entry, as upstream's do.
fn volume_mounts(c: &Container, ctx: &PodContext, path: &str, out: &mut Vec<FieldError>) {
    let devices: Vec<(&str, &str)> = c
        .volume_devices
        .iter()
        .flatten()
        .map(|d| (d.name.as_str(), d.device_path.as_str()))
        .collect();
    let mut mount_points = HashSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let at = format!("{path}[{i}]");
        if m.name.is_empty() {
            out.push(FieldError::required(format!("{at}.name"), ""));
        }
        let volume = ctx.volumes.get(&m.name);
        if volume.is_none() {
            out.push(checks::not_found(format!("{at}.name"), &m.name));
        }
        if m.mount_path.is_empty() {
            out.push(FieldError::required(format!("{at}.mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.as_str()) {
            out.push(FieldError::invalid(
                format!("{at}.mountPath"),
                quote(&m.mount_path),
                "must be unique",
            ));
        }
        if devices.iter().any(|(name, _)| *name == m.name) {
            let why = "must not already exist in volumeDevices";
            out.push(FieldError::invalid(
                format!("{at}.name"),
                quote(&m.name),
                why,
            ));
        }
        if devices.iter().any(|(_, p)| *p == m.mount_path) {
            let why = "must not already exist as a path in volumeDevices";
            out.push(FieldError::invalid(
                format!("{at}.mountPath"),
                quote(&m.mount_path),
                why,
            ));
        }
        let sub_path = m.sub_path.as_deref().unwrap_or_default();
        let sub_path_expr = m.sub_path_expr.as_deref().unwrap_or_default();
        if volume.is_some_and(|v| v.image.is_some()) {
            for (field, value) in [("subPath", sub_path), ("subPathExpr", sub_path_expr)] {
                if !value.is_empty() {
                    let why = "not allowed in image volume sources";
                    out.push(FieldError::invalid(
                        format!("{at}.{field}"),
                        quote(value),
                        why,
                    ));
                }
            }
        }
        if !sub_path.is_empty() {
            local_descending_path(sub_path, &format!("{path}.subPath"), out);
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                let why = "subPathExpr and subPath are mutually exclusive";
                out.push(FieldError::invalid(
                    format!("{at}.subPathExpr"),
                    quote(sub_path_expr),
                    why,
                ));
            }
            local_descending_path(sub_path_expr, &format!("{path}.subPathExpr"), out);
        }
        let propagation = m.mount_propagation.as_deref();
        if let Some(p) = propagation {
            let field = format!("{path}.mountPropagation");
            let modes = ["Bidirectional", "HostToContainer", "None"];
            if !modes.contains(&p) {
                out.push(FieldError::not_supported(&field, p, &modes));
            }
            let privileged = c.security_context.as_ref().and_then(|s| s.privileged) == Some(true);
            if p == "Bidirectional" && !privileged {
                out.push(FieldError::forbidden(
                    field,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        let field = format!("{path}.recursiveReadOnly");
        match m.recursive_read_only.as_deref() {
            None | Some("Disabled") => {}
            Some("Enabled" | "IfPossible") => {
                if m.read_only != Some(true) {
                    out.push(FieldError::forbidden(
                        &field,
                        "may only be specified when readOnly is true",
                    ));
                }
                if propagation.is_some_and(|p| p != "None") {
                    out.push(FieldError::forbidden(
                        &field,
                        "may only be specified when mountPropagation is None or not specified",
                    ));
                }
            }
            Some(other) => {
                out.push(FieldError::not_supported(
                    field,
                    other,
                    &["Disabled", "Enabled", "IfPossible"],
                ));
            }
        }
    }
}

/// `ValidateVolumeDevices`: block devices come from claims only.
fn volume_devices(c: &Container, ctx: &PodContext, path: &str, out: &mut Vec<FieldError>) {
    let mounts: Vec<(&str, &str)> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.as_str(), m.mount_path.as_str()))
        .collect();
    let (mut names, mut paths) = (HashSet::new(), HashSet::new());
    for (i, d) in c.volume_devices.iter().flatten().enumerate() {
        let at = format!("{path}[{i}]");
        let (name, device_path) = (d.name.as_str(), d.device_path.as_str());
        if name.is_empty() {
            out.push(FieldError::required(format!("{at}.name"), ""));
        }
        if names.contains(name) {
            out.push(FieldError::invalid(
                format!("{at}.name"),
                quote(name),
                "must be unique",
            ));
        }
        match ctx.volumes.get(name) {
            Some(v) if v.persistent_volume_claim.is_none() && v.ephemeral.is_none() => {
                out.push(FieldError::invalid(
                    format!("{at}.name"),
                    quote(name),
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                ));
            }
            Some(_) => {}
            None => out.push(checks::not_found(format!("{at}.name"), name)),
        }
        if device_path.is_empty() {
            out.push(FieldError::required(format!("{at}.devicePath"), ""));
        }
        if paths.contains(device_path) {
            let why = "must be unique";
            out.push(FieldError::invalid(
                format!("{at}.devicePath"),
                quote(device_path),
                why,
            ));
        }
        if device_path.split('/').any(|part| part == "..") {
            let why = "can not contain backsteps ('..')";
            out.push(FieldError::invalid(
                format!("{at}.devicePath"),
                quote(device_path),
                why,
            ));
        } else {
            paths.insert(device_path);
        }
        if mounts.iter().any(|(n, _)| *n == name) {
            let why = "must not already exist in volumeMounts";
            out.push(FieldError::invalid(format!("{at}.name"), quote(name), why));
        }
        if mounts.iter().any(|(_, p)| *p == device_path) {
            let why = "must not already exist as a path in volumeMounts";
            out.push(FieldError::invalid(
                format!("{at}.devicePath"),
                quote(device_path),
                why,
            ));
        }
        if !name.is_empty() {
            names.insert(name);
        }
    }
}

/// `validateResizePolicy`.
fn resize_policy(c: &Container, pod_restart: &str, path: &str, out: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (i, p) in c.resize_policy.iter().flatten().enumerate() {
        if !seen.insert(p.resource_name.as_str()) {
            out.push(FieldError::duplicate(
                format!("{path}[{i}]"),
                quote(&p.resource_name),
            ));
        }
        match p.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => out.push(FieldError::required(path, "")),
            other => out.push(FieldError::not_supported(path, other, &["cpu", "memory"])),
        }
        match p.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => out.push(FieldError::required(path, "")),
            other => out.push(FieldError::not_supported(
                path,
                other,
                &["NotRequired", "RestartContainer"],
            )),
        }
        if pod_restart == "Never" && p.restart_policy != "NotRequired" {
            out.push(FieldError::invalid(
                path,
                quote(&p.restart_policy),
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
}

/// `ValidateSecurityContext` (privileged containers are allowed: this server runs with
/// upstream's `--allow-privileged=true`, as kubeadm and kind clusters do).
fn security_context(sc: &SecurityContext, host_users: bool, path: &str, out: &mut Vec<FieldError>) {
    const ID_RANGE: &str = "must be between 0 and 2147483647, inclusive";
    for (field, id) in [
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ] {
        if let Some(id) = id.filter(|id| !(0..=i64::from(i32::MAX)).contains(id)) {
            out.push(FieldError::invalid(
                format!("{path}.{field}"),
                id.to_string(),
                ID_RANGE,
            ));
        }
    }
    if let Some(mount) = sc.proc_mount.as_deref() {
        if !matches!(mount, "Default" | "Unmasked") {
            out.push(FieldError::not_supported(
                format!("{path}.procMount"),
                mount,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && mount == "Unmasked" {
            out.push(FieldError::invalid(
                format!("{path}.procMount"),
                quote(mount),
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    if let Some(profile) = &sc.seccomp_profile {
        crate::strategy::pod_spec_validation::seccomp_profile(
            &profile.type_,
            profile.localhost_profile.as_deref(),
            &format!("{path}.seccompProfile"),
            out,
        );
    }
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            out.push(FieldError::invalid(
                path,
                checks::json(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        let added = sc.capabilities.as_ref().and_then(|c| c.add.as_ref());
        for _ in added
            .into_iter()
            .flatten()
            .filter(|c| *c == "CAP_SYS_ADMIN")
        {
            out.push(FieldError::invalid(
                path,
                checks::json(sc),
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
    if let Some(profile) = &sc.app_armor_profile {
        crate::strategy::pod_spec_validation::app_armor_profile(
            &profile.type_,
            profile.localhost_profile.as_deref(),
            &format!("{path}.appArmorProfile"),
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::strategy::pod_validation::testing::{container_errors, spec_errors, table};
    use serde_json::json;

    #[test]
    fn container_rules() {
        table(
            spec_errors,
            vec![
                (
                    json!({"containers": []}),
                    vec!["spec.containers: Required value"],
                ),
                (
                    json!({"containers": [{"name": "c", "image": "i"}, {"name": "c", "image": "i"}]}),
                    vec!["spec.containers[1].name: Duplicate value: \"c\""],
                ),
                (
                    json!({"containers": [{"name": "Web", "image": ""}]}),
                    vec![
                        "spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                        "spec.containers[0].image: Required value",
                    ],
                ),
                (
                    json!({"containers": [{"name": "a", "image": "i", "ports": [{"containerPort": 80, "hostPort": 80}]},
                                   {"name": "b", "image": "i", "ports": [{"containerPort": 81, "hostPort": 80}]}]}),
                    vec!["spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//80\""],
                ),
                (
                    json!({"initContainers": [{"name": "i", "image": "x", "restartPolicy": "Never",
                                        "livenessProbe": {"exec": {"command": ["x"]}}}]}),
                    vec![
                        "spec.initContainers[0].restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                        "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
                    ],
                ),
                (
                    json!({"initContainers": [{"name": "c", "image": "x"}]}),
                    vec!["spec.initContainers[0].name: Duplicate value: \"c\""],
                ),
            ],
        );
        table(
            container_errors,
            vec![
                (
                    json!({"ports": [{"containerPort": 0, "protocol": "ICMP", "name": "1234"}]}),
                    vec![
                        "spec.containers[0].ports[0].name: Invalid value: \"1234\": must contain at least one letter (a-z)",
                        "spec.containers[0].ports[0].containerPort: Required value",
                        "spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                    ],
                ),
                (
                    json!({"ports": [{"containerPort": 70000}]}),
                    vec![
                        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                    ],
                ),
                (
                    json!({"imagePullPolicy": "Sometimes", "terminationMessagePolicy": "Never"}),
                    vec![
                        "spec.containers[0].terminationMessagePolicy: Unsupported value: \"Never\": supported values: \"File\", \"FallbackToLogsOnError\"",
                        "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                    ],
                ),
                (
                    json!({"volumeMounts": [{"name": "missing", "mountPath": "/m"}]}),
                    vec!["spec.containers[0].volumeMounts[0].name: Not found: \"missing\""],
                ),
                (
                    json!({"restartPolicy": "Always"}),
                    vec![
                        "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
                    ],
                ),
                (
                    json!({"securityContext": {"runAsUser": -1, "procMount": "Unmasked"}}),
                    vec![
                        "spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
                        "spec.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`",
                    ],
                ),
                (
                    json!({"securityContext": {"privileged": true, "allowPrivilegeEscalation": false}}),
                    vec![
                        "spec.containers[0].securityContext: Invalid value: {\"allowPrivilegeEscalation\":false,\"privileged\":true}: cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                    ],
                ),
            ],
        );
    }

    #[test]
    fn mounts_need_valid_volumes() {
        let mounted = json!({"containers": [{"name": "c", "image": "i",
            "volumeMounts": [{"name": "v", "mountPath": "/a", "subPath": "../x"},
                             {"name": "v", "mountPath": "/a", "mountPropagation": "Bidirectional"}]}],
            "volumes": [{"name": "v", "emptyDir": {}}]});
        assert_eq!(
            spec_errors(mounted),
            vec![
                "spec.containers[0].volumeMounts.subPath: Invalid value: \"../x\": must not contain '..'",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
                "spec.containers[0].volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers",
            ]
        );
    }
}

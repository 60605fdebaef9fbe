//! Validation of a pod spec, in a pod or a template (upstream `ValidatePodSpec`,
//! `validatePodSpecSecurityContext` and what they call in
//! `pkg/apis/core/validation/validation.go`). Containers, volumes and scheduling rules have
//! files of their own.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{PodSecurityContext, PodSpec};

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::container_validation::{self as containers, PodContext};
use crate::strategy::pod_scheduling as scheduling;
use crate::strategy::validation;
use crate::strategy::volume_validation;

const ID_RANGE: &str = "must be between 0 and 2147483647, inclusive";

/// Where a pod spec sits: in a pod (pod-only rules apply) or in a template.
pub struct SpecContext<'a> {
    pub pod_name: Option<&'a str>,
    pub is_pod: bool,
}

/// `ValidatePodSpec`.
pub fn validate_spec(spec: &PodSpec, ctx: &SpecContext, path: &str, out: &mut Vec<FieldError>) {
    if spec.termination_grace_period_seconds.is_none() {
        out.push(FieldError::required(
            format!("{path}.terminationGracePeriodSeconds"),
            "",
        ));
    }
    let host_users = spec.host_users.unwrap_or(true);
    let volume_list = spec.volumes.as_deref().unwrap_or_default();
    let volumes = volume_validation::volumes(
        volume_list,
        ctx.pod_name,
        ctx.is_pod,
        &format!("{path}.volumes"),
        out,
    );
    resource_claims(spec, &format!("{path}.resourceClaims"), out);
    let restart_policy = spec.restart_policy.as_deref().unwrap_or_default();
    let pod = PodContext {
        volumes: &volumes,
        grace_period: spec.termination_grace_period_seconds,
        restart_policy,
        host_users,
    };
    containers::containers(&spec.containers, &pod, &format!("{path}.containers"), out);
    let init = spec.init_containers.as_deref().unwrap_or_default();
    containers::init_containers(
        init,
        &spec.containers,
        &pod,
        &format!("{path}.initContainers"),
        out,
    );
    host_network_ports(spec, ctx.is_pod, path, out);
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => out.push(FieldError::required(format!("{path}.restartPolicy"), "")),
        other => out.push(FieldError::not_supported(
            format!("{path}.restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_policy = spec.dns_policy.as_deref().unwrap_or_default();
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => out.push(FieldError::required(format!("{path}.dnsPolicy"), "")),
        other => out.push(FieldError::not_supported(
            format!("{path}.dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    if let Some(selector) = &spec.node_selector {
        validation::labels(selector, &format!("{path}.nodeSelector"), out);
    }
    if let Some(sc) = &spec.security_context {
        pod_security_context(sc, spec, path, out);
    }
    if let Some(affinity) = &spec.affinity {
        scheduling::affinity(affinity, &format!("{path}.affinity"), out);
    }
    scheduling::dns_config(
        spec.dns_config.as_ref(),
        dns_policy,
        &format!("{path}.dnsConfig"),
        out,
    );
    for (i, gate) in spec.readiness_gates.iter().flatten().enumerate() {
        let field = format!("{path}.readinessGates[{i}].conditionType");
        checks::qualified_name_field(&gate.condition_type, &field, out);
    }
    let mut gates = HashSet::new();
    for (i, gate) in spec.scheduling_gates.iter().flatten().enumerate() {
        let field = format!("{path}.schedulingGates[{i}]");
        checks::qualified_name_field(&gate.name, &field, out);
        if !gates.insert(gate.name.as_str()) {
            out.push(FieldError::duplicate(field, quote(&gate.name)));
        }
    }
    let spread = spec
        .topology_spread_constraints
        .as_deref()
        .unwrap_or_default();
    scheduling::topology_spread(spread, &format!("{path}.topologySpreadConstraints"), out);
    let subdomains = [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
    ];
    for (field, value) in subdomains {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            checks::subdomain_field(v, &format!("{path}.{field}"), out);
        }
    }
    if let Some(seconds) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&seconds)
    {
        out.push(FieldError::invalid(
            format!("{path}.activeDeadlineSeconds"),
            seconds.to_string(),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            checks::dns_label_field(v, &format!("{path}.{field}"), out);
        }
    }
    if let Some(tolerations) = &spec.tolerations {
        scheduling::tolerations(tolerations, &format!("{path}.tolerations"), out);
    }
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        checks::ip(&alias.ip, &format!("{path}.hostAliases[{i}].ip"), out);
        for (j, hostname) in alias.hostnames.iter().flatten().enumerate() {
            checks::subdomain_field(
                hostname,
                &format!("{path}.hostAliases[{i}].hostnames[{j}]"),
                out,
            );
        }
    }
    if let Some(class) = spec
        .priority_class_name
        .as_deref()
        .filter(|c| !c.is_empty())
    {
        checks::subdomain_field(class, &format!("{path}.priorityClassName"), out);
    }
    if let Some(class) = spec.runtime_class_name.as_deref() {
        checks::subdomain_field(class, &format!("{path}.runtimeClassName"), out);
    }
    match spec.preemption_policy.as_deref() {
        None | Some("PreemptLowerPriority" | "Never") => {}
        Some("") => out.push(FieldError::required(format!("{path}.preemptionPolicy"), "")),
        Some(other) => out.push(FieldError::not_supported(
            format!("{path}.preemptionPolicy"),
            other,
            &["PreemptLowerPriority", "Never"],
        )),
    }
    if let Some(overhead) = &spec.overhead {
        let limits = k8s_openapi::api::core::v1::ResourceRequirements {
            limits: Some(overhead.clone()),
            ..Default::default()
        };
        crate::strategy::resource_validation::resource_requirements(
            &limits,
            &format!("{path}.overhead"),
            out,
        );
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            out.push(FieldError::required(
                format!("{path}.os.name"),
                "cannot be empty",
            ));
        } else if !matches!(os.name.as_str(), "linux" | "windows") {
            out.push(FieldError::not_supported(
                format!("{path}.os"),
                &os.name,
                &["linux", "windows"],
            ));
        }
    }
}

/// `validatePodResourceClaims`: named, unique, and exactly one source each.
fn resource_claims(spec: &PodSpec, path: &str, out: &mut Vec<FieldError>) {
    let mut names = HashSet::new();
    for (i, claim) in spec.resource_claims.iter().flatten().enumerate() {
        let at = format!("{path}[{i}]");
        if claim.name.is_empty() {
            out.push(FieldError::required(format!("{at}.name"), ""));
        } else if !names.insert(claim.name.as_str()) {
            out.push(FieldError::duplicate(
                format!("{at}.name"),
                quote(&claim.name),
            ));
        } else {
            checks::dns_label_field(&claim.name, &format!("{at}.name"), out);
        }
        let sources = [
            &claim.resource_claim_name,
            &claim.resource_claim_template_name,
        ];
        let why = match sources.iter().filter(|s| s.is_some()).count() {
            0 => "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`",
            1 => continue,
            _ => {
                "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"
            }
        };
        out.push(FieldError::invalid(at, checks::json(claim), why));
    }
}

/// `validatePodHostNetworkDeps`: with the host's network a port is the host's port. A
/// template may leave the host port unset (it is defaulted when the pod is made).
fn host_network_ports(spec: &PodSpec, is_pod: bool, path: &str, out: &mut Vec<FieldError>) {
    if spec.host_network != Some(true) {
        return;
    }
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, port) in c.ports.iter().flatten().enumerate() {
            let host = port.host_port.unwrap_or(0);
            if (is_pod || host != 0) && host != port.container_port {
                out.push(FieldError::invalid(
                    format!("{path}.containers[{i}].ports[{j}].hostPort"),
                    host.to_string(),
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

/// `validatePodSpecSecurityContext`.
fn pod_security_context(
    sc: &PodSecurityContext,
    spec: &PodSpec,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let at = format!("{path}.securityContext");
    for (field, id) in [
        ("fsGroup", sc.fs_group),
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ] {
        if let Some(id) = id.filter(|id| !(0..=i64::from(i32::MAX)).contains(id)) {
            out.push(FieldError::invalid(
                format!("{at}.{field}"),
                id.to_string(),
                ID_RANGE,
            ));
        }
    }
    for (i, gid) in sc.supplemental_groups.iter().flatten().enumerate() {
        if !(0..=i64::from(i32::MAX)).contains(gid) {
            let field = format!("{at}.supplementalGroups[{i}]");
            out.push(FieldError::invalid(field, gid.to_string(), ID_RANGE));
        }
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        out.push(FieldError::invalid(
            format!("{at}.shareProcessNamespace"),
            "true",
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    sysctls(sc, spec, &format!("{at}.sysctls"), out);
    let enums: [(&str, &Option<String>, &[&str]); 3] = [
        (
            "fsGroupChangePolicy",
            &sc.fs_group_change_policy,
            &["Always", "OnRootMismatch"],
        ),
        (
            "supplementalGroupsPolicy",
            &sc.supplemental_groups_policy,
            &["Merge", "Strict"],
        ),
        (
            "seLinuxChangePolicy",
            &sc.se_linux_change_policy,
            &["MountOption", "Recursive"],
        ),
    ];
    for (field, value, supported) in enums {
        if let Some(v) = value.as_deref().filter(|v| !supported.contains(v)) {
            out.push(FieldError::not_supported(
                format!("{at}.{field}"),
                v,
                supported,
            ));
        }
    }
    if let Some(profile) = &sc.seccomp_profile {
        let field = format!("{at}.seccompProfile");
        seccomp_profile(
            &profile.type_,
            profile.localhost_profile.as_deref(),
            &field,
            out,
        );
    }
    if let Some(profile) = &sc.app_armor_profile {
        let field = format!("{at}.appArmorProfile");
        app_armor_profile(
            &profile.type_,
            profile.localhost_profile.as_deref(),
            &field,
            out,
        );
    }
}

/// `validateSysctls` with `ValidateHostSysctl`.
fn sysctls(sc: &PodSecurityContext, spec: &PodSpec, path: &str, out: &mut Vec<FieldError>) {
    let mut names = HashSet::new();
    for (i, sysctl) in sc.sysctls.iter().flatten().enumerate() {
        let field = format!("{path}[{i}].name");
        let name = sysctl.name.as_str();
        if name.is_empty() {
            out.push(FieldError::required(&field, ""));
        } else if !valid_sysctl_name(name) {
            out.push(FieldError::invalid(
                &field,
                quote(name),
                "must have at most 253 characters and match regex \
                 ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if names.contains(name) {
            out.push(FieldError::duplicate(&field, quote(name)));
        }
        let normalized = name.replace('/', ".");
        let ipc = ["kernel.shm", "kernel.msg", "fs.mqueue."]
            .iter()
            .any(|p| normalized.starts_with(p))
            || normalized == "kernel.sem";
        if spec.host_network == Some(true) && normalized.starts_with("net.") {
            let why = "may not be specified when 'hostNetwork' is true";
            out.push(FieldError::invalid(&field, quote(name), why));
        } else if spec.host_ipc == Some(true) && ipc {
            out.push(FieldError::invalid(
                &field,
                quote(name),
                "may not be specified when 'hostIPC' is true",
            ));
        }
        names.insert(name);
    }
}

fn valid_sysctl_name(name: &str) -> bool {
    let segment = |s: &str| {
        let b = s.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && edge(b[0])
            && edge(b[b.len() - 1])
            && b.iter().all(|&c| edge(c) || c == b'-' || c == b'_')
    };
    name.len() <= 253 && name.split(['.', '/']).all(segment)
}

/// `validateSeccompProfileField`.
pub fn seccomp_profile(kind: &str, localhost: Option<&str>, path: &str, out: &mut Vec<FieldError>) {
    let kinds = ["Localhost", "RuntimeDefault", "Unconfined"];
    match kind {
        "" => out.push(FieldError::required(
            format!("{path}.type"),
            "type is required when seccompProfile is set",
        )),
        k if !kinds.contains(&k) => {
            out.push(FieldError::not_supported(format!("{path}.type"), k, &kinds))
        }
        _ => {}
    }
    let field = format!("{path}.localhostProfile");
    match (kind, localhost) {
        ("Localhost", None) => {
            out.push(FieldError::required(
                field,
                "must be set when seccomp type is Localhost",
            ));
        }
        ("Localhost", Some(profile)) => {
            volume_validation::local_descending_path(profile, &field, out)
        }
        (_, Some(profile)) => out.push(FieldError::invalid(
            field,
            checks::json(&serde_json::json!({"type": kind, "localhostProfile": profile})),
            "can only be set when seccomp type is Localhost",
        )),
        (_, None) => {}
    }
}

/// `ValidateAppArmorProfileField`.
pub fn app_armor_profile(
    kind: &str,
    localhost: Option<&str>,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let field = format!("{path}.localhostProfile");
    match (kind, localhost) {
        ("Localhost", None) => {
            out.push(FieldError::required(
                field,
                "must be set when AppArmor type is Localhost",
            ));
        }
        ("Localhost", Some(profile)) => {
            if profile.trim() != profile {
                out.push(FieldError::invalid(
                    &field,
                    quote(profile),
                    "must not be padded with whitespace",
                ));
            } else if profile.is_empty() {
                out.push(FieldError::required(
                    &field,
                    "must be set when AppArmor type is Localhost",
                ));
            }
            if profile.len() > 4095 {
                out.push(FieldError::too_long(field, 4095));
            }
        }
        ("RuntimeDefault" | "Unconfined", Some(profile)) => out.push(FieldError::invalid(
            field,
            quote(profile),
            "can only be set when AppArmor type is Localhost",
        )),
        ("RuntimeDefault" | "Unconfined", None) => {}
        ("", _) => out.push(FieldError::required(
            format!("{path}.type"),
            "type is required when appArmorProfile is set",
        )),
        (other, _) => out.push(FieldError::not_supported(
            format!("{path}.type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::strategy::pod_validation::testing::{spec_errors, table};
    use serde_json::json;

    #[test]
    fn spec_rules() {
        table(
            spec_errors,
            vec![
                (
                    json!({"restartPolicy": "Sometimes", "dnsPolicy": "Google"}),
                    vec![
                        "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                        "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
                    ],
                ),
                (
                    json!({"nodeSelector": {"zone": "-a"}}),
                    vec![
                        "spec.nodeSelector[zone]: Invalid value: \"-a\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    ],
                ),
                (
                    json!({"priorityClassName": "High", "activeDeadlineSeconds": 0}),
                    vec![
                        "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
                        "spec.priorityClassName: Invalid value: \"High\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                    ],
                ),
                (
                    json!({"hostNetwork": true, "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "hostPort": 81}]}]}),
                    vec![
                        "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true",
                    ],
                ),
                (
                    json!({"securityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1"}]}, "hostNetwork": true}),
                    vec![
                        "spec.securityContext.sysctls[0].name: Invalid value: \"net.core.somaxconn\": may not be specified when 'hostNetwork' is true",
                    ],
                ),
                (
                    json!({"securityContext": {"fsGroup": -1, "seccompProfile": {"type": "Localhost"}}}),
                    vec![
                        "spec.securityContext.fsGroup: Invalid value: -1: must be between 0 and 2147483647, inclusive",
                        "spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
                    ],
                ),
                (
                    json!({"hostname": "a.b", "os": {"name": "plan9"}}),
                    vec![
                        "spec.hostname: Invalid value: \"a.b\": must not contain dots",
                        "spec.os: Unsupported value: \"plan9\": supported values: \"linux\", \"windows\"",
                    ],
                ),
                (
                    json!({"resourceClaims": [{"name": "gpu"}]}),
                    vec![
                        "spec.resourceClaims[0]: Invalid value: {\"name\":\"gpu\"}: must specify one of: `resourceClaimName`, `resourceClaimTemplateName`",
                    ],
                ),
            ],
        );
    }
}

//! The baseline checks on profiles and kernel settings (AppArmor, capabilities, /proc,
//! SELinux, seccomp, sysctls), one function per revision, as upstream's `policy/check_*.go`.
//! Restricted namespaces run them too, except those a restricted check overrides.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PodSpec, SELinuxOptions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::registry::{Violation, containers, forbid, in_user_namespace, security_context};
use super::text::{containers_phrase, go_quote, join_quote, pluralize};

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_app_armor_type(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

/// AppArmor: fields may only select `RuntimeDefault` or `Localhost`; the deprecated
/// annotations only `runtime/default`, `localhost/*` or nothing.
pub(super) fn app_armor_profile_1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    let pod_profile = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.app_armor_profile.as_ref());
    if let Some(p) = pod_profile.filter(|p| !allowed_app_armor_type(&p.type_)) {
        bad_setters.push("pod".to_string());
        bad_values.insert(p.type_.clone());
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        let profile = security_context(&c).and_then(|sc| sc.app_armor_profile.as_ref());
        if let Some(p) = profile.filter(|p| !allowed_app_armor_type(&p.type_)) {
            bad_containers.push(c.name.clone());
            bad_values.insert(p.type_.clone());
        }
    }
    if !bad_containers.is_empty() {
        bad_setters.push(containers_phrase(&bad_containers));
    }
    let mut forbidden_annotations: Vec<String> = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(k, v)| {
            k.starts_with(APPARMOR_ANNOTATION_PREFIX)
                && !(v.is_empty() || v.as_str() == "runtime/default" || v.starts_with("localhost/"))
        })
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    forbidden_annotations.sort();
    let mut bad_value_list: Vec<String> = bad_values.into_iter().collect();
    if !forbidden_annotations.is_empty() {
        let count = forbidden_annotations.len();
        bad_value_list.append(&mut forbidden_annotations);
        bad_setters.push(pluralize("annotation", "annotations", count).to_string());
    }
    if bad_setters.is_empty() {
        return None;
    }
    forbid(
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            bad_value_list.len(),
        ),
        format!(
            "{} must not set AppArmor profile type to {}",
            bad_setters.join(" and "),
            join_quote(&bad_value_list)
        ),
    )
}

/// The container runtime's default capabilities, the only ones baseline lets a container add.
const DEFAULT_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

pub(super) fn capabilities_baseline_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_containers = Vec::new();
    let mut non_default = BTreeSet::new();
    for c in containers(spec) {
        let added = security_context(&c).and_then(|sc| sc.capabilities.as_ref()?.add.as_ref());
        let mut valid = true;
        for cap in added.into_iter().flatten() {
            if !DEFAULT_CAPABILITIES.contains(&cap.as_str()) {
                valid = false;
                non_default.insert(cap.clone());
            }
        }
        if !valid {
            bad_containers.push(c.name.clone());
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let non_default: Vec<String> = non_default.into_iter().collect();
    forbid(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad_containers),
            join_quote(&non_default)
        ),
    )
}
/// Only the default, masked /proc; also the restricted `procMount_restricted` check.
pub(super) fn proc_mount_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_containers = Vec::new();
    let mut types = BTreeSet::new();
    for c in containers(spec) {
        if let Some(t) = security_context(&c).and_then(|sc| sc.proc_mount.as_ref())
            && t != "Default"
        {
            bad_containers.push(c.name.clone());
            types.insert(t.clone());
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let types: Vec<String> = types.into_iter().collect();
    forbid(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad_containers),
            join_quote(&types)
        ),
    )
}

pub(super) fn proc_mount_baseline_1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if in_user_namespace(spec) {
        return None;
    }
    proc_mount_1_0(meta, spec)
}

const SELINUX_TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const SELINUX_TYPES_1_31: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

pub(super) fn se_linux_options_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    se_linux_options(spec, SELINUX_TYPES_1_0)
}

pub(super) fn se_linux_options_1_31(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    se_linux_options(spec, SELINUX_TYPES_1_31)
}

/// What was wrong across the pod and all its containers.
#[derive(Default)]
struct SeLinuxFindings {
    bad_types: BTreeSet<String>,
    set_user: bool,
    set_role: bool,
}

impl SeLinuxFindings {
    /// Records what is wrong with `opts`; true when nothing is.
    fn valid(&mut self, opts: &SELinuxOptions, allowed_types: &[&str]) -> bool {
        let mut valid = true;
        let t = opts.type_.as_deref().unwrap_or_default();
        if !allowed_types.contains(&t) {
            valid = false;
            self.bad_types.insert(t.to_string());
        }
        if opts.user.as_deref().is_some_and(|u| !u.is_empty()) {
            valid = false;
            self.set_user = true;
        }
        if opts.role.as_deref().is_some_and(|r| !r.is_empty()) {
            valid = false;
            self.set_role = true;
        }
        valid
    }
}

fn se_linux_options(spec: &PodSpec, allowed_types: &[&str]) -> Option<Violation> {
    let mut findings = SeLinuxFindings::default();
    let mut bad_setters = Vec::new();
    let pod_opts = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.se_linux_options.as_ref());
    if let Some(opts) = pod_opts
        && !findings.valid(opts, allowed_types)
    {
        bad_setters.push("pod".to_string());
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(opts) = security_context(&c).and_then(|sc| sc.se_linux_options.as_ref())
            && !findings.valid(opts, allowed_types)
        {
            bad_containers.push(c.name.clone());
        }
    }
    if !bad_containers.is_empty() {
        bad_setters.push(containers_phrase(&bad_containers));
    }
    if bad_setters.is_empty() {
        return None;
    }
    let mut bad_data = Vec::new();
    if !findings.bad_types.is_empty() {
        let types: Vec<String> = findings.bad_types.into_iter().collect();
        bad_data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if findings.set_user {
        bad_data.push("user may not be set".to_string());
    }
    if findings.set_role {
        bad_data.push("role may not be set".to_string());
    }
    forbid(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            bad_setters.join(" and "),
            bad_data.join("; ")
        ),
    )
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn valid_seccomp_annotation(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

pub(super) fn valid_seccomp_type(t: &str) -> bool {
    t == "Localhost" || t == "RuntimeDefault"
}

/// Before v1.19 seccomp was set by the alpha annotations only.
pub(super) fn seccomp_profile_baseline_1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let annotations = meta.annotations.as_ref();
    let mut forbidden = BTreeSet::new();
    let mut check = |key: &str| {
        if let Some(v) = annotations.and_then(|a| a.get(key))
            && !valid_seccomp_annotation(v)
        {
            forbidden.insert(format!("{key}={}", go_quote(v)));
        }
    };
    check(SECCOMP_POD_ANNOTATION);
    for c in containers(spec) {
        check(&format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name));
    }
    if forbidden.is_empty() {
        return None;
    }
    let forbidden: Vec<String> = forbidden.into_iter().collect();
    forbid(
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.join(", ")
        ),
    )
}

pub(super) fn seccomp_profile_baseline_1_19(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    let pod_profile = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.seccomp_profile.as_ref());
    if let Some(p) = pod_profile.filter(|p| !valid_seccomp_type(&p.type_)) {
        bad_setters.push("pod".to_string());
        bad_values.insert(p.type_.clone());
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        let profile = security_context(&c).and_then(|sc| sc.seccomp_profile.as_ref());
        if let Some(p) = profile.filter(|p| !valid_seccomp_type(&p.type_)) {
            bad_containers.push(c.name.clone());
            bad_values.insert(p.type_.clone());
        }
    }
    if !bad_containers.is_empty() {
        bad_setters.push(containers_phrase(&bad_containers));
    }
    if bad_setters.is_empty() {
        return None;
    }
    let bad_values: Vec<String> = bad_values.into_iter().collect();
    forbid(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            bad_setters.join(" and "),
            join_quote(&bad_values)
        ),
    )
}

/// Namespaced sysctls isolated from other pods; each list extends the previous one.
const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_ADDED_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_ADDED_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_ADDED_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

pub(super) fn sysctls_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    sysctls(spec, &[SYSCTLS_1_0])
}

pub(super) fn sysctls_1_27(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    sysctls(spec, &[SYSCTLS_1_0, SYSCTLS_ADDED_1_27])
}

pub(super) fn sysctls_1_29(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    sysctls(spec, &[SYSCTLS_1_0, SYSCTLS_ADDED_1_27, SYSCTLS_ADDED_1_29])
}

pub(super) fn sysctls_1_32(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let allowed = [
        SYSCTLS_1_0,
        SYSCTLS_ADDED_1_27,
        SYSCTLS_ADDED_1_29,
        SYSCTLS_ADDED_1_32,
    ];
    sysctls(spec, &allowed)
}

fn sysctls(spec: &PodSpec, allowed: &[&[&str]]) -> Option<Violation> {
    let sysctls = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.sysctls.as_ref());
    // In the pod's order, repeats included, as upstream.
    let forbidden: Vec<&str> = sysctls
        .into_iter()
        .flatten()
        .map(|s| s.name.as_str())
        .filter(|name| !allowed.iter().any(|list| list.contains(name)))
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    forbid("forbidden sysctls", forbidden.join(", "))
}

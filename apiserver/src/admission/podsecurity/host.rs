//! The baseline checks on what a pod shares with its node (namespaces, paths, ports, probe
//! hosts, privileged and Windows host-process containers), as upstream's `policy/check_*.go`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{LifecycleHandler, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::registry::{Violation, containers, containers_where, forbid, security_context};
use super::text::{containers_phrase, join_quote, pluralize};

pub(super) fn host_namespaces_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let flags = [
        (spec.host_network, "hostNetwork=true"),
        (spec.host_pid, "hostPID=true"),
        (spec.host_ipc, "hostIPC=true"),
    ];
    let set: Vec<&str> = flags
        .iter()
        .filter(|(v, _)| *v == Some(true))
        .map(|(_, name)| *name)
        .collect();
    if set.is_empty() {
        return None;
    }
    forbid("host namespaces", set.join(", "))
}

pub(super) fn host_path_volumes_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let volumes: Vec<&str> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.host_path.is_some())
        .map(|v| v.name.as_str())
        .collect();
    if volumes.is_empty() {
        return None;
    }
    forbid(
        "hostPath volumes",
        format!(
            "{} {}",
            pluralize("volume", "volumes", volumes.len()),
            join_quote(&volumes)
        ),
    )
}

pub(super) fn host_ports_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_containers = Vec::new();
    // Sorted as strings, not numbers, as upstream's sets.String ("10" before "9").
    let mut ports = BTreeSet::new();
    for c in containers(spec) {
        let mut valid = true;
        for port in c.ports.iter().flatten() {
            if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
                valid = false;
                ports.insert(host_port.to_string());
            }
        }
        if !valid {
            bad_containers.push(c.name.clone());
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    forbid(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
    )
}

fn probe_hosts(probe: Option<&Probe>) -> Vec<String> {
    let Some(p) = probe else { return Vec::new() };
    let http = p.http_get.as_ref().and_then(|h| h.host.clone());
    let tcp = p.tcp_socket.as_ref().and_then(|t| t.host.clone());
    [http, tcp]
        .into_iter()
        .flatten()
        .filter(|h| !h.is_empty())
        .collect()
}

fn handler_hosts(handler: Option<&LifecycleHandler>) -> Vec<String> {
    let Some(h) = handler else { return Vec::new() };
    let http = h.http_get.as_ref().and_then(|g| g.host.clone());
    let tcp = h.tcp_socket.as_ref().and_then(|t| t.host.clone());
    [http, tcp]
        .into_iter()
        .flatten()
        .filter(|h| !h.is_empty())
        .collect()
}

/// Probes and lifecycle handlers must not name a host: the kubelet would connect to it.
pub(super) fn host_probes_and_host_lifecycle_1_34(
    _: &ObjectMeta,
    spec: &PodSpec,
) -> Option<Violation> {
    // Both are sets in upstream, so the container names come out sorted here, unlike in
    // the other checks.
    let mut bad_containers = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for c in containers(spec) {
        let lifecycle = c.lifecycle.as_ref();
        let found = [
            probe_hosts(c.liveness_probe.as_ref()),
            probe_hosts(c.readiness_probe.as_ref()),
            probe_hosts(c.startup_probe.as_ref()),
            handler_hosts(lifecycle.and_then(|l| l.post_start.as_ref())),
            handler_hosts(lifecycle.and_then(|l| l.pre_stop.as_ref())),
        ];
        for host in found.into_iter().flatten() {
            bad_containers.insert(c.name.clone());
            hosts.insert(host);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let bad_containers: Vec<String> = bad_containers.into_iter().collect();
    let hosts: Vec<String> = hosts.into_iter().collect();
    forbid(
        "probe or lifecycle host",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
    )
}

pub(super) fn privileged_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let bad = containers_where(spec, |c| {
        security_context(c).and_then(|sc| sc.privileged) == Some(true)
    });
    if bad.is_empty() {
        return None;
    }
    forbid(
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&bad)
        ),
    )
}
pub(super) fn windows_host_process_1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let bad_containers = containers_where(spec, |c| {
        security_context(c)
            .and_then(|sc| sc.windows_options.as_ref()?.host_process)
            .unwrap_or(false)
    });
    let pod_forbidden = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.windows_options.as_ref()?.host_process)
        .unwrap_or(false);
    let mut setters = Vec::new();
    if pod_forbidden {
        setters.push("pod".to_string());
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return None;
    }
    forbid(
        "hostProcess",
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
    )
}

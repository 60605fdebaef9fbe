//! Validation of probes and lifecycle hooks (upstream `validateProbe`, `validateHandler`,
//! `validateLifecycle` and the liveness/readiness/startup specifics).

use k8s_openapi::api::core::v1::{Container, HTTPGetAction, LifecycleHandler, Probe};

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};

pub fn probes_and_lifecycle(
    c: &Container,
    grace: Option<i64>,
    at: &str,
    out: &mut Vec<FieldError>,
) {
    if let Some(lifecycle) = &c.lifecycle {
        for (name, handler) in [
            ("postStart", &lifecycle.post_start),
            ("preStop", &lifecycle.pre_stop),
        ] {
            if let Some(h) = handler {
                lifecycle_handler(h, grace, &format!("{at}.lifecycle.{name}"), out);
            }
        }
    }
    for (name, probe) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        let Some(p) = probe else { continue };
        let path = format!("{at}.{name}");
        validate_probe(p, &path, out);
        let success = p.success_threshold.unwrap_or(0);
        if name != "readinessProbe" && success != 1 {
            let field = format!("{path}.successThreshold");
            out.push(FieldError::invalid(field, success.to_string(), "must be 1"));
        }
        if let Some(grace) = p
            .termination_grace_period_seconds
            .filter(|_| name == "readinessProbe")
        {
            out.push(FieldError::invalid(
                format!("{path}.terminationGracePeriodSeconds"),
                grace.to_string(),
                "must not be set for readinessProbes",
            ));
        }
    }
}

/// `validateProbe` (the handler and the counters; the kind-specific rules are the caller's).
fn validate_probe(p: &Probe, path: &str, out: &mut Vec<FieldError>) {
    let present = [
        ("exec", p.exec.is_some()),
        ("httpGet", p.http_get.is_some()),
        ("tcpSocket", p.tcp_socket.is_some()),
        ("grpc", p.grpc.is_some()),
    ];
    // Upstream validates the first handler and forbids the others.
    match one_handler(&present, path, out) {
        Some("exec") => exec_command(p.exec.as_ref().and_then(|e| e.command.as_ref()), path, out),
        Some("httpGet") => {
            if let Some(http) = &p.http_get {
                http_get(http, &format!("{path}.httpGet"), out);
            }
        }
        Some("tcpSocket") => {
            if let Some(tcp) = &p.tcp_socket {
                checks::port_num_or_name(&tcp.port, &format!("{path}.tcpSocket.port"), out);
            }
        }
        Some(_) => {
            if let Some(grpc) = &p.grpc
                && let Some(e) = checks::port_num(i64::from(grpc.port))
            {
                let field = format!("{path}.grpc.port");
                out.push(FieldError::invalid(field, grpc.port.to_string(), e));
            }
        }
        None => {}
    }
    let counters = [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ];
    for (field, value) in counters {
        checks::nonnegative(
            i64::from(value.unwrap_or(0)),
            format!("{path}.{field}"),
            out,
        );
    }
    if let Some(grace) = p.termination_grace_period_seconds.filter(|g| *g <= 0) {
        let field = format!("{path}.terminationGracePeriodSeconds");
        out.push(FieldError::invalid(
            field,
            grace.to_string(),
            "must be greater than 0",
        ));
    }
}

fn exec_command(command: Option<&Vec<String>>, path: &str, out: &mut Vec<FieldError>) {
    if command.is_none_or(Vec::is_empty) {
        out.push(FieldError::required(format!("{path}.exec.command"), ""));
    }
}

/// `validateHandler` for a lifecycle hook (exec, httpGet, tcpSocket or sleep).
fn lifecycle_handler(
    h: &LifecycleHandler,
    grace: Option<i64>,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let present = [
        ("exec", h.exec.is_some()),
        ("httpGet", h.http_get.is_some()),
        ("tcpSocket", h.tcp_socket.is_some()),
        ("sleep", h.sleep.is_some()),
    ];
    match one_handler(&present, path, out) {
        Some("exec") => exec_command(h.exec.as_ref().and_then(|e| e.command.as_ref()), path, out),
        Some("httpGet") => {
            if let Some(http) = &h.http_get {
                http_get(http, &format!("{path}.httpGet"), out);
            }
        }
        Some("tcpSocket") => {
            if let Some(tcp) = &h.tcp_socket {
                checks::port_num_or_name(&tcp.port, &format!("{path}.tcpSocket.port"), out);
            }
        }
        Some(_) => {
            // PodLifecycleSleepActionAllowZero is on in v1.35: zero seconds is fine.
            if let (Some(sleep), Some(grace)) = (&h.sleep, grace)
                && (sleep.seconds < 0 || sleep.seconds > grace)
            {
                let why = format!(
                    "must be non-negative and less than terminationGracePeriodSeconds ({grace})"
                );
                let field = format!("{path}.sleep");
                out.push(FieldError::invalid(field, sleep.seconds.to_string(), why));
            }
        }
        None => {}
    }
}

/// Exactly one handler: returns the first, forbidding the rest.
fn one_handler<'a>(
    present: &[(&'a str, bool)],
    path: &str,
    out: &mut Vec<FieldError>,
) -> Option<&'a str> {
    let mut set = present.iter().filter(|(_, on)| *on).map(|(name, _)| *name);
    let first = set.next();
    for name in set {
        out.push(FieldError::forbidden(
            format!("{path}.{name}"),
            "may not specify more than 1 handler type",
        ));
    }
    if first.is_none() {
        out.push(FieldError::required(path, "must specify a handler type"));
    }
    first
}

fn http_get(http: &HTTPGetAction, path: &str, out: &mut Vec<FieldError>) {
    if http.path.as_deref().is_none_or(str::is_empty) {
        out.push(FieldError::required(format!("{path}.path"), ""));
    }
    checks::port_num_or_name(&http.port, &format!("{path}.port"), out);
    let scheme = http.scheme.as_deref().unwrap_or_default();
    if !matches!(scheme, "HTTP" | "HTTPS") {
        out.push(FieldError::not_supported(
            format!("{path}.scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for header in http.http_headers.iter().flatten() {
        let name = header.name.as_str();
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
            out.push(FieldError::invalid(
                format!("{path}.httpHeaders"),
                quote(name),
                "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. \
                 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::strategy::pod_validation::testing::{container_errors, table};
    use serde_json::json;

    #[test]
    fn probe_rules() {
        table(
            container_errors,
            vec![
                (
                    json!({"startupProbe": {"grpc": {"port": 9090}}, "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}),
                    vec![],
                ),
                (
                    json!({"livenessProbe": {"successThreshold": 2, "exec": {"command": ["x"]}, "tcpSocket": {"port": 1}}}),
                    vec![
                        "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
                        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                    ],
                ),
                (
                    json!({"readinessProbe": {}}),
                    vec![
                        "spec.containers[0].readinessProbe: Required value: must specify a handler type",
                    ],
                ),
                (
                    json!({"readinessProbe": {"exec": {}, "terminationGracePeriodSeconds": 5, "initialDelaySeconds": -1}}),
                    vec![
                        "spec.containers[0].readinessProbe.exec.command: Required value",
                        "spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
                        "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",
                    ],
                ),
                (
                    json!({"livenessProbe": {"httpGet": {"port": "web-port-too-long", "scheme": "FTP"}}}),
                    vec![
                        "spec.containers[0].livenessProbe.httpGet.port: Invalid value: \"web-port-too-long\": must be no more than 15 characters",
                        "spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"",
                    ],
                ),
                (
                    json!({"lifecycle": {"preStop": {"sleep": {"seconds": 60}}}}),
                    vec![
                        "spec.containers[0].lifecycle.preStop.sleep: Invalid value: 60: must be non-negative and less than terminationGracePeriodSeconds (30)",
                    ],
                ),
            ],
        );
    }
}

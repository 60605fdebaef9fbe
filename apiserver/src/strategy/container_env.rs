//! Validation of a container's environment (upstream `ValidateEnv`, `validateEnvVarValueFrom`,
//! `validateObjectFieldSelector` and `ValidateEnvFrom` in
//! `pkg/apis/core/validation/validation.go`). Downward-API field paths are shared with
//! volume files.

use k8s_openapi::api::core::v1::{Container, EnvVar, ObjectFieldSelector};

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::validation;

/// `ValidateEnv` with upstream's relaxed names (the RelaxedEnvironmentVariableValidation
/// feature is on in v1.35).
pub fn env_var(env: &EnvVar, at: &str, out: &mut Vec<FieldError>) {
    if env.name.is_empty() {
        out.push(FieldError::required(format!("{at}.name"), ""));
    } else if let Some(e) = relaxed_env_name(&env.name) {
        out.push(FieldError::invalid(
            format!("{at}.name"),
            quote(&env.name),
            e,
        ));
    }
    let Some(from) = &env.value_from else {
        return;
    };
    let path = format!("{at}.valueFrom");
    let mut sources = 0;
    if let Some(field_ref) = &from.field_ref {
        sources += 1;
        object_field_selector(field_ref, ENV_FIELD_PATHS, &format!("{path}.fieldRef"), out);
    }
    if let Some(resource_ref) = &from.resource_field_ref {
        sources += 1;
        let at = format!("{path}.resourceFieldRef");
        let resource = resource_ref.resource.as_str();
        let hugepages = ["limits.hugepages-", "requests.hugepages-"];
        if resource.is_empty() {
            out.push(FieldError::required(format!("{at}.resource"), ""));
        } else if !RESOURCE_FIELD_PATHS.contains(&resource)
            && !hugepages.iter().any(|p| resource.starts_with(p))
        {
            out.push(FieldError::not_supported(
                format!("{at}.resource"),
                resource,
                RESOURCE_FIELD_PATHS,
            ));
        }
    }
    let key_selectors = [
        (
            "configMapKeyRef",
            from.config_map_key_ref.as_ref().map(|s| (&s.name, &s.key)),
        ),
        (
            "secretKeyRef",
            from.secret_key_ref.as_ref().map(|s| (&s.name, &s.key)),
        ),
    ];
    for (field, selector) in key_selectors {
        let Some((name, key)) = selector else {
            continue;
        };
        sources += 1;
        let at = format!("{path}.{field}");
        for e in validation::dns1123_subdomain(name) {
            out.push(FieldError::invalid(format!("{at}.name"), quote(name), e));
        }
        if key.is_empty() {
            out.push(FieldError::required(format!("{at}.key"), ""));
        } else {
            for e in checks::config_map_key(key) {
                out.push(FieldError::invalid(format!("{at}.key"), quote(key), e));
            }
        }
    }
    // File key references (the EnvFiles feature) count as a source.
    sources += usize::from(from.file_key_ref.is_some());
    let why = if sources == 0 {
        "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
    } else if env.value.as_deref().is_some_and(|v| !v.is_empty()) {
        "may not be specified when `value` is not empty"
    } else if sources > 1 {
        "may not have more than one field specified at a time"
    } else {
        return;
    };
    out.push(FieldError::invalid(path, "\"\"", why));
}

fn relaxed_env_name(name: &str) -> Option<&'static str> {
    let printable = |c: char| c.is_ascii() && !c.is_ascii_control() && c != '=';
    (!name.chars().all(printable))
        .then_some("a valid environment variable name must consist only of printable ASCII characters other than '='")
}

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Fields a downward-API volume file may read.
pub const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

pub const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `validateObjectFieldSelector` with `ConvertDownwardAPIFieldLabel` for v1.
pub fn object_field_selector(
    selector: &ObjectFieldSelector,
    allowed: &[&str],
    at: &str,
    out: &mut Vec<FieldError>,
) {
    let version = selector.api_version.as_deref().unwrap_or_default();
    let field_path = selector.field_path.as_str();
    if version.is_empty() {
        out.push(FieldError::required(format!("{at}.apiVersion"), ""));
        return;
    }
    if field_path.is_empty() {
        out.push(FieldError::required(format!("{at}.fieldPath"), ""));
        return;
    }
    let subscripted = field_path
        .strip_suffix("']")
        .and_then(|s| s.split_once("['"))
        .filter(|(path, _)| !path.is_empty());
    let convert_error = if version != "v1" {
        Some(format!("unsupported pod version: {version}"))
    } else if let Some((path, _)) = subscripted {
        (!matches!(path, "metadata.annotations" | "metadata.labels"))
            .then(|| format!("field label does not support subscript: {field_path}"))
    } else {
        (!DOWNWARD_LABELS.contains(&field_path) && field_path != "spec.host")
            .then(|| format!("field label not supported: {field_path}"))
    };
    if let Some(e) = convert_error {
        let why = format!("error converting fieldPath: {e}");
        out.push(FieldError::invalid(
            format!("{at}.fieldPath"),
            quote(field_path),
            why,
        ));
        return;
    }
    match subscripted {
        Some(("metadata.annotations", key)) => {
            checks::qualified_name_field(&key.to_lowercase(), at, out)
        }
        Some((_, key)) => checks::qualified_name_field(key, at, out),
        None => {
            let path = if field_path == "spec.host" {
                "spec.nodeName"
            } else {
                field_path
            };
            if !allowed.contains(&path) {
                out.push(FieldError::not_supported(
                    format!("{at}.fieldPath"),
                    path,
                    allowed,
                ));
            }
        }
    }
}

const DOWNWARD_LABELS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Upstream's `maskTrailingDash` for names validated as prefixes: it drops two characters and
/// appends "a" (sic).
fn mask_trailing_dash(name: &str) -> String {
    match name.strip_suffix('-') {
        Some(_) if name.len() > 1 => {
            let cut = name.len() - 2;
            let head = name.get(..cut).unwrap_or_default();
            format!("{head}a")
        }
        _ => name.to_owned(),
    }
}

/// `ValidateEnvFrom`.
pub fn env_from(c: &Container, path: &str, out: &mut Vec<FieldError>) {
    for (i, from) in c.env_from.iter().flatten().enumerate() {
        let at = format!("{path}[{i}]");
        if let Some(prefix) = from.prefix.as_deref().filter(|p| !p.is_empty())
            && let Some(e) = relaxed_env_name(prefix)
        {
            out.push(FieldError::invalid(
                format!("{at}.prefix"),
                quote(prefix),
                e,
            ));
        }
        let refs = [
            (
                "configMapRef",
                from.config_map_ref.as_ref().map(|r| &r.name),
            ),
            ("secretRef", from.secret_ref.as_ref().map(|r| &r.name)),
        ];
        let mut sources = 0;
        for (field, name) in refs {
            let Some(name) = name else { continue };
            sources += 1;
            if name.is_empty() {
                out.push(FieldError::required(format!("{at}.{field}.name"), ""));
            } else {
                for e in validation::dns1123_subdomain(&mask_trailing_dash(name)) {
                    out.push(FieldError::invalid(
                        format!("{at}.{field}.name"),
                        quote(name),
                        e,
                    ));
                }
            }
        }
        let why = match sources {
            0 => "must specify one of: `configMapRef` or `secretRef`",
            1 => continue,
            _ => "may not have more than one field specified at a time",
        };
        out.push(FieldError::invalid(path, "\"\"", why));
    }
}

#[cfg(test)]
mod tests {
    use crate::strategy::pod_validation::testing::{container_errors, table};
    use serde_json::json;

    #[test]
    fn env_rules() {
        table(
            container_errors,
            vec![
                (
                    json!({"env": [{"name": "my.var-1", "value": "x"}, {"name": "1X"}]}),
                    vec![],
                ),
                (
                    json!({"env": [{"name": "A=B"}, {"name": "X", "valueFrom": {}}]}),
                    vec![
                        "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                        "spec.containers[0].env[1].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                    ],
                ),
                (
                    json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.restartPolicy"}}}]}),
                    vec![
                        "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.restartPolicy\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
                    ],
                ),
                (
                    json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}}]}),
                    vec![
                        "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.nope\": error converting fieldPath: field label not supported: spec.nope",
                    ],
                ),
                (
                    json!({"env": [{"name": "X", "value": "v", "valueFrom": {"secretKeyRef": {"name": "s", "key": ""}}}]}),
                    vec![
                        "spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value",
                        "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
                    ],
                ),
                (
                    json!({"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]}),
                    vec![
                        "spec.containers[0].env[0].valueFrom.resourceFieldRef.resource: Unsupported value: \"limits.gpu\": supported values: \"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", \"requests.ephemeral-storage\", \"requests.memory\"",
                    ],
                ),
                (
                    json!({"envFrom": [{"prefix": "P_"}, {"configMapRef": {"name": "cm-"}}]}),
                    vec![
                        "spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
                    ],
                ),
            ],
        );
    }
}

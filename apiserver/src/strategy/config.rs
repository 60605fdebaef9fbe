//! ConfigMaps and Secrets (upstream `pkg/registry/core/{configmap,secret}/strategy.go` and
//! `ValidateConfigMap`, `ValidateSecret` and their updates).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::error::FieldError;
use crate::strategy::Strategy;
use crate::strategy::checks::{self, quote};

pub struct ConfigMapStrategy;
pub struct SecretStrategy;

/// Upstream's `MaxSecretSize`, the bound of a ConfigMap's data too (etcd's request limit
/// leaves room for the rest of the object).
const MAX_SIZE: usize = 1024 * 1024;
const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

impl Strategy for ConfigMapStrategy {
    type Object = ConfigMap;

    fn validate(&self, cm: &ConfigMap) -> Vec<FieldError> {
        let mut out = Vec::new();
        let empty_binary = BTreeMap::new();
        let binary = cm.binary_data.as_ref().unwrap_or(&empty_binary);
        let mut size = 0;
        for (key, value) in cm.data.iter().flatten() {
            let field = format!("data[{key}]");
            key_errors(key, &field, &mut out);
            if binary.contains_key(key) {
                let why = "duplicate of key present in binaryData";
                out.push(FieldError::invalid(&field, quote(key), why));
            }
            size += value.len();
        }
        for (key, value) in binary {
            key_errors(key, &format!("binaryData[{key}]"), &mut out);
            size += value.0.len();
        }
        if size > MAX_SIZE {
            // Upstream's empty path: the error is about the whole object.
            out.push(FieldError::too_long("", MAX_SIZE));
        }
        out
    }

    fn validate_update(&self, new: &ConfigMap, old: &ConfigMap) -> Vec<FieldError> {
        let mut out = Vec::new();
        if old.immutable == Some(true) {
            if new.immutable != Some(true) {
                out.push(FieldError::forbidden("immutable", IMMUTABLE_SET));
            }
            if new.data != old.data {
                out.push(FieldError::forbidden("data", IMMUTABLE_SET));
            }
            if new.binary_data != old.binary_data {
                out.push(FieldError::forbidden("binaryData", IMMUTABLE_SET));
            }
        }
        out.extend(self.validate(new));
        out
    }
}

fn key_errors(key: &str, field: &str, out: &mut Vec<FieldError>) {
    for e in checks::config_map_key(key) {
        out.push(FieldError::invalid(field, quote(key), e));
    }
}

impl Strategy for SecretStrategy {
    type Object = Secret;

    fn prepare_for_create(&self, secret: &mut Secret) {
        secret_defaults(secret);
    }

    fn prepare_for_update(&self, new: &mut Secret, _old: &Secret) {
        secret_defaults(new);
    }

    fn validate(&self, secret: &Secret) -> Vec<FieldError> {
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        let data = secret.data.as_ref().unwrap_or(&empty);
        let mut size = 0;
        for (key, value) in data {
            key_errors(key, &format!("data[{key}]"), &mut out);
            size += value.0.len();
        }
        if size > MAX_SIZE {
            out.push(FieldError::too_long("data", MAX_SIZE));
        }
        let required = |out: &mut Vec<FieldError>, key: &str| {
            out.push(FieldError::required(format!("data[{key}]"), ""));
        };
        match secret.type_.as_deref().unwrap_or_default() {
            "kubernetes.io/service-account-token" => {
                let key = "kubernetes.io/service-account.name";
                let annotations = secret.metadata.annotations.as_ref();
                if annotations
                    .and_then(|a| a.get(key))
                    .is_none_or(String::is_empty)
                {
                    out.push(FieldError::required(
                        format!("metadata.annotations[{key}]"),
                        "",
                    ));
                }
            }
            "kubernetes.io/dockercfg" => docker_config(data, ".dockercfg", &mut out),
            "kubernetes.io/dockerconfigjson" => docker_config(data, ".dockerconfigjson", &mut out),
            // Either may be empty, but one must be there.
            "kubernetes.io/basic-auth"
                if !data.contains_key("username") && !data.contains_key("password") =>
            {
                required(&mut out, "username");
                required(&mut out, "password");
            }
            "kubernetes.io/ssh-auth"
                if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) =>
            {
                required(&mut out, "ssh-privatekey");
            }
            "kubernetes.io/tls" => {
                for key in ["tls.crt", "tls.key"] {
                    if !data.contains_key(key) {
                        required(&mut out, key);
                    }
                }
            }
            _ => {}
        }
        out
    }

    fn validate_update(&self, new: &Secret, old: &Secret) -> Vec<FieldError> {
        let mut out = Vec::new();
        checks::immutable(&new.type_, &old.type_, "type", &mut out);
        if old.immutable == Some(true) {
            if new.immutable != Some(true) {
                out.push(FieldError::forbidden("immutable", IMMUTABLE_SET));
            }
            if new.data != old.data {
                out.push(FieldError::forbidden("data", IMMUTABLE_SET));
            }
        }
        out.extend(self.validate(new));
        out
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["type"]
    }

    fn field(&self, secret: &Secret, name: &str) -> Option<String> {
        (name == "type").then(|| secret.type_.clone().unwrap_or_default())
    }
}

/// `SetDefaults_Secret` and the v1 conversion: `stringData` is written into `data` (its
/// keys win) and is never stored.
fn secret_defaults(secret: &mut Secret) {
    secret.type_.get_or_insert_with(|| "Opaque".to_owned());
    if let Some(strings) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for (key, value) in strings {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
}

/// A docker config key must be present and hold a JSON object.
fn docker_config(data: &BTreeMap<String, ByteString>, key: &str, out: &mut Vec<FieldError>) {
    let field = format!("data[{key}]");
    let Some(value) = data.get(key) else {
        out.push(FieldError::required(field, ""));
        return;
    };
    if let Err(why) = json_object(&value.0) {
        out.push(FieldError::invalid(
            field,
            quote("<secret contents redacted>"),
            why,
        ));
    }
}

/// Whether bytes decode as a JSON object, with Go's `json.Unmarshal` wording on failure.
fn json_object(bytes: &[u8]) -> Result<(), String> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(other) => {
            let kind = match other {
                serde_json::Value::Array(_) => "array",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::Bool(_) => "bool",
                _ => return Ok(()),
            };
            Err(format!(
                "json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
            ))
        }
        Err(e) if e.is_eof() => Err("unexpected end of JSON input".to_owned()),
        // Go names the first unexpected character; serde reports a position instead.
        Err(_) => {
            let offending = bytes
                .iter()
                .map(|b| char::from(*b))
                .find(|c| !c.is_whitespace());
            let offending = offending.unwrap_or(' ');
            Err(format!(
                "invalid character '{offending}' looking for beginning of value"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn config_map(body: Value) -> ConfigMap {
        let mut obj = json!({"metadata": {"name": "c"}});
        if let (Some(base), Value::Object(extra)) = (obj.as_object_mut(), body) {
            base.extend(extra);
        }
        serde_json::from_value(obj).expect("configmap")
    }

    fn secret(body: Value) -> Secret {
        let mut obj = json!({"metadata": {"name": "s"}});
        if let (Some(base), Value::Object(extra)) = (obj.as_object_mut(), body) {
            base.extend(extra);
        }
        let mut s: Secret = serde_json::from_value(obj).expect("secret");
        SecretStrategy.prepare_for_create(&mut s);
        s
    }

    fn strings(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn config_maps() {
        assert!(
            ConfigMapStrategy
                .validate(&config_map(json!({"data": {"a.conf": "x"}})))
                .is_empty()
        );
        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"data": {"a b": "x"}}),
                vec![
                    "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                ],
            ),
            (
                json!({"data": {"k": "x"}, "binaryData": {"k": "eA=="}}),
                vec!["data[k]: Invalid value: \"k\": duplicate of key present in binaryData"],
            ),
            (
                json!({"data": {"big": "x".repeat(MAX_SIZE + 1)}}),
                vec![": Too long: may not be more than 1048576 bytes"],
            ),
        ];
        for (body, want) in table {
            assert_eq!(
                strings(ConfigMapStrategy.validate(&config_map(body.clone()))),
                want,
                "{body}"
            );
        }
        let old = config_map(json!({"data": {"k": "v"}, "immutable": true}));
        let new = config_map(json!({"data": {"k": "w"}}));
        assert_eq!(
            strings(ConfigMapStrategy.validate_update(&new, &old)),
            vec![
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
    }

    #[test]
    fn secrets() {
        let s = secret(json!({"stringData": {"password": "hunter2"}, "data": {"user": "YWRt"}}));
        assert_eq!(s.type_.as_deref(), Some("Opaque"));
        assert!(s.string_data.is_none());
        let data = s.data.as_ref().expect("data");
        assert_eq!(
            data.get("password").map(|b| b.0.as_slice()),
            Some(&b"hunter2"[..])
        );
        assert!(SecretStrategy.validate(&s).is_empty());
        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": ""}}),
                vec!["data[tls.key]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/basic-auth"}),
                vec![
                    "data[username]: Required value",
                    "data[password]: Required value",
                ],
            ),
            (
                json!({"type": "kubernetes.io/ssh-auth"}),
                vec!["data[ssh-privatekey]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/service-account-token"}),
                vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "{"}}),
                vec![
                    "data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": unexpected end of JSON input",
                ],
            ),
            (
                json!({"type": "kubernetes.io/dockercfg", "stringData": {".dockercfg": "[]"}}),
                vec![
                    "data[.dockercfg]: Invalid value: \"<secret contents redacted>\": json: cannot unmarshal array into Go value of type map[string]interface {}",
                ],
            ),
        ];
        for (body, want) in table {
            assert_eq!(
                strings(SecretStrategy.validate(&secret(body.clone()))),
                want,
                "{body}"
            );
        }
        let old = secret(json!({"type": "Opaque", "immutable": true, "data": {"a": "YQ=="}}));
        let new = secret(json!({"type": "kubernetes.io/tls", "immutable": true,
                                "data": {"tls.crt": "", "tls.key": ""}}));
        assert_eq!(
            strings(SecretStrategy.validate_update(&new, &old)),
            vec![
                "type: Invalid value: \"kubernetes.io/tls\": field is immutable",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
        assert_eq!(
            SecretStrategy.field(&old, "type").as_deref(),
            Some("Opaque")
        );
    }
}

//! Small validators the kind strategies share, each worded as its upstream original
//! (`k8s.io/apimachinery/pkg/util/validation`, `pkg/api/validation/generic.go`,
//! `pkg/apis/meta/v1/validation`). They append to an error list, as upstream's
//! `allErrs = append(allErrs, ...)` does.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use crate::error::{FieldError, FieldErrorKind};
use crate::strategy::validation;

/// Upstream's `IsNegativeErrorMsg`.
pub const NEGATIVE: &str = "must be greater than or equal to 0";
/// Upstream's `FieldImmutableErrorMsg`.
pub const IMMUTABLE: &str = "field is immutable";

/// A string value as upstream prints one (`%q`).
pub fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// A structured value as upstream prints one (`json.Marshal`).
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Upstream's `field.NotFound`.
pub fn not_found(field: impl Into<String>, value: &str) -> FieldError {
    FieldError {
        kind: FieldErrorKind::NotFound(quote(value)),
        field: field.into(),
        detail: String::new(),
    }
}

/// `field.Invalid` with `field.OmitValueType{}`: upstream prints "Invalid value: <detail>",
/// which is what a value-less invalid error with the detail as its value prints here.
pub fn invalid_omitted(field: impl Into<String>, detail: &str) -> FieldError {
    FieldError::invalid(field, detail, "")
}

/// Upstream's `field.TooMany`.
pub fn too_many(field: impl Into<String>, max: usize) -> FieldError {
    FieldError {
        kind: FieldErrorKind::TooMany(max),
        field: field.into(),
        detail: String::new(),
    }
}

/// Upstream's `ValidateNonnegativeField`.
pub fn nonnegative(value: i64, field: impl Into<String>, out: &mut Vec<FieldError>) {
    if value < 0 {
        out.push(FieldError::invalid(field, value.to_string(), NEGATIVE));
    }
}

/// Upstream's `ValidateImmutableField`: the new value is printed.
pub fn immutable<T: PartialEq + Serialize>(
    new: &T,
    old: &T,
    field: impl Into<String>,
    out: &mut Vec<FieldError>,
) {
    if new != old {
        out.push(FieldError::invalid(field, json(new), IMMUTABLE));
    }
}

/// Upstream's `IsDNS1123Label` with its special case for a valid subdomain.
pub fn dns_label(value: &str) -> Vec<String> {
    let mut errors = validation::dns1123_label(value);
    if !value.contains('.') || !validation::dns1123_subdomain(value).is_empty() {
        return errors;
    }
    errors.retain(|e| e.starts_with("must be no more"));
    errors.push("must not contain dots".to_owned());
    errors
}

/// `ValidateDNS1123Label` as a field check.
pub fn dns_label_field(value: &str, field: &str, out: &mut Vec<FieldError>) {
    for e in dns_label(value) {
        out.push(FieldError::invalid(field, quote(value), e));
    }
}

pub fn subdomain_field(value: &str, field: &str, out: &mut Vec<FieldError>) {
    for e in validation::dns1123_subdomain(value) {
        out.push(FieldError::invalid(field, quote(value), e));
    }
}

/// `ValidateQualifiedName` / `ValidateLabelName`.
pub fn qualified_name_field(value: &str, field: &str, out: &mut Vec<FieldError>) {
    for e in validation::qualified_name(value) {
        out.push(FieldError::invalid(field, quote(value), e));
    }
}

/// Upstream's `IsValidPortNum`.
pub fn port_num(port: i64) -> Option<&'static str> {
    (!(1..=65535).contains(&port)).then_some("must be between 1 and 65535, inclusive")
}

/// Upstream's `IsValidPortName`.
pub fn port_name(port: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if port.len() > 15 {
        errors.push("must be no more than 15 characters".to_owned());
    }
    let charset = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
    if port.is_empty() || !port.bytes().all(charset) {
        errors.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errors.push("must contain at least one letter (a-z)".to_owned());
    }
    if port.contains("--") {
        errors.push("must not contain consecutive hyphens".to_owned());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errors.push("must not begin or end with a hyphen".to_owned());
    }
    errors
}

/// Upstream's `ValidatePortNumOrName`.
pub fn port_num_or_name(port: &IntOrString, field: &str, out: &mut Vec<FieldError>) {
    match port {
        IntOrString::Int(n) => {
            if let Some(e) = port_num(i64::from(*n)) {
                out.push(FieldError::invalid(field, n.to_string(), e));
            }
        }
        IntOrString::String(s) => {
            for e in port_name(s) {
                out.push(FieldError::invalid(field, quote(s), e));
            }
        }
    }
}

/// Upstream's `IsConfigMapKey` (also the rule for secret keys and env-var key selectors).
pub fn config_map_key(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if key.len() > 253 {
        errors.push("must be no more than 253 characters".to_owned());
    }
    let ok = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_');
    if key.is_empty() || !key.bytes().all(ok) {
        errors.push(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. \
             'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is \
             '[-._a-zA-Z0-9]+')"
                .to_owned(),
        );
    }
    if key == "." {
        errors.push("must not be '.'".to_owned());
    } else if key == ".." {
        errors.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        errors.push("must not start with '..'".to_owned());
    }
    errors
}

/// Upstream's `IsValidPercent`.
pub fn is_percent(s: &str) -> bool {
    s.strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// Upstream's `IsValidIP` (strict, canonical form).
pub fn ip(value: &str, field: &str, out: &mut Vec<FieldError>) {
    for why in ip_problems(value) {
        out.push(FieldError::invalid(field, quote(value), why));
    }
}

/// What `IsValidIP` finds wrong with `value` (nothing for a canonical address).
pub fn ip_problems(value: &str) -> Vec<String> {
    match parse_ip(value) {
        Err(e) => vec![e.to_owned()],
        Ok(ip) => {
            let canonical = ip.to_string();
            if canonical == value {
                Vec::new()
            } else {
                vec![format!("must be in canonical form ({canonical:?})")]
            }
        }
    }
}

fn parse_ip(value: &str) -> Result<IpAddr, &'static str> {
    match value.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => {
            Err("must not be an IPv4-mapped IPv6 address")
        }
        Ok(ip) => Ok(ip),
        // Go's sloppy parser reads "010.0.0.1" (a leading 0), the strict one refuses it.
        Err(_) if is_sloppy_ipv4(value) => Err("must not have leading 0s"),
        Err(_) => Err("must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
    }
}

fn is_sloppy_ipv4(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|c| c.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n < 256)
        })
}

/// Upstream's `IsValidCIDR` (strict: no host bits, canonical form).
pub fn cidr(value: &str, field: &str, out: &mut Vec<FieldError>) {
    const INVALID: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
    let invalid = |out: &mut Vec<FieldError>, why: &str| {
        out.push(FieldError::invalid(field, quote(value), why));
    };
    let Some((addr, len)) = value.split_once('/') else {
        return invalid(out, INVALID);
    };
    let max = if addr.contains(':') { 128 } else { 32 };
    let Ok(prefix) = len.parse::<u8>().map_err(|_| ()).and_then(|n| {
        if n <= max && !len.is_empty() && len.bytes().all(|c| c.is_ascii_digit()) {
            Ok(n)
        } else {
            Err(())
        }
    }) else {
        return invalid(out, INVALID);
    };
    let ip = match parse_ip(addr) {
        Ok(ip) => ip,
        Err("must not have leading 0s") => {
            return invalid(out, "must not have leading 0s in IP or prefix length");
        }
        Err("must not be an IPv4-mapped IPv6 address") => {
            return invalid(out, "must not have an IPv4-mapped IPv6 address");
        }
        Err(_) => return invalid(out, INVALID),
    };
    if len.len() > 1 && len.starts_with('0') {
        return invalid(out, "must not have leading 0s in IP or prefix length");
    }
    let masked = mask(ip, prefix);
    if masked != ip {
        return invalid(out, "must not have bits set beyond the prefix length");
    }
    let canonical = format!("{masked}/{prefix}");
    if canonical != value {
        invalid(out, &format!("must be in canonical form ({canonical:?})"));
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & keep).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & keep).into())
        }
    }
}

/// The IP family of a valid address or CIDR ("IPv4"/"IPv6").
pub fn ip_family(value: &str) -> Option<&'static str> {
    let addr = value.split('/').next().unwrap_or(value);
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) => Some("IPv4"),
        IpAddr::V6(_) => Some("IPv6"),
    }
}

/// Upstream's `ValidateLabelSelector` (strict: label values must be valid).
pub fn label_selector(selector: &LabelSelector, field: &str, out: &mut Vec<FieldError>) {
    if let Some(labels) = &selector.match_labels {
        validation::labels(labels, &format!("{field}.matchLabels"), out);
    }
    for (i, req) in selector.match_expressions.iter().flatten().enumerate() {
        let path = format!("{field}.matchExpressions[{i}]");
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => out.push(FieldError::required(
                format!("{path}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => out.push(FieldError::forbidden(
                format!("{path}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => out.push(FieldError::invalid(
                format!("{path}.operator"),
                quote(op),
                "not a valid selector operator",
            )),
        }
        qualified_name_field(&req.key, &format!("{path}.key"), out);
        for (j, value) in values.iter().enumerate() {
            for e in validation::label_value(value) {
                out.push(FieldError::invalid(
                    format!("{path}.values[{j}]"),
                    quote(value),
                    e,
                ));
            }
        }
    }
}

/// Whether a selector has no requirements at all (upstream's nil/empty selector).
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

/// `LabelSelectorAsSelector(s).Matches(labels)`; `None` when the selector does not convert
/// (an unknown operator or a malformed requirement). An empty selector matches nothing,
/// as upstream's conversion of a nil selector.
pub fn selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> Option<bool> {
    if selector_is_empty(selector) {
        return Some(false);
    }
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let mut matches = true;
    for (key, value) in selector.match_labels.iter().flatten() {
        matches &= labels.get(key) == Some(value);
    }
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default();
        let found = labels.get(&req.key);
        matches &= match req.operator.as_str() {
            "In" if !values.is_empty() => found.is_some_and(|v| values.contains(v)),
            "NotIn" if !values.is_empty() => found.is_none_or(|v| !values.contains(v)),
            "Exists" if values.is_empty() => found.is_some(),
            "DoesNotExist" if values.is_empty() => found.is_none(),
            _ => return None,
        };
    }
    Some(matches)
}

/// `ValidateNonSpecialIP`.
pub fn non_special_ip(value: &str, field: &str, out: &mut Vec<FieldError>) {
    let Ok(ip) = value.parse::<std::net::IpAddr>() else {
        return;
    };
    let (unspecified, loopback, link_local, link_local_multicast) = match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            (
                v4.is_unspecified(),
                v4.is_loopback(),
                v4.is_link_local(),
                o[0] == 224 && o[1] == 0 && o[2] == 0,
            )
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            (
                v6.is_unspecified(),
                v6.is_loopback(),
                s[0] & 0xffc0 == 0xfe80,
                s[0] & 0xff0f == 0xff02,
            )
        }
    };
    let checks = [
        (unspecified, format!("may not be unspecified ({value})")),
        (
            loopback,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)".to_owned(),
        ),
        (
            link_local,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)".to_owned(),
        ),
        (
            link_local_multicast,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)".to_owned(),
        ),
    ];
    for (bad, why) in checks {
        if bad {
            out.push(FieldError::invalid(field, quote(value), why));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(check: impl Fn(&mut Vec<FieldError>)) -> Vec<String> {
        let mut out = Vec::new();
        check(&mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn ips_and_cidrs() {
        let table: &[(&str, Option<&str>)] = &[
            ("10.0.0.1", None),
            ("2001:db8::1", None),
            (
                "010.0.0.1",
                Some("f: Invalid value: \"010.0.0.1\": must not have leading 0s"),
            ),
            (
                "::ffff:1.2.3.4",
                Some(
                    "f: Invalid value: \"::ffff:1.2.3.4\": must not be an IPv4-mapped IPv6 address",
                ),
            ),
            (
                "2001:DB8::1",
                Some(
                    "f: Invalid value: \"2001:DB8::1\": must be in canonical form (\"2001:db8::1\")",
                ),
            ),
            (
                "nope",
                Some(
                    "f: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                ),
            ),
        ];
        for (value, want) in table {
            let got = errors(|out| ip(value, "f", out));
            assert_eq!(got.first().map(String::as_str), *want, "{value}");
        }
        let table: &[(&str, Option<&str>)] = &[
            ("10.0.0.0/8", None),
            ("2001:db8::/64", None),
            (
                "10.0.0.1/8",
                Some(
                    "f: Invalid value: \"10.0.0.1/8\": must not have bits set beyond the prefix length",
                ),
            ),
            (
                "10.0.0.0/08",
                Some(
                    "f: Invalid value: \"10.0.0.0/08\": must not have leading 0s in IP or prefix length",
                ),
            ),
            (
                "10.0.0.0",
                Some(
                    "f: Invalid value: \"10.0.0.0\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ),
            ),
            (
                "10.0.0.0/33",
                Some(
                    "f: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ),
            ),
        ];
        for (value, want) in table {
            let got = errors(|out| cidr(value, "f", out));
            assert_eq!(got.first().map(String::as_str), *want, "{value}");
        }
    }

    #[test]
    fn names_and_keys() {
        assert_eq!(dns_label("a.b"), vec!["must not contain dots".to_owned()]);
        assert_eq!(dns_label("A").len(), 1);
        assert!(port_name("http").is_empty());
        assert_eq!(
            port_name("1234"),
            vec!["must contain at least one letter (a-z)".to_owned()]
        );
        assert_eq!(port_name("-a--").len(), 2);
        assert!(config_map_key("tls.crt").is_empty());
        assert_eq!(
            config_map_key("..a"),
            vec!["must not start with '..'".to_owned()]
        );
        assert_eq!(config_map_key("a b").len(), 1);
        assert!(is_percent("25%"));
        assert!(!is_percent("%"));
        assert!(!is_percent("2.5%"));
    }

    #[test]
    fn selectors() {
        let sel: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
        }))
        .expect("selector");
        let labels = BTreeMap::from([
            ("app".to_owned(), "web".to_owned()),
            ("tier".to_owned(), "a".to_owned()),
        ]);
        assert_eq!(selector_matches(&sel, Some(&labels)), Some(true));
        assert_eq!(selector_matches(&sel, None), Some(false));
        assert_eq!(
            selector_matches(&LabelSelector::default(), Some(&labels)),
            Some(false)
        );
        let bad: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "k", "operator": "Maybe"}],
        }))
        .expect("selector");
        assert_eq!(selector_matches(&bad, Some(&labels)), None);
        assert_eq!(
            errors(|out| label_selector(&bad, "spec.selector", out)),
            vec![
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Maybe\": not a valid selector operator"
            ]
        );
    }
}

//! Reading served JSON as upstream's printers read internal types, and the formatting helpers
//! the printers share.
//!
//! An absent or `null` field reads as Go's zero value (`""`, `0`, `false`, an empty list), which
//! is what upstream sees after decoding; `opt_*` readers keep "absent" apart where upstream
//! checks a pointer for `nil`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value};

use crate::selector::LabelSelector;
use crate::table::human_duration;

/// The field at a JSON pointer, `None` when it is absent or `null`.
pub(super) fn at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a Value> {
    obj.pointer(pointer).filter(|v| !v.is_null())
}

pub(super) fn opt_text<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    at(obj, pointer).and_then(Value::as_str)
}

pub(super) fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    opt_text(obj, pointer).unwrap_or("")
}

pub(super) fn opt_int(obj: &Value, pointer: &str) -> Option<i64> {
    at(obj, pointer).and_then(Value::as_i64)
}

pub(super) fn int(obj: &Value, pointer: &str) -> i64 {
    opt_int(obj, pointer).unwrap_or(0)
}

pub(super) fn opt_flag(obj: &Value, pointer: &str) -> Option<bool> {
    at(obj, pointer).and_then(Value::as_bool)
}

pub(super) fn flag(obj: &Value, pointer: &str) -> bool {
    opt_flag(obj, pointer).unwrap_or(false)
}

/// The list at `pointer`; empty when absent or not a list.
pub(super) fn items<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    at(obj, pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// How many entries the list or map at `pointer` has (Go's `len`).
pub(super) fn count(obj: &Value, pointer: &str) -> i64 {
    let len = match at(obj, pointer) {
        Some(Value::Array(list)) => list.len(),
        Some(Value::Object(map)) => map.len(),
        _ => 0,
    };
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// Whether the field is set (a non-`nil` pointer upstream).
pub(super) fn present(obj: &Value, pointer: &str) -> bool {
    at(obj, pointer).is_some()
}

/// The object's name cell.
pub(super) fn name(obj: &Value) -> Value {
    Value::from(text(obj, "/metadata/name"))
}

/// An annotation's value. Annotation keys hold `/`, so they are not JSON-pointer segments.
pub(super) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    at(obj, "/metadata/annotations")?.get(key)?.as_str()
}

/// The object at `pointer` as a map; empty when absent.
pub(super) fn map<'a>(obj: &'a Value, pointer: &str) -> Option<&'a Map<String, Value>> {
    at(obj, pointer).and_then(Value::as_object)
}

/// The first entry of a condition list with this `type` (upstream loops break at the first).
pub(super) fn condition<'a>(conditions: &'a [Value], kind: &str) -> Option<&'a Value> {
    conditions.iter().find(|c| text(c, "/type") == kind)
}

/// Whether the first condition of this type has status `True`.
pub(super) fn condition_true(conditions: &[Value], kind: &str) -> bool {
    condition(conditions, kind).is_some_and(|c| text(c, "/status") == "True")
}

pub(super) fn timestamp(obj: &Value, pointer: &str) -> Option<Timestamp> {
    opt_text(obj, pointer).and_then(|s| s.parse().ok())
}

/// Whole seconds from `from` to `to`, truncated as Go's `Duration.Seconds` cast to `int`.
pub(super) fn seconds_between(from: Timestamp, to: Timestamp) -> i64 {
    to.duration_since(from).as_secs()
}

/// Upstream `translateTimestampSince` (and its `MicroTime` twin): the time since the timestamp
/// at `pointer`, `<unknown>` when it is unset.
pub(super) fn since(obj: &Value, pointer: &str, now: Timestamp) -> String {
    match timestamp(obj, pointer) {
        Some(t) => human_duration(seconds_between(t, now)),
        None => "<unknown>".to_owned(),
    }
}

/// Upstream `labels.FormatLabels`: `k=v` pairs sorted as strings, `<none>` when empty.
pub(super) fn format_labels(labels: Option<&Value>) -> String {
    let mut pairs: Vec<String> = labels
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_owned()
    } else {
        pairs.join(",")
    }
}

/// Upstream `metav1.FormatLabelSelector`: the selector's canonical string, `<none>` when it
/// selects everything or nothing, `<error>` when it cannot be converted.
pub(super) fn format_label_selector(selector: Option<&Value>) -> String {
    match LabelSelector::from_label_selector_json(selector.unwrap_or(&Value::Null)) {
        Ok(s) if s.requirements().is_empty() => "<none>".to_owned(),
        Ok(s) => s.to_string(),
        Err(_) => "<error>".to_owned(),
    }
}

/// `metav1.LabelSelectorAsSelector(s).String()`, as the Deployment printer writes it: `""` for
/// an empty or absent selector, `<invalid>` when it cannot be converted.
pub(super) fn selector_string(selector: Option<&Value>) -> String {
    match LabelSelector::from_label_selector_json(selector.unwrap_or(&Value::Null)) {
        Ok(s) => s.to_string(),
        Err(_) => "<invalid>".to_owned(),
    }
}

/// Upstream `layoutContainerCells`: container names and images of a pod spec, each joined by
/// commas.
pub(super) fn containers(pod_spec: Option<&Value>) -> [Value; 2] {
    let containers = pod_spec.map_or(&[][..], |spec| items(spec, "/containers"));
    let join = |field: &str| {
        let parts: Vec<&str> = containers.iter().map(|c| text(c, field)).collect();
        Value::from(parts.join(","))
    };
    [join("/name"), join("/image")]
}

/// A `resource.Quantity` as upstream's `String()` prints it. Served JSON already holds the
/// canonical form; an unset (zero) quantity prints as `0`.
pub(super) fn quantity(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_owned(),
    }
}

/// A `*resource.Quantity`: `String()` of a nil pointer prints `<nil>`.
pub(super) fn quantity_ptr(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "<nil>".to_owned(),
        some => quantity(some),
    }
}

/// An `IntOrString` as its `String()` prints it.
pub(super) fn int_or_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".to_owned(),
    }
}

/// Upstream `helper.GetAccessModesAsString`: each distinct mode once, in a fixed order.
pub(super) fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .into_iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| short)
    .collect::<Vec<_>>()
    .join(",")
}

/// Upstream `listWithMoreString`: at most `max` entries, then `+ N more...`; `<unset>` when
/// there is nothing to list.
pub(super) fn list_with_more(all: impl IntoIterator<Item = String>, max: usize) -> String {
    let all: Vec<String> = all.into_iter().collect();
    if all.len() > max {
        return format!("{} + {} more...", all[..max].join(","), all.len() - max);
    }
    match all.join(",") {
        s if s.is_empty() => "<unset>".to_owned(),
        s => s,
    }
}

/// Upstream `printBoolPtr`.
pub(super) fn bool_word(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// `s`, or `fallback` when it is empty.
pub(super) fn or<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() { fallback } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_sort_as_pairs_and_selectors_print_canonically() {
        let labels = json!({"a": "1", "a.b": "2"});
        assert_eq!(format_labels(Some(&labels)), "a.b=2,a=1");
        assert_eq!(format_labels(None), "<none>");
        let selector = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
        });
        assert_eq!(
            format_label_selector(Some(&selector)),
            "app=web,tier in (a,b)"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!(3))), "<error>");
        assert_eq!(selector_string(None), "");
    }

    #[test]
    fn lists_are_cut_after_max() {
        let five = (1..=5).map(|i| i.to_string());
        assert_eq!(list_with_more(five, 3), "1,2,3 + 2 more...");
        assert_eq!(list_with_more(Vec::new(), 3), "<unset>");
        let modes = [
            json!("ReadWriteMany"),
            json!("ReadWriteOnce"),
            json!("ReadWriteOnce"),
        ];
        assert_eq!(access_modes(&modes), "RWO,RWX");
    }
}

//! core/v1 Events (upstream `pkg/registry/core/event/strategy.go` and
//! `pkg/apis/core/validation/events.go`). Through core/v1 only the legacy rules apply; the
//! stricter ones are for events.k8s.io/v1 writes.

use k8s_openapi::api::core::v1::Event;

use crate::error::FieldError;
use crate::strategy::Strategy;
use crate::strategy::checks::{self, quote};
use crate::strategy::validation;

pub struct EventStrategy;

/// Upstream's length limits of a new-style event's fields.
const REPORTING_INSTANCE_MAX: usize = 128;
const ACTION_MAX: usize = 128;
const REASON_MAX: usize = 128;
const NOTE_MAX: usize = 1024;

impl Strategy for EventStrategy {
    type Object = Event;

    fn validate(&self, event: &Event) -> Vec<FieldError> {
        legacy_validate(event)
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ]
    }

    fn field(&self, event: &Event, name: &str) -> Option<String> {
        let object = &event.involved_object;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Some(match name {
            "involvedObject.kind" => text(&object.kind),
            "involvedObject.namespace" => text(&object.namespace),
            "involvedObject.name" => text(&object.name),
            "involvedObject.uid" => text(&object.uid),
            "involvedObject.apiVersion" => text(&object.api_version),
            "involvedObject.resourceVersion" => text(&object.resource_version),
            "involvedObject.fieldPath" => text(&object.field_path),
            "reason" => text(&event.reason),
            "reportingComponent" => text(&event.reporting_component),
            // An event's source is its component, else its reporting controller.
            "source" => event
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| text(&event.reporting_component)),
            "type" => text(&event.type_),
            _ => return None,
        })
    }
}

/// `legacyValidateEvent`. An event without `eventTime` is an old-style one: its involved
/// object must be in its namespace. A new-style one names who reported it.
fn legacy_validate(event: &Event) -> Vec<FieldError> {
    let mut out = Vec::new();
    let namespace = event.metadata.namespace.as_deref().unwrap_or_default();
    let object_namespace = event
        .involved_object
        .namespace
        .as_deref()
        .unwrap_or_default();
    let mismatch = |out: &mut Vec<FieldError>| {
        out.push(FieldError::invalid(
            "involvedObject.namespace",
            quote(object_namespace),
            "does not match event.namespace",
        ));
    };
    if event.event_time.is_none() {
        let matches = if object_namespace.is_empty() {
            // Old clients put cluster-scoped objects' events in "default".
            namespace.is_empty() || namespace == "default"
        } else {
            namespace == object_namespace
        };
        if !matches {
            mismatch(&mut out);
        }
    } else {
        if object_namespace.is_empty() && !matches!(namespace, "default" | "kube-system") {
            mismatch(&mut out);
        }
        // The v1 field is `reportingComponent`; upstream's path uses the internal name.
        let controller = event.reporting_component.as_deref().unwrap_or_default();
        if controller.is_empty() {
            out.push(FieldError::required("reportingController", ""));
        }
        for e in validation::qualified_name(controller) {
            out.push(FieldError::invalid(
                "reportingController",
                quote(controller),
                e,
            ));
        }
        let limited = [
            (
                "reportingInstance",
                &event.reporting_instance,
                REPORTING_INSTANCE_MAX,
                true,
            ),
            ("action", &event.action, ACTION_MAX, true),
            ("reason", &event.reason, REASON_MAX, true),
            ("message", &event.message, NOTE_MAX, false),
        ];
        for (field, value, max, required) in limited {
            let value = value.as_deref().unwrap_or_default();
            if required && value.is_empty() {
                out.push(FieldError::required(field, ""));
            }
            if value.len() > max {
                let why = format!("can have at most {max} characters");
                out.push(FieldError::invalid(field, "\"\"", why));
            }
        }
    }
    checks::subdomain_field(namespace, "namespace", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn event(body: Value) -> Event {
        let mut obj = json!({"metadata": {"name": "e", "namespace": "ns"}});
        if let (Some(base), Value::Object(extra)) = (obj.as_object_mut(), body) {
            base.extend(extra);
        }
        serde_json::from_value(obj).expect("event")
    }

    #[test]
    fn event_rules() {
        let new_style = json!({
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "reportingComponent": "kubelet", "reportingInstance": "node-1",
            "action": "Pulling", "reason": "Pulling",
        });
        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"}, "reason": "Started"}),
                vec![],
            ),
            (
                json!({"involvedObject": {"kind": "Node", "name": "n"}}),
                vec![
                    "involvedObject.namespace: Invalid value: \"\": does not match event.namespace",
                ],
            ),
            (
                json!({"involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"}}),
                vec![
                    "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace",
                ],
            ),
            (new_style.clone(), vec![]),
            (
                json!({"involvedObject": {"namespace": "ns"}, "eventTime": "2024-01-01T00:00:00.000000Z",
                    "message": "x".repeat(1025)}),
                vec![
                    "reportingController: Required value",
                    "reportingController: Invalid value: \"\": name part must be non-empty",
                    "reportingInstance: Required value",
                    "action: Required value",
                    "reason: Required value",
                    "message: Invalid value: \"\": can have at most 1024 characters",
                ],
            ),
        ];
        for (body, want) in table {
            let got: Vec<String> = EventStrategy
                .validate(&event(body.clone()))
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want, "{body}");
        }
        let e = event(new_style);
        assert_eq!(
            EventStrategy.field(&e, "involvedObject.name").as_deref(),
            Some("p")
        );
        assert_eq!(
            EventStrategy.field(&e, "source").as_deref(),
            Some("kubelet")
        );
        assert_eq!(EventStrategy.field(&e, "nope"), None);
    }
}

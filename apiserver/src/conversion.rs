//! Versions of one resource that share storage: the object is stored in one version (the
//! storage version) and converted on the way in and out for the others (upstream's
//! conversion functions, e.g. `pkg/apis/autoscaling/v1/conversion.go` and
//! `pkg/apis/events/v1/conversion.go`). Conversions work on JSON values: they run only for
//! the non-storage versions, whose requests are the rarer ones.

use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// How a served version maps to its storage version.
pub struct Conversion {
    /// `apiVersion` of the stored objects.
    pub storage_api_version: &'static str,
    pub to_storage: fn(Value) -> Result<Value, ApiError>,
    pub from_storage: fn(Value) -> Result<Value, ApiError>,
}

/// autoscaling/v1 HorizontalPodAutoscaler, stored as autoscaling/v2.
pub static HPA_V1: Conversion = Conversion {
    storage_api_version: "autoscaling/v2",
    to_storage: hpa_v1_to_v2,
    from_storage: hpa_v2_to_v1,
};

/// events.k8s.io/v1 Event, stored as core/v1 Event.
pub static EVENTS_V1: Conversion = Conversion {
    storage_api_version: "v1",
    to_storage: event_to_core,
    from_storage: event_from_core,
};

/// v2 fields that v1 cannot express travel in these annotations (upstream's names), so a
/// v2 object read and written back through v1 keeps them.
const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

fn object(value: Value) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("the object must be a JSON object")),
    }
}

fn is_cpu_utilization(metric: &Value) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource")
        && metric.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && metric
            .pointer("/resource/target/type")
            .and_then(Value::as_str)
            == Some("Utilization")
}

fn take_annotation(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let annotations = obj
        .get_mut("metadata")?
        .get_mut("annotations")?
        .as_object_mut()?;
    let text = annotations.remove(key)?;
    if annotations.is_empty()
        && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.remove("annotations");
    }
    serde_json::from_str(text.as_str()?).ok()
}

fn put_annotation(obj: &mut Map<String, Value>, key: &str, value: &Value) {
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(meta) = meta {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(key.to_owned(), Value::String(value.to_string()));
        }
    }
}

fn hpa_v1_to_v2(value: Value) -> Result<Value, ApiError> {
    let mut obj = object(value)?;
    obj.insert("apiVersion".into(), json!("autoscaling/v2"));
    let extra_metrics = take_annotation(&mut obj, METRICS_ANNOTATION);
    let current_metrics = take_annotation(&mut obj, CURRENT_METRICS_ANNOTATION);
    let conditions = take_annotation(&mut obj, CONDITIONS_ANNOTATION);
    let behavior = take_annotation(&mut obj, BEHAVIOR_ANNOTATION);
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let mut metrics = Vec::new();
        if let Some(Value::Array(extra)) = extra_metrics {
            metrics.extend(extra);
        }
        if let Some(cpu) = spec.remove("targetCPUUtilizationPercentage") {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": cpu}}}));
        }
        if !metrics.is_empty() {
            spec.insert("metrics".into(), Value::Array(metrics));
        }
        if let Some(behavior) = behavior {
            spec.insert("behavior".into(), behavior);
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        let mut current = Vec::new();
        if let Some(Value::Array(extra)) = current_metrics {
            current.extend(extra);
        }
        if let Some(cpu) = status.remove("currentCPUUtilizationPercentage") {
            current.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "current": {"averageUtilization": cpu}}}));
        }
        if !current.is_empty() {
            status.insert("currentMetrics".into(), Value::Array(current));
        }
        if let Some(conditions) = conditions {
            status.insert("conditions".into(), conditions);
        }
    }
    Ok(Value::Object(obj))
}

fn hpa_v2_to_v1(value: Value) -> Result<Value, ApiError> {
    let mut obj = object(value)?;
    obj.insert("apiVersion".into(), json!("autoscaling/v1"));
    let mut annotations: Vec<(&str, Value)> = Vec::new();
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(Value::Array(metrics)) = spec.remove("metrics") {
            let (cpu, other): (Vec<Value>, Vec<Value>) =
                metrics.into_iter().partition(is_cpu_utilization);
            if let Some(target) = cpu
                .first()
                .and_then(|m| m.pointer("/resource/target/averageUtilization"))
            {
                spec.insert("targetCPUUtilizationPercentage".into(), target.clone());
            }
            if !other.is_empty() {
                annotations.push((METRICS_ANNOTATION, Value::Array(other)));
            }
        }
        if let Some(behavior) = spec.remove("behavior") {
            annotations.push((BEHAVIOR_ANNOTATION, behavior));
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(Value::Array(metrics)) = status.remove("currentMetrics") {
            let (cpu, other): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(|m| {
                m.get("type").and_then(Value::as_str) == Some("Resource")
                    && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
                    && m.pointer("/resource/current/averageUtilization").is_some()
            });
            if let Some(current) = cpu
                .first()
                .and_then(|m| m.pointer("/resource/current/averageUtilization"))
            {
                status.insert("currentCPUUtilizationPercentage".into(), current.clone());
            }
            if !other.is_empty() {
                annotations.push((CURRENT_METRICS_ANNOTATION, Value::Array(other)));
            }
        }
        if let Some(conditions) = status.remove("conditions") {
            annotations.push((CONDITIONS_ANNOTATION, conditions));
        }
    }
    for (key, value) in annotations {
        put_annotation(&mut obj, key, &value);
    }
    Ok(Value::Object(obj))
}

/// events.k8s.io/v1 field ⇄ core/v1 field.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn rename(value: Value, api_version: &str, to_core: bool) -> Result<Value, ApiError> {
    let mut obj = object(value)?;
    obj.insert("apiVersion".into(), json!(api_version));
    for (events, core) in EVENT_FIELDS {
        let (from, to) = if to_core {
            (events, core)
        } else {
            (core, events)
        };
        if let Some(v) = obj.remove(*from) {
            obj.insert((*to).to_owned(), v);
        }
    }
    Ok(Value::Object(obj))
}

fn event_to_core(value: Value) -> Result<Value, ApiError> {
    rename(value, "v1", true)
}

fn event_from_core(value: Value) -> Result<Value, ApiError> {
    rename(value, "events.k8s.io/v1", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_v1_round_trips_through_v2() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
                     "maxReplicas": 5, "targetCPUUtilizationPercentage": 70},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 40}});
        let v2 = hpa_v1_to_v2(v1.clone()).expect("to v2");
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            70
        );
        assert_eq!(
            v2["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"],
            40
        );
        assert_eq!(hpa_v2_to_v1(v2).expect("to v1"), v1);
    }

    #[test]
    fn v2_only_fields_survive_a_trip_through_v1() {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"maxReplicas": 5, "metrics": [
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        let v1 = hpa_v2_to_v1(v2.clone()).expect("to v1");
        assert!(v1["metadata"]["annotations"][METRICS_ANNOTATION].is_string());
        assert_eq!(hpa_v1_to_v2(v1).expect("back"), v2);
    }

    #[test]
    fn events_rename_their_fields() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hi", "count": 3,
            "reason": "Started", "type": "Normal"});
        let events = event_from_core(core.clone()).expect("from core");
        assert_eq!(events["note"], "hi");
        assert_eq!(events["regarding"]["name"], "p");
        assert_eq!(events["deprecatedCount"], 3);
        assert_eq!(event_to_core(events).expect("to core"), core);
    }
}

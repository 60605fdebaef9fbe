//! HorizontalPodAutoscaler of autoscaling/v1 and v2 (upstream `printHorizontalPodAutoscaler`
//! and `formatHPAMetrics`, which read the internal type, shaped as v2).

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::fields::{at, int, items, name, opt_int, quantity_ptr, text};
use super::{AGE, NAME, Table, col};
use crate::table::age;

pub(super) static HORIZONTAL_POD_AUTOSCALER: Table = Table {
    columns: &[
        NAME,
        col(
            "Reference",
            "string",
            "The scaled resource (scaleTargetRef).",
        ),
        col("Targets", "string", "The metrics, current over target."),
        col(
            "MinPods",
            "string",
            "minReplicas is the lower limit for the number of replicas.",
        ),
        col(
            "MaxPods",
            "string",
            "maxReplicas is the upper limit for the number of replicas.",
        ),
        col(
            "Replicas",
            "string",
            "currentReplicas is current number of replicas of pods.",
        ),
        AGE,
    ],
    cells: hpa,
};

fn hpa(obj: &Value, now: Timestamp) -> Vec<Value> {
    let target = at(obj, "/spec/scaleTargetRef").unwrap_or(&Value::Null);
    let reference = format!("{}/{}", text(target, "/kind"), text(target, "/name"));
    let targets = if text(obj, "/apiVersion") == "autoscaling/v1"
        || at(obj, "/spec/targetCPUUtilizationPercentage").is_some()
    {
        let (specs, statuses) = v1_metrics(obj);
        format_metrics(&specs, &statuses)
    } else {
        format_metrics(
            items(obj, "/spec/metrics"),
            items(obj, "/status/currentMetrics"),
        )
    };
    let min_pods =
        opt_int(obj, "/spec/minReplicas").map_or("<unset>".to_owned(), |n| n.to_string());
    vec![
        name(obj),
        reference.into(),
        targets.into(),
        min_pods.into(),
        int(obj, "/spec/maxReplicas").into(),
        int(obj, "/status/currentReplicas").into(),
        age(obj, now),
    ]
}

/// An autoscaling/v1 object's CPU target and reading as the v2 metrics upstream's conversion
/// makes of them. Other metrics, which v1 keeps in annotations, are not read.
fn v1_metrics(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let cpu = |field: &str, utilization: Option<i64>| {
        utilization.map(|u| {
            json!({"type": "Resource", "resource": {"name": "cpu", field: {
                "type": "Utilization",
                "averageUtilization": u,
            }}})
        })
    };
    let spec = cpu(
        "target",
        opt_int(obj, "/spec/targetCPUUtilizationPercentage"),
    );
    let status = cpu(
        "current",
        opt_int(obj, "/status/currentCPUUtilizationPercentage"),
    );
    (spec.into_iter().collect(), status.into_iter().collect())
}

/// Upstream `formatHPAMetrics`: each metric as `current/target`, the current reading taken
/// from the status at the same index, two at most.
fn format_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_owned();
    }
    let mut list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let status = statuses.get(i).unwrap_or(&Value::Null);
            match text(spec, "/type") {
                "External" => value_or_average(spec, status, "/external"),
                "Object" => value_or_average(spec, status, "/object"),
                "Pods" => {
                    let current = reading(status, "/pods", "/current/averageValue");
                    let target = quantity_ptr(at(spec, "/pods/target/averageValue"));
                    format!("{current}/{target}")
                }
                "Resource" => resource(spec, status, "/resource"),
                "ContainerResource" => resource(spec, status, "/containerResource"),
                _ => "<unknown type>".to_owned(),
            }
        })
        .collect();
    const MAX: usize = 2;
    let more = list.len().saturating_sub(MAX);
    list.truncate(MAX);
    match more {
        0 => list.join(", "),
        more => format!("{} + {more} more...", list.join(", ")),
    }
}

/// The status's reading at `field` (`source` naming the metric source), `<unknown>` when the
/// status has no such source.
fn reading(status: &Value, source: &str, field: &str) -> String {
    match at(status, source) {
        Some(source) => quantity_ptr(at(source, field)),
        None => "<unknown>".to_owned(),
    }
}

/// An External or Object metric: an average value target marked `(avg)`, else a value.
fn value_or_average(spec: &Value, status: &Value, source: &str) -> String {
    let target = at(spec, source).unwrap_or(&Value::Null);
    match at(target, "/target/averageValue") {
        Some(average) => {
            let current = match at(status, &format!("{source}/current/averageValue")) {
                Some(current) => quantity_ptr(Some(current)),
                None => "<unknown>".to_owned(),
            };
            format!("{current}/{} (avg)", quantity_ptr(Some(average)))
        }
        None => {
            let current = reading(status, source, "/current/value");
            format!("{current}/{}", quantity_ptr(at(target, "/target/value")))
        }
    }
}

/// A Resource or ContainerResource metric: `name: current/target`, as an average value or a
/// utilization percentage.
fn resource(spec: &Value, status: &Value, source: &str) -> String {
    let metric = at(spec, source).unwrap_or(&Value::Null);
    let name = text(metric, "/name");
    match at(metric, "/target/averageValue") {
        Some(average) => {
            let current = reading(status, source, "/current/averageValue");
            format!("{name}: {current}/{}", quantity_ptr(Some(average)))
        }
        None => {
            let percent =
                |v: Option<i64>, none: &str| v.map_or(none.to_owned(), |v| format!("{v}%"));
            let current = opt_int(status, &format!("{source}/current/averageUtilization"));
            let target = opt_int(metric, "/target/averageUtilization");
            format!(
                "{name}: {}/{}",
                percent(current, "<unknown>"),
                percent(target, "<auto>")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Printer;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().expect("a valid timestamp")
    }

    #[test]
    fn v2_metrics_print_current_over_target() {
        let hpa = json!({
            "apiVersion": "autoscaling/v2",
            "metadata": {"name": "web", "creationTimestamp": "2024-05-01T09:00:00Z"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "averageUtilization": 80}}},
                    {"type": "Pods", "pods": {"metric": {"name": "packets"}, "target": {
                        "type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "External", "external": {"metric": {"name": "queue"}, "target": {
                        "type": "Value", "value": "30"}}},
                ],
            },
            "status": {
                "currentReplicas": 3,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {
                        "averageUtilization": 45, "averageValue": "250m"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "packets"}, "current": {
                        "averageValue": "1200m"}}},
                ],
            },
        });
        assert_eq!(
            HORIZONTAL_POD_AUTOSCALER.cells(&hpa, now()),
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 45%/80%, 1200m/1k + 1 more..."),
                json!("2"),
                json!(10),
                json!(3),
                json!("3h"),
            ]
        );
        let unknown = json!({"spec": {"metrics": [
            {"type": "External", "external": {"target": {"averageValue": "5"}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {}}},
        ]}});
        let cells = HORIZONTAL_POD_AUTOSCALER.cells(&unknown, now());
        assert_eq!(
            cells[2..4],
            [
                json!("<unknown>/5 (avg), memory: <unknown>/<auto>"),
                json!("<unset>")
            ]
        );
    }

    #[test]
    fn v1_cpu_target_reads_as_a_resource_metric() {
        let hpa = json!({
            "apiVersion": "autoscaling/v1",
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"},
                     "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 50},
            "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12},
        });
        let cells = HORIZONTAL_POD_AUTOSCALER.cells(&hpa, now());
        assert_eq!(
            cells[1..4],
            [json!("Deployment/api"), json!("cpu: 12%/50%"), json!("1")]
        );
        let untargeted = json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 4}});
        assert_eq!(
            HORIZONTAL_POD_AUTOSCALER.cells(&untargeted, now())[2],
            json!("<none>")
        );
    }
}

//! Events of core/v1 and of events.k8s.io/v1, which upstream prints alike (`printEvent`) after
//! converting both to one internal type. Here the events.k8s.io names are read where the
//! conversion would take them from (`regarding` for `involvedObject`, `note` for `message`,
//! `deprecated*` for the older fields).

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::fields::{at, int, name, or, present, since, text};
use super::{Column, Table, col, wide};

/// Where each field the printer reads lives in one API version.
struct Fields {
    involved_object: &'static str,
    message: &'static str,
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
    source: &'static str,
}

const CORE_V1: Fields = Fields {
    involved_object: "/involvedObject",
    message: "/message",
    first_timestamp: "/firstTimestamp",
    last_timestamp: "/lastTimestamp",
    count: "/count",
    source: "/source",
};

const EVENTS_V1: Fields = Fields {
    involved_object: "/regarding",
    message: "/note",
    first_timestamp: "/deprecatedFirstTimestamp",
    last_timestamp: "/deprecatedLastTimestamp",
    count: "/deprecatedCount",
    source: "/deprecatedSource",
};

/// Upstream lists the name last, and only in wide output.
const COLUMNS: &[Column] = &[
    col(
        "Last Seen",
        "string",
        "The time at which the most recent occurrence was recorded.",
    ),
    col("Type", "string", "Type of this event (Normal, Warning)."),
    col(
        "Reason",
        "string",
        "A short, machine understandable string for the transition.",
    ),
    col("Object", "string", "The object that this event is about."),
    wide(
        "Subobject",
        "string",
        "The field of the object the event is about.",
    ),
    wide("Source", "string", "The component reporting this event."),
    col(
        "Message",
        "string",
        "A human-readable description of the status of this operation.",
    ),
    wide(
        "First Seen",
        "string",
        "The time at which the event was first recorded.",
    ),
    wide(
        "Count",
        "string",
        "The number of times this event has occurred.",
    ),
    Column {
        format: "name",
        ..wide("Name", "string", "Name must be unique within a namespace.")
    },
];

pub(super) static EVENT: Table = Table {
    columns: COLUMNS,
    cells: |obj, now| event(obj, now, &CORE_V1),
};

pub(super) static EVENTS_V1_EVENT: Table = Table {
    columns: COLUMNS,
    cells: |obj, now| event(obj, now, &EVENTS_V1),
};

fn event(obj: &Value, now: Timestamp, fields: &Fields) -> Vec<Value> {
    let first_seen = if present(obj, fields.first_timestamp) {
        since(obj, fields.first_timestamp, now)
    } else {
        since(obj, "/eventTime", now)
    };
    let mut last_seen = if present(obj, fields.last_timestamp) {
        since(obj, fields.last_timestamp, now)
    } else {
        first_seen.clone()
    };
    let mut count = int(obj, fields.count);
    if present(obj, "/series") {
        last_seen = since(obj, "/series/lastObservedTime", now);
        count = int(obj, "/series/count");
    } else if count == 0 {
        // Singleton events of the new API have no count.
        count = 1;
    }

    let involved = at(obj, fields.involved_object).unwrap_or(&Value::Null);
    let kind = text(involved, "/kind").to_lowercase();
    let target = match text(involved, "/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    // Upstream `formatEventSource`: the reporting controller and instance stand in for an
    // empty source.
    let source = at(obj, fields.source).unwrap_or(&Value::Null);
    let component = or(
        text(source, "/component"),
        text(obj, "/reportingController"),
    );
    let host = or(text(source, "/host"), text(obj, "/reportingInstance"));
    let source = match host {
        "" => component.to_owned(),
        host => format!("{component}, {host}"),
    };

    vec![
        last_seen.into(),
        text(obj, "/type").into(),
        text(obj, "/reason").into(),
        target.into(),
        text(involved, "/fieldPath").into(),
        source.into(),
        text(obj, fields.message).trim().into(),
        first_seen.into(),
        count.into(),
        name(obj),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Printer;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().expect("a valid timestamp")
    }

    #[test]
    fn core_event_prints_as_kubectl_get_events() {
        let event = json!({
            "metadata": {"name": "web-0.17c3f", "namespace": "default"},
            "involvedObject": {
                "kind": "Pod",
                "name": "web-0",
                "fieldPath": "spec.containers{app}",
            },
            "reason": "Pulled",
            "message": " Successfully pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "worker-1"},
            "firstTimestamp": "2024-05-01T11:50:00Z",
            "lastTimestamp": "2024-05-01T11:58:00Z",
            "count": 4,
            "type": "Normal",
        });
        assert_eq!(
            EVENT.cells(&event, now()),
            vec![
                json!("2m"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web-0"),
                json!("spec.containers{app}"),
                json!("kubelet, worker-1"),
                json!("Successfully pulled image \"nginx\""),
                json!("10m"),
                json!(4),
                json!("web-0.17c3f"),
            ]
        );
    }

    #[test]
    fn singleton_and_series_events_fall_back_to_event_time() {
        let singleton = json!({
            "eventTime": "2024-05-01T11:59:00.250000Z",
            "involvedObject": {"kind": "Namespace"},
            "reportingController": "scheduler",
            "type": "Warning",
        });
        let cells = EVENT.cells(&singleton, now());
        assert_eq!(
            cells[..4],
            [
                json!("59s"),
                json!("Warning"),
                json!(""),
                json!("namespace")
            ]
        );
        assert_eq!(cells[5], json!("scheduler"));
        assert_eq!(cells[7..9], [json!("59s"), json!(1)]);

        let series = json!({
            "metadata": {"name": "worker-1.ready"},
            "eventTime": "2024-05-01T11:00:00.000000Z",
            "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:30.000000Z"},
            "regarding": {"kind": "Node", "name": "worker-1"},
            "note": "Node worker-1 status is now: NodeReady",
            "reason": "NodeReady",
            "reportingController": "kubelet",
            "reportingInstance": "worker-1",
            "type": "Normal",
        });
        assert_eq!(
            EVENTS_V1_EVENT.cells(&series, now()),
            vec![
                json!("30s"),
                json!("Normal"),
                json!("NodeReady"),
                json!("node/worker-1"),
                json!(""),
                json!("kubelet, worker-1"),
                json!("Node worker-1 status is now: NodeReady"),
                json!("60m"),
                json!(7),
                json!("worker-1.ready"),
            ]
        );
    }
}

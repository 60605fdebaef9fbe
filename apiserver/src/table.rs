//! Table output for `kubectl get` (`as=Table`, upstream `pkg/printers`): columns per kind, a
//! row per object, ages computed at request time. A kind without a printer of its own gets
//! upstream's default table (Name, Created At).

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

pub mod printers;

/// One column of a table (`TableColumnDefinition`).
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub kind: &'static str,
    /// e.g. `name` for the column kubectl uses as the object's name.
    pub format: &'static str,
    pub description: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: i32,
}

/// The printer of one kind.
pub trait Printer: Send + Sync {
    fn columns(&self) -> &'static [Column];
    /// The cells of one object, in column order.
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value>;
}

/// Which object to embed in each row (`includeObject`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// A Table of `objects` (stored JSON).
pub fn table(
    printer: &dyn Printer,
    objects: &[&[u8]],
    include: IncludeObject,
    list_meta: Value,
) -> Value {
    let now = Timestamp::now();
    let columns: Vec<Value> = printer
        .columns()
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.kind,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .filter_map(|bytes| serde_json::from_slice::<Value>(bytes).ok())
        .map(|obj| {
            let cells = printer.cells(&obj, now);
            let mut row = json!({ "cells": cells });
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(&obj),
                IncludeObject::Object => row["object"] = obj,
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// An object's `PartialObjectMetadata` form.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Upstream's `translateTimestampSince` / `duration.HumanDuration`: `5s`, `3m2s`, `4h`, `2d3h`, `3y`.
pub fn age(obj: &Value, now: Timestamp) -> Value {
    let Some(created) = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
    else {
        return json!("<unknown>");
    };
    json!(human_duration(now.as_second() - created.as_second()))
}

pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    let y = d / 365;
    if s < 60 * 2 {
        format!("{s}s")
    } else if m < 10 {
        match s % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        }
    } else if m < 60 * 3 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        match d % 365 {
            0 => format!("{y}y"),
            r => format!("{y}y{r}d"),
        }
    } else {
        format!("{y}y")
    }
}

/// The default table: Name and Created At.
pub struct DefaultPrinter;

const DEFAULT_COLUMNS: &[Column] = &[
    Column {
        name: "Name",
        kind: "string",
        format: "name",
        description: "Name must be unique within a namespace.",
        priority: 0,
    },
    Column {
        name: "Created At",
        kind: "date",
        format: "",
        description: "CreationTimestamp is a timestamp representing the server time when this \
                      object was created.",
        priority: 0,
    },
];

impl Printer for DefaultPrinter {
    fn columns(&self) -> &'static [Column] {
        DEFAULT_COLUMNS
    }

    fn cells(&self, obj: &Value, _now: Timestamp) -> Vec<Value> {
        vec![
            obj.pointer("/metadata/name").cloned().unwrap_or(json!("")),
            obj.pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_kubectl_prints_them() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(185), "3m5s");
        assert_eq!(human_duration(60 * 30), "30m");
        assert_eq!(human_duration(3600 * 5 + 60 * 7), "5h7m");
        assert_eq!(human_duration(3600 * 20), "20h");
        assert_eq!(human_duration(86400 * 3 + 3600 * 2), "3d2h");
        assert_eq!(human_duration(86400 * 30), "30d");
        assert_eq!(human_duration(86400 * 365 * 3), "3y");
    }
}

//! Printers of the kinds with columns of their own (upstream
//! `pkg/printers/internalversion/printers.go`).

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::{Column, DefaultPrinter, Printer, age};

/// The printer of a kind.
pub fn for_kind(group: &str, kind: &str) -> &'static dyn Printer {
    match (group, kind) {
        ("", "Namespace") => &NamespacePrinter,
        _ => &DefaultPrinter,
    }
}

const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: "Name must be unique within a namespace.",
    priority: 0,
};

const AGE: Column = Column {
    name: "Age",
    kind: "string",
    format: "",
    description: "CreationTimestamp is a timestamp representing the server time when this \
                  object was created.",
    priority: 0,
};

fn name(obj: &Value) -> Value {
    obj.pointer("/metadata/name").cloned().unwrap_or(json!(""))
}

struct NamespacePrinter;

impl Printer for NamespacePrinter {
    fn columns(&self) -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            NAME,
            Column {
                name: "Status",
                kind: "string",
                format: "",
                description: "The status of the namespace",
                priority: 0,
            },
            AGE,
        ];
        COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let phase = obj.pointer("/status/phase").cloned().unwrap_or(json!(""));
        vec![name(obj), phase, age(obj, now)]
    }
}

//! Helpers shared by the strategies' tests.

use serde_json::{Value, json};

use super::Strategy;

/// `base` with the top-level fields of `extra` laid over it.
pub fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// An object named `w` in namespace `ns` with `spec`, as `prepare_for_create` leaves it.
pub fn created<S: Strategy>(strategy: &S, spec: Value) -> S::Object {
    let mut obj: S::Object =
        serde_json::from_value(json!({"metadata": {"name": "w", "namespace": "ns"}, "spec": spec}))
            .expect("object");
    strategy.prepare_for_create(&mut obj);
    obj
}

/// The validation errors of a new object with `spec`, as upstream prints them.
pub fn errors<S: Strategy>(strategy: &S, spec: Value) -> Vec<String> {
    let obj = created(strategy, spec);
    strategy
        .validate(&obj)
        .iter()
        .map(ToString::to_string)
        .collect()
}

//! Helpers shared by the strategies' tests.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};

use super::Strategy;
use super::batch::JobStrategy;

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

/// A Job running one busybox container with `spec` laid over it, as created.
pub fn job(spec: Value) -> Job {
    let base = json!({"template": {"spec": {"restartPolicy": "Never",
                      "containers": [{"name": "c", "image": "busybox"}]}}});
    let mut job: Job = serde_json::from_value(json!({
        "metadata": {"name": "pi", "namespace": "ns", "uid": "u-1"}, "spec": merged(base, spec),
    }))
    .expect("job");
    JobStrategy.prepare_for_create(&mut job);
    job
}

/// A Job's validation errors, as upstream prints them.
pub fn job_errors(job: &Job) -> Vec<String> {
    JobStrategy
        .validate(job)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A Service named `s` with `spec`, defaulted as on create.
pub fn service(spec: Value) -> Service {
    let mut svc: Service =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": spec})).expect("service");
    super::service_defaults::apply(&mut svc);
    super::service_defaults::prepare_create(&mut svc);
    svc
}

/// A Service's validation errors, as upstream prints them.
pub fn service_errors(svc: &Service) -> Vec<String> {
    super::service_validation::validate(svc)
        .iter()
        .map(ToString::to_string)
        .collect()
}

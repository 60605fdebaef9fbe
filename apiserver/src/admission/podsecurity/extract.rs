//! The pod template inside workload objects, as upstream's `DefaultPodSpecExtractor`
//! (`admission/admission.go`).

use std::fmt;

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// Resources whose objects embed a pod spec: pods themselves and the workload kinds.
const POD_SPEC_RESOURCES: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("apps", "replicasets"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

/// Whether objects of a resource may carry a pod spec, so PodSecurity looks at them.
pub fn has_pod_spec(group: &str, resource: &str) -> bool {
    POD_SPEC_RESOURCES.contains(&(group, resource))
}

/// Why no pod template could be read from an object.
#[derive(Debug)]
pub enum ExtractError {
    UnexpectedKind(String),
    Malformed(serde_json::Error),
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::UnexpectedKind(kind) => write!(f, "unexpected object type: {kind}"),
            ExtractError::Malformed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ExtractError {}

/// The metadata and spec PodSecurity evaluates for an object of `kind`: a pod's own, or the
/// pod template of a workload. `Ok(None)` when the object has no template to check (a
/// ReplicationController may omit it); other kinds' templates are not optional in Go, so a
/// missing one is evaluated as empty, as upstream.
pub fn pod_spec_of(
    kind: &str,
    object: &Value,
) -> Result<Option<(ObjectMeta, PodSpec)>, ExtractError> {
    let template = |path: &[&str]| path.iter().try_fold(object, |v, key| v.get(key));
    match kind {
        "Pod" => {
            let meta = decode::<ObjectMeta>(object.get("metadata"))?;
            let spec = decode::<PodSpec>(object.get("spec"))?;
            Ok(Some((meta.unwrap_or_default(), spec.unwrap_or_default())))
        }
        "ReplicationController" => from_template(template(&["spec", "template"]), true),
        "PodTemplate" => from_template(template(&["template"]), false),
        "ReplicaSet" | "Deployment" | "DaemonSet" | "StatefulSet" | "Job" => {
            from_template(template(&["spec", "template"]), false)
        }
        "CronJob" => from_template(
            template(&["spec", "jobTemplate", "spec", "template"]),
            false,
        ),
        other => Err(ExtractError::UnexpectedKind(other.to_string())),
    }
}

fn from_template(
    template: Option<&Value>,
    optional: bool,
) -> Result<Option<(ObjectMeta, PodSpec)>, ExtractError> {
    match decode::<PodTemplateSpec>(template)? {
        None if optional => Ok(None),
        None => Ok(Some((ObjectMeta::default(), PodSpec::default()))),
        Some(t) => Ok(Some((
            t.metadata.unwrap_or_default(),
            t.spec.unwrap_or_default(),
        ))),
    }
}

/// `None` for an absent or null field.
fn decode<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> Result<Option<T>, ExtractError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => T::deserialize(v).map(Some).map_err(ExtractError::Malformed),
    }
}

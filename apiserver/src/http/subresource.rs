//! Subresources other than status: `scale` (an `autoscaling/v1` Scale over `.spec.replicas`),
//! `pods/binding` (sets `spec.nodeName` once), `pods/eviction` (a delete that respects
//! PodDisruptionBudgets) and `serviceaccounts/token` (a TokenRequest, `auth/serviceaccount.rs`).

use axum::body::Body;
use bytes::Bytes;
use http::Response;
use serde_json::{Value, json};

use super::codec;
use super::handler::{Query, delete_options, write_options};
use super::request::Verb;
use super::respond;
use crate::admission::AdmissionHandle;
use crate::auth::UserInfo;
use crate::error::ApiError;
use crate::registry::PatchType;
use crate::resources::{Resource, Subresource};
use crate::selector::LabelSelector;
use crate::server::ApiServer;

#[allow(clippy::too_many_arguments)]
pub(crate) async fn handle(
    server: &ApiServer,
    user: &UserInfo,
    admission: &AdmissionHandle,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    sub: Subresource,
    verb: Verb,
    query: &Query,
    content_type: Option<&str>,
    body: &Bytes,
) -> Result<Response<Body>, ApiError> {
    match (sub, verb) {
        (Subresource::Scale, Verb::Get) => {
            let bytes = server.registry.get(resource, namespace, name).await?;
            Ok(respond::json_bytes(200, scale_of(&bytes)?))
        }
        (Subresource::Scale, Verb::Update | Verb::Patch) => {
            let mut opts = write_options(query)?;
            opts.admission = Some(admission.clone());
            let current = server.registry.get(resource, namespace, name).await?;
            let scale: Value =
                serde_json::from_slice(&scale_of(&current)?).map_err(ApiError::internal)?;
            let wanted = if verb == Verb::Update {
                codec::decode_body(content_type, body)?
            } else {
                let patch_type = codec::patch_type(content_type)?;
                let patch = codec::decode_json(body)?;
                let patch_type = match patch_type {
                    // A Scale has no merge keys: a strategic patch merges like a merge patch.
                    PatchType::Strategic => PatchType::Merge,
                    other => other,
                };
                crate::patch::apply_plain(patch_type, &scale, &patch)?
            };
            let replicas = wanted
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if replicas < 0 {
                return Err(ApiError::invalid(
                    resource,
                    name,
                    vec![crate::error::FieldError::invalid(
                        "spec.replicas",
                        replicas.to_string(),
                        "must be greater than or equal to 0",
                    )],
                ));
            }
            let mut patch = json!({"spec": {"replicas": replicas}});
            if let Some(rv) = wanted
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                && !rv.is_empty()
            {
                patch["metadata"] = json!({"resourceVersion": rv});
            }
            let written = server
                .registry
                .patch(
                    resource,
                    namespace,
                    name,
                    None,
                    PatchType::Merge,
                    patch,
                    &opts,
                )
                .await?;
            Ok(respond::json_bytes(200, scale_of(&written.bytes)?))
        }
        (Subresource::Binding, Verb::Create) => {
            bind(server, resource, namespace, name, content_type, body).await
        }
        (Subresource::Token, Verb::Create) => {
            let body = codec::decode_body(content_type, body)?;
            let namespace = namespace.unwrap_or_default();
            let answer = server.token_request(user, namespace, name, body).await?;
            Ok(respond::json_bytes(
                201,
                bytes::Bytes::from(answer.to_string()),
            ))
        }
        (Subresource::Eviction, Verb::Create) => {
            let target = Target {
                server,
                resource,
                namespace,
                name,
            };
            evict(target, admission, query, content_type, body).await
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// The Scale of a stored object.
fn scale_of(bytes: &[u8]) -> Result<Bytes, ApiError> {
    let obj: Value = serde_json::from_slice(bytes).map_err(ApiError::internal)?;
    let meta = obj.get("metadata").cloned().unwrap_or(Value::Null);
    let selector = obj
        .pointer("/spec/selector")
        .map(|s| {
            if s.get("matchLabels").is_some() || s.get("matchExpressions").is_some() {
                LabelSelector::from_label_selector_json(s)
                    .map(|l| l.to_string())
                    .unwrap_or_default()
            } else {
                // ReplicationControllers have a plain map selector.
                s.as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            }
        })
        .unwrap_or_default();
    let scale = json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    });
    Ok(Bytes::from(scale.to_string()))
}

/// `pods/binding`: assigns a pod to a node, once (upstream `pkg/registry/core/pod/storage`
/// `BindingREST`).
async fn bind(
    server: &ApiServer,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    content_type: Option<&str>,
    body: &Bytes,
) -> Result<Response<Body>, ApiError> {
    let binding = codec::decode_body(content_type, body)?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("Binding: target.name is required"))?
        .to_owned();
    if let Some(given) = binding.pointer("/metadata/name").and_then(Value::as_str)
        && given != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )));
    }
    let current = server.registry.get(resource, namespace, name).await?;
    let pod: Value = serde_json::from_slice(&current).map_err(ApiError::internal)?;
    if let Some(assigned) = pod.pointer("/spec/nodeName").and_then(Value::as_str)
        && !assigned.is_empty()
    {
        return Err(ApiError::conflict(
            resource,
            name,
            &format!("pod {name} is already assigned to node {assigned:?}"),
        ));
    }
    let mut conditions: Vec<Value> = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
    conditions.push(json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": crate::strategy::meta::now(),
    }));
    let rv = pod
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or(Value::Null);
    let mut updated = pod;
    updated["spec"]["nodeName"] = json!(node);
    updated["status"]["conditions"] = Value::Array(conditions);
    updated["metadata"]["resourceVersion"] = rv;
    // Binding writes spec and status at once: straight through the store, with the pod's
    // current version as the precondition.
    server
        .registry
        .replace_whole(resource, namespace, name, updated)
        .await?;
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(respond::json_bytes(201, Bytes::from(status.to_string())))
}

/// The object a subresource request addresses.
struct Target<'a> {
    server: &'a ApiServer,
    resource: &'a Resource,
    namespace: Option<&'a str>,
    name: &'a str,
}

/// `pods/eviction` (`eviction.rs`): the Eviction's delete options, admitted as the evicting
/// user's (NodeRestriction: only pods bound to a node may be evicted by it).
async fn evict(
    target: Target<'_>,
    admission: &AdmissionHandle,
    query: &Query,
    content_type: Option<&str>,
    body: &Bytes,
) -> Result<Response<Body>, ApiError> {
    let Target {
        server,
        resource,
        namespace,
        name,
    } = target;
    let eviction = codec::decode_body(content_type, body)?;
    let mut opts = delete_options(query, None, &super::eviction::options_of(&eviction))?;
    opts.admission = Some(admission.clone());
    server
        .evict(resource, namespace.unwrap_or_default(), name, &opts)
        .await?;
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(respond::json_bytes(201, Bytes::from(status.to_string())))
}

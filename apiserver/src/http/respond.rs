//! Building responses: objects, lists (stored bytes concatenated, never re-encoded), tables,
//! metadata-only forms, YAML, and errors as `Status`.

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use super::codec::{Output, PROTOBUF, to_yaml};
use crate::error::ApiError;
use crate::resources::Resource;
use crate::table::{self, IncludeObject};

pub fn json_bytes(status: u16, bytes: Bytes) -> Response<Body> {
    with_type(status, bytes, "application/json")
}

pub fn with_type(status: u16, bytes: Bytes, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub fn error(error: &ApiError) -> Response<Body> {
    json_bytes(error.code, Bytes::from(error.status().to_string()))
}

pub fn text(status: u16, body: &'static str) -> Response<Body> {
    with_type(
        status,
        Bytes::from_static(body.as_bytes()),
        "text/plain; charset=utf-8",
    )
}

/// Adds `Warning` headers (RFC 7234 form, as upstream: `299 - "text"`).
pub fn warn(mut response: Response<Body>, warnings: &[String]) -> Response<Body> {
    for warning in warnings {
        let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// One object in the form the client asked for.
pub fn object(
    status: u16,
    resource: &Resource,
    bytes: Bytes,
    output: Output,
    include: IncludeObject,
) -> Result<Response<Body>, ApiError> {
    Ok(match output {
        Output::Protobuf => with_type(status, Bytes::from(to_protobuf(&bytes)?), PROTOBUF),
        Output::Json | Output::AggregatedDiscovery => json_bytes(status, bytes),
        Output::Yaml => with_type(status, to_yaml(&bytes)?, "application/yaml"),
        Output::Table => {
            let printer = table::printers::for_kind(resource.group, resource.kind);
            let rv = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.pointer("/metadata/resourceVersion").cloned())
                .unwrap_or(json!(""));
            let doc = table::table(printer, &[&bytes], include, json!({"resourceVersion": rv}));
            json_bytes(status, Bytes::from(doc.to_string()))
        }
        Output::PartialMetadata => {
            let value: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
            let doc = table::partial_metadata(&value);
            json_bytes(status, Bytes::from(doc.to_string()))
        }
    })
}

/// A stored object in protobuf, for a client that accepts nothing else.
pub fn to_protobuf(json: &[u8]) -> Result<Vec<u8>, ApiError> {
    let value: Value = serde_json::from_slice(json).map_err(ApiError::internal)?;
    crate::protobuf::encode(&value)
        .map_err(|e| ApiError::not_acceptable(&format!("application/json ({e})")))
}

/// `metadata` of a list.
pub fn list_meta(
    resource_version: &str,
    continue_token: Option<&str>,
    remaining: Option<u64>,
) -> Value {
    let mut meta = json!({ "resourceVersion": resource_version });
    if let Some(token) = continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(remaining) = remaining.filter(|&r| r > 0) {
        meta["remainingItemCount"] = json!(remaining);
    }
    meta
}

/// A list in the form the client asked for. JSON lists splice the stored bytes of each item.
pub fn list(
    resource: &Resource,
    items: &[Bytes],
    meta: Value,
    output: Output,
    include: IncludeObject,
) -> Result<Response<Body>, ApiError> {
    match output {
        Output::Protobuf => {
            let mut messages = Vec::with_capacity(items.len());
            for item in items {
                let value: Value = serde_json::from_slice(item).map_err(ApiError::internal)?;
                let (_, message) = crate::protobuf::encode_message(&value)
                    .map_err(|e| ApiError::not_acceptable(&format!("application/json ({e})")))?;
                messages.push(message);
            }
            let list_kind = format!("{}List", resource.kind);
            let doc =
                crate::protobuf::encode_list(&resource.api_version(), &list_kind, &meta, &messages)
                    .map_err(|e| ApiError::not_acceptable(&format!("application/json ({e})")))?;
            Ok(with_type(200, Bytes::from(doc), PROTOBUF))
        }
        Output::Json | Output::AggregatedDiscovery | Output::Yaml => {
            let size: usize = items.iter().map(|i| i.len() + 1).sum();
            let mut out = BytesMut::with_capacity(size + 256);
            let head = format!(
                "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
                resource.kind,
                resource.api_version(),
                meta
            );
            out.put_slice(head.as_bytes());
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b',');
                }
                out.put_slice(item);
            }
            out.put_slice(b"]}");
            let bytes = out.freeze();
            if output == Output::Yaml {
                return Ok(with_type(200, to_yaml(&bytes)?, "application/yaml"));
            }
            Ok(json_bytes(200, bytes))
        }
        Output::Table => {
            let printer = table::printers::for_kind(resource.group, resource.kind);
            let refs: Vec<&[u8]> = items.iter().map(|b| &b[..]).collect();
            let doc = table::table(printer, &refs, include, meta);
            Ok(json_bytes(200, Bytes::from(doc.to_string())))
        }
        Output::PartialMetadata => {
            let items: Vec<Value> = items
                .iter()
                .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
                .map(|v| table::partial_metadata(&v))
                .collect();
            let doc = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": items,
            });
            Ok(json_bytes(200, Bytes::from(doc.to_string())))
        }
    }
}

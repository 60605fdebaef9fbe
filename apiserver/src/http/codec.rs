//! Media types: decoding request bodies (JSON, YAML, the patch types) and choosing the
//! response form from `Accept` (JSON, YAML, `as=Table`, `as=PartialObjectMetadata[List]`,
//! aggregated discovery), as upstream's `endpoints/handlers/negotiation`.

use bytes::Bytes;
use serde_json::Value;

use crate::error::ApiError;
use crate::registry::PatchType;

/// Upstream's default limit on a request body (`MaxRequestBodyBytes`, 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What the client wants back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Output {
    Json,
    Yaml,
    /// `application/json;as=Table;g=meta.k8s.io;v=v1`.
    Table,
    /// `as=PartialObjectMetadata` or `as=PartialObjectMetadataList`.
    PartialMetadata,
    /// `as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2`.
    AggregatedDiscovery,
    /// `application/vnd.kubernetes.protobuf`, for clients that accept nothing else (JSON is
    /// preferred whenever it is acceptable: its bytes are the stored ones).
    Protobuf,
}

pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

struct MediaRange<'a> {
    essence: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

impl MediaRange<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

fn media_ranges(accept: &str) -> impl Iterator<Item = MediaRange<'_>> {
    accept.split(',').map(|range| {
        let mut parts = range.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default();
        let params = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        MediaRange { essence, params }
    })
}

/// Picks the first acceptable form in the client's order; `what` says which `as=` forms the
/// request can give (a Table of a list, of an object, discovery...).
pub fn negotiate(
    accept: Option<&str>,
    allow_table: bool,
    discovery: bool,
) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    let json_acceptable = media_ranges(accept).any(|r| {
        r.param("as").is_none()
            && matches!(
                r.essence,
                "application/json" | "*/*" | "application/*" | "application/yaml"
            )
    });
    for range in media_ranges(accept) {
        if range.essence == PROTOBUF && range.param("as").is_none() && !json_acceptable {
            return Ok(Output::Protobuf);
        }
        let json_like = matches!(range.essence, "application/json" | "*/*" | "application/*");
        let output = match (range.param("as"), range.param("g"), range.param("v")) {
            (None, _, _) if json_like => Some(Output::Json),
            (None, _, _) if range.essence == "application/yaml" => Some(Output::Yaml),
            (Some("Table"), Some("meta.k8s.io"), Some("v1")) if allow_table && json_like => {
                Some(Output::Table)
            }
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some("v1"),
            ) if json_like => Some(Output::PartialMetadata),
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2"))
                if discovery && json_like =>
            {
                Some(Output::AggregatedDiscovery)
            }
            _ => None,
        };
        if let Some(output) = output {
            return Ok(output);
        }
    }
    Err(ApiError::not_acceptable(
        "application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io",
    ))
}

/// A write's body as JSON, whatever format it came in.
pub fn decode_body(content_type: Option<&str>, body: &Bytes) -> Result<Value, ApiError> {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("application/json");
    match essence {
        "application/json" | "" => decode_json(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml(body),
        PROTOBUF => crate::protobuf::decode(body)
            .map(|(_, value)| value)
            .map_err(|e| ApiError::bad_request(format!("protobuf body: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

pub fn decode_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

pub fn decode_yaml(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the YAML body is not UTF-8"))?;
    serde_saphyr::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}

/// The patch type of a PATCH request's `Content-Type`.
pub fn patch_type(content_type: Option<&str>) -> Result<PatchType, ApiError> {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    match essence {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "not supported: server-side apply (application/apply-patch+yaml) is not implemented \
             yet; use client-side `kubectl apply`",
        )),
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types \
                 include: application/json-patch+json, application/merge-patch+json, \
                 application/strategic-merge-patch+json (got {other:?})"
            ),
        )),
    }
}

/// JSON bytes as YAML, for `Accept: application/yaml`.
pub fn to_yaml(json: &[u8]) -> Result<Bytes, ApiError> {
    let value: Value = serde_json::from_slice(json).map_err(ApiError::internal)?;
    serde_saphyr::to_string(&value)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_gets_a_table() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate(Some(accept), true, false).expect("ok"),
            Output::Table
        );
        assert_eq!(
            negotiate(Some(accept), false, false).expect("ok"),
            Output::Json
        );
        assert_eq!(negotiate(None, true, false).expect("ok"), Output::Json);
        assert_eq!(
            negotiate(Some("application/yaml"), true, false).expect("ok"),
            Output::Yaml
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf"), true, false).expect("ok"),
            Output::Protobuf
        );
        assert_eq!(
            negotiate(
                Some("application/vnd.kubernetes.protobuf, application/json"),
                true,
                false
            )
            .expect("ok"),
            Output::Json
        );
        assert_eq!(
            negotiate(Some("text/html"), true, false)
                .expect_err("an error")
                .code,
            406
        );
        let discovery =
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
        assert_eq!(
            negotiate(Some(discovery), false, true).expect("ok"),
            Output::AggregatedDiscovery
        );
        assert_eq!(
            negotiate(Some(discovery), false, false).expect("ok"),
            Output::Json
        );
    }

    #[test]
    fn bodies_decode_from_json_and_yaml() {
        let yaml = Bytes::from_static(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
        let value = decode_body(Some("application/yaml"), &yaml).expect("ok");
        assert_eq!(value["metadata"]["name"], "x");
        let bad = Bytes::from_static(b"{not json");
        assert_eq!(
            decode_body(Some("application/json"), &bad)
                .expect_err("an error")
                .code,
            400
        );
        assert_eq!(
            decode_body(Some("application/vnd.kubernetes.protobuf"), &bad)
                .expect_err("an error")
                .code,
            400
        );
        assert_eq!(
            decode_body(Some("application/cbor"), &bad)
                .expect_err("an error")
                .code,
            415
        );
    }
}

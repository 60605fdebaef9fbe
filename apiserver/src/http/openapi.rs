//! `/openapi/v2` and `/openapi/v3`: documents built once at start, served with their hash
//! as ETag; a v3 document asked for with its current hash may be cached for good (as
//! upstream's `handler3`).

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};

use super::respond;
use crate::error::ApiError;
use crate::server::ApiServer;

impl ApiServer {
    /// kubectl asks for v2 only as protobuf and falls back to its compiled-in types on 406.
    pub(crate) fn openapi_v2(&self, accept: Option<&str>) -> Result<Response<Body>, ApiError> {
        let json_ok = accept.is_none_or(|a| {
            a.split(',').any(|range| {
                let essence = range.split(';').next().unwrap_or_default().trim();
                matches!(essence, "application/json" | "*/*" | "application/*" | "")
            })
        });
        if !json_ok {
            return Err(ApiError::not_acceptable("application/json"));
        }
        let mut response = respond::json_bytes(200, self.openapi.v2_json());
        etag(&mut response, self.openapi.v2_hash());
        Ok(response)
    }

    pub(crate) fn openapi_v3_index(&self) -> Result<Response<Body>, ApiError> {
        let mut response = respond::json_bytes(200, self.openapi.v3_index());
        etag(&mut response, self.openapi.v3_index_hash());
        Ok(response)
    }

    pub(crate) fn openapi_v3(
        &self,
        path: &str,
        hash: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        let (Some(doc), Some(current)) =
            (self.openapi.v3_document(path), self.openapi.v3_hash(path))
        else {
            return Err(ApiError::path_not_found());
        };
        match hash {
            Some(wanted) if wanted != current => {
                // An old hash: send the client to the current document.
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
                if let Ok(location) =
                    HeaderValue::from_str(&format!("/openapi/v3/{path}?hash={current}"))
                {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                Ok(response)
            }
            Some(_) => {
                let mut response = respond::json_bytes(200, doc);
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, immutable"),
                );
                etag(&mut response, current);
                Ok(response)
            }
            None => {
                let mut response = respond::json_bytes(200, doc);
                etag(&mut response, current);
                Ok(response)
            }
        }
    }
}

fn etag(response: &mut Response<Body>, hash: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
}

//! The one entry point of every request: routes non-resource paths (version, health,
//! discovery, OpenAPI) and dispatches resource requests to the registry by verb.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::codec::{self, MAX_BODY_BYTES, Output};
use super::discovery::AGGREGATED_CONTENT_TYPE;
use super::request::{self, RequestInfo, Target, Verb};
use super::respond;
use crate::admission::RequestAdmission;
use crate::auth::{UserInfo, oidc};
use crate::error::ApiError;
use crate::registry::{
    DeleteOptions, Deleted, FieldValidation, Filter, ListOptions, PropagationPolicy, RvMatch,
    WatchEvent, WatchEventType, WatchOptions, WriteOptions,
};
use crate::resources::{Resource, Subresource};
use crate::server::ApiServer;
use crate::table::{self, IncludeObject};

/// Upstream's `--min-request-timeout`: a watch without `timeoutSeconds` ends after a random
/// time between this and twice it, so that clients spread their re-watches.
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(1800);

/// Query parameters, by name.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true" | "1" | "True") => Ok(Some(true)),
            Some("false" | "0" | "False" | "") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid boolean value for {name}: {other:?}"
            ))),
        }
    }

    fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid integer value for {name}: {v:?}"))
                })
            })
            .transpose()
    }
}

/// What the request metrics record a request under: requests to resources only.
fn metered(method: &Method, uri: &http::Uri) -> Option<request::RequestInfo> {
    let watch = Query::parse(uri.query()).flag("watch").ok().flatten().unwrap_or(false);
    match request::parse(method, uri.path(), watch)? {
        Target::Resource(info) => Some(info),
        _ => None,
    }
}

impl ApiServer {
    /// Answers one request; `certificate` is the identity of the client's verified
    /// certificate, if it presented one.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Body>,
        certificate: Option<Arc<crate::pki::CertificateUser>>,
    ) -> Response<Body> {
        let user = self
            .authenticate(req.headers(), certificate.as_deref())
            .await;
        self.serve_as(req, user).await
    }

    /// Answers a request of an in-process client acting as `user` (see `http/local.rs`):
    /// authorized and admitted like any other.
    pub async fn handle_as(self: Arc<Self>, req: Request<Body>, user: UserInfo) -> Response<Body> {
        self.serve_as(req, Ok(user)).await
    }

    async fn serve_as(
        self: Arc<Self>,
        req: Request<Body>,
        user: Result<UserInfo, ApiError>,
    ) -> Response<Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let started = std::time::Instant::now();
        let info = metered(&method, req.uri());
        let filtered = match user {
            Ok(user) => self.filter(&method, req.uri(), req.headers(), user).await,
            Err(error) => Err(error),
        };
        let result = match filtered {
            Ok(user) => self.route(req, &user).await,
            Err(error) => Err(error),
        };
        let response = result.unwrap_or_else(|error| respond::error(&error));
        tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
        if let Some(info) = info {
            self.request_metrics
                .record(&info, response.status().as_u16(), started.elapsed());
        }
        response
    }

    async fn route(
        self: &Arc<Self>,
        req: Request<Body>,
        user: &UserInfo,
    ) -> Result<Response<Body>, ApiError> {
        let path = req.uri().path().to_owned();
        let query = Query::parse(req.uri().query());
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match path.as_str() {
            "/version" | "/version/" => return Ok(respond::json_bytes(200, self.version_json())),
            "/healthz" | "/livez" | "/readyz" | "/healthz/ping" | "/livez/ping"
            | "/readyz/ping" => return Ok(self.health(&path)),
            "/metrics" => return Ok(self.metrics()),
            "/openapi/v2" => return self.openapi_v2(accept.as_deref()),
            "/openapi/v3" => return self.openapi_v3_index(),
            oidc::CONFIGURATION_PATH | oidc::JWKS_PATH => {
                let Some(tokens) = &self.service_account_tokens else {
                    return Err(ApiError::path_not_found());
                };
                let (doc, content_type) = if path == oidc::JWKS_PATH {
                    (oidc::jwks(tokens), "application/jwk-set+json")
                } else {
                    (oidc::configuration(tokens), "application/json")
                };
                return Ok(respond::with_type(
                    200,
                    Bytes::from(doc.to_string()),
                    content_type,
                ));
            }
            _ => {}
        }
        if let Some(doc) = path.strip_prefix("/openapi/v3/") {
            return self.openapi_v3(doc, query.get("hash"));
        }
        let watch_param = query.flag("watch")?.unwrap_or(false);
        let Some(target) = request::parse(req.method(), &path, watch_param) else {
            return Err(ApiError::path_not_found());
        };
        if !matches!(target, Target::Resource(_)) && req.method() != Method::GET {
            return Err(ApiError::method_not_allowed());
        }
        match target {
            Target::Root { legacy } => match codec::negotiate(accept.as_deref(), false, true)? {
                Output::AggregatedDiscovery => {
                    let doc = if legacy {
                        self.discovery.aggregated_legacy.clone()
                    } else {
                        self.discovery.aggregated_groups.clone()
                    };
                    Ok(respond::with_type(200, doc, AGGREGATED_CONTENT_TYPE))
                }
                _ if legacy => Ok(respond::json_bytes(
                    200,
                    self.discovery.api_versions.clone(),
                )),
                _ => Ok(respond::json_bytes(200, self.discovery.group_list.clone())),
            },
            Target::Group(group) => self
                .discovery
                .group(&group)
                .map(|doc| respond::json_bytes(200, doc.clone()))
                .ok_or_else(ApiError::path_not_found),
            Target::GroupVersion { group, version } => {
                let key = match group.as_str() {
                    "" => format!("api/{version}"),
                    g => format!("apis/{g}/{version}"),
                };
                self.discovery
                    .resource_list(&key)
                    .map(|doc| respond::json_bytes(200, doc.clone()))
                    .ok_or_else(ApiError::path_not_found)
            }
            Target::Resource(info) => self.resource(req, info, query, accept, user).await,
        }
    }

    fn version_json(&self) -> Bytes {
        let doc = json!({
            "major": "1",
            "minor": "35",
            "gitVersion": crate::server::GIT_VERSION,
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "",
            "goVersion": "",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
        });
        Bytes::from(doc.to_string())
    }

    async fn resource(
        self: &Arc<Self>,
        req: Request<Body>,
        info: RequestInfo,
        query: Query,
        accept: Option<String>,
        user: &UserInfo,
    ) -> Result<Response<Body>, ApiError> {
        let Some(resource) = self
            .resources
            .get(&info.group, &info.version, &info.resource)
            .cloned()
        else {
            return Err(ApiError::path_not_found());
        };
        if resource.namespaced != info.namespace.is_some()
            && !(info.namespace.is_none()
                && matches!(info.verb, Verb::List | Verb::Watch | Verb::DeleteCollection))
        {
            return Err(ApiError::path_not_found());
        }
        let subresource = match info.subresource.as_deref() {
            None => None,
            Some(name) => Some(
                resource
                    .subresources
                    .iter()
                    .copied()
                    .find(|s| s.name() == name)
                    .ok_or_else(ApiError::path_not_found)?,
            ),
        };
        let allow_table = matches!(
            subresource,
            None | Some(Subresource::Status | Subresource::Approval)
        );
        let output = codec::negotiate(accept.as_deref(), allow_table, false)?;
        let include = match query.get("includeObject") {
            None | Some("") | Some("PartialObjectMetadata") => IncludeObject::Metadata,
            Some("Object") => IncludeObject::Object,
            Some("None") => IncludeObject::None,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "invalid includeObject value: {other:?}"
                )));
            }
        };
        let ns = info.namespace.as_deref();
        let name = info.name.as_deref().unwrap_or_default();
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_body(req).await?;
        let registry = &self.registry;
        let r = &*resource;
        // A version stored as another one: the registry works on the stored version, and
        // what it returns is converted back.
        let stored = Arc::clone(registry.storage_of(&resource));
        let s = &*stored;
        let out = |bytes: Bytes| convert_out(r, bytes);
        if r.create_only {
            if info.verb != Verb::Create || subresource.is_some() {
                return Err(ApiError::method_not_allowed());
            }
            let value = codec::decode_body(content_type.as_deref(), &body)?;
            let answer = self.review(r, ns, user, value).await?;
            return respond::object(201, r, Bytes::from(answer.to_string()), output, include);
        }
        let admission = RequestAdmission::handle(self, user);
        match (info.verb, subresource) {
            (Verb::Get, None | Some(Subresource::Status | Subresource::Approval)) => {
                let bytes = registry.get(s, ns, name).await?;
                respond::object(200, r, out(bytes)?, output, include)
            }
            (Verb::List, None) => {
                let opts = list_options(r, &query)?;
                let listed = registry.list(s, ns, &opts).await?;
                let items: Vec<Bytes> = listed
                    .items
                    .into_iter()
                    .map(out)
                    .collect::<Result<_, _>>()?;
                let meta = respond::list_meta(
                    &listed.resource_version.to_string(),
                    listed.continue_token.as_deref(),
                    listed.remaining,
                );
                respond::list(r, &items, meta, output, include)
            }
            (Verb::Watch, None) => {
                self.watch(
                    Arc::clone(&resource),
                    Arc::clone(&stored),
                    ns,
                    &query,
                    output,
                    include,
                )
                .await
            }
            (Verb::Create, None) => {
                let mut opts = write_options(&query)?;
                opts.admission = Some(admission);
                opts.duplicate_fields = super::duplicates::duplicate_fields(&body);
                let value = convert_in(r, codec::decode_body(content_type.as_deref(), &body)?)?;
                let written = registry.create(s, ns, value, &opts).await?;
                let response = respond::object(201, r, out(written.bytes)?, output, include)?;
                Ok(respond::warn(response, &written.warnings))
            }
            (
                Verb::Update,
                None | Some(Subresource::Status | Subresource::Finalize | Subresource::Approval),
            ) => {
                let mut opts = write_options(&query)?;
                opts.admission = Some(admission);
                opts.duplicate_fields = super::duplicates::duplicate_fields(&body);
                let value = convert_in(r, codec::decode_body(content_type.as_deref(), &body)?)?;
                let written = registry
                    .update(s, ns, name, subresource, value, &opts)
                    .await?;
                let status = if written.created { 201 } else { 200 };
                let response = respond::object(status, r, out(written.bytes)?, output, include)?;
                Ok(respond::warn(response, &written.warnings))
            }
            (Verb::Patch, None | Some(Subresource::Status | Subresource::Approval)) => {
                let mut opts = write_options(&query)?;
                opts.admission = Some(admission);
                let patch_type = codec::patch_type(content_type.as_deref())?;
                let patch = codec::decode_json(&body)?;
                let written = registry
                    .patch(r, ns, name, subresource, patch_type, patch, &opts)
                    .await?;
                let response = respond::object(200, r, out(written.bytes)?, output, include)?;
                Ok(respond::warn(response, &written.warnings))
            }
            (Verb::Delete, None) => {
                let mut opts = delete_options(&query, content_type.as_deref(), &body)?;
                opts.admission = Some(admission);
                let deleted = if r.is_namespaces() {
                    self.delete_namespace(name, &opts).await?
                } else {
                    registry.delete(s, ns, name, &opts).await?
                };
                match deleted {
                    Deleted::Gone(bytes) => respond::object(200, r, out(bytes)?, output, include),
                    Deleted::Pending(bytes) => {
                        respond::object(202, r, out(bytes)?, output, include)
                    }
                }
            }
            (Verb::DeleteCollection, None) if r.is_namespaces() => {
                Err(ApiError::method_not_allowed())
            }
            (Verb::DeleteCollection, None) => {
                let list = list_options(r, &query)?;
                let mut opts = delete_options(&query, content_type.as_deref(), &body)?;
                opts.admission = Some(admission);
                let deleted = registry.delete_collection(s, ns, &list, &opts).await?;
                let items: Vec<Bytes> = deleted
                    .into_iter()
                    .map(|d| match d {
                        Deleted::Gone(b) | Deleted::Pending(b) => out(b),
                    })
                    .collect::<Result<_, _>>()?;
                let rv = registry
                    .store()
                    .partition_for_key(&r.prefix(None))
                    .revision();
                respond::list(
                    r,
                    &items,
                    respond::list_meta(&rv.to_string(), None, None),
                    output,
                    include,
                )
            }
            (verb, Some(sub)) => {
                super::subresource::handle(
                    self,
                    user,
                    &admission,
                    r,
                    ns,
                    name,
                    sub,
                    verb,
                    &query,
                    content_type.as_deref(),
                    &body,
                )
                .await
            }
        }
    }

    async fn watch(
        self: &Arc<Self>,
        resource: Arc<Resource>,
        stored: Arc<Resource>,
        namespace: Option<&str>,
        query: &Query,
        output: Output,
        include: IncludeObject,
    ) -> Result<Response<Body>, ApiError> {
        let filter = Filter::parse(
            &resource,
            query.get("labelSelector"),
            query.get("fieldSelector"),
        )?;
        let timeout = match query.int("timeoutSeconds")? {
            Some(seconds) if seconds > 0 => Duration::from_secs(seconds.unsigned_abs()),
            _ => {
                let jitter = uuid::Uuid::new_v4().as_u128() as u64 % MIN_REQUEST_TIMEOUT.as_secs();
                MIN_REQUEST_TIMEOUT + Duration::from_secs(jitter)
            }
        };
        let opts = WatchOptions {
            resource_version: query.get("resourceVersion").unwrap_or_default().to_owned(),
            allow_bookmarks: query.flag("allowWatchBookmarks")?.unwrap_or(false),
            send_initial_events: query.flag("sendInitialEvents")?,
            timeout: Some(timeout),
            filter,
        };
        if opts.send_initial_events.is_some()
            && query.get("resourceVersionMatch") != Some("NotOlderThan")
        {
            return Err(ApiError::invalid(
                &resource,
                "",
                vec![crate::error::FieldError::forbidden(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                )],
            ));
        }
        let stream = self.registry.watch(stored, namespace, opts).await?;
        let body = futures::stream::unfold(stream, move |mut stream| {
            let resource = Arc::clone(&resource);
            async move {
                let event = stream.next().await?;
                let line = encode_event(&resource, &event, output, include);
                Some((Ok::<Bytes, std::io::Error>(line), stream))
            }
        });
        let mut response = Response::new(Body::from_stream(body.boxed()));
        let content_type = if output == Output::Protobuf {
            "application/vnd.kubernetes.protobuf;stream=watch"
        } else {
            "application/json"
        };
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        Ok(response)
    }
}

/// A stored object in the version `resource` serves.
fn convert_out(resource: &Resource, bytes: Bytes) -> Result<Bytes, ApiError> {
    let Some(conversion) = resource.conversion else {
        return Ok(bytes);
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    let served = (conversion.from_storage)(value)?;
    Ok(Bytes::from(served.to_string()))
}

/// A body of the version `resource` serves, in the stored version.
fn convert_in(resource: &Resource, value: Value) -> Result<Value, ApiError> {
    match resource.conversion {
        None => Ok(value),
        Some(conversion) => (conversion.to_storage)(value),
    }
}

/// One watch event as a line of JSON, its object spliced in as stored.
fn encode_event(
    resource: &Resource,
    event: &WatchEvent,
    output: Output,
    include: IncludeObject,
) -> Bytes {
    let converted;
    let event = if resource.conversion.is_some() && event.kind != WatchEventType::Error {
        converted = WatchEvent {
            kind: event.kind,
            object: convert_out(resource, event.object.clone())
                .unwrap_or_else(|_| event.object.clone()),
        };
        &converted
    } else {
        event
    };
    if output == Output::Protobuf {
        // Length-prefixed WatchEvent frames; the object inside carries the protobuf envelope.
        let object = respond::to_protobuf(&event.object).unwrap_or_default();
        return Bytes::from(crate::protobuf::encode_watch_event(
            event.kind.as_str(),
            &object,
        ));
    }
    let object: Bytes = match (output, event.kind) {
        (_, WatchEventType::Error | WatchEventType::Bookmark)
        | (Output::Json | Output::Yaml | Output::AggregatedDiscovery | Output::Protobuf, _) => {
            event.object.clone()
        }
        (Output::Table, _) => {
            let printer = table::printers::for_kind(resource.group, resource.kind);
            let rv = serde_json::from_slice::<Value>(&event.object)
                .ok()
                .and_then(|v| v.pointer("/metadata/resourceVersion").cloned())
                .unwrap_or(json!(""));
            let doc = table::table(
                printer,
                &[&event.object],
                include,
                json!({"resourceVersion": rv}),
            );
            Bytes::from(doc.to_string())
        }
        (Output::PartialMetadata, _) => {
            let value: Value = serde_json::from_slice(&event.object).unwrap_or(Value::Null);
            Bytes::from(table::partial_metadata(&value).to_string())
        }
    };
    let mut line = Vec::with_capacity(object.len() + 32);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(event.kind.as_str().as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(&object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

async fn read_body(req: Request<Body>) -> Result<Bytes, ApiError> {
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && length > MAX_BODY_BYTES
    {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::too_large(MAX_BODY_BYTES))
        }
        Err(error) => Err(ApiError::bad_request(format!(
            "reading the body failed: {error}"
        ))),
    }
}

pub(crate) fn write_options(query: &Query) -> Result<WriteOptions, ApiError> {
    let dry_run = match query.get("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid dry run value: {other:?}: supported values: \"All\""
            )));
        }
    };
    let field_validation = match query.get("fieldValidation") {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Ignore") => FieldValidation::Ignore,
        Some("Strict") => FieldValidation::Strict,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \
                 \"Strict\", \"Warn\""
            )));
        }
    };
    Ok(WriteOptions {
        dry_run,
        field_validation,
        duplicate_fields: Vec::new(),
        admission: None,
    })
}

fn list_options(resource: &Resource, query: &Query) -> Result<ListOptions, ApiError> {
    let rv_match = match query.get("resourceVersionMatch") {
        None | Some("") => RvMatch::Unset,
        Some("NotOlderThan") => RvMatch::NotOlderThan,
        Some("Exact") => RvMatch::Exact,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "resourceVersionMatch: Unsupported value: {other:?}: supported values: \
                 \"Exact\", \"NotOlderThan\""
            )));
        }
    };
    let limit = match query.int("limit")? {
        Some(n) if n > 0 => NonZeroU64::new(n.unsigned_abs()),
        _ => None,
    };
    Ok(ListOptions {
        resource_version: query.get("resourceVersion").unwrap_or_default().to_owned(),
        rv_match,
        limit,
        continue_token: query
            .get("continue")
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        filter: Filter::parse(
            resource,
            query.get("labelSelector"),
            query.get("fieldSelector"),
        )?,
    })
}

/// The options of a delete: the query's, else the body's `DeleteOptions` (JSON, YAML or
/// protobuf, as `content_type` says; client-go sends protobuf when it speaks protobuf).
pub(crate) fn delete_options(
    query: &Query,
    content_type: Option<&str>,
    body: &Bytes,
) -> Result<DeleteOptions, ApiError> {
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        codec::decode_body(content_type, body)?
    };
    let propagation_str = query
        .get("propagationPolicy")
        .map(str::to_owned)
        .or_else(|| {
            body.get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| {
            // The deprecated `orphanDependents` field.
            body.get("orphanDependents")
                .and_then(Value::as_bool)
                .map(|orphan| if orphan { "Orphan" } else { "Background" }.to_owned())
        });
    let propagation = match propagation_str.as_deref() {
        None | Some("") => None,
        Some("Orphan") => Some(PropagationPolicy::Orphan),
        Some("Background") => Some(PropagationPolicy::Background),
        Some("Foreground") => Some(PropagationPolicy::Foreground),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \
                 \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let grace = match query.int("gracePeriodSeconds")? {
        Some(g) => Some(g),
        None => body.get("gracePeriodSeconds").and_then(Value::as_i64),
    };
    let dry_run = query.get("dryRun") == Some("All")
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        grace_period_seconds: grace,
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        precondition_rv: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        propagation,
        dry_run,
        admission: None,
    })
}

/// Go's name of this machine's architecture, as `/version` reports it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_options_come_in_json_or_protobuf() {
        let options = json!({
            "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
            "propagationPolicy": "Foreground", "preconditions": {"uid": "u-1"},
        });
        let protobuf = Bytes::from(crate::protobuf::encode(&options).expect("encodes"));
        let json_body = Bytes::from(options.to_string());
        for (content_type, body) in [
            (Some(codec::PROTOBUF), &protobuf),
            (Some("application/json"), &json_body),
            (None, &json_body),
        ] {
            let opts = delete_options(&Query::parse(None), content_type, body).expect("options");
            assert_eq!(opts.grace_period_seconds, Some(0), "{content_type:?}");
            assert_eq!(opts.propagation, Some(PropagationPolicy::Foreground));
            assert_eq!(opts.precondition_uid.as_deref(), Some("u-1"));
        }
        let garbage = Bytes::from_static(b"\x00\x01not json");
        let err = delete_options(&Query::parse(None), None, &garbage).expect_err("refused");
        assert_eq!(err.code, 400);
    }
}

//! The OpenAPI documents the server publishes, built once at start-up from the served
//! resources: Swagger 2.0 at `/openapi/v2`, and OpenAPI 3.0 as an index at `/openapi/v3` plus
//! one document per group version at `/openapi/v3/api/v1`, `/openapi/v3/apis/<group>/<version>`.
//!
//! Schemas come from k8s-openapi's schemars impls; what those lack is added here, as upstream's
//! kube-openapi emits it: the patch and list metadata of every field (`extensions`, generated
//! from upstream's spec), `x-kubernetes-group-version-kind` on kinds and operations, the
//! `List` kinds, and the v2/v3 forms of `Quantity` and `IntOrString`. Clients rely on these:
//! `kubectl explain` reads the v3 documents, `kubectl apply` computes strategic merge patches
//! from them and, for `--validate=strict`, checks that the PATCH operation of the kind
//! accepts `fieldValidation` (`k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go`).
//!
//! Every map is sorted, so the bytes and their hashes are the same on every start (given the
//! same resources).
//! How a document is served (upstream `k8s.io/kube-openapi/pkg/handler3`): a v3 document is
//! addressed as `...?hash=<hash>`; when the hash matches it may be cached for good
//! (`Cache-Control: public, immutable`), when it does not the client is redirected to the
//! current hash. The `ETag` is the quoted hash. `/openapi/v2` is JSON only: a client asking
//! for the protobuf form should get 406 and then fall back (kubectl does).

pub mod extensions;
mod paths;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde_json::{Value, json};

/// One served resource (a kind at one group version), as the registry knows it.
pub struct ServedResource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The resource name in URLs, e.g. `pods`.
    pub plural: &'static str,
    pub namespaced: bool,
    /// Object subresources: `status`, `scale`, `binding`, `eviction`; any other name is
    /// documented like `status` (get, replace and patch of the whole kind).
    pub subresources: Vec<&'static str>,
    /// Adds the kind's schema (and everything it references) to the generator; returns the
    /// `$ref` schema, e.g. `|g| g.subschema_for::<k8s_openapi::api::core::v1::Pod>()`.
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// The definition name, e.g. `io.k8s.api.core.v1.Pod` (the schemars `schema_name`).
    pub definition: String,
}

impl ServedResource {
    /// `api/v1` or `apis/<group>/<version>`: the URL prefix without its leading slash, which
    /// is also the key of the group version in the `/openapi/v3` index.
    pub fn group_version_path(&self) -> String {
        group_version_path(self.group, self.version)
    }
}

fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A serialized document and the hash of its bytes (upper-case hex).
#[derive(Debug, Clone)]
struct Document {
    bytes: Bytes,
    hash: String,
}

impl Document {
    fn new(mut value: Value) -> Document {
        // Maps are sorted already unless serde_json's `preserve_order` is on in the build.
        value.sort_all_objects();
        let bytes = serde_json::to_vec(&value).expect("a JSON value with string keys serializes");
        let hash = content_hash(&bytes);
        let bytes = Bytes::from(bytes);
        Document { bytes, hash }
    }
}

/// The documents, serialized once.
#[derive(Debug, Clone)]
pub struct OpenApi {
    v2: Document,
    v3_index: Document,
    /// Keyed by `api/v1`, `apis/apps/v1`, ...
    v3: BTreeMap<String, Document>,
}

impl OpenApi {
    pub fn new(resources: &[ServedResource]) -> OpenApi {
        let definitions = schema::Definitions::collect(resources);
        let group_versions: BTreeSet<(&str, &str)> =
            resources.iter().map(|r| (r.group, r.version)).collect();

        let v2 = json!({
            "swagger": "2.0",
            "info": { "title": "Kubernetes", "version": "v1.35.0" },
            "paths": paths::document_paths(resources, paths::Dialect::V2),
            "definitions": definitions.v2(),
            "securityDefinitions": { "BearerToken": bearer_token_scheme() },
            "security": [{ "BearerToken": [] }],
        });

        let mut v3 = BTreeMap::new();
        let mut index = serde_json::Map::new();
        for (group, version) in group_versions {
            let served: Vec<&ServedResource> = resources
                .iter()
                .filter(|r| r.group == group && r.version == version)
                .collect();
            let doc_paths = paths::document_paths(served.iter().copied(), paths::Dialect::V3);
            let document = Document::new(json!({
                "openapi": "3.0.0",
                "info": { "title": "Kubernetes", "version": "v1.35.0" },
                "paths": doc_paths,
                "components": {
                    "schemas": definitions.v3_reachable_from(&doc_paths),
                    "securitySchemes": { "BearerToken": bearer_token_scheme() },
                },
                "security": [{ "BearerToken": [] }],
            }));
            let path = group_version_path(group, version);
            let url = format!("/openapi/v3/{path}?hash={}", document.hash);
            index.insert(path.clone(), json!({ "serverRelativeURL": url }));
            v3.insert(path, document);
        }

        OpenApi {
            v2: Document::new(v2),
            v3_index: Document::new(json!({ "paths": index })),
            v3,
        }
    }

    /// The Swagger 2.0 document (`/openapi/v2`, JSON).
    pub fn v2_json(&self) -> Bytes {
        self.v2.bytes.clone()
    }

    /// The hash of the v2 document, for its `ETag` (quoted).
    pub fn v2_hash(&self) -> &str {
        &self.v2.hash
    }

    /// The v3 index (`/openapi/v3`): `{"paths": {"api/v1": {"serverRelativeURL": ...}}}`.
    pub fn v3_index(&self) -> Bytes {
        self.v3_index.bytes.clone()
    }

    pub fn v3_index_hash(&self) -> &str {
        &self.v3_index.hash
    }

    /// The v3 document of one group version; `path` is `api/v1` or `apis/<group>/<version>`.
    pub fn v3_document(&self, path: &str) -> Option<Bytes> {
        self.v3.get(path).map(|d| d.bytes.clone())
    }

    /// The `?hash=` of the v3 document at `path` (and its `ETag`, quoted).
    pub fn v3_hash(&self, path: &str) -> Option<&str> {
        self.v3.get(path).map(|d| d.hash.as_str())
    }

    /// The group-version paths that have a v3 document, sorted.
    pub fn v3_paths(&self) -> impl Iterator<Item = &str> {
        self.v3.keys().map(String::as_str)
    }
}

fn bearer_token_scheme() -> Value {
    json!({
        "type": "apiKey",
        "in": "header",
        "name": "authorization",
        "description": "Bearer Token authentication",
    })
}

/// 128-bit FNV-1a in upper-case hex. The hash only names a version of a document for caches;
/// it need not resist forgery (upstream uses SHA-512 for the same purpose).
fn content_hash(bytes: &[u8]) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let hash = bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u128::from(*b)).wrapping_mul(PRIME));
    format!("{hash:032X}")
}

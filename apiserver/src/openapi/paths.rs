//! Paths and operations of the served resources, in the shape of upstream's documents
//! (`k8s.io/apiserver/pkg/endpoints/installer.go` decides which exist): per resource the
//! collection (list, create, deletecollection), the object (read, replace, patch, delete),
//! the list across namespaces, the deprecated `/watch/` paths, and the subresources.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ServedResource;
use super::schema::{V2_PREFIX, V3_PREFIX};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    V2,
    V3,
}

impl Dialect {
    fn reference(self, definition: &str) -> Value {
        let prefix = if self == Dialect::V2 {
            V2_PREFIX
        } else {
            V3_PREFIX
        };
        json!({ "$ref": format!("{prefix}{definition}") })
    }
}

/// Every parameter: name, type, description. `name` and `namespace` are path parameters.
#[rustfmt::skip]
const PARAMETERS: &[(&str, &str, &str)] = &[
    ("allowWatchBookmarks", "boolean", "Watch only: ask for BOOKMARK events."),
    ("continue", "string", "The continue token of the previous page of a list."),
    ("dryRun", "string", "When present (valid value: All), modifications are not persisted."),
    ("fieldManager", "string", "The actor making the change, recorded in managedFields."),
    ("fieldSelector", "string", "Restrict the returned objects by their fields."),
    ("fieldValidation", "string", "How to treat unknown or duplicate fields in the object: \
        Ignore, Warn (the default) or Strict (reject the request)."),
    ("force", "boolean", "Apply only: take over fields that other managers own."),
    ("gracePeriodSeconds", "integer", "Seconds before the object is deleted; 0: at once."),
    ("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean",
        "Delete an object that cannot be read from storage (decoding or decryption fails)."),
    ("labelSelector", "string", "Restrict the returned objects by their labels."),
    ("limit", "integer", "The most objects to return in one page."),
    ("name", "string", "name of the object"),
    ("namespace", "string", "object name and auth scope, such as for teams and projects"),
    ("orphanDependents", "boolean", "Deprecated, use propagationPolicy."),
    ("pretty", "string", "If 'true', the output is pretty printed."),
    ("propagationPolicy", "string", "How dependents go: Orphan, Background or Foreground."),
    ("resourceVersion", "string", "Which version of the data to serve (see resourceVersionMatch) \
        or, for a watch, where to start."),
    ("resourceVersionMatch", "string", "How resourceVersion applies: Exact or NotOlderThan."),
    ("sendInitialEvents", "boolean", "Watch only: start with ADDED events for the current state."),
    ("timeoutSeconds", "integer", "Time limit of the list or watch call."),
    ("watch", "boolean", "Watch for changes instead of listing."),
];

const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];
#[rustfmt::skip]
const DELETE_PARAMS: &[&str] = &["dryRun", "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential", "orphanDependents", "propagationPolicy"];
#[rustfmt::skip]
const LIST_PARAMS: &[&str] = &["allowWatchBookmarks", "continue", "fieldSelector",
    "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents",
    "timeoutSeconds", "watch"];
#[rustfmt::skip]
const DELETE_COLLECTION_PARAMS: &[&str] = &["continue", "dryRun", "fieldSelector",
    "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential", "labelSelector",
    "limit", "orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch",
    "sendInitialEvents", "timeoutSeconds"];

#[rustfmt::skip]
const PATCH_TYPES: &[&str] = &["application/apply-patch+yaml", "application/json-patch+json",
    "application/merge-patch+json", "application/strategic-merge-patch+json"];
const PRODUCES: &[&str] = &["application/json", "application/yaml"];
#[rustfmt::skip]
const PRODUCES_WATCH: &[&str] =
    &["application/json", "application/json;stream=watch", "application/yaml"];
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

/// What an operation takes in its body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    /// The object itself (create, replace).
    Object,
    Patch,
    DeleteOptions,
}

/// One verb: how its operations look, whatever the resource. In the description, `{sub}` is
/// "status of " and the like for subresources.
struct Verb {
    method: &'static str,
    /// How operationIds of subresources start: `read`, `replace`, ...
    id: &'static str,
    action: &'static str,
    body: Body,
    responses: &'static [&'static str],
    query: &'static [&'static str],
    description: &'static str,
}

#[rustfmt::skip]
mod verbs {
    use super::Body::{self, DeleteOptions, Object};
    use super::{DELETE_COLLECTION_PARAMS, DELETE_PARAMS, LIST_PARAMS, PATCH_PARAMS, Verb};
    use super::WRITE_PARAMS;

    const fn verb(method: &'static str, id: &'static str, action: &'static str, body: Body,
        responses: &'static [&'static str], query: &'static [&'static str],
        description: &'static str) -> Verb {
        Verb { method, id, action, body, responses, query, description }
    }
    const CREATED: &[&str] = &["200", "201"];
    const ACCEPTED: &[&str] = &["200", "201", "202"];

    pub(super) const READ: Verb = verb("get", "read", "get", Body::None, &["200"], &[],
        "read {sub}the specified {kind}");
    pub(super) const LIST: Verb = verb("get", "list", "list", Body::None, &["200"], LIST_PARAMS,
        "list or watch objects of kind {kind}");
    pub(super) const CREATE: Verb = verb("post", "create", "post", Object, ACCEPTED, WRITE_PARAMS,
        "create {sub}a {kind}");
    pub(super) const REPLACE: Verb = verb("put", "replace", "put", Object, CREATED, WRITE_PARAMS,
        "replace {sub}the specified {kind}");
    pub(super) const PATCH: Verb = verb("patch", "patch", "patch", Body::Patch, CREATED,
        PATCH_PARAMS, "partially update {sub}the specified {kind}");
    pub(super) const DELETE: Verb = verb("delete", "delete", "delete", DeleteOptions,
        &["200", "202"], DELETE_PARAMS, "delete a {kind}");
    pub(super) const DELETE_COLLECTION: Verb = verb("delete", "delete", "deletecollection",
        DeleteOptions, &["200"], DELETE_COLLECTION_PARAMS, "delete collection of {kind}");
    pub(super) const WATCH: Verb = verb("get", "watch", "watch", Body::None, &["200"], LIST_PARAMS,
        "watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with \
        a list operation instead, filtered to a single item with the 'fieldSelector' parameter.");
    pub(super) const WATCH_LIST: Verb = verb("get", "watch", "watchlist", Body::None, &["200"],
        LIST_PARAMS, "watch individual changes to a list of {kind}. deprecated: use the 'watch' \
        parameter with a list operation instead.");
}
use verbs::{CREATE, DELETE, DELETE_COLLECTION, LIST, PATCH, READ, REPLACE, WATCH, WATCH_LIST};

/// The operations of every resource: path after the group version (`{scope}` becomes
/// `namespaces/{namespace}/` for namespaced resources), verb, the definition of the response,
/// and operationId (`{gv}`: `CoreV1`, `AppsV1`; `{ns}`: `Namespaced` or nothing).
#[rustfmt::skip]
const OPERATIONS: &[(&str, &Verb, &str, &str)] = &[
    ("{scope}{plural}", &LIST, "{definition}List", "list{gv}{ns}{kind}"),
    ("{scope}{plural}", &CREATE, "{definition}", "create{gv}{ns}{kind}"),
    ("{scope}{plural}", &DELETE_COLLECTION, "{meta}.Status", "delete{gv}Collection{ns}{kind}"),
    ("{scope}{plural}/{name}", &READ, "{definition}", "read{gv}{ns}{kind}"),
    ("{scope}{plural}/{name}", &REPLACE, "{definition}", "replace{gv}{ns}{kind}"),
    ("{scope}{plural}/{name}", &PATCH, "{definition}", "patch{gv}{ns}{kind}"),
    ("{scope}{plural}/{name}", &DELETE, "{meta}.Status", "delete{gv}{ns}{kind}"),
    ("watch/{scope}{plural}", &WATCH_LIST, "{meta}.WatchEvent", "watch{gv}{ns}{kind}List"),
    ("watch/{scope}{plural}/{name}", &WATCH, "{meta}.WatchEvent", "watch{gv}{ns}{kind}"),
];

/// The operations across all namespaces of a namespaced resource.
#[rustfmt::skip]
const ALL_NAMESPACES: &[(&str, &Verb, &str, &str)] = &[
    ("{plural}", &LIST, "{definition}List", "list{gv}{kind}ForAllNamespaces"),
    ("watch/{plural}", &WATCH_LIST, "{meta}.WatchEvent", "watch{gv}{kind}ListForAllNamespaces"),
];

/// Subresources acting on another kind: name, verbs, and that kind (group, version, kind,
/// definition). Any other subresource acts on the resource's own kind with read, replace and
/// patch, like `status`.
#[rustfmt::skip]
const OTHER_KIND_SUBRESOURCES: &[(&str, &[&Verb], [&str; 4])] = &[
    ("scale", &[&READ, &REPLACE, &PATCH],
        ["autoscaling", "v1", "Scale", "io.k8s.api.autoscaling.v1.Scale"]),
    ("binding", &[&CREATE], ["", "v1", "Binding", "io.k8s.api.core.v1.Binding"]),
    ("eviction", &[&CREATE], ["policy", "v1", "Eviction", "io.k8s.api.policy.v1.Eviction"]),
];

/// The group, version and kind an operation acts on, and the definition of its response.
#[derive(Clone, Copy)]
struct Target<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
    definition: &'a str,
}

/// The `paths` object of a document that serves `resources`.
pub(super) fn document_paths<'a>(
    resources: impl IntoIterator<Item = &'a ServedResource>,
    dialect: Dialect,
) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for r in resources {
        for (path, method, operation) in resource_operations(r, dialect) {
            let item = paths.entry(path.clone()).or_default();
            if !item.contains_key("parameters") {
                item.insert("parameters".into(), path_parameters(&path, dialect));
            }
            item.insert(method.into(), operation);
        }
    }
    Value::Object(
        paths
            .into_iter()
            .map(|(k, v)| (k, Value::Object(v)))
            .collect(),
    )
}

/// `(path, method, operation)` of every operation of `r`.
fn resource_operations(r: &ServedResource, dialect: Dialect) -> Vec<(String, &str, Value)> {
    let gv = format!("{}{}", group_camel(r.group), capitalize(r.version));
    let base = format!("/{}", r.group_version_path());
    let scope = if r.namespaced {
        "namespaces/{namespace}/"
    } else {
        ""
    };
    let ns = if r.namespaced { "Namespaced" } else { "" };
    let own = Target {
        group: r.group,
        version: r.version,
        kind: r.kind,
        definition: &r.definition,
    };
    let tag = tag(r.group, r.version);
    let fill = |template: &str| {
        let template = template
            .replace("{scope}", scope)
            .replace("{plural}", r.plural);
        let template = template
            .replace("{definition}", &r.definition)
            .replace("{meta}", META);
        template
            .replace("{gv}", &gv)
            .replace("{ns}", ns)
            .replace("{kind}", r.kind)
    };

    let all_namespaces = if r.namespaced { ALL_NAMESPACES } else { &[] };
    let mut out = Vec::new();
    for (path, verb, definition, id) in OPERATIONS.iter().chain(all_namespaces) {
        let definition = fill(definition);
        let target = Target {
            definition: &definition,
            ..own
        };
        let operation = operation(dialect, verb, target, fill(id), "", r.kind, &tag);
        out.push((format!("{base}/{}", fill(path)), verb.method, operation));
    }
    for &sub in &r.subresources {
        let other = OTHER_KIND_SUBRESOURCES
            .iter()
            .find(|(name, _, _)| *name == sub);
        let (verbs, target): (&[&Verb], Target) = match other {
            Some((_, verbs, [group, version, kind, definition])) => (
                verbs,
                Target {
                    group,
                    version,
                    kind,
                    definition,
                },
            ),
            None => (&[&READ, &REPLACE, &PATCH], own),
        };
        let path = format!("{base}/{}/{sub}", fill("{scope}{plural}/{name}"));
        for verb in verbs {
            let id = format!("{}{}{}", verb.id, fill("{gv}{ns}{kind}"), capitalize(sub));
            let sub = format!("{sub} of ");
            let operation = operation(dialect, verb, target, id, &sub, r.kind, &tag);
            out.push((path.clone(), verb.method, operation));
        }
    }
    out
}

fn parameter(dialect: Dialect, name: &str, location: &str) -> Value {
    let (kind, description) = PARAMETERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or(("string", ""), |(_, kind, description)| {
            (*kind, *description)
        });
    let mut value = json!({ "name": name, "in": location, "description": description });
    match dialect {
        Dialect::V2 => {
            value["type"] = kind.into();
            value["uniqueItems"] = true.into();
        }
        Dialect::V3 => value["schema"] = json!({ "type": kind, "uniqueItems": true }),
    }
    if location == "path" {
        value["required"] = true.into();
    }
    value
}

/// The parameters common to a path's operations: its path parameters and `pretty`.
fn path_parameters(path: &str, dialect: Dialect) -> Value {
    let mut list = Vec::new();
    for name in ["name", "namespace"] {
        if path.contains(&format!("{{{name}}}")) {
            list.push(parameter(dialect, name, "path"));
        }
    }
    list.push(parameter(dialect, "pretty", "query"));
    Value::Array(list)
}

/// One operation object.
fn operation(
    dialect: Dialect,
    verb: &Verb,
    target: Target,
    id: String,
    sub: &str,
    resource_kind: &str,
    tag: &str,
) -> Value {
    let watch = verb.action.starts_with("watch") || verb.action == "list";
    let produces = if watch { PRODUCES_WATCH } else { PRODUCES };
    let schema = dialect.reference(target.definition);
    let mut responses = Map::new();
    for &code in verb.responses {
        let text = match code {
            "201" => "Created",
            "202" => "Accepted",
            _ => "OK",
        };
        let mut response = json!({ "description": text });
        match dialect {
            Dialect::V2 => response["schema"] = schema.clone(),
            Dialect::V3 => response["content"] = content(produces, &schema),
        }
        responses.insert(code.into(), response);
    }
    responses.insert("401".into(), json!({ "description": "Unauthorized" }));

    let mut parameters: Vec<Value> = verb
        .query
        .iter()
        .map(|name| parameter(dialect, name, "query"))
        .collect();
    let (consumes, body): (&[&str], Value) = match verb.body {
        Body::None => (&[], Value::Null),
        Body::Object => (&["*/*"], schema),
        Body::Patch => (PATCH_TYPES, dialect.reference(&format!("{META}.Patch"))),
        Body::DeleteOptions => (
            &["*/*"],
            dialect.reference(&format!("{META}.DeleteOptions")),
        ),
    };
    let description = verb
        .description
        .replace("{sub}", sub)
        .replace("{kind}", resource_kind);
    let mut op = json!({
        "description": description,
        "operationId": id,
        "tags": [tag],
        "responses": responses,
        "x-kubernetes-action": verb.action,
        "x-kubernetes-group-version-kind": {
            "group": target.group, "kind": target.kind, "version": target.version,
        },
    });
    let required = matches!(verb.body, Body::Object | Body::Patch);
    match dialect {
        Dialect::V2 => {
            if verb.body != Body::None {
                let mut body = json!({ "name": "body", "in": "body", "schema": body });
                if required {
                    body["required"] = true.into();
                }
                parameters.insert(0, body);
            }
            op["consumes"] = json!(if consumes.is_empty() {
                &["*/*"]
            } else {
                consumes
            });
            op["produces"] = json!(produces);
            op["schemes"] = json!(["https"]);
        }
        Dialect::V3 if verb.body != Body::None => {
            op["requestBody"] = json!({ "content": content(consumes, &body) });
            if required {
                op["requestBody"]["required"] = true.into();
            }
        }
        Dialect::V3 => {}
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    op
}

/// A v3 `content` object: the same schema under each media type.
fn content(media_types: &[&str], schema: &Value) -> Value {
    let types = media_types
        .iter()
        .map(|t| (t.to_string(), json!({ "schema": schema })));
    Value::Object(types.collect())
}

/// `apps` → `Apps`, `rbac.authorization.k8s.io` → `RbacAuthorization`, `` → `Core`.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group
        .trim_end_matches(".k8s.io")
        .split(['.', '-'])
        .map(capitalize)
        .collect()
}

/// The operation tag: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
fn tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut chars = camel.chars();
    let first = chars.next().map(|c| c.to_ascii_lowercase()).into_iter();
    format!("{}_{version}", first.chain(chars).collect::<String>())
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect()
}

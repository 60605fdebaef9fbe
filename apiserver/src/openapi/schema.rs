//! Definitions: k8s-openapi's schemars schemas turned into what kube-openapi publishes.
//!
//! They are kept in the v2 form (`#/definitions/` references, `$ref` with sibling keys as in
//! upstream's swagger.json) and converted to the v3 form (`#/components/schemas/`, a `$ref`
//! with siblings wrapped in `allOf`) per document.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::Binding;
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    DeleteOptions, ListMeta, Patch, Status, WatchEvent,
};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::{ServedResource, extensions};

pub(super) const V2_PREFIX: &str = "#/definitions/";
pub(super) const V3_PREFIX: &str = "#/components/schemas/";
const GVK: &str = "x-kubernetes-group-version-kind";

/// A scalar whose schemars schema is `x-kubernetes-int-or-string` only, and what kube-openapi
/// publishes for it instead.
struct Scalar {
    definition: &'static str,
    v2: &'static [(&'static str, &'static str)],
    /// The v3 form has these `oneOf` types and no `type`.
    v3_one_of: &'static [&'static str],
}

#[rustfmt::skip]
const SCALARS: &[Scalar] = &[
    Scalar { definition: "io.k8s.apimachinery.pkg.api.resource.Quantity",
        v2: &[("type", "string")], v3_one_of: &["string", "number"] },
    Scalar { definition: "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        v2: &[("type", "string"), ("format", "int-or-string")], v3_one_of: &["integer", "string"] },
];

/// Kinds that operations take or return besides the served ones: definition, group, version,
/// kind.
#[rustfmt::skip]
const OTHER_KINDS: [[&str; 4]; 4] = [
    ["io.k8s.apimachinery.pkg.apis.meta.v1.Status", "", "v1", "Status"],
    ["io.k8s.api.autoscaling.v1.Scale", "autoscaling", "v1", "Scale"],
    ["io.k8s.api.core.v1.Binding", "", "v1", "Binding"],
    ["io.k8s.api.policy.v1.Eviction", "policy", "v1", "Eviction"],
];
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// Every definition, by name, in the v2 form.
pub(super) struct Definitions {
    schemas: BTreeMap<String, Value>,
}

impl Definitions {
    pub(super) fn collect(resources: &[ServedResource]) -> Definitions {
        let mut generator = SchemaSettings::draft07()
            .with(|s| {
                s.meta_schema = None;
                // Done here instead: kube-openapi keeps siblings of `$ref` in v2.
                s.transforms.clear();
            })
            .into_generator();
        for resource in resources {
            (resource.schema)(&mut generator);
        }
        // What the operations refer to besides the served kinds.
        generator.subschema_for::<ListMeta>();
        generator.subschema_for::<DeleteOptions>();
        generator.subschema_for::<Patch>();
        generator.subschema_for::<Status>();
        generator.subschema_for::<WatchEvent<Status>>();
        generator.subschema_for::<Scale>();
        generator.subschema_for::<Binding>();
        generator.subschema_for::<Eviction>();

        let mut schemas: BTreeMap<String, Value> =
            generator.take_definitions(false).into_iter().collect();
        for (name, schema) in &mut schemas {
            normalize(schema);
            merge_extensions(name, schema);
        }
        for Scalar { definition, v2, .. } in SCALARS {
            if let Some(Value::Object(scalar)) = schemas.get_mut(*definition) {
                scalar.remove("x-kubernetes-int-or-string");
                scalar.extend(v2.iter().map(|(k, v)| (k.to_string(), Value::from(*v))));
            }
        }

        let mut definitions = Definitions { schemas };
        definitions.add_kinds(resources);
        definitions
    }

    /// Adds the `List` kinds and the group-version-kind extension of every kind.
    fn add_kinds(&mut self, resources: &[ServedResource]) {
        let mut group_versions = BTreeSet::from([("", "v1")]);
        for r in resources {
            group_versions.insert((r.group, r.version));
            let list = self
                .schemas
                .get(&r.definition)
                .map(|kind| list_schema(r, kind));
            if let Some(list) = list {
                self.schemas.insert(format!("{}List", r.definition), list);
                self.add_gvk(
                    &format!("{}List", r.definition),
                    r.group,
                    r.version,
                    &list_kind(r),
                );
            }
            self.add_gvk(&r.definition, r.group, r.version, r.kind);
        }
        for [definition, group, version, kind] in OTHER_KINDS {
            self.add_gvk(definition, group, version, kind);
        }
        // Options and events are served in every group version, as upstream documents.
        for (group, version) in group_versions {
            self.add_gvk(
                &format!("{META}.DeleteOptions"),
                group,
                version,
                "DeleteOptions",
            );
            self.add_gvk(&format!("{META}.WatchEvent"), group, version, "WatchEvent");
        }
    }

    fn add_gvk(&mut self, definition: &str, group: &str, version: &str, kind: &str) {
        let Some(Value::Object(schema)) = self.schemas.get_mut(definition) else {
            return;
        };
        let gvk = json!({ "group": group, "kind": kind, "version": version });
        let entry = schema.entry(GVK).or_insert_with(|| json!([]));
        if let Value::Array(list) = entry
            && !list.contains(&gvk)
        {
            list.push(gvk);
            list.sort_by(|a, b| {
                let key = |g: &Value| (g["group"].to_string(), g["version"].to_string());
                key(a).cmp(&key(b))
            });
        }
    }

    pub(super) fn v2(&self) -> Map<String, Value> {
        self.schemas
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The v3 form of the definitions that `root` (a v3 document's paths) refers to, directly
    /// or through other definitions.
    pub(super) fn v3_reachable_from(&self, root: &Value) -> Map<String, Value> {
        let mut pending = Vec::new();
        collect_refs(root, V3_PREFIX, &mut pending);
        let mut reachable = BTreeSet::new();
        while let Some(name) = pending.pop() {
            if let Some(schema) = self.schemas.get(&name)
                && reachable.insert(name)
            {
                collect_refs(schema, V2_PREFIX, &mut pending);
            }
        }
        let mut out = Map::new();
        for name in reachable {
            let Some(schema) = self.schemas.get(&name) else {
                continue;
            };
            let mut schema = schema.clone();
            to_v3(&mut schema);
            if let Some(scalar) = SCALARS.iter().find(|s| s.definition == name) {
                schema["oneOf"] = scalar
                    .v3_one_of
                    .iter()
                    .map(|t| json!({ "type": t }))
                    .collect();
                if let Value::Object(scalar) = &mut schema {
                    scalar.remove("type");
                }
            }
            out.insert(name, schema);
        }
        out
    }
}

fn list_kind(r: &ServedResource) -> String {
    format!("{}List", r.kind)
}

/// `<Kind>List`, as upstream publishes it; the type and kind descriptions are the kind's own.
fn list_schema(r: &ServedResource, kind: &Value) -> Value {
    let property = |name: &str| kind["properties"].get(name).cloned().unwrap_or(json!({}));
    json!({
        "description": format!("{} is a list of {} objects.", list_kind(r), r.kind),
        "type": "object",
        "properties": {
            "apiVersion": property("apiVersion"),
            "items": {
                "description": format!("List of {}.", r.plural),
                "type": "array",
                "items": { "$ref": format!("{V2_PREFIX}{}", r.definition) },
            },
            "kind": property("kind"),
            "metadata": {
                "$ref": format!("{V2_PREFIX}{LIST_META}"),
                "description": "Standard list metadata.",
            },
        },
        "required": ["items"],
    })
}

/// Calls `f` on each direct subschema of `schema`.
fn for_each_subschema(schema: &mut Value, f: &mut impl FnMut(&mut Value)) {
    let Value::Object(object) = schema else {
        return;
    };
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.values_mut().for_each(&mut *f);
    }
    for key in ["items", "additionalProperties", "not"] {
        match object.get_mut(key) {
            Some(Value::Array(items)) => items.iter_mut().for_each(&mut *f),
            Some(sub @ Value::Object(_)) => f(sub),
            _ => {}
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = object.get_mut(key) {
            branches.iter_mut().for_each(&mut *f);
        }
    }
}

/// Rewrites what JSON Schema allows and OpenAPI 2/3.0 do not: boolean schemas, `type` arrays
/// and `anyOf: [X, null]` (nullable), `const`, `examples`, nested definitions.
fn normalize(schema: &mut Value) {
    if schema.is_boolean() {
        *schema = json!({});
        return;
    }
    let Value::Object(object) = schema else {
        return;
    };
    for key in ["$schema", "$id", "$defs", "definitions"] {
        object.remove(key);
    }
    if let Some(Value::Array(types)) = object.get("type") {
        match types.iter().find(|t| *t != "null").cloned() {
            Some(single) => object.insert("type".into(), single),
            None => object.remove("type"),
        };
    }
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = object.get(key) else {
            continue;
        };
        let is_null = |b: &&Value| b.get("type").is_some_and(|t| t == "null");
        if branches.len() == 2 && branches.iter().filter(is_null).count() == 1 {
            let branch = branches.iter().find(|b| !is_null(b)).cloned();
            object.remove(key);
            if let Some(Value::Object(branch)) = branch {
                for (k, v) in branch {
                    object.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(value) = object.remove("const") {
        object.insert("enum".into(), json!([value]));
    }
    if let Some(Value::Array(mut examples)) = object.remove("examples")
        && !examples.is_empty()
    {
        object.insert("example".into(), examples.swap_remove(0));
    }
    // `additionalProperties: true/false` is valid in both versions and is not visited.
    for_each_subschema(schema, &mut normalize);
}

/// Adds upstream's patch and list metadata to the properties of `name` and to itself, and
/// takes upstream's required fields.
fn merge_extensions(name: &str, schema: &mut Value) {
    let Value::Object(object) = schema else {
        return;
    };
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for e in extensions::fields_of(name) {
            let Some(Value::Object(property)) = properties.get_mut(e.field) else {
                continue;
            };
            let mut set = |key: &str, value: Option<&str>| {
                if let Some(value) = value {
                    property.insert(key.into(), value.into());
                }
            };
            set("x-kubernetes-patch-strategy", e.patch_strategy);
            set("x-kubernetes-patch-merge-key", e.patch_merge_key);
            set("x-kubernetes-list-type", e.list_type);
            set("x-kubernetes-map-type", e.map_type);
            if !e.list_map_keys.is_empty() {
                property.insert("x-kubernetes-list-map-keys".into(), json!(e.list_map_keys));
            }
        }
    }
    let Some(e) = extensions::definition(name) else {
        return;
    };
    if let Some(map_type) = e.map_type {
        object.insert("x-kubernetes-map-type".into(), map_type.into());
    }
    if let Some(list_type) = e.list_type {
        object.insert("x-kubernetes-list-type".into(), list_type.into());
    }
    // k8s-openapi requires what its Rust types do not make optional (`metadata`, `name`);
    // upstream's lists are what clients show and check.
    if e.required.is_empty() {
        object.remove("required");
    } else {
        object.insert("required".into(), json!(e.required));
    }
}

/// v2 form to v3 form: references move to `#/components/schemas/`, and a reference with
/// siblings (a description, say) becomes `allOf: [{$ref}]` beside them, as kube-openapi's
/// v3 documents have it (a `$ref` replaces its siblings in OpenAPI 3.0).
fn to_v3(schema: &mut Value) {
    if let Value::Object(object) = schema {
        let name = object
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(V2_PREFIX));
        if let Some(name) = name {
            let reference = json!({ "$ref": format!("{V3_PREFIX}{name}") });
            if object.len() == 1 {
                *schema = reference;
                return;
            }
            object.remove("$ref");
            object.insert("allOf".into(), json!([reference]));
        }
    }
    for_each_subschema(schema, &mut to_v3);
}

/// The definition names that `value` refers to with `prefix` (anywhere inside it).
pub(super) fn collect_refs(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref")
                && let Some(name) = reference.strip_prefix(prefix)
            {
                out.push(name.to_owned());
            }
            object.values().for_each(|v| collect_refs(v, prefix, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, prefix, out)),
        _ => {}
    }
}

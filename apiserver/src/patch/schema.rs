//! Strategic-merge-patch metadata read from the server's own OpenAPI v2 definitions (which
//! carry `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key`, see `openapi/`).

use serde_json::{Map, Value};

use super::strategic::{FieldMeta, PatchSchema, SubSchema, parse_patch_strategy};

/// Every definition of the OpenAPI v2 document, by name.
pub struct Definitions {
    defs: Map<String, Value>,
}

impl Definitions {
    /// From an OpenAPI v2 document (its `definitions`).
    pub fn from_v2(doc: &Value) -> Definitions {
        let defs = doc
            .get("definitions")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Definitions { defs }
    }

    /// The patch schema of a definition (`io.k8s.api.core.v1.Pod`); knows no field when the
    /// definition is unknown.
    pub fn schema<'a>(&'a self, definition: &str) -> Cursor<'a> {
        Cursor {
            defs: &self.defs,
            def: self.defs.get(definition),
        }
    }
}

/// One definition, resolving `$ref`s lazily.
pub struct Cursor<'a> {
    defs: &'a Map<String, Value>,
    def: Option<&'a Value>,
}

fn ref_name(schema: &Value) -> Option<&str> {
    let reference = schema.get("$ref").and_then(Value::as_str).or_else(|| {
        // `allOf: [{$ref}]` is how some generators attach a description to a reference.
        schema
            .get("allOf")?
            .as_array()?
            .iter()
            .find_map(|s| s.get("$ref").and_then(Value::as_str))
    })?;
    reference.rsplit('/').next()
}

impl PatchSchema for Cursor<'_> {
    fn field(&self, name: &str) -> Option<FieldMeta<'_>> {
        let property = self.def?.get("properties")?.get(name)?;
        let tag = property
            .get("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // An unknown tag is upstream's error at generation time; here it degrades to the
        // default (merge maps, replace lists).
        let (strategy, retain_keys) = parse_patch_strategy(tag).unwrap_or_default();
        let target = ref_name(property)
            .or_else(|| property.get("items").and_then(ref_name))
            .or_else(|| property.get("additionalProperties").and_then(ref_name));
        let schema = target.and_then(|t| self.defs.get(t)).map(|def| {
            SubSchema::Owned(Box::new(Cursor {
                defs: self.defs,
                def: Some(def),
            }) as Box<dyn PatchSchema + '_>)
        });
        Some(FieldMeta {
            strategy,
            retain_keys,
            merge_key: property
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str),
            schema,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_through_refs() {
        let doc = json!({"definitions": {
            "Pod": {"properties": {"spec": {"$ref": "#/definitions/PodSpec"}}},
            "PodSpec": {"properties": {"containers": {
                "type": "array",
                "items": {"$ref": "#/definitions/Container"},
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "name",
            }}},
            "Container": {"properties": {"image": {"type": "string"}}},
        }});
        let defs = Definitions::from_v2(&doc);
        let old = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}});
        let patch = json!({"spec": {"containers": [{"name": "b", "image": "2"}]}});
        let merged = super::super::strategic::apply(&old, &patch, &defs.schema("Pod")).expect("ok");
        assert_eq!(merged["spec"]["containers"][0]["image"], "1");
        assert_eq!(merged["spec"]["containers"][1]["image"], "2");
    }
}

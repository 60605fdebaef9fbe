//! Patches: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and Kubernetes' strategic
//! merge patch (`strategic.rs`, driven by the kind's schema and patch metadata).

pub mod schema;
pub mod strategic;

use serde_json::Value;

use crate::error::ApiError;
use crate::registry::PatchType;
use crate::resources::Resource;

/// Applies a patch of a resource's object.
pub fn apply(
    definitions: &schema::Definitions,
    resource: &Resource,
    patch_type: PatchType,
    old: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Strategic => {
            let schema = definitions.schema(&resource.definition);
            strategic::apply(old, patch, &schema).map_err(|e| ApiError::bad_request(e.to_string()))
        }
        other => apply_plain(other, old, patch),
    }
}

/// JSON and merge patches, which need no schema.
pub fn apply_plain(patch_type: PatchType, old: &Value, patch: &Value) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is invalid: {e}")))?;
            let mut doc = old.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(doc)
        }
        PatchType::Merge | PatchType::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "the merge patch must be a JSON object",
                ));
            }
            let mut doc = old.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
    }
}

//! One cached object version: the stored bytes and what selectors read, extracted once.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use ultrak8s_store::types::Revision;

use crate::error::ApiError;
use crate::resources::Resource;

#[derive(Debug)]
pub struct CachedObject {
    pub key: Bytes,
    /// The object's JSON as stored, with its resourceVersion inside.
    pub bytes: Bytes,
    pub revision: Revision,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The kind's selectable fields (besides name and namespace), as field selectors see
    /// them.
    pub fields: BTreeMap<String, String>,
}

impl CachedObject {
    pub fn new(
        resource: &Arc<Resource>,
        key: Bytes,
        bytes: Bytes,
        revision: Revision,
    ) -> Result<CachedObject, ApiError> {
        let obj = crate::registry::decode_stored(resource, &bytes)?;
        let meta = obj.meta();
        let mut fields = BTreeMap::new();
        for &field in resource.kind_ops.selectable_fields() {
            if let Some(value) = resource.kind_ops.field(obj.as_ref(), field) {
                fields.insert(field.to_owned(), value);
            }
        }
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        fields.insert("metadata.name".to_owned(), name.clone());
        fields.insert("metadata.namespace".to_owned(), namespace.clone());
        Ok(CachedObject {
            key,
            bytes,
            revision,
            namespace,
            name,
            labels: meta.labels.clone().unwrap_or_default(),
            fields,
        })
    }
}

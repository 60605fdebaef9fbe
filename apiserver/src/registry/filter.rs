//! Label and field selectors applied to stored objects. Objects from the watch cache carry
//! their labels and selectable fields; objects read from the store are decoded first.

use crate::error::ApiError;
use crate::object::KubeObject;
use crate::resources::Resource;
use crate::selector::{FieldSelector, LabelSelector};

#[derive(Clone, Debug, Default)]
pub struct Filter {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    /// Parses `labelSelector` and `fieldSelector`; refuses fields the resource cannot select
    /// on (upstream: `"x" is not a known field selector: only "metadata.name", ...`).
    pub fn parse(
        resource: &Resource,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<Filter, ApiError> {
        let labels =
            match labels.filter(|s| !s.trim().is_empty()) {
                None => None,
                Some(s) => Some(LabelSelector::parse(s).map_err(|e| {
                    ApiError::bad_request(format!("unable to parse requirement: {e}"))
                })?),
            };
        let fields = match fields.filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(s) => {
                let selector =
                    FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                let known = resource.kind_ops.selectable_fields();
                for requirement in selector.requirements() {
                    let field = requirement.field.as_str();
                    if field != "metadata.name"
                        && field != "metadata.namespace"
                        && !known.contains(&field)
                    {
                        let mut supported = vec![
                            "\"metadata.name\"".to_owned(),
                            "\"metadata.namespace\"".to_owned(),
                        ];
                        supported.extend(known.iter().map(|f| format!("{f:?}")));
                        return Err(ApiError::bad_request(format!(
                            "{field:?} is not a known field selector: only {}",
                            supported.join(", ")
                        )));
                    }
                }
                Some(selector)
            }
        };
        Ok(Filter { labels, fields })
    }

    pub fn is_everything(&self) -> bool {
        self.labels.as_ref().is_none_or(LabelSelector::is_empty)
            && self.fields.as_ref().is_none_or(FieldSelector::is_empty)
    }

    pub fn matches(&self, resource: &Resource, obj: &dyn KubeObject) -> bool {
        let meta = obj.meta();
        if let Some(labels) = &self.labels {
            let empty = std::collections::BTreeMap::new();
            if !labels.matches(meta.labels.as_ref().unwrap_or(&empty)) {
                return false;
            }
        }
        if let Some(fields) = &self.fields {
            let mut values = std::collections::BTreeMap::new();
            for requirement in fields.requirements() {
                let field = requirement.field.as_str();
                let value = match field {
                    "metadata.name" => meta.name.clone().unwrap_or_default(),
                    "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
                    other => resource.kind_ops.field(obj, other).unwrap_or_default(),
                };
                values.insert(field.to_owned(), value);
            }
            if !fields.matches(&values) {
                return false;
            }
        }
        true
    }

    /// Whether a cached object version passes, from the fields extracted when it was cached.
    pub fn matches_cached(&self, obj: &crate::cache::CachedObject) -> bool {
        self.labels.as_ref().is_none_or(|l| l.matches(&obj.labels))
            && self.fields.as_ref().is_none_or(|f| f.matches(&obj.fields))
    }

    pub fn matches_stored(&self, resource: &Resource, bytes: &[u8]) -> Result<bool, ApiError> {
        let obj = super::decode_stored(resource, bytes)?;
        Ok(self.matches(resource, obj.as_ref()))
    }
}

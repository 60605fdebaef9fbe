//! create, update and patch (upstream `store.go` Create/Update and `GuaranteedUpdate`; the
//! patch handler of `endpoints/handlers/patch.go`).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use ultrak8s_store::contract::{KubeStore, Precondition, WriteOutcome};

use super::{MAX_RETRIES, Registry, encode_at, meta_of};
use crate::admission::{AdmissionHandle, Attributes, Operation};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::resources::{Resource, Subresource};
use crate::strategy::meta;

/// What to do with fields the kind does not know (`fieldValidation`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    /// Keys the body repeats (found by the HTTP edge in the raw bytes, which the decoded
    /// value no longer shows), reported like unknown fields.
    pub duplicate_fields: Vec<String>,
    /// The request's admission; `None` for the server's own writes.
    pub admission: Option<AdmissionHandle>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
}

/// A written (or, with dry-run, would-be written) object.
pub struct Written {
    pub bytes: Bytes,
    /// For `Warning` headers (unknown fields under `fieldValidation=Warn`).
    pub warnings: Vec<String>,
    /// An update that created the object (201 rather than 200).
    pub created: bool,
}

impl Registry {
    pub async fn create(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let (mut obj, warnings) = decode_body(resource, body, opts)?;
        set_namespace(resource, obj.as_mut(), namespace)?;
        let meta = obj.meta_mut();
        if meta.name.as_deref().is_none_or(str::is_empty)
            && let Some(base) = meta.generate_name.as_deref().filter(|g| !g.is_empty())
        {
            meta.name = Some(meta::generate_name(base));
        }
        meta::prepare_for_create(obj.meta_mut(), resource.has(Subresource::Status));
        resource.kind_ops.prepare_for_create(obj.as_mut());
        let name = obj.meta().name.clone().unwrap_or_default();
        let mut warnings = warnings;
        if let Some(namespace) = namespace.filter(|_| resource.namespaced) {
            self.check_namespace(resource, namespace, &name).await?;
        }
        let attrs = Attributes {
            operation: Operation::Create,
            resource,
            subresource: None,
            namespace: namespace.unwrap_or_default(),
            name: &name,
            dry_run: opts.dry_run,
        };
        if let Some(AdmissionHandle(admission)) = &opts.admission {
            admission.mutate(&attrs, obj.as_mut(), None).await?;
        }
        // Dropped on every early return below: what the hook took is given back.
        let finish = match self.hooks_of(resource) {
            Some(hooks) => {
                hooks
                    .begin_create(resource, obj.as_mut(), opts.dry_run)
                    .await?
            }
            None => super::Finish::nothing(),
        };
        let mut errors = meta::validate(obj.meta(), resource.namespaced, resource.name_rule);
        errors.extend(resource.kind_ops.validate(obj.as_ref()));
        if !errors.is_empty() {
            return Err(ApiError::invalid(resource, &name, errors));
        }
        if let Some(AdmissionHandle(admission)) = &opts.admission {
            warnings.extend(admission.validate(&attrs, Some(obj.as_ref()), None).await?);
        }
        if opts.dry_run {
            return Ok(Written {
                bytes: Bytes::from(obj.to_json()),
                warnings,
                created: true,
            });
        }
        let key = resource.key(namespace, &name);
        let outcome = self
            .store
            .put_if_with(key, |rev| encode_at(obj, rev), Precondition::Absent, None)
            .await?;
        match outcome {
            WriteOutcome::Written { kv: Some(kv), .. } => {
                finish.commit().await;
                Ok(Written {
                    bytes: kv.value,
                    warnings,
                    created: true,
                })
            }
            WriteOutcome::Written { kv: None, .. } => Err(ApiError::internal(
                "a written object could not be read back",
            )),
            WriteOutcome::Conflict { .. } => Err(ApiError::already_exists(resource, &name)),
        }
    }

    /// PUT: replaces the object (or, for a subresource, its part of it).
    pub async fn update(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<Subresource>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_name(&body, name)?;
        let rv = resource_version(&body);
        self.guaranteed_update(resource, namespace, name, subresource, opts, rv, |_| {
            Ok(body.clone())
        })
        .await
    }

    /// Writes a whole new version (spec and status) computed by the caller from the current
    /// one, as `pods/binding` does; `value` carries the resourceVersion it was computed from.
    pub async fn replace_whole(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        value: Value,
    ) -> Result<Written, ApiError> {
        let opts = WriteOptions::default();
        let rv = resource_version(&value);
        let binding = Some(Subresource::Binding);
        self.guaranteed_update(resource, namespace, name, binding, &opts, rv, |_| {
            Ok(value.clone())
        })
        .await
    }

    #[allow(clippy::too_many_arguments)] // the request's parts, each its own concern
    pub async fn patch(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<Subresource>,
        patch_type: PatchType,
        patch: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        // `resource` is the served version; a converted one is patched in its own form and
        // stored in the storage version's.
        let storage = match resource.conversion {
            Some(_) => Some(
                self.caches
                    .get(resource.storage)
                    .map(|(r, _)| Arc::clone(r))
                    .ok_or_else(|| ApiError::internal("no storage version"))?,
            ),
            None => None,
        };
        let target: &Resource = storage.as_deref().unwrap_or(resource);
        // Only a resourceVersion the patch itself carries is a precondition; otherwise a
        // patch that raced another write is simply applied again to the new version.
        let rv = resource_version(&patch);
        self.guaranteed_update(target, namespace, name, subresource, opts, rv, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(resource, name))?;
            let patched = match resource.conversion {
                Some(conversion) => {
                    let served = (conversion.from_storage)(old.clone())?;
                    let patched = crate::patch::apply(
                        &self.definitions,
                        resource,
                        patch_type,
                        &served,
                        &patch,
                    )?;
                    check_name(&patched, name)?;
                    (conversion.to_storage)(patched)?
                }
                None => crate::patch::apply(&self.definitions, resource, patch_type, old, &patch)?,
            };
            check_name(&patched, name)?;
            Ok(patched)
        })
        .await
    }

    /// Reads the current object, computes the new one with `transform`, and writes it if the
    /// object did not change in between; retries when it did, unless the client named the
    /// resourceVersion it expects (then it gets 409).
    #[allow(clippy::too_many_arguments)] // the request's parts, each its own concern
    async fn guaranteed_update(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<Subresource>,
        opts: &WriteOptions,
        precondition_rv: Option<&str>,
        transform: impl Fn(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<Written, ApiError> {
        for _ in 0..MAX_RETRIES {
            let current = self.current(resource, namespace, name).await?;
            let Some((kv, old)) = current else {
                if subresource.is_some() || !resource.create_on_update {
                    return Err(ApiError::not_found(resource, name));
                }
                let body = transform(None)?;
                return self.create(resource, namespace, body, opts).await;
            };
            let old_value: Value = serde_json::from_slice(&kv.value)
                .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
            let mut body = transform(Some(&old_value))?;
            let wanted_rv = precondition_rv;
            if let Some(rv) = wanted_rv
                && *rv != kv.mod_revision.to_string()
            {
                return Err(ApiError::stale(resource, name));
            }
            // A binding writes spec and status at once, past the strategy's update rules; the
            // finalize and approval subresources each write one field of the stored object.
            let whole = matches!(
                subresource,
                Some(Subresource::Binding | Subresource::Finalize | Subresource::Approval)
            );
            match subresource {
                Some(Subresource::Finalize) => {
                    body = take_field(&old_value, body, &["spec", "finalizers"]);
                }
                Some(Subresource::Approval) => {
                    body = take_field(&old_value, body, &["status", "conditions"]);
                }
                _ if resource.has(Subresource::Status) && !whole => {
                    let status_update = subresource == Some(Subresource::Status);
                    body = split_status(&old_value, body, status_update);
                    if status_update && resource.has(Subresource::Approval) {
                        body = keep_approval(&old_value, body);
                    }
                }
                _ => {}
            }
            let (mut obj, warnings) = decode_body(resource, body, opts)?;
            set_namespace(resource, obj.as_mut(), namespace)?;
            let deletion = (
                obj.meta().deletion_timestamp.clone(),
                obj.meta().deletion_grace_period_seconds,
            );
            meta::prepare_for_update(obj.meta_mut(), old.meta());
            if subresource == Some(Subresource::Binding) {
                (
                    obj.meta_mut().deletion_timestamp,
                    obj.meta_mut().deletion_grace_period_seconds,
                ) = deletion;
            } else if !whole {
                resource
                    .kind_ops
                    .prepare_for_update(obj.as_mut(), old.as_ref());
            }
            let attrs = Attributes {
                operation: Operation::Update,
                resource,
                subresource,
                namespace: namespace.unwrap_or_default(),
                name,
                dry_run: opts.dry_run,
            };
            if let Some(AdmissionHandle(admission)) = &opts.admission {
                admission
                    .mutate(&attrs, obj.as_mut(), Some(old.as_ref()))
                    .await?;
            }
            // Subresources have no hooks (upstream's status store has none); dropped on every
            // early return and retry below, which gives back what the hook took.
            let finish = match self.hooks_of(resource).filter(|_| subresource.is_none()) {
                Some(hooks) => {
                    hooks
                        .begin_update(resource, obj.as_mut(), old.as_ref(), opts.dry_run)
                        .await?
                }
                None => super::Finish::nothing(),
            };
            if resource.has(Subresource::Status) && spec_changed(obj.as_ref(), old.as_ref()) {
                let generation = old.meta().generation.unwrap_or(0) + 1;
                obj.meta_mut().generation = Some(generation);
            }
            let mut errors = meta::validate(obj.meta(), resource.namespaced, resource.name_rule);
            errors.extend(meta::validate_update(obj.meta(), old.meta()));
            if whole {
                errors.extend(resource.kind_ops.validate(obj.as_ref()));
            } else {
                errors.extend(
                    resource
                        .kind_ops
                        .validate_update(obj.as_ref(), old.as_ref()),
                );
            }
            if !errors.is_empty() {
                return Err(ApiError::invalid(resource, name, errors));
            }
            let mut warnings = warnings;
            if let Some(AdmissionHandle(admission)) = &opts.admission {
                let found = admission
                    .validate(&attrs, Some(obj.as_ref()), Some(old.as_ref()))
                    .await?;
                warnings.extend(found);
            }
            // The last finalizer of an object being deleted is gone: delete it now.
            if old.meta().deletion_timestamp.is_some()
                && obj.meta().finalizers.as_ref().is_none_or(Vec::is_empty)
                && !resource.kind_ops.holds_deletion(obj.as_ref())
            {
                if opts.dry_run {
                    return Ok(unchanged(obj.to_json().into(), warnings));
                }
                match self
                    .finish_delete(resource, namespace, name, kv.mod_revision)
                    .await?
                {
                    Some(bytes) => return Ok(unchanged(bytes, warnings)),
                    None if wanted_rv.is_some() => return Err(ApiError::stale(resource, name)),
                    None => continue,
                }
            }
            obj.meta_mut().resource_version = Some(kv.mod_revision.to_string());
            if is_noop(obj.as_ref(), old.as_ref()) || opts.dry_run {
                let bytes = if opts.dry_run {
                    obj.to_json().into()
                } else {
                    kv.value
                };
                return Ok(unchanged(bytes, warnings));
            }
            match self
                .replace_at(resource, namespace, name, obj, kv.mod_revision)
                .await?
            {
                Some(bytes) => {
                    finish.commit().await;
                    return Ok(unchanged(bytes, warnings));
                }
                None if wanted_rv.is_some() => return Err(ApiError::stale(resource, name)),
                None => continue,
            }
        }
        Err(ApiError::conflict(
            resource,
            name,
            "the object kept changing; please try again",
        ))
    }
}

/// The non-empty `metadata.resourceVersion` of a body or patch.
fn resource_version(value: &Value) -> Option<&str> {
    meta_of(value)
        .and_then(|m| m.get("resourceVersion"))
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
}

fn unchanged(bytes: Bytes, warnings: Vec<String>) -> Written {
    Written {
        bytes,
        warnings,
        created: false,
    }
}

/// Decodes a request body into its kind: checks `apiVersion`/`kind` (filling them when
/// missing, as upstream's decoder defaults them from the URL) and reports unknown fields.
pub(crate) fn decode_body(
    resource: &Resource,
    mut body: Value,
    opts: &WriteOptions,
) -> Result<(Box<dyn KubeObject>, Vec<String>), ApiError> {
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    };
    let api_version = resource.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".to_owned(), Value::String(api_version.clone()));
        }
        Some(given) if given != api_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({given}) does not match the expected API version \
                 ({api_version})"
            )));
        }
        Some(_) => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".to_owned(), Value::String(resource.kind.to_owned()));
        }
        Some(given) if given != resource.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({given}) does not match the expected kind ({})",
                resource.kind
            )));
        }
        Some(_) => {}
    }
    let mut unknown = Vec::new();
    let obj = resource
        .kind_ops
        .decode(body, &mut unknown)
        .map_err(|e| ApiError::bad_request(format!("{} in body: {}", resource.kind, e.0)))?;
    let mut unknown: Vec<String> = unknown
        .iter()
        .map(|path| format!("unknown field {:?}", field_path(path)))
        .collect();
    unknown.extend(
        opts.duplicate_fields
            .iter()
            .map(|path| format!("duplicate field {path:?}")),
    );
    match opts.field_validation {
        FieldValidation::Strict if !unknown.is_empty() => Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            unknown.join(", ")
        ))),
        FieldValidation::Warn => Ok((obj, unknown)),
        _ => Ok((obj, Vec::new())),
    }
}

/// `spec.containers.0.foo` (serde_ignored's path) as upstream prints it:
/// `spec.containers[0].foo`.
fn field_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    // serde_ignored writes `?` for an `Option` on the way (`spec.?.unknownField`): upstream's
    // paths have no such step.
    for segment in path.split('.').filter(|s| *s != "?") {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

fn set_namespace(
    resource: &Resource,
    obj: &mut dyn KubeObject,
    namespace: Option<&str>,
) -> Result<(), ApiError> {
    let meta = obj.meta_mut();
    if !resource.namespaced {
        meta.namespace = None;
        return Ok(());
    }
    let Some(namespace) = namespace else {
        return Err(ApiError::bad_request(
            "the namespace of the object must be given in the request path",
        ));
    };
    match meta.namespace.as_deref() {
        None | Some("") => meta.namespace = Some(namespace.to_owned()),
        Some(given) if given != namespace => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the \
                 request",
            ));
        }
        Some(_) => {}
    }
    Ok(())
}

fn check_name(body: &Value, name: &str) -> Result<(), ApiError> {
    let given = meta_of(body)
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if given != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )));
    }
    Ok(())
}

/// The main resource ignores changes to `.status`; the status subresource takes only
/// `.status` (and metadata, for the resourceVersion precondition) from the body.
fn split_status(old: &Value, mut body: Value, status_update: bool) -> Value {
    if status_update {
        let mut merged = old.clone();
        if let (Some(merged), Some(body)) = (merged.as_object_mut(), body.as_object_mut()) {
            match body.remove("status") {
                Some(status) => merged.insert("status".to_owned(), status),
                None => merged.remove("status"),
            };
            if let Some(meta) = body.remove("metadata") {
                // Labels and annotations may change through status, as upstream allows for
                // most kinds; identity and the precondition come along too.
                merged.insert("metadata".to_owned(), meta);
            }
        }
        merged
    } else {
        if let Some(map) = body.as_object_mut() {
            match old.get("status") {
                Some(status) => map.insert("status".to_owned(), status.clone()),
                None => map.remove("status"),
            };
        }
        body
    }
}

/// The stored object with one field (`path`) and the metadata taken from `body`: what the
/// `namespaces/finalize` (`spec.finalizers`) and CSR `approval` (`status.conditions`)
/// subresources may change.
fn take_field(old: &Value, body: Value, path: &[&str]) -> Value {
    let mut merged = old.clone();
    let pick = |value: &Value| path.iter().try_fold(value, |v, key| v.get(key)).cloned();
    let wanted = pick(&body);
    if let Some((last, parents)) = path.split_last() {
        let mut target = &mut merged;
        for key in parents {
            if !target.get(key).is_some_and(Value::is_object) {
                target[*key] = Value::Object(serde_json::Map::new());
            }
            target = &mut target[*key];
        }
        if let Some(map) = target.as_object_mut() {
            match wanted {
                Some(value) => map.insert((*last).to_owned(), value),
                None => map.remove(*last),
            };
        }
    }
    if let (Some(merged), Some(meta)) = (merged.as_object_mut(), body.get("metadata")) {
        merged.insert("metadata".to_owned(), meta.clone());
    }
    merged
}

/// A CSR status update keeps the stored `Approved` and `Denied` conditions: only the
/// `approval` subresource changes them (upstream's `csrStatusStrategy`).
fn keep_approval(old: &Value, mut body: Value) -> Value {
    let decision = |c: &&Value| {
        matches!(
            c.get("type").and_then(Value::as_str),
            Some("Approved" | "Denied")
        )
    };
    let kept: Vec<Value> = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter(decision).cloned().collect())
        .unwrap_or_default();
    let mut conditions: Vec<Value> = body
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter(|c| !decision(c)).cloned().collect())
        .unwrap_or_default();
    conditions.splice(0..0, kept);
    if let Some(status) = body.get_mut("status").and_then(Value::as_object_mut) {
        if conditions.is_empty() {
            status.remove("conditions");
        } else {
            status.insert("conditions".to_owned(), Value::Array(conditions));
        }
    }
    body
}

/// Whether anything but metadata and status changed (upstream bumps `generation` then).
fn spec_changed(new: &dyn KubeObject, old: &dyn KubeObject) -> bool {
    let strip = |obj: &dyn KubeObject| {
        let mut value = obj.to_value();
        if let Some(map) = value.as_object_mut() {
            map.remove("metadata");
            map.remove("status");
        }
        value
    };
    strip(new) != strip(old)
}

/// An update that changes nothing is not written (upstream skips it too, and the
/// resourceVersion stays).
fn is_noop(new: &dyn KubeObject, old: &dyn KubeObject) -> bool {
    new.same_but_managed_fields(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_ignored_paths_print_as_upstream_field_paths() {
        assert_eq!(
            field_path("spec.containers.0.foo"),
            "spec.containers[0].foo"
        );
        assert_eq!(field_path("foo"), "foo");
        assert_eq!(field_path("a.10.b.2"), "a[10].b[2]");
        assert_eq!(field_path("metadata.?.unknownMeta"), "metadata.unknownMeta");
        assert_eq!(field_path("spec.?.containers.0.?.foo"), "spec.containers[0].foo");
    }

    #[test]
    fn status_is_split_between_the_resource_and_its_subresource() {
        let old =
            serde_json::json!({"spec": {"a": 1}, "status": {"s": 1}, "metadata": {"name": "x"}});
        let body =
            serde_json::json!({"spec": {"a": 2}, "status": {"s": 2}, "metadata": {"name": "x"}});
        let main = split_status(&old, body.clone(), false);
        assert_eq!(main["spec"]["a"], 2);
        assert_eq!(main["status"]["s"], 1);
        let status = split_status(&old, body, true);
        assert_eq!(status["spec"]["a"], 1);
        assert_eq!(status["status"]["s"], 2);
    }
}

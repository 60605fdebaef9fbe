//! Rules every object's metadata follows, whatever its kind (upstream
//! `staging/src/k8s.io/apiserver/pkg/registry/rest/create.go`, `update.go` and
//! `pkg/api/validation/objectmeta.go`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use crate::error::FieldError;
use crate::strategy::NameRule;
use crate::strategy::validation;

/// Characters of a generated name suffix (upstream `utilrand.String`: no vowels, no
/// look-alikes, so a suffix never spells a word).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const SUFFIX_LEN: usize = 5;
/// Upstream `maxGeneratedNameLength`: the base is cut so base + suffix stays a valid name.
const MAX_GENERATED_BASE: usize = 63 - SUFFIX_LEN;

/// `generateName` + a random suffix.
pub fn generate_name(base: &str) -> String {
    let base = if base.len() > MAX_GENERATED_BASE {
        &base[..MAX_GENERATED_BASE]
    } else {
        base
    };
    let random = uuid::Uuid::new_v4();
    let suffix: String = random.as_bytes()[..SUFFIX_LEN]
        .iter()
        .map(|b| SUFFIX_ALPHABET[usize::from(*b) % SUFFIX_ALPHABET.len()] as char)
        .collect();
    format!("{base}{suffix}")
}

pub fn now() -> Time {
    // Kubernetes' `Time` has second precision on the wire.
    let now = Timestamp::now();
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// What the server sets on every new object (upstream `rest.BeforeCreate` and
/// `FillObjectMetaSystemFields`).
pub fn prepare_for_create(meta: &mut ObjectMeta, tracks_generation: bool) {
    meta.uid = Some(uuid::Uuid::new_v4().to_string());
    meta.creation_timestamp = Some(now());
    meta.resource_version = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.self_link = None;
    meta.generation = tracks_generation.then_some(1);
}

/// What a client may not change on update (upstream `rest.BeforeUpdate`): carried over from
/// the stored object.
pub fn prepare_for_update(new: &mut ObjectMeta, old: &ObjectMeta) {
    new.creation_timestamp.clone_from(&old.creation_timestamp);
    new.deletion_timestamp.clone_from(&old.deletion_timestamp);
    new.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
    new.generation = old.generation;
    new.self_link = None;
    if new.uid.as_deref().is_none_or(str::is_empty) {
        new.uid.clone_from(&old.uid);
    }
}

pub fn validate_name(name: &str, rule: NameRule) -> Vec<String> {
    match rule {
        NameRule::Subdomain => validation::dns1123_subdomain(name),
        NameRule::Label => validation::dns1123_label(name),
        NameRule::Rfc1035Label => validation::dns1035_label(name),
        NameRule::PathSegment => validation::path_segment_name(name),
        NameRule::IpAddress => crate::strategy::checks::ip_problems(name),
    }
}

/// Upstream `ValidateObjectMeta`.
pub fn validate(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match meta.name.as_deref() {
        None | Some("") => errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )),
        Some(name) => {
            for e in validate_name(name, rule) {
                errors.push(FieldError::invalid("metadata.name", format!("{name:?}"), e));
            }
        }
    }
    if let Some(base) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        // Upstream checks the base as a name prefix: a trailing '-' is fine.
        let probe = format!("{base}a");
        for e in validate_name(&probe, rule) {
            errors.push(FieldError::invalid(
                "metadata.generateName",
                format!("{base:?}"),
                e,
            ));
        }
    }
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    if namespaced {
        if namespace.is_empty() {
            errors.push(FieldError::required("metadata.namespace", ""));
        } else {
            for e in validation::dns1123_label(namespace) {
                errors.push(FieldError::invalid(
                    "metadata.namespace",
                    format!("{namespace:?}"),
                    e,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errors.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(labels) = &meta.labels {
        validation::labels(labels, "metadata.labels", &mut errors);
    }
    if let Some(annotations) = &meta.annotations {
        validation::annotations(annotations, "metadata.annotations", &mut errors);
    }
    for (i, finalizer) in meta.finalizers.iter().flatten().enumerate() {
        for e in validation::qualified_name(finalizer) {
            errors.push(FieldError::invalid(
                format!("metadata.finalizers[{i}]"),
                format!("{finalizer:?}"),
                e,
            ));
        }
    }
    for (i, owner) in meta.owner_references.iter().flatten().enumerate() {
        let field = format!("metadata.ownerReferences[{i}]");
        if owner.api_version.is_empty() {
            errors.push(FieldError::invalid(
                format!("{field}.apiVersion"),
                "\"\"",
                "version must not be empty",
            ));
        }
        if owner.kind.is_empty() {
            errors.push(FieldError::invalid(
                format!("{field}.kind"),
                "\"\"",
                "kind must not be empty",
            ));
        }
        if owner.name.is_empty() {
            errors.push(FieldError::invalid(
                format!("{field}.name"),
                "\"\"",
                "name must not be empty",
            ));
        }
        if owner.uid.is_empty() {
            errors.push(FieldError::invalid(
                format!("{field}.uid"),
                "\"\"",
                "uid must not be empty",
            ));
        }
    }
    if meta
        .owner_references
        .iter()
        .flatten()
        .filter(|o| o.controller == Some(true))
        .count()
        > 1
    {
        errors.push(FieldError::invalid(
            "metadata.ownerReferences",
            "[...]",
            "Only one reference can have Controller set to true",
        ));
    }
    errors
}

/// Upstream `ValidateObjectMetaUpdate`: identity fields are immutable.
pub fn validate_update(new: &ObjectMeta, old: &ObjectMeta) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let immutable =
        |field: &str, a: &Option<String>, b: &Option<String>, errors: &mut Vec<FieldError>| {
            if a.as_deref().unwrap_or_default() != b.as_deref().unwrap_or_default() {
                errors.push(FieldError::invalid(
                    field,
                    format!("{:?}", a.as_deref().unwrap_or_default()),
                    "field is immutable",
                ));
            }
        };
    immutable("metadata.name", &new.name, &old.name, &mut errors);
    immutable(
        "metadata.namespace",
        &new.namespace,
        &old.namespace,
        &mut errors,
    );
    immutable("metadata.uid", &new.uid, &old.uid, &mut errors);
    if old.deletion_timestamp.is_some() {
        let added = new
            .finalizers
            .iter()
            .flatten()
            .any(|f| !old.finalizers.iter().flatten().any(|o| o == f));
        if added {
            errors.push(FieldError::forbidden(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted",
            ));
        }
    }
    errors
}

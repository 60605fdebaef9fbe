//! API errors and their one translation into a `metav1.Status` (DESIGN.md: "Errors become
//! `metav1.Status` in exactly one place"). Reasons and messages follow upstream's
//! `k8s.io/apimachinery/pkg/api/errors/errors.go`, because clients (kubectl, client-go) match
//! on `reason` and users read `message`.

use serde_json::{Value, json};

use crate::resources::Resource;

/// One field-level cause of an error (`StatusCause`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cause {
    /// Upstream's `CauseType`, e.g. `FieldValueRequired`, `FieldValueInvalid`.
    pub reason: &'static str,
    pub message: String,
    pub field: String,
}

/// A failed request, as the client will see it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// Boxed: errors travel in `Result`s everywhere and should stay small.
    pub details: Option<Box<Details>>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Details {
    pub name: String,
    pub group: String,
    pub kind: String,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<u32>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn about(mut self, resource: &Resource, name: &str) -> ApiError {
        self.details = Some(Box::new(Details {
            name: name.to_owned(),
            group: resource.group.to_owned(),
            kind: resource.plural.to_owned(),
            ..Details::default()
        }));
        self
    }

    pub fn not_found(resource: &Resource, name: &str) -> ApiError {
        let message = format!("{} \"{name}\" not found", resource.qualified());
        ApiError::new(404, "NotFound", message).about(resource, name)
    }

    pub fn already_exists(resource: &Resource, name: &str) -> ApiError {
        let message = format!("{} \"{name}\" already exists", resource.qualified());
        ApiError::new(409, "AlreadyExists", message).about(resource, name)
    }

    /// An optimistic-concurrency failure: the client must re-read and retry.
    pub fn conflict(resource: &Resource, name: &str, why: &str) -> ApiError {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": {why}",
            resource.qualified()
        );
        ApiError::new(409, "Conflict", message).about(resource, name)
    }

    pub fn stale(resource: &Resource, name: &str) -> ApiError {
        ApiError::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and \
             try again",
        )
    }

    /// Validation failed: 422 with one cause per field error.
    pub fn invalid(resource: &Resource, name: &str, errors: Vec<FieldError>) -> ApiError {
        let summary = match errors.as_slice() {
            [one] => one.to_string(),
            many => {
                let all: Vec<String> = many.iter().map(ToString::to_string).collect();
                format!("[{}]", all.join(", "))
            }
        };
        let kind = match resource.group {
            "" => resource.kind.to_owned(),
            group => format!("{}.{group}", resource.kind),
        };
        let message = format!("{kind} \"{name}\" is invalid: {summary}");
        ApiError {
            code: 422,
            reason: "Invalid",
            message,
            details: Some(Box::new(Details {
                name: name.to_owned(),
                group: resource.group.to_owned(),
                kind: resource.kind.to_owned(),
                causes: errors.into_iter().map(FieldError::into_cause).collect(),
                retry_after_seconds: None,
            })),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn forbidden(resource: &Resource, name: &str, why: impl std::fmt::Display) -> ApiError {
        let subject = if name.is_empty() {
            resource.qualified()
        } else {
            format!("{} \"{name}\"", resource.qualified())
        };
        ApiError::new(403, "Forbidden", format!("{subject} is forbidden: {why}"))
            .about(resource, name)
    }

    /// A request the authorizers refused (upstream `responsewriters.Forbidden`): names the
    /// resource as the request did, which need not be one this server serves.
    pub fn forbidden_request(resource: &str, group: &str, name: &str, message: &str) -> ApiError {
        let qualified = match group {
            "" => resource.to_owned(),
            group => format!("{resource}.{group}"),
        };
        let subject = match (qualified.as_str(), name) {
            ("", _) => String::new(),
            (q, "") => format!("{q} is "),
            (q, name) => format!("{q} \"{name}\" is "),
        };
        let mut error = ApiError::new(403, "Forbidden", format!("{subject}forbidden: {message}"));
        if !resource.is_empty() {
            error.details = Some(Box::new(Details {
                name: name.to_owned(),
                group: group.to_owned(),
                kind: resource.to_owned(),
                ..Details::default()
            }));
        }
        error
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn path_not_found() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn not_acceptable(what: &str) -> ApiError {
        ApiError::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: {what}"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?})"
            ),
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// A watch or list from a resourceVersion the store has compacted away.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    pub fn unavailable(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message.to_string())
    }

    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(504, "Timeout", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// The `metav1.Status` object of this error.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            let mut d = serde_json::Map::new();
            let mut put = |key: &str, value: &str| {
                if !value.is_empty() {
                    d.insert(key.to_owned(), Value::String(value.to_owned()));
                }
            };
            put("name", &details.name);
            put("group", &details.group);
            put("kind", &details.kind);
            if !details.causes.is_empty() {
                let causes = details
                    .causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect();
                d.insert("causes".to_owned(), Value::Array(causes));
            }
            if let Some(seconds) = details.retry_after_seconds {
                d.insert("retryAfterSeconds".to_owned(), json!(seconds));
            }
            status["details"] = Value::Object(d);
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ultrak8s_store::error::StoreError> for ApiError {
    fn from(error: ultrak8s_store::error::StoreError) -> ApiError {
        use ultrak8s_store::error::StoreError;
        match error {
            StoreError::Compacted { compact_revision } => ApiError::expired(format!(
                "The resourceVersion for the provided list is too old (compacted at {compact_revision})."
            )),
            StoreError::FutureRevision { current } => ApiError::timeout(format!(
                "Too large resource version, current resource version is {current}"
            )),
            StoreError::RequestTooLarge => ApiError::new(
                413,
                "RequestEntityTooLarge",
                "etcdserver: request is too large",
            ),
            StoreError::Unavailable { .. } => ApiError::unavailable(error),
            other => ApiError::internal(other),
        }
    }
}

/// One invalid field (`field.Error`), printed as upstream prints it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    pub field: String,
    pub detail: String,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FieldErrorKind {
    Required,
    Invalid(String),
    NotSupported(String, Vec<String>),
    Duplicate(String),
    Forbidden,
    TooLong(usize),
    TooMany(usize),
    NotFound(String),
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            kind: FieldErrorKind::Required,
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// `value` is already rendered as upstream renders it (strings quoted, numbers bare).
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<String>,
        detail: impl Into<String>,
    ) -> FieldError {
        FieldError {
            kind: FieldErrorKind::Invalid(value.into()),
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> FieldError {
        FieldError {
            kind: FieldErrorKind::NotSupported(
                format!("{value:?}"),
                supported.iter().map(|s| format!("{s:?}")).collect(),
            ),
            field: field.into(),
            detail: String::new(),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: impl Into<String>) -> FieldError {
        FieldError {
            kind: FieldErrorKind::Duplicate(value.into()),
            field: field.into(),
            detail: String::new(),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            kind: FieldErrorKind::Forbidden,
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub fn too_long(field: impl Into<String>, max: usize) -> FieldError {
        FieldError {
            kind: FieldErrorKind::TooLong(max),
            field: field.into(),
            detail: String::new(),
        }
    }

    fn cause_type(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid(_) => "FieldValueInvalid",
            FieldErrorKind::NotSupported(..) => "FieldValueNotSupported",
            FieldErrorKind::Duplicate(_) => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong(_) => "FieldValueTooLong",
            FieldErrorKind::TooMany(_) => "FieldValueTooMany",
            FieldErrorKind::NotFound(_) => "FieldValueNotFound",
        }
    }

    fn into_cause(self) -> Cause {
        let full = self.to_string();
        let message = full
            .strip_prefix(&format!("{}: ", self.field))
            .unwrap_or(&full)
            .to_owned();
        Cause {
            reason: self.cause_type(),
            message,
            field: self.field,
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.field)?;
        let detail = |f: &mut std::fmt::Formatter<'_>, sep: &str| {
            if self.detail.is_empty() {
                Ok(())
            } else {
                write!(f, "{sep}{}", self.detail)
            }
        };
        match &self.kind {
            FieldErrorKind::Required => {
                f.write_str("Required value")?;
                detail(f, ": ")
            }
            FieldErrorKind::Invalid(value) => {
                write!(f, "Invalid value: {value}")?;
                detail(f, ": ")
            }
            FieldErrorKind::NotSupported(value, supported) => {
                write!(f, "Unsupported value: {value}")?;
                if !supported.is_empty() {
                    write!(f, ": supported values: {}", supported.join(", "))?;
                }
                Ok(())
            }
            FieldErrorKind::Duplicate(value) => write!(f, "Duplicate value: {value}"),
            FieldErrorKind::Forbidden => {
                f.write_str("Forbidden")?;
                detail(f, ": ")
            }
            FieldErrorKind::TooLong(max) => {
                write!(f, "Too long: may not be more than {max} bytes")
            }
            FieldErrorKind::TooMany(max) => {
                write!(f, "Too many: must have at most {max} items")
            }
            FieldErrorKind::NotFound(value) => write!(f, "Not found: {value}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_print_as_upstream() {
        let required = FieldError::required("spec.containers[0].image", "");
        assert_eq!(
            required.to_string(),
            "spec.containers[0].image: Required value"
        );
        let invalid = FieldError::invalid("metadata.name", "\"Foo\"", "must be lowercase");
        assert_eq!(
            invalid.to_string(),
            "metadata.name: Invalid value: \"Foo\": must be lowercase"
        );
        let unsupported =
            FieldError::not_supported("spec.restartPolicy", "Sometimes", &["Always", "Never"]);
        assert_eq!(
            unsupported.to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \
             \"Always\", \"Never\""
        );
        let cause = invalid.into_cause();
        assert_eq!(cause.reason, "FieldValueInvalid");
        assert_eq!(cause.field, "metadata.name");
        assert_eq!(cause.message, "Invalid value: \"Foo\": must be lowercase");
    }
}

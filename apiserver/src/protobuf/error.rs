//! The codec's one error type.

use super::MAX_DEPTH;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProtobufError {
    #[error("not a Kubernetes protobuf message: it does not start with \"k8s\\0\"")]
    BadMagic,
    #[error("truncated protobuf message")]
    Truncated,
    #[error("malformed protobuf varint")]
    BadVarint,
    #[error("malformed protobuf field key")]
    BadTag,
    #[error("unsupported protobuf wire type {0}")]
    WireType(u8),
    #[error("wrong protobuf wire type for a field of type {expected}")]
    WrongWireType { expected: &'static str },
    #[error("the protobuf envelope has no apiVersion or no kind")]
    MissingKind,
    #[error("not supported: protobuf for {api_version}/{kind}")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("not supported: protobuf content encoding {0:?}")]
    ContentEncoding(String),
    #[error("not supported: embedded content type {0:?}")]
    ContentType(String),
    #[error("nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    /// A JSON value of the wrong type for its field.
    #[error("expected {0}")]
    JsonType(&'static str),
    /// A value of the right type that does not convert (a time, a duration, base64, ...).
    #[error("{0}")]
    Invalid(String),
    /// Where in the object an error happened, e.g. `spec.containers[0].ports`.
    #[error("{path}: {reason}")]
    At {
        path: String,
        reason: Box<ProtobufError>,
    },
}

impl ProtobufError {
    /// Prefixes the path with a field name.
    pub(super) fn at(self, field: &str) -> Self {
        self.prefixed(field)
    }

    /// Prefixes the path with an array index or map key.
    pub(super) fn at_index(self, index: impl std::fmt::Display) -> Self {
        self.prefixed(&format!("[{index}]"))
    }

    fn prefixed(self, segment: &str) -> Self {
        match self {
            ProtobufError::At { path, reason } => {
                let dot = if path.starts_with('[') { "" } else { "." };
                ProtobufError::At {
                    path: format!("{segment}{dot}{path}"),
                    reason,
                }
            }
            reason => ProtobufError::At {
                path: segment.to_owned(),
                reason: Box::new(reason),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_field_paths() {
        let e = ProtobufError::JsonType("a string")
            .at("name")
            .at_index(0)
            .at("containers");
        let e = e.at("spec");
        assert_eq!(e.to_string(), "spec.containers[0].name: expected a string");
    }
}

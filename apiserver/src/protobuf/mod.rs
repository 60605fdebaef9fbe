//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) ⇄ JSON, for every built-in kind
//! the server serves (DESIGN.md, "Objects: decode once, serialize once").
//!
//! The server stores and serves JSON; kubectl and client-go send some bodies as protobuf and
//! components ask for protobuf responses. The codec is a schema table, `schema.rs`, generated
//! by `scripts/gen-protobuf-schema` from the k8s-pb crate, upstream's OpenAPI document and the
//! Go API types; the runtime here walks it. Kubernetes' special types (Time, MicroTime,
//! Duration, Quantity, IntOrString, RawExtension, FieldsV1) are converted in `special.rs`
//! only.
//!
//! - `decode`: an enveloped object (`k8s\0` + `runtime.Unknown`) → (type, JSON), the JSON
//!   upstream's JSON codec would produce for the same object.
//! - `encode`: JSON → an enveloped object; `encode_message` + `envelope` split it so that the
//!   protobuf form of a stored version can be made once and reused, and `encode_list` builds
//!   a list from such messages without re-encoding them.
//! - `encode_watch_event` / `decode_watch_event`: the watch stream's frames.
//!
//! Zeros and nulls. Go writes every non-pointer field to protobuf, empty or not; its JSON
//! omits the `omitempty` ones. So `decode` drops a zero scalar unless the Go field is a
//! pointer or lacks `omitempty` (`replicas: 0` and `containerPort: 0` stay, `generateName: ""`
//! goes), keeps empty non-pointer structs (`spec: {}`) and writes Go's zero Time as
//! `null` (`creationTimestamp: null`), as upstream's JSON does. Absent repeated and map
//! fields stay absent. `encode` writes what the JSON holds and skips nulls, which a Go reader
//! takes as the zero value just as it does from JSON; its bytes are therefore not always
//! byte for byte Go's, but decode to the same Go object.

mod decode;
mod duration;
mod encode;
mod envelope;
mod error;
#[rustfmt::skip]
mod schema;
mod special;
mod table;
mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kubectl;

use std::convert::Infallible;

use serde_json::Value;

pub use error::ProtobufError;
use table::{Kind, Label};
use wire::{Reader, WireType, put_bytes, put_message};

/// The first bytes of every enveloped object: `k8s` and the encoding style, 0 for
/// `runtime.Unknown` (apimachinery `pkg/runtime/serializer/protobuf/protobuf.go`).
const MAGIC: [u8; 4] = [0x6b, 0x38, 0x73, 0x00];

/// How deep messages may nest. The deepest served kinds nest about a dozen levels; the limit
/// keeps a hostile body from exhausting the stack.
const MAX_DEPTH: usize = 100;

/// An object's `apiVersion` and `kind`, which protobuf carries in the envelope rather than the
/// message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeMeta {
    pub api_version: String,
    pub kind: String,
}

impl TypeMeta {
    /// The type of a JSON object, from its `apiVersion` and `kind`.
    pub fn of(object: &Value) -> Result<TypeMeta, ProtobufError> {
        let field = |name| object.get(name).and_then(Value::as_str).unwrap_or_default();
        let type_meta = TypeMeta {
            api_version: field("apiVersion").to_owned(),
            kind: field("kind").to_owned(),
        };
        if type_meta.api_version.is_empty() || type_meta.kind.is_empty() {
            return Err(ProtobufError::MissingKind);
        }
        Ok(type_meta)
    }

    fn message(&self) -> Result<&'static table::Message, ProtobufError> {
        table::by_kind(&self.api_version, &self.kind).ok_or_else(|| self.unsupported())
    }

    fn unsupported(&self) -> ProtobufError {
        ProtobufError::UnsupportedKind {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
        }
    }
}

/// The OpenAPI definition and proto message names of a kind, e.g. (`io.k8s.api.core.v1.Pod`,
/// `k8s.io.api.core.v1.Pod`) for (`v1`, `Pod`); `None` for a kind without protobuf support
/// here (custom resources, kinds not served), which upstream answers with 406 or 415.
pub fn message_names(api_version: &str, kind: &str) -> Option<(&'static str, &'static str)> {
    table::by_kind(api_version, kind).map(|m| (m.definition, m.proto))
}

/// Decodes an enveloped protobuf object into its type and its JSON form (with `apiVersion`
/// and `kind` set).
pub fn decode(bytes: &[u8]) -> Result<(TypeMeta, Value), ProtobufError> {
    envelope::decode(bytes, 0)
}

/// Encodes a JSON object (with `apiVersion` and `kind`) as an enveloped protobuf object.
pub fn encode(value: &Value) -> Result<Vec<u8>, ProtobufError> {
    let type_meta = TypeMeta::of(value)?;
    let msg = type_meta.message()?;
    let object = value
        .as_object()
        .ok_or(ProtobufError::JsonType("an object"))?;
    envelope::encode(&type_meta, |buf| encode::message(msg, object, buf, 0))
}

/// Encodes a JSON object as its kind's message alone, without the envelope: the form a list
/// holds its items in. Returns the type for `envelope`.
pub fn encode_message(value: &Value) -> Result<(TypeMeta, Vec<u8>), ProtobufError> {
    let type_meta = TypeMeta::of(value)?;
    let msg = type_meta.message()?;
    let object = value
        .as_object()
        .ok_or(ProtobufError::JsonType("an object"))?;
    let mut buf = Vec::new();
    encode::message(msg, object, &mut buf, 0)?;
    Ok((type_meta, buf))
}

/// Wraps a message from `encode_message` in the envelope; the result equals `encode`'s.
pub fn envelope(type_meta: &TypeMeta, message: &[u8]) -> Vec<u8> {
    let written = envelope::encode(type_meta, |buf| {
        buf.extend_from_slice(message);
        Ok::<_, Infallible>(())
    });
    match written {
        Ok(bytes) => bytes,
        Err(never) => match never {},
    }
}

/// Encodes a list (`PodList`, `ConfigMapList`, ...) from its `metadata` (a ListMeta as JSON)
/// and its items' messages (from `encode_message`), without decoding or re-encoding them.
pub fn encode_list<I>(
    api_version: &str,
    list_kind: &str,
    metadata: &Value,
    items: I,
) -> Result<Vec<u8>, ProtobufError>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let type_meta = TypeMeta {
        api_version: api_version.to_owned(),
        kind: list_kind.to_owned(),
    };
    let msg = type_meta.message()?;
    let (Some(meta_field), Some(items_field)) =
        (msg.field_by_name("metadata"), msg.field_by_name("items"))
    else {
        return Err(type_meta.unsupported());
    };
    let (Kind::Message(meta_index), Kind::Message(_)) = (meta_field.kind, items_field.kind) else {
        return Err(type_meta.unsupported());
    };
    if items_field.label != Label::Repeated {
        return Err(type_meta.unsupported());
    }
    let metadata = match metadata {
        Value::Null => &serde_json::Map::new(),
        v => v
            .as_object()
            .ok_or(ProtobufError::JsonType("an object").at("metadata"))?,
    };
    envelope::encode(&type_meta, |buf| {
        put_message(buf, meta_field.tag, |b| {
            encode::message(table::message(meta_index), metadata, b, 1)
        })
        .map_err(|e| e.at("metadata"))?;
        for item in items {
            put_bytes(buf, items_field.tag, item.as_ref());
        }
        Ok(())
    })
}

/// One event of a watch stream.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    pub event_type: String,
    pub type_meta: TypeMeta,
    pub object: Value,
}

/// Encodes one frame of a protobuf watch stream: a 4-byte big-endian length, then a
/// `metav1.WatchEvent` {type = 1, object = 2: RawExtension {raw = 1}} without an envelope,
/// whose raw is the object's enveloped form (`encode`, or `envelope` of a cached message).
///
/// The response's Content-Type is `application/vnd.kubernetes.protobuf;stream=watch`.
/// Upstream: the stream serializer is the raw protobuf serializer with
/// `LengthDelimitedFramer` (apimachinery `pkg/runtime/serializer/codec_factory.go`,
/// `pkg/util/framer/framer.go`); the object inside uses the ordinary one (apiserver
/// `pkg/endpoints/handlers/watch.go`).
pub fn encode_watch_event(event_type: &str, object: &[u8]) -> Vec<u8> {
    let mut event = Vec::with_capacity(object.len() + event_type.len() + 16);
    put_bytes(&mut event, 1, event_type.as_bytes());
    let written = put_message(&mut event, 2, |b| {
        put_bytes(b, 1, object);
        Ok::<_, Infallible>(())
    });
    if let Err(never) = written {
        match never {}
    }
    let len = u32::try_from(event.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(4 + event.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&event);
    frame
}

/// Decodes one watch event from a frame's payload (what follows its 4-byte length).
pub fn decode_watch_event(payload: &[u8]) -> Result<WatchEvent, ProtobufError> {
    let mut event_type = String::new();
    let mut raw: &[u8] = &[];
    let mut r = Reader::new(payload);
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => event_type = String::from_utf8_lossy(r.bytes()?).into_owned(),
            (2, WireType::Len) => {
                let mut o = Reader::new(r.bytes()?);
                while !o.is_empty() {
                    match o.key()? {
                        (1, WireType::Len) => raw = o.bytes()?,
                        (_, wire_type) => o.skip(wire_type)?,
                    }
                }
            }
            (_, wire_type) => r.skip(wire_type)?,
        }
    }
    let (type_meta, object) = envelope::decode(raw, 1).map_err(|e| e.at("object"))?;
    Ok(WatchEvent {
        event_type,
        type_meta,
        object,
    })
}

//! The envelope every Kubernetes protobuf object travels in: the magic `k8s\0`, then a
//! `runtime.Unknown` {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3,
//! contentType = 4} whose `raw` is the kind's message (apimachinery
//! `pkg/runtime/serializer/protobuf/protobuf.go` and `pkg/runtime/generated.proto`).

use serde_json::{Map, Value};

use super::wire::{Reader, WireType, put_bytes, put_message};
use super::{MAGIC, ProtobufError, TypeMeta, table};

const CONTENT_TYPE_PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const CONTENT_TYPE_JSON: &str = "application/json";

/// Decodes an enveloped object; nested envelopes (in a `RawExtension`) come with their depth.
pub(super) fn decode(bytes: &[u8], depth: usize) -> Result<(TypeMeta, Value), ProtobufError> {
    let body = bytes.strip_prefix(&MAGIC).ok_or(ProtobufError::BadMagic)?;
    let mut type_meta = TypeMeta::default();
    let mut raw: &[u8] = &[];
    let mut content_encoding = String::new();
    let mut content_type = String::new();
    let mut r = Reader::new(body);
    while !r.is_empty() {
        match r.key()? {
            (1, WireType::Len) => {
                let mut t = Reader::new(r.bytes()?);
                while !t.is_empty() {
                    match t.key()? {
                        (1, WireType::Len) => type_meta.api_version = text(t.bytes()?),
                        (2, WireType::Len) => type_meta.kind = text(t.bytes()?),
                        (_, wire_type) => t.skip(wire_type)?,
                    }
                }
            }
            (2, WireType::Len) => raw = r.bytes()?,
            (3, WireType::Len) => content_encoding = text(r.bytes()?),
            (4, WireType::Len) => content_type = text(r.bytes()?),
            (_, wire_type) => r.skip(wire_type)?,
        }
    }
    if !content_encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(content_encoding));
    }
    if type_meta.api_version.is_empty() || type_meta.kind.is_empty() {
        return Err(ProtobufError::MissingKind);
    }
    let mut object = Map::new();
    object.insert(
        "apiVersion".to_owned(),
        Value::from(type_meta.api_version.as_str()),
    );
    object.insert("kind".to_owned(), Value::from(type_meta.kind.as_str()));
    match content_type.as_str() {
        "" | CONTENT_TYPE_PROTOBUF => {
            let msg = table::by_kind(&type_meta.api_version, &type_meta.kind)
                .ok_or_else(|| type_meta.unsupported())?;
            super::decode::message_into(msg, raw, depth, &mut object)?;
        }
        // An Unknown may carry JSON (runtime.Unknown's contentType); the envelope's type wins.
        CONTENT_TYPE_JSON => match serde_json::from_slice(raw) {
            Ok(Value::Object(fields)) => {
                for (k, v) in fields {
                    object.entry(k).or_insert(v);
                }
            }
            _ => {
                return Err(ProtobufError::Invalid(
                    "embedded JSON is not an object".to_owned(),
                ));
            }
        },
        _ => return Err(ProtobufError::ContentType(content_type)),
    }
    Ok((type_meta, Value::Object(object)))
}

/// Writes the envelope around a message that `write` appends.
pub(super) fn encode<E>(
    type_meta: &TypeMeta,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&MAGIC);
    put_message(&mut buf, 1, |b| {
        put_bytes(b, 1, type_meta.api_version.as_bytes());
        put_bytes(b, 2, type_meta.kind.as_bytes());
        Ok(())
    })?;
    put_message(&mut buf, 2, write)?;
    // Go writes the empty contentEncoding and contentType too (proto2, non-pointer fields).
    put_bytes(&mut buf, 3, b"");
    put_bytes(&mut buf, 4, b"");
    Ok(buf)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

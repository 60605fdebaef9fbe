//! JSON object → protobuf message, driven by the schema table.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::table::{self, Field, Kind, Label, Message};
use super::wire::{WireType, put_bytes, put_key, put_message, put_varint};
use super::{MAX_DEPTH, ProtobufError, special};

/// Appends the message for a JSON object, fields in tag order as Go writes them.
///
/// Keys the message has no field for (`apiVersion` and `kind` at the top, which travel in the
/// envelope) are not written; absent keys and nulls are not written either, which a Go reader
/// takes as the zero value, as it would from JSON.
pub(super) fn message(
    msg: &'static Message,
    object: &Map<String, Value>,
    buf: &mut Vec<u8>,
    depth: usize,
) -> Result<(), ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    for field in msg.fields {
        if field.label == Label::Inline {
            let Kind::Message(index) = field.kind else {
                continue;
            };
            put_message(buf, field.tag, |b| {
                message(table::message(index), object, b, depth + 1)
            })?;
            continue;
        }
        match object.get(field.json_name) {
            None | Some(Value::Null) => {}
            Some(value) => {
                write_field(field, value, buf, depth).map_err(|e| e.at(field.json_name))?
            }
        }
    }
    Ok(())
}

fn write_field(
    field: &Field,
    value: &Value,
    buf: &mut Vec<u8>,
    depth: usize,
) -> Result<(), ProtobufError> {
    match field.label {
        Label::Optional | Label::Inline => write_value(field.kind, field.tag, value, buf, depth),
        Label::Repeated => {
            let items = value
                .as_array()
                .ok_or(ProtobufError::JsonType("an array"))?;
            for (i, item) in items.iter().enumerate() {
                write_value(field.kind, field.tag, item, buf, depth).map_err(|e| e.at_index(i))?;
            }
            Ok(())
        }
        Label::Map => {
            let entries = value
                .as_object()
                .ok_or(ProtobufError::JsonType("an object"))?;
            // serde_json may keep insertion order; Go sorts map keys, and so do we.
            let mut sorted: Vec<(&String, &Value)> = entries.iter().collect();
            sorted.sort_unstable_by_key(|&(key, _)| key);
            for (key, value) in sorted {
                put_message(buf, field.tag, |b| {
                    put_bytes(b, 1, key.as_bytes());
                    write_value(field.kind, 2, value, b, depth)
                })
                .map_err(|e| e.at_index(key))?;
            }
            Ok(())
        }
    }
}

/// Writes one value with its key. A null element of an array or map is the kind's zero.
fn write_value(
    kind: Kind,
    tag: u32,
    value: &Value,
    buf: &mut Vec<u8>,
    depth: usize,
) -> Result<(), ProtobufError> {
    match kind {
        Kind::String => put_bytes(buf, tag, string(value, "a string")?.as_bytes()),
        Kind::Bytes => {
            let text = string(value, "a base64 string")?;
            let bytes = STANDARD
                .decode(text)
                .map_err(|e| ProtobufError::Invalid(format!("invalid base64: {e}")))?;
            put_bytes(buf, tag, &bytes);
        }
        Kind::Bool => {
            let b = match value {
                Value::Null => false,
                v => v.as_bool().ok_or(ProtobufError::JsonType("a boolean"))?,
            };
            put_key(buf, tag, WireType::Varint);
            put_varint(buf, u64::from(b));
        }
        Kind::Int32 | Kind::Int64 => {
            let n = match value {
                Value::Null => 0,
                v => v.as_i64().ok_or(ProtobufError::JsonType("an integer"))?,
            };
            if kind == Kind::Int32 && i32::try_from(n).is_err() {
                return Err(ProtobufError::JsonType("an integer in int32 range"));
            }
            put_key(buf, tag, WireType::Varint);
            // Negative numbers travel sign-extended to 64 bits, int32 included.
            put_varint(buf, n as u64);
        }
        Kind::Double => {
            let f = match value {
                Value::Null => 0.0,
                v => v.as_f64().ok_or(ProtobufError::JsonType("a number"))?,
            };
            put_key(buf, tag, WireType::Fixed64);
            buf.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Kind::Message(index) => {
            let empty = Map::new();
            let object = match value {
                Value::Null => &empty,
                v => v.as_object().ok_or(ProtobufError::JsonType("an object"))?,
            };
            put_message(buf, tag, |b| {
                message(table::message(index), object, b, depth + 1)
            })?;
        }
        Kind::StringList => {
            let items = match value {
                Value::Null => &[][..],
                v => v
                    .as_array()
                    .ok_or(ProtobufError::JsonType("an array of strings"))?,
            };
            put_message(buf, tag, |b| {
                for (i, item) in items.iter().enumerate() {
                    let s = string(item, "a string").map_err(|e| e.at_index(i))?;
                    put_bytes(b, 1, s.as_bytes());
                }
                Ok(())
            })?;
        }
        // The zero of a special type is its empty message (Go's zero Time, for one).
        _ if value.is_null() => put_message(buf, tag, |_| Ok::<_, ProtobufError>(()))?,
        special => put_message(buf, tag, |b| special::encode(special, value, b))?,
    }
    Ok(())
}

fn string<'a>(value: &'a Value, expected: &'static str) -> Result<&'a str, ProtobufError> {
    match value {
        Value::Null => Ok(""),
        v => v.as_str().ok_or(ProtobufError::JsonType(expected)),
    }
}

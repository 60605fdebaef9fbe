//! Kubernetes' special types: messages whose JSON form is not an object of their fields. Each
//! is converted here, both ways, and nowhere else.
//!
//! | type | protobuf | JSON |
//! |---|---|---|
//! | `metav1.Time` | {seconds int64 = 1, nanos int32 = 2} | RFC 3339, whole seconds, UTC |
//! | `metav1.MicroTime` | the same | RFC 3339 with 6 fractional digits, UTC |
//! | `metav1.Duration` | {duration int64 = 1} (ns) | Go duration string, `1h2m3s` |
//! | `resource.Quantity` | {string string = 1} | string |
//! | `intstr.IntOrString` | {type int64 = 1, intVal int32 = 2, strVal string = 3} | int or string |
//! | `runtime.RawExtension` | {raw bytes = 1} | the embedded JSON |
//! | `metav1.FieldsV1` | {Raw bytes = 1} | the embedded JSON object |
//!
//! Sources: apimachinery `pkg/apis/meta/v1/{time,time_proto,micro_time,micro_time_proto,
//! duration}.go`, `pkg/api/resource/quantity_proto.go`, `pkg/util/intstr/intstr.go`,
//! `pkg/runtime/extension.go`, `pkg/apis/meta/v1/helper.go` (FieldsV1).

use jiff::Timestamp;
use jiff::tz::Offset;
use serde_json::Value;

use super::table::Kind;
use super::wire::{Reader, WireType, put_bytes, put_key, put_varint};
use super::{MAGIC, ProtobufError, duration, envelope};

/// Decodes the body of a special message.
pub(super) fn decode(kind: Kind, bytes: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    let fields = Fields::read(bytes)?;
    match kind {
        // Go's zero time marshals to no bytes at all and its JSON is null; a time at the epoch
        // still carries `seconds: 0`. Time's protobuf form drops nanoseconds (time_proto.go).
        Kind::Time if bytes.is_empty() => Ok(Value::Null),
        Kind::Time => format_time(fields.varint(1) as i64, 0, false),
        Kind::MicroTime if bytes.is_empty() => Ok(Value::Null),
        Kind::MicroTime => format_time(fields.varint(1) as i64, fields.varint(2) as i32, true),
        Kind::Duration => Ok(Value::String(duration::format(fields.varint(1) as i64))),
        Kind::Quantity => {
            let s = fields.string(1);
            // The zero Quantity's string is "0" (quantity.go, `String`).
            Ok(Value::String(if s.is_empty() { "0".to_owned() } else { s }))
        }
        Kind::IntOrString => match fields.varint(1) {
            1 => Ok(Value::String(fields.string(3))),
            _ => Ok(Value::from(fields.varint(2) as i32)),
        },
        Kind::RawExtension | Kind::FieldsV1 => {
            let raw = fields.bytes(1);
            if raw.is_empty() {
                return Ok(Value::Null);
            }
            if kind == Kind::RawExtension && raw.starts_with(&MAGIC) {
                // A watch event carries its object as a protobuf envelope (watch.go in
                // apiserver/pkg/endpoints/handlers).
                let (_, object) = envelope::decode(raw, depth + 1)?;
                return Ok(object);
            }
            serde_json::from_slice(raw)
                .map_err(|e| ProtobufError::Invalid(format!("embedded object is not JSON: {e}")))
        }
        other => Err(ProtobufError::Invalid(format!(
            "{other:?} is not a special type"
        ))),
    }
}

/// Writes the body of a special message for a JSON value (never null: absent fields and nulls
/// are skipped by the caller).
pub(super) fn encode(kind: Kind, value: &Value, buf: &mut Vec<u8>) -> Result<(), ProtobufError> {
    match kind {
        Kind::Time | Kind::MicroTime => {
            let text = value
                .as_str()
                .ok_or(ProtobufError::JsonType("an RFC 3339 time"))?;
            let ts: Timestamp = text
                .parse()
                .map_err(|e| ProtobufError::Invalid(format!("invalid time {text:?}: {e}")))?;
            // Unix seconds round down (Go's `Unix`), so the nanoseconds are never negative.
            let (mut seconds, mut nanos) = (ts.as_second(), ts.subsec_nanosecond());
            if nanos < 0 {
                seconds -= 1;
                nanos += 1_000_000_000;
            }
            if kind == Kind::Time {
                // time_proto.go sends whole seconds only.
                nanos = 0;
            } else {
                // MicroTime's JSON has microseconds; drop what its JSON would.
                nanos -= nanos % 1_000;
            }
            put_varint_field(buf, 1, seconds as u64);
            put_varint_field(buf, 2, i64::from(nanos) as u64);
        }
        Kind::Duration => {
            let text = value
                .as_str()
                .ok_or(ProtobufError::JsonType("a duration string"))?;
            put_varint_field(buf, 1, duration::parse(text)? as u64);
        }
        Kind::Quantity => match value {
            Value::String(s) => put_bytes(buf, 1, s.as_bytes()),
            // Quantity's UnmarshalJSON also takes a bare number.
            Value::Number(n) => put_bytes(buf, 1, n.to_string().as_bytes()),
            _ => return Err(ProtobufError::JsonType("a quantity string")),
        },
        // Go writes all three fields (intstr.go's generated marshaller), and so do we.
        Kind::IntOrString => match value {
            Value::Number(n) => {
                let int = n
                    .as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or(ProtobufError::JsonType("an int32 or a string"))?;
                put_varint_field(buf, 1, 0);
                put_varint_field(buf, 2, i64::from(int) as u64);
                put_bytes(buf, 3, b"");
            }
            Value::String(s) => {
                put_varint_field(buf, 1, 1);
                put_varint_field(buf, 2, 0);
                put_bytes(buf, 3, s.as_bytes());
            }
            _ => return Err(ProtobufError::JsonType("an int32 or a string")),
        },
        Kind::RawExtension | Kind::FieldsV1 => {
            if kind == Kind::FieldsV1 && !value.is_object() {
                return Err(ProtobufError::JsonType("an object"));
            }
            let raw = serde_json::to_vec(value)
                .map_err(|e| ProtobufError::Invalid(format!("cannot write JSON: {e}")))?;
            put_bytes(buf, 1, &raw);
        }
        other => {
            return Err(ProtobufError::Invalid(format!(
                "{other:?} is not a special type"
            )));
        }
    }
    Ok(())
}

fn put_varint_field(buf: &mut Vec<u8>, tag: u32, value: u64) {
    put_key(buf, tag, WireType::Varint);
    put_varint(buf, value);
}

/// RFC 3339 in UTC: `2006-01-02T15:04:05Z`, or with `.000000` for MicroTime (Go's
/// `time.RFC3339` and `metav1.RFC3339Micro` layouts).
fn format_time(seconds: i64, nanos: i32, micro: bool) -> Result<Value, ProtobufError> {
    let ts = Timestamp::new(seconds, nanos.clamp(0, 999_999_999))
        .map_err(|e| ProtobufError::Invalid(format!("invalid time: {e}")))?;
    let t = Offset::UTC.to_datetime(ts);
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if micro {
        text.push_str(&format!(".{:06}", t.subsec_nanosecond() / 1_000));
    }
    text.push('Z');
    Ok(Value::String(text))
}

/// The few fields of a special message, last occurrence winning.
struct Fields<'a> {
    varints: [u64; 4],
    runs: [&'a [u8]; 4],
}

impl<'a> Fields<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, ProtobufError> {
        let mut fields = Fields {
            varints: [0; 4],
            runs: [&[]; 4],
        };
        let mut r = Reader::new(bytes);
        while !r.is_empty() {
            let (tag, wire_type) = r.key()?;
            let slot = usize::try_from(tag).ok().filter(|&t| t < 4);
            match (slot, wire_type) {
                (Some(t), WireType::Varint) => fields.varints[t] = r.varint()?,
                (Some(t), WireType::Len) => fields.runs[t] = r.bytes()?,
                _ => r.skip(wire_type)?,
            }
        }
        Ok(fields)
    }

    fn varint(&self, tag: usize) -> u64 {
        self.varints[tag]
    }

    fn bytes(&self, tag: usize) -> &'a [u8] {
        self.runs[tag]
    }

    fn string(&self, tag: usize) -> String {
        String::from_utf8_lossy(self.runs[tag]).into_owned()
    }
}

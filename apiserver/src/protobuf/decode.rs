//! Protobuf message → JSON object, driven by the schema table.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value};

use super::table::{self, Field, Kind, Label, Message};
use super::wire::{Reader, WireType};
use super::{MAX_DEPTH, ProtobufError, special};

/// What arrived for one field, kept until the message ends so that the JSON object is
/// written in tag order and repeated occurrences are gathered.
#[derive(Default)]
enum Slot<'a> {
    #[default]
    Absent,
    One(Value),
    /// An embedded message's runs: protobuf merges repeated occurrences of a message field,
    /// which is the same as decoding their concatenation.
    Runs(Vec<&'a [u8]>),
    Many(Vec<Value>),
    Entries(Map<String, Value>),
}

/// Decodes a message body into a JSON object.
pub(super) fn message(
    msg: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Map<String, Value>, ProtobufError> {
    let mut out = Map::new();
    message_into(msg, bytes, depth, &mut out)?;
    Ok(out)
}

/// Decodes a message body into an existing object (the parent's, for inlined messages).
pub(super) fn message_into(
    msg: &'static Message,
    bytes: &[u8],
    depth: usize,
    out: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let mut slots: Vec<Slot<'_>> = Vec::new();
    slots.resize_with(msg.fields.len(), Slot::default);
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        let (tag, wire_type) = r.key()?;
        let Some((i, field)) = msg.field_by_tag(tag) else {
            r.skip(wire_type)?;
            continue;
        };
        read_field(field, wire_type, &mut r, &mut slots[i], depth).map_err(|e| {
            match field.label {
                Label::Inline => e,
                _ => e.at(field.json_name),
            }
        })?;
    }
    for (field, slot) in msg.fields.iter().zip(slots) {
        finish_field(field, slot, depth, out).map_err(|e| match field.label {
            Label::Inline => e,
            _ => e.at(field.json_name),
        })?;
    }
    Ok(())
}

fn read_field<'a>(
    field: &Field,
    wire_type: WireType,
    r: &mut Reader<'a>,
    slot: &mut Slot<'a>,
    depth: usize,
) -> Result<(), ProtobufError> {
    match field.label {
        Label::Optional | Label::Inline if matches!(field.kind, Kind::Message(_)) => {
            let run = len_delimited(wire_type, r, "message")?;
            match slot {
                Slot::Runs(runs) => runs.push(run),
                _ => *slot = Slot::Runs(vec![run]),
            }
        }
        Label::Optional | Label::Inline => {
            *slot = Slot::One(value(field.kind, wire_type, r, depth)?)
        }
        Label::Repeated => {
            let Slot::Many(items) = slot else {
                *slot = Slot::Many(Vec::new());
                return read_field(field, wire_type, r, slot, depth);
            };
            if wire_type == WireType::Len && field.kind.packable() {
                // A packed run (proto3 style); Go writes Kubernetes' proto2 unpacked, but a
                // decoder must accept both.
                let mut packed = Reader::new(r.bytes()?);
                while !packed.is_empty() {
                    let element = scalar_wire_type(field.kind);
                    items.push(value(field.kind, element, &mut packed, depth)?);
                }
            } else {
                let index = items.len();
                items.push(value(field.kind, wire_type, r, depth).map_err(|e| e.at_index(index))?);
            }
        }
        Label::Map => {
            let Slot::Entries(entries) = slot else {
                *slot = Slot::Entries(Map::new());
                return read_field(field, wire_type, r, slot, depth);
            };
            let (key, value) = map_entry(field.kind, len_delimited(wire_type, r, "map")?, depth)?;
            entries.insert(key, value);
        }
    }
    Ok(())
}

fn finish_field(
    field: &Field,
    slot: Slot<'_>,
    depth: usize,
    out: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    let value = match slot {
        Slot::Absent => return Ok(()),
        Slot::One(value) if !field.emit_zero && field.kind.is_scalar() && is_zero(&value) => {
            return Ok(());
        }
        Slot::One(value) => value,
        Slot::Runs(runs) => {
            let Kind::Message(index) = field.kind else {
                return Err(ProtobufError::Invalid(
                    "runs of a non-message field".to_owned(),
                ));
            };
            let joined;
            let bytes = match runs.as_slice() {
                [one] => *one,
                _ => {
                    joined = runs.concat();
                    &joined
                }
            };
            if field.label == Label::Inline {
                return message_into(table::message(index), bytes, depth + 1, out);
            }
            Value::Object(message(table::message(index), bytes, depth + 1)?)
        }
        Slot::Many(items) => Value::Array(items),
        Slot::Entries(entries) => Value::Object(entries),
    };
    out.insert(field.json_name.to_owned(), value);
    Ok(())
}

/// The zero of a scalar, which upstream's JSON omits unless the Go field is a pointer or
/// lacks `omitempty`. (Special types are structs in Go, which `omitempty` never omits:
/// `targetPort: 0` stays.)
fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn scalar_wire_type(kind: Kind) -> WireType {
    match kind {
        Kind::Bool | Kind::Int32 | Kind::Int64 => WireType::Varint,
        Kind::Double => WireType::Fixed64,
        _ => WireType::Len,
    }
}

fn len_delimited<'a>(
    wire_type: WireType,
    r: &mut Reader<'a>,
    expected: &'static str,
) -> Result<&'a [u8], ProtobufError> {
    if wire_type != WireType::Len {
        return Err(ProtobufError::WrongWireType { expected });
    }
    r.bytes()
}

/// One value of a field of `kind`.
pub(super) fn value(
    kind: Kind,
    wire_type: WireType,
    r: &mut Reader<'_>,
    depth: usize,
) -> Result<Value, ProtobufError> {
    let expected = scalar_wire_type(kind);
    if wire_type != expected {
        return Err(ProtobufError::WrongWireType {
            expected: kind_name(kind),
        });
    }
    Ok(match kind {
        // Go does not check UTF-8 in proto2 strings, and its JSON encoder writes U+FFFD for
        // invalid bytes: the lossy conversion gives the JSON upstream would serve.
        Kind::String => Value::String(String::from_utf8_lossy(r.bytes()?).into_owned()),
        Kind::Bytes => Value::String(STANDARD.encode(r.bytes()?)),
        Kind::Bool => Value::Bool(r.varint()? != 0),
        // int32 travels sign-extended to 64 bits; the low 32 bits are the value.
        Kind::Int32 => Value::from(r.varint()? as i32),
        Kind::Int64 => Value::from(r.varint()? as i64),
        Kind::Double => {
            let v = f64::from_bits(r.fixed64()?);
            Value::Number(
                Number::from_f64(v)
                    .ok_or(ProtobufError::Invalid(format!("{v} has no JSON form")))?,
            )
        }
        Kind::Message(index) => {
            Value::Object(message(table::message(index), r.bytes()?, depth + 1)?)
        }
        Kind::StringList => string_list(r.bytes()?)?,
        special => special::decode(special, r.bytes()?, depth + 1)?,
    })
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Bool => "bool",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Double => "double",
        _ => "message",
    }
}

/// `repeated string items = 1`, the wire form of Go's named `[]string` types.
fn string_list(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut items = Vec::new();
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        match r.key()? {
            (1, wire_type) => items.push(value(Kind::String, wire_type, &mut r, 0)?),
            (_, wire_type) => r.skip(wire_type)?,
        }
    }
    Ok(Value::Array(items))
}

/// A map entry {key = 1, value = 2}; a missing half is its type's zero, as in protobuf.
fn map_entry(kind: Kind, bytes: &[u8], depth: usize) -> Result<(String, Value), ProtobufError> {
    let mut key = String::new();
    let mut entry_value = None;
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        match r.key()? {
            (1, wire_type) => {
                key = String::from_utf8_lossy(len_delimited(wire_type, &mut r, "string")?)
                    .into_owned();
            }
            (2, wire_type) => entry_value = Some(value(kind, wire_type, &mut r, depth)),
            (_, wire_type) => r.skip(wire_type)?,
        }
    }
    let entry_value = match entry_value {
        Some(v) => v,
        None => zero(kind, depth),
    };
    Ok((key.clone(), entry_value.map_err(|e| e.at_index(key))?))
}

fn zero(kind: Kind, depth: usize) -> Result<Value, ProtobufError> {
    match kind {
        Kind::Int32 | Kind::Int64 => Ok(Value::from(0)),
        Kind::Double => Ok(Value::from(0.0)),
        Kind::Bool => Ok(Value::Bool(false)),
        Kind::String | Kind::Bytes => Ok(Value::String(String::new())),
        // A message's zero is its empty body: read one from a run of length 0.
        _ => value(kind, WireType::Len, &mut Reader::new(&[0]), depth),
    }
}

//! The shape of the generated schema (`schema.rs`) and the look-ups over it.

use super::schema::{KINDS, MESSAGES};

/// What a field holds on the wire and in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    String,
    /// Raw bytes on the wire, base64 in JSON (Go's `[]byte`).
    Bytes,
    Bool,
    Int32,
    Int64,
    #[allow(dead_code, reason = "no served kind of 1.35 has a double field")]
    Double,
    /// A message of the table, by index into `MESSAGES`; a JSON object of its fields.
    Message(u16),
    // The special types: messages whose JSON form is not an object of their fields. Each is
    // converted in `special.rs`.
    Time,
    MicroTime,
    #[allow(dead_code, reason = "no served kind of 1.35 has a Duration field")]
    Duration,
    Quantity,
    IntOrString,
    RawExtension,
    FieldsV1,
    /// A named `[]string` (`ExtraValue`, `Verbs`): `repeated string items = 1` on the wire, an
    /// array of strings in JSON.
    StringList,
}

impl Kind {
    pub(super) fn is_scalar(self) -> bool {
        matches!(
            self,
            Kind::String | Kind::Bytes | Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Double
        )
    }

    /// Kinds whose repeated fields may arrive packed (one length-delimited run).
    pub(super) fn packable(self) -> bool {
        matches!(self, Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Double)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Label {
    Optional,
    Repeated,
    /// `map<string, kind>`: repeated entry messages {key = 1, value = 2}; a JSON object.
    Map,
    /// A message that protobuf nests but JSON flattens into the parent object (Go's
    /// `json:",inline"` with a protobuf tag, e.g. `Volume.volumeSource`).
    Inline,
}

#[derive(Debug)]
pub(super) struct Field {
    pub tag: u32,
    /// Empty for `Label::Inline`.
    pub json_name: &'static str,
    pub kind: Kind,
    pub label: Label,
    /// Whether a zero scalar appears in upstream's JSON: the Go field is a pointer (so the
    /// zero was set, `replicas: 0`) or lacks `omitempty`. Go writes every non-pointer scalar
    /// to protobuf, so a zero on the wire is omitted from JSON unless this is set.
    pub emit_zero: bool,
}

impl Field {
    pub(super) const fn optional(tag: u32, json_name: &'static str, kind: Kind) -> Self {
        Field {
            tag,
            json_name,
            kind,
            label: Label::Optional,
            emit_zero: false,
        }
    }

    pub(super) const fn repeated(tag: u32, json_name: &'static str, kind: Kind) -> Self {
        Field {
            tag,
            json_name,
            kind,
            label: Label::Repeated,
            emit_zero: false,
        }
    }

    pub(super) const fn map(tag: u32, json_name: &'static str, kind: Kind) -> Self {
        Field {
            tag,
            json_name,
            kind,
            label: Label::Map,
            emit_zero: false,
        }
    }

    pub(super) const fn inline(tag: u32, kind: Kind) -> Self {
        Field {
            tag,
            json_name: "",
            kind,
            label: Label::Inline,
            emit_zero: false,
        }
    }

    pub(super) const fn emit_zero(self) -> Self {
        Field {
            emit_zero: true,
            ..self
        }
    }
}

#[derive(Debug)]
pub(super) struct Message {
    /// The OpenAPI definition name, e.g. `io.k8s.api.core.v1.Pod`.
    pub definition: &'static str,
    /// The proto full name, e.g. `k8s.io.api.core.v1.Pod`.
    pub proto: &'static str,
    /// Sorted by tag.
    pub fields: &'static [Field],
    /// Indices into `fields`, sorted by JSON name (inlined fields have none).
    pub by_name: &'static [u8],
}

impl Message {
    /// The field of a tag, with its index in `fields`.
    pub(super) fn field_by_tag(&self, tag: u32) -> Option<(usize, &'static Field)> {
        let fields = self.fields;
        fields
            .binary_search_by_key(&tag, |f| f.tag)
            .ok()
            .map(|i| (i, &fields[i]))
    }

    pub(super) fn field_by_name(&self, name: &str) -> Option<&'static Field> {
        let fields = self.fields;
        let i = self
            .by_name
            .binary_search_by(|&i| fields[usize::from(i)].json_name.cmp(name))
            .ok()?;
        Some(&fields[usize::from(self.by_name[i])])
    }
}

/// The message at an index the table itself holds (so always in range: see the table test).
pub(super) fn message(index: u16) -> &'static Message {
    &MESSAGES[usize::from(index)]
}

/// The message of a top-level kind, e.g. (`apps/v1`, `Deployment`).
pub(super) fn by_kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    let i = KINDS
        .binary_search_by(|&(v, k, _)| (v, k).cmp(&(api_version, kind)))
        .ok()?;
    Some(message(KINDS[i].2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for (i, m) in MESSAGES.iter().enumerate() {
            if i > 0 {
                assert!(
                    MESSAGES[i - 1].definition < m.definition,
                    "{}",
                    m.definition
                );
            }
            assert!(
                m.fields.windows(2).all(|w| w[0].tag < w[1].tag),
                "{}",
                m.definition
            );
            let names: Vec<_> = m
                .by_name
                .iter()
                .map(|&i| m.fields[usize::from(i)].json_name)
                .collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{}", m.definition);
            let named = m.fields.iter().filter(|f| f.label != Label::Inline).count();
            assert_eq!(names.len(), named, "{}", m.definition);
            for f in m.fields {
                if let Kind::Message(index) = f.kind {
                    assert!(usize::from(index) < MESSAGES.len(), "{}", m.definition);
                }
                if f.label == Label::Inline {
                    assert!(matches!(f.kind, Kind::Message(_)), "{}", m.definition);
                }
            }
        }
        assert!(
            KINDS
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
    }

    #[test]
    fn look_ups() {
        let pod = by_kind("v1", "Pod").expect("Pod is served");
        assert_eq!(pod.definition, "io.k8s.api.core.v1.Pod");
        assert_eq!(pod.proto, "k8s.io.api.core.v1.Pod");
        assert_eq!(
            by_kind("rbac.authorization.k8s.io/v1", "ClusterRole").map(|m| m.definition),
            Some("io.k8s.api.rbac.v1.ClusterRole")
        );
        assert_eq!(pod.field_by_name("spec").map(|f| f.tag), Some(2));
        assert_eq!(
            pod.field_by_tag(3).map(|(i, f)| (i, f.json_name)),
            Some((2, "status"))
        );
        assert!(pod.field_by_name("nope").is_none());
        assert!(by_kind("v1", "Nope").is_none());
    }
}

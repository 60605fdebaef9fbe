//! String helpers that reproduce the exact wording of upstream's messages: users and the
//! conformance suite compare these strings byte for byte.

/// `"a", "b"`: each item in double quotes, without escaping, as `joinQuote` in upstream's
/// `policy/helpers.go` (an annotation value already formatted with `%q` is quoted again).
pub(super) fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut out = String::from("\"");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str("\", \"");
        }
        out.push_str(item.as_ref());
    }
    out.push('"');
    out
}

/// Upstream's `pluralize`: only a count of exactly one is singular (zero is plural).
pub(super) fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 { singular } else { plural }
}

/// Go's `strconv.Quote` (what `%q` prints for a string), used where upstream formats label
/// and annotation values with `%q`.
///
/// Go keeps every rune that `unicode.IsPrint` accepts; this treats a character as printable
/// when it is the ASCII space or neither a control character nor other whitespace, which
/// agrees with Go for every letter, digit, symbol and the usual escapes. Format characters
/// such as U+200B, which Go escapes, are kept as they are.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' ' => out.push(' '),
            c if c.is_control() || c.is_whitespace() => {
                let code = u32::from(c);
                if code < 0x80 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `"container \"a\""` / `"containers \"a\", \"b\""`: the subject of most details.
pub(super) fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Messages of `k8s.io/apimachinery/pkg/util/errors.NewAggregate`: one message as is, several
/// de-duplicated, comma-separated and in brackets.
pub(super) fn aggregate_messages(messages: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for m in messages {
        if !seen.contains(&m.as_str()) {
            seen.push(m);
        }
    }
    match seen.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

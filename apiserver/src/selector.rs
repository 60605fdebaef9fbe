//! Label and field selectors: parsing, validation, matching and canonical printing.
//!
//! Follows upstream k8s.io/apimachinery (read to learn the behaviour, not translated):
//! - `pkg/labels/selector.go`: the `labelSelector=` grammar (lexer, parser, `NewRequirement`'s
//!   checks, `Matches`, `String`);
//! - `pkg/fields/selector.go`: the `fieldSelector=` grammar and its backslash escapes;
//! - `pkg/apis/meta/v1/helpers.go`: `LabelSelectorAsSelector`, for a `metav1.LabelSelector`;
//! - `pkg/api/validate/content/kube.go` and `dns.go`: label key and label value rules;
//! - `pkg/util/validation/field/errors.go`: the `path: Invalid value: "x": detail` messages.
//!
//! Error messages keep upstream's wording, because they become the `message` of a 400 Status
//! and users search the web for them. Matching allocates nothing: the watch cache runs it over
//! every object of a list or watch.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// Why a selector was refused. `Display` is the message for the client.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string breaks the grammar between requirements.
    #[error("{0}")]
    LabelSyntax(String),
    /// One requirement of a label selector string is malformed or invalid.
    #[error("unable to parse requirement: {0}")]
    LabelRequirement(String),
    /// A requirement built from a `metav1.LabelSelector` is invalid (key, values, their count).
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `matchExpressions` operator other than `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[error("{0:?} is not a valid label selector operator")]
    UnknownOperator(String),
    /// A `metav1.LabelSelector` whose JSON has the wrong shape.
    #[error("invalid label selector: {0}")]
    MalformedLabelSelector(&'static str),
    /// A field selector term without `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm { selector: String, term: String },
    /// A backslash not followed by `\`, `,` or `=` in a field selector value.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    FieldEscape(String),
    /// An unescaped `=` in a field selector value. Upstream prints the code point (`61`) with
    /// Go's `%v` of a rune; the character itself says more.
    #[error("invalid field selector: unescaped character in value: {0}")]
    FieldUnescaped(char),
}

/// An object's labels as a selector reads them.
pub trait Labels {
    /// The value of label `key`, or `None` when the object has no such label.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for serde_json::Map<String, Value> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

/// `metadata.labels` as JSON; anything but an object (`null` when absent) has no labels.
impl Labels for Value {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

/// An object's selectable fields, which each resource defines (`metadata.name`,
/// `spec.nodeName`, `status.phase`...).
pub trait Fields {
    /// The field as upstream prints it (`"true"`, `"3"`), or `None` when the object lacks it.
    fn field(&self, name: &str) -> Option<Cow<'_, str>>;
}

impl Fields for BTreeMap<String, String> {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

/// How a label requirement relates its key and values (upstream `selection.Operator`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One condition on one label; a selector is the AND of its requirements.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted, so that `In` is a binary search and printing is stable. Duplicates come only
    /// from a `metav1.LabelSelector`, and upstream prints them too.
    values: Vec<String>,
}

impl Requirement {
    /// A requirement checked as upstream's `labels.NewRequirement` checks it.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        Self::build(key, operator, values).map_err(SelectorError::InvalidRequirement)
    }

    /// Checks everything, then reports every problem at once, as upstream aggregates them.
    fn build(key: &str, operator: Operator, mut values: Vec<String>) -> Result<Self, String> {
        use Operator::*;
        let mut errors = Vec::new();
        if let Err(detail) = validate_label_key(key) {
            errors.push(invalid("key", &format!("{key:?}"), &detail));
        }
        let (count_ok, detail) = match operator {
            In | NotIn => (
                !values.is_empty(),
                "for 'in', 'notin' operators, values set can't be empty",
            ),
            Equals | DoubleEquals | NotEquals => (
                values.len() == 1,
                "exact-match compatibility requires one single value",
            ),
            Exists | DoesNotExist => (
                values.is_empty(),
                "values set must be empty for exists and does not exist",
            ),
            GreaterThan | LessThan => (
                values.len() == 1,
                "for 'Gt', 'Lt' operators, exactly one value is required",
            ),
        };
        if !count_ok {
            errors.push(invalid("values", &json_list(&values), detail));
        }
        for (i, value) in values.iter().enumerate() {
            if matches!(operator, GreaterThan | LessThan) && value.parse::<i64>().is_err() {
                let detail = "for 'Gt', 'Lt' operators, the value must be an integer";
                errors.push(invalid(
                    &format!("values[{i}]"),
                    &format!("{value:?}"),
                    detail,
                ));
            }
        }
        for (i, value) in values.iter().enumerate() {
            if let Err(detail) = validate_label_value(value) {
                let path = format!("values[{i}][{key}]");
                errors.push(invalid(&path, &format!("{value:?}"), &detail));
            }
        }
        if !errors.is_empty() {
            return Err(aggregate(errors));
        }
        values.sort_unstable();
        let key = key.to_owned();
        Ok(Self {
            key,
            operator,
            values,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted; one for the exact-match and integer operators, none for `Exists`.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfy this requirement. A missing label satisfies `!=`, `notin`
    /// and `!key`; `>` and `<` need the label to be present and an integer.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        use Operator::*;
        let label = labels.label(&self.key);
        let listed = |v: &str| self.values.binary_search_by(|x| x.as_str().cmp(v)).is_ok();
        match self.operator {
            In | Equals | DoubleEquals => label.is_some_and(listed),
            NotIn | NotEquals => !label.is_some_and(listed),
            Exists => label.is_some(),
            DoesNotExist => label.is_none(),
            GreaterThan | LessThan => {
                let (Some(label), [bound]) = (label, self.values.as_slice()) else {
                    return false;
                };
                match (label.parse::<i64>(), bound.parse::<i64>()) {
                    (Ok(label), Ok(bound)) if self.operator == GreaterThan => label > bound,
                    (Ok(label), Ok(bound)) => label < bound,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (key, values) = (&self.key, self.values.join(","));
        match self.operator {
            Operator::Exists => write!(f, "{key}"),
            Operator::DoesNotExist => write!(f, "!{key}"),
            Operator::In => write!(f, "{key} in ({values})"),
            Operator::NotIn => write!(f, "{key} notin ({values})"),
            Operator::Equals => write!(f, "{key}={values}"),
            Operator::DoubleEquals => write!(f, "{key}=={values}"),
            Operator::NotEquals => write!(f, "{key}!={values}"),
            Operator::GreaterThan => write!(f, "{key}>{values}"),
            Operator::LessThan => write!(f, "{key}<{values}"),
        }
    }
}

/// A label selector: the AND of its requirements, sorted by key. The empty one selects
/// everything; the one from a null `metav1.LabelSelector` selects nothing.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// Upstream's `labels.Nothing()`: matches no object, prints as "".
    nothing: bool,
}

impl LabelSelector {
    /// Parses the `labelSelector=` syntax, e.g. `app=web,tier in (a,b),!canary,rank>2`.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let tokens = lex(selector);
        Ok(Self::sorted(Parser { tokens, pos: 0 }.selector()?))
    }

    pub fn everything() -> Self {
        Self::default()
    }

    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    fn sorted(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self {
            requirements,
            nothing: false,
        }
    }

    /// Converts a `metav1.LabelSelector` in JSON (`matchLabels`, `matchExpressions`), as
    /// upstream's `LabelSelectorAsSelector`: `null` selects nothing, `{}` everything.
    pub fn from_label_selector_json(selector: &Value) -> Result<Self, SelectorError> {
        use SelectorError::MalformedLabelSelector as Malformed;
        let fields = match selector {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(fields) => fields,
            _ => return Err(Malformed("a label selector must be an object")),
        };
        let mut requirements = Vec::new();
        match fields.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                for (key, value) in labels {
                    let value = json_str(Some(value), "matchLabels values must be strings")?;
                    requirements.push(Requirement::new(key, Operator::Equals, vec![value.into()])?);
                }
            }
            Some(_) => return Err(Malformed("matchLabels must be an object")),
        }
        match fields.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(expressions)) => {
                for expression in expressions {
                    requirements.push(expression_requirement(expression)?);
                }
            }
            Some(_) => return Err(Malformed("matchExpressions must be a list")),
        }
        Ok(Self::sorted(requirements))
    }

    /// Whether the selector restricts nothing (upstream `Empty`); false for `nothing()`.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The single value label `key` must have, when the first requirement on `key` demands
    /// one (`key=v`, `key==v`, `key in (v)`); for index lookups (upstream `RequiresExactMatch`).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let requirement = self.requirements.iter().find(|r| r.key == key)?;
        match (requirement.operator, requirement.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical form, which parses back to an equal selector; not so `nothing()`, which
    /// prints as "", nor a repeated value from a `metav1.LabelSelector`, which parsing drops.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            let separator = if i > 0 { "," } else { "" };
            write!(f, "{separator}{requirement}")?;
        }
        Ok(())
    }
}

fn expression_requirement(expression: &Value) -> Result<Requirement, SelectorError> {
    use SelectorError::MalformedLabelSelector as Malformed;
    let Value::Object(expression) = expression else {
        return Err(Malformed("matchExpressions items must be objects"));
    };
    let key = json_str(expression.get("key"), "a key must be a string")?;
    let operator = match json_str(expression.get("operator"), "an operator must be a string")? {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => return Err(SelectorError::UnknownOperator(other.to_owned())),
    };
    let values = match expression.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(values)) => {
            let string = |v| json_str(Some(v), "values must be strings").map(String::from);
            values.iter().map(string).collect::<Result<_, _>>()?
        }
        Some(_) => return Err(Malformed("values must be a list")),
    };
    Requirement::new(key, operator, values)
}

/// A JSON string, with absent and `null` read as "" (Go's decoding leaves the zero value).
fn json_str<'a>(value: Option<&'a Value>, why: &'static str) -> Result<&'a str, SelectorError> {
    match value {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(SelectorError::MalformedLabelSelector(why)),
    }
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A name or a value. `in` and `notin` are too: they are keywords only in operator position,
/// so `in in (in)` means label "in" has value "in".
fn is_identifier(token: &str) -> bool {
    token.bytes().next().is_some_and(|b| !is_special(b))
}

/// Splits a label selector into tokens: identifiers, which run to the next whitespace or
/// operator byte, and the operators `( ) , ! = == != > <`, where `==` and `!=` win.
///
/// Upstream's lexer reads a byte 0 as the end of input, so a NUL where a token would start
/// ends the selector, and a NUL right after a token is swallowed (`Lexer.read`, `Lexer.Lex`).
fn lex(input: &str) -> Vec<&str> {
    let bytes = input.as_bytes();
    let (mut tokens, mut pos) = (Vec::new(), 0);
    loop {
        while bytes.get(pos).is_some_and(|&b| is_whitespace(b)) {
            pos += 1;
        }
        let len = match (bytes.get(pos), bytes.get(pos + 1)) {
            (None | Some(0), _) => return tokens,
            (Some(b'=' | b'!'), Some(b'=')) => 2,
            (Some(&b), _) if is_special(b) => 1,
            _ => bytes[pos..]
                .iter()
                .position(|&b| b == 0 || is_special(b) || is_whitespace(b))
                .unwrap_or(bytes.len() - pos),
        };
        tokens.push(&input[pos..pos + len]);
        pos += len;
        if bytes.get(pos) == Some(&0) {
            pos += 1;
        }
    }
}

/// A recursive-descent parser over the tokens (upstream `Parser`); "" is the end of input.
struct Parser<'a> {
    tokens: Vec<&'a str>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &'a str {
        self.tokens.get(self.pos).copied().unwrap_or("")
    }

    fn next(&mut self) -> &'a str {
        let token = self.peek();
        self.pos += 1;
        token
    }

    fn selector(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let syntax = |message: String| Err(SelectorError::LabelSyntax(message));
        let mut requirements = Vec::new();
        loop {
            match self.peek() {
                "" => return Ok(requirements),
                "!" => {}
                token if is_identifier(token) => {}
                token => {
                    return syntax(format!(
                        "found '{token}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
            let requirement = self
                .requirement()
                .map_err(SelectorError::LabelRequirement)?;
            requirements.push(requirement);
            match self.next() {
                "" => return Ok(requirements),
                "," => match self.peek() {
                    "!" => {}
                    token if is_identifier(token) => {}
                    token => {
                        return syntax(format!("found '{token}', expected: identifier after ','"));
                    }
                },
                token => {
                    return syntax(format!("found '{token}', expected: ',' or 'end of string'"));
                }
            }
        }
    }

    /// `[!] KEY [ ("in" | "notin") "(" VALUES ")" | ("=" | "==" | "!=" | ">" | "<") VALUE ]`
    fn requirement(&mut self) -> Result<Requirement, String> {
        let negated = self.peek() == "!";
        if negated {
            self.pos += 1;
        }
        let key = self.next();
        if !is_identifier(key) {
            return Err(format!("found '{key}', expected: identifier"));
        }
        // Upstream checks the key against a nil field path here, which prints as "<nil>".
        validate_label_key(key).map_err(|detail| invalid("<nil>", &format!("{key:?}"), &detail))?;
        let operator = match self.peek() {
            // `!key` is complete even when more follows, which the caller then rejects.
            _ if negated => return Requirement::build(key, Operator::DoesNotExist, Vec::new()),
            "" | "," => return Requirement::build(key, Operator::Exists, Vec::new()),
            "in" => Operator::In,
            "notin" => Operator::NotIn,
            "=" => Operator::Equals,
            "==" => Operator::DoubleEquals,
            "!=" => Operator::NotEquals,
            ">" => Operator::GreaterThan,
            "<" => Operator::LessThan,
            token => {
                return Err(format!(
                    "found '{token}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        };
        self.pos += 1;
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => vec![self.exact_value()?],
        };
        Requirement::build(key, operator, values)
    }

    /// `"(" [VALUE] ("," [VALUE])* ")"`, where an empty place is the empty value, as in `()`,
    /// `(,a)` or `(a,,b)`.
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        let open = self.next();
        if open != "(" {
            // Sic: upstream has no comma after the found token in this one message.
            return Err(format!("found '{open}' expected: '('"));
        }
        match self.peek() {
            ")" => {
                self.pos += 1;
                return Ok(vec![String::new()]);
            }
            "," => {}
            token if is_identifier(token) => {}
            token => return Err(format!("found '{token}', expected: ',', ')' or identifier")),
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                "," => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.peek() {
                        ")" => {
                            values.push(String::new());
                            break;
                        }
                        "," => values.push(String::new()),
                        _ => {}
                    }
                }
                value if is_identifier(value) => {
                    values.push(value.to_owned());
                    match self.peek() {
                        "," => {}
                        ")" => break,
                        token => return Err(format!("found '{token}', expected: ',' or ')'")),
                    }
                }
                token => return Err(format!("found '{token}', expected: ',', or identifier")),
            }
        }
        // Every `break` stands in front of ")".
        self.pos += 1;
        // Upstream collects a set, so its error messages index the sorted values.
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }

    /// The one value after `=`, `==`, `!=`, `>` or `<`; nothing before "," or the end is "".
    fn exact_value(&mut self) -> Result<String, String> {
        match self.peek() {
            "" | "," => Ok(String::new()),
            value if is_identifier(value) => {
                self.pos += 1;
                Ok(value.to_owned())
            }
            token => Err(format!("found '{token}', expected: identifier")),
        }
    }
}

/// Upstream `field.Invalid(path, value, detail).Error()`; `value` is already Go-quoted.
fn invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

/// A list of values as upstream prints a non-string bad value: in JSON, `null` when empty
/// (upstream passes a nil slice there).
fn json_list(values: &[String]) -> String {
    match values {
        [] => "null".to_owned(),
        values => Value::from(values.to_vec()).to_string(),
    }
}

/// Upstream's `utilerrors.NewAggregate(...).Error()`: one message alone, several in brackets,
/// repeats dropped.
fn aggregate(mut errors: Vec<String>) -> String {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    match errors.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

const LABEL_KEY_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
    start and end with an alphanumeric character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric \
    characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// Upstream `content.RegexError`, with its doubled space before each "or".
fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    let examples = examples.join(" or ");
    format!("{message} (e.g. {examples}regex used for validation is '{regex}')")
}

fn label_key_shape() -> String {
    regex_error(
        LABEL_KEY_MSG,
        LABEL_KEY_FMT,
        &["MyName", "my.name", "123-abc"],
    )
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`: a label key's name part, a non-empty value.
fn is_label_token(s: &str) -> bool {
    let inner = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let bytes = s.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && s.bytes().all(inner)
}

fn is_dns_label(s: &str) -> bool {
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
}

/// Upstream `content.IsLabelKey`: `[DNS subdomain "/"] name`, the name at most 63 bytes.
fn validate_label_key(key: &str) -> Result<(), String> {
    let mut errors = Vec::new();
    let name = match key.split_once('/') {
        None => key,
        Some((_, name)) if name.contains('/') => {
            let shape = label_key_shape();
            return Err(format!(
                "a valid label key {shape} with an optional DNS subdomain prefix and '/' (e.g. \
                 'example.com/MyName')"
            ));
        }
        Some(("", name)) => {
            errors.push("prefix part must be non-empty".to_owned());
            name
        }
        Some((prefix, name)) => {
            if prefix.len() > 253 {
                errors.push("prefix part must be no more than 253 bytes".to_owned());
            }
            if !prefix.split('.').all(is_dns_label) {
                let shape = regex_error(SUBDOMAIN_MSG, SUBDOMAIN_FMT, &["example.com"]);
                errors.push(format!("prefix part {shape}"));
            }
            name
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 bytes".to_owned());
    }
    if !is_label_token(name) {
        errors.push(format!("name part {}", label_key_shape()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Upstream `content.IsLabelValue`: empty, or a label token of at most 63 bytes.
fn validate_label_value(value: &str) -> Result<(), String> {
    let too_long = (value.len() > 63).then(|| "must be no more than 63 bytes".to_owned());
    let shape = (!value.is_empty() && !is_label_token(value)).then(|| {
        let regex = format!("({LABEL_KEY_FMT})?");
        regex_error(LABEL_VALUE_MSG, &regex, &["MyValue", "my_value", "12345"])
    });
    let errors: Vec<String> = too_long.into_iter().chain(shape).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// How a field requirement compares; `==` parses as `Equals`, as upstream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` or `field!=value` term. Neither side is validated: which fields exist is
/// each resource's business.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    /// Unescaped.
    pub value: String,
}

/// A field selector: the AND of its terms. A missing field compares as "".
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses the `fieldSelector=` syntax: terms split at unescaped commas, each split at its
    /// first `!=`, `==` or `=`; `\\`, `\,` and `\=` escape in values; empty terms are skipped.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut terms = split_terms(selector);
        // Upstream sorts the raw terms, which fixes the order of requirements and of Display.
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, operator, raw)) = split_term(term) else {
                let (selector, term) = (selector.to_owned(), term.to_owned());
                return Err(SelectorError::FieldTerm { selector, term });
            };
            let value = unescape_value(raw)?;
            // Upstream drops a term whose field and value are both empty (`hasTerm.Transform`).
            if !(field.is_empty() && value.is_empty()) {
                let field = field.to_owned();
                requirements.push(FieldRequirement {
                    field,
                    operator,
                    value,
                });
            }
        }
        Ok(Self { requirements })
    }

    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms, so that a resource can refuse fields it does not support.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    pub fn matches<F: Fields + ?Sized>(&self, fields: &F) -> bool {
        self.requirements.iter().all(|r| {
            let actual = fields.field(&r.field);
            let equal = actual.as_deref().unwrap_or("") == r.value;
            equal == (r.operator == FieldOperator::Equals)
        })
    }

    /// The value the first `field=value` term demands, e.g. for `spec.nodeName` to use an
    /// index (upstream `RequiresExactMatch`).
    pub fn exact_match(&self, field: &str) -> Option<&str> {
        let mut terms = self.requirements.iter();
        let term = terms.find(|r| r.operator == FieldOperator::Equals && r.field == field)?;
        Some(&term.value)
    }
}

impl fmt::Display for FieldSelector {
    /// `field=value` terms joined by ",", values escaped; parses back to the same terms.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            let separator = if i > 0 { "," } else { "" };
            let operator = match r.operator {
                FieldOperator::Equals => "=",
                FieldOperator::NotEquals => "!=",
            };
            write!(f, "{separator}{}{operator}", r.field)?;
            for c in r.value.chars() {
                let escape = if matches!(c, '\\' | ',' | '=') {
                    "\\"
                } else {
                    ""
                };
                write!(f, "{escape}{c}")?;
            }
        }
        Ok(())
    }
}

/// Splits at commas not escaped by a backslash; escapes stay in the terms.
fn split_terms(selector: &str) -> Vec<&str> {
    let (mut terms, mut start, mut escaped) = (Vec::new(), 0, false);
    for (i, b) in selector.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b',' => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits at the first operator; the field cannot escape one.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    let bytes = term.as_bytes();
    let (i, operator, len) = (0..bytes.len()).find_map(|i| match (bytes[i], bytes.get(i + 1)) {
        (b'!', Some(b'=')) => Some((i, FieldOperator::NotEquals, 2)),
        (b'=', Some(b'=')) => Some((i, FieldOperator::Equals, 2)),
        (b'=', _) => Some((i, FieldOperator::Equals, 1)),
        _ => None,
    })?;
    Some((&term[..i], operator, &term[i + len..]))
}

fn unescape_value(raw: &str) -> Result<String, SelectorError> {
    let mut value = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('\\' | ',' | '=')) => value.push(escaped),
                Some(other) => return Err(SelectorError::FieldEscape(format!("\\{other}"))),
                None => return Err(SelectorError::FieldEscape("\\".to_owned())),
            },
            ',' | '=' => return Err(SelectorError::FieldUnescaped(c)),
            _ => value.push(c),
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const KEY_SHAPE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
        start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or \
        '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_SHAPE: &str = "a valid label must be an empty string or consist of alphanumeric \
        characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
        'MyValue',  or 'my_value',  or '12345', regex used for validation is \
        '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    /// A selector, the labels or fields of an object, and whether the one selects the other.
    type MatchCase = (&'static str, &'static [(&'static str, &'static str)], bool);

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn label_error(selector: &str) -> String {
        match LabelSelector::parse(selector) {
            Ok(parsed) => panic!("{selector:?} parsed as {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn label_selectors_parse_to_their_canonical_form() {
        let cases = [
            ("", ""),
            (" \t\r\n", ""),
            ("x", "x"),
            ("!x", "!x"),
            (" ! x ", "!x"),
            ("x=a", "x=a"),
            ("x==a", "x==a"),
            ("x!=a", "x!=a"),
            ("x = a , y != b", "x=a,y!=b"),
            ("y=b,x=a", "x=a,y=b"),
            ("x=a,x=b", "x=a,x=b"),
            ("x in (b,a,a)", "x in (a,b)"),
            ("x notin ( a )", "x notin (a)"),
            ("x in()", "x in ()"),
            ("x in (,a)", "x in (,a)"),
            ("x in (a,,b)", "x in (,a,b)"),
            ("x in (a,)", "x in (,a)"),
            ("x in (,)", "x in ()"),
            ("x in (a,,)", "x in (,a)"),
            ("x in (,,)", "x in ()"),
            ("x in (a,,,)", "x in (,a)"),
            ("x in (a,,,b)", "x in (,a,b)"),
            ("x=", "x="),
            ("x=,y", "x=,y"),
            ("x>1,x<10", "x>1,x<10"),
            ("example.com/app=web", "example.com/app=web"),
            ("a.b-c_d=A.b-C_9", "a.b-c_d=A.b-C_9"),
            ("in in (in)", "in in (in)"),
            ("notin notin (notin),in", "in,notin notin (notin)"),
            ("!in", "!in"),
            // A NUL ends the input where a token would start and is swallowed after one.
            ("a\0=b", "a=b"),
            ("a \0=b", "a"),
        ];
        for (input, canonical) in cases {
            let parsed = LabelSelector::parse(input);
            let shown = parsed.as_ref().map(ToString::to_string);
            assert_eq!(shown.as_deref(), Ok(canonical), "{input:?}");
        }
    }

    #[test]
    fn label_selectors_with_bad_syntax_are_refused_with_upstreams_message() {
        let cases = [
            (
                "x y",
                "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt",
            ),
            ("x=a b", "found 'b', expected: ',' or 'end of string'"),
            ("x==a==b", "found '==', expected: ',' or 'end of string'"),
            ("x=a=b", "found '=', expected: ',' or 'end of string'"),
            ("!x=a", "found '=', expected: ',' or 'end of string'"),
            ("!x in (a)", "found 'in', expected: ',' or 'end of string'"),
            ("x=a,", "found '', expected: identifier after ','"),
            ("x,=a", "found '=', expected: identifier after ','"),
            (
                ",x",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            (
                "(x)",
                "found '(', expected: !, identifier, or 'end of string'",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "!!x",
                "unable to parse requirement: found '!', expected: identifier",
            ),
            (
                "x in a",
                "unable to parse requirement: found 'a' expected: '('",
            ),
            (
                "x,y notin",
                "unable to parse requirement: found '' expected: '('",
            ),
            (
                "x in (a",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "x in (a b)",
                "unable to parse requirement: found 'b', expected: ',' or ')'",
            ),
            (
                "x in (=)",
                "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            ),
            (
                "x in (a,=)",
                "unable to parse requirement: found '=', expected: ',', or identifier",
            ),
            (
                "x in (a,,",
                "unable to parse requirement: found '', expected: ',', or identifier",
            ),
            (
                "x=(a)",
                "unable to parse requirement: found '(', expected: identifier",
            ),
            (
                "x>!",
                "unable to parse requirement: found '!', expected: identifier",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(label_error(input), message, "{input:?}");
        }
    }

    #[test]
    fn invalid_keys_and_values_are_refused_with_upstreams_message() {
        let long = "a".repeat(64);
        let prefixed_shape = format!(
            "a valid label key {KEY_SHAPE} with an optional DNS subdomain prefix and '/' (e.g. \
             'example.com/MyName')"
        );
        let subdomain = "prefix part a lowercase RFC 1123 subdomain must consist of lower case \
            alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
            character (e.g. 'example.com', regex used for validation is \
            '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
        let cases = [
            (
                "-x".to_owned(),
                format!("<nil>: Invalid value: \"-x\": name part {KEY_SHAPE}"),
            ),
            (
                "a/b/c=d".into(),
                format!("<nil>: Invalid value: \"a/b/c\": {prefixed_shape}"),
            ),
            (
                "/a".into(),
                "<nil>: Invalid value: \"/a\": prefix part must be non-empty".into(),
            ),
            (
                "Example.com/a".into(),
                format!("<nil>: Invalid value: \"Example.com/a\": {subdomain}"),
            ),
            (
                "a/".into(),
                format!(
                    "<nil>: Invalid value: \"a/\": name part must be non-empty; name part {KEY_SHAPE}"
                ),
            ),
            (
                long.clone(),
                format!(
                    "<nil>: Invalid value: \"{long}\": name part must be no more than 63 bytes"
                ),
            ),
            (
                "x=a_".into(),
                format!("values[0][x]: Invalid value: \"a_\": {VALUE_SHAPE}"),
            ),
            (
                "x in (ok,b@d)".into(),
                format!("values[0][x]: Invalid value: \"b@d\": {VALUE_SHAPE}"),
            ),
            (
                format!("x={long}"),
                format!("values[0][x]: Invalid value: \"{long}\": must be no more than 63 bytes"),
            ),
            (
                "x>a".into(),
                "values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an \
                 integer"
                    .into(),
            ),
            (
                "x<".into(),
                "values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an \
                 integer"
                    .into(),
            ),
            (
                "x>-1".into(),
                format!("values[0][x]: Invalid value: \"-1\": {VALUE_SHAPE}"),
            ),
            (
                "x<1.5_".into(),
                format!(
                    "[values[0]: Invalid value: \"1.5_\": for 'Gt', 'Lt' operators, the value \
                     must be an integer, values[0][x]: Invalid value: \"1.5_\": {VALUE_SHAPE}]"
                ),
            ),
        ];
        for (input, message) in cases {
            let expected = format!("unable to parse requirement: {message}");
            assert_eq!(label_error(&input), expected, "{input:?}");
        }
    }

    #[test]
    fn label_selectors_match_as_upstream() {
        let cases: &[MatchCase] = &[
            ("", &[], true),
            ("", &[("x", "a")], true),
            ("x=a", &[("x", "a")], true),
            ("x==a", &[("x", "b")], false),
            ("x=a", &[], false),
            ("x!=a", &[], true),
            ("x!=a", &[("x", "a")], false),
            ("x!=a", &[("x", "b")], true),
            ("x in (a,b)", &[("x", "b")], true),
            ("x in (a,b)", &[("x", "c")], false),
            ("x in (a,b)", &[], false),
            ("x notin (a,b)", &[], true),
            ("x notin (a,b)", &[("x", "a")], false),
            ("x notin (a,b)", &[("x", "c")], true),
            ("x in (,a)", &[("x", "")], true),
            ("x", &[("x", "")], true),
            ("x", &[("y", "x")], false),
            ("!x", &[], true),
            ("!x", &[("x", "")], false),
            ("x=", &[("x", "")], true),
            ("x=", &[], false),
            ("x>1", &[("x", "2")], true),
            ("x>1", &[("x", "1")], false),
            ("x>1", &[("x", "ten")], false),
            ("x>1", &[], false),
            ("x<1", &[("x", "-5")], true),
            ("x<1", &[("x", "+0")], true),
            ("x<1", &[("x", "99999999999999999999")], false),
            ("x=a,y", &[("x", "a"), ("y", "z")], true),
            ("x=a,y", &[("x", "a")], false),
        ];
        for (selector, pairs, expected) in cases {
            let parsed = LabelSelector::parse(selector).expect("valid selector");
            assert_eq!(
                parsed.matches(&labels(pairs)),
                *expected,
                "{selector:?} on {pairs:?}"
            );
        }
    }

    #[test]
    fn labels_can_be_read_from_maps_and_json() {
        let selector = LabelSelector::parse("app=web,!canary").expect("valid selector");
        assert!(selector.matches(&labels(&[("app", "web")])));
        assert!(selector.matches(&json!({"app": "web"})));
        assert!(!selector.matches(&json!({"app": "web", "canary": "true"})));
        assert!(!selector.matches(&Value::Null));
        assert!(LabelSelector::everything().matches(&Value::Null));
        let object = json!({"metadata": {"labels": {"app": "web"}}});
        assert!(selector.matches(&object["metadata"]["labels"]));
        assert!(selector.matches(object["metadata"]["labels"].as_object().expect("an object")));
    }

    #[test]
    fn exact_match_is_offered_for_single_values_only() {
        let selector = LabelSelector::parse("a=1,b in (2),c in (3,4),d!=5,e").expect("valid");
        assert_eq!(selector.requires_exact_match("a"), Some("1"));
        assert_eq!(selector.requires_exact_match("b"), Some("2"));
        assert_eq!(selector.requires_exact_match("c"), None);
        assert_eq!(selector.requires_exact_match("d"), None);
        assert_eq!(selector.requires_exact_match("e"), None);
        assert_eq!(selector.requires_exact_match("f"), None);
    }

    #[test]
    fn label_selector_json_converts_as_upstream() {
        let selector = json!({
            "matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [
                {"key": "c", "operator": "In", "values": ["y", "x", "y"]},
                {"key": "d", "operator": "DoesNotExist"},
                {"key": "e", "operator": "NotIn", "values": ["z"]},
                {"key": "f", "operator": "Exists", "values": null},
            ],
        });
        let parsed = LabelSelector::from_label_selector_json(&selector).expect("valid");
        assert_eq!(parsed.to_string(), "a=1,b=2,c in (x,y,y),!d,e notin (z),f");
        // The string syntax collects a set, so the repeated value goes, as upstream.
        let reparsed = LabelSelector::parse(&parsed.to_string()).map(|s| s.to_string());
        assert_eq!(
            reparsed.as_deref(),
            Ok("a=1,b=2,c in (x,y),!d,e notin (z),f")
        );

        let everything = LabelSelector::from_label_selector_json(&json!({})).expect("valid");
        assert!(everything.is_empty() && everything.matches(&Value::Null));
        let nothing = LabelSelector::from_label_selector_json(&Value::Null).expect("valid");
        assert!(!nothing.is_empty() && !nothing.matches(&Value::Null));
        assert_eq!(
            (nothing.to_string(), nothing),
            (String::new(), LabelSelector::nothing())
        );
    }

    #[test]
    fn invalid_label_selector_json_is_refused_with_upstreams_message() {
        let in_without_values = "values: Invalid value: null: for 'in', 'notin' \
                                 operators, values set can't be empty";
        let cases = [
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                in_without_values.into(),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]}),
                in_without_values.into(),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]}),
                "values: Invalid value: [\"x\",\"y\"]: values set must be empty for exists and \
                 does not exist"
                    .into(),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
                "\"Gt\" is not a valid label selector operator".into(),
            ),
            (
                json!({"matchExpressions": [{"key": "a"}]}),
                "\"\" is not a valid label selector operator".to_owned(),
            ),
            (
                json!({"matchLabels": {"a": "b c"}}),
                format!("values[0][a]: Invalid value: \"b c\": {VALUE_SHAPE}"),
            ),
            (
                json!({"matchExpressions": [{"key": "-a", "operator": "In", "values": ["ok", "-"]}]}),
                format!(
                    "[key: Invalid value: \"-a\": name part {KEY_SHAPE}, values[1][-a]: Invalid \
                     value: \"-\": {VALUE_SHAPE}]"
                ),
            ),
            (
                json!([]),
                "invalid label selector: a label selector must be an object".into(),
            ),
            (
                json!({"matchLabels": []}),
                "invalid label selector: matchLabels must be an object".into(),
            ),
            (
                json!({"matchLabels": {"a": 1}}),
                "invalid label selector: matchLabels values must be strings".into(),
            ),
            (
                json!({"matchExpressions": {}}),
                "invalid label selector: matchExpressions must be a list".into(),
            ),
        ];
        for (selector, message) in cases {
            let result = LabelSelector::from_label_selector_json(&selector);
            assert_eq!(
                result.map_err(|e| e.to_string()),
                Err(message),
                "{selector}"
            );
        }
    }

    #[test]
    fn field_selectors_parse_to_their_canonical_form() {
        let cases = [
            ("", ""),
            (",,", ""),
            ("metadata.name=foo", "metadata.name=foo"),
            ("metadata.name==foo", "metadata.name=foo"),
            ("spec.nodeName!=n1", "spec.nodeName!=n1"),
            ("b=2,a=1", "a=1,b=2"),
            ("a=1,,b=2,", "a=1,b=2"),
            ("a=", "a="),
            ("=", ""),
            ("!=,a=", "a="),
            ("a=!x", "a=!x"),
            (r"a=x\,y\=z\\", r"a=x\,y\=z\\"),
            (" a = b ", " a = b "),
            (r"a\=1", r"a\=1"),
            ("a=ü", "a=ü"),
        ];
        for (input, canonical) in cases {
            let parsed = FieldSelector::parse(input);
            let shown = parsed.as_ref().map(ToString::to_string);
            assert_eq!(shown.as_deref(), Ok(canonical), "{input:?}");
        }
        let parsed = FieldSelector::parse(r"a=x\,y\=z\\,b!=").expect("valid");
        let expected = [
            FieldRequirement {
                field: "a".into(),
                operator: FieldOperator::Equals,
                value: r"x,y=z\".into(),
            },
            FieldRequirement {
                field: "b".into(),
                operator: FieldOperator::NotEquals,
                value: "".into(),
            },
        ];
        assert_eq!(parsed.requirements(), expected);
    }

    #[test]
    fn invalid_field_selectors_are_refused_with_upstreams_message() {
        let cases = [
            ("a", "invalid selector: 'a'; can't understand 'a'"),
            ("a=1,b", "invalid selector: 'a=1,b'; can't understand 'b'"),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: =",
            ),
            (
                "a!==c",
                "invalid field selector: unescaped character in value: =",
            ),
            (
                r"a=\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            (
                r"a=\ü",
                r"invalid field selector: invalid escape sequence: \ü",
            ),
            (
                r"a=b\",
                r"invalid field selector: invalid escape sequence: \",
            ),
        ];
        for (input, message) in cases {
            let result = FieldSelector::parse(input).map_err(|e| e.to_string());
            assert_eq!(result, Err(message.to_owned()), "{input:?}");
        }
    }

    #[test]
    fn field_selectors_match_as_upstream() {
        let cases: &[MatchCase] = &[
            ("", &[], true),
            ("a=x", &[("a", "x")], true),
            ("a==x", &[("a", "y")], false),
            ("a=x", &[], false),
            ("a=", &[], true),
            ("a!=x", &[], true),
            ("a!=", &[], false),
            ("a!=x", &[("a", "x")], false),
            (r"a=x\,y", &[("a", "x,y")], true),
            ("a=x,b!=y", &[("a", "x"), ("b", "z")], true),
            ("a=x,b!=y", &[("a", "x"), ("b", "y")], false),
        ];
        for (selector, pairs, expected) in cases {
            let parsed = FieldSelector::parse(selector).expect("valid selector");
            assert_eq!(
                parsed.matches(&labels(pairs)),
                *expected,
                "{selector:?} on {pairs:?}"
            );
        }
    }

    #[test]
    fn field_exact_match_is_offered_for_equality_terms() {
        let selector = FieldSelector::parse("spec.host=n1,a!=x,b==y").expect("valid");
        assert_eq!(selector.exact_match("spec.host"), Some("n1"));
        assert_eq!(selector.exact_match("b"), Some("y"));
        assert_eq!(selector.exact_match("a"), None);
        assert_eq!(selector.exact_match("c"), None);
    }

    /// Strings made of the grammar's pieces, which reach deeper into the parsers than noise.
    fn selector_like() -> impl Strategy<Value = String> {
        let pieces = [
            "a", "b", "x.io/k", "in", "notin", "(", ")", ",", "=", "==", "!=", "!", ">", "<", " ",
            "1", "-", "", "\\", "\0", "ü", "a/b/c",
        ];
        proptest::collection::vec(proptest::sample::select(pieces.to_vec()), 0..12)
            .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn parsers_never_panic(input in ".*") {
            let _ = LabelSelector::parse(&input);
            let _ = FieldSelector::parse(&input);
        }

        #[test]
        fn label_selectors_round_trip_through_display(input in selector_like()) {
            if let Ok(parsed) = LabelSelector::parse(&input) {
                prop_assert_eq!(LabelSelector::parse(&parsed.to_string()), Ok(parsed));
            }
        }

        #[test]
        fn field_selectors_round_trip_through_display(input in selector_like()) {
            if let Ok(parsed) = FieldSelector::parse(&input) {
                let reparsed = FieldSelector::parse(&parsed.to_string());
                // Upstream orders terms by their raw text, which escaping can change.
                let sorted = |s: FieldSelector| {
                    let mut r = s.requirements().to_vec();
                    r.sort_by(|a, b| (&a.field, &a.value).cmp(&(&b.field, &b.value)));
                    r
                };
                prop_assert_eq!(reparsed.map(sorted), Ok(sorted(parsed)));
            }
        }

        #[test]
        fn any_field_value_survives_escaping(value in ".*", equals in any::<bool>()) {
            let operator = if equals { FieldOperator::Equals } else { FieldOperator::NotEquals };
            let requirement = FieldRequirement { field: "f".into(), operator, value };
            let selector = FieldSelector { requirements: vec![requirement] };
            prop_assert_eq!(FieldSelector::parse(&selector.to_string()), Ok(selector));
        }
    }
}

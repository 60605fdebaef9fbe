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
mod tests;

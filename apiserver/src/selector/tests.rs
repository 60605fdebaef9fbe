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
            format!("<nil>: Invalid value: \"{long}\": name part must be no more than 63 bytes"),
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
        "a", "b", "x.io/k", "in", "notin", "(", ")", ",", "=", "==", "!=", "!", ">", "<", " ", "1",
        "-", "", "\\", "\0", "ü", "a/b/c",
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

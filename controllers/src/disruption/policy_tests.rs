use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta};

use super::*;

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).expect("valid test time")
}

#[test]
fn scaled_values() {
    let int = |n| IntOrString::Int(n);
    let s = |v: &str| IntOrString::String(v.into());
    // (value, total, scaled or error)
    let cases = [
        (int(3), 10, Ok(3)),
        (s("50%"), 3, Ok(2)),
        (s("50%"), 4, Ok(2)),
        (s("1%"), 1, Ok(1)),
        (s("0%"), 7, Ok(0)),
        (s("100%"), 7, Ok(7)),
        (s("33%"), 10, Ok(4)),
        (s("+10%"), 10, Ok(1)),
        (s("-50%"), 3, Ok(-1)),
        (s("50%"), 0, Ok(0)),
        (
            s("5"),
            10,
            Err("invalid value for IntOrString: invalid type: string is not a percentage"),
        ),
        (
            s("x%"),
            10,
            Err(
                "invalid value for IntOrString: invalid value \"x%\": strconv.Atoi: parsing \"x\": invalid syntax",
            ),
        ),
        (
            s("%"),
            10,
            Err(
                "invalid value for IntOrString: invalid value \"%\": strconv.Atoi: parsing \"\": invalid syntax",
            ),
        ),
        (
            s("99999999999999999999%"),
            10,
            Err(
                "invalid value for IntOrString: invalid value \"99999999999999999999%\": strconv.Atoi: parsing \"99999999999999999999\": value out of range",
            ),
        ),
    ];
    for (value, total, want) in cases {
        let got = scaled_value(&value, total);
        assert_eq!(
            got.as_ref().map_err(String::as_str),
            want.as_ref().map_err(|e| *e),
            "{value:?} of {total}"
        );
    }
}

fn condition(
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    at: i64,
) -> Condition {
    Condition {
        type_: DISRUPTION_ALLOWED_CONDITION.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: Time(ts(at)),
    }
}

#[test]
fn set_status_condition_keeps_time_unless_status_flips() {
    let mut conditions = Vec::new();
    assert!(set_status_condition(
        &mut conditions,
        condition("True", "A", "", Some(1), 10)
    ));
    assert_eq!(conditions, [condition("True", "A", "", Some(1), 10)]);

    // (new condition, changed, stored after)
    let cases = [
        (
            condition("True", "A", "", Some(1), 20),
            false,
            condition("True", "A", "", Some(1), 10),
        ),
        (
            condition("True", "B", "m", Some(2), 20),
            true,
            condition("True", "B", "m", Some(2), 10),
        ),
        (
            condition("True", "A", "", None, 20),
            true,
            condition("True", "A", "", None, 10),
        ),
        (
            condition("False", "A", "", Some(1), 20),
            true,
            condition("False", "A", "", Some(1), 20),
        ),
    ];
    for (new, changed, after) in cases {
        let mut conditions = vec![condition("True", "A", "", Some(1), 10)];
        let extra = Condition {
            type_: "Other".into(),
            ..condition("True", "X", "", None, 5)
        };
        conditions.push(extra.clone());
        assert_eq!(
            set_status_condition(&mut conditions, new.clone()),
            changed,
            "{new:?}"
        );
        assert_eq!(conditions, [after, extra], "{new:?}");
    }
    // Generation 0 and absent are one value only when comparing.
    let mut conditions = vec![condition("True", "A", "", None, 10)];
    assert!(!set_status_condition(
        &mut conditions,
        condition("True", "A", "", Some(0), 20)
    ));
}

fn budget(
    generation: i64,
    observed: i64,
    allowed: i32,
    c: Option<Condition>,
) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: ObjectMeta {
            generation: Some(generation),
            ..Default::default()
        },
        spec: None,
        status: Some(PodDisruptionBudgetStatus {
            observed_generation: Some(observed),
            disruptions_allowed: allowed,
            conditions: c.map(|c| vec![c]),
            ..Default::default()
        }),
    }
}

#[test]
fn conditions_up_to_date() {
    let sufficient = condition("True", SUFFICIENT_PODS_REASON, "", Some(1), 0);
    let insufficient = condition("False", INSUFFICIENT_PODS_REASON, "old words", Some(1), 0);
    let failed = condition("False", SYNC_FAILED_REASON, "boom", Some(1), 0);
    let cases = [
        (
            "allowed, sufficient",
            budget(1, 1, 2, Some(sufficient.clone())),
            true,
        ),
        (
            "allowed, insufficient",
            budget(1, 1, 2, Some(insufficient.clone())),
            false,
        ),
        (
            "none allowed, insufficient (message ignored)",
            budget(1, 1, 0, Some(insufficient)),
            true,
        ),
        (
            "none allowed, sync failed",
            budget(1, 1, 0, Some(failed)),
            false,
        ),
        ("no condition", budget(1, 1, 2, None), false),
        (
            "generation not observed",
            budget(2, 1, 2, Some(sufficient)),
            false,
        ),
    ];
    for (name, pdb, want) in cases {
        assert_eq!(conditions_are_up_to_date(&pdb), want, "{name}");
    }
    assert!(!conditions_are_up_to_date(&PodDisruptionBudget::default()));
}

#[test]
fn disruption_allowed_condition_follows_the_count() {
    let mut status = PodDisruptionBudgetStatus {
        disruptions_allowed: 1,
        observed_generation: Some(3),
        ..Default::default()
    };
    update_disruption_allowed_condition(&mut status, ts(10));
    assert_eq!(
        status.conditions.as_deref(),
        Some(&[condition("True", SUFFICIENT_PODS_REASON, "", Some(3), 10)][..])
    );
    status.disruptions_allowed = 0;
    update_disruption_allowed_condition(&mut status, ts(20));
    assert_eq!(
        status.conditions.as_deref(),
        Some(
            &[condition(
                "False",
                INSUFFICIENT_PODS_REASON,
                "",
                Some(3),
                20
            )][..]
        )
    );
}

fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

#[test]
fn label_selector_strings() {
    let selector = LabelSelector {
        match_labels: Some(
            [
                ("b".to_string(), "2".to_string()),
                ("a".to_string(), "1".to_string()),
            ]
            .into(),
        ),
        match_expressions: Some(vec![
            expr("tier", "In", &["web", "api"]),
            expr("env", "NotIn", &["prod"]),
            expr("canary", "DoesNotExist", &[]),
            expr("zone", "Exists", &[]),
        ]),
    };
    assert_eq!(
        format_label_selector(Some(&selector)),
        "a=1,b=2,!canary,env notin (prod),tier in (api,web),zone"
    );
    assert_eq!(
        format_label_selector(Some(&LabelSelector::default())),
        "<none>"
    );
    assert_eq!(format_label_selector(None), "<none>");
    let invalid = LabelSelector {
        match_expressions: Some(vec![expr("a", "In", &[])]),
        ..Default::default()
    };
    assert_eq!(format_label_selector(Some(&invalid)), "<error>");
}

#[test]
fn selector_errors() {
    let with = |e| LabelSelector {
        match_expressions: Some(vec![expr("ok", "Exists", &[]), e]),
        ..Default::default()
    };
    let cases = [
        (
            with(expr("a", "Gt", &["1"])),
            "\"Gt\" is not a valid label selector operator",
        ),
        (
            with(expr("a", "In", &[])),
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            with(expr("a", "Exists", &["x"])),
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist",
        ),
    ];
    for (selector, want) in cases {
        assert_eq!(selector_error(&selector), want);
    }
}

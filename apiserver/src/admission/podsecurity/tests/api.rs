//! Levels, versions and label parsing (upstream's `api/helpers_test.go`).

use std::collections::BTreeMap;

use super::super::api::{LabelError, label_errors_message};
use super::super::{Level, LevelVersion, Policy, Version, policy_to_evaluate};
use super::lv;

#[test]
fn versions_parse_as_upstream() {
    for (s, want) in [
        ("latest", Version::Latest),
        ("v1.0", Version::V1(0)),
        ("v1.1", Version::V1(1)),
        ("v1.20", Version::V1(20)),
        ("v1.10000", Version::V1(10000)),
    ] {
        assert_eq!(Version::parse(s), Ok(want), "{s}");
        assert_eq!(want.to_string(), s);
    }
    for s in [
        "foo",
        "",
        "v2.0",
        "v1",
        "1.1",
        "v1.01",
        "v1.-1",
        "v1.x",
        "v1.99999999999999999999",
    ] {
        assert_eq!(
            Version::parse(s),
            Err("must be \"latest\" or \"v1.x\""),
            "{s}"
        );
    }
}

#[test]
fn latest_is_newer_than_every_version() {
    assert!(Version::V1(35) < Version::Latest);
    assert!(Version::V1(1000) < Version::Latest);
    assert!(Version::V1(9) < Version::V1(10));
}

#[test]
fn levels_order_by_strictness() {
    assert!(Level::Privileged < Level::Baseline && Level::Baseline < Level::Restricted);
    assert_eq!(
        Level::parse("Baseline"),
        Err("must be one of privileged, baseline, restricted")
    );
}

#[test]
fn privileged_level_versions_are_equivalent() {
    let p = |v| LevelVersion::new(Level::Privileged, v);
    assert!(p(Version::Latest).equivalent(&p(Version::V1(13))));
    let b = |v| LevelVersion::new(Level::Baseline, v);
    assert!(!b(Version::Latest).equivalent(&b(Version::V1(13))));
    assert!(!b(Version::Latest).equivalent(&p(Version::Latest)));
    assert_eq!(
        lv(Level::Restricted, "v1.22").to_string(),
        "restricted:v1.22"
    );
}

/// Policy label suffixes (`enforce`, `warn-version`) and values.
type Kvs = &'static [(&'static str, &'static str)];

fn labels(kvs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([("other-label".to_string(), "foo-bar".to_string())]);
    for (k, v) in kvs {
        labels.insert(format!("pod-security.kubernetes.io/{k}"), v.to_string());
    }
    labels
}

#[test]
fn policy_to_evaluate_resolves_labels() {
    let p = |l, v| lv(l, v);
    let privileged = p(Level::Privileged, "latest");
    let (b, r) = (Level::Baseline, Level::Restricted);
    let cases: &[(&str, Kvs, [LevelVersion; 3], bool)] = &[
        (
            "simple enforce",
            &[("enforce", "baseline")],
            [p(b, "latest"), privileged, p(b, "latest")],
            false,
        ),
        (
            "simple warn",
            &[("warn", "restricted")],
            [privileged, privileged, p(r, "latest")],
            false,
        ),
        (
            "simple audit",
            &[("audit", "baseline")],
            [privileged, p(b, "latest"), privileged],
            false,
        ),
        (
            "enforce & warn",
            &[("enforce", "baseline"), ("warn", "restricted")],
            [p(b, "latest"), privileged, p(r, "latest")],
            false,
        ),
        (
            "enforce version",
            &[("enforce", "baseline"), ("enforce-version", "v1.22")],
            [p(b, "v1.22"), privileged, p(b, "v1.22")],
            false,
        ),
        (
            "enforce version & warn-version",
            &[
                ("enforce", "baseline"),
                ("enforce-version", "v1.22"),
                ("warn-version", "latest"),
            ],
            [p(b, "v1.22"), privileged, p(b, "latest")],
            false,
        ),
        (
            "enforce & warn-version",
            &[("enforce", "baseline"), ("warn-version", "v1.23")],
            [p(b, "latest"), privileged, p(b, "v1.23")],
            false,
        ),
        (
            "fully specified",
            &[
                ("enforce", "baseline"),
                ("enforce-version", "v1.20"),
                ("warn", "restricted"),
                ("warn-version", "v1.21"),
                ("audit", "restricted"),
                ("audit-version", "v1.22"),
            ],
            [p(b, "v1.20"), p(r, "v1.22"), p(r, "v1.21")],
            false,
        ),
        (
            "enforce, warn privileged",
            &[("enforce", "baseline"), ("warn", "privileged")],
            [p(b, "latest"), privileged, privileged],
            false,
        ),
        (
            "invalid warn fails open",
            &[("enforce", "baseline"), ("warn", "foo")],
            [p(b, "latest"), privileged, privileged],
            true,
        ),
        (
            "invalid enforce fails closed",
            &[("enforce", "foo")],
            [p(r, "latest"), privileged, privileged],
            true,
        ),
        (
            "invalid audit fails open",
            &[("audit", "foo")],
            [privileged, privileged, privileged],
            true,
        ),
    ];
    for (desc, kvs, [enforce, audit, warn], want_err) in cases {
        let (policy, errors) = policy_to_evaluate(Some(&labels(kvs)), &Policy::default());
        assert_eq!(
            policy,
            Policy {
                enforce: *enforce,
                audit: *audit,
                warn: *warn
            },
            "{desc}"
        );
        assert_eq!(!errors.is_empty(), *want_err, "{desc}");
    }
}

#[test]
fn missing_labels_use_the_defaults() {
    let defaults = Policy {
        warn: lv(Level::Baseline, "v1.30"),
        ..Policy::default()
    };
    assert_eq!(policy_to_evaluate(None, &defaults), (defaults, vec![]));
    let empty = BTreeMap::new();
    assert_eq!(
        policy_to_evaluate(Some(&empty), &defaults),
        (defaults, vec![])
    );
}

#[test]
fn label_errors_read_as_field_errors() {
    let (_, errors) = policy_to_evaluate(
        Some(&labels(&[("enforce", "unknown"), ("warn-version", "v2\n")])),
        &Policy::default(),
    );
    assert_eq!(
        errors,
        vec![
            LabelError {
                label: "pod-security.kubernetes.io/enforce",
                value: "unknown".to_string(),
                detail: "must be one of privileged, baseline, restricted",
            },
            LabelError {
                label: "pod-security.kubernetes.io/warn-version",
                value: "v2\n".to_string(),
                detail: "must be \"latest\" or \"v1.x\"",
            },
        ]
    );
    assert_eq!(
        label_errors_message(&errors[..1]),
        "metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"unknown\": must \
         be one of privileged, baseline, restricted"
    );
    assert_eq!(
        label_errors_message(&errors),
        "[metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"unknown\": must \
         be one of privileged, baseline, restricted, \
         metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"v2\\n\": \
         must be \"latest\" or \"v1.x\"]"
    );
}

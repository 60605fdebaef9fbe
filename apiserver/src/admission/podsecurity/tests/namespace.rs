//! Namespace decisions and the existing-pods warnings (upstream's `TestValidateNamespace`,
//! with the real checks instead of a fake evaluator).

use k8s_openapi::api::core::v1::{Namespace, Pod};
use serde_json::json;

use super::super::{
    Config, Decision, Denial, Exemptions, Level, NamespaceDecision, NamespaceRequest, Policy,
    evaluate_pods_in_namespace, invalid_message, validate_namespace,
};
use super::{lv, pod};

/// Policy label suffixes (`enforce`, `warn-version`) and values.
type Kvs = &'static [(&'static str, &'static str)];

fn namespace(labels: &[(&str, &str)]) -> Namespace {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), json!(v)))
        .collect();
    serde_json::from_value(json!({"metadata": {"name": "test", "labels": labels}}))
        .expect("valid namespace")
}

fn decide(
    config: &Config,
    new: &[(&str, &str)],
    old: Option<&[(&str, &str)]>,
) -> NamespaceDecision {
    let new = namespace(new);
    let old = old.map(namespace);
    validate_namespace(
        config,
        &NamespaceRequest {
            request_namespace: "test",
            subresource: "",
            namespace: &new,
            old_namespace: old.as_ref(),
        },
    )
}

fn exempt_config() -> Config {
    Config {
        exemptions: Exemptions {
            namespaces: vec!["test".to_string()],
            ..Exemptions::default()
        },
        ..Config::default()
    }
}

fn allowed() -> NamespaceDecision {
    NamespaceDecision::Done(Decision::default())
}

fn warned(warning: &str) -> NamespaceDecision {
    NamespaceDecision::Done(Decision {
        warnings: vec![warning.to_string()],
        ..Decision::default()
    })
}

#[test]
fn creates_only_validate_labels() {
    let c = Config::default();
    assert_eq!(
        decide(
            &c,
            &[("enforce", "privileged"), ("enforce-version", "v1.0")],
            None
        ),
        allowed()
    );
    assert_eq!(decide(&c, &[("enforce", "restricted")], None), allowed());
    assert_eq!(
        decide(&exempt_config(), &[("enforce", "restricted")], None),
        warned(
            "namespace \"test\" is exempt from Pod Security, and the policy \
             (enforce=restricted:latest) will be ignored"
        )
    );
    let NamespaceDecision::Done(Decision {
        denial: Some(Denial::Invalid { causes }),
        ..
    }) = decide(&c, &[("enforce", "unknown")], None)
    else {
        panic!("expected invalid");
    };
    assert_eq!(
        invalid_message("Namespace", "test", &causes),
        "Namespace \"test\" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: \
         Invalid value: \"unknown\": must be one of privileged, baseline, restricted"
    );
}

#[test]
fn updates_that_do_not_tighten_enforce_check_nothing() {
    let c = Config::default();
    let cases: &[(Kvs, Kvs)] = &[
        (
            &[("enforce", "restricted"), ("enforce-version", "v1.0")],
            &[("enforce", "restricted"), ("enforce-version", "v1.0")],
        ),
        (&[("enforce", "unknown")], &[("enforce", "unknown")]),
        (
            &[("enforce", "baseline"), ("enforce-version", "unknown")],
            &[("enforce", "baseline"), ("enforce-version", "unknown")],
        ),
        (
            &[("enforce", "baseline"), ("enforce-version", "v1.0")],
            &[("enforce", "restricted"), ("enforce-version", "v1.0")],
        ),
        (
            &[("enforce", "baseline"), ("enforce-version", "latest")],
            &[("enforce", "restricted")],
        ),
        (
            &[("enforce", "privileged")],
            &[("enforce", "restricted"), ("enforce-version", "v1.0")],
        ),
        (
            &[],
            &[("enforce", "restricted"), ("enforce-version", "v1.0")],
        ),
        (&[("warn", "restricted")], &[]),
    ];
    for (new, old) in cases {
        assert_eq!(decide(&c, new, Some(old)), allowed(), "{new:?} <- {old:?}");
    }
    assert_eq!(
        decide(
            &exempt_config(),
            &[
                ("enforce", "restricted"),
                ("enforce-version", "v1.0"),
                ("audit", "restricted"),
                ("warn", "baseline")
            ],
            Some(&[]),
        ),
        warned(
            "namespace \"test\" is exempt from Pod Security, and the policy \
             (enforce=restricted:v1.0, audit=restricted:latest, warn=baseline:latest) will be \
             ignored"
        )
    );
}

#[test]
fn updates_that_break_labels_are_invalid() {
    let c = Config::default();
    for new in [
        &[("enforce", "unknown")][..],
        &[("enforce", "privileged"), ("enforce-version", "unknown")],
    ] {
        let d = decide(
            &c,
            new,
            Some(&[("enforce", "restricted"), ("enforce-version", "v1.0")]),
        );
        assert!(
            matches!(
                d,
                NamespaceDecision::Done(Decision {
                    denial: Some(Denial::Invalid { .. }),
                    ..
                })
            ),
            "{new:?}"
        );
    }
    let d = decide(&c, &[("enforce", "other")], Some(&[("enforce", "unknown")]));
    assert!(matches!(
        d,
        NamespaceDecision::Done(Decision {
            denial: Some(Denial::Invalid { .. }),
            ..
        })
    ));
}

#[test]
fn tightening_enforce_checks_existing_pods() {
    let d = decide(
        &Config::default(),
        &[("enforce", "restricted")],
        Some(&[("enforce", "baseline")]),
    );
    assert_eq!(
        d,
        NamespaceDecision::CheckExistingPods {
            enforce: lv(Level::Restricted, "latest")
        }
    );
    let defaults = Config {
        defaults: Policy {
            enforce: lv(Level::Restricted, "latest"),
            ..Policy::default()
        },
        ..Config::default()
    };
    let d = decide(
        &defaults,
        &[],
        Some(&[("enforce", "baseline"), ("enforce-version", "v1.0")]),
    );
    assert_eq!(
        d,
        NamespaceDecision::CheckExistingPods {
            enforce: lv(Level::Restricted, "latest")
        }
    );
    let d = decide(
        &Config::default(),
        &[("enforce", "baseline"), ("enforce-version", "v1.20")],
        Some(&[("enforce", "baseline"), ("enforce-version", "v1.30")]),
    );
    assert_eq!(
        d,
        NamespaceDecision::CheckExistingPods {
            enforce: lv(Level::Baseline, "v1.20")
        }
    );
}

const VIOLATE_RESTRICTED: &str = "existing pods in namespace \"test\" violate the new \
                                  PodSecurity enforce level \"restricted:latest\"";

fn named(name: &str, patch: serde_json::Value) -> Pod {
    let mut p = pod(patch);
    p.metadata.name = Some(name.to_string());
    p
}

fn owned(name: &str, uid: &str, patch: serde_json::Value) -> Pod {
    let mut p = named(name, patch);
    p.metadata.owner_references = Some(vec![serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true,
    }))
    .expect("valid owner reference")]);
    p
}

fn run_as_root() -> serde_json::Value {
    json!({"spec": {"securityContext": {"runAsNonRoot": null}}})
}

fn privileged() -> serde_json::Value {
    json!({"spec": {"hostPID": true, "containers": [{"securityContext": {"privileged": true}}]}})
}

#[test]
fn existing_pods_are_grouped_by_reasons() {
    let config = Config {
        exemptions: Exemptions {
            runtime_classes: vec!["rc1".to_string()],
            ..Exemptions::default()
        },
        ..Config::default()
    };
    let pods = [
        named("zeta", run_as_root()),
        named("ok", json!({})),
        named("alpha", run_as_root()),
        named(
            "exempt",
            json!({"spec": {"runtimeClassName": "rc1", "hostPID": true}}),
        ),
        named("beta", run_as_root()),
        named("kube-proxy", privileged()),
    ];
    let warnings = evaluate_pods_in_namespace(
        &config,
        "test",
        lv(Level::Restricted, "latest"),
        &pods,
        3000,
        || false,
    );
    assert_eq!(
        warnings,
        [
            VIOLATE_RESTRICTED,
            "alpha (and 2 other pods): runAsNonRoot != true",
            "kube-proxy: host namespaces, privileged",
        ]
    );
    let two = evaluate_pods_in_namespace(
        &config,
        "test",
        lv(Level::Restricted, "latest"),
        &pods[..3],
        3000,
        || false,
    );
    assert_eq!(two[1], "alpha (and 1 other pod): runAsNonRoot != true");
    assert!(
        evaluate_pods_in_namespace(
            &config,
            "test",
            lv(Level::Baseline, "latest"),
            &pods[..3],
            3000,
            || false
        )
        .is_empty()
    );
}

#[test]
fn existing_pods_are_bounded_and_prioritized() {
    let mut pods = Vec::new();
    for i in 1..=4 {
        pods.push(named(
            &format!("exemptpod{i}"),
            json!({"spec": {"runtimeClassName": "rc1"}}),
        ));
    }
    for rs in 1..=2 {
        for i in 1..=4 {
            let patch = if rs == 1 { run_as_root() } else { privileged() };
            pods.push(owned(
                &format!("replicaset{rs}pod{i}"),
                &rs.to_string(),
                patch,
            ));
        }
    }
    for i in 1..=4 {
        pods.push(named(
            &format!("uniquepod{i}"),
            json!({"spec": {"hostIPC": i % 2 == 1, "hostNetwork": i % 2 == 0}}),
        ));
    }
    let config = Config {
        exemptions: Exemptions {
            runtime_classes: vec!["rc1".to_string()],
            ..Exemptions::default()
        },
        ..Config::default()
    };
    let warnings = evaluate_pods_in_namespace(
        &config,
        "test",
        lv(Level::Restricted, "latest"),
        &pods,
        4,
        || false,
    );
    assert_eq!(
        warnings,
        [
            "new PodSecurity enforce level only checked against the first 4 of 12 existing pods",
            VIOLATE_RESTRICTED,
            "replicaset1pod1: runAsNonRoot != true",
            "replicaset2pod1: host namespaces, privileged",
            "uniquepod1 (and 1 other pod): host namespaces",
        ]
    );
}

#[test]
fn running_out_of_time_stops_early() {
    let pods: Vec<Pod> = (1..=4)
        .map(|i| named(&format!("pod{i}"), run_as_root()))
        .collect();
    let mut calls = 0;
    let warnings = evaluate_pods_in_namespace(
        &Config::default(),
        "test",
        lv(Level::Restricted, "latest"),
        &pods,
        3000,
        || {
            calls += 1;
            calls >= 2
        },
    );
    assert_eq!(
        warnings,
        [
            "new PodSecurity enforce level only checked against the first 2 of 4 existing pods",
            VIOLATE_RESTRICTED,
            "pod1 (and 1 other pod): runAsNonRoot != true",
        ]
    );
}

//! Pod and workload decisions (upstream's `TestValidatePodAndController`), and reading pod
//! templates out of workloads.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::{
    Config, Decision, Denial, Exemptions, Request, admit_pod, admit_pod_controller, has_pod_spec,
    is_significant_pod_update, pod_spec_of,
};
use super::pod;

fn config() -> Config {
    Config {
        exemptions: Exemptions {
            usernames: vec!["exempt-user".to_string()],
            runtime_classes: vec!["exempt-runtimeclass".to_string()],
            namespaces: vec!["exempt-ns".to_string()],
        },
        ..Config::default()
    }
}

/// Namespace labels: `enforce`, `warn`, `audit` levels, empty for unset.
fn ns_labels(enforce: &str, warn: &str, audit: &str) -> BTreeMap<String, String> {
    [("enforce", enforce), ("warn", warn), ("audit", audit)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), v.to_string()))
        .collect()
}

fn privileged_pod() -> Value {
    json!({"spec": {"containers": [{"securityContext": {"privileged": true}}]}})
}

fn annotation<'a>(d: &'a Decision, key: &str) -> Option<&'a str> {
    d.audit_annotations
        .get(&format!("pod-security.kubernetes.io/{key}"))
        .map(String::as_str)
}

struct Case {
    desc: &'static str,
    namespace: &'static str,
    labels: [&'static str; 3],
    username: &'static str,
    subresource: &'static str,
    pod: Value,
    old_pod: Option<Value>,
    allowed: bool,
    exempt: Option<&'static str>,
    enforce_policy: Option<&'static str>,
    warning: Option<&'static str>,
    audit: Option<&'static str>,
}

const RESTRICTED: [&str; 3] = ["restricted", "restricted", "restricted"];

fn base_case(desc: &'static str, pod: Value) -> Case {
    Case {
        desc,
        namespace: "restricted-ns",
        labels: RESTRICTED,
        username: "test-user",
        subresource: "",
        pod,
        old_pod: None,
        allowed: true,
        exempt: None,
        enforce_policy: Some("restricted:latest"),
        warning: None,
        audit: None,
    }
}

const PRIVILEGED_DETAIL: &str =
    "privileged (container \"app\" must not set securityContext.privileged=true)";

fn pod_cases() -> Vec<Case> {
    let violates = |lv: &str| format!("would violate PodSecurity \"{lv}\": {PRIVILEGED_DETAIL}");
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    vec![
        Case {
            subresource: "status",
            enforce_policy: None,
            ..base_case("ignored subresource", privileged_pod())
        },
        Case {
            namespace: "exempt-ns",
            exempt: Some("namespace"),
            enforce_policy: None,
            ..base_case("exempt namespace", privileged_pod())
        },
        Case {
            username: "exempt-user",
            exempt: Some("user"),
            enforce_policy: None,
            ..base_case("exempt user", privileged_pod())
        },
        Case {
            exempt: Some("runtimeClass"),
            enforce_policy: None,
            ..base_case(
                "exempt runtimeClass",
                json!({
                    "spec": {
                        "runtimeClassName": "exempt-runtimeclass",
                        "containers": [{"securityContext": {"privileged": true}}],
                    },
                }),
            )
        },
        Case {
            labels: ["", "", ""],
            enforce_policy: Some("privileged:latest"),
            ..base_case("short-circuit privileged (implicit)", privileged_pod())
        },
        Case {
            labels: ["privileged", "privileged", "privileged"],
            enforce_policy: Some("privileged:latest"),
            ..base_case("short-circuit privileged (explicit)", privileged_pod())
        },
        Case {
            old_pod: Some(privileged_pod()),
            enforce_policy: None,
            ..base_case(
                "insignificant update",
                json!({
                    "spec": {
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [{"securityContext": {"privileged": true}}],
                    },
                }),
            )
        },
        Case {
            old_pod: Some(privileged_pod()),
            allowed: false,
            audit: Some(leak(violates("restricted:latest"))),
            ..base_case(
                "significant update denied",
                json!({
                    "spec": {
                        "containers": [
                            {"image": "other", "securityContext": {"privileged": true}},
                        ],
                    },
                }),
            )
        },
        Case {
            old_pod: Some(json!({})),
            ..base_case(
                "significant update allowed",
                json!({"spec": {"containers": [{"image": "other"}]}}),
            )
        },
        Case {
            labels: ["not-a-valid-level", "", ""],
            allowed: false,
            ..base_case(
                "invalid labels enforce restricted",
                json!({"spec": {"securityContext": {"runAsNonRoot": null}}}),
            )
        },
        Case {
            allowed: false,
            audit: Some(leak(violates("restricted:latest"))),
            ..base_case("enforce deny", privileged_pod())
        },
        Case {
            labels: ["baseline", "baseline", "baseline"],
            enforce_policy: Some("baseline:latest"),
            ..base_case(
                "enforce allow",
                json!({"spec": {"securityContext": {"runAsNonRoot": null}}}),
            )
        },
        Case {
            labels: ["", "baseline", ""],
            enforce_policy: Some("privileged:latest"),
            warning: Some(leak(violates("baseline:latest"))),
            ..base_case("warn deny", privileged_pod())
        },
        Case {
            labels: ["", "", "baseline"],
            enforce_policy: Some("privileged:latest"),
            audit: Some(leak(violates("baseline:latest"))),
            ..base_case("audit deny", privileged_pod())
        },
    ]
}

#[test]
fn pods_are_enforced() {
    for case in pod_cases() {
        let labels = ns_labels(case.labels[0], case.labels[1], case.labels[2]);
        let req = Request {
            namespace: case.namespace,
            subresource: case.subresource,
            username: case.username,
            namespace_labels: Some(&labels),
        };
        let old = case.old_pod.clone().map(pod);
        let d = admit_pod(&config(), &req, &pod(case.pod.clone()), old.as_ref());
        let desc = case.desc;
        assert_eq!(d.allowed(), case.allowed, "{desc}: {d:?}");
        assert!(
            matches!(d.denial, None | Some(Denial::Forbidden { .. })),
            "{desc}"
        );
        assert_eq!(annotation(&d, "exempt"), case.exempt, "{desc}");
        assert_eq!(
            annotation(&d, "enforce-policy"),
            case.enforce_policy,
            "{desc}"
        );
        assert_eq!(annotation(&d, "audit-violations"), case.audit, "{desc}");
        let warning = if case.allowed { case.warning } else { None };
        assert_eq!(
            d.warnings.first().map(String::as_str),
            warning,
            "{desc}: {d:?}"
        );
    }
}

#[test]
fn invalid_labels_are_reported_in_the_audit_event() {
    let labels = ns_labels("not-a-valid-level", "", "");
    let req = Request {
        namespace: "ns",
        namespace_labels: Some(&labels),
        ..Request::default()
    };
    let d = admit_pod(&config(), &req, &pod(json!({})), None);
    assert!(d.allowed());
    assert_eq!(
        annotation(&d, "error"),
        Some(
            "Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid \
             value: \"not-a-valid-level\": must be one of privileged, baseline, restricted"
        )
    );
}

fn deployment(template_spec: Value) -> Value {
    let mut pod = serde_json::to_value(pod(template_spec)).expect("pod serializes");
    if let Some(obj) = pod.as_object_mut() {
        obj.remove("apiVersion");
        obj.remove("kind");
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": pod},
    })
}

#[test]
fn workloads_are_warned_never_enforced() {
    for case in pod_cases().into_iter().filter(|c| c.old_pod.is_none()) {
        let labels = ns_labels(case.labels[0], case.labels[1], case.labels[2]);
        let req = Request {
            namespace: case.namespace,
            subresource: case.subresource,
            username: case.username,
            namespace_labels: Some(&labels),
        };
        let d = admit_pod_controller(&config(), &req, "Deployment", &deployment(case.pod.clone()));
        let desc = case.desc;
        assert!(d.allowed(), "{desc}");
        assert_eq!(annotation(&d, "enforce-policy"), None, "{desc}");
        assert_eq!(annotation(&d, "exempt"), case.exempt, "{desc}");
        assert_eq!(annotation(&d, "audit-violations"), case.audit, "{desc}");
        // Enforce is never checked, so a workload that enforce would deny is warned about.
        let warned = !case.allowed && case.labels[1] == "restricted";
        assert_eq!(
            !d.warnings.is_empty(),
            warned || case.warning.is_some(),
            "{desc}: {d:?}"
        );
    }
}

#[test]
fn workload_warning_text() {
    let labels = ns_labels("", "restricted", "");
    let req = Request {
        namespace: "ns",
        namespace_labels: Some(&labels),
        ..Request::default()
    };
    let cronjob = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {
        "spec": {"containers": [{"name": "c", "image": "i", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 0}}]}
    }}}}});
    let d = admit_pod_controller(&config(), &req, "CronJob", &cronjob);
    assert_eq!(
        d.warnings,
        [
            "would violate PodSecurity \"restricted:latest\": runAsUser=0 (container \"c\" \
             must not set runAsUser=0)"
        ]
    );
    let bad = admit_pod_controller(&config(), &req, "Widget", &json!({}));
    assert!(bad.allowed());
    assert_eq!(
        annotation(&bad, "error"),
        Some("failed to extract pod template: unexpected object type: Widget")
    );
    let scale = Request {
        subresource: "scale",
        ..req
    };
    assert_eq!(
        admit_pod_controller(
            &config(),
            &scale,
            "Deployment",
            &deployment(privileged_pod())
        ),
        Decision::default()
    );
}

#[test]
fn pod_templates_are_found_in_every_workload_kind() {
    let template =
        json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}});
    let objects = [
        ("Pod", template.clone()),
        ("PodTemplate", json!({"template": template})),
        (
            "ReplicationController",
            json!({"spec": {"template": template}}),
        ),
        ("ReplicaSet", json!({"spec": {"template": template}})),
        ("Deployment", json!({"spec": {"template": template}})),
        ("DaemonSet", json!({"spec": {"template": template}})),
        ("StatefulSet", json!({"spec": {"template": template}})),
        ("Job", json!({"spec": {"template": template}})),
        (
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": template}}}}),
        ),
    ];
    for (kind, object) in objects {
        let (meta, spec) = pod_spec_of(kind, &object).expect(kind).expect(kind);
        assert_eq!(
            meta.labels.unwrap_or_default().get("a").map(String::as_str),
            Some("b"),
            "{kind}"
        );
        assert_eq!(spec.containers[0].name, "c", "{kind}");
    }
    assert!(
        pod_spec_of("ReplicationController", &json!({"spec": {}}))
            .expect("rc")
            .is_none()
    );
    let (_, empty) = pod_spec_of("Deployment", &json!({"spec": {}}))
        .expect("d")
        .expect("d");
    assert!(empty.containers.is_empty());
    assert!(pod_spec_of("Deployment", &json!({"spec": {"template": {"spec": 3}}})).is_err());
    assert!(has_pod_spec("apps", "deployments") && has_pod_spec("", "pods"));
    assert!(!has_pod_spec("", "configmaps") && !has_pod_spec("extensions", "deployments"));
}

#[test]
fn significant_pod_updates() {
    let base =
        pod(json!({"spec": {"ephemeralContainers": [{"name": "debug", "image": "busybox"}]}}));
    let cases = [
        (
            "labels only",
            json!({"metadata": {"labels": {"a": "b"}}}),
            false,
        ),
        (
            "container image",
            json!({"spec": {"containers": [{"image": "new"}]}}),
            true,
        ),
        (
            "init image",
            json!({"spec": {"initContainers": [{"image": "new"}]}}),
            true,
        ),
        (
            "extra container",
            json!({"spec": {"containers": [{}, {"name": "b"}]}}),
            true,
        ),
        (
            "ephemeral image",
            json!({"spec": {"ephemeralContainers": [{"name": "debug", "image": "x"}]}}),
            true,
        ),
        (
            "new ephemeral",
            json!({"spec": {"ephemeralContainers": [{}, {"name": "d2"}]}}),
            true,
        ),
        (
            "ephemeral same",
            json!({"spec": {"ephemeralContainers": [{"name": "debug"}]}}),
            false,
        ),
    ];
    for (desc, patch, want) in cases {
        let mut v = serde_json::to_value(&base).expect("pod serializes");
        super::merge(&mut v, &patch);
        let updated = serde_json::from_value(v).expect("valid pod");
        assert_eq!(is_significant_pod_update(&updated, &base), want, "{desc}");
    }
}

#[test]
fn ephemeral_containers_subresource_is_evaluated() {
    let labels = ns_labels("baseline", "", "");
    let req = Request {
        namespace: "ns",
        subresource: "ephemeralcontainers",
        namespace_labels: Some(&labels),
        ..Request::default()
    };
    let old = pod(json!({}));
    let new = pod(json!({
        "spec": {
            "ephemeralContainers": [
                {
                    "name": "debug",
                    "image": "busybox",
                    "securityContext": {"privileged": true},
                },
            ],
        },
    }));
    let d = admit_pod(&config(), &req, &new, Some(&old));
    let Some(Denial::Forbidden { reason }) = d.denial else {
        panic!("expected denial: {d:?}")
    };
    assert_eq!(
        reason,
        "violates PodSecurity \"baseline:latest\": privileged (container \"debug\" must not set \
         securityContext.privileged=true)"
    );
}

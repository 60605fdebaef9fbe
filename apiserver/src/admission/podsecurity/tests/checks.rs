//! Every check: a failing pod with its exact reason and detail where the check is in force,
//! the same pod allowed where it is not, and a passing pod (upstream's `policy/*_test.go`).

use serde_json::{Value, json};

use super::super::Level::{self, Baseline, Restricted};
use super::super::registry::CHECKS;
use super::super::{check_pod, max_known_minor};
use super::{lv, pod, violations};

struct Case {
    name: &'static str,
    fail: fn() -> Value,
    /// Where `fail` fails this check only, with exactly this reason and detail.
    fails_at: &'static [(Level, &'static str)],
    id: &'static str,
    reason: &'static str,
    detail: &'static str,
    /// Where `fail` is allowed by this check (before it exists, or exempt).
    allowed_at: &'static [(Level, &'static str)],
    /// Allowed wherever `fail` fails.
    pass: fn() -> Value,
}

fn container_sc(sc: Value) -> Value {
    json!({"spec": {"containers": [{"securityContext": sc}]}})
}

fn selinux_container(name: &str, opts: Value) -> Value {
    json!({"name": name, "image": "pause", "securityContext": {"seLinuxOptions": opts}})
}

const LATEST: &[(Level, &str)] = &[(Baseline, "latest"), (Restricted, "latest")];

const CASES: &[Case] = &[
    Case {
        name: "AppArmor field on a container",
        fail: || container_sc(json!({"appArmorProfile": {"type": "Unconfined"}})),
        fails_at: LATEST,
        id: "appArmorProfile",
        reason: "forbidden AppArmor profile",
        detail: r#"container "app" must not set AppArmor profile type to "Unconfined""#,
        allowed_at: &[(Level::Privileged, "latest")],
        pass: || {
            container_sc(json!({"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}))
        },
    },
    Case {
        name: "AppArmor on the pod and in an annotation",
        fail: || {
            json!({
                "metadata": {"annotations": {
                    "container.apparmor.security.beta.kubernetes.io/app": "unconfined",
                    "container.apparmor.security.beta.kubernetes.io/init": "runtime/default",
                }},
                "spec": {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
            })
        },
        fails_at: LATEST,
        id: "appArmorProfile",
        reason: "forbidden AppArmor profiles",
        detail: "pod and annotation must not set AppArmor profile type to \"Unconfined\", \
            \"container.apparmor.security.beta.kubernetes.io/app=\"unconfined\"\"",
        allowed_at: &[],
        pass: || {
            json!({
                "metadata": {
                    "annotations": {
                        "container.apparmor.security.beta.kubernetes.io/app": "localhost/x",
                    },
                },
            })
        },
    },
    Case {
        name: "AppArmor annotations only",
        fail: || {
            json!({"metadata": {"annotations": {
                "container.apparmor.security.beta.kubernetes.io/": "bogus",
                "container.apparmor.security.beta.kubernetes.io/a": "",
                "container.apparmor.security.beta.kubernetes.io/b": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/c": "localhost/",
                "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
                "container.apparmor.security.beta.kubernetes.io/f": "unknown",
            }}})
        },
        fails_at: &[(Baseline, "v1.0")],
        id: "appArmorProfile",
        reason: "forbidden AppArmor profiles",
        detail: "annotations must not set AppArmor profile type to \
            \"container.apparmor.security.beta.kubernetes.io/=\"bogus\"\", \
            \"container.apparmor.security.beta.kubernetes.io/e=\"unconfined\"\", \
            \"container.apparmor.security.beta.kubernetes.io/f=\"unknown\"\"",
        allowed_at: &[],
        pass: || json!({}),
    },
    Case {
        name: "non-default capabilities",
        fail: || container_sc(json!({"capabilities": {"add": ["SYS_ADMIN", "CHOWN", "NET_RAW"]}})),
        fails_at: &[
            (Baseline, "latest"),
            (Baseline, "v1.0"),
            (Restricted, "v1.21"),
        ],
        id: "capabilities_baseline",
        reason: "non-default capabilities",
        detail: "container \"app\" must not include \"NET_RAW\", \"SYS_ADMIN\" in \
            securityContext.capabilities.add",
        allowed_at: &[],
        pass: || container_sc(json!({"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]}})),
    },
    Case {
        name: "host namespaces",
        fail: || json!({"spec": {"hostNetwork": true, "hostPID": true, "hostIPC": true}}),
        fails_at: LATEST,
        id: "hostNamespaces",
        reason: "host namespaces",
        detail: "hostNetwork=true, hostPID=true, hostIPC=true",
        allowed_at: &[],
        pass: || json!({"spec": {"hostNetwork": false, "hostPID": false, "hostIPC": false}}),
    },
    Case {
        name: "hostPath volumes",
        fail: || {
            json!({"spec": {"volumes": [
                {"name": "a", "hostPath": {"path": "/"}},
                {"name": "ok", "emptyDir": {}},
                {"name": "b", "hostPath": {"path": "/var"}},
            ]}})
        },
        fails_at: &[(Baseline, "latest")],
        id: "hostPathVolumes",
        reason: "hostPath volumes",
        detail: r#"volumes "a", "b""#,
        allowed_at: &[],
        pass: || json!({"spec": {"volumes": [{"name": "a", "emptyDir": {}}]}}),
    },
    Case {
        name: "host ports sort as strings",
        fail: || {
            json!({"spec": {
                "initContainers": [{"ports": [{"containerPort": 80, "hostPort": 9}]}],
                "containers": [{"ports": [
                    {"containerPort": 80, "hostPort": 10},
                    {"containerPort": 81},
                ]}],
            }})
        },
        fails_at: LATEST,
        id: "hostPorts",
        reason: "hostPort",
        detail: r#"containers "init", "app" use hostPorts 10, 9"#,
        allowed_at: &[],
        pass: || {
            json!({
                "spec": {"containers": [{"ports": [{"containerPort": 80, "hostPort": 0}]}]},
            })
        },
    },
    Case {
        name: "probe and lifecycle hosts",
        fail: || {
            json!({"spec": {
                "initContainers": [{"startupProbe": {"tcpSocket": {"port": 1, "host": "a.com"}}}],
                "containers": [{
                    "livenessProbe": {"httpGet": {"port": 80, "host": "localhost"}},
                    "lifecycle": {"preStop": {"tcpSocket": {"port": 1, "host": "::1"}}},
                }],
            }})
        },
        fails_at: &[
            (Baseline, "v1.34"),
            (Baseline, "latest"),
            (Restricted, "v1.34"),
        ],
        id: "hostProbesAndHostLifecycle",
        reason: "probe or lifecycle host",
        detail: "containers \"app\", \"init\" use probe or lifecycle hosts \"::1\", \"a.com\", \
            \"localhost\"",
        allowed_at: &[(Baseline, "v1.33")],
        pass: || {
            json!({
                "spec": {"containers": [{"livenessProbe": {"httpGet": {"port": 80, "host": ""}}}]},
            })
        },
    },
    Case {
        name: "privileged",
        fail: || {
            json!({
                "spec": {
                    "containers": [
                        {"securityContext": {"privileged": true}},
                        {
                            "name": "b",
                            "securityContext": {
                                "privileged": true,
                                "allowPrivilegeEscalation": false,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        },
                    ],
                },
            })
        },
        fails_at: LATEST,
        id: "privileged",
        reason: "privileged",
        detail: r#"containers "app", "b" must not set securityContext.privileged=true"#,
        allowed_at: &[],
        pass: || container_sc(json!({"privileged": false})),
    },
    Case {
        name: "unmasked /proc",
        fail: || container_sc(json!({"procMount": "Unmasked"})),
        fails_at: &[
            (Baseline, "latest"),
            (Baseline, "v1.0"),
            (Restricted, "v1.34"),
        ],
        id: "procMount",
        reason: "procMount",
        detail: r#"container "app" must not set securityContext.procMount to "Unmasked""#,
        allowed_at: &[],
        pass: || container_sc(json!({"procMount": "Default"})),
    },
    Case {
        name: "unmasked /proc in a user namespace",
        fail: || {
            json!({
                "spec": {
                    "hostUsers": false,
                    "containers": [{"securityContext": {"procMount": "Unmasked"}}],
                },
            })
        },
        fails_at: &[(Baseline, "v1.34")],
        id: "procMount",
        reason: "procMount",
        detail: r#"container "app" must not set securityContext.procMount to "Unmasked""#,
        allowed_at: &[(Baseline, "v1.35"), (Baseline, "latest")],
        pass: || json!({"spec": {"hostUsers": false}}),
    },
    Case {
        name: "unmasked /proc stays restricted in a user namespace",
        fail: || {
            json!({
                "spec": {
                    "hostUsers": false,
                    "containers": [{"securityContext": {"procMount": "Unmasked"}}],
                },
            })
        },
        fails_at: &[(Restricted, "v1.35"), (Restricted, "latest")],
        id: "procMount_restricted",
        reason: "procMount",
        detail: r#"container "app" must not set securityContext.procMount to "Unmasked""#,
        allowed_at: &[(Baseline, "latest")],
        pass: || json!({"spec": {"hostUsers": false}}),
    },
    Case {
        name: "SELinux on the pod and containers",
        fail: || {
            let c = selinux_container;
            json!({"spec": {
                "securityContext": {
                    "seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"},
                },
                "initContainers": null,
                "containers": [
                    c("a", json!({"type": "container_t"})),
                    c("b", json!({"type": "container_init_t"})),
                    c("c", json!({"type": "container_kvm_t"})),
                    c("d", json!({"type": "container_engine_t"})),
                    c("e", json!({"type": "bar"})),
                    c("f", json!({"user": "bar"})),
                    c("g", json!({"role": "baz"})),
                ],
            }})
        },
        fails_at: &[(Baseline, "latest")],
        id: "seLinuxOptions",
        reason: "seLinuxOptions",
        detail: "pod and containers \"e\", \"f\", \"g\" set forbidden \
            securityContext.seLinuxOptions: types \"bar\", \"foo\"; user may not be set; role \
            may not be set",
        allowed_at: &[],
        pass: || {
            json!({
                "spec": {
                    "securityContext": {
                        "seLinuxOptions": {"type": "container_t", "level": "s0:c1"},
                    },
                },
            })
        },
    },
    Case {
        name: "SELinux container_engine_t before v1.31",
        fail: || container_sc(json!({"seLinuxOptions": {"type": "container_engine_t"}})),
        fails_at: &[(Baseline, "v1.30"), (Restricted, "v1.30")],
        id: "seLinuxOptions",
        reason: "seLinuxOptions",
        detail: "container \"app\" set forbidden securityContext.seLinuxOptions: type \
            \"container_engine_t\"",
        allowed_at: &[(Baseline, "v1.31"), (Restricted, "latest")],
        pass: || container_sc(json!({"seLinuxOptions": {"type": "container_kvm_t"}})),
    },
    Case {
        name: "seccomp field at baseline",
        fail: || {
            json!({"spec": {
                "securityContext": {"seccompProfile": {"type": "Unconfined"}},
                "containers": [{"securityContext": {"seccompProfile": {"type": "Unconfined"}}}],
            }})
        },
        fails_at: &[(Baseline, "v1.19"), (Baseline, "latest")],
        id: "seccompProfile_baseline",
        reason: "seccompProfile",
        detail: "pod and container \"app\" must not set securityContext.seccompProfile.type to \
            \"Unconfined\"",
        allowed_at: &[(Baseline, "v1.18")],
        pass: || {
            container_sc(json!({"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}))
        },
    },
    Case {
        name: "seccomp annotations before v1.19",
        fail: || {
            json!({
                "metadata": {"annotations": {
                    "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                    "container.seccomp.security.alpha.kubernetes.io/app": "unconfined",
                    "container.seccomp.security.alpha.kubernetes.io/init": "docker/default",
                }},
                "spec": {"securityContext": {"seccompProfile": null}},
            })
        },
        fails_at: &[(Baseline, "v1.18"), (Restricted, "v1.18")],
        id: "seccompProfile_baseline",
        reason: "seccompProfile",
        detail: "forbidden annotations \
            container.seccomp.security.alpha.kubernetes.io/app=\"unconfined\", \
            seccomp.security.alpha.kubernetes.io/pod=\"unconfined\"",
        allowed_at: &[(Baseline, "v1.19")],
        pass: || {
            json!({
                "metadata": {
                    "annotations": {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"},
                },
            })
        },
    },
    Case {
        name: "unsafe sysctls",
        fail: || {
            json!({
                "spec": {
                    "securityContext": {
                        "sysctls": [
                            {"name": "a", "value": "1"},
                            {"name": "kernel.shm_rmid_forced", "value": "1"},
                            {"name": "b", "value": "1"},
                        ],
                    },
                },
            })
        },
        fails_at: &[
            (Baseline, "v1.0"),
            (Baseline, "latest"),
            (Restricted, "latest"),
        ],
        id: "sysctls",
        reason: "forbidden sysctls",
        detail: "a, b",
        allowed_at: &[],
        pass: || {
            json!({
                "spec": {
                    "securityContext": {
                        "sysctls": [{"name": "net.ipv4.ping_group_range", "value": "0 1"}],
                    },
                },
            })
        },
    },
    Case {
        name: "sysctl allowed from v1.27",
        fail: || {
            json!({
                "spec": {
                    "securityContext": {
                        "sysctls": [{"name": "net.ipv4.ip_local_reserved_ports", "value": "1"}],
                    },
                },
            })
        },
        fails_at: &[(Baseline, "v1.26")],
        id: "sysctls",
        reason: "forbidden sysctls",
        detail: "net.ipv4.ip_local_reserved_ports",
        allowed_at: &[(Baseline, "v1.27")],
        pass: || json!({}),
    },
    Case {
        name: "sysctl allowed from v1.29",
        fail: || {
            json!({
                "spec": {
                    "securityContext": {
                        "sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "1"}],
                    },
                },
            })
        },
        fails_at: &[(Baseline, "v1.28")],
        id: "sysctls",
        reason: "forbidden sysctls",
        detail: "net.ipv4.tcp_keepalive_time",
        allowed_at: &[(Baseline, "v1.29")],
        pass: || json!({}),
    },
    Case {
        name: "sysctl allowed from v1.32",
        fail: || {
            json!({
                "spec": {
                    "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_wmem", "value": "1"}]},
                },
            })
        },
        fails_at: &[(Baseline, "v1.31")],
        id: "sysctls",
        reason: "forbidden sysctls",
        detail: "net.ipv4.tcp_wmem",
        allowed_at: &[(Baseline, "v1.32"), (Restricted, "latest")],
        pass: || json!({}),
    },
    Case {
        name: "Windows hostProcess",
        fail: || {
            json!({"spec": {
                "securityContext": {"windowsOptions": {"hostProcess": true}},
                "containers": [{"securityContext": {"windowsOptions": {"hostProcess": true}}}],
            }})
        },
        fails_at: LATEST,
        id: "windowsHostProcess",
        reason: "hostProcess",
        detail: "pod and container \"app\" must not set \
            securityContext.windowsOptions.hostProcess=true",
        allowed_at: &[],
        pass: || container_sc(json!({"windowsOptions": {"hostProcess": false}})),
    },
    Case {
        name: "privilege escalation",
        fail: || {
            json!({
                "spec": {
                    "initContainers": [{"securityContext": {"allowPrivilegeEscalation": null}}],
                    "containers": [{"securityContext": {"allowPrivilegeEscalation": true}}],
                },
            })
        },
        fails_at: &[(Restricted, "v1.8"), (Restricted, "latest")],
        id: "allowPrivilegeEscalation",
        reason: "allowPrivilegeEscalation != false",
        detail: "containers \"init\", \"app\" must set \
            securityContext.allowPrivilegeEscalation=false",
        allowed_at: &[(Restricted, "v1.7"), (Baseline, "latest")],
        pass: || json!({}),
    },
    Case {
        name: "capabilities not dropped, forbidden ones added",
        fail: || {
            json!({"spec": {
                "initContainers": [{"securityContext": {"capabilities": {
                    "add": ["NET_BIND_SERVICE", "SYS_TIME", "CHOWN"],
                }}}],
                "containers": [{"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}],
            }})
        },
        fails_at: &[(Restricted, "v1.22"), (Restricted, "latest")],
        id: "capabilities_restricted",
        reason: "unrestricted capabilities",
        detail: "container \"app\" must set securityContext.capabilities.drop=[\"ALL\"]; \
            container \"init\" must not include \"CHOWN\", \"SYS_TIME\" in \
            securityContext.capabilities.add",
        allowed_at: &[(Restricted, "v1.21")],
        pass: || {
            json!({
                "spec": {
                    "containers": [
                        {"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}},
                    ],
                },
            })
        },
    },
    Case {
        name: "no security context means no dropped capabilities",
        fail: || {
            json!({
                "spec": {
                    "containers": [
                        {"securityContext": {"capabilities": null}},
                        {"name": "b", "securityContext": {"allowPrivilegeEscalation": false}},
                    ],
                },
            })
        },
        fails_at: &[(Restricted, "v1.22")],
        id: "capabilities_restricted",
        reason: "unrestricted capabilities",
        detail: r#"containers "app", "b" must set securityContext.capabilities.drop=["ALL"]"#,
        allowed_at: &[(Restricted, "v1.21")],
        pass: || json!({}),
    },
    Case {
        name: "restricted volume types",
        fail: || {
            json!({"spec": {"volumes": [
                {"name": "a", "nfs": {"server": "s", "path": "/"}},
                {"name": "ok", "configMap": {"name": "c"}},
                {"name": "b", "hostPath": {"path": "/"}},
                {"name": "c", "gitRepo": {"repository": "r"}},
                {"name": "d", "hostPath": {"path": "/x"}},
            ]}})
        },
        fails_at: &[(Restricted, "v1.0"), (Restricted, "latest")],
        id: "restrictedVolumes",
        reason: "restricted volume types",
        detail: "volumes \"a\", \"b\", \"c\", \"d\" use restricted volume types \"gitRepo\", \
            \"hostPath\", \"nfs\"",
        allowed_at: &[],
        pass: || {
            json!({"spec": {"volumes": [
                {"name": "a", "csi": {"driver": "d"}},
                {"name": "b", "ephemeral": {}},
                {"name": "c", "image": {"reference": "r"}},
                {"name": "d", "persistentVolumeClaim": {"claimName": "c"}},
                {"name": "e", "projected": {}},
                {"name": "f", "secret": {}},
                {"name": "g", "downwardAPI": {}},
            ]}})
        },
    },
    Case {
        name: "runAsNonRoot unset",
        fail: || {
            json!({
                "spec": {
                    "securityContext": {"runAsNonRoot": null},
                    "initContainers": [{"securityContext": {"runAsNonRoot": true}}],
                },
            })
        },
        fails_at: &[(Restricted, "v1.0"), (Restricted, "latest")],
        id: "runAsNonRoot",
        reason: "runAsNonRoot != true",
        detail: r#"pod or container "app" must set securityContext.runAsNonRoot=true"#,
        allowed_at: &[(Baseline, "latest")],
        pass: || {
            json!({
                "spec": {
                    "securityContext": {"runAsNonRoot": null},
                    "initContainers": [{"securityContext": {"runAsNonRoot": true}}],
                    "containers": [{"securityContext": {"runAsNonRoot": true}}],
                },
            })
        },
    },
    Case {
        name: "runAsNonRoot false",
        fail: || {
            json!({
                "spec": {
                    "securityContext": {"runAsNonRoot": false},
                    "containers": [{"securityContext": {"runAsNonRoot": false}}],
                },
            })
        },
        fails_at: &[(Restricted, "latest")],
        id: "runAsNonRoot",
        reason: "runAsNonRoot != true",
        detail: r#"pod and container "app" must not set securityContext.runAsNonRoot=false"#,
        allowed_at: &[],
        pass: || json!({"spec": {"securityContext": {"runAsNonRoot": false}, "hostUsers": false}}),
    },
    Case {
        name: "runAsNonRoot in a user namespace",
        fail: || json!({"spec": {"hostUsers": false, "securityContext": {"runAsNonRoot": null}}}),
        fails_at: &[(Restricted, "v1.34")],
        id: "runAsNonRoot",
        reason: "runAsNonRoot != true",
        detail: r#"pod or containers "init", "app" must set securityContext.runAsNonRoot=true"#,
        allowed_at: &[(Restricted, "v1.35"), (Restricted, "latest")],
        pass: || json!({}),
    },
    Case {
        name: "runAsUser 0",
        fail: || {
            json!({
                "spec": {
                    "securityContext": {"runAsUser": 0},
                    "initContainers": [{"securityContext": {"runAsUser": 0}}],
                    "containers": [{"securityContext": {"runAsUser": 0}}],
                },
            })
        },
        fails_at: &[(Restricted, "v1.23"), (Restricted, "v1.34")],
        id: "runAsUser",
        reason: "runAsUser=0",
        detail: r#"pod and containers "init", "app" must not set runAsUser=0"#,
        allowed_at: &[(Restricted, "v1.22")],
        pass: || json!({"spec": {"securityContext": {"runAsUser": 1000}}}),
    },
    Case {
        name: "runAsUser 0 in a user namespace",
        fail: || {
            json!({
                "spec": {"hostUsers": false, "containers": [{"securityContext": {"runAsUser": 0}}]},
            })
        },
        fails_at: &[(Restricted, "v1.34")],
        id: "runAsUser",
        reason: "runAsUser=0",
        detail: r#"container "app" must not set runAsUser=0"#,
        allowed_at: &[(Restricted, "v1.35"), (Restricted, "latest")],
        pass: || json!({}),
    },
    Case {
        name: "seccomp unset",
        fail: || json!({"spec": {"securityContext": {"seccompProfile": null}}}),
        fails_at: &[(Restricted, "v1.19"), (Restricted, "latest")],
        id: "seccompProfile_restricted",
        reason: "seccompProfile",
        detail: "pod or containers \"init\", \"app\" must set securityContext.seccompProfile.type \
            to \"RuntimeDefault\" or \"Localhost\"",
        allowed_at: &[(Restricted, "v1.18"), (Baseline, "latest")],
        pass: || {
            json!({
                "spec": {
                    "securityContext": {"seccompProfile": null},
                    "initContainers": [
                        {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
                    ],
                    "containers": [
                        {
                            "securityContext": {
                                "seccompProfile": {"type": "Localhost", "localhostProfile": "p"},
                            },
                        },
                    ],
                },
            })
        },
    },
    Case {
        name: "seccomp unconfined container",
        fail: || container_sc(json!({"seccompProfile": {"type": "Unconfined"}})),
        fails_at: &[(Restricted, "latest")],
        id: "seccompProfile_restricted",
        reason: "seccompProfile",
        detail: "container \"app\" must not set securityContext.seccompProfile.type to \
            \"Unconfined\"",
        allowed_at: &[],
        pass: || json!({}),
    },
];

#[test]
fn every_check_fails_and_passes_where_it_applies() {
    for case in CASES {
        let failing = pod((case.fail)());
        for (level, version) in case.fails_at {
            let want = vec![(
                case.id.to_string(),
                case.reason.to_string(),
                case.detail.to_string(),
            )];
            assert_eq!(
                violations(lv(*level, version), &failing),
                want,
                "{} at {level}:{version}",
                case.name
            );
        }
        for (level, version) in case.allowed_at {
            let got = violations(lv(*level, version), &failing);
            assert!(
                got.iter().all(|(id, _, _)| id != case.id),
                "{} at {level}:{version}: {got:?}",
                case.name
            );
        }
        let passing = pod((case.pass)());
        for (level, version) in case.fails_at {
            let got = violations(lv(*level, version), &passing);
            assert_eq!(
                got,
                vec![],
                "{} passing pod at {level}:{version}",
                case.name
            );
        }
    }
}

#[test]
fn windows_pods_still_fail_linux_rules_before_v1_25() {
    let windows = pod(
        json!({"spec": {"os": {"name": "windows"}, "containers": [{"securityContext": null}]}}),
    );
    let ids: Vec<String> = violations(lv(Restricted, "v1.24"), &windows)
        .into_iter()
        .map(|v| v.0)
        .collect();
    assert_eq!(ids, ["allowPrivilegeEscalation", "capabilities_restricted"]);
    let seccomp = pod(
        json!({"spec": {"os": {"name": "windows"}, "securityContext": {"seccompProfile": null}}}),
    );
    let ids: Vec<String> = violations(lv(Restricted, "v1.24"), &seccomp)
        .into_iter()
        .map(|v| v.0)
        .collect();
    assert_eq!(ids, ["seccompProfile_restricted"]);
    for p in [&windows, &seccomp] {
        assert_eq!(violations(lv(Restricted, "v1.25"), p), vec![]);
    }
}

#[test]
fn the_table_is_in_message_order_and_consistent() {
    let baseline: Vec<&str> = CHECKS
        .iter()
        .filter(|c| c.level == Baseline)
        .map(|c| c.id)
        .collect();
    let restricted: Vec<&str> = CHECKS
        .iter()
        .filter(|c| c.level == Restricted)
        .map(|c| c.id)
        .collect();
    let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
    let (mut sorted_b, mut sorted_r) = (baseline.clone(), restricted.clone());
    sorted_b.sort();
    sorted_r.sort();
    assert_eq!(
        ids,
        [sorted_b, sorted_r].concat(),
        "baseline first, each sorted by ID"
    );
    for c in CHECKS {
        assert!(
            c.versions
                .windows(2)
                .all(|w| w[0].min_minor < w[1].min_minor),
            "{}",
            c.id
        );
        for v in c.versions {
            assert!(v.overrides.is_empty() || c.level == Restricted, "{}", c.id);
            assert!(v.overrides.iter().all(|o| baseline.contains(o)), "{}", c.id);
        }
    }
    assert_eq!(max_known_minor(), 35);
}

#[test]
fn checks_in_force_per_level_and_version() {
    let empty = pod(json!({}));
    let spec = empty.spec.clone().unwrap_or_default();
    let count = |level, version| check_pod(lv(level, version), &empty.metadata, &spec).len();
    assert_eq!(count(Level::Privileged, "latest"), 0);
    assert_eq!(count(Baseline, "v1.0"), 11);
    assert_eq!(count(Baseline, "v1.34"), 12);
    assert_eq!(count(Baseline, "latest"), 12);
    // v1.0: baseline and restrictedVolumes (replacing hostPathVolumes) and runAsNonRoot.
    assert_eq!(count(Restricted, "v1.0"), 12);
    // latest: 12 baseline, 4 of them replaced, 7 restricted.
    assert_eq!(count(Restricted, "latest"), 15);
    assert_eq!(count(Restricted, "v1.99"), count(Restricted, "latest"));
}

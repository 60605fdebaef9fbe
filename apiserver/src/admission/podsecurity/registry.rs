//! The table of checks with their version ranges, and the evaluation of a pod against a
//! level and version, as upstream's `policy/registry.go` and `policy/checks.go`.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::api::{Level, LevelVersion, Version};
use super::{baseline, host, restricted};

/// Why a check forbade a pod. The reason is short and always shown (`host namespaces`); the
/// detail names the offending fields and values (`hostNetwork=true, hostPID=true`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub forbidden_reason: String,
    pub forbidden_detail: String,
}

/// The outcome of one check: `violation` is `None` when the check allows the pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// Upstream's check ID (`runAsNonRoot`, `capabilities_baseline`).
    pub id: &'static str,
    pub violation: Option<Violation>,
}

impl CheckResult {
    pub fn allowed(&self) -> bool {
        self.violation.is_none()
    }
}

pub(super) type CheckFn = fn(&ObjectMeta, &PodSpec) -> Option<Violation>;

/// One revision of a check, in force from `v1.<min_minor>` until the next revision.
pub(super) struct VersionedCheck {
    pub min_minor: u64,
    pub check: CheckFn,
    /// Baseline checks this (restricted) revision replaces with a stricter form.
    pub overrides: &'static [&'static str],
}

pub(super) struct Check {
    pub id: &'static str,
    pub level: Level,
    pub versions: &'static [VersionedCheck],
}

const fn from(min_minor: u64, check: CheckFn) -> VersionedCheck {
    VersionedCheck {
        min_minor,
        check,
        overrides: &[],
    }
}

const fn overriding(
    min_minor: u64,
    check: CheckFn,
    overrides: &'static [&'static str],
) -> VersionedCheck {
    VersionedCheck {
        min_minor,
        check,
        overrides,
    }
}

/// Every check, baseline ones first, each group sorted by ID: upstream evaluates in this
/// order (`populate` in `policy/registry.go`), which is the order of the reasons in a
/// message. A unit test keeps the table sorted.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: "appArmorProfile",
        level: Level::Baseline,
        versions: &[from(0, baseline::app_armor_profile_1_0)],
    },
    Check {
        id: "capabilities_baseline",
        level: Level::Baseline,
        versions: &[from(0, baseline::capabilities_baseline_1_0)],
    },
    Check {
        id: "hostNamespaces",
        level: Level::Baseline,
        versions: &[from(0, host::host_namespaces_1_0)],
    },
    Check {
        id: "hostPathVolumes",
        level: Level::Baseline,
        versions: &[from(0, host::host_path_volumes_1_0)],
    },
    Check {
        id: "hostPorts",
        level: Level::Baseline,
        versions: &[from(0, host::host_ports_1_0)],
    },
    Check {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        versions: &[from(34, host::host_probes_and_host_lifecycle_1_34)],
    },
    Check {
        id: "privileged",
        level: Level::Baseline,
        versions: &[from(0, host::privileged_1_0)],
    },
    Check {
        id: "procMount",
        level: Level::Baseline,
        versions: &[
            from(0, baseline::proc_mount_1_0),
            from(35, baseline::proc_mount_baseline_1_35),
        ],
    },
    Check {
        id: "seLinuxOptions",
        level: Level::Baseline,
        versions: &[
            from(0, baseline::se_linux_options_1_0),
            from(31, baseline::se_linux_options_1_31),
        ],
    },
    Check {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        versions: &[
            from(0, baseline::seccomp_profile_baseline_1_0),
            from(19, baseline::seccomp_profile_baseline_1_19),
        ],
    },
    Check {
        id: "sysctls",
        level: Level::Baseline,
        versions: &[
            from(0, baseline::sysctls_1_0),
            from(27, baseline::sysctls_1_27),
            from(29, baseline::sysctls_1_29),
            from(32, baseline::sysctls_1_32),
        ],
    },
    Check {
        id: "windowsHostProcess",
        level: Level::Baseline,
        versions: &[from(0, host::windows_host_process_1_0)],
    },
    Check {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        versions: &[
            from(8, restricted::allow_privilege_escalation_1_8),
            from(25, restricted::allow_privilege_escalation_1_25),
        ],
    },
    Check {
        id: "capabilities_restricted",
        level: Level::Restricted,
        versions: &[
            overriding(
                22,
                restricted::capabilities_1_22,
                &["capabilities_baseline"],
            ),
            overriding(
                25,
                restricted::capabilities_1_25,
                &["capabilities_baseline"],
            ),
        ],
    },
    Check {
        id: "procMount_restricted",
        level: Level::Restricted,
        // From v1.35 baseline lets pods in a user namespace unmask /proc; restricted keeps
        // the unconditional check (policy/check_procMount_restricted.go).
        versions: &[overriding(35, baseline::proc_mount_1_0, &["procMount"])],
    },
    Check {
        id: "restrictedVolumes",
        level: Level::Restricted,
        versions: &[overriding(
            0,
            restricted::restricted_volumes_1_0,
            &["hostPathVolumes"],
        )],
    },
    Check {
        id: "runAsNonRoot",
        level: Level::Restricted,
        versions: &[
            from(0, restricted::run_as_non_root_1_0),
            from(35, restricted::run_as_non_root_1_35),
        ],
    },
    Check {
        id: "runAsUser",
        level: Level::Restricted,
        versions: &[
            from(23, restricted::run_as_user_1_23),
            from(35, restricted::run_as_user_1_35),
        ],
    },
    Check {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        versions: &[
            overriding(
                19,
                restricted::seccomp_profile_1_19,
                &["seccompProfile_baseline"],
            ),
            overriding(
                25,
                restricted::seccomp_profile_1_25,
                &["seccompProfile_baseline"],
            ),
        ],
    },
];

/// The newest policy version any check knows; `latest` and every later `v1.N` evaluate as
/// this one (upstream's `maxVersion`).
pub fn max_known_minor() -> u64 {
    CHECKS
        .iter()
        .filter_map(|c| c.versions.last())
        .map(|v| v.min_minor)
        .max()
        .unwrap_or(0)
}

fn revision_at(check: &Check, minor: u64) -> Option<&'static VersionedCheck> {
    let versions: &'static [VersionedCheck] = check.versions;
    versions.iter().rev().find(|v| v.min_minor <= minor)
}

/// Evaluates a pod's metadata and spec against a level and version, as upstream's
/// `EvaluatePod`: one result per check in force, in message order; none for privileged.
pub fn check_pod(lv: LevelVersion, meta: &ObjectMeta, spec: &PodSpec) -> Vec<CheckResult> {
    if lv.level == Level::Privileged {
        return Vec::new();
    }
    let max = max_known_minor();
    let minor = match lv.version {
        Version::Latest => max,
        Version::V1(minor) => minor.min(max),
    };
    let overridden: Vec<&str> = if lv.level == Level::Restricted {
        CHECKS
            .iter()
            .filter(|c| c.level == Level::Restricted)
            .filter_map(|c| revision_at(c, minor))
            .flat_map(|v| v.overrides.iter().copied())
            .collect()
    } else {
        Vec::new()
    };
    CHECKS
        .iter()
        .filter(|c| c.level <= lv.level && !overridden.contains(&c.id))
        .filter_map(|c| revision_at(c, minor).map(|v| (c.id, v)))
        .map(|(id, v)| CheckResult {
            id,
            violation: (v.check)(meta, spec),
        })
        .collect()
}

/// Used when a check forbids without a reason; none of ours does (upstream's
/// `UnknownForbiddenReason`).
const UNKNOWN_FORBIDDEN_REASON: &str = "unknown forbidden reason";

/// The forbidden results of several checks, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AggregateCheckResult {
    pub forbidden_reasons: Vec<String>,
    pub forbidden_details: Vec<String>,
}

impl AggregateCheckResult {
    pub fn from_results(results: &[CheckResult]) -> AggregateCheckResult {
        let mut aggregate = AggregateCheckResult::default();
        for v in results.iter().filter_map(|r| r.violation.as_ref()) {
            let reason = if v.forbidden_reason.is_empty() {
                UNKNOWN_FORBIDDEN_REASON
            } else {
                &v.forbidden_reason
            };
            aggregate.forbidden_reasons.push(reason.to_string());
            aggregate.forbidden_details.push(v.forbidden_detail.clone());
        }
        aggregate
    }

    pub fn allowed(&self) -> bool {
        self.forbidden_reasons.is_empty()
    }

    /// `host ports, privileged`: what the namespace check prints per group of pods.
    pub fn forbidden_reason(&self) -> String {
        self.forbidden_reasons.join(", ")
    }

    /// `host ports (8080, 9090), privileged (container "a" must not ...)`: what a denied
    /// request and a warning print.
    pub fn forbidden_detail(&self) -> String {
        let parts: Vec<String> = self
            .forbidden_reasons
            .iter()
            .zip(&self.forbidden_details)
            .map(|(reason, detail)| {
                if detail.is_empty() {
                    reason.clone()
                } else {
                    format!("{reason} ({detail})")
                }
            })
            .collect();
        parts.join(", ")
    }
}

/// Init containers, containers, then ephemeral containers, as upstream's `visitContainers`.
/// An ephemeral container is copied into a `Container` with the fields the checks read.
pub(super) fn containers(spec: &PodSpec) -> impl Iterator<Item = Cow<'_, Container>> {
    let init = spec.init_containers.iter().flatten().map(Cow::Borrowed);
    let regular = spec.containers.iter().map(Cow::Borrowed);
    let ephemeral = spec.ephemeral_containers.iter().flatten().map(|e| {
        Cow::Owned(Container {
            name: e.name.clone(),
            image: e.image.clone(),
            security_context: e.security_context.clone(),
            ports: e.ports.clone(),
            liveness_probe: e.liveness_probe.clone(),
            readiness_probe: e.readiness_probe.clone(),
            startup_probe: e.startup_probe.clone(),
            lifecycle: e.lifecycle.clone(),
            ..Container::default()
        })
    });
    init.chain(regular).chain(ephemeral)
}

/// A failed check.
pub(super) fn forbid(reason: &str, detail: String) -> Option<Violation> {
    Some(Violation {
        forbidden_reason: reason.to_string(),
        forbidden_detail: detail,
    })
}

pub(super) fn security_context(c: &Container) -> Option<&SecurityContext> {
    c.security_context.as_ref()
}

/// Names of the containers for which `bad` holds, in visiting order.
pub(super) fn containers_where(spec: &PodSpec, bad: impl Fn(&Container) -> bool) -> Vec<String> {
    containers(spec)
        .filter(|c| bad(c))
        .map(|c| c.name.clone())
        .collect()
}

/// Pods with `hostUsers: false` run in a user namespace, where some rules are relaxed.
pub(super) fn in_user_namespace(spec: &PodSpec) -> bool {
    spec.host_users == Some(false)
}

/// Pods that declare `spec.os.name: windows`, exempt from Linux-only rules from v1.25.
pub(super) fn is_windows(spec: &PodSpec) -> bool {
    spec.os.as_ref().is_some_and(|os| os.name == "windows")
}

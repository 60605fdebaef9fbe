//! Pod and owner-reference predicates shared by the ReplicaSet and Deployment decisions, after
//! `pkg/api/v1/pod/util.go` (`IsPodReady`, `IsPodAvailable`) and `pkg/controller/controller_utils.go`
//! (`IsPodActive`, `IsPodTerminating`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The Ready condition's last transition time when the pod is Ready, `None` otherwise (also when
/// the condition carries no time, which upstream sees as the zero time).
pub(crate) fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod)
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
}

/// Whether the pod's Ready condition is True.
pub(crate) fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some()
}

/// Whether the pod has been Ready for more than `min_ready_seconds` at `now`. As upstream, a
/// Ready condition without a transition time is never available when `min_ready_seconds > 0`,
/// and the comparison is strict (`LastTransitionTime + minReadySeconds < now`).
pub(crate) fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    ready_since(pod).is_some_and(|since| {
        since
            .checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
            .is_ok_and(|t| t < now)
    })
}

/// How long until a pod that is Ready but not yet available becomes available, `None` when
/// the pod is not Ready, already available, or `min_ready_seconds` is 0.
pub(crate) fn until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Option<Duration> {
    if min_ready_seconds <= 0 || is_pod_available(pod, min_ready_seconds, now) {
        return None;
    }
    let since = ready_since(pod)?;
    let at = since
        .checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
        .ok()?;
    let left = at.duration_since(now);
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

fn pod_phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Whether the pod is Succeeded or Failed.
pub(crate) fn is_pod_terminal(pod: &Pod) -> bool {
    matches!(pod_phase(pod), "Succeeded" | "Failed")
}

/// Active pods count toward a ReplicaSet's replicas: not terminal and not being deleted.
pub(crate) fn is_pod_active(pod: &Pod) -> bool {
    !is_pod_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// Terminating pods are being deleted but have not reached a terminal phase yet; they are
/// reported in `status.terminatingReplicas` and are not replaced-for (controller_utils.go
/// `IsPodTerminating`).
pub(crate) fn is_pod_terminating(pod: &Pod) -> bool {
    !is_pod_terminal(pod) && pod.metadata.deletion_timestamp.is_some()
}

/// The phase ordinal of `podPhaseToOrdinal`: Pending < Unknown < Running; other or empty
/// phases read as 0 because a missing map key does in Go.
pub(crate) fn phase_ordinal(pod: &Pod) -> u8 {
    match pod_phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

/// The highest restart count among the pod's (regular) containers.
pub(crate) fn max_container_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
        .max(0)
}

/// The node the pod is bound to, empty when unscheduled.
pub(crate) fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// The owner reference marked `controller: true`, if any (`metav1.GetControllerOf`).
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Whether `meta` is controlled by the object with `uid`.
pub(crate) fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == uid)
}

/// The controller reference a ReplicaSet puts on the pods it creates or adopts
/// (`metav1.NewControllerRef`): both flags set so that foreground deletion waits for pods.
pub fn controller_ref(rs: &ReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: rs.metadata.name.clone().unwrap_or_default(),
        uid: rs.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Pod builders shared by the tests of both controllers.

    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    pub(crate) fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid test time")
    }

    pub(crate) fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                labels: Some(labels),
                creation_timestamp: Some(Time(ts(1_000))),
                ..Default::default()
            },
            spec: Some(PodSpec::default()),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            }),
        }
    }

    pub(crate) fn on_node(mut p: Pod, node: &str) -> Pod {
        p.spec.get_or_insert_with(Default::default).node_name = Some(node.into());
        p
    }

    pub(crate) fn phase(mut p: Pod, phase: &str) -> Pod {
        p.status.get_or_insert_with(Default::default).phase = Some(phase.into());
        p
    }

    /// Running and Ready since `since` (seconds since the epoch).
    pub(crate) fn ready(p: Pod, since: i64) -> Pod {
        let mut p = phase(p, "Running");
        p.status.get_or_insert_with(Default::default).conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(ts(since))),
            ..Default::default()
        }]);
        p
    }

    pub(crate) fn restarts(mut p: Pod, n: i32) -> Pod {
        p.status
            .get_or_insert_with(Default::default)
            .container_statuses = Some(vec![ContainerStatus {
            name: "c".into(),
            restart_count: n,
            ..Default::default()
        }]);
        p
    }

    pub(crate) fn created(mut p: Pod, secs: i64) -> Pod {
        p.metadata.creation_timestamp = Some(Time(ts(secs)));
        p
    }

    pub(crate) fn deleting(mut p: Pod) -> Pod {
        p.metadata.deletion_timestamp = Some(Time(ts(5_000)));
        p
    }

    pub(crate) fn owned_by(mut p: Pod, uid: &str) -> Pod {
        p.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "owner".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn availability_with_min_ready_seconds() {
        // (min_ready_seconds, ready since, now, available)
        let cases = [
            (0, 100, 100, true),
            (10, 100, 110, false),
            (10, 100, 111, true),
            (10, 100, 105, false),
        ];
        for (min_ready, since, now, want) in cases {
            let p = ready(pod("p", &[]), since);
            assert_eq!(
                is_pod_available(&p, min_ready, ts(now)),
                want,
                "{min_ready} {since} {now}"
            );
        }
        assert!(
            !is_pod_available(&pod("p", &[]), 0, ts(100)),
            "not ready is never available"
        );
        let p = ready(pod("p", &[]), 100);
        assert_eq!(
            until_available(&p, 10, ts(104)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(until_available(&p, 10, ts(200)), None);
    }

    #[test]
    fn activity() {
        let cases = [
            (pod("a", &[]), true, false),
            (phase(pod("b", &[]), "Succeeded"), false, false),
            (phase(pod("c", &[]), "Failed"), false, false),
            (deleting(pod("d", &[])), false, true),
            (deleting(phase(pod("e", &[]), "Failed")), false, false),
        ];
        for (p, active, terminating) in cases {
            assert_eq!(is_pod_active(&p), active, "{:?}", p.metadata.name);
            assert_eq!(is_pod_terminating(&p), terminating, "{:?}", p.metadata.name);
        }
    }
}

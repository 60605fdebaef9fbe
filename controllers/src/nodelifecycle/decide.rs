//! The pure half of node lifecycle (upstream `pkg/controller/nodelifecycle` and
//! `pkg/controller/tainteviction`): whether a node's kubelet stopped reporting (its Lease and
//! Ready heartbeat older than the grace period), which `NoExecute` taints its Ready condition
//! calls for, and when a pod on a tainted node must be evicted given its tolerations.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
const NO_EXECUTE: &str = "NoExecute";

/// What to write to a node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodePlan {
    /// Its conditions, set to Unknown because its kubelet stopped reporting.
    pub conditions: Option<Vec<NodeCondition>>,
    /// Its new taints, when the NoExecute health taints change.
    pub taints: Option<Vec<Taint>>,
}

/// The latest sign of life: the Lease's renew time or the Ready condition's heartbeat.
fn last_heartbeat(node: &Node, lease: Option<&Lease>) -> Option<Timestamp> {
    let renewed = lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0);
    let ready = ready_condition(node)
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    renewed.max(ready)
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// Decides one node. `grace` is upstream's `--node-monitor-grace-period` (50 s); a node first
/// seen gets it from its creation. `may_taint` is false while the zone's rate limiter or a
/// full disruption of the zone holds new NoExecute taints back (removing them is never held).
pub fn decide_node(
    node: &Node,
    lease: Option<&Lease>,
    now: Timestamp,
    grace: Duration,
    may_taint: bool,
) -> NodePlan {
    let mut plan = NodePlan::default();
    let since = last_heartbeat(node, lease)
        .or_else(|| node.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let silent = since.is_some_and(|t| {
        SignedDuration::try_from(grace)
            .ok()
            .and_then(|g| t.checked_add(g).ok())
            .is_some_and(|deadline| deadline < now)
    });
    let mut ready = ready_condition(node).map(|c| c.status.clone());
    if silent && ready.as_deref() != Some("Unknown") {
        let conditions = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_else(|| {
                vec![NodeCondition {
                    type_: "Ready".into(),
                    ..NodeCondition::default()
                }]
            });
        let conditions = conditions
            .into_iter()
            .map(|mut c| {
                if c.status != "Unknown" {
                    c.last_transition_time = Some(Time(now));
                }
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c
            })
            .collect();
        plan.conditions = Some(conditions);
        ready = Some("Unknown".into());
    }
    let wanted = match ready.as_deref() {
        Some("Unknown") => Some(UNREACHABLE_TAINT),
        Some("False") => Some(NOT_READY_TAINT),
        _ => None,
    };
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let health = |t: &Taint| {
        t.effect == NO_EXECUTE && (t.key == UNREACHABLE_TAINT || t.key == NOT_READY_TAINT)
    };
    let has_wanted = wanted.is_some_and(|w| taints.iter().any(|t| health(t) && t.key == w));
    let has_other = taints
        .iter()
        .any(|t| health(t) && Some(t.key.as_str()) != wanted);
    // Nothing to change: the right health taint, or none wanted and none there.
    if !has_other && (has_wanted || wanted.is_none()) {
        return plan;
    }
    // A new taint waits for the zone's rate limiter; swapping one health taint for the other
    // (not-ready ↔ unreachable) does not, as upstream's `SwapNodeControllerTaint`.
    if wanted.is_some() && !has_wanted && !has_other && !may_taint {
        return plan;
    }
    let mut new: Vec<Taint> = taints.into_iter().filter(|t| !health(t)).collect();
    if let Some(key) = wanted {
        new.push(Taint {
            key: key.into(),
            effect: NO_EXECUTE.into(),
            time_added: Some(Time(now)),
            value: None,
        });
    }
    plan.taints = Some(new);
    plan
}

/// When a pod must go because of its node's NoExecute taints (upstream's taint eviction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    Never,
    Now,
    At(Timestamp),
}

fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect_ok = toleration
        .effect
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == taint.effect);
    let key = toleration.key.as_deref().unwrap_or_default();
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    let key_ok = match operator {
        "Exists" => key.is_empty() || key == taint.key,
        _ => {
            key == taint.key
                && toleration.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
    };
    effect_ok && key_ok
}

/// When `pod` must be evicted from a node with `taints`.
pub fn pod_eviction(pod: &Pod, taints: &[Taint], now: Timestamp) -> Eviction {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    let mut deadline: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Eviction::Now;
        }
        // The shortest tolerationSeconds of the matching tolerations; none means forever.
        let seconds = matching.iter().filter_map(|t| t.toleration_seconds).min();
        if let Some(seconds) = seconds {
            let added = taint.time_added.as_ref().map_or(now, |t| t.0);
            let at = added
                .checked_add(SignedDuration::from_secs(seconds.max(0)))
                .unwrap_or(added);
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
    }
    match deadline {
        None => Eviction::Never,
        Some(at) if at <= now => Eviction::Now,
        Some(at) => Eviction::At(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("time")
    }

    fn node(ready: &str, heartbeat: i64, taints: serde_json::Value) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "creationTimestamp": ts(0).to_string()},
            "spec": {"taints": taints},
            "status": {"conditions": [{"type": "Ready", "status": ready,
                "lastHeartbeatTime": ts(heartbeat).to_string()}]},
        }))
        .expect("node")
    }

    const GRACE: Duration = Duration::from_secs(50);

    #[test]
    fn a_silent_node_turns_unknown_and_unreachable() {
        let plan = decide_node(
            &node("True", 100, serde_json::json!([])),
            None,
            ts(140),
            GRACE,
            true,
        );
        assert_eq!(plan, NodePlan::default(), "within the grace period");
        let plan = decide_node(
            &node("True", 100, serde_json::json!([])),
            None,
            ts(151),
            GRACE,
            true,
        );
        let conditions = plan.conditions.expect("conditions");
        assert_eq!(conditions[0].status, "Unknown");
        assert_eq!(conditions[0].reason.as_deref(), Some("NodeStatusUnknown"));
        let taints = plan.taints.expect("taints");
        assert_eq!(
            (taints[0].key.as_str(), taints[0].effect.as_str()),
            (UNREACHABLE_TAINT, "NoExecute")
        );
        // Held back by the zone's rate limiter: marked Unknown, not tainted yet.
        let held = decide_node(
            &node("True", 100, serde_json::json!([])),
            None,
            ts(151),
            GRACE,
            false,
        );
        assert!(held.conditions.is_some() && held.taints.is_none());
    }

    #[test]
    fn a_renewed_lease_keeps_a_node_alive_and_recovery_lifts_the_taint() {
        let lease: Lease = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"}, "spec": {"renewTime": ts(140).to_string()}
        }))
        .expect("lease");
        let plan = decide_node(
            &node("True", 0, serde_json::json!([])),
            Some(&lease),
            ts(150),
            GRACE,
            true,
        );
        assert_eq!(plan, NodePlan::default());
        let tainted = node(
            "True",
            140,
            serde_json::json!([
            {"key": UNREACHABLE_TAINT, "effect": "NoExecute"},
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        );
        let plan = decide_node(&tainted, None, ts(150), GRACE, false);
        let taints = plan.taints.expect("lifted");
        assert_eq!(taints.len(), 1);
        assert_eq!(taints[0].key, "dedicated");
        let not_ready = decide_node(
            &node("False", 140, serde_json::json!([])),
            None,
            ts(150),
            GRACE,
            true,
        );
        assert_eq!(not_ready.taints.expect("taint")[0].key, NOT_READY_TAINT);
    }

    #[test]
    fn pods_leave_after_their_toleration_runs_out() {
        let taint: Taint = serde_json::from_value(serde_json::json!({
            "key": UNREACHABLE_TAINT, "effect": "NoExecute", "timeAdded": ts(100).to_string()
        }))
        .expect("taint");
        let pod = |tolerations: serde_json::Value| -> Pod {
            serde_json::from_value(
                serde_json::json!({"spec": {"containers": [], "tolerations": tolerations}}),
            )
            .expect("pod")
        };
        assert_eq!(
            pod_eviction(
                &pod(serde_json::json!([])),
                std::slice::from_ref(&taint),
                ts(101)
            ),
            Eviction::Now
        );
        let timed = pod(
            serde_json::json!([{"key": UNREACHABLE_TAINT, "operator": "Exists",
            "effect": "NoExecute", "tolerationSeconds": 300}]),
        );
        assert_eq!(
            pod_eviction(&timed, std::slice::from_ref(&taint), ts(101)),
            Eviction::At(ts(400))
        );
        assert_eq!(
            pod_eviction(&timed, std::slice::from_ref(&taint), ts(401)),
            Eviction::Now
        );
        let forever = pod(serde_json::json!([{"operator": "Exists"}]));
        assert_eq!(
            pod_eviction(&forever, std::slice::from_ref(&taint), ts(101)),
            Eviction::Never
        );
    }
}

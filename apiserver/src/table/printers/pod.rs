//! Pod, whose STATUS column is upstream's most involved cell (`printPod`).

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::fields::{
    at, condition, condition_true, flag, int, items, name, opt_flag, or, present, seconds_between,
    text, timestamp,
};
use super::{AGE, NAME, Table, col, wide};
use crate::table::{age, human_duration};

pub(super) static POD: Table = Table {
    columns: &[
        NAME,
        col(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        col(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
        ),
        col(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last \
             container in this pod has restarted.",
        ),
        AGE,
        wide("IP", "string", "podIP address allocated to the pod."),
        wide(
            "Node",
            "string",
            "NodeName indicates in which node this pod is scheduled.",
        ),
        wide(
            "Nominated Node",
            "string",
            "nominatedNodeName is set when this pod preempts others.",
        ),
        wide(
            "Readiness Gates",
            "string",
            "The readiness gates evaluated for pod readiness.",
        ),
    ],
    cells: pod,
};

/// Restarts summed over some containers, and when the last of them ended.
#[derive(Clone, Copy, Default)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += int(status, "/restartCount");
        if let Some(finished) = timestamp(status, "/lastState/terminated/finishedAt") {
            self.last = self.last.max(Some(finished));
        }
    }
}

/// A terminated container's reason, else its signal, else its exit code.
fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    match text(terminated, "/reason") {
        "" => match int(terminated, "/signal") {
            0 => format!("{prefix}ExitCode:{}", int(terminated, "/exitCode")),
            signal => format!("{prefix}Signal:{signal}"),
        },
        reason => format!("{prefix}{reason}"),
    }
}

fn pod(obj: &Value, now: Timestamp) -> Vec<Value> {
    let phase = text(obj, "/status/phase");
    let conditions = items(obj, "/status/conditions");
    let mut reason = or(text(obj, "/status/reason"), phase).to_owned();
    let gated =
        |c: &Value| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated";
    if conditions.iter().any(gated) {
        reason = "SchedulingGated".to_owned();
    }

    // Sidecars (init containers that restart always) count as containers of the pod.
    let init_specs = items(obj, "/spec/initContainers");
    let is_sidecar = |name: &str| {
        let spec = init_specs.iter().rfind(|c| text(c, "/name") == name);
        spec.is_some_and(|c| text(c, "/restartPolicy") == "Always")
    };
    let sidecars = init_specs
        .iter()
        .filter(|c| text(c, "/restartPolicy") == "Always");
    let total = items(obj, "/spec/containers").len() + sidecars.count();
    let mut ready = 0;

    let (mut all, mut of_sidecars) = (Restarts::default(), Restarts::default());
    let mut initializing = false;
    for (i, status) in items(obj, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        all.add(status);
        let sidecar = is_sidecar(text(status, "/name"));
        if sidecar {
            of_sidecars.add(status);
        }
        let terminated = at(status, "/state/terminated");
        let waiting = text(status, "/state/waiting/reason");
        if terminated.is_some_and(|t| int(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && opt_flag(status, "/started") == Some(true) {
            ready += usize::from(flag(status, "/ready"));
            continue;
        }
        reason = match terminated {
            Some(terminated) => terminated_reason(terminated, "Init:"),
            None if !waiting.is_empty() && waiting != "PodInitializing" => {
                format!("Init:{waiting}")
            }
            None => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }

    let mut restarts = all;
    if !initializing || condition_true(conditions, "Initialized") {
        restarts = of_sidecars;
        let mut running = false;
        // Backwards, so that the first container's state has the last word.
        for status in items(obj, "/status/containerStatuses").iter().rev() {
            restarts.add(status);
            let waiting = text(status, "/state/waiting/reason");
            if !waiting.is_empty() {
                reason = waiting.to_owned();
            } else if let Some(terminated) = at(status, "/state/terminated") {
                reason = terminated_reason(terminated, "");
            } else if flag(status, "/ready") && present(status, "/state/running") {
                running = true;
                ready += 1;
            }
        }
        // A container still running makes a "Completed" pod running again.
        if reason == "Completed" && running {
            let pod_ready = conditions
                .iter()
                .any(|c| text(c, "/type") == "Ready" && text(c, "/status") == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_owned();
        }
    }

    if present(obj, "/metadata/deletionTimestamp") {
        if text(obj, "/status/reason") == "NodeLost" {
            reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_owned();
        }
    }

    let restarts = match restarts.last {
        Some(last) if restarts.count != 0 => {
            let ago = human_duration(seconds_between(last, now));
            format!("{} ({ago} ago)", restarts.count)
        }
        _ => restarts.count.to_string(),
    };

    // The served v1 object may carry its first IP in `podIP` alone; upstream's conversion
    // makes `podIP` authoritative.
    let first_ip = items(obj, "/status/podIPs")
        .first()
        .map_or("", |ip| text(ip, "/ip"));
    let ip = or(or(text(obj, "/status/podIP"), first_ip), "<none>");
    vec![
        name(obj),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts.into(),
        age(obj, now),
        ip.into(),
        or(text(obj, "/spec/nodeName"), "<none>").into(),
        or(text(obj, "/status/nominatedNodeName"), "<none>").into(),
        readiness_gates(obj, conditions).into(),
    ]
}

/// How many readiness gates have their condition true, out of how many there are.
fn readiness_gates(obj: &Value, conditions: &[Value]) -> String {
    let gates = items(obj, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let met = gates
        .iter()
        .filter(|g| {
            let gate = condition(conditions, text(g, "/conditionType"));
            gate.is_some_and(|c| text(c, "/status") == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Printer;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().expect("a valid timestamp")
    }

    fn status_of(pod: &Value) -> (Value, Value, Value) {
        let cells = POD.cells(pod, now());
        (cells[1].clone(), cells[2].clone(), cells[3].clone())
    }

    #[test]
    fn running_pod_with_one_of_two_containers_ready() {
        let pod = json!({
            "metadata": {"name": "web-0", "creationTimestamp": "2024-05-01T10:00:00Z"},
            "spec": {
                "nodeName": "worker-1",
                "containers": [{"name": "app"}, {"name": "proxy"}],
                "readinessGates": [{"conditionType": "example.com/lb"}],
            },
            "status": {
                "phase": "Running",
                "podIP": "10.244.1.5",
                "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}],
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "example.com/lb", "status": "True"},
                ],
                "containerStatuses": [
                    {
                        "name": "app",
                        "ready": true,
                        "restartCount": 3,
                        "state": {"running": {"startedAt": "2024-05-01T11:58:00Z"}},
                        "lastState": {"terminated": {
                            "exitCode": 1,
                            "finishedAt": "2024-05-01T11:58:00Z",
                        }},
                    },
                    {
                        "name": "proxy",
                        "ready": false,
                        "restartCount": 0,
                        "state": {"running": {}},
                    },
                ],
            },
        });
        assert_eq!(
            POD.cells(&pod, now()),
            vec![
                json!("web-0"),
                json!("1/2"),
                json!("Running"),
                json!("3 (2m ago)"),
                json!("120m"),
                json!("10.244.1.5"),
                json!("worker-1"),
                json!("<none>"),
                json!("1/1"),
            ]
        );
    }

    #[test]
    fn container_states_decide_the_status() {
        let crashing = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 2, "finishedAt": "2024-05-01T11:55:00Z"}},
            }]},
        });
        assert_eq!(
            status_of(&crashing),
            (json!("0/1"), json!("CrashLoopBackOff"), json!("5 (5m ago)"))
        );

        let completed = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [{
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }]},
        });
        assert_eq!(
            status_of(&completed),
            (json!("0/1"), json!("Completed"), json!("0"))
        );

        let killed = json!({"status": {"phase": "Failed", "containerStatuses": [{
            "state": {"terminated": {"exitCode": 137, "signal": 9}},
        }]}});
        assert_eq!(status_of(&killed).1, json!("Signal:9"));

        let creating = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [{
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }]},
        });
        assert_eq!(status_of(&creating).1, json!("ContainerCreating"));

        let gated = json!({"status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
        ]}});
        assert_eq!(status_of(&gated).1, json!("SchedulingGated"));
    }

    #[test]
    fn init_containers_show_progress_and_sidecars_count_as_containers() {
        let initializing = json!({
            "spec": {
                "initContainers": [{"name": "migrate"}, {"name": "seed"}],
                "containers": [{"name": "app"}],
            },
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "migrate", "state": {"terminated": {"exitCode": 0}}},
                {"name": "seed", "restartCount": 1, "state": {"running": {}}},
            ]},
        });
        assert_eq!(
            status_of(&initializing),
            (json!("0/1"), json!("Init:1/2"), json!("1"))
        );

        let failed = json!({
            "spec": {"initContainers": [{"name": "migrate"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "migrate", "state": {"terminated": {"exitCode": 3}}},
            ]},
        });
        assert_eq!(status_of(&failed).1, json!("Init:ExitCode:3"));

        let sidecar = json!({
            "spec": {
                "initContainers": [{"name": "mesh", "restartPolicy": "Always"}],
                "containers": [{"name": "app"}],
            },
            "status": {
                "phase": "Running",
                "initContainerStatuses": [{
                    "name": "mesh",
                    "started": true,
                    "ready": true,
                    "restartCount": 2,
                    "state": {"running": {}},
                }],
                "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}],
            },
        });
        assert_eq!(
            status_of(&sidecar),
            (json!("2/2"), json!("Running"), json!("2"))
        );
    }

    #[test]
    fn deletion_makes_a_pod_terminating_or_unknown() {
        let deleting = json!({
            "metadata": {"deletionTimestamp": "2024-05-01T11:59:00Z"},
            "status": {"phase": "Running"},
        });
        assert_eq!(status_of(&deleting).1, json!("Terminating"));
        let lost = json!({
            "metadata": {"deletionTimestamp": "2024-05-01T11:59:00Z"},
            "status": {"phase": "Running", "reason": "NodeLost"},
        });
        assert_eq!(status_of(&lost).1, json!("Unknown"));
        let done = json!({
            "metadata": {"deletionTimestamp": "2024-05-01T11:59:00Z"},
            "status": {"phase": "Succeeded"},
        });
        assert_eq!(status_of(&done).1, json!("Succeeded"));
    }
}

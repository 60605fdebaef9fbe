//! apps and batch: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision, Job and
//! CronJob.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::fields::{
    at, bool_word, condition_true, containers, count, format_label_selector, format_labels, int,
    items, name, opt_flag, opt_int, opt_text, present, seconds_between, selector_string, since,
    text, timestamp,
};
use super::{AGE, CONTAINERS, IMAGES, NAME, Table, col, wide};
use crate::table::{age, human_duration};

const SELECTOR: super::Column = wide("Selector", "string", "Label query over pods.");

pub(super) static DEPLOYMENT: Table = Table {
    columns: &[
        NAME,
        col("Ready", "string", "Number of the pod with ready state"),
        col(
            "Up-to-date",
            "string",
            "Pods that have the desired template spec.",
        ),
        col("Available", "string", "Available pods of this deployment."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let [names, images] = containers(at(obj, "/spec/template/spec"));
        let (ready, desired) = (
            int(obj, "/status/readyReplicas"),
            int(obj, "/spec/replicas"),
        );
        vec![
            name(obj),
            format!("{ready}/{desired}").into(),
            int(obj, "/status/updatedReplicas").into(),
            int(obj, "/status/availableReplicas").into(),
            age(obj, now),
            names,
            images,
            selector_string(at(obj, "/spec/selector")).into(),
        ]
    },
};

pub(super) static REPLICA_SET: Table = Table {
    columns: &[
        NAME,
        col(
            "Desired",
            "integer",
            "Replicas is the number of desired pods.",
        ),
        col(
            "Current",
            "integer",
            "Replicas is the most recently observed number of pods.",
        ),
        col(
            "Ready",
            "integer",
            "Pods of this ReplicaSet with a Ready condition.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let [names, images] = containers(at(obj, "/spec/template/spec"));
        vec![
            name(obj),
            int(obj, "/spec/replicas").into(),
            int(obj, "/status/replicas").into(),
            int(obj, "/status/readyReplicas").into(),
            age(obj, now),
            names,
            images,
            format_label_selector(at(obj, "/spec/selector")).into(),
        ]
    },
};

pub(super) static STATEFUL_SET: Table = Table {
    columns: &[
        NAME,
        col("Ready", "string", "Number of the pod with ready state"),
        AGE,
        CONTAINERS,
        IMAGES,
    ],
    cells: |obj, now| {
        let [names, images] = containers(at(obj, "/spec/template/spec"));
        let (ready, desired) = (
            int(obj, "/status/readyReplicas"),
            int(obj, "/spec/replicas"),
        );
        vec![
            name(obj),
            format!("{ready}/{desired}").into(),
            age(obj, now),
            names,
            images,
        ]
    },
};

pub(super) static DAEMON_SET: Table = Table {
    columns: &[
        NAME,
        col(
            "Desired",
            "integer",
            "Nodes that should run the daemon pod.",
        ),
        col(
            "Current",
            "integer",
            "Nodes running the daemon pod that should.",
        ),
        col("Ready", "integer", "Nodes running the daemon pod ready."),
        col(
            "Up-to-date",
            "integer",
            "The total number of nodes running the updated daemon pod.",
        ),
        col(
            "Available",
            "integer",
            "The number of nodes running the daemon pod available.",
        ),
        col(
            "Node Selector",
            "string",
            "Labels a node must have to run the pod.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let [names, images] = containers(at(obj, "/spec/template/spec"));
        let node_selector = format_labels(at(obj, "/spec/template/spec/nodeSelector"));
        vec![
            name(obj),
            int(obj, "/status/desiredNumberScheduled").into(),
            int(obj, "/status/currentNumberScheduled").into(),
            int(obj, "/status/numberReady").into(),
            int(obj, "/status/updatedNumberScheduled").into(),
            int(obj, "/status/numberAvailable").into(),
            node_selector.into(),
            age(obj, now),
            names,
            images,
            format_label_selector(at(obj, "/spec/selector")).into(),
        ]
    },
};

pub(super) static CONTROLLER_REVISION: Table = Table {
    columns: &[
        NAME,
        col("Controller", "string", "Controller of the object"),
        col(
            "Revision",
            "string",
            "Revision of the state represented by Data.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let revision = int(obj, "/revision").into();
        vec![name(obj), controller(obj).into(), revision, age(obj, now)]
    },
};

/// The controlling owner as `kind.group/name` in lower case (upstream `formatResourceName`),
/// `<none>` without one.
fn controller(obj: &Value) -> String {
    let owners = items(obj, "/metadata/ownerReferences");
    let Some(owner) = owners
        .iter()
        .find(|o| opt_flag(o, "/controller") == Some(true))
    else {
        return "<none>".to_owned();
    };
    let (api_version, kind) = (text(owner, "/apiVersion"), text(owner, "/kind"));
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    let group_kind = match (kind, group) {
        ("", "") => return text(owner, "/name").to_owned(),
        (kind, "") => kind.to_owned(),
        (kind, group) => format!("{kind}.{group}"),
    };
    format!("{}/{}", group_kind.to_lowercase(), text(owner, "/name"))
}

pub(super) static JOB: Table = Table {
    columns: &[
        NAME,
        col("Status", "string", "Status of the job."),
        col(
            "Completions",
            "string",
            "The number of pods which reached phase Succeeded.",
        ),
        col("Duration", "string", "Time required to complete the job."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: job,
};

fn job(obj: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(obj, "/status/succeeded");
    let completions = match (
        opt_int(obj, "/spec/completions"),
        int(obj, "/spec/parallelism"),
    ) {
        (Some(completions), _) => format!("{succeeded}/{completions}"),
        (None, parallelism) if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
        (None, _) => format!("{succeeded}/1"),
    };
    let duration = match (
        timestamp(obj, "/status/startTime"),
        timestamp(obj, "/status/completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(seconds_between(start, now)),
        (Some(start), Some(end)) => human_duration(seconds_between(start, end)),
    };
    let conditions = items(obj, "/status/conditions");
    let is = |kind: &str| condition_true(conditions, kind);
    // Upstream's order of precedence; SuccessCriteriaMet since v1.34.
    let status = if is("Complete") {
        "Complete"
    } else if is("Failed") {
        "Failed"
    } else if present(obj, "/metadata/deletionTimestamp") {
        "Terminating"
    } else if is("Suspended") {
        "Suspended"
    } else if is("FailureTarget") {
        "FailureTarget"
    } else if is("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let [names, images] = containers(at(obj, "/spec/template/spec"));
    vec![
        name(obj),
        status.into(),
        completions.into(),
        duration.into(),
        age(obj, now),
        names,
        images,
        format_label_selector(at(obj, "/spec/selector")).into(),
    ]
}

pub(super) static CRON_JOB: Table = Table {
    columns: &[
        NAME,
        col("Schedule", "string", "The schedule in Cron format."),
        col(
            "Timezone",
            "string",
            "The time zone name for the given schedule.",
        ),
        col(
            "Suspend",
            "boolean",
            "Whether the controller suspends subsequent executions.",
        ),
        col(
            "Active",
            "integer",
            "A list of pointers to currently running jobs.",
        ),
        col(
            "Last Schedule",
            "string",
            "When the job was last successfully scheduled.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let last_schedule = if present(obj, "/status/lastScheduleTime") {
            since(obj, "/status/lastScheduleTime", now)
        } else {
            "<none>".to_owned()
        };
        let job_spec = at(obj, "/spec/jobTemplate/spec").unwrap_or(&Value::Null);
        let [names, images] = containers(at(job_spec, "/template/spec"));
        vec![
            name(obj),
            text(obj, "/spec/schedule").into(),
            opt_text(obj, "/spec/timeZone").unwrap_or("<none>").into(),
            bool_word(opt_flag(obj, "/spec/suspend")).into(),
            count(obj, "/status/active").into(),
            last_schedule.into(),
            age(obj, now),
            names,
            images,
            format_label_selector(at(job_spec, "/selector")).into(),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Printer;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().expect("a valid timestamp")
    }

    #[test]
    fn deployment_prints_ready_over_desired() {
        let deployment = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-04-26T09:00:00Z"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "app", "image": "nginx:1.27"},
                    {"name": "proxy", "image": "envoyproxy/envoy:v1.31"},
                ]}},
            },
            "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2,
                       "availableReplicas": 2},
        });
        assert_eq!(
            DEPLOYMENT.cells(&deployment, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("5d3h"),
                json!("app,proxy"),
                json!("nginx:1.27,envoyproxy/envoy:v1.31"),
                json!("app=web"),
            ]
        );
    }

    #[test]
    fn job_prints_status_completions_and_duration() {
        let running = json!({
            "metadata": {"name": "pi", "creationTimestamp": "2024-05-01T11:49:00Z"},
            "spec": {
                "completions": 3,
                "parallelism": 2,
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}},
            },
            "status": {"startTime": "2024-05-01T11:50:00Z", "active": 1, "succeeded": 2},
        });
        assert_eq!(
            JOB.cells(&running, now()),
            vec![
                json!("pi"),
                json!("Running"),
                json!("2/3"),
                json!("10m"),
                json!("11m"),
                json!("pi"),
                json!("perl:5.34"),
                json!("batch.kubernetes.io/controller-uid=u1"),
            ]
        );
        let complete = json!({
            "spec": {"parallelism": 1},
            "status": {
                "startTime": "2024-05-01T10:00:00Z",
                "completionTime": "2024-05-01T10:03:25Z",
                "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True"},
                ],
            },
        });
        let cells = JOB.cells(&complete, now());
        assert_eq!(
            cells[1..4],
            [json!("Complete"), json!("1/1"), json!("3m25s")]
        );
        let parallel = json!({"spec": {"parallelism": 3}, "status": {"conditions": [
            {"type": "Suspended", "status": "True"},
        ]}});
        let cells = JOB.cells(&parallel, now());
        assert_eq!(
            cells[1..4],
            [json!("Suspended"), json!("0/1 of 3"), json!("")]
        );
    }

    #[test]
    fn cron_job_prints_schedule_and_last_run() {
        let cron_job = json!({
            "metadata": {"name": "backup", "creationTimestamp": "2024-03-01T12:00:00Z"},
            "spec": {
                "schedule": "*/5 * * * *",
                "suspend": false,
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [
                    {"name": "backup", "image": "busybox:1.36"},
                ]}}}},
            },
            "status": {
                "active": [{"kind": "Job", "name": "backup-28577275"}],
                "lastScheduleTime": "2024-05-01T11:55:00Z",
            },
        });
        assert_eq!(
            CRON_JOB.cells(&cron_job, now()),
            vec![
                json!("backup"),
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("5m"),
                json!("61d"),
                json!("backup"),
                json!("busybox:1.36"),
                json!("<none>"),
            ]
        );
        let bare = CRON_JOB.cells(&json!({"spec": {"timeZone": "Etc/UTC"}}), now());
        assert_eq!(
            bare[2..6],
            [
                json!("Etc/UTC"),
                json!("<unset>"),
                json!(0),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn controller_revision_names_its_controller() {
        let revision = json!({
            "metadata": {"name": "fluentd-5d4f", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "other"},
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd",
                 "controller": true},
            ]},
            "revision": 4,
        });
        let cells = CONTROLLER_REVISION.cells(&revision, now());
        assert_eq!(cells[1..3], [json!("daemonset.apps/fluentd"), json!(4)]);
    }
}

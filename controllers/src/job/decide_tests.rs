//! Jobs driven through syncs against a simulated cluster: each plan is applied (pods created,
//! deleted, finalizers removed, status written as the runtime would), pods are finished by
//! hand, and the next sync decides again.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule, SuccessPolicy, SuccessPolicyRule,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition, PodSpec,
    PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::super::indexed::{COMPLETION_INDEX, completion_index};
use super::super::podutil::TRACKING_FINALIZER;
use super::*;
use crate::replicaset::pods::testing::ts;

const T0: i64 = 1_000_000;

fn spec(completions: Option<i32>, parallelism: i32) -> JobSpec {
    JobSpec {
        completions,
        parallelism: Some(parallelism),
        backoff_limit: Some(6),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".into(), "pi".into())])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                restart_policy: Some("Never".into()),
                containers: vec![Container {
                    name: "main".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        },
        ..Default::default()
    }
}

fn indexed(completions: i32, parallelism: i32) -> JobSpec {
    JobSpec {
        completion_mode: Some("Indexed".into()),
        ..spec(Some(completions), parallelism)
    }
}

/// The job, its pods and the clock, changed only by applying plans and by the test.
struct Cluster {
    job: Job,
    pods: Vec<Pod>,
    created: usize,
    now: i64,
}

impl Cluster {
    fn new(spec: JobSpec) -> Self {
        let job = Job {
            metadata: ObjectMeta {
                name: Some("pi".into()),
                namespace: Some("default".into()),
                uid: Some("job-uid".into()),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        };
        Self {
            job,
            pods: Vec::new(),
            created: 0,
            now: T0,
        }
    }

    fn spec(&mut self) -> &mut JobSpec {
        self.job.spec.as_mut().expect("test jobs have a spec")
    }

    fn status(&self) -> JobStatus {
        self.job.status.clone().unwrap_or_default()
    }

    fn decide(&self) -> JobPlan {
        decide(&self.job, &self.pods, ts(self.now))
    }

    /// One sync: decide, then perform the plan as the runtime does.
    fn sync(&mut self) -> JobPlan {
        let plan = self.decide();
        for d in &plan.delete {
            let now = ts(self.now);
            let pod = self.pod_mut(&d.pod.name);
            if d.remove_finalizer_first {
                pod.metadata.finalizers = None;
            }
            pod.metadata.deletion_timestamp = Some(Time(now));
        }
        for c in &plan.create {
            self.created += 1;
            let mut pod = c.pod.clone();
            let name = format!(
                "{}{}",
                pod.metadata.generate_name.clone().unwrap_or_default(),
                self.created
            );
            pod.metadata.uid = Some(format!("uid-{name}"));
            pod.metadata.name = Some(name);
            pod.metadata.creation_timestamp = Some(Time(ts(self.now)));
            pod.status = Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            });
            self.pods.push(pod);
        }
        if plan.status_changed {
            self.job.status = Some(plan.status.clone());
        }
        let mut removed = Vec::new();
        for r in &plan.remove_finalizers {
            let pod = self.pod_mut(&r.name);
            pod.metadata.finalizers = None;
            removed.push(pod.metadata.uid.clone().unwrap_or_default());
        }
        if let Some(status) = plan.status_after_removal(&removed) {
            self.job.status = Some(status);
        }
        self.pods.retain(|p| !(gone(p)));
        plan
    }

    /// The kubelet finishes every deleted pod; those without finalizers disappear.
    fn settle(&mut self) {
        for p in &mut self.pods {
            if p.metadata.deletion_timestamp.is_some() && !is_terminal(p) {
                set_phase(p, "Failed");
            }
        }
        self.pods.retain(|p| !gone(p));
    }

    fn pod_mut(&mut self, name: &str) -> &mut Pod {
        self.pods
            .iter_mut()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .expect("the plan names a pod of the cluster")
    }

    fn active_names(&self) -> Vec<String> {
        self.pods
            .iter()
            .filter(|p| !is_terminal(p) && p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.name.clone())
            .collect()
    }

    /// Finishes the active pod with that completion index (`None`: every active pod).
    fn finish(&mut self, index: Option<i64>, exit_code: i32) {
        let now = ts(self.now);
        for p in &mut self.pods {
            let active = !is_terminal(p) && p.metadata.deletion_timestamp.is_none();
            if active && (index.is_none() || completion_index(p) == index) {
                terminate(p, exit_code, now);
            }
        }
    }
}

fn is_terminal(p: &Pod) -> bool {
    matches!(phase(p), "Succeeded" | "Failed")
}

fn gone(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
        && p.metadata.finalizers.as_ref().is_none_or(Vec::is_empty)
        && is_terminal(p)
}

fn set_phase(p: &mut Pod, phase: &str) {
    p.status.get_or_insert_with(Default::default).phase = Some(phase.into());
}

/// The container exits with `exit_code` at `now`; the pod Succeeds on 0 and Fails otherwise.
fn terminate(p: &mut Pod, exit_code: i32, now: Timestamp) {
    set_phase(
        p,
        if exit_code == 0 {
            "Succeeded"
        } else {
            "Failed"
        },
    );
    p.status
        .get_or_insert_with(Default::default)
        .container_statuses = Some(vec![ContainerStatus {
        name: "main".into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code,
                finished_at: Some(Time(now)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }]);
}

fn condition<'a>(status: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
}

/// `(type, reason, message)` of each condition, for comparisons.
fn conditions(status: &JobStatus) -> Vec<(String, String, String)> {
    status
        .conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn cond(type_: &str, reason: &str, message: &str) -> (String, String, String) {
    (type_.into(), reason.into(), message.into())
}

#[test]
fn non_indexed_job_runs_to_completion_two_at_a_time() {
    let mut c = Cluster::new(spec(Some(5), 2));
    // (pods created by the sync, `succeeded` after it)
    let steps = [(2, None), (2, Some(2)), (1, Some(4)), (0, Some(5))];
    for (i, (created, succeeded)) in steps.into_iter().enumerate() {
        let plan = c.sync();
        assert_eq!(plan.create.len(), created, "step {i}");
        assert_eq!(c.status().succeeded, succeeded, "step {i}");
        assert!(
            c.status()
                .uncounted_terminated_pods
                .is_some_and(|u| u.succeeded.is_none())
        );
        c.now += 10;
        c.finish(None, 0);
    }
    let status = c.status();
    assert_eq!(
        conditions(&status),
        [
            cond(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods"
            ),
            cond(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods"
            ),
        ]
    );
    assert_eq!(status.completion_time, Some(Time(ts(T0 + 30))));
    assert_eq!(status.start_time, Some(Time(ts(T0))));
    assert_eq!(
        (status.active, status.ready, status.terminating),
        (None, Some(0), Some(0))
    );
    assert!(
        c.pods.iter().all(|p| p.metadata.finalizers.is_none()),
        "every pod was counted"
    );
    assert_eq!(
        c.sync(),
        JobPlan {
            status,
            ..JobPlan::default()
        },
        "a finished job is left alone"
    );
}

#[test]
fn created_pods_carry_labels_finalizer_and_owner() {
    let c = Cluster::new(spec(Some(1), 1));
    let plan = c.decide();
    let [CreatePod { index: None, pod }] = plan.create.as_slice() else {
        panic!("one pod to create: {:?}", plan.create);
    };
    let meta = &pod.metadata;
    assert_eq!(meta.generate_name.as_deref(), Some("pi-"));
    assert_eq!(meta.finalizers, Some(vec![TRACKING_FINALIZER.to_owned()]));
    let labels = meta.labels.clone().unwrap_or_default();
    for (k, v) in [
        ("app", "pi"),
        ("batch.kubernetes.io/controller-uid", "job-uid"),
        ("controller-uid", "job-uid"),
        ("batch.kubernetes.io/job-name", "pi"),
        ("job-name", "pi"),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "{k}");
    }
    let owner = &meta.owner_references.as_ref().expect("owned")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Job", "job-uid", Some(true))
    );
    let spec = pod.spec.as_ref().expect("spec");
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    assert_eq!(spec.hostname, None);
    assert_eq!(plan.status.active, Some(1));
    assert_eq!(plan.status.start_time, Some(Time(ts(T0))));
}

#[test]
fn indexed_job_fills_completed_indexes() {
    let mut c = Cluster::new(indexed(4, 2));
    let plan = c.sync();
    let indexes: Vec<_> = plan.create.iter().map(|p| p.index).collect();
    assert_eq!(indexes, [Some(0), Some(1)]);
    let pod = &plan.create[1].pod;
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-1-"));
    for map in [&pod.metadata.annotations, &pod.metadata.labels] {
        assert_eq!(
            map.as_ref()
                .and_then(|m| m.get(COMPLETION_INDEX))
                .map(String::as_str),
            Some("1")
        );
    }
    let spec = pod.spec.as_ref().expect("spec");
    assert_eq!(spec.hostname.as_deref(), Some("pi-1"));
    let env = spec.containers[0].env.as_ref().expect("index variable");
    let field = env[0]
        .value_from
        .as_ref()
        .and_then(|v| v.field_ref.as_ref())
        .map(|f| f.field_path.as_str());
    assert_eq!(
        (env[0].name.as_str(), field),
        (
            "JOB_COMPLETION_INDEX",
            Some("metadata.labels['batch.kubernetes.io/job-completion-index']")
        )
    );

    // (indexes finishing before the sync, indexes it creates, completedIndexes after it)
    let steps: [(&[i64], &[i64], Option<&str>); 3] = [
        (&[0, 1], &[2, 3], Some("0,1")),
        (&[3], &[], Some("0,1,3")),
        (&[2], &[], Some("0-3")),
    ];
    for (finish, create, completed) in steps {
        for ix in finish {
            c.finish(Some(*ix), 0);
        }
        let plan = c.sync();
        let created: Vec<i64> = plan.create.iter().filter_map(|p| p.index).collect();
        assert_eq!(created, create, "after {finish:?}");
        assert_eq!(
            c.status().completed_indexes.as_deref(),
            completed,
            "after {finish:?}"
        );
    }
    let status = c.status();
    assert_eq!(status.succeeded, Some(4));
    assert!(condition(&status, "Complete").is_some());
}

#[test]
fn backoff_limit_exceeded_fails_the_job() {
    let mut spec = spec(Some(1), 1);
    spec.backoff_limit = Some(1);
    let mut c = Cluster::new(spec);
    c.sync();
    c.finish(None, 1);
    let plan = c.sync();
    assert!(
        plan.create.is_empty(),
        "the replacement waits out the backoff"
    );
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(10)));
    assert_eq!(c.status().failed, Some(1));
    c.now += 10;
    assert_eq!(
        c.sync().create.len(),
        1,
        "replaced once the backoff is over"
    );
    c.finish(None, 1);
    let plan = c.sync();
    let limit = cond(
        "FailureTarget",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    );
    assert_eq!(
        conditions(&plan.status),
        std::slice::from_ref(&limit),
        "interim condition first"
    );
    let status = c.status();
    assert_eq!(status.failed, Some(2));
    assert_eq!(
        conditions(&status),
        [
            limit,
            cond(
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit"
            )
        ]
    );
    assert_eq!(
        status.completion_time, None,
        "only a complete job has a completion time"
    );
}

#[test]
fn replacements_back_off_exponentially_up_to_ten_minutes() {
    // (earlier failures, delay before the next pod)
    let cases = [(1, 10), (2, 20), (3, 40), (6, 320), (7, 600), (12, 600)];
    for (failures, delay) in cases {
        let mut spec = spec(Some(1), 1);
        spec.backoff_limit = Some(100);
        let mut c = Cluster::new(spec);
        for _ in 0..failures {
            c.sync();
            c.finish(None, 1);
            c.now += 700;
        }
        c.now -= 700;
        let plan = c.sync();
        assert!(plan.create.is_empty(), "{failures} failures");
        assert_eq!(
            plan.requeue_after,
            Some(Duration::from_secs(delay)),
            "{failures} failures"
        );
    }
}

#[test]
fn restarts_of_on_failure_pods_count_against_the_backoff_limit() {
    let mut spec = spec(Some(1), 1);
    spec.backoff_limit = Some(2);
    if let Some(p) = spec.template.spec.as_mut() {
        p.restart_policy = Some("OnFailure".into());
    }
    let mut c = Cluster::new(spec);
    c.sync();
    for (restarts, failed) in [(1, false), (2, true)] {
        let pod = &mut c.pods[0];
        set_phase(pod, "Running");
        pod.status
            .get_or_insert_with(Default::default)
            .container_statuses = Some(vec![ContainerStatus {
            name: "main".into(),
            restart_count: restarts,
            ..Default::default()
        }]);
        let plan = c.decide();
        assert_eq!(
            condition(&plan.status, "FailureTarget").is_some(),
            failed,
            "{restarts} restarts"
        );
        assert_eq!(plan.delete.len(), usize::from(failed));
    }
}

fn rule(action: &str, codes: Option<&[i32]>, condition: Option<&str>) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: codes.map(|v| PodFailurePolicyOnExitCodesRequirement {
            container_name: None,
            operator: "In".into(),
            values: v.to_vec(),
        }),
        on_pod_conditions: condition.map(|t| {
            vec![PodFailurePolicyOnPodConditionsPattern {
                type_: t.into(),
                status: Some("True".into()),
            }]
        }),
    }
}

fn policy(rules: Vec<PodFailurePolicyRule>) -> Option<PodFailurePolicy> {
    Some(PodFailurePolicy { rules })
}

#[test]
fn fail_job_rule_fails_the_job_and_stops_the_rest() {
    let mut spec = spec(Some(2), 2);
    spec.pod_failure_policy = policy(vec![rule("FailJob", Some(&[42]), None)]);
    let mut c = Cluster::new(spec);
    c.sync();
    let first = c.pods[0].metadata.name.clone().unwrap_or_default();
    let now = ts(c.now);
    terminate(&mut c.pods[0], 42, now);
    let plan = c.sync();
    let message = format!(
        "Container main for pod default/{first} failed with exit code 42 matching FailJob rule at index 0"
    );
    assert_eq!(
        conditions(&plan.status),
        [cond("FailureTarget", "PodFailurePolicy", &message)]
    );
    assert_eq!(plan.delete.len(), 1);
    assert!(
        !plan.delete[0].remove_finalizer_first,
        "the stopped pod is counted first"
    );
    assert_eq!(plan.remove_finalizers.len(), 2);
    assert_eq!(
        c.status().failed,
        Some(2),
        "the stopped pod counts as failed"
    );
    assert!(
        condition(&c.status(), "Failed").is_none(),
        "a pod is still terminating"
    );
    c.settle();
    c.sync();
    assert_eq!(
        conditions(&c.status())[1],
        cond("Failed", "PodFailurePolicy", &message)
    );
}

#[test]
fn ignore_and_count_rules() {
    // (rule, exit code, pod condition, counted as failed)
    let cases = [
        (
            rule("Ignore", None, Some("DisruptionTarget")),
            137,
            true,
            None,
        ),
        (rule("Ignore", Some(&[3]), None), 3, false, None),
        (rule("Count", Some(&[3]), None), 3, false, Some(1)),
        (rule("Ignore", Some(&[3]), None), 4, false, Some(1)),
    ];
    for (rule, code, disrupted, failed) in cases {
        let mut spec = spec(Some(1), 1);
        spec.backoff_limit = Some(0);
        spec.pod_failure_policy = policy(vec![rule.clone()]);
        let mut c = Cluster::new(spec);
        c.sync();
        let now = ts(c.now);
        terminate(&mut c.pods[0], code, now);
        if disrupted {
            c.pods[0]
                .status
                .get_or_insert_with(Default::default)
                .conditions = Some(vec![PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                ..Default::default()
            }]);
        }
        let plan = c.sync();
        assert_eq!(c.status().failed, failed, "{rule:?} exit {code}");
        let failing = condition(&plan.status, "FailureTarget").is_some();
        assert_eq!(
            failing,
            failed.is_some(),
            "backoffLimit 0 is exceeded by a counted failure"
        );
        assert_eq!(
            plan.remove_finalizers.len(),
            1,
            "an ignored failure is still released"
        );
    }
}

#[test]
fn fail_index_rule_and_max_failed_indexes() {
    let mut spec = indexed(3, 3);
    spec.backoff_limit_per_index = Some(1);
    spec.max_failed_indexes = Some(1);
    spec.pod_failure_policy = policy(vec![rule("FailIndex", Some(&[7]), None)]);
    let mut c = Cluster::new(spec);
    let plan = c.sync();
    let counts: Vec<_> = plan
        .create
        .iter()
        .map(|p| {
            p.pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(super::super::indexed::INDEX_FAILURE_COUNT))
                .cloned()
        })
        .collect();
    assert_eq!(
        counts,
        [Some("0".to_owned()), Some("0".into()), Some("0".into())]
    );

    // A FailIndex exit fails index 2 at once; it is not retried.
    c.finish(Some(2), 7);
    let plan = c.sync();
    assert_eq!(c.status().failed_indexes.as_deref(), Some("2"));
    assert!(plan.create.is_empty() && plan.requeue_after.is_none());

    // Index 0 fails once: its pod is kept until a replacement carries the count.
    c.finish(Some(0), 1);
    let plan = c.sync();
    assert!(
        plan.remove_finalizers.is_empty(),
        "the failed pod waits for its replacement"
    );
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(10)));
    c.now += 10;
    let plan = c.sync();
    assert_eq!(plan.create.len(), 1);
    let annotations = plan.create[0]
        .pod
        .metadata
        .annotations
        .clone()
        .unwrap_or_default();
    assert_eq!(
        annotations
            .get(super::super::indexed::INDEX_FAILURE_COUNT)
            .map(String::as_str),
        Some("1")
    );
    let plan = c.sync();
    assert_eq!(
        plan.remove_finalizers.len(),
        1,
        "released once the replacement runs"
    );

    // The replacement fails too: index 0 has used up its retries, two indexes failed.
    c.finish(Some(0), 1);
    let plan = c.sync();
    assert_eq!(plan.status.failed_indexes.as_deref(), Some("0,2"));
    assert_eq!(
        conditions(&plan.status),
        [cond(
            "FailureTarget",
            "MaxFailedIndexesExceeded",
            "Job has exceeded the specified maximal number of failed indexes"
        )]
    );
    assert_eq!(plan.delete.len(), 1, "index 1 is stopped");
}

#[test]
fn success_policy_completes_the_job_early() {
    let mut spec = indexed(3, 3);
    spec.success_policy = Some(SuccessPolicy {
        rules: vec![SuccessPolicyRule {
            succeeded_indexes: Some("0".into()),
            succeeded_count: None,
        }],
    });
    let mut c = Cluster::new(spec);
    c.sync();
    c.finish(Some(0), 0);
    let plan = c.sync();
    let met = cond(
        "SuccessCriteriaMet",
        "SuccessPolicy",
        "Matched rules at index 0",
    );
    assert_eq!(conditions(&plan.status), std::slice::from_ref(&met));
    assert_eq!(plan.delete.len(), 2, "the others are stopped");
    assert!(
        plan.finished
            .as_ref()
            .is_some_and(|f| f.type_ == "Complete")
    );
    assert!(
        condition(&c.status(), "Complete").is_none(),
        "stopped pods still terminate"
    );
    c.settle();
    c.sync();
    let status = c.status();
    assert_eq!(
        conditions(&status),
        [
            met,
            cond("Complete", "SuccessPolicy", "Matched rules at index 0")
        ]
    );
    assert_eq!(
        (status.succeeded, status.failed),
        (Some(1), None),
        "stopped pods are not failures"
    );
}

#[test]
fn suspend_and_resume() {
    let mut c = Cluster::new(spec(Some(4), 2));
    c.sync();
    c.spec().suspend = Some(true);
    c.now += 30;
    let plan = c.sync();
    assert_eq!(plan.delete.len(), 2);
    assert!(
        plan.delete.iter().all(|d| d.remove_finalizer_first),
        "suspended pods are no failures"
    );
    let status = c.status();
    assert_eq!(
        conditions(&status),
        [cond("Suspended", "JobSuspended", "Job suspended")]
    );
    assert_eq!((status.active, status.terminating), (None, Some(2)));
    assert_eq!(
        status.start_time,
        Some(Time(ts(T0))),
        "kept while suspended"
    );
    c.settle();
    assert!(c.pods.is_empty());

    c.spec().suspend = Some(false);
    c.now += 30;
    let plan = c.sync();
    assert_eq!(plan.create.len(), 2);
    let status = c.status();
    assert_eq!(
        conditions(&status),
        [cond("Suspended", "JobResumed", "Job resumed")]
    );
    assert_eq!(
        condition(&status, "Suspended").map(|c| c.status.as_str()),
        Some("False")
    );
    assert_eq!(
        status.start_time,
        Some(Time(ts(T0 + 60))),
        "the deadline restarts"
    );
    assert_eq!(status.failed, None);
}

#[test]
fn created_suspended_job_has_no_start_time() {
    let mut spec = spec(Some(1), 1);
    spec.suspend = Some(true);
    let plan = Cluster::new(spec).decide();
    assert!(plan.create.is_empty());
    assert_eq!(plan.status.start_time, None);
    assert_eq!(
        conditions(&plan.status),
        [cond("Suspended", "JobSuspended", "Job suspended")]
    );
}

#[test]
fn active_deadline() {
    let mut spec = spec(Some(1), 1);
    spec.active_deadline_seconds = Some(100);
    let mut c = Cluster::new(spec);
    assert_eq!(c.sync().requeue_after, Some(Duration::from_secs(100)));
    c.now += 40;
    assert_eq!(c.sync().requeue_after, Some(Duration::from_secs(60)));
    c.now += 60;
    let plan = c.sync();
    let exceeded = cond(
        "FailureTarget",
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    );
    assert_eq!(conditions(&plan.status), [exceeded]);
    assert_eq!(plan.delete.len(), 1);
    c.settle();
    c.sync();
    let status = c.status();
    assert_eq!(conditions(&status)[1].0, "Failed");
    assert_eq!(status.failed, Some(1));
}

#[test]
fn finalizers_go_only_after_the_pods_are_counted() {
    let mut c = Cluster::new(spec(Some(2), 2));
    c.sync();
    c.finish(None, 0);
    let plan = c.decide();
    let uids: Vec<String> = c
        .pods
        .iter()
        .filter_map(|p| p.metadata.uid.clone())
        .collect();
    let uncounted = plan
        .status
        .uncounted_terminated_pods
        .clone()
        .unwrap_or_default();
    assert_eq!(
        uncounted.succeeded.as_ref(),
        Some(&uids),
        "recorded before the finalizers go"
    );
    assert_eq!(plan.status.succeeded, None, "not counted twice");
    let released: Vec<_> = plan
        .remove_finalizers
        .iter()
        .filter_map(|r| r.uid.clone())
        .collect();
    assert_eq!(released, uids);
    assert!(plan.finished.is_some() && condition(&plan.status, "Complete").is_none());

    // Only one removal went through: that pod is counted, the job waits for the other.
    let partial = plan.status_after_removal(&uids[..1]).expect("a change");
    assert_eq!(partial.succeeded, Some(1));
    assert_eq!(
        partial.uncounted_terminated_pods.and_then(|u| u.succeeded),
        Some(uids[1..].to_vec())
    );
    assert!(
        condition(
            &plan.status_after_removal(&uids).expect("a change"),
            "Complete"
        )
        .is_some()
    );

    // A removal in flight counts as done: the pod is not listed again.
    c.job.status = Some(plan.status.clone());
    let pending = BTreeSet::from([uids[0].clone()]);
    let again = decide_with_pending(&c.job, &c.pods, &pending, ts(c.now));
    assert_eq!(again.status.succeeded, Some(1));
    assert_eq!(again.remove_finalizers.len(), 1);
}

#[test]
fn work_queue_completes_when_one_succeeded_and_none_run() {
    let mut c = Cluster::new(spec(None, 2));
    assert_eq!(c.sync().create.len(), 2);
    let now = ts(c.now);
    terminate(&mut c.pods[0], 0, now);
    let plan = c.sync();
    assert!(plan.create.is_empty(), "after a success nothing new starts");
    assert!(
        condition(&c.status(), "Complete").is_none(),
        "one pod still runs"
    );
    c.finish(None, 1);
    c.sync();
    let status = c.status();
    assert!(condition(&status, "Complete").is_some());
    assert_eq!((status.succeeded, status.failed), (Some(1), Some(1)));
}

#[test]
fn surplus_pods_go_in_deletion_order() {
    let mut c = Cluster::new(spec(Some(10), 3));
    c.sync();
    let (a, b) = (
        c.pods[0].metadata.name.clone(),
        c.pods[1].metadata.name.clone(),
    );
    for (p, node) in c.pods.iter_mut().zip(["n1", "n1", ""]) {
        p.spec.get_or_insert_with(Default::default).node_name =
            (!node.is_empty()).then(|| node.into());
    }
    set_phase(&mut c.pods[0], "Running");
    c.spec().parallelism = Some(1);
    let plan = c.sync();
    let names: Vec<_> = plan
        .delete
        .iter()
        .map(|d| Some(d.pod.name.clone()))
        .collect();
    let unscheduled = c.pods[2].metadata.name.clone();
    assert_eq!(
        names,
        [unscheduled, b],
        "unscheduled first, then pending before running"
    );
    assert!(plan.delete.iter().all(|d| d.remove_finalizer_first));
    assert_eq!(c.active_names(), [a.unwrap_or_default()]);
    assert_eq!(
        (c.status().active, c.status().terminating),
        (Some(1), Some(2))
    );
}

#[test]
fn duplicated_and_out_of_range_indexes_are_removed() {
    let mut c = Cluster::new(indexed(2, 2));
    c.sync();
    let mut extra = c.pods.clone();
    for (p, ix) in extra.iter_mut().zip(["0", "5"]) {
        p.metadata.name = Some(format!("extra-{ix}"));
        p.metadata.uid = Some(format!("uid-extra-{ix}"));
        p.metadata.creation_timestamp = Some(Time(ts(T0 + 1)));
        p.metadata.annotations = Some(BTreeMap::from([(COMPLETION_INDEX.into(), ix.into())]));
    }
    c.pods.extend(extra);
    let plan = c.decide();
    let names: Vec<_> = plan.delete.iter().map(|d| d.pod.name.as_str()).collect();
    assert_eq!(
        names,
        ["extra-0", "extra-5"],
        "the newer duplicate and the index past completions"
    );
}

#[test]
fn jobs_of_other_controllers_are_left_alone() {
    let mut spec = spec(Some(1), 1);
    spec.managed_by = Some("kueue.x-k8s.io/multikueue".into());
    assert_eq!(Cluster::new(spec.clone()).decide(), JobPlan::default());
    spec.managed_by = Some(JOB_CONTROLLER_NAME.into());
    assert_eq!(Cluster::new(spec).decide().create.len(), 1);
}

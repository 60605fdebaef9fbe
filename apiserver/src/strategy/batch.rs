//! Jobs and CronJobs (upstream `pkg/registry/batch/{job,cronjob}/strategy.go`,
//! `pkg/apis/batch/v1/defaults.go`, `pkg/apis/batch/validation/validation.go`).
//!
//! A job without a manual selector gets a generated one on create: its pods are labelled
//! with the job's uid and name, and the selector picks that uid.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job, JobSpec, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::error::{FieldError, FieldErrorKind};
use crate::strategy::checks::{self, quote};
use crate::strategy::{Strategy, cron, job_validation, pod_template};

pub struct JobStrategy;
pub struct CronJobStrategy;

const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";

impl Strategy for JobStrategy {
    type Object = Job;

    fn prepare_for_create(&self, job: &mut Job) {
        job_defaults(job);
        if job.spec.as_ref().and_then(|s| s.manual_selector) != Some(true) {
            generate_selector(job);
        }
        job.status = Some(JobStatus::default());
    }

    /// The registry keeps the stored status (see `apps.rs`).
    fn prepare_for_update(&self, new: &mut Job, _old: &Job) {
        job_defaults(new);
    }

    fn validate(&self, job: &Job) -> Vec<FieldError> {
        validate_job(job, true)
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.successful"]
    }

    fn field(&self, job: &Job, name: &str) -> Option<String> {
        let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
        (name == "status.successful").then(|| succeeded.to_string())
    }

    /// Upstream runs `ValidateJob` and then `ValidateJobUpdate`, which validates the spec a
    /// second time: an invalid spec reports its errors twice, as there.
    fn validate_update(&self, new: &Job, old: &Job) -> Vec<FieldError> {
        let template_labels = |j: &Job| {
            j.spec
                .as_ref()
                .and_then(|s| pod_template::labels(&s.template).cloned())
        };
        let old_labels = template_labels(old).unwrap_or_default();
        let prefixed = old_labels.contains_key(JOB_NAME) && old_labels.contains_key(CONTROLLER_UID);
        let mut out = validate_job(new, prefixed);
        let default_spec = JobSpec::default();
        let spec = new.spec.as_ref().unwrap_or(&default_spec);
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        job_spec_with_selector(spec, &mut out);
        completions_update(spec, old_spec, &mut out);
        checks::immutable(
            &spec.selector,
            &old_spec.selector,
            "spec.selector",
            &mut out,
        );
        template_update(spec, old_spec, old, &mut out);
        let (new_spec, old) = (spec, old_spec);
        let path = |field: &str| format!("spec.{field}");
        checks::immutable(
            &new_spec.completion_mode,
            &old.completion_mode,
            path("completionMode"),
            &mut out,
        );
        checks::immutable(
            &new_spec.pod_failure_policy,
            &old.pod_failure_policy,
            path("podFailurePolicy"),
            &mut out,
        );
        checks::immutable(
            &new_spec.backoff_limit_per_index,
            &old.backoff_limit_per_index,
            path("backoffLimitPerIndex"),
            &mut out,
        );
        checks::immutable(
            &new_spec.managed_by,
            &old.managed_by,
            path("managedBy"),
            &mut out,
        );
        checks::immutable(
            &new_spec.success_policy,
            &old.success_policy,
            path("successPolicy"),
            &mut out,
        );
        out
    }
}

fn job_defaults(job: &mut Job) {
    let Some(spec) = job.spec.as_mut() else {
        return;
    };
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    spec.backoff_limit.get_or_insert(6);
    if let Some(labels) = pod_template::labels(&spec.template)
        && job.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty)
    {
        job.metadata.labels = Some(labels.clone());
    }
    spec.completion_mode
        .get_or_insert_with(|| "NonIndexed".to_owned());
    spec.suspend.get_or_insert(false);
    let replacement = if spec.pod_failure_policy.is_some() {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    spec.pod_replacement_policy
        .get_or_insert_with(|| replacement.to_owned());
    spec.manual_selector.get_or_insert(false);
    job_spec_defaults(spec);
}

/// Defaults any job spec gets, in a job or a CronJob's template.
fn job_spec_defaults(spec: &mut JobSpec) {
    if let Some(policy) = spec.pod_failure_policy.as_mut() {
        let patterns = policy
            .rules
            .iter_mut()
            .flat_map(|r| r.on_pod_conditions.iter_mut().flatten());
        for pattern in patterns {
            pattern.status.get_or_insert_with(|| "True".to_owned());
        }
    }
    pod_template::apply_defaults(&mut spec.template);
}

/// Upstream's `generateSelector`: labels the pods with the job's uid and name (unless the
/// client chose those labels) and selects the uid.
fn generate_selector(job: &mut Job) {
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let Some(spec) = job.spec.as_mut() else {
        return;
    };
    let meta = spec
        .template
        .metadata
        .get_or_insert_with(ObjectMeta::default);
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    for key in [LEGACY_JOB_NAME, JOB_NAME] {
        labels.entry(key.to_owned()).or_insert_with(|| name.clone());
    }
    for key in [LEGACY_CONTROLLER_UID, CONTROLLER_UID] {
        labels.entry(key.to_owned()).or_insert_with(|| uid.clone());
    }
    let selector = spec.selector.get_or_insert_with(LabelSelector::default);
    let match_labels = selector.match_labels.get_or_insert_with(BTreeMap::new);
    match_labels.entry(CONTROLLER_UID.to_owned()).or_insert(uid);
}

/// `ValidateJob` minus the metadata the registry checks; `prefixed` asks for the
/// `batch.kubernetes.io/` labels too (always on create).
fn validate_job(job: &Job, prefixed: bool) -> Vec<FieldError> {
    let mut out = Vec::new();
    let default_spec = JobSpec::default();
    let spec = job.spec.as_ref().unwrap_or(&default_spec);
    generated_selector(job, spec, prefixed, &mut out);
    job_spec_with_selector(spec, &mut out);
    let name = job.metadata.name.as_deref().unwrap_or_default();
    if spec.completion_mode.as_deref() == Some("Indexed")
        && let Some(completions) = spec.completions.filter(|c| *c > 0)
    {
        // Pods of an indexed job are named `<job>-<index>`: the last must be a DNS label.
        let hostname = format!("{name}-{}", completions - 1);
        if !checks::dns_label(&hostname).is_empty() {
            let why = format!("will not able to create pod with invalid DNS label: {hostname}");
            out.push(FieldError::invalid("metadata.name", quote(name), why));
        }
    }
    out
}

/// `validateGeneratedSelector`.
fn generated_selector(job: &Job, spec: &JobSpec, prefixed: bool, out: &mut Vec<FieldError>) {
    if spec.manual_selector == Some(true) {
        return;
    }
    let Some(selector) = &spec.selector else {
        return;
    };
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let name = job.metadata.name.as_deref().unwrap_or_default();
    if uid.is_empty() {
        out.push(FieldError::required("metadata.uid", ""));
    }
    let labels = pod_template::labels(&spec.template);
    let mut expected = vec![(LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name)];
    if prefixed {
        expected.extend([(CONTROLLER_UID, uid), (JOB_NAME, name)]);
    }
    for (key, want) in &expected {
        let field = format!("spec.template.metadata.labels[{key}]");
        let why = format!("must be '{want}'");
        match labels.and_then(|l| l.get(*key)) {
            None => out.push(FieldError::required(field, why)),
            Some(value) if value != want => {
                out.push(FieldError::invalid(field, checks::json(&labels), why));
            }
            Some(_) => {}
        }
    }
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if checks::selector_matches(selector, Some(&expected)) == Some(false) {
        let why = "`selector` not auto-generated";
        out.push(FieldError::invalid(
            "spec.selector",
            checks::json(selector),
            why,
        ));
    }
}

/// `ValidateJobSpec`: the spec rules plus a required selector matching the template.
fn job_spec_with_selector(spec: &JobSpec, out: &mut Vec<FieldError>) {
    job_validation::job_spec(spec, "spec", out);
    match &spec.selector {
        None => out.push(FieldError::required("spec.selector", "")),
        Some(selector) => {
            checks::label_selector(selector, "spec.selector", out);
            pod_template::selector_matches(selector, &spec.template, "spec.template", out);
        }
    }
}

/// `validateCompletions`: only an indexed job may change completions, and only together
/// with parallelism (ElasticIndexedJob is on in v1.35).
fn completions_update(spec: &JobSpec, old: &JobSpec, out: &mut Vec<FieldError>) {
    if spec.completions == old.completions {
        return;
    }
    if spec.completion_mode.as_deref() != Some("Indexed") {
        checks::immutable(&spec.completions, &old.completions, "spec.completions", out);
        return;
    }
    if let Some(c) = spec.completions
        && Some(c) != spec.parallelism
    {
        let why = "can only be modified in tandem with spec.parallelism";
        out.push(FieldError::invalid("spec.completions", c.to_string(), why));
    }
}

/// `validatePodTemplateUpdate`: the template is immutable, except that a suspended job that
/// never started may change where its pods run.
fn template_update(spec: &JobSpec, old_spec: &JobSpec, old: &Job, out: &mut Vec<FieldError>) {
    let suspended = old_spec.suspend == Some(true);
    let started = old.status.as_ref().is_some_and(|s| s.start_time.is_some());
    let mut old_template = old_spec.template.clone();
    if suspended && !started {
        let new_meta = spec.template.metadata.clone().unwrap_or_default();
        let meta = old_template
            .metadata
            .get_or_insert_with(ObjectMeta::default);
        meta.labels = new_meta.labels;
        meta.annotations = new_meta.annotations;
        if let (Some(old_pod), Some(new_pod)) =
            (old_template.spec.as_mut(), spec.template.spec.as_ref())
        {
            old_pod.node_selector.clone_from(&new_pod.node_selector);
            old_pod.tolerations.clone_from(&new_pod.tolerations);
            old_pod
                .scheduling_gates
                .clone_from(&new_pod.scheduling_gates);
            let node_affinity = new_pod
                .affinity
                .as_ref()
                .and_then(|a| a.node_affinity.clone());
            let mut affinity = old_pod.affinity.take().unwrap_or_default();
            affinity.node_affinity = node_affinity;
            old_pod.affinity = (affinity != Default::default()).then_some(affinity);
        }
    }
    checks::immutable(&spec.template, &old_template, "spec.template", out);
}

impl Strategy for CronJobStrategy {
    type Object = CronJob;

    fn prepare_for_create(&self, cj: &mut CronJob) {
        cron_job_defaults(cj);
        cj.status = Some(CronJobStatus::default());
    }

    fn prepare_for_update(&self, new: &mut CronJob, _old: &CronJob) {
        cron_job_defaults(new);
    }

    fn validate(&self, cj: &CronJob) -> Vec<FieldError> {
        let mut out = cron_job_spec(cj, None);
        let name = cj.metadata.name.as_deref().unwrap_or_default();
        // Its jobs are named `<cronjob>-<11 digits>` and must stay within 63 characters.
        if name.len() > 52 {
            out.push(FieldError::invalid(
                "metadata.name",
                quote(name),
                "must be no more than 52 characters",
            ));
        }
        out
    }

    fn validate_update(&self, new: &CronJob, old: &CronJob) -> Vec<FieldError> {
        cron_job_spec(new, Some(old))
    }
}

fn cron_job_defaults(cj: &mut CronJob) {
    let Some(spec) = cj.spec.as_mut() else {
        return;
    };
    spec.concurrency_policy
        .get_or_insert_with(|| "Allow".to_owned());
    spec.suspend.get_or_insert(false);
    spec.successful_jobs_history_limit.get_or_insert(3);
    spec.failed_jobs_history_limit.get_or_insert(1);
    job_spec_defaults(spec.job_template.spec.get_or_insert_with(JobSpec::default));
}

/// `validateCronJobSpec` with `ValidateJobTemplateSpec`.
fn cron_job_spec(cj: &CronJob, old: Option<&CronJob>) -> Vec<FieldError> {
    let mut out = Vec::new();
    let Some(spec) = &cj.spec else {
        out.push(FieldError::required("spec", ""));
        return out;
    };
    let old_spec = old.and_then(|o| o.spec.as_ref());
    if spec.schedule.is_empty() {
        out.push(FieldError::required("spec.schedule", ""));
    } else {
        let tz_allowed = old_spec.is_some_and(|o| o.schedule.contains("TZ"));
        cron::validate_schedule(
            &spec.schedule,
            tz_allowed,
            spec.time_zone.is_some(),
            &mut out,
        );
    }
    if let Some(deadline) = spec.starting_deadline_seconds {
        checks::nonnegative(deadline, "spec.startingDeadlineSeconds", &mut out);
    }
    if old_spec.is_none_or(|o| o.time_zone != spec.time_zone) {
        cron::validate_time_zone(spec.time_zone.as_deref(), &mut out);
    }
    match spec.concurrency_policy.as_deref().unwrap_or_default() {
        "Allow" | "Forbid" | "Replace" => {}
        "" => out.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => out.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let default_spec = JobSpec::default();
    let job_spec_ref = spec.job_template.spec.as_ref().unwrap_or(&default_spec);
    job_validation::job_spec(job_spec_ref, "spec.jobTemplate.spec", &mut out);
    if let Some(selector) = &job_spec_ref.selector {
        let why = "`selector` will be auto-generated";
        out.push(FieldError::invalid(
            "spec.jobTemplate.spec.selector",
            checks::json(selector),
            why,
        ));
    }
    if job_spec_ref.manual_selector == Some(true) {
        out.push(FieldError {
            kind: FieldErrorKind::NotSupported(
                "true".to_owned(),
                vec![quote("nil"), quote("false")],
            ),
            field: "spec.jobTemplate.spec.manualSelector".to_owned(),
            detail: String::new(),
        });
    }
    let limits = [
        (
            "successfulJobsHistoryLimit",
            spec.successful_jobs_history_limit,
        ),
        ("failedJobsHistoryLimit", spec.failed_jobs_history_limit),
    ];
    for (field, value) in limits {
        if let Some(v) = value {
            checks::nonnegative(i64::from(v), format!("spec.{field}"), &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::{job, job_errors};
    use serde_json::{Value, json};

    #[test]
    fn job_defaults_and_generated_selector() {
        let j = job(json!({}));
        let got = serde_json::to_value(&j).expect("json");
        let spec = &got["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["manualSelector"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(
            spec["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        assert_eq!(
            spec["template"]["metadata"]["labels"],
            json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
                   "controller-uid": "u-1", "job-name": "pi"})
        );
        assert_eq!(got["status"], json!({}));
        assert_eq!(job_errors(&j), Vec::<String>::new());
        assert_eq!(
            JobStrategy.field(&j, "status.successful").as_deref(),
            Some("0")
        );
    }

    #[test]
    fn manual_selectors_must_match() {
        let j = job(json!({"manualSelector": true, "selector": {"matchLabels": {"app": "x"}}}));
        assert_eq!(
            job_errors(&j),
            vec![
                "spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`",
            ]
        );
    }

    #[test]
    fn job_updates() {
        let old = job(json!({}));
        let mut new = old.clone();
        JobStrategy.prepare_for_update(&mut new, &old);
        assert!(JobStrategy.validate_update(&new, &old).is_empty());
        let mut changed = old.clone();
        if let Some(spec) = changed.spec.as_mut() {
            spec.template.spec.as_mut().expect("pod").containers[0].image = Some("other".into());
            spec.completions = Some(2);
        }
        let got: Vec<String> = JobStrategy
            .validate_update(&changed, &old)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            "spec.completions: Invalid value: 2: field is immutable"
        );
        assert!(got[1].starts_with("spec.template: Invalid value: {"));
        assert!(got[1].ends_with("}: field is immutable"));
        // A suspended job that never ran may move its pods.
        let mut suspended = job(json!({"suspend": true}));
        suspended.status = Some(JobStatus::default());
        let mut moved = suspended.clone();
        if let Some(spec) = moved.spec.as_mut() {
            spec.template.spec.as_mut().expect("pod").node_selector =
                Some(BTreeMap::from([("zone".to_owned(), "a".to_owned())]));
        }
        assert!(JobStrategy.validate_update(&moved, &suspended).is_empty());
    }

    fn cron_job(spec: Value) -> CronJob {
        let mut base = json!({"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}});
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), spec) {
            base.extend(extra);
        }
        let mut cj: CronJob =
            serde_json::from_value(json!({"metadata": {"name": "hello"}, "spec": base}))
                .expect("cronjob");
        CronJobStrategy.prepare_for_create(&mut cj);
        cj
    }

    #[test]
    fn cron_job_defaults_and_rules() {
        let cj = cron_job(json!({}));
        let got = serde_json::to_value(&cj).expect("json");
        assert_eq!(got["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(got["spec"]["suspend"], false);
        assert_eq!(got["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(got["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(
            got["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
        assert!(CronJobStrategy.validate(&cj).is_empty());

        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"schedule": "61 * * * *"}),
                vec![
                    "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
                ],
            ),
            (
                json!({"schedule": "@weekly", "concurrencyPolicy": "Sometimes"}),
                vec![
                    "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
                ],
            ),
            (
                json!({"schedule": "TZ=UTC 0 * * * *"}),
                vec![
                    "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ],
            ),
            (
                json!({"timeZone": "Local"}),
                vec![
                    "spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
                ],
            ),
            (
                json!({"timeZone": "Not/A Zone"}),
                vec!["spec.timeZone: Invalid value: \"Not/A Zone\": unknown time zone Not/A Zone"],
            ),
            (
                json!({"successfulJobsHistoryLimit": -1}),
                vec![
                    "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
                ],
            ),
        ];
        for (spec, want) in table {
            let got: Vec<String> = CronJobStrategy
                .validate(&cron_job(spec.clone()))
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want, "{spec}");
        }
        let mut long = cron_job(json!({}));
        long.metadata.name = Some("x".repeat(53));
        assert_eq!(
            CronJobStrategy.validate(&long)[0].to_string(),
            format!(
                "metadata.name: Invalid value: \"{}\": must be no more than 52 characters",
                "x".repeat(53)
            )
        );
        assert!(CronJobStrategy.validate_update(&long, &long).is_empty());
    }
}

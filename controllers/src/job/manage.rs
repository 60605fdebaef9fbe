//! `manageJob` of upstream's `pkg/controller/job/job_controller.go`: how many pods should run,
//! which surplus pods go (`activePodsForRemoval`), when failed pods may be replaced
//! (backoff), and the pods to create from the template.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::backoff::remaining_for_index;
use super::decide::{CreatePod, DeletePod, JobPlan, MAX_POD_CREATE_DELETE_PER_SYNC, SyncCtx};
use super::indexed::{
    COMPLETION_INDEX, INDEX_FAILURE_COUNT, INDEX_IGNORED_FAILURE_COUNT, completion_index,
    duplicated_for_removal, first_pending_indexes, generate_name_with_index,
    new_index_failure_counts,
};
use super::podutil::{TRACKING_FINALIZER, only_replace_failed, ordered_for_removal};
use crate::replicaset::pods::is_pod_terminating;

/// The environment variable through which an indexed pod learns its index.
const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

pub(super) const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
pub(super) const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";

/// Creates or deletes pods toward the wanted number of active ones, adjusting `s.active_count`,
/// `s.ready` and `s.terminating` as if every call succeeds. A sync either deletes or creates,
/// never both; deletion takes precedence.
pub(super) fn manage_job(s: &mut SyncCtx<'_>, plan: &mut JobPlan) {
    if s.suspended {
        let all = s.active.len();
        let doomed = active_pods_for_removal(s, all);
        delete_surplus(s, plan, doomed);
        return;
    }
    let active = i64::try_from(s.active.len()).unwrap_or(i64::MAX);
    let parallelism = i64::from(s.spec.parallelism.unwrap_or(1).max(0));
    let want = match s.spec.completions {
        // A work queue: once any pod succeeded, whatever runs may finish but nothing new starts.
        None if s.succeeded > 0 => active,
        None => parallelism,
        Some(c) => (i64::from(c) - i64::from(s.succeeded)).clamp(0, parallelism),
    };
    let surplus = usize::try_from(active - want).unwrap_or(0);
    let mut doomed = active_pods_for_removal(s, surplus);
    doomed.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
    if !doomed.is_empty() {
        delete_surplus(s, plan, doomed);
        return;
    }

    let waiting = if only_replace_failed(s.job) {
        i64::from(s.terminating)
    } else {
        0
    };
    let missing = want - waiting - active;
    if missing <= 0 {
        return;
    }
    if s.backoff_limit_per_index.is_none() {
        let wait = s.backoff.remaining(s.now);
        if !wait.is_zero() {
            plan.requeue_at_least(wait);
            return;
        }
    }
    let count = usize::try_from(missing)
        .unwrap_or(usize::MAX)
        .min(MAX_POD_CREATE_DELETE_PER_SYNC);
    if !s.indexed {
        let pod = pod_from_template(s, None);
        plan.create = vec![CreatePod { index: None, pod }; count];
        s.active_count += count;
        return;
    }
    let mut busy: BTreeSet<i64> = s
        .active
        .iter()
        .filter_map(|p| completion_index(p))
        .collect();
    if only_replace_failed(s.job) {
        let terminating = s.pods.iter().filter(|p| is_pod_terminating(p));
        busy.extend(terminating.filter_map(|p| completion_index(p)));
    }
    let mut indexes = first_pending_indexes(
        count,
        s.completions,
        &s.succeeded_indexes,
        busy,
        s.failed_indexes.as_ref(),
    );
    if s.backoff_limit_per_index.is_some() {
        // Each index waits out its own backoff; create those that are due, or else sync
        // again when the first one is.
        let waits: Vec<_> = indexes
            .iter()
            .map(|ix| remaining_for_index(s.delayed.get(ix).copied(), s.now))
            .collect();
        if waits.iter().all(|w| !w.is_zero()) {
            if let Some(first) = waits.into_iter().min() {
                plan.requeue_at_least(first);
            }
            return;
        }
        indexes = indexes
            .into_iter()
            .zip(waits)
            .filter_map(|(ix, w)| w.is_zero().then_some(ix))
            .collect();
    }
    s.active_count += indexes.len();
    plan.create = indexes
        .into_iter()
        .map(|ix| CreatePod {
            index: Some(ix),
            pod: pod_from_template(s, Some(ix)),
        })
        .collect();
}

/// Deletes pods of a running job: the tracking finalizer goes first, since a pod removed as
/// surplus is not a failure to count (`deleteJobPods`).
fn delete_surplus(s: &mut SyncCtx<'_>, plan: &mut JobPlan, doomed: Vec<&Pod>) {
    s.note_deleted(&doomed);
    plan.delete.extend(doomed.into_iter().map(|p| DeletePod {
        pod: p.into(),
        remove_finalizer_first: true,
    }));
}

/// The active pods to delete: for an Indexed job every pod without a valid index and all but
/// one pod of a duplicated index, whatever `at_least` says; then the first `at_least` in
/// deletion order (`activePodsForRemoval`).
pub(super) fn active_pods_for_removal<'a>(s: &SyncCtx<'a>, at_least: usize) -> Vec<&'a Pod> {
    let (mut rm, mut left) = if s.indexed {
        duplicated_for_removal(&s.active, s.completions)
    } else {
        (Vec::new(), s.active.clone())
    };
    if rm.len() < at_least {
        ordered_for_removal(&mut left);
        let more = (at_least - rm.len()).min(left.len());
        rm.extend(left.into_iter().take(more));
    }
    rm
}

/// The pod to create (`GetPodFromTemplate` plus what `manageJob` adds): the template's
/// labels, annotations, finalizers and spec, the tracking finalizer, `generateName`, the
/// controller reference; for an index, its annotation and label, the hostname `<job>-<index>`,
/// the `JOB_COMPLETION_INDEX` variable and, with `backoffLimitPerIndex`, the failure counts.
///
/// The job labels come from the API server, which puts them on the template of a job without
/// a manual selector; they are added here too when missing, so that the pods stay findable
/// whoever created the job. `restartPolicy` and the rest of the spec are left as they are.
fn pod_from_template(s: &SyncCtx<'_>, index: Option<i64>) -> Pod {
    let job = s.job;
    let template = s.spec.template.clone();
    let meta = template.metadata.unwrap_or_default();
    let mut spec = template.spec;
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();

    let mut labels = meta.labels.unwrap_or_default();
    if s.spec.manual_selector != Some(true) {
        for (key, value) in [
            (CONTROLLER_UID, &uid),
            (LEGACY_CONTROLLER_UID, &uid),
            (JOB_NAME, &name),
            (LEGACY_JOB_NAME, &name),
        ] {
            labels
                .entry(key.to_owned())
                .or_insert_with(|| value.clone());
        }
    }
    let mut annotations = meta.annotations.unwrap_or_default();
    let mut finalizers = meta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.to_owned());
    }
    // `getPodsPrefix`: the dash is dropped when `<name>-` would not be a valid name prefix.
    let mut generate_name = if name.len() < 253 {
        format!("{name}-")
    } else {
        name.clone()
    };

    if let Some(ix) = index {
        annotations.insert(COMPLETION_INDEX.to_owned(), ix.to_string());
        labels.insert(COMPLETION_INDEX.to_owned(), ix.to_string());
        generate_name = generate_name_with_index(&name, ix);
        if let Some(spec) = spec.as_mut() {
            // Upstream sets the hostname whether or not a subdomain is set; it only resolves
            // in DNS with one.
            spec.hostname = Some(format!("{name}-{ix}"));
            let containers = spec.init_containers.iter_mut().flatten();
            for c in containers.chain(spec.containers.iter_mut()) {
                add_index_env(&mut c.env);
            }
        }
        if s.backoff_limit_per_index.is_some() {
            let replaced = s.delayed.get(&ix).copied();
            let (counted, ignored) = new_index_failure_counts(job, replaced);
            annotations.insert(INDEX_FAILURE_COUNT.to_owned(), counted.to_string());
            if ignored > 0 {
                annotations.insert(INDEX_IGNORED_FAILURE_COUNT.to_owned(), ignored.to_string());
            }
        }
    }

    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![controller_ref(s)]),
            ..Default::default()
        },
        spec,
        status: None,
    }
}

/// `JOB_COMPLETION_INDEX` from the index label (`PodIndexLabel` is GA), unless the container
/// already defines the variable.
fn add_index_env(env: &mut Option<Vec<EnvVar>>) {
    let env = env.get_or_insert_with(Vec::new);
    if env.iter().any(|v| v.name == COMPLETION_INDEX_ENV) {
        return;
    }
    env.push(EnvVar {
        name: COMPLETION_INDEX_ENV.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: format!("metadata.labels['{COMPLETION_INDEX}']"),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
}

/// The controller reference on the job's pods (`metav1.NewControllerRef`).
fn controller_ref(s: &SyncCtx<'_>) -> OwnerReference {
    OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: s.job.metadata.name.clone().unwrap_or_default(),
        uid: s.job.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

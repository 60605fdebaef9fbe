//! What each scenario runs once its nodes have joined:
//! - `join`: nothing more; waits until every node is seen Ready.
//! - `pretrain`: one Indexed Job with a pod per node (8 GPUs each), one gang.
//! - `finetune`: 10 Jobs on a tenth of the nodes each, a gang each.
//! - `mixed`: 70% of the nodes in 7 fine-tuning Jobs, 30% serving 3 inference Deployments,
//!   which are then rolled to a new version.
//! - `churn`: bare pods created and deleted at a steady rate, while a share of the nodes
//!   fails and is replaced every minute.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::track::BENCH_LABEL;
use super::{BenchError, Kind, Run, ScenarioBench, failed};
use crate::simnodes::SimConfig;

/// What the workload reports beside the tracker's counts.
pub(crate) struct Outcome {
    /// The seconds over which the pod rates are given (from the first create to the last
    /// pod Running).
    pub pod_seconds: f64,
    /// Pods the workload meant to create.
    pub expected_pods: u64,
}

pub(crate) fn sim_config(bench: &ScenarioBench) -> SimConfig {
    let replacements = match bench.kind {
        Kind::Churn => {
            let minutes = bench.duration.as_secs_f64() / 60.0;
            (bench.nodes as f64 * bench.node_failure_percent / 100.0 * minutes.ceil()).ceil() as u64
        }
        _ => 0,
    };
    SimConfig {
        count: bench.nodes,
        spare: replacements,
        // One training or serving pod takes a whole GPU node: every node is one (`join`
        // keeps the default GPU/Trainium mix).
        trainium_every: if bench.kind == Kind::Join { 5 } else { 0 },
        job_duration_secs: bench.job_seconds,
        progress: bench.progress,
        ..SimConfig::default()
    }
}

pub(crate) fn params(bench: &ScenarioBench) -> BTreeMap<String, Value> {
    let mut p = BTreeMap::new();
    p.insert("nodes".to_owned(), json!(bench.nodes));
    p.insert("job_seconds".to_owned(), json!(bench.job_seconds));
    if matches!(bench.kind, Kind::Churn | Kind::Mixed) {
        p.insert(
            "duration_seconds".to_owned(),
            json!(bench.duration.as_secs_f64()),
        );
    }
    if bench.kind == Kind::Churn {
        p.insert(
            "churn_pods_per_minute".to_owned(),
            json!(bench.churn_pods_per_minute),
        );
        p.insert(
            "node_failure_percent".to_owned(),
            json!(bench.node_failure_percent),
        );
    }
    p
}

pub(crate) fn anchors() -> BTreeMap<String, String> {
    [
        ("joined_per_minute", "EKS: 2,000 ready nodes per minute"),
        ("nodes", "EKS: 100,000 nodes in one cluster"),
        (
            "scheduled_per_sec",
            "EKS: 500 pods/s scheduled at 100K nodes",
        ),
        (
            "write_p99",
            "SLO: p99 <= 1 s for mutating and single-object calls",
        ),
        (
            "list_p99",
            "SLO: p99 <= 5 s namespace, <= 30 s cluster-wide lists",
        ),
        (
            "pod_startup",
            "SLO: pod startup p99 <= 5 s (no image pulls)",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Waits until `done` holds, checking every 200 ms, or fails after the phase timeout.
async fn until(
    run: &Run,
    what: &str,
    mut done: impl FnMut(&Run) -> bool,
) -> Result<(), BenchError> {
    let started = Instant::now();
    while !done(run) {
        if started.elapsed() > run.bench.phase_timeout {
            let t = run.tracker.totals();
            return Err(failed(format!(
                "{what}: not done after {:?} (pods created {}, scheduled {}, running {}, \
                 succeeded {}, failed {}; nodes ready {})",
                run.bench.phase_timeout,
                t.created,
                t.scheduled,
                t.running,
                t.succeeded,
                t.failed,
                t.ready_nodes
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// A pod template taking one whole GPU node, in gang `gang` of `min` members (if any).
fn template(scenario: &str, app: &str, gang: Option<(&str, u64)>, job: bool) -> Value {
    let mut labels = json!({BENCH_LABEL: scenario, "app": app});
    if let Some((name, min)) = gang {
        labels["pod-group.scheduling.sigs.k8s.io/name"] = json!(name);
        labels["pod-group.scheduling.sigs.k8s.io/min-available"] = json!(min.to_string());
        labels["scheduling.ultrak8s.io/gang-timeout-seconds"] = json!("600");
    }
    json!({
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": if job { "Never" } else { "Always" },
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main",
                "image": if job { "trainer:1" } else { "inference:1" },
                "resources": {
                    "requests": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "8"},
                    "limits": {"nvidia.com/gpu": "8"},
                },
            }],
        },
    })
}

async fn create_job(run: &Run, name: &str, pods: u64) -> Result<(), BenchError> {
    let scenario = run.bench.kind.name();
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {BENCH_LABEL: scenario}},
        "spec": {
            "completionMode": "Indexed",
            "completions": pods,
            "parallelism": pods,
            "backoffLimit": pods,
            "template": template(scenario, name, Some((name, pods)), true),
        },
    }))
    .map_err(failed)?;
    Api::<Job>::namespaced(run.client.clone(), &run.namespace)
        .create(&PostParams::default(), &job)
        .await
        .map_err(failed)?;
    Ok(())
}

async fn create_deployment(run: &Run, name: &str, replicas: u64) -> Result<(), BenchError> {
    let scenario = run.bench.kind.name();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {BENCH_LABEL: scenario}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            // Every node is taken: roll by replacing, a quarter at a time.
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}},
            "template": template(scenario, name, None, false),
        },
    }))
    .map_err(failed)?;
    Api::<Deployment>::namespaced(run.client.clone(), &run.namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .map_err(failed)?;
    Ok(())
}

pub(crate) async fn run(run: &Run) -> Result<Outcome, BenchError> {
    let n = run.bench.nodes;
    until(run, "every node Ready", |r| {
        r.tracker.totals().ready_nodes >= n
    })
    .await?;
    let started = Instant::now();
    let expected = match run.bench.kind {
        Kind::Join => {
            return Ok(Outcome {
                pod_seconds: 0.0,
                expected_pods: 0,
            });
        }
        Kind::Pretrain => {
            create_job(run, "pretrain", n).await?;
            until(run, "every pretraining pod Running", |r| {
                r.tracker.totals().running >= n
            })
            .await?;
            n
        }
        Kind::Finetune => {
            let each = (n / 10).max(1);
            let jobs = n / each;
            for i in 0..jobs {
                create_job(run, &format!("finetune-{i}"), each).await?;
            }
            let total = each * jobs;
            until(run, "every fine-tuning pod Running", |r| {
                r.tracker.totals().running >= total
            })
            .await?;
            total
        }
        Kind::Mixed => mixed(run).await?,
        Kind::Churn => churn(run).await?,
    };
    let pod_seconds = started.elapsed().as_secs_f64();
    if matches!(run.bench.kind, Kind::Pretrain | Kind::Finetune) {
        until(run, "every training pod finished", |r| {
            let t = r.tracker.totals();
            t.succeeded + t.failed >= expected
        })
        .await?;
    }
    Ok(Outcome {
        pod_seconds,
        expected_pods: expected,
    })
}

/// 70% of the nodes fine-tune (7 Jobs), 30% serve (3 Deployments), then the Deployments roll.
async fn mixed(run: &Run) -> Result<u64, BenchError> {
    let each = (run.bench.nodes / 10).max(1);
    for i in 0..7 {
        create_job(run, &format!("finetune-{i}"), each).await?;
    }
    for i in 0..3 {
        create_deployment(run, &format!("serve-{i}"), each).await?;
    }
    let first = each * 10;
    until(run, "every pod Running", |r| {
        r.tracker.totals().running >= first
    })
    .await?;
    // A new version of each model server: every serving pod is replaced.
    let deployments: Api<Deployment> = Api::namespaced(run.client.clone(), &run.namespace);
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "bench.ultrak8s.io/version": "2"}}}}});
    for i in 0..3 {
        deployments
            .patch(
                &format!("serve-{i}"),
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
            .map_err(failed)?;
    }
    let total = first + 3 * each;
    until(run, "the serving Deployments rolled", |r| {
        r.tracker.totals().running >= total
    })
    .await?;
    Ok(total)
}

/// Bare pods created and deleted at `churn_pods_per_minute` for `duration`, each living
/// about 30 s, while `node_failure_percent` of the nodes are replaced every minute.
async fn churn(run: &Run) -> Result<u64, BenchError> {
    let pods: Api<Pod> = Api::namespaced(run.client.clone(), &run.namespace);
    let per_second = (run.bench.churn_pods_per_minute as f64 / 60.0).max(0.0);
    let population = (per_second * 30.0).ceil() as usize;
    let per_minute_failures =
        (run.bench.nodes as f64 * run.bench.node_failure_percent / 100.0).ceil() as u64;
    let mut live: VecDeque<String> = VecDeque::new();
    let mut created = 0u64;
    let mut owed = 0.0;
    let started = Instant::now();
    let mut next_failure = Duration::from_secs(60);
    let mut every = tokio::time::interval(Duration::from_millis(100));
    while started.elapsed() < run.bench.duration {
        every.tick().await;
        owed += per_second / 10.0;
        while owed >= 1.0 {
            owed -= 1.0;
            let name = format!("churn-{created}");
            let mut body = template(run.bench.kind.name(), "churn", None, false);
            body["metadata"]["name"] = json!(name);
            body["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "1", "nvidia.com/gpu": "1"},
                       "limits": {"nvidia.com/gpu": "1"}});
            let pod: Pod = serde_json::from_value(body).map_err(failed)?;
            pods.create(&PostParams::default(), &pod)
                .await
                .map_err(failed)?;
            created += 1;
            live.push_back(name);
            if live.len() > population
                && let Some(old) = live.pop_front()
            {
                match pods.delete(&old, &DeleteParams::default()).await {
                    Ok(_) | Err(kube::Error::Api(_)) => {}
                    Err(e) => return Err(failed(e)),
                }
            }
        }
        if per_minute_failures > 0 && started.elapsed() >= next_failure {
            next_failure += Duration::from_secs(60);
            run.sim.replace(per_minute_failures).await.map_err(failed)?;
        }
    }
    Ok(created)
}

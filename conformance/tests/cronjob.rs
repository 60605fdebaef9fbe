//! The CronJob controller through real clients: Jobs made on schedule, at most one running
//! (Forbid), finished ones beyond the history limit deleted.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Marks every Job of the namespace that has none of the terminal conditions Complete, as a
/// Job controller would once its pods succeeded (no kubelet runs here).
async fn complete_jobs(jobs: &Api<Job>) -> Result<usize, kube::Error> {
    let mut done = 0;
    for job in jobs.list(&ListParams::default()).await?.items {
        let finished = job
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Complete"));
        if finished {
            continue;
        }
        let name = job.metadata.name.clone().unwrap_or_default();
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let status = json!({"status": {
            "startTime": now, "completionTime": now, "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
                {"type": "Complete", "status": "True", "lastTransitionTime": now},
            ],
        }});
        jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        done += 1;
    }
    Ok(done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cronjob_makes_jobs_on_schedule_and_keeps_its_history() -> TestResult {
    // Only the CronJob controller: the Job controller would otherwise own the Jobs' status.
    let cluster = TestCluster::start_with_only("cronjob").await?;
    let client = cluster.client().await?;
    let manifest = r#"
apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "@every 1s"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 2
  jobTemplate:
    metadata:
      labels:
        app: tick
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: busybox
"#;
    cluster
        .kubectl(&["apply", "-f", "-"], Some(manifest))
        .await
        .expect_ok("apply cronjob");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    eventually("a first job, owned and active", || async {
        let Ok(list) = jobs.list(&ListParams::default()).await else { return false };
        let Ok(cron) = cronjobs.get("tick").await else { return false };
        let active = cron.status.and_then(|s| s.active).unwrap_or_default();
        list.items.len() == 1
            && active.len() == 1
            && list.items[0]
                .metadata
                .owner_references
                .as_ref()
                .is_some_and(|o| o.iter().any(|o| o.kind == "CronJob" && o.name == "tick"))
            && list.items[0]
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.get("app").map(String::as_str) == Some("tick"))
    })
    .await;
    let cron = cronjobs.get("tick").await?;
    assert!(cron.status.and_then(|s| s.last_schedule_time).is_some());
    // Forbid (and one name per scheduled minute, as upstream): no second job meanwhile.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(jobs.list(&ListParams::default()).await?.items.len(), 1);

    // Three older finished Jobs of this CronJob plus the first one once it completes: only
    // the two newest finished ones are kept.
    let uid = cronjobs.get("tick").await?.metadata.uid.unwrap_or_default();
    for (i, started) in ["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"].iter().enumerate() {
        let job: Job = serde_json::from_value(json!({
            "metadata": {
                "name": format!("tick-old-{i}"),
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                                      "uid": uid, "controller": true}],
            },
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}},
        }))?;
        jobs.create(&Default::default(), &job).await?;
        let status = json!({"status": {
            "startTime": started, "completionTime": started, "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": started},
                {"type": "Complete", "status": "True", "lastTransitionTime": started},
            ],
        }});
        jobs.patch_status(&format!("tick-old-{i}"), &PatchParams::default(), &Patch::Merge(&status))
            .await?;
    }
    assert_eq!(complete_jobs(&jobs).await?, 1);
    eventually("the two newest finished jobs kept", || async {
        // The first job finished last (it started now), tick-old-2 before it. (A job of the
        // next minute may have started meanwhile: only finished ones count.)
        let Ok(list) = jobs.list(&ListParams::default()).await else { return false };
        let finished: Vec<String> = list
            .items
            .iter()
            .filter(|j| is_complete(j))
            .filter_map(|j| j.metadata.name.clone())
            .collect();
        finished.len() == 2 && finished.iter().any(|n| n == "tick-old-2")
    })
    .await;
    let cron = cronjobs.get("tick").await?;
    let status = cron.status.unwrap_or_default();
    assert!(status.last_successful_time.is_some());
    // No finished job is still listed as active.
    eventually("finished jobs leave status.active", || async {
        let Ok(cron) = cronjobs.get("tick").await else { return false };
        let active = cron.status.and_then(|s| s.active).unwrap_or_default();
        let mut all_running = true;
        for reference in active {
            let name = reference.name.unwrap_or_default();
            if jobs.get(&name).await.ok().is_some_and(|j| is_complete(&j)) {
                all_running = false;
            }
        }
        all_running
    })
    .await;
    Ok(())
}

fn is_complete(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Complete"))
}

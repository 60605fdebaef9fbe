//! The Job and TTL-after-finished controllers through real clients.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::eventually;
use ultrak8s_conformance::standin::active_pods;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Upstream's "should adopt matching orphans and release non-matching pods": a pod orphaned
/// from its Job is adopted again (no replacement made), a pod relabelled out of the selector is
/// released and replaced; the Job's creates are recorded as Events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_adopts_matching_orphans_and_releases_the_rest() -> TestResult {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Event as KubeEvent;
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "adopter"},
        "spec": {"parallelism": 1, "completions": 1,
            "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}},
    }))?;
    jobs.create(&PostParams::default(), &job).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let selector = "batch.kubernetes.io/job-name=adopter";
    let owned_by_job = |pod: &Pod| {
        pod.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "Job" && o.name == "adopter" && o.controller == Some(true))
    };
    eventually("one pod", || async { active_pods(&pods, selector).await == 1 }).await;
    let first = pods.list(&ListParams::default().labels(selector)).await?.items[0]
        .metadata
        .name
        .clone()
        .unwrap_or_default();
    let orphan = json!({"metadata": {"ownerReferences": null}});
    pods.patch(&first, &PatchParams::default(), &Patch::Merge(&orphan)).await?;
    eventually("the orphan adopted again", || async {
        pods.get(&first).await.ok().is_some_and(|p| owned_by_job(&p))
    })
    .await;
    assert_eq!(active_pods(&pods, selector).await, 1, "no replacement for an adopted pod");
    let relabel = json!({"metadata": {"labels": {"batch.kubernetes.io/controller-uid": "someone-else"}}});
    pods.patch(&first, &PatchParams::default(), &Patch::Merge(&relabel)).await?;
    eventually("released and replaced", || async {
        let released = pods.get(&first).await.ok().is_some_and(|p| !owned_by_job(&p));
        let replaced = pods
            .list(&ListParams::default().labels(selector))
            .await
            .map(|l| l.items.iter().filter(|p| owned_by_job(p)).count() == 1)
            .unwrap_or(false);
        released && replaced
    })
    .await;
    let events: Api<KubeEvent> = Api::namespaced(client, "default");
    let listed = events.list(&ListParams::default()).await?;
    assert!(
        listed.items.iter().any(|e| e.reason.as_deref() == Some("SuccessfulCreate")
            && e.involved_object.name.as_deref() == Some("adopter")),
        "no SuccessfulCreate event"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexed_job_completes_with_every_index() -> TestResult {
    use k8s_openapi::api::batch::v1::Job;
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "train"},
        "spec": {
            "completions": 3, "parallelism": 2, "completionMode": "Indexed",
            "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "trainer"}]}},
        },
    }))?;
    jobs.create(&PostParams::default(), &job).await?;
    // Stands in for kubelets: every running pod of the job succeeds, and its index is noted.
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mut indexes = std::collections::BTreeSet::new();
    let mut most_at_once = 0;
    let mut complete = false;
    for _ in 0..400 {
        let listed = pods
            .list(&ListParams::default().labels("batch.kubernetes.io/job-name=train"))
            .await?;
        let running: Vec<&Pod> = listed
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Succeeded"))
            .collect();
        most_at_once = most_at_once.max(running.len());
        for pod in running {
            let index = pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("batch.kubernetes.io/job-completion-index"))
                .cloned()
                .unwrap_or_default();
            indexes.insert(index);
            let status = json!({"status": {"phase": "Succeeded", "containerStatuses": [{
                "name": "c", "image": "trainer", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
            let name = pod.metadata.name.clone().unwrap_or_default();
            let _ = pods
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await;
        }
        let status = jobs.get("train").await?.status.unwrap_or_default();
        let done = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True");
        if done {
            assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
            assert_eq!(status.succeeded, Some(3));
            complete = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(complete, "the job never completed");
    assert_eq!(
        indexes,
        ["0", "1", "2"].map(String::from).into_iter().collect()
    );
    assert!(
        most_at_once <= 2,
        "parallelism 2, saw {most_at_once} pods at once"
    );
    // Counted pods lose their tracking finalizer.
    eventually("finalizers removed", || async {
        pods.list(&ListParams::default().labels("batch.kubernetes.io/job-name=train"))
            .await
            .is_ok_and(|l| {
                l.items.iter().all(|p| {
                    !p.metadata
                        .finalizers
                        .as_ref()
                        .is_some_and(|f| f.iter().any(|f| f == "batch.kubernetes.io/job-tracking"))
                })
            })
    })
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_with_a_ttl_is_deleted_with_its_pods() -> TestResult {
    use k8s_openapi::api::batch::v1::Job;
    let cluster = TestCluster::start_with_controllers().await?;
    let client = cluster.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "once"},
        "spec": {"ttlSecondsAfterFinished": 1,
                 "template": {"spec": {"restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "x"}]}}},
    }))?;
    jobs.create(&PostParams::default(), &job).await?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let selector = "batch.kubernetes.io/job-name=once";
    eventually("its pod", || async {
        pods.list(&ListParams::default().labels(selector))
            .await
            .is_ok_and(|l| l.items.len() == 1)
    })
    .await;
    let name = pods
        .list(&ListParams::default().labels(selector))
        .await?
        .items[0]
        .metadata
        .name
        .clone()
        .unwrap_or_default();
    let status = json!({"status": {"phase": "Succeeded"}});
    pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    eventually("the job and its pod are gone", || async {
        let job_gone = jobs.get_opt("once").await.is_ok_and(|j| j.is_none());
        let pods_gone = pods
            .list(&ListParams::default().labels(selector))
            .await
            .is_ok_and(|l| l.items.is_empty());
        job_gone && pods_gone
    })
    .await;
    Ok(())
}

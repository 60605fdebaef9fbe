//! The namespace controller and the namespace defaults through real clients.

use std::time::Duration;

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use ultrak8s_conformance::cluster::TestCluster;
use ultrak8s_conformance::poll::{eventually, eventually_within};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A namespace with content held by a finalizer stays Terminating and says why in its
/// conditions (as `kubectl describe namespace` shows upstream); once the finalizer goes, the
/// namespace goes. Every new namespace gets its `default` ServiceAccount and
/// `kube-root-ca.crt`, and gets them back when they are deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_terminates_once_its_content_is_gone() -> TestResult {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
    let cluster = TestCluster::start().await?;
    let client = cluster.client().await?;
    cluster
        .kubectl(&["create", "namespace", "doomed"], None)
        .await
        .expect_ok("create namespace");
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "doomed");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    eventually("default account and root CA", || async {
        accounts.get_opt("default").await.ok().flatten().is_some()
            && maps
                .get_opt("kube-root-ca.crt")
                .await
                .ok()
                .flatten()
                .and_then(|cm| cm.data)
                .is_some_and(|d| d.get("ca.crt").is_some_and(|ca| ca.contains("BEGIN CERTIFICATE")))
    })
    .await;
    accounts.delete("default", &DeleteParams::default()).await?;
    maps.delete("kube-root-ca.crt", &DeleteParams::default()).await?;
    eventually("the default ServiceAccount made again", || async {
        accounts.get_opt("default").await.ok().flatten().is_some()
    })
    .await;
    eventually("kube-root-ca.crt made again", || async {
        maps.get_opt("kube-root-ca.crt").await.ok().flatten().is_some()
    })
    .await;

    let held: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
        "data": {"k": "v"},
    }))?;
    maps.create(&PostParams::default(), &held).await?;
    for i in 0..3 {
        let plain: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("plain-{i}")}}))?;
        maps.create(&PostParams::default(), &plain).await?;
    }
    cluster
        .kubectl(&["delete", "namespace", "doomed", "--wait=false"], None)
        .await
        .expect_ok("delete namespace");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    eventually("the finalizer reported in the conditions", || async {
        let Ok(ns) = namespaces.get("doomed").await else { return false };
        let conditions = ns.status.and_then(|s| s.conditions).unwrap_or_default();
        conditions.iter().any(|c| {
            c.type_ == "NamespaceFinalizersRemaining"
                && c.status == "True"
                && c.message.as_deref()
                    == Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        }) && conditions.iter().any(|c| {
            c.type_ == "NamespaceContentRemaining"
                && c.message.as_deref() == Some("Some resources are remaining: configmaps. has 1 resource instances")
        })
    })
    .await;
    // Everything else went; new content is refused while terminating.
    let names: Vec<String> = maps
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|cm| cm.metadata.name)
        .collect();
    assert_eq!(names, vec!["held".to_owned()]);
    let late: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "late"}}))?;
    let refused = maps.create(&PostParams::default(), &late).await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.code == 403),
        "{refused:?}"
    );
    let release = json!({"metadata": {"finalizers": null}});
    maps.patch("held", &PatchParams::default(), &Patch::Merge(&release))
        .await?;
    // The namespace controller looks again after its finalizer estimate (upstream's 15 s / 2
    // + 1): give a loaded machine room beyond that.
    eventually_within("the namespace gone", Duration::from_secs(60), || async {
        matches!(namespaces.get_opt("doomed").await, Ok(None))
    })
    .await;
    Ok(())
}

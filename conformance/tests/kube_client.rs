//! A Kubernetes client library (kube-rs) against an in-process API server: optimistic
//! concurrency, pagination across concurrent writes, watch resume and 410, bookmarks,
//! streaming lists.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::ObjectMeta;
use ultrak8s_conformance::cluster::TestCluster;

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("v".to_owned(), value.to_owned())])),
        ..ConfigMap::default()
    }
}

/// Every namespace holds the cluster CA's ConfigMap besides what a test writes.
const ROOT_CA: &str = "kube-root-ca.crt";

/// A cluster and its `default` namespace's ConfigMaps, once the root CA publisher has put
/// `kube-root-ca.crt` there (so the tests' watches and lists see only their own objects).
async fn setup() -> (TestCluster, Api<ConfigMap>) {
    let cluster = TestCluster::start().await.expect("cluster");
    let client = cluster.client().await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    ultrak8s_conformance::poll::eventually("kube-root-ca.crt is published", || async {
        api.get_opt(ROOT_CA).await.ok().flatten().is_some()
    })
    .await;
    (cluster, api)
}

fn api_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_update_conflicts_and_a_fresh_one_wins() {
    let (_c, api) = setup().await;
    let created = api
        .create(&PostParams::default(), &config_map("cm", "1"))
        .await
        .expect("create");
    let mut first = created.clone();
    first.data = Some(BTreeMap::from([("v".to_owned(), "2".to_owned())]));
    let updated = api
        .replace("cm", &PostParams::default(), &first)
        .await
        .expect("update");
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );

    // The second writer still holds the first version.
    let mut stale = created;
    stale.data = Some(BTreeMap::from([("v".to_owned(), "3".to_owned())]));
    let error = api
        .replace("cm", &PostParams::default(), &stale)
        .await
        .expect_err("conflict");
    assert_eq!(api_code(&error), Some(409), "{error:?}");
    match &error {
        kube::Error::Api(status) => assert_eq!(status.reason, "Conflict"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        api.get("cm").await.expect("get").data.expect("data")["v"],
        "2"
    );

    let again = api
        .create(&PostParams::default(), &config_map("cm", "x"))
        .await
        .expect_err("exists");
    assert_eq!(api_code(&again), Some(409));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_a_list_stay_at_one_revision_while_others_write() {
    let (_c, api) = setup().await;
    for i in 0..45 {
        api.create(
            &PostParams::default(),
            &config_map(&format!("a{i:02}"), "x"),
        )
        .await
        .expect("create");
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut revision = None;
    let mut pages = 0;
    loop {
        let mut params = ListParams::default().limit(10);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api.list(&params).await.expect("page");
        pages += 1;
        if pages == 1 {
            // 45 of ours and the CA's ConfigMap, 10 on this page.
            assert_eq!(page.metadata.remaining_item_count, Some(36));
        }
        let rv = page.metadata.resource_version.clone();
        assert!(
            revision.is_none() || revision == rv,
            "every page is read at the first page's revision"
        );
        revision = rv;
        names.extend(page.items.into_iter().filter_map(|cm| cm.metadata.name));
        // Writes between pages: a new object sorting in the middle, a delete, an update.
        api.create(
            &PostParams::default(),
            &config_map(&format!("a{pages:02}x"), "new"),
        )
        .await
        .expect("create between pages");
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    assert_eq!(pages, 5);
    names.retain(|n| n != ROOT_CA);
    let expected: Vec<String> = (0..45).map(|i| format!("a{i:02}")).collect();
    assert_eq!(
        names, expected,
        "the list is the snapshot of the first page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_from_a_resource_version_and_gets_410_below_compaction() {
    let (c, api) = setup().await;
    api.create(&PostParams::default(), &config_map("w0", "0"))
        .await
        .expect("create");
    let list = api.list(&ListParams::default()).await.expect("list");
    let from = list.metadata.resource_version.expect("rv");
    for i in 1..=3 {
        api.create(&PostParams::default(), &config_map(&format!("w{i}"), "x"))
            .await
            .expect("create");
    }
    api.delete("w1", &Default::default()).await.expect("delete");
    let stream = api
        .watch(&WatchParams::default().timeout(5), &from)
        .await
        .expect("watch");
    let events: Vec<_> = stream.take(4).try_collect().await.expect("events");
    let seen: Vec<String> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(cm) => {
                format!("ADDED {}", cm.metadata.name.clone().unwrap_or_default())
            }
            WatchEvent::Deleted(cm) => {
                format!("DELETED {}", cm.metadata.name.clone().unwrap_or_default())
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(seen, ["ADDED w1", "ADDED w2", "ADDED w3", "DELETED w1"]);
    if let WatchEvent::Deleted(cm) = &events[3] {
        // The delete carries the deletion's revision, so resuming from it does not replay it.
        let rv: u64 = cm
            .metadata
            .resource_version
            .as_deref()
            .unwrap_or("0")
            .parse()
            .expect("rv");
        let created: u64 = match &events[0] {
            WatchEvent::Added(cm) => cm
                .metadata
                .resource_version
                .as_deref()
                .unwrap_or("0")
                .parse()
                .expect("rv"),
            _ => 0,
        };
        assert!(rv > created);
    }

    // Compact past `from`: the cache's history still reaches back, but a start below the
    // store's compaction and outside the cache gets 410 Gone.
    for i in 0..20 {
        api.create(
            &PostParams::default(),
            &config_map(&format!("fill{i}"), "x"),
        )
        .await
        .expect("create");
    }
    let now = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let now = ultrak8s_store::types::Revision::new(now.parse().expect("number")).expect("nonzero");
    c.store.compact(now).await.expect("compact");
    let ancient = "1";
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), ancient)
        .await
        .expect("watch")
        .boxed();
    let mut got_gone = false;
    while let Some(event) = stream.next().await {
        if let Ok(WatchEvent::Error(status)) = event {
            assert_eq!(status.code, 410);
            got_gone = true;
            break;
        }
    }
    assert!(
        got_gone,
        "a watch from a compacted revision ends with 410 Gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_and_streaming_lists() {
    let (_c, api) = setup().await;
    for i in 0..3 {
        api.create(&PostParams::default(), &config_map(&format!("s{i}"), "x"))
            .await
            .expect("create");
    }
    // Streaming list: the current objects (ours and the CA's ConfigMap) as ADDED, then the
    // bookmark that ends them.
    let params = WatchParams::default().initial_events().timeout(4);
    let stream = api.watch(&params, "").await.expect("streaming list");
    let events: Vec<_> = stream.take(5).try_collect().await.expect("events");
    assert!(
        events[..4]
            .iter()
            .all(|e| matches!(e, WatchEvent::Added(_))),
        "{events:?}"
    );
    match &events[4] {
        WatchEvent::Bookmark(bookmark) => {
            assert_eq!(
                bookmark
                    .metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str),
                Some("true")
            );
        }
        other => panic!("expected the initial-events-end bookmark, got {other:?}"),
    }

    // An idle watch with bookmarks gets one before it times out.
    let list = api.list(&ListParams::default()).await.expect("list");
    let rv = list.metadata.resource_version.expect("rv");
    let started = std::time::Instant::now();
    let stream = api
        .watch(&WatchParams::default().timeout(3), &rv)
        .await
        .expect("watch");
    let events: Vec<_> = stream.try_collect().await.expect("events");
    assert!(
        events.iter().any(
            |e| matches!(e, WatchEvent::Bookmark(b) if !b.metadata.resource_version.is_empty())
        ),
        "{events:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_field_validation_reports_unknown_and_duplicate_fields() {
    let (c, _api) = setup().await;
    let client = c.client().await.expect("client");
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"d2"},"data":{"a":"1"},"extra":true}"#;
    let post = |validation: &str| {
        http::Request::builder()
            .method("POST")
            .uri(format!(
                "/api/v1/namespaces/default/configmaps?fieldValidation={validation}"
            ))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .expect("request")
    };
    let error = client
        .request_text(post("Strict"))
        .await
        .expect_err("strict refuses");
    match &error {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 400);
            assert!(
                status.message.contains("unknown field \"extra\""),
                "{}",
                status.message
            );
            assert!(
                status.message.contains("duplicate field \"metadata.name\""),
                "{}",
                status.message
            );
        }
        other => panic!("{other:?}"),
    }
    let list = Api::<ConfigMap>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("list");
    assert!(
        list.items
            .iter()
            .all(|cm| cm.metadata.name.as_deref() == Some(ROOT_CA)),
        "nothing was written"
    );
    // Ignore accepts it: the last value of a repeated key wins, the unknown field is dropped.
    let created = client
        .request_text(post("Ignore"))
        .await
        .expect("ignore accepts");
    let created: serde_json::Value = serde_json::from_str(&created).expect("json");
    assert_eq!(created["metadata"]["name"], "d2");
    assert!(created.get("extra").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_written_only_through_its_subresource() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Patch, PatchParams};
    let c = TestCluster::start().await.expect("cluster");
    let pods: Api<Pod> = Api::namespaced(c.client().await.expect("client"), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }))
    .expect("pod");
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let status = created.status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    let spec = created.spec.expect("spec");
    assert_eq!(
        spec.restart_policy.as_deref(),
        Some("Always"),
        "defaults applied"
    );

    let running = serde_json::json!({"status": {"phase": "Running", "podIP": "10.0.0.7"}});
    pods.patch_status("p", &PatchParams::default(), &Patch::Merge(&running))
        .await
        .expect("status patch");
    // A main-resource patch cannot change status, but it may change labels.
    let sneaky =
        serde_json::json!({"metadata": {"labels": {"a": "b"}}, "status": {"phase": "Failed"}});
    pods.patch("p", &PatchParams::default(), &Patch::Merge(&sneaky))
        .await
        .expect("patch");
    let now = pods.get("p").await.expect("get");
    assert_eq!(now.status.and_then(|s| s.phase).as_deref(), Some("Running"));
    assert_eq!(now.metadata.labels.expect("labels")["a"], "b");
    let by_field = pods
        .list(&ListParams::default().fields("status.phase=Running"))
        .await
        .expect("field selector");
    assert_eq!(by_field.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_without_a_resource_version_all_apply() {
    use kube::api::{Patch, PatchParams};
    let (_c, api) = setup().await;
    api.create(&PostParams::default(), &config_map("shared", "0"))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let patch = serde_json::json!({"metadata": {"labels": {format!("l{i}"): "x"}}});
            api.patch("shared", &PatchParams::default(), &Patch::Merge(&patch))
                .await
        }));
    }
    for task in tasks {
        task.await
            .expect("join")
            .expect("a patch without a resourceVersion never conflicts");
    }
    let labels = api
        .get("shared")
        .await
        .expect("get")
        .metadata
        .labels
        .expect("labels");
    assert_eq!(labels.len(), 16);

    // With a resourceVersion in the patch, a stale one is a conflict.
    let stale = serde_json::json!({"metadata": {"resourceVersion": "1", "labels": {"z": "z"}}});
    let error = api
        .patch("shared", &PatchParams::default(), &Patch::Merge(&stale))
        .await
        .expect_err("stale");
    assert_eq!(api_code(&error), Some(409));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_a_quiet_list_count_down_what_remains() {
    let (_c, api) = setup().await;
    for i in 0..25 {
        api.create(
            &PostParams::default(),
            &config_map(&format!("q{i:02}"), "x"),
        )
        .await
        .expect("create");
    }
    let mut remaining = Vec::new();
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(10);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api.list(&params).await.expect("page");
        remaining.push(page.metadata.remaining_item_count);
        names.extend(page.items.into_iter().filter_map(|cm| cm.metadata.name));
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    // 25 of ours and the CA's ConfigMap.
    assert_eq!(remaining, [Some(16), Some(6), None]);
    names.retain(|n| n != ROOT_CA);
    assert_eq!(
        names,
        (0..25).map(|i| format!("q{i:02}")).collect::<Vec<_>>()
    );
}

//! The store's etcd API through the Rust `etcd-client` crate: the calls a program (such as a
//! Kubernetes API server) makes, and the typed errors it matches on.

mod common;

use std::time::Duration;

use common::EtcdServer;
use etcd_client::{
    Compare, CompareOp, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
};

/// The next response of a watch stream, failing the test after 20 s.
async fn next_response(stream: &mut etcd_client::WatchStream) -> etcd_client::WatchResponse {
    tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("a watch response in time")
        .expect("stream ok")
        .expect("stream open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_and_txn_through_a_client_library() {
    let server = EtcdServer::start().await;
    let mut client = server.client().await;
    let put = client
        .put("/registry/pods/ns/a", "1", None)
        .await
        .expect("put");
    let created = put.header().expect("header").revision();
    let txn = Txn::new()
        .when([Compare::mod_revision(
            "/registry/pods/ns/a",
            CompareOp::Equal,
            created,
        )])
        .and_then([
            TxnOp::put("/registry/pods/ns/a", "2", None),
            TxnOp::get("/registry/pods/ns/a", None),
        ])
        .or_else([TxnOp::get("/registry/pods/ns/a", None)]);
    let response = client.txn(txn.clone()).await.expect("txn");
    assert!(response.succeeded());
    let again = client.txn(txn).await.expect("txn");
    assert!(!again.succeeded(), "mod_revision moved on");
    let got = client
        .get("/registry/pods/", Some(GetOptions::new().with_prefix()))
        .await
        .expect("get");
    assert_eq!(got.kvs()[0].value(), b"2");
    assert_eq!(got.kvs()[0].version(), 2);
    client
        .put("/registry/pods/ns/b", "1", None)
        .await
        .expect("put");
    let counted = client
        .get(
            "/registry/pods/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .expect("count");
    assert_eq!((counted.count(), counted.kvs().len()), (2, 0));
    let prev = client
        .put(
            "/registry/pods/ns/a",
            "3",
            Some(PutOptions::new().with_prev_key()),
        )
        .await
        .expect("put");
    assert_eq!(prev.prev_key().expect("prev kv").value(), b"2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_with_prev_kv_filters_and_progress() {
    let server = EtcdServer::start().await;
    let mut client = server.client().await;
    let options = WatchOptions::new()
        .with_prefix()
        .with_prev_key()
        .with_progress_notify();
    let mut stream = client
        .watch("/registry/leases/", Some(options))
        .await
        .expect("watch");
    client
        .put("/registry/leases/ns/l", "a", None)
        .await
        .expect("put");
    client
        .put("/registry/leases/ns/l", "b", None)
        .await
        .expect("put");
    let mut events = Vec::new();
    while events.len() < 2 {
        let response = next_response(&mut stream).await;
        for event in response.events() {
            let prev = event.prev_kv().map(|kv| kv.value().to_vec());
            events.push((
                event.event_type(),
                event.kv().expect("kv").value().to_vec(),
                prev,
            ));
        }
    }
    assert_eq!(
        events,
        vec![
            (EventType::Put, b"a".to_vec(), None),
            (EventType::Put, b"b".to_vec(), Some(b"a".to_vec()))
        ]
    );
    // Asked-for progress: an empty response whose header revision covers both puts.
    stream.request_progress().await.expect("progress request");
    let progress = loop {
        let response = next_response(&mut stream).await;
        if response.events().is_empty() && !response.created() {
            break response;
        }
    };
    assert_eq!(progress.header().expect("header").revision(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_a_compacted_revision_cancels_with_the_compaction_point() {
    let server = EtcdServer::start().await;
    let mut client = server.client().await;
    for value in ["1", "2", "3"] {
        client.put("/registry/c/k", value, None).await.expect("put");
    }
    client.compact(3, None).await.expect("compact");
    let mut stream = client
        .watch(
            "/registry/c/k",
            Some(WatchOptions::new().with_start_revision(2)),
        )
        .await
        .expect("watch call");
    let canceled = loop {
        let response = next_response(&mut stream).await;
        if response.canceled() {
            break response;
        }
    };
    assert_eq!(canceled.compact_revision(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_keep_alive_stream_and_expiry() {
    let server = EtcdServer::start().await;
    let mut client = server.client().await;
    let lease = client.lease_grant(2, None).await.expect("grant");
    client
        .put(
            "/registry/events/ns/e",
            "v",
            Some(PutOptions::new().with_lease(lease.id())),
        )
        .await
        .expect("put with lease");
    let (mut keeper, mut responses) = client
        .lease_keep_alive(lease.id())
        .await
        .expect("keep alive");
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        keeper.keep_alive().await.expect("send keep alive");
        let response = responses
            .message()
            .await
            .expect("stream ok")
            .expect("response");
        assert_eq!(response.ttl(), 2);
    }
    assert_eq!(
        client
            .get("/registry/events/ns/e", None)
            .await
            .expect("get")
            .count(),
        1,
        "kept alive"
    );
    drop(keeper);
    // The last keep-alive gave it 2 s; the sweeper runs every 0.5 s; 4 s leaves room on a
    // loaded 2-core machine.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        client
            .get("/registry/events/ns/e", None)
            .await
            .expect("get")
            .count(),
        0,
        "expired"
    );
    let ttl = client
        .lease_time_to_live(lease.id(), None)
        .await
        .expect("time to live");
    assert_eq!(ttl.ttl(), -1, "etcd reports an unknown lease with TTL -1");
}

/// A client that reads nothing while thousands of writes happen: the server's per-stream
/// queue fills, its watcher falls behind the live fan-out and catches up from history, and the
/// client still gets every event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_client_that_stops_reading_loses_nothing() {
    let server = EtcdServer::start().await;
    let mut client = server.client().await;
    let mut stream = client
        .watch(
            "/registry/configmaps/",
            Some(WatchOptions::new().with_prefix()),
        )
        .await
        .expect("watch");
    let writes = 6_000u64;
    let mut writer = server.client().await;
    for i in 0..writes {
        writer
            .put(
                format!("/registry/configmaps/ns/c{}", i % 50),
                vec![b'x'; 256],
                None,
            )
            .await
            .expect("put");
    }
    let mut next_revision = 2;
    while next_revision < writes as i64 + 2 {
        let response = next_response(&mut stream).await;
        for event in response.events() {
            assert_eq!(
                event.kv().expect("kv").mod_revision(),
                next_revision,
                "in order, no gap"
            );
            next_revision += 1;
        }
    }
}

//! Watches (live, from history, after lagging, across compaction) and leases (grant, attach,
//! keep-alive, expiry deleting keys) through the store's own API.

mod common;

use std::time::Duration;

use common::*;
use ultrak8s_store::{Change, KeyRange, LeaseId, Op, PutRequest, StoreError, TxnRequest};

const PODS: &str = "/registry/pods/default/";

#[tokio::test]
async fn a_watcher_sees_history_then_live_events_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    put(&store, &format!("{PODS}a"), "1").await;
    put(&store, &format!("{PODS}a"), "2").await;
    let mut watcher = store
        .watch(KeyRange::prefix(b(PODS)), Some(rev(2)))
        .expect("watch");
    put(&store, &format!("{PODS}b"), "1").await;
    delete(&store, KeyRange::Single(b(&format!("{PODS}a")))).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let batch = tokio::time::timeout(Duration::from_secs(5), watcher.next())
            .await
            .expect("event in time")
            .expect("no error");
        for event in batch.events {
            let kind = match event.change {
                Change::Put(_) => "put",
                Change::Delete => "delete",
            };
            let prev = event
                .prev
                .map(|p| String::from_utf8(p.value.to_vec()).expect("utf8"));
            seen.push((batch.revision.get(), kind, prev));
        }
    }
    assert_eq!(
        seen,
        vec![
            (2, "put", None),
            (3, "put", Some("1".into())),
            (4, "put", None),
            (5, "delete", Some("2".into())),
        ]
    );
    assert_eq!(
        watcher.progress(),
        Some(rev(5)),
        "synced after handing out everything"
    );
}

#[tokio::test]
async fn a_watcher_that_falls_far_behind_catches_up_without_losing_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path(), ultrak8s_store::Durability::None);
    config.snapshot_bytes = 0;
    let store = ultrak8s_store::Store::open(config).await.expect("open");
    let mut watcher = store.watch(KeyRange::prefix(b(PODS)), None).expect("watch");
    // Far more revisions than the live fan-out holds (4,096) while nobody reads.
    let writes = 10_000;
    for i in 0..writes {
        put(&store, &format!("{PODS}p{}", i % 100), &i.to_string()).await;
    }
    let mut next = 2;
    while next < writes + 2 {
        let batch = watcher.next().await.expect("no error");
        assert_eq!(batch.revision.get(), next, "no gap, no duplicate");
        next += 1;
    }
}

#[tokio::test]
async fn watching_below_compaction_is_refused_with_the_compaction_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    for i in 0..4 {
        put(&store, &format!("{PODS}a"), &i.to_string()).await;
    }
    store.compact(rev(4)).await.expect("compact");
    match store.watch(KeyRange::prefix(b(PODS)), Some(rev(2))) {
        Err(StoreError::Compacted { compact_revision }) => assert_eq!(compact_revision, rev(4)),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("watch below compaction was accepted"),
    }
    assert!(store.watch(KeyRange::prefix(b(PODS)), Some(rev(4))).is_ok());
}

/// Real time, not paused: the journal completes writes on its own thread, and a paused clock
/// would jump past the TTLs while waiting for it.
#[tokio::test]
async fn an_expired_lease_deletes_its_keys_and_keep_alive_prevents_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    let (short, ttl) = store.leases().grant(None, 1).await.expect("grant");
    assert_eq!(ttl, 2, "raised to etcd's minimum TTL");
    let (kept, _) = store
        .leases()
        .grant(LeaseId::new(77), 3)
        .await
        .expect("grant with id");
    assert!(matches!(
        store.leases().grant(LeaseId::new(77), 3).await,
        Err(StoreError::LeaseExists)
    ));
    for (key, lease) in [
        ("/registry/events/ns/e1", short),
        (&format!("{PODS}p") as &str, short),
        ("/registry/events/ns/e2", kept),
    ] {
        let mut put = PutRequest::new(b(key), b("v"));
        put.lease = Some(lease);
        store
            .txn(&TxnRequest::single(Op::Put(put)))
            .await
            .expect("put with lease");
    }
    let status = store
        .leases()
        .time_to_live(short, true)
        .expect("lease exists");
    assert_eq!(status.keys.len(), 2);
    for _ in 0..9 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        store.leases().keep_alive(kept).expect("keep alive");
    }
    assert!(
        get(&store, "/registry/events/ns/e1").is_none(),
        "expired with its lease"
    );
    assert!(
        get(&store, &format!("{PODS}p")).is_none(),
        "in another partition too"
    );
    assert!(
        get(&store, "/registry/events/ns/e2").is_some(),
        "kept alive"
    );
    assert!(store.leases().time_to_live(short, false).is_none());
    assert!(matches!(
        store.leases().keep_alive(short),
        Err(StoreError::LeaseNotFound)
    ));
    store.revoke_lease(kept).await.expect("revoke");
    assert!(get(&store, "/registry/events/ns/e2").is_none());
    assert!(matches!(
        store.revoke_lease(kept).await,
        Err(StoreError::LeaseNotFound)
    ));
}

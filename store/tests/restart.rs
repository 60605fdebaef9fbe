//! Durability through restarts: the journal replays every acknowledged write, compaction and
//! lease, also across snapshots; the `none` mode keeps nothing.

mod common;

use common::*;
use ultrak8s_store::{
    Durability, KeyRange, LeaseId, Op, PutRequest, RangeRequest, Store, TxnRequest,
};

#[tokio::test]
async fn every_acknowledged_write_survives_a_restart() {
    for durability in [Durability::Fsync, Durability::Buffered] {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(config(dir.path(), durability))
                .await
                .expect("open");
            for i in 0..100 {
                put(
                    &store,
                    &format!("/registry/configmaps/ns/c{i}"),
                    &i.to_string(),
                )
                .await;
            }
            delete(&store, KeyRange::Single(b("/registry/configmaps/ns/c7"))).await;
            store.compact(rev(50)).await.expect("compact");
            let (lease, _) = store
                .leases()
                .grant(LeaseId::new(9), 3600)
                .await
                .expect("grant");
            let mut leased = PutRequest::new(b("/registry/events/ns/e"), b("v"));
            leased.lease = Some(lease);
            store
                .txn(&TxnRequest::single(Op::Put(leased)))
                .await
                .expect("put");
            store.close().await.expect("close");
        }
        let store = Store::open(config(dir.path(), durability))
            .await
            .expect("reopen");
        let mut all = RangeRequest::new(KeyRange::prefix(b("/registry/configmaps/")));
        all.count_only = true;
        let (revision, response) = store.range(&all).expect("range");
        assert_eq!((revision, response.count), (rev(102), 99), "{durability}");
        assert_eq!(
            value(&store, "/registry/configmaps/ns/c42").as_deref(),
            Some("42")
        );
        assert_eq!(
            store
                .partition_for_key(b"/registry/configmaps/x")
                .compacted(),
            Some(rev(50))
        );
        let status = store
            .leases()
            .time_to_live(LeaseId::new(9).expect("id"), true)
            .expect("lease");
        assert_eq!(
            status.keys,
            vec![b("/registry/events/ns/e")],
            "{durability}"
        );
        // Writing continues from the recovered revision.
        assert_eq!(
            put(&store, "/registry/configmaps/ns/next", "n")
                .await
                .revision,
            rev(103)
        );
    }
}

#[tokio::test]
async fn snapshots_bound_the_journal_and_restore_the_same_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path(), Durability::Buffered);
    cfg.snapshot_bytes = 64 * 1024;
    cfg.segment_bytes = 16 * 1024;
    {
        let store = Store::open(cfg.clone()).await.expect("open");
        for i in 0..2_000 {
            put(
                &store,
                &format!("/registry/configmaps/ns/c{}", i % 300),
                &format!("{i:0100}"),
            )
            .await;
        }
        // Let a background snapshot finish before closing.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        store.close().await.expect("close");
    }
    let journal = dir.path().join("journal").join("rest");
    let files: Vec<String> = std::fs::read_dir(&journal)
        .expect("journal dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with(".snap")),
        "a snapshot was written: {files:?}"
    );
    let segments = files.iter().filter(|f| f.ends_with(".seg")).count();
    assert!(segments < 20, "old segments were dropped, {segments} left");
    let store = Store::open(cfg).await.expect("reopen");
    let (revision, response) = store
        .range(&RangeRequest::new(KeyRange::prefix(b(
            "/registry/configmaps/",
        ))))
        .expect("range");
    assert_eq!((revision, response.kvs.len()), (rev(2_001), 300));
    assert_eq!(
        value(&store, "/registry/configmaps/ns/c299").expect("c299"),
        format!("{:0100}", 1_799)
    );
    let kv = get(&store, "/registry/configmaps/ns/c0").expect("c0");
    assert_eq!(
        (kv.create_revision, kv.version),
        (rev(2), 7),
        "history metadata survives"
    );
}

#[tokio::test]
async fn durability_none_keeps_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(config(dir.path(), Durability::None))
            .await
            .expect("open");
        put(&store, "/registry/configmaps/ns/a", "1").await;
        store.close().await.expect("close");
    }
    let store = Store::open(config(dir.path(), Durability::None))
        .await
        .expect("reopen");
    assert!(get(&store, "/registry/configmaps/ns/a").is_none());
}

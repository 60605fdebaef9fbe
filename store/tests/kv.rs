//! etcd's KV semantics through the store's own API: revisions, versions, ranges, transactions,
//! compaction, partitions, and the errors a client expects for bad input.

mod common;

use std::num::NonZeroU64;

use common::*;
use ultrak8s_store::{
    Compare, CompareResult, CompareTarget, KeyRange, Op, OpResponse, PutRequest, RangeRequest,
    SortOrder, SortTarget, StoreError, TxnRequest,
};

const CM: &str = "/registry/configmaps/default/";

fn cm(name: &str) -> String {
    format!("{CM}{name}")
}

#[tokio::test]
async fn revisions_versions_and_create_revisions_follow_etcd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    assert_eq!(
        put(&store, &cm("a"), "1").await.revision,
        rev(2),
        "empty store is at r1"
    );
    put(&store, &cm("a"), "2").await;
    let kv = get(&store, &cm("a")).expect("a exists");
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (rev(2), rev(3), 2)
    );
    delete(&store, KeyRange::Single(b(&cm("a")))).await;
    assert!(get(&store, &cm("a")).is_none());
    put(&store, &cm("a"), "3").await;
    let kv = get(&store, &cm("a")).expect("a exists again");
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (rev(5), rev(5), 1)
    );
    // A delete that deletes nothing does not take a revision.
    let response = delete(&store, KeyRange::Single(b(&cm("missing")))).await;
    assert_eq!(response.revision, rev(5));
}

#[tokio::test]
async fn ranges_limit_count_sort_keys_only_and_read_the_past() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    for (name, value) in [("c", "1"), ("a", "3"), ("b", "2")] {
        put(&store, &cm(name), value).await;
    }
    let mut req = RangeRequest::new(KeyRange::prefix(b(CM)));
    req.limit = NonZeroU64::new(2);
    let (revision, response) = store.range(&req).expect("range");
    assert_eq!(revision, rev(4));
    assert_eq!(keys(&response.kvs), [cm("a"), cm("b")]);
    assert!(response.more);
    assert_eq!(response.count, 3);

    req.limit = None;
    req.sort_order = SortOrder::Descend;
    req.sort_target = SortTarget::Value;
    req.keys_only = true;
    let (_, response) = store.range(&req).expect("range");
    assert_eq!(
        keys(&response.kvs),
        [cm("a"), cm("b"), cm("c")],
        "values 3, 2, 1"
    );
    assert!(response.kvs.iter().all(|kv| kv.value.is_empty()));

    let mut past = RangeRequest::new(KeyRange::prefix(b(CM)));
    past.revision = Some(rev(2));
    let (_, response) = store.range(&past).expect("range at r2");
    assert_eq!(keys(&response.kvs), [cm("c")]);

    let mut count = RangeRequest::new(KeyRange::prefix(b(CM)));
    count.count_only = true;
    let (_, response) = store.range(&count).expect("count");
    assert_eq!((response.count, response.kvs.len()), (3, 0));

    let inverted = KeyRange::Interval {
        start: b(&cm("z")),
        end: Some(b(&cm("a"))),
    };
    let (_, response) = store
        .range(&RangeRequest::new(inverted))
        .expect("inverted range");
    assert_eq!(response.count, 0, "an inverted range is empty, as in etcd");
}

#[tokio::test]
async fn transactions_compare_then_branch_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    put(&store, &cm("x"), "1").await;
    let cas = |expected: u64, value: &str| TxnRequest {
        compare: vec![Compare {
            range: KeyRange::Single(b(&cm("x"))),
            result: CompareResult::Equal,
            target: CompareTarget::ModRevision(expected),
        }],
        success: vec![
            Op::Put(PutRequest::new(b(&cm("x")), b(value))),
            Op::Put(PutRequest::new(b(&cm("y")), b(value))),
            Op::Range(RangeRequest::new(KeyRange::prefix(b(CM)))),
        ],
        failure: vec![Op::Range(RangeRequest::new(KeyRange::Single(b(&cm("x")))))],
    };
    let won = store.txn(&cas(2, "2")).await.expect("txn");
    assert!(won.succeeded);
    assert_eq!(
        won.revision,
        rev(3),
        "one revision for the whole transaction"
    );
    let seen = range_response(&won, 2);
    assert_eq!(
        keys(&seen.kvs),
        [cm("x"), cm("y")],
        "later ops see earlier ones"
    );
    let lost = store.txn(&cas(2, "3")).await.expect("txn");
    assert!(!lost.succeeded);
    assert_eq!(range_response(&lost, 0).kvs[0].mod_revision, rev(3));
    assert_eq!(value(&store, &cm("x")).as_deref(), Some("2"));

    // A value compare on a missing key fails; a version compare sees version 0.
    let missing = |target| TxnRequest {
        compare: vec![Compare {
            range: KeyRange::Single(b(&cm("none"))),
            result: CompareResult::Equal,
            target,
        }],
        success: vec![],
        failure: vec![],
    };
    assert!(
        !store
            .txn(&missing(CompareTarget::Value(b(""))))
            .await
            .expect("txn")
            .succeeded
    );
    assert!(
        store
            .txn(&missing(CompareTarget::Version(0)))
            .await
            .expect("txn")
            .succeeded
    );
}

#[tokio::test]
async fn bad_requests_get_etcds_errors_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    put(&store, &cm("a"), "1").await;
    let two_puts = TxnRequest {
        success: vec![
            Op::Put(PutRequest::new(b(&cm("b")), b("1"))),
            Op::Put(PutRequest::new(b(&cm("b")), b("2"))),
        ],
        ..Default::default()
    };
    type Case = (&'static str, TxnRequest, fn(&StoreError) -> bool);
    let cases: Vec<Case> = vec![
        (
            "empty key",
            TxnRequest::single(Op::Put(PutRequest::new(b(""), b("v")))),
            |e| matches!(e, StoreError::EmptyKey),
        ),
        ("duplicate key", two_puts, |e| {
            matches!(e, StoreError::DuplicateKey)
        }),
        (
            "too large",
            TxnRequest::single(Op::Put(PutRequest::new(b(&cm("big")), vec![0u8; 2 << 20]))),
            |e| matches!(e, StoreError::RequestTooLarge),
        ),
        (
            "unknown lease",
            {
                let mut put = PutRequest::new(b(&cm("l")), b("v"));
                put.lease = ultrak8s_store::LeaseId::new(42);
                TxnRequest::single(Op::Put(put))
            },
            |e| matches!(e, StoreError::LeaseNotFound),
        ),
        (
            "ignore_value on a missing key",
            {
                let mut put = PutRequest::new(b(&cm("nope")), b(""));
                put.ignore_value = true;
                TxnRequest::single(Op::Put(put))
            },
            |e| matches!(e, StoreError::KeyNotFound),
        ),
        (
            "too many ops",
            TxnRequest {
                success: (0..129)
                    .map(|i| Op::Range(RangeRequest::new(KeyRange::Single(b(&cm(&i.to_string()))))))
                    .collect(),
                ..Default::default()
            },
            |e| matches!(e, StoreError::TooManyOps),
        ),
        (
            "spans partitions",
            TxnRequest {
                success: vec![
                    Op::Put(PutRequest::new(b("/registry/pods/default/p"), b("1"))),
                    Op::Put(PutRequest::new(b(&cm("c")), b("1"))),
                ],
                ..Default::default()
            },
            |e| matches!(e, StoreError::CrossPartition { .. }),
        ),
    ];
    for (name, txn, expected) in cases {
        let error = store.txn(&txn).await.expect_err(name);
        assert!(expected(&error), "{name}: got {error}");
    }
    let (revision, response) = store
        .range(&RangeRequest::new(KeyRange::prefix(b(CM))))
        .expect("range");
    assert_eq!(
        (revision, keys(&response.kvs)),
        (rev(2), vec![cm("a")]),
        "nothing half-written"
    );
    let pods = store
        .range(&RangeRequest::new(KeyRange::prefix(b("/registry/pods/"))))
        .expect("range");
    assert_eq!(pods.1.count, 0);

    let mut future = RangeRequest::new(KeyRange::Single(b(&cm("a"))));
    future.revision = Some(rev(99));
    assert!(matches!(
        store.range(&future),
        Err(StoreError::FutureRevision { .. })
    ));
    let everything = RangeRequest::new(KeyRange::Interval {
        start: b("\0"),
        end: None,
    });
    assert!(matches!(
        store.range(&everything),
        Err(StoreError::CrossPartition { .. })
    ));
}

#[tokio::test]
async fn compaction_makes_old_revisions_unreadable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    for value in ["1", "2", "3"] {
        put(&store, &cm("k"), value).await;
    }
    store.compact(rev(3)).await.expect("compact");
    let mut at = RangeRequest::new(KeyRange::Single(b(&cm("k"))));
    at.revision = Some(rev(2));
    assert!(
        matches!(store.range(&at), Err(StoreError::Compacted { compact_revision }) if compact_revision == rev(3))
    );
    at.revision = Some(rev(3));
    let (_, response) = store.range(&at).expect("read at the compaction point");
    assert_eq!(response.kvs[0].value.as_ref(), b"2");
    assert!(matches!(
        store.compact(rev(3)).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        store.compact(rev(50)).await,
        Err(StoreError::FutureRevision { .. })
    ));
}

#[tokio::test]
async fn partitions_have_independent_revisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    for i in 0..5 {
        put(&store, &format!("/registry/events/default/e{i}"), "x").await;
    }
    let response = put(&store, "/registry/minions/node-1", "n").await;
    assert_eq!(
        response.revision,
        rev(2),
        "five events did not advance the nodes partition"
    );
    let names: Vec<&str> = store.partitions().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["events", "leases", "pods", "nodes", "rest"]);
    let pods = store.partition_for_key(b"/registry/pods/ns/p");
    assert_eq!(pods.name(), "pods");
    assert_eq!(store.partition_for_key(b"/registry/podsx").name(), "rest");
    let txn_reply = store
        .txn(&TxnRequest::single(Op::Range(RangeRequest::new(
            KeyRange::prefix(b("/registry/events/")),
        ))))
        .await
        .expect("read-only txn");
    assert!(matches!(&txn_reply.responses[0], OpResponse::Range(r) if r.count == 5));
}

#[tokio::test]
async fn nested_transactions_share_one_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    let inner = TxnRequest {
        compare: vec![Compare {
            range: KeyRange::Single(b(&cm("outer"))),
            result: CompareResult::Greater,
            target: CompareTarget::Version(0),
        }],
        success: vec![Op::Put(PutRequest::new(b(&cm("inner")), b("yes")))],
        failure: vec![Op::Put(PutRequest::new(b(&cm("inner")), b("no")))],
    };
    let outer = TxnRequest {
        success: vec![
            Op::Put(PutRequest::new(b(&cm("outer")), b("1"))),
            Op::Txn(inner),
        ],
        ..Default::default()
    };
    let response = store.txn(&outer).await.expect("txn");
    assert_eq!(response.revision, rev(2));
    match &response.responses[1] {
        OpResponse::Txn(inner) => assert!(inner.succeeded && inner.revision == rev(2)),
        other => panic!("expected a txn response, got {other:?}"),
    }
    // The inner compare saw the outer put of the same transaction.
    assert_eq!(value(&store, &cm("inner")).as_deref(), Some("yes"));
    assert_eq!(
        get(&store, &cm("inner")).expect("inner").mod_revision,
        rev(2)
    );
}

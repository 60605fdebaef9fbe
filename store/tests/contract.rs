//! The narrow contract the API server uses: paginated lists pinned to one revision,
//! optimistic-concurrency writes whose conflicts are values, prefix watches.

mod common;

use std::num::NonZeroU64;

use common::*;
use ultrak8s_store::contract::{KubeStore, Precondition, WriteOutcome};
use ultrak8s_store::{Change, Revision};

const PREFIX: &[u8] = b"/registry/pods/";

async fn create(store: &ultrak8s_store::Store, name: &str) -> Revision {
    let key = b(&format!("/registry/pods/default/{name}"));
    match store
        .put_if(key, b("v1"), Precondition::Absent, None)
        .await
        .expect("create")
    {
        WriteOutcome::Written { revision, .. } => revision,
        other => panic!("create of {name} conflicted: {other:?}"),
    }
}

#[tokio::test]
async fn pages_of_a_list_read_one_revision_however_the_data_moves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    for name in ["a", "b", "c", "d", "e"] {
        create(&store, name).await;
    }
    let limit = NonZeroU64::new(2);
    let first = store.list(PREFIX, None, None, limit).expect("page 1");
    assert_eq!(
        keys(&first.kvs),
        ["/registry/pods/default/a", "/registry/pods/default/b"]
    );
    assert_eq!((first.remaining, first.revision), (3, rev(6)));
    // Writes between pages do not leak into later pages.
    create(&store, "bb").await;
    store
        .delete_if(b("/registry/pods/default/c"), Precondition::None)
        .await
        .expect("delete");
    let from = first.continue_from.expect("more pages");
    let second = store
        .list(PREFIX, Some(&from), Some(first.revision), limit)
        .expect("page 2");
    assert_eq!(
        keys(&second.kvs),
        ["/registry/pods/default/c", "/registry/pods/default/d"]
    );
    let from = second.continue_from.expect("more pages");
    let third = store
        .list(PREFIX, Some(&from), Some(first.revision), limit)
        .expect("page 3");
    assert_eq!(keys(&third.kvs), ["/registry/pods/default/e"]);
    assert_eq!((third.continue_from, third.remaining), (None, 0));
    assert_eq!(
        store.count(PREFIX).expect("count"),
        5,
        "a..e, less c, plus bb"
    );
}

#[tokio::test]
async fn conditional_writes_report_conflicts_with_the_current_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    let created = create(&store, "p").await;
    let key = b("/registry/pods/default/p");
    match store
        .put_if(key.clone(), b("again"), Precondition::Absent, None)
        .await
        .expect("call")
    {
        WriteOutcome::Conflict { current: Some(kv) } => assert_eq!(kv.mod_revision, created),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let updated = match store
        .put_if(
            key.clone(),
            b("v2"),
            Precondition::ModRevision(created),
            None,
        )
        .await
        .expect("call")
    {
        WriteOutcome::Written {
            revision,
            kv: Some(kv),
        } => {
            assert_eq!((kv.value.as_ref(), kv.version), (&b"v2"[..], 2));
            revision
        }
        other => panic!("expected the update to win, got {other:?}"),
    };
    let stale = store
        .delete_if(key.clone(), Precondition::ModRevision(created))
        .await
        .expect("call");
    assert!(
        matches!(stale, WriteOutcome::Conflict { current: Some(ref kv) } if kv.mod_revision == updated)
    );
    let deleted = store
        .delete_if(key.clone(), Precondition::ModRevision(updated))
        .await
        .expect("call");
    assert!(
        matches!(deleted, WriteOutcome::Written { kv: Some(ref kv), .. } if kv.value.as_ref() == b"v2")
    );
    let (_, gone) = store.get(&key).expect("get");
    assert!(gone.is_none());
}

#[tokio::test]
async fn a_prefix_watch_starts_after_the_given_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).await;
    let first = create(&store, "a").await;
    create(&store, "b").await;
    let mut watcher = KubeStore::watch(&*store, PREFIX, Some(first)).expect("watch");
    let batch = watcher.next().await.expect("event");
    assert_eq!(
        batch.revision,
        first.next(),
        "events strictly after the list's revision"
    );
    assert!(matches!(&batch.events[0].change, Change::Put(kv) if kv.key.ends_with(b"/b")));
}

//! The store's etcd API driven by the real etcdctl from Debian's `etcd-client` package: what a
//! person typing etcdctl commands sees.

mod common;

use std::time::Duration;

use common::{EtcdServer, etcdctl};
use tokio::io::AsyncBufReadExt;

async fn ok(endpoint: &str, args: &[&str]) -> String {
    let out = etcdctl(endpoint, args, None).await;
    assert!(out.ok, "etcdctl {args:?} failed: {}", out.stderr);
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_prefix_limit_revision_and_delete() {
    let server = EtcdServer::start().await;
    let e = server.endpoint.as_str();
    assert_eq!(
        ok(e, &["put", "/registry/configmaps/ns/a", "one"])
            .await
            .trim(),
        "OK"
    );
    ok(e, &["put", "/registry/configmaps/ns/b", "two"]).await;
    ok(e, &["put", "/registry/configmaps/ns/a", "uno"]).await;
    assert_eq!(
        ok(e, &["get", "/registry/configmaps/ns/a"]).await,
        "/registry/configmaps/ns/a\nuno\n"
    );
    assert_eq!(
        ok(
            e,
            &["get", "/registry/configmaps/", "--prefix", "--keys-only"]
        )
        .await
        .split_whitespace()
        .collect::<Vec<_>>(),
        ["/registry/configmaps/ns/a", "/registry/configmaps/ns/b"]
    );
    assert_eq!(
        ok(
            e,
            &["get", "/registry/configmaps/", "--prefix", "--limit=1"]
        )
        .await,
        "/registry/configmaps/ns/a\nuno\n"
    );
    assert_eq!(
        ok(e, &["get", "/registry/configmaps/ns/a", "--rev=2"]).await,
        "/registry/configmaps/ns/a\none\n"
    );
    assert_eq!(
        ok(e, &["del", "/registry/configmaps/", "--prefix"])
            .await
            .trim(),
        "2"
    );
    assert_eq!(
        ok(e, &["get", "/registry/configmaps/", "--prefix"]).await,
        ""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_takes_the_branch_its_compares_choose() {
    let server = EtcdServer::start().await;
    let e = server.endpoint.as_str();
    ok(e, &["put", "/registry/x/k", "1"]).await;
    let script = "value(\"/registry/x/k\") = \"1\"\n\nput /registry/x/k 2\nput /registry/x/other yes\n\nput /registry/x/k failed\n\n";
    let out = etcdctl(e, &["txn"], Some(script)).await;
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout, "SUCCESS\n\nOK\n\nOK\n");
    let out = etcdctl(e, &["txn"], Some(script)).await;
    assert_eq!(out.stdout, "FAILURE\n\nOK\n", "the compare no longer holds");
    assert_eq!(
        ok(e, &["get", "/registry/x/k", "--print-value-only"])
            .await
            .trim(),
        "failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_puts_and_deletes_from_a_revision() {
    let server = EtcdServer::start().await;
    let e = server.endpoint.clone();
    ok(&e, &["put", "/registry/pods/ns/a", "1"]).await;
    let mut watch = tokio::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            &format!("--endpoints={e}"),
            "watch",
            "/registry/pods/",
            "--prefix",
            "--rev=2",
            "--prev-kv",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("etcdctl watch");
    ok(&e, &["put", "/registry/pods/ns/a", "2"]).await;
    ok(&e, &["del", "/registry/pods/ns/a"]).await;
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    while seen.len() < 12 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("watch output in time")
            .expect("read")
            .expect("watch still running");
        seen.push(line);
    }
    // The first put (from --rev=2), then the second with its previous value, then the delete
    // with the value it removed.
    assert_eq!(
        seen,
        [
            "PUT",
            "/registry/pods/ns/a",
            "1",
            "PUT",
            "/registry/pods/ns/a",
            "1",
            "/registry/pods/ns/a",
            "2",
            "DELETE",
            "/registry/pods/ns/a",
            "2",
            "/registry/pods/ns/a",
        ]
    );
}

fn lease_id(granted: &str) -> String {
    // "lease 694d7b6e2f0a8c12 granted with TTL(60s)"
    granted
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_grant_attach_keep_alive_and_revoke() {
    let server = EtcdServer::start().await;
    let e = server.endpoint.as_str();
    let granted = ok(e, &["lease", "grant", "60"]).await;
    assert!(granted.ends_with("granted with TTL(60s)\n"), "{granted}");
    let id = lease_id(&granted);
    ok(e, &["put", "--lease", &id, "/registry/events/ns/e", "v"]).await;
    let ttl = ok(e, &["lease", "timetolive", &id, "--keys"]).await;
    assert!(
        ttl.contains("granted with TTL(60s)")
            && ttl.contains("attached keys([/registry/events/ns/e])"),
        "{ttl}"
    );
    let kept = ok(e, &["lease", "keep-alive", "--once", &id]).await;
    assert!(kept.contains("keepalived with TTL(60)"), "{kept}");
    assert!(ok(e, &["lease", "list"]).await.contains(&id));
    assert!(ok(e, &["lease", "revoke", &id]).await.contains("revoked"));
    assert_eq!(
        ok(e, &["get", "/registry/events/ns/e"]).await,
        "",
        "revoking deleted the key"
    );
    let missing = etcdctl(e, &["lease", "revoke", &id], None).await;
    assert!(
        !missing.ok
            && missing
                .stderr
                .contains("etcdserver: requested lease not found"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_and_bad_input_give_etcds_errors() {
    let server = EtcdServer::start().await;
    let e = server.endpoint.as_str();
    for value in ["1", "2", "3"] {
        ok(e, &["put", "/registry/c/k", value]).await;
    }
    assert_eq!(
        ok(e, &["compaction", "3"]).await.trim(),
        "compacted revision 3"
    );
    let old = etcdctl(e, &["get", "/registry/c/k", "--rev=2"], None).await;
    assert!(
        !old.ok
            && old
                .stderr
                .contains("etcdserver: mvcc: required revision has been compacted"),
        "{}",
        old.stderr
    );
    let future = etcdctl(e, &["get", "/registry/c/k", "--rev=99"], None).await;
    assert!(
        !future.ok
            && future
                .stderr
                .contains("required revision is a future revision"),
        "{}",
        future.stderr
    );
    let unknown = etcdctl(
        e,
        &["put", "--lease", "1234abcd", "/registry/c/k", "v"],
        None,
    )
    .await;
    assert!(
        !unknown.ok && unknown.stderr.contains("requested lease not found"),
        "{}",
        unknown.stderr
    );
    let everything = etcdctl(e, &["get", "", "--prefix"], None).await;
    assert!(
        !everything.ok && everything.stderr.contains("spans partitions"),
        "{}",
        everything.stderr
    );
    let huge = "x".repeat(2 << 20);
    let big = etcdctl(e, &["put", "/registry/c/big"], Some(&huge)).await;
    assert!(!big.ok, "a 2 MiB value is refused");
    // The server is still up and nothing was half-written.
    assert_eq!(
        ok(e, &["get", "/registry/c/k", "--print-value-only"])
            .await
            .trim(),
        "3"
    );
    let status = ok(e, &["endpoint", "status", "-w", "fields"]).await;
    assert!(status.contains("\"Version\" : \"3.6.0\""), "{status}");
}

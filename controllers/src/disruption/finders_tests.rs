use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetSpec, StatefulSetSpec};
use k8s_openapi::api::autoscaling::v1::ScaleSpec;
use k8s_openapi::api::core::v1::ReplicationControllerSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

#[derive(Default)]
struct Informers {
    rcs: BTreeMap<String, Arc<ReplicationController>>,
    rss: BTreeMap<String, Arc<ReplicaSet>>,
    deployments: BTreeMap<String, Arc<Deployment>>,
    stateful_sets: BTreeMap<String, Arc<StatefulSet>>,
}

impl Workloads for Informers {
    fn replication_controller(&self, name: &str) -> Option<Arc<ReplicationController>> {
        self.rcs.get(name).cloned()
    }
    fn replica_set(&self, name: &str) -> Option<Arc<ReplicaSet>> {
        self.rss.get(name).cloned()
    }
    fn deployment(&self, name: &str) -> Option<Arc<Deployment>> {
        self.deployments.get(name).cloned()
    }
    fn stateful_set(&self, name: &str) -> Option<Arc<StatefulSet>> {
        self.stateful_sets.get(name).cloned()
    }
}

fn owner(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn meta(name: &str, uid: &str, controller: Option<OwnerReference>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("default".into()),
        uid: Some(uid.into()),
        owner_references: controller.map(|c| vec![c]),
        ..Default::default()
    }
}

fn rs(
    name: &str,
    uid: &str,
    replicas: Option<i32>,
    controller: Option<OwnerReference>,
) -> Arc<ReplicaSet> {
    Arc::new(ReplicaSet {
        metadata: meta(name, uid, controller),
        spec: Some(ReplicaSetSpec {
            replicas,
            ..Default::default()
        }),
        status: None,
    })
}

fn informers() -> Informers {
    let mut w = Informers::default();
    w.rcs.insert(
        "rc".into(),
        Arc::new(ReplicationController {
            metadata: meta("rc", "rc-uid", None),
            spec: Some(ReplicationControllerSpec {
                replicas: Some(4),
                ..Default::default()
            }),
            status: None,
        }),
    );
    w.rss
        .insert("bare".into(), rs("bare", "bare-uid", Some(3), None));
    w.rss.insert(
        "defaulted".into(),
        rs("defaulted", "defaulted-uid", None, None),
    );
    let dep = owner("apps/v1", "Deployment", "web", "web-uid");
    w.rss.insert(
        "web-1".into(),
        rs("web-1", "web-1-uid", Some(2), Some(dep.clone())),
    );
    w.rss
        .insert("web-2".into(), rs("web-2", "web-2-uid", Some(0), Some(dep)));
    let orphaned = owner("apps/v1", "Deployment", "gone", "gone-uid");
    w.rss.insert(
        "orphan".into(),
        rs("orphan", "orphan-uid", Some(2), Some(orphaned)),
    );
    let bad = owner("a/b/c", "Deployment", "web", "web-uid");
    w.rss
        .insert("bad".into(), rs("bad", "bad-uid", Some(2), Some(bad)));
    let other_kind = owner("apps/v1", "Rollout", "r", "r-uid");
    w.rss.insert(
        "rollout".into(),
        rs("rollout", "rollout-uid", Some(6), Some(other_kind)),
    );
    w.deployments.insert(
        "web".into(),
        Arc::new(Deployment {
            metadata: meta("web", "web-uid", None),
            spec: Some(DeploymentSpec {
                replicas: Some(5),
                ..Default::default()
            }),
            status: None,
        }),
    );
    w.stateful_sets.insert(
        "db".into(),
        Arc::new(StatefulSet {
            metadata: meta("db", "db-uid", None),
            spec: Some(StatefulSetSpec {
                replicas: Some(7),
                ..Default::default()
            }),
            status: None,
        }),
    );
    w
}

fn found(uid: &str, replicas: i32) -> Option<ScaleLookup> {
    Some(ScaleLookup::Found {
        uid: uid.into(),
        replicas,
    })
}

#[test]
fn informer_finders() {
    let w = informers();
    // (what, owner reference, lookup; None = ask the /scale subresource)
    let cases = [
        (
            "ReplicationController",
            owner("v1", "ReplicationController", "rc", "rc-uid"),
            found("rc-uid", 4),
        ),
        (
            "RC of another UID",
            owner("v1", "ReplicationController", "rc", "old"),
            None,
        ),
        (
            "RC in a group",
            owner("apps/v1", "ReplicationController", "rc", "rc-uid"),
            None,
        ),
        (
            "RC not found",
            owner("v1", "ReplicationController", "x", "x"),
            None,
        ),
        (
            "bare ReplicaSet",
            owner("apps/v1", "ReplicaSet", "bare", "bare-uid"),
            found("bare-uid", 3),
        ),
        (
            "extensions ReplicaSet",
            owner("extensions/v1beta1", "ReplicaSet", "bare", "bare-uid"),
            found("bare-uid", 3),
        ),
        (
            "replicas default to 1",
            owner("apps/v1", "ReplicaSet", "defaulted", "defaulted-uid"),
            found("defaulted-uid", 1),
        ),
        (
            "ReplicaSet counts as its Deployment",
            owner("apps/v1", "ReplicaSet", "web-1", "web-1-uid"),
            found("web-uid", 5),
        ),
        (
            "old ReplicaSet too",
            owner("apps/v1", "ReplicaSet", "web-2", "web-2-uid"),
            found("web-uid", 5),
        ),
        (
            "Deployment not found: ask /scale",
            owner("apps/v1", "ReplicaSet", "orphan", "orphan-uid"),
            None,
        ),
        (
            "RS controlled by another kind",
            owner("apps/v1", "ReplicaSet", "rollout", "rollout-uid"),
            found("rollout-uid", 6),
        ),
        (
            "Deployment ref unparsable",
            owner("apps/v1", "ReplicaSet", "bad", "bad-uid"),
            Some(ScaleLookup::Error(
                "unexpected GroupVersion string: a/b/c".into(),
            )),
        ),
        (
            "ReplicaSet of another UID",
            owner("apps/v1", "ReplicaSet", "bare", "old"),
            None,
        ),
        (
            "StatefulSet",
            owner("apps/v1", "StatefulSet", "db", "db-uid"),
            found("db-uid", 7),
        ),
        (
            "StatefulSet outside apps",
            owner("extensions/v1beta1", "StatefulSet", "db", "db-uid"),
            None,
        ),
        (
            "custom kind",
            owner("example.com/v1", "Database", "db", "db-uid"),
            None,
        ),
        (
            "owner ref unparsable",
            owner("a/b/c", "ReplicaSet", "bare", "bare-uid"),
            Some(ScaleLookup::Error(
                "unexpected GroupVersion string: a/b/c".into(),
            )),
        ),
    ];
    for (name, reference, want) in cases {
        assert_eq!(find_in_informers(&reference, &w), want, "{name}");
    }
}

#[test]
fn scale_subresource() {
    let reference = owner("example.com/v1", "Database", "db", "db-uid");
    let scale = |uid: &str, replicas| Scale {
        metadata: ObjectMeta {
            uid: Some(uid.into()),
            ..Default::default()
        },
        spec: Some(ScaleSpec { replicas }),
        status: None,
    };
    assert_eq!(
        from_scale(&reference, &scale("db-uid", Some(3))),
        ScaleLookup::Found {
            uid: "db-uid".into(),
            replicas: 3
        }
    );
    assert_eq!(
        from_scale(&reference, &scale("db-uid", None)),
        ScaleLookup::Found {
            uid: "db-uid".into(),
            replicas: 0
        }
    );
    assert_eq!(
        from_scale(&reference, &scale("new-uid", Some(3))),
        ScaleLookup::NotFound
    );
    assert_eq!(
        scale_not_found("databases.example.com", true),
        ScaleLookup::NotFound
    );
    assert_eq!(
        scale_not_found("jobs.batch", false),
        ScaleLookup::Error("jobs.batch does not implement the scale subresource".into())
    );
}

#[test]
fn group_versions() {
    let cases = [
        ("", Ok(("", ""))),
        ("/", Ok(("", ""))),
        ("v1", Ok(("", "v1"))),
        ("apps/v1", Ok(("apps", "v1"))),
        ("/v1", Ok(("", "v1"))),
        (
            "a/b/c",
            Err("unexpected GroupVersion string: a/b/c".to_string()),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_group_version(input), want, "{input}");
    }
}

use k8s_openapi::api::apps::v1::{
    DeploymentSpec, DeploymentStatus, DeploymentStrategy, ReplicaSetSpec, ReplicaSetStatus,
    RollingUpdateDeployment,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::*;
use crate::deployment::status::deployment_complete;

fn d(replicas: i32, surge: Option<IntOrString>, unavailable: Option<IntOrString>) -> Deployment {
    Deployment {
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: surge,
                    max_unavailable: unavailable,
                }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pct(s: &str) -> Option<IntOrString> {
    Some(IntOrString::String(s.into()))
}

fn int(n: i32) -> Option<IntOrString> {
    Some(IntOrString::Int(n))
}

fn rs(name: &str, replicas: i32, created: i64) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            creation_timestamp: Some(Time(
                k8s_openapi::jiff::Timestamp::from_second(created).expect("time"),
            )),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            ..Default::default()
        }),
        status: None,
    }
}

/// Upstream's `TestResolveFenceposts` (malformed values read as 0 here instead of erroring)
/// plus rounding cases: maxSurge rounds up, maxUnavailable down.
#[test]
fn fenceposts() {
    let cases = [
        (pct("0%"), pct("0%"), 0, (0, 1)),
        (pct("39%"), pct("39%"), 10, (4, 3)),
        (None, pct("39%"), 10, (0, 3)),
        (pct("39%"), None, 10, (4, 0)),
        (None, None, 10, (0, 1)),
        (pct("25%"), pct("25%"), 10, (3, 2)),
        (pct("25%"), pct("25%"), 1, (1, 0)),
        (pct("1%"), pct("1%"), 3, (1, 0)),
        (pct("0%"), pct("10%"), 5, (0, 1)),
        (int(2), int(0), 5, (2, 0)),
        (pct("oops"), pct("39%"), 10, (0, 3)),
    ];
    for (surge, unavailable, replicas, want) in cases {
        let what = format!("{surge:?} {unavailable:?} of {replicas}");
        assert_eq!(
            resolve_fenceposts(&d(replicas, surge, unavailable)),
            want,
            "{what}"
        );
    }
}

/// Upstream's `TestMaxUnavailable`.
#[test]
fn max_unavailable_is_capped() {
    let cases = [
        (10, int(5), 5),
        (10, int(10), 10),
        (5, int(10), 5),
        (0, int(10), 0),
        (10, pct("50%"), 5),
        (10, pct("100%"), 10),
        (5, pct("100%"), 5),
    ];
    for (replicas, unavailable, want) in cases {
        assert_eq!(
            max_unavailable(&d(replicas, int(1), unavailable)),
            want,
            "{replicas}"
        );
    }
    let mut recreate = d(3, None, None);
    if let Some(spec) = recreate.spec.as_mut() {
        spec.strategy = Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        });
    }
    assert_eq!((max_unavailable(&recreate), max_surge(&recreate)), (0, 0));
}

/// Upstream's `TestNewRSNewReplicas`: an old RS of 5 beside the new one.
#[test]
fn new_rs_new_replicas_table() {
    let cases = [
        ("RollingUpdate", 1, 5, 1, 5),
        ("RollingUpdate", 6, 2, 10, 6),
        ("Recreate", 3, 1, 1, 3),
    ];
    for (type_, replicas, new_replicas, surge, want) in cases {
        let mut deployment = d(replicas, int(surge), int(1));
        if let Some(s) = deployment.spec.as_mut().and_then(|s| s.strategy.as_mut()) {
            s.type_ = Some(type_.into());
        }
        let old = rs("old", 5, 1);
        let new = rs("new", new_replicas, 2);
        assert_eq!(
            new_rs_new_replicas(&deployment, &[&old], &new),
            want,
            "{type_} {replicas}"
        );
    }
}

#[test]
fn revision_annotations_and_history() {
    let mut deployment = d(3, int(1), int(0));
    deployment.metadata.annotations = Some(BTreeMap::from([
        ("team".to_string(), "a".to_string()),
        (REVISION_ANNOTATION.to_string(), "9".to_string()),
        (
            "kubectl.kubernetes.io/last-applied-configuration".to_string(),
            "{}".to_string(),
        ),
    ]));
    let mut new = rs("new", 0, 1);
    assert!(set_new_replica_set_annotations(
        &deployment,
        &mut new,
        1,
        false
    ));
    let a = new.metadata.annotations.clone().expect("annotations");
    assert_eq!(a.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        a.get(REVISION_ANNOTATION).map(String::as_str),
        Some("1"),
        "not copied from the Deployment"
    );
    assert!(!a.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    assert_eq!(
        a.get(DESIRED_REPLICAS_ANNOTATION).map(String::as_str),
        Some("3")
    );
    assert_eq!(
        a.get(MAX_REPLICAS_ANNOTATION).map(String::as_str),
        Some("4")
    );
    // Nothing left to change.
    assert!(!set_new_replica_set_annotations(
        &deployment,
        &mut new,
        1,
        true
    ));
    // Rolling back to this ReplicaSet raises its revision and keeps the old one in history.
    assert!(set_new_replica_set_annotations(
        &deployment,
        &mut new,
        4,
        true
    ));
    assert!(set_new_replica_set_annotations(
        &deployment,
        &mut new,
        7,
        true
    ));
    let a = new.metadata.annotations.clone().expect("annotations");
    assert_eq!(a.get(REVISION_ANNOTATION).map(String::as_str), Some("7"));
    assert_eq!(
        a.get(REVISION_HISTORY_ANNOTATION).map(String::as_str),
        Some("1,4")
    );
    // A lower revision never lowers it.
    assert!(!set_new_replica_set_annotations(
        &deployment,
        &mut new,
        2,
        true
    ));
}

#[test]
fn revision_history_is_bounded() {
    let mut annotations =
        BTreeMap::from([(REVISION_HISTORY_ANNOTATION.to_string(), "1".repeat(1999))]);
    append_revision_history(&mut annotations, "22");
    // 1999 + 1 + 2 > 2000: the only old entry goes, the new one stays.
    assert_eq!(
        annotations
            .get(REVISION_HISTORY_ANNOTATION)
            .map(String::as_str),
        Some("22")
    );
}

#[test]
fn templates_compare_without_the_hash_label() {
    let mut a = PodTemplateSpec::default();
    let mut b = PodTemplateSpec::default();
    a.metadata = Some(ObjectMeta {
        labels: Some(BTreeMap::from([
            ("app".to_string(), "x".to_string()),
            (POD_TEMPLATE_HASH_LABEL.to_string(), "abc".to_string()),
        ])),
        annotations: Some(BTreeMap::new()),
        ..Default::default()
    });
    b.metadata = Some(ObjectMeta {
        labels: Some(BTreeMap::from([("app".to_string(), "x".to_string())])),
        ..Default::default()
    });
    assert!(
        equal_ignore_hash(&a, &b),
        "hash label and empty maps ignored"
    );
    b.metadata
        .as_mut()
        .and_then(|m| m.labels.as_mut())
        .map(|l| l.insert("app".into(), "y".into()));
    assert!(!equal_ignore_hash(&a, &b));
}

#[test]
fn orderings() {
    let rev = |name: &str, r: &str, created: i64| {
        let mut x = rs(name, 0, created);
        x.metadata.annotations = Some(BTreeMap::from([(
            REVISION_ANNOTATION.to_string(),
            r.to_string(),
        )]));
        x
    };
    let mut list = [rev("c", "3", 1), rev("a", "10", 2), rev("b", "2", 3)];
    list.sort_by(by_revision);
    let names: Vec<&str> = list.iter().map(rs_name).collect();
    assert_eq!(names, ["b", "c", "a"], "numeric, not lexical");

    let mut list = [rs("old", 2, 1), rs("new", 2, 2), rs("big", 5, 3)];
    list.sort_by(by_size_newer);
    assert_eq!(
        list.iter().map(rs_name).collect::<Vec<_>>(),
        ["big", "new", "old"]
    );
    list.sort_by(by_size_older);
    assert_eq!(
        list.iter().map(rs_name).collect::<Vec<_>>(),
        ["big", "old", "new"]
    );
}

#[test]
fn terminating_counts() {
    let with = |observed: i64, terminating: Option<i32>| {
        let mut x = rs("x", 1, 1);
        x.status = Some(ReplicaSetStatus {
            observed_generation: Some(observed),
            terminating_replicas: terminating,
            ..Default::default()
        });
        x
    };
    let cases = [
        (vec![with(1, Some(2)), with(1, Some(3))], Some(5)),
        (vec![with(1, Some(2)), with(0, None)], Some(2)),
        (vec![with(1, Some(2)), with(1, None)], None),
        (vec![], Some(0)),
    ];
    for (sets, want) in cases {
        assert_eq!(terminating_replica_count(&sets), want);
    }
}

/// Upstream's `TestDeploymentComplete`: (desired, current, updated, available, complete).
#[test]
fn completeness() {
    let cases = [
        (5, 5, 5, 4, false),
        (5, 5, 5, 3, false),
        (5, 5, 5, 5, true),
        (5, 5, 4, 5, false),
        (1, 2, 1, 1, false),
        (1, 1, 1, 0, false),
    ];
    for (desired, current, updated, available, want) in cases {
        let status = DeploymentStatus {
            replicas: Some(current),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
            ..Default::default()
        };
        assert_eq!(
            deployment_complete(&d(desired, int(0), int(1)), &status),
            want,
            "{desired} {current} {updated} {available}"
        );
    }
}

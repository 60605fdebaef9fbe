use k8s_openapi::api::apps::v1::ReplicaSetStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::rollout_tests::{deployment, rolling, template, ts};
use super::*;
use crate::deployment::util::{DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION};

/// A ReplicaSet sized `replicas`, created at `created`, with the replica annotations an
/// earlier Deployment of `was` replicas (surge `was_surge`) left on it.
fn rs(name: &str, replicas: i32, created: i64, was: i32, was_surge: i32) -> ReplicaSet {
    let mut t = template(name);
    t.metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("v".into(), name.into());
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            creation_timestamp: Some(Time(ts(created))),
            annotations: Some(BTreeMap::from([
                (DESIRED_REPLICAS_ANNOTATION.to_string(), was.to_string()),
                (
                    MAX_REPLICAS_ANNOTATION.to_string(),
                    (was + was_surge).to_string(),
                ),
            ])),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            template: Some(t),
            ..Default::default()
        }),
        status: Some(ReplicaSetStatus {
            replicas,
            ..Default::default()
        }),
    }
}

fn sizes(sync: &Sync) -> Vec<(String, i32)> {
    sync.rss
        .iter()
        .map(|r| (rs_name(r).to_string(), rs_replicas(r)))
        .collect()
}

/// Upstream's `TestScale` cases (sync_test.go): sizes after a resize of `was` -> `now`
/// replicas, the new ReplicaSet named first, the old ones newest first.
#[test]
fn proportional_scaling() {
    // (name, now, was, surge now, surge before, new, old, expected new, expected old)
    type Case = (
        &'static str,
        i32,
        i32,
        i32,
        i32,
        Option<i32>,
        Vec<i32>,
        Option<i32>,
        Vec<i32>,
    );
    let cases: Vec<Case> = vec![
        (
            "normal scaling event: 10 -> 12",
            12,
            10,
            0,
            0,
            Some(10),
            vec![],
            Some(12),
            vec![],
        ),
        (
            "normal scaling event: 10 -> 5",
            5,
            10,
            0,
            0,
            Some(10),
            vec![],
            Some(5),
            vec![],
        ),
        (
            "proportional scaling: 5 -> 10",
            10,
            5,
            0,
            0,
            Some(2),
            vec![3],
            Some(4),
            vec![6],
        ),
        (
            "proportional scaling: 5 -> 3",
            3,
            5,
            0,
            0,
            Some(2),
            vec![3],
            Some(1),
            vec![2],
        ),
        (
            "proportional scaling: 9 -> 4",
            4,
            9,
            0,
            0,
            Some(8),
            vec![1],
            Some(4),
            vec![0],
        ),
        (
            "proportional scaling: 7 -> 10",
            10,
            7,
            0,
            0,
            Some(2),
            vec![3, 2],
            Some(3),
            vec![4, 3],
        ),
        (
            "proportional scaling: 13 -> 8",
            8,
            13,
            0,
            0,
            Some(2),
            vec![8, 3],
            Some(1),
            vec![5, 2],
        ),
        (
            "leftover distribution: 3 -> 4",
            4,
            3,
            0,
            0,
            Some(1),
            vec![1, 1],
            Some(2),
            vec![1, 1],
        ),
        (
            "leftover distribution: 3 -> 2",
            2,
            3,
            0,
            0,
            Some(1),
            vec![1, 1],
            Some(1),
            vec![1, 0],
        ),
        (
            "no new rs: 4 -> 5",
            5,
            4,
            0,
            0,
            None,
            vec![2, 2],
            None,
            vec![3, 2],
        ),
        (
            "scaling to zero: 6 -> 0",
            0,
            6,
            0,
            0,
            Some(3),
            vec![2, 1],
            Some(0),
            vec![0, 0],
        ),
        (
            "scaling up from zero: 0 -> 6",
            6,
            6,
            0,
            0,
            Some(0),
            vec![0, 0],
            Some(6),
            vec![0, 0],
        ),
        (
            "deployment with surge pods",
            20,
            10,
            2,
            2,
            Some(6),
            vec![6],
            Some(11),
            vec![11],
        ),
        (
            "change both surge and size",
            50,
            10,
            6,
            3,
            Some(5),
            vec![8],
            Some(22),
            vec![34],
        ),
    ];
    for (what, now, was, surge, was_surge, new, old, want_new, want_old) in cases {
        let mut d = deployment(now, rolling(IntOrString::Int(surge), IntOrString::Int(0)));
        if let Some(spec) = d.spec.as_mut() {
            spec.template = template("new");
            spec.template
                .metadata
                .get_or_insert_with(Default::default)
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert("v".into(), "new".into());
        }
        let mut sets = Vec::new();
        let new_rs = new.map(|n| rs("new", n, 100, was, was_surge));
        sets.extend(new_rs.clone());
        let olds: Vec<ReplicaSet> = old
            .iter()
            .enumerate()
            .map(|(i, n)| rs(&format!("old{i}"), *n, 50 - i as i64, was, was_surge))
            .collect();
        sets.extend(olds.clone());
        let mut sync = Sync::new(&d, &sets, ts(1_000));
        sync.scale(new_rs.as_ref(), &olds);
        let got = sizes(&sync);
        let size = |name: &str| got.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
        assert_eq!(size("new"), want_new, "{what}: new");
        for (i, want) in want_old.iter().enumerate() {
            assert_eq!(size(&format!("old{i}")), Some(*want), "{what}: old{i}");
        }
    }
}

/// A saturated new ReplicaSet (all desired replicas available) retires the old ones.
#[test]
fn saturated_new_replica_set_retires_old_ones() {
    let d = deployment(2, rolling(IntOrString::Int(1), IntOrString::Int(1)));
    let mut new = rs("new", 2, 100, 2, 1);
    new.spec.as_mut().expect("spec").template = Some(template("web:1"));
    new.status.as_mut().expect("status").available_replicas = Some(2);
    let old = rs("old", 1, 50, 2, 1);
    let mut sync = Sync::new(&d, &[new.clone(), old.clone()], ts(1_000));
    sync.scale(Some(&new), std::slice::from_ref(&old));
    assert_eq!(
        sizes(&sync),
        [("old".to_string(), 0), ("new".to_string(), 2)]
    );
    // Not available yet: nothing changes ("saturated but broken new replica set").
    new.status.as_mut().expect("status").available_replicas = Some(0);
    let mut sync = Sync::new(&d, &[new.clone(), old.clone()], ts(1_000));
    sync.scale(Some(&new), std::slice::from_ref(&old));
    assert_eq!(
        sizes(&sync),
        [("old".to_string(), 1), ("new".to_string(), 2)]
    );
}

/// A resize mid-rollout goes through `decide` as a scaling event.
#[test]
fn resize_mid_rollout_is_a_scaling_event() {
    let mut d = deployment(10, rolling(IntOrString::Int(0), IntOrString::Int(1)));
    if let Some(spec) = d.spec.as_mut() {
        spec.template = template("new");
        spec.template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("v".into(), "new".into());
    }
    let (new, old) = (rs("new", 2, 100, 5, 0), rs("old0", 3, 50, 5, 0));
    let plan = crate::deployment::decide(&d, &[new, old], false, ts(1_000));
    let size = |name: &str| {
        plan.update
            .iter()
            .find(|r| rs_name(r) == name)
            .map(rs_replicas)
    };
    assert_eq!((size("new"), size("old0")), (Some(4), Some(6)));
    assert!(plan.create.is_none());
    // Both now record the new desired size.
    assert!(
        plan.update
            .iter()
            .all(|r| crate::deployment::util::desired_replicas_annotation(r) == Some(10))
    );
}

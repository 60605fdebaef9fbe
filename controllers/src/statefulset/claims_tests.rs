use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::super::testing::*;
use super::*;

#[test]
fn claims_are_created_before_their_pod() {
    let (s, _, revs) = steady(with_claims(set(2)), 0);
    let plan = run(&s, &[], &revs);
    let made = &plan.create_claims[0];
    assert_eq!(made.pod, "web-0");
    assert_eq!(made.claim.metadata.name.as_deref(), Some("data-web-0"));
    assert_eq!(made.claim.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(
        made.claim.metadata.labels,
        Some(labels(&[("app", "web"), ("tier", "db")]))
    );
    assert_eq!(
        made.claim.metadata.owner_references, None,
        "Retain: no references"
    );

    let pod = &plan.create_pods[0];
    let volume = &pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default()[0];
    assert_eq!(volume.name, "data");
    assert_eq!(
        volume
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("data-web-0")
    );
    let spec = pod.spec.as_ref().expect("spec");
    assert_eq!(
        (spec.hostname.as_deref(), spec.subdomain.as_deref()),
        (Some("web-0"), Some("web"))
    );
    let l = pod.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        l.get("statefulset.kubernetes.io/pod-name")
            .map(String::as_str),
        Some("web-0")
    );
    assert_eq!(
        l.get("apps.kubernetes.io/pod-index").map(String::as_str),
        Some("0")
    );
    assert_eq!(l.get("controller-revision-hash"), Some(&name_of(&revs[0])));
    assert_eq!(pod.metadata.owner_references, Some(vec![set_ref()]));

    // An existing claim is not created again; one being deleted blocks the pod.
    let plan = run_with(
        &s,
        &[],
        &revs,
        &claims_map(vec![claim(0, vec![])]),
        Features::default(),
    );
    assert!(plan.create_claims.is_empty());
    assert_eq!(created(&plan), ["web-0"]);
    let mut going = claim(0, vec![]);
    going.metadata.deletion_timestamp = Some(Time(ts(NOW)));
    let plan = run_with(
        &s,
        &[],
        &revs,
        &claims_map(vec![going]),
        Features::default(),
    );
    assert!(plan.create_pods.is_empty());
    assert_eq!(
        plan.error.as_deref(),
        Some("pvc data-web-0 is being deleted")
    );
    assert_eq!(plan.events[0].reason, "FailedCreate");
}

fn with_policy(mut s: StatefulSet, scaled: &str, deleted: &str) -> StatefulSet {
    spec(&mut s).persistent_volume_claim_retention_policy = Some(
        k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy {
            when_scaled: Some(scaled.into()),
            when_deleted: Some(deleted.into()),
        },
    );
    s
}

#[test]
fn retention_policy_owner_references() {
    // (whenScaled, whenDeleted, refs of a new claim, refs of a scaled-down pod's claim)
    let pod_uid = "uid-web-1";
    let cases = [
        ("Retain", "Retain", vec![], vec![]),
        ("Retain", "Delete", vec![set_ref()], vec![set_ref()]),
        ("Delete", "Retain", vec![], vec![pod_ref("web-1", pod_uid)]),
        (
            "Delete",
            "Delete",
            vec![set_ref()],
            vec![pod_ref("web-1", pod_uid)],
        ),
    ];
    for (scaled, deleted_policy, new_refs, condemned_refs) in cases {
        let (s, pods, revs) = steady(with_policy(with_claims(set(1)), scaled, deleted_policy), 2);
        let pods: Vec<Pod> = pods
            .iter()
            .enumerate()
            .map(|(o, _)| member(o as i64, &name_of(&revs[0]), true))
            .collect();
        let what = format!("{scaled}/{deleted_policy}");
        let plan = run(&s, &[], &revs);
        let refs = plan.create_claims[0]
            .claim
            .metadata
            .owner_references
            .clone()
            .unwrap_or_default();
        assert_eq!(refs, new_refs, "new claim {what}");

        // Both claims exist without references: the condemned pod's gets its references
        // before the pod goes; the kept pod's gets the set's.
        let claims = claims_map(vec![claim(0, vec![]), claim(1, vec![])]);
        let plan = run_with(&s, &pods, &revs, &claims, Features::default());
        let by_name: BTreeMap<&str, Vec<_>> = plan
            .update_claims
            .iter()
            .map(|c| {
                (
                    c.metadata.name.as_deref().unwrap_or(""),
                    c.metadata.owner_references.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            by_name.get("data-web-1").cloned().unwrap_or_default(),
            condemned_refs,
            "condemned {what}"
        );
        assert_eq!(
            by_name.get("data-web-0").cloned().unwrap_or_default(),
            new_refs,
            "kept {what}"
        );
        assert_eq!(deleted(&plan), [("web-1", DeleteReason::ScaleDown)]);
    }
    // whenScaled: Delete and a claim still owned by an earlier web-0: wait for the collector.
    let (s, _, revs) = steady(with_policy(with_claims(set(1)), "Delete", "Retain"), 0);
    let claims = claims_map(vec![claim(0, vec![pod_ref("web-0", "old-uid")])]);
    let plan = run_with(&s, &[], &revs, &claims, Features::default());
    assert!(plan.create_pods.is_empty() && plan.create_claims.is_empty());
}

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::super::testing::*;
use super::*;

fn policy(scaled: &str, deleted: &str) -> k8s_openapi::api::apps::v1::StatefulSet {
    let mut s = with_claims(set(1));
    spec(&mut s).persistent_volume_claim_retention_policy = Some(
        k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy {
            when_scaled: Some(scaled.into()),
            when_deleted: Some(deleted.into()),
        },
    );
    s
}

fn other_controller() -> OwnerReference {
    OwnerReference {
        kind: "Thing".into(),
        name: "t".into(),
        uid: "t-uid".into(),
        controller: Some(true),
        ..Default::default()
    }
}

#[test]
fn up_to_date_table() {
    let kept = member(0, "r", true);
    let condemned = member(1, "r", true);
    let kept_ref = pod_ref("web-0", "uid-web-0");
    let condemned_ref = pod_ref("web-1", "uid-web-1");
    let mut non_controller = set_ref();
    non_controller.controller = None;
    let mut stale_set = set_ref();
    stale_set.uid = "old".into();
    // (whenScaled, whenDeleted, pod, claim refs, up to date)
    let cases: Vec<(&str, &str, &Pod, Vec<OwnerReference>, bool)> = vec![
        ("Retain", "Retain", &kept, vec![], true),
        ("Retain", "Retain", &kept, vec![set_ref()], false),
        ("Retain", "Delete", &kept, vec![set_ref()], true),
        ("Retain", "Delete", &kept, vec![], false),
        ("Retain", "Delete", &kept, vec![non_controller], false),
        ("Delete", "Retain", &kept, vec![], true),
        ("Delete", "Retain", &condemned, vec![], false),
        (
            "Delete",
            "Retain",
            &condemned,
            vec![condemned_ref.clone()],
            true,
        ),
        ("Delete", "Delete", &kept, vec![set_ref()], true),
        ("Delete", "Delete", &kept, vec![kept_ref], false),
        ("Delete", "Delete", &condemned, vec![condemned_ref], true),
        ("Delete", "Delete", &kept, vec![stale_set], true),
        ("Delete", "Delete", &kept, vec![other_controller()], true),
        (
            "Delete",
            "Delete",
            &kept,
            vec![other_controller(), set_ref()],
            false,
        ),
    ];
    for (i, (scaled, deleted, pod, refs, want)) in cases.into_iter().enumerate() {
        let s = policy(scaled, deleted);
        let ctx = SetCtx::new(&s).expect("valid");
        let ordinal = super::super::identity::ordinal(pod).unwrap_or(0);
        let claim = claim(ordinal, refs);
        assert_eq!(
            is_claim_owner_up_to_date(&ctx, &claim, pod),
            want,
            "case {i}: {scaled}/{deleted}"
        );
        if want {
            continue;
        }
        // What the update writes is up to date afterwards.
        let mut updated = claim.clone();
        updated.metadata.owner_references = Some(updated_owner_refs(&ctx, &claim, pod));
        assert!(
            is_claim_owner_up_to_date(&ctx, &updated, pod),
            "case {i} after update"
        );
    }
}

#[test]
fn another_controller_keeps_the_claim_but_ours_are_scrubbed() {
    let s = policy("Delete", "Delete");
    let ctx = SetCtx::new(&s).expect("valid");
    let claim = claim(0, vec![other_controller(), set_ref()]);
    assert_eq!(
        updated_owner_refs(&ctx, &claim, &member(0, "r", true)),
        vec![other_controller()]
    );
}

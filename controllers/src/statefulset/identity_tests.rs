use super::super::testing::*;
use super::*;

#[test]
fn names_and_ordinals() {
    // (pod name, parent and ordinal)
    let cases = [
        ("web-0", Some(("web", Some(0)))),
        ("web-12", Some(("web", Some(12)))),
        ("my-web-3", Some(("my-web", Some(3)))),
        ("web-007", Some(("web", Some(7)))),
        ("-5", Some(("", Some(5)))),
        ("web-99999999999", Some(("web", None))),
        ("web-", None),
        ("web-x", None),
        ("web", None),
        ("web-1a", None),
    ];
    for (name, want) in cases {
        assert_eq!(parent_name_and_ordinal(name), want, "{name}");
    }
    assert_eq!(pod_name("web", 3), "web-3");
    assert_eq!(claim_name("data", "web", 3), "data-web-3");
}

#[test]
fn identity_and_storage_matching() {
    let s = with_claims(set(3));
    let ctx = SetCtx::new(&s).expect("valid");
    let good = member(1, "r", true);
    assert!(identity_matches(&ctx, &good) && storage_matches(&ctx, &good));

    let mut other_ns = good.clone();
    other_ns.metadata.namespace = Some("elsewhere".into());
    let mut no_label = good.clone();
    no_label
        .metadata
        .labels
        .as_mut()
        .map(|l| l.remove(POD_NAME_LABEL));
    let padded = Pod {
        metadata: ObjectMeta {
            name: Some("web-01".into()),
            ..good.metadata.clone()
        },
        ..good.clone()
    };
    for (what, p) in [
        ("namespace", &other_ns),
        ("label", &no_label),
        ("padded", &padded),
    ] {
        assert!(!identity_matches(&ctx, p), "{what}");
    }

    let mut wrong_claim = member(1, "r", true);
    if let Some(c) = wrong_claim
        .spec
        .as_mut()
        .and_then(|s| s.volumes.as_mut())
        .and_then(|v| v.first_mut())
        .and_then(|v| v.persistent_volume_claim.as_mut())
    {
        c.claim_name = "data-web-2".into();
    }
    assert!(!storage_matches(&ctx, &wrong_claim));
    assert!(!storage_matches(&ctx, &member(1, "r", false)));

    let mut fixed = padded.clone();
    update_identity(&ctx, &mut fixed);
    assert_eq!(fixed.metadata.name.as_deref(), Some("web-1"));
    assert!(identity_matches(&ctx, &fixed));
    let mut repaired = member(1, "r", false);
    repaired.spec.get_or_insert_with(Default::default).volumes = Some(vec![Volume {
        name: "scratch".into(),
        ..Default::default()
    }]);
    update_storage(&ctx, &mut repaired);
    assert!(storage_matches(&ctx, &repaired));
    let names: Vec<String> = repaired
        .spec
        .and_then(|s| s.volumes)
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["data", "scratch"], "claims first, others kept");
}

#[test]
fn claims_overlay_selector_labels() {
    let mut s = with_claims(set(1));
    if let Some(t) = spec(&mut s).volume_claim_templates.as_mut() {
        t[0].metadata.labels = Some(labels(&[("app", "mine"), ("tier", "db")]));
    }
    let ctx = SetCtx::new(&s).expect("valid");
    let claims = claims_for(&ctx, 4);
    let claim = &claims["data"];
    assert_eq!(claim.metadata.name.as_deref(), Some("data-web-4"));
    assert_eq!(
        claim.metadata.labels,
        Some(labels(&[("app", "web"), ("tier", "db")]))
    );
}

#[test]
fn availability_predicates() {
    let s = set(1);
    let ctx = SetCtx::new(&s).expect("valid");
    let now = ts(NOW);
    let healthy = member(0, "r", false);
    assert!(is_running_and_ready(&healthy) && !is_unavailable(&ctx, &healthy, now));
    assert!(
        is_unavailable(&ctx, &deleting(healthy.clone()), now),
        "terminating"
    );
    assert!(is_unavailable(&ctx, &unready(healthy.clone()), now));
    let created = super::super::testing::phase(healthy.clone(), "");
    assert!(!is_created(&created));
}

use super::super::testing::*;
use super::*;

/// Syncs `subject` with `others` beside it in the cache.
fn sync(subject: &ServiceCIDR, others: &[ServiceCIDR], ips: &[IPAddress]) -> ServiceCidrPlan {
    let all: Vec<&ServiceCIDR> = std::iter::once(subject).chain(others).collect();
    decide(subject, all, ips, now())
}

#[test]
fn live_without_finalizer_gets_it_and_ready() {
    let plan = sync(&dual("kubernetes"), &[], &[]);
    assert_eq!(
        plan,
        ServiceCidrPlan {
            phase: Phase::Live,
            add_finalizer: true,
            remove_finalizer: false,
            ready_condition: ready("True", "", MESSAGE_READY, NOW),
            requeue_after: None,
        }
    );
}

#[test]
fn live_and_up_to_date_does_nothing() {
    let c = with_ready(with_finalizer(dual("a")), "True", "", MESSAGE_READY);
    assert_eq!(
        sync(&c, &[], &[ip("192.168.0.1")]),
        ServiceCidrPlan::default()
    );
}

#[test]
fn ready_condition_written_only_on_change() {
    // (current Ready condition, the condition to write); the current one has time 50.
    let cases = [
        (None, ready("True", "", MESSAGE_READY, NOW)),
        (Some(("True", "", MESSAGE_READY)), None),
        // Status flips: a new transition time.
        (
            Some(("False", REASON_TERMINATING, MESSAGE_TERMINATING)),
            ready("True", "", MESSAGE_READY, NOW),
        ),
        (
            Some(("Unknown", "", "")),
            ready("True", "", MESSAGE_READY, NOW),
        ),
        // Same status, other words: rewritten, the transition time kept.
        (
            Some(("True", "Old", MESSAGE_READY)),
            ready("True", "", MESSAGE_READY, 50),
        ),
        (
            Some(("True", "", "old message")),
            ready("True", "", MESSAGE_READY, 50),
        ),
    ];
    for (current, want) in cases {
        let mut c = with_finalizer(dual("a"));
        if let Some((status, reason, message)) = current {
            c = with_ready(c, status, reason, message);
        }
        let plan = sync(&c, &[], &[]);
        assert_eq!(plan.ready_condition, want, "current {current:?}");
        assert!(!plan.add_finalizer && !plan.remove_finalizer);
    }
}

#[test]
fn deleted_and_empty_loses_finalizer() {
    let plan = sync(&deleted(dual("a")), &[], &[]);
    assert_eq!(
        plan,
        ServiceCidrPlan {
            phase: Phase::Releasable,
            remove_finalizer: true,
            ..Default::default()
        }
    );
}

#[test]
fn releasable_without_our_finalizer_patches_nothing() {
    let mut c = deleted(dual("a"));
    c.metadata.finalizers = Some(vec!["example.com/other".into()]);
    let plan = sync(&c, &[], &[]);
    assert_eq!(plan.phase, Phase::Releasable);
    assert!(!plan.remove_finalizer && !plan.add_finalizer);
}

#[test]
fn grace_period_requeues_for_the_rest_of_it() {
    // (deletion began at, requeue after); the grace period is ten seconds.
    let cases = [
        (NOW, Some(10)),
        (NOW - 3, Some(7)),
        (NOW - 9, Some(1)),
        (NOW - 10, None),
        (NOW - 3600, None),
        // A deletion stamped ahead of our clock waits for the skew as well.
        (NOW + 5, Some(15)),
    ];
    for (since, want) in cases {
        let plan = sync(&deleting(dual("a"), since), &[], &[]);
        assert_eq!(
            plan.requeue_after,
            want.map(Duration::from_secs),
            "since {since}"
        );
        let (phase, removes) = match want {
            Some(_) => (Phase::GracePeriod, false),
            None => (Phase::Releasable, true),
        };
        assert_eq!(plan.phase, phase, "since {since}");
        assert_eq!(plan.remove_finalizer, removes, "since {since}");
        assert_eq!(plan.ready_condition, None, "since {since}");
    }
}

#[test]
fn grace_period_counts_sub_second_remainders() {
    let mut c = deleted(dual("a"));
    let began = now() - SignedDuration::from_millis(9_500);
    c.metadata.deletion_timestamp = Some(Time(began));
    let plan = sync(&c, &[], &[]);
    assert_eq!(plan.requeue_after, Some(Duration::from_millis(500)));
}

#[test]
fn blocked_deletion_reports_terminating() {
    let c = with_ready(deleted(dual("a")), "True", "", MESSAGE_READY);
    let plan = sync(&c, &[], &[ip("192.168.0.1")]);
    assert_eq!(
        plan,
        ServiceCidrPlan {
            phase: Phase::DeletionBlocked,
            ready_condition: terminating(NOW),
            ..Default::default()
        }
    );

    // Already reported: nothing to write, and no requeue (events bring it back).
    let c = with_ready(
        deleted(dual("a")),
        "False",
        REASON_TERMINATING,
        MESSAGE_TERMINATING,
    );
    let plan = sync(&c, &[], &[ip("192.168.0.1")]);
    assert_eq!(
        plan,
        ServiceCidrPlan {
            phase: Phase::DeletionBlocked,
            ..Default::default()
        }
    );
}

#[test]
fn blocked_within_grace_period_reports_without_waiting() {
    // The orphan check comes first, as upstream's `sync`.
    let plan = sync(&deleting(dual("a"), NOW), &[], &[ip("2001:db2::1")]);
    assert_eq!(plan.phase, Phase::DeletionBlocked);
    assert_eq!(plan.requeue_after, None);
    assert_eq!(plan.ready_condition, terminating(NOW));
}

/// Upstream `TestControllerSync`'s deletion cases: whether the finalizer goes (`true`) or the
/// status says Terminating (`false`).
#[test]
fn upstream_sync_cases() {
    let cases: &[(&str, Vec<ServiceCIDR>, &str, bool)] = &[
        ("no addresses", vec![], "", true),
        ("IPv4 address", vec![], "192.168.0.1", false),
        (
            "same range, IPv4",
            vec![dual("overlapping")],
            "192.168.0.1",
            true,
        ),
        (
            "larger range, IPv4",
            vec![cidr("overlapping", &["192.168.0.0/16", "2001:db2::/64"])],
            "192.168.0.1",
            true,
        ),
        (
            "disjoint range, IPv4",
            vec![cidr("overlapping", &["192.168.255.0/26", "2001:db2::/64"])],
            "192.168.0.1",
            false,
        ),
        ("IPv6 address", vec![], "2001:db2::1", false),
        (
            "same range, IPv6",
            vec![dual("overlapping")],
            "2001:db2::1",
            true,
        ),
        (
            "larger range, IPv6",
            vec![cidr("overlapping", &["192.168.0.0/16", "2001:db2::/48"])],
            "2001:db2::1",
            true,
        ),
        (
            "disjoint range, IPv6",
            vec![cidr(
                "overlapping",
                &["192.168.255.0/26", "2001:db2:a:b::/64"],
            )],
            "2001:db2::1",
            false,
        ),
    ];
    for (name, others, address, releases) in cases {
        let ips: Vec<IPAddress> = [address]
            .iter()
            .filter(|a| !a.is_empty())
            .map(|a| ip(a))
            .collect();
        let plan = sync(&deleted(dual("deleted-cidr")), others, &ips);
        assert_eq!(plan.remove_finalizer, *releases, "{name}");
        assert_eq!(plan.ready_condition.is_some(), !releases, "{name}");
    }
}

/// Upstream `TestController_canDeleteCIDR`.
#[test]
fn upstream_can_delete_cases() {
    let cases: &[(&str, Vec<ServiceCIDR>, &str, bool)] = &[
        ("no addresses", vec![], "", true),
        ("address inside", vec![], "192.168.0.24", false),
        ("address outside", vec![], "192.168.1.24", true),
        ("IPv4 network address", vec![], "192.168.0.0", true),
        ("IPv4 broadcast address", vec![], "192.168.0.255", true),
        (
            "IPv6 last address",
            vec![],
            "2001:0db2::ffff:ffff:ffff:ffff",
            false,
        ),
        (
            "same range beside",
            vec![dual("overlapping")],
            "192.168.0.23",
            true,
        ),
        (
            "smaller range holding the address",
            vec![cidr("overlapping", &["192.168.0.0/26", "2001:db2::/64"])],
            "192.168.0.23",
            true,
        ),
        (
            "smaller range missing the address",
            vec![cidr("overlapping", &["192.168.0.0/28", "2001:db2::/64"])],
            "192.168.0.23",
            false,
        ),
        (
            "larger range",
            vec![cidr("overlapping", &["192.168.0.0/16", "2001:db2::/64"])],
            "192.168.0.23",
            true,
        ),
    ];
    for (name, others, address, want) in cases {
        let subject = dual("kubernetes");
        let ips: Vec<IPAddress> = [address]
            .iter()
            .filter(|a| !a.is_empty())
            .map(|a| ip(a))
            .collect();
        let all: Vec<&ServiceCIDR> = std::iter::once(&subject).chain(others).collect();
        assert_eq!(can_delete(&subject, all, &ips), *want, "{name}");
        // The cache without the subject itself gives the same answer.
        assert_eq!(
            can_delete(&subject, others, &ips),
            *want,
            "{name}, subject not in cache"
        );
    }
}

#[test]
fn only_apiserver_allocated_addresses_of_our_families_block() {
    let foreign = ip_labelled(
        "192.168.0.5",
        &[
            (LABEL_IP_FAMILY, "IPv4"),
            (LABEL_MANAGED_BY, "example.com/other"),
        ],
    );
    let unlabelled = ip_labelled("192.168.0.5", &[]);
    let no_family = ip_labelled("192.168.0.5", &[(LABEL_MANAGED_BY, IPALLOCATOR_MANAGER)]);
    let wrong_family = ip_labelled(
        "192.168.0.5",
        &[
            (LABEL_IP_FAMILY, "IPv6"),
            (LABEL_MANAGED_BY, IPALLOCATOR_MANAGER),
        ],
    );
    let bad_name = ip_labelled(
        "192.168.0.500",
        &[
            (LABEL_IP_FAMILY, "IPv4"),
            (LABEL_MANAGED_BY, IPALLOCATOR_MANAGER),
        ],
    );
    let nameless = IPAddress::default();
    let subject = deleted(cidr("v4-only", &["192.168.0.0/24"]));
    for (name, address) in [
        ("foreign manager", foreign),
        ("no labels", unlabelled),
        ("no family label", no_family),
        ("family label of the other family", wrong_family),
        ("unparsable name", bad_name),
        ("no name", nameless),
    ] {
        let plan = sync(&subject, &[], &[address]);
        assert_eq!(plan.phase, Phase::Releasable, "{name}");
    }

    // An IPv6 address cannot block a ServiceCIDR without an IPv6 range.
    assert!(sync(&subject, &[], &[ip("2001:db2::1")]).remove_finalizer);
}

#[test]
fn dual_stack_needs_a_parent_for_every_family() {
    // The IPv4 range has a parent, the IPv6 one does not: IPv6 addresses still count.
    let parent = cidr("parent", &["192.168.0.0/16"]);
    let subject = deleted(dual("a"));
    assert!(
        sync(
            &subject,
            std::slice::from_ref(&parent),
            &[ip("192.168.0.7")]
        )
        .remove_finalizer
    );
    assert!(
        !sync(
            &subject,
            std::slice::from_ref(&parent),
            &[ip("2001:db2::7")]
        )
        .remove_finalizer
    );

    // An IPv6 address also held by a smaller range elsewhere is not orphaned.
    let small = cidr("small", &["2001:db2::/120"]);
    assert!(sync(&subject, &[parent, small], &[ip("2001:db2::7")]).remove_finalizer);
}

#[test]
fn terminating_neighbours_still_count_as_upstream() {
    // Upstream's `ContainsPrefix`/`ContainsAddress` do not look at deletion timestamps: two
    // equal ranges deleted together release each other.
    let a = deleted(cidr("a", &["10.0.0.0/24"]));
    let b = deleted(cidr("b", &["10.0.0.0/24"]));
    let ips = [ip("10.0.0.9")];
    assert!(sync(&a, std::slice::from_ref(&b), &ips).remove_finalizer);
    assert!(sync(&b, std::slice::from_ref(&a), &ips).remove_finalizer);
}

#[test]
fn malformed_ranges_cover_nothing() {
    // Our only range is malformed: nothing can be orphaned.
    let subject = deleted(cidr("bad", &["192.168.0.0/33"]));
    assert!(sync(&subject, &[], &[ip("192.168.0.1")]).remove_finalizer);

    // A malformed range beside a good one is skipped; the good one decides.
    let subject = deleted(cidr("half", &["nonsense", "192.168.0.0/24"]));
    assert!(!sync(&subject, &[], &[ip("192.168.0.1")]).remove_finalizer);

    // A neighbour's malformed range is no parent.
    let subject = deleted(cidr("a", &["192.168.0.0/24"]));
    let other = cidr("other", &["192.168.0.0/016", ""]);
    assert!(!sync(&subject, &[other], &[ip("192.168.0.1")]).remove_finalizer);
}

#[test]
fn empty_objects_do_not_panic() {
    let empty = ServiceCIDR::default();
    let plan = decide(&empty, [&empty], [&IPAddress::default()], now());
    assert!(plan.add_finalizer);
    let mut gone = deleted(ServiceCIDR::default());
    gone.spec = None;
    assert_eq!(
        sync(&gone, std::slice::from_ref(&empty), &[ip("10.0.0.1")]).phase,
        Phase::Releasable
    );
}

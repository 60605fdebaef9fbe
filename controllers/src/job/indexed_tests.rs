use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

fn ivs(pairs: &[(i64, i64)]) -> OrderedIntervals {
    OrderedIntervals(
        pairs
            .iter()
            .map(|&(first, last)| Interval { first, last })
            .collect(),
    )
}

#[test]
fn formatting() {
    let cases: [(&[(i64, i64)], &str); 5] = [
        (&[], ""),
        (&[(0, 0)], "0"),
        (&[(0, 1)], "0,1"),
        (&[(0, 2)], "0-2"),
        (&[(1, 1), (3, 5), (7, 8), (10, 20)], "1,3-5,7,8,10-20"),
    ];
    for (pairs, want) in cases {
        let list = ivs(pairs);
        assert_eq!(list.to_string(), want);
        assert_eq!(
            OrderedIntervals::parse(want, 100),
            list,
            "round trip of {want:?}"
        );
    }
}

#[test]
fn parsing_keeps_upstreams_quirks() {
    // (text, completions, intervals)
    type Case = (&'static str, i64, &'static [(i64, i64)]);
    let cases: [Case; 8] = [
        ("1,3-5", 10, &[(1, 1), (3, 5)]),
        ("1,2,3", 10, &[(1, 3)]),
        ("0-9", 5, &[(0, 4)]),
        ("1,x,3", 10, &[(1, 1), (3, 3)]),
        ("1,3-y,4", 10, &[(1, 1), (4, 4)]),
        ("1,7,2", 5, &[(1, 1)]),
        ("7", 5, &[]),
        ("", 5, &[]),
    ];
    for (text, completions, want) in cases {
        assert_eq!(
            OrderedIntervals::parse(text, completions),
            ivs(want),
            "{text:?}"
        );
    }
}

#[test]
fn union_membership_and_total() {
    let list = ivs(&[(0, 1), (5, 6)]);
    assert_eq!(
        list.with_ordered_indexes([2, 9]),
        ivs(&[(0, 2), (5, 6), (9, 9)])
    );
    assert_eq!(list.merge(&ivs(&[(1, 4), (8, 8)])), ivs(&[(0, 6), (8, 8)]));
    assert_eq!(list.total(), 4);
    let members: Vec<i64> = (0..8).filter(|i| list.has(*i)).collect();
    assert_eq!(members, [0, 1, 5, 6]);
}

#[test]
fn pending_indexes_skip_succeeded_running_and_failed() {
    let succeeded = ivs(&[(0, 0), (2, 2)]);
    let failed = ivs(&[(5, 5)]);
    // (count, pending)
    for (count, want) in [
        (0, &[][..]),
        (1, &[1][..]),
        (3, &[1, 4, 6][..]),
        (9, &[1, 4, 6, 7][..]),
    ] {
        let busy = BTreeSet::from([3]);
        let got = first_pending_indexes(count, 8, &succeeded, busy, Some(&failed));
        assert_eq!(got, want, "{count}");
    }
}

#[test]
fn completion_index_annotation() {
    for (value, want) in [
        ("3", Some(3)),
        ("+4", Some(4)),
        ("-1", None),
        ("x", None),
        ("", None),
    ] {
        let pod = Pod {
            metadata: ObjectMeta {
                annotations: Some([(COMPLETION_INDEX.to_owned(), value.to_owned())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(completion_index(&pod), want, "{value:?}");
    }
    assert_eq!(completion_index(&Pod::default()), None);
}

#[test]
fn indexed_generate_name_fits_58_characters() {
    assert_eq!(generate_name_with_index("pi", 12), "pi-12-");
    let long = "a".repeat(60);
    let name = generate_name_with_index(&long, 123);
    assert_eq!(name.len(), 58);
    assert!(name.ends_with("a-123-"));
}

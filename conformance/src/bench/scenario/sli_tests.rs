use super::*;

const METRIC: &str = "apiserver_request_duration_seconds";

fn histogram(buckets: &[(f64, f64)]) -> Histogram {
    let count = buckets.last().map_or(0.0, |b| b.1);
    Histogram {
        buckets: buckets.to_vec(),
        sum: 0.0,
        count,
    }
}

fn close(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|a| (a - expected).abs() < 1e-9)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const TEXT: &str = r#"# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution.
# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{component="apiserver",resource="pods",scope="resource",verb="POST",le="0.05"} 10
apiserver_request_duration_seconds_bucket{component="apiserver",resource="pods",scope="resource",verb="POST",le="0.1"} 30
apiserver_request_duration_seconds_bucket{component="apiserver",resource="pods",scope="resource",verb="POST",le="0.5"} 90
apiserver_request_duration_seconds_bucket{component="apiserver",resource="pods",scope="resource",verb="POST",le="1"} 100
apiserver_request_duration_seconds_bucket{component="apiserver",resource="pods",scope="resource",verb="POST",le="+Inf"} 100
apiserver_request_duration_seconds_sum{component="apiserver",resource="pods",scope="resource",verb="POST"} 12.5
apiserver_request_duration_seconds_count{component="apiserver",resource="pods",scope="resource",verb="POST"} 100
apiserver_request_duration_seconds_bucket{resource="leases", verb="PUT", le="+Inf",} 4
apiserver_request_duration_seconds_bucket{resource="leases",verb="PUT",le="0.05"} 3 1700000000000
apiserver_request_duration_seconds_bucket{path="/a,b}=\"c\"\\d",le="1"} 7
apiserver_request_total{verb="GET"} 5
apiserver_request_duration_seconds_bucket_extra{le="1"} 5
other_metric_bucket{le="1"} 5
apiserver_request_duration_seconds_bucket{resource="broken",le="0.05" 10
apiserver_request_duration_seconds_bucket{resource="broken",le="abc"} 1
apiserver_request_duration_seconds_bucket{resource="broken",le="NaN"} 1
apiserver_request_duration_seconds_bucket{resource="broken",le="1"} ten
apiserver_request_duration_seconds_bucket{resource="broken",le="1"} 1 2 3
apiserver_request_duration_seconds_bucket{resource="broken} 1
apiserver_request_duration_seconds_bucket{="broken",le="1"} 1
apiserver_request_duration_seconds_bucket{resource="broken"} 1
apiserver_request_duration_seconds_count
"#;

#[test]
fn parses_buckets_sum_and_count_by_labels() {
    let parsed = parse_histograms(TEXT, METRIC);
    assert_eq!(parsed.len(), 3, "{parsed:?}");
    let post = parsed.get(&labels(&[
        ("component", "apiserver"),
        ("resource", "pods"),
        ("scope", "resource"),
        ("verb", "POST"),
    ]));
    let expected = histogram(&[
        (0.05, 10.0),
        (0.1, 30.0),
        (0.5, 90.0),
        (1.0, 100.0),
        (f64::INFINITY, 100.0),
    ]);
    assert_eq!(
        post,
        Some(&Histogram {
            sum: 12.5,
            ..expected
        })
    );
    // Unsorted buckets, spaces, a trailing comma, a timestamp, no _sum and no _count.
    let put = parsed.get(&labels(&[("resource", "leases"), ("verb", "PUT")]));
    assert_eq!(put, Some(&histogram(&[(0.05, 3.0), (f64::INFINITY, 4.0)])));
    // Escaped quote and backslash, `,` `}` `=` inside a value; no +Inf: count 0.
    let odd = parsed.get(&labels(&[("path", "/a,b}=\"c\"\\d")]));
    assert_eq!(
        odd.map(|h| (h.buckets.clone(), h.count)),
        Some((vec![(1.0, 7.0)], 0.0))
    );
}

#[test]
fn later_samples_of_a_bucket_win_and_newline_escapes_unescape() {
    let text = "m_bucket{a=\"x\\ny\",le=\"1\"} 1\nm_bucket{a=\"x\\ny\",le=\"1.0\"} 2\nm_count{a=\"x\\ny\"} 2";
    let parsed = parse_histograms(text, "m");
    let h = parsed.get(&labels(&[("a", "x\ny")]));
    assert_eq!(
        h.map(|h| (h.buckets.clone(), h.count)),
        Some((vec![(1.0, 2.0)], 2.0))
    );
}

#[test]
fn never_panics_on_garbage() {
    for line in TEXT.lines() {
        for (i, _) in line.char_indices() {
            let _ = parse_histograms(line.get(..i).unwrap_or_default(), METRIC);
            let _ = parse_histograms(line.get(i..).unwrap_or_default(), METRIC);
        }
    }
    let alphabet: Vec<char> = "m_bucket{}=\",\\ le+Inf0.5 \n#é".chars().collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..2000 {
        let text: String = (0..40)
            .filter_map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                alphabet
                    .get((seed >> 33) as usize % alphabet.len())
                    .copied()
            })
            .collect();
        for (_, h) in parse_histograms(&text, "m") {
            let _ = quantile(&h, 0.99);
            let _ = quantile(&delta(&h, Some(&h)), 0.5);
        }
    }
}

#[test]
fn quantiles_interpolate_like_histogram_quantile() {
    let h = histogram(&[
        (0.05, 10.0),
        (0.1, 30.0),
        (0.5, 90.0),
        (1.0, 100.0),
        (f64::INFINITY, 100.0),
    ]);
    // rank 50 in (0.1, 0.5]: 0.1 + 0.4 * (50 - 30) / (90 - 30).
    assert!(close(quantile(&h, 0.5), 0.1 + 0.4 * 20.0 / 60.0));
    // rank 99 in (0.5, 1]: 0.5 + 0.5 * 9 / 10.
    assert!(close(quantile(&h, 0.99), 0.95));
    // The lowest bucket starts at 0: rank 5 of 10 in (0, 0.05].
    assert!(close(quantile(&h, 0.05), 0.025));
    // A rank equal to a bucket's count is that bucket's upper bound.
    assert!(close(quantile(&h, 0.1), 0.05));
    assert!(close(quantile(&h, 1.0), 1.0));
    assert!(close(quantile(&h, 0.0), 0.0));
}

#[test]
fn a_quantile_in_the_inf_bucket_is_the_highest_finite_bound() {
    let h = histogram(&[(0.1, 5.0), (1.0, 10.0), (f64::INFINITY, 20.0)]);
    assert!(close(quantile(&h, 0.9), 1.0));
    assert!(close(quantile(&h, 0.5), 1.0));
    assert!(close(quantile(&h, 0.25), 0.1));
}

#[test]
fn degenerate_histograms_have_no_quantile() {
    assert_eq!(quantile(&histogram(&[]), 0.5), None);
    assert_eq!(
        quantile(&histogram(&[(0.1, 0.0), (f64::INFINITY, 0.0)]), 0.5),
        None
    );
    assert_eq!(
        quantile(&histogram(&[(0.1, 3.0), (1.0, 4.0)]), 0.5),
        None,
        "no +Inf bucket"
    );
    assert_eq!(
        quantile(&histogram(&[(f64::INFINITY, 4.0)]), 0.5),
        None,
        "one bucket"
    );
    let h = histogram(&[(0.1, 5.0), (f64::INFINITY, 10.0)]);
    assert_eq!(quantile(&h, f64::NAN), None);
    assert_eq!(quantile(&h, -0.1), Some(f64::NEG_INFINITY));
    assert_eq!(quantile(&h, 1.1), Some(f64::INFINITY));
}

#[test]
fn buckets_are_sorted_coalesced_and_made_monotonic() {
    let negative = histogram(&[(-1.0, 5.0), (0.0, 5.0), (f64::INFINITY, 10.0)]);
    assert!(close(quantile(&negative, 0.2), -1.0));
    // 0.2 counts 5 < 10: taken as 10.
    let dip = histogram(&[(0.1, 10.0), (0.2, 5.0), (0.5, 20.0), (f64::INFINITY, 20.0)]);
    assert!(close(quantile(&dip, 0.5), 0.1));
    assert!(close(quantile(&dip, 0.75), 0.2 + 0.3 * 5.0 / 10.0));
    let unsorted = histogram(&[(f64::INFINITY, 20.0), (0.5, 20.0), (0.1, 10.0)]);
    assert!(close(quantile(&unsorted, 0.75), 0.1 + 0.4 * 5.0 / 10.0));
    // Two series of the same bound (as after a sum): added.
    let doubled = Histogram {
        buckets: vec![(1.0, 2.0), (1.0, 2.0), (f64::INFINITY, 8.0)],
        sum: 0.0,
        count: 8.0,
    };
    assert!(close(quantile(&doubled, 0.25), 0.5));
}

#[test]
fn delta_subtracts_the_earlier_scrape() {
    let before = Histogram {
        buckets: vec![(0.1, 10.0), (f64::INFINITY, 12.0)],
        sum: 1.0,
        count: 12.0,
    };
    let after = Histogram {
        buckets: vec![(0.1, 15.0), (1.0, 4.0), (f64::INFINITY, 22.0)],
        sum: 3.5,
        count: 22.0,
    };
    let window = delta(&after, Some(&before));
    assert_eq!(
        window.buckets,
        vec![(0.1, 5.0), (1.0, 4.0), (f64::INFINITY, 10.0)]
    );
    assert!((window.sum - 2.5).abs() < 1e-12);
    assert_eq!(window.count, 10.0);
    assert_eq!(delta(&after, None), after);
    // The server restarted between the scrapes: the counts since the restart.
    let restarted = Histogram {
        buckets: vec![(0.1, 1.0), (f64::INFINITY, 2.0)],
        sum: 0.2,
        count: 2.0,
    };
    assert_eq!(delta(&restarted, Some(&before)), restarted);
}

#[test]
fn group_by_sums_the_series_of_a_row() {
    let text = "\
h_bucket{component=\"a\",verb=\"GET\",resource=\"pods\",le=\"0.1\"} 1
h_bucket{component=\"a\",verb=\"GET\",resource=\"pods\",le=\"+Inf\"} 2
h_bucket{component=\"b\",verb=\"GET\",resource=\"pods\",le=\"0.1\"} 3
h_bucket{component=\"b\",verb=\"GET\",resource=\"pods\",le=\"+Inf\"} 4
h_count{component=\"b\",verb=\"GET\",resource=\"pods\"} 4
h_bucket{verb=\"LIST\",le=\"+Inf\"} 9
";
    let parsed = parse_histograms(text, "h");
    let groups = group_by(&parsed, &["verb", "resource", "subresource"]);
    assert_eq!(groups.len(), 2);
    let get = groups.get(&labels(&[
        ("verb", "GET"),
        ("resource", "pods"),
        ("subresource", ""),
    ]));
    assert_eq!(
        get.map(|h| (h.buckets.clone(), h.count)),
        Some((vec![(0.1, 4.0), (f64::INFINITY, 6.0)], 6.0))
    );
    assert!(close(get.and_then(|h| quantile(h, 0.5)), 0.075));
    let list = groups.get(&labels(&[
        ("verb", "LIST"),
        ("resource", ""),
        ("subresource", ""),
    ]));
    assert_eq!(list.map(|h| h.count), Some(9.0));
}

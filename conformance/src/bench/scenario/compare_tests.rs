use super::super::report::{LatencyFigure, ScenarioReport};
use super::*;

fn row(verb: &str, resource: &str, scope: &str, p99_ms: f64) -> LatencyFigure {
    LatencyFigure {
        verb: verb.to_string(),
        resource: resource.to_string(),
        scope: scope.to_string(),
        count: 100,
        p50_ms: p99_ms / 4.0,
        p99_ms,
        slo_p99_ms: 1000.0,
    }
}

fn report(scale: f64) -> ScenarioReport {
    let mut r = ScenarioReport {
        scenario: "join".to_string(),
        ..Default::default()
    };
    r.nodes.joined = 1000;
    r.nodes.joined_per_minute = 2000.0 * scale;
    r.pods.created_per_sec = 100.0 * scale;
    r.pods.scheduled_per_sec = 90.0 * scale;
    r.pods.running_per_sec = 80.0 * scale;
    r.watch_delay.p99_ms = 10.0 * scale;
    r.pod_startup.p99_ms = 500.0 * scale;
    r.server_cpu_seconds = Some(30.0 * scale);
    r.server_rss_max_bytes = Some((512.0 * scale) as u64 * 1024 * 1024);
    r.latencies = vec![row("POST", "pods", "resource", 20.0 * scale)];
    r
}

fn find<'a>(deltas: &'a [Delta], figure: &str) -> Option<&'a Delta> {
    deltas.iter().find(|d| d.figure == figure)
}

#[test]
fn figures_have_anchor_keys_and_directions() {
    let figures = figures(&report(1.0));
    assert_eq!(figures.len(), 11);
    let rss = figures.iter().find(|f| f.key == "server_rss_max_mib");
    assert_eq!(rss.and_then(|f| f.value), Some(512.0));
    let rate = figures.iter().find(|f| f.key == "joined_per_minute");
    assert_eq!(rate.map(|f| f.better), Some(Better::Higher));
}

#[test]
fn higher_throughput_and_lower_latency_are_better() {
    // Everything doubled: throughputs improved, latencies and costs got worse.
    let deltas = compare(&report(2.0), &report(1.0));
    assert_eq!(deltas.len(), 8 + 1);
    let joined = find(&deltas, "nodes joined/min");
    assert_eq!(
        joined.map(|d| (d.previous, d.current)),
        Some((2000.0, 4000.0))
    );
    assert_eq!(joined.and_then(|d| d.change_percent), Some(100.0));
    assert_eq!(joined.and_then(|d| d.better), Some(true));
    let startup = find(&deltas, "pod startup p99 ms");
    assert_eq!(startup.and_then(|d| d.better), Some(false));
    let post = find(&deltas, "p99 ms POST pods (resource)");
    assert_eq!(
        post.map(|d| (d.previous, d.current, d.better)),
        Some((20.0, 40.0, Some(false)))
    );
    // Halved: the other way round, -50 %.
    let back = compare(&report(1.0), &report(2.0));
    let cpu = find(&back, "server CPU s");
    assert_eq!(
        cpu.map(|d| (d.change_percent, d.better)),
        Some((Some(-50.0), Some(true)))
    );
    // Shown-only figures are not compared.
    assert!(find(&deltas, "nodes joined").is_none());
}

#[test]
fn zero_previous_has_no_percent_and_equal_is_neither() {
    let deltas = compare(&report(1.0), &report(0.0));
    let joined = find(&deltas, "nodes joined/min");
    assert_eq!(
        joined.map(|d| (d.change_percent, d.better)),
        Some((None, Some(true)))
    );
    let same = compare(&report(1.0), &report(1.0));
    assert!(
        same.iter()
            .all(|d| d.better.is_none() && d.change_percent == Some(0.0))
    );
    let nan = delta("x".to_string(), f64::NAN, 1.0, Better::Lower);
    assert_eq!((nan.change_percent, nan.better), (None, None));
}

#[test]
fn unmeasured_figures_and_unmatched_rows_are_left_out() {
    let mut current = report(1.0);
    current.server_cpu_seconds = None;
    current
        .latencies
        .push(row("LIST", "pods", "cluster", 300.0));
    let mut previous = report(1.0);
    previous.latencies = vec![
        row("GET", "pods", "resource", 3.0),
        row("POST", "pods", "namespace", 3.0),
        row("POST", "pods", "resource", 10.0),
    ];
    let deltas = compare(&current, &previous);
    assert!(find(&deltas, "server CPU s").is_none());
    assert!(find(&deltas, "server max RSS MiB").is_some());
    let rows: Vec<&str> = deltas
        .iter()
        .filter(|d| d.figure.starts_with("p99 ms "))
        .map(|d| d.figure.as_str())
        .collect();
    assert_eq!(rows, vec!["p99 ms POST pods (resource)"]);
}

#[test]
fn compare_text_is_a_table() {
    let text = compare_text(&compare(&report(2.0), &report(1.0)));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 9);
    assert!(lines.first().is_some_and(|l| l.starts_with("figure")));
    let joined = lines.iter().find(|l| l.starts_with("nodes joined/min"));
    assert!(
        joined
            .is_some_and(|l| l.contains("2000") && l.contains("+100.0%") && l.ends_with("better"))
    );
    assert!(text.contains("worse"));
    assert_eq!(
        compare_text(&[]),
        "no figure in common with the previous run\n"
    );
    assert_eq!(format_change(None), "n/a");
    assert_eq!(format_change(Some(-3.04)), "-3.0%");
}

#[test]
fn load_round_trips_and_explains_errors() {
    let original = report(1.5);
    let json = serde_json::to_string(&original).map_err(|e| e.to_string());
    assert_eq!(json.and_then(|j| load(&j)), Ok(original));
    let err = load("{\"scenario\": 3}").err().unwrap_or_default();
    assert!(err.starts_with("not a scenario report"), "{err}");
    assert!(err.contains("line 1"), "{err}");
    assert!(load("").is_err());
    assert!(load("[]").is_err());
}

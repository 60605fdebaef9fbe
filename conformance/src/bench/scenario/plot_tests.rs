use super::super::report::{LatencyFigure, Percentiles, Sample, ScenarioReport};
use super::*;

fn row(
    verb: &str,
    resource: &str,
    scope: &str,
    p50_ms: f64,
    p99_ms: f64,
    slo: f64,
) -> LatencyFigure {
    LatencyFigure {
        verb: verb.to_string(),
        resource: resource.to_string(),
        scope: scope.to_string(),
        count: 12_345,
        p50_ms,
        p99_ms,
        slo_p99_ms: slo,
    }
}

/// A 60-second join-and-pretrain run of 5,000 nodes, as the bench would report it.
fn realistic(speed: f64) -> ScenarioReport {
    let series: Vec<Sample> = (0..60u64)
        .map(|t| {
            let ramp = ((t as f64 * speed) / 20.0).min(1.0);
            let nodes = (5000.0 * ramp) as u64;
            let pods = (t.saturating_sub(20) as f64 * 400.0 * speed) as u64;
            Sample {
                t: t as f64,
                nodes_joined: nodes,
                nodes_ready: nodes.saturating_sub(150),
                pods_created: pods,
                pods_scheduled: pods * 95 / 100,
                pods_running: pods * 9 / 10,
                pods_finished: pods / 4,
                write_p99_ms: 8.0 + (t % 7) as f64 * 3.5,
                read_p99_ms: 1.5 + (t % 5) as f64 * 0.4,
                server_cpu_percent: 150.0 + (t % 10) as f64 * 12.0,
                server_rss_bytes: (600 + t * 8) << 20,
            }
        })
        .collect();
    let mut report = ScenarioReport {
        scenario: "join".to_string(),
        started_at: "2026-05-01T10:00:00Z".to_string(),
        server: "ultrak8s server (started by the bench)".to_string(),
        nproc: 16,
        seconds: 60.0,
        bench_cpu_seconds: 41.5,
        series,
        server_cpu_seconds: Some(98.2 / speed),
        server_rss_max_bytes: Some(1072 << 20),
        watch_delay: Percentiles {
            count: 16_000,
            p50_ms: 1.2,
            p99_ms: 9.8 / speed,
        },
        pod_startup: Percentiles {
            count: 15_000,
            p50_ms: 210.0,
            p99_ms: 900.0 / speed,
        },
        latencies: vec![
            row("POST", "pods", "resource", 3.1, 14.0, 1000.0),
            row(
                "PUT",
                "leases.coordination.k8s.io",
                "resource",
                0.8,
                2.9,
                1000.0,
            ),
            row("PATCH", "nodes/status", "resource", 2.2, 1500.0, 1000.0),
            row("LIST", "pods", "cluster", 120.0, 2900.0, 30000.0),
        ],
        anchors: [(
            "joined_per_minute".to_string(),
            "EKS 2,000 nodes/min".to_string(),
        )]
        .into(),
        ..Default::default()
    };
    report
        .params
        .insert("nodes".to_string(), serde_json::json!(5000));
    report.params.insert(
        "selector".to_string(),
        serde_json::json!("gpu<8 & \"fast\""),
    );
    report.nodes.requested = 5000;
    report.nodes.joined = 5000;
    report.nodes.ready = 4990;
    report.nodes.joined_per_minute = 15_000.0 * speed;
    report.pods.created = 16_000;
    report.pods.created_per_sec = 400.0 * speed;
    report.pods.scheduled_per_sec = 380.0 * speed;
    report.pods.running_per_sec = 360.0 * speed;
    report
}

#[test]
fn verdicts_follow_the_slo() {
    assert_eq!(
        verdict(&row("GET", "pods", "resource", 1.0, 999.0, 1000.0)),
        "OK"
    );
    assert_eq!(
        verdict(&row("GET", "pods", "resource", 1.0, 1000.0, 1000.0)),
        "OK"
    );
    assert_eq!(
        verdict(&row("GET", "pods", "resource", 1.0, 1000.5, 1000.0)),
        "OVER"
    );
    assert_eq!(verdict(&row("GET", "pods", "resource", 1.0, 5.0, 0.0)), "-");
    assert_eq!(
        verdict(&row("GET", "pods", "resource", 1.0, 5.0, f64::NAN)),
        "-"
    );
}

#[test]
fn realistic_page_has_charts_tables_and_escaped_text() {
    let report = realistic(1.0);
    let html = render_html(&report, None);
    let written = std::fs::write("/tmp/scenario-sample.html", &html);
    assert!(written.is_ok(), "{written:?}");
    let written = std::fs::write("/tmp/scenario-sample.txt", render_text(&report));
    assert!(written.is_ok(), "{written:?}");
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    assert_eq!(html.matches("<svg").count(), 5);
    assert_eq!(html.matches("<polyline").count(), 2 + 4 + 2 + 1 + 1);
    for name in [
        "joined",
        "ready",
        "created",
        "scheduled",
        "running",
        "finished",
    ] {
        assert!(html.contains(&format!(">{name}</text>")), "legend {name}");
    }
    for name in ["write p99", "read p99", "server CPU %", "server RSS MiB"] {
        assert!(html.contains(&format!(">{name}</text>")), "legend {name}");
    }
    assert!(html.contains("gpu&lt;8 &amp; &quot;fast&quot;"));
    assert!(!html.contains("gpu<8"));
    assert!(html.contains("<td class=\"over\">OVER</td>"));
    assert_eq!(html.matches(">OVER<").count(), 1);
    assert_eq!(html.matches(">OK<").count(), 3);
    assert!(html.contains("EKS 2,000 nodes/min"));
    assert!(html.contains("leases.coordination.k8s.io"));
    assert!(
        !html.contains("stroke-dasharray"),
        "no previous run, nothing dashed"
    );
    // Self-contained: no script, stylesheet, font or image from elsewhere.
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));
    let svg_namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(html.matches("http").count(), svg_namespaces);
    assert!(!html.contains("NaN"));
}

#[test]
fn previous_run_is_overlaid_dashed_and_compared() {
    let html = render_html(&realistic(1.25), Some(&realistic(1.0)));
    assert_eq!(html.matches("<polyline").count(), 2 * 10);
    assert!(html.contains(">joined (previous)</text>"));
    assert!(html.contains("stroke-dasharray"));
    assert!(html.contains("Compared with the previous run"));
    assert!(html.contains(">nodes joined/min</td>"));
    assert!(html.contains("+25.0%"));
    assert!(html.contains("class=\"better\""));
    assert!(html.contains("p99 ms PATCH nodes/status (resource)"));
}

#[test]
fn empty_and_single_sample_reports_render() {
    let empty = ScenarioReport::default();
    let html = render_html(&empty, Some(&empty));
    assert_eq!(html.matches("no samples").count(), 5);
    assert!(html.contains("No request latencies."));
    assert!(render_text(&empty).contains("no request latencies"));
    let mut single = realistic(1.0);
    single.series.truncate(1);
    let html = render_html(&single, None);
    assert_eq!(html.matches("<circle").count(), 10);
    assert!(!html.contains("NaN"));
}

#[test]
fn text_summary_aligns_figures_and_latencies() {
    let mut report = realistic(1.0);
    report.server_cpu_seconds = None;
    report
        .inconsistencies
        .push("3 pods unaccounted for".to_string());
    let text = render_text(&report);
    assert!(text.starts_with("scenario join  started 2026-05-01T10:00:00Z\n"));
    assert!(text.contains("params   nodes=5000 selector=gpu<8 & \"fast\"\n"));
    let joined = text.lines().find(|l| l.starts_with("nodes joined/min"));
    assert!(joined.is_some_and(|l| l.contains("15000") && l.ends_with("EKS 2,000 nodes/min")));
    assert!(
        text.lines()
            .any(|l| l.starts_with("server CPU s") && l.ends_with("n/a"))
    );
    let header = text
        .lines()
        .find(|l| l.starts_with("verb"))
        .unwrap_or_default();
    let over = text
        .lines()
        .find(|l| l.ends_with("OVER"))
        .unwrap_or_default();
    assert!(over.starts_with("PATCH"));
    // Right-aligned numbers: the p99 column ends where its header ends.
    let p99_end = header.find("p99 ms").map(|i| i + "p99 ms".len());
    assert_eq!(
        p99_end
            .and_then(|e| over.get(..e))
            .map(|s| s.ends_with("1500")),
        Some(true)
    );
    assert!(text.contains("inconsistencies:\n  - 3 pods unaccounted for\n"));
}

#[test]
fn anchors_sit_beside_their_figures_and_the_rest_are_listed() {
    let mut report = realistic(1.0);
    report.anchors = [
        ("nodes", "EKS: 100,000 nodes in one cluster"),
        ("pod_startup", "SLO: pod startup p99 <= 5 s"),
        ("write_p99", "SLO: p99 <= 1 s <mutating & single-object>"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let text = render_text(&report);
    let nodes = text.lines().find(|l| l.starts_with("nodes joined "));
    assert!(nodes.is_some_and(|l| l.ends_with("EKS: 100,000 nodes in one cluster")));
    let startup = text.lines().find(|l| l.starts_with("pod startup p99"));
    assert!(startup.is_some_and(|l| l.ends_with("SLO: pod startup p99 <= 5 s")));
    assert!(text.contains("write_p99: SLO: p99 <= 1 s <mutating & single-object>\n"));
    assert!(
        !text.contains("nodes: EKS"),
        "a figure's anchor is not listed twice"
    );
    let html = render_html(&report, None);
    assert!(html.contains("<td>EKS: 100,000 nodes in one cluster</td>"));
    assert!(
        html.contains(
            "<li>write_p99: SLO: p99 &lt;= 1 s &lt;mutating &amp; single-object&gt;</li>"
        )
    );
}

//! A run's report for people: the self-contained HTML page written beside its JSON file
//! (headline figures beside their anchors, the latency table against the SLOs, line charts of
//! the per-second samples, and the comparison with a previous run), and the plain-text summary
//! printed on the terminal.
//!
//! The latency verdicts follow the Kubernetes API call latency SLO as clusterloader2 checks
//! it: a row is over when its p99 over the run exceeds the bound of its verb and scope.

use std::fmt::Write as _;

use super::chart::{
    PALETTE, STYLE, escape, format_number, html_table, line_chart, plain, text_table,
};
use super::compare::{compare, figures, format_better, format_change, is_figure_anchor};
use super::report::{LatencyFigure, Sample, ScenarioReport};

/// Bytes in a MiB, for the RSS chart.
const MIB: f64 = 1024.0 * 1024.0;

/// `OK` when the row's p99 is within its SLO, `OVER` when above it, `-` for a row without
/// a bound (0 or not a number: nothing to check against).
pub fn verdict(row: &LatencyFigure) -> &'static str {
    if !(row.slo_p99_ms.is_finite() && row.slo_p99_ms > 0.0) {
        "-"
    } else if row.p99_ms > row.slo_p99_ms {
        "OVER"
    } else {
        "OK"
    }
}

/// A parameter's value as typed on the command line: strings without their JSON quotes.
fn param_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `name=value` pairs of the run's parameters, space-separated.
fn params_text(report: &ScenarioReport) -> String {
    let pairs: Vec<String> = report
        .params
        .iter()
        .map(|(k, v)| format!("{k}={}", param_text(v)))
        .collect();
    pairs.join(" ")
}

/// A value that may be missing (`n/a`).
fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), format_number)
}

fn latency_cells(row: &LatencyFigure) -> Vec<String> {
    vec![
        row.verb.clone(),
        row.resource.clone(),
        row.scope.clone(),
        row.count.to_string(),
        format_number(row.p50_ms),
        format_number(row.p99_ms),
        format_number(row.slo_p99_ms),
        verdict(row).to_string(),
    ]
}

/// The anchors of the report that are not a headline figure's (the latency SLOs...).
fn other_anchors(report: &ScenarioReport) -> Vec<(&String, &String)> {
    report
        .anchors
        .iter()
        .filter(|(k, _)| !is_figure_anchor(k))
        .collect()
}

const LATENCY_HEADER: [&str; 8] = [
    "verb",
    "resource",
    "scope",
    "count",
    "p50 ms",
    "p99 ms",
    "SLO p99 ms",
    "verdict",
];
const LATENCY_RIGHT: [bool; 8] = [false, false, false, true, true, true, true, false];

/// The plain-text summary printed at the end of a run: what ran, the headline figures with
/// their anchors, the latency table and any inconsistency of the report, in aligned columns.
pub fn render_text(report: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {}  started {}",
        report.scenario, report.started_at
    );
    let _ = writeln!(out, "server   {}", report.server);
    let _ = writeln!(out, "params   {}", params_text(report));
    let _ = writeln!(
        out,
        "run      {} s, {} CPUs, bench CPU {} s\n",
        format_number(report.seconds),
        report.nproc,
        format_number(report.bench_cpu_seconds)
    );
    let rows: Vec<Vec<String>> = figures(report)
        .into_iter()
        .map(|f| {
            let anchor = f.anchor(report).unwrap_or_default().to_string();
            vec![f.label.to_string(), optional(f.value), anchor]
        })
        .collect();
    out.push_str(&text_table(
        &["figure", "value", "anchor"],
        &rows,
        &[false, true, false],
    ));
    out.push('\n');
    if report.latencies.is_empty() {
        out.push_str("no request latencies\n");
    } else {
        let rows: Vec<Vec<String>> = report.latencies.iter().map(latency_cells).collect();
        out.push_str(&text_table(&LATENCY_HEADER, &rows, &LATENCY_RIGHT));
    }
    for (key, anchor) in other_anchors(report) {
        let _ = writeln!(out, "{key}: {anchor}");
    }
    if !report.inconsistencies.is_empty() {
        out.push_str("\ninconsistencies:\n");
        for line in &report.inconsistencies {
            let _ = writeln!(out, "  - {line}");
        }
    }
    out
}

/// A line of a chart: its name and its value in a sample.
type SeriesOf = (&'static str, fn(&Sample) -> f64);

/// One chart of the page: its title, y-axis label and lines.
struct ChartSpec {
    title: &'static str,
    y_label: &'static str,
    lines: &'static [SeriesOf],
}

const CHARTS: [ChartSpec; 5] = [
    ChartSpec {
        title: "Nodes",
        y_label: "nodes",
        lines: &[
            ("joined", |s| s.nodes_joined as f64),
            ("ready", |s| s.nodes_ready as f64),
        ],
    },
    ChartSpec {
        title: "Pods (cumulative)",
        y_label: "pods",
        lines: &[
            ("created", |s| s.pods_created as f64),
            ("scheduled", |s| s.pods_scheduled as f64),
            ("running", |s| s.pods_running as f64),
            ("finished", |s| s.pods_finished as f64),
        ],
    },
    ChartSpec {
        title: "Request latency p99 per second",
        y_label: "ms",
        lines: &[
            ("write p99", |s| s.write_p99_ms),
            ("read p99", |s| s.read_p99_ms),
        ],
    },
    ChartSpec {
        title: "Server CPU",
        y_label: "% of one core",
        lines: &[("server CPU %", |s| s.server_cpu_percent)],
    },
    ChartSpec {
        title: "Server memory",
        y_label: "MiB",
        lines: &[("server RSS MiB", |s| s.server_rss_bytes as f64 / MIB)],
    },
];

/// The lines of one chart: the current run's, then the previous run's dashed in the same
/// colours.
fn chart_lines(
    spec: &ChartSpec,
    report: &ScenarioReport,
    previous: Option<&ScenarioReport>,
) -> Vec<super::chart::Line> {
    let runs = std::iter::once((report, false)).chain(previous.map(|p| (p, true)));
    runs.flat_map(|(run, dashed)| {
        spec.lines
            .iter()
            .zip(PALETTE.iter().cycle())
            .map(move |(&(name, value), &color)| super::chart::Line {
                name: if dashed {
                    format!("{name} (previous)")
                } else {
                    name.to_string()
                },
                color,
                dashed,
                points: run.series.iter().map(|s| (s.t, value(s))).collect(),
            })
    })
    .collect()
}

/// The run's page: a header (scenario, start, parameters, server), the headline figures
/// beside their anchors, the latency table with its SLO verdicts, the report's
/// inconsistencies, the charts over the samples and, with `previous`, the comparison table
/// and the previous run's lines dashed in each chart. Every text from the report is escaped.
pub fn render_html(report: &ScenarioReport, previous: Option<&ScenarioReport>) -> String {
    let title = format!("ultrak8s bench {}: {}", report.scenario, report.started_at);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(&title)
    );
    let header = [
        ("scenario", report.scenario.clone()),
        ("started at", report.started_at.clone()),
        ("server", report.server.clone()),
        ("CPUs", report.nproc.to_string()),
        ("duration s", format_number(report.seconds)),
        ("bench CPU s", format_number(report.bench_cpu_seconds)),
    ];
    let mut rows: Vec<Vec<(String, Option<&str>)>> = header
        .iter()
        .map(|(k, v)| vec![plain(k), plain(v)])
        .collect();
    rows.extend(
        report
            .params
            .iter()
            .map(|(k, v)| vec![plain(k), plain(&param_text(v))]),
    );
    out.push_str(&html_table(&["run", ""], &rows, &[]));

    out.push_str("<h2>Headline figures</h2>\n");
    let rows: Vec<Vec<(String, Option<&str>)>> = figures(report)
        .iter()
        .map(|f| {
            let anchor = f.anchor(report).unwrap_or("");
            vec![plain(f.label), plain(&optional(f.value)), plain(anchor)]
        })
        .collect();
    out.push_str(&html_table(
        &["figure", "value", "anchor"],
        &rows,
        &[false, true],
    ));
    let n = &report.nodes;
    let p = &report.pods;
    let _ = writeln!(
        out,
        "<p>Nodes: {} requested, {} joined, {} ready, {} replaced; {} lease renewals ({} \
         errors). Pods: {} created, {} scheduled, {} running, {} succeeded, {} failed, {} \
         deleted, {} live at the end.</p>",
        n.requested,
        n.joined,
        n.ready,
        n.replaced,
        n.lease_renewals,
        n.lease_renewal_errors,
        p.created,
        p.scheduled,
        p.running,
        p.succeeded,
        p.failed,
        p.deleted,
        p.live_at_end
    );

    out.push_str("<h2>Request latency (the server's histogram over the run)</h2>\n");
    if report.latencies.is_empty() {
        out.push_str("<p>No request latencies.</p>\n");
    } else {
        let rows: Vec<Vec<(String, Option<&str>)>> = report
            .latencies
            .iter()
            .map(|row| {
                let class = match verdict(row) {
                    "OVER" => Some("over"),
                    "OK" => Some("ok"),
                    _ => None,
                };
                let mut cells: Vec<_> = latency_cells(row).iter().map(|c| plain(c)).collect();
                if let Some(last) = cells.last_mut() {
                    last.1 = class;
                }
                cells
            })
            .collect();
        out.push_str(&html_table(&LATENCY_HEADER, &rows, &LATENCY_RIGHT));
    }
    let others = other_anchors(report);
    if !others.is_empty() {
        out.push_str("<p>Anchors:</p>\n<ul>\n");
        for (k, v) in others {
            let _ = writeln!(out, "<li>{}: {}</li>", escape(k), escape(v));
        }
        out.push_str("</ul>\n");
    }
    if !report.inconsistencies.is_empty() {
        out.push_str("<h2 class=\"warn\">Inconsistencies</h2>\n<ul>\n");
        for line in &report.inconsistencies {
            let _ = writeln!(out, "<li>{}</li>", escape(line));
        }
        out.push_str("</ul>\n");
    }

    if let Some(previous) = previous {
        let _ = writeln!(
            out,
            "<h2>Compared with the previous run ({} {})</h2>",
            escape(&previous.scenario),
            escape(&previous.started_at)
        );
        let rows: Vec<Vec<(String, Option<&str>)>> = compare(report, previous)
            .iter()
            .map(|d| {
                let verdict = format_better(d.better);
                let class = match d.better {
                    Some(true) => Some("better"),
                    Some(false) => Some("worse"),
                    None => None,
                };
                vec![
                    plain(&d.figure),
                    plain(&format_number(d.previous)),
                    plain(&format_number(d.current)),
                    plain(&format_change(d.change_percent)),
                    (escape(verdict), class),
                ]
            })
            .collect();
        out.push_str(&html_table(
            &["figure", "previous", "current", "change", ""],
            &rows,
            &[false, true, true, true],
        ));
    }

    out.push_str("<h2>Over the run</h2>\n");
    if previous.is_some() {
        out.push_str("<p>Dashed: the previous run.</p>\n");
    }
    for spec in &CHARTS {
        out.push_str(&line_chart(
            spec.title,
            spec.y_label,
            &chart_lines(spec, report, previous),
        ));
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
#[path = "plot_tests.rs"]
mod tests;

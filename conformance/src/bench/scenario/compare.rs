//! A run set beside a previous one: the headline figures of a report, which way each one is
//! better, and the change between two runs, so that a regression shows as a `worse` line
//! rather than as a number to remember from last week.

use super::chart::{format_number, text_table};
use super::report::{LatencyFigure, ScenarioReport};

/// Which way a figure improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// A throughput: nodes joined per minute, pods per second.
    Higher,
    /// A latency or a cost: p99s, CPU seconds, memory.
    Lower,
    /// Shown, not compared (counts that depend on the run's size, p50s).
    Neither,
}

/// One headline figure of a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The figure's name (the report's field, `_ms`/`_mib` for the unit where it is not
    /// obvious): `joined_per_minute`, `watch_delay_p99_ms`...
    pub key: &'static str,
    /// The names of its anchor in `ScenarioReport::anchors`, tried in order: the key, then
    /// shorter names (`nodes`, `pod_startup`) the scenarios may use.
    pub anchor_keys: &'static [&'static str],
    /// The figure for people: `pods scheduled/s`.
    pub label: &'static str,
    /// `None` where the run did not measure it (the CPU of a server the bench did not start).
    pub value: Option<f64>,
    pub better: Better,
}

impl Figure {
    /// The figure's anchor in `report`, if it has one.
    pub fn anchor<'a>(&self, report: &'a ScenarioReport) -> Option<&'a str> {
        self.anchor_keys
            .iter()
            .find_map(|k| report.anchors.get(*k))
            .map(String::as_str)
    }
}

/// Whether an anchor of the report belongs to one of the headline figures (the others, such
/// as the latency SLOs, are listed apart).
pub fn is_figure_anchor(key: &str) -> bool {
    figures(&ScenarioReport::default())
        .iter()
        .any(|f| f.anchor_keys.contains(&key))
}

/// Bytes in a MiB, for the server's RSS.
const MIB: f64 = 1024.0 * 1024.0;

/// The headline figures of `report`, in the order the terminal and the page show them.
pub fn figures(report: &ScenarioReport) -> Vec<Figure> {
    use Better::{Higher, Lower, Neither};
    let (n, p) = (&report.nodes, &report.pods);
    let table: [(&'static [&'static str], &'static str, Option<f64>, Better); 11] = [
        (
            &["nodes_joined", "nodes"],
            "nodes joined",
            Some(n.joined as f64),
            Neither,
        ),
        (
            &["joined_per_minute"],
            "nodes joined/min",
            Some(n.joined_per_minute),
            Higher,
        ),
        (
            &["created_per_sec"],
            "pods created/s",
            Some(p.created_per_sec),
            Higher,
        ),
        (
            &["scheduled_per_sec"],
            "pods scheduled/s",
            Some(p.scheduled_per_sec),
            Higher,
        ),
        (
            &["running_per_sec"],
            "pods running/s",
            Some(p.running_per_sec),
            Higher,
        ),
        (
            &["watch_delay_p50_ms"],
            "watch delay p50 ms",
            Some(report.watch_delay.p50_ms),
            Neither,
        ),
        (
            &["watch_delay_p99_ms", "watch_delay"],
            "watch delay p99 ms",
            Some(report.watch_delay.p99_ms),
            Lower,
        ),
        (
            &["pod_startup_p50_ms"],
            "pod startup p50 ms",
            Some(report.pod_startup.p50_ms),
            Neither,
        ),
        (
            &["pod_startup_p99_ms", "pod_startup"],
            "pod startup p99 ms",
            Some(report.pod_startup.p99_ms),
            Lower,
        ),
        (
            &["server_cpu_seconds"],
            "server CPU s",
            report.server_cpu_seconds,
            Lower,
        ),
        (
            &["server_rss_max_mib", "server_rss"],
            "server max RSS MiB",
            report.server_rss_max_bytes.map(|b| b as f64 / MIB),
            Lower,
        ),
    ];
    table
        .into_iter()
        .map(|(anchor_keys, label, value, better)| Figure {
            key: anchor_keys.first().copied().unwrap_or(label),
            anchor_keys,
            label,
            value,
            better,
        })
        .collect()
}

/// One figure of two runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Delta {
    /// The figure's label, or `p99 ms VERB resource (scope)` for a latency row.
    pub figure: String,
    pub previous: f64,
    pub current: f64,
    /// `(current - previous) / |previous|` in percent; `None` when `previous` is 0 (or either
    /// value is not finite).
    pub change_percent: Option<f64>,
    /// Whether the figure moved the good way; `None` when it did not move (or cannot be told).
    pub better: Option<bool>,
}

/// The name of a latency row's p99 in a comparison.
pub fn latency_name(row: &LatencyFigure) -> String {
    format!("p99 ms {} {} ({})", row.verb, row.resource, row.scope)
}

fn delta(figure: String, previous: f64, current: f64, better: Better) -> Delta {
    let comparable = previous.is_finite() && current.is_finite();
    let change_percent =
        (comparable && previous != 0.0).then(|| (current - previous) / previous.abs() * 100.0);
    let improved = match better {
        _ if !comparable || current == previous => None,
        Better::Higher => Some(current > previous),
        Better::Lower => Some(current < previous),
        Better::Neither => None,
    };
    Delta {
        figure,
        previous,
        current,
        change_percent,
        better: improved,
    }
}

/// The compared headline figures (throughputs, p99s, server CPU and RSS) of both runs, then
/// the p99 of every latency row present in both (matched by verb, resource and scope). A
/// figure one of the runs did not measure is left out.
pub fn compare(current: &ScenarioReport, previous: &ScenarioReport) -> Vec<Delta> {
    let before = figures(previous);
    let mut deltas: Vec<Delta> = figures(current)
        .into_iter()
        .filter(|f| f.better != Better::Neither)
        .filter_map(|now| {
            let then = before.iter().find(|b| b.key == now.key)?;
            Some(delta(
                now.label.to_string(),
                then.value?,
                now.value?,
                now.better,
            ))
        })
        .collect();
    for row in &current.latencies {
        let same = |p: &&LatencyFigure| {
            p.verb == row.verb && p.resource == row.resource && p.scope == row.scope
        };
        if let Some(then) = previous.latencies.iter().find(same) {
            deltas.push(delta(
                latency_name(row),
                then.p99_ms,
                row.p99_ms,
                Better::Lower,
            ));
        }
    }
    deltas
}

/// `+12.5%`, `-3.0%`, or `n/a`.
pub fn format_change(change: Option<f64>) -> String {
    match change {
        Some(c) if c.is_finite() => format!("{c:+.1}%"),
        _ => "n/a".to_string(),
    }
}

/// `better`, `worse` or `same`.
pub fn format_better(better: Option<bool>) -> &'static str {
    match better {
        Some(true) => "better",
        Some(false) => "worse",
        None => "same",
    }
}

/// The comparison as an aligned text table: figure, previous, current, change, verdict.
pub fn compare_text(deltas: &[Delta]) -> String {
    if deltas.is_empty() {
        return "no figure in common with the previous run\n".to_string();
    }
    let rows: Vec<Vec<String>> = deltas
        .iter()
        .map(|d| {
            vec![
                d.figure.clone(),
                format_number(d.previous),
                format_number(d.current),
                format_change(d.change_percent),
                format_better(d.better).to_string(),
            ]
        })
        .collect();
    text_table(
        &["figure", "previous", "current", "change", ""],
        &rows,
        &[false, true, true, true, false],
    )
}

/// Reads a report written by a previous run (its JSON file), for `--compare`.
pub fn load(json: &str) -> Result<ScenarioReport, String> {
    serde_json::from_str(json).map_err(|e| {
        format!("not a scenario report (the JSON file a `bench` scenario writes): {e}")
    })
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;

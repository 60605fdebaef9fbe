//! Drawing helpers for the scenario reports: HTML escaping, number formatting, aligned text
//! and HTML tables, the page's stylesheet and inline-SVG line charts.
//!
//! The HTML page of a run must open from a file, offline, years later, so nothing here refers
//! to a script, font or stylesheet: a chart is plain SVG markup drawn from the samples. Every
//! function is total (no panics, no division by zero): empty series, a single sample, NaN or
//! infinite values all give a drawable chart.

use std::fmt::Write as _;

/// Colours of the lines of a chart, in order (the previous run's lines reuse them, dashed).
pub const PALETTE: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// The chart's geometry, in SVG user units (the SVG scales to the page through `viewBox`).
const WIDTH: f64 = 720.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 700.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 216.0;
const LEGEND_TOP: f64 = 276.0;
const LEGEND_ROW: f64 = 20.0;
const LEGEND_COLUMN: f64 = 170.0;
const LEGEND_PER_ROW: usize = 4;
/// About how many intervals an axis is divided into.
const TICKS: usize = 5;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A figure for people: integers without decimals, large values rounded to units, small ones
/// to 2 or 3 significant decimals; `n/a` for NaN and infinities.
pub fn format_number(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    let magnitude = value.abs();
    let text = if magnitude >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 0.01 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    };
    if text.trim_start_matches(['-', '0', '.']).is_empty() {
        // `-0`, `-0.00`: a negative value rounded to zero reads as zero.
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

/// Lays rows out in columns padded to their widest cell, two spaces apart; the columns whose
/// `right` flag is set (numbers) are right-aligned. Rows shorter than the header are padded
/// with empty cells, cells beyond it are dropped.
pub fn text_table(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (column, width) in widths.iter().enumerate() {
            let cell = row.get(column).map(String::as_str).unwrap_or("");
            if column > 0 {
                line.push_str("  ");
            }
            if right.get(column).copied().unwrap_or(false) {
                let _ = write!(line, "{cell:>width$}");
            } else {
                let _ = write!(line, "{cell:<width$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The page's stylesheet, inline.
pub const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums}\
.ok{color:#2a7d2a}.over{color:#b00020;font-weight:bold}.worse{color:#b00020}\
.better{color:#2a7d2a}.warn{color:#b00020}\
svg.chart{display:block;margin:1em 0;max-width:100%;height:auto}\
svg text{font-size:11px;fill:#333}svg text.title{font-size:14px;font-weight:bold}\
svg .grid{stroke:#eee}svg .axis{stroke:#888}svg text.empty{fill:#999;font-size:14px}";

/// An HTML table; `cells` are already escaped, a cell in `numeric` columns is right-aligned,
/// and `class` gives a row's cells a class by column (`None`: none).
pub fn html_table(
    header: &[&str],
    rows: &[Vec<(String, Option<&str>)>],
    numeric: &[bool],
) -> String {
    let mut out = String::from("<table>\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, (cell, class)) in row.iter().enumerate() {
            let mut classes = Vec::new();
            if numeric.get(i).copied().unwrap_or(false) {
                classes.push("num");
            }
            classes.extend(class);
            if classes.is_empty() {
                let _ = write!(out, "<td>{cell}</td>");
            } else {
                let _ = write!(out, "<td class=\"{}\">{cell}</td>", classes.join(" "));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// A cell of plain text, escaped, without a class.
pub fn plain(text: &str) -> (String, Option<&'static str>) {
    (escape(text), None)
}

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The legend's name of the line.
    pub name: String,
    /// An SVG colour, one of [`PALETTE`] for the scenario charts.
    pub color: &'static str,
    /// Dashed: the previous run's line, overlaid on the current run's.
    pub dashed: bool,
    /// `(x, y)` points in data units; points with a NaN or infinite coordinate are skipped.
    pub points: Vec<(f64, f64)>,
}

/// An axis range rounded out to "nice" steps (1, 2 or 5 times a power of ten), with its ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub min: f64,
    pub max: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
}

/// The axis over `[lo, hi]` in about [`TICKS`] steps. An empty or degenerate range (one
/// value, NaN) widens to one unit, so that a single sample is drawn mid-chart rather than
/// dividing by zero; `max > min` always holds.
pub fn axis(lo: f64, hi: f64) -> Axis {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() && lo <= hi {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    if hi - lo <= 0.0 {
        if lo == 0.0 {
            hi = 1.0;
        } else {
            let pad = lo.abs() * 0.5;
            lo -= pad;
            hi += pad;
        }
    }
    let raw = (hi - lo) / TICKS as f64;
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    let step = nice * power;
    if !step.is_finite() || step <= 0.0 {
        return Axis {
            min: lo,
            max: hi,
            step: hi - lo,
            ticks: vec![lo, hi],
        };
    }
    let min = (lo / step).floor() * step;
    let mut max = (hi / step).ceil() * step;
    if max <= min {
        max = min + step;
    }
    let ticks = (0..=4 * TICKS)
        .map(|i| min + step * i as f64)
        .take_while(|t| *t <= max + step * 1e-9)
        .collect();
    Axis {
        min,
        max,
        step,
        ticks,
    }
}

/// A tick label with as many decimals as the step needs (`0.25` but `250`).
fn tick_label(value: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    let text = format!("{value:.decimals$}");
    if text.trim_start_matches(['-', '0', '.']).is_empty() {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

/// An inline SVG line chart of `lines`: a title, both axes with tick labels and grid lines,
/// one polyline per line (a dot for a line of one point) and a legend below. The x axis is
/// the run's time in seconds; the y axis starts at zero unless a value is negative.
pub fn line_chart(title: &str, y_label: &str, lines: &[Line]) -> String {
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let points = || lines.iter().flat_map(|l| l.points.iter().filter(finite));
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
    for &(x, y) in points() {
        x_lo = x_lo.min(x);
        x_hi = x_hi.max(x);
        y_lo = y_lo.min(y);
        y_hi = y_hi.max(y);
    }
    let empty = points().next().is_none();
    let (x_axis, y_axis) = if empty {
        (axis(0.0, 1.0), axis(0.0, 1.0))
    } else {
        (axis(x_lo, x_hi), axis(y_lo, y_hi))
    };
    let px = |x: f64| LEFT + (x - x_axis.min) / (x_axis.max - x_axis.min) * (RIGHT - LEFT);
    let py = |y: f64| BOTTOM - (y - y_axis.min) / (y_axis.max - y_axis.min) * (BOTTOM - TOP);
    let legend_rows = lines.len().div_ceil(LEGEND_PER_ROW).max(1);
    let height = LEGEND_TOP + LEGEND_ROW * legend_rows as f64;

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} \
         {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{t}\">\n\
         <text x=\"{LEFT}\" y=\"20\" class=\"title\">{t}</text>\n",
        t = escape(title)
    );
    for &tick in &y_axis.ticks {
        let y = py(tick);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\" class=\"grid\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + 4.0,
            tick_label(tick, y_axis.step)
        );
    }
    for &tick in &x_axis.ticks {
        let x = px(tick);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{BOTTOM}\" x2=\"{x:.1}\" y2=\"{:.1}\" class=\"axis\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            BOTTOM + 5.0,
            BOTTOM + 18.0,
            tick_label(tick, x_axis.step)
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{RIGHT}\" y2=\"{BOTTOM}\" class=\"axis\"/>\n\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{BOTTOM}\" class=\"axis\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">t (s)</text>\n\
         <text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">\
         {}</text>\n",
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 36.0,
        (TOP + BOTTOM) / 2.0,
        (TOP + BOTTOM) / 2.0,
        escape(y_label)
    );
    if empty {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"empty\">no samples\
             </text>",
            (LEFT + RIGHT) / 2.0,
            (TOP + BOTTOM) / 2.0
        );
    }
    for line in lines {
        let dash = if line.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let shown: Vec<String> = line
            .points
            .iter()
            .filter(finite)
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let name = escape(&line.name);
        match shown.as_slice() {
            [] => {}
            [single] => {
                let (x, y) = single.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{}\"><title>{name}</title>\
                     </circle>",
                    line.color
                );
            }
            many => {
                let _ = writeln!(
                    svg,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{dash} \
                     points=\"{}\"><title>{name}</title></polyline>",
                    line.color,
                    many.join(" ")
                );
            }
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let x = LEFT + LEGEND_COLUMN * (i % LEGEND_PER_ROW) as f64;
        let y = LEGEND_TOP + LEGEND_ROW * (i / LEGEND_PER_ROW) as f64;
        let dash = if line.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            "<g class=\"legend\"><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" \
             stroke=\"{}\" stroke-width=\"2\"{dash}/><text x=\"{:.1}\" y=\"{y:.1}\">{}</text></g>",
            y - 4.0,
            x + 24.0,
            y - 4.0,
            line.color,
            x + 30.0,
            escape(&line.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
#[path = "chart_tests.rs"]
mod tests;

use super::*;

#[test]
fn escape_covers_markup_and_quotes() {
    assert_eq!(
        escape(r#"<a href="x">&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(escape("plain ü"), "plain ü");
}

#[test]
fn numbers_read_naturally() {
    assert_eq!(format_number(5000.0), "5000");
    assert_eq!(format_number(2345.678), "2346");
    assert_eq!(format_number(12.345), "12.3");
    assert_eq!(format_number(0.456), "0.46");
    assert_eq!(format_number(0.0042), "0.004");
    assert_eq!(format_number(-0.0001), "0.000");
    assert_eq!(format_number(0.0), "0");
    assert_eq!(format_number(f64::NAN), "n/a");
    assert_eq!(format_number(f64::INFINITY), "n/a");
}

#[test]
fn text_table_aligns_columns() {
    let rows = vec![
        vec!["nodes joined".to_string(), "5000".to_string()],
        vec!["x".to_string(), "12.5".to_string(), "dropped".to_string()],
        vec!["short".to_string()],
    ];
    let table = text_table(&["figure", "value"], &rows, &[false, true]);
    assert_eq!(
        table,
        "figure        value\nnodes joined   5000\nx              12.5\nshort\n"
    );
}

#[test]
fn axis_rounds_to_nice_steps() {
    let a = axis(0.0, 97.0);
    assert_eq!((a.min, a.max, a.step), (0.0, 100.0, 20.0));
    assert_eq!(a.ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    let b = axis(0.0, 0.37);
    assert!((b.step - 0.1).abs() < 1e-12);
    assert!(b.max >= 0.37 && b.max < 0.5);
}

#[test]
fn degenerate_axes_widen() {
    for (lo, hi) in [
        (0.0, 0.0),
        (5.0, 5.0),
        (-3.0, -3.0),
        (f64::NAN, 1.0),
        (2.0, 1.0),
    ] {
        let a = axis(lo, hi);
        assert!(a.max > a.min, "{lo} {hi}: {a:?}");
        assert!(!a.ticks.is_empty() && a.ticks.len() <= 21);
    }
    let huge = axis(-f64::MAX, f64::MAX);
    assert!(huge.max > huge.min);
}

#[test]
fn tick_labels_use_the_steps_decimals() {
    assert_eq!(tick_label(0.25, 0.05), "0.25");
    assert_eq!(tick_label(250.0, 50.0), "250");
    assert_eq!(tick_label(-0.0, 1.0), "0");
}

fn line(name: &str, dashed: bool, points: Vec<(f64, f64)>) -> Line {
    Line {
        name: name.to_string(),
        color: "#000",
        dashed,
        points,
    }
}

#[test]
fn chart_draws_polylines_axes_and_legend() {
    let points = (0..10).map(|t| (t as f64, (t * t) as f64)).collect();
    let svg = line_chart("Pods <all>", "pods", &[line("created & co", false, points)]);
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    assert!(svg.contains("<polyline"));
    assert!(svg.contains("Pods &lt;all&gt;"));
    assert!(svg.contains(">created &amp; co</text>"));
    assert!(svg.contains(">t (s)</text>"));
    assert!(
        svg.contains(">100</text>"),
        "y ticks reach the maximum: {svg}"
    );
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

#[test]
fn dashed_lines_are_dashed_in_chart_and_legend() {
    let svg = line_chart("c", "y", &[line("old", true, vec![(0.0, 1.0), (1.0, 2.0)])]);
    assert_eq!(svg.matches("stroke-dasharray").count(), 2);
}

#[test]
fn empty_and_single_sample_charts_do_not_divide_by_zero() {
    let empty = line_chart("c", "y", &[]);
    assert!(empty.contains("no samples"));
    let no_points = line_chart("c", "y", &[line("a", false, vec![])]);
    assert!(no_points.contains("no samples") && no_points.contains(">a</text>"));
    let single = line_chart("c", "y", &[line("a", false, vec![(3.0, 7.0)])]);
    assert!(single.contains("<circle") && !single.contains("<polyline"));
    let flat = line_chart("c", "y", &[line("a", false, vec![(0.0, 0.0), (0.0, 0.0)])]);
    for svg in [empty, no_points, single, flat] {
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
}

#[test]
fn non_finite_points_are_skipped() {
    let points = vec![
        (0.0, 1.0),
        (1.0, f64::NAN),
        (f64::INFINITY, 2.0),
        (2.0, 3.0),
    ];
    let svg = line_chart("c", "y", &[line("a", false, points)]);
    let polyline = svg
        .lines()
        .find(|l| l.starts_with("<polyline"))
        .unwrap_or_default();
    let coords = polyline.split("points=\"").nth(1).unwrap_or_default();
    assert_eq!(
        coords
            .split('"')
            .next()
            .unwrap_or_default()
            .split(' ')
            .count(),
        2
    );
    assert!(!svg.contains("NaN"));
}

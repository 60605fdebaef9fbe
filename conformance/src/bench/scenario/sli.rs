//! API call latency SLIs from the server's own metrics, the way clusterloader2 computes them.
//!
//! clusterloader2's `APIResponsivenessPrometheus` measurement takes the
//! `apiserver_request_duration_seconds` histogram over the test's window and reports
//! `histogram_quantile(0.5 | 0.9 | 0.99, sum by (resource, subresource, verb, scope, le))`.
//! The bench has no Prometheus: it scrapes `/metrics` before and after the run, parses the
//! text exposition format ([`parse_histograms`]), takes the counters' difference ([`delta`]),
//! sums the series of one row ([`group_by`]) and computes the quantile exactly as Prometheus's
//! `histogram_quantile` does ([`quantile`], after `bucketQuantile` in `promql/quantile.go`).
//!
//! Nothing here panics: a malformed line is skipped, a histogram without data has no quantile.

use std::collections::BTreeMap;

/// One classic Prometheus histogram series (all its `_bucket`, `_sum` and `_count` samples).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// `(le, cumulative count)` sorted by `le`; `+Inf` is `f64::INFINITY`.
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// A series' labels, without `le`.
pub type Labels = BTreeMap<String, String>;

/// A float as the exposition format writes it (`+Inf`, `-Inf`, `NaN` or a Go float).
fn parse_float(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Reads a label set after its `{`: `name="value",...}` (a trailing comma allowed; `\\`,
/// `\"` and `\n` unescaped in values). Returns the labels and the text after the `}`.
fn parse_labels(mut rest: &str) -> Option<(Labels, &str)> {
    let mut labels = Labels::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        if name.is_empty() {
            return None;
        }
        rest = after
            .trim_start()
            .strip_prefix('=')?
            .trim_start()
            .strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let close = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()? {
                    (_, 'n') => value.push('\n'),
                    (_, c @ ('\\' | '"')) => value.push(c),
                    (_, c) => {
                        value.push('\\');
                        value.push(c);
                    }
                },
                (_, c) => value.push(c),
            }
        };
        rest = rest.get(close + 1..)?.trim_start();
        labels.insert(name.to_string(), value);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return None;
        }
    }
}

/// One sample line: `name{labels} value [timestamp]`; `None` for a comment, a blank line or
/// a malformed one.
fn parse_sample(line: &str) -> Option<(&str, Labels, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(inner) => parse_labels(inner)?,
        None => (Labels::new(), rest),
    };
    let mut fields = rest.split_whitespace();
    let value = parse_float(fields.next()?)?;
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().ok()?;
    }
    if name.is_empty() || fields.next().is_some() {
        return None;
    }
    Some((name, labels, value))
}

/// A histogram being read: `_sum` and `_count` may be absent.
#[derive(Default)]
struct Partial {
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
}

/// The series of the histogram `metric` in a `/metrics` text (`<metric>_bucket{...,le="0.05"}
/// 12`, `<metric>_sum`, `<metric>_count`), by their labels without `le`. Comments, other
/// metrics and malformed lines are skipped; of two samples of the same bucket the last one
/// counts. A series without `_count` takes its `+Inf` bucket's count.
pub fn parse_histograms(text: &str, metric: &str) -> BTreeMap<Labels, Histogram> {
    let mut partial: BTreeMap<Labels, Partial> = BTreeMap::new();
    for line in text.lines() {
        if !line.trim_start().starts_with(metric) {
            continue;
        }
        let Some((name, mut labels, value)) = parse_sample(line) else {
            continue;
        };
        let Some(suffix) = name.strip_prefix(metric) else {
            continue;
        };
        match suffix {
            "_bucket" => {
                let Some(le) = labels.remove("le").as_deref().and_then(parse_float) else {
                    continue;
                };
                if le.is_nan() {
                    continue;
                }
                let series = partial.entry(labels).or_default();
                match series.buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some(bucket) => bucket.1 = value,
                    None => series.buckets.push((le, value)),
                }
            }
            "_sum" => partial.entry(labels).or_default().sum = Some(value),
            "_count" => partial.entry(labels).or_default().count = Some(value),
            _ => {}
        }
    }
    partial
        .into_iter()
        .map(|(labels, mut p)| {
            p.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let inf = p
                .buckets
                .iter()
                .find(|(le, _)| *le == f64::INFINITY)
                .map(|b| b.1);
            let count = p.count.or(inf).unwrap_or(0.0);
            (
                labels,
                Histogram {
                    buckets: p.buckets,
                    sum: p.sum.unwrap_or(0.0),
                    count,
                },
            )
        })
        .collect()
}

/// The observations between two scrapes of the same series: `after - before`, bucket by
/// bucket (a bucket missing from `before` counts from zero). A counter that went down means
/// the server restarted in between: then, like Prometheus's `increase`, the counts since the
/// restart (`after` itself) are the window's.
pub fn delta(after: &Histogram, before: Option<&Histogram>) -> Histogram {
    let Some(before) = before else {
        return after.clone();
    };
    let earlier = |le: f64| {
        before
            .buckets
            .iter()
            .find(|(b, _)| *b == le)
            .map_or(0.0, |b| b.1)
    };
    let reset = after.count < before.count
        || after.sum < before.sum
        || after.buckets.iter().any(|&(le, c)| c < earlier(le));
    if reset {
        return after.clone();
    }
    Histogram {
        buckets: after
            .buckets
            .iter()
            .map(|&(le, c)| (le, c - earlier(le)))
            .collect(),
        sum: after.sum - before.sum,
        count: after.count - before.count,
    }
}

/// Adds `other`'s observations to `into`, bucket by bucket (a bucket only one of them has is
/// kept as it is), as PromQL's `sum by (..., le)` does before `histogram_quantile`.
pub fn merge(into: &mut Histogram, other: &Histogram) {
    for &(le, c) in &other.buckets {
        match into.buckets.iter_mut().find(|(b, _)| *b == le) {
            Some(bucket) => bucket.1 += c,
            None => into.buckets.push((le, c)),
        }
    }
    into.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    into.sum += other.sum;
    into.count += other.count;
}

/// The histograms summed by the values of `keys` (`sum by (verb, resource, subresource,
/// scope, le)` in clusterloader2's query): a missing label counts as `""`, like PromQL's.
pub fn group_by<'a>(
    histograms: impl IntoIterator<Item = (&'a Labels, &'a Histogram)>,
    keys: &[&str],
) -> BTreeMap<Labels, Histogram> {
    let mut groups: BTreeMap<Labels, Histogram> = BTreeMap::new();
    for (labels, histogram) in histograms {
        let group: Labels = keys
            .iter()
            .map(|k| (k.to_string(), labels.get(*k).cloned().unwrap_or_default()))
            .collect();
        merge(groups.entry(group).or_default(), histogram);
    }
    groups
}

/// The `q`-quantile of `h`, as Prometheus's `histogram_quantile(q, ...)`: buckets sorted by
/// `le`, buckets of the same `le` added, counts made monotonic; the quantile's rank
/// `q * count(+Inf)` falls in the first bucket whose count reaches it and is interpolated
/// linearly within it, the lowest bucket starting at 0 (or returning its `le` if that is not
/// above 0); a rank in the `+Inf` bucket gives the highest finite `le`.
///
/// `None` where Prometheus gives NaN: no observations, no `+Inf` bucket, fewer than two
/// buckets, or `q` NaN. Like Prometheus, `q < 0` gives `-Inf` and `q > 1` gives `+Inf`.
pub fn quantile(h: &Histogram, q: f64) -> Option<f64> {
    if q.is_nan() {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let mut buckets: Vec<(f64, f64)> = h
        .buckets
        .iter()
        .copied()
        .filter(|b| !b.0.is_nan())
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last()?.0 != f64::INFINITY {
        return None;
    }
    // coalesceBuckets: buckets of the same upper bound are one.
    let mut coalesced: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (le, count) in buckets {
        match coalesced.last_mut() {
            Some(last) if last.0 == le => last.1 += count,
            _ => coalesced.push((le, count)),
        }
    }
    // ensureMonotonic: a cumulative count never decreases.
    let mut max = f64::NEG_INFINITY;
    for bucket in &mut coalesced {
        max = max.max(bucket.1);
        bucket.1 = max;
    }
    if coalesced.len() < 2 {
        return None;
    }
    let &(_, observations) = coalesced.last()?;
    if observations.is_nan() || observations <= 0.0 {
        return None;
    }
    let mut rank = q * observations;
    let last = coalesced.len() - 1;
    let b = coalesced
        .iter()
        .take(last)
        .position(|&(_, c)| c >= rank)
        .unwrap_or(last);
    if b == last {
        return coalesced.get(last - 1).map(|&(le, _)| le);
    }
    let &(bucket_end, mut count) = coalesced.get(b)?;
    if b == 0 && bucket_end <= 0.0 {
        return Some(bucket_end);
    }
    let mut bucket_start = 0.0;
    if let Some(&(le, below)) = b.checked_sub(1).and_then(|i| coalesced.get(i)) {
        bucket_start = le;
        count -= below;
        rank -= below;
    }
    let value = bucket_start + (bucket_end - bucket_start) * (rank / count);
    (!value.is_nan()).then_some(value)
}

#[cfg(test)]
#[path = "sli_tests.rs"]
mod tests;

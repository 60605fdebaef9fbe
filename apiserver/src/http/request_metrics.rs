//! The API server's request metrics, as upstream's `apiserver_request_duration_seconds`
//! histogram and `apiserver_request_total` counter (`staging/src/k8s.io/apiserver/pkg/
//! endpoints/metrics/metrics.go`): one series per verb, group, version, resource,
//! subresource and scope (and code, for the counter), with upstream's buckets. The API SLIs
//! (p99 of mutating and read-only calls) are computed from them, as clusterloader2 does.
//!
//! A WATCH is measured until its stream starts (upstream measures the whole long-running
//! request; the SLIs leave WATCH out either way).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use parking_lot::Mutex;

use super::request::{RequestInfo, Verb};

/// Upstream's buckets, in seconds.
const BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Series {
    verb: &'static str,
    group: String,
    version: String,
    resource: String,
    subresource: String,
    scope: &'static str,
}

#[derive(Default)]
struct Histogram {
    /// Per bucket (not cumulative), then the +Inf overflow.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

#[derive(Default)]
pub struct RequestMetrics {
    durations: Mutex<HashMap<Series, Histogram>>,
    totals: Mutex<HashMap<(Series, u16), u64>>,
}

/// Upstream's `cleanVerb`: the verb the metrics show.
fn metric_verb(info: &RequestInfo) -> &'static str {
    match info.verb {
        Verb::Get => "GET",
        Verb::List => "LIST",
        Verb::Watch => "WATCH",
        Verb::Create => "POST",
        Verb::Update => "PUT",
        Verb::Patch => "PATCH",
        Verb::Delete | Verb::DeleteCollection => "DELETE",
    }
}

/// Upstream's `CleanScope`.
fn scope(info: &RequestInfo) -> &'static str {
    if info.name.is_some() {
        "resource"
    } else if info.namespace.is_some() {
        "namespace"
    } else {
        "cluster"
    }
}

impl RequestMetrics {
    /// Records one request to a resource.
    pub fn record(&self, info: &RequestInfo, code: u16, took: Duration) {
        let series = Series {
            verb: metric_verb(info),
            group: info.group.clone(),
            version: info.version.clone(),
            resource: info.resource.clone(),
            subresource: info.subresource.clone().unwrap_or_default(),
            scope: scope(info),
        };
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|le| seconds <= *le)
            .unwrap_or(BUCKETS.len());
        {
            let mut durations = self.durations.lock();
            let h = durations.entry(series.clone()).or_default();
            h.counts[bucket] += 1;
            h.sum += seconds;
        }
        *self.totals.lock().entry((series, code)).or_default() += 1;
    }

    /// The Prometheus text of both metrics.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP apiserver_request_duration_seconds Response latency distribution in \
             seconds for each verb, group, version, resource, subresource and scope.\n\
             # TYPE apiserver_request_duration_seconds histogram\n",
        );
        let durations = self.durations.lock();
        let mut rows: Vec<(&Series, &Histogram)> = durations.iter().collect();
        rows.sort_by_key(|(s, _)| labels(s));
        for (series, h) in rows {
            let labels = labels(series);
            let mut cumulative = 0;
            for (le, count) in BUCKETS.iter().zip(&h.counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let total: u64 = h.counts.iter().sum();
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}\n\
                 apiserver_request_duration_seconds_sum{{{labels}}} {}\n\
                 apiserver_request_duration_seconds_count{{{labels}}} {total}",
                h.sum
            );
        }
        drop(durations);
        out.push_str(
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each \
             verb, group, version, resource, scope, subresource and HTTP response code.\n\
             # TYPE apiserver_request_total counter\n",
        );
        let totals = self.totals.lock();
        let mut rows: Vec<(String, u64)> = totals
            .iter()
            .map(|((s, code), n)| (format!("{},code=\"{code}\"", labels(s)), *n))
            .collect();
        rows.sort();
        for (labels, n) in rows {
            let _ = writeln!(out, "apiserver_request_total{{{labels}}} {n}");
        }
        out
    }
}

fn labels(s: &Series) -> String {
    format!(
        "component=\"apiserver\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",\
         verb=\"{}\",version=\"{}\"",
        s.group, s.resource, s.scope, s.subresource, s.verb, s.version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(verb: Verb, namespace: Option<&str>, name: Option<&str>) -> RequestInfo {
        RequestInfo {
            group: String::new(),
            version: "v1".to_owned(),
            resource: "pods".to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
            subresource: None,
            verb,
        }
    }

    #[test]
    fn requests_land_in_upstreams_buckets_and_series() {
        let m = RequestMetrics::default();
        let create = info(Verb::Create, Some("ns"), None);
        m.record(&create, 201, Duration::from_millis(3));
        m.record(&create, 201, Duration::from_millis(30));
        m.record(&create, 409, Duration::from_secs(90));
        m.record(&info(Verb::List, None, None), 200, Duration::from_millis(70));
        let mut status = info(Verb::Patch, Some("ns"), Some("p"));
        status.subresource = Some("status".to_owned());
        m.record(&status, 200, Duration::from_millis(1));
        let text = m.render();
        let post = "component=\"apiserver\",group=\"\",resource=\"pods\",scope=\"namespace\",\
                    subresource=\"\",verb=\"POST\",version=\"v1\"";
        for line in [
            format!("apiserver_request_duration_seconds_bucket{{{post},le=\"0.005\"}} 1"),
            format!("apiserver_request_duration_seconds_bucket{{{post},le=\"0.05\"}} 2"),
            format!("apiserver_request_duration_seconds_bucket{{{post},le=\"60\"}} 2"),
            format!("apiserver_request_duration_seconds_bucket{{{post},le=\"+Inf\"}} 3"),
            format!("apiserver_request_duration_seconds_count{{{post}}} 3"),
            format!("apiserver_request_total{{{post},code=\"201\"}} 2"),
            format!("apiserver_request_total{{{post},code=\"409\"}} 1"),
        ] {
            assert!(text.contains(&line), "{line}\n{text}");
        }
        assert!(text.contains("scope=\"cluster\",subresource=\"\",verb=\"LIST\""));
        assert!(text.contains("scope=\"resource\",subresource=\"status\",verb=\"PATCH\""));
    }
}

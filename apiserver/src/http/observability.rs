//! `/metrics` and the health endpoints. Other parts of the process (the controllers, later
//! the scheduler) register a metrics source (Prometheus text) and health checks; the API
//! server serves them, as the one HTTP endpoint of the process.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::Response;

use super::respond;
use crate::server::ApiServer;

/// Writes Prometheus text exposition lines.
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;
/// `Err(why)` when the component is unhealthy.
pub type HealthCheck = (String, Arc<dyn Fn() -> Result<(), String> + Send + Sync>);

impl ApiServer {
    pub fn add_metrics_source(&self, source: MetricsSource) {
        self.metrics_sources.write().push(source);
    }

    /// Adds a check to `/healthz` and `/livez` (not `/readyz`: a stuck controller does not
    /// make the API unable to serve).
    pub fn add_health_check(
        &self,
        name: &str,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.health_checks
            .write()
            .push((name.to_owned(), Arc::new(check)));
    }

    pub(crate) fn metrics(&self) -> Response<Body> {
        let sources: Vec<MetricsSource> = self.metrics_sources.read().clone();
        let mut text = self.request_metrics.render();
        text.extend(sources.iter().map(|source| source()));
        respond::with_type(
            200,
            Bytes::from(text),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    }

    /// `ok`, or 500 with upstream's `[-]<check> failed: <reason>` lines.
    pub(crate) fn health(&self, path: &str) -> Response<Body> {
        if path.starts_with("/readyz") || path.ends_with("/ping") {
            return respond::text(200, "ok");
        }
        let checks: Vec<HealthCheck> = self.health_checks.read().clone();
        let failures: Vec<String> = checks
            .iter()
            .filter_map(|(name, check)| check().err().map(|why| format!("[-]{name} failed: {why}")))
            .collect();
        if failures.is_empty() {
            return respond::text(200, "ok");
        }
        let body = format!("{}\nhealthz check failed\n", failures.join("\n"));
        respond::with_type(500, Bytes::from(body), "text/plain; charset=utf-8")
    }
}

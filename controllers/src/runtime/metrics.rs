//! Per-controller metrics in client-go's workqueue names (`workqueue_depth`,
//! `workqueue_adds_total`, `workqueue_retries_total`, `workqueue_work_duration_seconds`,
//! `workqueue_longest_running_processor_seconds`), rendered as Prometheus text for the API
//! server's `/metrics`, and the health signal of a controller that stopped making progress.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;

use super::informer::{InformerStats, ObjectKey};
use super::queue::WorkQueue;

/// Reconciles done and the time they took.
#[derive(Default)]
pub struct WorkStats {
    count: AtomicU64,
    micros: AtomicU64,
}

impl WorkStats {
    pub fn record(&self, took: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
    }
}

struct Entry {
    name: &'static str,
    queue: Arc<WorkQueue<ObjectKey>>,
    work: Arc<WorkStats>,
}

/// The controllers running now, for metrics and health.
#[derive(Default)]
pub struct Metrics {
    running: RwLock<Vec<Entry>>,
    informers: RwLock<Vec<(String, Arc<InformerStats>)>>,
}

impl Metrics {
    pub fn register(
        &self,
        name: &'static str,
        queue: &Arc<WorkQueue<ObjectKey>>,
    ) -> Arc<WorkStats> {
        let work = Arc::new(WorkStats::default());
        self.running.write().push(Entry {
            name,
            queue: Arc::clone(queue),
            work: Arc::clone(&work),
        });
        work
    }

    /// Forgets every controller (they stopped: the lease was lost).
    /// Reports what the informer of `resource` delivers.
    pub fn register_informer(&self, resource: String, stats: &Arc<InformerStats>) {
        self.informers.write().push((resource, Arc::clone(stats)));
    }

    pub fn clear(&self) {
        self.running.write().clear();
        self.informers.write().clear();
    }

    /// Prometheus text exposition of every running controller's queue.
    pub fn render(&self) -> String {
        let running = self.running.read();
        let mut out = String::new();
        let families: [(&str, &str, &str); 5] = [
            (
                "workqueue_depth",
                "gauge",
                "Current depth of the work queue.",
            ),
            (
                "workqueue_adds_total",
                "counter",
                "Total number of adds handled by the work queue.",
            ),
            (
                "workqueue_retries_total",
                "counter",
                "Total number of retries handled by the work queue.",
            ),
            (
                "workqueue_longest_running_processor_seconds",
                "gauge",
                "How long the longest running reconcile has been running.",
            ),
            (
                "workqueue_work_duration_seconds",
                "histogram",
                "How long reconciles take.",
            ),
        ];
        for (family, kind, help) in families {
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} {kind}");
            for entry in running.iter() {
                let m = entry.queue.metrics();
                let name = entry.name;
                match family {
                    "workqueue_depth" => {
                        // Ready keys only: a key waiting for its RequeueAfter deadline is not
                        // work to do yet (client-go keeps those out of the queue until due).
                        let ready = m.depth - m.delayed;
                        let _ = writeln!(out, "{family}{{name=\"{name}\"}} {ready}");
                    }
                    "workqueue_adds_total" => {
                        let _ = writeln!(out, "{family}{{name=\"{name}\"}} {}", m.adds);
                    }
                    "workqueue_retries_total" => {
                        let _ = writeln!(out, "{family}{{name=\"{name}\"}} {}", m.retries);
                    }
                    "workqueue_longest_running_processor_seconds" => {
                        let longest = m.longest_in_flight.unwrap_or_default().as_secs_f64();
                        let _ = writeln!(out, "{family}{{name=\"{name}\"}} {longest}");
                    }
                    _ => {
                        let count = entry.work.count.load(Ordering::Relaxed);
                        let sum = entry.work.micros.load(Ordering::Relaxed) as f64 / 1e6;
                        let _ = writeln!(
                            out,
                            "{family}_bucket{{name=\"{name}\",le=\"+Inf\"}} {count}\n\
                             {family}_sum{{name=\"{name}\"}} {sum}\n\
                             {family}_count{{name=\"{name}\"}} {count}"
                        );
                    }
                }
            }
        }
        let informers = self.informers.read();
        for (family, help) in [
            ("ultrak8s_informer_events_total", "Watch events the shared informer delivered to its handlers."),
            ("ultrak8s_informer_handler_calls_total", "Deliveries those events took, each calling every handler once (batched: far fewer than events)."),
        ] {
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} counter");
            for (resource, stats) in informers.iter() {
                let value = if family.ends_with("events_total") {
                    stats.events.load(Ordering::Relaxed)
                } else {
                    stats.calls.load(Ordering::Relaxed)
                };
                let _ = writeln!(out, "{family}{{resource=\"{resource}\"}} {value}");
            }
        }
        out
    }

    /// `Err` naming the controllers whose oldest reconcile has run longer than `limit`.
    pub fn progress(&self, limit: Duration) -> Result<(), String> {
        let stuck: Vec<String> = self
            .running
            .read()
            .iter()
            .filter_map(|e| {
                let longest = e.queue.metrics().longest_in_flight?;
                (longest > limit)
                    .then(|| format!("{} has run one reconcile for {longest:?}", e.name))
            })
            .collect();
        if stuck.is_empty() {
            Ok(())
        } else {
            Err(stuck.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn queues_render_and_a_stuck_reconcile_is_reported() {
        let metrics = Metrics::default();
        let queue = Arc::new(WorkQueue::new(16));
        let work = metrics.register("replicaset", &queue);
        queue.add(ObjectKey::new(Some("ns"), "a")).expect("room");
        work.record(Duration::from_millis(5));
        let text = metrics.render();
        assert!(
            text.contains("workqueue_depth{name=\"replicaset\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("workqueue_adds_total{name=\"replicaset\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("workqueue_work_duration_seconds_count{name=\"replicaset\"} 1"),
            "{text}"
        );
        assert!(metrics.progress(Duration::from_secs(60)).is_ok());
        let taken = queue.next_batch(1).await;
        assert_eq!(taken.len(), 1);
        tokio::time::advance(Duration::from_secs(120)).await;
        let stuck = metrics
            .progress(Duration::from_secs(60))
            .expect_err("stuck");
        assert!(stuck.contains("replicaset"), "{stuck}");
        metrics.clear();
        assert!(!metrics.render().contains("replicaset"));
    }
}

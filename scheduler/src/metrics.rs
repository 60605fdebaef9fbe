//! The scheduler's Prometheus metrics, named as upstream's (`pkg/scheduler/metrics`):
//! attempts by result, the attempt duration histogram, pending pods per queue, preemptions.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::queue::QueueCounts;

/// Upper bounds of the duration buckets, in seconds (upstream's exponential 1 ms × 2^n).
const BUCKETS: [f64; 15] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192, 16.384,
];

#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{}}} {sum}", labels.trim_end_matches(','));
        let _ = writeln!(
            out,
            "{name}_count{{{}}} {count}",
            labels.trim_end_matches(',')
        );
    }
}

/// How a scheduling attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Scheduled,
    Unschedulable,
    Error,
}

#[derive(Default)]
pub struct SchedulerMetrics {
    scheduled: AtomicU64,
    unschedulable: AtomicU64,
    errors: AtomicU64,
    preemption_attempts: AtomicU64,
    preemption_victims: AtomicU64,
    attempt_duration: Histogram,
    /// From the pod's first entry into the queue to its successful binding.
    e2e_duration: Histogram,
    pending: Mutex<QueueCounts>,
}

impl SchedulerMetrics {
    pub fn attempt(&self, outcome: Outcome, took: Duration) {
        let counter = match outcome {
            Outcome::Scheduled => &self.scheduled,
            Outcome::Unschedulable => &self.unschedulable,
            Outcome::Error => &self.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.attempt_duration.observe(took);
    }

    pub fn bound(&self, since_queued: Duration) {
        self.e2e_duration.observe(since_queued);
    }

    pub fn preempted(&self, victims: usize) {
        self.preemption_attempts.fetch_add(1, Ordering::Relaxed);
        self.preemption_victims
            .fetch_add(victims as u64, Ordering::Relaxed);
    }

    pub fn set_pending(&self, counts: QueueCounts) {
        *self.pending.lock() = counts;
    }

    /// Pods bound so far.
    pub fn scheduled(&self) -> u64 {
        self.scheduled.load(Ordering::Relaxed)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# TYPE scheduler_schedule_attempts_total counter\n");
        for (result, n) in [
            ("scheduled", &self.scheduled),
            ("unschedulable", &self.unschedulable),
            ("error", &self.errors),
        ] {
            let _ = writeln!(
                out,
                "scheduler_schedule_attempts_total{{profile=\"default-scheduler\",result=\"{result}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str("# TYPE scheduler_scheduling_attempt_duration_seconds histogram\n");
        self.attempt_duration.render(
            &mut out,
            "scheduler_scheduling_attempt_duration_seconds",
            "",
        );
        out.push_str("# TYPE scheduler_pod_scheduling_sli_duration_seconds histogram\n");
        self.e2e_duration.render(
            &mut out,
            "scheduler_pod_scheduling_sli_duration_seconds",
            "",
        );
        out.push_str("# TYPE scheduler_pending_pods gauge\n");
        let pending = *self.pending.lock();
        for (queue, n) in [
            ("active", pending.active),
            ("backoff", pending.backoff),
            ("unschedulable", pending.unschedulable),
            ("gated", pending.gated),
        ] {
            let _ = writeln!(out, "scheduler_pending_pods{{queue=\"{queue}\"}} {n}");
        }
        out.push_str("# TYPE scheduler_preemption_attempts_total counter\n");
        let _ = writeln!(
            out,
            "scheduler_preemption_attempts_total {}",
            self.preemption_attempts.load(Ordering::Relaxed)
        );
        out.push_str("# TYPE scheduler_preemption_victims_total counter\n");
        let _ = writeln!(
            out,
            "scheduler_preemption_victims_total {}",
            self.preemption_victims.load(Ordering::Relaxed)
        );
        out
    }
}

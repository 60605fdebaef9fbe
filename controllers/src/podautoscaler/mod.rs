//! The HorizontalPodAutoscaler controller (upstream `pkg/controller/podautoscaler/`):
//! `decide.rs` turns an HPA, its target's `/scale` and what discovery says of the metrics APIs
//! into a scale write, a status and events, without I/O; `metrics.rs` says, in upstream's
//! words, why each metric cannot be read; `controller.rs` is the I/O half.
//!
//! This controller manager reads no metrics API. A target outside `[minReplicas, maxReplicas]`
//! is brought to the bound, as upstream does without metrics; within it, ScalingActive is False
//! with the reason upstream gives when the metrics API is absent (or "not supported" when one
//! is served).

use std::time::Duration;

mod controller;
mod decide;
mod metrics;

pub use controller::HorizontalController;
pub use decide::{
    ABLE_TO_SCALE, Decision, HpaEvent, Outcome, Rescale, SCALING_ACTIVE, Target, decide,
    needs_metrics, scale_unreadable, target_of,
};
pub use metrics::{
    MetricFailure, MetricsApi, MetricsApis, MetricsGroup, go_label_selector, metric_failure,
};

/// How often every HPA is synced: upstream's `--horizontal-pod-autoscaler-sync-period` default.
pub const DEFAULT_SYNC_PERIOD: Duration = Duration::from_secs(15);

//! Per-key exponential backoff for failed reconciles.
//!
//! The curve is client-go's `ItemExponentialFailureRateLimiter` as used by
//! `DefaultControllerRateLimiter` (`util/workqueue/default_rate_limiters.go`): the n-th
//! consecutive failure of a key waits `base * 2^n`, capped at `max`, with client-go's defaults
//! of 5 ms and 1000 s. Unlike client-go we add jitter: when the API server comes back after an
//! outage, every key that failed during it would otherwise retry in lockstep.
//!
//! This type is pure arithmetic; the work queue keeps the failure counts and supplies the
//! random unit, so the curve is testable without a clock or a random source.

use std::time::Duration;

/// The exponential backoff curve with downward jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    /// client-go's per-item base delay.
    pub const DEFAULT_BASE: Duration = Duration::from_millis(5);
    /// client-go's per-item maximum delay (about 17 minutes).
    pub const DEFAULT_MAX: Duration = Duration::from_secs(1000);
    /// The fraction by which a delay may be shortened. A tenth spreads keys that hit the cap
    /// together over 100 s, which is enough to turn a retry storm into a ramp.
    pub const DEFAULT_JITTER: f64 = 0.1;

    /// A curve starting at `base`, doubling per failure up to `max` (raised to `base` if it is
    /// lower), each delay shortened by up to `jitter` of itself (clamped to `0.0..=1.0`).
    pub fn new(base: Duration, max: Duration, jitter: f64) -> Self {
        // `clamp` keeps NaN as NaN, which would later poison `mul_f64`.
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        Self {
            base,
            max: max.max(base),
            jitter,
        }
    }

    /// The delay before retrying a key that has failed `failures` times before, without
    /// jitter: `base * 2^failures`, capped at `max`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        // A shift past 31 or a product past `Duration::MAX` is certainly past any sane `max`.
        1u32.checked_shl(failures)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.max, |delay| delay.min(self.max))
    }

    /// The jittered delay: `ceiling(failures)` shortened by `jitter * unit` of itself, where
    /// `unit` is a random number in `0.0..1.0`. Jitter only ever shortens the delay, so `max`
    /// stays a true maximum, as in client-go.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        // The factor is within 0.0..=1.0, so `mul_f64` can neither overflow nor go negative.
        self.ceiling(failures).mul_f64(1.0 - self.jitter * unit)
    }

    /// The jitter fraction in use.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Self::DEFAULT_BASE, Self::DEFAULT_MAX, Self::DEFAULT_JITTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_base_and_caps_at_max() {
        let backoff = Backoff::default();
        let expected_ms = [5, 10, 20, 40, 80, 160, 320, 640, 1280];
        for (failures, ms) in expected_ms.iter().enumerate() {
            let failures = u32::try_from(failures).expect("small index");
            assert_eq!(backoff.ceiling(failures), Duration::from_millis(*ms));
        }
        // 5 ms * 2^17 = 655 s is the last step under the cap; 2^18 would be 1310 s.
        assert_eq!(backoff.ceiling(17), Duration::from_millis(5 << 17));
        assert_eq!(backoff.ceiling(18), Backoff::DEFAULT_MAX);
        // Shifts and products that would overflow land on the cap, not on a panic.
        for failures in [31, 32, 64, 1000, u32::MAX] {
            assert_eq!(backoff.ceiling(failures), Backoff::DEFAULT_MAX);
        }
    }

    #[test]
    fn jitter_only_shortens_and_by_at_most_its_fraction() {
        let backoff = Backoff::default();
        for failures in [0, 3, 10, 17, 18, 40] {
            let ceiling = backoff.ceiling(failures);
            let floor = ceiling.mul_f64(1.0 - Backoff::DEFAULT_JITTER);
            for step in 0..1000 {
                let unit = f64::from(step) / 1000.0;
                let delay = backoff.delay(failures, unit);
                assert!(delay <= ceiling, "{delay:?} above {ceiling:?}");
                assert!(delay >= floor, "{delay:?} below {floor:?}");
            }
            assert_eq!(backoff.delay(failures, 0.0), ceiling);
        }
    }

    #[test]
    fn out_of_range_parameters_are_clamped() {
        let backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(1), f64::NAN);
        assert_eq!(
            backoff.ceiling(5),
            Duration::from_secs(2),
            "max is raised to base"
        );
        assert_eq!(backoff.jitter(), 0.0);
        assert_eq!(backoff.delay(0, f64::NAN), Duration::from_secs(2));
        let full = Backoff::new(Duration::from_secs(1), Duration::from_secs(8), 7.0);
        assert_eq!(full.jitter(), 1.0);
        assert_eq!(full.delay(0, 2.0), Duration::ZERO, "unit is clamped to 1.0");
    }
}

//! Waiting for a cluster to get somewhere, in tests: `check` is polled until it holds, and
//! the test fails naming what never happened.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 50 ms for up to 20 s; panics with `what` if it never holds.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_within(what, Duration::from_secs(20), check).await;
}

/// [`eventually`] for up to `limit`.
pub async fn eventually_within<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {what}");
}

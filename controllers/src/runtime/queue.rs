//! The work queue between informers and reconcilers: deduplicating, batching, delaying,
//! rate-limiting and bounded.
//!
//! It keeps client-go's contract (`util/workqueue/queue.go`, `delaying_queue.go`,
//! `rate_limiting_queue.go`), which kube-rs's controller also keeps (`kube-runtime/src/
//! controller/mod.rs`, `scheduler.rs`): a key is waiting at most once, and is never handed to
//! two workers at once.
//!
//! A key is in one of three places:
//! - **ready**: in the FIFO, handed out by [`WorkQueue::next_batch`];
//! - **delayed**: waiting for a deadline ([`WorkQueue::add_after`],
//!   [`WorkQueue::requeue_with_backoff`]); at the deadline it becomes ready;
//! - **in flight**: handed to a worker and not yet [`done`](WorkQueue::done). Adds made
//!   meanwhile are remembered (the earliest wins) and applied at `done`, so a change seen
//!   during a reconcile is reconciled again, after it, never beside it.
//!
//! The worker protocol, per key of a batch: reconcile; on failure call
//! `requeue_with_backoff(key)`, on success `forget(&key)` (and `add_after` if the reconciler
//! asked to be called again); then `done(&key)`. Retries must be requested *before* `done`:
//! a key's failure count lives as long as the key is in the queue, so a key that leaves it
//! starts afresh (client-go keeps counts until `Forget`, which leaks them when a caller
//! forgets to call it; here the count is bounded with the keys).
//!
//! Bounds: the queue tracks at most `capacity` distinct keys, counting ready, delayed and in
//! flight ones. Deduplication already caps it at one entry per object, so the bound only bites
//! when a controller sees far more objects than it was sized for, or derives keys from
//! something unbounded. Beyond it an add of a *new* key returns [`QueueFull`]; a key already
//! tracked is always accepted, so retries of keys in flight never fail. Nothing is lost by a
//! rejection: the object stays in the informer's cache, and the informer's periodic resync (or
//! the object's next event) adds the key again once workers have drained the queue. Callers
//! log or count the error and move on; they must not retry in a loop, which would stall the
//! watch behind the event handler.
//!
//! Locking: one `parking_lot` mutex guards all state and is never held across `.await`;
//! wake-ups are sent after it is released. Waiting workers park on a [`Notify`]; the one
//! worker that sleeps until the earliest deadline (the "timekeeper") also listens on a
//! second `Notify` that fires when an earlier deadline arrives, so idle workers are not all
//! woken at every deadline.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::pin::pin;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::backoff::Backoff;
use state::{Changes, Inner, Wake};

mod state;

/// Delays beyond this are clamped, so that `now + delay` cannot overflow `Instant`. A year is
/// far beyond any requeue a reconciler asks for.
const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// An add was refused because the queue already tracks `capacity` distinct keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull {
    /// How many keys of the call were not added.
    pub rejected: usize,
    /// The queue's bound on distinct keys.
    pub capacity: usize,
}

impl fmt::Display for QueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "work queue full ({} keys): {} key(s) not added; a resync adds them later",
            self.capacity, self.rejected
        )
    }
}

impl std::error::Error for QueueFull {}

/// A snapshot of the queue's gauges and counters, for the runtime's `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueMetrics {
    /// Keys waiting: ready plus delayed (not in flight). client-go's `depth` metric counts
    /// only the ready ones (`depth - delayed`).
    pub depth: usize,
    /// The part of `depth` that waits for a deadline.
    pub delayed: usize,
    /// Keys handed to workers and not yet `done`.
    pub in_flight: usize,
    /// Add requests accepted (`add`, `add_all`, `add_after`, `requeue_with_backoff`), per key.
    pub adds: u64,
    /// Accepted adds that merged into a key already waiting (the reconciles saved).
    pub deduplicated: u64,
    /// Calls of `requeue_with_backoff` that were accepted.
    pub retries: u64,
    /// Adds refused by the bound.
    pub rejected: u64,
    /// How long the oldest key in flight has been in flight; a value that keeps growing means
    /// a reconcile is stuck.
    pub longest_in_flight: Option<Duration>,
}

/// A deduplicating, batching, delaying, bounded work queue of keys. Share it with an `Arc`.
pub struct WorkQueue<K> {
    inner: Mutex<Inner<K>>,
    /// Keys became ready (or the queue shut down, or the timekeeper role is free).
    work: Notify,
    /// The earliest deadline moved earlier; only the timekeeper listens.
    earlier: Notify,
    backoff: Backoff,
    /// Seeds the jitter: a per-queue random hash of (key, failures) spreads keys that fail
    /// together without a random-number generator.
    jitter_seed: RandomState,
}

impl<K> WorkQueue<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// A queue of at most `capacity` distinct keys (at least 1) with client-go's default
    /// backoff (5 ms doubling to 1000 s) plus 10% jitter.
    pub fn new(capacity: usize) -> Self {
        Self::with_backoff(capacity, Backoff::default())
    }

    /// A queue of at most `capacity` distinct keys (at least 1) with the given backoff.
    pub fn with_backoff(capacity: usize, backoff: Backoff) -> Self {
        Self {
            inner: Mutex::new(Inner::new(capacity.max(1))),
            work: Notify::new(),
            earlier: Notify::new(),
            backoff,
            jitter_seed: RandomState::new(),
        }
    }

    /// The bound on distinct keys.
    pub fn capacity(&self) -> usize {
        self.inner.lock().capacity
    }

    /// Marks `key` as needing a reconcile now. A key already ready stays where it is; a
    /// delayed key becomes ready at once; a key in flight comes back after `done`. After
    /// shutdown, adds are ignored.
    pub fn add(&self, key: K) -> Result<(), QueueFull> {
        self.add_all([key])
    }

    /// Adds many keys under one lock, so an event handler takes a burst of events at the cost
    /// of one. Keys past the bound are counted in the error; the others are added.
    pub fn add_all(&self, keys: impl IntoIterator<Item = K>) -> Result<(), QueueFull> {
        let now = Instant::now();
        self.schedule(keys.into_iter().map(|key| (key, now)), now)
    }

    /// Marks `key` as needing a reconcile after `delay`. If the key is already due earlier
    /// (ready, delayed to an earlier deadline, or marked again while in flight), the earlier
    /// time wins.
    pub fn add_after(&self, key: K, delay: Duration) -> Result<(), QueueFull> {
        let now = Instant::now();
        self.schedule([(key, deadline(now, delay))], now)
    }

    /// Schedules a retry of `key` after its backoff: `base * 2^failures` capped at `max`,
    /// shortened by jitter, then counts one more failure. Returns the delay chosen (for the
    /// log). Call it before `done`; a key in flight is always accepted, even when full.
    pub fn requeue_with_backoff(&self, key: K) -> Result<Duration, QueueFull> {
        let now = Instant::now();
        let (result, wake) = {
            let mut inner = self.inner.lock();
            if inner.shut_down {
                return Ok(Duration::ZERO);
            }
            let failures = inner.entries.get(&key).map_or(0, |entry| entry.failures);
            let delay = self
                .backoff
                .delay(failures, self.jitter_unit(&key, failures));
            let mut changes = Changes::default();
            let result = if inner.schedule(key.clone(), deadline(now, delay), now, &mut changes) {
                inner.counters.retries += 1;
                if let Some(entry) = inner.entries.get_mut(&key) {
                    entry.failures = failures.saturating_add(1);
                }
                Ok(delay)
            } else {
                Err(QueueFull {
                    rejected: 1,
                    capacity: inner.capacity,
                })
            };
            (result, inner.plan(changes))
        };
        self.wake(wake);
        result
    }

    /// Resets the backoff of `key` (after a successful reconcile). Unknown keys are ignored.
    pub fn forget(&self, key: &K) {
        if let Some(entry) = self.inner.lock().entries.get_mut(key) {
            entry.failures = 0;
        }
    }

    /// How many consecutive failures `key` has had since it entered the queue or was
    /// forgotten; a reconciler may give up on a key past some count.
    pub fn num_requeues(&self, key: &K) -> u32 {
        self.inner
            .lock()
            .entries
            .get(key)
            .map_or(0, |entry| entry.failures)
    }

    /// Waits until at least one key is ready, then hands out up to `max` (at least 1) ready
    /// keys, oldest first, marking them in flight. Returns an empty batch once the queue is
    /// shut down; keys still waiting are then dropped (controllers are level-based: the next
    /// start lists everything again). Cancel-safe: dropping the future loses no key.
    pub async fn next_batch(&self, max: usize) -> Vec<K> {
        let max = max.max(1);
        let mut registered: Option<bool> = None;
        loop {
            // Registered before the state is checked, so a wake-up sent between the check and
            // the await is not lost (`notify_waiters` reaches only registered waiters).
            let mut work = pin!(self.work.notified());
            work.as_mut().enable();
            let (deadline, timekeeper) = {
                let mut inner = self.inner.lock();
                if let Some(was_timekeeper) = registered.take() {
                    inner.leave(was_timekeeper);
                }
                if inner.shut_down {
                    return Vec::new();
                }
                let now = Instant::now();
                if let Some((batch, wake)) = inner.take_batch(max, now) {
                    drop(inner);
                    self.wake(wake);
                    return batch;
                }
                inner.waiting += 1;
                let deadline = inner.next_deadline();
                let timekeeper = deadline.is_some() && !inner.timekeeper;
                inner.timekeeper |= timekeeper;
                (deadline, timekeeper)
            };
            let guard = Waiting {
                queue: self,
                timekeeper,
                armed: true,
            };
            match deadline {
                Some(deadline) if timekeeper => {
                    let earlier = self.earlier.notified();
                    tokio::select! {
                        () = work.as_mut() => {}
                        () = earlier => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
                _ => work.as_mut().await,
            }
            // Leaving is done under the next iteration's lock, which avoids handing the
            // timekeeper role to another worker just to take it back.
            registered = Some(guard.disarm());
        }
    }

    /// Waits for one key; `None` once the queue is shut down.
    pub async fn next(&self) -> Option<K> {
        self.next_batch(1).await.pop()
    }

    /// Hands out up to `max` keys that are ready now, without waiting (empty if none).
    pub fn try_next_batch(&self, max: usize) -> Vec<K> {
        let taken = {
            let mut inner = self.inner.lock();
            if inner.shut_down {
                return Vec::new();
            }
            inner.take_batch(max.max(1), Instant::now())
        };
        match taken {
            Some((batch, wake)) => {
                self.wake(wake);
                batch
            }
            None => Vec::new(),
        }
    }

    /// Marks `key` as processed. If it was added while in flight it becomes ready (or delayed,
    /// if only delayed adds came). A key not in flight is ignored. Allowed after shutdown.
    pub fn done(&self, key: &K) {
        let now = Instant::now();
        let wake = {
            let mut inner = self.inner.lock();
            let mut changes = Changes::default();
            inner.finish(key, now, &mut changes);
            inner.plan(changes)
        };
        self.wake(wake);
    }

    /// Stops the queue: waiting workers wake up with an empty batch, later adds are ignored.
    pub fn shut_down(&self) {
        self.inner.lock().shut_down = true;
        self.work.notify_waiters();
        self.earlier.notify_waiters();
    }

    /// Whether `shut_down` was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.lock().shut_down
    }

    /// A snapshot of the queue's metrics.
    pub fn metrics(&self) -> QueueMetrics {
        let now = Instant::now();
        self.inner.lock().metrics(now)
    }

    fn schedule(
        &self,
        keys: impl IntoIterator<Item = (K, Instant)>,
        now: Instant,
    ) -> Result<(), QueueFull> {
        let (rejected, capacity, wake) = {
            let mut inner = self.inner.lock();
            if inner.shut_down {
                return Ok(());
            }
            let mut changes = Changes::default();
            let mut rejected = 0;
            for (key, at) in keys {
                if !inner.schedule(key, at, now, &mut changes) {
                    rejected += 1;
                }
            }
            (rejected, inner.capacity, inner.plan(changes))
        };
        self.wake(wake);
        if rejected == 0 {
            Ok(())
        } else {
            Err(QueueFull { rejected, capacity })
        }
    }

    fn wake(&self, wake: Wake) {
        for _ in 0..wake.workers {
            self.work.notify_one();
        }
        if wake.timekeeper {
            self.earlier.notify_one();
        }
    }

    /// A number in `0.0..1.0`, fixed per (queue, key, failures) and spread across keys.
    fn jitter_unit(&self, key: &K, failures: u32) -> f64 {
        let bits = self.jitter_seed.hash_one((key, failures));
        // The top 53 bits fill an f64 mantissa exactly.
        (bits >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn deadline(now: Instant, delay: Duration) -> Instant {
    // Only a clock near the end of `Instant`'s range could overflow; then "now" is the answer
    // that keeps the key moving.
    now.checked_add(delay.min(MAX_DELAY)).unwrap_or(now)
}

/// Unregisters a waiting worker if `next_batch` is dropped while it waits.
struct Waiting<'a, K> {
    queue: &'a WorkQueue<K>,
    timekeeper: bool,
    armed: bool,
}

impl<K> Waiting<'_, K> {
    /// The wait ended normally; the caller unregisters under its next lock.
    fn disarm(mut self) -> bool {
        self.armed = false;
        self.timekeeper
    }
}

impl<K> Drop for Waiting<'_, K> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let hand_over = {
            let mut inner = self.queue.inner.lock();
            inner.leave(self.timekeeper);
            // A cancelled timekeeper passes the timer on, or delayed keys would wait for the
            // next unrelated wake-up.
            self.timekeeper && inner.waiting > 0 && !inner.delayed.is_empty()
        };
        if hand_over {
            self.queue.work.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn no_jitter() -> Backoff {
        Backoff::new(Backoff::DEFAULT_BASE, Backoff::DEFAULT_MAX, 0.0)
    }

    /// Fails the reconcile of `key`, which is in flight: requeues it with backoff, finishes
    /// it, and returns how long the queue then kept it before handing it out again (in
    /// flight again).
    async fn retry_delay(queue: &WorkQueue<&'static str>, key: &'static str) -> Duration {
        let chosen = queue
            .requeue_with_backoff(key)
            .expect("a key in flight is accepted");
        queue.done(&key);
        let start = Instant::now();
        assert_eq!(queue.next_batch(1).await, vec![key]);
        let waited = start.elapsed();
        // Paused time jumps to the timer, which has millisecond resolution.
        assert!(
            waited >= chosen && waited <= chosen + MS,
            "waited {waited:?} for {chosen:?}"
        );
        chosen
    }

    #[tokio::test(start_paused = true)]
    async fn many_adds_of_one_key_make_one_entry() {
        let queue = WorkQueue::new(10);
        for _ in 0..100 {
            queue.add("default/web").expect("room");
        }
        queue
            .add_all(std::iter::repeat_n("default/web", 100))
            .expect("room");
        assert_eq!(queue.next_batch(10).await, vec!["default/web"]);
        assert!(queue.try_next_batch(10).is_empty());
        let metrics = queue.metrics();
        assert_eq!((metrics.adds, metrics.deduplicated), (200, 199));
    }

    #[tokio::test(start_paused = true)]
    async fn key_added_in_flight_comes_back_only_after_done() {
        let queue = Arc::new(WorkQueue::new(10));
        queue.add("a").expect("room");
        assert_eq!(queue.next_batch(10).await, vec!["a"]);
        queue.add("a").expect("room");
        queue.add("a").expect("room");
        assert!(queue.try_next_batch(10).is_empty(), "a is in flight");
        let waiter = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.next_batch(10).await }
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            !waiter.is_finished(),
            "a second worker must not get a while it is in flight"
        );
        queue.done(&"a");
        assert_eq!(
            waiter.await.expect("worker"),
            vec!["a"],
            "both adds become one"
        );
        queue.done(&"a");
        assert!(queue.try_next_batch(10).is_empty());
        assert_eq!(queue.metrics().in_flight, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn batches_take_up_to_max_oldest_first() {
        let queue = WorkQueue::new(100);
        queue.add_all(0..10).expect("room");
        assert_eq!(queue.next_batch(4).await, vec![0, 1, 2, 3]);
        assert_eq!(queue.next_batch(4).await, vec![4, 5, 6, 7]);
        assert_eq!(queue.next_batch(4).await, vec![8, 9]);
        // An empty batch means shutdown, so a max of 0 is read as 1.
        queue.add_all([10, 11]).expect("room");
        assert_eq!(queue.next_batch(0).await, vec![10]);
        assert_eq!(queue.try_next_batch(0), vec![11]);
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_key_is_ready_at_its_time_and_not_before() {
        let queue = WorkQueue::new(10);
        let start = Instant::now();
        queue
            .add_after("later", Duration::from_secs(1))
            .expect("room");
        queue
            .add_after("later", Duration::from_secs(5))
            .expect("the earlier deadline wins");
        let early = tokio::time::timeout(Duration::from_millis(999), queue.next_batch(10)).await;
        assert!(early.is_err(), "ready before its time");
        assert_eq!(queue.next_batch(10).await, vec!["later"]);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(1) && waited <= Duration::from_secs(1) + MS);
        // An earlier deadline replaces a later one.
        queue
            .add_after("moved", Duration::from_secs(10))
            .expect("room");
        queue
            .add_after("moved", Duration::from_secs(2))
            .expect("room");
        let start = Instant::now();
        assert_eq!(queue.next_batch(10).await, vec!["moved"]);
        assert!(start.elapsed() <= Duration::from_secs(2) + MS);
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_wakes_a_sleeping_worker() {
        let queue = Arc::new(WorkQueue::new(10));
        queue
            .add_after("far", Duration::from_secs(100))
            .expect("room");
        let start = Instant::now();
        let worker = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.next_batch(10).await }
        });
        tokio::task::yield_now().await;
        queue
            .add_after("near", Duration::from_secs(1))
            .expect("room");
        assert_eq!(worker.await.expect("worker"), vec!["near"]);
        assert!(start.elapsed() <= Duration::from_secs(1) + MS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_timekeeper_hands_the_timer_on() {
        let queue = Arc::new(WorkQueue::new(10));
        queue.add_after("k", Duration::from_secs(10)).expect("room");
        // The first waiter takes the timer and is then cancelled; the second must still be
        // woken at the deadline.
        let first = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { tokio::time::timeout(Duration::from_secs(1), queue.next_batch(1)).await }
        });
        tokio::task::yield_now().await;
        let second = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.next_batch(1).await }
        });
        assert!(
            first.await.expect("first").is_err(),
            "the first waiter timed out"
        );
        let got = tokio::time::timeout(Duration::from_secs(20), second).await;
        assert_eq!(
            got.expect("woken at the deadline").expect("second"),
            vec!["k"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_plain_add_cuts_a_pending_backoff_short() {
        let backoff = Backoff::new(Duration::from_secs(30), Duration::from_secs(300), 0.0);
        let queue = WorkQueue::with_backoff(10, backoff);
        queue.add("k").expect("room");
        assert_eq!(queue.next_batch(1).await, vec!["k"]);
        assert_eq!(queue.requeue_with_backoff("k"), Ok(Duration::from_secs(30)));
        queue.done(&"k");
        assert_eq!(queue.metrics().delayed, 1);
        queue.add("k").expect("room");
        let start = Instant::now();
        assert_eq!(queue.next_batch(1).await, vec!["k"]);
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(
            queue.num_requeues(&"k"),
            1,
            "the failure count survives the add"
        );
        assert_eq!(
            queue.metrics().delayed,
            0,
            "the timer is gone, not fired later"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_and_caps() {
        let queue = WorkQueue::with_backoff(10, no_jitter());
        queue.add("k").expect("room");
        assert_eq!(queue.next_batch(1).await, vec!["k"]);
        let mut delays = Vec::new();
        for _ in 0..21 {
            delays.push(retry_delay(&queue, "k").await);
        }
        for (failures, delay) in delays.iter().enumerate() {
            let failures = u32::try_from(failures).expect("small");
            let expected = (MS * 5)
                .checked_mul(1 << failures)
                .map_or(Backoff::DEFAULT_MAX, |d| d.min(Backoff::DEFAULT_MAX));
            assert_eq!(*delay, expected, "failure {failures}");
        }
        assert_eq!(delays[18..], [Backoff::DEFAULT_MAX; 3]);
        assert_eq!(queue.num_requeues(&"k"), 21);
        assert_eq!(queue.metrics().retries, 21);
    }

    #[tokio::test(start_paused = true)]
    async fn forget_resets_the_backoff() {
        let queue = WorkQueue::with_backoff(10, no_jitter());
        queue.add("k").expect("room");
        assert_eq!(queue.next_batch(1).await, vec!["k"]);
        for _ in 0..4 {
            retry_delay(&queue, "k").await;
        }
        assert_eq!(queue.num_requeues(&"k"), 4);
        queue.forget(&"k");
        assert_eq!(queue.num_requeues(&"k"), 0);
        assert_eq!(retry_delay(&queue, "k").await, MS * 5);
        assert_eq!(retry_delay(&queue, "k").await, MS * 10);
        // A key that leaves the queue (done with no retry pending) starts afresh too.
        queue.done(&"k");
        assert_eq!(queue.num_requeues(&"k"), 0);
        queue.add("k").expect("room");
        assert_eq!(queue.next_batch(1).await, vec!["k"]);
        assert_eq!(retry_delay(&queue, "k").await, MS * 5);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_stays_within_its_bounds_and_spreads_keys() {
        let ceiling = Duration::from_secs(100);
        let queue = WorkQueue::with_backoff(1000, Backoff::new(ceiling, ceiling, 0.5));
        let mut chosen = HashSet::new();
        for key in 0..500 {
            let delay = queue.requeue_with_backoff(key).expect("room");
            assert!(
                delay <= ceiling && delay >= ceiling / 2,
                "{delay:?} out of bounds"
            );
            chosen.insert(delay);
        }
        assert!(
            chosen.len() > 400,
            "keys that fail together retry apart: {}",
            chosen.len()
        );
        // With the default 10%, the first retry waits 4.5 to 5 ms.
        let queue = WorkQueue::new(1000);
        for key in 0..500 {
            let delay = queue.requeue_with_backoff(key).expect("room");
            assert!(
                delay <= MS * 5 && delay >= MS * 9 / 2,
                "{delay:?} out of bounds"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn flooding_past_the_bound_is_refused_and_the_queue_keeps_working() {
        let queue = WorkQueue::new(100);
        assert_eq!(
            queue.add_all(0..1000),
            Err(QueueFull {
                rejected: 900,
                capacity: 100
            })
        );
        assert_eq!(
            queue.add(5000),
            Err(QueueFull {
                rejected: 1,
                capacity: 100
            })
        );
        assert_eq!(
            queue.add_after(5001, MS),
            Err(QueueFull {
                rejected: 1,
                capacity: 100
            })
        );
        assert_eq!(
            queue.requeue_with_backoff(5002),
            Err(QueueFull {
                rejected: 1,
                capacity: 100
            })
        );
        queue.add(7).expect("a tracked key is always accepted");
        let metrics = queue.metrics();
        assert_eq!(
            (metrics.depth, metrics.rejected, metrics.adds),
            (100, 903, 101)
        );

        // Keys in flight still count, and their retries are accepted while full.
        let batch = queue.next_batch(1000).await;
        assert_eq!(batch, (0..100).collect::<Vec<_>>());
        assert!(queue.add(100).is_err());
        for key in &batch[..10] {
            queue
                .requeue_with_backoff(*key)
                .expect("a key in flight is accepted");
        }
        for key in &batch {
            queue.done(key);
        }
        // Ninety keys left; ninety new ones fit, the ninety-first does not.
        assert_eq!(
            queue.add_all(100..191),
            Err(QueueFull {
                rejected: 1,
                capacity: 100
            })
        );
        let mut seen = Vec::new();
        while seen.len() < 100 {
            for key in queue.next_batch(64).await {
                queue.done(&key);
                seen.push(key);
            }
        }
        seen.sort_unstable();
        let expected: Vec<i32> = (0..10).chain(100..190).collect();
        assert_eq!(seen, expected);
        assert_eq!(queue.metrics().depth, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_wakes_waiting_workers_and_ignores_later_adds() {
        let queue = Arc::new(WorkQueue::new(10));
        queue
            .add_after("delayed", Duration::from_secs(5))
            .expect("room");
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let queue = Arc::clone(&queue);
                tokio::spawn(async move { queue.next().await })
            })
            .collect();
        tokio::task::yield_now().await;
        queue.add("in flight").expect("room");
        tokio::task::yield_now().await;
        queue.shut_down();
        let mut results = Vec::new();
        for worker in workers {
            results.push(worker.await.expect("worker"));
        }
        results.sort_unstable();
        assert_eq!(results, vec![None, None, Some("in flight")]);
        assert!(queue.is_shut_down());
        queue.add("late").expect("ignored, not an error");
        assert!(queue.next_batch(10).await.is_empty());
        assert!(queue.try_next_batch(10).is_empty());
        queue.done(&"in flight");
        assert_eq!(queue.metrics().in_flight, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn one_add_all_wakes_as_many_workers_as_it_has_keys() {
        let queue = Arc::new(WorkQueue::new(100));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let queue = Arc::clone(&queue);
                tokio::spawn(async move { queue.next_batch(1).await })
            })
            .collect();
        tokio::task::yield_now().await;
        queue.add_all(["a", "b", "c", "d"]).expect("room");
        let mut got = Vec::new();
        for worker in workers {
            let batch = tokio::time::timeout(Duration::from_secs(1), worker).await;
            got.extend(batch.expect("every worker woke").expect("worker"));
        }
        got.sort_unstable();
        assert_eq!(got, vec!["a", "b", "c", "d"]);
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_count_what_happened() {
        let queue = WorkQueue::new(10);
        assert_eq!(queue.metrics(), QueueMetrics::default());
        queue.add_all(["a", "b", "a"]).expect("room");
        queue.add_after("c", Duration::from_secs(1)).expect("room");
        let metrics = queue.metrics();
        assert_eq!(
            (
                metrics.depth,
                metrics.delayed,
                metrics.adds,
                metrics.deduplicated
            ),
            (3, 1, 4, 1)
        );

        assert_eq!(queue.next_batch(1).await, vec!["a"]);
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(queue.next_batch(1).await, vec!["b"]);
        tokio::time::advance(Duration::from_millis(200)).await;
        let metrics = queue.metrics();
        assert_eq!((metrics.depth, metrics.in_flight), (1, 2));
        assert_eq!(metrics.longest_in_flight, Some(Duration::from_millis(500)));

        queue.requeue_with_backoff("a").expect("room");
        queue.done(&"a");
        queue.done(&"b");
        let metrics = queue.metrics();
        assert_eq!(
            (
                metrics.retries,
                metrics.in_flight,
                metrics.longest_in_flight
            ),
            (1, 0, None)
        );
        assert_eq!((metrics.depth, metrics.delayed), (2, 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_workers_never_hold_one_key_twice() {
        const KEYS: u32 = 200;
        let queue = Arc::new(WorkQueue::new(1000));
        let holding = Arc::new(Mutex::new(HashSet::new()));
        let processed = Arc::new(Mutex::new(HashMap::<u32, u32>::new()));
        let mut workers = Vec::new();
        for worker in 0..6u32 {
            let (queue, holding, processed) = (
                Arc::clone(&queue),
                Arc::clone(&holding),
                Arc::clone(&processed),
            );
            workers.push(tokio::spawn(async move {
                loop {
                    let batch = queue.next_batch(8).await;
                    if batch.is_empty() {
                        return;
                    }
                    for key in &batch {
                        assert!(holding.lock().insert(*key), "key {key} held by two workers");
                    }
                    tokio::task::yield_now().await;
                    for key in batch {
                        *processed.lock().entry(key).or_default() += 1;
                        assert!(holding.lock().remove(&key));
                        // Some reconciles fail once, exercising delayed re-entry.
                        if (key + worker) % 7 == 0 && queue.num_requeues(&key) == 0 {
                            queue.requeue_with_backoff(key).expect("in flight");
                        } else {
                            queue.forget(&key);
                        }
                        queue.done(&key);
                    }
                }
            }));
        }
        let producers: Vec<_> = (0..3u32)
            .map(|producer| {
                let queue = Arc::clone(&queue);
                tokio::spawn(async move {
                    for round in 0..50u32 {
                        let keys = (0..KEYS).filter(|key| (key + round + producer) % 3 == 0);
                        queue.add_all(keys).expect("room");
                        queue.add((round * 7 + producer) % KEYS).expect("room");
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await.expect("producer");
        }
        // Wait until every add has been worked off, then stop the workers. The timeout only
        // turns a lost wake-up into a failure instead of a hung test run.
        let idle = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let metrics = queue.metrics();
                if metrics.depth == 0 && metrics.in_flight == 0 {
                    break;
                }
                tokio::time::sleep(MS).await;
            }
        });
        idle.await.expect("the workers drained the queue");
        queue.shut_down();
        for worker in workers {
            worker.await.expect("a worker panicked");
        }
        let processed = processed.lock();
        assert_eq!(processed.len(), usize::try_from(KEYS).expect("small"));
        assert!(queue.metrics().deduplicated > 0, "churn was batched");
    }
}

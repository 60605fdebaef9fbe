//! Workers that run one reconciler over its work queue: bounded concurrency (a fixed number
//! of workers), never one key twice at once (the queue guarantees it), keys taken in batches,
//! errors retried with per-key exponential backoff, success forgetting the backoff.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::informer::{Event, Informer, ObjectKey};
use super::metrics::WorkStats;
use super::queue::WorkQueue;

/// What to do with a key after a successful reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Done,
    /// Look again after this long (a deadline, a minReadySeconds).
    RequeueAfter(Duration),
}

/// Why a reconcile failed; the key is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("API: {0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

/// Whether an API error says the object is gone (404) or changed meanwhile (409). Neither
/// fails a sync: the event of that change brings the key back.
pub fn gone_or_changed(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404 || status.code == 409)
}

/// `result`, with an object gone or changed meanwhile counted as done.
pub fn ignore_gone<T>(result: Result<T, kube::Error>) -> Result<(), ReconcileError> {
    match result {
        Err(error) if !gone_or_changed(&error) => Err(ReconcileError::Api(error)),
        _ => Ok(()),
    }
}

/// Queues, for each event of `informer`, the key `key_of` names (`None`: the event concerns
/// no key). The handler holds the queue weakly: it does nothing once the queue is dropped.
pub fn enqueue<K>(
    informer: &Informer<K>,
    queue: &Arc<WorkQueue<ObjectKey>>,
    key_of: impl Fn(&Event<K>) -> Option<ObjectKey> + Send + Sync + 'static,
) where
    K: kube::core::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K: Send + Sync + 'static,
{
    let queue = Arc::downgrade(queue);
    informer.add_handler(move |events| {
        let Some(queue) = queue.upgrade() else { return };
        let keys: Vec<ObjectKey> = events.iter().filter_map(&key_of).collect();
        if let Err(full) = queue.add_all(keys) {
            tracing::warn!(%full, "work queue");
        }
    });
}

/// One controller's logic for one key.
pub trait Reconciler: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>>;
}

/// Keys a worker takes at once: enough to drain a burst with one wake-up, few enough that
/// other workers get their share.
pub const BATCH: usize = 16;

/// Starts `workers` workers; they stop when the queue is shut down. `stats` counts the
/// reconciles and their time.
pub fn spawn<R: Reconciler + ?Sized>(
    reconciler: Arc<R>,
    queue: Arc<WorkQueue<ObjectKey>>,
    workers: usize,
    stats: Arc<WorkStats>,
) {
    spawn_batched(reconciler, queue, workers, BATCH, stats);
}

/// [`spawn`] with workers taking at most `batch` keys per wake-up (1: one at a time, as
/// client-go's workers do).
pub fn spawn_batched<R: Reconciler + ?Sized>(
    reconciler: Arc<R>,
    queue: Arc<WorkQueue<ObjectKey>>,
    workers: usize,
    batch: usize,
    stats: Arc<WorkStats>,
) {
    let batch = batch.max(1);
    for _ in 0..workers.max(1) {
        let (reconciler, queue) = (Arc::clone(&reconciler), Arc::clone(&queue));
        let stats = Arc::clone(&stats);
        tokio::spawn(async move {
            loop {
                let batch = queue.next_batch(batch).await;
                if batch.is_empty() && queue.is_shut_down() {
                    return;
                }
                for key in batch {
                    let started = tokio::time::Instant::now();
                    let outcome = reconciler.reconcile(key.clone()).await;
                    stats.record(started.elapsed());
                    match outcome {
                        Ok(Action::Done) => queue.forget(&key),
                        Ok(Action::RequeueAfter(delay)) => {
                            queue.forget(&key);
                            let _ = queue.add_after(key.clone(), delay);
                        }
                        Err(error) => {
                            tracing::debug!(controller = reconciler.name(), %key, %error, "reconcile failed");
                            let _ = queue.requeue_with_backoff(key.clone());
                        }
                    }
                    queue.done(&key);
                }
            }
        });
    }
}

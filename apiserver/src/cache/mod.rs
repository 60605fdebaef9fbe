//! The watch cache: one per resource, kept consistent with the store by one store watcher,
//! serving lists and watches without touching the store (upstream
//! `staging/src/k8s.io/apiserver/pkg/storage/cacher`, with consistent reads from cache as in
//! v1.31+). Each object version is kept as the stored bytes (serialized once, shared by every
//! list and watcher) plus the few fields selectors need, extracted once when the version
//! arrives, so filtering never parses JSON.
//!
//! Consistency: a read that must be current asks the store for the partition's revision and
//! waits until the cache has applied it (the watcher's progress tells the cache when nothing
//! in its range changed).

mod object;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::{Notify, broadcast, watch};
use ultrak8s_store::contract::KubeStore;
use ultrak8s_store::store::Store;
use ultrak8s_store::types::{Change, Revision};
use ultrak8s_store::watch::Watcher;

pub use object::CachedObject;

use crate::error::ApiError;
use crate::resources::Resource;

/// Events kept for watchers that start from a recent resourceVersion (upstream sizes the
/// cacher's history by time; a count bounds memory).
const HISTORY: usize = 10_000;
/// Live events buffered per watcher before it counts as too slow and is caught up from the
/// history (or ended, when it fell out of the history too).
const FANOUT_BUFFER: usize = 4096;
/// How long a consistent read waits for the cache before it answers 504 (upstream:
/// 3 s `blockTimeout`).
const SYNC_WAIT: Duration = Duration::from_secs(3);
/// Keys read per page when the cache lists the store.
const LIST_PAGE: Option<std::num::NonZeroU64> = std::num::NonZeroU64::new(10_000);

/// The history after a revision and the live feed from there on.
pub type Replay = (Vec<Arc<CacheEvent>>, broadcast::Receiver<Arc<CacheEvent>>);

/// One change as watchers see it.
#[derive(Debug)]
pub struct CacheEvent {
    pub revision: Revision,
    /// `None`: the object was deleted.
    pub object: Option<Arc<CachedObject>>,
    /// The version before the change.
    pub prev: Option<Arc<CachedObject>>,
}

struct State {
    objects: Objects,
    /// Every change up to this revision of the partition has been applied.
    revision: Revision,
    history: VecDeque<Arc<CacheEvent>>,
    /// The history holds every event after this revision.
    history_from: Revision,
}

impl State {
    fn snapshot(&self, prefix: &[u8], keep: impl Fn(&CachedObject) -> bool) -> Snapshot {
        self.snapshot_from(prefix, prefix, keep)
    }

    /// The objects under `prefix` from key `start` on.
    fn snapshot_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        keep: impl Fn(&CachedObject) -> bool,
    ) -> Snapshot {
        let objects = self
            .objects
            .range::<[u8], _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter(|(_, object)| keep(object))
            .map(|(_, object)| Arc::clone(object))
            .collect();
        Snapshot {
            revision: self.revision,
            objects,
        }
    }
}

/// The cached objects by key.
type Objects = BTreeMap<bytes::Bytes, Arc<CachedObject>>;

/// Every object under `prefix` at the partition's current revision, and a store watcher
/// from there on.
fn list_and_watch(
    store: &Store,
    resource: &Arc<Resource>,
    prefix: &[u8],
) -> Result<(Revision, Objects, Watcher), ApiError> {
    let revision = store.partition_for_key(prefix).revision();
    let mut objects = BTreeMap::new();
    let mut start = None;
    loop {
        let page = store.list(prefix, start.as_deref(), Some(revision), LIST_PAGE)?;
        for kv in page.kvs {
            // As for live events: a value written through the etcd facade that is not an
            // object of this kind is skipped, not allowed to take the resource down.
            match CachedObject::new(resource, kv.key.clone(), kv.value, kv.mod_revision) {
                Ok(object) => {
                    objects.insert(kv.key, Arc::new(object));
                }
                Err(error) => {
                    tracing::warn!(key = ?kv.key, %error, "undecodable object skipped by the watch cache");
                }
            }
        }
        match page.continue_from {
            Some(next) => start = Some(next.to_vec()),
            None => break,
        }
    }
    let watcher = KubeStore::watch(store, prefix, Some(revision))?;
    Ok((revision, objects, watcher))
}

pub struct WatchCache {
    resource: Arc<Resource>,
    prefix: Vec<u8>,
    store: Arc<Store>,
    state: RwLock<State>,
    events: broadcast::Sender<Arc<CacheEvent>>,
    synced: watch::Sender<Revision>,
    progress_wanted: Notify,
}

/// A point-in-time view for a list or a watch's initial state.
pub struct Snapshot {
    pub revision: Revision,
    pub objects: Vec<Arc<CachedObject>>,
}

impl WatchCache {
    /// Lists the resource from the store and starts following it.
    pub async fn start(
        store: Arc<Store>,
        resource: Arc<Resource>,
    ) -> Result<Arc<WatchCache>, ApiError> {
        let prefix = resource.prefix(None);
        let (revision, objects, watcher) = list_and_watch(&store, &resource, &prefix)?;
        let (events, _) = broadcast::channel(FANOUT_BUFFER);
        let (synced, _) = watch::channel(revision);
        let cache = Arc::new(WatchCache {
            resource,
            prefix,
            store,
            state: RwLock::new(State {
                objects,
                revision,
                history: VecDeque::new(),
                history_from: revision,
            }),
            events,
            synced,
            progress_wanted: Notify::new(),
        });
        tokio::spawn(Arc::clone(&cache).follow(watcher));
        Ok(cache)
    }

    pub fn resource(&self) -> &Arc<Resource> {
        &self.resource
    }

    /// Applies the store's changes as they come; ends when the store shuts down. A cache that
    /// falls behind the store's history restarts from a fresh list.
    async fn follow(self: Arc<Self>, mut watcher: Watcher) {
        loop {
            tokio::select! {
                batch = watcher.next() => match batch {
                    Ok(batch) => self.apply(batch),
                    Err(ultrak8s_store::error::StoreError::Compacted { .. }) => {
                        match self.relist() {
                            Ok(w) => watcher = w,
                            Err(error) => {
                                tracing::error!(resource = %self.resource.qualified(), %error, "watch cache stopped");
                                return;
                            }
                        }
                    }
                    Err(_) => return,
                },
                () = self.progress_wanted.notified() => {
                    if let Some(revision) = watcher.progress() {
                        self.advance(revision);
                    }
                }
            }
        }
    }

    fn apply(&self, batch: ultrak8s_store::watch::EventBatch) {
        let mut state = self.state.write();
        for event in batch.events {
            let prev = state.objects.get(&event.key).cloned();
            let object = match event.change {
                Change::Put(kv) => {
                    match CachedObject::new(
                        &self.resource,
                        kv.key.clone(),
                        kv.value,
                        kv.mod_revision,
                    ) {
                        Ok(object) => {
                            let object = Arc::new(object);
                            state.objects.insert(kv.key, Arc::clone(&object));
                            Some(object)
                        }
                        Err(error) => {
                            // Only this server writes these keys; a value that does not decode
                            // came from elsewhere (the etcd facade). Skip it, say so.
                            tracing::warn!(key = ?event.key, %error, "undecodable object skipped by the watch cache");
                            continue;
                        }
                    }
                }
                Change::Delete => {
                    state.objects.remove(&event.key);
                    None
                }
            };
            let event = Arc::new(CacheEvent {
                revision: batch.revision,
                object,
                prev,
            });
            if state.history.len() == HISTORY
                && let Some(dropped) = state.history.pop_front()
            {
                state.history_from = dropped.revision;
            }
            state.history.push_back(Arc::clone(&event));
            // No receivers is fine: nobody watches.
            let _ = self.events.send(event);
        }
        state.revision = state.revision.max(batch.revision);
        let revision = state.revision;
        drop(state);
        self.synced.send_replace(revision);
    }

    fn advance(&self, revision: Revision) {
        let mut state = self.state.write();
        if revision > state.revision {
            state.revision = revision;
            drop(state);
            self.synced.send_replace(revision);
        }
    }

    fn relist(&self) -> Result<Watcher, ApiError> {
        let (revision, objects, watcher) =
            list_and_watch(&self.store, &self.resource, &self.prefix)?;
        let mut state = self.state.write();
        state.objects = objects;
        state.revision = revision;
        state.history.clear();
        state.history_from = revision;
        Ok(watcher)
    }

    /// Waits until the cache has applied everything up to `revision` (`None`: the store's
    /// current revision, which makes the read consistent).
    pub async fn wait_synced(&self, revision: Option<Revision>) -> Result<Revision, ApiError> {
        let target = match revision {
            Some(revision) => revision,
            None => self.store.partition_for_key(&self.prefix).revision(),
        };
        let mut synced = self.synced.subscribe();
        let deadline = tokio::time::Instant::now() + SYNC_WAIT;
        loop {
            let current = *synced.borrow_and_update();
            if current >= target {
                return Ok(current);
            }
            // Nothing in our range may change for a while: ask the follower to check
            // whether it is synced with the partition.
            self.progress_wanted.notify_one();
            let tick = tokio::time::Instant::now() + Duration::from_millis(20);
            match tokio::time::timeout_at(tick.min(deadline), synced.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ApiError::unavailable("the watch cache stopped")),
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(ApiError::timeout(format!(
                        "Too large resource version: {target}, current: {current}"
                    )));
                }
                Err(_) => {}
            }
        }
    }

    /// The objects under `prefix` that `keep` selects, at the cache's current revision.
    pub fn snapshot(&self, prefix: &[u8], keep: impl Fn(&CachedObject) -> bool) -> Snapshot {
        let state = self.state.read();
        state.snapshot(prefix, keep)
    }

    /// The objects under `prefix` from key `start` on, if the cache is still at `revision`
    /// (a later page of a list whose first page it served); `None` once it has moved on.
    pub fn snapshot_at(
        &self,
        revision: Revision,
        prefix: &[u8],
        start: &[u8],
        keep: impl Fn(&CachedObject) -> bool,
    ) -> Option<Snapshot> {
        let state = self.state.read();
        (state.revision == revision).then(|| state.snapshot_from(prefix, start, keep))
    }

    /// A snapshot and a subscription to every change after it, taken together so that no
    /// change is missed or seen twice.
    pub fn snapshot_and_subscribe(
        &self,
        prefix: &[u8],
        keep: impl Fn(&CachedObject) -> bool,
    ) -> (Snapshot, broadcast::Receiver<Arc<CacheEvent>>) {
        // Changes are applied and broadcast under the write lock; holding the read lock here
        // puts the subscription exactly at the snapshot's revision.
        let state = self.state.read();
        let receiver = self.events.subscribe();
        (state.snapshot(prefix, keep), receiver)
    }

    /// The events after `revision` and a subscription to later ones; `None` when the history
    /// no longer reaches back to `revision` (the caller falls back to the store).
    pub fn events_after(&self, revision: Revision) -> Option<Replay> {
        let state = self.state.read();
        if revision < state.history_from {
            return None;
        }
        let receiver = self.events.subscribe();
        let events = state
            .history
            .iter()
            .filter(|e| e.revision > revision)
            .cloned()
            .collect();
        Some((events, receiver))
    }

    /// The cache's revision (for bookmarks).
    pub fn revision(&self) -> Revision {
        self.state.read().revision
    }
}

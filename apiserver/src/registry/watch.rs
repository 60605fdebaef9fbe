//! Watch streams (upstream `storage/cacher/cache_watcher.go` semantics): a start from "now"
//! with the current objects as ADDED events, a resume after an exact resourceVersion,
//! streaming lists (`sendInitialEvents`), bookmarks, selector transitions (an object that
//! stops matching is DELETED for the watcher), and 410 Gone below compaction.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::time::Instant;
use ultrak8s_store::contract::KubeStore;
use ultrak8s_store::error::StoreError;
use ultrak8s_store::types::{Change, Event, Revision};
use ultrak8s_store::watch::Watcher;

use tokio::sync::broadcast;

use super::{Filter, Registry, decode_stored, parse_rv};
use crate::cache::{CacheEvent, CachedObject, WatchCache};
use crate::error::ApiError;
use crate::resources::Resource;

/// How often an idle watcher that asked for bookmarks gets one (upstream sends them about
/// once a minute; more often keeps resumes cheap for clients).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(15);

/// The annotation of the bookmark that ends a streaming list.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

impl WatchEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
            WatchEventType::Bookmark => "BOOKMARK",
            WatchEventType::Error => "ERROR",
        }
    }
}

/// One event; `object` is the object's JSON (for ERROR: a Status).
#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub kind: WatchEventType,
    pub object: Bytes,
}

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub resource_version: String,
    pub allow_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub timeout: Option<Duration>,
    pub filter: Filter,
}

pub struct WatchStream {
    resource: Arc<Resource>,
    filter: Filter,
    queue: VecDeque<WatchEvent>,
    source: Option<Source>,
    deadline: Option<Instant>,
    bookmarks: bool,
    next_bookmark: Instant,
    /// The newest revision this stream has told the client about.
    sent: Revision,
    /// The key prefix of the watched scope (a namespace, or the whole resource).
    prefix: Vec<u8>,
}

/// Where a watch's events come from: the watch cache, or (for a start older than the cache's
/// history) the store itself.
enum Source {
    Cache {
        cache: Arc<WatchCache>,
        events: broadcast::Receiver<Arc<CacheEvent>>,
    },
    Store(Watcher),
}

impl Registry {
    pub async fn watch(
        &self,
        resource: Arc<Resource>,
        namespace: Option<&str>,
        opts: WatchOptions,
    ) -> Result<WatchStream, ApiError> {
        let prefix = resource.prefix(namespace);
        let rv = parse_rv(&opts.resource_version)?;
        let initial = match opts.send_initial_events {
            Some(true) => {
                if !opts.allow_bookmarks {
                    return Err(ApiError::bad_request(
                        "sendInitialEvents is forbidden for watch unless allowWatchBookmarks=true",
                    ));
                }
                true
            }
            Some(false) => false,
            // Upstream: no resourceVersion, or "0", starts with the current state.
            None => rv.is_none(),
        };
        let cache = self.cache(&resource).await?;
        let mut stream = WatchStream {
            resource: Arc::clone(&resource),
            filter: opts.filter.clone(),
            queue: VecDeque::new(),
            source: None,
            deadline: opts.timeout.map(|t| Instant::now() + t),
            bookmarks: opts.allow_bookmarks,
            next_bookmark: next_bookmark(opts.timeout.map(|t| Instant::now() + t)),
            sent: Revision::INITIAL,
            prefix: prefix.clone(),
        };
        if initial {
            if opts.resource_version != "0" {
                cache.wait_synced(rv).await?;
            }
            let filter = &opts.filter;
            let everything = filter.is_everything();
            let (snapshot, events) =
                cache.snapshot_and_subscribe(&prefix, |o| everything || filter.matches_cached(o));
            stream
                .queue
                .extend(snapshot.objects.iter().map(|o| WatchEvent {
                    kind: WatchEventType::Added,
                    object: o.bytes.clone(),
                }));
            if opts.send_initial_events == Some(true) {
                stream
                    .queue
                    .push_back(bookmark(&resource, snapshot.revision, true));
            }
            stream.sent = snapshot.revision;
            stream.source = Some(Source::Cache { cache, events });
            return Ok(stream);
        }
        let start = match rv {
            Some(rv) => rv,
            None => cache.wait_synced(None).await?,
        };
        stream.sent = start;
        if let Some(after) = rv {
            // Upstream waits (up to 3 s) for a resourceVersion the cache has not reached.
            cache.wait_synced(Some(after)).await?;
        }
        match cache.events_after(start) {
            Some((history, events)) => {
                for event in history {
                    stream.push(&event);
                }
                stream.source = Some(Source::Cache { cache, events });
            }
            None => match KubeStore::watch(&*self.store, &prefix, Some(start)) {
                Ok(watcher) => stream.source = Some(Source::Store(watcher)),
                Err(StoreError::Compacted { compact_revision }) => {
                    stream.queue.push_back(too_old(start, compact_revision));
                }
                Err(e) => return Err(e.into()),
            },
        }
        Ok(stream)
    }
}

/// When the next bookmark is due: every [`BOOKMARK_INTERVAL`], and once shortly before the
/// watch ends so the client resumes from a recent revision (upstream
/// `cacheWatcher.nextBookmarkTime`: 2 s before the deadline).
fn next_bookmark(deadline: Option<Instant>) -> Instant {
    let regular = Instant::now() + BOOKMARK_INTERVAL;
    match deadline.and_then(|d| d.checked_sub(Duration::from_secs(2))) {
        Some(early) if early > Instant::now() => regular.min(early),
        _ => regular,
    }
}

fn too_old(wanted: Revision, compacted: Revision) -> WatchEvent {
    let status = ApiError::expired(format!("too old resource version: {wanted} ({compacted})"));
    WatchEvent {
        kind: WatchEventType::Error,
        object: Bytes::from(status.status().to_string()),
    }
}

fn bookmark(resource: &Resource, revision: Revision, initial_end: bool) -> WatchEvent {
    let mut metadata = json!({ "resourceVersion": revision.to_string() });
    if initial_end {
        metadata["annotations"] = json!({ INITIAL_EVENTS_END: "true" });
    }
    let object = json!({
        "kind": resource.kind,
        "apiVersion": resource.api_version(),
        "metadata": metadata,
    });
    WatchEvent {
        kind: WatchEventType::Bookmark,
        object: Bytes::from(object.to_string()),
    }
}

impl WatchStream {
    /// The next event; `None` when the stream ends (timeout, or after an ERROR event).
    pub async fn next(&mut self) -> Option<WatchEvent> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            let mut wake = self
                .deadline
                .unwrap_or(Instant::now() + Duration::from_secs(3600));
            if self.bookmarks {
                wake = wake.min(self.next_bookmark);
            }
            let source = self.source.as_mut()?;
            let timed_out = match source {
                Source::Cache { cache, events } => {
                    tokio::select! {
                        event = events.recv() => {
                            match event {
                                Ok(event) => self.push(&event),
                                Err(broadcast::error::RecvError::Lagged(_)) => {
                                    // Too slow for the live feed: catch up from the history,
                                    // or end with 410 so the client re-lists, as upstream.
                                    match cache.events_after(self.sent) {
                                        Some((history, events)) => {
                                            if let Some(Source::Cache { events: rx, .. }) = self.source.as_mut() {
                                                *rx = events;
                                            }
                                            for event in history {
                                                self.push(&event);
                                            }
                                        }
                                        None => {
                                            let revision = cache.revision();
                                            self.source = None;
                                            return Some(too_old(self.sent, revision));
                                        }
                                    }
                                }
                                Err(broadcast::error::RecvError::Closed) => {
                                    self.source = None;
                                    return None;
                                }
                            }
                            false
                        }
                        () = tokio::time::sleep_until(wake) => true,
                    }
                }
                Source::Store(watcher) => {
                    tokio::select! {
                        batch = watcher.next() => match batch {
                            Ok(batch) => {
                                for event in batch.events {
                                    if let Some(event) = self.convert_store(event) {
                                        self.queue.push_back(event);
                                    }
                                }
                                self.sent = self.sent.max(batch.revision);
                                false
                            }
                            Err(StoreError::Compacted { compact_revision }) => {
                                self.source = None;
                                return Some(too_old(self.sent, compact_revision));
                            }
                            Err(_) => {
                                // The store is shutting down: end the stream; the client
                                // re-watches.
                                self.source = None;
                                return None;
                            }
                        },
                        () = tokio::time::sleep_until(wake) => true,
                    }
                }
            };
            if timed_out {
                if self.deadline.is_some_and(|d| Instant::now() >= d) {
                    self.source = None;
                    return None;
                }
                self.next_bookmark = next_bookmark(self.deadline);
                let progress = match self.source.as_ref() {
                    Some(Source::Cache { cache, .. }) => Some(cache.revision()),
                    Some(Source::Store(watcher)) => watcher.progress(),
                    None => None,
                };
                if let Some(progress) = progress {
                    self.sent = self.sent.max(progress);
                    return Some(bookmark(&self.resource, self.sent, false));
                }
            }
        }
    }

    /// Queues a cache event as this watcher sees it through its prefix and filter.
    fn push(&mut self, event: &CacheEvent) {
        if event.revision <= self.sent && !self.queue.is_empty() {
            return;
        }
        self.sent = self.sent.max(event.revision);
        let in_scope = |o: &CachedObject| o.key.starts_with(&self.prefix);
        let everything = self.filter.is_everything();
        let passes =
            |o: &CachedObject| in_scope(o) && (everything || self.filter.matches_cached(o));
        let old = event.prev.as_deref().filter(|o| passes(o));
        let new = event.object.as_deref().filter(|o| passes(o));
        let kind_and_object = match (old, new) {
            (Some(_), Some(new)) => Some((WatchEventType::Modified, new.bytes.clone())),
            (None, Some(new)) => Some((WatchEventType::Added, new.bytes.clone())),
            (Some(old), None) => Some((
                WatchEventType::Deleted,
                self.deleted(&old.bytes, event.revision).object,
            )),
            (None, None) => None,
        };
        if let Some((kind, object)) = kind_and_object {
            self.queue.push_back(WatchEvent { kind, object });
        }
    }

    /// A store event as this watcher sees it through its filter.
    fn convert_store(&self, event: Event) -> Option<WatchEvent> {
        let everything = self.filter.is_everything();
        let passes = |bytes: &[u8]| {
            everything
                || self
                    .filter
                    .matches_stored(&self.resource, bytes)
                    .unwrap_or(false)
        };
        let old_passes = event.prev.as_ref().is_some_and(|prev| passes(&prev.value));
        match event.change {
            Change::Put(kv) => match (old_passes, passes(&kv.value)) {
                (true, true) => Some(WatchEvent {
                    kind: WatchEventType::Modified,
                    object: kv.value,
                }),
                (false, true) => Some(WatchEvent {
                    kind: WatchEventType::Added,
                    object: kv.value,
                }),
                (true, false) => Some(self.deleted(&kv.value, event.revision)),
                (false, false) => None,
            },
            Change::Delete => {
                let prev = event.prev.filter(|_| old_passes)?;
                Some(self.deleted(&prev.value, event.revision))
            }
        }
    }

    /// A DELETED event carries the last version with the deletion's resourceVersion, so a
    /// client resuming from it does not see the delete twice.
    fn deleted(&self, bytes: &[u8], revision: Revision) -> WatchEvent {
        let object = match decode_stored(&self.resource, bytes) {
            Ok(obj) => super::encode_at(obj, revision),
            Err(_) => Bytes::copy_from_slice(bytes),
        };
        WatchEvent {
            kind: WatchEventType::Deleted,
            object,
        }
    }
}

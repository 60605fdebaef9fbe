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

use super::{Filter, ListOptions, Registry, decode_stored, parse_rv};
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
    watcher: Option<Watcher>,
    deadline: Option<Instant>,
    bookmarks: bool,
    next_bookmark: Instant,
    /// The newest revision this stream has told the client about.
    sent: Revision,
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
        let mut queue = VecDeque::new();
        let start = if initial {
            let revision = self.read_revision(&resource, rv).await?;
            let list = ListOptions {
                resource_version: revision.to_string(),
                rv_match: super::RvMatch::Exact,
                filter: opts.filter.clone(),
                ..ListOptions::default()
            };
            let listed = self.list(&resource, namespace, &list).await?;
            queue.extend(listed.items.into_iter().map(|object| WatchEvent {
                kind: WatchEventType::Added,
                object,
            }));
            if opts.send_initial_events == Some(true) {
                queue.push_back(bookmark(&resource, revision, true));
            }
            revision
        } else {
            match rv {
                Some(rv) => rv,
                None => self.read_revision(&resource, None).await?,
            }
        };
        let watcher = match KubeStore::watch(&*self.store, &prefix, Some(start)) {
            Ok(watcher) => Some(watcher),
            Err(StoreError::Compacted { compact_revision }) => {
                queue.push_back(too_old(start, compact_revision));
                None
            }
            Err(e) => return Err(e.into()),
        };
        Ok(WatchStream {
            resource,
            filter: opts.filter,
            queue,
            watcher,
            deadline: opts.timeout.map(|t| Instant::now() + t),
            bookmarks: opts.allow_bookmarks,
            next_bookmark: Instant::now() + BOOKMARK_INTERVAL,
            sent: start,
        })
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
            let watcher = self.watcher.as_mut()?;
            let mut wake = self.deadline.unwrap_or(Instant::now() + Duration::from_secs(3600));
            if self.bookmarks {
                wake = wake.min(self.next_bookmark);
            }
            tokio::select! {
                batch = watcher.next() => match batch {
                    Ok(batch) => {
                        for event in batch.events {
                            if let Some(event) = self.convert(event) {
                                self.queue.push_back(event);
                            }
                        }
                        self.sent = self.sent.max(batch.revision);
                    }
                    Err(StoreError::Compacted { compact_revision }) => {
                        self.watcher = None;
                        return Some(too_old(self.sent, compact_revision));
                    }
                    Err(_) => {
                        // The store is shutting down: end the stream, the client re-watches.
                        self.watcher = None;
                        return None;
                    }
                },
                () = tokio::time::sleep_until(wake) => {
                    if self.deadline.is_some_and(|d| Instant::now() >= d) {
                        self.watcher = None;
                        return None;
                    }
                    self.next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
                    if let Some(progress) = watcher.progress() {
                        self.sent = self.sent.max(progress);
                        return Some(bookmark(&self.resource, self.sent, false));
                    }
                }
            }
        }
    }

    /// A store event as this watcher sees it through its filter.
    fn convert(&self, event: Event) -> Option<WatchEvent> {
        let everything = self.filter.is_everything();
        let passes = |bytes: &[u8]| {
            everything || self.filter.matches_stored(&self.resource, bytes).unwrap_or(false)
        };
        let old_passes = event.prev.as_ref().is_some_and(|prev| passes(&prev.value));
        match event.change {
            Change::Put(kv) => {
                let new_passes = passes(&kv.value);
                match (old_passes, new_passes) {
                    (_, true) => Some(WatchEvent {
                        kind: if event.prev.is_some() && old_passes {
                            WatchEventType::Modified
                        } else {
                            WatchEventType::Added
                        },
                        object: kv.value,
                    }),
                    (true, false) => Some(self.deleted(&kv.value, event.revision)),
                    (false, false) => None,
                }
            }
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

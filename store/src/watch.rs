//! Watchers of one partition. The partition publishes each committed revision's events once,
//! on a bounded broadcast; each watcher filters them by its key range. A watcher that starts in
//! the past, or falls further behind than the broadcast holds, catches up from the engine's
//! history (as etcd's "unsynced" watchers do) and then rejoins the broadcast, so a slow
//! watcher never slows the writers and never misses an event; only compaction of the history
//! it still needs ends it, with the "compacted" error.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::engine::Engine;
use crate::error::StoreError;
use crate::partition::Commit;
use crate::types::{Event, KeyRange, Revision};

/// The events of one committed revision.
#[derive(Debug, PartialEq, Eq)]
pub struct EventBatch {
    pub revision: Revision,
    pub events: Vec<Event>,
}

pub struct Watcher {
    engine: Arc<dyn Engine>,
    commit: Arc<Commit>,
    range: KeyRange,
    live: broadcast::Receiver<Arc<EventBatch>>,
    /// Every revision up to this one has been handed out (or had nothing for this watcher).
    delivered: u64,
    backlog: VecDeque<EventBatch>,
}

impl Watcher {
    pub(crate) fn new(
        engine: Arc<dyn Engine>,
        commit: Arc<Commit>,
        range: KeyRange,
        start: Option<Revision>,
    ) -> Result<Watcher, StoreError> {
        let (live, window) = commit.with_state(|state| (commit.events.subscribe(), state.window));
        let start = start.unwrap_or(window.current.next());
        if let Some(compacted) = window.compacted
            && start < compacted
        {
            return Err(StoreError::Compacted {
                compact_revision: compacted,
            });
        }
        let mut watcher = Watcher {
            engine,
            commit,
            range,
            live,
            delivered: start.get() - 1,
            backlog: VecDeque::new(),
        };
        watcher.catch_up(window.current)?;
        Ok(watcher)
    }

    pub fn range(&self) -> &KeyRange {
        &self.range
    }

    /// Queues the history after `delivered` up to `upto` from the engine.
    fn catch_up(&mut self, upto: Revision) -> Result<(), StoreError> {
        // Watching from revision 1 reads from the initial revision, which has no writes.
        let after = Revision::new(self.delivered).unwrap_or(Revision::INITIAL);
        if after >= upto {
            return Ok(());
        }
        for event in self.engine.events(&self.range, after, upto)? {
            match self.backlog.back_mut() {
                Some(batch) if batch.revision == event.revision => batch.events.push(event),
                _ => self.backlog.push_back(EventBatch {
                    revision: event.revision,
                    events: vec![event],
                }),
            }
        }
        self.delivered = upto.get();
        Ok(())
    }

    /// The next revision with events in this watcher's range. Waits for one.
    pub async fn next(&mut self) -> Result<EventBatch, StoreError> {
        loop {
            if let Some(batch) = self.backlog.pop_front() {
                return Ok(batch);
            }
            match self.live.recv().await {
                Ok(batch) => {
                    if batch.revision.get() <= self.delivered {
                        continue;
                    }
                    self.delivered = batch.revision.get();
                    let events: Vec<Event> = batch
                        .events
                        .iter()
                        .filter(|event| self.range.contains(&event.key))
                        .cloned()
                        .collect();
                    if !events.is_empty() {
                        return Ok(EventBatch {
                            revision: batch.revision,
                            events,
                        });
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let (live, window) = self
                        .commit
                        .with_state(|state| (self.commit.events.subscribe(), state.window));
                    self.live = live;
                    if let Some(compacted) = window.compacted
                        && compacted.get() > self.delivered + 1
                    {
                        return Err(StoreError::Compacted {
                            compact_revision: compacted,
                        });
                    }
                    self.catch_up(window.current)?;
                }
                Err(RecvError::Closed) => return Err(StoreError::ShuttingDown),
            }
        }
    }

    /// The revision this watcher is synced to, when it has handed out every event up to the
    /// partition's committed revision; `None` while it still has events to hand out. (etcd
    /// sends progress notifications only for synced watchers.)
    pub fn progress(&self) -> Option<Revision> {
        if !self.backlog.is_empty() {
            return None;
        }
        // Under the commit lock every batch up to `current` has been sent, so an empty
        // receiver means this watcher has seen them all.
        self.commit
            .with_state(|state| self.live.is_empty().then_some(state.window.current))
    }
}

//! The queue's state machine: synchronous, no I/O, `now` passed in, so every transition is
//! plain data manipulation under the one lock that `WorkQueue` holds around it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::Hash;

use tokio::time::Instant;

use super::QueueMetrics;

/// What an operation changed that waiting workers must hear about.
#[derive(Debug, Default)]
pub(super) struct Changes {
    pub(super) became_ready: usize,
    pub(super) earliest_moved: bool,
}

/// Whom to wake once the lock is released.
#[derive(Debug, Default)]
pub(super) struct Wake {
    pub(super) workers: usize,
    pub(super) timekeeper: bool,
}

/// Where a key is. `seq` makes deadlines and start times unique map keys.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Ready,
    Delayed {
        at: Instant,
        seq: u64,
    },
    InFlight {
        since: Instant,
        seq: u64,
        again: Again,
    },
}

/// Whether a key in flight was added again meanwhile, and for when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    No,
    Now,
    At(Instant),
}

impl Again {
    /// The earlier of two requests, as client-go's delaying queue keeps the earlier deadline.
    fn merge(self, other: Again) -> Again {
        match (self, other) {
            (Again::No, x) | (x, Again::No) => x,
            (Again::Now, _) | (_, Again::Now) => Again::Now,
            (Again::At(a), Again::At(b)) => Again::At(a.min(b)),
        }
    }
}

#[derive(Debug)]
pub(super) struct Entry {
    slot: Slot,
    /// Consecutive failures, the exponent of the backoff.
    pub(super) failures: u32,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    adds: u64,
    deduplicated: u64,
    pub(super) retries: u64,
    rejected: u64,
}

/// The queue's state. Invariants: every key of `entries` is in exactly one of `ready`,
/// `delayed` or (by its `since, seq`) `in_flight`, as its `slot` says; so all four
/// collections are bounded by `capacity`.
#[derive(Debug)]
pub(super) struct Inner<K> {
    pub(super) capacity: usize,
    pub(super) entries: HashMap<K, Entry>,
    ready: VecDeque<K>,
    pub(super) delayed: BTreeMap<(Instant, u64), K>,
    in_flight: BTreeSet<(Instant, u64)>,
    next_seq: u64,
    /// Workers parked in `next_batch`.
    pub(super) waiting: usize,
    /// Whether one of them sleeps until the earliest deadline.
    pub(super) timekeeper: bool,
    pub(super) shut_down: bool,
    pub(super) counters: Counters,
}

impl<K> Inner<K> {
    /// Unregisters a worker that stopped waiting.
    pub(super) fn leave(&mut self, was_timekeeper: bool) {
        self.waiting = self.waiting.saturating_sub(1);
        if was_timekeeper {
            self.timekeeper = false;
        }
    }
}

impl<K: Clone + Eq + Hash> Inner<K> {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            ready: VecDeque::new(),
            delayed: BTreeMap::new(),
            in_flight: BTreeSet::new(),
            next_seq: 0,
            waiting: 0,
            timekeeper: false,
            shut_down: false,
            counters: Counters::default(),
        }
    }

    /// Requests a reconcile of `key` at `at` (now if `at <= now`). Returns false if the key is
    /// new and the queue is full.
    pub(super) fn schedule(
        &mut self,
        key: K,
        at: Instant,
        now: Instant,
        changes: &mut Changes,
    ) -> bool {
        let due = at <= now;
        let Some(entry) = self.entries.get_mut(&key) else {
            if self.entries.len() >= self.capacity {
                self.counters.rejected += 1;
                return false;
            }
            self.counters.adds += 1;
            let slot = if due {
                self.ready.push_back(key.clone());
                changes.became_ready += 1;
                Slot::Ready
            } else {
                delay(
                    &mut self.delayed,
                    &mut self.next_seq,
                    key.clone(),
                    at,
                    changes,
                )
            };
            self.entries.insert(key, Entry { slot, failures: 0 });
            return true;
        };
        self.counters.adds += 1;
        match entry.slot {
            Slot::Ready => self.counters.deduplicated += 1,
            Slot::InFlight { since, seq, again } => {
                if again != Again::No {
                    self.counters.deduplicated += 1;
                }
                let wanted = if due { Again::Now } else { Again::At(at) };
                entry.slot = Slot::InFlight {
                    since,
                    seq,
                    again: again.merge(wanted),
                };
            }
            Slot::Delayed { at: old, seq } => {
                self.counters.deduplicated += 1;
                if at < old {
                    self.delayed.remove(&(old, seq));
                    entry.slot = if due {
                        self.ready.push_back(key);
                        changes.became_ready += 1;
                        Slot::Ready
                    } else {
                        delay(&mut self.delayed, &mut self.next_seq, key, at, changes)
                    };
                }
            }
        }
        true
    }

    /// Moves due delayed keys to `ready`, then takes up to `max` ready keys into flight.
    /// `None` if none is ready.
    pub(super) fn take_batch(&mut self, max: usize, now: Instant) -> Option<(Vec<K>, Wake)> {
        while let Some(first) = self.delayed.first_entry() {
            if first.key().0 > now {
                break;
            }
            let key = first.remove();
            if let Some(entry) = self.entries.get_mut(&key) {
                entry.slot = Slot::Ready;
            }
            self.ready.push_back(key);
        }
        if self.ready.is_empty() {
            return None;
        }
        let count = max.min(self.ready.len());
        let mut batch = Vec::with_capacity(count);
        for key in self.ready.drain(..count) {
            let seq = self.next_seq;
            self.next_seq += 1;
            if let Some(entry) = self.entries.get_mut(&key) {
                entry.slot = Slot::InFlight {
                    since: now,
                    seq,
                    again: Again::No,
                };
                self.in_flight.insert((now, seq));
            }
            batch.push(key);
        }
        // Pass the baton: one more worker for keys left over, or to take up the timer that no
        // one holds; that worker passes it on in turn.
        let more = !self.ready.is_empty() || (!self.timekeeper && !self.delayed.is_empty());
        let workers = usize::from(more && self.waiting > 0);
        Some((
            batch,
            Wake {
                workers,
                timekeeper: false,
            },
        ))
    }

    /// Ends the flight of `key`, re-queueing it if it was added meanwhile.
    pub(super) fn finish(&mut self, key: &K, now: Instant, changes: &mut Changes) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let Slot::InFlight { since, seq, again } = entry.slot else {
            return;
        };
        self.in_flight.remove(&(since, seq));
        match again {
            Again::No => {
                self.entries.remove(key);
            }
            Again::At(at) if at > now => {
                entry.slot = delay(
                    &mut self.delayed,
                    &mut self.next_seq,
                    key.clone(),
                    at,
                    changes,
                );
            }
            Again::Now | Again::At(_) => {
                entry.slot = Slot::Ready;
                self.ready.push_back(key.clone());
                changes.became_ready += 1;
            }
        }
    }

    pub(super) fn metrics(&self, now: Instant) -> QueueMetrics {
        QueueMetrics {
            depth: self.ready.len() + self.delayed.len(),
            delayed: self.delayed.len(),
            in_flight: self.in_flight.len(),
            adds: self.counters.adds,
            deduplicated: self.counters.deduplicated,
            retries: self.counters.retries,
            rejected: self.counters.rejected,
            longest_in_flight: self
                .in_flight
                .first()
                .map(|(since, _)| now.saturating_duration_since(*since)),
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.delayed.first_key_value().map(|((at, _), _)| *at)
    }

    /// Whom to wake for `changes`: one worker per new ready key (as many as wait), and the
    /// timekeeper if the earliest deadline moved; with no timekeeper, one worker takes it up.
    pub(super) fn plan(&self, changes: Changes) -> Wake {
        let mut workers = changes.became_ready.min(self.waiting);
        let mut timekeeper = false;
        if changes.earliest_moved {
            if self.timekeeper {
                timekeeper = true;
            } else if workers == 0 && self.waiting > 0 {
                workers = 1;
            }
        }
        Wake {
            workers,
            timekeeper,
        }
    }
}

/// Puts `key` into the delayed map; a free function so it can run while an entry is borrowed.
fn delay<K>(
    delayed: &mut BTreeMap<(Instant, u64), K>,
    next_seq: &mut u64,
    key: K,
    at: Instant,
    changes: &mut Changes,
) -> Slot {
    if delayed
        .first_key_value()
        .is_none_or(|((first, _), _)| at < *first)
    {
        changes.earliest_moved = true;
    }
    let seq = *next_seq;
    *next_seq += 1;
    delayed.insert((at, seq), key);
    Slot::Delayed { at, seq }
}

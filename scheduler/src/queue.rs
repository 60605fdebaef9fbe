//! The scheduling queue (upstream `internal/queue/scheduling_queue.go`): pending pods in
//! - **active**: ready to be scheduled, highest priority first, then oldest;
//! - **backoff**: failed recently, waiting out their backoff (1 s doubling to 10 s);
//! - **unschedulable**: no node fits; they wait for a cluster event that a plugin which
//!   rejected them registered (a node added, a pod deleted), or at most five minutes;
//! - **gated**: a PreEnqueue plugin said not yet (a gang short of members); any event
//!   re-checks them;
//! - **in flight**: popped, in a scheduling cycle.
//!
//! A pod that fails while a cluster event arrived during its cycle goes to backoff, not to
//! unschedulable: the event may have made it fit (upstream's move-request cycle).
//!
//! The scheduling loop runs on its own thread and blocks in [`SchedulingQueue::pop`];
//! informer handlers add, update and move pods from async tasks. One mutex guards it all and
//! is never held across an await or a plugin call other than PreEnqueue.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::framework::types::PodInfo;
use crate::framework::{ClusterEvent, Status};
use crate::profiles::Profiles;

/// The first retry waits this long, doubling per attempt (upstream `podInitialBackoffDuration`).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Backoff never exceeds this (upstream `podMaxBackoffDuration`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are retried after this long even without an event (upstream
/// `podMaxInUnschedulablePodsDuration`).
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);
/// How often the unschedulable set is checked for pods past [`MAX_UNSCHEDULABLE`].
const FLUSH_UNSCHEDULABLE_EVERY: Duration = Duration::from_secs(30);

/// A pending pod and what the queue knows of its attempts.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    pub info: Arc<PodInfo>,
    /// Scheduling cycles this pod went through.
    pub attempts: u32,
    /// When the pod first entered the queue (for the end-to-end scheduling latency).
    pub initial: Instant,
    /// When it entered the active queue this time (orders pods of equal priority).
    pub timestamp: Instant,
    /// Plugins that rejected it in its last cycle: only their events retry it.
    pub unschedulable_plugins: HashSet<&'static str>,
    pub pending_plugins: HashSet<&'static str>,
    /// The status PreEnqueue gated it with.
    pub gate: Option<Status>,
    /// The cycle it was popped in.
    pub cycle: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    InFlight,
}

/// How many pods sit where (the `scheduler_pending_pods` metric).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub active: usize,
    pub backoff: usize,
    pub unschedulable: usize,
    pub gated: usize,
    pub in_flight: usize,
}

struct Entry {
    pod: QueuedPod,
    place: Place,
    /// Matches the pod's live heap entry; stale heap entries are skipped (lazy deletion).
    seq: u64,
    /// When the pod last became unschedulable.
    since: Instant,
}

#[derive(PartialEq, Eq)]
struct ActiveKey {
    priority: i32,
    timestamp: Instant,
    seq: u64,
    uid: String,
}

impl Ord for ActiveKey {
    /// Higher priority first, then earlier timestamp (upstream's PrioritySort).
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.timestamp.cmp(&self.timestamp))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Default)]
struct Inner {
    pods: HashMap<String, Entry>,
    /// Uids of unschedulable and gated pods: events scan only these, not every pending pod.
    waiting: HashSet<String>,
    active: BinaryHeap<ActiveKey>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    seq: u64,
    /// Incremented per pop.
    cycle: u64,
    /// Each kind of cluster event and the cycle during which it last happened: a pod that
    /// fails is retried soon when an event its plugins care about happened while it was in
    /// flight (upstream's in-flight event tracking), instead of waiting for the next one.
    recent_events: HashMap<ClusterEvent, u64>,
    last_unschedulable_flush: Option<Instant>,
    closed: bool,
}

impl Inner {
    fn put(&mut self, uid: String, entry: Entry) {
        if matches!(entry.place, Place::Unschedulable | Place::Gated) {
            self.waiting.insert(uid.clone());
        } else {
            self.waiting.remove(&uid);
        }
        self.pods.insert(uid, entry);
    }

    fn take(&mut self, uid: &str) -> Option<Entry> {
        self.waiting.remove(uid);
        self.pods.remove(uid)
    }
}

pub struct SchedulingQueue {
    inner: Mutex<Inner>,
    ready: Condvar,
    profiles: Arc<Profiles>,
}

fn backoff_for(attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(16);
    (INITIAL_BACKOFF * (1u32 << shift)).min(MAX_BACKOFF)
}

impl SchedulingQueue {
    pub fn new(profiles: Arc<Profiles>) -> SchedulingQueue {
        SchedulingQueue {
            inner: Mutex::new(Inner::default()),
            ready: Condvar::new(),
            profiles,
        }
    }

    /// A new pending pod (or one seen again after a relist).
    pub fn add(&self, info: Arc<PodInfo>, now: Instant) {
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.pods.get_mut(&info.uid) {
            entry.pod.info = info;
            return;
        }
        let pod = QueuedPod {
            info,
            attempts: 0,
            initial: now,
            timestamp: now,
            unschedulable_plugins: HashSet::new(),
            pending_plugins: HashSet::new(),
            gate: None,
            cycle: 0,
        };
        self.enqueue(&mut inner, pod, now);
    }

    /// Runs PreEnqueue, then places the pod in active or gated.
    fn enqueue(&self, inner: &mut Inner, mut pod: QueuedPod, now: Instant) {
        let status = self.profiles.pre_enqueue(&pod.info);
        let uid = pod.info.uid.clone();
        inner.seq += 1;
        let seq = inner.seq;
        if status.is_success() {
            pod.gate = None;
            pod.timestamp = now;
            inner.active.push(ActiveKey {
                priority: pod.info.priority(),
                timestamp: now,
                seq,
                uid: uid.clone(),
            });
            inner.put(
                uid,
                Entry {
                    pod,
                    place: Place::Active,
                    seq,
                    since: now,
                },
            );
            self.ready.notify_one();
        } else {
            pod.gate = Some(status);
            inner.put(
                uid,
                Entry {
                    pod,
                    place: Place::Gated,
                    seq,
                    since: now,
                },
            );
        }
    }

    /// A new version of a pending pod. A change of what it asks for (not of its status, which
    /// the scheduler itself writes) retries it if it was waiting.
    pub fn update(&self, info: Arc<PodInfo>, now: Instant) {
        let mut inner = self.inner.lock();
        let Some(entry) = inner.pods.get_mut(&info.uid) else {
            drop(inner);
            return self.add(info, now);
        };
        let changed = {
            let (old, new) = (&entry.pod.info.pod, &info.pod);
            old.spec != new.spec
                || old.metadata.labels != new.metadata.labels
                || old.metadata.annotations != new.metadata.annotations
        };
        entry.pod.info = info;
        if changed && matches!(entry.place, Place::Unschedulable | Place::Gated) {
            let pod = entry.pod.clone();
            inner.take(&pod.info.uid);
            self.requeue_now_or_backoff(&mut inner, pod, now);
        }
    }

    pub fn delete(&self, uid: &str) {
        self.inner.lock().take(uid);
    }

    /// Whether the queue holds this pod anywhere (in flight included).
    pub fn contains(&self, uid: &str) -> bool {
        self.inner.lock().pods.contains_key(uid)
    }

    /// Blocks until a pod is active (moving pods whose backoff ended), or the queue closes.
    pub fn pop(&self) -> Option<QueuedPod> {
        let mut inner = self.inner.lock();
        loop {
            if inner.closed {
                return None;
            }
            let now = Instant::now();
            self.flush_backoff(&mut inner, now);
            self.flush_unschedulable(&mut inner, now);
            while let Some(key) = inner.active.pop() {
                let cycle = inner.cycle + 1;
                let Some(entry) = inner.pods.get_mut(&key.uid) else {
                    continue;
                };
                if entry.place != Place::Active || entry.seq != key.seq {
                    continue;
                }
                entry.place = Place::InFlight;
                entry.pod.attempts += 1;
                entry.pod.cycle = cycle;
                let pod = entry.pod.clone();
                inner.cycle = cycle;
                return Some(pod);
            }
            let wake = inner
                .backoff
                .peek()
                .map(|Reverse((at, _, _))| *at)
                .unwrap_or(now + FLUSH_UNSCHEDULABLE_EVERY)
                .min(now + FLUSH_UNSCHEDULABLE_EVERY);
            self.ready.wait_until(&mut inner, wake);
        }
    }

    /// The pod was bound (or given up on): it leaves the queue.
    pub fn done(&self, uid: &str) {
        let mut inner = self.inner.lock();
        if inner
            .pods
            .get(uid)
            .is_some_and(|e| e.place == Place::InFlight)
        {
            inner.take(uid);
        }
    }

    /// The pod found no node (`status` rejected) or hit an error. Rejected pods wait for an
    /// event unless one arrived during their cycle; errors back off. A pod deleted meanwhile
    /// is not brought back.
    pub fn requeue(
        &self,
        mut pod: QueuedPod,
        rejected_by: HashSet<&'static str>,
        pending: HashSet<&'static str>,
        error: bool,
        now: Instant,
    ) {
        let mut inner = self.inner.lock();
        let Some(entry) = inner.pods.get(&pod.info.uid) else {
            return;
        };
        // The informer may have delivered a newer version while it was in flight.
        pod.info = Arc::clone(&entry.pod.info);
        pod.unschedulable_plugins = rejected_by;
        pod.pending_plugins = pending;
        let uid = pod.info.uid.clone();
        let missed = inner
            .recent_events
            .iter()
            .any(|(event, cycle)| *cycle >= pod.cycle && self.profiles.worth_retrying(&pod, event));
        if error || missed {
            inner.take(&uid);
            self.to_backoff(&mut inner, pod, now);
        } else {
            inner.seq += 1;
            let seq = inner.seq;
            inner.put(
                uid,
                Entry {
                    pod,
                    place: Place::Unschedulable,
                    seq,
                    since: now,
                },
            );
        }
    }

    fn to_backoff(&self, inner: &mut Inner, pod: QueuedPod, now: Instant) {
        inner.seq += 1;
        let seq = inner.seq;
        let until = now + backoff_for(pod.attempts);
        let uid = pod.info.uid.clone();
        inner.backoff.push(Reverse((until, seq, uid.clone())));
        inner.put(
            uid,
            Entry {
                pod,
                place: Place::Backoff,
                seq,
                since: now,
            },
        );
        self.ready.notify_one();
    }

    /// Into backoff when the pod's backoff since its last attempt has not passed, else active.
    fn requeue_now_or_backoff(&self, inner: &mut Inner, pod: QueuedPod, now: Instant) {
        if pod.attempts > 0 && now < pod.timestamp + backoff_for(pod.attempts) {
            self.to_backoff(inner, pod, now);
        } else {
            self.enqueue(inner, pod, now);
        }
    }

    /// A cluster event happened: every unschedulable pod a rejecting plugin of which cares
    /// about it, and every gated pod, gets another chance.
    pub fn on_event(&self, event: &ClusterEvent, now: Instant) {
        self.on_events(std::slice::from_ref(event), now);
    }

    pub fn on_events(&self, events: &[ClusterEvent], now: Instant) {
        if events.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        let cycle = inner.cycle;
        for event in events {
            inner.recent_events.insert(*event, cycle);
        }
        let moving: Vec<String> = inner
            .waiting
            .iter()
            .filter_map(|uid| inner.pods.get_key_value(uid))
            .filter(|(_, e)| match e.place {
                Place::Gated => true,
                Place::Unschedulable => events
                    .iter()
                    .any(|ev| self.profiles.worth_retrying(&e.pod, ev)),
                _ => false,
            })
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in moving {
            if let Some(entry) = inner.take(&uid) {
                self.requeue_now_or_backoff(&mut inner, entry.pod, now);
            }
        }
    }

    fn flush_backoff(&self, inner: &mut Inner, now: Instant) {
        while let Some(Reverse((at, seq, uid))) = inner.backoff.peek().cloned() {
            if at > now {
                break;
            }
            inner.backoff.pop();
            let live = inner
                .pods
                .get(&uid)
                .is_some_and(|e| e.place == Place::Backoff && e.seq == seq);
            if live && let Some(entry) = inner.take(&uid) {
                self.enqueue(inner, entry.pod, now);
            }
        }
    }

    fn flush_unschedulable(&self, inner: &mut Inner, now: Instant) {
        if inner
            .last_unschedulable_flush
            .is_some_and(|t| now < t + FLUSH_UNSCHEDULABLE_EVERY)
        {
            return;
        }
        inner.last_unschedulable_flush = Some(now);
        let stale: Vec<String> = inner
            .waiting
            .iter()
            .filter_map(|uid| inner.pods.get_key_value(uid))
            .filter(|(_, e)| e.place == Place::Unschedulable && now >= e.since + MAX_UNSCHEDULABLE)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in stale {
            if let Some(entry) = inner.take(&uid) {
                self.requeue_now_or_backoff(inner, entry.pod, now);
            }
        }
    }

    pub fn counts(&self) -> QueueCounts {
        let inner = self.inner.lock();
        let mut counts = QueueCounts::default();
        for entry in inner.pods.values() {
            match entry.place {
                Place::Active => counts.active += 1,
                Place::Backoff => counts.backoff += 1,
                Place::Unschedulable => counts.unschedulable += 1,
                Place::Gated => counts.gated += 1,
                Place::InFlight => counts.in_flight += 1,
            }
        }
        counts
    }

    /// Wakes `pop` for good: it returns `None` from now on.
    pub fn close(&self) {
        self.inner.lock().closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;

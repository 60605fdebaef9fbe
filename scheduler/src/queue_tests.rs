use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::framework::{Framework, WaitingPods};
use crate::testing::{pod, pod_info};

fn queue() -> SchedulingQueue {
    let fw = Framework::new(
        "default-scheduler",
        vec![],
        HashMap::new(),
        Arc::new(WaitingPods::default()),
    );
    SchedulingQueue::new(Arc::new(Profiles::new([Arc::new(fw)])))
}

fn with_priority(name: &str, priority: i32) -> Arc<PodInfo> {
    let mut p = pod(name, &[]);
    p.spec.as_mut().expect("test fixture").priority = Some(priority);
    pod_info(p)
}

#[test]
fn pops_by_priority_then_age() {
    let q = queue();
    let now = Instant::now();
    q.add(with_priority("low", 0), now);
    q.add(with_priority("high", 10), now + Duration::from_millis(1));
    q.add(with_priority("low2", 0), now + Duration::from_millis(2));
    let order: Vec<String> = (0..3)
        .map(|_| q.pop().expect("test fixture").info.name().to_owned())
        .collect();
    assert_eq!(order, ["high", "low", "low2"]);
}

#[test]
fn unschedulable_pod_waits_for_an_event_its_plugins_registered() {
    let q = queue();
    let now = Instant::now();
    q.add(with_priority("p", 0), now);
    let popped = q.pop().expect("test fixture");
    q.requeue(
        popped,
        HashSet::from(["NodeResourcesFit"]),
        HashSet::new(),
        false,
        now,
    );
    assert_eq!(q.counts().unschedulable, 1);
    // A plugin without registered events counts as caring about everything.
    q.on_event(&ClusterEvent::NODE_ADD, now + Duration::from_secs(20));
    assert_eq!(q.counts().active, 1);
}

#[test]
fn event_during_the_cycle_sends_the_pod_to_backoff() {
    let q = queue();
    let now = Instant::now();
    q.add(with_priority("p", 0), now);
    let popped = q.pop().expect("test fixture");
    q.on_event(&ClusterEvent::NODE_ADD, now);
    q.requeue(popped, HashSet::from(["X"]), HashSet::new(), false, now);
    let counts = q.counts();
    assert_eq!((counts.backoff, counts.unschedulable), (1, 0));
}

#[test]
fn deleted_in_flight_pod_is_not_requeued() {
    let q = queue();
    let now = Instant::now();
    q.add(with_priority("p", 0), now);
    let popped = q.pop().expect("test fixture");
    q.delete(&popped.info.uid);
    q.requeue(popped, HashSet::new(), HashSet::new(), true, now);
    assert_eq!(q.counts(), QueueCounts::default());
}

#[test]
fn backoff_doubles_to_the_cap() {
    assert_eq!(backoff_for(1), Duration::from_secs(1));
    assert_eq!(backoff_for(2), Duration::from_secs(2));
    assert_eq!(backoff_for(4), Duration::from_secs(8));
    assert_eq!(backoff_for(5), MAX_BACKOFF);
    assert_eq!(backoff_for(100), MAX_BACKOFF);
}

#[test]
fn backoff_ends_and_the_pod_pops_again() {
    let q = queue();
    let now = Instant::now();
    q.add(with_priority("p", 0), now);
    let popped = q.pop().expect("test fixture");
    // An error backs off 1 s from "now" in the past: already over, so pop returns it.
    q.requeue(
        popped,
        HashSet::new(),
        HashSet::new(),
        true,
        now - Duration::from_secs(2),
    );
    let again = q.pop().expect("test fixture");
    assert_eq!(again.attempts, 2);
}

#[test]
fn status_only_update_does_not_retry() {
    let q = queue();
    let now = Instant::now();
    let info = with_priority("p", 0);
    q.add(Arc::clone(&info), now);
    let popped = q.pop().expect("test fixture");
    q.requeue(popped, HashSet::from(["X"]), HashSet::new(), false, now);
    let mut updated = (*info.pod).clone();
    updated.status = Some(Default::default());
    q.update(pod_info(updated.clone()), now);
    assert_eq!(q.counts().unschedulable, 1);
    updated.metadata.labels = Some([("a".to_owned(), "b".to_owned())].into());
    q.update(pod_info(updated), now + Duration::from_secs(60));
    assert_eq!(q.counts().active, 1);
}

#[test]
fn close_wakes_a_blocked_pop() {
    let q = Arc::new(queue());
    let popper = {
        let q = Arc::clone(&q);
        std::thread::spawn(move || q.pop().is_none())
    };
    std::thread::sleep(Duration::from_millis(50));
    q.close();
    assert!(popper.join().expect("test fixture"));
}

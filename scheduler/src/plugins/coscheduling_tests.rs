use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::*;
use crate::testing::{pod, pod_info};

fn member(name: &str, group: &str, min: &str) -> Pod {
    let mut p = pod(name, &[]);
    p.metadata.labels = Some(BTreeMap::from([
        (GROUP_LABEL.to_owned(), group.to_owned()),
        (MIN_AVAILABLE_LABEL.to_owned(), min.to_owned()),
    ]));
    p
}

fn plugin() -> (Arc<Gangs>, Arc<WaitingPods>, Coscheduling) {
    let gangs = Arc::new(Gangs::default());
    let waiting = Arc::new(WaitingPods::default());
    let plugin = Coscheduling::new(Arc::clone(&gangs), Arc::clone(&waiting));
    (gangs, waiting, plugin)
}

#[test]
fn membership_from_labels() {
    assert_eq!(membership(&pod("a", &[])), None);
    let m = membership(&member("a", "train", "8")).expect("test fixture");
    assert_eq!(
        m,
        Membership {
            group: "default/train".into(),
            min_available: 8,
            timeout: DEFAULT_TIMEOUT
        }
    );
    // Nonsense min-available means no gang constraint beyond the pod itself.
    assert_eq!(
        membership(&member("a", "train", "zero"))
            .expect("test fixture")
            .min_available,
        1
    );
    assert_eq!(
        membership(&member("a", "train", "0"))
            .expect("test fixture")
            .min_available,
        1
    );
}

#[test]
fn members_wait_outside_the_queue_until_the_group_is_complete() {
    let (gangs, _, plugin) = plugin();
    let a = member("a", "g", "2");
    gangs.observe(&a, false);
    let status = plugin.pre_enqueue(&pod_info(a.clone()));
    assert_eq!(status.code, Code::Pending);
    assert_eq!(
        status.message(),
        "pod group default/g has 1 of the 2 members it needs"
    );
    gangs.observe(&member("b", "g", "2"), false);
    assert!(plugin.pre_enqueue(&pod_info(a)).is_success());
    assert!(
        plugin
            .pre_enqueue(&pod_info(pod("loner", &[])))
            .is_success()
    );
}

#[test]
fn permit_holds_members_until_enough_are_placed_then_releases_all() {
    let (gangs, waiting, plugin) = plugin();
    let (a, b) = (member("a", "g", "2"), member("b", "g", "2"));
    gangs.observe(&a, false);
    gangs.observe(&b, false);
    gangs.placed(&a);
    let a_info = pod_info(a);
    let (status, timeout) =
        plugin.permit(&CycleState::default(), &a_info, "n1", &Snapshot::default());
    assert_eq!((status.code, timeout), (Code::Wait, DEFAULT_TIMEOUT));
    let mut verdict = waiting.add(Arc::clone(&a_info), "n1", HashSet::from([NAME]));
    gangs.placed(&b);
    let (status, _) = plugin.permit(
        &CycleState::default(),
        &pod_info(b),
        "n2",
        &Snapshot::default(),
    );
    assert!(status.is_success());
    assert_eq!(verdict.try_recv().map(|s| s.code), Ok(Code::Success));
}

#[test]
fn a_member_that_fits_nowhere_rejects_the_waiting_ones() {
    let (gangs, waiting, plugin) = plugin();
    let (a, b) = (member("a", "g", "2"), member("b", "g", "2"));
    gangs.observe(&a, false);
    gangs.observe(&b, false);
    gangs.placed(&a);
    let mut verdict = waiting.add(pod_info(a), "n1", HashSet::from([NAME]));
    let fw = Framework::new("x", vec![], Default::default(), Arc::clone(&waiting));
    let (result, status) = plugin.post_filter(
        &CycleState::default(),
        &pod_info(b.clone()),
        &Snapshot::default(),
        &Diagnosis::default(),
        &fw,
    );
    assert!(result.is_none());
    assert_eq!(status.code, Code::Unschedulable);
    assert_eq!(verdict.try_recv().map(|s| s.code), Ok(Code::Unschedulable));
    // The rest of the group is refused for a while.
    let (_, status) = plugin.pre_filter(
        &mut CycleState::default(),
        &pod_info(b),
        &Snapshot::default(),
    );
    assert_eq!(status.code, Code::Unschedulable);
}

//! The `endpoints.kubernetes.io/last-change-trigger-time` bookkeeping, after upstream's
//! `staging/src/k8s.io/endpointslice/util/trigger_time_tracker.go`: the earliest change
//! (a pod's Ready transition, the Service's creation) not yet seen by the previous sync of
//! the same Service. Latency SLIs read it off the written objects.
//!
//! It is the one piece of state the decisions need across syncs; the runtime owns one tracker
//! per controller, calls [`TriggerTimeTracker::compute`] once per sync (also when nothing ends
//! up written, so that the state moves on) and passes the result to the decision.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;

use super::common::selected_pods;

#[derive(Debug, Clone, Default)]
struct ServiceState {
    last_service_trigger: Option<Timestamp>,
    last_pod_triggers: BTreeMap<String, Timestamp>,
}

/// Trigger times observed at the previous sync of each Service, keyed by namespace and name.
#[derive(Debug, Default)]
pub struct TriggerTimeTracker {
    services: HashMap<(String, String), ServiceState>,
}

impl TriggerTimeTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The trigger time to write for this sync of `service`, `None` when the annotation is to
    /// be removed. `pods` may be any superset of the Service's pods (others are ignored).
    ///
    /// A Service seen for the first time reports its creation time. As upstream admits, a pod
    /// that changed twice between syncs reports only its latest change.
    pub fn compute(&mut self, service: &Service, pods: &[Pod]) -> Option<Timestamp> {
        let key = (
            service.metadata.namespace.clone().unwrap_or_default(),
            service.metadata.name.clone().unwrap_or_default(),
        );
        let known = self.services.contains_key(&key);
        let state = self.services.entry(key).or_default();

        let mut earliest_change: Option<Timestamp> = None;
        let mut pod_triggers = BTreeMap::new();
        for pod in selected_pods(service, pods) {
            let Some(trigger) = pod_trigger_time(pod) else {
                continue;
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            if state
                .last_pod_triggers
                .get(&name)
                .is_none_or(|last| trigger > *last)
            {
                earliest_change = Some(earliest_change.map_or(trigger, |t| t.min(trigger)));
            }
            pod_triggers.insert(name, trigger);
        }
        let service_trigger = service.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(trigger) = service_trigger
            && state.last_service_trigger.is_none_or(|last| trigger > last)
        {
            earliest_change = Some(earliest_change.map_or(trigger, |t| t.min(trigger)));
        }
        state.last_pod_triggers = pod_triggers;
        state.last_service_trigger = service_trigger;

        if known {
            earliest_change
        } else {
            service_trigger
        }
    }

    /// Forgets a deleted Service.
    pub fn delete_service(&mut self, namespace: &str, name: &str) {
        self.services
            .remove(&(namespace.to_string(), name.to_string()));
    }
}

/// `getPodTriggerTime`: the last transition of the pod's Ready condition, whatever its status.
fn pod_trigger_time(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

/// The annotation's value: RFC 3339 in UTC with as many fractional digits as needed, as Go's
/// `time.RFC3339Nano` prints it.
pub(super) fn format_trigger_time(t: Timestamp) -> String {
    t.to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{PodCondition, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;
    use crate::replicaset::pods::testing::{pod, ready, ts};

    fn service(created: i64) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                creation_timestamp: Some(Time(ts(created))),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some(BTreeMap::from([("app".into(), "web".into())])),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn not_ready_since(mut p: Pod, since: i64) -> Pod {
        p.status.get_or_insert_with(Default::default).conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "False".into(),
            last_transition_time: Some(Time(ts(since))),
            ..Default::default()
        }]);
        p
    }

    #[test]
    fn first_sync_reports_creation_then_only_changes() {
        let mut tracker = TriggerTimeTracker::new();
        let svc = service(100);
        let a = ready(pod("a", &[("app", "web")]), 200);
        let b = ready(pod("b", &[("app", "web")]), 300);
        assert_eq!(
            tracker.compute(&svc, &[a.clone(), b.clone()]),
            Some(ts(100))
        );
        assert_eq!(
            tracker.compute(&svc, &[a.clone(), b.clone()]),
            None,
            "nothing changed"
        );

        // b turns unready at 400 and a new pod c becomes ready at 350: the earliest wins.
        let b2 = not_ready_since(b, 400);
        let c = ready(pod("c", &[("app", "web")]), 350);
        let others = ready(pod("x", &[("app", "db")]), 10);
        assert_eq!(
            tracker.compute(&svc, &[a.clone(), b2.clone(), c, others]),
            Some(ts(350))
        );

        tracker.delete_service("default", "web");
        assert_eq!(tracker.compute(&svc, &[a, b2]), Some(ts(100)), "forgotten");
    }

    #[test]
    fn format_is_rfc3339_nano() {
        assert_eq!(format_trigger_time(ts(0)), "1970-01-01T00:00:00Z");
        let t = Timestamp::new(1, 500_000_000).expect("valid");
        assert_eq!(format_trigger_time(t), "1970-01-01T00:00:01.5Z");
    }
}

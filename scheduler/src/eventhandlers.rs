//! The informer handlers (upstream `eventhandlers.go`): bound pods go to the cache, pending
//! pods of our profiles to the queue, and what changed becomes cluster events that retry the
//! unschedulable pods some plugin would now admit.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use ultrak8s_controllers::runtime::informer::Event;

use super::{Scheduler, is_bound};
use crate::framework::ClusterEvent;
use crate::framework::events::{ActionType, EventResource, node_update_events};
use crate::framework::types::PodInfo;

impl Scheduler {
    pub(super) fn on_namespaces(&self, events: &[Event<Namespace>]) {
        let mut guard = self.namespaces.write();
        let mut labels = (*guard.1).clone();
        for event in events {
            let ns = event.object();
            let name = ns.metadata.name.clone().unwrap_or_default();
            match event {
                Event::Applied { .. } => {
                    labels.insert(name, ns.metadata.labels.clone().unwrap_or_default());
                }
                Event::Deleted(_) => {
                    labels.remove(&name);
                }
            }
        }
        *guard = (guard.0 + 1, Arc::new(labels));
        drop(guard);
        let event = ClusterEvent::new(EventResource::Namespace, ActionType::ALL, "Namespace");
        self.queue.on_event(&event, Instant::now());
    }

    pub(super) fn on_nodes(&self, events: &[Event<Node>]) {
        let mut happened = Vec::new();
        {
            let mut cache = self.cache.lock();
            for event in events {
                match event {
                    Event::Applied { new, old } => {
                        cache.add_node(Arc::clone(new));
                        match old {
                            None => happened.push(ClusterEvent::NODE_ADD),
                            Some(old) => {
                                let action = node_update_events(old, new);
                                if action.0 != 0 {
                                    happened.push(ClusterEvent::new(
                                        EventResource::Node,
                                        action,
                                        "NodeUpdate",
                                    ));
                                }
                            }
                        }
                    }
                    Event::Deleted(node) => {
                        cache.remove_node(node.metadata.name.as_deref().unwrap_or_default());
                    }
                }
            }
        }
        happened.dedup();
        self.queue.on_events(&happened, Instant::now());
    }

    pub(super) fn on_pods(&self, events: &[Event<Pod>]) {
        let now = Instant::now();
        let mut happened = Vec::new();
        let mut cache = self.cache.lock();
        for event in events {
            match event {
                Event::Applied { new, old } => {
                    let uid = new.metadata.uid.as_deref().unwrap_or_default();
                    if is_bound(new) {
                        self.queue.delete(uid);
                        self.gangs.observe(new, true);
                        let was_bound = old.as_deref().is_some_and(is_bound);
                        cache.add_pod(Arc::clone(new));
                        let action = match old {
                            Some(old) if was_bound => {
                                if old.metadata.labels != new.metadata.labels {
                                    ActionType::UPDATE_POD_LABEL
                                } else {
                                    ActionType::UPDATE_OTHER
                                }
                            }
                            _ => ActionType::ADD,
                        };
                        // Our own bindings coming back are the bulk of these; an assigned pod
                        // only matters to affinity and spreading, whose plugins register it.
                        happened.push(ClusterEvent::new(
                            EventResource::AssignedPod,
                            action,
                            "AssignedPod",
                        ));
                    } else if self.profiles.responsible_for(new)
                        && new.metadata.deletion_timestamp.is_none()
                    {
                        self.gangs.observe(new, false);
                        let info = Arc::new(PodInfo::new(Arc::clone(new)));
                        if old.is_none() {
                            self.queue.add(info, now);
                            happened.push(ClusterEvent::new(
                                EventResource::UnscheduledPod,
                                ActionType::ADD,
                                "UnscheduledPodAdd",
                            ));
                        } else {
                            self.queue.update(info, now);
                        }
                    } else if new.metadata.deletion_timestamp.is_some() {
                        self.queue.delete(uid);
                    }
                }
                Event::Deleted(pod) => {
                    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
                    self.gangs.forget(pod);
                    if cache.pod(uid).is_some() {
                        cache.remove_pod(uid);
                        happened.push(ClusterEvent::ASSIGNED_POD_DELETE);
                    }
                    self.queue.delete(uid);
                    for framework in self.profiles.all() {
                        framework.waiting.reject(uid, "", "pod deleted");
                    }
                }
            }
        }
        drop(cache);
        happened.sort_by_key(|e| (e.label, e.action.0));
        happened.dedup();
        self.queue.on_events(&happened, now);
    }
}

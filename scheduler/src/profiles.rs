//! Scheduling profiles by `schedulerName` (upstream `profile.Map`): a pod is scheduled by
//! the profile it names, and ignored when it names none of ours (another scheduler's pod).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::types::PodInfo;
use crate::framework::{ClusterEvent, Framework, Status};
use crate::queue::QueuedPod;

/// The name pods without `schedulerName` get (upstream `DefaultSchedulerName`).
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

#[derive(Default)]
pub struct Profiles {
    by_name: HashMap<String, Arc<Framework>>,
}

impl Profiles {
    pub fn new(profiles: impl IntoIterator<Item = Arc<Framework>>) -> Profiles {
        Profiles {
            by_name: profiles
                .into_iter()
                .map(|f| (f.scheduler_name.clone(), f))
                .collect(),
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Framework>> {
        self.by_name.values()
    }

    pub fn for_pod(&self, pod: &Pod) -> Option<&Arc<Framework>> {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_SCHEDULER_NAME);
        self.by_name.get(name)
    }

    /// Whether one of our profiles schedules this pod.
    pub fn responsible_for(&self, pod: &Pod) -> bool {
        self.for_pod(pod).is_some()
    }

    pub fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        match self.for_pod(&pod.pod) {
            Some(framework) => framework.run_pre_enqueue(pod),
            None => Status::success(),
        }
    }

    /// Whether `event` may make `pod` schedulable, judged by the plugins that rejected it.
    pub fn worth_retrying(&self, pod: &QueuedPod, event: &ClusterEvent) -> bool {
        let Some(framework) = self.for_pod(&pod.info.pod) else {
            return true;
        };
        let plugins = pod
            .unschedulable_plugins
            .union(&pod.pending_plugins)
            .copied()
            .collect();
        framework.worth_retrying(&plugins, event)
    }
}

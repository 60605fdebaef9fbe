//! Pods held at Permit (upstream `framework/runtime/waiting_pods_map.go`): each waits until
//! every plugin that said Wait allows it, one rejects it, or its timeout passes. Gang
//! scheduling allows a whole group at once when its last member reaches Permit.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::status::{Code, Status};
use super::types::PodInfo;

pub struct WaitingPod {
    pub pod: Arc<PodInfo>,
    pub node: String,
    /// Plugins that still have to allow the pod.
    pending: HashSet<&'static str>,
    decided: Option<oneshot::Sender<Status>>,
}

/// Every pod waiting at Permit, by uid. The lock is never held across an await.
#[derive(Default)]
pub struct WaitingPods {
    pods: Mutex<HashMap<String, WaitingPod>>,
}

impl WaitingPods {
    /// Holds `pod` until `plugins` allow it; the receiver gets the verdict.
    pub(crate) fn add(
        &self,
        pod: Arc<PodInfo>,
        node: &str,
        plugins: HashSet<&'static str>,
    ) -> oneshot::Receiver<Status> {
        let (tx, rx) = oneshot::channel();
        let uid = pod.uid.clone();
        self.pods.lock().insert(
            uid,
            WaitingPod {
                pod,
                node: node.to_owned(),
                pending: plugins,
                decided: Some(tx),
            },
        );
        rx
    }

    pub(crate) fn remove(&self, uid: &str) {
        self.pods.lock().remove(uid);
    }

    /// `plugin` lets the pod go; when no plugin is left, it proceeds to binding.
    pub fn allow(&self, uid: &str, plugin: &'static str) {
        let mut pods = self.pods.lock();
        let Some(waiting) = pods.get_mut(uid) else {
            return;
        };
        waiting.pending.remove(plugin);
        if waiting.pending.is_empty()
            && let Some(tx) = waiting.decided.take()
        {
            let _ = tx.send(Status::success());
        }
    }

    /// Rejects a waiting pod: it is unreserved and goes back to the queue.
    pub fn reject(&self, uid: &str, plugin: &'static str, message: &str) {
        let mut pods = self.pods.lock();
        if let Some(tx) = pods.get_mut(uid).and_then(|w| w.decided.take()) {
            let _ = tx.send(Status::new(Code::Unschedulable, message).with_plugin(plugin));
        }
    }

    /// The uids of waiting pods `select` picks (a gang plugin finds its group's members).
    pub fn select(&self, select: impl Fn(&WaitingPod) -> bool) -> Vec<String> {
        self.pods
            .lock()
            .iter()
            .filter(|(_, w)| select(w))
            .map(|(uid, _)| uid.clone())
            .collect()
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.pods.lock().contains_key(uid)
    }

    pub fn len(&self) -> usize {
        self.pods.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

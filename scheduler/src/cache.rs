//! The scheduler's view of where pods run (upstream `internal/cache/cache.go`): every node
//! with the pods bound to it, plus pods *assumed* onto a node by a finished scheduling cycle
//! whose binding has not been seen back from the API yet. Assuming is what lets the next
//! cycle start at once: it already counts the resources the last pod took.
//!
//! A pod's life here: `assume_pod` (cycle chose a node) → either `forget_pod` (binding
//! failed) or `add_pod` from the informer (the bound version arrived; the assumed entry is
//! confirmed) → `remove_pod` (deleted or finished). Pods may arrive before their node: they
//! wait in `orphans` until it does.
//!
//! Snapshots are incremental: every change marks its node dirty, and `update_snapshot` copies
//! only dirty nodes (an `Arc` each), so its cost follows the changes, not the cluster size.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::framework::Snapshot;
use crate::framework::types::{NodeInfo, PodInfo};

#[derive(Debug)]
struct PodState {
    info: Arc<PodInfo>,
    node: String,
    /// Placed by the scheduler, not yet seen bound through the informer.
    assumed: bool,
}

#[derive(Default)]
pub struct Cache {
    nodes: HashMap<String, Arc<NodeInfo>>,
    /// Pods bound to a node the cache has not seen yet, by node name.
    orphans: HashMap<String, Vec<Arc<PodInfo>>>,
    pods: HashMap<String, PodState>,
    /// Nodes changed since the last snapshot; removed nodes are dirty and absent.
    dirty: HashSet<String>,
    images: HashMap<String, usize>,
    images_changed: bool,
    generation: u64,
}

/// A cache entry changed in a way the caller must know about.
#[derive(Debug, PartialEq, Eq)]
pub enum CacheError {
    /// `assume_pod` for a pod the cache already has.
    AlreadyKnown(String),
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|p| p.assumed)
    }

    /// A pod the cache counts (bound or assumed).
    pub fn pod(&self, uid: &str) -> Option<&Arc<PodInfo>> {
        self.pods.get(uid).map(|p| &p.info)
    }

    /// The node a pod is on (bound or assumed), if the cache has it.
    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.pods.get(uid).map(|p| p.node.as_str())
    }

    pub fn add_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        match self.nodes.get_mut(&name) {
            Some(info) => {
                let info = Arc::make_mut(info);
                let before = Arc::clone(&info.images);
                info.set_node(node);
                if before != info.images {
                    count_images(&mut self.images, &before, -1);
                    count_images(&mut self.images, &info.images, 1);
                    self.images_changed = true;
                }
            }
            None => {
                let mut info = NodeInfo::new(node);
                for pod in self.orphans.remove(&name).into_iter().flatten() {
                    info.add_pod(pod);
                }
                count_images(&mut self.images, &info.images, 1);
                self.images_changed |= !info.images.is_empty();
                self.nodes.insert(name.clone(), Arc::new(info));
            }
        }
        self.touch(&name);
    }

    /// The node is gone; pods still bound to it wait as orphans (their deletions follow).
    pub fn remove_node(&mut self, name: &str) {
        if let Some(info) = self.nodes.remove(name) {
            count_images(&mut self.images, &info.images, -1);
            self.images_changed |= !info.images.is_empty();
            if !info.pods.is_empty() {
                self.orphans.insert(name.to_owned(), info.pods.clone());
            }
            self.touch(name);
        }
    }

    /// The scheduling cycle placed `pod` on `node`: count it there from now on.
    pub fn assume_pod(&mut self, pod: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        if self.pods.contains_key(&pod.uid) {
            return Err(CacheError::AlreadyKnown(pod.key.clone()));
        }
        self.place(Arc::clone(&pod), node);
        self.pods.insert(
            pod.uid.clone(),
            PodState {
                info: pod,
                node: node.to_owned(),
                assumed: true,
            },
        );
        Ok(())
    }

    /// Binding failed: the assumed pod no longer counts.
    pub fn forget_pod(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|p| p.assumed) {
            self.remove_pod(uid);
        }
    }

    /// A bound pod seen through the informer (new, changed, or confirming an assumed one).
    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            return;
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if self.pods.contains_key(&uid) {
            self.remove_pod(&uid);
        }
        let info = Arc::new(PodInfo::new(pod));
        self.place(Arc::clone(&info), &node);
        self.pods.insert(
            uid,
            PodState {
                info,
                node,
                assumed: false,
            },
        );
    }

    pub fn remove_pod(&mut self, uid: &str) {
        let Some(state) = self.pods.remove(uid) else {
            return;
        };
        if let Some(info) = self.nodes.get_mut(&state.node) {
            Arc::make_mut(info).remove_pod(uid);
            self.touch(&state.node);
        } else if let Some(orphans) = self.orphans.get_mut(&state.node) {
            orphans.retain(|p| p.uid != uid);
            if orphans.is_empty() {
                self.orphans.remove(&state.node);
            }
        }
    }

    fn place(&mut self, pod: Arc<PodInfo>, node: &str) {
        match self.nodes.get_mut(node) {
            Some(info) => {
                Arc::make_mut(info).add_pod(pod);
                self.touch(node);
            }
            None => self.orphans.entry(node.to_owned()).or_default().push(pod),
        }
    }

    fn touch(&mut self, node: &str) {
        self.generation += 1;
        if let Some(info) = self.nodes.get_mut(node) {
            Arc::make_mut(info).generation = self.generation;
        }
        self.dirty.insert(node.to_owned());
    }

    /// Brings `snapshot` up to date: only nodes changed since its last update are copied.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        if snapshot.generation == self.generation {
            return;
        }
        let mut affinity_changed = false;
        for name in self.dirty.drain() {
            let before = snapshot
                .get(&name)
                .map(|n| has_affinity_pods(n))
                .unwrap_or(false);
            match self.nodes.get(&name) {
                Some(info) => {
                    affinity_changed |= before || has_affinity_pods(info);
                    snapshot.set(Arc::clone(info));
                }
                None => {
                    affinity_changed |= before;
                    snapshot.remove(&name);
                }
            }
        }
        if affinity_changed {
            snapshot.refresh_affinity_lists();
        }
        if self.images_changed {
            snapshot.image_nodes = Arc::new(self.images.clone());
            self.images_changed = false;
        }
        snapshot.generation = self.generation;
    }
}

fn has_affinity_pods(node: &NodeInfo) -> bool {
    !node.pods_with_affinity.is_empty() || !node.pods_with_required_anti_affinity.is_empty()
}

fn count_images(
    images: &mut HashMap<String, usize>,
    node_images: &HashMap<String, i64>,
    delta: isize,
) {
    for image in node_images.keys() {
        let count = images.entry(image.clone()).or_default();
        *count = count.saturating_add_signed(delta);
        if *count == 0 {
            images.remove(image);
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;

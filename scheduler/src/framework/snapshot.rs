//! The cluster as one scheduling cycle sees it (upstream `internal/cache/snapshot.go`): every
//! node with its pods, taken from the cache at the start of the cycle and not changed during
//! it. Plugins read it; only the cache writes it, and only the nodes that changed since the
//! last cycle, so taking a snapshot of 100,000 nodes costs what changed, not 100,000 copies.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::types::NodeInfo;

#[derive(Clone, Default, Debug)]
pub struct Snapshot {
    nodes: Vec<Arc<NodeInfo>>,
    index: HashMap<String, usize>,
    with_affinity: Vec<Arc<NodeInfo>>,
    with_required_anti_affinity: Vec<Arc<NodeInfo>>,
    /// Labels of every namespace, for affinity terms with a namespace selector.
    pub namespace_labels: Arc<HashMap<String, BTreeMap<String, String>>>,
    /// How many nodes report each image (ImageLocality scales by how spread an image is).
    pub image_nodes: Arc<HashMap<String, usize>>,
    /// The cache generation this snapshot reflects.
    pub(crate) generation: u64,
}

impl Snapshot {
    /// A snapshot of these nodes (tests, and the first snapshot of an empty cache).
    pub fn new(nodes: Vec<NodeInfo>) -> Snapshot {
        let mut snapshot = Snapshot::default();
        let mut images: HashMap<String, usize> = HashMap::new();
        for node in nodes {
            for image in node.images.keys() {
                *images.entry(image.clone()).or_default() += 1;
            }
            snapshot.set(Arc::new(node));
        }
        snapshot.image_nodes = Arc::new(images);
        snapshot.refresh_affinity_lists();
        snapshot
    }

    pub fn nodes(&self) -> &[Arc<NodeInfo>] {
        &self.nodes
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Nodes with at least one pod that has a pod (anti-)affinity term.
    pub fn with_affinity(&self) -> &[Arc<NodeInfo>] {
        &self.with_affinity
    }

    /// Nodes with at least one pod that has a required anti-affinity term.
    pub fn with_required_anti_affinity(&self) -> &[Arc<NodeInfo>] {
        &self.with_required_anti_affinity
    }

    pub fn labels_of_namespace(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.namespace_labels.get(namespace)
    }

    /// Adds or replaces a node.
    pub(crate) fn set(&mut self, node: Arc<NodeInfo>) {
        match self.index.get(node.name()) {
            Some(&i) => self.nodes[i] = node,
            None => {
                self.index.insert(node.name().to_owned(), self.nodes.len());
                self.nodes.push(node);
            }
        }
    }

    pub(crate) fn remove(&mut self, name: &str) {
        if let Some(i) = self.index.remove(name) {
            self.nodes.swap_remove(i);
            if let Some(moved) = self.nodes.get(i) {
                self.index.insert(moved.name().to_owned(), i);
            }
        }
    }

    pub(crate) fn refresh_affinity_lists(&mut self) {
        self.with_affinity = self
            .nodes
            .iter()
            .filter(|n| !n.pods_with_affinity.is_empty())
            .cloned()
            .collect();
        self.with_required_anti_affinity = self
            .nodes
            .iter()
            .filter(|n| !n.pods_with_required_anti_affinity.is_empty())
            .cloned()
            .collect();
    }
}

//! The ownership graph of every object in the cluster (upstream `garbagecollector/graph.go`
//! and `graph_builder.go`) and the decisions made on it (`attemptToDeleteItem`,
//! `processDeletingDependentsItem`, `orphanDependents` in `garbagecollector.go`), without
//! I/O. Nodes are keyed by uid; an owner named by a reference but not (yet) seen is absent
//! from the map and must be verified against the API before its dependents are collected.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

pub const ORPHAN_FINALIZER: &str = "orphan";
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Where an object is: enough to GET, PATCH or DELETE it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    /// `deletionTimestamp` is set.
    pub deleting: bool,
    pub resource_version: String,
    /// The uids of objects that name this one as an owner.
    pub dependents: BTreeSet<String>,
}

impl Node {
    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Deleted in the foreground: it waits for its blocking dependents to go.
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.has(FOREGROUND_FINALIZER)
    }

    /// Deleted with `propagationPolicy=Orphan`: its dependents lose the reference first.
    pub fn orphaning(&self) -> bool {
        self.deleting && self.has(ORPHAN_FINALIZER)
    }
}

/// The objects of the cluster by uid, with the reverse owner edges.
#[derive(Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// Dependents of owners not seen (yet): owner uid → dependent uids.
    waiting: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// Records the current version of an object; returns the uids to look at: the object
    /// itself (its owners may be gone) and, when it is being deleted, its dependents.
    pub fn apply(&mut self, mut node: Node) -> Vec<String> {
        let uid = node.identity.uid.clone();
        let previous_owners: Vec<String> = self
            .nodes
            .get(&uid)
            .map(|n| n.owners.iter().map(|o| o.uid.clone()).collect())
            .unwrap_or_default();
        for owner in previous_owners {
            self.unlink(&owner, &uid);
        }
        node.dependents = self
            .nodes
            .get(&uid)
            .map(|n| n.dependents.clone())
            .or_else(|| self.waiting.remove(&uid))
            .unwrap_or_default();
        for owner in &node.owners {
            match self.nodes.get_mut(&owner.uid) {
                Some(o) => {
                    o.dependents.insert(uid.clone());
                }
                None => {
                    self.waiting
                        .entry(owner.uid.clone())
                        .or_default()
                        .insert(uid.clone());
                }
            }
        }
        let mut work = vec![uid.clone()];
        if node.deleting {
            work.extend(node.dependents.iter().cloned());
        }
        self.nodes.insert(uid, node);
        work
    }

    /// Forgets a deleted object; returns its dependents (their owner is gone) and its owners
    /// (one deleting its dependents may now finish).
    pub fn remove(&mut self, uid: &str) -> Vec<String> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        for owner in &node.owners {
            self.unlink(&owner.uid, uid);
        }
        if !node.dependents.is_empty() {
            self.waiting
                .entry(uid.to_owned())
                .or_default()
                .extend(node.dependents.iter().cloned());
        }
        node.dependents
            .into_iter()
            .chain(node.owners.into_iter().map(|o| o.uid))
            .collect()
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(o) = self.nodes.get_mut(owner) {
            o.dependents.remove(dependent);
        }
        if let Some(w) = self.waiting.get_mut(owner) {
            w.remove(dependent);
            if w.is_empty() {
                self.waiting.remove(owner);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// What the collector knows of an owner reference (one the API said is gone, or replaced by
/// an object of another uid, is passed to [`decide`] as verified absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// It exists and is not waiting for its dependents.
    Solid,
    /// Being deleted in the foreground: waits for dependents that block it.
    WaitingForDependents,
    /// Not in the graph: ask the API before acting.
    Unknown,
}

/// What to do with one object.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Nothing,
    /// Some owners must be verified against the API first.
    VerifyOwners(Vec<OwnerReference>),
    /// Drop these owner references (by uid); other owners keep the object.
    RemoveOwners(Vec<String>),
    /// Every owner is gone: delete it, with this propagation policy.
    Delete(&'static str),
    /// Deleting in the foreground and no blocking dependent is left: remove the finalizer.
    RemoveFinalizer(&'static str),
    /// Orphaning: drop the references to this object from `dependents`, then the finalizer.
    Orphan {
        dependents: Vec<String>,
    },
    /// Deleting in the foreground: delete these dependents (foreground, so that their own
    /// dependents block them in turn).
    DeleteDependents(Vec<String>),
}

/// The state of an owner as far as the graph shows it.
pub fn owner_state(graph: &Graph, owner: &OwnerReference) -> OwnerState {
    match graph.get(&owner.uid) {
        None => OwnerState::Unknown,
        Some(node) if node.deleting_dependents() => OwnerState::WaitingForDependents,
        Some(_) => OwnerState::Solid,
    }
}

/// Decides for the object `uid`; `verified_absent` are owner uids the API said are gone.
pub fn decide(graph: &Graph, uid: &str, verified_absent: &BTreeSet<String>) -> Decision {
    let Some(node) = graph.get(uid) else {
        return Decision::Nothing;
    };
    if node.orphaning() {
        return Decision::Orphan {
            dependents: node.dependents.iter().cloned().collect(),
        };
    }
    if node.deleting_dependents() {
        let blocking = node.dependents.iter().filter(|d| {
            graph.get(d).is_some_and(|dep| {
                dep.owners
                    .iter()
                    .any(|o| o.uid == uid && o.block_owner_deletion == Some(true))
            })
        });
        let blocking: Vec<String> = blocking.cloned().collect();
        if blocking.is_empty() {
            return Decision::RemoveFinalizer(FOREGROUND_FINALIZER);
        }
        let pending: Vec<String> = node
            .dependents
            .iter()
            .filter(|d| graph.get(d).is_some_and(|dep| !dep.deleting))
            .cloned()
            .collect();
        return if pending.is_empty() {
            Decision::Nothing
        } else {
            Decision::DeleteDependents(pending)
        };
    }
    if node.deleting || node.owners.is_empty() {
        return Decision::Nothing;
    }
    let mut solid = Vec::new();
    let mut gone = Vec::new();
    let mut waiting = Vec::new();
    let mut unknown = Vec::new();
    for owner in &node.owners {
        if verified_absent.contains(&owner.uid) {
            gone.push(owner.uid.clone());
            continue;
        }
        match owner_state(graph, owner) {
            OwnerState::Solid => solid.push(owner.uid.clone()),
            OwnerState::WaitingForDependents => waiting.push(owner.uid.clone()),
            OwnerState::Unknown => unknown.push(owner.clone()),
        }
    }
    if !unknown.is_empty() {
        return Decision::VerifyOwners(unknown);
    }
    if !solid.is_empty() {
        if gone.is_empty() && waiting.is_empty() {
            return Decision::Nothing;
        }
        return Decision::RemoveOwners(gone.into_iter().chain(waiting).collect());
    }
    // Every owner is gone or deleting in the foreground: the object goes too. Its own
    // finalizer asks how (upstream keeps an object's requested policy).
    if !waiting.is_empty() || node.finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
        Decision::Delete("Foreground")
    } else if node.finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
        Decision::Delete("Orphan")
    } else {
        Decision::Delete("Background")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(uid: &str, owners: &[(&str, bool)], finalizers: &[&str], deleting: bool) -> Node {
        Node {
            identity: Identity {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("ns".into()),
                name: uid.into(),
                uid: uid.into(),
            },
            owners: owners
                .iter()
                .map(|(uid, block)| OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "ReplicaSet".into(),
                    name: uid.to_string(),
                    uid: uid.to_string(),
                    block_owner_deletion: Some(*block),
                    controller: Some(true),
                })
                .collect(),
            finalizers: finalizers.iter().map(|f| f.to_string()).collect(),
            deleting,
            resource_version: "1".into(),
            dependents: BTreeSet::new(),
        }
    }

    #[test]
    fn a_dependent_of_a_deleted_owner_is_collected() {
        let mut graph = Graph::default();
        graph.apply(node("rs", &[], &[], false));
        let work = graph.apply(node("pod", &[("rs", true)], &[], false));
        assert_eq!(work, ["pod"]);
        let none = BTreeSet::new();
        assert_eq!(decide(&graph, "pod", &none), Decision::Nothing);
        let work = graph.remove("rs");
        assert_eq!(work, ["pod"]);
        // Not in the graph any more: verified against the API first.
        assert!(matches!(
            decide(&graph, "pod", &none),
            Decision::VerifyOwners(_)
        ));
        let gone = BTreeSet::from(["rs".to_owned()]);
        assert_eq!(decide(&graph, "pod", &gone), Decision::Delete("Background"));
    }

    #[test]
    fn other_owners_keep_an_object_and_only_lose_the_reference() {
        let mut graph = Graph::default();
        graph.apply(node("a", &[], &[], false));
        graph.apply(node("pod", &[("a", false), ("b", false)], &[], false));
        let gone = BTreeSet::from(["b".to_owned()]);
        assert_eq!(
            decide(&graph, "pod", &gone),
            Decision::RemoveOwners(vec!["b".into()])
        );
    }

    #[test]
    fn foreground_deletion_waits_for_blocking_dependents() {
        let mut graph = Graph::default();
        graph.apply(node("rs", &[], &[], false));
        graph.apply(node("pod", &[("rs", true)], &[], false));
        let work = graph.apply(node("rs", &[], &[FOREGROUND_FINALIZER], true));
        assert!(work.contains(&"pod".to_owned()));
        let none = BTreeSet::new();
        assert_eq!(
            decide(&graph, "rs", &none),
            Decision::DeleteDependents(vec!["pod".into()])
        );
        assert_eq!(decide(&graph, "pod", &none), Decision::Delete("Foreground"));
        graph.apply(node("pod", &[("rs", true)], &[], true));
        assert_eq!(
            decide(&graph, "rs", &none),
            Decision::Nothing,
            "still blocked"
        );
        let work = graph.remove("pod");
        assert_eq!(work, ["rs"]);
        assert_eq!(
            decide(&graph, "rs", &none),
            Decision::RemoveFinalizer(FOREGROUND_FINALIZER)
        );
    }

    #[test]
    fn orphaning_releases_dependents_then_the_owner() {
        let mut graph = Graph::default();
        graph.apply(node("rs", &[], &[], false));
        graph.apply(node("pod", &[("rs", true)], &[], false));
        graph.apply(node("rs", &[], &[ORPHAN_FINALIZER], true));
        assert_eq!(
            decide(&graph, "rs", &BTreeSet::new()),
            Decision::Orphan {
                dependents: vec!["pod".into()]
            }
        );
    }

    #[test]
    fn dependents_seen_before_their_owner_are_linked_when_it_arrives() {
        let mut graph = Graph::default();
        graph.apply(node("pod", &[("rs", true)], &[], false));
        graph.apply(node("rs", &[], &[], false));
        assert!(
            graph
                .get("rs")
                .is_some_and(|n| n.dependents.contains("pod"))
        );
        assert_eq!(decide(&graph, "pod", &BTreeSet::new()), Decision::Nothing);
    }
}

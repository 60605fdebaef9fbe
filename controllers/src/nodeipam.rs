//! Node IPAM with VPC-style prefixes (the role of upstream's `pkg/controller/nodeipam`, with
//! the AWS VPC CNI's prefix mode as the allocation model): every Node gets /28 prefixes from a
//! subnet of its zone (`topology.kubernetes.io/zone`), as many as its warm-prefix target and
//! max-pods need, and more as its pods fill them; they are recorded on the Node —
//! `spec.podCIDR`/`spec.podCIDRs` hold the first prefix of each family (those fields are
//! immutable once set, as upstream), and the annotation [`PREFIXES_ANNOTATION`] holds every
//! prefix — and go back to the pool when the Node is deleted. The CNI plugin on the node
//! (`ultrak8s cni`) hands pod addresses out of them.
//!
//! The allocator ([`ultrak8s_netalloc::prefix`]) lives in memory. When the controller starts
//! leading, it is rebuilt from what the stored Nodes record (`repair::plan`); double
//! allocations and prefixes outside the configured subnets are logged and reported as Warning
//! events on the Nodes concerned. Every 5 minutes an audit compares the allocator with the
//! Nodes again: the same findings are reported, and a prefix held in memory that no Node
//! records in two audits in a row (a missed Node deletion) is released. Prefixes are never
//! taken back from a live Node (the CNI plugin on it may be handing out their addresses). A zone without free prefixes gives a `CIDRNotAvailable`
//! Warning event on the Node (upstream's reason) and a retry, never a crash.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams};
use parking_lot::Mutex;
use serde_json::json;
use ultrak8s_netalloc::cidr::{Cidr, Family};
use ultrak8s_netalloc::prefix::{PrefixAllocator, PrefixConfig, RecordedNode, repair};

use crate::runtime::controller::{Action, ReconcileError, Reconciler, gone_or_changed};
use crate::runtime::events::{EventRecorder, EventType, reference_to};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

/// Every prefix of the node, comma-separated, in the order they were granted.
pub const PREFIXES_ANNOTATION: &str = "netalloc.ultrak8s.io/prefixes";
/// The label that names a node's zone (the well-known topology label).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const QUEUE_CAPACITY: usize = 1_000_000;
/// How soon a node whose zone is full is tried again.
const RETRY_FULL: Duration = Duration::from_secs(30);
/// How often the allocator is audited against the Nodes.
const AUDIT_INTERVAL: Duration = Duration::from_secs(300);

/// The queue key of the audit: no Node has an empty name.
fn audit_key() -> ObjectKey {
    ObjectKey::new(None, "")
}

/// The prefixes a Node records in [`PREFIXES_ANNOTATION`]; unparsable entries are skipped.
pub fn recorded_prefixes(node: &Node) -> Vec<Cidr> {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PREFIXES_ANNOTATION))
        .map(|v| v.split(',').filter_map(|p| p.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// The zone a node draws prefixes from: its zone label, or the only zone there is.
fn zone_of(node: &Node, config: &PrefixConfig) -> Option<String> {
    let label = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(ZONE_LABEL));
    if let Some(zone) = label {
        return Some(zone.clone());
    }
    let mut zones = config.ipv4.subnets.iter().map(|s| s.zone.as_str());
    let first = zones.next()?;
    zones.all(|z| z == first).then(|| first.to_owned())
}

pub struct NodeIpam {
    client: kube::Client,
    nodes: Arc<Informer<Node>>,
    config: PrefixConfig,
    /// `None` until rebuilt from the synced Nodes at the first sync.
    allocator: Mutex<Option<PrefixAllocator>>,
    /// Pods bound to each node (by uid), to grow a node's prefixes as it fills.
    pods: Mutex<PodCounts>,
    /// The leaks the last audit found.
    suspected_leaks: Mutex<HashSet<Cidr>>,
    recorder: EventRecorder,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

#[derive(Default)]
struct PodCounts {
    node_of: HashMap<String, String>,
    per_node: HashMap<String, u32>,
}

impl PodCounts {
    /// Records where `uid` runs (`None`: nowhere); returns the node whose count changed.
    fn place(&mut self, uid: &str, node: Option<&str>) -> Option<String> {
        let old = self.node_of.get(uid).cloned();
        if old.as_deref() == node {
            return None;
        }
        if let Some(old) = &old {
            if let Some(n) = self.per_node.get_mut(old) {
                *n = n.saturating_sub(1);
            }
            self.node_of.remove(uid);
        }
        let node = node?;
        self.node_of.insert(uid.to_owned(), node.to_owned());
        *self.per_node.entry(node.to_owned()).or_default() += 1;
        Some(node.to_owned())
    }
}

/// The leaks found now that the previous audit found too; `suspected` becomes what was
/// found now.
fn confirm_leaks(suspected: &mut HashSet<Cidr>, found: &[Cidr]) -> Vec<Cidr> {
    let found: HashSet<Cidr> = found.iter().copied().collect();
    let mut confirmed: Vec<Cidr> = found.intersection(suspected).copied().collect();
    confirmed.sort_by_key(ToString::to_string);
    *suspected = found;
    confirmed
}

fn running_on(pod: &Pod) -> Option<&str> {
    let finished = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Succeeded" || p == "Failed");
    if finished {
        return None;
    }
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

impl NodeIpam {
    pub fn new(
        client: kube::Client,
        config: PrefixConfig,
        nodes: Arc<Informer<Node>>,
        pods: Arc<Informer<Pod>>,
    ) -> Arc<NodeIpam> {
        let controller = Arc::new(NodeIpam {
            recorder: EventRecorder::new(client.clone(), "node-ipam-controller"),
            client,
            nodes: Arc::clone(&nodes),
            config,
            allocator: Mutex::new(None),
            pods: Mutex::default(),
            suspected_leaks: Mutex::default(),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let _ = controller.queue.add_all(vec![audit_key()]);
        let weak = Arc::downgrade(&controller);
        nodes.add_handler(move |events| {
            if let Some(this) = weak.upgrade() {
                let keys: Vec<ObjectKey> = events
                    .iter()
                    .map(|e| ObjectKey::of(e.object().as_ref()))
                    .collect();
                let _ = this.queue.add_all(keys);
            }
        });
        let weak = Arc::downgrade(&controller);
        pods.add_handler(move |events: &[Event<Pod>]| {
            let Some(this) = weak.upgrade() else { return };
            let mut counts = this.pods.lock();
            let mut touched = Vec::new();
            for event in events {
                let pod = event.object();
                let uid = pod.metadata.uid.as_deref().unwrap_or_default();
                let node = match event {
                    Event::Applied { new, .. } => running_on(new),
                    Event::Deleted(_) => None,
                };
                // A node that gained a pod may need another prefix (none are taken back).
                touched.extend(counts.place(uid, node).map(|n| ObjectKey::new(None, &n)));
            }
            drop(counts);
            let _ = this.queue.add_all(touched);
        });
        controller
    }

    /// What every stored Node records.
    fn recorded(&self) -> Vec<RecordedNode> {
        self.nodes
            .list(None)
            .iter()
            .filter_map(|n| {
                let prefixes = recorded_prefixes(n);
                if prefixes.is_empty() {
                    return None;
                }
                Some(RecordedNode {
                    node: n.metadata.name.clone().unwrap_or_default(),
                    zone: zone_of(n, &self.config).unwrap_or_default(),
                    prefixes,
                })
            })
            .collect()
    }

    /// Rebuilds the allocator from what every stored Node records; reports what disagrees.
    async fn rebuild(&self) -> Result<PrefixAllocator, ReconcileError> {
        let report = repair::plan(&self.config, &self.recorded(), None)
            .map_err(|e| ReconcileError::Other(format!("node IPAM configuration: {e}")))?;
        self.report(&report).await;
        Ok(report.allocator)
    }

    /// Logs every finding and gives each node of a double allocation a Warning event.
    async fn report(&self, report: &repair::RepairReport) {
        for message in report.messages() {
            tracing::warn!(%message, "node IPAM repair");
        }
        for double in &report.double_allocations {
            for name in &double.nodes {
                if let Some(node) = self.nodes.get(&ObjectKey::new(None, name)) {
                    let message = format!(
                        "prefix {} is also recorded on {}",
                        double.prefix,
                        double
                            .nodes
                            .iter()
                            .filter(|n| *n != name)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    self.recorder
                        .record(
                            &reference_to(node.as_ref()),
                            EventType::Warning,
                            "CIDRAssignmentFailed",
                            &message,
                        )
                        .await;
                }
            }
        }
    }

    /// The periodic repair: the allocator in memory against what the Nodes record. A prefix
    /// held in memory that no Node records is released once two audits in a row found it
    /// (a grant being written onto its Node right now is not a leak); other findings are
    /// reported as at start-up.
    async fn audit(&self) -> Result<Action, ReconcileError> {
        let recorded = self.recorded();
        let report = {
            let slot = self.allocator.lock();
            let Some(current) = slot.as_ref() else {
                return Ok(Action::RequeueAfter(AUDIT_INTERVAL));
            };
            repair::plan(&self.config, &recorded, Some(current))
                .map_err(|e| ReconcileError::Other(format!("node IPAM configuration: {e}")))?
        };
        self.report(&report).await;
        let confirmed = confirm_leaks(&mut self.suspected_leaks.lock(), &report.leaks);
        if !confirmed.is_empty() {
            let mut slot = self.allocator.lock();
            if let Some(allocator) = slot.as_mut() {
                for held in allocator.recorded() {
                    for prefix in held.prefixes.iter().filter(|p| confirmed.contains(p)) {
                        if allocator.release(&held.node, prefix).is_ok() {
                            tracing::warn!(%prefix, node = %held.node, "leaked prefix released");
                        }
                    }
                }
            }
        }
        Ok(Action::RequeueAfter(AUDIT_INTERVAL))
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        if self.allocator.lock().is_none() {
            let rebuilt = self.rebuild().await?;
            let mut slot = self.allocator.lock();
            if slot.is_none() {
                *slot = Some(rebuilt);
            }
        }
        if key == audit_key() {
            return self.audit().await;
        }
        let Some(node) = self.nodes.get(&key) else {
            if let Some(allocator) = self.allocator.lock().as_mut() {
                allocator.release_node(&key.name);
            }
            return Ok(Action::Done);
        };
        if node.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let Some(zone) = zone_of(&node, &self.config) else {
            let message =
                format!("node has no {ZONE_LABEL} label and the cluster has several zones");
            self.recorder
                .record(
                    &reference_to(node.as_ref()),
                    EventType::Warning,
                    "CIDRNotAvailable",
                    &message,
                )
                .await;
            return Ok(Action::Done);
        };
        let pods_used = self
            .pods
            .lock()
            .per_node
            .get(&key.name)
            .copied()
            .unwrap_or(0);
        let outcome = {
            let mut slot = self.allocator.lock();
            let Some(allocator) = slot.as_mut() else {
                return Ok(Action::Done);
            };
            let held = allocator.prefixes_of(&key.name);
            // Every node gets at least one prefix: its podCIDR, whatever the warm target.
            let has_v4 = held.iter().any(|p| p.family() == Family::V4);
            let want = allocator
                .want_for(&key.name, pods_used)
                .max(usize::from(!has_v4));
            let needs_v6 =
                self.config.ipv6.is_some() && !held.iter().any(|p| p.family() == Family::V6);
            if want > 0 || needs_v6 {
                allocator
                    .allocate(&key.name, &zone, want)
                    .map(|_| allocator.prefixes_of(&key.name))
            } else {
                Ok(held)
            }
        };
        let prefixes = match outcome {
            Ok(prefixes) => prefixes,
            Err(error) => {
                self.recorder
                    .record(
                        &reference_to(node.as_ref()),
                        EventType::Warning,
                        "CIDRNotAvailable",
                        &error.to_string(),
                    )
                    .await;
                return Ok(Action::RequeueAfter(RETRY_FULL));
            }
        };
        self.record(&node, &prefixes).await
    }

    /// Writes the prefixes onto the Node when it does not show them yet.
    async fn record(&self, node: &Node, prefixes: &[Cidr]) -> Result<Action, ReconcileError> {
        let joined = prefixes
            .iter()
            .map(Cidr::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let shown = node
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PREFIXES_ANNOTATION));
        let spec = node.spec.as_ref();
        let has_pod_cidrs = spec
            .and_then(|s| s.pod_cidrs.as_ref())
            .is_some_and(|c| !c.is_empty())
            || spec
                .and_then(|s| s.pod_cidr.as_ref())
                .is_some_and(|c| !c.is_empty());
        if prefixes.is_empty() || (shown == Some(&joined) && has_pod_cidrs) {
            return Ok(Action::Done);
        }
        let mut patch = json!({"metadata": {"annotations": {PREFIXES_ANNOTATION: joined}}});
        if !has_pod_cidrs {
            // The first prefix of each family, IPv4 first (podCIDRs is immutable once set).
            let first = |family| {
                prefixes
                    .iter()
                    .find(|p| p.family() == family)
                    .map(Cidr::to_string)
            };
            let pod_cidrs: Vec<String> = [first(Family::V4), first(Family::V6)]
                .into_iter()
                .flatten()
                .collect();
            if let Some(primary) = pod_cidrs.first() {
                patch["spec"] = json!({"podCIDR": primary, "podCIDRs": pod_cidrs});
            }
        }
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let api: Api<Node> = Api::all(self.client.clone());
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(Action::Done),
            Err(error) if gone_or_changed(&error) => {
                // Deleted meanwhile: its key comes back with the deletion and releases them.
                Ok(Action::Done)
            }
            Err(error) => Err(error.into()),
        }
    }
}

impl Reconciler for NodeIpam {
    fn name(&self) -> &'static str {
        "nodeipam"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_counts_follow_bindings_and_deletions() {
        let mut counts = PodCounts::default();
        assert_eq!(counts.place("a", Some("n1")), Some("n1".into()));
        assert_eq!(counts.place("a", Some("n1")), None);
        counts.place("b", Some("n1"));
        assert_eq!(counts.per_node.get("n1"), Some(&2));
        counts.place("a", None);
        assert_eq!(counts.per_node.get("n1"), Some(&1));
        counts.place("b", Some("n2"));
        assert_eq!(
            (counts.per_node.get("n1"), counts.per_node.get("n2")),
            (Some(&0), Some(&1))
        );
    }

    #[test]
    fn a_leak_is_released_only_when_two_audits_in_a_row_find_it() {
        let p = |s: &str| s.parse::<Cidr>().expect("cidr");
        let mut suspected = HashSet::new();
        assert!(confirm_leaks(&mut suspected, &[p("10.0.0.0/28"), p("10.0.0.16/28")]).is_empty());
        // The second was being written onto its Node: only the first is still a leak.
        assert_eq!(
            confirm_leaks(&mut suspected, &[p("10.0.0.0/28"), p("10.0.0.32/28")]),
            [p("10.0.0.0/28")]
        );
        assert_eq!(
            confirm_leaks(&mut suspected, &[p("10.0.0.32/28")]),
            [p("10.0.0.32/28")]
        );
        assert!(confirm_leaks(&mut suspected, &[]).is_empty());
        assert!(suspected.is_empty());
    }

    #[test]
    fn recorded_prefixes_skip_garbage() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n", "annotations": {PREFIXES_ANNOTATION: "10.0.0.16/28, junk,10.0.0.32/28"}}
        }))
        .expect("node");
        let got: Vec<String> = recorded_prefixes(&node)
            .iter()
            .map(Cidr::to_string)
            .collect();
        assert_eq!(got, ["10.0.0.16/28", "10.0.0.32/28"]);
    }
}

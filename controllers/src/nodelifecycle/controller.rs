//! Node lifecycle's I/O half: every monitor period it looks at every node's Lease and Ready
//! heartbeat, marks silent nodes Unknown and taints them (rate limited per zone, and not at
//! all in a zone where every node is down, which looks like a network partition of this
//! server rather than failed nodes), and evicts the pods of NoExecute-tainted nodes when
//! their tolerations run out (a work queue of pods with deadlines).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use parking_lot::Mutex;
use serde_json::json;

use super::decide::{Eviction, decide_node, pod_eviction};
use crate::runtime::controller::{Action, ReconcileError, Reconciler, gone_or_changed};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

/// How often nodes are looked at, and how long a kubelet may be silent (upstream's
/// `--node-monitor-period`, 5 s, and `--node-monitor-grace-period`, 50 s).
#[derive(Clone, Copy, Debug)]
pub struct MonitorTimes {
    pub period: Duration,
    pub grace: Duration,
}

impl Default for MonitorTimes {
    fn default() -> Self {
        MonitorTimes {
            period: Duration::from_secs(5),
            grace: Duration::from_secs(50),
        }
    }
}
/// Upstream's `--node-eviction-rate`: nodes tainted per second per zone, after a burst of one.
const TAINTS_PER_SECOND: f64 = 0.1;
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const QUEUE_CAPACITY: usize = 10_000_000;

/// A token bucket: one token, refilled at `TAINTS_PER_SECOND`.
struct Bucket {
    tokens: f64,
    at: tokio::time::Instant,
}

impl Bucket {
    fn available(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        self.tokens = (self.tokens + (now - self.at).as_secs_f64() * TAINTS_PER_SECOND).min(1.0);
        self.at = now;
        self.tokens >= 1.0
    }
}

pub struct NodeLifecycleController {
    client: kube::Client,
    nodes: Arc<Informer<Node>>,
    leases: Arc<Informer<Lease>>,
    pods: Arc<Informer<Pod>>,
    /// Pods on NoExecute-tainted nodes.
    pub queue: Arc<WorkQueue<ObjectKey>>,
    zones: Mutex<HashMap<String, Bucket>>,
    times: MonitorTimes,
}

impl NodeLifecycleController {
    pub fn new(
        client: kube::Client,
        nodes: Arc<Informer<Node>>,
        leases: Arc<Informer<Lease>>,
        pods: Arc<Informer<Pod>>,
        times: MonitorTimes,
    ) -> Arc<NodeLifecycleController> {
        let controller = Arc::new(NodeLifecycleController {
            client,
            nodes: Arc::clone(&nodes),
            leases,
            pods: Arc::clone(&pods),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
            zones: Mutex::new(HashMap::new()),
            times,
        });
        // A node whose taints change: its pods are looked at.
        let weak = Arc::downgrade(&controller);
        nodes.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            for event in events {
                if let Event::Applied { new, .. } = event
                    && has_no_execute(new)
                {
                    let name = new.metadata.name.clone().unwrap_or_default();
                    this.enqueue_pods_of(&name);
                }
            }
        });
        // A pod bound to a tainted node: looked at.
        let weak = Arc::downgrade(&controller);
        pods.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().filter_map(|e| match e {
                Event::Applied { new, .. } => {
                    let node = new.spec.as_ref()?.node_name.as_deref()?;
                    let node = this.nodes.get(&ObjectKey::new(None, node))?;
                    has_no_execute(&node).then(|| ObjectKey::of(new.as_ref()))
                }
                Event::Deleted(_) => None,
            });
            let _ = this.queue.add_all(keys.collect::<Vec<_>>());
        });
        let weak = Arc::downgrade(&controller);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(times.period);
            loop {
                tick.tick().await;
                let Some(this) = weak.upgrade() else { return };
                if this.queue.is_shut_down() {
                    return;
                }
                if let Err(error) = this.monitor().await {
                    tracing::warn!(%error, "node monitor");
                }
            }
        });
        controller
    }

    fn enqueue_pods_of(&self, node: &str) {
        let keys: Vec<ObjectKey> = self
            .pods
            .list(None)
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .map(|p| ObjectKey::of(p.as_ref()))
            .collect();
        let _ = self.queue.add_all(keys);
    }

    /// One pass over every node.
    async fn monitor(&self) -> Result<(), kube::Error> {
        let nodes = self.nodes.list(None);
        let now = Timestamp::now();
        // Zones where every node is down: tainting is held back (upstream's full disruption).
        let mut zone_health: HashMap<String, (usize, usize)> = HashMap::new();
        let mut plans = Vec::new();
        for node in &nodes {
            let lease = self.leases.get(&ObjectKey::new(
                Some("kube-node-lease"),
                node.metadata.name.as_deref().unwrap_or_default(),
            ));
            let probe = decide_node(node, lease.as_deref(), now, self.times.grace, true);
            let zone = zone_of(node);
            let entry = zone_health.entry(zone.clone()).or_default();
            entry.0 += 1;
            if probe.conditions.is_some() || !is_ready(node) {
                entry.1 += 1;
            }
            plans.push((node, lease, zone));
        }
        let api: Api<Node> = Api::all(self.client.clone());
        for (node, lease, zone) in plans {
            let (total, down) = zone_health.get(&zone).copied().unwrap_or_default();
            let fully_disrupted = total > 1 && down == total;
            let may_taint = !fully_disrupted && {
                let mut zones = self.zones.lock();
                let bucket = zones.entry(zone.clone()).or_insert(Bucket {
                    tokens: 1.0,
                    at: tokio::time::Instant::now(),
                });
                bucket.available()
            };
            let plan = decide_node(node, lease.as_deref(), now, self.times.grace, may_taint);
            let name = node.metadata.name.clone().unwrap_or_default();
            if let Some(conditions) = &plan.conditions {
                let patch = json!({"status": {"conditions": conditions}});
                let params = PatchParams::default();
                tolerate(
                    api.patch_status(&name, &params, &Patch::Strategic(&patch))
                        .await,
                )?;
            }
            if let Some(taints) = &plan.taints {
                let added = taints.len()
                    > node
                        .spec
                        .as_ref()
                        .and_then(|s| s.taints.as_ref())
                        .map_or(0, Vec::len);
                if added && let Some(bucket) = self.zones.lock().get_mut(&zone) {
                    bucket.tokens -= 1.0;
                }
                let patch = json!({"metadata": {"resourceVersion": node.metadata.resource_version},
                                   "spec": {"taints": taints}});
                tolerate(
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await,
                )?;
            }
        }
        Ok(())
    }

    async fn evict(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(pod) = self.pods.get(&key) else {
            return Ok(Action::Done);
        };
        if pod.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            return Ok(Action::Done);
        };
        let Some(node) = self.nodes.get(&ObjectKey::new(None, &node)) else {
            return Ok(Action::Done);
        };
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        match pod_eviction(&pod, &taints, Timestamp::now()) {
            Eviction::Never => Ok(Action::Done),
            Eviction::At(at) => {
                let wait = at.duration_since(Timestamp::now());
                let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
                Ok(Action::RequeueAfter(wait))
            }
            Eviction::Now => {
                let namespace = key.namespace.clone().unwrap_or_default();
                let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
                let params = DeleteParams {
                    preconditions: pod.metadata.uid.clone().map(|uid| Preconditions {
                        uid: Some(uid),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                tolerate(api.delete(&key.name, &params).await)?;
                Ok(Action::Done)
            }
        }
    }
}

fn has_no_execute(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.effect == "NoExecute"))
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn zone_of(node: &Node) -> String {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(ZONE_LABEL))
        .cloned()
        .unwrap_or_default()
}

/// A write to an object that changed or went meanwhile is picked up on the next pass.
fn tolerate<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Err(error) if !gone_or_changed(&error) => Err(error),
        _ => Ok(()),
    }
}

impl Reconciler for NodeLifecycleController {
    fn name(&self) -> &'static str {
        "nodelifecycle"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.evict(key))
    }
}

//! The pod side of the simulated kubelets: every pod bound to one of this process's nodes is
//! started (status Running and Ready, an address from its node's prefixes), finished if it
//! does not restart (Succeeded or Failed after its duration), and removed once its deletion
//! begins (the kubelet's part of a graceful delete), in one work queue for all nodes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use parking_lot::Mutex;
use ultrak8s_controllers::nodeipam::recorded_prefixes;
use ultrak8s_controllers::runtime::controller::{Action, ReconcileError, Reconciler, ignore_gone};
use ultrak8s_controllers::runtime::informer::{Informer, ObjectKey};
use ultrak8s_controllers::runtime::queue::WorkQueue;
use ultrak8s_netalloc::cidr::{Cidr, Family};
use ultrak8s_netalloc::prefix::NodeAddresses;

use super::objects::{finished_status, finishes_after, node_ip, running_status};
use super::{Counters, Fleet};

const QUEUE_CAPACITY: usize = 4_000_000;

/// Pod addresses for a node without prefixes of its own: a /26 of 100.64.0.0/10 per node
/// index (65,536 nodes; beyond that, run node IPAM).
fn fallback_prefix(index: u64) -> Option<Cidr> {
    let base = u32::from(Ipv4Addr::new(100, 64, 0, 0));
    (index < (1 << 16)).then(|| {
        let network = Ipv4Addr::from(base + (index as u32) * 64);
        Cidr::new(IpAddr::V4(network), 26).ok()
    })?
}

pub struct Kubelets {
    client: kube::Client,
    fleet: Arc<Fleet>,
    pods: Arc<Informer<Pod>>,
    /// Each node's pod addresses, made at its first pod.
    addresses: Mutex<HashMap<String, NodeAddresses>>,
    /// When each running pod (by uid) started, for its duration and its final status.
    started: Mutex<HashMap<String, (Timestamp, String)>>,
    counters: Arc<Counters>,
    job_duration_secs: f64,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

impl Kubelets {
    pub fn new(
        client: kube::Client,
        fleet: Arc<Fleet>,
        pods: Arc<Informer<Pod>>,
        counters: Arc<Counters>,
        job_duration_secs: f64,
    ) -> Arc<Kubelets> {
        let kubelets = Arc::new(Kubelets {
            client,
            fleet: Arc::clone(&fleet),
            pods: Arc::clone(&pods),
            addresses: Mutex::default(),
            started: Mutex::default(),
            counters,
            job_duration_secs,
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let weak = Arc::downgrade(&kubelets);
        pods.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys: Vec<ObjectKey> = events
                .iter()
                .map(|e| e.object())
                .filter(|p| this.fleet.owns(node_of(p)))
                .map(|p| ObjectKey::of(p.as_ref()))
                .collect();
            let _ = this.queue.add_all(keys);
        });
        kubelets
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(pod) = self.pods.get(&key) else {
            return Ok(Action::Done);
        };
        let node = node_of(&pod).to_owned();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(
            self.client.clone(),
            key.namespace.as_deref().unwrap_or_default(),
        );
        if pod.metadata.deletion_timestamp.is_some() {
            // The containers are stopped at once: the kubelet's final delete.
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            ignore_gone(api.delete(&key.name, &params).await)?;
            self.forget(&node, &uid);
            self.counters.deleted.fetch_add(1, ORDER);
            return Ok(Action::Done);
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            self.forget(&node, &uid);
            return Ok(Action::Done);
        }
        let now = Timestamp::now();
        let running = phase == Some("Running")
            && pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.as_ref())
                .is_some();
        if !running {
            let Some(host_ip) = self.fleet.index_of(&node).and_then(node_ip) else {
                return Ok(Action::Done);
            };
            let pod_ip = if host_network(&pod) {
                IpAddr::V4(host_ip)
            } else {
                self.assign(&node, &uid).await?
            };
            let status = running_status(&pod, &host_ip.to_string(), pod_ip, &now.to_string());
            let written = api
                .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&status))
                .await;
            if written.is_err() {
                self.forget(&node, &uid);
            }
            ignore_gone(written)?;
            self.started
                .lock()
                .insert(uid.clone(), (now, now.to_string()));
            self.counters.started.fetch_add(1, ORDER);
        }
        let Some((secs, exit_code)) = finishes_after(&pod, self.job_duration_secs) else {
            return Ok(Action::Done);
        };
        let (since, since_text) = self
            .started
            .lock()
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| (now, now.to_string()));
        let left = secs - now.duration_since(since).as_secs_f64();
        if left > 0.0 {
            return Ok(Action::RequeueAfter(Duration::from_secs_f64(left)));
        }
        let status = finished_status(&pod, exit_code, &since_text, &now.to_string());
        ignore_gone(
            api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&status))
                .await,
        )?;
        self.forget(&node, &uid);
        self.counters.finished.fetch_add(1, ORDER);
        Ok(Action::Done)
    }

    /// An address for pod `uid` on `node`: from the node's prefixes (read from the Node,
    /// read again when they run out, as node IPAM grants more), or its fallback /26.
    async fn assign(&self, node: &str, uid: &str) -> Result<IpAddr, ReconcileError> {
        if let Some(ip) = self.try_assign(node, uid) {
            return Ok(ip);
        }
        let nodes: Api<Node> = Api::all(self.client.clone());
        let current = nodes.get(node).await.map_err(ReconcileError::Api)?;
        let mut prefixes: Vec<Cidr> = recorded_prefixes(&current)
            .into_iter()
            .filter(|p| p.family() == Family::V4)
            .collect();
        if prefixes.is_empty() {
            let index = self.fleet.index_of(node).unwrap_or(u64::MAX);
            prefixes.extend(fallback_prefix(index));
        }
        let mut book = self.addresses.lock();
        let addresses = book.entry(node.to_owned()).or_default();
        for prefix in prefixes {
            // Known prefixes are refused as overlapping: nothing to add.
            let _ = addresses.add_prefix(prefix);
        }
        addresses
            .assign(uid)
            .map_err(|e| ReconcileError::Other(format!("pod address on {node}: {e}")))
    }

    fn try_assign(&self, node: &str, uid: &str) -> Option<IpAddr> {
        self.addresses.lock().get_mut(node)?.assign(uid).ok()
    }

    fn forget(&self, node: &str, uid: &str) {
        if let Some(addresses) = self.addresses.lock().get_mut(node) {
            addresses.release(uid);
        }
        self.started.lock().remove(uid);
    }
}

const ORDER: std::sync::atomic::Ordering = std::sync::atomic::Ordering::Relaxed;

fn node_of(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default()
}

fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

impl Reconciler for Kubelets {
    fn name(&self) -> &'static str {
        "simnodes-kubelet"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

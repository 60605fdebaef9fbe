//! `ultrak8s simnodes`: a kwok-style node simulator. One process registers N Nodes (zones,
//! instance types, GPU, Trainium or CPU machines), renews each node's Lease every 10 s and
//! reports its status as a kubelet does, and drives the pods bound to its nodes through their
//! lifecycle — Running with an address from the node's prefixes, Succeeded or Failed for
//! pods that do not restart, gone once their deletion begins. No container runs: exec, logs
//! and port-forward to these pods are not served.
//!
//! - `objects.rs`: the Node, Lease and status bodies (pure).
//! - `heartbeat.rs`: lease renewals and status reports, spread over their periods.
//! - `kubelet.rs`: the pods' lifecycle, one work queue for every node.
//! - `progress.rs`: the progress line while nodes join.

mod heartbeat;
mod kubelet;
pub mod objects;
mod progress;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, PostParams};
use serde::Serialize;
use tokio::sync::watch;
use ultrak8s_controllers::runtime::informer::{FieldSelected, Informer};
use ultrak8s_controllers::runtime::metrics::WorkStats;

use objects::Machine;

pub(crate) const ORDER: Ordering = Ordering::Relaxed;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Nodes are named `<prefix><index>` (six digits), indices `first..first + count`.
    pub prefix: String,
    pub first: u64,
    pub count: u64,
    /// Indices kept after `first + count` for nodes that replace failed ones
    /// ([`Simulator::replace`]).
    pub spare: u64,
    pub zones: Vec<String>,
    /// Every `trainium_every`-th node is a Trainium node (0: none).
    pub trainium_every: u64,
    /// Every `cpu_every`-th node (not Trainium) is a CPU node (0: none); the rest are GPU.
    pub cpu_every: u64,
    pub max_pods: u32,
    pub lease_period: Duration,
    pub lease_duration_secs: u32,
    pub status_period: Duration,
    /// How long a pod that does not restart runs, unless its annotation says otherwise.
    pub job_duration_secs: f64,
    /// Registrations in flight.
    pub clients: usize,
    /// Pod workers.
    pub workers: usize,
    /// Draw the progress line on stderr.
    pub progress: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            prefix: "sim-".to_owned(),
            first: 0,
            count: 100,
            spare: 0,
            zones: ["us-east-1a", "us-east-1b", "us-east-1c"]
                .map(str::to_owned)
                .to_vec(),
            trainium_every: 5,
            cpu_every: 0,
            max_pods: 110,
            lease_period: Duration::from_secs(10),
            lease_duration_secs: 40,
            status_period: Duration::from_secs(300),
            job_duration_secs: 5.0,
            clients: 32,
            workers: 16,
            progress: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simnodes: {0}")]
    Config(String),
    #[error("registering {node}: {error}")]
    Register { node: String, error: kube::Error },
}

/// This process's nodes: names, and which have registered.
pub struct Fleet {
    prefix: String,
    first: u64,
    registered: Vec<AtomicBool>,
}

impl Fleet {
    fn new(config: &SimConfig) -> Fleet {
        Fleet {
            prefix: config.prefix.clone(),
            first: config.first,
            registered: (0..config.count + config.spare)
                .map(|_| AtomicBool::new(false))
                .collect(),
        }
    }

    pub fn name(&self, index: u64) -> String {
        format!("{}{index:06}", self.prefix)
    }

    /// The index of a node of this fleet.
    pub fn index_of(&self, name: &str) -> Option<u64> {
        let digits = name.strip_prefix(&self.prefix)?;
        if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let index: u64 = digits.parse().ok()?;
        let offset = index.checked_sub(self.first)?;
        (offset < self.registered.len() as u64).then_some(index)
    }

    pub fn owns(&self, name: &str) -> bool {
        self.index_of(name).is_some()
    }

    /// The registered nodes whose offset falls in `slot` of `slots`.
    fn registered_in_slot(&self, slot: u64, slots: u64) -> Vec<String> {
        (slot..self.registered.len() as u64)
            .step_by(slots as usize)
            .filter(|&i| self.registered[i as usize].load(ORDER))
            .map(|i| self.name(self.first + i))
            .collect()
    }

    /// How many nodes are registered and alive now.
    pub fn registered_count(&self) -> u64 {
        self.registered.iter().filter(|r| r.load(ORDER)).count() as u64
    }
}

/// What the simulator did so far.
#[derive(Debug, Default)]
pub struct Counters {
    pub registered: AtomicU64,
    pub renewals: AtomicU64,
    pub renewal_errors: AtomicU64,
    pub status_reports: AtomicU64,
    pub status_errors: AtomicU64,
    pub started: AtomicU64,
    pub finished: AtomicU64,
    pub deleted: AtomicU64,
}

/// A snapshot of [`Counters`], with how long the nodes took to join.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SimReport {
    pub nodes: u64,
    pub join_seconds: f64,
    pub nodes_per_minute: f64,
    pub lease_renewals: u64,
    pub lease_renewal_errors: u64,
    pub status_reports: u64,
    pub status_errors: u64,
    pub pods_started: u64,
    pub pods_finished: u64,
    pub pods_deleted: u64,
}

impl Counters {
    fn report(&self, join: Duration) -> SimReport {
        let nodes = self.registered.load(ORDER);
        SimReport {
            nodes,
            join_seconds: join.as_secs_f64(),
            nodes_per_minute: nodes as f64 * 60.0 / join.as_secs_f64().max(1e-9),
            lease_renewals: self.renewals.load(ORDER),
            lease_renewal_errors: self.renewal_errors.load(ORDER),
            status_reports: self.status_reports.load(ORDER),
            status_errors: self.status_errors.load(ORDER),
            pods_started: self.started.load(ORDER),
            pods_finished: self.finished.load(ORDER),
            pods_deleted: self.deleted.load(ORDER),
        }
    }
}

/// A running simulator; [`Simulator::stop`] ends it.
pub struct Simulator {
    pub counters: Arc<Counters>,
    pub fleet: Arc<Fleet>,
    stop: watch::Sender<bool>,
    joined: Duration,
    pods: Arc<Informer<Pod>>,
    kubelets: Arc<kubelet::Kubelets>,
    client: kube::Client,
    config: SimConfig,
    /// The heartbeat loops, aborted by [`Simulator::stop`] (with their requests in flight).
    loops: Vec<tokio::task::JoinHandle<()>>,
    /// The next spare offset [`Simulator::replace`] registers.
    next_spare: AtomicU64,
    replaced: AtomicU64,
}

impl Simulator {
    /// Registers the nodes (every one, or the first error), then keeps them alive until
    /// [`Simulator::stop`].
    pub async fn start(client: kube::Client, config: SimConfig) -> Result<Simulator, SimError> {
        validate(&config)?;
        let fleet = Arc::new(Fleet::new(&config));
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = watch::channel(false);
        // Pods that land while nodes join are started at once, as kubelets would.
        let pods = Informer::start(FieldSelected {
            api: Api::<Pod>::all(client.clone()),
            fields: "spec.nodeName!=".to_owned(),
        });
        let kubelets = kubelet::Kubelets::new(
            client.clone(),
            Arc::clone(&fleet),
            Arc::clone(&pods),
            Arc::clone(&counters),
            config.job_duration_secs,
        );
        ultrak8s_controllers::runtime::controller::spawn(
            Arc::clone(&kubelets),
            Arc::clone(&kubelets.queue),
            config.workers,
            Arc::new(WorkStats::default()),
        );
        let renewals = tokio::spawn(heartbeat::renew_leases(
            client.clone(),
            Arc::clone(&fleet),
            Arc::clone(&counters),
            config.lease_period,
            config.lease_duration_secs,
            stopped.clone(),
        ));
        let reports = tokio::spawn(heartbeat::report_status(
            client.clone(),
            Arc::clone(&fleet),
            Arc::clone(&counters),
            config.status_period,
            stopped.clone(),
        ));
        let started = Instant::now();
        let bar = config
            .progress
            .then(|| progress::spawn(Arc::clone(&counters), config.count, stopped.clone()));
        let registered = register(&client, &config, &fleet, &counters, 0..config.count).await;
        if let Some(bar) = bar {
            bar.finish().await;
        }
        registered?;
        pods.wait_synced().await;
        Ok(Simulator {
            counters,
            fleet,
            stop,
            joined: started.elapsed(),
            pods,
            kubelets,
            next_spare: AtomicU64::new(config.count),
            replaced: AtomicU64::new(0),
            client,
            config,
            loops: vec![renewals, reports],
        })
    }

    /// Fails `n` nodes (the lowest registered: their kubelets stop, their Node and Lease are
    /// deleted, as a node group replacing broken machines does) and registers as many new
    /// ones from the spare indices. Returns how many were replaced (fewer when the spares run
    /// out).
    pub async fn replace(&self, n: u64) -> Result<u64, SimError> {
        let spare_end = self.config.count + self.config.spare;
        let start = self.next_spare.load(ORDER);
        let n = n.min(spare_end.saturating_sub(start));
        let victims: Vec<u64> = (0..self.fleet.registered.len() as u64)
            .filter(|&o| self.fleet.registered[o as usize].load(ORDER))
            .take(n as usize)
            .collect();
        let nodes: Api<Node> = Api::all(self.client.clone());
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), "kube-node-lease");
        for &offset in &victims {
            self.fleet.registered[offset as usize].store(false, ORDER);
            let name = self.fleet.name(self.config.first + offset);
            let params = kube::api::DeleteParams::default();
            for result in [
                nodes.delete(&name, &params).await.map(|_| ()),
                leases.delete(&name, &params).await.map(|_| ()),
            ] {
                match result {
                    Ok(()) | Err(kube::Error::Api(_)) => {}
                    Err(error) => return Err(SimError::Register { node: name, error }),
                }
            }
        }
        let count = victims.len() as u64;
        self.next_spare.fetch_add(count, ORDER);
        register(
            &self.client,
            &self.config,
            &self.fleet,
            &self.counters,
            start..start + count,
        )
        .await?;
        self.replaced.fetch_add(count, ORDER);
        Ok(count)
    }

    /// How many nodes [`Simulator::replace`] replaced.
    pub fn replaced(&self) -> u64 {
        self.replaced.load(ORDER)
    }

    pub fn report(&self) -> SimReport {
        self.counters.report(self.joined)
    }

    pub fn stop(&self) {
        self.stop.send_replace(true);
        for task in &self.loops {
            task.abort();
        }
        self.pods.stop();
        self.kubelets.queue.shut_down();
    }
}

fn validate(config: &SimConfig) -> Result<(), SimError> {
    if config.zones.is_empty() {
        return Err(SimError::Config("at least one zone is needed".to_owned()));
    }
    let last = config.first + config.count + config.spare;
    if last > 1_000_000 {
        return Err(SimError::Config(
            "node indices are six digits: first + count must be at most 1,000,000".to_owned(),
        ));
    }
    if last > 1 << 17 {
        return Err(SimError::Config(
            "more than 131,072 simulated nodes: their InternalIPs (198.18.0.0/15) would repeat"
                .to_owned(),
        ));
    }
    if config.lease_period.is_zero() || config.status_period.is_zero() {
        return Err(SimError::Config("periods must be positive".to_owned()));
    }
    Ok(())
}

/// The machine of node `index`.
fn machine(config: &SimConfig, index: u64) -> Machine {
    let every = |k: u64| k > 0 && index % k == k - 1;
    if every(config.trainium_every) {
        Machine::Trainium
    } else if every(config.cpu_every) {
        Machine::Cpu
    } else {
        Machine::Gpu
    }
}

/// Registers the nodes at `offsets` with their Leases; a node that exists already is taken
/// over.
async fn register(
    client: &kube::Client,
    config: &SimConfig,
    fleet: &Arc<Fleet>,
    counters: &Arc<Counters>,
    offsets: std::ops::Range<u64>,
) -> Result<(), SimError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let results = futures::stream::iter(offsets)
        .map(|offset| {
            let (nodes, leases) = (nodes.clone(), leases.clone());
            let index = config.first + offset;
            let name = fleet.name(index);
            let zone = config.zones[(index % config.zones.len() as u64) as usize].clone();
            let body = objects::node(
                &name,
                index,
                machine(config, index),
                &zone,
                config.max_pods,
                &heartbeat::seconds_now(),
            );
            async move {
                let node: Node =
                    serde_json::from_value(body).map_err(|e| SimError::Config(e.to_string()))?;
                let uid = match nodes.create(&PostParams::default(), &node).await {
                    Ok(created) => created.metadata.uid,
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        // Taken over: report its status at once, as a restarted kubelet does.
                        let now = heartbeat::seconds_now();
                        let patch = objects::node_status_patch(&now, &now);
                        let params = kube::api::PatchParams::default();
                        nodes
                            .patch_status(&name, &params, &kube::api::Patch::Strategic(&patch))
                            .await
                            .map_err(|error| SimError::Register {
                                node: name.clone(),
                                error,
                            })?;
                        None
                    }
                    Err(error) => return Err(SimError::Register { node: name, error }),
                };
                let lease = objects::lease(
                    &name,
                    uid.as_deref(),
                    k8s_openapi::jiff::Timestamp::now(),
                    config.lease_duration_secs,
                );
                match leases.create(&PostParams::default(), &lease).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(error) => return Err(SimError::Register { node: name, error }),
                }
                Ok(offset)
            }
        })
        .buffer_unordered(config.clients.max(1));
    futures::pin_mut!(results);
    while let Some(result) = results.next().await {
        let offset = result?;
        fleet.registered[offset as usize].store(true, ORDER);
        counters.registered.fetch_add(1, ORDER);
    }
    Ok(())
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;

//! Which controllers run, and when: with leader election on, only while this process holds
//! the `kube-system/kube-controller-manager` Lease; each time it gains the Lease it starts
//! fresh informers and controllers, and when it loses it, it stops them.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, ReplicationController, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use tokio::sync::watch;

use crate::deployment::DeploymentController;
use crate::endpoints::{EndpointsController, EndpointsInformers};
use crate::garbagecollector::GarbageCollector;
use crate::job::JobController;
use crate::nodelifecycle::{MonitorTimes, NodeLifecycleController};
use crate::podgc::PodGc;
use crate::replicaset::{ReplicaSetController, ReplicationControllerController};
use crate::runtime::controller;
use crate::runtime::informer::{Informer, ObjectKey};
use crate::runtime::leader::{self, LeaderConfig};
use crate::runtime::metrics::Metrics;
use crate::runtime::queue::WorkQueue;
use crate::ttlafterfinished::TtlAfterFinished;

pub const LEASE_NAMESPACE: &str = "kube-system";
pub const LEASE_NAME: &str = "kube-controller-manager";

/// The client a controller writes with, by the controller's ServiceAccount name in
/// `kube-system` (`replicaset-controller`...): in-process, each acts as its own account, as
/// kube-controller-manager's `--use-service-account-credentials`; remotely, one client for all.
pub type ClientFor = Arc<dyn Fn(&str) -> kube::Client + Send + Sync>;

#[derive(Clone)]
pub struct Options {
    /// This process's identity in the Lease (`<hostname>_<random>`).
    pub identity: String,
    /// Off: run the controllers at once, whatever other processes do (one server).
    pub leader_election: bool,
    /// Workers per controller (upstream's `--concurrent-*-syncs`, 5 by default).
    pub workers: usize,
    pub client_for: ClientFor,
    /// Where the running controllers' metrics are kept (the server's `/metrics` reads it).
    pub metrics: Arc<Metrics>,
    /// Node lifecycle's monitor period and grace period.
    pub node_monitor: MonitorTimes,
}

/// What runs while this process leads.
struct Running {
    informers: Vec<Arc<dyn Stoppable>>,
    queues: Vec<Arc<WorkQueue<ObjectKey>>>,
    /// The garbage collector, once discovery has told it what to watch.
    collector: Arc<parking_lot::Mutex<Option<Arc<GarbageCollector>>>>,
    /// Ends the periodic passes (pod GC).
    stop_passes: watch::Sender<bool>,
}

impl Running {
    /// Informers read with `client` (the manager's identity may list and watch everything);
    /// controllers write with their own clients.
    fn start(client: &kube::Client, options: &Options) -> Running {
        let workers = options.workers;
        let pods = Informer::start(Api::<Pod>::all(client.clone()));
        let replicasets = Informer::start(Api::<ReplicaSet>::all(client.clone()));
        let rs = ReplicaSetController::new(
            (options.client_for)("replicaset-controller"),
            Arc::clone(&replicasets),
            Arc::clone(&pods),
        );
        let metrics = &options.metrics;
        let stats = metrics.register("replicaset", &rs.queue);
        controller::spawn(Arc::clone(&rs), Arc::clone(&rs.queue), workers, stats);
        let rcs = Informer::start(Api::<ReplicationController>::all(client.clone()));
        let rc = ReplicationControllerController::new(
            (options.client_for)("replication-controller"),
            Arc::clone(&rcs),
            Arc::clone(&pods),
        );
        let stats = metrics.register("replicationcontroller", &rc.queue);
        controller::spawn(Arc::clone(&rc), Arc::clone(&rc.queue), workers, stats);
        let deployments = Informer::start(Api::<Deployment>::all(client.clone()));
        let deploy = DeploymentController::new(
            (options.client_for)("deployment-controller"),
            Arc::clone(&deployments),
            Arc::clone(&replicasets),
            Arc::clone(&pods),
        );
        let stats = metrics.register("deployment", &deploy.queue);
        controller::spawn(
            Arc::clone(&deploy),
            Arc::clone(&deploy.queue),
            workers,
            stats,
        );
        let jobs = Informer::start(Api::<Job>::all(client.clone()));
        let job = JobController::new(
            (options.client_for)("job-controller"),
            Arc::clone(&jobs),
            Arc::clone(&pods),
        );
        let stats = metrics.register("job", &job.queue);
        controller::spawn(Arc::clone(&job), Arc::clone(&job.queue), workers, stats);
        let ttl = TtlAfterFinished::new(
            (options.client_for)("ttl-after-finished-controller"),
            Arc::clone(&jobs),
        );
        let stats = metrics.register("ttlafterfinished", &ttl.queue);
        controller::spawn(Arc::clone(&ttl), Arc::clone(&ttl.queue), workers, stats);
        let nodes = Informer::start(Api::<Node>::all(client.clone()));
        let (stop_passes, passes_stopped) = watch::channel(false);
        PodGc::start(
            (options.client_for)("pod-garbage-collector"),
            Arc::clone(&pods),
            Arc::clone(&nodes),
            passes_stopped,
        );
        let leases = Informer::start(Api::<Lease>::namespaced(client.clone(), "kube-node-lease"));
        let lifecycle = NodeLifecycleController::new(
            (options.client_for)("node-controller"),
            Arc::clone(&nodes),
            Arc::clone(&leases),
            Arc::clone(&pods),
            options.node_monitor,
        );
        let stats = metrics.register("nodelifecycle", &lifecycle.queue);
        controller::spawn(
            Arc::clone(&lifecycle),
            Arc::clone(&lifecycle.queue),
            workers,
            stats,
        );
        let services = Informer::start(Api::<Service>::all(client.clone()));
        let endpoints = Informer::start(Api::<Endpoints>::all(client.clone()));
        let slices = Informer::start(Api::<EndpointSlice>::all(client.clone()));
        let endpoints_controller = EndpointsController::new(
            (options.client_for)("endpoint-controller"),
            (options.client_for)("endpointslice-controller"),
            EndpointsInformers {
                services: Arc::clone(&services),
                pods: Arc::clone(&pods),
                nodes: Arc::clone(&nodes),
                endpoints: Arc::clone(&endpoints),
                slices: Arc::clone(&slices),
            },
        );
        let stats = metrics.register("endpoints", &endpoints_controller.queue);
        let queue = Arc::clone(&endpoints_controller.queue);
        controller::spawn(Arc::clone(&endpoints_controller), queue, workers, stats);
        let collector = Arc::new(parking_lot::Mutex::new(None));
        let slot = Arc::clone(&collector);
        let (reader, writer) = (
            client.clone(),
            (options.client_for)("generic-garbage-collector"),
        );
        let gc_metrics = Arc::clone(metrics);
        tokio::spawn(async move {
            loop {
                match GarbageCollector::start(writer.clone(), reader.clone()).await {
                    Ok(gc) => {
                        let stats = gc_metrics.register("garbagecollector", &gc.queue);
                        controller::spawn(Arc::clone(&gc), Arc::clone(&gc.queue), workers, stats);
                        *slot.lock() = Some(gc);
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "garbage collector discovery");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Running {
            informers: vec![
                pods,
                replicasets,
                rcs,
                deployments,
                nodes,
                leases,
                services,
                endpoints,
                slices,
                jobs,
            ],
            queues: vec![
                Arc::clone(&rs.queue),
                Arc::clone(&rc.queue),
                Arc::clone(&deploy.queue),
                Arc::clone(&lifecycle.queue),
                Arc::clone(&endpoints_controller.queue),
                Arc::clone(&job.queue),
                Arc::clone(&ttl.queue),
            ],
            stop_passes,
            collector,
        }
    }

    fn stop(self, metrics: &Metrics) {
        metrics.clear();
        self.stop_passes.send_replace(true);
        for queue in &self.queues {
            queue.shut_down();
        }
        for informer in &self.informers {
            informer.stop_informer();
        }
        if let Some(gc) = self.collector.lock().take() {
            gc.queue.shut_down();
            gc.stop();
        }
    }
}

/// An informer of any kind, to stop it.
trait Stoppable: Send + Sync {
    fn stop_informer(&self);
}

impl<K: Send + Sync> Stoppable for Informer<K> {
    fn stop_informer(&self) {
        self.stop();
    }
}

/// Runs the controllers until `shutdown` resolves.
pub async fn run(client: kube::Client, options: Options, shutdown: impl Future<Output = ()>) {
    let (leading_tx, mut leading) = watch::channel(!options.leader_election);
    // Without an election the sender stays here: a closed channel would read as "stopped".
    let _always_leading = if options.leader_election {
        let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
        let config = LeaderConfig::new(LEASE_NAMESPACE, LEASE_NAME, &options.identity);
        tokio::spawn(leader::run(api, config, leading_tx));
        None
    } else {
        Some(leading_tx)
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            changed = leading.wait_for(|l| *l) => {
                if changed.is_err() {
                    return;
                }
            }
            () = &mut shutdown => return,
        }
        tracing::info!(identity = %options.identity, "leading: starting controllers");
        let running = Running::start(&client, &options);
        tokio::select! {
            _ = leading.wait_for(|l| !*l) => {
                tracing::warn!(identity = %options.identity, "lost the lease: stopping controllers");
                running.stop(&options.metrics);
            }
            () = &mut shutdown => {
                running.stop(&options.metrics);
                return;
            }
        }
    }
}

//! Which controllers run, and when: with leader election on, only while this process holds
//! the `kube-system/kube-controller-manager` Lease; each time it gains the Lease it starts
//! fresh informers and controllers (their workers once every informer has listed), and when
//! it loses it, it stops them.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    Endpoints, Namespace, Node, PersistentVolumeClaim, Pod, ReplicationController, Service,
    ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{IPAddress, ServiceCIDR};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use tokio::sync::watch;

use crate::certificates::{CsrApprover, CsrSigner, SigningCa, start_cleaner};
use crate::cronjob::CronJobController;
use crate::daemonset::DaemonSetController;
use crate::deployment::DeploymentController;
use crate::disruption::{DisruptionController, DisruptionInformers, StalePodDisruption};
use crate::endpoints::{EndpointsController, EndpointsInformers};
use crate::garbagecollector::GarbageCollector;
use crate::job::JobController;
use crate::namespace::NamespaceController;
use crate::nodelifecycle::{MonitorTimes, NodeLifecycleController};
use crate::podautoscaler::HorizontalController;
use crate::podgc::PodGc;
use crate::replicaset::{ReplicaSetController, ReplicationControllerController};
use crate::rootcapublisher::RootCaPublisher;
use crate::runtime::controller::{self, Reconciler};
use crate::runtime::informer::{CHUNK, Informer, ObjectKey};
use crate::runtime::leader::{self, LeaderConfig};
use crate::runtime::metrics::Metrics;
use crate::runtime::queue::WorkQueue;
use crate::serviceaccount::ServiceAccountController;
use crate::statefulset::{StatefulSetController, StatefulSetInformers};
use crate::nodeipam::NodeIpam;
use crate::servicecidrs::ServiceCidrController;
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
    /// Which controllers run.
    pub controllers: Selection,
    /// The CA bundle (PEM) published in every namespace as `kube-root-ca.crt`.
    pub root_ca: Option<String>,
    /// The CA the CSR signer issues with; without it the signer does not run.
    pub signing_ca: Option<SigningCa>,
    /// Off: informers hand events to handlers one at a time and workers take one key per
    /// wake-up, as client-go does (`bench controllers` compares both).
    pub batching: bool,
    /// The VPC prefix IPAM configuration; `None`: node IPAM does not run (upstream's
    /// `--allocate-node-cidrs=false`).
    pub node_ipam: Option<ultrak8s_netalloc::prefix::PrefixConfig>,
    /// How often each HorizontalPodAutoscaler is synced (upstream's
    /// `--horizontal-pod-autoscaler-sync-period`, [`crate::podautoscaler::DEFAULT_SYNC_PERIOD`]).
    pub hpa_sync_period: std::time::Duration,
}

/// Every controller by the name `--controllers` and the metrics use.
pub const CONTROLLERS: &[&str] = &[
    "replicaset",
    "replicationcontroller",
    "deployment",
    "statefulset",
    "daemonset",
    "job",
    "ttlafterfinished",
    "cronjob",
    "horizontalpodautoscaling",
    "disruption",
    "csrapproving",
    "csrsigning",
    "csrcleaner",
    "podgc",
    "nodelifecycle",
    "nodeipam",
    "endpoints",
    "service-cidr-controller",
    "garbagecollector",
    "namespace",
    "serviceaccount",
    "root-ca-cert-publisher",
];

/// Which controllers run: upstream's `--controllers` syntax, `*` for all, a name to add
/// one, `-name` to leave one out (`*,-podgc`); an empty list runs none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    all: bool,
    on: BTreeSet<String>,
    off: BTreeSet<String>,
}

impl Selection {
    pub fn all() -> Selection {
        Selection {
            all: true,
            on: BTreeSet::new(),
            off: BTreeSet::new(),
        }
    }

    pub fn none() -> Selection {
        Selection {
            all: false,
            on: BTreeSet::new(),
            off: BTreeSet::new(),
        }
    }

    /// Parses a comma-separated list; unknown names are refused with the known ones.
    pub fn parse(spec: &str) -> Result<Selection, String> {
        let mut selection = Selection::none();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "*" {
                selection.all = true;
                continue;
            }
            let (set, name) = match item.strip_prefix('-') {
                Some(name) => (&mut selection.off, name),
                None => (&mut selection.on, item),
            };
            if !CONTROLLERS.contains(&name) {
                return Err(format!(
                    "unknown controller {name:?}; known: {}",
                    CONTROLLERS.join(", ")
                ));
            }
            set.insert(name.to_owned());
        }
        Ok(selection)
    }

    pub fn enabled(&self, name: &str) -> bool {
        !self.off.contains(name) && (self.all || self.on.contains(name))
    }
}

/// Shared informers, each started by the first controller that needs it.
struct Informers {
    client: kube::Client,
    /// Events per handler call.
    chunk: usize,
    metrics: Arc<Metrics>,
    started: Vec<Arc<dyn Stoppable>>,
    pods: Option<Arc<Informer<Pod>>>,
    nodes: Option<Arc<Informer<Node>>>,
    replicasets: Option<Arc<Informer<ReplicaSet>>>,
    jobs: Option<Arc<Informer<Job>>>,
    namespaces: Option<Arc<Informer<Namespace>>>,
    deployments: Option<Arc<Informer<Deployment>>>,
    replication_controllers: Option<Arc<Informer<ReplicationController>>>,
    stateful_sets: Option<Arc<Informer<StatefulSet>>>,
    controller_revisions: Option<Arc<Informer<ControllerRevision>>>,
}

impl Informers {
    fn start<K>(&mut self, api: Api<K>) -> Arc<Informer<K>>
    where
        K: kube::core::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
        K: Send + Sync + 'static,
    {
        let informer = Informer::start_chunked(api, self.chunk);
        self.metrics
            .register_informer(K::plural(&()).into_owned(), informer.stats());
        self.started.push(Arc::clone(&informer) as Arc<dyn Stoppable>);
        informer
    }

    fn shared<K>(
        &mut self,
        slot: fn(&mut Informers) -> &mut Option<Arc<Informer<K>>>,
    ) -> Arc<Informer<K>>
    where
        K: kube::core::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned,
        K: std::fmt::Debug + Send + Sync + 'static,
    {
        if let Some(informer) = slot(self) {
            return Arc::clone(informer);
        }
        let informer = self.start(Api::<K>::all(self.client.clone()));
        *slot(self) = Some(Arc::clone(&informer));
        informer
    }

    fn pods(&mut self) -> Arc<Informer<Pod>> {
        self.shared(|i| &mut i.pods)
    }

    fn nodes(&mut self) -> Arc<Informer<Node>> {
        self.shared(|i| &mut i.nodes)
    }

    fn replicasets(&mut self) -> Arc<Informer<ReplicaSet>> {
        self.shared(|i| &mut i.replicasets)
    }

    fn jobs(&mut self) -> Arc<Informer<Job>> {
        self.shared(|i| &mut i.jobs)
    }

    fn namespaces(&mut self) -> Arc<Informer<Namespace>> {
        self.shared(|i| &mut i.namespaces)
    }

    fn deployments(&mut self) -> Arc<Informer<Deployment>> {
        self.shared(|i| &mut i.deployments)
    }

    fn replication_controllers(&mut self) -> Arc<Informer<ReplicationController>> {
        self.shared(|i| &mut i.replication_controllers)
    }

    fn stateful_sets(&mut self) -> Arc<Informer<StatefulSet>> {
        self.shared(|i| &mut i.stateful_sets)
    }

    fn controller_revisions(&mut self) -> Arc<Informer<ControllerRevision>> {
        self.shared(|i| &mut i.controller_revisions)
    }
}

/// What runs while this process leads.
struct Running {
    informers: Vec<Arc<dyn Stoppable>>,
    queues: Vec<Arc<WorkQueue<ObjectKey>>>,
    /// The garbage collector, once discovery has told it what to watch.
    collector: Arc<parking_lot::Mutex<Option<Arc<GarbageCollector>>>>,
    root_ca: Option<Arc<RootCaPublisher>>,
    /// Ends the periodic passes (pod GC).
    stop_passes: watch::Sender<bool>,
}

impl Running {
    /// Informers read with `client` (the manager's identity may list and watch everything);
    /// controllers write with their own clients.
    fn start(client: &kube::Client, options: &Options) -> Running {
        let workers = options.workers;
        let on = |name: &str| options.controllers.enabled(name);
        let metrics = &options.metrics;
        let writer = |account: &str| (options.client_for)(account);
        let mut informers = Informers {
            client: client.clone(),
            chunk: if options.batching { CHUNK } else { 1 },
            metrics: Arc::clone(&options.metrics),
            started: Vec::new(),
            pods: None,
            nodes: None,
            replicasets: None,
            jobs: None,
            namespaces: None,
            deployments: None,
            replication_controllers: None,
            stateful_sets: None,
            controller_revisions: None,
        };
        let mut queues = Vec::new();
        // Workers start once every informer has listed (upstream's `WaitForCacheSync`): a
        // controller acting on a cache that has not seen what exists would, say, make a
        // `default` ServiceAccount again and then miss its deletion.
        let mut pending = Vec::new();
        let mut run = |name: &'static str, reconciler: Arc<dyn Reconciler>, queue: &Arc<WorkQueue<ObjectKey>>| {
            let stats = metrics.register(name, queue);
            pending.push((reconciler, Arc::clone(queue), stats));
            queues.push(Arc::clone(queue));
        };
        if on("replicaset") {
            let rs = ReplicaSetController::new(
                writer("replicaset-controller"),
                informers.replicasets(),
                informers.pods(),
            );
            run("replicaset", rs.clone(), &rs.queue);
        }
        if on("replicationcontroller") {
            let rc = ReplicationControllerController::new(
                writer("replication-controller"),
                informers.replication_controllers(),
                informers.pods(),
            );
            run("replicationcontroller", rc.clone(), &rc.queue);
        }
        if on("deployment") {
            let deploy = DeploymentController::new(
                writer("deployment-controller"),
                informers.deployments(),
                informers.replicasets(),
                informers.pods(),
            );
            run("deployment", deploy.clone(), &deploy.queue);
        }
        if on("statefulset") {
            let statefulsets = StatefulSetController::new(
                writer("statefulset-controller"),
                StatefulSetInformers {
                    sets: informers.stateful_sets(),
                    pods: informers.pods(),
                    revisions: informers.controller_revisions(),
                    claims: informers.start(Api::<PersistentVolumeClaim>::all(client.clone())),
                },
            );
            run("statefulset", statefulsets.clone(), &statefulsets.queue);
        }
        if on("daemonset") {
            let daemonsets = informers.start(Api::<DaemonSet>::all(client.clone()));
            let ds = DaemonSetController::new(
                writer("daemon-set-controller"),
                daemonsets,
                informers.nodes(),
                informers.pods(),
                informers.controller_revisions(),
            );
            run("daemonset", ds.clone(), &ds.queue);
        }
        if on("job") {
            let job = JobController::new(writer("job-controller"), informers.jobs(), informers.pods());
            run("job", job.clone(), &job.queue);
        }
        if on("nodeipam")
            && let Some(config) = options.node_ipam.clone()
        {
            let ipam = NodeIpam::new(writer("node-controller"), config, informers.nodes(), informers.pods());
            run("nodeipam", ipam.clone(), &ipam.queue);
        }
        if on("service-cidr-controller") {
            let cidrs = ServiceCidrController::new(
                writer("service-cidrs-controller"),
                informers.start(Api::<ServiceCIDR>::all(client.clone())),
                informers.start(Api::<IPAddress>::all(client.clone())),
            );
            run("service-cidr-controller", cidrs.clone(), &cidrs.queue);
        }
        if on("ttlafterfinished") {
            let ttl = TtlAfterFinished::new(writer("ttl-after-finished-controller"), informers.jobs());
            run("ttlafterfinished", ttl.clone(), &ttl.queue);
        }
        if on("cronjob") {
            let cronjobs = informers.start(Api::<CronJob>::all(client.clone()));
            let cron = CronJobController::new(writer("cronjob-controller"), cronjobs, informers.jobs());
            run("cronjob", cron.clone(), &cron.queue);
        }
        if on("horizontalpodautoscaling") {
            let hpas = informers.start(Api::<HorizontalPodAutoscaler>::all(client.clone()));
            let hpa = HorizontalController::new(
                writer("horizontal-pod-autoscaler"),
                hpas,
                options.hpa_sync_period,
            );
            run("horizontalpodautoscaling", hpa.clone(), &hpa.queue);
        }
        if on("disruption") {
            let budgets = informers.start(Api::<PodDisruptionBudget>::all(client.clone()));
            let disruption = DisruptionController::new(
                writer("disruption-controller"),
                DisruptionInformers {
                    budgets,
                    pods: informers.pods(),
                    replication_controllers: informers.replication_controllers(),
                    replica_sets: informers.replicasets(),
                    deployments: informers.deployments(),
                    stateful_sets: informers.stateful_sets(),
                },
            );
            run("disruption", disruption.clone(), &disruption.queue);
            let stale = StalePodDisruption::new(writer("disruption-controller"), informers.pods());
            run("disruption-stale-pods", stale.clone(), &stale.queue);
        }
        let (stop_passes, passes_stopped) = watch::channel(false);
        let csr_controllers = ["csrapproving", "csrsigning", "csrcleaner"];
        if csr_controllers.iter().any(|c| on(c)) {
            let requests = informers.start(Api::<CertificateSigningRequest>::all(client.clone()));
            if on("csrapproving") {
                let approver = CsrApprover::new(writer("certificate-controller"), Arc::clone(&requests));
                run("csrapproving", approver.clone(), &approver.queue);
            }
            match (&options.signing_ca, on("csrsigning")) {
                (Some(ca), true) => {
                    match CsrSigner::new(writer("certificate-controller"), Arc::clone(&requests), ca) {
                        Ok(signer) => run("csrsigning", signer.clone(), &signer.queue),
                        Err(error) => tracing::error!(%error, "csrsigning: the signing CA is unusable; not running"),
                    }
                }
                (None, true) => tracing::warn!("csrsigning: no signing CA given; not running"),
                _ => {}
            }
            if on("csrcleaner") {
                start_cleaner(writer("certificate-controller"), requests, passes_stopped.clone());
            }
        }
        if on("podgc") {
            PodGc::start(
                writer("pod-garbage-collector"),
                informers.pods(),
                informers.nodes(),
                passes_stopped.clone(),
            );
        }
        if on("nodelifecycle") {
            let leases =
                informers.start(Api::<Lease>::namespaced(client.clone(), "kube-node-lease"));
            let lifecycle = NodeLifecycleController::new(
                writer("node-controller"),
                informers.nodes(),
                leases,
                informers.pods(),
                options.node_monitor,
            );
            run("nodelifecycle", lifecycle.clone(), &lifecycle.queue);
        }
        if on("endpoints") {
            let endpoints = EndpointsController::new(
                writer("endpoint-controller"),
                writer("endpointslice-controller"),
                EndpointsInformers {
                    services: informers.start(Api::<Service>::all(client.clone())),
                    pods: informers.pods(),
                    nodes: informers.nodes(),
                    endpoints: informers.start(Api::<Endpoints>::all(client.clone())),
                    slices: informers.start(Api::<EndpointSlice>::all(client.clone())),
                },
            );
            run("endpoints", endpoints.clone(), &endpoints.queue);
        }
        if on("namespace") {
            let namespaces = informers.namespaces();
            let controller = NamespaceController::new(writer("namespace-controller"), &namespaces);
            run("namespace", controller.clone(), &controller.queue);
        }
        if on("serviceaccount") {
            let accounts = informers.start(Api::<ServiceAccount>::all(client.clone()));
            let controller = ServiceAccountController::new(
                writer("service-account-controller"),
                informers.namespaces(),
                accounts,
            );
            run("serviceaccount", controller.clone(), &controller.queue);
        }
        let mut root_ca = None;
        match (&options.root_ca, on("root-ca-cert-publisher")) {
            (Some(ca), true) => {
                let publisher = RootCaPublisher::new(
                    writer("root-ca-cert-publisher"),
                    client.clone(),
                    ca.clone(),
                    informers.namespaces(),
                );
                run("root-ca-cert-publisher", publisher.clone(), &publisher.queue);
                root_ca = Some(publisher);
            }
            (None, true) => tracing::warn!("root-ca-cert-publisher: no root CA given; not running"),
            _ => {}
        }
        let collector = Arc::new(parking_lot::Mutex::new(None));
        if on("garbagecollector") {
            let slot = Arc::clone(&collector);
            let (reader, writer) = (client.clone(), writer("generic-garbage-collector"));
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
        }
        let batch = if options.batching { controller::BATCH } else { 1 };
        let started = informers.started.clone();
        let mut stopped = passes_stopped.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = futures::future::join_all(started.iter().map(|i| i.synced())) => {}
                // Lost the lease before the caches filled: nothing to start.
                _ = stopped.wait_for(|s| *s) => return,
            }
            for (reconciler, queue, stats) in pending {
                controller::spawn_batched(reconciler, queue, workers, batch, stats);
            }
        });
        Running {
            informers: informers.started,
            queues,
            stop_passes,
            collector,
            root_ca,
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
        if let Some(publisher) = &self.root_ca {
            publisher.stop();
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
    fn synced(&self) -> futures::future::BoxFuture<'_, ()>;
}

impl<K: Send + Sync> Stoppable for Informer<K> {
    fn stop_informer(&self) {
        self.stop();
    }

    fn synced(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(self.wait_synced())
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

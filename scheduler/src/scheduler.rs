//! The scheduler's I/O around the pure cycle (upstream `scheduler.go`, `schedule_one.go`,
//! `eventhandlers.go`):
//!
//! 1. Informers list and watch pods (non-terminal only), nodes, namespaces and
//!    PodDisruptionBudgets. Bound pods go to the cache, pending pods of our profiles to the
//!    queue; node and pod changes become cluster events that retry unschedulable pods.
//! 2. The scheduling loop runs on its own thread (the cycle is CPU work: Filter and Score
//!    run on the rayon pool): pop a pod, bring the snapshot up to date, run the cycle,
//!    assume the pod in the cache, Reserve, Permit.
//! 3. Binding runs as a task per pod: wait at Permit if asked, PreBind, Bind, PostBind. The
//!    loop goes on with the next pod at once; the cache already counts the assumed one.
//! 4. A pod that fits nowhere gets upstream's `PodScheduled=False` condition and a
//!    `FailedScheduling` event with the reasons counted per node; when preemption found room,
//!    the victims get a `DisruptionTarget` condition and are deleted, and the pod is
//!    nominated to the node.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::resource::v1::{DeviceClass, ResourceClaim, ResourceSlice};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use parking_lot::{Mutex, RwLock};
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use ultrak8s_controllers::runtime::events::{EventRecorder, EventType, reference_to};
use ultrak8s_controllers::runtime::informer::{Event, FieldSelected, Informer, ObjectKey};
use ultrak8s_controllers::runtime::leader::{self, LeaderConfig};

use crate::cache::Cache;
use crate::framework::events::{ActionType, EventResource};
use crate::framework::runtime::PermitOutcome;
use crate::framework::types::PodInfo;
use crate::framework::{
    ClusterEvent, Code, CycleState, Framework, PostFilterResult, Snapshot, Status, WaitingPods,
};
use crate::metrics::{Outcome, SchedulerMetrics};
use crate::plugins::DraListers;
use crate::plugins::default_selector::{Owners, default_selector};
use crate::plugins::volume_binding::VolumeListers;
use crate::plugins::{self, Shared, coscheduling::Gangs};
use crate::profiles::Profiles;
use crate::queue::{QueuedPod, SchedulingQueue};
use crate::schedule::{Cycle, Failure, rejecting_plugins};

type NamespaceLabels = HashMap<String, BTreeMap<String, String>>;

/// The Lease the scheduler's leader election uses (upstream's `kube-system/kube-scheduler`).
pub const LEASE_NAME: &str = "kube-scheduler";
pub const LEASE_NAMESPACE: &str = "kube-system";
/// Binding API calls in flight at most (pods waiting at Permit do not count).
const BINDS_IN_FLIGHT: usize = 512;

pub struct Options {
    pub identity: String,
    pub leader_election: bool,
    /// `schedulerName`s served, each with the default plugins.
    pub profiles: Vec<String>,
    /// `percentageOfNodesToScore`; `None`: adaptive.
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Pods of one signature reuse the last cycle's ranking (opportunistic batching).
    pub batching: bool,
    pub metrics: Arc<SchedulerMetrics>,
}

impl Options {
    pub fn new(identity: &str) -> Options {
        Options {
            identity: identity.to_owned(),
            leader_election: false,
            profiles: vec![crate::profiles::DEFAULT_SCHEDULER_NAME.to_owned()],
            percentage_of_nodes_to_score: None,
            batching: true,
            metrics: Arc::default(),
        }
    }
}

/// Runs the scheduler until `shutdown` resolves (with leader election, only while leading).
pub async fn run(client: kube::Client, options: Options, shutdown: impl Future<Output = ()>) {
    let (leading_tx, mut leading) = watch::channel(!options.leader_election);
    let _always_leading = if options.leader_election {
        let api = Api::namespaced(client.clone(), LEASE_NAMESPACE);
        let config = LeaderConfig::new(LEASE_NAMESPACE, LEASE_NAME, &options.identity);
        tokio::spawn(leader::run(api, config, leading_tx));
        None
    } else {
        Some(leading_tx)
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            changed = leading.wait_for(|l| *l) => if changed.is_err() { return },
            () = &mut shutdown => return,
        }
        tracing::info!(identity = %options.identity, "leading: starting the scheduler");
        let running = Running::start(&client, &options).await;
        tokio::select! {
            _ = leading.wait_for(|l| !*l) => {
                tracing::warn!(identity = %options.identity, "lost the lease: stopping the scheduler");
                running.stop();
            }
            () = &mut shutdown => {
                running.stop();
                return;
            }
        }
    }
}

#[path = "eventhandlers.rs"]
mod eventhandlers;

/// Everything the loop, the binding tasks and the informer handlers share.
struct Scheduler {
    client: kube::Client,
    batching: bool,
    cache: Mutex<Cache>,
    queue: Arc<SchedulingQueue>,
    profiles: Arc<Profiles>,
    gangs: Arc<Gangs>,
    /// Every namespace's labels, with a generation the loop compares to copy them only when
    /// they changed.
    namespaces: RwLock<(u64, Arc<NamespaceLabels>)>,
    recorder: EventRecorder,
    metrics: Arc<SchedulerMetrics>,
    binds: Semaphore,
    runtime: tokio::runtime::Handle,
}

struct Running {
    scheduler: Arc<Scheduler>,
    stops: Vec<Box<dyn Fn() + Send>>,
}

impl Running {
    async fn start(client: &kube::Client, options: &Options) -> Running {
        let pods = Informer::start(FieldSelected {
            api: Api::<Pod>::all(client.clone()),
            // Finished pods hold no resources (upstream's scheduler informer does the same).
            fields: "status.phase!=Succeeded,status.phase!=Failed".to_owned(),
        });
        let nodes = Informer::start(Api::<Node>::all(client.clone()));
        let namespaces = Informer::start(Api::<Namespace>::all(client.clone()));
        let pdbs = Informer::start(Api::<PodDisruptionBudget>::all(client.clone()));
        // Workloads that select pods, for default topology spreading.
        let services = Informer::start(Api::<Service>::all(client.clone()));
        let rcs = Informer::start(Api::<ReplicationController>::all(client.clone()));
        let rss = Informer::start(Api::<ReplicaSet>::all(client.clone()));
        let sss = Informer::start(Api::<StatefulSet>::all(client.clone()));
        let default_selector = {
            let (services, rcs, rss, sss) = (
                Arc::clone(&services),
                Arc::clone(&rcs),
                Arc::clone(&rss),
                Arc::clone(&sss),
            );
            Arc::new(move |pod: &Pod| {
                let namespace = pod.metadata.namespace.as_deref();
                let owners = Owners {
                    services: &services.list(namespace),
                    replication_controllers: &rcs.list(namespace),
                    replica_sets: &rss.list(namespace),
                    stateful_sets: &sss.list(namespace),
                };
                default_selector(pod, &owners)
            })
        };
        let claims = Informer::start(Api::<PersistentVolumeClaim>::all(client.clone()));
        let volumes = Informer::start(Api::<PersistentVolume>::all(client.clone()));
        let classes = Informer::start(Api::<StorageClass>::all(client.clone()));
        let volume_listers = {
            let (claims, volumes, classes) = (
                Arc::clone(&claims),
                Arc::clone(&volumes),
                Arc::clone(&classes),
            );
            Arc::new(VolumeListers {
                claim: Arc::new(move |ns, name| claims.get(&ObjectKey::new(Some(ns), name))),
                volume: Arc::new(move |name| volumes.get(&ObjectKey::new(None, name))),
                class: Arc::new(move |name| classes.get(&ObjectKey::new(None, name))),
            })
        };
        let resource_claims = Informer::start(Api::<ResourceClaim>::all(client.clone()));
        let slices = Informer::start(Api::<ResourceSlice>::all(client.clone()));
        let device_classes = Informer::start(Api::<DeviceClass>::all(client.clone()));
        let dra = {
            let (c1, c2, s, d) = (
                Arc::clone(&resource_claims),
                Arc::clone(&resource_claims),
                Arc::clone(&slices),
                Arc::clone(&device_classes),
            );
            DraListers {
                claim: Arc::new(move |ns, name| c1.get(&ObjectKey::new(Some(ns), name))),
                all_claims: Arc::new(move || c2.list(None)),
                slices: Arc::new(move || s.list(None)),
                classes: Arc::new(move |name| d.get(&ObjectKey::new(None, name))),
            }
        };
        let gangs = Arc::new(Gangs::default());
        let shared = Shared {
            client: client.clone(),
            gangs: Arc::clone(&gangs),
            pdbs: {
                let pdbs = Arc::clone(&pdbs);
                Arc::new(move || pdbs.list(None))
            },
            default_selector,
            volumes: volume_listers,
            dra,
            percentage_of_nodes_to_score: options.percentage_of_nodes_to_score,
        };
        let profiles = Arc::new(Profiles::new(
            options
                .profiles
                .iter()
                .map(|name| Arc::new(plugins::default_profile(name, &shared))),
        ));
        let queue = Arc::new(SchedulingQueue::new(Arc::clone(&profiles)));
        let scheduler = Arc::new(Scheduler {
            client: client.clone(),
            batching: options.batching,
            cache: Mutex::new(Cache::new()),
            queue: Arc::clone(&queue),
            profiles,
            gangs,
            namespaces: RwLock::new((0, Arc::default())),
            recorder: EventRecorder::new(client.clone(), "default-scheduler"),
            metrics: Arc::clone(&options.metrics),
            binds: Semaphore::new(BINDS_IN_FLIGHT),
            runtime: tokio::runtime::Handle::current(),
        });
        futures::join!(
            pdbs.wait_synced(),
            services.wait_synced(),
            rcs.wait_synced(),
            rss.wait_synced(),
            sss.wait_synced(),
            claims.wait_synced(),
            volumes.wait_synced(),
            classes.wait_synced(),
            resource_claims.wait_synced(),
            slices.wait_synced(),
            device_classes.wait_synced(),
        );
        // A claim bound, a volume created, a class added: pods waiting on them retry.
        for (informer_events, resource, label) in [
            (
                &claims as &dyn Watched,
                EventResource::PersistentVolumeClaim,
                "PvcChange",
            ),
            (
                &volumes as &dyn Watched,
                EventResource::PersistentVolume,
                "PvChange",
            ),
            (
                &classes as &dyn Watched,
                EventResource::StorageClass,
                "StorageClassChange",
            ),
            (
                &resource_claims as &dyn Watched,
                EventResource::ResourceClaim,
                "ResourceClaimChange",
            ),
            (
                &slices as &dyn Watched,
                EventResource::ResourceSlice,
                "ResourceSliceChange",
            ),
            (
                &device_classes as &dyn Watched,
                EventResource::DeviceClass,
                "DeviceClassChange",
            ),
        ] {
            let queue = Arc::clone(&scheduler.queue);
            informer_events.on_change(Box::new(move || {
                let event =
                    ClusterEvent::new(resource, ActionType::ADD.or(ActionType::UPDATE), label);
                queue.on_event(&event, Instant::now());
            }));
        }
        {
            let s = Arc::clone(&scheduler);
            namespaces.add_handler(move |events| s.on_namespaces(events));
        }
        {
            let s = Arc::clone(&scheduler);
            nodes.add_handler(move |events| s.on_nodes(events));
        }
        {
            let s = Arc::clone(&scheduler);
            pods.add_handler(move |events| s.on_pods(events));
        }
        // Pending pods are scheduled once the nodes and the bound pods are known (upstream
        // waits for its informers to sync before the first cycle).
        futures::join!(
            pods.wait_synced(),
            nodes.wait_synced(),
            namespaces.wait_synced()
        );
        let looping = Arc::clone(&scheduler);
        let spawned = std::thread::Builder::new()
            .name("scheduling-loop".into())
            .spawn(move || looping.scheduling_loop());
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the scheduling loop");
        }
        let stops: Vec<Box<dyn Fn() + Send>> = vec![
            Box::new(move || pods.stop()),
            Box::new(move || nodes.stop()),
            Box::new(move || namespaces.stop()),
            Box::new(move || pdbs.stop()),
            Box::new(move || services.stop()),
            Box::new(move || rcs.stop()),
            Box::new(move || rss.stop()),
            Box::new(move || sss.stop()),
            Box::new(move || claims.stop()),
            Box::new(move || volumes.stop()),
            Box::new(move || classes.stop()),
            Box::new(move || resource_claims.stop()),
            Box::new(move || slices.stop()),
            Box::new(move || device_classes.stop()),
        ];
        Running { scheduler, stops }
    }

    fn stop(self) {
        self.scheduler.queue.close();
        for stop in &self.stops {
            stop();
        }
    }
}

/// An informer whose changes only matter as "something changed" (volumes, claims, classes).
trait Watched {
    fn on_change(&self, changed: Box<dyn Fn() + Send + Sync>);
}

impl<K> Watched for Arc<Informer<K>>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    fn on_change(&self, changed: Box<dyn Fn() + Send + Sync>) {
        self.add_handler(move |_events: &[Event<K>]| changed());
    }
}

fn is_bound(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

impl Scheduler {
    /// The scheduling loop: one pod at a time, until the queue closes.
    fn scheduling_loop(self: Arc<Self>) {
        let mut snapshot = Snapshot::default();
        let mut namespaces_seen = u64::MAX;
        let mut cycle = Cycle::default();
        cycle.batching = self.batching;
        let mut counted = Instant::now();
        while let Some(pod) = self.queue.pop() {
            // Counting walks the queue: once a second, not per pod.
            if counted.elapsed() >= Duration::from_secs(1) {
                self.metrics.set_pending(self.queue.counts());
                counted = Instant::now();
            }
            let Some(framework) = self.profiles.for_pod(&pod.info.pod).cloned() else {
                self.queue.done(&pod.info.uid);
                continue;
            };
            if pod.info.pod.metadata.deletion_timestamp.is_some() {
                self.queue.done(&pod.info.uid);
                continue;
            }
            {
                let mut cache = self.cache.lock();
                if cache.pod(&pod.info.uid).is_some() {
                    // Already placed (assumed, or its binding arrived first).
                    drop(cache);
                    self.queue.done(&pod.info.uid);
                    continue;
                }
                cache.update_snapshot(&mut snapshot);
            }
            let namespaces = self.namespaces.read();
            if namespaces.0 != namespaces_seen {
                namespaces_seen = namespaces.0;
                snapshot.namespace_labels = Arc::clone(&namespaces.1);
            }
            drop(namespaces);
            self.schedule_one(&framework, &mut cycle, pod, &snapshot);
        }
    }

    fn schedule_one(
        self: &Arc<Self>,
        framework: &Arc<Framework>,
        cycle: &mut Cycle,
        pod: QueuedPod,
        snapshot: &Snapshot,
    ) {
        let started = Instant::now();
        let mut state = CycleState::default();
        let decision = match cycle.schedule(framework, &mut state, &pod.info, snapshot) {
            Ok(decision) => decision,
            Err(failure) => {
                let outcome = match failure {
                    Failure::Error(_) => Outcome::Error,
                    Failure::Unschedulable { .. } => Outcome::Unschedulable,
                };
                self.metrics.attempt(outcome, started.elapsed());
                return self.failed(framework, pod, Verdict::of(failure));
            }
        };
        let node = decision.node;
        if let Err(error) = self.cache.lock().assume_pod(Arc::clone(&pod.info), &node) {
            tracing::debug!(pod = %pod.info.key, ?error, "not assumed");
            self.queue.done(&pod.info.uid);
            return;
        }
        self.gangs.placed(&pod.info.pod);
        let status = framework.run_reserve(&mut state, &pod.info, &node);
        if !status.is_success() {
            self.forget(&pod.info);
            self.metrics.attempt(Outcome::Error, started.elapsed());
            return self.failed(framework, pod, Verdict::of_status(status));
        }
        let permit = match framework.run_permit(&state, &pod.info, &node, snapshot) {
            PermitOutcome::Allowed => None,
            PermitOutcome::Wait { verdict, timeout } => Some((verdict, timeout)),
            PermitOutcome::Rejected(status) => {
                framework.run_unreserve(&state, &pod.info, &node);
                self.forget(&pod.info);
                self.metrics
                    .attempt(Outcome::Unschedulable, started.elapsed());
                return self.failed(framework, pod, Verdict::of_status(status));
            }
        };
        self.metrics.attempt(Outcome::Scheduled, started.elapsed());
        let this = Arc::clone(self);
        let framework = Arc::clone(framework);
        self.runtime.spawn(async move {
            this.binding_cycle(framework, state, pod, node, permit)
                .await;
        });
    }

    fn forget(&self, pod: &PodInfo) {
        self.cache.lock().forget_pod(&pod.uid);
        self.gangs.unplaced(&pod.pod);
    }

    async fn binding_cycle(
        self: Arc<Self>,
        framework: Arc<Framework>,
        state: CycleState,
        pod: QueuedPod,
        node: String,
        permit: Option<(tokio::sync::oneshot::Receiver<Status>, Duration)>,
    ) {
        let mut status = Status::success();
        if let Some((verdict, timeout)) = permit {
            status = framework.wait_on_permit(&pod.info, verdict, timeout).await;
        }
        if status.is_success() {
            let _permit = self.binds.acquire().await;
            status = framework.run_pre_bind(&state, &pod.info, &node).await;
            if status.is_success() {
                status = framework.run_bind(&state, &pod.info, &node).await;
            }
        }
        if !status.is_success() {
            framework.run_unreserve(&state, &pod.info, &node);
            self.forget(&pod.info);
            return self.failed(&framework, pod, Verdict::of_status(status));
        }
        self.queue.done(&pod.info.uid);
        self.metrics.bound(pod.initial.elapsed());
        framework.run_post_bind(&state, &pod.info, &node).await;
        let message = format!("Successfully assigned {} to {node}", pod.info.key);
        self.recorder
            .record(
                &reference_to(&*pod.info.pod),
                EventType::Normal,
                "Scheduled",
                &message,
            )
            .await;
    }

    /// Requeues the pod and tells its user why (asynchronously: the loop goes on).
    fn failed(self: &Arc<Self>, framework: &Framework, pod: QueuedPod, verdict: Verdict) {
        if verdict.error {
            tracing::info!(pod = %pod.info.key, error = %verdict.message, "scheduling error");
        }
        let info = Arc::clone(&pod.info);
        self.queue.requeue(
            pod,
            verdict.rejected,
            verdict.pending,
            verdict.error,
            Instant::now(),
        );
        let this = Arc::clone(self);
        let scheduler_name = framework.scheduler_name.clone();
        let waiting = Arc::clone(&framework.waiting);
        self.runtime.spawn(async move {
            let nominated = match verdict.preemption {
                Some(result) => this.preempt(&scheduler_name, &waiting, &info, result).await,
                None => None,
            };
            let reason = if verdict.error {
                "SchedulerError"
            } else {
                "Unschedulable"
            };
            this.report_failure(&info, reason, &verdict.message, nominated)
                .await;
        });
    }

    /// Deletes the victims (each first marked with a `DisruptionTarget` condition, as
    /// upstream) and returns the node the pod is nominated to.
    async fn preempt(
        &self,
        scheduler_name: &str,
        waiting: &WaitingPods,
        pod: &PodInfo,
        result: PostFilterResult,
    ) -> Option<String> {
        self.metrics.preempted(result.victims.len());
        for victim in &result.victims {
            if victim.pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            // A victim still waiting at Permit holds only a reservation: rejecting it frees
            // the node without touching the API (upstream `prepareCandidate`).
            if waiting.contains(&victim.uid) {
                waiting.reject(&victim.uid, "DefaultPreemption", "preempted");
                continue;
            }
            let api: Api<Pod> = Api::namespaced(self.client.clone(), victim.namespace());
            let condition = json!({"status": {"conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "PreemptionByScheduler",
                "message": format!("{scheduler_name}: preempting to accommodate a higher priority pod"),
                "lastTransitionTime": Timestamp::now().to_string(),
            }]}});
            if let Err(error) = api
                .patch_status(
                    victim.name(),
                    &PatchParams::default(),
                    &Patch::Strategic(condition),
                )
                .await
            {
                tracing::debug!(victim = %victim.key, %error, "DisruptionTarget not set");
            }
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(victim.uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(victim.name(), &params).await {
                Ok(_) => {
                    let message = format!(
                        "Preempted by pod {} on node {}",
                        pod.uid, result.nominated_node
                    );
                    self.recorder
                        .record(
                            &reference_to(&*victim.pod),
                            EventType::Normal,
                            "Preempted",
                            &message,
                        )
                        .await;
                }
                Err(error) => {
                    tracing::info!(victim = %victim.key, %error, "preemption victim not deleted");
                    return None;
                }
            }
        }
        Some(result.nominated_node)
    }

    /// `PodScheduled=False` with the reason, and a `FailedScheduling` event; the condition is
    /// written only when it changes (a pod retried every few seconds would otherwise rewrite
    /// it each time).
    async fn report_failure(
        &self,
        pod: &PodInfo,
        reason: &str,
        message: &str,
        nominated: Option<String>,
    ) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.namespace());
        let current = pod.pod.status.as_ref();
        let unchanged = current
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
            .is_some_and(|c| {
                c.status == "False"
                    && c.reason.as_deref() == Some(reason)
                    && c.message.as_deref() == Some(message)
            });
        let nominated_unchanged = nominated.is_none()
            || current.and_then(|s| s.nominated_node_name.as_ref()) == nominated.as_ref();
        if !(unchanged && nominated_unchanged) {
            let mut status = json!({"conditions": [{
                "type": "PodScheduled",
                "status": "False",
                "reason": reason,
                "message": message,
                "lastTransitionTime": Timestamp::now().to_string(),
            }]});
            if let Some(node) = &nominated {
                status["nominatedNodeName"] = json!(node);
            }
            if let Err(error) = api
                .patch_status(
                    pod.name(),
                    &PatchParams::default(),
                    &Patch::Strategic(json!({"status": status})),
                )
                .await
            {
                tracing::debug!(pod = %pod.key, %error, "PodScheduled condition not written");
            }
        }
        self.recorder
            .record(
                &reference_to(&*pod.pod),
                EventType::Warning,
                "FailedScheduling",
                message,
            )
            .await;
    }
}

/// Why an attempt failed, as the queue and the pod's user need it.
struct Verdict {
    message: String,
    /// Retried with backoff, not on events.
    error: bool,
    rejected: HashSet<&'static str>,
    pending: HashSet<&'static str>,
    preemption: Option<PostFilterResult>,
}

impl Verdict {
    fn of(failure: Failure) -> Verdict {
        let (rejected, pending) = rejecting_plugins(&failure);
        match failure {
            Failure::Error(status) => Verdict {
                message: status.message(),
                error: true,
                rejected,
                pending,
                preemption: None,
            },
            Failure::Unschedulable {
                diagnosis,
                preemption,
            } => Verdict {
                message: diagnosis.message(),
                error: false,
                rejected,
                pending,
                preemption,
            },
        }
    }

    /// A rejection at Reserve or Permit, or a failed binding: rejections wait for an event
    /// like any unschedulable pod, errors back off.
    fn of_status(status: Status) -> Verdict {
        Verdict {
            message: status.message(),
            error: status.code == Code::Error,
            rejected: HashSet::from([status.plugin]),
            pending: HashSet::new(),
            preemption: None,
        }
    }
}

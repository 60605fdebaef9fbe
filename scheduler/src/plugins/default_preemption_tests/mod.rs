//! Tables after upstream's `default_preemption_test.go` (TestPostFilter, TestDryRunPreemption,
//! TestSelectBestCandidate, TestPodEligibleToPreemptOthers, TestPreempt), run on a real
//! [`Framework`] with test-only plugins: a resource fit (cpu, memory, pod count), a plugin
//! whose PreFilter extensions fail on nodes labelled `error=true`, and an anti-affinity-like
//! plugin that keeps per-node counts in the cycle state (to check the state copies).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Container, Node, NodeStatus, Pod, PodCondition, PodSpec, PodStatus, ResourceRequirements,
};
use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::framework::{FilterPlugin, PreFilterPlugin, PreFilterResult, Resource, WaitingPods};

const NEG: i32 = -100;
const LOW: i32 = 0;
const MID: i32 = 100;
const HIGH: i32 = 1000;
const VERY_HIGH: i32 = 10000;

// Requests as upstream's tables: (milli cpu, memory bytes).
const SMALL: (i64, i64) = (100, 100);
const MEDIUM: (i64, i64) = (200, 200);
const LARGE: (i64, i64) = (300, 300);
const VERY_LARGE: (i64, i64) = (500, 500);

// ---------------------------------------------------------------------------------------
// Builders.

#[derive(Clone, Default)]
struct P {
    name: &'static str,
    namespace: &'static str,
    node: Option<&'static str>,
    priority: Option<i32>,
    req: Option<(i64, i64)>,
    labels: Vec<(&'static str, &'static str)>,
    start: Option<i128>,
    terminating: bool,
    preempted: bool,
    nominated: Option<&'static str>,
    never: bool,
}

fn pod(name: &'static str) -> P {
    P {
        name,
        namespace: "default",
        ..Default::default()
    }
}

impl P {
    fn node(mut self, n: &'static str) -> Self {
        self.node = Some(n);
        self
    }
    fn prio(mut self, p: i32) -> Self {
        self.priority = Some(p);
        self
    }
    fn req(mut self, r: (i64, i64)) -> Self {
        self.req = Some(r);
        self
    }
    fn label(mut self, k: &'static str, v: &'static str) -> Self {
        self.labels.push((k, v));
        self
    }
    fn start(mut self, nanos: i128) -> Self {
        self.start = Some(nanos);
        self
    }
    /// Being deleted, not by preemption.
    fn terminating(mut self) -> Self {
        self.terminating = true;
        self
    }
    /// Being deleted because the scheduler preempted it.
    fn preempted(mut self) -> Self {
        self.terminating = true;
        self.preempted = true;
        self
    }
    fn nominated(mut self, n: &'static str) -> Self {
        self.nominated = Some(n);
        self
    }
    fn never(mut self) -> Self {
        self.never = true;
        self
    }

    fn build(&self) -> Pod {
        let requests = self.req.map(|(cpu, mem)| {
            BTreeMap::from([
                ("cpu".to_string(), Quantity(format!("{cpu}m"))),
                ("memory".to_string(), Quantity(mem.to_string())),
            ])
        });
        Pod {
            metadata: ObjectMeta {
                name: Some(self.name.into()),
                namespace: Some(self.namespace.into()),
                uid: Some(format!("uid-{}", self.name)),
                labels: Some(
                    self.labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                deletion_timestamp: self.terminating.then_some(Time(Timestamp::UNIX_EPOCH)),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: self.node.map(Into::into),
                priority: self.priority,
                preemption_policy: self.never.then(|| "Never".to_string()),
                containers: vec![Container {
                    name: "c".into(),
                    resources: Some(ResourceRequirements {
                        requests,
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                start_time: self
                    .start
                    .map(|n| Time(Timestamp::from_nanosecond(n).unwrap_or(Timestamp::UNIX_EPOCH))),
                nominated_node_name: self.nominated.map(Into::into),
                conditions: self.preempted.then(|| {
                    vec![PodCondition {
                        type_: "DisruptionTarget".into(),
                        status: "True".into(),
                        reason: Some("PreemptionByScheduler".into()),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    fn info(&self) -> PodInfo {
        PodInfo::new(Arc::new(self.build()))
    }
}

#[derive(Clone)]
struct N {
    name: &'static str,
    res: (i64, i64),
    pods: i64,
    labels: Vec<(&'static str, &'static str)>,
}

fn node(name: &'static str, res: (i64, i64)) -> N {
    N {
        name,
        res,
        pods: 32,
        labels: Vec::new(),
    }
}

/// A node with room for exactly one pod (upstream's `onePodRes`).
fn one_pod_node(name: &'static str) -> N {
    N {
        name,
        res: (10_000, 10_000),
        pods: 1,
        labels: Vec::new(),
    }
}

impl N {
    fn label(mut self, k: &'static str, v: &'static str) -> Self {
        self.labels.push((k, v));
        self
    }
}

fn snapshot(nodes: &[N], pods: &[P]) -> Snapshot {
    let infos = nodes
        .iter()
        .map(|n| {
            let allocatable = BTreeMap::from([
                ("cpu".to_string(), Quantity(format!("{}m", n.res.0))),
                ("memory".to_string(), Quantity(n.res.1.to_string())),
                ("pods".to_string(), Quantity(n.pods.to_string())),
            ]);
            let mut info = NodeInfo::new(Arc::new(Node {
                metadata: ObjectMeta {
                    name: Some(n.name.into()),
                    labels: Some(
                        n.labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    ),
                    ..Default::default()
                },
                status: Some(NodeStatus {
                    allocatable: Some(allocatable),
                    ..Default::default()
                }),
                ..Default::default()
            }));
            for p in pods.iter().filter(|p| p.node == Some(n.name)) {
                info.add_pod(Arc::new(p.info()));
            }
            info
        })
        .collect();
    Snapshot::new(infos)
}

fn pdb(selector: &[(&str, &str)], allowed: i32, disrupted: &[&str]) -> Arc<PodDisruptionBudget> {
    Arc::new(PodDisruptionBudget {
        metadata: ObjectMeta {
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector {
                match_labels: Some(
                    selector
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: Some(PodDisruptionBudgetStatus {
            disruptions_allowed: allowed,
            disrupted_pods: Some(
                disrupted
                    .iter()
                    .map(|n| (n.to_string(), Time(Timestamp::UNIX_EPOCH)))
                    .collect(),
            ),
            ..Default::default()
        }),
    })
}

// ---------------------------------------------------------------------------------------
// Test-only plugins.

/// Fits when the node has room for one more pod and for the pod's cpu and memory requests
/// (what upstream's tables get from NodeResourcesFit), with its reasons.
struct FakeFit;

impl Plugin for FakeFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }
    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_filter.push(self.clone());
        points.filter.push(self);
    }
}

impl PreFilterPlugin for FakeFit {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (PreFilterResult, Status) {
        state.write("NodeResourcesFit", pod.requests.clone());
        (None, Status::success())
    }
}

impl FilterPlugin for FakeFit {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(req) = state.read::<Resource>("NodeResourcesFit") else {
            return Status::error("no PreFilter state");
        };
        let mut reasons = Vec::new();
        if node.pods.len() as i64 + 1 > node.allocatable.allowed_pod_number {
            reasons.push("Too many pods".to_string());
        }
        if req.milli_cpu > 0
            && node.allocatable.milli_cpu < req.milli_cpu + node.requested.milli_cpu
        {
            reasons.push("Insufficient cpu".to_string());
        }
        if req.memory > 0 && node.allocatable.memory < req.memory + node.requested.memory {
            reasons.push("Insufficient memory".to_string());
        }
        if reasons.is_empty() {
            Status::success()
        } else {
            Status {
                code: Code::Unschedulable,
                reasons,
                plugin: "",
            }
        }
    }
}

/// Upstream's `TestPlugin`: PreFilter extensions fail on nodes labelled `error=true`.
struct ErrorOnLabel;

impl Plugin for ErrorOnLabel {
    fn name(&self) -> &'static str {
        "test-plugin"
    }
    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_filter.push(self);
    }
}

fn labelled_error(node: &NodeInfo) -> bool {
    node.node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("error"))
        .is_some_and(|v| v == "true")
}

impl PreFilterPlugin for ErrorOnLabel {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        _: &PodInfo,
        _: &Snapshot,
    ) -> (PreFilterResult, Status) {
        (None, Status::success())
    }
    fn add_pod(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        if labelled_error(node) {
            return Status::error(format!("failed to add pod: {}", pod.name()));
        }
        Status::success()
    }
    fn remove_pod(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        if labelled_error(node) {
            return Status::error(format!("failed to remove pod: {}", pod.name()));
        }
        Status::success()
    }
}

/// A stand-in for required anti-affinity kept in the cycle state: a pod labelled `foo` does
/// not fit a node where a pod labelled `anti=foo` runs. PreFilter counts those pods per
/// node; the extensions update the counts, so a wrong state copy shows up as a wrong answer.
struct FakeAntiAffinity;
const ANTI: &str = "FakeAntiAffinity";

impl Plugin for FakeAntiAffinity {
    fn name(&self) -> &'static str {
        ANTI
    }
    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_filter.push(self.clone());
        points.filter.push(self);
    }
}

fn repels(p: &PodInfo) -> bool {
    p.pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("anti"))
        .is_some_and(|v| v == "foo")
}

fn bump(state: &mut CycleState, added: &PodInfo, node: &NodeInfo, by: i64) -> Status {
    if repels(added) {
        let mut counts = state
            .read::<HashMap<String, i64>>(ANTI)
            .cloned()
            .unwrap_or_default();
        *counts.entry(node.name().to_owned()).or_default() += by;
        state.write(ANTI, counts);
    }
    Status::success()
}

impl PreFilterPlugin for FakeAntiAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        _: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let mut counts: HashMap<String, i64> = HashMap::new();
        for n in snapshot.nodes() {
            counts.insert(
                n.name().to_owned(),
                n.pods.iter().filter(|p| repels(p)).count() as i64,
            );
        }
        state.write(ANTI, counts);
        (None, Status::success())
    }
    fn add_pod(
        &self,
        state: &mut CycleState,
        _: &PodInfo,
        added: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        bump(state, added, node, 1)
    }
    fn remove_pod(
        &self,
        state: &mut CycleState,
        _: &PodInfo,
        removed: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        bump(state, removed, node, -1)
    }
}

impl FilterPlugin for FakeAntiAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let labelled = pod
            .pod
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("foo"));
        let count = state
            .read::<HashMap<String, i64>>(ANTI)
            .and_then(|c| c.get(node.name()).copied());
        if labelled && count.unwrap_or(0) > 0 {
            return Status::unschedulable(
                "node(s) didn't satisfy existing pods anti-affinity rules",
            );
        }
        Status::success()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Plugins {
    Fit,
    FitAndError,
    FitAndAnti,
}

fn framework(plugins: Plugins) -> Framework {
    let mut list: Vec<Arc<dyn Plugin>> = vec![Arc::new(FakeFit)];
    match plugins {
        Plugins::Fit => {}
        Plugins::FitAndError => list.push(Arc::new(ErrorOnLabel)),
        Plugins::FitAndAnti => list.push(Arc::new(FakeAntiAffinity)),
    }
    Framework::new(
        "default-scheduler",
        list,
        HashMap::new(),
        Arc::new(WaitingPods::default()),
    )
}

fn plugin(
    pdbs: Vec<Arc<PodDisruptionBudget>>,
    args: DefaultPreemptionArgs,
    offset: usize,
) -> DefaultPreemption {
    DefaultPreemption::new(args, Arc::new(move || pdbs.clone()))
        .with_offset(CandidateOffset::Fixed(offset))
}

fn diagnosis(statuses: &[(&str, Code)]) -> Diagnosis {
    let mut d = Diagnosis::default();
    for (n, code) in statuses {
        d.record(
            n,
            Status {
                code: *code,
                reasons: Vec::new(),
                plugin: "",
            },
        );
    }
    d
}

fn names(pods: &[Arc<PodInfo>]) -> Vec<&str> {
    pods.iter().map(|p| p.name()).collect()
}

const U: Code = Code::Unschedulable;
const UR: Code = Code::UnschedulableAndUnresolvable;

mod post_filter;
mod dry_run;

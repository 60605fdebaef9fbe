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

// ---------------------------------------------------------------------------------------
// PostFilter.

enum Want {
    /// The nominated node and the victims, most important first.
    Nominated(&'static str, Vec<&'static str>),
    /// One of these nodes (ties upstream leaves to map order).
    AnyOf(Vec<&'static str>),
    Rejected(Code, &'static str),
}

struct Case {
    name: &'static str,
    pod: P,
    pods: Vec<P>,
    nodes: Vec<N>,
    /// `None`: every node Unschedulable.
    statuses: Option<Vec<(&'static str, Code)>>,
    pdbs: Vec<Arc<PodDisruptionBudget>>,
    plugins: Plugins,
    want: Want,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            name: "",
            pod: pod("p"),
            pods: Vec::new(),
            nodes: Vec::new(),
            statuses: None,
            pdbs: Vec::new(),
            plugins: Plugins::Fit,
            want: Want::Rejected(Code::Error, ""),
        }
    }
}

fn run(c: &Case) -> (Option<PostFilterResult>, Status) {
    let fw = framework(c.plugins);
    let snap = snapshot(&c.nodes, &c.pods);
    let preemptor = c.pod.info();
    let mut state = CycleState::default();
    let (_, status) = fw.run_pre_filter(&mut state, &preemptor, &snap);
    assert!(status.is_success(), "{}: PreFilter {status:?}", c.name);
    let diag = match &c.statuses {
        Some(s) => diagnosis(s),
        None => diagnosis(&c.nodes.iter().map(|n| (n.name, U)).collect::<Vec<_>>()),
    };
    let pl = plugin(c.pdbs.clone(), DefaultPreemptionArgs::default(), 0);
    pl.post_filter(&state, &preemptor, &snap, &diag, &fw)
}

fn check(cases: Vec<Case>) {
    for c in &cases {
        let (result, status) = run(c);
        match &c.want {
            Want::Nominated(n, victims) => {
                assert!(status.is_success(), "{}: {status:?}", c.name);
                let r = result.unwrap_or_else(|| panic!("{}: no result", c.name));
                assert_eq!(r.nominated_node, *n, "{}", c.name);
                assert_eq!(names(&r.victims), *victims, "{}", c.name);
            }
            Want::AnyOf(nodes) => {
                assert!(status.is_success(), "{}: {status:?}", c.name);
                let r = result.unwrap_or_else(|| panic!("{}: no result", c.name));
                assert!(
                    nodes.contains(&r.nominated_node.as_str()),
                    "{}: got {}",
                    c.name,
                    r.nominated_node
                );
            }
            Want::Rejected(code, message) => {
                assert!(result.is_none(), "{}: unexpected {result:?}", c.name);
                assert_eq!(status.code, *code, "{}: {status:?}", c.name);
                assert_eq!(status.message(), *message, "{}", c.name);
            }
        }
    }
}

#[test]
fn post_filter_table() {
    let node_res = (200, 400);
    check(vec![
        Case {
            name: "pod with higher priority can be made schedulable",
            pod: pod("p").prio(HIGH),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![one_pod_node("node1")],
            want: Want::Nominated("node1", vec!["p1"]),
            ..Default::default()
        },
        Case {
            name: "pod with tied priority is still unschedulable",
            pod: pod("p"),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![one_pod_node("node1")],
            want: Want::Rejected(
                U,
                "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
            ),
            ..Default::default()
        },
        Case {
            name: "preemption should respect the statuses of the cycle",
            pod: pod("p").prio(HIGH),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![one_pod_node("node1")],
            statuses: Some(vec![("node1", UR)]),
            want: Want::Rejected(
                U,
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            ),
            ..Default::default()
        },
        Case {
            name: "a node without a status is unresolvable",
            pod: pod("p").prio(HIGH),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![one_pod_node("node1")],
            statuses: Some(vec![]),
            want: Want::Rejected(
                U,
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            ),
            ..Default::default()
        },
        Case {
            name: "pod can be made schedulable on one node",
            pod: pod("p").prio(MID),
            pods: vec![
                pod("p1").prio(HIGH).node("node1"),
                pod("p2").prio(LOW).node("node2"),
            ],
            nodes: vec![one_pod_node("node1"), one_pod_node("node2")],
            want: Want::Nominated("node2", vec!["p2"]),
            ..Default::default()
        },
        Case {
            name: "pod can be made schedulable on minHighestPriority node",
            pod: pod("p").prio(VERY_HIGH),
            pods: vec![
                pod("p1")
                    .label("pdb", "non-violating")
                    .prio(HIGH)
                    .node("node1"),
                pod("p2").label("pdb", "violating").prio(LOW).node("node1"),
                pod("p3").label("pdb", "violating").prio(MID).node("node2"),
            ],
            pdbs: vec![
                pdb(&[("pdb", "violating")], 0, &[]),
                pdb(&[("pdb", "non-violating")], i32::MAX, &[]),
            ],
            nodes: vec![one_pod_node("node1"), one_pod_node("node2")],
            want: Want::Nominated("node2", vec!["p3"]),
            ..Default::default()
        },
        Case {
            name: "a PDB-violating victim is avoided when another candidate exists",
            pod: pod("p").prio(HIGH),
            pods: vec![
                pod("guarded").label("app", "db").prio(LOW).node("node1"),
                pod("free").prio(MID).node("node2"),
            ],
            pdbs: vec![pdb(&[("app", "db")], 0, &[])],
            nodes: vec![one_pod_node("node1"), one_pod_node("node2")],
            want: Want::Nominated("node2", vec!["free"]),
            ..Default::default()
        },
        Case {
            name: "a PDB-violating victim is taken when it is the only way",
            pod: pod("p").prio(HIGH),
            pods: vec![
                pod("guarded").label("app", "db").prio(LOW).node("node1"),
                pod("x").prio(HIGH).node("node2"),
            ],
            pdbs: vec![pdb(&[("app", "db")], 0, &[])],
            nodes: vec![one_pod_node("node1"), one_pod_node("node2")],
            want: Want::Nominated("node1", vec!["guarded"]),
            ..Default::default()
        },
        Case {
            name: "no candidate nodes found, no enough resource after removing low priority pods",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1"), pod("p2").node("node2")],
            nodes: vec![node("node1", node_res), node("node2", node_res)],
            want: Want::Rejected(
                U,
                "preemption: 0/2 nodes are available: 2 Insufficient cpu.",
            ),
            ..Default::default()
        },
        Case {
            name: "no candidate nodes found with mixed reasons, no lower priority pod and no enough CPU resource",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(HIGH),
                pod("p2").node("node2"),
                pod("p3").node("node3").prio(HIGH),
            ],
            nodes: vec![
                one_pod_node("node1"),
                node("node2", node_res),
                one_pod_node("node3"),
            ],
            want: Want::Rejected(
                U,
                "preemption: 0/3 nodes are available: 1 Insufficient cpu, 2 No preemption victims found for incoming pod.",
            ),
            ..Default::default()
        },
        Case {
            name: "no candidate nodes found with mixed reason, 2 UnschedulableAndUnresolvable nodes and 2 nodes don't have enough CPU resource",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1"), pod("p2").node("node2")],
            nodes: vec![
                node("node1", node_res),
                node("node2", node_res),
                node("node3", node_res),
                node("node4", node_res),
            ],
            statuses: Some(vec![("node1", U), ("node2", U), ("node4", UR)]),
            want: Want::Rejected(
                U,
                "preemption: 0/4 nodes are available: 2 Insufficient cpu, 2 Preemption is not helpful for scheduling.",
            ),
            ..Default::default()
        },
        Case {
            name: "only one node but failed with TestPlugin",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1")],
            nodes: vec![node("node1", LARGE).label("error", "true")],
            plugins: Plugins::FitAndError,
            want: Want::Rejected(
                Code::Error,
                "preemption: running RemovePod on PreFilter plugin \"test-plugin\": failed to remove pod: p",
            ),
            ..Default::default()
        },
        Case {
            name: "every node fails with TestPlugin: one error, reported once",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1"), pod("p2").node("node2")],
            nodes: vec![
                node("node1", LARGE).label("error", "true"),
                node("node2", LARGE).label("error", "true"),
            ],
            plugins: Plugins::FitAndError,
            want: Want::Rejected(
                Code::Error,
                "preemption: running RemovePod on PreFilter plugin \"test-plugin\": failed to remove pod: p",
            ),
            ..Default::default()
        },
        Case {
            name: "one failed with TestPlugin and the other pass",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![pod("p1").node("node1"), pod("p2").node("node2").req(MEDIUM)],
            nodes: vec![
                node("node1", LARGE).label("error", "true"),
                node("node2", LARGE),
            ],
            plugins: Plugins::FitAndError,
            want: Want::Nominated("node2", vec!["p2"]),
            ..Default::default()
        },
        Case {
            name: "preemptionPolicy Never does not preempt",
            pod: pod("p").prio(HIGH).req(VERY_LARGE).never(),
            pods: vec![pod("p1.1").node("node1").prio(LOW).req(SMALL)],
            nodes: vec![node("node1", VERY_LARGE)],
            want: Want::Rejected(U, "preemption: not eligible due to preemptionPolicy=Never."),
            ..Default::default()
        },
        Case {
            name: "a victim of an earlier preemption still terminating on the nominated node",
            pod: pod("p").prio(HIGH).nominated("node1"),
            pods: vec![pod("p1").prio(LOW).node("node1").preempted()],
            nodes: vec![one_pod_node("node1")],
            want: Want::Rejected(
                U,
                "preemption: not eligible due to a terminating pod on the nominated node.",
            ),
            ..Default::default()
        },
        Case {
            name: "basic preemption logic (TestPreempt)",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(LOW).req(SMALL),
                pod("p1.2").node("node1").prio(LOW).req(SMALL),
                pod("p2.1").node("node2").prio(HIGH).req(LARGE),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM),
            ],
            nodes: vec![
                node("node1", VERY_LARGE),
                node("node2", VERY_LARGE),
                node("node3", VERY_LARGE),
            ],
            want: Want::Nominated("node1", vec!["p1.1", "p1.2"]),
            ..Default::default()
        },
        Case {
            name: "equal and higher priority pods are never victims",
            pod: pod("p").prio(MID).req(LARGE),
            pods: vec![
                pod("same").node("node1").prio(MID).req(LARGE),
                pod("higher").node("node2").prio(HIGH).req(LARGE),
                pod("small").node("node2").prio(LOW).req(SMALL),
            ],
            nodes: vec![node("node1", VERY_LARGE), node("node2", VERY_LARGE)],
            want: Want::Rejected(
                U,
                "preemption: 0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 No preemption victims found for incoming pod.",
            ),
            ..Default::default()
        },
        Case {
            name: "pod with anti-affinity is preempted",
            pod: pod("p").label("foo", "").prio(HIGH).req(SMALL),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label("anti", "foo")
                    .prio(LOW)
                    .req(SMALL),
                pod("p1.2").node("node1").prio(MID).req(SMALL),
                pod("p1.3").node("node1").prio(HIGH).req(SMALL),
                pod("p2").node("node2").prio(HIGH).req(SMALL),
            ],
            nodes: vec![node("node1", VERY_LARGE), node("node2", VERY_LARGE)],
            statuses: Some(vec![("node1", U), ("node2", UR)]),
            plugins: Plugins::FitAndAnti,
            want: Want::Nominated("node1", vec!["p1.1"]),
            ..Default::default()
        },
    ]);
}

/// TestSelectBestCandidate: every node is full, the preemptor needs a whole node.
#[test]
fn select_best_candidate_table() {
    let full = |n: &'static str| node(n, VERY_LARGE);
    let p = || pod("p").prio(HIGH).req(VERY_LARGE);
    check(vec![
        Case {
            name: "a pod that fits on both nodes when lower priority pods are preempted",
            pod: p().req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
            ],
            nodes: vec![full("node1"), full("node2")],
            want: Want::AnyOf(vec!["node1", "node2"]),
            ..Default::default()
        },
        Case {
            name: "node with min highest priority pod is picked",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(MEDIUM),
                pod("p1.2").node("node1").prio(LOW).req(MEDIUM),
                pod("p2.1").node("node2").prio(HIGH - 1).req(MEDIUM),
                pod("p3.1").node("node3").prio(LOW).req(MEDIUM),
                pod("p3.2").node("node3").prio(LOW).req(MEDIUM),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::Nominated("node3", vec!["p3.1", "p3.2"]),
            ..Default::default()
        },
        Case {
            name: "when highest priorities are the same, minimum sum of priorities is picked",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(MEDIUM),
                pod("p1.2").node("node1").prio(LOW).req(MEDIUM),
                pod("p2.1").node("node2").prio(MID).req(MEDIUM),
                pod("p2.2").node("node2").prio(NEG).req(MEDIUM),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM),
                pod("p3.2").node("node3").prio(MID).req(MEDIUM),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::Nominated("node2", vec!["p2.1", "p2.2"]),
            ..Default::default()
        },
        Case {
            name: "sum of adjusted priorities is considered",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(SMALL).start(0),
                pod("p1.2").node("node1").prio(NEG).req(SMALL).start(0),
                pod("p1.3").node("node1").prio(NEG).req(SMALL).start(0),
                pod("p2.1").node("node2").prio(MID).req(LARGE).start(0),
                pod("p2.2").node("node2").prio(NEG).req(MEDIUM).start(0),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM).start(0),
                pod("p3.2").node("node3").prio(NEG).req(SMALL).start(0),
                pod("p3.3").node("node3").prio(LOW).req(SMALL).start(0),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::AnyOf(vec!["node2"]),
            ..Default::default()
        },
        Case {
            name: "non-overlapping lowest high priority, sum priorities, and number of pods",
            pod: pod("p").prio(VERY_HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(SMALL).start(0),
                pod("p1.2").node("node1").prio(LOW).req(SMALL).start(0),
                pod("p1.3").node("node1").prio(LOW).req(SMALL).start(0),
                pod("p2.1").node("node2").prio(HIGH).req(LARGE).start(0),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM).start(0),
                pod("p3.2").node("node3").prio(LOW).req(SMALL).start(0),
                pod("p3.3").node("node3").prio(LOW).req(SMALL).start(0),
                pod("p3.4").node("node3").prio(LOW).req(MEDIUM).start(0),
                pod("p4.1").node("node4").prio(MID).req(MEDIUM).start(0),
                pod("p4.2").node("node4").prio(MID).req(SMALL).start(0),
                pod("p4.3").node("node4").prio(MID).req(SMALL).start(0),
                pod("p4.4").node("node4").prio(NEG).req(SMALL).start(0),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3"), full("node4")],
            want: Want::AnyOf(vec!["node1"]),
            ..Default::default()
        },
        Case {
            name: "same priority, same number of victims, different start time for each node's pod",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(MEDIUM).start(2),
                pod("p1.2").node("node1").prio(MID).req(MEDIUM).start(2),
                pod("p2.1").node("node2").prio(MID).req(MEDIUM).start(3),
                pod("p2.2").node("node2").prio(MID).req(MEDIUM).start(3),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM).start(1),
                pod("p3.2").node("node3").prio(MID).req(MEDIUM).start(1),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::AnyOf(vec!["node2"]),
            ..Default::default()
        },
        Case {
            name: "same priority, same number of victims, different start time for all pods",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(MEDIUM).start(4),
                pod("p1.2").node("node1").prio(MID).req(MEDIUM).start(2),
                pod("p2.1").node("node2").prio(MID).req(MEDIUM).start(5),
                pod("p2.2").node("node2").prio(MID).req(MEDIUM).start(1),
                pod("p3.1").node("node3").prio(MID).req(MEDIUM).start(3),
                pod("p3.2").node("node3").prio(MID).req(MEDIUM).start(6),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::AnyOf(vec!["node3"]),
            ..Default::default()
        },
        Case {
            name: "different priority, same number of victims, different start time for all pods",
            pod: p(),
            pods: vec![
                pod("p1.1").node("node1").prio(LOW).req(MEDIUM).start(4),
                pod("p1.2").node("node1").prio(MID).req(MEDIUM).start(2),
                pod("p2.1").node("node2").prio(MID).req(MEDIUM).start(6),
                pod("p2.2").node("node2").prio(LOW).req(MEDIUM).start(1),
                pod("p3.1").node("node3").prio(LOW).req(MEDIUM).start(3),
                pod("p3.2").node("node3").prio(MID).req(MEDIUM).start(5),
            ],
            nodes: vec![full("node1"), full("node2"), full("node3")],
            want: Want::Nominated("node2", vec!["p2.1", "p2.2"]),
            ..Default::default()
        },
    ]);
}

// ---------------------------------------------------------------------------------------
// Dry run.

struct DryCase {
    name: &'static str,
    pod: P,
    pods: Vec<P>,
    nodes: Vec<N>,
    pdbs: Vec<Arc<PodDisruptionBudget>>,
    args: DefaultPreemptionArgs,
    offset: usize,
    plugins: Plugins,
    /// (node, victims most important first, PDB violations), in the order returned.
    want: Vec<(&'static str, Vec<&'static str>, i64)>,
}

impl Default for DryCase {
    fn default() -> Self {
        DryCase {
            name: "",
            pod: pod("p"),
            pods: Vec::new(),
            nodes: Vec::new(),
            pdbs: Vec::new(),
            args: DefaultPreemptionArgs::default(),
            offset: 0,
            plugins: Plugins::Fit,
            want: Vec::new(),
        }
    }
}

#[test]
fn dry_run_preemption_table() {
    let two = || vec![node("node1", VERY_LARGE), node("node2", VERY_LARGE)];
    let app = ("app", "foo");
    let cases = vec![
        DryCase {
            name: "a pod that fits on both nodes when lower priority pods are preempted",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
            ],
            nodes: two(),
            want: vec![("node1", vec!["p1"], 0), ("node2", vec!["p2"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "a pod that would fit on the nodes, but other pods running are higher priority, no preemption would happen",
            pod: pod("p").prio(LOW).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
            ],
            nodes: two(),
            want: vec![],
            ..Default::default()
        },
        DryCase {
            name: "medium priority pod is preempted, but lower priority one stays as it is small",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(LOW).req(SMALL),
                pod("p1.2").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
            ],
            nodes: two(),
            want: vec![("node1", vec!["p1.2"], 0), ("node2", vec!["p2"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "mixed priority pods are preempted",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(MID).req(SMALL),
                pod("p1.2").node("node1").prio(LOW).req(SMALL),
                pod("p1.3").node("node1").prio(MID).req(MEDIUM),
                pod("p1.4").node("node1").prio(HIGH).req(SMALL),
                pod("p2").node("node2").prio(HIGH).req(LARGE),
            ],
            nodes: two(),
            want: vec![("node1", vec!["p1.3", "p1.2"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "mixed priority pods are preempted, pick later StartTime one when priorities are equal",
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1.1").node("node1").prio(LOW).req(SMALL).start(5),
                pod("p1.2").node("node1").prio(LOW).req(SMALL).start(4),
                pod("p1.3").node("node1").prio(MID).req(MEDIUM).start(3),
                pod("p1.4").node("node1").prio(HIGH).req(SMALL).start(2),
                pod("p2").node("node2").prio(HIGH).req(LARGE).start(1),
            ],
            nodes: two(),
            want: vec![("node1", vec!["p1.3", "p1.1"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "pod with anti-affinity is preempted; the state copy is per node",
            pod: pod("p").label("foo", "").prio(HIGH).req(SMALL),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label("anti", "foo")
                    .prio(LOW)
                    .req(SMALL),
                pod("p1.2").node("node1").prio(MID).req(SMALL),
                pod("p2.1")
                    .node("node2")
                    .label("anti", "foo")
                    .prio(LOW)
                    .req(SMALL),
                pod("p2.2")
                    .node("node2")
                    .label("anti", "foo")
                    .prio(MID)
                    .req(SMALL),
            ],
            nodes: two(),
            plugins: Plugins::FitAndAnti,
            want: vec![
                ("node1", vec!["p1.1"], 0),
                ("node2", vec!["p2.2", "p2.1"], 0),
            ],
            ..Default::default()
        },
        DryCase {
            name: "preemption with violation of same pdb",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(1),
                pod("p1.2")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(2),
            ],
            nodes: vec![node("node1", VERY_LARGE)],
            pdbs: vec![pdb(&[app], 1, &[])],
            want: vec![("node1", vec!["p1.1", "p1.2"], 1)],
            ..Default::default()
        },
        DryCase {
            name: "preemption with violation of the pdb with pod whose eviction was processed, the victim doesn't belong to DisruptedPods",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(1),
                pod("p1.2")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(2),
            ],
            nodes: vec![node("node1", VERY_LARGE)],
            pdbs: vec![pdb(&[app], 1, &["p2"])],
            want: vec![("node1", vec!["p1.1", "p1.2"], 1)],
            ..Default::default()
        },
        DryCase {
            name: "preemption with violation of the pdb with pod whose eviction was processed, the victim belongs to DisruptedPods",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(1),
                pod("p1.2")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(2),
            ],
            nodes: vec![node("node1", VERY_LARGE)],
            pdbs: vec![pdb(&[app], 1, &["p1.2"])],
            want: vec![("node1", vec!["p1.1", "p1.2"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "preemption with violation of the pdb with pod whose eviction was processed, the victim which belongs to DisruptedPods is treated as 'nonViolating'",
            pod: pod("p").prio(HIGH).req(VERY_LARGE),
            pods: vec![
                pod("p1.1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(1),
                pod("p1.2")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(2),
                pod("p1.3")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(MEDIUM)
                    .start(3),
            ],
            nodes: vec![node("node1", VERY_LARGE)],
            pdbs: vec![pdb(&[app], 1, &["p1.3"])],
            want: vec![("node1", vec!["p1.1", "p1.2", "p1.3"], 1)],
            ..Default::default()
        },
        DryCase {
            name: "PDB-violating victims are reprieved first",
            pod: pod("p").prio(HIGH).req(MEDIUM),
            pods: vec![
                pod("guarded")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(LOW)
                    .req(MEDIUM),
                pod("free").node("node1").prio(MID).req(MEDIUM),
            ],
            nodes: vec![node("node1", (400, 400))],
            pdbs: vec![pdb(&[app], 0, &[])],
            want: vec![("node1", vec!["free"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "all nodes are possible candidates, but DefaultPreemptionArgs limits to 2",
            args: DefaultPreemptionArgs {
                min_candidate_nodes_percentage: 40,
                min_candidate_nodes_absolute: 1,
            },
            offset: 4,
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(MID).req(LARGE),
                pod("p3").node("node3").prio(MID).req(LARGE),
                pod("p4").node("node4").prio(MID).req(LARGE),
                pod("p5").node("node5").prio(MID).req(LARGE),
            ],
            nodes: ["node1", "node2", "node3", "node4", "node5"]
                .map(|n| node(n, VERY_LARGE))
                .to_vec(),
            want: vec![("node5", vec!["p5"], 0), ("node1", vec!["p1"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "some are not candidates because they fit without the preemptor's victims, limit 2",
            args: DefaultPreemptionArgs {
                min_candidate_nodes_percentage: 40,
                min_candidate_nodes_absolute: 1,
            },
            offset: 1,
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1").node("node1").prio(MID).req(LARGE),
                pod("p2").node("node2").prio(HIGH).req(LARGE),
                pod("p3").node("node3").prio(MID).req(LARGE),
                pod("p4").node("node4").prio(HIGH).req(LARGE),
                pod("p5").node("node5").prio(MID).req(LARGE),
            ],
            nodes: ["node1", "node2", "node3", "node4", "node5"]
                .map(|n| node(n, VERY_LARGE))
                .to_vec(),
            want: vec![("node3", vec!["p3"], 0), ("node5", vec!["p5"], 0)],
            ..Default::default()
        },
        DryCase {
            name: "violating candidates do not stop the search until a non-violating one is found",
            args: DefaultPreemptionArgs {
                min_candidate_nodes_percentage: 0,
                min_candidate_nodes_absolute: 1,
            },
            pod: pod("p").prio(HIGH).req(LARGE),
            pods: vec![
                pod("p1")
                    .node("node1")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(LARGE),
                pod("p2")
                    .node("node2")
                    .label(app.0, app.1)
                    .prio(MID)
                    .req(LARGE),
                pod("p3").node("node3").prio(MID).req(LARGE),
                pod("p4").node("node4").prio(MID).req(LARGE),
            ],
            nodes: ["node1", "node2", "node3", "node4"]
                .map(|n| node(n, VERY_LARGE))
                .to_vec(),
            pdbs: vec![pdb(&[app], 0, &[])],
            want: vec![("node3", vec!["p3"], 0), ("node1", vec!["p1"], 1)],
            ..Default::default()
        },
    ];
    for c in cases {
        let fw = framework(c.plugins);
        let snap = snapshot(&c.nodes, &c.pods);
        let preemptor = c.pod.info();
        let mut state = CycleState::default();
        assert!(
            fw.run_pre_filter(&mut state, &preemptor, &snap)
                .1
                .is_success(),
            "{}",
            c.name
        );
        let pl = plugin(c.pdbs.clone(), c.args, c.offset);
        let potential = snap.nodes().to_vec();
        let num = pl.calculate_num_candidates(potential.len());
        let (candidates, _, errors) =
            pl.dry_run_preemption(&state, &preemptor, &potential, &c.pdbs, c.offset, num, &fw);
        assert!(errors.is_empty(), "{}: {errors:?}", c.name);
        let got: Vec<(&str, Vec<&str>, i64)> = candidates
            .iter()
            .map(|c| (c.node.as_str(), names(&c.victims), c.num_pdb_violations))
            .collect();
        assert_eq!(got, c.want, "{}", c.name);
    }
}

#[test]
fn dry_run_over_many_nodes_matches_a_sequential_run() {
    // 100 nodes, 10 candidates wanted (10%, min 10): chunks run in parallel but the result
    // must be the first 10 candidates from the offset, every time.
    let names: Vec<&'static str> = (0..100)
        .map(|i| &*Box::leak(format!("node{i:03}").into_boxed_str()))
        .collect();
    let pods: Vec<P> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let name: &'static str = Box::leak(format!("v{i:03}").into_boxed_str());
            pod(name)
                .node(n)
                .prio(if i % 3 == 0 { HIGH } else { LOW })
                .req(LARGE)
        })
        .collect();
    let nodes: Vec<N> = names.iter().map(|n| node(n, VERY_LARGE)).collect();
    let fw = framework(Plugins::Fit);
    let snap = snapshot(&nodes, &pods);
    let preemptor = pod("p").prio(MID).req(LARGE).info();
    let mut state = CycleState::default();
    assert!(
        fw.run_pre_filter(&mut state, &preemptor, &snap)
            .1
            .is_success()
    );
    let args = DefaultPreemptionArgs {
        min_candidate_nodes_percentage: 10,
        min_candidate_nodes_absolute: 10,
    };
    let pl = plugin(Vec::new(), args, 95);
    let num = pl.calculate_num_candidates(100);
    assert_eq!(num, 10);
    let want: Vec<String> = (95..200)
        .map(|i| i % 100)
        .filter(|i| i % 3 != 0)
        .take(10)
        .map(|i| format!("node{i:03}"))
        .collect();
    for _ in 0..5 {
        let (candidates, _, _) =
            pl.dry_run_preemption(&state, &preemptor, snap.nodes(), &[], 95, num, &fw);
        let got: Vec<String> = candidates.iter().map(|c| c.node.clone()).collect();
        assert_eq!(got, want);
    }
}

// ---------------------------------------------------------------------------------------
// Eligibility, arguments, registration.

#[test]
fn pod_eligible_to_preempt_others_table() {
    let tt = Status::unresolvable("node(s) had untolerated taint {gpu: true}");
    let unsched = Status::unschedulable("Insufficient cpu");
    type EligibleCase<'a> = (&'a str, P, Vec<P>, Option<&'a Status>, Result<(), &'a str>);
    let cases: Vec<EligibleCase> = vec![
        (
            "Pod with nominated node whose status is unresolvable",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(LOW).node("node1").preempted()],
            Some(&tt),
            Ok(()),
        ),
        (
            "Pod without nominated node",
            pod("p").prio(HIGH),
            vec![],
            None,
            Ok(()),
        ),
        (
            "Pod with 'PreemptNever' preemption policy",
            pod("p").prio(HIGH).never(),
            vec![],
            None,
            Err("not eligible due to preemptionPolicy=Never."),
        ),
        (
            "preemption victim pod terminating, as indicated by the dedicated DisruptionTarget condition",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(LOW).node("node1").preempted()],
            Some(&unsched),
            Err("not eligible due to a terminating pod on the nominated node."),
        ),
        (
            "non-victim Pods terminating",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(LOW).node("node1").terminating()],
            Some(&unsched),
            Ok(()),
        ),
        (
            "terminating preempted pod of equal priority does not hold the pod back",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(HIGH).node("node1").preempted()],
            Some(&unsched),
            Ok(()),
        ),
        (
            "nominated node without a status counts as unresolvable",
            pod("p").prio(HIGH).nominated("node1"),
            vec![pod("p1").prio(LOW).node("node1").preempted()],
            None,
            Ok(()),
        ),
    ];
    let pl = plugin(Vec::new(), DefaultPreemptionArgs::default(), 0);
    for (name, p, pods, status, want) in cases {
        let snap = snapshot(&[node("node1", VERY_LARGE)], &pods);
        assert_eq!(
            pl.pod_eligible_to_preempt_others(&p.info(), &snap, status),
            want,
            "{name}"
        );
    }
}

#[test]
fn calculate_num_candidates_table() {
    let cases = [
        (
            "all nodes when fewer than the absolute minimum",
            10,
            100,
            50,
            50,
        ),
        ("the absolute minimum", 10, 100, 500, 100),
        ("the percentage when above the minimum", 10, 100, 5000, 500),
        ("percentage only", 40, 0, 5, 2),
        ("never more than the nodes", 100, 1, 3, 3),
        ("no nodes", 10, 100, 0, 0),
        (
            "at least one when the percentage rounds down to 0",
            10,
            0,
            5,
            1,
        ),
    ];
    for (name, pct, abs, nodes, want) in cases {
        let args = DefaultPreemptionArgs {
            min_candidate_nodes_percentage: pct,
            min_candidate_nodes_absolute: abs,
        };
        assert_eq!(
            plugin(Vec::new(), args, 0).calculate_num_candidates(nodes),
            want,
            "{name}"
        );
    }
}

#[test]
fn args_validation_table() {
    let cases = [
        (10, 100, true),
        (0, 100, true),
        (50, 0, true),
        (101, 10, false),
        (-1, 10, false),
        (10, -1, false),
        (0, 0, false),
    ];
    for (pct, abs, ok) in cases {
        let args = DefaultPreemptionArgs {
            min_candidate_nodes_percentage: pct,
            min_candidate_nodes_absolute: abs,
        };
        assert_eq!(
            args.validate().is_ok(),
            ok,
            "{pct} {abs}: {:?}",
            args.validate()
        );
    }
    // Invalid arguments are clamped: the plugin still looks for at least one candidate.
    let pl = plugin(
        Vec::new(),
        DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 0,
            min_candidate_nodes_absolute: 0,
        },
        0,
    );
    assert_eq!(pl.calculate_num_candidates(7), 1);
}

#[test]
fn offset_from_pod_uid_is_stable_and_in_range() {
    let pl = DefaultPreemption::new(DefaultPreemptionArgs::default(), Arc::new(Vec::new));
    let mut seen = HashSet::new();
    for i in 0..50 {
        let name: &'static str = Box::leak(format!("pod{i}").into_boxed_str());
        let info = pod(name).info();
        let a = pl.offset_for(&info, 7);
        assert_eq!(a, pl.offset_for(&info, 7));
        assert!(a < 7);
        seen.insert(a);
    }
    assert!(seen.len() > 3, "offsets should spread: {seen:?}");
    assert_eq!(pl.offset_for(&pod("x").info(), 0), 0);
}

#[test]
fn plugin_registration_and_events() {
    let pl = Arc::new(plugin(Vec::new(), DefaultPreemptionArgs::default(), 0));
    assert_eq!(pl.name(), "DefaultPreemption");
    assert_eq!(pl.events(), vec![ClusterEvent::ASSIGNED_POD_DELETE]);
    let mut points = Points::default();
    pl.register(&mut points);
    assert_eq!(points.post_filter.len(), 1);
    assert!(points.filter.is_empty() && points.pre_filter.is_empty());
}

#[test]
fn aggregate_errors_table() {
    let cases: [(&[&str], &str); 3] = [
        (&["a"], "a"),
        (&["a", "a", "a"], "a"),
        (&["a", "b", "a"], "[a, b]"),
    ];
    for (errors, want) in cases {
        assert_eq!(
            aggregate(errors.iter().map(|e| e.to_string()).collect()),
            want
        );
    }
}

#[test]
fn no_nodes_is_an_error() {
    let fw = framework(Plugins::Fit);
    let pl = plugin(Vec::new(), DefaultPreemptionArgs::default(), 0);
    let (r, s) = pl.post_filter(
        &CycleState::default(),
        &pod("p").prio(HIGH).info(),
        &Snapshot::default(),
        &Diagnosis::default(),
        &fw,
    );
    assert!(r.is_none());
    assert_eq!(s.code, Code::Error);
    assert_eq!(s.message(), "preemption: no nodes available");
}

#[test]
fn run_post_filter_through_the_framework() {
    // Registered in a profile, the framework returns the plugin's result.
    let list: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(FakeFit),
        Arc::new(plugin(Vec::new(), DefaultPreemptionArgs::default(), 0)),
    ];
    let fw = Framework::new(
        "default-scheduler",
        list,
        HashMap::new(),
        Arc::new(WaitingPods::default()),
    );
    let snap = snapshot(&[one_pod_node("node1")], &[pod("p1").node("node1")]);
    let preemptor = pod("p").prio(HIGH).info();
    let mut state = CycleState::default();
    assert!(
        fw.run_pre_filter(&mut state, &preemptor, &snap)
            .1
            .is_success()
    );
    let (r, s) = fw.run_post_filter(&state, &preemptor, &snap, &diagnosis(&[("node1", U)]));
    assert!(s.is_success(), "{s:?}");
    assert_eq!(r.map(|r| r.nominated_node), Some("node1".to_string()));
}

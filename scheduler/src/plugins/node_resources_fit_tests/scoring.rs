use super::*;

fn score_one(plugin: &NodeResourcesFit, p: &PodInfo, n: &NodeInfo) -> i64 {
    let mut state = CycleState::default();
    let nodes = [Arc::new(n.clone())];
    assert!(
        plugin
            .pre_score(&mut state, p, &nodes, &Snapshot::default())
            .is_success()
    );
    let (score, status) = plugin.score(&state, p, n);
    assert!(status.is_success(), "{status:?}");
    // Score without PreScore state computes the same.
    assert_eq!(plugin.score(&CycleState::default(), p, n).0, score);
    score
}

fn strategy(s: ScoringStrategy, resources: &[(&str, i64)]) -> NodeResourcesFit {
    NodeResourcesFit::new(NodeResourcesFitArgs {
        scoring_strategy: s,
        resources: resources
            .iter()
            .map(|(n, w)| ResourceSpec::new(n, *w))
            .collect(),
        ..Default::default()
    })
    .expect("valid args")
}

const CPU_MEM: &[(&str, i64)] = &[("cpu", 1), ("memory", 1)];
const WITH_GPU: &[(&str, i64)] = &[("cpu", 1), ("memory", 1), ("nvidia.com/gpu", 3)];

#[test]
fn score_table() {
    let least = || strategy(ScoringStrategy::LeastAllocated, CPU_MEM);
    let most = || strategy(ScoringStrategy::MostAllocated, CPU_MEM);
    let rtcr = |points: &[(i64, i64)], resources: &[(&str, i64)]| {
        let shape = points
            .iter()
            .map(|&(utilization, score)| UtilizationShapePoint { utilization, score })
            .collect();
        strategy(
            ScoringStrategy::RequestedToCapacityRatio { shape },
            resources,
        )
    };
    let pack: &[(i64, i64)] = &[(0, 0), (100, 10)];
    let spread: &[(i64, i64)] = &[(0, 10), (100, 0)];
    let two: &[List] = &[
        &[("cpu", "1000m"), ("memory", "2000")],
        &[("cpu", "2000m"), ("memory", "3000")],
    ];
    let gpu_pod: &[List] = &[&[
        ("cpu", "1000m"),
        ("memory", "2000"),
        ("nvidia.com/gpu", "1"),
    ]];
    let small: &[List] = &[&[("cpu", "1000m"), ("memory", "2000")]];
    let n4: List = &[("cpu", "4000m"), ("memory", "10000")];
    let n6: List = &[("cpu", "6000m"), ("memory", "10000")];
    let n4gpu: List = &[
        ("cpu", "4000m"),
        ("memory", "10000"),
        ("nvidia.com/gpu", "4"),
    ];
    let none: &[List] = &[];
    // (name, plugin, pod containers, node allocatable, existing pods, expected)
    type Case<'a> = (
        &'a str,
        NodeResourcesFit,
        &'a [List<'a>],
        List<'a>,
        &'a [List<'a>],
        i64,
    );
    let cases: Vec<Case> = vec![
        // cpu (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50 → 37.
        (
            "least: resources requested, 4 cores",
            least(),
            two,
            n4,
            none,
            37,
        ),
        (
            "least: resources requested, 6 cores",
            least(),
            two,
            n6,
            none,
            50,
        ),
        // cpu (10000-9000)*100/10000 = 10, memory (20000-15000)*100/20000 = 25 → 17.
        (
            "least: existing pods count",
            least(),
            two,
            &[("cpu", "10"), ("memory", "20000")],
            &[&[("cpu", "6"), ("memory", "10000")]],
            17,
        ),
        // cpu over capacity scores 0, memory 50 → 25.
        (
            "least: requested beyond capacity",
            least(),
            &[&[("cpu", "5"), ("memory", "5000")]],
            n4,
            none,
            25,
        ),
        // Best effort: 100m and 200Mi count. cpu 3900*100/4000 = 97; memory
        // (2Gi-200Mi)*100/2Gi = 90 → 93.
        (
            "least: best-effort pod counts default requests",
            least(),
            &[&[]],
            &[("cpu", "4"), ("memory", "2Gi")],
            none,
            93,
        ),
        // A best-effort pod already on the node counts its defaults too: cpu 3800/4000 → 95,
        // memory (2Gi-400Mi)/2Gi → 80 → 87.
        (
            "least: existing best-effort pods count default requests",
            least(),
            &[&[]],
            &[("cpu", "4"), ("memory", "2Gi")],
            &[&[]],
            87,
        ),
        (
            "least: a node without allocatable scores 0",
            least(),
            two,
            &[],
            none,
            0,
        ),
        // cpu 75, memory 80, gpu 3*100/4 = 75 weighted 3 → (75+80+225)/5 = 76.
        (
            "least: weighted gpu",
            strategy(ScoringStrategy::LeastAllocated, WITH_GPU),
            gpu_pod,
            n4gpu,
            none,
            76,
        ),
        // The node has no gpu: only cpu and memory count → 77.
        (
            "least: gpu resource skipped on a node without it",
            strategy(ScoringStrategy::LeastAllocated, WITH_GPU),
            gpu_pod,
            n4,
            none,
            77,
        ),
        // The pod asks for no gpu: not scored even where the node has some → 77.
        (
            "least: gpu not requested is not scored",
            strategy(ScoringStrategy::LeastAllocated, WITH_GPU),
            small,
            n4gpu,
            none,
            77,
        ),
        // cpu 75, memory 50 → 62.
        (
            "most: resources requested, 4 cores",
            most(),
            two,
            n4,
            none,
            62,
        ),
        (
            "most: resources requested, 6 cores",
            most(),
            two,
            n6,
            none,
            50,
        ),
        // cpu over capacity counts as full: 100, memory 50 → 75.
        (
            "most: requested beyond capacity",
            most(),
            &[&[("cpu", "5"), ("memory", "5000")]],
            n4,
            none,
            75,
        ),
        // cpu 25, memory 20, gpu 25×3 → (25+20+75)/5 = 24.
        (
            "most: weighted gpu",
            strategy(ScoringStrategy::MostAllocated, WITH_GPU),
            gpu_pod,
            n4gpu,
            none,
            24,
        ),
        // cpu 75 → 75, memory 50 → 50: round(62.5) = 63.
        ("rtcr: bin packing", rtcr(pack, CPU_MEM), two, n4, none, 63),
        // cpu 75 → 25, memory 50 → 50: round(37.5) = 38.
        ("rtcr: spreading", rtcr(spread, CPU_MEM), two, n4, none, 38),
        // (75×3 + 50)/4 = 68.75 → 69.
        (
            "rtcr: weighted",
            rtcr(pack, &[("cpu", 3), ("memory", 1)]),
            two,
            n4,
            none,
            69,
        ),
        // A resource scoring 0 is left out of the mean: cpu at 0% → 0, memory 50 → 50.
        (
            "rtcr: zero-scoring resource left out",
            rtcr(pack, CPU_MEM),
            &[&[("cpu", "0"), ("memory", "5000")]],
            n4,
            none,
            50,
        ),
        // cpu over capacity counts as 100% → 100, memory 50 → 75.
        (
            "rtcr: over capacity",
            rtcr(pack, CPU_MEM),
            &[&[("cpu", "5"), ("memory", "5000")]],
            n4,
            none,
            75,
        ),
        // gpu 25% → 25 (weight 3), cpu 25, memory 20 → (75+25+20)/5 = 24.
        (
            "rtcr: extended resource",
            rtcr(pack, WITH_GPU),
            gpu_pod,
            n4gpu,
            none,
            24,
        ),
        (
            "rtcr: everything zero scores 0",
            rtcr(pack, CPU_MEM),
            &[&[("cpu", "0"), ("memory", "0")]],
            n4,
            none,
            0,
        ),
    ];
    for (name, plugin, containers, alloc, existing, want) in cases {
        let p = pod(containers, &[]);
        let n = node("n", alloc, existing);
        assert_eq!(score_one(&plugin, &p, &n), want, "{name}");
    }
}

#[test]
fn score_with_no_resources_is_an_error() {
    let plugin = strategy(ScoringStrategy::LeastAllocated, &[]);
    let (_, status) = plugin.score(
        &CycleState::default(),
        &pod(&[&[]], &[]),
        &node("n", NODE, &[]),
    );
    assert_eq!(status.code, Code::Error);
}

#[test]
fn broken_linear_table() {
    let shape = [
        UtilizationShapePoint {
            utilization: 10,
            score: 1,
        },
        UtilizationShapePoint {
            utilization: 90,
            score: 9,
        },
    ];
    for (p, want) in [
        (0, 1),
        (5, 1),
        (10, 1),
        (15, 1),
        (20, 2),
        (50, 5),
        (89, 8),
        (90, 9),
        (95, 9),
        (100, 9),
    ] {
        assert_eq!(broken_linear(&shape, p), want, "p={p}");
    }
    let falling = [
        UtilizationShapePoint {
            utilization: 0,
            score: 100,
        },
        UtilizationShapePoint {
            utilization: 50,
            score: 20,
        },
        UtilizationShapePoint {
            utilization: 100,
            score: 60,
        },
    ];
    for (p, want) in [(0, 100), (25, 60), (50, 20), (75, 40), (100, 60)] {
        assert_eq!(broken_linear(&falling, p), want, "p={p}");
    }
    assert_eq!(broken_linear(&[], 50), 0);
}

#[test]
fn per_resource_scores() {
    // (requested, capacity, least, most)
    for (req, cap, least, most) in [
        (0, 100, 100, 0),
        (25, 100, 75, 25),
        (1, 3, 66, 33),
        (100, 100, 0, 100),
        (150, 100, 0, 100),
        (5, 0, 0, 0),
        (i64::MAX / 2, i64::MAX, 50, 49),
    ] {
        assert_eq!(least_requested_score(req, cap), least, "least {req}/{cap}");
        assert_eq!(most_requested_score(req, cap), most, "most {req}/{cap}");
    }
}

#[test]
fn args_validation_table() {
    let shape = |points: &[(i64, i64)]| ScoringStrategy::RequestedToCapacityRatio {
        shape: points
            .iter()
            .map(|&(utilization, score)| UtilizationShapePoint { utilization, score })
            .collect(),
    };
    let with =
        |s: ScoringStrategy, resources: &[(&str, i64)], groups: &[&str]| NodeResourcesFitArgs {
            scoring_strategy: s,
            resources: resources
                .iter()
                .map(|(n, w)| ResourceSpec::new(n, *w))
                .collect(),
            ignored_resource_groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        };
    let cases = vec![
        ("default", NodeResourcesFitArgs::default(), true),
        (
            "most allocated",
            with(ScoringStrategy::MostAllocated, CPU_MEM, &[]),
            true,
        ),
        (
            "weight 0",
            with(ScoringStrategy::LeastAllocated, &[("cpu", 0)], &[]),
            false,
        ),
        (
            "weight 101",
            with(ScoringStrategy::LeastAllocated, &[("cpu", 101)], &[]),
            false,
        ),
        (
            "weight 100",
            with(ScoringStrategy::LeastAllocated, &[("cpu", 100)], &[]),
            true,
        ),
        (
            "duplicate resource",
            with(
                ScoringStrategy::LeastAllocated,
                &[("cpu", 1), ("cpu", 2)],
                &[],
            ),
            false,
        ),
        (
            "group with a slash",
            with(
                ScoringStrategy::LeastAllocated,
                CPU_MEM,
                &["example.com/aaa"],
            ),
            false,
        ),
        (
            "group",
            with(ScoringStrategy::LeastAllocated, CPU_MEM, &["example.com"]),
            true,
        ),
        (
            "shape ok",
            with(shape(&[(0, 0), (100, 10)]), CPU_MEM, &[]),
            true,
        ),
        ("shape empty", with(shape(&[]), CPU_MEM, &[]), false),
        (
            "shape not increasing",
            with(shape(&[(50, 0), (50, 10)]), CPU_MEM, &[]),
            false,
        ),
        (
            "shape utilization over 100",
            with(shape(&[(0, 0), (101, 10)]), CPU_MEM, &[]),
            false,
        ),
        (
            "shape negative utilization",
            with(shape(&[(-1, 0)]), CPU_MEM, &[]),
            false,
        ),
        (
            "shape score over 10",
            with(shape(&[(0, 11)]), CPU_MEM, &[]),
            false,
        ),
    ];
    for (name, args, ok) in cases {
        assert_eq!(NodeResourcesFit::new(args).is_ok(), ok, "{name}");
    }
}

#[test]
fn registers_and_events() {
    let plugin = Arc::new(NodeResourcesFit::default());
    assert_eq!(plugin.name(), "NodeResourcesFit");
    let mut points = Points::default();
    plugin.clone().register(&mut points);
    assert_eq!(
        (
            points.pre_filter.len(),
            points.filter.len(),
            points.pre_score.len(),
            points.score.len()
        ),
        (1, 1, 1, 1)
    );
    let events = plugin.events();
    let covered = |e: &ClusterEvent| events.iter().any(|r| r.covers(e));
    assert!(covered(&ClusterEvent::NODE_ADD));
    assert!(covered(&ClusterEvent::ASSIGNED_POD_DELETE));
    assert!(covered(&ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_ALLOCATABLE,
        "x"
    )));
    assert!(covered(&ClusterEvent::new(
        EventResource::AssignedPod,
        ActionType::UPDATE_POD_SCALE_DOWN,
        "x"
    )));
    assert!(!covered(&ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_LABEL,
        "x"
    )));
    assert!(!covered(&ClusterEvent::new(
        EventResource::AssignedPod,
        ActionType::ADD,
        "x"
    )));
}

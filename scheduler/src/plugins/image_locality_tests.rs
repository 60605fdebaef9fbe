use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, ContainerImage, Node, NodeStatus, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::framework::Code;

fn node(name: &str, images: &[(&str, i64)]) -> NodeInfo {
    NodeInfo::new(Arc::new(Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        status: Some(NodeStatus {
            images: Some(
                images
                    .iter()
                    .map(|(n, mb)| ContainerImage {
                        names: Some(vec![n.to_string()]),
                        size_bytes: Some(mb * MB),
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

fn pod(init: &[&str], containers: &[&str]) -> PodInfo {
    let c = |image: &&str| Container {
        name: "c".into(),
        image: Some(image.to_string()),
        ..Default::default()
    };
    PodInfo::new(Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            init_containers: (!init.is_empty()).then(|| init.iter().map(c).collect()),
            containers: containers.iter().map(c).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// Scores of every node of the snapshot for `pod`.
fn scores(snapshot: &Snapshot, pod: &PodInfo) -> Vec<i64> {
    let plugin = ImageLocality::new();
    let mut state = CycleState::default();
    assert!(
        plugin
            .pre_score(&mut state, pod, snapshot.nodes(), snapshot)
            .is_success()
    );
    snapshot
        .nodes()
        .iter()
        .map(|n| {
            let (score, status) = plugin.score(&state, pod, n);
            assert!(status.is_success());
            score
        })
        .collect()
}

#[test]
fn score_table() {
    // Two nodes, every image on one of them: each counts half its size.
    let two = Snapshot::new(vec![
        node(
            "node1",
            &[("gcr.io/40:latest", 40), ("gcr.io/300:latest", 300)],
        ),
        node(
            "node2",
            &[("gcr.io/250:latest", 250), ("gcr.io/500:v1", 500)],
        ),
    ]);
    // Three nodes, the 2000 MiB image on all of them, the 600 MiB one on one.
    let three = Snapshot::new(vec![
        node(
            "a",
            &[("gcr.io/2000:latest", 2000), ("gcr.io/600:latest", 600)],
        ),
        node("b", &[("gcr.io/2000:latest", 2000)]),
        node("c", &[("gcr.io/2000:latest", 2000)]),
    ]);
    // (name, snapshot, init images, images, expected scores in node order)
    type Case<'a> = (
        &'a str,
        &'a Snapshot,
        &'a [&'a str],
        &'a [&'a str],
        Vec<i64>,
    );
    let cases: Vec<Case> = vec![
        // node1: 40/2 = 20 MiB < 23 → 0; node2: 250/2 = 125 MiB → 100×102/1977 = 5.
        (
            "two images spread on two nodes, prefer the larger image one",
            &two,
            &[],
            &["gcr.io/40", "gcr.io/250"],
            vec![0, 5],
        ),
        // node1: 20 + 150 = 170 MiB → 100×147/1977 = 7.
        (
            "two images on one node, prefer this node",
            &two,
            &[],
            &["gcr.io/40", "gcr.io/300"],
            vec![7, 0],
        ),
        // The same with one image in an init container.
        (
            "init container images count",
            &two,
            &["gcr.io/300"],
            &["gcr.io/40"],
            vec![7, 0],
        ),
        // 500/2 = 250 MiB over one container's range → 100×227/977 = 23.
        (
            "tagged image matches",
            &two,
            &[],
            &["gcr.io/500:v1"],
            vec![0, 23],
        ),
        (
            "untagged name means latest and does not match a v1 tag",
            &two,
            &[],
            &["gcr.io/500"],
            vec![0, 0],
        ),
        ("no image present", &two, &[], &["gcr.io/none"], vec![0, 0]),
        // On every node: the full 2000 MiB, above 1000 MiB for one container → 100.
        (
            "image larger than the maximum everywhere",
            &three,
            &[],
            &["gcr.io/2000"],
            vec![100, 100, 100],
        ),
        // 2000 MiB over two containers' 2000 MiB range → 100 on every node;
        // node a adds 600/3 = 200 MiB but is already at the cap.
        (
            "two containers, cap scales with containers",
            &three,
            &[],
            &["gcr.io/2000", "gcr.io/600"],
            vec![100, 100, 100],
        ),
        // 600/3 = 200 MiB on node a: 100×177/977 = 18; others 0.
        (
            "spread of one in three",
            &three,
            &[],
            &["gcr.io/600"],
            vec![18, 0, 0],
        ),
        ("pod without containers", &two, &[], &[], vec![0, 0]),
    ];
    for (name, snapshot, init, images, want) in cases {
        assert_eq!(scores(snapshot, &pod(init, images)), want, "{name}");
    }
}

#[test]
fn score_without_pre_score_is_an_error() {
    let (_, status) =
        ImageLocality::new().score(&CycleState::default(), &pod(&[], &["x"]), &node("n", &[]));
    assert_eq!(status.code, Code::Error);
}

#[test]
fn priority_and_scaling_edges() {
    for (sum, containers, want) in [
        (0, 1, 0),
        (MIN_THRESHOLD, 1, 0),
        (MAX_CONTAINER_THRESHOLD, 1, 100),
        (i64::MAX, 1, 100),
        (MAX_CONTAINER_THRESHOLD, 2, 49),
        (i64::MAX, 0, 0),
        (-5, 3, 0),
    ] {
        assert_eq!(
            calculate_priority(sum, containers),
            want,
            "sum {sum} containers {containers}"
        );
    }
    assert_eq!(scaled_image_score(100, 1, 0), 0);
    assert_eq!(scaled_image_score(100, 1, 4), 25);
    assert_eq!(scaled_image_score(100, 4, 4), 100);
}

#[test]
fn registers_pre_score_and_score() {
    let plugin = Arc::new(ImageLocality::new());
    assert_eq!(plugin.name(), "ImageLocality");
    let mut points = Points::default();
    plugin.register(&mut points);
    assert_eq!((points.pre_score.len(), points.score.len()), (1, 1));
}

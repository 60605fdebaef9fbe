//! ImageLocality (upstream `pkg/scheduler/framework/plugins/imagelocality/image_locality.go`,
//! v1.35): prefers nodes that already hold the pod's container images, so the pod starts
//! without pulling them.
//!
//! Each image of the pod (init containers and containers) found on the node adds its size
//! scaled by how many of the cluster's nodes hold it (`size × nodes_with_image /
//! all_nodes`), which keeps pods of one popular image from piling onto the few nodes that
//! have it ("node heating"). The sum is clamped to `[23 MiB, 1000 MiB × containers]` and
//! mapped linearly onto `0..=MAX_NODE_SCORE`.
//!
//! Upstream reads the node count from the snapshot in every Score call; here PreScore reads
//! it (and the image spread map, [`Snapshot::image_nodes`]) once and keeps it in the cycle
//! state with the pod's normalized image names.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::framework::types::normalized_image_name;
use super::super::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, Points, PreScorePlugin, ScorePlugin,
    Snapshot, Status,
};

/// Upstream `names.ImageLocality`.
pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
/// Below this the score is 0 (upstream `minThreshold`, 23 MiB).
pub const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, above this the score is the maximum (upstream `maxContainerThreshold`).
pub const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// What Score needs, computed once per cycle.
#[derive(Clone, Debug)]
struct PreScoreState {
    /// The pod's images (init containers, then containers), normalized.
    images: Vec<String>,
    containers: i64,
    total_nodes: usize,
    image_nodes: Arc<HashMap<String, usize>>,
}

/// Upstream `ImageLocality`; it has no args.
#[derive(Default)]
pub struct ImageLocality;

impl ImageLocality {
    pub fn new() -> ImageLocality {
        ImageLocality
    }
}

/// Upstream `calculatePriority`.
pub(crate) fn calculate_priority(sum: i64, containers: i64) -> i64 {
    let max = MAX_CONTAINER_THRESHOLD.saturating_mul(containers);
    if max <= MIN_THRESHOLD {
        // No container: upstream's division yields 0 too.
        return 0;
    }
    let sum = sum.clamp(MIN_THRESHOLD, max);
    let v = i128::from(MAX_NODE_SCORE) * i128::from(sum - MIN_THRESHOLD)
        / i128::from(max - MIN_THRESHOLD);
    i64::try_from(v).unwrap_or(MAX_NODE_SCORE)
}

/// Upstream `scaledImageScore`: the size times the share of nodes holding the image.
pub(crate) fn scaled_image_score(size: i64, nodes_with_image: usize, total_nodes: usize) -> i64 {
    if total_nodes == 0 {
        return 0;
    }
    let spread = nodes_with_image as f64 / total_nodes as f64;
    (size as f64 * spread) as i64
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Score only: no event (upstream implements no `EnqueueExtensions`).
    fn events(&self) -> Vec<super::super::framework::ClusterEvent> {
        Vec::new()
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_score.push(self.clone());
        points.score.push(self);
    }
}

impl PreScorePlugin for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        let spec = pod.pod.spec.as_ref();
        let containers = spec.into_iter().flat_map(|s| {
            s.init_containers
                .iter()
                .flatten()
                .chain(s.containers.iter())
        });
        let images: Vec<String> = containers
            .map(|c| normalized_image_name(c.image.as_deref().unwrap_or_default()))
            .collect();
        state.write(
            NAME,
            PreScoreState {
                containers: i64::try_from(images.len()).unwrap_or(i64::MAX),
                images,
                total_nodes: snapshot.len(),
                image_nodes: Arc::clone(&snapshot.image_nodes),
            },
        );
        Status::success()
    }
}

impl ScorePlugin for ImageLocality {
    /// Already in `0..=MAX_NODE_SCORE` (no normalize, as upstream).
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let Some(s) = state.read::<PreScoreState>(NAME) else {
            return (
                0,
                Status::error(format!("reading {NAME:?} from cycleState: not found")),
            );
        };
        let sum = s
            .images
            .iter()
            .filter_map(|image| {
                let size = *node.images.get(image)?;
                let spread = s.image_nodes.get(image).copied().unwrap_or(0);
                Some(scaled_image_score(size, spread, s.total_nodes))
            })
            .fold(0i64, i64::saturating_add);
        (calculate_priority(sum, s.containers), Status::success())
    }
}

#[cfg(test)]
#[path = "image_locality_tests.rs"]
mod tests;

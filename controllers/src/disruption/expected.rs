//! How many pods a budget expects and how many must be healthy: `getExpectedPodCount` and
//! `getExpectedScale` of upstream's `pkg/controller/disruption/disruption.go`. An integer
//! `minAvailable` expects the selected pods; `maxUnavailable` and a percentage `minAvailable`
//! expect the sum of the scales of the pods' controllers (see [`super::finders`]).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::finders::ScaleLookup;
use super::policy::scaled_value;
use crate::replicaset::pods::controller_of;

/// The outcome of `getExpectedPodCount`.
pub(super) struct Expected {
    pub count: i32,
    pub desired_healthy: i32,
    /// Selected pods without a controller, skipped when counting controllers.
    pub unmanaged: Vec<String>,
}

/// Whether the budget is relative to its controllers' scale: `maxUnavailable` in any form, or
/// a percentage `minAvailable`.
pub(super) fn needs_scale(spec: &PodDisruptionBudgetSpec) -> bool {
    spec.max_unavailable.is_some() || matches!(spec.min_available, Some(IntOrString::String(_)))
}

/// `getExpectedPodCount`: how many pods there should be and how many must be healthy.
pub(super) fn expected_pod_count(
    spec: &PodDisruptionBudgetSpec,
    pods: &[&Pod],
    scales: &dyn Fn(&OwnerReference) -> ScaleLookup,
) -> Result<Expected, String> {
    if let Some(max_unavailable) = &spec.max_unavailable {
        let (count, unmanaged) = expected_scale(pods, scales)?;
        let max_unavailable = scaled_value(max_unavailable, count)?;
        let desired_healthy = clamp_i32((i64::from(count) - max_unavailable).max(0));
        return Ok(Expected {
            count,
            desired_healthy,
            unmanaged,
        });
    }
    match &spec.min_available {
        Some(IntOrString::Int(min_available)) => Ok(Expected {
            count: clamp_i32(i64::try_from(pods.len()).unwrap_or(i64::MAX)),
            desired_healthy: *min_available,
            unmanaged: Vec::new(),
        }),
        Some(min_available) => {
            let (count, unmanaged) = expected_scale(pods, scales)?;
            Ok(Expected {
                count,
                desired_healthy: clamp_i32(scaled_value(min_available, count)?),
                unmanaged,
            })
        }
        // Validation requires one of the two; without either nothing is expected, which
        // allows no disruption.
        None => Ok(Expected {
            count: 0,
            desired_healthy: 0,
            unmanaged: Vec::new(),
        }),
    }
}

/// `getExpectedScale`: the sum of the scales of the pods' controllers, each controller
/// counted once (by the UID the lookup reports), and the names of pods without a controller.
/// The first controller that cannot be found fails the sync.
fn expected_scale(
    pods: &[&Pod],
    scales: &dyn Fn(&OwnerReference) -> ScaleLookup,
) -> Result<(i32, Vec<String>), String> {
    let mut by_uid: BTreeMap<String, i32> = BTreeMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(owner) = controller_of(&pod.metadata) else {
            unmanaged.push(name);
            continue;
        };
        if by_uid.contains_key(&owner.uid) {
            continue;
        }
        match scales(owner) {
            ScaleLookup::Found { uid, replicas } => {
                by_uid.insert(uid, replicas);
            }
            ScaleLookup::NotFound => return Err(format!("found no controllers for pod {name:?}")),
            ScaleLookup::Error(message) => return Err(message),
        }
    }
    let sum: i64 = by_uid.values().map(|r| i64::from(*r)).sum();
    Ok((clamp_i32(sum), unmanaged))
}

pub(super) fn clamp_i32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n > 0 { i32::MAX } else { i32::MIN })
}

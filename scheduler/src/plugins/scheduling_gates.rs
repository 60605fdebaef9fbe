//! SchedulingGates (upstream `plugins/schedulinggates`): a pod with `spec.schedulingGates`
//! is not scheduled until every gate is removed; it waits outside the active queue, and the
//! update that removes the last gate lets it in.

use std::sync::Arc;

use crate::framework::{Code, Plugin, PodInfo, Points, PreEnqueuePlugin, Status};

pub const NAME: &str = "SchedulingGates";

#[derive(Default)]
pub struct SchedulingGates;

impl Plugin for SchedulingGates {
    fn name(&self) -> &'static str {
        NAME
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.pre_enqueue.push(self);
    }
}

impl PreEnqueuePlugin for SchedulingGates {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        let gates: Vec<&str> = pod
            .pod
            .spec
            .iter()
            .flat_map(|s| s.scheduling_gates.iter().flatten())
            .map(|g| g.name.as_str())
            .collect();
        if gates.is_empty() {
            return Status::success();
        }
        // Upstream answers UnschedulableAndUnresolvable; here the queue's gated state is the
        // same thing, so the pod waits for its own update.
        Status::new(
            Code::Pending,
            format!("waiting for scheduling gates: [{}]", gates.join(" ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PodSchedulingGate;

    use super::*;
    use crate::testing::{pod, pod_info};

    #[test]
    fn gated_until_every_gate_is_gone() {
        assert!(
            SchedulingGates
                .pre_enqueue(&pod_info(pod("a", &[])))
                .is_success()
        );
        let mut gated = pod("b", &[]);
        gated.spec.as_mut().expect("test fixture").scheduling_gates = Some(vec![
            PodSchedulingGate {
                name: "example.com/quota".into(),
            },
            PodSchedulingGate {
                name: "example.com/data".into(),
            },
        ]);
        let status = SchedulingGates.pre_enqueue(&pod_info(gated));
        assert_eq!(status.code, Code::Pending);
        assert_eq!(
            status.message(),
            "waiting for scheduling gates: [example.com/quota example.com/data]"
        );
    }
}

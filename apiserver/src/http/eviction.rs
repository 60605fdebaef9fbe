//! `pods/eviction` (upstream `pkg/registry/core/pod/storage/eviction.go`): a delete that a
//! PodDisruptionBudget may refuse. An admitted eviction takes one disruption from the budget
//! and records the pod in `status.disruptedPods` (so that a second eviction before the
//! disruption controller has seen the first cannot overdraw it), marks the pod with the
//! `DisruptionTarget` condition, then deletes it.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::error::{ApiError, Cause, Details};
use crate::registry::{DeleteOptions, Deleted, WriteOptions};
use crate::resources::{Resource, Subresource};
use crate::selector::LabelSelector;
use crate::server::ApiServer;

/// Evictions a budget may hold unconfirmed by the disruption controller
/// (`MaxDisruptedPodSize`).
const MAX_DISRUPTED_PODS: usize = 2000;
/// Tries of the read-modify-write of the budget's status when it changes meanwhile.
const CONFLICT_RETRIES: usize = 5;

const VIOLATION: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

/// A 429 that names the budget, as upstream's `createTooManyRequestsError` with a cause.
fn too_many_requests(message: String) -> ApiError {
    let mut error = ApiError::new(429, "TooManyRequests", VIOLATION);
    error.details = Some(Box::new(Details {
        causes: vec![Cause {
            reason: "DisruptionBudget",
            message,
            field: String::new(),
        }],
        ..Details::default()
    }));
    error
}

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// Running and Ready: the pods a budget counts as healthy.
fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| text(c, "/type") == "Ready" && text(c, "/status") == "True")
        })
}

impl ApiServer {
    /// Evicts `name`; `opts` are the delete options the Eviction carried.
    pub(crate) async fn evict(
        &self,
        pods: &Resource,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<(), ApiError> {
        let current = self.registry.get(pods, Some(namespace), name).await?;
        let pod: Value = serde_json::from_slice(&current).map_err(ApiError::internal)?;
        // Pods that are finished, not yet running, or already going need no budget
        // (`canIgnorePDB`).
        let phase = text(&pod, "/status/phase");
        let ignorable = pod.pointer("/metadata/deletionTimestamp").is_some()
            || matches!(phase, "Succeeded" | "Failed" | "Pending" | "");
        if !ignorable {
            let budgets = self.budgets_of(namespace, &pod).await?;
            if budgets.len() > 1 {
                return Err(ApiError::new(
                    500,
                    "InternalError",
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ));
            }
            if let Some(budget) = budgets.into_iter().next() {
                let policy = text(&budget, "/spec/unhealthyPodEvictionPolicy");
                let healthy_enough =
                    int(&budget, "/status/currentHealthy") >= int(&budget, "/status/desiredHealthy")
                        && int(&budget, "/status/desiredHealthy") > 0;
                // An unready pod costs the budget nothing when the policy says so, or when the
                // budget is met anyway (`IfHealthyBudget`, the default).
                let free = !is_ready(&pod)
                    && (policy == "AlwaysAllow" || healthy_enough);
                if !free {
                    self.take_disruption(namespace, name, budget, opts.dry_run).await?;
                }
            }
        }
        if !opts.dry_run {
            self.mark_disruption_target(pods, namespace, name, &pod).await;
        }
        match self.registry.delete(pods, Some(namespace), name, opts).await? {
            Deleted::Gone(_) | Deleted::Pending(_) => Ok(()),
        }
    }

    /// The budgets of the pod's namespace whose (non-empty) selector matches it.
    async fn budgets_of(&self, namespace: &str, pod: &Value) -> Result<Vec<Value>, ApiError> {
        let labels = pod.pointer("/metadata/labels").cloned().unwrap_or(Value::Null);
        let budgets: Vec<Value> = self
            .cached_objects("policy", "v1", "poddisruptionbudgets", Some(namespace))
            .await?;
        Ok(budgets
            .into_iter()
            .filter(|b| {
                b.pointer("/spec/selector")
                    .and_then(|s| LabelSelector::from_label_selector_json(s).ok())
                    .is_some_and(|s| !s.is_empty() && s.matches(&labels))
            })
            .collect())
    }

    /// `checkAndDecrement`: takes one disruption from `budget` for `pod_name`, or refuses.
    async fn take_disruption(
        &self,
        namespace: &str,
        pod_name: &str,
        mut budget: Value,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        let resource = self
            .resources
            .get("policy", "v1", "poddisruptionbudgets")
            .ok_or_else(|| ApiError::internal("no poddisruptionbudgets resource"))?
            .clone();
        for _ in 0..CONFLICT_RETRIES {
            let name = text(&budget, "/metadata/name").to_owned();
            let observed = int(&budget, "/status/observedGeneration");
            if observed < int(&budget, "/metadata/generation") {
                return Err(too_many_requests(format!(
                    "The disruption budget {name} is still being processed by the server."
                )));
            }
            let allowed = int(&budget, "/status/disruptionsAllowed");
            if allowed < 0 {
                return Err(ApiError::new(403, "Forbidden", "pdb disruptions allowed is negative"));
            }
            let disrupted = budget
                .pointer("/status/disruptedPods")
                .and_then(Value::as_object)
                .map_or(0, serde_json::Map::len);
            if disrupted > MAX_DISRUPTED_PODS {
                return Err(ApiError::new(
                    403,
                    "Forbidden",
                    "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
                ));
            }
            if allowed == 0 {
                return Err(too_many_requests(format!(
                    "The disruption budget {name} needs {} healthy pods and has {} currently",
                    int(&budget, "/status/desiredHealthy"),
                    int(&budget, "/status/currentHealthy"),
                )));
            }
            let now = json!(crate::strategy::meta::now());
            budget["status"]["disruptionsAllowed"] = json!(allowed - 1);
            budget["status"]["disruptedPods"][pod_name] = now.clone();
            if allowed == 1 {
                set_disruption_allowed_false(&mut budget, &now);
            }
            if dry_run {
                return Ok(());
            }
            match self
                .registry
                .update(
                    &resource,
                    Some(namespace),
                    &name,
                    Some(Subresource::Status),
                    budget.clone(),
                    &WriteOptions::default(),
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if error.code == 409 => {
                    let fresh = self.registry.get(&resource, Some(namespace), &name).await?;
                    budget = serde_json::from_slice(&fresh).map_err(ApiError::internal)?;
                }
                Err(error) => return Err(error),
            }
        }
        Err(too_many_requests(
            "too many conflicts while updating the disruption budget; try again".to_owned(),
        ))
    }

    /// Adds the `DisruptionTarget` condition before the delete, as upstream does (so the
    /// pod's users learn why it goes); failing to add it does not stop the eviction.
    async fn mark_disruption_target(&self, pods: &Resource, namespace: &str, name: &str, pod: &Value) {
        let mut conditions: Vec<Value> = pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        conditions.retain(|c| text(c, "/type") != "DisruptionTarget");
        conditions.push(json!({
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "EvictionByEvictionAPI",
            "message": "Eviction API: evicting",
            "lastTransitionTime": crate::strategy::meta::now(),
        }));
        let mut updated = pod.clone();
        updated["status"]["conditions"] = Value::Array(conditions);
        let result = self
            .registry
            .update(
                pods,
                Some(namespace),
                name,
                Some(Subresource::Status),
                updated,
                &WriteOptions::default(),
            )
            .await;
        if let Err(error) = result {
            tracing::debug!(%error, pod = name, "marking an evicted pod");
        }
    }
}

/// The `DisruptionAllowed` condition once no disruption is left (`updateDisruptionAllowedCondition`).
fn set_disruption_allowed_false(budget: &mut Value, now: &Value) {
    let condition = json!({
        "type": "DisruptionAllowed",
        "status": "False",
        "reason": "InsufficientPods",
        "message": "",
        "observedGeneration": budget.pointer("/metadata/generation").cloned().unwrap_or(Value::Null),
        "lastTransitionTime": now,
    });
    let conditions = budget["status"]["conditions"].as_array_mut();
    match conditions {
        Some(list) => {
            match list.iter_mut().find(|c| text(c, "/type") == "DisruptionAllowed") {
                Some(existing) if text(existing, "/status") == "False" => {}
                Some(existing) => *existing = condition,
                None => list.push(condition),
            }
        }
        None => budget["status"]["conditions"] = json!([condition]),
    }
}

/// The Eviction body's delete options.
pub(crate) fn options_of(eviction: &Value) -> Bytes {
    eviction
        .get("deleteOptions")
        .map(|o| Bytes::from(o.to_string()))
        .unwrap_or_default()
}

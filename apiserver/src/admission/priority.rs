//! Priority (upstream `plugin/pkg/admission/priority`): a new pod's `priority` and
//! `preemptionPolicy` come from its PriorityClass (or the global default class, else 0), and
//! at most one PriorityClass may be the global default.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::scheduling::v1::PriorityClass;

use super::{Attributes, Operation, forbidden};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::server::ApiServer;

const DEFAULT_PREEMPTION: &str = "PreemptLowerPriority";

async fn classes(server: &ApiServer) -> Result<Vec<PriorityClass>, ApiError> {
    server
        .cached_objects("scheduling.k8s.io", "v1", "priorityclasses", None)
        .await
}

/// The global default class: the oldest one marked default (upstream takes the one with the
/// lowest value when several raced in; either way exactly one wins).
fn global_default(classes: &[PriorityClass]) -> Option<&PriorityClass> {
    classes
        .iter()
        .filter(|c| c.global_default == Some(true))
        .min_by_key(|c| c.value)
}

pub async fn mutate(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    obj: &mut dyn KubeObject,
) -> Result<(), ApiError> {
    if attrs.operation != Operation::Create || !attrs.is("", "pods") || attrs.subresource.is_some()
    {
        return Ok(());
    }
    let Some(pod) = obj.as_any_mut().downcast_mut::<Pod>() else {
        return Ok(());
    };
    let Some(spec) = pod.spec.as_mut() else {
        return Ok(());
    };
    let (priority, policy) = match spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        None => {
            let all = classes(server).await?;
            match global_default(&all) {
                Some(class) => {
                    spec.priority_class_name = class.metadata.name.clone();
                    (class.value, class.preemption_policy.clone())
                }
                None => (0, None),
            }
        }
        Some(name) => {
            let class: Option<PriorityClass> = server
                .lookup_in("scheduling.k8s.io", "v1", "priorityclasses", None, name)
                .await?;
            let Some(class) = class else {
                return Err(forbidden(
                    attrs,
                    format!("no PriorityClass with name {name} was found"),
                ));
            };
            (class.value, class.preemption_policy)
        }
    };
    if let Some(given) = spec.priority
        && given != priority
    {
        return Err(forbidden(
            attrs,
            format!(
                "the integer value of priority ({given}) must not be provided in pod spec; \
                 priority admission controller computed {priority} from the given \
                 PriorityClass name"
            ),
        ));
    }
    spec.priority = Some(priority);
    let policy = policy.unwrap_or_else(|| DEFAULT_PREEMPTION.to_owned());
    if let Some(given) = &spec.preemption_policy
        && *given != policy
    {
        return Err(forbidden(
            attrs,
            format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod \
                 spec; priority admission controller computed {policy} from the given \
                 PriorityClass name"
            ),
        ));
    }
    spec.preemption_policy = Some(policy);
    Ok(())
}

/// Only one PriorityClass may be the global default.
pub async fn validate(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    obj: Option<&dyn KubeObject>,
) -> Result<(), ApiError> {
    if !attrs.is("scheduling.k8s.io", "priorityclasses") || attrs.operation == Operation::Delete {
        return Ok(());
    }
    let Some(class) = obj.and_then(|o| o.as_any().downcast_ref::<PriorityClass>()) else {
        return Ok(());
    };
    if class.global_default != Some(true) {
        return Ok(());
    }
    let all = classes(server).await?;
    if let Some(other) = all
        .iter()
        .find(|c| c.global_default == Some(true) && c.metadata.name != class.metadata.name)
    {
        return Err(forbidden(
            attrs,
            format!(
                "PriorityClass {} is already marked as default. Only one default can exist",
                other.metadata.name.as_deref().unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

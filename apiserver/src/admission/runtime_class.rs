//! RuntimeClass (upstream `plugin/pkg/admission/runtimeclass`): a new pod that names a
//! RuntimeClass gets the class's pod overhead and its scheduling constraints (node selector
//! and tolerations); a class that does not exist refuses the pod.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::node::v1::RuntimeClass;

use super::{Attributes, Operation, forbidden};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::server::ApiServer;

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
    let Some(name) = spec.runtime_class_name.clone().filter(|n| !n.is_empty()) else {
        return Ok(());
    };
    let class: Option<RuntimeClass> = server
        .lookup_in("node.k8s.io", "v1", "runtimeclasses", None, &name)
        .await?;
    let Some(class) = class else {
        return Err(forbidden(
            attrs,
            format!("pod rejected: RuntimeClass {name:?} not found"),
        ));
    };
    if let Some(fixed) = class.overhead.and_then(|o| o.pod_fixed) {
        match &spec.overhead {
            Some(given) if *given != fixed => {
                return Err(forbidden(
                    attrs,
                    "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
                ));
            }
            _ => spec.overhead = Some(fixed),
        }
    }
    let Some(scheduling) = class.scheduling else {
        return Ok(());
    };
    if let Some(selector) = scheduling.node_selector {
        let pod_selector = spec.node_selector.get_or_insert_with(Default::default);
        for (key, value) in selector {
            match pod_selector.get(&key) {
                Some(existing) if *existing != value => {
                    return Err(forbidden(
                        attrs,
                        format!(
                            "conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; \
                             pod.spec.nodeSelector[{key}] = {existing}"
                        ),
                    ));
                }
                _ => {
                    pod_selector.insert(key, value);
                }
            }
        }
    }
    if let Some(tolerations) = scheduling.tolerations {
        let pod_tolerations = spec.tolerations.get_or_insert_with(Vec::new);
        for toleration in tolerations {
            if !pod_tolerations.contains(&toleration) {
                pod_tolerations.push(toleration);
            }
        }
    }
    Ok(())
}

//! PodSecurity (upstream `plugin/pkg/admission/security/podsecurity`): the I/O half of the
//! plugin whose decisions live in `podsecurity/`. It reads the namespace's labels (and, when
//! a namespace's enforce level is tightened, its pods) and turns a decision into a 403, a
//! 422 or warnings.

use std::time::Instant;

use k8s_openapi::api::core::v1::{Namespace, Pod};

use super::podsecurity::{
    self, Config, Denial, NAMESPACE_MAX_PODS_TO_CHECK, NAMESPACE_POD_CHECK_TIMEOUT,
    NamespaceDecision, NamespaceRequest, Request,
};
use super::{Attributes, Operation};
use crate::auth::UserInfo;
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::server::ApiServer;

fn refuse(attrs: &Attributes<'_>, denial: Denial) -> ApiError {
    match denial {
        Denial::Forbidden { reason } => ApiError::new(
            403,
            "Forbidden",
            podsecurity::forbidden_message(&attrs.resource.qualified(), attrs.name, &reason),
        ),
        Denial::Invalid { causes } => ApiError::new(
            422,
            "Invalid",
            podsecurity::invalid_message(attrs.resource.kind, attrs.name, &causes),
        ),
    }
}

pub async fn validate(
    server: &ApiServer,
    user: &UserInfo,
    attrs: &Attributes<'_>,
    obj: Option<&dyn KubeObject>,
    old: Option<&dyn KubeObject>,
) -> Result<Vec<String>, ApiError> {
    if attrs.operation == Operation::Delete {
        return Ok(Vec::new());
    }
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    let config = Config::default();
    if attrs.is("", "namespaces") {
        return namespace(server, attrs, &config, obj, old).await;
    }
    let group = attrs.resource.group;
    let plural = attrs.resource.plural;
    if !podsecurity::has_pod_spec(group, plural) {
        return Ok(Vec::new());
    }
    let ns: Option<Namespace> = server.lookup("namespaces", None, attrs.namespace).await?;
    let labels = ns.and_then(|n| n.metadata.labels);
    let request = Request {
        namespace: attrs.namespace,
        subresource: attrs.subresource_name(),
        username: &user.name,
        namespace_labels: labels.as_ref(),
    };
    let decision = if attrs.is("", "pods") {
        let Some(pod) = obj.as_any().downcast_ref::<Pod>() else {
            return Ok(Vec::new());
        };
        let old = old.and_then(|o| o.as_any().downcast_ref::<Pod>());
        podsecurity::admit_pod(&config, &request, pod, old)
    } else {
        podsecurity::admit_pod_controller(&config, &request, attrs.resource.kind, &obj.to_value())
    };
    match decision.denial {
        Some(denial) => Err(refuse(attrs, denial)),
        None => Ok(decision.warnings),
    }
}

async fn namespace(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    config: &Config,
    obj: &dyn KubeObject,
    old: Option<&dyn KubeObject>,
) -> Result<Vec<String>, ApiError> {
    let Some(namespace) = obj.as_any().downcast_ref::<Namespace>() else {
        return Ok(Vec::new());
    };
    let old = old.and_then(|o| o.as_any().downcast_ref::<Namespace>());
    let request_namespace = if attrs.operation == Operation::Create {
        ""
    } else {
        attrs.name
    };
    let request = NamespaceRequest {
        request_namespace,
        subresource: attrs.subresource_name(),
        namespace,
        old_namespace: old,
    };
    match podsecurity::validate_namespace(config, &request) {
        NamespaceDecision::Done(decision) => match decision.denial {
            Some(denial) => Err(refuse(attrs, denial)),
            None => Ok(decision.warnings),
        },
        NamespaceDecision::CheckExistingPods { enforce } => {
            let name = namespace.metadata.name.as_deref().unwrap_or_default();
            let pods: Vec<Pod> = match server.cached_objects("", "v1", "pods", Some(name)).await {
                Ok(pods) => pods,
                Err(_) => return Ok(vec![podsecurity::FAILED_TO_LIST_PODS_WARNING.to_owned()]),
            };
            let started = Instant::now();
            Ok(podsecurity::evaluate_pods_in_namespace(
                config,
                name,
                enforce,
                &pods,
                NAMESPACE_MAX_PODS_TO_CHECK,
                || started.elapsed() > NAMESPACE_POD_CHECK_TIMEOUT,
            ))
        }
    }
}

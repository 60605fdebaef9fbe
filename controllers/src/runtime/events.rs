//! Events the controllers record about the objects they act on (core/v1 Events, what
//! `kubectl describe` and `kubectl get events` show). Recording never fails a sync: an Event
//! that cannot be written is logged and dropped, as client-go's recorder drops them.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::core::Resource;

/// `Normal` or `Warning`, as upstream's `v1.EventTypeNormal` / `EventTypeWarning`.
pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

/// A reference to `object` for an Event's `involvedObject`.
pub fn reference<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// Writes one Event about `regarding` from `component` (`deployment-controller`...).
pub async fn record(
    client: &kube::Client,
    component: &str,
    regarding: ObjectReference,
    type_: &str,
    reason: &str,
    message: &str,
) {
    let namespace = regarding
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let now = Timestamp::now();
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some(format!(
                "{}.",
                regarding.name.as_deref().unwrap_or("object")
            )),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: regarding,
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        type_: Some(type_.to_owned()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        source: Some(EventSource {
            component: Some(component.to_owned()),
            host: None,
        }),
        reporting_component: Some(component.to_owned()),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    if let Err(error) = api.create(&PostParams::default(), &event).await {
        tracing::debug!(%error, component, reason, "recording an event");
    }
}

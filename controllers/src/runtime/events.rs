//! Events a controller records about the objects it manages, written as core/v1 Events (what
//! `kubectl describe` shows), as client-go's `record.EventRecorder` writes them. `kube`'s own
//! recorder lives in `kube-runtime`, which this workspace does not build, hence this small one.
//!
//! Recording is best effort, as upstream's: a failed write is logged and never fails a sync.
//! Unlike client-go there is no aggregation of repeated events (`count` stays 1); each call is
//! one create, awaited, so the number of writes in flight is bounded by the workers.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::{Api, PostParams};

/// `Normal` or `Warning`, the two types upstream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    /// The type an event named `Warning` has; any other name is `Normal`.
    pub fn named(name: &str) -> EventType {
        if name == "Warning" {
            EventType::Warning
        } else {
            EventType::Normal
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Records events as one component (`source.component`, e.g. `statefulset-controller`).
pub struct EventRecorder {
    client: kube::Client,
    component: &'static str,
}

/// The reference an event names its object by (`ref.GetReference`).
pub fn reference_to<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

impl EventRecorder {
    pub fn new(client: kube::Client, component: &'static str) -> EventRecorder {
        EventRecorder { client, component }
    }

    /// Writes one event about `regarding` in its namespace (`default` for cluster-scoped
    /// objects, as client-go does).
    pub async fn record(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        let now = Timestamp::now();
        let namespace = regarding
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let object = regarding.name.as_deref().unwrap_or_default();
        // client-go's name: the object's name and the time in hexadecimal nanoseconds.
        let name = format!("{object}.{:x}", now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: regarding.clone(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            type_: Some(type_.as_str().to_owned()),
            source: Some(EventSource {
                component: Some(self.component.to_owned()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            reporting_component: Some(self.component.to_owned()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(error) = api.create(&PostParams::default(), &event).await {
            tracing::debug!(component = self.component, object, reason, %error, "event not recorded");
        }
    }
}

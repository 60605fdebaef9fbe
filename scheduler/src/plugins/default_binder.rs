//! DefaultBinder (upstream `plugins/defaultbinder`): binds through the `pods/binding`
//! subresource, which sets `spec.nodeName` exactly once; the API server refuses a second
//! binding, so two schedulers can never place one pod twice.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use crate::framework::{BindPlugin, CycleState, Plugin, PodInfo, Points, Status};

pub const NAME: &str = "DefaultBinder";

pub struct DefaultBinder {
    client: kube::Client,
}

impl DefaultBinder {
    pub fn new(client: kube::Client) -> DefaultBinder {
        DefaultBinder { client }
    }
}

impl Plugin for DefaultBinder {
    fn name(&self) -> &'static str {
        NAME
    }

    fn register(self: Arc<Self>, points: &mut Points) {
        points.bind.push(self);
    }
}

impl BindPlugin for DefaultBinder {
    fn bind<'a>(
        &'a self,
        _state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            let binding = Binding {
                metadata: ObjectMeta {
                    name: Some(pod.name().to_owned()),
                    namespace: Some(pod.namespace().to_owned()),
                    uid: Some(pod.uid.clone()),
                    ..ObjectMeta::default()
                },
                target: ObjectReference {
                    api_version: Some("v1".to_owned()),
                    kind: Some("Node".to_owned()),
                    name: Some(node.to_owned()),
                    ..ObjectReference::default()
                },
            };
            let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.namespace());
            match api
                .create_subresource::<Binding, serde_json::Value>(
                    "binding",
                    pod.name(),
                    &PostParams::default(),
                    &binding,
                )
                .await
            {
                Ok(_) => Status::success(),
                Err(e) => Status::error(format!("binding {} to {node}: {e}", pod.key)),
            }
        })
    }
}

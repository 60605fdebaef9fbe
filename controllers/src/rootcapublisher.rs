//! The root CA publisher (upstream `pkg/controller/certificates/rootcacertpublisher`): every
//! namespace holds the `kube-root-ca.crt` ConfigMap with the cluster CA, which the token
//! volume of every pod projects so that clients in pods can verify the API server. Made when
//! a namespace appears, remade when deleted, rewritten when its CA or annotation differs.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use crate::runtime::controller::{Action, ReconcileError, Reconciler, enqueue, ignore_gone};
use crate::serviceaccount::applied_namespace;
use crate::runtime::informer::{FieldSelected, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver \
    when using internal endpoints such as the internal service IP or kubernetes.default.svc. \
    No other usage is guaranteed across distributions of Kubernetes clusters.";
const QUEUE_CAPACITY: usize = 100_000;

pub struct RootCaPublisher {
    client: kube::Client,
    /// The CA bundle to publish (PEM).
    root_ca: String,
    namespaces: Arc<Informer<Namespace>>,
    config_maps: Arc<Informer<ConfigMap>>,
    /// Keys are namespace names.
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

impl RootCaPublisher {
    /// Starts following the `kube-root-ca.crt` ConfigMaps (read with `reader`); writes go
    /// through `client`. The informer is the publisher's own, as it watches only those.
    pub fn new(
        client: kube::Client,
        reader: kube::Client,
        root_ca: String,
        namespaces: Arc<Informer<Namespace>>,
    ) -> Arc<RootCaPublisher> {
        let config_maps = Informer::start(FieldSelected {
            api: Api::<ConfigMap>::all(reader),
            fields: format!("metadata.name={ROOT_CA_CONFIG_MAP}"),
        });
        let publisher = Arc::new(RootCaPublisher {
            client,
            root_ca,
            namespaces: Arc::clone(&namespaces),
            config_maps: Arc::clone(&config_maps),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        enqueue(&namespaces, &publisher.queue, applied_namespace);
        enqueue(&config_maps, &publisher.queue, |e| {
            let cm = e.object();
            (cm.metadata.name.as_deref() == Some(ROOT_CA_CONFIG_MAP))
                .then(|| ObjectKey::new(None, cm.metadata.namespace.as_deref().unwrap_or_default()))
        });
        publisher
    }

    pub fn stop(&self) {
        self.config_maps.stop();
    }

    /// The ConfigMap as it should be: the CA and the description, other content kept.
    fn wanted(&self, current: Option<&ConfigMap>) -> ConfigMap {
        let mut cm = current.cloned().unwrap_or_else(|| ConfigMap {
            metadata: ObjectMeta {
                name: Some(ROOT_CA_CONFIG_MAP.to_owned()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        });
        cm.data = Some(BTreeMap::from([("ca.crt".to_owned(), self.root_ca.clone())]));
        cm.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(DESCRIPTION_ANNOTATION.to_owned(), DESCRIPTION.to_owned());
        cm
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(ns) = self.namespaces.get(&key) else {
            return Ok(Action::Done);
        };
        if ns.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let current = self
            .config_maps
            .get(&ObjectKey::new(Some(&key.name), ROOT_CA_CONFIG_MAP));
        let wanted = self.wanted(current.as_deref());
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &key.name);
        match current {
            None => match api.create(&PostParams::default(), &wanted).await {
                Ok(_) => Ok(Action::Done),
                // Made meanwhile, or the namespace began terminating (upstream ignores both).
                Err(kube::Error::Api(status)) if status.code == 409 || status.code == 403 => {
                    Ok(Action::Done)
                }
                Err(error) => Err(error.into()),
            },
            Some(current) if current.data != wanted.data || current.metadata.annotations != wanted.metadata.annotations => {
                // An update at the version read: a newer version brings its own event.
                ignore_gone(api.replace(ROOT_CA_CONFIG_MAP, &PostParams::default(), &wanted).await)?;
                Ok(Action::Done)
            }
            Some(_) => Ok(Action::Done),
        }
    }
}

impl Reconciler for RootCaPublisher {
    fn name(&self) -> &'static str {
        "root-ca-cert-publisher"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

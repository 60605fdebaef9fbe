//! The Endpoints and EndpointSlice controllers' I/O half (upstream `endpoints_controller.go`
//! and `endpointslice_controller.go`, run as one: both derive from the same Service and pods).
//! Service, pod, Endpoints and EndpointSlice events become Service keys; a sync writes what
//! `desired_endpoints` and `reconcile_slices` decide. Slices are owned by their Service, so
//! the garbage collector removes them with it; the Endpoints of a deleted Service are deleted
//! here, as upstream does.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use parking_lot::Mutex;

use super::{
    DEFAULT_MAX_ENDPOINTS_PER_SLICE, EndpointsWrite, LABEL_SERVICE_NAME, TriggerTimeTracker,
    desired_endpoints, reconcile_slices, selects,
};
use crate::runtime::controller::{Action, ReconcileError, Reconciler};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

const QUEUE_CAPACITY: usize = 1_000_000;

pub struct EndpointsController {
    /// Writes Endpoints (as `endpoint-controller`).
    endpoints_client: kube::Client,
    /// Writes EndpointSlices (as `endpointslice-controller`).
    slices_client: kube::Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    endpoints: Arc<Informer<Endpoints>>,
    slices: Arc<Informer<EndpointSlice>>,
    pub queue: Arc<WorkQueue<ObjectKey>>,
    trigger_times: Mutex<TriggerTimeTracker>,
}

/// The informers the controller reads.
pub struct EndpointsInformers {
    pub services: Arc<Informer<Service>>,
    pub pods: Arc<Informer<Pod>>,
    pub nodes: Arc<Informer<Node>>,
    pub endpoints: Arc<Informer<Endpoints>>,
    pub slices: Arc<Informer<EndpointSlice>>,
}

impl EndpointsController {
    pub fn new(
        endpoints_client: kube::Client,
        slices_client: kube::Client,
        informers: EndpointsInformers,
    ) -> Arc<EndpointsController> {
        let controller = Arc::new(EndpointsController {
            endpoints_client,
            slices_client,
            services: Arc::clone(&informers.services),
            pods: Arc::clone(&informers.pods),
            nodes: informers.nodes,
            endpoints: Arc::clone(&informers.endpoints),
            slices: Arc::clone(&informers.slices),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
            trigger_times: Mutex::new(TriggerTimeTracker::new()),
        });
        let weak = Arc::downgrade(&controller);
        informers.services.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().map(|e| ObjectKey::of(e.object().as_ref()));
            this.enqueue(keys.collect());
        });
        let weak = Arc::downgrade(&controller);
        informers.pods.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let mut keys = Vec::new();
            for event in events {
                let (new, old) = match event {
                    Event::Applied { new, old } => (Some(new), old.as_ref()),
                    Event::Deleted(old) => (None, Some(old)),
                };
                for pod in new.into_iter().chain(old) {
                    keys.extend(this.services_of(pod));
                }
            }
            keys.sort();
            keys.dedup();
            this.enqueue(keys);
        });
        // Someone else changed what we write: put it back.
        let weak = Arc::downgrade(&controller);
        informers.endpoints.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().map(|e| ObjectKey::of(e.object().as_ref()));
            this.enqueue(keys.collect());
        });
        let weak = Arc::downgrade(&controller);
        informers.slices.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().filter_map(|e| {
                let slice = match e {
                    Event::Applied { new, .. } => new,
                    Event::Deleted(old) => old,
                };
                let service = slice.metadata.labels.as_ref()?.get(LABEL_SERVICE_NAME)?;
                Some(ObjectKey::new(slice.metadata.namespace.as_deref(), service))
            });
            this.enqueue(keys.collect());
        });
        controller
    }

    fn enqueue(&self, keys: Vec<ObjectKey>) {
        if let Err(full) = self.queue.add_all(keys) {
            tracing::warn!(%full, "endpoints queue");
        }
    }

    /// The Services of the pod's namespace that select it.
    fn services_of(&self, pod: &Pod) -> Vec<ObjectKey> {
        self.services
            .list(pod.metadata.namespace.as_deref())
            .iter()
            .filter(|s| selects(s, pod))
            .map(|s| ObjectKey::of(s.as_ref()))
            .collect()
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let namespace = key.namespace.clone().unwrap_or_default();
        let endpoints_api: Api<Endpoints> =
            Api::namespaced(self.endpoints_client.clone(), &namespace);
        let Some(service) = self.services.get(&key) else {
            self.trigger_times
                .lock()
                .delete_service(&namespace, &key.name);
            // The Endpoints of a deleted Service go with it (those of Services without a
            // selector are left to whoever wrote them, as upstream).
            if self.endpoints.get(&key).is_some() {
                match endpoints_api
                    .delete(&key.name, &DeleteParams::default())
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(error) => return Err(ReconcileError::Api(error)),
                }
            }
            return Ok(Action::Done);
        };
        let pods: Vec<Pod> = self
            .pods
            .list(Some(&namespace))
            .iter()
            .map(|p| p.as_ref().clone())
            .collect();
        let trigger = self.trigger_times.lock().compute(&service, &pods);
        let existing = self.endpoints.get(&key);
        let params = PostParams::default();
        match desired_endpoints(&service, &pods, existing.as_deref(), trigger) {
            Some(EndpointsWrite::Create(endpoints)) => {
                match endpoints_api.create(&params, &endpoints).await {
                    Ok(_) => {}
                    // Created meanwhile (the cache lags): the event brings another sync.
                    Err(kube::Error::Api(status)) if status.code == 409 => {}
                    Err(error) => return Err(ReconcileError::Api(error)),
                }
            }
            Some(EndpointsWrite::Update(endpoints)) => {
                endpoints_api
                    .replace(&key.name, &params, &endpoints)
                    .await?;
            }
            None => {}
        }
        let nodes: Vec<Node> = self
            .nodes
            .list(None)
            .iter()
            .map(|n| n.as_ref().clone())
            .collect();
        let slices: Vec<EndpointSlice> = self
            .slices
            .list(Some(&namespace))
            .iter()
            .map(|s| s.as_ref().clone())
            .collect();
        let plan = reconcile_slices(
            &service,
            &pods,
            &nodes,
            &slices,
            DEFAULT_MAX_ENDPOINTS_PER_SLICE,
            trigger,
        );
        let slices_api: Api<EndpointSlice> =
            Api::namespaced(self.slices_client.clone(), &namespace);
        for slice in &plan.create {
            slices_api.create(&params, slice).await?;
        }
        for slice in &plan.update {
            let name = slice.metadata.name.clone().unwrap_or_default();
            slices_api.replace(&name, &params, slice).await?;
        }
        for slice in &plan.delete {
            let name = slice.metadata.name.clone().unwrap_or_default();
            match slices_api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(ReconcileError::Api(error)),
            }
        }
        if !plan.pods_missing_node.is_empty() {
            return Err(ReconcileError::Other(format!(
                "pods on unknown nodes: {}",
                plan.pods_missing_node.join(", ")
            )));
        }
        Ok(Action::Done)
    }
}

impl Reconciler for EndpointsController {
    fn name(&self) -> &'static str {
        "endpoints"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

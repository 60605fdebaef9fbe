//! The HorizontalPodAutoscaler controller's I/O half (upstream
//! `pkg/controller/podautoscaler/horizontal.go`, `reconcileKey` and `reconcileAutoscaler`):
//! HPA events become keys, each key comes back every sync period, and a sync reads the
//! target's `/scale`, asks `decide.rs` what to do, writes the scale when it must, then the
//! status (`horizontalpodautoscalers/status`, at the version read) and the events.
//!
//! Every sync ends in a requeue after the sync period, whatever happened: upstream adds the key
//! back through a fixed-interval rate limiter after success and failure alike, so a failing HPA
//! is retried (and its Warning events recorded) once a period, not at backoff speed.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, PostParams};

use super::decide::{
    Decision, Outcome, Target, decide, needs_metrics, scale_unreadable, target_of,
};
use super::metrics::MetricsApis;
use crate::runtime::controller::{Action, ReconcileError, Reconciler, gone_or_changed};
use crate::runtime::events::{EventRecorder, EventType, reference_to};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

/// Upstream's event source component.
const COMPONENT: &str = "horizontal-pod-autoscaler";
/// HPAs the queue tracks at most.
const QUEUE_CAPACITY: usize = 1_000_000;

pub struct HorizontalController {
    client: kube::Client,
    hpas: Arc<Informer<HorizontalPodAutoscaler>>,
    recorder: EventRecorder,
    /// How often each HPA is looked at (`--horizontal-pod-autoscaler-sync-period`).
    sync_period: Duration,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

/// The message of an API error as client-go's `err.Error()` gives it (the Status message).
fn message_of(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

impl HorizontalController {
    pub fn new(
        client: kube::Client,
        hpas: Arc<Informer<HorizontalPodAutoscaler>>,
        sync_period: Duration,
    ) -> Arc<HorizontalController> {
        let controller = Arc::new(HorizontalController {
            recorder: EventRecorder::new(client.clone(), COMPONENT),
            client,
            hpas: Arc::clone(&hpas),
            sync_period,
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let weak = Arc::downgrade(&controller);
        hpas.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            for event in events {
                // Upstream adds every change through the rate limiter, i.e. one sync period
                // later; a key already due sooner keeps its time. A deleted HPA's key is left
                // to find nothing.
                if let Event::Applied { new, .. } = event {
                    let key = ObjectKey::of(new.as_ref());
                    if let Err(full) = this.queue.add_after(key, this.sync_period) {
                        tracing::warn!(%full, "horizontalpodautoscaling queue");
                    }
                }
            }
        });
        controller
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(hpa) = self.hpas.get(&key) else {
            return Ok(Action::Done);
        };
        let outcome = self.reconcile_autoscaler(&hpa).await;
        self.write_status(&hpa, outcome.status).await;
        let regarding = reference_to(hpa.as_ref());
        for event in &outcome.events {
            self.recorder
                .record(&regarding, event.type_, event.reason, &event.message)
                .await;
        }
        Ok(Action::RequeueAfter(self.sync_period))
    }

    /// Reads the target's scale, decides, and writes the scale when the decision says so.
    async fn reconcile_autoscaler(&self, hpa: &HorizontalPodAutoscaler) -> Outcome {
        let namespace = hpa.metadata.namespace.as_deref().unwrap_or_default();
        let target = match target_of(hpa) {
            Ok(target) => target,
            Err(error) => return scale_unreadable(hpa, &error, Timestamp::now()),
        };
        let api = match self.scale_api(namespace, &target).await {
            Ok(api) => api,
            Err(error) => return scale_unreadable(hpa, &error, Timestamp::now()),
        };
        let scale = match api.get_scale(&target.name).await {
            Ok(scale) => scale,
            Err(error) => return scale_unreadable(hpa, &message_of(&error), Timestamp::now()),
        };
        // Discovery is asked only when a metric would be read; `decide` ignores `apis`
        // otherwise.
        let apis = if needs_metrics(hpa, &scale) {
            self.metrics_apis().await
        } else {
            MetricsApis::from_served([])
        };
        match decide(hpa, &scale, &apis, Timestamp::now()) {
            Decision::Settled(outcome) => outcome,
            Decision::Rescale(rescale) => {
                // The scale as read, so that the write is refused if the target changed since.
                let mut wanted: Scale = scale;
                wanted.spec.get_or_insert_with(Default::default).replicas = Some(rescale.replicas);
                let written = api
                    .replace_scale(&target.name, &PostParams::default(), &wanted)
                    .await;
                let error = written.err().map(|e| message_of(&e));
                rescale.finish(error.as_deref().map_or(Ok(()), Err))
            }
        }
    }

    /// The API of the target's resource, found by discovery from its group and kind (upstream's
    /// `RESTMapper.RESTMappings(groupKind)`: the group's preferred version serves the kind).
    async fn scale_api(
        &self,
        namespace: &str,
        target: &Target,
    ) -> Result<Api<DynamicObject>, String> {
        let no_match = || {
            format!(
                "no matches for kind {:?} in group {:?}",
                target.kind, target.group
            )
        };
        let group = match kube::discovery::group(&self.client, &target.group).await {
            Ok(group) => group,
            Err(kube::Error::Discovery(_)) => return Err(no_match()),
            Err(error) => return Err(message_of(&error)),
        };
        let (resource, _) = group.recommended_kind(&target.kind).ok_or_else(no_match)?;
        Ok(Api::namespaced_with(
            self.client.clone(),
            namespace,
            &resource,
        ))
    }

    /// Which metrics APIs the server serves, from its group list.
    async fn metrics_apis(&self) -> MetricsApis {
        match self.client.list_api_groups().await {
            Ok(list) => MetricsApis::from_served(list.groups.iter().map(|g| g.name.as_str())),
            Err(error) => MetricsApis::unknown(&message_of(&error)),
        }
    }

    /// `updateStatusIfNeeded`: a PUT of the status at the version read (the controller's role
    /// may update, not patch, `horizontalpodautoscalers/status`). An HPA gone or changed since
    /// is left to its next sync; other failures are recorded as upstream does.
    async fn write_status(
        &self,
        hpa: &HorizontalPodAutoscaler,
        status: Option<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerStatus>,
    ) {
        let Some(status) = status else { return };
        let namespace = hpa.metadata.namespace.as_deref().unwrap_or_default();
        let name = hpa.metadata.name.as_deref().unwrap_or_default();
        let mut updated = hpa.clone();
        updated.status = Some(status);
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(self.client.clone(), namespace);
        match api
            .replace_status(name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {}
            Err(error) if gone_or_changed(&error) => {
                tracing::debug!(namespace, name, %error, "HPA status not written");
            }
            Err(error) => {
                tracing::warn!(namespace, name, %error, "HPA status not written");
                self.recorder
                    .record(
                        &reference_to(hpa),
                        EventType::Warning,
                        "FailedUpdateStatus",
                        &message_of(&error),
                    )
                    .await;
            }
        }
    }
}

impl Reconciler for HorizontalController {
    fn name(&self) -> &'static str {
        "horizontalpodautoscaling"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

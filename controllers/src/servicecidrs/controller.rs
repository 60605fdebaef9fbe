//! The I/O half of the ServiceCIDR controller: informers on ServiceCIDRs and IPAddresses,
//! their events turned into ServiceCIDR keys, and each key's [`decide`] plan performed
//! through the API (finalizer first, then the `Ready` condition, then a requeue).

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::networking::v1::{IPAddress, ServiceCIDR};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::decide::{SERVICE_CIDR_FINALIZER, decide};
use super::keys::{overlapping_service_cidrs, service_cidrs_for_ip_address};
use crate::runtime::controller::{Action, ReconcileError, Reconciler, ignore_gone};
use crate::runtime::events::{EventRecorder, EventType, reference_to};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

const QUEUE_CAPACITY: usize = 100_000;

pub struct ServiceCidrController {
    client: kube::Client,
    cidrs: Arc<Informer<ServiceCIDR>>,
    addresses: Arc<Informer<IPAddress>>,
    events: EventRecorder,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

fn key(name: String) -> ObjectKey {
    ObjectKey {
        namespace: None,
        name,
    }
}

impl ServiceCidrController {
    pub fn new(
        client: kube::Client,
        cidrs: Arc<Informer<ServiceCIDR>>,
        addresses: Arc<Informer<IPAddress>>,
    ) -> Arc<ServiceCidrController> {
        let controller = Arc::new(ServiceCidrController {
            events: EventRecorder::new(client.clone(), super::CONTROLLER_NAME),
            client,
            cidrs: Arc::clone(&cidrs),
            addresses: Arc::clone(&addresses),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        let weak = Arc::downgrade(&controller);
        cidrs.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let all = this.cidrs.list(None);
            let mut keys = Vec::new();
            for event in events {
                let cidr = event.object();
                keys.push(ObjectKey::of(cidr.as_ref()));
                // A new range may be the parent that lets a terminating one go.
                if let Event::Applied { old: None, .. } = event {
                    let others = overlapping_service_cidrs(cidr, all.iter().map(AsRef::as_ref));
                    keys.extend(others.into_iter().map(key));
                }
            }
            let _ = this.queue.add_all(keys);
        });
        let weak = Arc::downgrade(&controller);
        addresses.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let all = this.cidrs.list(None);
            let mut keys = Vec::new();
            for event in events {
                // Updates change nothing a ServiceCIDR's deletion depends on.
                if let Event::Applied { old: Some(_), .. } = event {
                    continue;
                }
                let found =
                    service_cidrs_for_ip_address(event.object(), all.iter().map(AsRef::as_ref));
                keys.extend(found.into_iter().map(key));
            }
            let _ = this.queue.add_all(keys);
        });
        controller
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(cidr) = self.cidrs.get(&key) else {
            return Ok(Action::Done);
        };
        let all = self.cidrs.list(None);
        let addresses = self.addresses.list(None);
        let plan = decide(
            &cidr,
            all.iter().map(AsRef::as_ref),
            addresses.iter().map(AsRef::as_ref),
            Timestamp::now(),
        );
        let api: Api<ServiceCIDR> = Api::all(self.client.clone());
        let finalizers = cidr.metadata.finalizers.clone().unwrap_or_default();
        let new_finalizers = if plan.add_finalizer {
            Some([finalizers.clone(), vec![SERVICE_CIDR_FINALIZER.to_owned()]].concat())
        } else if plan.remove_finalizer {
            Some(
                finalizers
                    .iter()
                    .filter(|f| *f != SERVICE_CIDR_FINALIZER)
                    .cloned()
                    .collect(),
            )
        } else {
            None
        };
        if let Some(list) = new_finalizers {
            // The whole list with the version it was read at: a concurrent change is a
            // conflict and a retry, never a lost finalizer.
            let body = json!({"metadata": {
                "finalizers": list,
                "resourceVersion": cidr.metadata.resource_version,
            }});
            ignore_gone(
                api.patch(&key.name, &PatchParams::default(), &Patch::Merge(&body))
                    .await,
            )?;
        }
        if let Some(ready) = plan.ready_condition {
            let conditions = with_condition(&cidr, ready.clone());
            let body = json!({"status": {"conditions": conditions}});
            let written = api
                .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body))
                .await;
            if written.is_err() && ready.status == "True" {
                self.events
                    .record(
                        &reference_to(cidr.as_ref()),
                        EventType::Warning,
                        "KubernetesServiceCIDRError",
                        "The ServiceCIDR Status can not be set to Ready=True",
                    )
                    .await;
            }
            ignore_gone(written)?;
        }
        Ok(match plan.requeue_after {
            Some(after) => Action::RequeueAfter(after),
            None => Action::Done,
        })
    }
}

/// The conditions of `cidr` with `condition` in place of the one of its type.
fn with_condition(cidr: &ServiceCIDR, condition: Condition) -> Vec<Condition> {
    let mut conditions: Vec<Condition> = cidr
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != condition.type_)
        .collect();
    conditions.push(condition);
    conditions
}

impl Reconciler for ServiceCidrController {
    fn name(&self) -> &'static str {
        "servicecidrs"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

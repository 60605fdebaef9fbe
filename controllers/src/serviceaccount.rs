//! The ServiceAccount controller (upstream `pkg/controller/serviceaccount/
//! serviceaccounts_controller.go`): every active namespace has a `default` ServiceAccount,
//! made when the namespace appears and again whenever it is deleted. Pods run as it unless
//! they name another, and the ServiceAccount admission plugin refuses pods whose account does
//! not exist.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use crate::runtime::controller::{Action, ReconcileError, Reconciler, enqueue};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

/// The accounts every namespace gets (upstream's `--service-account-names` default).
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
const QUEUE_CAPACITY: usize = 100_000;

pub struct ServiceAccountController {
    client: kube::Client,
    namespaces: Arc<Informer<Namespace>>,
    accounts: Arc<Informer<ServiceAccount>>,
    /// Keys are namespace names.
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

impl ServiceAccountController {
    pub fn new(
        client: kube::Client,
        namespaces: Arc<Informer<Namespace>>,
        accounts: Arc<Informer<ServiceAccount>>,
    ) -> Arc<ServiceAccountController> {
        let controller = Arc::new(ServiceAccountController {
            client,
            namespaces: Arc::clone(&namespaces),
            accounts: Arc::clone(&accounts),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        enqueue(&namespaces, &controller.queue, applied_namespace);
        enqueue(&accounts, &controller.queue, |e| match e {
            Event::Deleted(sa) if sa.metadata.name.as_deref() == Some(DEFAULT_SERVICE_ACCOUNT) => {
                Some(ObjectKey::new(None, sa.metadata.namespace.as_deref()?))
            }
            _ => None,
        });
        controller
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(ns) = self.namespaces.get(&key) else {
            return Ok(Action::Done);
        };
        // A terminating namespace refuses new content (upstream checks the phase, too).
        let active = ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating");
        if !active || ns.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let account_key = ObjectKey::new(Some(&key.name), DEFAULT_SERVICE_ACCOUNT);
        if self.accounts.get(&account_key).is_some() {
            return Ok(Action::Done);
        }
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &key.name);
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(DEFAULT_SERVICE_ACCOUNT.to_owned()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        match api.create(&PostParams::default(), &account).await {
            Ok(_) => Ok(Action::Done),
            // Already there (the cache lagged), or the namespace began terminating.
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 403 => {
                Ok(Action::Done)
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// The key of a namespace that was created or changed (both namespace controllers look at
/// every such namespace; a deleted one needs nothing).
pub(crate) fn applied_namespace(event: &Event<Namespace>) -> Option<ObjectKey> {
    match event {
        Event::Applied { new, .. } => Some(ObjectKey::of(new.as_ref())),
        Event::Deleted(_) => None,
    }
}

impl Reconciler for ServiceAccountController {
    fn name(&self) -> &'static str {
        "serviceaccount"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

//! The namespace controller's I/O half (upstream `pkg/controller/namespace`,
//! `deletion/namespaced_resources_deleter.go`): a namespace with a deletion timestamp and the
//! `kubernetes` finalizer has its content deleted, resource by resource, pods first (the
//! `OrderedNamespaceDeletion` rule, on by default since v1.33); while content remains its
//! status conditions say what and why, and it is looked at again after an estimate of the
//! pods' grace periods. Once empty, the `kubernetes` finalizer is removed through
//! `namespaces/{name}/finalize`, and a namespace with no finalizer left is deleted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::jiff::Timestamp;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams, Preconditions,
    PropagationPolicy,
};
use kube::discovery::{Discovery, Scope, verbs};
use parking_lot::Mutex;

use super::conditions::{self, Findings};
use crate::runtime::controller::{Action, ReconcileError, Reconciler, ignore_gone};
use crate::runtime::informer::{Event, Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

/// The finalizer this controller owns (`v1.FinalizerKubernetes`).
pub const KUBERNETES_FINALIZER: &str = "kubernetes";
/// How long a discovery answer is reused; a failed one is retried at the next sync.
const DISCOVERY_TTL: Duration = Duration::from_secs(30);
/// The wait upstream assumes for content held by finalizers (`finalizerEstimateSeconds`).
const FINALIZER_ESTIMATE_SECS: i64 = 15;
const QUEUE_CAPACITY: usize = 100_000;

/// A namespaced resource that can be deleted.
#[derive(Clone)]
struct Deletable {
    resource: ApiResource,
    collection: bool,
}

struct Discovered {
    at: Instant,
    resources: Vec<Deletable>,
    error: Option<String>,
}

pub struct NamespaceController {
    client: kube::Client,
    pub queue: Arc<WorkQueue<ObjectKey>>,
    discovered: Mutex<Option<Discovered>>,
}

impl NamespaceController {
    pub fn new(client: kube::Client, namespaces: &Informer<Namespace>) -> Arc<NamespaceController> {
        let controller = Arc::new(NamespaceController {
            client,
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
            discovered: Mutex::new(None),
        });
        let weak = Arc::downgrade(&controller);
        namespaces.add_handler(move |events| {
            let Some(this) = weak.upgrade() else { return };
            let keys = events.iter().filter_map(|event| match event {
                Event::Applied { new, .. } if new.metadata.deletion_timestamp.is_some() => {
                    Some(ObjectKey::of(new.as_ref()))
                }
                _ => None,
            });
            if let Err(full) = this.queue.add_all(keys.collect::<Vec<_>>()) {
                tracing::warn!(%full, "namespace queue");
            }
        });
        controller
    }

    /// The namespaced resources that support delete (upstream's preferred versions filtered
    /// by the `delete` verb), from a cached discovery.
    async fn deletable(&self) -> (Vec<Deletable>, Option<String>) {
        if let Some(d) = &*self.discovered.lock()
            && d.at.elapsed() < DISCOVERY_TTL
            && d.error.is_none()
        {
            return (d.resources.clone(), None);
        }
        let (resources, error) = match Discovery::new(self.client.clone()).run().await {
            Ok(discovery) => {
                let mut resources = Vec::new();
                for group in discovery.groups() {
                    for (resource, caps) in group.recommended_resources() {
                        if caps.scope != Scope::Namespaced
                            || !caps.supports_operation(verbs::DELETE)
                            || resource.plural.contains('/')
                        {
                            continue;
                        }
                        let collection = caps.supports_operation(verbs::DELETE_COLLECTION);
                        resources.push(Deletable {
                            resource,
                            collection,
                        });
                    }
                }
                (resources, None)
            }
            Err(error) => (Vec::new(), Some(error.to_string())),
        };
        *self.discovered.lock() = Some(Discovered {
            at: Instant::now(),
            resources: resources.clone(),
            error: error.clone(),
        });
        (resources, error)
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        // The latest version, not the cache's: content must never be deleted for a namespace
        // that was deleted and recreated meanwhile.
        let Some(mut ns) = api.get_opt(&key.name).await? else {
            return Ok(Action::Done);
        };
        if ns.metadata.deletion_timestamp.is_none() {
            return Ok(Action::Done);
        }
        let uid = ns.metadata.uid.clone();
        let finalizers = ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.clone())
            .unwrap_or_default();
        if finalizers.is_empty() {
            return self.delete_namespace(&api, &key.name, uid).await;
        }
        if !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
            // Someone else's finalizer holds it; their removal brings it back here.
            return Ok(Action::Done);
        }
        let (findings, estimate) = self.delete_content(&key.name).await;
        let mut status = ns.status.clone().unwrap_or_default();
        if conditions::update(&mut status, &findings, Timestamp::now()) {
            status.phase = Some("Terminating".to_owned());
            ns.status = Some(status);
            let result = api
                .replace_status(&key.name, &PostParams::default(), &ns)
                .await;
            ignore_gone(result)?;
        }
        if !findings.content_errors.is_empty() || findings.discovery_error.is_some() {
            let mut errors = findings.content_errors.clone();
            errors.extend(findings.discovery_error.clone());
            return Err(ReconcileError::Other(errors.join("; ")));
        }
        if estimate > 0 || findings.remaining.values().any(|n| *n > 0) {
            let seconds = u64::try_from(estimate.max(1)).unwrap_or(1) / 2 + 1;
            return Ok(Action::RequeueAfter(Duration::from_secs(seconds)));
        }
        // Empty: drop our finalizer, then delete the namespace if nothing else holds it.
        let rest: Vec<String> = finalizers
            .into_iter()
            .filter(|f| f != KUBERNETES_FINALIZER)
            .collect();
        let mut finalized = ns.clone();
        if let Some(spec) = finalized.spec.as_mut() {
            spec.finalizers = Some(rest.clone());
        }
        let result = api
            .replace_subresource("finalize", &key.name, &PostParams::default(), &finalized)
            .await;
        ignore_gone(result)?;
        if rest.is_empty() {
            return self.delete_namespace(&api, &key.name, uid).await;
        }
        Ok(Action::Done)
    }

    async fn delete_namespace(
        &self,
        api: &Api<Namespace>,
        name: &str,
        uid: Option<String>,
    ) -> Result<Action, ReconcileError> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid,
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        ignore_gone(api.delete(name, &params).await)?;
        Ok(Action::Done)
    }

    /// Deletes what the namespace holds; what is left and the longest grace period left
    /// (upstream's `deleteAllContent` estimate, in seconds).
    async fn delete_content(&self, namespace: &str) -> (Findings, i64) {
        let (resources, discovery_error) = self.deletable().await;
        let mut findings = Findings {
            discovery_error,
            ..Findings::default()
        };
        let mut estimate = 0;
        // Pods first: the rest (their ServiceAccounts, Secrets, NetworkPolicies) stays until
        // every pod is gone.
        let (pods, others): (Vec<_>, Vec<_>) = resources
            .into_iter()
            .partition(|d| d.resource.group.is_empty() && d.resource.plural == "pods");
        for deletable in pods {
            estimate = estimate.max(self.delete_resource(namespace, &deletable, &mut findings).await);
        }
        if findings.remaining.values().any(|n| *n > 0) {
            return (findings, estimate);
        }
        for deletable in others {
            estimate = estimate.max(self.delete_resource(namespace, &deletable, &mut findings).await);
        }
        (findings, estimate)
    }

    /// Deletes one resource's objects in the namespace (upstream's
    /// `deleteAllContentForGroupVersionResource`), recording what remains.
    async fn delete_resource(
        &self,
        namespace: &str,
        deletable: &Deletable,
        findings: &mut Findings,
    ) -> i64 {
        let resource = &deletable.resource;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, resource);
        // Background: the garbage collector must not add the orphan finalizer to content the
        // namespace takes with it.
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        let name = format!("{}.{}", resource.plural, resource.group);
        let mut collected = false;
        if deletable.collection {
            match api.delete_collection(&params, &ListParams::default()).await {
                Ok(_) => collected = true,
                Err(error) if unsupported(&error) => {}
                Err(error) => {
                    findings.content_errors.push(format!("{name}: {error}"));
                    return 0;
                }
            }
        }
        if !collected {
            let listed = match api.list_metadata(&ListParams::default()).await {
                Ok(listed) => listed,
                Err(error) if unsupported(&error) => return 0,
                Err(error) => {
                    findings.content_errors.push(format!("{name}: {error}"));
                    return 0;
                }
            };
            for item in &listed.items {
                let Some(item_name) = item.metadata.name.as_deref() else {
                    continue;
                };
                if let Err(error) = api.delete(item_name, &params).await
                    && !unsupported(&error)
                {
                    findings.content_errors.push(format!("{name}: {error}"));
                    return 0;
                }
            }
        }
        // What is still listed waits on a grace period or a finalizer.
        let left = match api.list_metadata(&ListParams::default()).await {
            Ok(listed) => listed.items,
            Err(error) if unsupported(&error) => return 0,
            Err(error) => {
                findings.content_errors.push(format!("{name}: {error}"));
                return 0;
            }
        };
        if left.is_empty() {
            return 0;
        }
        findings.remaining.insert(name.clone(), left.len());
        let mut estimate = 0;
        let mut held = false;
        for item in &left {
            for finalizer in item.metadata.finalizers.iter().flatten() {
                *findings.finalizers.entry(finalizer.clone()).or_default() += 1;
                held = true;
            }
            if let Some(grace) = item.metadata.deletion_grace_period_seconds {
                estimate = estimate.max(grace);
            }
        }
        if held {
            estimate = estimate.max(FINALIZER_ESTIMATE_SECS);
        } else if estimate == 0 {
            // Neither a grace period nor a finalizer keeps them: they should be gone.
            findings.content_errors.push(format!(
                "unexpected items still remain in namespace: {namespace} for {name}"
            ));
        }
        estimate.max(1)
    }
}

/// 404 or 405: the resource offers no such verb here (upstream treats both as "not
/// supported", kubernetes#22413).
fn unsupported(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404 || status.code == 405)
}

impl Reconciler for NamespaceController {
    fn name(&self) -> &'static str {
        "namespace"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

//! The garbage collector (upstream `pkg/controller/garbagecollector`): watches every resource
//! that can be listed, watched and deleted, keeps the ownership graph (`graph.rs`), and
//! deletes objects whose owners are all gone (background propagation), deletes the dependents
//! of an owner deleted in the foreground before letting the owner go, and strips the owner
//! references of an owner deleted with `Orphan`. An owner it has not seen is looked up in the
//! API before its dependents are touched, so a cache that lags never causes a deletion.

mod graph;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::discovery::{Discovery, Scope, verbs};
use parking_lot::Mutex;
use serde_json::json;

pub use graph::{Decision, FOREGROUND_FINALIZER, Graph, Identity, Node, ORPHAN_FINALIZER, decide};

use crate::runtime::controller::{Action, ReconcileError, Reconciler, ignore_gone};
use crate::runtime::informer::{Event, Informer, MetadataOnly, ObjectKey};
use crate::runtime::queue::WorkQueue;

const QUEUE_CAPACITY: usize = 10_000_000;
/// How soon an object is looked at again while the graph catches up with the API.
const RETRY: Duration = Duration::from_millis(500);

/// A resource the collector watches.
struct Watched {
    resource: ApiResource,
    namespaced: bool,
}

pub struct GarbageCollector {
    client: kube::Client,
    /// By `(apiVersion, kind)`.
    resources: HashMap<(String, String), Watched>,
    graph: Mutex<Graph>,
    pub queue: Arc<WorkQueue<ObjectKey>>,
    /// Metadata only: the graph needs nothing else, and whole objects of every resource
    /// would cost more memory than the API server's own cache.
    informers: Vec<Arc<Informer<PartialObjectMeta<DynamicObject>>>>,
    synced: AtomicBool,
}

impl GarbageCollector {
    /// Discovers every resource that supports list, watch and delete and starts watching
    /// them: informers read with `reader`, writes go through `client`.
    pub async fn start(
        client: kube::Client,
        reader: kube::Client,
    ) -> Result<Arc<GarbageCollector>, kube::Error> {
        let discovery = Discovery::new(reader.clone()).run().await?;
        let mut resources = HashMap::new();
        for group in discovery.groups() {
            for (resource, caps) in group.recommended_resources() {
                let usable = [verbs::LIST, verbs::WATCH, verbs::DELETE]
                    .iter()
                    .all(|v| caps.supports_operation(v));
                if !usable || resource.plural.contains('/') {
                    continue;
                }
                let key = (resource.api_version.clone(), resource.kind.clone());
                let namespaced = caps.scope == Scope::Namespaced;
                resources.insert(
                    key,
                    Watched {
                        resource,
                        namespaced,
                    },
                );
            }
        }
        let mut kinds = Vec::new();
        let mut informers = Vec::new();
        for watched in resources.values() {
            let resource = &watched.resource;
            kinds.push((resource.api_version.clone(), resource.kind.clone()));
            let api = Api::all_with(reader.clone(), resource);
            informers.push(Informer::start(MetadataOnly(api)));
        }
        let collector = Arc::new(GarbageCollector {
            client,
            resources,
            graph: Mutex::new(Graph::default()),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
            informers,
            synced: AtomicBool::new(false),
        });
        for (informer, (api_version, kind)) in collector.informers.iter().zip(kinds) {
            let weak = Arc::downgrade(&collector);
            informer.add_handler(move |events| {
                let Some(this) = weak.upgrade() else { return };
                this.observe(&api_version, &kind, events);
            });
        }
        let weak = Arc::downgrade(&collector);
        tokio::spawn(async move {
            let Some(this) = weak.upgrade() else { return };
            for informer in &this.informers {
                informer.wait_synced().await;
            }
            this.synced.store(true, Ordering::Release);
        });
        Ok(collector)
    }

    pub fn stop(&self) {
        for informer in &self.informers {
            informer.stop();
        }
    }

    fn observe(
        &self,
        api_version: &str,
        kind: &str,
        events: &[Event<PartialObjectMeta<DynamicObject>>],
    ) {
        let mut work = Vec::new();
        {
            let mut graph = self.graph.lock();
            for event in events {
                match event {
                    Event::Applied { new, .. } => {
                        let meta = &new.metadata;
                        let Some(uid) = meta.uid.clone() else {
                            continue;
                        };
                        work.extend(graph.apply(Node {
                            identity: Identity {
                                api_version: api_version.to_owned(),
                                kind: kind.to_owned(),
                                namespace: meta.namespace.clone(),
                                name: meta.name.clone().unwrap_or_default(),
                                uid,
                            },
                            owners: meta.owner_references.clone().unwrap_or_default(),
                            finalizers: meta.finalizers.clone().unwrap_or_default(),
                            deleting: meta.deletion_timestamp.is_some(),
                            resource_version: meta.resource_version.clone().unwrap_or_default(),
                            dependents: BTreeSet::new(),
                        }));
                    }
                    Event::Deleted(old) => {
                        if let Some(uid) = &old.metadata.uid {
                            work.extend(graph.remove(uid));
                        }
                    }
                }
            }
        }
        let keys = work.into_iter().map(|uid| ObjectKey::new(None, &uid));
        if let Err(full) = self.queue.add_all(keys) {
            tracing::warn!(%full, "garbage collector queue");
        }
    }

    fn api_for(&self, identity: &Identity) -> Option<Api<DynamicObject>> {
        let watched = self
            .resources
            .get(&(identity.api_version.clone(), identity.kind.clone()))?;
        Some(match (&identity.namespace, watched.namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &watched.resource),
            _ => Api::all_with(self.client.clone(), &watched.resource),
        })
    }

    /// Owners the API says are gone (absent, or another object under the name); `None` when
    /// one still exists (the graph will show it soon).
    async fn verify(
        &self,
        namespace: Option<&str>,
        owners: &[OwnerReference],
    ) -> Result<Option<BTreeSet<String>>, ReconcileError> {
        let mut gone = BTreeSet::new();
        for owner in owners {
            let identity = Identity {
                api_version: owner.api_version.clone(),
                kind: owner.kind.clone(),
                namespace: namespace.map(str::to_owned),
                name: owner.name.clone(),
                uid: owner.uid.clone(),
            };
            // A kind no one serves cannot own anything.
            let Some(api) = self.api_for(&identity) else {
                gone.insert(owner.uid.clone());
                continue;
            };
            match api.get_opt(&owner.name).await? {
                Some(found) if found.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {
                    return Ok(None);
                }
                _ => {
                    gone.insert(owner.uid.clone());
                }
            }
        }
        Ok(Some(gone))
    }

    async fn collect(&self, uid: String) -> Result<Action, ReconcileError> {
        if !self.synced.load(Ordering::Acquire) {
            return Ok(Action::RequeueAfter(RETRY));
        }
        let (mut decision, node) = {
            let graph = self.graph.lock();
            (
                decide(&graph, &uid, &BTreeSet::new()),
                graph.get(&uid).cloned(),
            )
        };
        let Some(node) = node else {
            return Ok(Action::Done);
        };
        if let Decision::VerifyOwners(owners) = &decision {
            let Some(gone) = self
                .verify(node.identity.namespace.as_deref(), owners)
                .await?
            else {
                return Ok(Action::RequeueAfter(RETRY));
            };
            decision = decide(&self.graph.lock(), &uid, &gone);
            if matches!(decision, Decision::VerifyOwners(_)) {
                return Ok(Action::RequeueAfter(RETRY));
            }
        }
        self.perform(&node, decision).await?;
        Ok(Action::Done)
    }

    async fn perform(&self, node: &Node, decision: Decision) -> Result<(), ReconcileError> {
        let Some(api) = self.api_for(&node.identity) else {
            return Ok(());
        };
        let name = &node.identity.name;
        match decision {
            Decision::Nothing | Decision::VerifyOwners(_) => Ok(()),
            Decision::Delete(policy) => {
                let params = DeleteParams {
                    propagation_policy: Some(match policy {
                        "Foreground" => kube::api::PropagationPolicy::Foreground,
                        "Orphan" => kube::api::PropagationPolicy::Orphan,
                        _ => kube::api::PropagationPolicy::Background,
                    }),
                    preconditions: Some(Preconditions {
                        uid: Some(node.identity.uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                ignore_gone(api.delete(name, &params).await)
            }
            Decision::RemoveOwners(uids) => {
                let owners: Vec<&OwnerReference> = node
                    .owners
                    .iter()
                    .filter(|o| !uids.contains(&o.uid))
                    .collect();
                let patch = json!({"metadata": {
                    "ownerReferences": owners,
                    "resourceVersion": node.resource_version,
                }});
                ignore_gone(
                    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await,
                )
            }
            Decision::RemoveFinalizer(finalizer) => {
                self.remove_finalizer(&api, node, finalizer).await
            }
            Decision::Orphan { dependents } => {
                for dependent in dependents {
                    let found = self.graph.lock().get(&dependent).cloned();
                    let Some(dependent) = found else { continue };
                    let Some(dependent_api) = self.api_for(&dependent.identity) else {
                        continue;
                    };
                    let owners: Vec<&OwnerReference> = dependent
                        .owners
                        .iter()
                        .filter(|o| o.uid != node.identity.uid)
                        .collect();
                    let patch = json!({"metadata": {
                        "ownerReferences": owners,
                        "resourceVersion": dependent.resource_version,
                    }});
                    let result = dependent_api
                        .patch(
                            &dependent.identity.name,
                            &PatchParams::default(),
                            &Patch::Merge(&patch),
                        )
                        .await;
                    ignore_gone(result)?;
                }
                self.remove_finalizer(&api, node, ORPHAN_FINALIZER).await
            }
            Decision::DeleteDependents(uids) => {
                for dependent in uids {
                    let found = self.graph.lock().get(&dependent).cloned();
                    let Some(dependent) = found else { continue };
                    let Some(dependent_api) = self.api_for(&dependent.identity) else {
                        continue;
                    };
                    let params = DeleteParams {
                        propagation_policy: Some(kube::api::PropagationPolicy::Foreground),
                        ..DeleteParams::default()
                    };
                    ignore_gone(
                        dependent_api
                            .delete(&dependent.identity.name, &params)
                            .await,
                    )?;
                }
                Ok(())
            }
        }
    }

    async fn remove_finalizer(
        &self,
        api: &Api<DynamicObject>,
        node: &Node,
        finalizer: &str,
    ) -> Result<(), ReconcileError> {
        let finalizers: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
        let patch = json!({"metadata": {
            "finalizers": finalizers,
            "resourceVersion": node.resource_version,
        }});
        ignore_gone(
            api.patch(
                &node.identity.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await,
        )
    }
}

impl Reconciler for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbagecollector"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.collect(key.name))
    }
}

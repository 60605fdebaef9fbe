//! The generic registry: CRUD, list, watch, preconditions, finalizers, graceful deletion and
//! dry-run, written once for every resource (upstream
//! `staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go`). A resource's own
//! rules come from its [`Kind`](crate::object::Kind).
//!
//! Files: `read.rs` (get, list, continue tokens), `write.rs` (create, update, patch),
//! `delete.rs` (delete, deletecollection, finalizers), `watch.rs` (watch streams),
//! `filter.rs` (label and field selectors over stored objects), `hooks.rs` (work a resource
//! does beside its store write: Service ClusterIPs and NodePorts).

mod delete;
mod filter;
mod hooks;
mod read;
mod watch;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::OnceCell;

use bytes::Bytes;
use serde_json::Value;
use ultrak8s_store::contract::{KubeStore, Precondition, WriteOutcome};
use ultrak8s_store::store::Store;
use ultrak8s_store::types::{KeyValue, Revision};

use crate::cache::WatchCache;
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::resources::Resource;

pub use delete::{DeleteOptions, Deleted, PropagationPolicy};
pub use filter::Filter;
pub use hooks::{After, Begun, Finish, WriteHooks};
pub use read::{ListOptions, ListResult, RvMatch};
pub use watch::{WatchEvent, WatchEventType, WatchOptions, WatchStream};
pub use write::{FieldValidation, PatchType, WriteOptions, Written};

/// How many times a write that raced with another one is retried before the client gets a
/// 409 (for writes that named no resourceVersion, as upstream's `GuaranteedUpdate`).
const MAX_RETRIES: usize = 16;

/// A resource and its watch cache, once started.
type CacheSlot = (Arc<Resource>, OnceCell<Arc<WatchCache>>);

/// The registry over one store.
#[derive(Clone)]
pub struct Registry {
    store: Arc<Store>,
    namespaces: Arc<Resource>,
    /// Patch metadata for strategic merge patches.
    definitions: Arc<crate::patch::schema::Definitions>,
    /// One watch cache per stored resource, started on first use.
    caches: Arc<HashMap<&'static str, CacheSlot>>,
    /// Write hooks by storage name (`services`), installed once at start-up; a
    /// `parking_lot` lock, never held across an await.
    hooks: Arc<parking_lot::RwLock<HashMap<&'static str, Arc<dyn WriteHooks>>>>,
}

impl Registry {
    /// `namespaces` is the namespace resource, needed to refuse writes into a missing or
    /// terminating namespace.
    pub fn new(
        store: Arc<Store>,
        resources: &[Arc<Resource>],
        namespaces: Arc<Resource>,
        definitions: Arc<crate::patch::schema::Definitions>,
    ) -> Registry {
        // One cache per storage, decoding with the storage version's kind.
        let caches = resources
            .iter()
            .filter(|r| r.conversion.is_none())
            .map(|r| (r.storage, (Arc::clone(r), OnceCell::new())))
            .collect();
        Registry {
            store,
            namespaces,
            definitions,
            caches: Arc::new(caches),
            hooks: Arc::default(),
        }
    }

    /// Installs the write hooks of the resource stored under `storage` (replacing any).
    pub fn set_hooks(&self, storage: &'static str, hooks: Arc<dyn WriteHooks>) {
        self.hooks.write().insert(storage, hooks);
    }

    /// The write hooks of `resource`, if it has any.
    fn hooks_of(&self, resource: &Resource) -> Option<Arc<dyn WriteHooks>> {
        self.hooks.read().get(resource.storage).cloned()
    }

    /// The resource whose version is stored for `resource` (itself, unless it converts).
    pub fn storage_of<'a>(&'a self, resource: &'a Arc<Resource>) -> &'a Arc<Resource> {
        match resource.conversion {
            None => resource,
            Some(_) => self
                .caches
                .get(resource.storage)
                .map_or(resource, |(r, _)| r),
        }
    }

    /// The watch cache of a resource, started (listed from the store) on first use.
    pub async fn cache(&self, resource: &Resource) -> Result<Arc<WatchCache>, ApiError> {
        let Some((resource, cell)) = self.caches.get(resource.storage) else {
            return Err(ApiError::internal(format!(
                "no watch cache for {}",
                resource.qualified()
            )));
        };
        cell.get_or_try_init(|| WatchCache::start(Arc::clone(&self.store), Arc::clone(resource)))
            .await
            .cloned()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The current version of one object, decoded.
    async fn current(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<(KeyValue, Box<dyn KubeObject>)>, ApiError> {
        let key = resource.key(namespace, name);
        let (_, kv) = self.store.get(&key)?;
        match kv {
            None => Ok(None),
            Some(kv) => {
                let obj = decode_stored(resource, &kv.value)?;
                Ok(Some((kv, obj)))
            }
        }
    }

    /// Writes a new version of an object that is still at `revision`; `None` when it changed
    /// meanwhile (the caller re-reads and retries, or answers 409).
    async fn replace_at(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        obj: Box<dyn KubeObject>,
        revision: Revision,
    ) -> Result<Option<Bytes>, ApiError> {
        let key = resource.key(namespace, name);
        let outcome = self
            .store
            .put_if_with(
                key,
                |rev| encode_at(obj, rev),
                Precondition::ModRevision(revision),
                None,
            )
            .await?;
        match outcome {
            WriteOutcome::Written { kv: Some(kv), .. } => Ok(Some(kv.value)),
            WriteOutcome::Written { kv: None, .. } => Err(ApiError::internal(
                "a written object could not be read back",
            )),
            WriteOutcome::Conflict { .. } => Ok(None),
        }
    }

    /// Refuses content in a namespace that does not exist or is being deleted (upstream's
    /// NamespaceLifecycle admission).
    async fn check_namespace(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let ns = self.current(&self.namespaces, None, namespace).await?;
        let Some((_, ns)) = ns else {
            return Err(ApiError::not_found(&self.namespaces, namespace));
        };
        if ns.meta().deletion_timestamp.is_some() {
            return Err(ApiError::forbidden(
                resource,
                name,
                format!(
                    "unable to create new content in namespace {namespace} because it is being \
                     terminated"
                ),
            ));
        }
        Ok(())
    }
}

pub(crate) fn decode_stored(
    resource: &Resource,
    bytes: &[u8],
) -> Result<Box<dyn KubeObject>, ApiError> {
    resource.kind_ops.decode_stored(bytes).map_err(|e| {
        ApiError::internal(format!(
            "stored {} does not decode: {}",
            resource.qualified(),
            e.0
        ))
    })
}

/// A stored object's bytes, with its resourceVersion: the revision it was written at.
pub(crate) fn encode_at(mut obj: Box<dyn KubeObject>, revision: Revision) -> Bytes {
    obj.meta_mut().resource_version = Some(revision.to_string());
    Bytes::from(obj.to_json())
}

/// Parses a resourceVersion given by a client.
pub fn parse_rv(rv: &str) -> Result<Option<Revision>, ApiError> {
    if rv.is_empty() || rv == "0" {
        return Ok(None);
    }
    rv.parse::<u64>()
        .ok()
        .and_then(Revision::new)
        .map(Some)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

/// `metadata` of a JSON object, if any.
pub(crate) fn meta_of(value: &Value) -> Option<&serde_json::Map<String, Value>> {
    value.get("metadata")?.as_object()
}

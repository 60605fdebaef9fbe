//! Shared informers: one list+watch and one cache per resource for every controller of the
//! process (client-go's `SharedIndexInformer`, kube-rs's reflector). Controllers read the
//! cache and register handlers that receive watch events in batches: one call per chunk of
//! events the watch delivered, never one lock per event.
//!
//! The loop: list (at a resourceVersion), replace the cache and report what the list added,
//! changed or removed; then watch from that resourceVersion with bookmarks; on a watch that
//! ends, watch again from the last resourceVersion seen; on 410 Gone or any error, list again
//! after a backoff.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use kube::api::{Api, ListParams, ObjectList, WatchEvent, WatchParams};
use kube::core::{PartialObjectMeta, Resource};
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// `namespace/name`, or `name` for cluster-scoped objects (client-go's key format).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn of<K: Resource>(obj: &K) -> ObjectKey {
        ObjectKey {
            namespace: obj.meta().namespace.clone(),
            name: obj.meta().name.clone().unwrap_or_default(),
        }
    }

    pub fn new(namespace: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// One change the informer saw.
#[derive(Debug)]
pub enum Event<K> {
    /// Created or changed; the previous version when the cache had one.
    Applied {
        new: Arc<K>,
        old: Option<Arc<K>>,
    },
    Deleted(Arc<K>),
}

impl<K> Event<K> {
    /// The object the event is about (its last version when deleted).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Event::Applied { new, .. } => new,
            Event::Deleted(old) => old,
        }
    }
}

type Handler<K> = Box<dyn Fn(&[Event<K>]) + Send + Sync>;

type Watch<K> = BoxStream<'static, Result<WatchEvent<K>, kube::Error>>;

/// Where an informer lists and watches: whole objects ([`Api`]) or only their metadata
/// ([`MetadataOnly`], `as=PartialObjectMetadata`), for controllers such as the garbage
/// collector that need nothing else and would otherwise hold every object twice.
pub trait Source<K: Clone>: Send + Sync + 'static {
    fn list<'a>(
        &'a self,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<ObjectList<K>, kube::Error>>;
    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        resource_version: &'a str,
    ) -> BoxFuture<'a, Result<Watch<K>, kube::Error>>;
    fn describe(&self) -> String;
}

impl<K> Source<K> for Api<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    fn list<'a>(
        &'a self,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<ObjectList<K>, kube::Error>> {
        Box::pin(Api::list(self, params))
    }

    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        resource_version: &'a str,
    ) -> BoxFuture<'a, Result<Watch<K>, kube::Error>> {
        Box::pin(async move { Ok(Api::watch(self, params, resource_version).await?.boxed()) })
    }

    fn describe(&self) -> String {
        self.resource_url().to_owned()
    }
}

/// Lists and watches only the objects a field selector picks (the root CA publisher follows
/// the `kube-root-ca.crt` ConfigMaps, not every ConfigMap of the cluster).
pub struct FieldSelected<K> {
    pub api: Api<K>,
    pub fields: String,
}

impl<K> Source<K> for FieldSelected<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    fn list<'a>(
        &'a self,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<ObjectList<K>, kube::Error>> {
        Box::pin(async move {
            let params = params.clone().fields(&self.fields);
            self.api.list(&params).await
        })
    }

    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        resource_version: &'a str,
    ) -> BoxFuture<'a, Result<Watch<K>, kube::Error>> {
        Box::pin(async move {
            let params = params.clone().fields(&self.fields);
            Ok(self.api.watch(&params, resource_version).await?.boxed())
        })
    }

    fn describe(&self) -> String {
        format!("{}?fieldSelector={}", self.api.resource_url(), self.fields)
    }
}

/// Lists and watches only the metadata of `K`'s objects.
pub struct MetadataOnly<K>(pub Api<K>);

impl<K> Source<PartialObjectMeta<K>> for MetadataOnly<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Send + Sync,
{
    fn list<'a>(
        &'a self,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<ObjectList<PartialObjectMeta<K>>, kube::Error>> {
        Box::pin(self.0.list_metadata(params))
    }

    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        resource_version: &'a str,
    ) -> BoxFuture<'a, Result<Watch<PartialObjectMeta<K>>, kube::Error>> {
        Box::pin(async move {
            let stream = self.0.watch_metadata(params, resource_version).await?;
            Ok(stream.boxed())
        })
    }

    fn describe(&self) -> String {
        self.0.resource_url().to_owned()
    }
}

/// Events delivered to handlers per call, at most.
pub const CHUNK: usize = 512;
/// How long a watch request lasts before it is renewed (below the server's minimum of 30
/// minutes, as client-go's random 5–10 minutes).
const WATCH_TIMEOUT_SECS: u32 = 290;
const PAGE: u32 = 500;
const RETRY: Duration = Duration::from_secs(1);

pub struct Informer<K> {
    cache: RwLock<BTreeMap<ObjectKey, Arc<K>>>,
    /// Set by [`Informer::stop`]: the list+watch loop ends.
    stopped: watch::Sender<bool>,
    /// Called on the informer's task with each batch; they must be quick (enqueue keys).
    handlers: RwLock<Vec<Handler<K>>>,
    synced: watch::Sender<bool>,
    /// Events per handler call at most ([`CHUNK`]; 1 delivers one event per call and takes
    /// the cache lock per event, as client-go's informers do).
    chunk: usize,
    stats: Arc<InformerStats>,
}

/// What an informer delivered: events, and the deliveries they took (each delivery calls
/// every handler once; the batching shows as far fewer deliveries than events).
#[derive(Debug, Default)]
pub struct InformerStats {
    pub events: std::sync::atomic::AtomicU64,
    pub calls: std::sync::atomic::AtomicU64,
}

impl<K> Informer<K> {
    /// Ends the list+watch loop (the cache stays as it was).
    pub fn stop(&self) {
        self.stopped.send_replace(true);
    }

    pub fn stats(&self) -> &Arc<InformerStats> {
        &self.stats
    }
    /// Resolves once the first list is in the cache.
    pub async fn wait_synced(&self) {
        let mut synced = self.synced.subscribe();
        let _ = synced.wait_for(|s| *s).await;
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Starts listing and watching through `api`; the informer lives as long as someone
    /// holds it.
    pub fn start(api: impl Source<K>) -> Arc<Informer<K>> {
        Self::start_chunked(api, CHUNK)
    }

    /// [`Informer::start`] delivering at most `chunk` events per handler call.
    pub fn start_chunked(api: impl Source<K>, chunk: usize) -> Arc<Informer<K>> {
        let informer = Arc::new(Informer {
            cache: RwLock::new(BTreeMap::new()),
            stopped: watch::channel(false).0,
            handlers: RwLock::new(Vec::new()),
            synced: watch::channel(false).0,
            chunk: chunk.max(1),
            stats: Arc::default(),
        });
        let weak = Arc::downgrade(&informer);
        tokio::spawn(async move {
            loop {
                let Some(informer) = weak.upgrade() else {
                    return;
                };
                let mut stopped = informer.stopped.subscribe();
                tokio::select! {
                    result = informer.list_and_watch(&api) => {
                        if let Err(error) = result {
                            tracing::debug!(source = %api.describe(), %error, "informer restarts");
                        }
                    }
                    _ = stopped.wait_for(|s| *s) => return,
                }
                drop(informer);
                tokio::time::sleep(RETRY).await;
            }
        });
        informer
    }

    /// Registers a handler; it first receives the whole cache as `Applied` events (if
    /// synced), then every change.
    pub fn add_handler(&self, handler: impl Fn(&[Event<K>]) + Send + Sync + 'static) {
        let mut handlers = self.handlers.write();
        let existing: Vec<Event<K>> = self
            .cache
            .read()
            .values()
            .map(|o| Event::Applied {
                new: Arc::clone(o),
                old: None,
            })
            .collect();
        for chunk in existing.chunks(CHUNK) {
            handler(chunk);
        }
        handlers.push(Box::new(handler));
    }


    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.cache.read().get(key).cloned()
    }

    /// Every cached object, or those of one namespace (a range of the cache).
    pub fn list(&self, namespace: Option<&str>) -> Vec<Arc<K>> {
        let cache = self.cache.read();
        match namespace {
            None => cache.values().cloned().collect(),
            // Keys order by namespace first: one range, not a scan of every object.
            Some(ns) => cache
                .range(ObjectKey::new(Some(ns), "")..)
                .take_while(|(k, _)| k.namespace.as_deref() == Some(ns))
                .map(|(_, v)| Arc::clone(v))
                .collect(),
        }
    }

    fn dispatch(&self, events: &[Event<K>]) {
        if events.is_empty() {
            return;
        }
        let handlers = self.handlers.read();
        for handler in handlers.iter() {
            handler(events);
        }
        let delivered = u64::try_from(events.len()).unwrap_or(u64::MAX);
        self.stats
            .events
            .fetch_add(delivered, std::sync::atomic::Ordering::Relaxed);
        self.stats
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    async fn list_and_watch(&self, api: &impl Source<K>) -> Result<(), kube::Error> {
        // List, in pages, all at the first page's resourceVersion.
        let mut listed = BTreeMap::new();
        let mut params = ListParams::default().limit(PAGE);
        let resource_version = loop {
            let page = api.list(&params).await?;
            let page: ObjectList<K> = page;
            for object in page.items {
                listed.insert(ObjectKey::of(&object), Arc::new(object));
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break page.metadata.resource_version.unwrap_or_default(),
            }
        };
        let events = {
            let mut cache = self.cache.write();
            let mut events = Vec::new();
            for (key, old) in cache.iter() {
                if !listed.contains_key(key) {
                    events.push(Event::Deleted(Arc::clone(old)));
                }
            }
            for (key, new) in &listed {
                let old = cache.get(key);
                let changed =
                    old.is_none_or(|o| o.meta().resource_version != new.meta().resource_version);
                if changed {
                    events.push(Event::Applied {
                        new: Arc::clone(new),
                        old: old.cloned(),
                    });
                }
            }
            *cache = listed;
            events
        };
        for chunk in events.chunks(self.chunk) {
            self.dispatch(chunk);
        }
        self.synced.send_replace(true);
        let mut resource_version = resource_version;
        loop {
            let params = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
            let stream = api.watch(&params, &resource_version).await?;
            let mut chunks = stream.ready_chunks(self.chunk);
            while let Some(chunk) = chunks.next().await {
                // Every change applied to the cache is dispatched, even when the chunk ends in
                // an error: a change in the cache that no handler heard of would be lost for
                // good (the relist that follows finds nothing to report).
                let mut events = Vec::with_capacity(chunk.len());
                let mut ended: Option<Result<(), kube::Error>> = None;
                {
                    let mut cache = self.cache.write();
                    for item in chunk {
                        let event = match item {
                            Ok(event) => event,
                            Err(error) => {
                                ended = Some(Err(error));
                                break;
                            }
                        };
                        match event {
                            WatchEvent::Added(object) | WatchEvent::Modified(object) => {
                                if let Some(rv) = &object.meta().resource_version {
                                    resource_version.clone_from(rv);
                                }
                                let new = Arc::new(object);
                                let old =
                                    cache.insert(ObjectKey::of(new.as_ref()), Arc::clone(&new));
                                events.push(Event::Applied { new, old });
                            }
                            WatchEvent::Deleted(object) => {
                                if let Some(rv) = &object.meta().resource_version {
                                    resource_version.clone_from(rv);
                                }
                                let key = ObjectKey::of(&object);
                                let last = cache.remove(&key).unwrap_or_else(|| Arc::new(object));
                                events.push(Event::Deleted(last));
                            }
                            WatchEvent::Bookmark(bookmark) => {
                                resource_version = bookmark.metadata.resource_version;
                            }
                            WatchEvent::Error(status) => {
                                // The watch is over (410 Gone: the resourceVersion was
                                // compacted): list again, which reports whatever this watch
                                // did not deliver, as the cache has not seen it.
                                if status.code != 410 {
                                    tracing::debug!(?status, "watch error");
                                }
                                ended = Some(Ok(()));
                                break;
                            }
                        }
                    }
                }
                self.dispatch(&events);
                if let Some(outcome) = ended {
                    return outcome;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[test]
    fn a_namespace_lists_exactly_its_own_objects() {
        let informer: Informer<ConfigMap> = Informer {
            cache: RwLock::new(BTreeMap::new()),
            stopped: watch::channel(false).0,
            handlers: RwLock::new(Vec::new()),
            synced: watch::channel(false).0,
            chunk: CHUNK,
            stats: Arc::default(),
        };
        for (ns, name) in [
            (Some("a"), "x"),
            (Some("a"), ""),
            (Some("ab"), "y"),
            (Some("b"), "z"),
            (None, "c"),
        ] {
            let cm = ConfigMap {
                metadata: kube::api::ObjectMeta {
                    namespace: ns.map(str::to_owned),
                    name: Some(name.to_owned()),
                    ..Default::default()
                },
                ..Default::default()
            };
            informer
                .cache
                .write()
                .insert(ObjectKey::of(&cm), Arc::new(cm));
        }
        let names = |ns| -> Vec<String> {
            informer
                .list(Some(ns))
                .iter()
                .filter_map(|c| c.metadata.name.clone())
                .collect()
        };
        assert_eq!(names("a"), ["", "x"]);
        assert_eq!(names("ab"), ["y"]);
        assert_eq!(names("b"), ["z"]);
        assert!(names("c").is_empty());
        assert_eq!(informer.list(None).len(), 5);
    }
}

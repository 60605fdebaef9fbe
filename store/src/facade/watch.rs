//! etcd's Watch service: one bidirectional stream carries many watchers. The stream's reader
//! creates and cancels watchers; each watcher runs as its own task that forwards its events
//! into the stream's bounded response channel, so a slow client slows only its own stream
//! (the store-side watcher then catches up from history, see `crate::watch`).
//!
//! Progress: a `WatchProgressRequest` is answered by every watcher of the stream, each with
//! its own watch id and its own partition's revision, once it has sent every event up to that
//! revision. (etcd answers with a single response carrying watch id -1; with partitions, one
//! revision cannot describe watchers on different partitions, and clients treat a per-watcher
//! empty response as that watcher's progress notification.)

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::kv;
use super::{header, pb};
use crate::error::StoreError;
use crate::store::Store;
use crate::types::{Change, Event, KeyRange, Revision};
use crate::watch::Watcher;

/// Responses queued per stream before watchers wait for the client to read.
const STREAM_BUFFER: usize = 256;
/// Control messages queued per watcher.
const CONTROL_BUFFER: usize = 8;
/// etcd's `clientv3.InvalidWatchID`.
const INVALID_WATCH_ID: i64 = -1;

pub struct WatchService {
    store: Arc<Store>,
    progress_interval: Duration,
}

impl WatchService {
    pub fn new(store: Arc<Store>, progress_interval: Duration) -> WatchService {
        WatchService {
            store,
            progress_interval,
        }
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::watch_server::Watch for WatchService {
    type WatchStream = ResponseStream;

    async fn watch(
        &self,
        request: Request<Streaming<pb::WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let stream = WatchStream {
            store: Arc::clone(&self.store),
            progress_interval: self.progress_interval,
            tx,
            watchers: HashMap::new(),
            next_id: 0,
        };
        tokio::spawn(stream.run(request.into_inner()));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

enum Control {
    Progress,
}

struct WatcherHandle {
    control: mpsc::Sender<Control>,
    task: JoinHandle<()>,
}

struct WatchStream {
    store: Arc<Store>,
    progress_interval: Duration,
    tx: mpsc::Sender<Result<pb::WatchResponse, Status>>,
    watchers: HashMap<i64, WatcherHandle>,
    next_id: i64,
}

impl WatchStream {
    async fn run(mut self, mut requests: Streaming<pb::WatchRequest>) {
        use pb::watch_request::RequestUnion;
        while let Some(Ok(request)) = requests.next().await {
            self.watchers.retain(|_, handle| !handle.task.is_finished());
            let sent = match request.request_union {
                Some(RequestUnion::CreateRequest(create)) => self.create(create).await,
                Some(RequestUnion::CancelRequest(cancel)) => self.cancel(cancel.watch_id).await,
                Some(RequestUnion::ProgressRequest(_)) => self.progress().await,
                None => true,
            };
            if !sent {
                break;
            }
        }
        for (_, handle) in self.watchers.drain() {
            handle.task.abort();
        }
    }

    fn revision_of(&self, range: &KeyRange) -> Revision {
        self.store
            .partition_for_range(range)
            .map_or(Revision::INITIAL, |p| p.revision())
    }

    async fn send(&self, response: pb::WatchResponse) -> bool {
        self.tx.send(Ok(response)).await.is_ok()
    }

    async fn create(&mut self, create: pb::WatchCreateRequest) -> bool {
        let range = KeyRange::from_wire(create.key.clone(), create.range_end.clone());
        let revision = self.revision_of(&range);
        let id = if create.watch_id != 0 {
            if self.watchers.contains_key(&create.watch_id) {
                return self
                    .send(canceled(
                        INVALID_WATCH_ID,
                        revision,
                        true,
                        "mvcc: duplicate watch ID provided on the WatchStream".into(),
                    ))
                    .await;
            }
            create.watch_id
        } else {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id
        };
        let start = Revision::from_wire(create.start_revision);
        let watcher = match self.store.watch(range, start) {
            Ok(watcher) => watcher,
            Err(StoreError::Compacted { compact_revision }) => {
                let created = pb::WatchResponse {
                    header: Some(header(revision)),
                    watch_id: id,
                    created: true,
                    ..Default::default()
                };
                let error = StoreError::Compacted { compact_revision };
                let mut gone = canceled(id, revision, false, error.to_string());
                gone.compact_revision = compact_revision.wire();
                return self.send(created).await && self.send(gone).await;
            }
            Err(error) => {
                return self
                    .send(canceled(
                        INVALID_WATCH_ID,
                        revision,
                        true,
                        error.to_string(),
                    ))
                    .await;
            }
        };
        let created = pb::WatchResponse {
            header: Some(header(revision)),
            watch_id: id,
            created: true,
            ..Default::default()
        };
        if !self.send(created).await {
            return false;
        }
        let (control, control_rx) = mpsc::channel(CONTROL_BUFFER);
        let task = WatchTask {
            id,
            watcher,
            filters: Filters::new(&create),
            fragment: create.fragment,
            max_bytes: self.store.max_request_bytes(),
            tx: self.tx.clone(),
            progress_interval: create.progress_notify.then_some(self.progress_interval),
        };
        let task = tokio::spawn(task.run(control_rx));
        self.watchers.insert(id, WatcherHandle { control, task });
        true
    }

    async fn cancel(&mut self, id: i64) -> bool {
        let Some(handle) = self.watchers.remove(&id) else {
            return true;
        };
        handle.task.abort();
        let revision = self.store.rest_revision();
        self.send(canceled(id, revision, false, String::new()))
            .await
    }

    async fn progress(&mut self) -> bool {
        if self.watchers.is_empty() {
            let revision = self.store.rest_revision();
            let response = pb::WatchResponse {
                header: Some(header(revision)),
                watch_id: INVALID_WATCH_ID,
                ..Default::default()
            };
            return self.send(response).await;
        }
        for handle in self.watchers.values() {
            // A full control queue already holds a progress request: nothing is lost.
            let _ = handle.control.try_send(Control::Progress);
        }
        true
    }
}

fn canceled(id: i64, revision: Revision, created: bool, reason: String) -> pb::WatchResponse {
    pb::WatchResponse {
        header: Some(header(revision)),
        watch_id: id,
        created,
        canceled: true,
        cancel_reason: reason,
        ..Default::default()
    }
}

struct Filters {
    no_put: bool,
    no_delete: bool,
    prev_kv: bool,
}

impl Filters {
    fn new(create: &pb::WatchCreateRequest) -> Filters {
        use pb::watch_create_request::FilterType;
        let has = |f: FilterType| create.filters.contains(&(f as i32));
        Filters {
            no_put: has(FilterType::Noput),
            no_delete: has(FilterType::Nodelete),
            prev_kv: create.prev_kv,
        }
    }

    fn apply(&self, event: Event) -> Option<pb::Event> {
        use pb::event::EventType;
        let (kind, kv) = match event.change {
            Change::Put(_) if self.no_put => return None,
            Change::Delete if self.no_delete => return None,
            Change::Put(value) => (EventType::Put, kv(value)),
            Change::Delete => (
                EventType::Delete,
                pb::KeyValue {
                    key: event.key,
                    mod_revision: event.revision.wire(),
                    ..Default::default()
                },
            ),
        };
        let prev_kv = if self.prev_kv {
            event.prev.map(super::convert::kv)
        } else {
            None
        };
        Some(pb::Event {
            r#type: kind as i32,
            kv: Some(kv),
            prev_kv,
        })
    }
}

struct WatchTask {
    id: i64,
    watcher: Watcher,
    filters: Filters,
    fragment: bool,
    max_bytes: usize,
    tx: mpsc::Sender<Result<pb::WatchResponse, Status>>,
    progress_interval: Option<Duration>,
}

impl WatchTask {
    async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        let mut ticker = self.progress_interval.map(|every| {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker
        });
        let mut progress_wanted = false;
        loop {
            if progress_wanted && let Some(revision) = self.watcher.progress() {
                progress_wanted = false;
                if !self.send_progress(revision).await {
                    return;
                }
            }
            tokio::select! {
                biased;
                message = control.recv() => match message {
                    Some(Control::Progress) => progress_wanted = true,
                    None => return,
                },
                _ = tick(&mut ticker) => progress_wanted = true,
                batch = self.watcher.next() => match batch {
                    Ok(batch) => {
                        if !self.send_events(batch.revision, batch.events).await {
                            return;
                        }
                    }
                    Err(error) => {
                        self.send_error(error).await;
                        return;
                    }
                },
            }
        }
    }

    async fn send_progress(&self, revision: Revision) -> bool {
        let response = pb::WatchResponse {
            header: Some(header(revision)),
            watch_id: self.id,
            ..Default::default()
        };
        self.tx.send(Ok(response)).await.is_ok()
    }

    async fn send_events(&self, revision: Revision, events: Vec<Event>) -> bool {
        let events: Vec<pb::Event> = events
            .into_iter()
            .filter_map(|e| self.filters.apply(e))
            .collect();
        if events.is_empty() {
            return true;
        }
        let chunks = if self.fragment {
            fragments(events, self.max_bytes)
        } else {
            vec![events]
        };
        let last = chunks.len() - 1;
        for (index, events) in chunks.into_iter().enumerate() {
            let response = pb::WatchResponse {
                header: Some(header(revision)),
                watch_id: self.id,
                fragment: index < last,
                events,
                ..Default::default()
            };
            if self.tx.send(Ok(response)).await.is_err() {
                return false;
            }
        }
        true
    }

    async fn send_error(&self, error: StoreError) {
        let mut response = canceled(self.id, Revision::INITIAL, false, error.to_string());
        if let StoreError::Compacted { compact_revision } = error {
            response.compact_revision = compact_revision.wire();
        }
        let _ = self.tx.send(Ok(response)).await;
    }
}

async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Splits one revision's events into responses of at most about `max_bytes` each (never
/// splitting an event).
fn fragments(events: Vec<pb::Event>, max_bytes: usize) -> Vec<Vec<pb::Event>> {
    let mut chunks: Vec<Vec<pb::Event>> = vec![Vec::new()];
    let mut size = 0;
    for event in events {
        let event_size = prost::Message::encoded_len(&event);
        let current = chunks.last_mut().expect("chunks is never empty");
        if !current.is_empty() && size + event_size > max_bytes {
            chunks.push(Vec::new());
            size = 0;
        }
        size += event_size;
        chunks
            .last_mut()
            .expect("chunks is never empty")
            .push(event);
    }
    chunks
}

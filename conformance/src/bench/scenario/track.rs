//! What the scenario sees of the cluster, through watches as a user's tools would: the
//! bench's pods (seen, scheduled, running, finished, deleted, and how long each took from
//! seen to Running), the nodes that are Ready, and the delay of watch events (probe
//! ConfigMaps created once a second and timed from sending the create to their event).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// The label every object of a scenario carries.
pub const BENCH_LABEL: &str = "bench.ultrak8s.io/scenario";

#[derive(Default)]
struct PodState {
    seen_at: Option<Instant>,
    scheduled: bool,
    running: bool,
    finished: bool,
}

#[derive(Default)]
pub struct Counts {
    pub created: u64,
    pub scheduled: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub deleted: u64,
}

#[derive(Default)]
struct State {
    pods: HashMap<String, PodState>,
    counts: Counts,
    startups: Vec<u64>,
    ready_nodes: HashSet<String>,
    probes: HashMap<String, Instant>,
    watch_delays: Vec<u64>,
}

#[derive(Default)]
pub struct Tracker {
    state: Mutex<State>,
}

pub struct Totals {
    pub created: u64,
    pub scheduled: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub deleted: u64,
    /// Pods not finished and not deleted.
    pub live: u64,
    /// Pods not deleted (live or finished).
    pub tracked: u64,
    pub ready_nodes: u64,
}

impl Tracker {
    pub fn totals(&self) -> Totals {
        let s = self.state.lock();
        let c = &s.counts;
        Totals {
            created: c.created,
            scheduled: c.scheduled,
            running: c.running,
            succeeded: c.succeeded,
            failed: c.failed,
            deleted: c.deleted,
            live: s.pods.values().filter(|p| !p.finished).count() as u64,
            tracked: s.pods.len() as u64,
            ready_nodes: s.ready_nodes.len() as u64,
        }
    }

    /// Seen → Running of each pod, and create → event of each probe, in nanoseconds.
    pub fn durations(&self) -> (Vec<u64>, Vec<u64>) {
        let s = self.state.lock();
        (s.startups.clone(), s.watch_delays.clone())
    }

    fn pod(&self, event: WatchEvent<Pod>) {
        let now = Instant::now();
        let mut s = self.state.lock();
        let State {
            pods,
            counts,
            startups,
            ..
        } = &mut *s;
        let (pod, deleted) = match event {
            WatchEvent::Added(p) | WatchEvent::Modified(p) => (p, false),
            WatchEvent::Deleted(p) => (p, true),
            _ => return,
        };
        let key = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        );
        let entry = pods.entry(key.clone()).or_default();
        if entry.seen_at.is_none() {
            entry.seen_at = Some(now);
            counts.created += 1;
        }
        let spec = pod.spec.as_ref();
        if !entry.scheduled && spec.and_then(|s| s.node_name.as_ref()).is_some() {
            entry.scheduled = true;
            counts.scheduled += 1;
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if !entry.running && matches!(phase, Some("Running" | "Succeeded" | "Failed")) {
            entry.running = true;
            counts.running += 1;
            if let Some(seen) = entry.seen_at {
                startups.push(now.duration_since(seen).as_nanos() as u64);
            }
        }
        if !entry.finished && matches!(phase, Some("Succeeded" | "Failed")) {
            entry.finished = true;
            if phase == Some("Succeeded") {
                counts.succeeded += 1;
            } else {
                counts.failed += 1;
            }
        }
        if deleted {
            counts.deleted += 1;
            pods.remove(&key);
        }
    }

    fn node(&self, event: WatchEvent<Node>) {
        let (node, deleted) = match event {
            WatchEvent::Added(n) | WatchEvent::Modified(n) => (n, false),
            WatchEvent::Deleted(n) => (n, true),
            _ => return,
        };
        let name = node.metadata.name.clone().unwrap_or_default();
        let ready = !deleted
            && node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let mut s = self.state.lock();
        if ready {
            s.ready_nodes.insert(name);
        } else {
            s.ready_nodes.remove(&name);
        }
    }

    fn probe(&self, event: WatchEvent<ConfigMap>) {
        let WatchEvent::Added(cm) = event else { return };
        let now = Instant::now();
        let name = cm.metadata.name.unwrap_or_default();
        let mut s = self.state.lock();
        if let Some(created) = s.probes.remove(&name) {
            s.watch_delays
                .push(now.duration_since(created).as_nanos() as u64);
        }
    }
}

/// Follows `api` (with `labels`) from now until `stop`, re-watching when a watch ends.
async fn follow<K>(
    api: Api<K>,
    labels: Option<String>,
    mut stop: watch::Receiver<bool>,
    handle: impl Fn(WatchEvent<K>),
) where
    K: Clone + DeserializeOwned + std::fmt::Debug + kube::Resource,
{
    let mut version = "0".to_owned();
    loop {
        let mut params = WatchParams::default().timeout(290);
        if let Some(l) = &labels {
            params = params.labels(l);
        }
        let stream = tokio::select! {
            s = api.watch(&params, &version) => s,
            _ = stop.wait_for(|s| *s) => return,
        };
        let Ok(stream) = stream else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut stream = stream.boxed();
        loop {
            let event = tokio::select! {
                e = stream.next() => e,
                _ = stop.wait_for(|s| *s) => return,
            };
            let Some(Ok(event)) = event else { break };
            match &event {
                WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                    if let Some(v) = &o.meta().resource_version {
                        version.clone_from(v);
                    }
                }
                WatchEvent::Bookmark(b) => version.clone_from(&b.metadata.resource_version),
                // 410: start again from the current state.
                WatchEvent::Error(_) => {
                    version = "0".to_owned();
                    break;
                }
            }
            handle(event);
        }
    }
}

/// Starts the watches; they end when `stop` turns true.
pub fn start(
    client: &kube::Client,
    tracker: &Arc<Tracker>,
    namespace: &str,
    stop: &watch::Receiver<bool>,
) {
    let selector = Some(BENCH_LABEL.to_owned());
    let pods: Api<Pod> = Api::all(client.clone());
    let t = Arc::clone(tracker);
    tokio::spawn(follow(pods, selector, stop.clone(), move |e| t.pod(e)));
    let nodes: Api<Node> = Api::all(client.clone());
    let t = Arc::clone(tracker);
    tokio::spawn(follow(nodes, None, stop.clone(), move |e| t.node(e)));
    let probes: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let t = Arc::clone(tracker);
    tokio::spawn(follow(
        probes.clone(),
        Some("bench.ultrak8s.io/probe".to_owned()),
        stop.clone(),
        move |e| t.probe(e),
    ));
    // One probe a second.
    let (t, mut stop) = (Arc::clone(tracker), stop.clone());
    tokio::spawn(async move {
        let mut n = 0u64;
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let name = format!("probe-{n}");
            n += 1;
            let cm: ConfigMap = match serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": {"bench.ultrak8s.io/probe": "true"}},
            })) {
                Ok(cm) => cm,
                Err(_) => continue,
            };
            // Timed from before the create is sent: its event may come before its answer.
            t.state.lock().probes.insert(name.clone(), Instant::now());
            if probes.create(&PostParams::default(), &cm).await.is_err() {
                t.state.lock().probes.remove(&name);
            }
        }
    });
}

/// How many nodes are Ready now, through one paged list (for checks at the end of a phase).
pub async fn count_ready(client: &kube::Client) -> Result<u64, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let mut ready = 0;
    let mut params = ListParams::default().limit(5000);
    loop {
        let page = api.list(&params).await?;
        ready += page
            .items
            .iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count() as u64;
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(ready),
        }
    }
}

//! `bench api`: the Kubernetes API of a real `ultrak8s server` (a child process, fsync
//! durability) under load from this process over HTTPS: create, get, list and watch fan-out
//! with many pods stored, each figure printed beside the Kubernetes SLO it answers to
//! (p99 <= 1 s for writes and single reads, <= 30 s for cluster-wide lists). There is no
//! peer in this scenario: a stock kube-apiserver is not part of the machine.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request};
use serde::Serialize;

use super::BenchError;
use super::peers::Peer;

pub struct ApiBench {
    pub server_binary: PathBuf,
    pub work_dir: PathBuf,
    /// Pods created (and then stored) before the read workloads.
    pub pods: u64,
    /// Namespaces the pods are spread over.
    pub namespaces: u64,
    /// Concurrent requests of the create and get workloads.
    pub clients: usize,
    pub gets: u64,
    /// Cluster-wide lists of every pod.
    pub lists: u32,
    pub watchers: usize,
    /// Pods created while the watchers watch; every watcher sees each one.
    pub watch_events: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub operation: String,
    pub requests: u64,
    pub seconds: f64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The SLO's p99 bound, in ms.
    pub slo_p99_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiReport {
    pub figures: Vec<Figure>,
    pub pods_stored: u64,
    pub server_rss_bytes: u64,
    pub server_cpu_seconds: f64,
    pub nproc: usize,
}

const WRITE_SLO_MS: f64 = 1_000.0;
const LIST_SLO_MS: f64 = 30_000.0;

fn pod(namespace: &str, name: &str) -> Vec<u8> {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "bench", "shard": format!("s{}", name.len() % 7)},
            "annotations": {"bench.ultrak8s.io/note": "a pod of the api benchmark"},
        },
        "spec": {
            "schedulerName": "bench-no-scheduler",
            "containers": [{
                "name": "main",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "200m", "memory": "128Mi"},
                },
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": [{"name": "MODE", "value": "bench"}],
            }],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
        },
    })
    .to_string()
    .into_bytes()
}

pub(crate) fn request(method: Method, path: &str, body: Vec<u8>) -> Result<Request<Vec<u8>>, BenchError> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body)
        .map_err(|e| BenchError::Workload {
            peer: "ultrak8s",
            what: e.to_string(),
        })
}

pub(crate) fn failed(what: impl std::fmt::Display) -> BenchError {
    BenchError::Workload {
        peer: "ultrak8s",
        what: what.to_string(),
    }
}

/// Sends one request; fails the run on any non-2xx answer.
pub(crate) async fn call(client: &kube::Client, req: Request<Vec<u8>>) -> Result<usize, BenchError> {
    let text = client.request_text(req).await.map_err(failed)?;
    Ok(text.len())
}

/// The `q` quantile (nearest rank) of sorted durations in nanoseconds, in ms; 0 if none.
pub(crate) fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() as f64 * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e6
}

fn figure(operation: &str, mut nanos: Vec<u64>, seconds: f64, slo_p99_ms: f64) -> Figure {
    nanos.sort_unstable();
    let pct = |q: f64| quantile_ms(&nanos, q);
    Figure {
        operation: operation.to_owned(),
        requests: nanos.len() as u64,
        seconds,
        per_sec: nanos.len() as f64 / seconds.max(1e-9),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        slo_p99_ms,
    }
}

/// Runs `total` requests made by `make(n)` with `clients` in flight.
pub(crate) async fn drive(
    client: &kube::Client,
    clients: usize,
    total: u64,
    make: impl Fn(u64) -> Result<Request<Vec<u8>>, BenchError> + Send + Sync + 'static,
) -> Result<(Vec<u64>, f64), BenchError> {
    let make = Arc::new(make);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, make, next) = (client.clone(), Arc::clone(&make), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut nanos = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, BenchError>(nanos);
                }
                let req = make(n)?;
                let t = Instant::now();
                call(&client, req).await?;
                nanos.push(t.elapsed().as_nanos() as u64);
            }
        }));
    }
    let mut all = Vec::with_capacity(total as usize);
    for task in tasks {
        all.extend(task.await.map_err(failed)??);
    }
    Ok((all, started.elapsed().as_secs_f64()))
}

pub(crate) async fn connect(peer: &Peer) -> Result<kube::Client, BenchError> {
    let path = peer.dir().join("data").join("admin.kubeconfig");
    let started = Instant::now();
    loop {
        if path.exists()
            && let Ok(kubeconfig) = kube::config::Kubeconfig::read_from(&path)
            && let Ok(config) =
                kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await
            && let Ok(client) = kube::Client::try_from(config)
            && client
                .request_text(request(Method::GET, "/readyz", Vec::new())?)
                .await
                .is_ok()
        {
            return Ok(client);
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(failed("the API server did not become ready within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(bench: &ApiBench) -> Result<ApiReport, BenchError> {
    let mut peer = Peer::start_ultrak8s(&bench.server_binary, &bench.work_dir)?;
    peer.wait_ready(Duration::from_secs(30)).await?;
    let client = connect(&peer).await?;
    let namespaces = bench.namespaces.max(1);
    for ns in 0..namespaces {
        let body = format!(
            r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"bench-{ns}"}}}}"#
        );
        call(
            &client,
            request(Method::POST, "/api/v1/namespaces", body.into_bytes())?,
        )
        .await?;
    }
    call(
        &client,
        request(
            Method::POST,
            "/api/v1/namespaces",
            br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench-watch"}}"#.to_vec(),
        )?,
    )
    .await?;
    let mut figures = Vec::new();
    let cpu_before = peer.cpu_seconds()?;

    let (nanos, seconds) = drive(&client, bench.clients, bench.pods, move |n| {
        let ns = format!("bench-{}", n % namespaces);
        request(
            Method::POST,
            &format!("/api/v1/namespaces/{ns}/pods"),
            pod(&ns, &format!("pod-{n}")),
        )
    })
    .await?;
    figures.push(figure("create pod", nanos, seconds, WRITE_SLO_MS));

    let pods = bench.pods.max(1);
    let (nanos, seconds) = drive(&client, bench.clients, bench.gets, move |n| {
        // A stride through the pods so reads do not hit one hot key.
        let k = n.wrapping_mul(2_654_435_761) % pods;
        let ns = format!("bench-{}", k % namespaces);
        request(
            Method::GET,
            &format!("/api/v1/namespaces/{ns}/pods/pod-{k}"),
            Vec::new(),
        )
    })
    .await?;
    figures.push(figure("get pod", nanos, seconds, WRITE_SLO_MS));

    let mut nanos = Vec::new();
    let started = Instant::now();
    for _ in 0..bench.lists {
        let t = Instant::now();
        let bytes = call(&client, request(Method::GET, "/api/v1/pods", Vec::new())?).await?;
        nanos.push(t.elapsed().as_nanos() as u64);
        if bytes < bench.pods as usize {
            return Err(failed("a cluster-wide list came back short"));
        }
    }
    let label = format!("list all pods ({} stored)", bench.pods);
    figures.push(figure(
        &label,
        nanos,
        started.elapsed().as_secs_f64(),
        LIST_SLO_MS,
    ));

    let mut nanos = Vec::new();
    let started = Instant::now();
    for _ in 0..bench.lists {
        let t = Instant::now();
        let mut token = String::new();
        loop {
            let path = format!("/api/v1/pods?limit=500&continue={token}");
            let text = client
                .request_text(request(Method::GET, &path, Vec::new())?)
                .await
                .map_err(failed)?;
            let page: serde_json::Value = serde_json::from_str(&text).map_err(failed)?;
            match page.pointer("/metadata/continue").and_then(|c| c.as_str()) {
                Some(next) if !next.is_empty() => token = next.to_owned(),
                _ => break,
            }
        }
        nanos.push(t.elapsed().as_nanos() as u64);
    }
    figures.push(figure(
        "list all pods in pages of 500",
        nanos,
        started.elapsed().as_secs_f64(),
        LIST_SLO_MS,
    ));

    let (nanos, seconds) = drive(&client, 4, u64::from(bench.lists) * 10, move |n| {
        let ns = format!("bench-{}", n % namespaces);
        request(
            Method::GET,
            &format!("/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dbench"),
            Vec::new(),
        )
    })
    .await?;
    figures.push(figure(
        "list one namespace's pods by label",
        nanos,
        seconds,
        LIST_SLO_MS,
    ));

    figures.push(watch_fan_out(&client, bench).await?);
    let server_cpu_seconds = peer.cpu_seconds()? - cpu_before;
    let server_rss_bytes = peer.rss_bytes()?;
    Ok(ApiReport {
        figures,
        pods_stored: bench.pods + bench.watch_events,
        server_rss_bytes,
        server_cpu_seconds,
        nproc: std::thread::available_parallelism().map_or(0, usize::from),
    })
}

/// `watchers` watches of one namespace; then `watch_events` pods are created there. The
/// figure is the events delivered per second over all watchers, and the percentiles over
/// watchers of the time from the first create to the watcher's last event.
async fn watch_fan_out(client: &kube::Client, bench: &ApiBench) -> Result<Figure, BenchError> {
    let list = client
        .request_text(request(
            Method::GET,
            "/api/v1/namespaces/bench-watch/pods",
            Vec::new(),
        )?)
        .await
        .map_err(failed)?;
    let rv = serde_json::from_str::<serde_json::Value>(&list)
        .map_err(failed)?
        .pointer("/metadata/resourceVersion")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let expected = bench.watch_events;
    let start = Arc::new(tokio::sync::OnceCell::<Instant>::new());
    let mut watchers = Vec::new();
    for _ in 0..bench.watchers {
        let client = client.clone();
        let path = format!(
            "/api/v1/namespaces/bench-watch/pods?watch=1&resourceVersion={rv}&timeoutSeconds=600"
        );
        let req = request(Method::GET, &path, Vec::new())?;
        let start = Arc::clone(&start);
        let response = client
            .send(req.map(kube::client::Body::from))
            .await
            .map_err(failed)?;
        watchers.push(tokio::spawn(async move {
            let mut body = http_body_util::BodyDataStream::new(response.into_body());
            let mut seen = 0u64;
            let mut pending = Vec::<u8>::new();
            while seen < expected {
                let Some(chunk) = body.next().await else {
                    break;
                };
                let chunk: Bytes = chunk.map_err(failed)?;
                pending.extend_from_slice(&chunk);
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    seen += 1;
                    pending.drain(..=end);
                }
            }
            let began = start.get().copied().unwrap_or_else(Instant::now);
            Ok::<_, BenchError>((seen, began.elapsed().as_nanos() as u64))
        }));
    }
    start.get_or_init(|| async { Instant::now() }).await;
    let began = Instant::now();
    drive(client, 16, expected, |n| {
        request(
            Method::POST,
            "/api/v1/namespaces/bench-watch/pods",
            pod("bench-watch", &format!("watched-{n}")),
        )
    })
    .await?;
    let mut done = Vec::new();
    let mut delivered = 0;
    for w in watchers {
        let (seen, nanos) = w.await.map_err(failed)??;
        delivered += seen;
        done.push(nanos);
    }
    let seconds = began.elapsed().as_secs_f64();
    let mut f = figure(
        &format!(
            "watch fan-out: {} watchers x {} pods (time to last event)",
            bench.watchers, expected
        ),
        done,
        seconds,
        WRITE_SLO_MS,
    );
    f.requests = delivered;
    f.per_sec = delivered as f64 / seconds.max(1e-9);
    Ok(f)
}

impl std::fmt::Display for ApiReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<62} {:>9} {:>11} {:>10} {:>10} {:>12}",
            "operation", "requests", "per second", "p50 ms", "p99 ms", "SLO p99 ms"
        )?;
        for r in &self.figures {
            let verdict = if r.p99_ms <= r.slo_p99_ms {
                "met"
            } else {
                "MISSED"
            };
            writeln!(
                f,
                "{:<62} {:>9} {:>11.0} {:>10.2} {:>10.2} {:>8} {verdict}",
                r.operation, r.requests, r.per_sec, r.p50_ms, r.p99_ms, r.slo_p99_ms
            )?;
        }
        writeln!(
            f,
            "server: {} pods stored, RSS {:.1} MiB, CPU {:.1} s over the run; {} cores",
            self.pods_stored,
            self.server_rss_bytes as f64 / 1024.0 / 1024.0,
            self.server_cpu_seconds,
            self.nproc
        )
    }
}

//! The measured loops over the etcd v3 API. Each runs the same requests, through the same
//! client (the `etcd-client` crate), whichever server is behind the endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{Client, KvClient, WatchOptions, WatchStream};
use serde::Serialize;
use tokio::task::JoinSet;

use super::BenchError;

/// When a throughput loop stops.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    /// After this many requests in all.
    Count(u64),
    /// When this much time has passed (requests in flight then still complete and count).
    Duration(Duration),
}

/// What each request of a throughput loop does.
#[derive(Clone, Debug)]
pub enum Op {
    /// Puts `value` under `<prefix><n>`, a new key per request.
    Put { prefix: String, value: Vec<u8> },
    /// Gets one key out of `<prefix>0 .. <prefix><keys - 1>`, spread over all of them; each
    /// must exist.
    Get { prefix: String, keys: u64 },
}

#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    pub requests: u64,
    pub seconds: f64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FanOut {
    pub watchers: usize,
    pub puts: u64,
    /// Events received across all watchers: `watchers × puts`.
    pub events: u64,
    /// From the first put to the last event received.
    pub seconds: f64,
    pub events_per_sec: f64,
    /// The writer's own rate: when it is close to `events_per_sec / watchers`, the writer's
    /// put latency, not the fan-out, bounded the figure.
    pub writer_puts_per_sec: f64,
}

/// The key of request `n`: zero-padded, so keys sort as they were written.
pub fn key(prefix: &str, n: u64) -> String {
    format!("{prefix}{n:08}")
}

/// A fixed set of gRPC connections to one peer; clients of a loop share them round-robin.
pub struct Connections {
    peer: &'static str,
    endpoint: String,
    clients: Vec<Client>,
}

impl Connections {
    /// Opens `count` connections (each `Client` is its own HTTP/2 connection) and makes one
    /// request on each, so no measured request pays for a connection set-up.
    pub async fn open(
        peer: &'static str,
        endpoint: &str,
        count: usize,
    ) -> Result<Connections, BenchError> {
        let mut clients = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let mut client = connect(peer, endpoint).await?;
            client
                .get("/registry/configmaps/bench-warmup", None)
                .await
                .map_err(|source| BenchError::Client { peer, source })?;
            clients.push(client);
        }
        Ok(Connections {
            peer,
            endpoint: endpoint.to_owned(),
            clients,
        })
    }

    fn kv(&self, client: usize) -> KvClient {
        self.clients[client % self.clients.len()].kv_client()
    }

    /// Runs `clients` concurrent clients, each issuing `op` back to back, until `limit`.
    pub async fn drive(
        &self,
        clients: usize,
        limit: Limit,
        op: &Op,
    ) -> Result<Throughput, BenchError> {
        let peer = self.peer;
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for client in 0..clients.max(1) {
            let mut kv = self.kv(client);
            let next = Arc::clone(&next);
            let op = op.clone();
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let done = match limit {
                        Limit::Count(count) => n >= count,
                        Limit::Duration(duration) => started.elapsed() >= duration,
                    };
                    if done {
                        return Ok(latencies);
                    }
                    let sent = Instant::now();
                    request(peer, &mut kv, &op, n).await?;
                    latencies.push(sent.elapsed().as_nanos() as u64);
                }
            });
        }
        let mut latencies = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let client = joined.map_err(|error| BenchError::Workload {
                peer,
                what: format!("client task: {error}"),
            })?;
            latencies.extend(client?);
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        Ok(Throughput {
            requests: latencies.len() as u64,
            seconds,
            requests_per_sec: latencies.len() as f64 / seconds,
            p50_ms: percentile_ms(&latencies, 0.50),
            p99_ms: percentile_ms(&latencies, 0.99),
        })
    }

    /// `watchers` watchers of `prefix`, spread evenly over `streams` watch streams (each on
    /// its own connection), and one writer putting `puts` new keys under it, one at a time.
    /// Fails if not every watcher has received every event within `timeout`.
    pub async fn watch_fan_out(
        &self,
        prefix: &str,
        watchers: usize,
        streams: usize,
        puts: u64,
        value: &[u8],
        timeout: Duration,
    ) -> Result<FanOut, BenchError> {
        let peer = self.peer;
        let streams = streams.clamp(1, watchers.max(1));
        let delivered = Arc::new(AtomicU64::new(0));
        let mut readers = JoinSet::new();
        for stream_index in 0..streams {
            let size = watchers / streams + usize::from(stream_index < watchers % streams);
            let stream = self.open_watchers(prefix, size).await?;
            let delivered = Arc::clone(&delivered);
            readers.spawn(read_events(peer, stream, size as u64 * puts, delivered));
        }
        let mut writer = self.kv(0);
        let started = Instant::now();
        for n in 0..puts {
            writer
                .put(key(prefix, n), value.to_vec(), None)
                .await
                .map_err(|source| BenchError::Client { peer, source })?;
        }
        let writer_seconds = started.elapsed().as_secs_f64();
        let expected = watchers as u64 * puts;
        let mut last_event = started;
        let all_received = tokio::time::timeout(timeout, async {
            while let Some(joined) = readers.join_next().await {
                let reader = joined.map_err(|error| BenchError::Workload {
                    peer,
                    what: format!("watch reader task: {error}"),
                })?;
                last_event = last_event.max(reader?);
            }
            Ok::<(), BenchError>(())
        })
        .await;
        match all_received {
            Ok(result) => result?,
            Err(_elapsed) => {
                return Err(BenchError::Workload {
                    peer,
                    what: format!(
                        "watch fan-out: {} of {expected} events received within {timeout:?}",
                        delivered.load(Ordering::Relaxed)
                    ),
                });
            }
        }
        let seconds = (last_event - started).as_secs_f64();
        Ok(FanOut {
            watchers,
            puts,
            events: expected,
            seconds,
            events_per_sec: expected as f64 / seconds,
            writer_puts_per_sec: puts as f64 / writer_seconds,
        })
    }

    /// One watch stream on a new connection carrying `count` watchers of `prefix`, returned
    /// once the server has confirmed every one of them.
    async fn open_watchers(&self, prefix: &str, count: usize) -> Result<WatchStream, BenchError> {
        let peer = self.peer;
        let client_error = |source| BenchError::Client { peer, source };
        let client = connect(peer, &self.endpoint).await?;
        let options = WatchOptions::new().with_prefix();
        let mut stream = client
            .watch_client()
            .watch(prefix, Some(options.clone()))
            .await
            .map_err(client_error)?;
        for _ in 1..count {
            stream
                .watch(prefix, Some(options.clone()))
                .await
                .map_err(client_error)?;
        }
        let mut created = 0;
        while created < count {
            match stream.message().await.map_err(client_error)? {
                Some(response) if response.canceled() => {
                    return Err(BenchError::Workload {
                        peer,
                        what: format!("watch refused: {}", response.cancel_reason()),
                    });
                }
                Some(response) if response.created() => created += 1,
                Some(_) => {}
                None => {
                    return Err(BenchError::Workload {
                        peer,
                        what: "watch stream closed while creating watchers".into(),
                    });
                }
            }
        }
        Ok(stream)
    }
}

async fn connect(peer: &'static str, endpoint: &str) -> Result<Client, BenchError> {
    Client::connect([endpoint], None)
        .await
        .map_err(|source| BenchError::Client { peer, source })
}

async fn request(peer: &'static str, kv: &mut KvClient, op: &Op, n: u64) -> Result<(), BenchError> {
    let client_error = |source| BenchError::Client { peer, source };
    match op {
        Op::Put { prefix, value } => {
            kv.put(key(prefix, n), value.clone(), None)
                .await
                .map_err(client_error)?;
        }
        Op::Get { prefix, keys } => {
            let wanted = key(prefix, spread(n) % keys.max(&1));
            let response = kv.get(wanted.as_str(), None).await.map_err(client_error)?;
            if response.kvs().len() != 1 {
                return Err(BenchError::Workload {
                    peer,
                    what: format!("{wanted} is missing"),
                });
            }
        }
    }
    Ok(())
}

/// Receives events until `expected` have arrived; returns when the last one did.
async fn read_events(
    peer: &'static str,
    mut stream: WatchStream,
    expected: u64,
    delivered: Arc<AtomicU64>,
) -> Result<Instant, BenchError> {
    let mut received = 0;
    let mut last = Instant::now();
    while received < expected {
        let response = stream
            .message()
            .await
            .map_err(|source| BenchError::Client { peer, source })?
            .ok_or_else(|| BenchError::Workload {
                peer,
                what: "watch stream closed".into(),
            })?;
        if response.canceled() {
            return Err(BenchError::Workload {
                peer,
                what: format!("watch canceled: {}", response.cancel_reason()),
            });
        }
        let events = response.events().len() as u64;
        if events > 0 {
            received += events;
            delivered.fetch_add(events, Ordering::Relaxed);
            last = Instant::now();
        }
    }
    Ok(last)
}

/// Spreads consecutive request numbers over the key space (Fibonacci hashing), so
/// concurrent readers do not walk the keys in step.
fn spread(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
}

/// Nearest-rank percentile of sorted nanosecond latencies, in milliseconds.
fn percentile_ms(sorted_nanos: &[u64], quantile: f64) -> f64 {
    if sorted_nanos.is_empty() {
        return 0.0;
    }
    let rank = (sorted_nanos.len() as f64 * quantile).ceil() as usize;
    sorted_nanos[rank.clamp(1, sorted_nanos.len()) - 1] as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let nanos: Vec<u64> = (1..=100).map(|ms| ms * 1_000_000).collect();
        assert_eq!(percentile_ms(&nanos, 0.50), 50.0);
        assert_eq!(percentile_ms(&nanos, 0.99), 99.0);
        assert_eq!(percentile_ms(&nanos[..1], 0.99), 1.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn spread_reaches_every_key_of_a_small_space() {
        let mut seen = [false; 10];
        for n in 0..1_000 {
            seen[(spread(n) % 10) as usize] = true;
        }
        assert!(seen.iter().all(|hit| *hit));
    }
}

//! `bench store`: ultrak8s's store against a real etcd, both with fsync durability, both
//! driven by the same client with the same concurrency, one workload at a time (ultrak8s,
//! then etcd) so they never compete for the CPU or the disk.
//!
//! The workloads, in order: load `keys` keys and read each server's resident memory; puts
//! from one client; puts from `clients` clients; single-key ranges from `clients` clients
//! over the loaded keys; watch fan-out to `watchers` watchers of one prefix.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::BenchError;
use super::peers::{self, Peer};
use super::report::{Cpu, Machine, PeerFigures, Report, Settings};
use super::workload::{Connections, Limit, Op};

/// Every key of the benchmark lies under this prefix, which ultrak8s routes to one partition
/// (`rest`): etcd has one key space, so one partition of ours is the fair comparison. (A
/// range over several partitions is refused by design.)
pub const PREFIX: &str = "/registry/configmaps/bench/";
/// etcd's hard limit in 3.4; the default (2 GiB) would fill up on long runs, with 1 KB values
/// and every revision kept.
const ETCD_QUOTA_BYTES: u64 = 8 << 30;
/// How long each server may take to answer after start (etcd elects itself in about a second).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// A pause before reading resident memory, so that work queued by the last writes (etcd's
/// backend commit every 100 ms, our journal flush) is done.
const SETTLE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct StoreBench {
    /// The `ultrak8s` binary to run as `ultrak8s server`.
    pub server_binary: PathBuf,
    /// The `etcd` binary (etcd 3.4 from Debian's `etcd-server` on the reference machine).
    pub etcd_binary: PathBuf,
    /// Where both servers' temporary data directories go; its file system sets the cost of
    /// an fsync, so both use the same one.
    pub work_dir: PathBuf,
    /// Concurrent clients of the "many clients" workloads.
    pub clients: usize,
    /// gRPC connections those clients share, round-robin.
    pub connections: usize,
    /// How long (or how many requests) each put and range workload runs.
    pub limit: Limit,
    pub value_bytes: usize,
    /// Keys loaded before the memory figure; the range workload reads them.
    pub keys: u64,
    pub watchers: usize,
    /// Watch streams the watchers are spread over, each on its own connection.
    pub watch_streams: usize,
    /// Puts by the single writer of the fan-out workload.
    pub watch_puts: u64,
    /// How long the watchers may take to receive every event.
    pub watch_timeout: Duration,
}

impl StoreBench {
    /// The full benchmark: a few minutes on 2 cores.
    pub fn new(server_binary: PathBuf) -> StoreBench {
        StoreBench {
            server_binary,
            etcd_binary: "etcd".into(),
            work_dir: std::env::temp_dir(),
            clients: 64,
            connections: 16,
            limit: Limit::Duration(Duration::from_secs(10)),
            value_bytes: 1024,
            keys: 100_000,
            watchers: 1_000,
            watch_streams: 10,
            watch_puts: 1_000,
            watch_timeout: Duration::from_secs(120),
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            clients: self.clients,
            connections: self.connections,
            limit: match self.limit {
                Limit::Count(count) => format!("{count} requests per workload"),
                Limit::Duration(duration) => format!("{duration:?} per workload"),
            },
            value_bytes: self.value_bytes,
            keys: self.keys,
            watchers: self.watchers,
            watch_streams: self.watch_streams,
            watch_puts: self.watch_puts,
            durability: "fsync (both)",
        }
    }
}

/// One server under test and the connections the workloads use.
struct Side {
    peer: Peer,
    connections: Connections,
    /// CPU time of each workload measured so far, by `PeerFigures` field name.
    cpu: BTreeMap<&'static str, Cpu>,
}

/// The same figure for both servers.
struct Pair<T> {
    ours: T,
    etcd: T,
}

/// Runs the benchmark. Both servers are stopped and their directories removed when this
/// returns, or when its future is dropped.
pub async fn run(bench: &StoreBench) -> Result<Report, BenchError> {
    let etcd_version = peers::etcd_version(&bench.etcd_binary)?;
    // Started together, so their start-ups overlap; both are killed if either fails.
    let mut ours = Peer::start_ultrak8s(&bench.server_binary, &bench.work_dir)?;
    let mut etcd = Peer::start_etcd(&bench.etcd_binary, &bench.work_dir, ETCD_QUOTA_BYTES)?;
    ours.wait_ready(READY_TIMEOUT).await?;
    etcd.wait_ready(READY_TIMEOUT).await?;
    let mut sides = Pair {
        ours: Side::open(ours, bench.connections).await?,
        etcd: Side::open(etcd, bench.connections).await?,
    };
    let value = vec![b'v'; bench.value_bytes];
    let put = |name: &str| Op::Put {
        prefix: format!("{PREFIX}{name}/"),
        value: value.clone(),
    };

    let rss_idle = sides
        .each("resident memory", None, async |side| side.peer.rss_bytes())
        .await?;
    let load_op = put("keys");
    let load = sides
        .each(
            &format!("loading {} keys", bench.keys),
            Some("load"),
            async |side| {
                side.connections
                    .drive(bench.clients, Limit::Count(bench.keys), &load_op)
                    .await
            },
        )
        .await?;
    tokio::time::sleep(SETTLE).await;
    let rss_loaded = sides
        .each("resident memory", None, async |side| side.peer.rss_bytes())
        .await?;

    let put_one_op = put("put-one");
    let put_one = sides
        .each("put, 1 client", Some("put_one_client"), async |side| {
            side.connections.drive(1, bench.limit, &put_one_op).await
        })
        .await?;
    let put_many_op = put("put-many");
    let put_many = sides
        .each(
            &format!("put, {} clients", bench.clients),
            Some("put_many_clients"),
            async |side| {
                side.connections
                    .drive(bench.clients, bench.limit, &put_many_op)
                    .await
            },
        )
        .await?;
    let range_op = Op::Get {
        prefix: format!("{PREFIX}keys/"),
        keys: bench.keys,
    };
    let range_many = sides
        .each(
            &format!("range, {} clients", bench.clients),
            Some("range_many_clients"),
            async |side| {
                side.connections
                    .drive(bench.clients, bench.limit, &range_op)
                    .await
            },
        )
        .await?;
    let watch_prefix = format!("{PREFIX}watch/");
    let fan_out = sides
        .each(
            &format!("watch fan-out to {} watchers", bench.watchers),
            Some("watch_fan_out"),
            async |side| {
                side.connections
                    .watch_fan_out(
                        &watch_prefix,
                        bench.watchers,
                        bench.watch_streams,
                        bench.watch_puts,
                        &value,
                        bench.watch_timeout,
                    )
                    .await
            },
        )
        .await?;

    let ours = PeerFigures {
        rss_idle_bytes: rss_idle.ours,
        load: load.ours,
        rss_loaded_bytes: rss_loaded.ours,
        put_one_client: put_one.ours,
        put_many_clients: put_many.ours,
        range_many_clients: range_many.ours,
        watch_fan_out: fan_out.ours,
        cpu: std::mem::take(&mut sides.ours.cpu),
    };
    let etcd = PeerFigures {
        rss_idle_bytes: rss_idle.etcd,
        load: load.etcd,
        rss_loaded_bytes: rss_loaded.etcd,
        put_one_client: put_one.etcd,
        put_many_clients: put_many.etcd,
        range_many_clients: range_many.etcd,
        watch_fan_out: fan_out.etcd,
        cpu: std::mem::take(&mut sides.etcd.cpu),
    };
    let machine = Machine::probe(etcd_version, &bench.work_dir);
    Ok(Report::store(machine, bench.settings(), ours, etcd))
}

impl Side {
    async fn open(peer: Peer, connections: usize) -> Result<Side, BenchError> {
        let connections = Connections::open(peer.name(), peer.endpoint(), connections).await?;
        Ok(Side {
            peer,
            connections,
            cpu: BTreeMap::new(),
        })
    }
}

impl Pair<Side> {
    /// Measures ultrak8s, then etcd, and the CPU both processes (server and clients) spent;
    /// fails if either server died meanwhile. `workload` names the figure, for the CPU table
    /// (`None`: not a workload, e.g. reading memory).
    async fn each<T>(
        &mut self,
        what: &str,
        workload: Option<&'static str>,
        mut measure: impl AsyncFnMut(&mut Side) -> Result<T, BenchError>,
    ) -> Result<Pair<T>, BenchError> {
        let ours = Side::measure(&mut self.ours, what, workload, &mut measure).await?;
        let etcd = Side::measure(&mut self.etcd, what, workload, &mut measure).await?;
        Ok(Pair { ours, etcd })
    }
}

impl Side {
    async fn measure<T>(
        &mut self,
        what: &str,
        workload: Option<&'static str>,
        measure: &mut impl AsyncFnMut(&mut Side) -> Result<T, BenchError>,
    ) -> Result<T, BenchError> {
        tracing::info!(peer = self.peer.name(), "{what}");
        let (server_before, client_before) = (self.peer.cpu_seconds()?, peers::own_cpu_seconds()?);
        let figures = measure(self).await?;
        let (server_after, client_after) = (self.peer.cpu_seconds()?, peers::own_cpu_seconds()?);
        if let Some(workload) = workload {
            let cpu = Cpu {
                server_seconds: server_after - server_before,
                bench_client_seconds: client_after - client_before,
            };
            self.cpu.insert(workload, cpu);
        }
        Ok(figures)
    }
}

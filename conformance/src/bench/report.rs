//! A benchmark's result: the figures of each peer, the rows compared with their targets, the
//! table printed for people and the JSON written for tools.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::workload::{FanOut, Throughput};

const MIB: f64 = 1024.0 * 1024.0;

/// Everything measured on one peer, in the order it was measured.
#[derive(Clone, Debug, Serialize)]
pub struct PeerFigures {
    /// Right after start, before any key was written.
    pub rss_idle_bytes: u64,
    /// Writing the keys that the memory figure and the range workload use.
    pub load: Throughput,
    pub rss_loaded_bytes: u64,
    pub put_one_client: Throughput,
    pub put_many_clients: Throughput,
    pub range_many_clients: Throughput,
    pub watch_fan_out: FanOut,
    /// CPU time spent during each workload above, by its field name.
    pub cpu: BTreeMap<&'static str, Cpu>,
}

/// CPU time spent during one workload. Counted in 10 ms ticks, so a tiny run may show none.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Cpu {
    pub server_seconds: f64,
    /// The benchmark's own process (the clients), which shares the machine with the server.
    pub bench_client_seconds: f64,
}

/// The workload's parameters, as run (the same for both peers).
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub clients: usize,
    pub connections: usize,
    /// "10s per workload" or "200 requests per workload".
    pub limit: String,
    pub value_bytes: usize,
    pub keys: u64,
    pub watchers: usize,
    pub watch_streams: usize,
    pub watch_puts: u64,
    pub durability: &'static str,
}

/// Facts about the machine that shape the figures.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub memory_bytes: u64,
    pub kernel: String,
    pub etcd_version: String,
    pub ultrak8s_version: &'static str,
    /// Where both peers kept their data, and its file system (fsync costs differ by far).
    pub work_dir: PathBuf,
    pub work_dir_fs: String,
}

impl Machine {
    pub fn probe(etcd_version: String, work_dir: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model: field(&cpuinfo, "model name").unwrap_or_default(),
            memory_bytes: field(&meminfo, "MemTotal")
                .and_then(|kib| kib.trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kib| kib * 1024),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            etcd_version,
            ultrak8s_version: env!("CARGO_PKG_VERSION"),
            work_dir: work_dir.to_path_buf(),
            work_dir_fs: file_system_of(work_dir).unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// A target on the ratio ultrak8s / etcd.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    RatioAtLeast(f64),
    RatioAtMost(f64),
}

impl Target {
    fn met(self, ratio: f64) -> bool {
        match self {
            Target::RatioAtLeast(bound) => ratio >= bound,
            Target::RatioAtMost(bound) => ratio <= bound,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::RatioAtLeast(bound) => write!(f, ">= {bound}x etcd"),
            Target::RatioAtMost(bound) if *bound == 1.0 => write!(f, "<= etcd"),
            Target::RatioAtMost(bound) => write!(f, "<= {bound}x etcd"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Met,
    NotMet,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub workload: String,
    pub unit: &'static str,
    pub ultrak8s: f64,
    pub etcd: f64,
    /// ultrak8s / etcd.
    pub ratio: f64,
    pub target: Option<Target>,
    pub verdict: Option<Verdict>,
}

impl Row {
    fn new(
        workload: String,
        unit: &'static str,
        ultrak8s: f64,
        etcd: f64,
        target: Option<Target>,
    ) -> Row {
        let ratio = ultrak8s / etcd;
        let verdict = target.map(|target| {
            if target.met(ratio) {
                Verdict::Met
            } else {
                Verdict::NotMet
            }
        });
        Row {
            workload,
            unit,
            ultrak8s,
            etcd,
            ratio,
            target,
            verdict,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    /// Seconds since the Unix epoch when the report was made.
    pub unix_time: u64,
    pub machine: Machine,
    pub settings: Settings,
    pub ultrak8s: PeerFigures,
    pub etcd: PeerFigures,
    pub rows: Vec<Row>,
}

impl Report {
    /// The `bench store` report; its targets are those of the store issue.
    pub fn store(
        machine: Machine,
        settings: Settings,
        ultrak8s: PeerFigures,
        etcd: PeerFigures,
    ) -> Report {
        let rows = store_rows(&settings, &ultrak8s, &etcd);
        let unix_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        Report {
            scenario: "store",
            unix_time,
            machine,
            settings,
            ultrak8s,
            etcd,
            rows,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report is plain data and always serializes")
    }
}

/// Which throughput figure of a peer a row shows.
type PickThroughput = fn(&PeerFigures) -> &Throughput;

fn store_rows(settings: &Settings, ours: &PeerFigures, etcd: &PeerFigures) -> Vec<Row> {
    let clients = settings.clients;
    let mut rows = Vec::new();
    let workloads: [(String, &str, PickThroughput, Option<Target>); 3] = [
        (
            "put, 1 client".into(),
            "put_one_client",
            |f| &f.put_one_client,
            None,
        ),
        (
            format!("put, {clients} clients"),
            "put_many_clients",
            |f| &f.put_many_clients,
            Some(Target::RatioAtLeast(5.0)),
        ),
        (
            format!("range, {clients} clients"),
            "range_many_clients",
            |f| &f.range_many_clients,
            Some(Target::RatioAtLeast(1.5)),
        ),
    ];
    for (name, field, pick, target) in workloads {
        let (a, b) = (pick(ours), pick(etcd));
        rows.push(Row::new(
            name.clone(),
            "req/s",
            a.requests_per_sec,
            b.requests_per_sec,
            target,
        ));
        rows.push(Row::new(
            format!("{name}, p50"),
            "ms",
            a.p50_ms,
            b.p50_ms,
            None,
        ));
        rows.push(Row::new(
            format!("{name}, p99"),
            "ms",
            a.p99_ms,
            b.p99_ms,
            None,
        ));
        rows.push(Row::new(
            format!("{name}, server CPU per request"),
            "µs",
            cpu_per_request(ours, field, a.requests),
            cpu_per_request(etcd, field, b.requests),
            None,
        ));
    }
    rows.push(Row::new(
        format!("watch fan-out, {} watchers", settings.watchers),
        "events/s",
        ours.watch_fan_out.events_per_sec,
        etcd.watch_fan_out.events_per_sec,
        None,
    ));
    rows.push(Row::new(
        format!("RSS after {} keys", settings.keys),
        "MiB",
        ours.rss_loaded_bytes as f64 / MIB,
        etcd.rss_loaded_bytes as f64 / MIB,
        Some(Target::RatioAtMost(1.0)),
    ));
    rows
}

/// The server's CPU time per request of a workload, in microseconds.
fn cpu_per_request(figures: &PeerFigures, workload: &str, requests: u64) -> f64 {
    let seconds = figures
        .cpu
        .get(workload)
        .map_or(0.0, |cpu| cpu.server_seconds);
    seconds * 1e6 / requests.max(1) as f64
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["workload", "ultrak8s", "etcd", "ratio", "target", "verdict"];
        let mut lines = vec![header.map(String::from)];
        for row in &self.rows {
            let value = |v: f64| match row.unit {
                "ms" => format!("{v:.2}"),
                "MiB" => format!("{v:.1}"),
                _ => format!("{v:.0}"),
            };
            lines.push([
                format!("{} ({})", row.workload, row.unit),
                value(row.ultrak8s),
                value(row.etcd),
                format!("{:.2}", row.ratio),
                row.target
                    .map_or_else(String::new, |target| target.to_string()),
                match row.verdict {
                    Some(Verdict::Met) => "met".into(),
                    Some(Verdict::NotMet) => "NOT MET".into(),
                    None => String::new(),
                },
            ]);
        }
        let mut widths = [0; 6];
        for line in &lines {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for (index, line) in lines.iter().enumerate() {
            let cells: Vec<String> = line
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(column, (cell, width))| {
                    if column == 0 || column >= 4 {
                        format!("{cell:<width$}")
                    } else {
                        format!("{cell:>width$}")
                    }
                })
                .collect();
            writeln!(f, "| {} |", cells.join(" | ").trim_end())?;
            if index == 0 {
                let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
                writeln!(f, "| {} |", rule.join(" | "))?;
            }
        }
        let machine = &self.machine;
        let settings = &self.settings;
        writeln!(
            f,
            "\n{} cores ({}), {:.1} GiB, kernel {}, etcd {}, data on {} ({}); durability {}; \
             {} connections, {}, {}-byte values",
            machine.nproc,
            machine.cpu_model,
            machine.memory_bytes as f64 / MIB / 1024.0,
            machine.kernel,
            machine.etcd_version,
            machine.work_dir.display(),
            machine.work_dir_fs,
            settings.durability,
            settings.connections,
            settings.limit,
            settings.value_bytes,
        )
    }
}

/// The value of the first `name: value` line.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// The type of the file system that holds `path`: its longest mount point in `/proc/mounts`.
fn file_system_of(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_device, mount_point, fs_type) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(mount_point)
                .then(|| (mount_point.len(), fs_type.to_owned()))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, fs_type)| fs_type)
}

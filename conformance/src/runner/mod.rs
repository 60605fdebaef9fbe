//! The conformance runner: the upstream Kubernetes v1.35 suite (`e2e.test` and `ginkgo`,
//! built by `conformance/e2e/build.sh`) against `ultrak8s server`, the way sonobuoy's
//! certified-conformance mode runs it: focus `\[Conformance\]`, authentication and
//! authorization on, nothing skipped that it would run. It starts the server on a fresh data
//! directory, joins simulated nodes (`crate::simnodes`: Ready, schedulable, untainted; no
//! container runs on them), runs the parallel specs with `ginkgo -p` and then the `[Serial]`
//! ones in one process, and stops everything afterwards.
//!
//! Results go where sonobuoy puts them: `<results>/plugins/e2e/results/global/junit_01.xml`
//! and `e2e.log`, with each phase's Ginkgo JSON report beside them. `report.rs` reads the
//! JSON reports and writes the summary, the JUnit file and `STATUS.md`.

pub mod report;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::bench::BenchError;
use crate::bench::api::{connect, failed};
use crate::bench::peers::Peer;
use crate::simnodes::{SimConfig, Simulator};
use report::Spec;

/// The count of `[Conformance]` specs in v1.35 (`e2e.test --list-conformance-tests`).
pub const CONFORMANCE_SPECS: usize = 441;

#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// `ultrak8s` to start as the server.
    pub server_binary: PathBuf,
    /// Where `e2e.test` and `ginkgo` are.
    pub e2e_dir: PathBuf,
    /// The sonobuoy-style results folder.
    pub results: PathBuf,
    pub focus: String,
    pub skip: Option<String>,
    /// Ginkgo processes for the parallel phase (1: one phase, every spec in one process).
    pub parallel: usize,
    /// Simulated nodes.
    pub nodes: u64,
    /// `--kube-api-content-type=application/json` for the suite's clients.
    pub json_only: bool,
    /// Write `STATUS.md` here.
    pub status: Option<PathBuf>,
    /// The suite's own timeout (Ginkgo `--timeout`).
    pub timeout: Duration,
}

/// What a run found.
pub struct RunOutcome {
    pub specs: Vec<Spec>,
    pub summary: String,
    pub seconds: f64,
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        context: what.to_owned(),
        source,
    }
}

/// One phase: `ginkgo` (parallel) or `e2e.test` (one process), its output appended to the
/// log, its JSON report read back.
#[allow(clippy::too_many_arguments)] // the phase's parts, each its own concern
async fn phase(
    config: &RunnerConfig,
    kubeconfig: &Path,
    name: &str,
    focus: &str,
    skip: Option<&str>,
    parallel: usize,
    log: &mut tokio::fs::File,
) -> Result<Vec<Spec>, BenchError> {
    let dir = config.results.join("phases").join(name);
    std::fs::create_dir_all(&dir).map_err(io("creating the phase folder"))?;
    let json = dir.join("report.json");
    let e2e = config.e2e_dir.join("e2e.test");
    let mut suite_flags = vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        "--provider=skeleton".to_owned(),
        format!("--report-dir={}", dir.display()),
        "--disable-log-dump".to_owned(),
        "--allowed-not-ready-nodes=0".to_owned(),
    ];
    if config.json_only {
        suite_flags.push("--kube-api-content-type=application/json".to_owned());
    }
    let mut ginkgo_flags = vec![
        format!("focus={focus}"),
        format!("timeout={}s", config.timeout.as_secs()),
        format!("json-report={}", json.display()),
        "no-color".to_owned(),
        "v".to_owned(),
    ];
    if let Some(skip) = skip {
        ginkgo_flags.push(format!("skip={skip}"));
    }
    let mut command = if parallel > 1 {
        let mut c = tokio::process::Command::new(config.e2e_dir.join("ginkgo"));
        c.arg(format!("--procs={parallel}"));
        c.args(ginkgo_flags.iter().map(|f| format!("--{f}")));
        c.arg(&e2e).arg("--").args(&suite_flags);
        c
    } else {
        let mut c = tokio::process::Command::new(&e2e);
        c.args(ginkgo_flags.iter().map(|f| format!("--ginkgo.{f}")));
        c.args(&suite_flags);
        c
    };
    let header = format!("\n===== phase {name}: {command:?}\n");
    log.write_all(header.as_bytes())
        .await
        .map_err(io("writing e2e.log"))?;
    let out = log
        .try_clone()
        .await
        .map_err(io("e2e.log"))?
        .into_std()
        .await;
    let err = out.try_clone().map_err(io("e2e.log"))?;
    let status = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(io("starting the suite"))?;
    // Failed specs make the suite exit 1; only a missing report is an error.
    let text = std::fs::read_to_string(&json).map_err(|e| {
        failed(format!(
            "phase {name} ({status}) left no report at {}: {e}",
            json.display()
        ))
    })?;
    report::parse_ginkgo(&text).map_err(failed)
}

/// Runs the suite; writes the results folder (and `STATUS.md` if asked).
pub async fn run(config: &RunnerConfig) -> Result<RunOutcome, BenchError> {
    let started = Instant::now();
    for binary in ["e2e.test", "ginkgo"] {
        let path = config.e2e_dir.join(binary);
        if !path.exists() {
            return Err(failed(format!(
                "{} is missing: run conformance/e2e/build.sh first",
                path.display()
            )));
        }
    }
    let global = config.results.join("plugins/e2e/results/global");
    std::fs::create_dir_all(&global).map_err(io("creating the results folder"))?;
    let mut peer = Peer::start_ultrak8s_with(&config.server_binary, &config.results, &[])?;
    peer.wait_ready(Duration::from_secs(30)).await?;
    let client = connect(&peer).await?;
    let kubeconfig = peer.dir().join("data").join("admin.kubeconfig");
    let sim = Simulator::start(
        client,
        SimConfig {
            count: config.nodes,
            prefix: "node-".to_owned(),
            zones: vec!["zone-a".to_owned()],
            trainium_every: 0,
            progress: false,
            ..SimConfig::default()
        },
    )
    .await
    .map_err(failed)?;
    let mut log = tokio::fs::File::create(global.join("e2e.log"))
        .await
        .map_err(io("creating e2e.log"))?;
    let skip = config.skip.as_deref();
    let mut specs = Vec::new();
    if config.parallel > 1 {
        let parallel_skip = match skip {
            Some(s) => format!("\\[Serial\\]|{s}"),
            None => "\\[Serial\\]".to_owned(),
        };
        specs.extend(
            phase(
                config,
                &kubeconfig,
                "parallel",
                &config.focus,
                Some(&parallel_skip),
                config.parallel,
                &mut log,
            )
            .await?,
        );
        let serial_focus = format!(
            "\\[Serial\\].*({})|({}).*\\[Serial\\]",
            config.focus, config.focus
        );
        let serial: Vec<Spec> = phase(
            config,
            &kubeconfig,
            "serial",
            &serial_focus,
            skip,
            1,
            &mut log,
        )
        .await?;
        // The parallel phase lists the serial specs as skipped: the serial phase's outcome
        // replaces those entries.
        for spec in serial
            .into_iter()
            .filter(|s| s.state != report::State::Skipped)
        {
            match specs.iter_mut().find(|s| s.name == spec.name) {
                Some(slot) => *slot = spec,
                None => specs.push(spec),
            }
        }
    } else {
        specs.extend(phase(config, &kubeconfig, "all", &config.focus, skip, 1, &mut log).await?);
    }
    sim.stop();
    drop(peer);
    std::fs::write(global.join("junit_01.xml"), report::junit(&specs))
        .map_err(io("writing junit_01.xml"))?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &config.status {
        let header = status_header(config, seconds);
        std::fs::write(
            path,
            report::status_markdown(&specs, &header, CONFORMANCE_SPECS),
        )
        .map_err(io("writing STATUS.md"))?;
    }
    let summary = report::summary(&specs);
    std::fs::write(config.results.join("summary.txt"), &summary)
        .map_err(io("writing the summary"))?;
    Ok(RunOutcome {
        specs,
        summary,
        seconds,
    })
}

fn status_header(config: &RunnerConfig, seconds: f64) -> String {
    let content = if config.json_only {
        "the suite's clients spoke JSON (`--kube-api-content-type=application/json`)"
    } else {
        "the suite's clients spoke protobuf, as by default"
    };
    format!(
        "# Conformance status\n\n\
         Upstream Kubernetes v1.35.4 `e2e.test`, focus `{}`{}, against `ultrak8s server` with \
         authentication and authorization on, {} simulated nodes (no containers run), \
         {} parallel Ginkgo processes then the `[Serial]` specs; {content}. Run on {} in {:.0} \
         minutes; regenerated by `conformance/run`.",
        config.focus,
        config
            .skip
            .as_deref()
            .map(|s| format!(", skip `{s}`"))
            .unwrap_or_default(),
        config.nodes,
        config.parallel,
        k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%d"),
        seconds / 60.0
    )
}

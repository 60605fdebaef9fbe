//! The benchmarks at a tiny size. `bench store`: the harness starts both servers, runs every
//! workload, reports every figure for both, writes its JSON and cleans up. A test of the
//! harness, not of speed: no figure is compared with another.

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_store_reports_every_figure_for_both_servers_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work_dir = dir.path().join("work");
    std::fs::create_dir(&work_dir).expect("work dir");
    let out = dir.path().join("bench-store.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
        .args([
            "bench",
            "store",
            "--requests",
            "200",
            "--clients",
            "8",
            "--connections",
            "2",
        ])
        .args([
            "--keys",
            "1000",
            "--watchers",
            "10",
            "--watch-streams",
            "2",
            "--watch-puts",
            "20",
        ])
        .arg("--work-dir")
        .arg(&work_dir)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run ultrak8s bench store");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench store failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    let report: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("JSON result")).expect("valid JSON");
    for peer in ["ultrak8s", "etcd"] {
        let figures = &report[peer];
        for workload in [
            "load",
            "put_one_client",
            "put_many_clients",
            "range_many_clients",
            "watch_fan_out",
        ] {
            assert!(
                figures[workload].is_object(),
                "{peer}: no {workload} in {figures}"
            );
        }
        // CPU time counts in 10 ms ticks: a run this small may spend none; it must be there.
        assert!(
            figures["cpu"]["put_many_clients"]["server_seconds"].is_number(),
            "{peer}"
        );
        let mut figures = figures.clone();
        figures.as_object_mut().expect("figures").remove("cpu");
        assert_positive(peer, &figures);
        assert_eq!(figures["put_one_client"]["requests"], 200, "{peer}");
        assert_eq!(figures["load"]["requests"], 1000, "{peer}");
        assert_eq!(figures["watch_fan_out"]["events"], 10 * 20, "{peer}");
    }
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 14, "{rows:?}");
    for row in rows.iter().filter(|row| row["unit"] != "µs") {
        assert!(
            row["ratio"].as_f64().is_some_and(|ratio| ratio > 0.0),
            "{row}"
        );
    }
    for row in rows {
        assert_eq!(row["target"].is_null(), row["verdict"].is_null(), "{row}");
    }
    let verdicts = rows.iter().filter(|row| !row["verdict"].is_null()).count();
    assert_eq!(verdicts, 3, "put, range and memory have targets");
    assert!(
        report["machine"]["etcd_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert!(report["machine"]["nproc"].as_u64().is_some_and(|n| n > 0));
    for row in ["put, 8 clients", "range, 8 clients", "RSS after 1000 keys"] {
        assert!(stdout.contains(row), "the table lacks {row:?}:\n{stdout}");
    }

    let left: Vec<_> = std::fs::read_dir(&work_dir).expect("work dir").collect();
    assert!(
        left.is_empty(),
        "the servers' directories were not removed: {left:?}"
    );
}

/// Every number under `value` is positive.
fn assert_positive(peer: &str, value: &Value) {
    match value {
        Value::Number(number) => {
            assert!(
                number.as_f64().is_some_and(|n| n > 0.0),
                "{peer}: a figure is {number}"
            );
        }
        Value::Object(fields) => fields
            .values()
            .for_each(|field| assert_positive(peer, field)),
        Value::Array(items) => items.iter().for_each(|item| assert_positive(peer, item)),
        _ => {}
    }
}

/// `ultrak8s bench api` at a tiny size: the server starts, every workload runs and reports,
/// and each watcher sees every event. A test of the harness, not of speed.
#[test]
fn bench_api_reports_every_workload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bench-api.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
        .args([
            "bench",
            "api",
            "--pods",
            "200",
            "--namespaces",
            "2",
            "--clients",
            "8",
        ])
        .args([
            "--gets",
            "50",
            "--lists",
            "1",
            "--watchers",
            "3",
            "--watch-events",
            "10",
        ])
        .arg("--work-dir")
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run ultrak8s bench api");
    assert!(
        output.status.success(),
        "bench api failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("JSON result")).expect("valid JSON");
    let figures = report["figures"].as_array().expect("figures");
    let requests: Vec<u64> = figures
        .iter()
        .map(|f| f["requests"].as_u64().expect("requests"))
        .collect();
    // create, get, whole list, paged list, list by label (10 per list), watch events.
    assert_eq!(requests, [200, 50, 1, 1, 10, 3 * 10], "{report}");
    assert_eq!(report["pods_stored"], 210);
    assert!(
        report["server_rss_bytes"]
            .as_u64()
            .is_some_and(|rss| rss > 0)
    );
}

#[test]
fn bench_controllers_reports_both_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bench-controllers.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
        .args(["bench", "controllers", "--deployments", "4", "--pods-per-minute", "240"])
        .args(["--pods-per-scale", "2", "--churn", "2s"])
        .arg("--work-dir")
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run ultrak8s bench controllers");
    assert!(
        output.status.success(),
        "bench controllers failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("JSON result")).expect("valid JSON");
    let runs = report["runs"].as_array().expect("runs");
    let batching: Vec<bool> = runs
        .iter()
        .map(|r| r["batching"].as_bool().expect("batching"))
        .collect();
    assert_eq!(batching, [true, false], "{report}");
    for run in runs {
        // Every scale operation moved pods, and the controllers saw their events.
        let ops = run["scale_operations"].as_u64().expect("operations");
        assert!(ops > 0, "{run}");
        assert_eq!(run["pods_requested"].as_u64(), Some(ops * 2), "{run}");
        for figure in ["pod_events", "reconciles", "queue_adds"] {
            assert!(run[figure].as_u64().is_some_and(|n| n > 0), "{figure}: {run}");
        }
        assert!(!run["samples"].as_array().expect("samples").is_empty());
    }
}

fn bench(args: &[&str], dir: &std::path::Path, out: &std::path::Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
        .arg("bench")
        .args(args)
        .arg("--out")
        .arg(out)
        .current_dir(dir)
        .output()
        .expect("run ultrak8s bench");
    assert!(
        output.status.success(),
        "bench {args:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(out).expect("JSON result")).expect("valid JSON")
}

#[test]
fn bench_scheduler_binds_every_pod_in_both_modes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bench-scheduler.json");
    let work = dir.path().to_str().expect("utf-8 path");
    for backlog in [false, true] {
        let mut args = vec!["scheduler", "--nodes", "50", "--pods", "200", "--work-dir", work];
        if backlog {
            args.push("--backlog");
        }
        let report = bench(&args, dir.path(), &out);
        assert_eq!(report["pods_bound"].as_u64(), Some(200), "{report}");
        assert_eq!(report["misplaced"].as_u64(), Some(0), "{report}");
        assert_eq!(report["backlog"].as_bool(), Some(backlog), "{report}");
        for figure in ["pods_scheduled_per_sec", "latency_p50_ms", "latency_p99_ms"] {
            assert!(report[figure].as_f64().is_some_and(|v| v > 0.0), "{figure}: {report}");
        }
        assert_eq!(report["scheduler_cpu_seconds"].is_number(), backlog, "{report}");
    }
}

#[test]
fn bench_netalloc_hands_out_distinct_prefixes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bench-netalloc.json");
    let report = bench(&["netalloc", "--nodes", "1000"], dir.path(), &out);
    assert_eq!(report["distinct_prefixes"].as_u64(), Some(2000), "{report}");
    for figure in ["prefixes_per_sec", "cluster_ips_per_sec", "node_releases_per_sec"] {
        assert!(report[figure].as_f64().is_some_and(|v| v > 0.0), "{figure}: {report}");
    }
    assert!(report["memory_bytes"].as_u64().is_some_and(|b| b > 0), "{report}");
}

/// Every scale scenario at a small size: the run succeeds (it fails on an inconsistent
/// report), and the JSON, HTML and text results hold every pod and the latencies.
#[test]
fn the_scale_scenarios_report_every_pod_and_their_latencies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("results");
    let work = dir.path().to_str().expect("utf-8 path");
    let out_dir = out.to_str().expect("utf-8 path");
    for (scenario, pods) in [
        ("join", 0),
        ("pretrain", 200),
        ("finetune", 200),
        ("mixed", 260),
        ("churn", 1),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
            .args(["bench", scenario, "--nodes", "200", "--job-seconds", "2"])
            .args(["--duration", "15", "--churn-pods-per-minute", "600"])
            .args(["--progress=false", "--work-dir", work, "--out-dir", out_dir])
            .output()
            .expect("run ultrak8s bench");
        assert!(
            output.status.success(),
            "bench {scenario} failed: {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(
            &std::fs::read(out.join(format!("{scenario}.json"))).expect("JSON result"),
        )
        .expect("valid JSON");
        assert_eq!(report["scenario"], scenario);
        assert_eq!(report["nodes"]["joined"].as_u64(), Some(200 + report["nodes"]["replaced"].as_u64().unwrap_or(0)));
        assert_eq!(report["nodes"]["ready"].as_u64(), Some(200), "{report}");
        assert!(report["inconsistencies"].as_array().is_some_and(Vec::is_empty), "{report}");
        let created = report["pods"]["created"].as_u64().expect("pods created");
        assert!(created >= pods, "{scenario}: {created} pods created: {report}");
        let latencies = report["latencies"].as_array().expect("latencies");
        assert!(
            latencies.iter().any(|l| l["verb"] == "POST" && l["resource"] == "nodes"),
            "{report}"
        );
        assert!(latencies.iter().all(|l| l["count"].as_u64().is_some_and(|c| c > 0)));
        assert!(!report["series"].as_array().expect("series").is_empty());
        let html = std::fs::read_to_string(out.join(format!("{scenario}.html"))).expect("HTML");
        assert!(html.contains("<svg") && html.contains(scenario), "{scenario}.html");
        assert!(out.join(format!("{scenario}.txt")).exists());
    }
    // A second run compares with the first.
    let first = out.join("join.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ultrak8s"))
        .args(["bench", "join", "--nodes", "50", "--progress=false", "--work-dir", work])
        .args(["--out-dir", dir.path().join("again").to_str().expect("utf-8")])
        .arg("--compare")
        .arg(&first)
        .output()
        .expect("run ultrak8s bench");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("previous"), "{stdout}");
}

//! Reading Ginkgo's JSON reports of the upstream suite and writing what a conformance run
//! leaves behind: the summary (passed / failed / skipped, per SIG, each failure with its
//! first error line), the JUnit XML sonobuoy's results layout expects
//! (`plugins/e2e/results/global/junit_01.xml`), and `STATUS.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

/// One spec's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// The full text, as `--ginkgo.focus` matches it.
    pub name: String,
    /// `api-machinery`, `node`... (from the `[sig-...]` of the outermost container).
    pub sig: String,
    pub state: State,
    pub seconds: f64,
    /// The failure's first line (empty unless failed).
    pub error: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Passed,
    Failed,
    Skipped,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SuiteReport {
    // Ginkgo writes `null` for empty lists: every field is optional.
    #[serde(default)]
    spec_reports: Option<Vec<SpecReport>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SpecReport {
    #[serde(default)]
    container_hierarchy_texts: Option<Vec<String>>,
    #[serde(default)]
    leaf_node_text: Option<String>,
    #[serde(default)]
    leaf_node_type: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    run_time: Option<i64>,
    #[serde(default)]
    failure: Option<Failure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Failure {
    #[serde(default)]
    message: Option<String>,
}

/// The specs of one Ginkgo JSON report (`--ginkgo.json-report`); suite-level nodes
/// (BeforeSuite, ReportAfterSuite...) are left out, failed ones reported as failures.
pub fn parse_ginkgo(json: &str) -> Result<Vec<Spec>, String> {
    let suites: Vec<SuiteReport> =
        serde_json::from_str(json).map_err(|e| format!("not a Ginkgo JSON report: {e}"))?;
    let mut out = Vec::new();
    for spec in suites
        .into_iter()
        .flat_map(|s| s.spec_reports.unwrap_or_default())
    {
        let leaf_type = spec.leaf_node_type.unwrap_or_default();
        let leaf_text = spec.leaf_node_text.unwrap_or_default();
        let state = match spec.state.as_deref().unwrap_or_default() {
            "passed" => State::Passed,
            "skipped" | "pending" => State::Skipped,
            _ => State::Failed,
        };
        // Specs the focus and skip filters left out are listed as skipped without a failure;
        // a spec that skipped itself while running (`e2eskipper`) says why in its failure.
        if state == State::Skipped && spec.failure.is_none() {
            continue;
        }
        let suite_node = leaf_type != "It" && !leaf_type.is_empty();
        if suite_node && state != State::Failed {
            continue;
        }
        let mut parts = spec.container_hierarchy_texts.unwrap_or_default();
        parts.push(leaf_text.clone());
        let name = if suite_node {
            format!("[{leaf_type}] {leaf_text}")
        } else {
            parts.join(" ")
        };
        let error = spec
            .failure
            .and_then(|f| f.message)
            .filter(|_| state == State::Failed)
            .unwrap_or_default()
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_owned();
        out.push(Spec {
            sig: sig_of(&name),
            name,
            state,
            seconds: spec.run_time.unwrap_or(0) as f64 / 1e9,
            error,
        });
    }
    Ok(out)
}

/// `[sig-api-machinery] ...` → `api-machinery`; `other` when the name names no SIG.
pub fn sig_of(name: &str) -> String {
    name.split("[sig-")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("other")
        .to_owned()
}

/// Counts per state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, state: State) {
        match state {
            State::Passed => self.passed += 1,
            State::Failed => self.failed += 1,
            State::Skipped => self.skipped += 1,
        }
    }

    pub fn ran(&self) -> usize {
        self.passed + self.failed
    }
}

pub fn counts(specs: &[Spec]) -> Counts {
    let mut c = Counts::default();
    for s in specs {
        c.add(s.state);
    }
    c
}

pub fn per_sig(specs: &[Spec]) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for s in specs {
        out.entry(s.sig.clone()).or_default().add(s.state);
    }
    out
}

/// The terminal summary.
pub fn summary(specs: &[Spec]) -> String {
    let c = counts(specs);
    let mut out = format!(
        "passed {}  failed {}  skipped {}  (ran {})\n\nper SIG:\n",
        c.passed,
        c.failed,
        c.skipped,
        c.ran()
    );
    for (sig, n) in per_sig(specs) {
        let _ = writeln!(
            out,
            "  {sig:<16} passed {:>4}  failed {:>4}  skipped {:>4}",
            n.passed, n.failed, n.skipped
        );
    }
    let failures: Vec<&Spec> = specs.iter().filter(|s| s.state == State::Failed).collect();
    if !failures.is_empty() {
        out.push_str("\nfailures:\n");
        for s in failures {
            let _ = writeln!(out, "  {}\n      {}", s.name, s.error);
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no place for most control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One JUnit document of every spec, as the suite's own `junit_01.xml` reads.
pub fn junit(specs: &[Spec]) -> String {
    let c = counts(specs);
    let total: f64 = specs.iter().map(|s| s.seconds).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" disabled=\"{}\" errors=\"0\" failures=\"{}\" time=\"{total:.3}\">",
        specs.len(),
        c.skipped,
        c.failed
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"Kubernetes e2e suite\" tests=\"{}\" skipped=\"{}\" failures=\"{}\" \
         errors=\"0\" time=\"{total:.3}\">",
        specs.len(),
        c.skipped,
        c.failed
    );
    for s in specs {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"Kubernetes e2e suite\" status=\"{}\" \
             time=\"{:.3}\"",
            xml_escape(&s.name),
            match s.state {
                State::Passed => "passed",
                State::Failed => "failed",
                State::Skipped => "skipped",
            },
            s.seconds
        );
        match s.state {
            State::Passed => out.push_str("></testcase>\n"),
            State::Skipped => out.push_str(">\n      <skipped></skipped>\n    </testcase>\n"),
            State::Failed => {
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"failed\"></failure>\n    </testcase>\n",
                    xml_escape(&s.error)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// `conformance/STATUS.md`: the headline, the figures per SIG, every failing spec with its
/// first error line.
pub fn status_markdown(specs: &[Spec], header: &str, total_conformance: usize) -> String {
    let c = counts(specs);
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    let _ = writeln!(
        out,
        "**{} of {total_conformance} conformance specs pass** ({} failed, {} skipped, {} ran).\n",
        c.passed,
        c.failed,
        c.skipped,
        c.ran()
    );
    out.push_str("| SIG | passed | failed | skipped |\n| --- | ---: | ---: | ---: |\n");
    for (sig, n) in per_sig(specs) {
        let _ = writeln!(
            out,
            "| {sig} | {} | {} | {} |",
            n.passed, n.failed, n.skipped
        );
    }
    let mut failures: Vec<&Spec> = specs.iter().filter(|s| s.state == State::Failed).collect();
    failures.sort_by(|a, b| (&a.sig, &a.name).cmp(&(&b.sig, &b.name)));
    if !failures.is_empty() {
        out.push_str("\n## Failing specs\n\n");
        for s in failures {
            let error = s.error.replace('|', "\\|");
            let _ = writeln!(out, "- `{}`  \n  {}", s.name.replace('`', "'"), error);
        }
    }
    out
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;

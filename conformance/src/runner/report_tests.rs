use super::*;

const REPORT: &str = r#"[{
  "SuitePath": "/e2e",
  "SpecReports": [
    {"ContainerHierarchyTexts": ["[sig-api-machinery] Servers with support for Table transformation"],
     "LeafNodeText": "should return a 406 for a backend which does not implement metadata [Conformance]",
     "LeafNodeType": "It", "State": "passed", "RunTime": 1500000000},
    {"ContainerHierarchyTexts": ["[sig-node] Pods"],
     "LeafNodeText": "should be submitted and removed [NodeConformance] [Conformance]",
     "LeafNodeType": "It", "State": "failed", "RunTime": 30000000000,
     "Failure": {"Message": "\n  timed out waiting for the condition <&>\nmore lines"}},
    {"ContainerHierarchyTexts": ["[sig-apps] Daemon set [Serial]"],
     "LeafNodeText": "should rollback without unnecessary restarts [Conformance]",
     "LeafNodeType": "It", "State": "skipped", "RunTime": 0,
     "Failure": {"Message": "Only supported for providers [gce]"}},
    {"ContainerHierarchyTexts": ["[sig-storage] CSI"], "LeafNodeText": "filtered out",
     "LeafNodeType": "It", "State": "skipped", "Failure": null},
    {"ContainerHierarchyTexts": null, "LeafNodeType": "SynchronizedBeforeSuite",
     "State": "passed", "RunTime": 5, "Failure": null},
    {"LeafNodeType": "ReportAfterSuite", "LeafNodeText": "junit", "State": "failed",
     "Failure": {"Message": "could not write"}}
  ]
}]"#;

#[test]
fn ginkgo_reports_become_specs_with_their_sig_and_first_error_line() {
    let specs = parse_ginkgo(REPORT).expect("a report");
    assert_eq!(
        specs.len(),
        4,
        "the passing suite node is left out: {specs:?}"
    );
    assert_eq!(specs[0].sig, "api-machinery");
    assert_eq!(specs[0].state, State::Passed);
    assert_eq!(specs[0].seconds, 1.5);
    assert!(
        specs[0]
            .name
            .ends_with("does not implement metadata [Conformance]")
    );
    assert_eq!(specs[1].state, State::Failed);
    assert_eq!(specs[1].error, "timed out waiting for the condition <&>");
    assert_eq!(specs[2].state, State::Skipped);
    assert_eq!(specs[3].name, "[ReportAfterSuite] junit");
    assert_eq!(specs[3].sig, "other");
    assert!(parse_ginkgo("{").is_err());
    assert!(parse_ginkgo("[]").expect("empty").is_empty());
    assert!(
        parse_ginkgo(r#"[{"SpecReports": null}]"#)
            .expect("null")
            .is_empty()
    );
}

#[test]
fn summaries_count_per_sig_and_list_failures() {
    let specs = parse_ginkgo(REPORT).expect("a report");
    let c = counts(&specs);
    assert_eq!((c.passed, c.failed, c.skipped, c.ran()), (1, 2, 1, 3));
    let text = summary(&specs);
    assert!(
        text.starts_with("passed 1  failed 2  skipped 1  (ran 3)"),
        "{text}"
    );
    assert!(
        text.contains("  node             passed    0  failed    1  skipped    0"),
        "{text}"
    );
    assert!(
        text.contains("      timed out waiting for the condition <&>"),
        "{text}"
    );
    let md = status_markdown(&specs, "# Conformance status", 441);
    assert!(md.contains("**1 of 441 conformance specs pass** (2 failed, 1 skipped, 3 ran)."));
    assert!(md.contains("| api-machinery | 1 | 0 | 0 |"), "{md}");
    assert!(md.contains("## Failing specs"), "{md}");
}

#[test]
fn junit_is_escaped_xml_with_every_spec() {
    let specs = parse_ginkgo(REPORT).expect("a report");
    let xml = junit(&specs);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"4\""));
    assert!(xml.contains("failures=\"2\""));
    assert!(xml.contains("message=\"timed out waiting for the condition &lt;&amp;&gt;\""));
    assert!(xml.contains("<skipped></skipped>"));
    assert_eq!(xml.matches("<testcase ").count(), 4);
    assert_eq!(xml_escape("a\u{1}b\"'"), "a b&quot;&apos;");
}

//! Validation of a job spec, in a Job or a CronJob's template (upstream `validateJobSpec`,
//! `validatePodFailurePolicy`, `validateSuccessPolicy` and `validateIndexesFormat` in
//! `pkg/apis/batch/validation/validation.go`).

use std::collections::HashSet;

use k8s_openapi::api::batch::v1::{JobSpec, PodFailurePolicy, SuccessPolicy};

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::pod_template;

/// `validateJobSpec`.
pub fn job_spec(spec: &JobSpec, path: &str, out: &mut Vec<FieldError>) {
    let counters = [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        (
            "ttlSecondsAfterFinished",
            spec.ttl_seconds_after_finished.map(i64::from),
        ),
        (
            "backoffLimitPerIndex",
            spec.backoff_limit_per_index.map(i64::from),
        ),
        ("maxFailedIndexes", spec.max_failed_indexes.map(i64::from)),
    ];
    for (field, value) in counters {
        if let Some(v) = value {
            checks::nonnegative(v, format!("{path}.{field}"), out);
        }
    }
    if spec.max_failed_indexes.is_some() && spec.backoff_limit_per_index.is_none() {
        let why = "when maxFailedIndexes is specified";
        out.push(FieldError::required(
            format!("{path}.backoffLimitPerIndex"),
            why,
        ));
    }
    if let Some(managed_by) = &spec.managed_by {
        domain_prefixed_path(managed_by, &format!("{path}.managedBy"), out);
        if managed_by.len() > 63 {
            out.push(FieldError::too_long(format!("{path}.managedBy"), 63));
        }
    }
    indexed_rules(spec, path, out);
    if let Some(policy) = &spec.pod_failure_policy {
        pod_failure_policy(policy, spec, &format!("{path}.podFailurePolicy"), out);
    }
    if let Some(success) = &spec.success_policy {
        let at = format!("{path}.successPolicy");
        if spec.completion_mode.as_deref() != Some("Indexed") {
            out.push(FieldError::invalid(
                at,
                checks::json(success),
                "requires indexed completion mode",
            ));
        } else {
            success_policy(spec, success, &at, out);
        }
    }
    if let Some(policy) = spec.pod_replacement_policy.as_deref() {
        let field = format!("{path}.podReplacementPolicy");
        if spec.pod_failure_policy.is_some() && policy != "Failed" {
            out.push(FieldError::not_supported(field, policy, &["Failed"]));
        } else if !matches!(policy, "Failed" | "TerminatingOrFailed") {
            out.push(FieldError::not_supported(
                field,
                policy,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template_path = format!("{path}.template");
    pod_template::validate(&spec.template, &template_path, out);
    let restart = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or_default();
    let field = format!("{template_path}.spec.restartPolicy");
    match restart {
        "Always" | "" => out.push(FieldError::required(
            field,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {
            if spec.pod_failure_policy.is_some() && restart != "Never" {
                let why = "only \"Never\" is supported when podFailurePolicy is specified";
                out.push(FieldError::invalid(field, quote(restart), why));
            }
        }
        other => out.push(FieldError::not_supported(
            field,
            other,
            &["OnFailure", "Never"],
        )),
    }
}

fn indexed_rules(spec: &JobSpec, path: &str, out: &mut Vec<FieldError>) {
    const MAX_PARALLELISM: i32 = 100_000;
    const COMPLETIONS_SOFT_LIMIT: i32 = 100_000;
    const HIGH_COMPLETIONS_LIMIT: i32 = 10_000;
    let mode = spec.completion_mode.as_deref();
    let field = |f: &str| format!("{path}.{f}");
    match mode {
        None | Some("NonIndexed") => {
            let indexed_only = [
                ("backoffLimitPerIndex", spec.backoff_limit_per_index),
                ("maxFailedIndexes", spec.max_failed_indexes),
            ];
            for (name, value) in indexed_only {
                if let Some(v) = value {
                    out.push(FieldError::invalid(
                        field(name),
                        v.to_string(),
                        "requires indexed completion mode",
                    ));
                }
            }
            return;
        }
        Some("Indexed") => {}
        Some(other) => {
            out.push(FieldError::not_supported(
                field("completionMode"),
                other,
                &["NonIndexed", "Indexed"],
            ));
            return;
        }
    }
    if spec.completions.is_none() {
        out.push(FieldError::required(
            field("completions"),
            "when completion mode is Indexed",
        ));
    }
    if let Some(p) = spec.parallelism.filter(|p| *p > MAX_PARALLELISM) {
        let why = format!(
            "must be less than or equal to {MAX_PARALLELISM} when completion mode is Indexed"
        );
        out.push(FieldError::invalid(
            field("parallelism"),
            p.to_string(),
            why,
        ));
    }
    if let (Some(c), Some(m)) = (spec.completions, spec.max_failed_indexes)
        && m > c
    {
        let why = "must be less than or equal to completions";
        out.push(FieldError::invalid(
            field("maxFailedIndexes"),
            m.to_string(),
            why,
        ));
    }
    if let Some(m) = spec.max_failed_indexes.filter(|m| *m > MAX_PARALLELISM) {
        let why = format!("must be less than or equal to {MAX_PARALLELISM}");
        out.push(FieldError::invalid(
            field("maxFailedIndexes"),
            m.to_string(),
            why,
        ));
    }
    let high = spec.completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT);
    if high && spec.backoff_limit_per_index.is_some() {
        let suffix = format!(
            "when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        );
        if spec.max_failed_indexes.is_none() {
            let why =
                format!("must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}");
            out.push(FieldError::required(field("maxFailedIndexes"), why));
        }
        for (name, value) in [
            ("parallelism", spec.parallelism),
            ("maxFailedIndexes", spec.max_failed_indexes),
        ] {
            if let Some(v) = value.filter(|v| *v > HIGH_COMPLETIONS_LIMIT) {
                let why =
                    format!("must be less than or equal to {HIGH_COMPLETIONS_LIMIT} {suffix}");
                out.push(FieldError::invalid(field(name), v.to_string(), why));
            }
        }
    }
}

/// Upstream's `IsDomainPrefixedPath` (for `managedBy`).
fn domain_prefixed_path(value: &str, field: &str, out: &mut Vec<FieldError>) {
    if value.is_empty() {
        out.push(FieldError::required(field, ""));
        return;
    }
    let Some((host, path)) = value
        .split_once('/')
        .filter(|(h, p)| !h.is_empty() && !p.is_empty())
    else {
        let why = "must be a domain-prefixed path (such as \"acme.io/foo\")";
        out.push(FieldError::invalid(field, quote(value), why));
        return;
    };
    checks::subdomain_field(host, field, out);
    let path_char = |c: char| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c);
    if !path.chars().all(path_char) {
        out.push(FieldError::invalid(
            field,
            quote(path),
            "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
        ));
    }
}

/// `validatePodFailurePolicy`.
fn pod_failure_policy(
    policy: &PodFailurePolicy,
    spec: &JobSpec,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    const ACTIONS: [&str; 4] = ["Count", "FailIndex", "FailJob", "Ignore"];
    let rules_path = format!("{path}.rules");
    if policy.rules.len() > 20 {
        out.push(checks::too_many(&rules_path, 20));
    }
    let pod_spec = spec.template.spec.as_ref();
    let names: HashSet<&str> = pod_spec
        .into_iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .map(|c| c.name.as_str())
        .collect();
    for (i, rule) in policy.rules.iter().enumerate() {
        let at = format!("{rules_path}[{i}]");
        let action = rule.action.as_str();
        match action {
            "" => out.push(FieldError::required(
                format!("{at}.action"),
                valid_values(&ACTIONS),
            )),
            "FailIndex" if spec.backoff_limit_per_index.is_none() => out.push(FieldError::invalid(
                format!("{at}.action"),
                quote(action),
                "requires the backoffLimitPerIndex to be set",
            )),
            a if !ACTIONS.contains(&a) => out.push(FieldError::not_supported(
                format!("{at}.action"),
                a,
                &ACTIONS,
            )),
            _ => {}
        }
        if let Some(codes) = &rule.on_exit_codes {
            let at = format!("{at}.onExitCodes");
            match codes.operator.as_str() {
                "" => out.push(FieldError::required(
                    format!("{at}.operator"),
                    valid_values(&["In", "NotIn"]),
                )),
                "In" | "NotIn" => {}
                op => out.push(FieldError::not_supported(
                    format!("{at}.operator"),
                    op,
                    &["In", "NotIn"],
                )),
            }
            if let Some(name) = codes
                .container_name
                .as_deref()
                .filter(|n| !names.contains(n))
            {
                let why = "must be one of the container or initContainer names in the pod template";
                out.push(FieldError::invalid(
                    format!("{at}.containerName"),
                    quote(name),
                    why,
                ));
            }
            let values_path = format!("{at}.values");
            if codes.values.is_empty() {
                let why = "at least one value is required";
                out.push(FieldError::invalid(&values_path, "[]", why));
            } else if codes.values.len() > 255 {
                out.push(checks::too_many(&values_path, 255));
            }
            let mut seen = HashSet::new();
            for (j, value) in codes.values.iter().enumerate() {
                let field = format!("{values_path}[{j}]");
                if codes.operator == "In" && *value == 0 {
                    out.push(FieldError::invalid(
                        &field,
                        "0",
                        "must not be 0 for the In operator",
                    ));
                }
                if !seen.insert(*value) {
                    out.push(FieldError::duplicate(field, value.to_string()));
                }
            }
            if codes.values.windows(2).any(|w| w[0] > w[1]) {
                out.push(FieldError::invalid(
                    values_path,
                    checks::json(&codes.values),
                    "must be ordered",
                ));
            }
        }
        let conditions = rule.on_pod_conditions.as_deref().unwrap_or_default();
        let conditions_path = format!("{at}.onPodConditions");
        if conditions.len() > 20 {
            out.push(checks::too_many(&conditions_path, 20));
        }
        for (j, pattern) in conditions.iter().enumerate() {
            let at = format!("{conditions_path}[{j}]");
            checks::qualified_name_field(&pattern.type_, &format!("{at}.type"), out);
            let statuses = ["False", "True", "Unknown"];
            match pattern.status.as_deref().unwrap_or_default() {
                "" => out.push(FieldError::required(
                    format!("{at}.status"),
                    valid_values(&statuses),
                )),
                s if !statuses.contains(&s) => out.push(FieldError::not_supported(
                    format!("{at}.status"),
                    s,
                    &statuses,
                )),
                _ => {}
            }
        }
        match (rule.on_exit_codes.is_some(), !conditions.is_empty()) {
            (true, true) => out.push(checks::invalid_omitted(
                &at,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            )),
            (false, false) => out.push(checks::invalid_omitted(
                &at,
                "specifying one of OnExitCodes and OnPodConditions is required",
            )),
            _ => {}
        }
    }
}

/// Go's `fmt.Sprintf("valid values: %q", list)`.
fn valid_values(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| quote(v)).collect();
    format!("valid values: [{}]", quoted.join(" "))
}

/// `validateSuccessPolicy`.
fn success_policy(spec: &JobSpec, policy: &SuccessPolicy, path: &str, out: &mut Vec<FieldError>) {
    let rules_path = format!("{path}.rules");
    if policy.rules.is_empty() {
        let why = "at least one rules must be specified when the successPolicy is specified";
        out.push(FieldError::required(&rules_path, why));
    }
    if policy.rules.len() > 20 {
        out.push(checks::too_many(&rules_path, 20));
    }
    let completions = spec.completions.unwrap_or(0);
    for (i, rule) in policy.rules.iter().enumerate() {
        let at = format!("{rules_path}[{i}]");
        if rule.succeeded_count.is_none() && rule.succeeded_indexes.is_none() {
            let why = "at least one of succeededCount or succeededIndexes must be specified";
            out.push(FieldError::required(&at, why));
        }
        let mut total = 0;
        if let Some(indexes) = &rule.succeeded_indexes {
            let field = format!("{at}.succeededIndexes");
            if indexes.len() > 64 * 1024 {
                out.push(FieldError::too_long(&field, 64 * 1024));
            }
            match index_count(indexes, completions) {
                Ok(n) => total = n,
                Err(e) => {
                    let why = format!("error parsing succeededIndexes: {e}");
                    out.push(FieldError::invalid(field, quote(indexes), why));
                }
            }
        }
        if let Some(count) = rule.succeeded_count {
            let field = format!("{at}.succeededCount");
            checks::nonnegative(i64::from(count), &field, out);
            if count > completions {
                let why = format!(
                    "must be less than or equal to {completions} (the number of specified completions)"
                );
                out.push(FieldError::invalid(&field, count.to_string(), why));
            }
            if rule.succeeded_indexes.is_some() && count > total {
                let why = format!(
                    "must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)"
                );
                out.push(FieldError::invalid(field, count.to_string(), why));
            }
        }
    }
}

/// Upstream's `validateIndexesFormat`: "1,3-5,7" in increasing order, below `completions`.
fn index_count(indexes: &str, completions: i32) -> Result<i32, String> {
    if indexes.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total = 0i64;
    for interval in indexes.split(',') {
        let limits: Vec<&str> = interval.split('-').collect();
        if limits.len() > 2 {
            return Err(format!(
                "the fragment {interval:?} violates the requirement that an index interval can have at most two parts separated by '-'"
            ));
        }
        let parse = |s: &str| -> Result<i64, String> {
            let n: i64 = s
                .parse()
                .map_err(|_| format!("cannot convert string to integer for index: {s:?}"))?;
            if n >= i64::from(completions) {
                return Err(format!("too large index: {s:?}"));
            }
            Ok(n)
        };
        let x = parse(limits[0])?;
        let y = match limits.get(1) {
            Some(high) => {
                let y = parse(high)?;
                if x >= y {
                    return Err(format!("non-increasing order, previous: {x}, current: {y}"));
                }
                y
            }
            None => x,
        };
        if let Some(previous) = last.filter(|p| *p >= x) {
            return Err(format!(
                "non-increasing order, previous: {previous}, current: {x}"
            ));
        }
        total += y - x + 1;
        last = Some(y);
    }
    Ok(i32::try_from(total).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use crate::strategy::testing::{job, job_errors};
    use serde_json::{Value, json};

    #[test]
    fn job_rules() {
        let table: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}),
                vec![
                    "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"parallelism": -1, "backoffLimit": -1}),
                vec![
                    "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                    "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
                ],
            ),
            (
                json!({"completionMode": "Indexed", "completions": null, "parallelism": 2}),
                vec!["spec.completions: Required value: when completion mode is Indexed"],
            ),
            (
                json!({"backoffLimitPerIndex": 1}),
                vec![
                    "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
                ],
            ),
            (
                json!({"podFailurePolicy": {"rules": [{"action": "Explode", "onExitCodes": {"operator": "In", "values": [3, 0, 1, 1]}}]}}),
                vec![
                    "spec.podFailurePolicy.rules[0].action: Unsupported value: \"Explode\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"",
                    "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
                    "spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Duplicate value: 1",
                    "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [3,0,1,1]: must be ordered",
                ],
            ),
            (
                json!({"podFailurePolicy": {"rules": [{"action": "Ignore"}]}}),
                vec![
                    "spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
                ],
            ),
            (
                json!({"podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
                    "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]}}}),
                vec![
                    "spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified",
                ],
            ),
            (
                json!({"successPolicy": {"rules": [{"succeededCount": 1}]}}),
                vec![
                    "spec.successPolicy: Invalid value: {\"rules\":[{\"succeededCount\":1}]}: requires indexed completion mode",
                ],
            ),
            (
                json!({"completionMode": "Indexed", "completions": 3, "successPolicy": {"rules": [{"succeededIndexes": "2-1"}]}}),
                vec![
                    "spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"2-1\": error parsing succeededIndexes: non-increasing order, previous: 2, current: 1",
                ],
            ),
            (
                json!({"managedBy": "nope"}),
                vec![
                    "spec.managedBy: Invalid value: \"nope\": must be a domain-prefixed path (such as \"acme.io/foo\")",
                ],
            ),
        ];
        for (spec, want) in table {
            assert_eq!(job_errors(&job(spec.clone())), want, "{spec}");
        }
    }
}

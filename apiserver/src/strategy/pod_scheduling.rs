//! Validation of where a pod may run (upstream `pkg/apis/core/validation/validation.go`:
//! `ValidateTolerations`, `validateAffinity`, `ValidateNodeSelector*`,
//! `validateTopologySpreadConstraints`, `validatePodDNSConfig`).

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{
    Affinity, NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, PodDNSConfig, Toleration,
    TopologySpreadConstraint,
};

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::validation;

const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// `validateTaintEffect`: `allow_empty` for tolerations (an empty effect matches all).
pub fn taint_effect(effect: &str, allow_empty: bool, field: &str, out: &mut Vec<FieldError>) {
    if effect.is_empty() && !allow_empty {
        out.push(FieldError::required(field, ""));
    } else if !TAINT_EFFECTS.contains(&effect) {
        out.push(FieldError::not_supported(field, effect, &TAINT_EFFECTS));
    }
}

/// `ValidateTolerations`. Some paths say `operator` for a bad value, as upstream's do.
pub fn tolerations(list: &[Toleration], path: &str, out: &mut Vec<FieldError>) {
    for (i, t) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let key = t.key.as_deref().unwrap_or_default();
        let operator = t.operator.as_deref().unwrap_or_default();
        let effect = t.effect.as_deref().unwrap_or_default();
        let value = t.value.as_deref().unwrap_or_default();
        if !key.is_empty() {
            checks::qualified_name_field(key, &format!("{at}.key"), out);
        }
        if key.is_empty() && operator != "Exists" {
            out.push(FieldError::invalid(
                format!("{at}.operator"),
                quote(operator),
                "operator must be Exists when `key` is empty, which means \"match all values and \
                 all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            out.push(FieldError::invalid(
                format!("{at}.effect"),
                quote(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let errors = validation::label_value(value);
                if !errors.is_empty() {
                    out.push(FieldError::invalid(
                        format!("{at}.operator"),
                        quote(value),
                        errors.join(";"),
                    ));
                }
            }
            "Exists" if !value.is_empty() => out.push(FieldError::invalid(
                format!("{at}.operator"),
                quote(value),
                "value must be empty when `operator` is 'Exists'",
            )),
            "Exists" => {}
            other => {
                out.push(FieldError::not_supported(
                    format!("{at}.operator"),
                    other,
                    &["Equal", "Exists"],
                ));
            }
        }
        if !effect.is_empty() {
            taint_effect(effect, true, &format!("{at}.effect"), out);
        }
    }
}

/// `validateAffinity`.
pub fn affinity(a: &Affinity, path: &str, out: &mut Vec<FieldError>) {
    if let Some(node) = &a.node_affinity {
        let at = format!("{path}.nodeAffinity");
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            let terms_path =
                format!("{at}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
            if required.node_selector_terms.is_empty() {
                let why = "must have at least one node selector term";
                out.push(FieldError::required(terms_path, why));
            } else {
                for (i, term) in required.node_selector_terms.iter().enumerate() {
                    node_selector_term(term, false, &format!("{terms_path}[{i}]"), out);
                }
            }
        }
        let preferred = node
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten();
        for (i, term) in preferred.enumerate() {
            let at = format!("{at}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            weight(term.weight, &format!("{at}.weight"), out);
            // Preferred terms tolerate invalid label values: they may match one node.
            node_selector_term(&term.preference, true, &format!("{at}.preference"), out);
        }
    }
    let pod_affinities = [
        (
            "podAffinity",
            a.pod_affinity.as_ref().map(|p| {
                (
                    &p.required_during_scheduling_ignored_during_execution,
                    &p.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            a.pod_anti_affinity.as_ref().map(|p| {
                (
                    &p.required_during_scheduling_ignored_during_execution,
                    &p.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (name, terms) in pod_affinities {
        let Some((required, preferred)) = terms else {
            continue;
        };
        let at = format!("{path}.{name}");
        for (i, term) in required.iter().flatten().enumerate() {
            let at = format!("{at}.requiredDuringSchedulingIgnoredDuringExecution[{i}]");
            pod_affinity_term(term, &at, out);
        }
        for (i, weighted) in preferred.iter().flatten().enumerate() {
            let at = format!("{at}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            weight(weighted.weight, &format!("{at}.weight"), out);
            pod_affinity_term(
                &weighted.pod_affinity_term,
                &format!("{at}.podAffinityTerm"),
                out,
            );
        }
    }
}

fn weight(weight: i32, field: &str, out: &mut Vec<FieldError>) {
    if !(1..=100).contains(&weight) {
        out.push(FieldError::invalid(
            field,
            weight.to_string(),
            "must be in the range 1-100",
        ));
    }
}

/// `ValidateNodeSelectorTerm`.
fn node_selector_term(
    term: &NodeSelectorTerm,
    allow_invalid_values: bool,
    at: &str,
    out: &mut Vec<FieldError>,
) {
    for (j, req) in term.match_expressions.iter().flatten().enumerate() {
        let at = format!("{at}.matchExpressions[{j}]");
        node_selector_requirement(req, allow_invalid_values, &at, out);
    }
    for (j, req) in term.match_fields.iter().flatten().enumerate() {
        let at = format!("{at}.matchFields[{j}]");
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" if values.len() != 1 => out.push(FieldError::required(
                format!("{at}.values"),
                "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
            )),
            "In" | "NotIn" => {}
            op => out.push(FieldError::invalid(
                format!("{at}.operator"),
                quote(op),
                "not a valid selector operator",
            )),
        }
        if req.key != "metadata.name" {
            let why = "not a valid field selector key";
            out.push(FieldError::invalid(
                format!("{at}.key"),
                quote(&req.key),
                why,
            ));
        } else {
            for (k, value) in values.iter().enumerate() {
                checks::subdomain_field(value, &format!("{at}.values[{k}]"), out);
            }
        }
    }
}

/// `ValidateNodeSelectorRequirement`.
fn node_selector_requirement(
    req: &NodeSelectorRequirement,
    allow_invalid_values: bool,
    at: &str,
    out: &mut Vec<FieldError>,
) {
    let values = req.values.as_deref().unwrap_or_default();
    let values_path = format!("{at}.values");
    match req.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => out.push(FieldError::required(
            &values_path,
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => out.push(FieldError::forbidden(
            &values_path,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if values.len() != 1 => out.push(FieldError::required(
            &values_path,
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        op => out.push(FieldError::invalid(
            format!("{at}.operator"),
            quote(op),
            "not a valid selector operator",
        )),
    }
    checks::qualified_name_field(&req.key, &format!("{at}.key"), out);
    if !allow_invalid_values {
        for (i, value) in values.iter().enumerate() {
            for e in validation::label_value(value) {
                out.push(FieldError::invalid(
                    format!("{values_path}[{i}]"),
                    quote(value),
                    e,
                ));
            }
        }
    }
}

/// `validatePodAffinityTerm`.
fn pod_affinity_term(term: &PodAffinityTerm, at: &str, out: &mut Vec<FieldError>) {
    if let Some(selector) = &term.label_selector {
        checks::label_selector(selector, &format!("{at}.labelSelector"), out);
    }
    if let Some(selector) = &term.namespace_selector {
        checks::label_selector(selector, &format!("{at}.namespaceSelector"), out);
    }
    for name in term.namespaces.iter().flatten() {
        // Upstream's path says "namespace".
        checks::dns_label_field(name, &format!("{at}.namespace"), out);
    }
    let match_keys = term.match_label_keys.as_deref().unwrap_or_default();
    let mismatch_keys = term.mismatch_label_keys.as_deref().unwrap_or_default();
    for (field, keys) in [
        ("matchLabelKeys", match_keys),
        ("mismatchLabelKeys", mismatch_keys),
    ] {
        if keys.is_empty() {
            continue;
        }
        if term.label_selector.is_none() {
            let why = "must not be specified when labelSelector is not set";
            out.push(FieldError::forbidden(format!("{at}.{field}"), why));
            continue;
        }
        for (i, key) in keys.iter().enumerate() {
            checks::qualified_name_field(key, &format!("{at}.{field}[{i}]"), out);
        }
    }
    for (i, key) in match_keys.iter().enumerate() {
        if mismatch_keys.contains(key) {
            let why = "exists in both matchLabelKeys and mismatchLabelKeys";
            out.push(FieldError::invalid(
                format!("{at}.matchLabelKeys[{i}]"),
                quote(key),
                why,
            ));
        }
    }
    if term.topology_key.is_empty() {
        out.push(FieldError::required(
            format!("{at}.topologyKey"),
            "can not be empty",
        ));
    }
    checks::qualified_name_field(&term.topology_key, &format!("{at}.topologyKey"), out);
}

/// `validateTopologySpreadConstraints`.
pub fn topology_spread(list: &[TopologySpreadConstraint], path: &str, out: &mut Vec<FieldError>) {
    for (i, c) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if c.max_skew <= 0 {
            let why = "must be greater than zero";
            out.push(FieldError::invalid(
                format!("{at}.maxSkew"),
                c.max_skew.to_string(),
                why,
            ));
        }
        if c.topology_key.is_empty() {
            out.push(FieldError::required(
                format!("{at}.topologyKey"),
                "can not be empty",
            ));
        }
        let actions = ["DoNotSchedule", "ScheduleAnyway"];
        if !actions.contains(&c.when_unsatisfiable.as_str()) {
            let field = format!("{at}.whenUnsatisfiable");
            out.push(FieldError::not_supported(
                field,
                &c.when_unsatisfiable,
                &actions,
            ));
        }
        let repeated = list[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        });
        if repeated {
            out.push(FieldError::duplicate(
                format!("{at}.{{topologyKey, whenUnsatisfiable}}"),
                quote(&format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable)),
            ));
        }
        if let Some(min) = c.min_domains {
            let field = format!("{at}.minDomains");
            if min <= 0 {
                out.push(FieldError::invalid(
                    &field,
                    min.to_string(),
                    "must be greater than zero",
                ));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                let why = format!(
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                    c.when_unsatisfiable
                );
                out.push(FieldError::invalid(field, min.to_string(), why));
            }
        }
        for (field, policy) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(p) = policy
                .as_deref()
                .filter(|p| !matches!(*p, "Honor" | "Ignore"))
            {
                out.push(FieldError::not_supported(
                    format!("{at}.{field}"),
                    p,
                    &["Honor", "Ignore"],
                ));
            }
        }
        let keys = c.match_label_keys.as_deref().unwrap_or_default();
        if !keys.is_empty() {
            let selector = c.label_selector.as_ref();
            let mut selector_keys: HashSet<&str> = HashSet::new();
            if let Some(s) = selector {
                selector_keys.extend(s.match_labels.iter().flatten().map(|(k, _)| k.as_str()));
                selector_keys.extend(s.match_expressions.iter().flatten().map(|e| e.key.as_str()));
            } else {
                let why = "must not be specified when labelSelector is not set";
                out.push(FieldError::forbidden(format!("{at}.matchLabelKeys"), why));
            }
            for (j, key) in keys.iter().enumerate() {
                let field = format!("{at}.matchLabelKeys[{j}]");
                checks::qualified_name_field(key, &field, out);
                if selector_keys.contains(key.as_str()) {
                    let why = "exists in both matchLabelKeys and labelSelector";
                    out.push(FieldError::invalid(field, quote(key), why));
                }
            }
        }
        if let Some(selector) = &c.label_selector {
            checks::label_selector(selector, &format!("{at}.labelSelector"), out);
        }
    }
}

/// `validatePodDNSConfig`, with relaxed search names (RelaxedDNSSearchValidation is on in
/// v1.35).
pub fn dns_config(
    config: Option<&PodDNSConfig>,
    policy: &str,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if policy == "None" {
        let Some(config) = config else {
            out.push(FieldError::required(
                path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return;
        };
        if config.nameservers.as_ref().is_none_or(Vec::is_empty) {
            out.push(FieldError::required(
                format!("{path}.nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return;
        }
    }
    let Some(config) = config else { return };
    let nameservers = config.nameservers.as_deref().unwrap_or_default();
    if nameservers.len() > 3 {
        let why = "must not have more than 3 nameservers";
        out.push(FieldError::invalid(
            format!("{path}.nameservers"),
            checks::json(nameservers),
            why,
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        checks::ip(ns, &format!("{path}.nameservers[{i}]"), out);
    }
    let searches = config.searches.as_deref().unwrap_or_default();
    if searches.len() > 32 {
        let why = "must not have more than 32 search paths";
        out.push(FieldError::invalid(
            format!("{path}.searches"),
            checks::json(searches),
            why,
        ));
    }
    if searches.join(" ").len() > 2048 {
        let why = "must not have more than 2048 characters (including spaces) in the search list";
        out.push(FieldError::invalid(
            format!("{path}.searches"),
            checks::json(searches),
            why,
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        if search == "." {
            continue;
        }
        let search = search.strip_suffix('.').unwrap_or(search);
        if !subdomain_with_underscore(search) {
            out.push(FieldError::invalid(
                format!("{path}.searches[{i}]"),
                quote(search),
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                 characters, '_', '-' or '.', and must start and end with an alphanumeric \
                 character (e.g. 'example.com', regex used for validation is \
                 '_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')",
            ));
        }
    }
    for (i, option) in config.options.iter().flatten().enumerate() {
        if option.name.as_deref().is_none_or(str::is_empty) {
            out.push(FieldError::required(
                format!("{path}.options[{i}]"),
                "must not be empty",
            ));
        }
    }
}

fn subdomain_with_underscore(s: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.len() <= 253
        && s.split('.').all(|label| {
            let label = label.strip_prefix('_').unwrap_or(label).as_bytes();
            !label.is_empty()
                && alnum(label[0])
                && alnum(label[label.len() - 1])
                && label.iter().all(|&c| alnum(c) || c == b'-' || c == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run<T: serde::de::DeserializeOwned>(
        value: serde_json::Value,
        check: impl Fn(&T, &mut Vec<FieldError>),
    ) -> Vec<String> {
        let parsed: T = serde_json::from_value(value).expect("parses");
        let mut out = Vec::new();
        check(&parsed, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn tolerations_table() {
        let table = [
            (
                json!([{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}]),
                vec![],
            ),
            (json!([{"operator": "Exists"}]), vec![]),
            (
                json!([{"value": "v"}]),
                vec![
                    "t[0].operator: Invalid value: \"\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                ],
            ),
            (
                json!([{"key": "k", "operator": "Exists", "value": "v"}]),
                vec![
                    "t[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
                ],
            ),
            (
                json!([{"key": "k", "operator": "Maybe"}]),
                vec![
                    "t[0].operator: Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\"",
                ],
            ),
            (
                json!([{"key": "k", "effect": "Never"}]),
                vec![
                    "t[0].effect: Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                ],
            ),
            (
                json!([{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]),
                vec![
                    "t[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
                ],
            ),
        ];
        for (value, want) in table {
            let got = run::<Vec<Toleration>>(value.clone(), |t, out| tolerations(t, "t", out));
            assert_eq!(got, want, "{value}");
        }
    }

    #[test]
    fn affinity_table() {
        let table = [
            (
                json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}),
                vec![],
            ),
            (
                json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}),
                vec![
                    "a.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term",
                ],
            ),
            (
                json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}),
                vec![
                    "a.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                ],
            ),
            (
                json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {}}]}}),
                vec![
                    "a.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
                ],
            ),
            (
                json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": ""}]}}),
                vec![
                    "a.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
                    "a.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": name part must be non-empty",
                ],
            ),
        ];
        for (value, want) in table {
            let got = run::<Affinity>(value.clone(), |a, out| affinity(a, "a", out));
            assert_eq!(got, want, "{value}");
        }
    }

    #[test]
    fn spread_and_dns() {
        let got = run::<Vec<TopologySpreadConstraint>>(
            json!([{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                   {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]),
            |c, out| topology_spread(c, "s", out),
        );
        assert_eq!(
            got,
            vec![
                "s[0].maxSkew: Invalid value: 0: must be greater than zero",
                "s[0].{topologyKey, whenUnsatisfiable}: Duplicate value: \"{zone, DoNotSchedule}\"",
            ]
        );
        let mut out = Vec::new();
        dns_config(None, "None", "spec.dnsConfig", &mut out);
        assert_eq!(
            out[0].to_string(),
            "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"
        );
        let config: PodDNSConfig = serde_json::from_value(
            json!({"nameservers": ["1.1.1.1"], "searches": ["_tcp.example.com.", "Bad"]}),
        )
        .expect("config");
        let mut out = Vec::new();
        dns_config(Some(&config), "None", "c", &mut out);
        assert_eq!(out.len(), 1);
        assert!(
            out[0]
                .to_string()
                .starts_with("c.searches[1]: Invalid value: \"Bad\"")
        );
    }
}

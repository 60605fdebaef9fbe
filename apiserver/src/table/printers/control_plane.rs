//! The API server's own configuration: admission webhooks and policies
//! (admissionregistration.k8s.io) and API priority and fairness (flowcontrol.apiserver.k8s.io).

use serde_json::Value;

use super::fields::{at, condition, count, int, items, map, name, opt_text, text};
use super::{AGE, NAME, Table, col};
use crate::table::age;

/// MutatingWebhookConfiguration and ValidatingWebhookConfiguration.
pub(super) static WEBHOOK_CONFIGURATION: Table = Table {
    columns: &[
        NAME,
        col(
            "Webhooks",
            "integer",
            "Webhooks indicates the number of webhooks registered in this configuration",
        ),
        AGE,
    ],
    cells: |obj, now| vec![name(obj), count(obj, "/webhooks").into(), age(obj, now)],
};

pub(super) static VALIDATING_ADMISSION_POLICY: Table = Table {
    columns: &[
        NAME,
        col(
            "Validations",
            "integer",
            "Validations indicates the number of validation rules defined in this configuration",
        ),
        col(
            "ParamKind",
            "string",
            "ParamKind specifies the kind of resources used to parameterize this policy",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let param_kind = match at(obj, "/spec/paramKind") {
            Some(kind) => format!("{}/{}", text(kind, "/apiVersion"), text(kind, "/kind")),
            None => "<unset>".to_owned(),
        };
        let validations = count(obj, "/spec/validations").into();
        vec![name(obj), validations, param_kind.into(), age(obj, now)]
    },
};

pub(super) static VALIDATING_ADMISSION_POLICY_BINDING: Table = Table {
    columns: &[
        NAME,
        col(
            "PolicyName",
            "string",
            "PolicyName indicates the policy definition which the policy binding binded to",
        ),
        col(
            "ParamRef",
            "string",
            "ParamRef indicates the param resource which sets the configration param",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let param = match at(obj, "/spec/paramRef") {
            None => "<unset>".to_owned(),
            Some(param) => match (text(param, "/name"), text(param, "/namespace")) {
                ("", _) => at(param, "/selector").map_or("<unset>".to_owned(), go_selector),
                // Whether the param is cluster-scoped cannot be told here.
                (name, "") => format!("*/{name}"),
                (name, namespace) => format!("{namespace}/{name}"),
            },
        };
        let policy = text(obj, "/spec/policyName").into();
        vec![name(obj), policy, param.into(), age(obj, now)]
    },
};

/// A `metav1.LabelSelector` as its generated `String()` prints it, which upstream shows for a
/// binding's param selector.
fn go_selector(selector: &Value) -> String {
    let mut labels: Vec<(&String, &Value)> = map(selector, "/matchLabels")
        .into_iter()
        .flatten()
        .collect();
    labels.sort_by_key(|(key, _)| *key);
    let labels: String = labels
        .iter()
        .map(|(key, value)| format!("{key}: {},", value.as_str().unwrap_or("")))
        .collect();
    let expressions: String = items(selector, "/matchExpressions")
        .iter()
        .map(|e| {
            let values: Vec<&str> = items(e, "/values")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
                text(e, "/key"),
                text(e, "/operator"),
                values.join(" ")
            )
        })
        .collect();
    let labels = format!("MatchLabels:map[string]string{{{labels}}},");
    let expressions = format!("MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},");
    format!("&LabelSelector{{{labels}{expressions}}}")
}

pub(super) static FLOW_SCHEMA: Table = Table {
    columns: &[
        NAME,
        col(
            "PriorityLevel",
            "string",
            "`name` of the priority level configuration referenced.",
        ),
        col(
            "MatchingPrecedence",
            "string",
            "`matchingPrecedence` orders the FlowSchemas.",
        ),
        col(
            "DistinguisherMethod",
            "string",
            "`distinguisherMethod` computes the flow distinguisher.",
        ),
        AGE,
        col(
            "MissingPL",
            "string",
            "references a broken or non-existent PriorityLevelConfiguration",
        ),
    ],
    cells: |obj, now| {
        let dangling = condition(items(obj, "/status/conditions"), "Dangling");
        let missing = dangling.map_or("?", |c| text(c, "/status"));
        vec![
            name(obj),
            text(obj, "/spec/priorityLevelConfiguration/name").into(),
            int(obj, "/spec/matchingPrecedence").into(),
            opt_text(obj, "/spec/distinguisherMethod/type")
                .unwrap_or("<none>")
                .into(),
            age(obj, now),
            missing.into(),
        ]
    },
};

pub(super) static PRIORITY_LEVEL_CONFIGURATION: Table = Table {
    columns: &[
        NAME,
        col(
            "Type",
            "string",
            "`type`: whether this priority level is limited.",
        ),
        col(
            "NominalConcurrencyShares",
            "string",
            "`nominalConcurrencyShares` (NCS) of this level.",
        ),
        col(
            "Queues",
            "string",
            "`queues` is the number of queues for this priority level.",
        ),
        col(
            "HandSize",
            "string",
            "`handSize` configures the shuffle sharding of requests.",
        ),
        col(
            "QueueLengthLimit",
            "string",
            "`queueLengthLimit` is the length limit of each queue.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let none = || Value::from("<none>");
        let limited = at(obj, "/spec/limited");
        let queuing = limited.and_then(|l| at(l, "/limitResponse/queuing"));
        let queue = |field: &str| queuing.map_or_else(none, |q| int(q, field).into());
        vec![
            name(obj),
            text(obj, "/spec/type").into(),
            limited.map_or_else(none, |l| int(l, "/nominalConcurrencyShares").into()),
            queue("/queues"),
            queue("/handSize"),
            queue("/queueLengthLimit"),
            age(obj, now),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Printer;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().expect("a valid timestamp")
    }

    #[test]
    fn priority_levels_and_binding_params() {
        let exempt = json!({"spec": {"type": "Exempt"}});
        let cells = PRIORITY_LEVEL_CONFIGURATION.cells(&exempt, now());
        assert_eq!(
            cells[2..6],
            [
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        let limited = json!({"spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 30,
            "limitResponse": {"type": "Queue", "queuing": {
                "queues": 64, "handSize": 6, "queueLengthLimit": 50}},
        }}});
        let cells = PRIORITY_LEVEL_CONFIGURATION.cells(&limited, now());
        assert_eq!(cells[2..6], [json!(30), json!(64), json!(6), json!(50)]);

        let binding = json!({"spec": {"policyName": "p", "paramRef": {"selector": {
            "matchLabels": {"env": "prod"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
        }}}});
        assert_eq!(
            VALIDATING_ADMISSION_POLICY_BINDING.cells(&binding, now())[2],
            json!(concat!(
                "&LabelSelector{MatchLabels:map[string]string{env: prod,},",
                "MatchExpressions:[]LabelSelectorRequirement{",
                "LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},},}",
            ))
        );
    }
}

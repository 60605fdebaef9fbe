//! The cluster-wide APIs with small printers: coordination, policy, rbac, scheduling, node,
//! certificates and resource.k8s.io.

use serde_json::Value;

use super::fields::{
    at, condition, flag, int, int_or_string, items, name, opt_int, or, present, text,
};
use super::{AGE, NAME, Table, col, wide};
use crate::table::{age, human_duration};

pub(super) static LEASE: Table = Table {
    columns: &[
        NAME,
        col(
            "Holder",
            "string",
            "holderIdentity contains the identity of the holder.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj),
            text(obj, "/spec/holderIdentity").into(),
            age(obj, now),
        ]
    },
};

pub(super) static POD_DISRUPTION_BUDGET: Table = Table {
    columns: &[
        NAME,
        col(
            "Min Available",
            "string",
            "The minimum number of pods that must be available.",
        ),
        col(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable.",
        ),
        col(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let bound = |pointer| at(obj, pointer).map_or("N/A".to_owned(), int_or_string);
        vec![
            name(obj),
            bound("/spec/minAvailable").into(),
            bound("/spec/maxUnavailable").into(),
            int(obj, "/status/disruptionsAllowed").into(),
            age(obj, now),
        ]
    },
};

/// RoleBinding and ClusterRoleBinding.
pub(super) static ROLE_BINDING: Table = Table {
    columns: &[
        NAME,
        col(
            "Role",
            "string",
            "RoleRef references a Role or a ClusterRole.",
        ),
        AGE,
        wide("Users", "string", "Users in the roleBinding"),
        wide("Groups", "string", "Groups in the roleBinding"),
        wide(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the roleBinding",
        ),
    ],
    cells: |obj, now| {
        let role = format!(
            "{}/{}",
            text(obj, "/roleRef/kind"),
            text(obj, "/roleRef/name")
        );
        // Upstream `rbac.SubjectsStrings`; subjects of other kinds are not shown.
        let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
        for subject in items(obj, "/subjects") {
            let name = text(subject, "/name");
            match text(subject, "/kind") {
                "ServiceAccount" => {
                    accounts.push(format!("{}/{name}", text(subject, "/namespace")))
                }
                "User" => users.push(name.to_owned()),
                "Group" => groups.push(name.to_owned()),
                _ => {}
            }
        }
        vec![
            name(obj),
            role.into(),
            age(obj, now),
            users.join(", ").into(),
            groups.join(", ").into(),
            accounts.join(", ").into(),
        ]
    },
};

pub(super) static PRIORITY_CLASS: Table = Table {
    columns: &[
        NAME,
        col(
            "Value",
            "integer",
            "value represents the integer value of this priority class.",
        ),
        col(
            "Global-Default",
            "boolean",
            "globalDefault: whether this is the default priority class.",
        ),
        AGE,
        // Upstream gives this column no priority, so kubectl shows it by default.
        col(
            "PreemptionPolicy",
            "string",
            "preemptionPolicy is the Policy for preempting pods.",
        ),
    ],
    cells: |obj, now| {
        vec![
            name(obj),
            int(obj, "/value").into(),
            flag(obj, "/globalDefault").into(),
            age(obj, now),
            text(obj, "/preemptionPolicy").into(),
        ]
    },
};

pub(super) static RUNTIME_CLASS: Table = Table {
    columns: &[
        NAME,
        col(
            "Handler",
            "string",
            "handler names the underlying runtime and configuration.",
        ),
        AGE,
    ],
    cells: |obj, now| vec![name(obj), text(obj, "/handler").into(), age(obj, now)],
};

pub(super) static CERTIFICATE_SIGNING_REQUEST: Table = Table {
    columns: &[
        NAME,
        AGE,
        col(
            "SignerName",
            "string",
            "signerName indicates the requested signer.",
        ),
        col(
            "Requestor",
            "string",
            "username contains the name of the user that created the request.",
        ),
        col(
            "RequestedDuration",
            "string",
            "expirationSeconds is the requested validity.",
        ),
        col("Condition", "string", "conditions applied to the request."),
    ],
    cells: |obj, now| {
        let duration =
            opt_int(obj, "/spec/expirationSeconds").map_or("<none>".to_owned(), human_duration);
        vec![
            name(obj),
            age(obj, now),
            or(text(obj, "/spec/signerName"), "<none>").into(),
            text(obj, "/spec/username").into(),
            duration.into(),
            csr_condition(obj).into(),
        ]
    },
};

/// Upstream `extractCSRStatus`: Denied over Approved over Pending, then whether it failed and
/// whether a certificate was issued.
fn csr_condition(obj: &Value) -> String {
    let conditions = items(obj, "/status/conditions");
    let has = |kind: &str| condition(conditions, kind).is_some();
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_owned();
    if has("Failed") {
        status += ",Failed";
    }
    if !text(obj, "/status/certificate").is_empty() {
        status += ",Issued";
    }
    status
}

/// DeviceClass and ResourceClaimTemplate.
pub(super) static NAME_AND_AGE: Table = Table {
    columns: &[NAME, AGE],
    cells: |obj, now| vec![name(obj), age(obj, now)],
};

pub(super) static RESOURCE_CLAIM: Table = Table {
    columns: &[
        NAME,
        col(
            "State",
            "string",
            "A summary of the current state (allocated, pending, reserved, etc.).",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let deleted = present(obj, "/metadata/deletionTimestamp");
        let mut states = Vec::new();
        if deleted {
            states.push("deleted");
        }
        if present(obj, "/status/allocation") {
            states.push("allocated");
            if !items(obj, "/status/reservedFor").is_empty() {
                states.push("reserved");
            }
        } else if !deleted {
            states.push("pending");
        }
        vec![name(obj), states.join(",").into(), age(obj, now)]
    },
};

pub(super) static RESOURCE_SLICE: Table = Table {
    columns: &[
        NAME,
        col(
            "Node",
            "string",
            "NodeName identifies the node providing this pool.",
        ),
        col("Driver", "string", "Driver identifies the DRA driver."),
        col("Pool", "string", "Name is used to identify the pool."),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj),
            text(obj, "/spec/nodeName").into(),
            text(obj, "/spec/driver").into(),
            text(obj, "/spec/pool/name").into(),
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
    fn bindings_list_subjects_by_kind() {
        let binding = json!({
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"kind": "User", "name": "alice"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "namespace": "ci", "name": "runner"},
                {"kind": "User", "name": "bob"},
            ],
        });
        let cells = ROLE_BINDING.cells(&binding, now());
        assert_eq!(cells[1], json!("ClusterRole/view"));
        assert_eq!(
            cells[3..],
            [json!("alice, bob"), json!("devs"), json!("ci/runner")]
        );
    }

    #[test]
    fn csr_budget_and_claim_states() {
        let csr = json!({
            "spec": {"signerName": "kubernetes.io/kubelet-serving", "username": "system:node:a",
                     "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved"}], "certificate": "LS0t"},
        });
        let cells = CERTIFICATE_SIGNING_REQUEST.cells(&csr, now());
        assert_eq!(cells[4..], [json!("24h"), json!("Approved,Issued")]);

        let pdb = json!({"spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        let cells = POD_DISRUPTION_BUDGET.cells(&pdb, now());
        assert_eq!(cells[1..4], [json!("50%"), json!("N/A"), json!(1)]);

        let claim = json!({"status": {"allocation": {}, "reservedFor": [{"name": "pod"}]}});
        assert_eq!(
            RESOURCE_CLAIM.cells(&claim, now())[1],
            json!("allocated,reserved")
        );
        let deleted = json!({"metadata": {"deletionTimestamp": "2024-05-01T11:00:00Z"}});
        assert_eq!(RESOURCE_CLAIM.cells(&deleted, now())[1], json!("deleted"));
    }
}

//! Printers of the kinds with columns of their own (upstream
//! `pkg/printers/internalversion/printers.go`: `AddHandlers` and the `print*` functions).
//!
//! The server always prints the wide form (upstream's `printers/storage.TableConvertor`
//! passes `Wide: true`); kubectl hides the columns of priority 1 unless `-o wide`. So every
//! printer gives a cell for every column, and nothing is clipped to a terminal's width.
//!
//! Objects arrive as served JSON, not as upstream's internal types: an absent field reads as
//! Go's zero value, and where the conversion to the internal type renames or moves a field
//! (events.k8s.io `Event`, autoscaling/v1 `HorizontalPodAutoscaler`, a pod's `podIP`) the
//! printer reads it where the served version keeps it.
//!
//! One file per API area; `fields.rs` holds the readers and formatters they share.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{Column, DefaultPrinter, Printer};

mod autoscaling;
mod cluster;
mod control_plane;
mod core;
mod event;
mod fields;
mod networking;
mod pod;
mod storage;
mod workloads;

/// The printer of a kind. Kinds upstream prints with the default table (Role, ClusterRole,
/// LimitRange, ...) get [`DefaultPrinter`].
pub fn for_kind(group: &str, kind: &str) -> &'static dyn Printer {
    match (group, kind) {
        ("", "Pod") => &pod::POD,
        ("", "Node") => &core::NODE,
        ("", "Service") => &core::SERVICE,
        ("", "Endpoints") => &core::ENDPOINTS,
        ("", "Namespace") => &core::NAMESPACE,
        ("", "ConfigMap") => &core::CONFIG_MAP,
        ("", "Secret") => &core::SECRET,
        ("", "ServiceAccount") => &core::SERVICE_ACCOUNT,
        ("", "ReplicationController") => &core::REPLICATION_CONTROLLER,
        ("", "PodTemplate") => &core::POD_TEMPLATE,
        ("", "ResourceQuota") => &core::RESOURCE_QUOTA,
        ("", "Event") => &event::EVENT,
        ("events.k8s.io", "Event") => &event::EVENTS_V1_EVENT,
        ("", "PersistentVolume") => &storage::PERSISTENT_VOLUME,
        ("", "PersistentVolumeClaim") => &storage::PERSISTENT_VOLUME_CLAIM,
        ("apps", "Deployment") => &workloads::DEPLOYMENT,
        ("apps", "ReplicaSet") => &workloads::REPLICA_SET,
        ("apps", "StatefulSet") => &workloads::STATEFUL_SET,
        ("apps", "DaemonSet") => &workloads::DAEMON_SET,
        ("apps", "ControllerRevision") => &workloads::CONTROLLER_REVISION,
        ("batch", "Job") => &workloads::JOB,
        ("batch", "CronJob") => &workloads::CRON_JOB,
        ("autoscaling", "HorizontalPodAutoscaler") => &autoscaling::HORIZONTAL_POD_AUTOSCALER,
        ("coordination.k8s.io", "Lease") => &cluster::LEASE,
        ("discovery.k8s.io", "EndpointSlice") => &networking::ENDPOINT_SLICE,
        ("networking.k8s.io", "Ingress") => &networking::INGRESS,
        ("networking.k8s.io", "IngressClass") => &networking::INGRESS_CLASS,
        ("networking.k8s.io", "NetworkPolicy") => &networking::NETWORK_POLICY,
        ("networking.k8s.io", "IPAddress") => &networking::IP_ADDRESS,
        ("networking.k8s.io", "ServiceCIDR") => &networking::SERVICE_CIDR,
        ("policy", "PodDisruptionBudget") => &cluster::POD_DISRUPTION_BUDGET,
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            &cluster::ROLE_BINDING
        }
        ("scheduling.k8s.io", "PriorityClass") => &cluster::PRIORITY_CLASS,
        ("storage.k8s.io", "StorageClass") => &storage::STORAGE_CLASS,
        ("storage.k8s.io", "CSIDriver") => &storage::CSI_DRIVER,
        ("storage.k8s.io", "CSINode") => &storage::CSI_NODE,
        ("storage.k8s.io", "CSIStorageCapacity") => &storage::CSI_STORAGE_CAPACITY,
        ("storage.k8s.io", "VolumeAttachment") => &storage::VOLUME_ATTACHMENT,
        ("storage.k8s.io", "VolumeAttributesClass") => &storage::VOLUME_ATTRIBUTES_CLASS,
        ("node.k8s.io", "RuntimeClass") => &cluster::RUNTIME_CLASS,
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            &cluster::CERTIFICATE_SIGNING_REQUEST
        }
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => &control_plane::WEBHOOK_CONFIGURATION,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            &control_plane::VALIDATING_ADMISSION_POLICY
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            &control_plane::VALIDATING_ADMISSION_POLICY_BINDING
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => &control_plane::FLOW_SCHEMA,
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => {
            &control_plane::PRIORITY_LEVEL_CONFIGURATION
        }
        ("resource.k8s.io", "DeviceClass" | "ResourceClaimTemplate") => &cluster::NAME_AND_AGE,
        ("resource.k8s.io", "ResourceClaim") => &cluster::RESOURCE_CLAIM,
        ("resource.k8s.io", "ResourceSlice") => &cluster::RESOURCE_SLICE,
        _ => &DefaultPrinter,
    }
}

/// A printer made of its columns and a function from an object to its cells, one per column.
struct Table {
    columns: &'static [Column],
    cells: fn(&Value, Timestamp) -> Vec<Value>,
}

impl Printer for Table {
    fn columns(&self) -> &'static [Column] {
        self.columns
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        (self.cells)(obj, now)
    }
}

/// A column shown by default.
const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 0,
    }
}

/// A column shown only with `-o wide`.
const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        priority: 1,
        ..col(name, kind, description)
    }
}

const NAME: Column = Column {
    format: "name",
    ..col("Name", "string", "Name must be unique within a namespace.")
};

const AGE: Column = col(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Names of each container in the template.",
);

const IMAGES: Column = wide(
    "Images",
    "string",
    "Images referenced by each container in the template.",
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every kind the server serves that upstream prints with columns of its own.
    const PRINTED: &[(&str, &str)] = &[
        ("", "Pod"),
        ("", "Node"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "Namespace"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "ReplicationController"),
        ("", "PodTemplate"),
        ("", "ResourceQuota"),
        ("", "Event"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("events.k8s.io", "Event"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("coordination.k8s.io", "Lease"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("policy", "PodDisruptionBudget"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "CSIStorageCapacity"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
        ),
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
        ),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding",
        ),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceClaim"),
        ("resource.k8s.io", "ResourceClaimTemplate"),
        ("resource.k8s.io", "ResourceSlice"),
    ];

    /// Served kinds that upstream prints with the default table.
    const DEFAULT: &[(&str, &str)] = &[
        ("", "LimitRange"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
    ];

    fn is_default(printer: &dyn Printer) -> bool {
        std::ptr::eq(printer.columns(), DefaultPrinter.columns())
    }

    #[test]
    fn kinds_get_their_own_printer_or_the_default_one() {
        for &(group, kind) in PRINTED {
            assert!(!is_default(for_kind(group, kind)), "{group}/{kind}");
        }
        for &(group, kind) in DEFAULT {
            assert!(is_default(for_kind(group, kind)), "{group}/{kind}");
        }
    }

    #[test]
    fn every_printer_survives_sparse_objects_with_a_cell_per_column() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().expect("a valid timestamp");
        let sparse = [
            json!({}),
            json!({"metadata": {"name": "x"}}),
            json!({"metadata": null, "spec": null, "status": null}),
            json!({"spec": {"template": null}, "status": {"conditions": [{}], "hard": {}}}),
        ];
        for &(group, kind) in PRINTED.iter().chain(DEFAULT) {
            let printer = for_kind(group, kind);
            let columns = printer.columns();
            assert_eq!(
                columns.iter().filter(|c| c.format == "name").count(),
                if kind == "VolumeAttachment" { 2 } else { 1 },
                "{group}/{kind}: name columns"
            );
            for obj in &sparse {
                let cells = printer.cells(obj, now);
                assert_eq!(cells.len(), columns.len(), "{group}/{kind} on {obj}");
                for (cell, column) in cells.iter().zip(columns) {
                    match column.kind {
                        "integer" => assert!(cell.is_i64(), "{group}/{kind} {}", column.name),
                        "date" => assert!(cell.is_null() || cell.is_string()),
                        _ => assert!(!cell.is_null(), "{group}/{kind} {}", column.name),
                    }
                }
            }
        }
    }

    #[test]
    fn the_name_column_comes_first_except_for_events() {
        for &(group, kind) in PRINTED {
            let first = &for_kind(group, kind).columns()[0];
            let event = kind == "Event";
            assert_eq!(first.format == "name", !event, "{group}/{kind}");
        }
    }
}

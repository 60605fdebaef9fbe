//! Volumes and storage.k8s.io: PersistentVolume, PersistentVolumeClaim, StorageClass,
//! VolumeAttributesClass, VolumeAttachment, CSIDriver, CSINode and CSIStorageCapacity.

use serde_json::Value;

use super::fields::{
    access_modes, annotation, at, count, flag, items, name, opt_flag, opt_text, or, present,
    quantity, text,
};
use super::{AGE, Column, NAME, Table, col, wide};
use crate::table::age;

/// Before `storageClassName` existed the class was this annotation, which still wins.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// `Terminating` once deletion began, else the phase.
fn phase(obj: &Value) -> &str {
    if present(obj, "/metadata/deletionTimestamp") {
        "Terminating"
    } else {
        text(obj, "/status/phase")
    }
}

fn class(obj: &Value) -> &str {
    annotation(obj, BETA_STORAGE_CLASS).unwrap_or_else(|| text(obj, "/spec/storageClassName"))
}

fn unset(obj: &Value, pointer: &str) -> Value {
    opt_text(obj, pointer).unwrap_or("<unset>").into()
}

const ATTRIBUTES_CLASS: Column = col("VolumeAttributesClass", "string", "");

pub(super) static PERSISTENT_VOLUME: Table = Table {
    columns: &[
        NAME,
        col("Capacity", "string", "capacity of the persistent volume."),
        col(
            "Access Modes",
            "string",
            "accessModes contains all ways the volume can be mounted.",
        ),
        col(
            "Reclaim Policy",
            "string",
            "What happens to the volume when released from its claim.",
        ),
        col(
            "Status",
            "string",
            "phase: whether the volume is available, bound or released.",
        ),
        col("Claim", "string", "claimRef binds the volume to a claim."),
        col("StorageClass", "string", "StorageClass of the pv"),
        Column {
            description: "VolumeAttributesClass of the pv",
            ..ATTRIBUTES_CLASS
        },
        col(
            "Reason",
            "string",
            "reason is a brief CamelCase string that describes any failure.",
        ),
        AGE,
        wide(
            "VolumeMode",
            "string",
            "volumeMode: a filesystem or a raw block device.",
        ),
    ],
    cells: |obj, now| {
        let claim = match at(obj, "/spec/claimRef") {
            Some(claim) => format!("{}/{}", text(claim, "/namespace"), text(claim, "/name")),
            None => String::new(),
        };
        vec![
            name(obj),
            quantity(at(obj, "/spec/capacity/storage")).into(),
            access_modes(items(obj, "/spec/accessModes")).into(),
            text(obj, "/spec/persistentVolumeReclaimPolicy").into(),
            phase(obj).into(),
            claim.into(),
            class(obj).into(),
            unset(obj, "/spec/volumeAttributesClassName"),
            text(obj, "/status/reason").into(),
            age(obj, now),
            unset(obj, "/spec/volumeMode"),
        ]
    },
};

pub(super) static PERSISTENT_VOLUME_CLAIM: Table = Table {
    columns: &[
        NAME,
        col(
            "Status",
            "string",
            "phase represents the current phase of PersistentVolumeClaim.",
        ),
        col(
            "Volume",
            "string",
            "volumeName binds the claim to a PersistentVolume.",
        ),
        col("Capacity", "string", "capacity of the underlying volume."),
        col(
            "Access Modes",
            "string",
            "accessModes of the volume backing the claim.",
        ),
        col("StorageClass", "string", "StorageClass of the pvc"),
        Column {
            description: "VolumeAttributesClass of the pvc",
            ..ATTRIBUTES_CLASS
        },
        AGE,
        wide(
            "VolumeMode",
            "string",
            "volumeMode: the type of volume the claim requires.",
        ),
    ],
    cells: |obj, now| {
        // Capacity and access modes are the bound volume's, so only shown once bound.
        let volume = text(obj, "/spec/volumeName");
        let (capacity, modes) = match volume {
            "" => (String::new(), String::new()),
            _ => (
                quantity(at(obj, "/status/capacity/storage")),
                access_modes(items(obj, "/status/accessModes")),
            ),
        };
        vec![
            name(obj),
            phase(obj).into(),
            volume.into(),
            capacity.into(),
            modes.into(),
            class(obj).into(),
            unset(obj, "/spec/volumeAttributesClassName"),
            age(obj, now),
            unset(obj, "/spec/volumeMode"),
        ]
    },
};

/// ` (default)` after the name of a class annotated as the default.
fn name_marking_default(obj: &Value, annotations: &[&str]) -> Value {
    let default = annotations
        .iter()
        .any(|a| annotation(obj, a) == Some("true"));
    match default {
        true => format!("{} (default)", text(obj, "/metadata/name")).into(),
        false => name(obj),
    }
}

pub(super) static STORAGE_CLASS: Table = Table {
    columns: &[
        NAME,
        col(
            "Provisioner",
            "string",
            "provisioner indicates the type of the provisioner.",
        ),
        col(
            "ReclaimPolicy",
            "string",
            "reclaimPolicy of the volumes this class provisions.",
        ),
        col(
            "VolumeBindingMode",
            "string",
            "volumeBindingMode: how claims are provisioned and bound.",
        ),
        col(
            "AllowVolumeExpansion",
            "string",
            "allowVolumeExpansion: whether volumes may be expanded.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        const DEFAULT: [&str; 2] = [
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        ];
        vec![
            name_marking_default(obj, &DEFAULT),
            text(obj, "/provisioner").into(),
            opt_text(obj, "/reclaimPolicy").unwrap_or("Delete").into(),
            opt_text(obj, "/volumeBindingMode")
                .unwrap_or("Immediate")
                .into(),
            flag(obj, "/allowVolumeExpansion").into(),
            age(obj, now),
        ]
    },
};

pub(super) static VOLUME_ATTRIBUTES_CLASS: Table = Table {
    columns: &[
        NAME,
        col("DriverName", "string", "Name of the CSI driver"),
        AGE,
    ],
    cells: |obj, now| {
        const DEFAULT: [&str; 1] = ["volumeattributesclass.alpha.kubernetes.io/is-default-class"];
        let driver = text(obj, "/driverName").into();
        vec![name_marking_default(obj, &DEFAULT), driver, age(obj, now)]
    },
};

pub(super) static VOLUME_ATTACHMENT: Table = Table {
    columns: &[
        NAME,
        // Upstream marks this column as a name too.
        Column {
            format: "name",
            ..col(
                "Attacher",
                "string",
                "Attacher indicates the name of the volume driver.",
            )
        },
        col(
            "PV",
            "string",
            "persistentVolumeName: the persistent volume to attach.",
        ),
        col(
            "Node",
            "string",
            "nodeName: the node to attach the volume to.",
        ),
        col(
            "Attached",
            "boolean",
            "attached indicates the volume is successfully attached.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj),
            text(obj, "/spec/attacher").into(),
            text(obj, "/spec/source/persistentVolumeName").into(),
            text(obj, "/spec/nodeName").into(),
            flag(obj, "/status/attached").into(),
            age(obj, now),
        ]
    },
};

pub(super) static CSI_DRIVER: Table = Table {
    columns: &[
        NAME,
        col(
            "AttachRequired",
            "boolean",
            "attachRequired: the driver needs an attach operation.",
        ),
        col(
            "PodInfoOnMount",
            "boolean",
            "podInfoOnMount: the driver needs pod information to mount.",
        ),
        col(
            "StorageCapacity",
            "boolean",
            "storageCapacity: scheduling considers storage capacity.",
        ),
        col(
            "TokenRequests",
            "string",
            "tokenRequests: audiences of the tokens the driver needs.",
        ),
        col(
            "RequiresRepublish",
            "boolean",
            "requiresRepublish: NodePublishVolume is called periodically.",
        ),
        col(
            "Modes",
            "string",
            "volumeLifecycleModes the driver supports.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let tokens = match at(obj, "/spec/tokenRequests") {
            None => "<unset>".to_owned(),
            Some(requests) => {
                let requests = requests.as_array().map_or(&[][..], Vec::as_slice);
                let audiences: Vec<&str> = requests.iter().map(|t| text(t, "/audience")).collect();
                audiences.join(",")
            }
        };
        let modes: Vec<&str> = items(obj, "/spec/volumeLifecycleModes")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        vec![
            name(obj),
            opt_flag(obj, "/spec/attachRequired").unwrap_or(true).into(),
            flag(obj, "/spec/podInfoOnMount").into(),
            flag(obj, "/spec/storageCapacity").into(),
            tokens.into(),
            flag(obj, "/spec/requiresRepublish").into(),
            or(&modes.join(","), "<none>").into(),
            age(obj, now),
        ]
    },
};

pub(super) static CSI_NODE: Table = Table {
    columns: &[
        NAME,
        col(
            "Drivers",
            "integer",
            "Drivers indicates the number of CSI drivers registered on the node",
        ),
        AGE,
    ],
    cells: |obj, now| vec![name(obj), count(obj, "/spec/drivers").into(), age(obj, now)],
};

pub(super) static CSI_STORAGE_CAPACITY: Table = Table {
    columns: &[
        NAME,
        col(
            "StorageClassName",
            "string",
            "storageClassName the capacity applies to.",
        ),
        col("Capacity", "string", "capacity reported by the CSI driver."),
    ],
    cells: |obj, _now| {
        let capacity = match at(obj, "/capacity") {
            Some(capacity) => quantity(Some(capacity)),
            None => "<unset>".to_owned(),
        };
        let class = text(obj, "/storageClassName").into();
        vec![name(obj), class, capacity.into()]
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
    fn volumes_and_claims() {
        let volume = json!({
            "metadata": {"name": "pv-1", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "claimRef": {"namespace": "default", "name": "data"},
                "storageClassName": "standard",
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Bound"},
        });
        assert_eq!(
            PERSISTENT_VOLUME.cells(&volume, now()),
            vec![
                json!("pv-1"),
                json!("10Gi"),
                json!("RWO"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("standard"),
                json!("<unset>"),
                json!(""),
                json!("60m"),
                json!("Filesystem"),
            ]
        );
        let pending = json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}},
                             "status": {"phase": "Pending"}});
        let cells = PERSISTENT_VOLUME_CLAIM.cells(&pending, now());
        assert_eq!(
            cells[1..6],
            [json!("Pending"), json!(""), json!(""), json!(""), json!("")]
        );
    }

    #[test]
    fn default_storage_class_is_marked() {
        let class = json!({
            "metadata": {"name": "standard", "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true",
            }},
            "provisioner": "rancher.io/local-path",
            "volumeBindingMode": "WaitForFirstConsumer",
        });
        let cells = STORAGE_CLASS.cells(&class, now());
        assert_eq!(
            cells[..5],
            [
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
            ]
        );
    }
}

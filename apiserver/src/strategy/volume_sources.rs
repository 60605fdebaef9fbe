//! The per-source checks of volumes that need more than a required field or two (upstream
//! `validateHostPathVolumeSource`, `validateDownwardAPIVolumeFile`,
//! `validateProjectionSources`, `ValidateCSIDriverName`, `ValidatePersistentVolumeClaimTemplate`)
//! and the required fields of the in-tree plugins.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, PersistentVolumeClaimTemplate, Volume, VolumeProjection,
};

use crate::error::FieldError;
use crate::strategy::checks::quote;
use crate::strategy::container_env::{self, RESOURCE_FIELD_PATHS, VOLUME_FIELD_PATHS};
use crate::strategy::quantity::Quantity;
use crate::strategy::resource_validation::bad_quantity;
use crate::strategy::validation;
use crate::strategy::volume_validation::{
    key_to_path, local_non_reserved_path, mode, no_backsteps,
};

/// The in-tree plugins upstream still validates: the required fields of the first source
/// (the others were already refused).
pub fn legacy_source(vol: &Volume, first: &str, at: &str, out: &mut Vec<FieldError>) {
    let empty = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
    let fields: Vec<(&str, bool)> = match first {
        "gcePersistentDisk" => vol
            .gce_persistent_disk
            .iter()
            .flat_map(|s| {
                partition(s.partition, &format!("{at}.persistentDisk.partition"), out);
                [("persistentDisk.pdName", s.pd_name.is_empty())]
            })
            .collect(),
        "awsElasticBlockStore" => vol
            .aws_elastic_block_store
            .iter()
            .flat_map(|s| {
                partition(
                    s.partition,
                    &format!("{at}.awsElasticBlockStore.partition"),
                    out,
                );
                [("awsElasticBlockStore.volumeID", s.volume_id.is_empty())]
            })
            .collect(),
        "iscsi" => vol
            .iscsi
            .iter()
            .flat_map(|s| {
                if !(0..=255).contains(&s.lun) {
                    let why = "must be between 0 and 255, inclusive";
                    out.push(FieldError::invalid(
                        format!("{at}.iscsi.lun"),
                        s.lun.to_string(),
                        why,
                    ));
                }
                [
                    ("iscsi.targetPortal", s.target_portal.is_empty()),
                    ("iscsi.iqn", s.iqn.is_empty()),
                ]
            })
            .collect(),
        "glusterfs" => vol
            .glusterfs
            .iter()
            .flat_map(|s| {
                [
                    ("glusterfs.endpoints", s.endpoints.is_empty()),
                    ("glusterfs.path", s.path.is_empty()),
                ]
            })
            .collect(),
        "rbd" => vol
            .rbd
            .iter()
            .flat_map(|s| {
                [
                    ("rbd.monitors", s.monitors.is_empty()),
                    ("rbd.image", s.image.is_empty()),
                ]
            })
            .collect(),
        "cinder" => vol
            .cinder
            .iter()
            .map(|s| ("cinder.volumeID", s.volume_id.is_empty()))
            .collect(),
        "cephFS" => vol
            .cephfs
            .iter()
            .map(|s| ("cephfs.monitors", s.monitors.is_empty()))
            .collect(),
        "quobyte" => vol
            .quobyte
            .iter()
            .flat_map(|s| {
                if s.registry.is_empty() {
                    out.push(FieldError::required(
                        format!("{at}.quobyte.registry"),
                        "must be a host:port pair or multiple pairs separated by commas",
                    ));
                }
                [("quobyte.volume", s.volume.is_empty())]
            })
            .collect(),
        "flexVolume" => vol
            .flex_volume
            .iter()
            .map(|s| ("flexVolume.driver", s.driver.is_empty()))
            .collect(),
        "azureFile" => vol
            .azure_file
            .iter()
            .flat_map(|s| {
                [
                    ("azureFile.secretName", s.secret_name.is_empty()),
                    ("azureFile.shareName", s.share_name.is_empty()),
                ]
            })
            .collect(),
        "azureDisk" => vol
            .azure_disk
            .iter()
            .flat_map(|s| {
                [
                    ("azureDisk.diskName", s.disk_name.is_empty()),
                    ("azureDisk.diskURI", s.disk_uri.is_empty()),
                ]
            })
            .collect(),
        "vsphereVolume" => vol
            .vsphere_volume
            .iter()
            .map(|s| ("vsphereVolume.volumePath", s.volume_path.is_empty()))
            .collect(),
        "photonPersistentDisk" => vol
            .photon_persistent_disk
            .iter()
            .map(|s| ("photonPersistentDisk.pdID", s.pd_id.is_empty()))
            .collect(),
        "portworxVolume" => vol
            .portworx_volume
            .iter()
            .map(|s| ("portworxVolume.volumeID", s.volume_id.is_empty()))
            .collect(),
        "scaleIO" => vol
            .scale_io
            .iter()
            .flat_map(|s| {
                [
                    ("scaleIO.gateway", s.gateway.is_empty()),
                    ("scaleIO.system", s.system.is_empty()),
                    ("scaleIO.volumeName", empty(&s.volume_name)),
                ]
            })
            .collect(),
        "storageos" => vol
            .storageos
            .iter()
            .map(|s| ("storageos.volumeName", empty(&s.volume_name)))
            .collect(),
        "fc" => {
            let none = |v: &Option<Vec<String>>| v.as_ref().is_none_or(Vec::is_empty);
            if vol
                .fc
                .as_ref()
                .is_some_and(|s| none(&s.target_wwns) && none(&s.wwids))
            {
                out.push(FieldError::required(
                    format!("{at}.fc.targetWWNs"),
                    "must specify either targetWWNs or wwids, but not both",
                ));
            }
            Vec::new()
        }
        _ => {
            if vol
                .flocker
                .as_ref()
                .is_some_and(|s| empty(&s.dataset_name) && empty(&s.dataset_uuid))
            {
                let why = "one of datasetName and datasetUUID is required";
                out.push(FieldError::required(format!("{at}.flocker"), why));
            }
            Vec::new()
        }
    };
    for (field, empty) in fields {
        if empty {
            out.push(FieldError::required(format!("{at}.{field}"), ""));
        }
    }
}

fn partition(value: Option<i32>, field: &str, out: &mut Vec<FieldError>) {
    if let Some(p) = value.filter(|p| !(0..=255).contains(p)) {
        out.push(FieldError::invalid(
            field,
            p.to_string(),
            "must be between 1 and 255, inclusive",
        ));
    }
}

pub fn host_path(path: &str, kind: Option<&str>, at: &str, out: &mut Vec<FieldError>) {
    if path.is_empty() {
        out.push(FieldError::required(format!("{at}.path"), ""));
        return;
    }
    no_backsteps(path, &format!("{at}.path"), out);
    const TYPES: &[&str] = &[
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ];
    if let Some(kind) = kind.filter(|k| !TYPES.contains(k)) {
        out.push(FieldError::not_supported(format!("{at}.type"), kind, TYPES));
    }
}

/// `validateDownwardAPIVolumeFile`; `path` is the volume's (upstream does not index files).
pub fn downward_file(file: &DownwardAPIVolumeFile, path: &str, out: &mut Vec<FieldError>) {
    if file.path.is_empty() {
        out.push(FieldError::required(format!("{path}.path"), ""));
    }
    local_non_reserved_path(&file.path, &format!("{path}.path"), out);
    match (&file.field_ref, &file.resource_field_ref) {
        (Some(field_ref), resource) => {
            let at = format!("{path}.fieldRef");
            container_env::object_field_selector(field_ref, VOLUME_FIELD_PATHS, &at, out);
            if resource.is_some() {
                out.push(FieldError::invalid(
                    path,
                    "\"resource\"",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(resource)) => {
            let at = format!("{path}.resourceFieldRef");
            if resource.container_name.as_deref().is_none_or(str::is_empty) {
                out.push(FieldError::required(format!("{at}.containerName"), ""));
            } else if resource.resource.is_empty() {
                out.push(FieldError::required(format!("{at}.resource"), ""));
            } else if !RESOURCE_FIELD_PATHS.contains(&resource.resource.as_str())
                && !resource.resource.starts_with("requests.hugepages-")
                && !resource.resource.starts_with("limits.hugepages-")
            {
                let field = format!("{at}.resource");
                out.push(FieldError::not_supported(
                    field,
                    &resource.resource,
                    RESOURCE_FIELD_PATHS,
                ));
            }
        }
        (None, None) => out.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    mode(file.mode, &format!("{path}.mode"), out);
}

/// `validateProjectionSources`.
pub fn projections(sources: &[VolumeProjection], path: &str, out: &mut Vec<FieldError>) {
    let mut paths = HashSet::new();
    for (i, source) in sources.iter().enumerate() {
        let at = format!("{path}.sources[{i}]");
        let mut count = 0;
        let mut claim = |p: &str, shown: &str, out: &mut Vec<FieldError>| {
            if !p.is_empty() && !paths.insert(p.to_owned()) {
                out.push(FieldError::invalid(
                    path,
                    quote(shown),
                    "conflicting duplicate paths",
                ));
            }
        };
        for (kind, name, items) in [
            (
                "secret",
                source.secret.as_ref().map(|s| (&s.name, &s.items)),
            ),
            (
                "configMap",
                source.config_map.as_ref().map(|s| (&s.name, &s.items)),
            ),
        ]
        .into_iter()
        .filter_map(|(kind, v)| v.map(|(n, i)| (kind, n, i)))
        {
            count += 1;
            if name.is_empty() {
                out.push(FieldError::required(format!("{at}.{kind}.name"), ""));
            }
            for (j, item) in items.iter().flatten().enumerate() {
                key_to_path(item, &format!("{at}.{kind}.items[{j}]"), out);
                claim(&item.path, name, out);
            }
        }
        if let Some(downward) = &source.downward_api {
            count += 1;
            for file in downward.items.iter().flatten() {
                downward_file(file, &format!("{at}.downwardAPI"), out);
                claim(&file.path, &file.path, out);
            }
        }
        if let Some(token) = &source.service_account_token {
            count += 1;
            let expiration = token.expiration_seconds.unwrap_or(0);
            let field = format!("{at}.serviceAccountToken.expirationSeconds");
            if expiration < 600 {
                let why = "may not specify a duration less than 10 minutes";
                out.push(FieldError::invalid(&field, expiration.to_string(), why));
            }
            if expiration > 1 << 32 {
                let why = "may not specify a duration larger than 2^32 seconds";
                out.push(FieldError::invalid(field, expiration.to_string(), why));
            }
            if token.path.is_empty() {
                out.push(FieldError::required(format!("{path}.path"), ""));
            } else {
                local_non_reserved_path(&token.path, &format!("{path}.path"), out);
            }
        }
        if let Some(bundle) = &source.cluster_trust_bundle {
            count += 1;
            if bundle.name.is_none() && bundle.signer_name.is_none() {
                let why = "either name or signerName must be specified";
                out.push(FieldError::required(
                    format!("{at}.clusterTrustBundle"),
                    why,
                ));
            }
            if bundle.path.is_empty() {
                out.push(FieldError::required(
                    format!("{at}.clusterTrustBundle.path"),
                    "",
                ));
            }
            local_non_reserved_path(&bundle.path, &format!("{at}.clusterTrustBundle.path"), out);
            claim(&bundle.path, &bundle.path, out);
        }
        count += usize::from(source.pod_certificate.is_some());
        if count > 1 {
            let why = "may not specify more than 1 volume type per source";
            out.push(FieldError::forbidden(at, why));
        }
    }
}

pub fn csi_driver(driver: &str, field: &str, out: &mut Vec<FieldError>) {
    if driver.is_empty() {
        out.push(FieldError::required(field, ""));
    }
    if driver.len() > 63 {
        out.push(FieldError::too_long(field, 63));
    }
    for e in validation::dns1123_subdomain(&driver.to_lowercase()) {
        out.push(FieldError::invalid(field, quote(driver), e));
    }
}

/// `ValidatePersistentVolumeClaimTemplate`, reduced to what a claim needs to be created:
/// template metadata limited to labels and annotations, access modes and a storage request.
pub fn claim_template(t: &PersistentVolumeClaimTemplate, at: &str, out: &mut Vec<FieldError>) {
    if let Some(meta) = &t.metadata {
        if let Some(annotations) = &meta.annotations {
            validation::annotations(annotations, &format!("{at}.metadata.annotations"), out);
        }
        if let Some(labels) = &meta.labels {
            validation::labels(labels, &format!("{at}.metadata.labels"), out);
        }
        let mut rest = meta.clone();
        rest.labels = None;
        rest.annotations = None;
        let rest = serde_json::to_value(&rest).unwrap_or_default();
        for field in rest.as_object().into_iter().flat_map(|o| o.keys()) {
            out.push(FieldError::forbidden(
                format!("{at}.metadata.{field}"),
                "cannot be set",
            ));
        }
    }
    let spec = &t.spec;
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        let why = "at least 1 access mode is required";
        out.push(FieldError::required(format!("{at}.spec.accessModes"), why));
    }
    const MODES: &[&str] = &[
        "ReadOnlyMany",
        "ReadWriteMany",
        "ReadWriteOnce",
        "ReadWriteOncePod",
    ];
    for m in modes.iter().filter(|m| !MODES.contains(&m.as_str())) {
        out.push(FieldError::not_supported(
            format!("{at}.spec.accessModes"),
            m,
            MODES,
        ));
    }
    let storage = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    let field = format!("{at}.spec.resources[storage]");
    match storage.map(|q| (q, Quantity::parse(&q.0))) {
        None => out.push(FieldError::required(field, "")),
        Some((raw, Err(_))) => out.push(bad_quantity(&raw.0, &field)),
        Some((_, Ok(q))) if q <= Quantity::zero() => {
            out.push(FieldError::invalid(
                field,
                quote(&q.canonical()),
                "must be greater than zero",
            ));
        }
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::strategy::pod_validation::testing::{spec_errors, table};
    use serde_json::json;

    #[test]
    fn source_rules() {
        table(
            spec_errors,
            vec![
                (
                    json!({"volumes": [{"name": "h", "hostPath": {"path": "/a/../b", "type": "Folder"}}]}),
                    vec![
                        "spec.volumes[0].hostPath.path: Invalid value: \"/a/../b\": must not contain '..'",
                        "spec.volumes[0].hostPath.type: Unsupported value: \"Folder\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "d", "downwardAPI": {"items": [{"path": "labels"}]}}]}),
                    vec![
                        "spec.volumes[0].downwardAPI: Required value: one of fieldRef and resourceFieldRef is required",
                    ],
                ),
                (
                    json!({"serviceAccountName": "sa", "volumes": [{"name": "p", "projected": {"sources": [
                {"configMap": {"name": "a", "items": [{"key": "k", "path": "x"}]}},
                {"secret": {"name": "b", "items": [{"key": "k", "path": "x"}]}},
                {"serviceAccountToken": {"path": "t", "expirationSeconds": 60}}]}}]}),
                    vec![
                        "spec.volumes[0].projected: Invalid value: \"b\": conflicting duplicate paths",
                        "spec.volumes[0].projected.sources[2].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]}),
                    vec![
                        "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.accessModes: Required value: at least 1 access mode is required",
                        "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources[storage]: Required value",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "r", "rbd": {"monitors": [], "image": ""}}]}),
                    vec![
                        "spec.volumes[0].rbd.monitors: Required value",
                        "spec.volumes[0].rbd.image: Required value",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "c", "csi": {"driver": "Bad_Driver"}}]}),
                    vec![
                        "spec.volumes[0].csi.driver: Invalid value: \"Bad_Driver\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                    ],
                ),
            ],
        );
    }
}

//! Validation of a pod spec's volumes (upstream `pkg/apis/core/validation/validation.go`:
//! `ValidateVolumes`, `validateVolumeSource` and the per-source checks). Only a volume
//! without errors can be mounted, as upstream: a mount of a broken volume is "Not found".

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{KeyToPath, Volume};

use crate::error::FieldError;
use crate::strategy::checks::{self, quote};
use crate::strategy::quantity::Quantity;
use crate::strategy::resource_validation::bad_quantity;
use crate::strategy::{validation, volume_sources};

const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const MORE_THAN_ONE: &str = "may not specify more than 1 volume type";

/// `ValidateVolumes`: the volumes that passed, by name. `pod_name` is the pod's name when
/// validating a pod (not a template); `is_pod` enables pod-only rules.
pub fn volumes<'a>(
    list: &'a [Volume],
    pod_name: Option<&str>,
    is_pod: bool,
    path: &str,
    out: &mut Vec<FieldError>,
) -> BTreeMap<String, &'a Volume> {
    let created_claims: HashSet<String> = match pod_name.filter(|n| !n.is_empty()) {
        Some(pod) => list
            .iter()
            .filter(|v| v.ephemeral.is_some())
            .map(|v| format!("{pod}-{}", v.name))
            .collect(),
        None => HashSet::new(),
    };
    let mut valid = BTreeMap::new();
    for (i, vol) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let mut errors = Vec::new();
        source(vol, pod_name, is_pod, &at, &mut errors);
        if vol.name.is_empty() {
            errors.push(FieldError::required(format!("{at}.name"), ""));
        } else {
            checks::dns_label_field(&vol.name, &format!("{at}.name"), &mut errors);
        }
        if valid.contains_key(&vol.name) {
            errors.push(FieldError::duplicate(
                format!("{at}.name"),
                quote(&vol.name),
            ));
        }
        if errors.is_empty() {
            valid.insert(vol.name.clone(), vol);
        } else {
            out.extend(errors);
        }
        if let Some(claim) = &vol.persistent_volume_claim
            && created_claims.contains(&claim.claim_name)
        {
            out.push(FieldError::invalid(
                format!("{at}.persistentVolumeClaim.claimName"),
                quote(&claim.claim_name),
                "must not reference a PVC that gets created for an ephemeral volume",
            ));
        }
    }
    valid
}

/// `validateVolumeSource`: exactly one source, checked in upstream's order. Paths keep
/// upstream's spellings (`downwarAPI`, `persistentDisk`, `cephfs`).
fn source(vol: &Volume, pod_name: Option<&str>, is_pod: bool, at: &str, out: &mut Vec<FieldError>) {
    let set = [
        ("emptyDir", vol.empty_dir.is_some()),
        ("hostPath", vol.host_path.is_some()),
        ("gitRepo", vol.git_repo.is_some()),
        ("gcePersistentDisk", vol.gce_persistent_disk.is_some()),
        (
            "awsElasticBlockStore",
            vol.aws_elastic_block_store.is_some(),
        ),
        ("secret", vol.secret.is_some()),
        ("nfs", vol.nfs.is_some()),
        ("iscsi", vol.iscsi.is_some()),
        ("glusterfs", vol.glusterfs.is_some()),
        ("flocker", vol.flocker.is_some()),
        (
            "persistentVolumeClaim",
            vol.persistent_volume_claim.is_some(),
        ),
        ("rbd", vol.rbd.is_some()),
        ("cinder", vol.cinder.is_some()),
        ("cephFS", vol.cephfs.is_some()),
        ("quobyte", vol.quobyte.is_some()),
        ("downwarAPI", vol.downward_api.is_some()),
        ("fc", vol.fc.is_some()),
        ("flexVolume", vol.flex_volume.is_some()),
        ("configMap", vol.config_map.is_some()),
        ("azureFile", vol.azure_file.is_some()),
        ("vsphereVolume", vol.vsphere_volume.is_some()),
        ("photonPersistentDisk", vol.photon_persistent_disk.is_some()),
        ("portworxVolume", vol.portworx_volume.is_some()),
        ("azureDisk", vol.azure_disk.is_some()),
        ("storageos", vol.storageos.is_some()),
        ("projected", vol.projected.is_some()),
        ("scaleIO", vol.scale_io.is_some()),
        ("csi", vol.csi.is_some()),
        ("ephemeral", vol.ephemeral.is_some()),
        ("image", vol.image.is_some()),
    ];
    let mut present = set.iter().filter(|(_, on)| *on).map(|(name, _)| *name);
    let Some(first) = present.next() else {
        out.push(FieldError::required(at, "must specify a volume type"));
        return;
    };
    for extra in present {
        out.push(FieldError::forbidden(
            format!("{at}.{extra}"),
            MORE_THAN_ONE,
        ));
    }
    let required = |out: &mut Vec<FieldError>, fields: &[(&str, bool)]| {
        for (field, empty) in fields {
            if *empty {
                out.push(FieldError::required(format!("{at}.{field}"), ""));
            }
        }
    };
    match first {
        "emptyDir" => {
            let limit = vol.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
            if limit.is_some_and(|q| Quantity::parse(&q.0).is_ok_and(|q| q.is_negative())) {
                out.push(FieldError::forbidden(
                    format!("{at}.emptyDir.sizeLimit"),
                    "SizeLimit field must be a valid resource quantity",
                ));
            } else if let Some(q) = limit.filter(|q| Quantity::parse(&q.0).is_err()) {
                out.push(bad_quantity(&q.0, &format!("{at}.emptyDir.sizeLimit")));
            }
        }
        "hostPath" => {
            if let Some(host) = &vol.host_path {
                volume_sources::host_path(
                    &host.path,
                    host.type_.as_deref(),
                    &format!("{at}.hostPath"),
                    out,
                );
            }
        }
        "gitRepo" => {
            if let Some(git) = &vol.git_repo {
                required(out, &[("gitRepo.repository", git.repository.is_empty())]);
                let dir = git.directory.as_deref().unwrap_or_default();
                local_descending_path(dir, &format!("{at}.gitRepo.directory"), out);
            }
        }
        "secret" => {
            if let Some(secret) = &vol.secret {
                required(
                    out,
                    &[(
                        "secret.secretName",
                        secret.secret_name.as_deref().is_none_or(str::is_empty),
                    )],
                );
                mode(
                    secret.default_mode,
                    &format!("{at}.secret.defaultMode"),
                    out,
                );
                key_to_paths(secret.items.as_deref(), &format!("{at}.secret.items"), out);
            }
        }
        "configMap" => {
            if let Some(cm) = &vol.config_map {
                required(out, &[("configMap.name", cm.name.is_empty())]);
                mode(cm.default_mode, &format!("{at}.configMap.defaultMode"), out);
                key_to_paths(cm.items.as_deref(), &format!("{at}.configMap.items"), out);
            }
        }
        "nfs" => {
            if let Some(nfs) = &vol.nfs {
                required(
                    out,
                    &[
                        ("nfs.server", nfs.server.is_empty()),
                        ("nfs.path", nfs.path.is_empty()),
                    ],
                );
                if !nfs.path.starts_with('/') {
                    let why = "must be an absolute path";
                    out.push(FieldError::invalid(
                        format!("{at}.nfs.path"),
                        quote(&nfs.path),
                        why,
                    ));
                }
            }
        }
        "persistentVolumeClaim" => {
            let empty = vol
                .persistent_volume_claim
                .as_ref()
                .is_some_and(|c| c.claim_name.is_empty());
            required(out, &[("persistentVolumeClaim.claimName", empty)]);
        }
        "downwarAPI" => {
            if let Some(downward) = &vol.downward_api {
                let path = format!("{at}.downwardAPI");
                mode(downward.default_mode, &format!("{path}.defaultMode"), out);
                for file in downward.items.iter().flatten() {
                    volume_sources::downward_file(file, &path, out);
                }
            }
        }
        "projected" => {
            if let Some(projected) = &vol.projected {
                let path = format!("{at}.projected");
                mode(projected.default_mode, &format!("{path}.defaultMode"), out);
                volume_sources::projections(
                    projected.sources.as_deref().unwrap_or_default(),
                    &path,
                    out,
                );
            }
        }
        "csi" => {
            if let Some(csi) = &vol.csi {
                volume_sources::csi_driver(&csi.driver, &format!("{at}.csi.driver"), out);
            }
        }
        "ephemeral" => {
            let template = vol
                .ephemeral
                .as_ref()
                .and_then(|e| e.volume_claim_template.as_ref());
            match template {
                None => required(out, &[("ephemeral.volumeClaimTemplate", true)]),
                Some(t) => volume_sources::claim_template(
                    t,
                    &format!("{at}.ephemeral.volumeClaimTemplate"),
                    out,
                ),
            }
            if let Some(pod) = pod_name.filter(|p| !p.is_empty() && !vol.name.is_empty()) {
                let claim = format!("{pod}-{}", vol.name);
                for e in validation::dns1123_subdomain(&claim) {
                    let why = format!("PVC name {claim:?}: {e}");
                    out.push(FieldError::invalid(
                        format!("{at}.name"),
                        quote(&vol.name),
                        why,
                    ));
                }
            }
        }
        "image" => {
            if let Some(image) = &vol.image {
                let reference = image.reference.as_deref().unwrap_or_default();
                required(out, &[("image.reference", is_pod && reference.is_empty())]);
                let policy = image.pull_policy.as_deref().unwrap_or_default();
                let field = format!("{at}.image.pullPolicy");
                match policy {
                    "Always" | "IfNotPresent" | "Never" => {}
                    "" => out.push(FieldError::required(field, "")),
                    other => out.push(FieldError::not_supported(
                        field,
                        other,
                        &["Always", "IfNotPresent", "Never"],
                    )),
                }
            }
        }
        legacy => volume_sources::legacy_source(vol, legacy, at, out),
    }
}

pub fn mode(mode: Option<i32>, field: &str, out: &mut Vec<FieldError>) {
    if let Some(m) = mode.filter(|m| !(0..=0o777).contains(m)) {
        out.push(FieldError::invalid(field, m.to_string(), FILE_MODE));
    }
}

fn key_to_paths(items: Option<&[KeyToPath]>, path: &str, out: &mut Vec<FieldError>) {
    for (i, item) in items.unwrap_or_default().iter().enumerate() {
        key_to_path(item, &format!("{path}[{i}]"), out);
    }
}

/// `validateKeyToPath`.
pub fn key_to_path(item: &KeyToPath, at: &str, out: &mut Vec<FieldError>) {
    if item.key.is_empty() {
        out.push(FieldError::required(format!("{at}.key"), ""));
    }
    if item.path.is_empty() {
        out.push(FieldError::required(format!("{at}.path"), ""));
    }
    local_non_reserved_path(&item.path, &format!("{at}.path"), out);
    mode(item.mode, &format!("{at}.mode"), out);
}

/// `validatePathNoBacksteps`: one error however many `..` there are.
pub fn no_backsteps(path: &str, field: &str, out: &mut Vec<FieldError>) {
    if path.split('/').any(|part| part == "..") {
        out.push(FieldError::invalid(
            field,
            quote(path),
            "must not contain '..'",
        ));
    }
}

/// `validateLocalDescendingPath`: relative, without `..`.
pub fn local_descending_path(path: &str, field: &str, out: &mut Vec<FieldError>) {
    if path.starts_with('/') {
        out.push(FieldError::invalid(
            field,
            quote(path),
            "must be a relative path",
        ));
    }
    no_backsteps(path, field, out);
}

/// `ValidateLocalNonReservedPath`: also not starting with `..`.
pub fn local_non_reserved_path(path: &str, field: &str, out: &mut Vec<FieldError>) {
    local_descending_path(path, field, out);
    if path.starts_with("..") && !path.starts_with("../") {
        out.push(FieldError::invalid(
            field,
            quote(path),
            "must not start with '..'",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::strategy::pod_validation::testing::{spec_errors, table};
    use serde_json::json;

    #[test]
    fn volume_rules() {
        table(
            spec_errors,
            vec![
                (
                    json!({"volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "cm"}},
                                {"name": "c", "persistentVolumeClaim": {"claimName": "data"}}]}),
                    vec![],
                ),
                // Only a valid volume claims its name (upstream's quirk): no duplicate here.
                (
                    json!({"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}, {"name": "v"}]}),
                    vec![
                        "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "v"}, {"name": "v"}]}),
                    vec!["spec.volumes[1].name: Duplicate value: \"v\""],
                ),
                (
                    json!({"volumes": [{"name": "Bad_Name"}]}),
                    vec![
                        "spec.volumes[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "s", "secret": {"defaultMode": 1000}}]}),
                    vec![
                        "spec.volumes[0].secret.secretName: Required value",
                        "spec.volumes[0].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "c", "configMap": {"name": "cm", "items": [{"key": "k", "path": "/abs"}]}}]}),
                    vec![
                        "spec.volumes[0].configMap.items[0].path: Invalid value: \"/abs\": must be a relative path",
                    ],
                ),
                (
                    json!({"volumes": [{"name": "n", "nfs": {"server": "s", "path": "rel"}}]}),
                    vec![
                        "spec.volumes[0].nfs.path: Invalid value: \"rel\": must be an absolute path",
                    ],
                ),
            ],
        );
    }
}

//! ServiceAccount (upstream `plugin/pkg/admission/serviceaccount`): a new pod runs as a
//! ServiceAccount that exists (`default` unless it names one), inherits its image pull
//! secrets, and, unless either opts out of automounting, gets the `kube-api-access-<random>`
//! projected volume (a bound token, the cluster CA and its namespace) mounted at
//! `/var/run/secrets/kubernetes.io/serviceaccount` in every container. Mirror pods (made by
//! kubelets from static manifests) may reference no ServiceAccount and no secrets.

use k8s_openapi::api::core::v1::{
    ConfigMapProjection, DownwardAPIProjection, DownwardAPIVolumeFile, KeyToPath,
    ObjectFieldSelector, Pod, ProjectedVolumeSource, ServiceAccount, ServiceAccountTokenProjection,
    Volume, VolumeMount, VolumeProjection,
};

use super::node_restriction::MIRROR_ANNOTATION;
use super::{Attributes, Operation, forbidden};
use crate::error::ApiError;
use crate::object::KubeObject;
use crate::server::ApiServer;

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const VOLUME_PREFIX: &str = "kube-api-access-";
/// An hour and seven seconds: kubelets refresh bound tokens at 80% of their lifetime, and
/// the odd seconds tell upstream's audit that a token came from this volume.
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";

fn is_pod_create(attrs: &Attributes<'_>) -> bool {
    attrs.operation == Operation::Create && attrs.is("", "pods") && attrs.subresource.is_none()
}

fn is_mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
}

/// Five characters of upstream's `utilrand.String` alphabet (no vowels, no look-alikes).
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes
        .iter()
        .take(5)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

pub async fn mutate(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    obj: &mut dyn KubeObject,
) -> Result<(), ApiError> {
    if !is_pod_create(attrs) {
        return Ok(());
    }
    let Some(pod) = obj.as_any_mut().downcast_mut::<Pod>() else {
        return Ok(());
    };
    if is_mirror(pod) {
        return Ok(());
    }
    let Some(spec) = pod.spec.as_mut() else {
        return Ok(());
    };
    let name = spec
        .service_account_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_SERVICE_ACCOUNT.to_owned());
    spec.service_account_name = Some(name.clone());
    // The deprecated alias always mirrors the name (upstream's v1 conversion writes it).
    spec.service_account = Some(name.clone());
    let Some(account) = service_account(server, attrs.namespace, &name).await? else {
        return Err(forbidden(
            attrs,
            format!(
                "error looking up service account {}/{name}: serviceaccount {name:?} not found",
                attrs.namespace
            ),
        ));
    };
    if spec.image_pull_secrets.as_ref().is_none_or(Vec::is_empty)
        && let Some(secrets) = account.image_pull_secrets.filter(|s| !s.is_empty())
    {
        spec.image_pull_secrets = Some(secrets);
    }
    let automount = spec
        .automount_service_account_token
        .or(account.automount_service_account_token)
        .unwrap_or(true);
    if !automount {
        return Ok(());
    }
    let existing = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name.starts_with(VOLUME_PREFIX))
        .map(|v| v.name.clone());
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{}", random_suffix()));
    let mount = VolumeMount {
        name: volume_name.clone(),
        read_only: Some(true),
        mount_path: TOKEN_MOUNT_PATH.to_owned(),
        ..VolumeMount::default()
    };
    let mut needs_volume = false;
    let containers = spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut());
    for container in containers {
        let mounts = container.volume_mounts.get_or_insert_with(Vec::new);
        // A container that mounts something at the token path keeps it.
        if !mounts.iter().any(|m| m.mount_path == TOKEN_MOUNT_PATH) {
            mounts.push(mount.clone());
            needs_volume = true;
        }
    }
    if existing.is_none() && needs_volume {
        spec.volumes
            .get_or_insert_with(Vec::new)
            .push(token_volume(volume_name));
    }
    Ok(())
}

/// The ServiceAccount, looked up again for a while when it is the `default` one, which the
/// namespace's creation has only just asked for (upstream `getServiceAccount`: ten tries,
/// 100 to 200 ms apart).
async fn service_account(
    server: &ApiServer,
    namespace: &str,
    name: &str,
) -> Result<Option<ServiceAccount>, ApiError> {
    let attempts = if name == DEFAULT_SERVICE_ACCOUNT {
        10
    } else {
        1
    };
    let pause =
        std::time::Duration::from_millis(100 + u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 100);
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(pause).await;
        }
        let found: Option<ServiceAccount> = server
            .lookup("serviceaccounts", Some(namespace), name)
            .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The projected volume a pod reads its token, CA and namespace from.
fn token_volume(name: String) -> Volume {
    Volume {
        name,
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(0o644),
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        expiration_seconds: Some(TOKEN_EXPIRATION_SECONDS),
                        path: "token".to_owned(),
                        audience: None,
                    }),
                    ..VolumeProjection::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: ROOT_CA_CONFIG_MAP.to_owned(),
                        items: Some(vec![KeyToPath {
                            key: "ca.crt".to_owned(),
                            path: "ca.crt".to_owned(),
                            mode: None,
                        }]),
                        optional: None,
                    }),
                    ..VolumeProjection::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".to_owned(),
                            field_ref: Some(ObjectFieldSelector {
                                api_version: Some("v1".to_owned()),
                                field_path: "metadata.namespace".to_owned(),
                            }),
                            ..DownwardAPIVolumeFile::default()
                        }]),
                    }),
                    ..VolumeProjection::default()
                },
            ]),
        }),
        ..Volume::default()
    }
}

/// Mirror pods may not reach credentials (upstream `Validate`, mirror pod branch).
pub async fn validate(
    server: &ApiServer,
    attrs: &Attributes<'_>,
    obj: Option<&dyn KubeObject>,
) -> Result<(), ApiError> {
    let _ = server;
    if !is_pod_create(attrs) {
        return Ok(());
    }
    let Some(pod) = obj.and_then(|o| o.as_any().downcast_ref::<Pod>()) else {
        return Ok(());
    };
    if !is_mirror(pod) {
        return Ok(());
    }
    let Some(spec) = &pod.spec else { return Ok(()) };
    if spec
        .service_account_name
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(forbidden(
            attrs,
            "a mirror pod may not reference service accounts",
        ));
    }
    let volumes = spec.volumes.iter().flatten();
    if volumes.clone().any(|v| v.secret.is_some()) {
        return Err(forbidden(attrs, "a mirror pod may not reference secrets"));
    }
    let projected_token = volumes
        .flat_map(|v| v.projected.iter().flat_map(|p| p.sources.iter().flatten()))
        .any(|s| s.service_account_token.is_some() || s.secret.is_some());
    if projected_token {
        return Err(forbidden(
            attrs,
            "a mirror pod may not use ServiceAccountToken or secret volume projections",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_volume_projects_token_ca_and_namespace() {
        let volume = token_volume("kube-api-access-abcde".to_owned());
        let value = serde_json::to_value(&volume).expect("json");
        assert_eq!(value["projected"]["defaultMode"], 420);
        let sources = &value["projected"]["sources"];
        assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3607);
        assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
        assert_eq!(
            sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"],
            "metadata.namespace"
        );
        let suffix = random_suffix();
        assert_eq!(suffix.len(), 5);
        assert!(
            suffix
                .bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
        );
    }
}

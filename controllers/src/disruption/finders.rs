//! The controller finders of upstream's `pkg/controller/disruption/disruption.go`: for a pod's
//! controller reference, the workload that sets how many pods there should be, and that
//! number. `maxUnavailable` and a percentage `minAvailable` are relative to the sum of these.
//!
//! Upstream tries, in order, `getPodReplicationController`, `getPodDeployment` (a ReplicaSet
//! controlled by a Deployment counts as the Deployment), `getPodReplicaSet` (a ReplicaSet not
//! controlled by a Deployment), `getPodStatefulSet`, all from informers, and last
//! `getScaleController`, a GET of the owner's `/scale` subresource. [`find_in_informers`] is
//! the first four over a [`Workloads`] view of the informers; when it answers `None` the I/O
//! half GETs `/scale` (resolving the owner's group and kind to a resource through discovery)
//! and turns the answer into a [`ScaleLookup`] with [`from_scale`] or [`scale_not_found`].
//! [`super::decide`] then receives the lookups through a closure.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::ReplicationController;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::replicaset::pods::controller_of;

/// What the I/O half found for one controller reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleLookup {
    /// The workload that counts: its UID (a Deployment's when the owner is one of its
    /// ReplicaSets, so that the ReplicaSets of one Deployment count once) and its desired
    /// replicas.
    Found { uid: String, replicas: i32 },
    /// No such workload, or one with another UID: the owner is gone or was replaced. The sync
    /// fails with "found no controllers for pod".
    NotFound,
    /// The lookup failed (an unparsable `apiVersion`, an unknown kind, a kind without a
    /// `/scale` subresource, a failed GET); the message becomes the sync's error.
    Error(String),
}

/// The informers the finders read, each answering for the PDB's namespace.
pub trait Workloads {
    fn replication_controller(&self, name: &str) -> Option<Arc<ReplicationController>>;
    fn replica_set(&self, name: &str) -> Option<Arc<ReplicaSet>>;
    fn deployment(&self, name: &str) -> Option<Arc<Deployment>>;
    fn stateful_set(&self, name: &str) -> Option<Arc<StatefulSet>>;
}

/// Upstream's informer-backed finders, in their order. `None` means none of them claims the
/// owner: ask its `/scale` subresource. An `apiVersion` that is not a group/version is an
/// error, as `verifyGroupKind` makes it.
///
/// A missing `spec.replicas` counts as 1, the API server's default (upstream dereferences the
/// defaulted pointer).
pub fn find_in_informers(owner: &OwnerReference, workloads: &dyn Workloads) -> Option<ScaleLookup> {
    let finders: [Finder; 4] = [
        replication_controller,
        deployment,
        replica_set,
        stateful_set,
    ];
    for finder in finders {
        match finder(owner, workloads) {
            Ok(Some(found)) => return Some(found),
            Ok(None) => {}
            Err(message) => return Some(ScaleLookup::Error(message)),
        }
    }
    None
}

/// `getScaleController` after a successful GET: the scale counts only when it belongs to the
/// very object the reference names.
pub fn from_scale(owner: &OwnerReference, scale: &Scale) -> ScaleLookup {
    if scale.metadata.uid.as_deref() != Some(owner.uid.as_str()) {
        return ScaleLookup::NotFound;
    }
    ScaleLookup::Found {
        uid: owner.uid.clone(),
        replicas: scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
    }
}

/// `getScaleController` after a 404: the object is missing when its resource (for example
/// `replicasets.apps`) serves `/scale`, which discovery tells, and the kind cannot be scaled
/// otherwise.
pub fn scale_not_found(group_resource: &str, implements_scale: bool) -> ScaleLookup {
    if implements_scale {
        ScaleLookup::NotFound
    } else {
        ScaleLookup::Error(format!(
            "{group_resource} does not implement the scale subresource"
        ))
    }
}

/// `schema.ParseGroupVersion`: `""`, `/` and `v1` are the legacy core group; `group/version`
/// otherwise; more than one slash is an error.
pub fn parse_group_version(api_version: &str) -> Result<(&str, &str), String> {
    if api_version.is_empty() || api_version == "/" {
        return Ok(("", ""));
    }
    match api_version.split_once('/') {
        None => Ok(("", api_version)),
        Some((group, version)) if !version.contains('/') => Ok((group, version)),
        Some(_) => Err(format!("unexpected GroupVersion string: {api_version}")),
    }
}

/// One informer-backed finder: `Ok(None)` when the reference is not its kind or names no
/// object with that UID.
type Finder = fn(&OwnerReference, &dyn Workloads) -> Result<Option<ScaleLookup>, String>;

/// `verifyGroupKind`: whether the reference names `kind` in one of `groups`.
fn verify_group_kind(owner: &OwnerReference, kind: &str, groups: &[&str]) -> Result<bool, String> {
    let (group, _) = parse_group_version(&owner.api_version)?;
    Ok(owner.kind == kind && groups.contains(&group))
}

const APPS: &[&str] = &["apps"];
const APPS_OR_EXTENSIONS: &[&str] = &["apps", "extensions"];

fn found(uid: Option<&String>, replicas: Option<i32>) -> ScaleLookup {
    ScaleLookup::Found {
        uid: uid.cloned().unwrap_or_default(),
        replicas: replicas.unwrap_or(1),
    }
}

fn same_uid(uid: Option<&String>, owner: &OwnerReference) -> bool {
    uid.is_some_and(|u| *u == owner.uid)
}

/// `getPodReplicationController`.
fn replication_controller(
    owner: &OwnerReference,
    workloads: &dyn Workloads,
) -> Result<Option<ScaleLookup>, String> {
    if !verify_group_kind(owner, "ReplicationController", &[""])? {
        return Ok(None);
    }
    let Some(rc) = workloads.replication_controller(&owner.name) else {
        return Ok(None);
    };
    if !same_uid(rc.metadata.uid.as_ref(), owner) {
        return Ok(None);
    }
    let replicas = rc.spec.as_ref().and_then(|s| s.replicas);
    Ok(Some(found(rc.metadata.uid.as_ref(), replicas)))
}

/// `getPodDeployment`: the Deployment controlling the owner ReplicaSet.
fn deployment(
    owner: &OwnerReference,
    workloads: &dyn Workloads,
) -> Result<Option<ScaleLookup>, String> {
    if !verify_group_kind(owner, "ReplicaSet", APPS_OR_EXTENSIONS)? {
        return Ok(None);
    }
    let Some(rs) = workloads.replica_set(&owner.name) else {
        return Ok(None);
    };
    if !same_uid(rs.metadata.uid.as_ref(), owner) {
        return Ok(None);
    }
    let Some(rs_owner) = controller_of(&rs.metadata) else {
        return Ok(None);
    };
    if !verify_group_kind(rs_owner, "Deployment", APPS_OR_EXTENSIONS)? {
        return Ok(None);
    }
    let Some(d) = workloads.deployment(&rs_owner.name) else {
        return Ok(None);
    };
    if !same_uid(d.metadata.uid.as_ref(), rs_owner) {
        return Ok(None);
    }
    let replicas = d.spec.as_ref().and_then(|s| s.replicas);
    Ok(Some(found(d.metadata.uid.as_ref(), replicas)))
}

/// `getPodReplicaSet`: a ReplicaSet that no Deployment controls. As upstream, only the
/// controller's kind is checked here, so a ReplicaSet whose Deployment was not found falls
/// through to its `/scale` subresource.
fn replica_set(
    owner: &OwnerReference,
    workloads: &dyn Workloads,
) -> Result<Option<ScaleLookup>, String> {
    if !verify_group_kind(owner, "ReplicaSet", APPS_OR_EXTENSIONS)? {
        return Ok(None);
    }
    let Some(rs) = workloads.replica_set(&owner.name) else {
        return Ok(None);
    };
    if !same_uid(rs.metadata.uid.as_ref(), owner) {
        return Ok(None);
    }
    if controller_of(&rs.metadata).is_some_and(|c| c.kind == "Deployment") {
        return Ok(None);
    }
    let replicas = rs.spec.as_ref().and_then(|s| s.replicas);
    Ok(Some(found(rs.metadata.uid.as_ref(), replicas)))
}

/// `getPodStatefulSet`.
fn stateful_set(
    owner: &OwnerReference,
    workloads: &dyn Workloads,
) -> Result<Option<ScaleLookup>, String> {
    if !verify_group_kind(owner, "StatefulSet", APPS)? {
        return Ok(None);
    }
    let Some(ss) = workloads.stateful_set(&owner.name) else {
        return Ok(None);
    };
    if !same_uid(ss.metadata.uid.as_ref(), owner) {
        return Ok(None);
    }
    let replicas = ss.spec.as_ref().and_then(|s| s.replicas);
    Ok(Some(found(ss.metadata.uid.as_ref(), replicas)))
}

#[cfg(test)]
#[path = "finders_tests.rs"]
mod tests;

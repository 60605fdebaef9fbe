//! The DaemonSet's template history, after upstream's `constructHistory`, `controlledHistories`,
//! `dedupCurHistories`, `snapshot` and `cleanupHistory` (`pkg/controller/daemon/update.go`).
//!
//! A DaemonSet names its revisions `<ds>-<hash>` with the pod-template hash of
//! [`compute_hash`] (the one Deployments use, with the collision count), not with the hash of
//! the revision's data that StatefulSets use; so [`crate::history::new_revision`] does not fit
//! and the revision is built here from the shared [`template_patch`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

use super::plan::{ObjectRef, RevisionPlan, SyncError};
use super::util::{controller_ref, pod_hash, target_node_name};
use crate::deployment::hash::compute_hash;
use crate::history::{CONTROLLER_REVISION_HASH_LABEL, template_patch};
use crate::replicaset::pods::controller_of;
use crate::replicaset::selector::Selector;

/// Upstream's default `revisionHistoryLimit`.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;

/// The current revision's hash and the old revisions, as the rest of the sync sees them.
pub(super) struct History<'a> {
    pub hash: String,
    pub old: Vec<Cow<'a, ControllerRevision>>,
}

fn hash_label(revision: &ControllerRevision) -> Option<&str> {
    revision
        .metadata
        .labels
        .as_ref()?
        .get(CONTROLLER_REVISION_HASH_LABEL)
        .map(String::as_str)
}

/// `controlledHistories`: the revisions this DaemonSet controls and the selector matches,
/// plus matching orphans (adopted unless being deleted); controlled ones that stopped
/// matching are released.
fn claim<'a>(
    ds: &DaemonSet,
    selector: &Selector,
    revisions: &[&'a ControllerRevision],
    plan: &mut RevisionPlan,
) -> Vec<&'a ControllerRevision> {
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    let mut claimed = Vec::new();
    for &r in revisions {
        let matches = selector.matches(r.metadata.labels.as_ref());
        match controller_of(&r.metadata) {
            Some(owner) if owner.uid == uid => {
                if matches {
                    claimed.push(r);
                } else {
                    plan.release.push(ObjectRef::of(&r.metadata));
                }
            }
            Some(_) => {}
            None if matches && r.metadata.deletion_timestamp.is_none() => {
                plan.adopt.push(ObjectRef::of(&r.metadata));
                claimed.push(r);
            }
            None => {}
        }
    }
    // Upstream walks the lister's (unordered) list; the name order makes ties deterministic.
    claimed.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    claimed
}

/// `constructHistory`. `revisions` are those of the DaemonSet's namespace; `pods` the claimed
/// pods, whose hash label is rewritten here when duplicates of the current revision are
/// merged (the runtime patches them before anything else, so the rest of the sync sees them
/// as they will be). A hash collision with a revision of another template ends the sync.
pub(super) fn construct_history<'a>(
    ds: &DaemonSet,
    template: &PodTemplateSpec,
    selector: &Selector,
    revisions: &[&'a ControllerRevision],
    pods: &mut [Cow<'_, Pod>],
    plan: &mut RevisionPlan,
) -> Result<History<'a>, SyncError> {
    let patch = template_patch(template);
    let matches_template = |r: &ControllerRevision| r.data.as_ref().is_some_and(|d| d.0 == patch);
    let mut updates: BTreeMap<String, ControllerRevision> = BTreeMap::new();
    let mut current: Vec<Cow<'a, ControllerRevision>> = Vec::new();
    let mut old: Vec<Cow<'a, ControllerRevision>> = Vec::new();
    for r in claim(ds, selector, revisions, plan) {
        let mut r = Cow::Borrowed(r);
        if hash_label(&r).is_none() {
            // Upstream labels such a revision with its own name rather than a fresh hash, so
            // that no collision can arise from it.
            let owned = r.to_mut();
            let name = owned.metadata.name.clone().unwrap_or_default();
            owned
                .metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(CONTROLLER_REVISION_HASH_LABEL.into(), name.clone());
            updates.insert(name, owned.clone());
        }
        if matches_template(&r) {
            current.push(r);
        } else {
            old.push(r);
        }
    }

    let next = old.iter().map(|r| r.revision).max().unwrap_or(0).max(0) + 1;
    let hash = match current.iter().max_by_key(|r| r.revision) {
        None => {
            let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
            let hash = compute_hash(template, collision_count);
            let name = format!("{}-{hash}", ds.metadata.name.as_deref().unwrap_or_default());
            match revisions
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(&*name))
            {
                // `snapshot`'s AlreadyExists path: a revision of ours that is not claimed
                // (another owner's, or one being deleted) with the same template is used as is.
                Some(existing) if matches_template(existing) => {
                    hash_label(existing).unwrap_or_default().to_owned()
                }
                Some(_) => {
                    return Err(SyncError::HashCollision {
                        revision: name,
                        collision_count: collision_count.unwrap_or(0).saturating_add(1),
                    });
                }
                None => {
                    plan.create = Some(new_revision(ds, template, name, &hash, next));
                    hash
                }
            }
        }
        Some(keep) => {
            // `dedupCurHistories` keeps the highest revision, the last of equals as upstream's
            // `>=` does (and as `max_by_key` does).
            let keep_name = keep.metadata.name.clone().unwrap_or_default();
            let keep_hash = hash_label(keep).unwrap_or_default().to_owned();
            if current.len() > 1 {
                for pod in pods.iter_mut().filter(|p| pod_hash(p) != keep_hash) {
                    plan.relabel_pods.push(ObjectRef::from(&**pod));
                    pod.to_mut()
                        .metadata
                        .labels
                        .get_or_insert_with(Default::default)
                        .insert(CONTROLLER_REVISION_HASH_LABEL.into(), keep_hash.clone());
                }
                plan.delete_duplicates = current
                    .iter()
                    .filter(|r| r.metadata.name.as_deref() != Some(&*keep_name))
                    .map(|r| ObjectRef::of(&r.metadata))
                    .collect();
            }
            if keep.revision < next {
                let mut renumbered = updates
                    .remove(&keep_name)
                    .unwrap_or_else(|| keep.clone().into_owned());
                renumbered.revision = next;
                updates.insert(keep_name, renumbered);
            }
            keep_hash
        }
    };
    plan.update = updates.into_values().collect();
    Ok(History { hash, old })
}

/// `snapshot`: the revision of the current template, labelled like the template plus the
/// hash, carrying the DaemonSet's annotations and a controller reference.
fn new_revision(
    ds: &DaemonSet,
    template: &PodTemplateSpec,
    name: String,
    hash: &str,
    revision: i64,
) -> ControllerRevision {
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(CONTROLLER_REVISION_HASH_LABEL.into(), hash.into());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: ds.metadata.annotations.clone(),
            owner_references: Some(vec![controller_ref(ds)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(template_patch(template))),
        revision,
    }
}

/// `cleanupHistory`: beyond `revisionHistoryLimit`, the oldest old revisions go, except those
/// some pod (terminal and deleted ones included, when their node is known) still carries.
pub(super) fn cleanup_history(
    ds: &DaemonSet,
    old: &[Cow<'_, ControllerRevision>],
    pods: &[Cow<'_, Pod>],
) -> Vec<ObjectRef> {
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT);
    let mut to_kill = i64::try_from(old.len()).unwrap_or(i64::MAX) - i64::from(limit);
    if to_kill <= 0 {
        return Vec::new();
    }
    let live: BTreeSet<&str> = pods
        .iter()
        .filter(|p| target_node_name(p).is_some())
        .map(|p| pod_hash(p))
        .filter(|h| !h.is_empty())
        .collect();
    let mut sorted: Vec<&ControllerRevision> = old.iter().map(|r| &**r).collect();
    sorted.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    let mut doomed = Vec::new();
    for r in sorted {
        if to_kill <= 0 {
            break;
        }
        if live.contains(hash_label(r).unwrap_or_default()) {
            continue;
        }
        doomed.push(ObjectRef::of(&r.metadata));
        to_kill -= 1;
    }
    doomed
}

#[cfg(test)]
#[path = "revisions_tests.rs"]
mod tests;

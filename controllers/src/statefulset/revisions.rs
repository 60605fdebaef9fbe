//! The StatefulSet's ControllerRevisions: which is current, which is the update revision and
//! whether it must be created or re-numbered, and which old ones go. Mirrors
//! `getStatefulSetRevisions`, `truncateHistory` of `stateful_set_control.go` and `newRevision`
//! of `stateful_set_utils.go` (v1.35), on the shared [`crate::history`] helpers.
//!
//! Upstream's `CreateControllerRevision` retries a name collision in a loop with the API; here
//! the runtime reports the AlreadyExists answer to [`on_revision_exists`], writes the bumped
//! `collisionCount` and syncs again, which names the revision anew.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};

use super::identity::{SetCtx, pod_revision};
use super::plan::SpecError;
use crate::history::{compare_revisions, equal_revision, new_revision, next_revision, template_of};

/// Upstream's default `revisionHistoryLimit`.
const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// What to do about the update revision.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RevisionAction {
    /// The newest revision already holds the template.
    #[default]
    Keep,
    /// No revision holds the template: create this one.
    Create(ControllerRevision),
    /// An older revision holds the template (a rollback): set its `.revision` to this number
    /// so that it becomes the newest.
    Renumber { name: String, revision: i64 },
}

/// The revisions part of a plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RevisionPlan {
    pub action: RevisionAction,
    /// The name of the current revision (`status.currentRevision` before completion).
    pub current: String,
    /// The name of the update revision.
    pub update: String,
    /// Old revisions to delete after the pods are seen to (`truncateHistory`).
    pub delete: Vec<String>,
}

/// The revisions one sync works with.
pub(super) struct Resolved {
    pub plan: RevisionPlan,
    pub current_template: PodTemplateSpec,
    pub update_template: PodTemplateSpec,
    pub collision_count: i32,
}

fn name(revision: &ControllerRevision) -> &str {
    revision.metadata.name.as_deref().unwrap_or_default()
}

/// The revision the set's template would be now (`newRevision`): the shared revision shape
/// plus the set's annotations.
fn candidate(ctx: &SetCtx<'_>, number: i64, collision_count: i32) -> ControllerRevision {
    let mut revision = new_revision(
        ctx.controller_ref(),
        ctx.namespace,
        &ctx.spec.template,
        number,
        Some(collision_count),
    );
    if let Some(annotations) = &ctx.set.metadata.annotations {
        revision
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    revision
}

fn template(revision: &ControllerRevision) -> Result<PodTemplateSpec, SpecError> {
    template_of(revision).ok_or_else(|| SpecError::UnreadableRevision(name(revision).into()))
}

/// The current and update revisions (`getStatefulSetRevisions`) and the history to truncate
/// (`truncateHistory`, whose live set is both revisions and every claimed pod's revision).
pub(super) fn resolve(
    ctx: &SetCtx<'_>,
    revisions: &[ControllerRevision],
    pods: &[&Pod],
) -> Result<Resolved, SpecError> {
    let mut sorted: Vec<&ControllerRevision> = revisions.iter().collect();
    sorted.sort_by(|a, b| compare_revisions(a, b));
    let status = ctx.set.status.as_ref();
    let collision_count = status.and_then(|s| s.collision_count).unwrap_or(0);
    let wanted = candidate(ctx, next_revision(revisions), collision_count);

    let newest_equal = sorted
        .iter()
        .rev()
        .find(|r| equal_revision(r, &wanted))
        .copied();
    let (update, action) = match (newest_equal, sorted.last()) {
        (Some(equal), Some(last)) if equal_revision(last, equal) => {
            ((*last).clone(), RevisionAction::Keep)
        }
        (Some(equal), _) => {
            let mut renumbered = equal.clone();
            renumbered.revision = wanted.revision;
            let action = RevisionAction::Renumber {
                name: name(equal).into(),
                revision: wanted.revision,
            };
            (renumbered, action)
        }
        (None, _) => (wanted.clone(), RevisionAction::Create(wanted)),
    };
    let current_name = status.and_then(|s| s.current_revision.as_deref());
    let current = sorted
        .iter()
        .find(|r| current_name.is_some_and(|c| c == name(r)))
        .map_or_else(|| update.clone(), |r| (*r).clone());

    let limit = ctx
        .spec
        .revision_history_limit
        .unwrap_or(DEFAULT_HISTORY_LIMIT);
    let mut live: BTreeSet<&str> = pods.iter().map(|p| pod_revision(p)).collect();
    live.insert(name(&current));
    live.insert(name(&update));
    let history: Vec<&str> = sorted
        .iter()
        .map(|r| name(r))
        .filter(|n| !live.contains(n))
        .collect();
    let delete = match usize::try_from(limit) {
        Ok(limit) if history.len() > limit => history[..history.len() - limit]
            .iter()
            .map(|n| n.to_string())
            .collect(),
        _ => Vec::new(),
    };

    Ok(Resolved {
        current_template: template(&current)?,
        update_template: template(&update)?,
        plan: RevisionPlan {
            action,
            current: name(&current).into(),
            update: name(&update).into(),
            delete,
        },
        collision_count,
    })
}

/// What an AlreadyExists answer to creating the planned revision means.
#[derive(Debug, Clone, PartialEq)]
pub enum RevisionConflict {
    /// The existing revision holds the same data: it is the update revision; carry on.
    SameRevision,
    /// Another template hashed to the same name: write this status (collisionCount + 1) and
    /// sync again, which names the revision with the new count.
    Collision { status: StatefulSetStatus },
}

/// Judges an AlreadyExists answer to [`RevisionAction::Create`] against the revision found
/// under that name (`CreateControllerRevision` compares the raw data).
pub fn on_revision_exists(
    set: &StatefulSet,
    planned: &ControllerRevision,
    existing: &ControllerRevision,
) -> RevisionConflict {
    if planned.data.as_ref().map(|d| &d.0) == existing.data.as_ref().map(|d| &d.0) {
        RevisionConflict::SameRevision
    } else {
        RevisionConflict::Collision {
            status: bump_collision_count(set),
        }
    }
}

/// The set's status with `collisionCount` one higher.
pub fn bump_collision_count(set: &StatefulSet) -> StatefulSetStatus {
    let mut status = set.status.clone().unwrap_or_default();
    status.collision_count = Some(status.collision_count.unwrap_or(0).saturating_add(1));
    status
}

#[cfg(test)]
#[path = "revisions_tests.rs"]
mod tests;

//! The state one Deployment sync works on, and the steps shared by every path through it:
//! finding or creating the new ReplicaSet and syncing revisions (`getNewReplicaSet`), scaling
//! (`scale`, `scaleReplicaSet`), the scaling-event test and history cleanup, after upstream's
//! `pkg/controller/deployment/sync.go`.
//!
//! Upstream performs each step against the API as it goes; here each step edits working copies
//! of the objects instead, and the plan is what differs at the end. Where upstream hands a step
//! the object as it was *before* an earlier write of the same sync (it discards the returned
//! copy), the steps here are handed that same earlier view, so that they decide alike.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use super::hash::compute_hash;
use super::plan::PlanEvent;
use super::status::{FOUND_NEW_REPLICA_SET, NEW_REPLICA_SET_CREATED, PROGRESSING};
use super::status::{get_condition, new_condition, set_condition};
use super::util::{
    POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION, Strategy, by_creation, by_revision,
    by_size_newer, by_size_older, desired_replicas_annotation, equal_ignore_hash,
    find_new_replica_set, has_progress_deadline, is_saturated, max_revision, max_surge,
    new_rs_new_replicas, proportion, replica_count, replicas, replicas_annotations_need_update,
    revision_history_limit, rs_name, rs_replicas, rs_status_replicas,
    set_new_replica_set_annotations, set_replicas_annotations, set_rs_replicas, strategy,
};
use crate::replicaset::pods::is_controlled_by;
use crate::replicaset::ranking::stable_sort_by_less;

/// The sync stopped the way upstream's returns an error: the plan so far stands and the
/// Deployment is synced again (rate limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Abort;

/// The new ReplicaSet (if any) and the old ones, as a step sees them.
pub(super) type Sets = (Option<ReplicaSet>, Vec<ReplicaSet>);

pub(super) struct Sync {
    /// The Deployment as upstream's working copy evolves: annotations and status.
    pub(super) d: Deployment,
    pub(super) now: Timestamp,
    /// Every ReplicaSet the Deployment owns, oldest first, as last written.
    pub(super) rss: Vec<ReplicaSet>,
    /// The name of the ReplicaSet created by this sync, kept in `rss`.
    pub(super) created: Option<String>,
    /// Names of existing ReplicaSets written by this sync.
    pub(super) updated: Vec<String>,
    pub(super) deleted: Vec<String>,
    pub(super) events: Vec<PlanEvent>,
    pub(super) requeue_after: Option<Duration>,
}

impl Sync {
    pub(super) fn new(d: &Deployment, rss: &[ReplicaSet], now: Timestamp) -> Self {
        let mut rss = rss.to_vec();
        rss.sort_by(by_creation);
        Self {
            d: d.clone(),
            now,
            rss,
            created: None,
            updated: Vec::new(),
            deleted: Vec::new(),
            events: Vec::new(),
            requeue_after: None,
        }
    }

    fn event(&mut self, type_: &'static str, reason: &'static str, message: String) {
        self.events.push(PlanEvent {
            type_,
            reason,
            message,
        });
    }

    /// Records `rs` as the latest state of the ReplicaSet of that name.
    fn store(&mut self, rs: &ReplicaSet) {
        let name = rs_name(rs).to_string();
        if let Some(slot) = self.rss.iter_mut().find(|r| rs_name(r) == name) {
            *slot = rs.clone();
        }
        if self.created.as_deref() != Some(name.as_str()) && !self.updated.contains(&name) {
            self.updated.push(name);
        }
    }

    /// `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created when `create` and none
    /// exists) with its revision and annotations synced, and the old ones.
    pub(super) fn all_replica_sets(&mut self, create: bool) -> Result<Sets, Abort> {
        let new_index = find_new_replica_set(&self.d, &self.rss);
        let old: Vec<ReplicaSet> = self
            .rss
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != new_index)
            .map(|(_, rs)| rs.clone())
            .collect();
        let new_revision = max_revision(&old) + 1;
        if let Some(i) = new_index {
            let new = self.sync_existing_new(self.rss[i].clone(), new_revision);
            return Ok((Some(new), old));
        }
        if !create {
            return Ok((None, old));
        }
        let new = self.create_new(&old, new_revision)?;
        Ok((Some(new), old))
    }

    fn sync_existing_new(&mut self, existing: ReplicaSet, new_revision: i64) -> ReplicaSet {
        let mut rs = existing;
        let annotations_updated =
            set_new_replica_set_annotations(&self.d, &mut rs, new_revision, true);
        let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let spec = rs.spec.get_or_insert_with(Default::default);
        if annotations_updated || spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0) {
            spec.min_ready_seconds = min_ready;
            // Upstream returns right after this write; the Deployment's revision follows on
            // the next pass.
            self.store(&rs);
            return rs;
        }
        let rs_revision = rs
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION_ANNOTATION));
        self.set_revision(rs_revision.cloned().unwrap_or_default());
        if has_progress_deadline(&self.d) {
            let status = self.d.status.get_or_insert_with(Default::default);
            if get_condition(status, PROGRESSING).is_none() {
                let msg = format!("Found new replica set {:?}", rs_name(&rs));
                let cond = new_condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, msg, self.now);
                set_condition(status, cond);
            }
        }
        rs
    }

    /// `SetDeploymentRevision`.
    fn set_revision(&mut self, revision: String) {
        self.d
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(REVISION_ANNOTATION.into(), revision);
    }

    fn create_new(&mut self, old: &[ReplicaSet], new_revision: i64) -> Result<ReplicaSet, Abort> {
        let spec = self.d.spec.clone().unwrap_or_default();
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        let meta = template.metadata.get_or_insert_with(Default::default);
        meta.labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let labels = meta.labels.clone();
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let name = format!("{}-{hash}", self.d.metadata.name.as_deref().unwrap_or(""));

        // The name is taken: upstream's create fails with AlreadyExists. If that ReplicaSet is
        // not this template's, bump the collision count so that the next sync hashes anew.
        if let Some(existing) = self.rss.iter().find(|r| rs_name(r) == name) {
            let ours = is_controlled_by(
                &existing.metadata,
                self.d.metadata.uid.as_deref().unwrap_or(""),
            );
            let same = existing
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignore_hash(t, &spec.template));
            if ours && same {
                // Ours after all (a stale view): use it, as upstream does, without an event or
                // a NewReplicaSetCreated condition.
                let existing = existing.clone();
                self.set_revision(new_revision.to_string());
                return Ok(existing);
            }
            let status = self.d.status.get_or_insert_with(Default::default);
            status.collision_count = Some(status.collision_count.unwrap_or(0).saturating_add(1));
            return Err(Abort);
        }

        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![deployment_controller_ref(&self.d)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&rs)).collect();
        let count = new_rs_new_replicas(&self.d, &all, &rs);
        set_rs_replicas(&mut rs, count);
        set_new_replica_set_annotations(&self.d, &mut rs, new_revision, false);
        if count > 0 {
            self.event(
                "Normal",
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} to {count}"),
            );
        }
        self.rss.push(rs.clone());
        self.created = Some(name.clone());
        self.set_revision(new_revision.to_string());
        if has_progress_deadline(&self.d) {
            let msg = format!("Created new replica set {name:?}");
            let cond = new_condition(PROGRESSING, "True", NEW_REPLICA_SET_CREATED, msg, self.now);
            set_condition(self.d.status.get_or_insert_with(Default::default), cond);
        }
        Ok(rs)
    }

    /// `scaleReplicaSetAndRecordEvent`: scales when the size differs. Returns whether it
    /// scaled and the ReplicaSet as written.
    pub(super) fn scale_and_record(&mut self, rs: &ReplicaSet, to: i32) -> (bool, ReplicaSet) {
        let from = rs_replicas(rs);
        if from == to {
            return (false, rs.clone());
        }
        self.scale_replica_set(rs, to, if from < to { "up" } else { "down" })
    }

    /// `scaleReplicaSet`: writes the size and the desired/max replica annotations when either
    /// is stale.
    fn scale_replica_set(
        &mut self,
        rs: &ReplicaSet,
        to: i32,
        operation: &str,
    ) -> (bool, ReplicaSet) {
        let desired = replicas(&self.d);
        let max = desired + max_surge(&self.d);
        let from = rs_replicas(rs);
        if from == to && !replicas_annotations_need_update(rs, desired, max) {
            return (false, rs.clone());
        }
        let mut copy = rs.clone();
        set_rs_replicas(&mut copy, to);
        set_replicas_annotations(&mut copy, desired, max);
        self.store(&copy);
        if from != to {
            let msg = format!(
                "Scaled {operation} replica set {} to {to} from {from}",
                rs_name(rs)
            );
            self.event("Normal", "ScalingReplicaSet", msg);
        }
        (from != to, copy)
    }

    /// `isScalingEvent`: an active ReplicaSet records a desired size other than the
    /// Deployment's, so the replicas changed rather than the template.
    pub(super) fn is_scaling_event(&mut self) -> Result<bool, Abort> {
        let (new, old) = self.all_replica_sets(false)?;
        let want = replicas(&self.d);
        Ok(old
            .iter()
            .chain(new.as_ref())
            .filter(|rs| rs_replicas(rs) > 0)
            .any(|rs| desired_replicas_annotation(rs).is_some_and(|desired| desired != want)))
    }

    /// `sync`: scaling events and paused Deployments (scale, clean up when paused, status).
    pub(super) fn sync(&mut self) -> Result<(), Abort> {
        let (new, old) = self.all_replica_sets(false)?;
        self.scale(new.as_ref(), &old);
        if self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            self.cleanup(&old);
        }
        let all: Vec<&ReplicaSet> = old.iter().chain(new.as_ref()).collect();
        self.sync_deployment_status(&all, new.as_ref());
        Ok(())
    }

    /// `scale`: the only active ReplicaSet takes the whole size; a saturated new ReplicaSet
    /// retires the old ones; otherwise (RollingUpdate) the change in size is spread over the
    /// active ReplicaSets in proportion to their sizes, so that a resize mid-rollout neither
    /// hastens nor stalls it.
    fn scale(&mut self, new: Option<&ReplicaSet>, old: &[ReplicaSet]) {
        let want = replicas(&self.d);
        if let Some(only) = active_or_latest(new, old) {
            if rs_replicas(&only) != want {
                self.scale_and_record(&only, want);
            }
            return;
        }
        if is_saturated(&self.d, new) {
            for rs in old.iter().filter(|rs| rs_replicas(rs) > 0) {
                self.scale_and_record(rs, 0);
            }
            return;
        }
        if strategy(&self.d) != Strategy::RollingUpdate {
            return;
        }
        let mut active: Vec<&ReplicaSet> = old
            .iter()
            .chain(new)
            .filter(|rs| rs_replicas(rs) > 0)
            .collect();
        let allowed = if want > 0 {
            want + max_surge(&self.d)
        } else {
            0
        };
        let to_add = allowed - replica_count(active.iter().copied());
        let operation = match to_add.cmp(&0) {
            std::cmp::Ordering::Greater => {
                active.sort_by(|a, b| by_size_newer(a, b));
                "up"
            }
            std::cmp::Ordering::Less => {
                active.sort_by(|a, b| by_size_older(a, b));
                "down"
            }
            std::cmp::Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
        for rs in &active {
            let share = proportion(rs, &self.d, to_add, added);
            sizes.push(rs_replicas(rs) + share);
            added += share;
        }
        // The largest ReplicaSet takes what rounding left over.
        if let Some(first) = sizes.first_mut().filter(|_| to_add != 0) {
            *first = (*first + to_add - added).max(0);
        }
        for (rs, size) in active.into_iter().zip(sizes) {
            self.scale_replica_set(rs, size, operation);
        }
    }

    /// `cleanupDeployment`: deletes the oldest old ReplicaSets beyond `revisionHistoryLimit`,
    /// but only those fully scaled down and observed so (never one still running pods).
    pub(super) fn cleanup(&mut self, old: &[ReplicaSet]) {
        let Some(limit) = revision_history_limit(&self.d) else {
            return;
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let diff = i64::try_from(cleanable.len()).unwrap_or(i64::MAX) - i64::from(limit);
        if diff <= 0 {
            return;
        }
        // Unparseable revisions fall back to creation order, which need not be a total order
        // across both kinds; the panic-free sort takes it as Go's sort.Sort would.
        stable_sort_by_less(&mut cleanable, |a, b| by_revision(a, b).is_lt());
        for rs in cleanable
            .into_iter()
            .take(usize::try_from(diff).unwrap_or(0))
        {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if rs_status_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            self.deleted.push(rs_name(rs).to_string());
        }
    }
}

/// `FindActiveOrLatest`: the only active ReplicaSet, or the newest when none is active; `None`
/// when several are active (then scaling is proportional).
fn active_or_latest(new: Option<&ReplicaSet>, old: &[ReplicaSet]) -> Option<ReplicaSet> {
    let mut newest_first: Vec<&ReplicaSet> = old.iter().collect();
    newest_first.sort_by(|a, b| by_creation(b, a));
    let active: Vec<&ReplicaSet> = newest_first
        .iter()
        .copied()
        .chain(new)
        .filter(|rs| rs_replicas(rs) > 0)
        .collect();
    match active.as_slice() {
        [] => new.or(newest_first.first().copied()).cloned(),
        [only] => Some((*only).clone()),
        _ => None,
    }
}

/// The controller reference a Deployment puts on its ReplicaSets.
fn deployment_controller_ref(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: d.metadata.name.clone().unwrap_or_default(),
        uid: d.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;

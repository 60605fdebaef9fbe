//! How a sync performs its plan (upstream `stateful_pod_control.go` and the writes of
//! `stateful_set_control.go`): the update revision with its collision handling, adoptions,
//! claims, pods and their Events, the status. A child of `controller.rs`, split off along the
//! line between routing events to keys and writing through the API.

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;

use super::StatefulSetController;
use crate::runtime::controller::{Action, ReconcileError, gone_or_changed, ignore_gone};
use crate::runtime::events::{EventType, reference_to};
use crate::runtime::informer::ObjectKey;
use crate::statefulset::plan::{DeletePod, Event as PlanEvent, EventType as PlanEventType};
use crate::statefulset::{
    RevisionAction, RevisionConflict, RevisionPlan, StatefulSetPlan, Verb, claim_event,
    on_revision_exists, pod_event,
};

/// The first batch of a Parallel set's creates; each next one doubles (upstream's
/// `slowStartBatch` with `SlowStartInitialBatchSize`).
const SLOW_START_INITIAL: usize = 1;

/// The set's controller reference, for adoptions (`metav1.NewControllerRef`).
fn controller_ref(set: &StatefulSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        name: set.metadata.name.clone().unwrap_or_default(),
        uid: set.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

fn is_parallel(set: &StatefulSet) -> bool {
    let policy = set
        .spec
        .as_ref()
        .and_then(|s| s.pod_management_policy.as_deref());
    policy == Some("Parallel")
}

/// The first error of a sync's writes, and whether to go on after one.
struct Failures {
    /// An OrderedReady set stops at its first error (upstream's `monotonic`).
    stop_at_first: bool,
    first: Option<kube::Error>,
}

impl Failures {
    fn add(&mut self, error: kube::Error) {
        self.first.get_or_insert(error);
    }

    /// Whether the remaining writes of this sync are skipped.
    fn stopped(&self) -> bool {
        self.stop_at_first && self.first.is_some()
    }
}

/// One sync's view of its set: the APIs and the reference its Events name.
struct Target<'a> {
    key: &'a ObjectKey,
    set: &'a StatefulSet,
    name: &'a str,
    reference: ObjectReference,
    pods: Api<Pod>,
    claims: Api<PersistentVolumeClaim>,
    revisions: Api<ControllerRevision>,
    sets: Api<StatefulSet>,
}

impl StatefulSetController {
    /// Performs `plan` in the order [`StatefulSetPlan`] states; see the module docs.
    pub(super) async fn perform(
        &self,
        key: &ObjectKey,
        set: &StatefulSet,
        plan: StatefulSetPlan,
    ) -> Result<Action, ReconcileError> {
        let namespace = key.namespace.clone().unwrap_or_default();
        let target = Target {
            key,
            set,
            name: &key.name,
            reference: reference_to(set),
            pods: Api::namespaced(self.client.clone(), &namespace),
            claims: Api::namespaced(self.client.clone(), &namespace),
            revisions: Api::namespaced(self.client.clone(), &namespace),
            sets: Api::namespaced(self.client.clone(), &namespace),
        };
        if !self.write_revision(&target, &plan.revisions).await? {
            return Ok(Action::Done);
        }
        self.claim_pods(&target, &plan).await?;
        let mut failures = Failures {
            stop_at_first: !is_parallel(set),
            first: None,
        };
        self.write_replicas(&target, &plan, &mut failures).await;
        for event in &plan.events {
            self.record(&target, event).await;
        }
        if plan.status_changed {
            // A PUT at the version read (the role may update, not patch, the status): a newer
            // version makes it 409, and the event of that version brings another sync.
            ignore_gone(self.replace_status(&target, plan.status.clone()).await)?;
        }
        for revision in &plan.revisions.delete {
            let result = target
                .revisions
                .delete(revision, &DeleteParams::default())
                .await;
            ignore_gone(result)?;
        }
        if let Some(error) = failures.first {
            return Err(ReconcileError::Api(error));
        }
        if let Some(error) = plan.error {
            return Err(ReconcileError::Other(format!("StatefulSet {key}: {error}")));
        }
        Ok(plan
            .requeue_after
            .map_or(Action::Done, Action::RequeueAfter))
    }

    /// Creates or re-numbers the update revision. `false`: a name collision was written to
    /// the status and this sync ends (upstream's `CreateControllerRevision` loop, one turn per
    /// sync).
    async fn write_revision(
        &self,
        target: &Target<'_>,
        plan: &RevisionPlan,
    ) -> Result<bool, ReconcileError> {
        match &plan.action {
            RevisionAction::Keep => Ok(true),
            RevisionAction::Renumber { name, revision } => {
                let patch = json!({"revision": revision});
                let params = PatchParams::default();
                target
                    .revisions
                    .patch(name, &params, &Patch::Merge(&patch))
                    .await?;
                Ok(true)
            }
            RevisionAction::Create(revision) => {
                let created = target
                    .revisions
                    .create(&PostParams::default(), revision)
                    .await;
                match created {
                    Ok(_) => Ok(true),
                    Err(error) if already_exists(&error) => {
                        let existing = target.revisions.get(&plan.update).await?;
                        match on_revision_exists(target.set, revision, &existing) {
                            RevisionConflict::SameRevision => Ok(true),
                            RevisionConflict::Collision { status } => {
                                tracing::debug!(set = %target.key, revision = %plan.update, "revision name collision");
                                ignore_gone(self.replace_status(target, status).await)?;
                                Ok(false)
                            }
                        }
                    }
                    Err(error) => Err(error.into()),
                }
            }
        }
    }

    /// Adopts and releases pods (`ClaimPods`): controller reference patches that carry the
    /// pod's UID, so that a pod replaced under the same name is left alone.
    async fn claim_pods(
        &self,
        target: &Target<'_>,
        plan: &StatefulSetPlan,
    ) -> Result<(), ReconcileError> {
        let reference = controller_ref(target.set);
        let params = PatchParams::default();
        for pod in &plan.adopt {
            let patch = json!({"metadata": {"ownerReferences": [reference], "uid": pod.uid}});
            let result = target
                .pods
                .patch(&pod.name, &params, &Patch::Strategic(&patch))
                .await;
            ignore_gone(result)?;
        }
        for pod in &plan.release {
            let patch = json!({"metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": reference.uid}],
                "uid": pod.uid,
            }});
            let result = target
                .pods
                .patch(&pod.name, &params, &Patch::Strategic(&patch))
                .await;
            ignore_gone(result)?;
        }
        Ok(())
    }

    /// Claims, pods, claim and pod updates and deletions, in that order, with their Events.
    /// The creates and deletes are expected first; each one not made or refused is taken back
    /// so that a failed sync does not hold the next one for the expectations' timeout.
    async fn write_replicas(
        &self,
        target: &Target<'_>,
        plan: &StatefulSetPlan,
        failures: &mut Failures,
    ) {
        let namespace = target.key.namespace.as_deref();
        let pod_key = |name: &str| ObjectKey::new(namespace, name);
        let deletes = plan.delete_pods.iter().map(|d| pod_key(&d.pod.name));
        self.expectations
            .expect(target.key, plan.create_pods.len(), deletes);

        let mut pods_without_claims = Vec::new();
        for create in &plan.create_claims {
            if failures.stopped() {
                break;
            }
            let claim = create.claim.metadata.name.clone().unwrap_or_default();
            match target
                .claims
                .create(&PostParams::default(), &create.claim)
                .await
            {
                Ok(_) => {
                    let event = claim_event(Verb::Create, target.name, &create.pod, &claim, None);
                    self.record(target, &event).await;
                }
                Err(error) if already_exists(&error) => {}
                Err(error) => {
                    let message = error.to_string();
                    let event = claim_event(
                        Verb::Create,
                        target.name,
                        &create.pod,
                        &claim,
                        Some(&message),
                    );
                    self.record(target, &event).await;
                    pods_without_claims.push(create.pod.clone());
                    failures.add(error);
                }
            }
        }

        let ready: Vec<&Pod> = plan
            .create_pods
            .iter()
            .filter(|p| {
                let name = p.metadata.name.as_deref().unwrap_or_default();
                !failures.stopped() && !pods_without_claims.iter().any(|n| n == name)
            })
            .collect();
        for _ in ready.len()..plan.create_pods.len() {
            self.expectations.creation_observed(target.key);
        }
        for name in &pods_without_claims {
            let message = "failed to create its PersistentVolumeClaims";
            let event = pod_event(Verb::Create, target.name, name, Some(message));
            self.record(target, &event).await;
        }
        self.create_pods(target, &ready, failures).await;

        for claim in &plan.update_claims {
            if failures.stopped() {
                break;
            }
            let name = claim.metadata.name.clone().unwrap_or_default();
            let result = target
                .claims
                .replace(&name, &PostParams::default(), claim)
                .await;
            match result {
                Err(error) if !gone_or_changed(&error) => failures.add(error),
                _ => {}
            }
        }
        for pod in &plan.update_pods {
            if failures.stopped() {
                break;
            }
            let name = pod.metadata.name.clone().unwrap_or_default();
            let result = target
                .pods
                .replace(&name, &PostParams::default(), pod)
                .await;
            match result {
                Ok(_) => {
                    let event = pod_event(Verb::Update, target.name, &name, None);
                    self.record(target, &event).await;
                }
                Err(error) if gone_or_changed(&error) => {}
                Err(error) => {
                    let message = error.to_string();
                    let event = pod_event(Verb::Update, target.name, &name, Some(&message));
                    self.record(target, &event).await;
                    failures.add(error);
                }
            }
        }
        for delete in &plan.delete_pods {
            if failures.stopped() {
                // Not deleted: do not wait to see it go.
                self.expectations
                    .deletion_observed(target.key, &pod_key(&delete.pod.name));
                continue;
            }
            if let Err(error) = self.delete_pod(target, delete).await {
                failures.add(error);
            }
        }
    }

    /// Creates `pods` in batches of 1, 2, 4... (all at once is what an OrderedReady plan never
    /// asks: it holds one pod); stops at the first batch with a failure.
    async fn create_pods(&self, target: &Target<'_>, pods: &[&Pod], failures: &mut Failures) {
        let params = PostParams::default();
        let mut rest = pods;
        let mut batch = SLOW_START_INITIAL;
        while !rest.is_empty() {
            let (now, later) = rest.split_at(batch.min(rest.len()));
            rest = later;
            let results =
                futures::future::join_all(now.iter().map(|p| target.pods.create(&params, p))).await;
            let mut failed = false;
            for (pod, result) in now.iter().zip(results) {
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                match result {
                    Ok(_) => {
                        let event = pod_event(Verb::Create, target.name, name, None);
                        self.record(target, &event).await;
                    }
                    Err(error) => {
                        self.expectations.creation_observed(target.key);
                        // Upstream sinks AlreadyExists without an Event, yet fails the sync.
                        if !already_exists(&error) {
                            let message = error.to_string();
                            let event = pod_event(Verb::Create, target.name, name, Some(&message));
                            self.record(target, &event).await;
                        }
                        failures.add(error);
                        failed = true;
                    }
                }
            }
            if failed {
                for _ in rest {
                    self.expectations.creation_observed(target.key);
                }
                return;
            }
            batch *= 2;
        }
    }

    /// Deletes one pod with its UID as precondition (`DeleteStatefulPod`); a pod already gone
    /// or replaced counts as done.
    async fn delete_pod(&self, target: &Target<'_>, delete: &DeletePod) -> Result<(), kube::Error> {
        let params = DeleteParams {
            preconditions: delete.pod.uid.clone().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let name = &delete.pod.name;
        match target.pods.delete(name, &params).await {
            Ok(_) => {
                let event = pod_event(Verb::Delete, target.name, name, None);
                self.record(target, &event).await;
                Ok(())
            }
            Err(error) => {
                let pod_key = ObjectKey::new(target.key.namespace.as_deref(), name);
                self.expectations.deletion_observed(target.key, &pod_key);
                if gone_or_changed(&error) {
                    return Ok(());
                }
                let message = error.to_string();
                let event = pod_event(Verb::Delete, target.name, name, Some(&message));
                self.record(target, &event).await;
                Err(error)
            }
        }
    }

    /// Writes `status` over the set as read (`updateStatefulSetStatus`).
    async fn replace_status(
        &self,
        target: &Target<'_>,
        status: StatefulSetStatus,
    ) -> Result<StatefulSet, kube::Error> {
        let mut updated = target.set.clone();
        updated.status = Some(status);
        target
            .sets
            .replace_status(target.name, &PostParams::default(), &updated)
            .await
    }

    async fn record(&self, target: &Target<'_>, event: &PlanEvent) {
        let type_ = match event.type_ {
            PlanEventType::Normal => EventType::Normal,
            PlanEventType::Warning => EventType::Warning,
        };
        self.recorder
            .record(&target.reference, type_, &event.reason, &event.message)
            .await;
    }
}

//! delete and deletecollection (upstream `store.go` Delete/DeleteCollection): preconditions,
//! graceful deletion, finalizers and the propagation policy's finalizers.

use bytes::Bytes;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use ultrak8s_store::contract::{KubeStore, Precondition, WriteOutcome};
use ultrak8s_store::types::Revision;

use super::{ListOptions, MAX_RETRIES, Registry};
use crate::admission::{AdmissionHandle, Attributes, Operation};
use crate::error::ApiError;
use crate::resources::Resource;

/// Finalizers the garbage collector (issue 5) honours.
pub const ORPHAN_FINALIZER: &str = "orphan";
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PropagationPolicy {
    Orphan,
    Background,
    Foreground,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub propagation: Option<PropagationPolicy>,
    pub dry_run: bool,
    /// The request's admission; `None` for the server's own deletes.
    pub admission: Option<AdmissionHandle>,
}

/// What a delete did.
pub enum Deleted {
    /// The object is gone; its last version.
    Gone(Bytes),
    /// The object is marked for deletion (grace period or finalizers); its new version.
    Pending(Bytes),
}

impl Registry {
    pub async fn delete(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        for _ in 0..MAX_RETRIES {
            let Some((kv, mut obj)) = self.current(resource, namespace, name).await? else {
                return Err(ApiError::not_found(resource, name));
            };
            let meta = obj.meta();
            if let Some(uid) = &opts.precondition_uid
                && meta.uid.as_deref() != Some(uid)
            {
                return Err(ApiError::conflict(
                    resource,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta.uid.as_deref().unwrap_or_default()
                    ),
                ));
            }
            if let Some(rv) = &opts.precondition_rv
                && *rv != kv.mod_revision.to_string()
            {
                return Err(ApiError::conflict(
                    resource,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, \
                         ResourceVersion in object meta: {}",
                        kv.mod_revision
                    ),
                ));
            }
            if let Some(AdmissionHandle(admission)) = &opts.admission {
                let attrs = Attributes {
                    operation: Operation::Delete,
                    resource,
                    subresource: None,
                    namespace: namespace.unwrap_or_default(),
                    name,
                    dry_run: opts.dry_run,
                };
                admission.validate(&attrs, None, Some(obj.as_ref())).await?;
            }
            let meta = obj.meta();
            let mut finalizers = meta.finalizers.clone().unwrap_or_default();
            let add = |finalizers: &mut Vec<String>, f: &str| {
                if !finalizers.iter().any(|x| x == f) {
                    finalizers.push(f.to_owned());
                }
            };
            match opts.propagation {
                Some(PropagationPolicy::Orphan) => add(&mut finalizers, ORPHAN_FINALIZER),
                Some(PropagationPolicy::Foreground) => add(&mut finalizers, FOREGROUND_FINALIZER),
                _ => {}
            }
            let grace = resource
                .kind_ops
                .graceful_delete(obj.as_ref())
                .map(|default| opts.grace_period_seconds.unwrap_or(default))
                .filter(|&seconds| seconds > 0);
            let already_marked = meta.deletion_timestamp.is_some();
            if finalizers.is_empty() && grace.is_none() {
                if opts.dry_run {
                    return Ok(Deleted::Gone(kv.value));
                }
                match self
                    .finish_delete(resource, namespace, name, kv.mod_revision)
                    .await?
                {
                    Some(bytes) => return Ok(Deleted::Gone(bytes)),
                    None => continue,
                }
            }
            if already_marked && grace.is_none() && meta.finalizers.as_deref() == Some(&finalizers)
            {
                // Nothing new to record: the object waits for its finalizers.
                return Ok(Deleted::Pending(kv.value));
            }
            let meta = obj.meta_mut();
            let seconds = grace.unwrap_or(0);
            let deadline = Timestamp::now()
                .checked_add(SignedDuration::from_secs(seconds))
                .unwrap_or_else(|_| Timestamp::now());
            // A second delete may shorten the grace period, never lengthen it.
            let shorter = meta
                .deletion_grace_period_seconds
                .is_none_or(|current| seconds < current);
            if meta.deletion_timestamp.is_none() || shorter {
                meta.deletion_timestamp = Some(Time(
                    Timestamp::from_second(deadline.as_second()).unwrap_or(deadline),
                ));
                meta.deletion_grace_period_seconds = Some(seconds);
            }
            meta.finalizers = (!finalizers.is_empty()).then_some(finalizers);
            if opts.dry_run {
                return Ok(Deleted::Pending(Bytes::from(obj.to_json())));
            }
            match self
                .replace_at(resource, namespace, name, obj, kv.mod_revision)
                .await?
            {
                Some(bytes) => return Ok(Deleted::Pending(bytes)),
                None => continue,
            }
        }
        Err(ApiError::conflict(
            resource,
            name,
            "the object kept changing; please try again",
        ))
    }

    /// Removes the object if it is still at `revision`; `None` when it changed meanwhile.
    pub(crate) async fn finish_delete(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        revision: Revision,
    ) -> Result<Option<Bytes>, ApiError> {
        let key = resource.key(namespace, name);
        match self
            .store
            .delete_if(key, Precondition::ModRevision(revision))
            .await?
        {
            WriteOutcome::Written { kv: Some(kv), .. } => {
                if let Some(hooks) = self.hooks_of(resource) {
                    // The object is gone whatever happens next; a last version that does not
                    // decode (never written by this server) has nothing to give back.
                    match super::decode_stored(resource, &kv.value) {
                        Ok(obj) => hooks.after_delete(obj.as_ref()).await,
                        Err(e) => tracing::warn!(error = %e, "after_delete skipped"),
                    }
                }
                Ok(Some(kv.value))
            }
            WriteOutcome::Written { kv: None, .. } => Err(ApiError::not_found(resource, name)),
            WriteOutcome::Conflict { current: None } => Err(ApiError::not_found(resource, name)),
            WriteOutcome::Conflict { .. } => Ok(None),
        }
    }

    /// Deletes every object the list options select; returns what each delete did.
    pub async fn delete_collection(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Deleted>, ApiError> {
        let listed = self.list(resource, namespace, list).await?;
        let mut done = Vec::with_capacity(listed.items.len());
        for item in listed.items {
            let obj = super::decode_stored(resource, &item)?;
            let meta = obj.meta();
            let name = meta.name.clone().unwrap_or_default();
            let ns = meta.namespace.clone();
            match self.delete(resource, ns.as_deref(), &name, opts).await {
                Ok(deleted) => done.push(deleted),
                // Deleted by someone else meanwhile: that is what the client wanted.
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

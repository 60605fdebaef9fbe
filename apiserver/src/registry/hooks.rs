//! Work a resource does beside its store write: upstream's `BeginCreate`, `BeginUpdate` and
//! `AfterDelete` hooks of `generic/registry/store.go`. Services use them to hold ClusterIPs
//! and NodePorts (`crate::service_alloc`), which live outside the object's key.
//!
//! A `begin_*` hook runs after mutating admission and before validation (upstream's order:
//! the handler admits, then the store calls `BeginCreate` before `BeforeCreate`), may change
//! the object (allocated values), and returns a [`Finish`]. The registry commits it once the
//! store write succeeded; any other way out of the request (a validation error, a failed or
//! raced store write, a retry of `GuaranteedUpdate`, a dropped request future, a dry run, an
//! update that changes nothing) drops it uncommitted, which reverts what the hook took. So a
//! failed write never leaks an address, and a dry run shows the values it would get while
//! holding them only for the length of the request (upstream's dry-run allocators hold none).

use std::future::Future;
use std::pin::Pin;

use crate::error::ApiError;
use crate::object::KubeObject;
use crate::resources::Resource;

/// What a `begin_*` hook returns: it may write other objects (a Service's IPAddress objects)
/// before the object itself is written.
pub type Begun<'a> = Pin<Box<dyn Future<Output = Result<Finish, ApiError>> + Send + 'a>>;

/// The hooks of one resource.
pub trait WriteHooks: Send + Sync {
    /// Before a create is validated and written; `dry_run` writes nothing else either.
    fn begin_create<'a>(
        &'a self,
        resource: &'a Resource,
        obj: &'a mut dyn KubeObject,
        dry_run: bool,
    ) -> Begun<'a>;

    /// Before an update of the main resource (not of a subresource) is validated and written.
    fn begin_update<'a>(
        &'a self,
        resource: &'a Resource,
        new: &'a mut dyn KubeObject,
        old: &'a dyn KubeObject,
        dry_run: bool,
    ) -> Begun<'a>;

    /// After the object left the store (its last version); the delete answers once this is
    /// done.
    fn after_delete<'a>(&'a self, obj: &'a dyn KubeObject) -> After<'a>;
}

/// Work a hook does after the write, awaited before the request answers.
pub type After<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The end of a begun write (upstream's `FinishFunc(ctx, success)`): [`Finish::commit`] after
/// the store write succeeded; dropped uncommitted, it reverts. The function may return work
/// to do after (deleting objects it wrote): a commit awaits it, a revert runs it in the
/// background.
#[must_use = "dropping a Finish reverts what the hook did"]
pub struct Finish(Option<Done>);

type Done = Box<dyn FnOnce(bool) -> Option<After<'static>> + Send>;

impl Finish {
    /// A hook that did nothing.
    pub fn nothing() -> Finish {
        Finish(None)
    }

    /// Calls `done(true)` on commit, `done(false)` when dropped uncommitted.
    pub fn new(done: impl FnOnce(bool) -> Option<After<'static>> + Send + 'static) -> Finish {
        Finish(Some(Box::new(done)))
    }

    pub async fn commit(mut self) {
        if let Some(done) = self.0.take()
            && let Some(after) = done(true)
        {
            after.await;
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        if let Some(done) = self.0.take()
            && let Some(after) = done(false)
        {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(after);
                }
                Err(_) => tracing::warn!("a reverted write's clean-up needs a runtime; skipped"),
            }
        }
    }
}

impl std::fmt::Debug for Finish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Finish(pending)"
        } else {
            "Finish(nothing)"
        })
    }
}

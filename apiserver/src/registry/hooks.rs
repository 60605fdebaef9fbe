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

use crate::error::ApiError;
use crate::object::KubeObject;
use crate::resources::Resource;

/// The hooks of one resource.
pub trait WriteHooks: Send + Sync {
    /// Before a create is validated and written.
    fn begin_create(
        &self,
        resource: &Resource,
        obj: &mut dyn KubeObject,
    ) -> Result<Finish, ApiError>;

    /// Before an update of the main resource (not of a subresource) is validated and written.
    fn begin_update(
        &self,
        resource: &Resource,
        new: &mut dyn KubeObject,
        old: &dyn KubeObject,
    ) -> Result<Finish, ApiError>;

    /// After the object left the store (its last version).
    fn after_delete(&self, obj: &dyn KubeObject);
}

/// The end of a begun write (upstream's `FinishFunc(ctx, success)`): [`Finish::commit`] after
/// the store write succeeded; dropped uncommitted, it reverts.
#[must_use = "dropping a Finish reverts what the hook did"]
pub struct Finish(Option<Box<dyn FnOnce(bool) + Send>>);

impl Finish {
    /// A hook that did nothing.
    pub fn nothing() -> Finish {
        Finish(None)
    }

    /// Calls `done(true)` on commit, `done(false)` when dropped uncommitted.
    pub fn new(done: impl FnOnce(bool) + Send + 'static) -> Finish {
        Finish(Some(Box::new(done)))
    }

    pub fn commit(mut self) {
        if let Some(done) = self.0.take() {
            done(true);
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            done(false);
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

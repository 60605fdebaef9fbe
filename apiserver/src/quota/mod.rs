//! ResourceQuota: what each object uses (`usage.rs`, pure) and the keeper of every quota's
//! status (`status.rs`): `status.hard` mirrors the spec and `status.used` is recomputed from
//! the watch caches when a quota changes, when counted objects go away or pods finish, and
//! every minute. Admission (`admission/resource_quota.rs`) charges new objects to
//! `status.used` before they are written. Upstream runs the keeper as the resource quota
//! controller; it moves to the controller runtime with issue 5.

mod status;
pub mod usage;

pub(crate) use status::follow;

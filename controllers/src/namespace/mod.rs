//! The namespace controller: a deleted namespace's content is deleted, its status conditions
//! say what remains, and the namespace goes once empty. `conditions.rs` is the pure part
//! (which conditions a pass's findings call for); `controller.rs` discovers, deletes and
//! finalizes through the API.

mod conditions;
mod controller;

pub use conditions::Findings;
pub use controller::{KUBERNETES_FINALIZER, NamespaceController};

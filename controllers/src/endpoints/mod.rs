//! The Endpoints and EndpointSlice controllers' decisions, without I/O:
//! [`desired_endpoints`] turns a Service and its pods into the `Endpoints` object to write (if
//! any); [`reconcile_slices`] turns a Service, its pods, the nodes and its existing slices into
//! a [`SlicePlan`] (create, update, delete). [`TriggerTimeTracker`] is the one piece of state
//! they share across syncs (the last-change-trigger-time annotation). `common` holds what both
//! read off Services and pods, `repack` the canonical layout of subsets, `slice_parts` and
//! `hints` the pieces of slices. `controller.rs` is the I/O half: one sync per Service writes
//! both its Endpoints and its EndpointSlices.

mod common;
mod controller;
mod hints;
mod repack;
mod slice_parts;
mod slices;
mod subsets;
#[cfg(test)]
mod testing;
mod trigger_time;

pub use common::{
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME, LABEL_HEADLESS, LABEL_TOPOLOGY_ZONE, is_managed, selects,
};
pub use controller::{EndpointsController, EndpointsInformers};
pub use repack::repack_subsets;
pub use slice_parts::{
    CONTROLLER_NAME, DEFAULT_MAX_ENDPOINTS_PER_SLICE, LABEL_MANAGED_BY, LABEL_SERVICE_NAME,
    service_owner_reference,
};
pub use slices::{SlicePlan, reconcile_slices};
pub use subsets::{
    ANNOTATION_OVER_CAPACITY, EndpointsWrite, MAX_ENDPOINTS_CAPACITY, desired_endpoints,
    desired_subsets,
};
pub use trigger_time::TriggerTimeTracker;

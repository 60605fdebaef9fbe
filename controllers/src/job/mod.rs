//! The Job controller's decisions: [`decide`] turns a Job and its pods into a [`JobPlan`]
//! (pods to create and delete, tracking finalizers to remove, the status) without I/O.
//! `decide.rs` holds the sync's flow, `manage.rs` the pod counts and the pods to create,
//! `terminal.rs` when a job is done, `tracking.rs` the counting of finished pods through the
//! tracking finalizer, `indexed.rs` completion indexes, `failure_policy.rs` the pod failure
//! and success policies, `backoff.rs` the delay before failed pods are replaced.
//! `controller.rs` is the I/O half: events to keys, the plan performed through the API.

mod backoff;
mod controller;
mod decide;
mod failure_policy;
mod indexed;
mod manage;
mod podutil;
mod terminal;
mod tracking;

pub use backoff::{BackoffRecord, MAX_POD_FAILURE_BACKOFF, POD_FAILURE_BACKOFF};
pub use controller::JobController;
pub use decide::{
    CreatePod, DeletePod, JOB_CONTROLLER_NAME, JobPlan, MAX_POD_CREATE_DELETE_PER_SYNC, PodRef,
    decide, decide_with_pending, is_finished,
};
pub use failure_policy::{Action, PolicyMatch, match_pod_failure_policy, match_success_policy};
pub use indexed::{
    COMPLETION_INDEX, INDEX_FAILURE_COUNT, INDEX_IGNORED_FAILURE_COUNT, Interval, OrderedIntervals,
    completion_index,
};
pub use podutil::TRACKING_FINALIZER;
pub use tracking::MAX_UNCOUNTED_PODS;

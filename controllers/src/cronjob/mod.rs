//! The CronJob controller's decisions: [`decide`] turns a CronJob, the Jobs of its namespace
//! and the clock into a [`CronJobPlan`] (Jobs to delete and create, the status, events, when
//! to sync again) without I/O, mirroring `syncCronJob` and `cleanupFinishedJobs` of upstream's
//! `pkg/controller/cronjob` (v1.35). `schedule.rs` parses cron schedules as robfig/cron v3's
//! `ParseStandard` (`go_duration.rs`: Go's `time.ParseDuration` for `@every`), `next.rs`
//! evaluates them in a time zone as robfig's `Next`, `times.rs` finds the due time and the
//! requeue delay (`utils.go`), `jobs.rs` holds the Job predicates and the Job built from the
//! template, `plan.rs` the plan and the helpers the runtime calls while performing it.
//! The crate needs jiff's "tzdb-zoneinfo" feature (besides "std") for `TimeZone::get` to read
//! /usr/share/zoneinfo.

mod controller;
mod decide;
mod go_duration;
mod jobs;
mod next;
mod plan;
mod schedule;
mod times;

pub use controller::CronJobController;
pub use decide::{
    DEFAULT_FAILED_JOBS_HISTORY_LIMIT, DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT, TimeZoneError,
    active_missing_from, decide, resolve_time_zone,
};
pub use jobs::{
    Finished, SCHEDULED_TIMESTAMP_ANNOTATION, controlled_jobs, finished, is_succeeded,
    job_from_template, job_name,
};
pub use plan::{
    AlreadyExists, CreateJob, CronJobPlan, DeleteJob, DeleteReason, Event, EventType, JobRef,
};
pub use schedule::{Schedule, ScheduleError, SpecSchedule};
pub use times::{MAX_MISSED_SCHEDULES, NEXT_SCHEDULE_DELTA};

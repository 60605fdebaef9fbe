//! Which scheduled time is due and when to look again: `mostRecentScheduleTime`,
//! `nextScheduleTime` and `nextScheduleTimeDuration` of upstream's
//! `pkg/controller/cronjob/utils.go`, including their approximations (the number of missed
//! times is estimated from the gap between the first two, and only the latest is run).

use std::time::Duration;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::schedule::Schedule;

/// Added to every requeue so that the sync lands just after the scheduled time despite clock
/// skew (`nextScheduleDelta`).
pub const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);
/// More missed times than this earn a `TooManyMissedTimes` warning (only the latest runs).
pub const MAX_MISSED_SCHEDULES: i64 = 100;

/// Go's zero `time.Time` (0001-01-01T00:00:00Z): what robfig returns for "never" and what an
/// unset `creationTimestamp` reads as; upstream's arithmetic runs on it, so ours does too.
const GO_ZERO_SECS: i64 = -62_135_596_800;
/// A bound on the walk from the estimated earliest missed time to now, which covers at most
/// about three of the schedule's first gaps; far above what real schedules need.
const MAX_WALK: u32 = 1_000_000;

/// How many scheduled times passed unmet (`missedSchedulesType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    None,
    Few,
    Many,
}

/// The outcome of `mostRecentScheduleTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MostRecent {
    /// The last schedule time, or the creation time, or the starting deadline if later.
    pub earliest: Timestamp,
    /// The latest scheduled time not after now, if any.
    pub most_recent: Option<Timestamp>,
    pub missed: Missed,
}

/// The one error of `mostRecentScheduleTime`: two consecutive times less than a second apart,
/// which is how a schedule that never fires (`59 23 31 2 *`) shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("time difference between two schedules is less than 1 second")]
pub struct NeverFires;

fn go_zero() -> Timestamp {
    Timestamp::from_second(GO_ZERO_SECS).unwrap_or(Timestamp::MIN)
}

/// robfig's `Next`, with its zero time for "none".
fn next(schedule: &Schedule, t: Timestamp, tz: &TimeZone) -> Timestamp {
    schedule.next_after(t, tz).unwrap_or_else(go_zero)
}

fn secs_between(from: Timestamp, to: Timestamp) -> i64 {
    to.duration_since(from).as_secs()
}

/// `mostRecentScheduleTime`.
pub fn most_recent_schedule_time(
    cronjob: &CronJob,
    now: Timestamp,
    schedule: &Schedule,
    tz: &TimeZone,
    include_starting_deadline: bool,
) -> Result<MostRecent, NeverFires> {
    let created = cronjob.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let last = cronjob
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .map(|t| t.0);
    let mut earliest = last.or(created).unwrap_or_else(go_zero);
    let deadline = cronjob
        .spec
        .as_ref()
        .and_then(|s| s.starting_deadline_seconds);
    if let Some(secs) = deadline.filter(|_| include_starting_deadline) {
        // The controller schedules nothing before this point.
        if let Ok(cutoff) = now.checked_sub(SignedDuration::from_secs(secs)) {
            earliest = earliest.max(cutoff);
        }
    }
    let none = |most_recent, missed| MostRecent {
        earliest,
        most_recent,
        missed,
    };
    let t1 = next(schedule, earliest, tz);
    let t2 = next(schedule, t1, tz);
    if now < t1 {
        return Ok(none(None, Missed::None));
    }
    if now < t2 {
        return Ok(none(Some(t1), Missed::None));
    }
    let interval = secs_between(t1, t2);
    if interval < 1 {
        return Err(NeverFires);
    }
    // A rough count: how many first gaps fit between the first missed time and now.
    let missed_count = secs_between(t1, now) / interval + 1;
    // Start one gap before the estimate and let the schedule find the exact times (this is
    // what makes `@every` and irregular schedules such as `30 6-16/4 * * 1-5` come out right).
    let back = (missed_count - 2).saturating_mul(interval);
    let mut most_recent = None;
    if let Ok(potential) = t1.checked_add(SignedDuration::from_secs(back)) {
        let mut t = schedule.next_after(potential, tz);
        for _ in 0..MAX_WALK {
            match t {
                Some(at) if at <= now => {
                    most_recent = Some(at);
                    t = schedule.next_after(at, tz);
                }
                _ => break,
            }
        }
    }
    let missed = if missed_count > MAX_MISSED_SCHEDULES {
        Missed::Many
    } else {
        Missed::Few
    };
    Ok(none(most_recent, missed))
}

/// `nextScheduleTime`: the scheduled time to run now, if any, and whether to warn about too
/// many missed times.
pub fn next_schedule_time(
    cronjob: &CronJob,
    now: Timestamp,
    schedule: &Schedule,
    tz: &TimeZone,
) -> Result<Option<(Timestamp, Missed)>, NeverFires> {
    let m = most_recent_schedule_time(cronjob, now, schedule, tz, true)?;
    Ok(m.most_recent.filter(|t| *t <= now).map(|t| (t, m.missed)))
}

/// `nextScheduleTimeDuration`: how long until the next scheduled time after the most recent
/// one (or after now when times were missed or the schedule never fires), plus
/// [`NEXT_SCHEDULE_DELTA`]. Upstream returns a negative duration when that time has passed
/// (the queue then runs it at once); ours is zero then. When the schedule has no next time
/// upstream's arithmetic on Go's zero time also yields "at once"; we return `None` (do not
/// requeue), so a schedule that never fires cannot spin the queue.
pub fn next_schedule_time_duration(
    cronjob: &CronJob,
    now: Timestamp,
    schedule: &Schedule,
    tz: &TimeZone,
) -> Option<Duration> {
    let from = match most_recent_schedule_time(cronjob, now, schedule, tz, false) {
        Err(_) => now,
        Ok(MostRecent {
            most_recent: Some(t),
            ..
        }) => t,
        Ok(MostRecent {
            earliest,
            missed: Missed::None,
            ..
        }) => earliest,
        Ok(_) => now,
    };
    let at = schedule.next_after(from, tz)?;
    let delta = SignedDuration::try_from(NEXT_SCHEDULE_DELTA).unwrap_or(SignedDuration::ZERO);
    let wait = now.duration_until(at).saturating_add(delta);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

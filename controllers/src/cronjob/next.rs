//! When a schedule fires next: robfig/cron v3's `SpecSchedule.Next` (`spec.go`) and
//! `ConstantDelaySchedule.Next` (`constantdelay.go`), ported step by step so that time zones
//! behave exactly as upstream's controller sees them.
//!
//! robfig walks forward field by field (month, day, hour, minute, second) mixing wall-clock
//! resets (`time.Date`) with absolute steps (`Add(time.Hour)`), and gives up after five
//! years. Around daylight-saving changes that yields, and we reproduce:
//! - a wall time inside a spring-forward gap does not fire that day (`30 2 * * *` in
//!   America/New_York skips the day the clocks jump from 02:00 to 03:00);
//! - a wall time inside a fall-back overlap fires twice, once per offset (`30 1 * * *` fires
//!   at 01:30 EDT and again at 01:30 EST);
//! - schedules stepping by hours keep stepping in absolute hours across the change.
//!
//! Wall-clock resets resolve a missing or doubled local time as Go's `time.Date` does (see
//! [`go_date`]), not as jiff's default disambiguation would, since robfig's DST correction
//! in the day loop depends on that choice.

use k8s_openapi::jiff::civil::{Date, DateTime, Time};
use k8s_openapi::jiff::tz::{Offset, TimeZone};
use k8s_openapi::jiff::{SignedDuration, Span, Timestamp};

use super::schedule::{Schedule, SpecSchedule, has};

/// robfig gives up when no time matches within this many years (and returns Go's zero time).
const YEAR_LIMIT: i16 = 5;
/// A bound on the passes of the search, far above what five years need (each pass moves at
/// least to the next matching month, day, hour or minute), so that no input can spin.
const MAX_PASSES: u32 = 200_000;

impl Schedule {
    /// The first time strictly after `t` at which the schedule fires, with wall-clock fields
    /// read in `tz`; `None` when robfig finds none within five years (its zero time), e.g.
    /// for `0 0 30 2 *`.
    pub fn next_after(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match self {
            Self::Spec(spec) => spec.next_after(t, tz),
            // `t.Add(delay - t.Nanosecond())`: the delay from the start of `t`'s second.
            Self::Every(delay) => {
                let delay = SignedDuration::try_from(*delay).ok()?;
                floor_second(t)?.checked_add(delay).ok()
            }
        }
    }
}

impl SpecSchedule {
    fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        // Start at the earliest possible time: the upcoming whole second.
        let mut t = add_secs(floor_second(after)?, 1)?;
        let year_limit = civil(t, tz).year().checked_add(YEAR_LIMIT)?;
        let mut added = false;
        'wrap: for _ in 0..MAX_PASSES {
            if civil(t, tz).year() > year_limit {
                return None;
            }
            // The month; leaving it resets the day and time to the 1st at midnight.
            while !has(self.month, civil(t, tz).month()) {
                if !added {
                    added = true;
                    let c = civil(t, tz);
                    t = go_date(c.date().first_of_month().to_datetime(Time::midnight()), tz)?;
                }
                t = add_date(t, 1, 0, tz)?;
                if civil(t, tz).month() == 1 {
                    continue 'wrap;
                }
            }
            // The day; `AddDate` keeps the wall-clock time, which a DST change at midnight
            // moves to 23:00 or 01:00: robfig steps back to midnight in absolute hours.
            loop {
                let c = civil(t, tz);
                if self.day_matches(c.day(), c.weekday().to_sunday_zero_offset()) {
                    break;
                }
                if !added {
                    added = true;
                    t = go_date(c.date().to_datetime(Time::midnight()), tz)?;
                }
                t = add_date(t, 0, 1, tz)?;
                let hour = i64::from(civil(t, tz).hour());
                if hour != 0 {
                    let shift = if hour > 12 { 24 - hour } else { -hour };
                    t = add_secs(t, shift * 3600)?;
                }
                if civil(t, tz).day() == 1 {
                    continue 'wrap;
                }
            }
            // The hour, in absolute one-hour steps.
            while !has(self.hour, civil(t, tz).hour()) {
                if !added {
                    added = true;
                    let c = civil(t, tz);
                    let top = Time::new(c.hour(), 0, 0, 0).ok()?;
                    t = go_date(c.date().to_datetime(top), tz)?;
                }
                t = add_secs(t, 3600)?;
                if civil(t, tz).hour() == 0 {
                    continue 'wrap;
                }
            }
            // The minute, in absolute one-minute steps from the start of the minute
            // (`Truncate` works on absolute time).
            while !has(self.minute, civil(t, tz).minute()) {
                if !added {
                    added = true;
                    t = Timestamp::from_second(t.as_second().div_euclid(60) * 60).ok()?;
                }
                t = add_secs(t, 60)?;
                if civil(t, tz).minute() == 0 {
                    continue 'wrap;
                }
            }
            // The second: always 0 for the standard parser.
            while civil(t, tz).second() != 0 {
                added = true;
                t = add_secs(t, 1)?;
                if civil(t, tz).second() == 0 {
                    continue 'wrap;
                }
            }
            return Some(t);
        }
        None
    }
}

/// The wall-clock reading of `t` in `tz`.
pub(super) fn civil(t: Timestamp, tz: &TimeZone) -> DateTime {
    tz.to_datetime(t)
}

/// `t` rounded down to its second (Go's `Nanosecond()` is never negative).
fn floor_second(t: Timestamp) -> Option<Timestamp> {
    let secs = t.as_second() - i64::from(t.subsec_nanosecond() < 0);
    Timestamp::from_second(secs).ok()
}

fn add_secs(t: Timestamp, secs: i64) -> Option<Timestamp> {
    t.checked_add(SignedDuration::from_secs(secs)).ok()
}

/// Go's `t.AddDate(0, months, days)`: the wall-clock date moved (months first, overflowing
/// days rolling into the next month as `time.Date` normalizes them), the wall-clock time
/// kept, and the result resolved by [`go_date`].
fn add_date(t: Timestamp, months: i64, days: i64, tz: &TimeZone) -> Option<Timestamp> {
    let c = civil(t, tz);
    let month_index = i64::from(c.year()) * 12 + i64::from(c.month()) - 1 + months;
    let year = i16::try_from(month_index.div_euclid(12)).ok()?;
    let month = i8::try_from(month_index.rem_euclid(12) + 1).ok()?;
    let date = Date::new(year, month, 1)
        .ok()?
        .checked_add(Span::new().try_days(i64::from(c.day()) - 1 + days).ok()?)
        .ok()?;
    go_date(date.to_datetime(c.time()), tz)
}

/// Go's `time.Date` in a zone: the offset in force at the wall time read as UTC is applied;
/// if the instant that gives lies in another period, that period's offset is applied instead.
/// Which side of a gap or an overlap that picks depends on where the change falls relative
/// to the wall time read as UTC (so on the zone's sign): we follow Go to the letter.
pub(super) fn go_date(dt: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    let as_utc = Offset::UTC.to_timestamp(dt).ok()?;
    let first = tz.to_offset(as_utc);
    let probe = first.to_timestamp(dt).ok()?;
    tz.to_offset(probe).to_timestamp(dt).ok()
}

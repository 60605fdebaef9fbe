//! Cron schedules as the CronJob controller reads them: our own parser with the semantics of
//! `cron.ParseStandard` of github.com/robfig/cron v3 (`parser.go`), which upstream's
//! `pkg/controller/cronjob` and `pkg/apis/batch/validation` both call.
//!
//! What is accepted, as robfig v3 accepts it:
//! - five whitespace-separated fields: minute (0-59), hour (0-23), day of month (1-31),
//!   month (1-12 or `JAN`..`DEC`), day of week (0-6 or `SUN`..`SAT`; names in any case). `7`
//!   is *not* Sunday: robfig's bounds stop at 6 and refuse it ("end of range (7) above maximum
//!   (6): 7").
//! - in each field a comma list (empty items are skipped, as `strings.FieldsFunc` skips them)
//!   of `*` or `?`, `N`, `N-M`, each with an optional `/step`; `N/step` means `N-max/step`.
//! - the descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
//!   `@hourly` and `@every <Go duration>` (upstream validation accepts whatever `ParseStandard`
//!   accepts, so `@every 1h30m` is a valid CronJob schedule).
//!
//! A schedule containing `TZ` anywhere is refused with upstream validation's message
//! (`validateScheduleFormat`): the API refuses such schedules on create, and the time zone
//! belongs in `spec.timeZone`. robfig itself would honour a `TZ=`/`CRON_TZ=` prefix and the
//! controller would warn `UnsupportedSchedule`; objects carrying one cannot be created through
//! a v1.35 API, so we do not support them at all.
//!
//! Evaluation ([`Schedule::next_after`]) is in `next.rs`.

use std::time::Duration;

/// Why a schedule was refused; the messages are robfig's (and Go's `time.ParseDuration`'s),
/// which upstream puts verbatim in its `UnparseableSchedule` event and validation error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("empty spec string")]
    Empty,
    #[error("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")]
    TimeZoneInSchedule,
    #[error("expected exactly 5 fields, found {}: [{}]", .0.len(), .0.join(" "))]
    FieldCount(Vec<String>),
    #[error("too many hyphens: {0}")]
    TooManyHyphens(String),
    #[error("too many slashes: {0}")]
    TooManySlashes(String),
    #[error("failed to parse int from {expr}: strconv.Atoi: parsing \"{expr}\": {reason}")]
    NotANumber { expr: String, reason: &'static str },
    #[error("beginning of range ({start}) below minimum ({min}): {expr}")]
    BelowMinimum { start: u64, min: u32, expr: String },
    #[error("end of range ({end}) above maximum ({max}): {expr}")]
    AboveMaximum { end: u64, max: u32, expr: String },
    #[error("beginning of range ({start}) beyond end of range ({end}): {expr}")]
    Reversed { start: u64, end: u64, expr: String },
    #[error("step of range should be a positive number: {0}")]
    ZeroStep(String),
    #[error("unrecognized descriptor: {0}")]
    UnrecognizedDescriptor(String),
    #[error("failed to parse duration {descriptor}: {reason}")]
    Duration { descriptor: String, reason: String },
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Field sets, evaluated in a time zone (robfig's `SpecSchedule`).
    Spec(SpecSchedule),
    /// `@every`: a fixed delay of whole seconds, at least one (robfig's
    /// `ConstantDelaySchedule`), independent of time zones.
    Every(Duration),
}

/// One bit per allowed value (bit `n` for value `n`), plus [`STAR`] when the field was written
/// as `*` or `?` without a step above 1: robfig's `SpecSchedule`. Seconds are always `{0}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecSchedule {
    pub minute: u64,
    pub hour: u64,
    pub dom: u64,
    pub month: u64,
    pub dow: u64,
}

/// robfig's `starBit`: the field was a wildcard, which switches day-of-month/day-of-week
/// matching from OR to AND (see [`SpecSchedule::day_matches`]).
pub const STAR: u64 = 1 << 63;

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
/// Month names map to 1..=12: index 0 is a placeholder no input can equal.
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl Schedule {
    /// Parses a schedule as `cron.ParseStandard` does, refusing `TZ` as upstream validation.
    pub fn parse(spec: &str) -> Result<Self, ScheduleError> {
        if spec.contains("TZ") {
            return Err(ScheduleError::TimeZoneInSchedule);
        }
        if spec.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if spec.starts_with('@') {
            return parse_descriptor(spec);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(ScheduleError::FieldCount(
                fields.iter().map(|f| f.to_string()).collect(),
            ));
        };
        Ok(Self::Spec(SpecSchedule {
            minute: field(minute, &MINUTES)?,
            hour: field(hour, &HOURS)?,
            dom: field(dom, &DOM)?,
            month: field(month, &MONTHS)?,
            dow: field(dow, &DOW)?,
        }))
    }
}

impl SpecSchedule {
    /// robfig's `dayMatches`: when either day field is a wildcard both must match, otherwise
    /// either may (the classic cron rule, so `0 0 1 * MON` runs on the 1st *and* on Mondays).
    pub fn day_matches(&self, day_of_month: i8, sunday_zero_weekday: i8) -> bool {
        let dom = has(self.dom, day_of_month);
        let dow = has(self.dow, sunday_zero_weekday);
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }
}

/// Whether `bits` allows `value`.
pub(super) fn has(bits: u64, value: i8) -> bool {
    u32::try_from(value).is_ok_and(|v| v < 63 && bits & (1 << v) != 0)
}

/// `getField`: the union of the comma-separated ranges.
fn field(text: &str, bounds: &Bounds) -> Result<u64, ScheduleError> {
    text.split(',')
        .filter(|expr| !expr.is_empty())
        .try_fold(0, |bits, expr| Ok(bits | range(expr, bounds)?))
}

/// `getRange`: `*`, `?`, `N` or `N-M`, with an optional `/step`.
fn range(expr: &str, bounds: &Bounds) -> Result<u64, ScheduleError> {
    let mut range_and_step = expr.split('/');
    let range = range_and_step.next().unwrap_or_default();
    let step = range_and_step.next();
    if range_and_step.next().is_some() {
        return Err(ScheduleError::TooManySlashes(expr.into()));
    }
    let low_high: Vec<&str> = range.split('-').collect();
    let (start, mut end, mut star) = match low_high[..] {
        ["*" | "?", ..] => (u64::from(bounds.min), u64::from(bounds.max), STAR),
        [single] => {
            let n = int_or_name(single, bounds)?;
            (n, n, 0)
        }
        [low, high] => (int_or_name(low, bounds)?, int_or_name(high, bounds)?, 0),
        _ => return Err(ScheduleError::TooManyHyphens(expr.into())),
    };
    let step = match step {
        None => 1,
        Some(step) => {
            let step = int(step)?;
            if low_high.len() == 1 {
                end = u64::from(bounds.max);
            }
            // robfig v3: `*/2` is not a wildcard for the OR/AND day rule.
            if step > 1 {
                star = 0;
            }
            step
        }
    };
    if start < u64::from(bounds.min) {
        return Err(ScheduleError::BelowMinimum {
            start,
            min: bounds.min,
            expr: expr.into(),
        });
    }
    if end > u64::from(bounds.max) {
        return Err(ScheduleError::AboveMaximum {
            end,
            max: bounds.max,
            expr: expr.into(),
        });
    }
    if start > end {
        return Err(ScheduleError::Reversed {
            start,
            end,
            expr: expr.into(),
        });
    }
    if step == 0 {
        return Err(ScheduleError::ZeroStep(expr.into()));
    }
    // `start..=end` lies within 0..=59 here, so the shifts cannot overflow.
    let bits = (start..=end)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .fold(0u64, |bits, v| bits | (1 << v));
    Ok(bits | star)
}

/// `parseIntOrName`: a (case-insensitive) name of the field, or a number.
fn int_or_name(expr: &str, bounds: &Bounds) -> Result<u64, ScheduleError> {
    let lower = expr.to_ascii_lowercase();
    match bounds
        .names
        .iter()
        .position(|n| !n.is_empty() && **n == lower)
    {
        Some(index) => Ok(index as u64),
        None => int(expr),
    }
}

/// `mustParseInt`: Go's `strconv.Atoi` (an optional `+`, decimal digits, within `int64`).
fn int(expr: &str) -> Result<u64, ScheduleError> {
    let digits = expr.strip_prefix('+').unwrap_or(expr);
    let error = |reason| ScheduleError::NotANumber {
        expr: expr.into(),
        reason,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error("invalid syntax"));
    }
    digits
        .parse::<i64>()
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| error("value out of range"))
}

/// `parseDescriptor`: the named schedules, compared exactly (no trimming, case-sensitive).
fn parse_descriptor(spec: &str) -> Result<Schedule, ScheduleError> {
    let all = |b: &Bounds| (b.min..=b.max).fold(STAR, |bits, v| bits | (1 << v));
    let first = |b: &Bounds| 1u64 << b.min;
    let (minute, hour) = (first(&MINUTES), first(&HOURS));
    let spec_schedule = match spec {
        "@yearly" | "@annually" => SpecSchedule {
            minute,
            hour,
            dom: first(&DOM),
            month: first(&MONTHS),
            dow: all(&DOW),
        },
        "@monthly" => SpecSchedule {
            minute,
            hour,
            dom: first(&DOM),
            month: all(&MONTHS),
            dow: all(&DOW),
        },
        "@weekly" => SpecSchedule {
            minute,
            hour,
            dom: all(&DOM),
            month: all(&MONTHS),
            dow: first(&DOW),
        },
        "@daily" | "@midnight" => SpecSchedule {
            minute,
            hour,
            dom: all(&DOM),
            month: all(&MONTHS),
            dow: all(&DOW),
        },
        "@hourly" => SpecSchedule {
            minute,
            hour: all(&HOURS),
            dom: all(&DOM),
            month: all(&MONTHS),
            dow: all(&DOW),
        },
        _ => {
            let Some(text) = spec.strip_prefix("@every ") else {
                return Err(ScheduleError::UnrecognizedDescriptor(spec.into()));
            };
            let nanos =
                super::go_duration::parse(text).map_err(|reason| ScheduleError::Duration {
                    descriptor: spec.into(),
                    reason,
                })?;
            // `cron.Every`: at least a second, rounded down to whole seconds.
            let secs = (nanos / 1_000_000_000).max(1);
            return Ok(Schedule::Every(Duration::from_secs(secs.unsigned_abs())));
        }
    };
    Ok(Schedule::Spec(spec_schedule))
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;

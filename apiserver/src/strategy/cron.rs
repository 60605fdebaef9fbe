//! Cron schedules as CronJob validation reads them: `cron.ParseStandard` of
//! `github.com/robfig/cron/v3` (five fields or a descriptor), with its error texts, which
//! upstream returns as they are; and the CronJob's schedule and time-zone rules
//! (`validateScheduleFormat`, `validateTimeZone`).

use crate::error::FieldError;
use crate::strategy::checks::quote;

/// The fields of a standard schedule: minute, hour, day of month, month, day of week.
const FIELDS: [Bounds; 5] = [
    Bounds {
        min: 0,
        max: 59,
        names: &[],
    },
    Bounds {
        min: 0,
        max: 23,
        names: &[],
    },
    Bounds {
        min: 1,
        max: 31,
        names: &[],
    },
    Bounds {
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    Bounds {
        min: 0,
        max: 6,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

struct Bounds {
    min: u64,
    max: u64,
    /// Names of the values from `min` on.
    names: &'static [&'static str],
}

/// Checks a schedule as `cron.ParseStandard` does. A `TZ=`/`CRON_TZ=` prefix is skipped:
/// this server has no time-zone database to check the zone against.
pub fn parse_standard(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".to_owned());
    }
    let mut spec = spec;
    if let Some(rest) = spec
        .strip_prefix("TZ=")
        .or_else(|| spec.strip_prefix("CRON_TZ="))
    {
        let Some((_, schedule)) = rest.split_once(' ') else {
            return Err(format!(
                "provided bad location {rest}: unknown time zone {rest}"
            ));
        };
        spec = schedule.trim();
    }
    if spec.starts_with('@') {
        return descriptor(spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (field, bounds) in fields.iter().zip(&FIELDS) {
        for expr in field.split(',').filter(|e| !e.is_empty()) {
            range(expr, bounds)?;
        }
    }
    Ok(())
}

/// robfig's `getRange`: `number | number "-" number [ "/" number ]`, `*` or `?`.
fn range(expr: &str, bounds: &Bounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let (start, mut end) = if matches!(low_and_high[0], "*" | "?") {
        (bounds.min, bounds.max)
    } else {
        let start = int_or_name(low_and_high[0], bounds)?;
        match low_and_high.len() {
            1 => (start, start),
            2 => (start, int_or_name(low_and_high[1], bounds)?),
            _ => return Err(format!("too many hyphens: {expr}")),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = int(range_and_step[1])?;
            // "N/step" means "N-max/step".
            if low_and_high.len() == 1 {
                end = bounds.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < bounds.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn int_or_name(expr: &str, bounds: &Bounds) -> Result<u64, String> {
    let lower = expr.to_lowercase();
    if let Some(i) = bounds.names.iter().position(|n| *n == lower) {
        return Ok(bounds.min + i as u64);
    }
    int(expr)
}

/// robfig's `mustParseInt` over Go's `strconv.Atoi`.
fn int(expr: &str) -> Result<u64, String> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: invalid syntax"
        ));
    }
    let Ok(n) = expr.parse::<i64>() else {
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: value out of range"
        ));
    };
    u64::try_from(n).map_err(|_| format!("negative number ({n}) not allowed: {expr}"))
}

fn descriptor(spec: &str) -> Result<(), String> {
    const NAMED: [&str; 7] = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    if NAMED.contains(&spec) {
        return Ok(());
    }
    if let Some(duration) = spec.strip_prefix("@every ") {
        return go_duration(duration)
            .map(|_| ())
            .map_err(|e| format!("failed to parse duration {spec}: {e}"));
    }
    Err(format!("unrecognized descriptor: {spec}"))
}

/// Go's `time.ParseDuration`, as far as validity goes: signed decimal numbers, each with a
/// unit; returns nanoseconds.
fn go_duration(s: &str) -> Result<u128, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if unsigned == "0" {
        return Ok(0);
    }
    if unsigned.is_empty() {
        return Err(invalid());
    }
    let mut rest = unsigned;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(invalid());
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {s:?}"));
        }
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        total = whole
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= i64::MAX as u128)
            .ok_or_else(invalid)?;
        rest = next;
    }
    Ok(total)
}

/// `validateScheduleFormat`.
pub fn validate_schedule(
    schedule: &str,
    tz_allowed: bool,
    has_time_zone: bool,
    out: &mut Vec<FieldError>,
) {
    if let Err(e) = parse_standard(schedule) {
        out.push(FieldError::invalid("spec.schedule", quote(schedule), e));
    }
    let uses_tz = schedule.contains("TZ");
    if tz_allowed && uses_tz && has_time_zone {
        let why = "cannot use both timeZone field and TZ or CRON_TZ in schedule";
        out.push(FieldError::invalid("spec.schedule", quote(schedule), why));
    } else if !tz_allowed && uses_tz {
        let why = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead";
        out.push(FieldError::invalid("spec.schedule", quote(schedule), why));
    }
}

/// `validateTimeZone`, without loading the zone: this server has no time-zone database, so
/// a well-formed name is accepted.
pub fn validate_time_zone(zone: Option<&str>, out: &mut Vec<FieldError>) {
    let Some(zone) = zone else { return };
    let field = "spec.timeZone";
    if zone.is_empty() {
        out.push(FieldError::invalid(
            field,
            quote(zone),
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let part_ok = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && (1..=14).contains(&p.len())
            && p.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'+'))
    };
    if !zone.split('/').all(part_ok) {
        out.push(FieldError::invalid(
            field,
            quote(zone),
            format!("unknown time zone {zone}"),
        ));
        return;
    }
    if zone.eq_ignore_ascii_case("Local") {
        out.push(FieldError::invalid(
            field,
            quote(zone),
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let table: &[(&str, Option<&str>)] = &[
            ("*/5 * * * *", None),
            ("0 0 1 jan-jun MON-fri", None),
            ("0,30 9-17 * * 1-5", None),
            ("@hourly", None),
            ("@every 1h30m", None),
            ("TZ=Europe/Paris 0 * * * *", None),
            ("", Some("empty spec string")),
            (
                "* * * *",
                Some("expected exactly 5 fields, found 4: [* * * *]"),
            ),
            (
                "60 * * * *",
                Some("end of range (60) above maximum (59): 60"),
            ),
            (
                "* * 0 * *",
                Some("beginning of range (0) below minimum (1): 0"),
            ),
            ("* * * * 7", Some("end of range (7) above maximum (6): 7")),
            (
                "5-1 * * * *",
                Some("beginning of range (5) beyond end of range (1): 5-1"),
            ),
            (
                "*/0 * * * *",
                Some("step of range should be a positive number: */0"),
            ),
            ("1-2-3 * * * *", Some("too many hyphens: 1-2-3")),
            (
                "x * * * *",
                Some("failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"),
            ),
            ("@often", Some("unrecognized descriptor: @often")),
            (
                "@every 1x",
                Some(
                    "failed to parse duration @every 1x: time: unknown unit \"x\" in duration \"1x\"",
                ),
            ),
            (
                "@every 10",
                Some("failed to parse duration @every 10: time: missing unit in duration \"10\""),
            ),
        ];
        for (spec, want) in table {
            assert_eq!(parse_standard(spec).err().as_deref(), *want, "{spec}");
        }
    }
}

//! Parsing as robfig v3's `ParseStandard`, and `next_after` against times worked out from
//! robfig's algorithm (including its daylight-saving behaviour).

use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::tz::TimeZone;

use super::*;

fn bits(values: &[u32]) -> u64 {
    values.iter().fold(0, |b, v| b | (1 << v))
}

fn spec(text: &str) -> SpecSchedule {
    match Schedule::parse(text) {
        Ok(Schedule::Spec(s)) => s,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn fields_lists_ranges_steps_and_names() {
    let s = spec("*/15 1-10/3 3/10 JAN,mar-May sun-TUE");
    assert_eq!(s.minute, bits(&[0, 15, 30, 45]));
    assert_eq!(s.hour, bits(&[1, 4, 7, 10]));
    assert_eq!(s.dom, bits(&[3, 13, 23]));
    assert_eq!(s.month, bits(&[1, 3, 4, 5]));
    assert_eq!(s.dow, bits(&[0, 1, 2]));

    let s = spec("  5,,7 ? * * *  ");
    assert_eq!(s.minute, bits(&[5, 7]));
    assert_eq!(s.hour, bits(&(0..24).collect::<Vec<_>>()) | STAR);
    // A step above 1 clears the wildcard mark (robfig v3), a step of 1 keeps it.
    assert_eq!(spec("0 0 */2 * *").dom & STAR, 0);
    assert_ne!(spec("0 0 */1 * *").dom & STAR, 0);
    assert_eq!(spec("+5 0 1 1 0").minute, bits(&[5]));
}

#[test]
fn descriptors() {
    let daily = spec("0 0 * * *");
    for (text, want) in [
        ("@yearly", spec("0 0 1 1 *")),
        ("@annually", spec("0 0 1 1 *")),
        ("@monthly", spec("0 0 1 * *")),
        ("@weekly", spec("0 0 * * 0")),
        ("@daily", daily),
        ("@midnight", daily),
        ("@hourly", spec("0 * * * *")),
    ] {
        assert_eq!(spec(text), want, "{text}");
    }
    let every = |t| Schedule::parse(t).ok();
    assert_eq!(
        every("@every 1h30m"),
        Some(Schedule::Every(Duration::from_secs(5400)))
    );
    assert_eq!(
        every("@every 1.5s"),
        Some(Schedule::Every(Duration::from_secs(1)))
    );
    assert_eq!(
        every("@every 10ms"),
        Some(Schedule::Every(Duration::from_secs(1)))
    );
    assert_eq!(
        every("@every -5m"),
        Some(Schedule::Every(Duration::from_secs(1)))
    );
}

#[test]
fn errors_carry_robfig_messages() {
    for (text, message) in [
        ("", "empty spec string"),
        (
            "TZ=UTC 0 * * * *",
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ),
        (
            "CRON_TZ=Europe/Paris @daily",
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        (
            "0 0 * * * *",
            "expected exactly 5 fields, found 6: [0 0 * * * *]",
        ),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        (
            "0 5-2 * * *",
            "beginning of range (5) beyond end of range (2): 5-2",
        ),
        (
            "*/0 * * * *",
            "step of range should be a positive number: */0",
        ),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/2/3 * * * *", "too many slashes: */2/3"),
        (
            "x * * * *",
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            "0 0 * FOO *",
            "failed to parse int from FOO: strconv.Atoi: parsing \"FOO\": invalid syntax",
        ),
        (
            "99999999999999999999 * * * *",
            "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \
             \"99999999999999999999\": value out of range",
        ),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("@daily ", "unrecognized descriptor: @daily "),
        ("@every", "unrecognized descriptor: @every"),
        (
            "@every 5",
            "failed to parse duration @every 5: time: missing unit in duration \"5\"",
        ),
        (
            "@every 5d",
            "failed to parse duration @every 5d: time: unknown unit \"d\" in duration \"5d\"",
        ),
        (
            "@every 1.2.3h",
            "failed to parse duration @every 1.2.3h: time: missing unit in duration \"1.2.3h\"",
        ),
        (
            "@every .h",
            "failed to parse duration @every .h: time: invalid duration \".h\"",
        ),
        (
            "@every 9999999999h",
            "failed to parse duration @every 9999999999h: time: invalid duration \"9999999999h\"",
        ),
    ] {
        let err = Schedule::parse(text).expect_err(text);
        assert_eq!(err.to_string(), message, "{text:?}");
    }
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("zone in the system database")
}

/// The successive firing times after `from`.
fn fires(text: &str, from: &str, tz: &TimeZone, n: usize) -> Vec<String> {
    let schedule = Schedule::parse(text).expect(text);
    let mut t = ts(from);
    let mut out = Vec::new();
    for _ in 0..n {
        match schedule.next_after(t, tz) {
            Some(next) => {
                out.push(next.to_string());
                t = next;
            }
            None => break,
        }
    }
    out
}

#[test]
fn next_in_utc() {
    let utc = TimeZone::UTC;
    for (text, from, want) in [
        (
            "*/15 * * * *",
            "2024-01-01T00:07:30.5Z",
            &["2024-01-01T00:15:00Z", "2024-01-01T00:30:00Z"][..],
        ),
        (
            "0 * * * *",
            "2024-01-01T00:00:00Z",
            &["2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"],
        ),
        (
            "30 23 31 * *",
            "2024-01-31T23:30:00Z",
            &["2024-03-31T23:30:00Z", "2024-05-31T23:30:00Z"],
        ),
        (
            "0 0 29 2 *",
            "2024-03-01T00:00:00Z",
            &["2028-02-29T00:00:00Z"],
        ),
        (
            "@yearly",
            "2023-12-31T23:59:59.999Z",
            &["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"],
        ),
        // Day of month OR day of week when neither is a wildcard: the 13th and Fridays.
        (
            "0 0 13 * FRI",
            "2024-09-01T00:00:00Z",
            &[
                "2024-09-06T00:00:00Z",
                "2024-09-13T00:00:00Z",
                "2024-09-20T00:00:00Z",
            ],
        ),
        // AND when one is a wildcard: Fridays only (`*` in day of month).
        (
            "0 0 * * 5",
            "2024-09-01T00:00:00Z",
            &["2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z"],
        ),
        // `*/2` is no wildcard in robfig v3: odd days OR Mondays.
        (
            "0 0 */2 * MON",
            "2024-09-01T00:00:00Z",
            &[
                "2024-09-02T00:00:00Z",
                "2024-09-03T00:00:00Z",
                "2024-09-05T00:00:00Z",
            ],
        ),
        (
            "@every 90s",
            "2024-01-01T00:00:10.7Z",
            &["2024-01-01T00:01:40Z", "2024-01-01T00:03:10Z"],
        ),
    ] {
        assert_eq!(
            fires(text, from, &utc, want.len()),
            want,
            "{text} after {from}"
        );
    }
}

#[test]
fn a_schedule_that_never_fires_has_no_next_time() {
    assert!(fires("0 0 30 2 *", "2024-01-01T00:00:00Z", &TimeZone::UTC, 1).is_empty());
    assert!(fires("59 23 31 4 *", "2024-01-01T00:00:00Z", &TimeZone::UTC, 1).is_empty());
}

#[test]
fn next_in_a_time_zone() {
    let tokyo = zone("Asia/Tokyo");
    assert_eq!(
        fires("0 9 * * *", "2024-06-01T00:00:00Z", &tokyo, 2),
        ["2024-06-02T00:00:00Z", "2024-06-03T00:00:00Z"]
    );
    let kolkata = zone("Asia/Kolkata");
    assert_eq!(
        fires("0 * * * *", "2024-06-01T00:00:00Z", &kolkata, 1),
        ["2024-06-01T00:30:00Z"]
    );
}

#[test]
fn spring_forward_skips_a_time_in_the_gap() {
    // 2024-03-10: New York jumps from 02:00 EST to 03:00 EDT; 02:30 does not exist that day.
    let ny = zone("America/New_York");
    assert_eq!(
        fires("30 2 * * *", "2024-03-09T12:00:00Z", &ny, 2),
        ["2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"]
    );
    // Hourly keeps absolute hours: 01:00 EST, then 03:00 EDT.
    assert_eq!(
        fires("0 * * * *", "2024-03-10T05:30:00Z", &ny, 2),
        ["2024-03-10T06:00:00Z", "2024-03-10T07:00:00Z"]
    );
    // Berlin jumps at 02:00 CET too (2024-03-31): same skip east of UTC.
    let berlin = zone("Europe/Berlin");
    assert_eq!(
        fires("30 2 * * *", "2024-03-30T12:00:00Z", &berlin, 1),
        ["2024-04-01T00:30:00Z"]
    );
}

#[test]
fn fall_back_fires_twice_in_the_overlap() {
    // 2024-11-03: New York repeats 01:00-02:00 (EDT, then EST); robfig fires in both.
    let ny = zone("America/New_York");
    assert_eq!(
        fires("30 1 * * *", "2024-11-03T04:00:00Z", &ny, 3),
        [
            "2024-11-03T05:30:00Z",
            "2024-11-03T06:30:00Z",
            "2024-11-04T06:30:00Z"
        ]
    );
    assert_eq!(
        fires("0 0 * * *", "2024-11-02T12:00:00Z", &ny, 2),
        ["2024-11-03T04:00:00Z", "2024-11-04T05:00:00Z"]
    );
}

#[test]
fn midnight_that_does_not_exist() {
    // 2018-11-04: São Paulo jumped from 00:00 to 01:00; robfig's day loop lands on 01:00.
    let sao_paulo = zone("America/Sao_Paulo");
    assert_eq!(
        fires("0 1 * * *", "2018-11-03T12:00:00Z", &sao_paulo, 2),
        ["2018-11-04T03:00:00Z", "2018-11-05T03:00:00Z"]
    );
    assert_eq!(
        fires("0 12 4 11 *", "2018-11-01T00:00:00Z", &sao_paulo, 1),
        ["2018-11-04T14:00:00Z"]
    );
}

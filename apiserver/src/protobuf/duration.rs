//! Go's duration strings (`time.Duration.String` and `time.ParseDuration`), the JSON form of
//! `metav1.Duration`.

use super::ProtobufError;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Formats nanoseconds as Go does: `0s`, `1.5µs`, `300ms`, `1h2m3.5s`; the largest unit is
/// the hour, and units under a second are used only for durations under a second.
pub(super) fn format(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u < NANOS_PER_SECOND {
        let (digits, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        return format!("{sign}{}{unit}", fraction(u, digits));
    }
    let seconds = fraction(u % (60 * NANOS_PER_SECOND), 9);
    let minutes = u / (60 * NANOS_PER_SECOND);
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// `v / 10^digits` with its fractional digits, trailing zeros (and a bare point) dropped.
fn fraction(v: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let (whole, part) = (v / scale, v % scale);
    if part == 0 {
        return whole.to_string();
    }
    let part = format!("{part:0width$}", width = digits as usize);
    format!("{whole}.{}", part.trim_end_matches('0'))
}

/// Parses a Go duration: an optional sign, then one or more decimal numbers, each with an
/// optional fraction and a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`); `0` alone needs
/// no unit.
pub(super) fn parse(text: &str) -> Result<i64, ProtobufError> {
    let invalid = || ProtobufError::Invalid(format!("invalid duration {text:?}"));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(whole_len);
        let (part, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(after.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after),
        };
        if whole.is_empty() && part.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return Err(invalid()),
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        // Fractional digits past nanoseconds of an hour cannot change the result.
        let part = &part[..part.len().min(18)];
        let fraction = match part {
            "" => 0,
            digits => {
                let value: u128 = digits.parse().map_err(|_| invalid())?;
                value * scale / 10u128.pow(digits.len() as u32)
            }
        };
        total = whole
            .checked_mul(scale)
            .and_then(|v| v.checked_add(fraction))
            .and_then(|v| v.checked_add(total))
            .filter(|&v| v <= 1u128 << 63)
            .ok_or_else(invalid)?;
        rest = after;
    }
    if negative {
        Ok((total as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(total).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_go_does() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (-4_000_000_000, "-4s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format(nanos), text);
            assert_eq!(parse(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn parses_what_go_parses() {
        let cases = [
            ("0", 0),
            ("+5s", 5_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("1h30m", 5_400_000_000_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("10us", 10_000),
            ("10μs", 10_000),
            ("100ms", 100_000_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse(text), Ok(nanos), "{text}");
        }
        for bad in [
            "",
            "-",
            "s",
            "1",
            "1x",
            ".s",
            "1.2.3s",
            "9223372036854775808ns",
            "3000000h",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

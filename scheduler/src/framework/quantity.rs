//! Resource quantities as the scheduler counts them: CPU in millicores (`MilliValue`), every
//! other resource in whole units (`Value`), both rounded up as upstream's `resource.Quantity`
//! rounds (k8s.io/apimachinery `pkg/api/resource/quantity.go`). Quantities reaching the
//! scheduler were validated by the API server, so a malformed one only counts as zero.

/// `value × 10^scale` rounded up to a whole number; `None` when it does not fit an `i64`.
fn scaled(s: &str, scale: i32) -> Option<i64> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = rest
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let (number, suffix) = rest.split_at(digits);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let (mut exponent, binary) = suffix_scale(suffix)?;
    let mut mantissa: i128 = 0;
    for c in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(i128::from(c - b'0'))?;
    }
    exponent = exponent - i32::try_from(fraction.len()).ok()? + scale;
    for _ in 0..binary {
        mantissa = mantissa.checked_mul(1024)?;
    }
    let value = if exponent >= 0 {
        mantissa.checked_mul(10i128.checked_pow(u32::try_from(exponent).ok()?)?)?
    } else {
        match 10i128.checked_pow(u32::try_from(-exponent).ok()?) {
            Some(divisor) => (mantissa + divisor - 1) / divisor,
            // Finer than i128 can hold: any non-zero value rounds up to one.
            None => i128::from(mantissa > 0),
        }
    };
    let value = if negative { -value } else { value };
    i64::try_from(value).ok()
}

/// A quantity suffix as a power of ten and a power of 1024 (`"Ki"` is `(0, 1)`, `"m"` is
/// `(-3, 0)`, `"e3"` is `(3, 0)`); `None` for an unknown suffix.
pub fn suffix_scale(suffix: &str) -> Option<(i32, u32)> {
    Some(match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 1),
        "Mi" => (0, 2),
        "Gi" => (0, 3),
        "Ti" => (0, 4),
        "Pi" => (0, 5),
        "Ei" => (0, 6),
        other => (other.strip_prefix(['e', 'E'])?.parse::<i32>().ok()?, 0),
    })
}

/// Thousandths, rounded up (`Quantity.MilliValue`): how CPU is counted.
pub fn milli_value(s: &str) -> i64 {
    scaled(s, 3).unwrap_or(0)
}

/// Whole units, rounded up (`Quantity.Value`): memory, storage, pods, extended resources.
pub fn value(s: &str) -> i64 {
    scaled(s, 0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (input, milli, whole) in [
            ("1", 1000, 1),
            ("100m", 100, 1),
            ("1.5", 1500, 2),
            ("0.1", 100, 1),
            ("1Ki", 1_024_000, 1024),
            ("1Gi", 1_073_741_824_000, 1_073_741_824),
            ("2k", 2_000_000, 2000),
            ("1e3", 1_000_000, 1000),
            ("1n", 1, 1),
            ("8", 8000, 8),
            ("-1", -1000, -1),
            ("junk", 0, 0),
            ("", 0, 0),
        ] {
            assert_eq!(milli_value(input), milli, "milli {input}");
            assert_eq!(value(input), whole, "value {input}");
        }
    }
}

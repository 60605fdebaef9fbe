//! Resource quantities (upstream `k8s.io/apimachinery/pkg/api/resource/quantity.go`): parsing,
//! exact comparison and the canonical form upstream prints in messages (`0.5` is `500m`,
//! `1024Mi` is `1Gi`).
//!
//! A value is `mantissa × 10^exponent`, exact: binary suffixes are multiplied out, so `1.5Gi`
//! is `1610612736`. Like upstream, precision past nano units is rounded up.

use std::cmp::Ordering;

/// Upstream's `ErrFormatWrong` (a decode error there; a field error here, because
/// k8s-openapi keeps quantities as strings).
pub const FORMAT_ERROR: &str = "quantities must match the regular expression \
    '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// The smallest exponent kept (nano); finer values round up, as upstream's `ParseQuantity`.
const MIN_EXPONENT: i32 = -9;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
    format: Format,
}

impl Quantity {
    pub fn parse(s: &str) -> Result<Quantity, &'static str> {
        let bytes = s.as_bytes();
        let (negative, rest) = match bytes.first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_len = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(FORMAT_ERROR);
        }
        let (format, binary_power, mut exponent) = parse_suffix(suffix)?;
        let mut mantissa: i128 = 0;
        for c in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(c - b'0')))
                .ok_or(FORMAT_ERROR)?;
        }
        let fraction_digits = i32::try_from(fraction.len()).map_err(|_| FORMAT_ERROR)?;
        exponent = exponent.checked_sub(fraction_digits).ok_or(FORMAT_ERROR)?;
        for _ in 0..binary_power {
            mantissa = mantissa.checked_mul(1024).ok_or(FORMAT_ERROR)?;
        }
        if negative {
            mantissa = -mantissa;
        }
        let mut q = Quantity {
            mantissa,
            exponent,
            format,
        };
        q.round_up_to(MIN_EXPONENT);
        Ok(q)
    }

    pub fn zero() -> Quantity {
        Quantity {
            mantissa: 0,
            exponent: 0,
            format: Format::DecimalSi,
        }
    }

    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// Whether the value is a whole number (upstream checks `MilliValue() % 1000 == 0`).
    pub fn is_integer(&self) -> bool {
        let (m, e) = strip_tens(self.mantissa, self.exponent);
        m == 0 || e >= 0
    }

    /// The value rounded up to a whole number (upstream's `Value()`), if it fits.
    pub fn ceil_value(&self) -> Option<i128> {
        let mut whole = *self;
        whole.round_up_to(0);
        whole.mantissa.checked_mul(pow10(whole.exponent)?)
    }

    /// The value in thousandths, rounded up (upstream's `MilliValue()`), if it fits.
    pub fn milli_value(&self) -> Option<i128> {
        let mut milli = *self;
        milli.round_up_to(-3);
        milli.mantissa.checked_mul(pow10(milli.exponent + 3)?)
    }

    /// `-self`.
    pub fn negated(&self) -> Quantity {
        Quantity {
            mantissa: -self.mantissa,
            ..*self
        }
    }

    /// `self + other`, keeping this value's format.
    pub fn add(&self, other: &Quantity) -> Quantity {
        match align(self, other) {
            Some((a, b, exponent)) => Quantity {
                mantissa: a.saturating_add(b),
                exponent,
                format: self.format,
            },
            None => {
                if self.cmp(other) == Ordering::Less {
                    *other
                } else {
                    *self
                }
            }
        }
    }

    /// Rounds up (towards positive infinity) so no digit is finer than `10^exponent`.
    fn round_up_to(&mut self, exponent: i32) {
        if self.exponent >= exponent {
            return;
        }
        let shift = exponent - self.exponent;
        let Some(divisor) = pow10(shift) else {
            self.mantissa = i128::from(self.mantissa > 0);
            self.exponent = exponent;
            return;
        };
        let quotient = self.mantissa.div_euclid(divisor);
        let rounded = if self.mantissa.rem_euclid(divisor) != 0 {
            quotient + 1
        } else {
            quotient
        };
        self.mantissa = rounded;
        self.exponent = exponent;
    }

    /// Upstream's `Quantity.String()`: the canonical form.
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_owned();
        }
        let mut format = self.format;
        if format == Format::BinarySi {
            let magnitude = Quantity {
                mantissa: self.mantissa.abs(),
                ..*self
            };
            let small = magnitude
                < Quantity {
                    mantissa: 1024,
                    exponent: 0,
                    format: Format::DecimalSi,
                };
            if small || !self.is_integer() {
                format = Format::DecimalSi;
            }
        }
        if format == Format::BinarySi {
            let (m, e) = strip_tens(self.mantissa, self.exponent);
            let mut value = m.saturating_mul(pow10(e).unwrap_or(i128::MAX));
            let mut power = 0;
            while power < 6 && value % 1024 == 0 {
                value /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return format!("{value}{suffix}");
        }
        let (mut m, mut e) = strip_tens(self.mantissa, self.exponent);
        // The exponent goes down to a multiple of 3 (1.5e4 prints as 15k).
        while e.rem_euclid(3) != 0 {
            m *= 10;
            e -= 1;
        }
        let suffix = match (format, e) {
            (_, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".to_owned(),
            (_, -6) => "u".to_owned(),
            (_, -3) => "m".to_owned(),
            (_, 3) => "k".to_owned(),
            (_, 6) => "M".to_owned(),
            (_, 9) => "G".to_owned(),
            (_, 12) => "T".to_owned(),
            (_, 15) => "P".to_owned(),
            (_, 18) => "E".to_owned(),
            (_, e) => format!("e{e}"),
        };
        format!("{m}{suffix}")
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Quantity) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        match align(self, other) {
            Some((a, b, _)) => a.cmp(&b),
            // One side overflows when scaled: its magnitude is the larger.
            None => {
                let sign = |q: &Quantity| q.mantissa.signum();
                match sign(self).cmp(&sign(other)) {
                    Ordering::Equal if self.exponent > other.exponent => {
                        self.mantissa.signum().cmp(&0)
                    }
                    Ordering::Equal => 0.cmp(&other.mantissa.signum()),
                    unequal => unequal,
                }
            }
        }
    }
}

/// Both mantissas at the smaller exponent, or `None` on overflow.
fn align(a: &Quantity, b: &Quantity) -> Option<(i128, i128, i32)> {
    let exponent = a.exponent.min(b.exponent);
    let scale = |q: &Quantity| q.mantissa.checked_mul(pow10(q.exponent - exponent)?);
    Some((scale(a)?, scale(b)?, exponent))
}

fn strip_tens(mut m: i128, mut e: i32) -> (i128, i32) {
    if m == 0 {
        return (0, 0);
    }
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    (m, e)
}

fn pow10(n: i32) -> Option<i128> {
    10i128.checked_pow(u32::try_from(n).ok()?)
}

/// The suffix's format, binary power (of 1024) and decimal exponent.
fn parse_suffix(suffix: &str) -> Result<(Format, u32, i32), &'static str> {
    let decimal = |e| Ok((Format::DecimalSi, 0, e));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => Ok((Format::BinarySi, 1, 0)),
        "Mi" => Ok((Format::BinarySi, 2, 0)),
        "Gi" => Ok((Format::BinarySi, 3, 0)),
        "Ti" => Ok((Format::BinarySi, 4, 0)),
        "Pi" => Ok((Format::BinarySi, 5, 0)),
        "Ei" => Ok((Format::BinarySi, 6, 0)),
        _ => {
            let digits = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))
                .ok_or(FORMAT_ERROR)?;
            let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|c| c.is_ascii_digit()) {
                return Err(FORMAT_ERROR);
            }
            let e: i32 = digits.parse().map_err(|_| FORMAT_ERROR)?;
            Ok((Format::DecimalExponent, 0, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).expect("valid quantity")
    }

    #[test]
    fn canonical_forms_match_upstream() {
        let cases = [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1500", "1500"),
            ("2000", "2k"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("100M", "100M"),
            ("0", "0"),
            ("-1", "-1"),
            ("0.0000000001", "1n"),
            ("+2", "2"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).canonical(), want, "{input}");
        }
    }

    #[test]
    fn malformed_quantities_are_rejected() {
        for bad in ["", "abc", "1.2.3", "1Z", ".", "1e", "1ee3", "--1", "1 Gi"] {
            assert_eq!(Quantity::parse(bad).err(), Some(FORMAT_ERROR), "{bad:?}");
        }
    }

    #[test]
    fn comparisons_are_exact() {
        assert!(q("500m") < q("1"));
        assert_eq!(q("1Gi"), q("1073741824"));
        assert!(q("1G") < q("1Gi"));
        assert_eq!(q("0.5"), q("500m"));
        assert!(q("-1") < q("0"));
        assert!(q("1e30") > q("1E"));
        assert_eq!(q("1").add(&q("500m")), q("1.5"));
    }

    #[test]
    fn integers() {
        assert!(q("2").is_integer());
        assert!(q("2000m").is_integer());
        assert!(!q("500m").is_integer());
        assert!(q("1Ki").is_integer());
        assert!(!q("0.1Ki").is_integer());
    }
}

//! Terraform numbers: arbitrary precision on the wire, so we keep them exactly.
//!
//! Terraform holds numbers as big floats and sends them as an int, a float64 or a decimal string,
//! whichever is exact. Two numbers are equal when their canonical decimal forms are equal, so
//! `1`, `1.0` and `"1.00"` compare equal whatever variant holds them.

use std::fmt;
use std::str::FromStr;

/// A number as Terraform sends it: an integer, a float, or a decimal string when neither fits.
#[derive(Clone, Debug)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// A decimal literal kept as text (big integers, or decimals no f64 holds exactly).
    Decimal(String),
}

/// Decimal exponents beyond this are refused. Numbers are kept as plain digits, so a six-byte
/// `1e1100` already becomes 1101 characters; a larger limit would let small input claim much
/// memory. It still covers every f64, whose exact expansions reach 10^-1074.
const MAX_EXPONENT: i64 = 1100;

/// Enough fractional digits to write any f64 exactly (the smallest subnormal has 1074).
const F64_EXACT_FRACTION_DIGITS: usize = 1074;

impl Number {
    /// A float; `None` for NaN, which no Terraform number can be.
    pub fn from_f64(f: f64) -> Option<Number> {
        (!f.is_nan()).then_some(Number::Float(f))
    }

    /// Parses a decimal literal (`-12`, `0.5`, `1.5e300`, `123456789012345678901234567890`).
    /// The result is an `Int` when it is an integer that fits i64, otherwise a canonical `Decimal`.
    /// Errors never quote the text (it may be a secret that was put in the wrong place).
    pub fn parse(text: &str) -> Result<Number, String> {
        let canonical = Canonical::parse(text)?.render();
        Ok(match canonical.parse::<i64>() {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Decimal(canonical),
        })
    }

    /// The canonical decimal form: no exponent, no leading or trailing zeros, `-` only when
    /// negative (`-0` is `0`). Integral floats give their exact digits, other floats their
    /// shortest round-tripping digits. Infinities render as `inf`/`-inf`; an unparsable
    /// `Decimal` renders as its own text.
    pub fn canonical(&self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Float(f) if f.is_finite() => {
                // Integral floats are written with every digit, so that they equal the integer
                // they hold (the shortest form of 2^60 + 2^8 ends in zeros it does not have).
                // Fractions use Rust's plain shortest digits: 0.1 rather than its 55 digits.
                let text = if f.fract() == 0.0 {
                    format!("{f:.0}")
                } else {
                    f.to_string()
                };
                Canonical::parse(&text).map_or(text, |c| c.render())
            }
            Number::Float(f) => f.to_string(),
            Number::Decimal(text) => {
                Canonical::parse(text).map_or_else(|_| text.clone(), |c| c.render())
            }
        }
    }

    /// The value as i64, when it is an integer within range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) => float_as_i64(*f),
            Number::Decimal(_) => self.canonical().parse().ok(),
        }
    }

    /// The value as u64, when it is a non-negative integer within range.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Number::Int(i) => u64::try_from(*i).ok(),
            Number::Float(f)
                if f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0 =>
            {
                Some(*f as u64)
            }
            Number::Float(_) => None,
            Number::Decimal(_) => self.canonical().parse().ok(),
        }
    }

    /// The nearest f64, when the value is finite and within f64 range.
    pub fn as_f64(&self) -> Option<f64> {
        let f = match self {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
            Number::Decimal(_) => self.canonical().parse().ok()?,
        };
        f.is_finite().then_some(f)
    }

    /// The f64 holding exactly this value, if there is one (`0.5` yes, `0.1` no). A decimal
    /// must also be the float's shortest form, so that decoding the float gives back the same
    /// canonical text (the 55-digit exact expansion of `0.1f64` stays a decimal string).
    pub(crate) fn exact_f64(&self) -> Option<f64> {
        match self {
            Number::Float(f) => Some(*f),
            Number::Int(i) => {
                let f = *i as f64;
                (float_as_i64(f) == Some(*i)).then_some(f)
            }
            Number::Decimal(text) => {
                let canonical = Canonical::parse(text).ok()?.render();
                let f: f64 = canonical.parse().ok()?;
                // Writing every fractional digit gives the float's exact value, which must equal
                // the decimal: the shortest digits would wrongly make `0.1` look exact.
                let exact = format!("{f:.F64_EXACT_FRACTION_DIGITS$}");
                let exact = Canonical::parse(&exact).ok()?.render();
                let exact_and_shortest = exact == canonical && Number::Float(f) == *self;
                (f.is_finite() && exact_and_shortest).then_some(f)
            }
        }
    }
}

fn float_as_i64(f: f64) -> Option<i64> {
    // 2^63 is exact in f64; every integral float in [-2^63, 2^63) fits i64.
    let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f);
    (f.fract() == 0.0 && in_range).then_some(f as i64)
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl FromStr for Number {
    type Err = String;

    fn from_str(text: &str) -> Result<Number, String> {
        Number::parse(text)
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        Number::Int(n)
    }
}

impl From<i32> for Number {
    fn from(n: i32) -> Self {
        Number::Int(n.into())
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Self {
        match i64::try_from(n) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Decimal(n.to_string()),
        }
    }
}

/// Equality by value: compares canonical decimal forms (after a cheap same-variant check).
impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b,
            _ => self.canonical() == other.canonical(),
        }
    }
}

/// A decimal split into sign, significant digits and exponent: `digits × 10^exponent`, with no
/// leading or trailing zeros in `digits` (empty for zero).
struct Canonical {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Canonical {
    fn parse(text: &str) -> Result<Canonical, String> {
        const NOT_A_NUMBER: &str = "not a decimal number";
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent_text) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
            return Err(NOT_A_NUMBER.into());
        }
        let mut exponent: i64 = match exponent_text {
            None => 0,
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || !all_digits(unsigned) {
                    return Err(NOT_A_NUMBER.into());
                }
                // Very long exponents are out of range anyway; saturate instead of overflowing.
                e.parse().unwrap_or(if e.starts_with('-') {
                    i64::MIN / 2
                } else {
                    i64::MAX / 2
                })
            }
        };
        let fraction_len = i64::try_from(fraction.len()).map_err(|_| NOT_A_NUMBER)?;
        exponent = exponent.saturating_sub(fraction_len);
        let all = format!("{whole}{fraction}");
        let significant = all.trim_start_matches('0');
        let trimmed = significant.trim_end_matches('0');
        if trimmed.is_empty() {
            return Ok(Canonical {
                negative: false,
                digits: String::new(),
                exponent: 0,
            });
        }
        exponent = exponent.saturating_add((significant.len() - trimmed.len()) as i64);
        let magnitude = exponent.saturating_add(trimmed.len() as i64);
        if exponent.abs() > MAX_EXPONENT || magnitude.abs() > MAX_EXPONENT {
            return Err("number is outside the supported range".into());
        }
        Ok(Canonical {
            negative,
            digits: trimmed.to_owned(),
            exponent,
        })
    }

    fn render(&self) -> String {
        if self.digits.is_empty() {
            return "0".into();
        }
        let sign = if self.negative { "-" } else { "" };
        let digits = &self.digits;
        if self.exponent >= 0 {
            let zeros = "0".repeat(self.exponent as usize);
            return format!("{sign}{digits}{zeros}");
        }
        let fraction_len = self.exponent.unsigned_abs() as usize;
        if digits.len() > fraction_len {
            let (whole, fraction) = digits.split_at(digits.len() - fraction_len);
            format!("{sign}{whole}.{fraction}")
        } else {
            let zeros = "0".repeat(fraction_len - digits.len());
            format!("{sign}0.{zeros}{digits}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_drop_exponents_and_redundant_zeros() {
        let cases = [
            ("0", "0"),
            ("-0.000", "0"),
            ("+12", "12"),
            ("1.50", "1.5"),
            ("001.0e2", "100"),
            ("1.5e-3", "0.0015"),
            ("-123.456e1", "-1234.56"),
            (".5", "0.5"),
            ("5.", "5"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Number::parse(text).unwrap().to_string(), want, "{text}");
        }
    }

    #[test]
    fn malformed_or_huge_literals_are_refused_without_echoing_them() {
        for text in [
            "", "-", ".", "1e", "1e+", "0x10", "1.2.3", "inf", "NaN", "1 2", "١",
        ] {
            let err = Number::parse(text).unwrap_err();
            assert!(text.is_empty() || !err.contains(text), "{err}");
        }
        assert!(Number::parse("1e1200").is_err());
        assert!(Number::parse("1e-1200").is_err());
        assert!(Number::parse(&format!("{:.1074}", f64::from_bits(1))).is_ok());
        assert!(Number::parse("1e99999999999999999999999").is_err());
    }

    #[test]
    fn parse_yields_int_when_it_fits() {
        assert!(matches!(Number::parse("42.000"), Ok(Number::Int(42))));
        assert!(matches!(
            Number::parse("-9223372036854775808"),
            Ok(Number::Int(i64::MIN))
        ));
        assert!(matches!(
            Number::parse("9223372036854775808"),
            Ok(Number::Decimal(_))
        ));
    }

    #[test]
    fn equality_is_by_value_across_variants() {
        assert_eq!(Number::Int(1), Number::Float(1.0));
        assert_eq!(Number::Float(1.0), Number::Decimal("1".into()));
        assert_eq!(Number::Decimal("1.0e0".into()), Number::Int(1));
        assert_eq!(Number::Float(0.1), Number::Decimal("0.10".into()));
        assert_eq!(Number::Float(-0.0), Number::Int(0));
        let big = (1u64 << 60) + 256;
        assert_eq!(Number::Float(big as f64), Number::from(big));
        assert_ne!(Number::Float(1e300), Number::Decimal("1e300".into()));
        assert_ne!(Number::Int(1), Number::Float(1.5));
        assert_ne!(
            Number::Decimal("123456789012345678901234567890".into()),
            Number::Decimal("123456789012345678901234567891".into())
        );
    }

    #[test]
    fn conversions_report_only_exact_fits() {
        assert_eq!(Number::Float(3.0).as_i64(), Some(3));
        assert_eq!(Number::Float(3.5).as_i64(), None);
        assert_eq!(Number::Decimal("1e3".into()).as_i64(), Some(1000));
        assert_eq!(Number::Decimal("1e30".into()).as_i64(), None);
        assert_eq!(Number::from(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Number::from(u64::MAX).as_i64(), None);
        assert_eq!(Number::Int(-1).as_u64(), None);
        assert_eq!(Number::Decimal("0.25".into()).as_f64(), Some(0.25));
        assert_eq!(Number::Decimal("1e400".into()).as_f64(), None);
        assert!(Number::from_f64(f64::NAN).is_none());
    }

    #[test]
    fn exact_f64_tells_binary_fractions_from_decimal_ones() {
        assert_eq!(Number::Decimal("0.5".into()).exact_f64(), Some(0.5));
        assert_eq!(Number::Decimal("-2.375".into()).exact_f64(), Some(-2.375));
        assert_eq!(Number::Decimal("0.1".into()).exact_f64(), None);
        assert_eq!(Number::Decimal("1e300".into()).exact_f64(), None);
        assert_eq!(Number::Int(i64::MAX).exact_f64(), None);
        assert_eq!(Number::Int(1 << 60).exact_f64(), Some((1u64 << 60) as f64));
        // Exact, but not the float's shortest form: kept as a decimal so it round-trips.
        let exact_tenth = format!("{:.60}", 0.1f64);
        assert_eq!(Number::Decimal(exact_tenth).exact_f64(), None);
    }
}

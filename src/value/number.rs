//! Terraform numbers: arbitrary precision on the wire, so we keep them exactly.

/// A number as Terraform sends it: an integer, a float, or a decimal string when neither fits.
#[derive(Clone, Debug)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// A decimal literal kept as text (big integers, or decimals no f64 holds exactly).
    Decimal(String),
}

impl Number {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Number::Float(_) => None,
            Number::Decimal(s) => s.parse().ok(),
        }
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        Number::Int(n)
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        // Implemented with the codec (canonical decimal comparison).
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            _ => unimplemented!("number comparison lands with the value codec"),
        }
    }
}

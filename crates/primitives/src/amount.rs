//! Amounts of the base token in nRLC (9 decimals: 1 RLC = 10⁹ nRLC).
//!
//! Every price, deposit and stake of the hub is an integer number of nRLC. Users write amounts
//! as `1.5 RLC`, `1500 nRLC` or a plain integer (nRLC, as iExec's CLI reads it).
//!
//! ```
//! use dexec_primitives::Nrlc;
//!
//! let price: Nrlc = "1.5 RLC".parse().unwrap();
//! assert_eq!(price, Nrlc(1_500_000_000));
//! assert_eq!("1500 nRLC".parse::<Nrlc>().unwrap(), Nrlc(1500));
//! assert_eq!(price.to_string(), "1.5 RLC");
//! assert_eq!(format!("{price:#}"), "1500000000 nRLC");
//! ```

use std::fmt;
use std::str::FromStr;

use alloy::primitives::U256;

/// Number of decimals of the base token.
pub const DECIMALS: u32 = 9;
/// nRLC in one RLC.
const NRLC_PER_RLC: u128 = 10u128.pow(DECIMALS);

/// An amount of base token, in nRLC. Balances on the hub are at most 2¹²⁸ − 1, so `u128` holds
/// every amount the hub can.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nrlc(pub u128);

impl Nrlc {
    /// The largest price an order may carry, 2⁶³ − 1 nRLC (about 9.2 billion RLC): the market
    /// stores prices as 64-bit signed integers (the hub holds 96 bits, more than that). The
    /// CLI refuses larger prices before signing, the market before listing.
    pub const MAX_ORDER_PRICE: Self = Self(i64::MAX as u128);
}

/// Why an amount string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing to parse.
    #[error("empty amount: write e.g. `1.5 RLC`, `1500 nRLC` or `1500` (nRLC)")]
    Empty,
    /// The number part is not a decimal number.
    #[error("`{0}` is not a number: write e.g. `1.5 RLC`, `1500 nRLC` or `1500` (nRLC)")]
    InvalidNumber(String),
    /// The unit is neither `RLC` nor `nRLC`.
    #[error("unknown unit `{0}`: use `RLC` or `nRLC` (a plain number is nRLC)")]
    UnknownUnit(String),
    /// A fraction of an nRLC (the smallest unit).
    #[error("`{0}` has a fraction of an nRLC; amounts without a unit or in nRLC are integers (did you mean `{0} RLC`?)")]
    FractionalNrlc(String),
    /// More than 9 decimals of RLC.
    #[error("`{0}` has more than 9 decimals; 1 nRLC = 0.000000001 RLC is the smallest unit")]
    TooPrecise(String),
    /// Larger than 2¹²⁸ − 1 nRLC.
    #[error("`{0}` is too large (at most 2^128 - 1 nRLC)")]
    Overflow(String),
}

impl Nrlc {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// One RLC (10⁹ nRLC).
    pub const ONE_RLC: Self = Self(NRLC_PER_RLC);

    /// `rlc` whole RLC.
    pub const fn from_rlc(rlc: u64) -> Self {
        Self(rlc as u128 * NRLC_PER_RLC)
    }

    /// The amount as a `uint256` for contract calls.
    pub fn to_u256(self) -> U256 {
        U256::from(self.0)
    }

    /// `self × n`, or `None` on overflow.
    pub const fn checked_mul(self, n: u128) -> Option<Self> {
        match self.0.checked_mul(n) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self + other`, or `None` on overflow.
    pub const fn checked_add(self, other: Self) -> Option<Self> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }
}

/// JSON form: the integer number of nRLC as a decimal string (JSON numbers lose precision
/// above 2⁵³). Reading also accepts a number or any form [`FromStr`] accepts (`"1.5 RLC"`).
impl serde::Serialize for Nrlc {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Nrlc {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Form {
            Number(u64),
            Text(String),
        }
        match Form::deserialize(deserializer)? {
            Form::Number(n) => Ok(Self(u128::from(n))),
            Form::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl From<u128> for Nrlc {
    fn from(nrlc: u128) -> Self {
        Self(nrlc)
    }
}

impl From<Nrlc> for U256 {
    fn from(amount: Nrlc) -> Self {
        amount.to_u256()
    }
}

impl TryFrom<U256> for Nrlc {
    type Error = AmountError;

    fn try_from(value: U256) -> Result<Self, Self::Error> {
        u128::try_from(value)
            .map(Self)
            .map_err(|_| AmountError::Overflow(value.to_string()))
    }
}

/// `1.5 RLC` (trailing zeros trimmed); with `{:#}`, the exact integer `1500000000 nRLC`.
impl fmt::Display for Nrlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return write!(f, "{} nRLC", self.0);
        }
        let whole = self.0 / NRLC_PER_RLC;
        let frac = self.0 % NRLC_PER_RLC;
        if frac == 0 {
            write!(f, "{whole} RLC")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{whole}.{} RLC", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for Nrlc {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AmountError::Empty);
        }
        let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
        let (number, unit) = (s[..split].trim(), s[split..].trim());
        if number.is_empty() {
            return Err(AmountError::InvalidNumber(s.to_owned()));
        }
        let number_clean: String = number.chars().filter(|&c| c != '_').collect();
        let (int_part, frac_part) = match number_clean.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (number_clean.as_str(), None),
        };
        let is_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !is_digits(int_part)
            || !frac_part.is_none_or(is_digits)
            || (int_part.is_empty() && frac_part.is_none_or(str::is_empty))
        {
            return Err(AmountError::InvalidNumber(number.to_owned()));
        }
        let overflow = || AmountError::Overflow(s.to_owned());
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };

        if unit.is_empty() || unit.eq_ignore_ascii_case("nrlc") {
            if frac_part.is_some_and(|f| f.bytes().any(|b| b != b'0')) {
                return Err(AmountError::FractionalNrlc(number.to_owned()));
            }
            return Ok(Self(int));
        }
        if !unit.eq_ignore_ascii_case("rlc") {
            return Err(AmountError::UnknownUnit(unit.to_owned()));
        }
        let frac = frac_part.unwrap_or("").trim_end_matches('0');
        if frac.len() > DECIMALS as usize {
            return Err(AmountError::TooPrecise(number.to_owned()));
        }
        let frac_nrlc: u128 = if frac.is_empty() {
            0
        } else {
            // at most 9 digits: fits, and scaling to 9 decimals cannot overflow
            let digits: u128 = frac.parse().map_err(|_| overflow())?;
            digits * 10u128.pow(DECIMALS - frac.len() as u32)
        };
        int.checked_mul(NRLC_PER_RLC)
            .and_then(|v| v.checked_add(frac_nrlc))
            .map(Self)
            .ok_or_else(overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_a_decimal_string_and_reads_units() {
        let big = Nrlc(u128::MAX);
        let json = serde_json::to_string(&big).expect("serialize");
        assert_eq!(json, format!("\"{}\"", u128::MAX));
        assert_eq!(serde_json::from_str::<Nrlc>(&json).expect("read back"), big);
        assert_eq!(
            serde_json::from_str::<Nrlc>("\"1.5 RLC\"").expect("units"),
            Nrlc(1_500_000_000)
        );
        assert_eq!(
            serde_json::from_str::<Nrlc>("42").expect("number"),
            Nrlc(42)
        );
        assert!(serde_json::from_str::<Nrlc>("\"3 ETH\"").is_err());
    }

    fn parse(s: &str) -> Result<Nrlc, AmountError> {
        s.parse()
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse("1.5 RLC"), Ok(Nrlc(1_500_000_000)));
        assert_eq!(parse("1.5rlc"), Ok(Nrlc(1_500_000_000)));
        assert_eq!(parse(".25 RLC"), Ok(Nrlc(250_000_000)));
        assert_eq!(parse("2 RLC"), Ok(Nrlc(2_000_000_000)));
        assert_eq!(parse("0.000000001 RLC"), Ok(Nrlc(1)));
        assert_eq!(parse("1500 nRLC"), Ok(Nrlc(1500)));
        assert_eq!(parse("1500nrlc"), Ok(Nrlc(1500)));
        assert_eq!(parse(" 1500 "), Ok(Nrlc(1500)));
        assert_eq!(parse("1_000_000"), Ok(Nrlc(1_000_000)));
        assert_eq!(parse("7.0"), Ok(Nrlc(7)));
        assert_eq!(parse("1.100000000000 RLC"), Ok(Nrlc(1_100_000_000)));
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(parse(""), Err(AmountError::Empty));
        assert_eq!(parse("RLC"), Err(AmountError::InvalidNumber("RLC".into())));
        assert_eq!(
            parse("1.2.3"),
            Err(AmountError::InvalidNumber("1.2.3".into()))
        );
        assert_eq!(parse("-1"), Err(AmountError::InvalidNumber("-1".into())));
        assert_eq!(parse("."), Err(AmountError::InvalidNumber(".".into())));
        assert_eq!(parse("1.5"), Err(AmountError::FractionalNrlc("1.5".into())));
        assert_eq!(parse("1 ETH"), Err(AmountError::UnknownUnit("ETH".into())));
        assert_eq!(
            parse("0.0000000001 RLC"),
            Err(AmountError::TooPrecise("0.0000000001".into()))
        );
        assert!(matches!(
            parse("340282366920938463463374607431768211456"),
            Err(AmountError::Overflow(_))
        ));
        assert!(matches!(
            parse("340282366920938463463374607431768211455 RLC"),
            Err(AmountError::Overflow(_))
        ));
    }

    #[test]
    fn displays_rlc_or_nrlc() {
        assert_eq!(Nrlc(1_500_000_000).to_string(), "1.5 RLC");
        assert_eq!(Nrlc(1500).to_string(), "0.0000015 RLC");
        assert_eq!(Nrlc::from_rlc(100_000).to_string(), "100000 RLC");
        assert_eq!(Nrlc::ZERO.to_string(), "0 RLC");
        assert_eq!(format!("{:#}", Nrlc(1500)), "1500 nRLC");
    }

    #[test]
    fn display_round_trips() {
        for n in [0u128, 1, 999, 1_000_000_000, 1_234_567_891, u128::MAX] {
            assert_eq!(parse(&Nrlc(n).to_string()), Ok(Nrlc(n)));
            assert_eq!(parse(&format!("{:#}", Nrlc(n))), Ok(Nrlc(n)));
        }
    }

    #[test]
    fn u256_conversions() {
        let as_u256: U256 = Nrlc(5).into();
        assert_eq!(as_u256, U256::from(5));
        assert_eq!(Nrlc::try_from(U256::from(5)), Ok(Nrlc(5)));
        assert!(Nrlc::try_from(U256::MAX).is_err());
    }
}

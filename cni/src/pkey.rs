//! InfiniBand partition keys.
//!
//! A pkey is 16 bits: the top bit is the membership (1 = full, 0 = limited), the low 15 bits
//! name the partition. Two keys are the same partition when their low 15 bits are equal; the
//! partition 0 is invalid. The network config spells them `"0x8001"` (hex) or `"32769"`.

use std::fmt;
use std::str::FromStr;

/// A partition key as the port's pkey table holds it (membership bit included).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pkey(u16);

/// Why a pkey text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkeyError {
    /// Not a number (`0x` hex or decimal) that fits in 16 bits.
    #[error("pkey {0:?} is not a 16-bit number like 0x8001 or 32769")]
    Format(String),
    /// Partition 0 (`0x0000`, `0x8000`) is reserved as invalid by the IB spec.
    #[error("pkey {0:?} names partition 0, which is invalid")]
    Invalid(String),
}

/// The membership bit.
const FULL: u16 = 0x8000;

impl Pkey {
    /// The default partition, full member (every port's table has it).
    pub const DEFAULT_FULL: Pkey = Pkey(0xffff);

    /// A pkey from its raw 16 bits (a table entry, which may be 0 = unused slot).
    pub const fn from_raw(raw: u16) -> Self {
        Pkey(raw)
    }

    /// The raw 16 bits.
    pub const fn raw(self) -> u16 {
        self.0
    }

    /// The partition number (low 15 bits).
    pub const fn partition(self) -> u16 {
        self.0 & !FULL
    }

    /// Full membership (top bit set).
    pub const fn is_full_member(self) -> bool {
        self.0 & FULL != 0
    }

    /// Same partition, whatever the membership.
    pub const fn same_partition(self, other: Pkey) -> bool {
        self.partition() == other.partition()
    }
}

impl FromStr for Pkey {
    type Err = PkeyError;

    /// `0x8001`/`0X8001` (hex) or `32769` (decimal); partition 0 is refused.
    fn from_str(text: &str) -> Result<Self, PkeyError> {
        let bad = || PkeyError::Format(text.to_owned());
        let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => (hex, 16),
            None => (text, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(bad());
        }
        let raw = u16::from_str_radix(digits, radix).map_err(|_| bad())?;
        if raw & !FULL == 0 {
            return Err(PkeyError::Invalid(text.to_owned()));
        }
        Ok(Pkey(raw))
    }
}

impl fmt::Display for Pkey {
    /// `0x8001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

crate::text_type::text_type!(Pkey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal() {
        assert_eq!("0x5".parse::<Pkey>().unwrap().raw(), 5);
        assert_eq!("0X8005".parse::<Pkey>().unwrap().raw(), 0x8005);
        assert_eq!("32773".parse::<Pkey>().unwrap().raw(), 0x8005);
        assert_eq!("0xffff".parse::<Pkey>().unwrap(), Pkey::DEFAULT_FULL);
        assert_eq!(Pkey::from_raw(0x8005).to_string(), "0x8005");
        assert_eq!(Pkey::from_raw(5).to_string(), "0x0005");
    }

    #[test]
    fn membership_does_not_change_the_partition() {
        let full = Pkey::from_raw(0x8005);
        let limited = Pkey::from_raw(0x0005);
        assert!(full.is_full_member() && !limited.is_full_member());
        assert!(full.same_partition(limited));
        assert!(!full.same_partition(Pkey::from_raw(0x8006)));
    }

    #[test]
    fn bad_text_is_refused_naming_it() {
        for bad in [
            "", "0x", "0x10000", "65536", "-1", "+5", "0x5 ", "five", "0x-5",
        ] {
            assert_eq!(
                bad.parse::<Pkey>(),
                Err(PkeyError::Format(bad.into())),
                "{bad}"
            );
        }
        for zero in ["0", "0x0", "0x8000", "32768"] {
            assert_eq!(
                zero.parse::<Pkey>(),
                Err(PkeyError::Invalid(zero.into())),
                "{zero}"
            );
        }
    }
}

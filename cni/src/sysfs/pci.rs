//! PCI addresses (`0000:03:02.0`), checked before they become part of a sysfs path.

use std::fmt;
use std::str::FromStr;

/// A PCI address in sysfs form, `DDDD:BB:DD.F` (domain, bus, device, function), lower case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PciAddr(String);

/// A PCI address text that is not `DDDD:BB:DD.F`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PCI address {0:?} is not of the form 0000:03:02.0 (domain:bus:device.function)")]
pub struct PciAddrError(pub String);

impl PciAddr {
    /// The address text, e.g. `0000:03:02.0`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PciAddr {
    type Err = PciAddrError;

    /// Accepts `DDDD:BB:DD.F` in either case: 4, 2 and 2 hex digits, device ≤ 0x1f, function 0–7.
    fn from_str(text: &str) -> Result<Self, PciAddrError> {
        let bad = || PciAddrError(text.to_owned());
        let b = text.as_bytes();
        if b.len() != 12 || b[4] != b':' || b[7] != b':' || b[10] != b'.' {
            return Err(bad());
        }
        let hex = |r: std::ops::Range<usize>| {
            b[r.clone()].iter().all(u8::is_ascii_hexdigit).then(|| {
                // The digits were checked: cannot fail.
                u32::from_str_radix(&text[r], 16).unwrap_or(u32::MAX)
            })
        };
        let (Some(_domain), Some(_bus), Some(device)) = (hex(0..4), hex(5..7), hex(8..10)) else {
            return Err(bad());
        };
        if device > 0x1f || !(b'0'..=b'7').contains(&b[11]) {
            return Err(bad());
        }
        Ok(PciAddr(text.to_ascii_lowercase()))
    }
}

impl fmt::Display for PciAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_type::text_type!(PciAddr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_are_lower_cased() {
        assert_eq!(
            "0000:03:02.0".parse::<PciAddr>().unwrap().as_str(),
            "0000:03:02.0"
        );
        assert_eq!(
            "0000:AF:1F.7".parse::<PciAddr>().unwrap().as_str(),
            "0000:af:1f.7"
        );
    }

    #[test]
    fn anything_else_is_refused_naming_it() {
        for bad in [
            "",
            "03:02.0",
            "0000:03:02.8",
            "0000:03:20.0",
            "0000:03:02:0",
            "0000:03:02.0\n",
            "../../../etc",
            "0000:0g:02.0",
            "0000:03:02.0/x",
            "+000:03:02.0",
            "0000:03:02.é",
        ] {
            assert_eq!(
                bad.parse::<PciAddr>(),
                Err(PciAddrError(bad.into())),
                "{bad:?}"
            );
        }
    }
}

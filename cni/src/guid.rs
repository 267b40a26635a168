//! InfiniBand GUIDs (node and port GUIDs of a VF) and their text forms.
//!
//! Three spellings meet here:
//! - the network config and `ib-vf`: eight colon-separated hex bytes, `02:00:00:00:00:00:00:05`
//!   (what the Go plugin and `ip link set … vf N node_guid` accept);
//! - sysfs `node_guid` / libibverbs tools: four colon-separated 16-bit groups,
//!   `0200:0000:0000:0005`;
//! - the IPoIB hardware address of a netdev: 20 bytes whose last 8 are the port GUID.
//!
//! Byte 0 of the text is the most significant byte of [`Guid::as_u64`], which is the value the
//! kernel's `struct ifla_vf_guid` carries (native endian in the netlink attribute).

use std::fmt;
use std::str::FromStr;

/// A 64-bit InfiniBand GUID, stored as its 8 bytes in wire (big-endian) order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid([u8; 8]);

/// Why a GUID text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuidError {
    /// Not eight colon-separated pairs of hex digits.
    #[error("GUID {0:?} is not 8 colon-separated hex bytes like 02:00:00:00:00:00:00:05")]
    Format(String),
    /// Not four colon-separated groups of four hex digits (sysfs form).
    #[error("GUID {0:?} is not 4 colon-separated 16-bit hex groups like 0200:0000:0000:0005")]
    SysfsFormat(String),
    /// A hardware address too short to end in a GUID.
    #[error("hardware address of {0} bytes is not an IPoIB address (20 bytes)")]
    HwAddrLength(usize),
}

impl Guid {
    /// The GUID whose bytes (most significant first) are `bytes`.
    pub const fn from_bytes(bytes: [u8; 8]) -> Self {
        Guid(bytes)
    }

    /// The GUID whose value is `value` (byte 0 of the text is its most significant byte).
    pub const fn from_u64(value: u64) -> Self {
        Guid(value.to_be_bytes())
    }

    /// The 8 bytes, most significant first.
    pub const fn bytes(self) -> [u8; 8] {
        self.0
    }

    /// The value as the kernel's `ifla_vf_guid.guid` and iproute2 take it.
    pub const fn as_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// All bytes zero: the "no GUID assigned" value of a fresh VF.
    pub fn is_zero(self) -> bool {
        self.0 == [0; 8]
    }

    /// All bytes 0xff: what some firmware reports for an unset GUID.
    pub fn is_all_ff(self) -> bool {
        self.0 == [0xff; 8]
    }

    /// Neither all-zero nor all-ones: a GUID a port can actually carry.
    pub fn is_assigned(self) -> bool {
        !self.is_zero() && !self.is_all_ff()
    }

    /// The port GUID in an IPoIB hardware address (its last 8 of 20 bytes).
    pub fn from_ipoib_hwaddr(hwaddr: &[u8]) -> Result<Self, GuidError> {
        if hwaddr.len() != 20 {
            return Err(GuidError::HwAddrLength(hwaddr.len()));
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&hwaddr[12..]);
        Ok(Guid(b))
    }

    /// Parses the sysfs form `0200:0000:0000:0005` (surrounding whitespace allowed, as sysfs
    /// files end in a newline).
    pub fn parse_sysfs(text: &str) -> Result<Self, GuidError> {
        let t = text.trim();
        let bad = || GuidError::SysfsFormat(t.to_owned());
        let mut b = [0u8; 8];
        let mut groups = t.split(':');
        for pair in b.chunks_exact_mut(2) {
            let g = groups.next().ok_or_else(bad)?;
            if g.len() != 4 || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let v = u16::from_str_radix(g, 16).map_err(|_| bad())?;
            pair.copy_from_slice(&v.to_be_bytes());
        }
        if groups.next().is_some() {
            return Err(bad());
        }
        Ok(Guid(b))
    }

    /// The sysfs form, `0200:0000:0000:0005`.
    pub fn sysfs_form(self) -> String {
        let b = self.0;
        format!(
            "{:02x}{:02x}:{:02x}{:02x}:{:02x}{:02x}:{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
        )
    }
}

impl FromStr for Guid {
    type Err = GuidError;

    /// Parses `02:00:00:00:00:00:00:05` (exactly 8 pairs of hex digits, either case).
    fn from_str(text: &str) -> Result<Self, GuidError> {
        let bad = || GuidError::Format(text.to_owned());
        let mut b = [0u8; 8];
        let mut parts = text.split(':');
        for byte in &mut b {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Guid(b))
    }
}

impl fmt::Display for Guid {
    /// `02:00:00:00:00:00:00:05`, lower case.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
        )
    }
}

crate::text_type::text_type!(Guid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_bytes_round_trip_and_value_is_big_endian() {
        let g: Guid = "02:00:00:00:00:00:AB:05".parse().unwrap();
        assert_eq!(g.as_u64(), 0x0200_0000_0000_ab05);
        assert_eq!(g.to_string(), "02:00:00:00:00:00:ab:05");
        assert_eq!(Guid::from_u64(g.as_u64()), g);
        assert!(g.is_assigned());
    }

    #[test]
    fn malformed_colon_text_is_refused_with_its_text() {
        for bad in [
            "",
            "02:00:00:00:00:00:00",
            "02:00:00:00:00:00:00:05:",
            "02:00:00:00:00:00:00:05:06",
            "2:00:00:00:00:00:00:05",
            "02:00:00:00:00:00:00:0g",
            "02-00-00-00-00-00-00-05",
            "+2:00:00:00:00:00:00:05",
            "0200:0000:0000:0005",
        ] {
            assert_eq!(
                bad.parse::<Guid>(),
                Err(GuidError::Format(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn zero_and_all_ones_are_not_assigned() {
        assert!(!"00:00:00:00:00:00:00:00"
            .parse::<Guid>()
            .unwrap()
            .is_assigned());
        assert!(!"ff:ff:ff:ff:ff:ff:ff:ff"
            .parse::<Guid>()
            .unwrap()
            .is_assigned());
    }

    #[test]
    fn sysfs_form_round_trips() {
        let g = Guid::parse_sysfs("0002:c903:0021:6e70\n").unwrap();
        assert_eq!(g.to_string(), "00:02:c9:03:00:21:6e:70");
        assert_eq!(g.sysfs_form(), "0002:c903:0021:6e70");
        for bad in [
            "0002:c903:0021",
            "0002:c903:0021:6e70:0000",
            "002:c903:0021:6e700",
            "+002:c903:0021:6e70",
        ] {
            assert!(
                matches!(Guid::parse_sysfs(bad), Err(GuidError::SysfsFormat(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn ipoib_hwaddr_ends_in_the_port_guid() {
        let mut hw = [0u8; 20];
        hw[12..].copy_from_slice(&[0, 2, 0xc9, 3, 0, 0x21, 0x6e, 0x71]);
        assert_eq!(
            Guid::from_ipoib_hwaddr(&hw).unwrap().to_string(),
            "00:02:c9:03:00:21:6e:71"
        );
        assert_eq!(
            Guid::from_ipoib_hwaddr(&hw[..6]),
            Err(GuidError::HwAddrLength(6))
        );
    }

    #[test]
    fn serde_uses_the_colon_form() {
        let g: Guid = serde_json::from_str("\"02:00:00:00:00:00:00:05\"").unwrap();
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            "\"02:00:00:00:00:00:00:05\""
        );
        let e = serde_json::from_str::<Guid>("\"02:00\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("02:00"), "{e}");
    }
}

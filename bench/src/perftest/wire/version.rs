//! The version message ([`VersionMsg`], 16 bytes) and the version gates it opens.

use super::error::{field_err, WireError};
use super::mtu::MTU_MSG_LEN;

/// Size of the version message (`char version[MAX_VERSION]`, `MAX_VERSION` = 16).
pub const VERSION_MSG_LEN: usize = 16;

/// The version we announce: the Debian perftest we interoperate with.
pub const PERFTEST_VERSION: &str = "6.06";

/// Remote versions older than this are refused (`check_version_compatibility`).
pub const MIN_COMPATIBLE_VERSION: f64 = 5.70;

/// From this remote version on, the sides exchange [`SysData`](super::SysData).
pub const SYS_DATA_MIN_VERSION: f64 = 5.32;

/// From this remote version on, the MTU message is 2 bytes (4 before, from 5.1).
pub const MTU_MSG2_MIN_VERSION: f64 = 5.31;

/// From this remote version on, BW report iterations are 8 bytes (4 before).
pub const BW_ITERS64_MIN_VERSION: f64 = 5.33;

/// From this version on, perftest negotiates parameters with a peer of the same
/// kind; a peer announcing an older version (like us) is spared the step.
#[allow(clippy::approx_constant)] // a version number, not τ
pub const NEGOTIATION_MIN_VERSION: f64 = 6.28;

/// What rdma-perf writes after the NUL of its version string: perftest reads the string
/// up to the NUL (`atof`, `strcmp`), so a C peer never sees it, and two rdma-perf peers
/// recognise each other and agree on their options ([`peer`](crate::perftest::peer)).
pub const RDMA_PERF_MARKER: &[u8] = b"rdma-perf/1";

/// The 16-byte version message: 1 to 15 printable ASCII characters, NUL padded; after
/// the NUL, optionally [`RDMA_PERF_MARKER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMsg {
    text: String,
    marker: bool,
}

const VERSION: &str = "version";

impl VersionMsg {
    /// A version message carrying `text` (1 to 15 printable ASCII characters).
    pub fn new(text: &str) -> Result<Self, WireError> {
        if text.is_empty() || text.len() >= VERSION_MSG_LEN {
            return Err(field_err(VERSION, "version", "must be 1 to 15 characters"));
        }
        if let Some(c) = text.bytes().find(|b| !b.is_ascii_graphic()) {
            return Err(field_err(
                VERSION,
                "version",
                format!("byte 0x{c:02x} is not printable ASCII"),
            ));
        }
        Ok(Self {
            text: text.to_string(),
            marker: false,
        })
    }

    /// The version we announce, [`PERFTEST_VERSION`], with the [`RDMA_PERF_MARKER`].
    pub fn ours() -> Self {
        Self {
            text: PERFTEST_VERSION.to_string(),
            marker: true,
        }
    }

    /// Whether the message carries the [`RDMA_PERF_MARKER`] (the peer is rdma-perf).
    pub fn is_rdma_perf(&self) -> bool {
        self.marker
    }

    /// The version string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The 16 bytes on the wire.
    pub fn encode(&self) -> [u8; VERSION_MSG_LEN] {
        let mut out = [0u8; VERSION_MSG_LEN];
        let n = self.text.len();
        out[..n].copy_from_slice(self.text.as_bytes());
        if self.marker && n + 1 + RDMA_PERF_MARKER.len() <= VERSION_MSG_LEN {
            out[n + 1..n + 1 + RDMA_PERF_MARKER.len()].copy_from_slice(RDMA_PERF_MARKER);
        }
        out
    }

    /// Parses the 16 bytes of a version message: the string, its NUL, then only NULs
    /// (what `strncpy` produces) or [`RDMA_PERF_MARKER`] and NULs.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() != VERSION_MSG_LEN {
            return Err(WireError::Length {
                msg: VERSION,
                expected: "16",
                got: bytes.len(),
            });
        }
        let end = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| field_err(VERSION, "version", "no NUL terminator"))?;
        let rest = &bytes[end + 1..];
        let marker = rest.starts_with(RDMA_PERF_MARKER);
        let padding = if marker {
            &rest[RDMA_PERF_MARKER.len()..]
        } else {
            rest
        };
        if padding.iter().any(|&b| b != 0) {
            return Err(field_err(
                VERSION,
                "padding",
                "non-NUL byte after the string",
            ));
        }
        let text = std::str::from_utf8(&bytes[..end])
            .map_err(|_| field_err(VERSION, "version", "not ASCII"))?;
        let mut v = Self::new(text)?;
        v.marker = marker;
        Ok(v)
    }

    /// The version as a number, as C's `atof` reads it (`0.0` when it does not start
    /// with a number).
    pub fn number(&self) -> f64 {
        atof(&self.text)
    }

    /// Whether perftest 6.06 accepts this remote version (`atof >= 5.70`).
    pub fn is_compatible(&self) -> bool {
        self.number() >= MIN_COMPATIBLE_VERSION
    }

    /// Whether the [`SysData`](super::SysData) exchange happens with this remote
    /// (`atof(rem_version) >= 5.32`, compared as `double`).
    pub fn exchanges_sys_data(&self) -> bool {
        self.number() >= SYS_DATA_MIN_VERSION
    }

    /// Size of the MTU message with this remote: 2 from 5.31, 4 from 5.1, 0 (no
    /// exchange) before. perftest compares a `float` here, so `"5.31"` itself
    /// (5.30999994 as a float) still gets the 4-byte message.
    pub fn mtu_msg_len(&self) -> usize {
        let v = f64::from(self.number() as f32);
        if v >= MTU_MSG2_MIN_VERSION {
            MTU_MSG_LEN
        } else if v >= 5.1 {
            4
        } else {
            0
        }
    }

    /// Size of the iterations field of a BW report with this remote: 8 from 5.33
    /// (compared as a `float`), 4 before.
    pub fn bw_iters_len(&self) -> usize {
        if f64::from(self.number() as f32) >= BW_ITERS64_MIN_VERSION {
            8
        } else {
            4
        }
    }

    /// Whether a perftest >= 6.28 peer announcing this version would run the
    /// parameter negotiation step (unsupported here).
    pub fn negotiates(&self) -> bool {
        self.number() >= NEGOTIATION_MIN_VERSION
    }
}

/// C's `atof` on an ASCII string: the longest prefix that is a decimal number.
fn atof(s: &str) -> f64 {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i] == b' ' || (b'\t'..=b'\r').contains(&b[i])) {
        i += 1;
    }
    let start = i;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return 0.0;
    }
    let mut end = i;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            end = j;
        }
    }
    s[start..end].parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_round_trip_and_gates() {
        let v = VersionMsg::ours();
        let wire = v.encode();
        assert_eq!(&wire[..5], b"6.06\0", "what C's atof/strcmp read");
        assert_eq!(&wire[5..], RDMA_PERF_MARKER, "the marker after the NUL");
        assert_eq!(VersionMsg::parse(&wire).unwrap(), v);
        assert!(v.is_rdma_perf());
        let c = VersionMsg::parse(b"6.06\0\0\0\0\0\0\0\0\0\0\0\0").unwrap();
        assert!(!c.is_rdma_perf(), "perftest's own message");
        assert_eq!(c.as_str(), v.as_str());
        assert!((v.number() - 6.06).abs() < 1e-12);
        assert!(v.is_compatible());
        assert!(v.exchanges_sys_data());
        assert_eq!(v.mtu_msg_len(), 2);
        assert_eq!(v.bw_iters_len(), 8);
        assert!(!v.negotiates());
        let old = VersionMsg::new("5.60").unwrap();
        assert!(!old.is_compatible());
        assert!(VersionMsg::new("6.28").unwrap().negotiates());
        // float comparison quirk of check_mtu
        assert_eq!(VersionMsg::new("5.31").unwrap().mtu_msg_len(), 4);
        assert_eq!(VersionMsg::new("5.32").unwrap().mtu_msg_len(), 2);
        assert_eq!(VersionMsg::new("abc").unwrap().number(), 0.0);
        assert_eq!(VersionMsg::new("6.1-rc").unwrap().number(), 6.1);
    }

    #[test]
    fn version_rejects() {
        let mut w = [0u8; 16];
        assert!(matches!(
            VersionMsg::parse(&w),
            Err(WireError::Field {
                field: "version",
                ..
            })
        ));
        w.copy_from_slice(b"6.0666666666666x");
        assert!(VersionMsg::parse(&w).is_err());
        let mut w = VersionMsg::new("6.06").unwrap().encode();
        w[10] = b'x';
        assert!(matches!(
            VersionMsg::parse(&w),
            Err(WireError::Field {
                field: "padding",
                ..
            })
        ));
        assert!(matches!(
            VersionMsg::parse(b"6.06\0"),
            Err(WireError::Length { got: 5, .. })
        ));
    }
}

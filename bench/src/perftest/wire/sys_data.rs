//! The system data messages ([`SysData`], 4 bytes then 4): page and cache line size.

use super::error::{field_err, WireError};

/// Size of one system data message (a big-endian `int`).
pub const SYS_DATA_FIELD_LEN: usize = 4;

/// Size of both system data messages together.
pub const SYS_DATA_LEN: usize = 2 * SYS_DATA_FIELD_LEN;

/// `check_sys_data`: page size (`cycle_buffer`, the size of the buffer each QP
/// cycles through) and cache line size. Two 4-byte exchanges, big-endian; both
/// sides keep the maximum of each ([`SysData::merge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysData {
    /// `sysconf(_SC_PAGESIZE)` (4096 on x86-64).
    pub cycle_buffer: i32,
    /// `sysconf(_SC_LEVEL1_DCACHE_LINESIZE)` (64 on x86-64).
    pub cache_line_size: i32,
}

const SYS_DATA: &str = "sys data";

impl SysData {
    /// This host's values: page size and L1 data cache line size, with perftest's
    /// fallbacks (4096 and 64).
    pub fn local() -> Self {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        // SAFETY: as above.
        let line = unsafe { libc::sysconf(libc::_SC_LEVEL1_DCACHE_LINESIZE) };
        let clamp = |v: libc::c_long, def: i32| {
            if v > 0 && v <= i32::MAX as libc::c_long {
                v as i32
            } else {
                def
            }
        };
        // get_cache_line_size: sysconf, then sysfs when sysconf says 0, then 64.
        let line = if line == 0 {
            std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cache/index0/coherency_line_size")
                .ok()
                .and_then(|s| s.trim().parse::<libc::c_long>().ok())
                .unwrap_or(0)
        } else {
            line
        };
        Self {
            cycle_buffer: clamp(page, 4096),
            cache_line_size: clamp(line, 64),
        }
    }

    /// The first message (cycle buffer), 4 bytes big-endian.
    pub fn encode_cycle_buffer(&self) -> [u8; SYS_DATA_FIELD_LEN] {
        self.cycle_buffer.to_be_bytes()
    }

    /// The second message (cache line size), 4 bytes big-endian.
    pub fn encode_cache_line_size(&self) -> [u8; SYS_DATA_FIELD_LEN] {
        self.cache_line_size.to_be_bytes()
    }

    /// Both messages, concatenated.
    pub fn encode(&self) -> [u8; SYS_DATA_LEN] {
        let mut out = [0u8; SYS_DATA_LEN];
        out[..4].copy_from_slice(&self.encode_cycle_buffer());
        out[4..].copy_from_slice(&self.encode_cache_line_size());
        out
    }

    /// Parses one 4-byte field (`field` names it in errors): a positive big-endian
    /// `int`.
    pub fn parse_field(field: &'static str, bytes: &[u8]) -> Result<i32, WireError> {
        let arr: [u8; SYS_DATA_FIELD_LEN] = bytes.try_into().map_err(|_| WireError::Length {
            msg: SYS_DATA,
            expected: "4",
            got: bytes.len(),
        })?;
        let v = i32::from_be_bytes(arr);
        if v <= 0 {
            return Err(field_err(SYS_DATA, field, format!("{v} is not positive")));
        }
        Ok(v)
    }

    /// Parses both messages, concatenated (8 bytes).
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() != SYS_DATA_LEN {
            return Err(WireError::Length {
                msg: SYS_DATA,
                expected: "8",
                got: bytes.len(),
            });
        }
        Ok(Self {
            cycle_buffer: Self::parse_field("cycle_buffer", &bytes[..4])?,
            cache_line_size: Self::parse_field("cache_line_size", &bytes[4..])?,
        })
    }

    /// What both sides use afterwards: the maximum of each value.
    pub fn merge(&self, remote: &SysData) -> SysData {
        SysData {
            cycle_buffer: self.cycle_buffer.max(remote.cycle_buffer),
            cache_line_size: self.cache_line_size.max(remote.cache_line_size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_data_captured() {
        // C>S 00001000 then 00000040
        let s = SysData::parse(&[0, 0, 0x10, 0, 0, 0, 0, 0x40]).unwrap();
        assert_eq!(
            s,
            SysData {
                cycle_buffer: 4096,
                cache_line_size: 64
            }
        );
        assert_eq!(s.encode(), [0, 0, 0x10, 0, 0, 0, 0, 0x40]);
        let big = SysData {
            cycle_buffer: 65536,
            cache_line_size: 32,
        };
        assert_eq!(
            s.merge(&big),
            SysData {
                cycle_buffer: 65536,
                cache_line_size: 64
            }
        );
        assert!(SysData::parse(&[0xff; 8]).is_err());
        assert!(SysData::parse(&[0; 4]).is_err());
    }
}

//! The messages of the perftest 6.06 TCP out-of-band exchange.
//!
//! Every message has a fixed size and travels as one `write` of exactly that many
//! bytes (see [`transport`](super::transport) for who writes first). In order:
//!
//! | message | bytes | content |
//! |---|---|---|
//! | [`VersionMsg`] | 16 | the version string, NUL padded (`strncpy`), e.g. `"6.06"` |
//! | [`SysData`] | 4, then 4 | page size (`cycle_buffer`), then cache line size; big-endian `int`; both sides keep the maximum |
//! | MTU ([`encode_mtu`]) | 2 | `sprintf("%d", enum ibv_mtu)`, e.g. `"3\0"`; both sides keep the minimum |
//! | [`KeyMsg`] | 59 or 108 | the QP address (`struct pingpong_dest`) as text, see below |
//! | [`BwReportMsg`] | 5 × 8 | the client's BW result: `u64` BE size, `u64` BE iterations, BE doubles peak, average, message rate |
//! | [`DONE_MSG`] | 5 | `"done\0"`, written by both sides (without reading) before closing |
//!
//! # Version gates
//!
//! perftest skips a step when the *remote* version (`atof` of its string) is older
//! than the step: system data needs `>= 5.32`, the 2-byte MTU message `>= 5.31`
//! (a 4-byte one from 5.1), 64-bit iterations in the BW report `>= 5.33`. A remote
//! older than 5.70 is refused outright (`"Current implementation is not compatible
//! with versions older than 5.70"`), so with any peer perftest accepts every gate is
//! open. perftest 6.28 and later add a parameter negotiation step, but only with a
//! remote that announces `>= 6.28`: announcing `"6.06"` (as we do) skips it with every
//! peer.
//!
//! # Keys
//!
//! ```c
//! #define KEY_MSG_SIZE     (59)
//! #define KEY_MSG_SIZE_GID (108)
//! #define KEY_PRINT_FMT     "%04x:%04x:%06x:%06x:%08x:%016llx:%08x"
//! #define KEY_PRINT_FMT_GID "%04x:%04x:%06x:%06x:%08x:%016llx:%02x:...:%02x:%08x:"  // 16 × %02x
//! ```
//!
//! Fields: LID, outstanding reads, QP number, PSN, rkey, buffer address, (GID bytes,)
//! SRQ number; lower-case hex; the trailing NUL of `sprintf` is sent (`sizeof msg`).
//! The GID form is used whenever the local side has a GID index (always on RoCE,
//! where perftest picks the best GID when `-x` is not given); the 59-byte form only
//! on InfiniBand without `-x`. A side reads the form it writes.

use rdma_verbs::Mtu;
use thiserror::Error;

/// Why a message could not be parsed (or encoded).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The message does not have the size of its kind.
    #[error("{msg}: expected {expected} bytes, got {got}")]
    Length {
        /// Which message.
        msg: &'static str,
        /// The size(s) it must have.
        expected: &'static str,
        /// The size it has.
        got: usize,
    },
    /// One field of the message is malformed or out of range.
    #[error("{msg}: field `{field}`: {problem}")]
    Field {
        /// Which message.
        msg: &'static str,
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

fn field_err(msg: &'static str, field: &'static str, problem: impl Into<String>) -> WireError {
    WireError::Field {
        msg,
        field,
        problem: problem.into(),
    }
}

// ---------------------------------------------------------------------------------
// Version
// ---------------------------------------------------------------------------------

/// Size of the version message (`char version[MAX_VERSION]`, `MAX_VERSION` = 16).
pub const VERSION_MSG_LEN: usize = 16;

/// The version we announce: the Debian perftest we interoperate with.
pub const PERFTEST_VERSION: &str = "6.06";

/// Remote versions older than this are refused (`check_version_compatibility`).
pub const MIN_COMPATIBLE_VERSION: f64 = 5.70;

/// From this remote version on, the sides exchange [`SysData`].
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
/// recognise each other and agree on their options ([`peer`](super::peer)).
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

    /// Whether the [`SysData`] exchange happens with this remote
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

// ---------------------------------------------------------------------------------
// System data
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// MTU
// ---------------------------------------------------------------------------------

/// Size of the MTU message (`sizeof(char[2])`).
pub const MTU_MSG_LEN: usize = 2;

const MTU: &str = "mtu";

/// `check_mtu`'s message for `mtu`: `sprintf(cur, "%d", enum ibv_mtu)`, the NUL included,
/// e.g. `"3\0"` for 1024 bytes. Both sides then use the smaller MTU
/// ([`rdma_verbs::Mtu`] is ordered by size).
pub fn encode_mtu(mtu: Mtu) -> [u8; MTU_MSG_LEN] {
    [b'0' + mtu.to_raw() as u8, 0]
}

/// Parses the 2-byte MTU message: one digit `1`..`5` (`enum ibv_mtu`) and a NUL.
pub fn parse_mtu(bytes: &[u8]) -> Result<Mtu, WireError> {
    if bytes.len() != MTU_MSG_LEN {
        return Err(WireError::Length {
            msg: MTU,
            expected: "2",
            got: bytes.len(),
        });
    }
    if bytes[1] != 0 {
        return Err(field_err(MTU, "terminator", "second byte is not NUL"));
    }
    match bytes[0] {
        b'1'..=b'5' => Ok(Mtu::from_raw(u32::from(bytes[0] - b'0')).expect("1..=5")),
        b => Err(field_err(
            MTU,
            "mtu",
            format!("byte 0x{b:02x} is not an ibv_mtu digit 1-5"),
        )),
    }
}

// ---------------------------------------------------------------------------------
// Keys (struct pingpong_dest)
// ---------------------------------------------------------------------------------

/// Size of the keys message without GID (`KEY_MSG_SIZE`).
pub const KEY_MSG_LEN: usize = 59;

/// Size of the keys message with GID (`KEY_MSG_SIZE_GID`).
pub const KEY_MSG_GID_LEN: usize = 108;

/// Size of `struct pingpong_dest`, the keys message over rdma_cm (`-R`).
pub const KEY_RAW_LEN: usize = 56;

/// The bytes of `struct pingpong_dest` perftest reads over rdma_cm (up to the GID).
pub const KEY_RAW_READ_LEN: usize = 48;

/// One QP's address as perftest exchanges it (`struct pingpong_dest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyMsg {
    /// Port LID (0 on RoCE).
    pub lid: u16,
    /// Outstanding RDMA reads/atomics this side accepts (1 for write/send tests).
    pub out_reads: u16,
    /// QP number (24 bits).
    pub qpn: u32,
    /// Starting packet sequence number (24 bits; perftest: `lrand48() & 0xffffff`).
    pub psn: u32,
    /// rkey of the buffer.
    pub rkey: u32,
    /// Address of the buffer the peer may write/read.
    pub vaddr: u64,
    /// The GID (raw bytes), present when this side has a GID index: it selects the
    /// 108-byte form.
    pub gid: Option<[u8; 16]>,
    /// SRQ number (XRC/DC; 0 otherwise).
    pub srqn: u32,
}

const KEYS: &str = "keys";

/// The fields of the keys message before the GID: (name, hex digits).
const KEY_FIELDS: [(&str, usize); 6] = [
    ("lid", 4),
    ("out_reads", 4),
    ("qpn", 6),
    ("psn", 6),
    ("rkey", 8),
    ("vaddr", 16),
];

impl KeyMsg {
    /// Size of this message on the wire: 108 with a GID, 59 without.
    pub fn wire_len(&self) -> usize {
        if self.gid.is_some() {
            KEY_MSG_GID_LEN
        } else {
            KEY_MSG_LEN
        }
    }

    /// The message, exactly as perftest's `sprintf` + `write(sizeof msg)` sends it.
    /// Fails if `qpn` or `psn` do not fit in 24 bits (their field width).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        if self.qpn > 0xff_ffff {
            return Err(field_err(KEYS, "qpn", "does not fit in 24 bits"));
        }
        if self.psn > 0xff_ffff {
            return Err(field_err(KEYS, "psn", "does not fit in 24 bits"));
        }
        let mut s = format!(
            "{:04x}:{:04x}:{:06x}:{:06x}:{:08x}:{:016x}:",
            self.lid, self.out_reads, self.qpn, self.psn, self.rkey, self.vaddr
        );
        match &self.gid {
            None => s.push_str(&format!("{:08x}", self.srqn)),
            Some(gid) => {
                for b in gid {
                    s.push_str(&format!("{b:02x}:"));
                }
                s.push_str(&format!("{:08x}:", self.srqn));
            }
        }
        let mut out = s.into_bytes();
        out.push(0);
        debug_assert_eq!(out.len(), self.wire_len());
        Ok(out)
    }

    /// The keys as perftest sends them over rdma_cm (`-R`, `rdma_write_keys`): the raw
    /// `struct pingpong_dest`, every integer big-endian: `lid`, `out_reads`, `qpn`, `psn`,
    /// `rkey` (4 bytes each), 4 bytes of padding, `vaddr` (8), the GID (16, zeroes when
    /// there is none), `srqn` and `gid_index` (4 each; -1 without a GID).
    pub fn encode_raw(&self, gid_index: Option<u32>) -> [u8; KEY_RAW_LEN] {
        let mut b = [0u8; KEY_RAW_LEN];
        b[0..4].copy_from_slice(&u32::from(self.lid).to_be_bytes());
        b[4..8].copy_from_slice(&u32::from(self.out_reads).to_be_bytes());
        b[8..12].copy_from_slice(&self.qpn.to_be_bytes());
        b[12..16].copy_from_slice(&self.psn.to_be_bytes());
        b[16..20].copy_from_slice(&self.rkey.to_be_bytes());
        b[24..32].copy_from_slice(&self.vaddr.to_be_bytes());
        b[32..48].copy_from_slice(&self.gid.unwrap_or([0; 16]));
        b[48..52].copy_from_slice(&self.srqn.to_be_bytes());
        let gi = gid_index.map_or(-1, |i| i32::try_from(i).unwrap_or(i32::MAX));
        b[52..56].copy_from_slice(&gi.to_be_bytes());
        b
    }

    /// Parses [`encode_raw`](Self::encode_raw)'s form as perftest's `rdma_read_keys` does:
    /// `lid`, `out_reads`, `qpn`, `psn`, `rkey`, `vaddr` and the GID (kept when `with_gid`,
    /// the form this side uses); `srqn` and `gid_index` are not read.
    pub fn parse_raw(bytes: &[u8], with_gid: bool) -> Result<KeyMsg, WireError> {
        if bytes.len() < KEY_RAW_READ_LEN {
            return Err(WireError::Length {
                msg: KEYS,
                expected: "at least 48 (struct pingpong_dest)",
                got: bytes.len(),
            });
        }
        let u32_at =
            |o: usize| u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let mut vaddr = [0u8; 8];
        vaddr.copy_from_slice(&bytes[24..32]);
        let mut gid = [0u8; 16];
        gid.copy_from_slice(&bytes[32..48]);
        Ok(KeyMsg {
            lid: u32_at(0) as u16,
            out_reads: u32_at(4) as u16,
            qpn: u32_at(8),
            psn: u32_at(12),
            rkey: u32_at(16),
            vaddr: u64::from_be_bytes(vaddr),
            gid: with_gid.then_some(gid),
            srqn: 0,
        })
    }

    /// Parses either form (by its length, 59 or 108). The text must be canonical:
    /// exact field widths, lower-case hex, `:` separators, the trailing NUL.
    pub fn parse(bytes: &[u8]) -> Result<KeyMsg, WireError> {
        match bytes.len() {
            KEY_MSG_LEN => Self::parse_form(bytes, false),
            KEY_MSG_GID_LEN => Self::parse_form(bytes, true),
            got => Err(WireError::Length {
                msg: KEYS,
                expected: "59 or 108",
                got,
            }),
        }
    }

    /// Parses the form a side expects (perftest reads the form it writes).
    pub fn parse_form(bytes: &[u8], with_gid: bool) -> Result<KeyMsg, WireError> {
        let (len, expected) = if with_gid {
            (KEY_MSG_GID_LEN, "108")
        } else {
            (KEY_MSG_LEN, "59")
        };
        if bytes.len() != len {
            return Err(WireError::Length {
                msg: KEYS,
                expected,
                got: bytes.len(),
            });
        }
        if bytes[len - 1] != 0 {
            return Err(field_err(KEYS, "terminator", "last byte is not NUL"));
        }
        let mut pos = 0;
        let mut vals = [0u64; 6];
        for (i, (name, width)) in KEY_FIELDS.iter().enumerate() {
            vals[i] = hex_field(bytes, &mut pos, name, *width)?;
            sep(bytes, &mut pos, name)?;
        }
        let gid = if with_gid {
            let mut gid = [0u8; 16];
            for g in gid.iter_mut() {
                *g = hex_field(bytes, &mut pos, "gid", 2)? as u8;
                sep(bytes, &mut pos, "gid")?;
            }
            Some(gid)
        } else {
            None
        };
        let srqn = hex_field(bytes, &mut pos, "srqn", 8)? as u32;
        if with_gid {
            sep(bytes, &mut pos, "srqn")?;
        }
        debug_assert_eq!(pos, len - 1);
        Ok(KeyMsg {
            lid: vals[0] as u16,
            out_reads: vals[1] as u16,
            qpn: vals[2] as u32,
            psn: vals[3] as u32,
            rkey: vals[4] as u32,
            vaddr: vals[5],
            gid,
            srqn,
        })
    }
}

fn hex_field(
    bytes: &[u8],
    pos: &mut usize,
    field: &'static str,
    width: usize,
) -> Result<u64, WireError> {
    let mut v = 0u64;
    for &b in &bytes[*pos..*pos + width] {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => {
                return Err(field_err(
                    KEYS,
                    field,
                    format!("byte 0x{b:02x} is not a lower-case hex digit ({width} expected)"),
                ))
            }
        };
        v = (v << 4) | u64::from(d);
    }
    *pos += width;
    Ok(v)
}

fn sep(bytes: &[u8], pos: &mut usize, after: &'static str) -> Result<(), WireError> {
    if bytes[*pos] != b':' {
        return Err(field_err(
            KEYS,
            after,
            format!(
                "expected ':' after the field, got byte 0x{:02x}",
                bytes[*pos]
            ),
        ));
    }
    *pos += 1;
    Ok(())
}

// ---------------------------------------------------------------------------------
// BW report
// ---------------------------------------------------------------------------------

/// Size of one BW report message.
pub const BW_REPORT_FIELD_LEN: usize = 8;

/// Size of the five BW report messages together.
pub const BW_REPORT_LEN: usize = 5 * BW_REPORT_FIELD_LEN;

/// `xchg_bw_reports`: five 8-byte exchanges, in this order. Unidirectional
/// `ib_write_bw`: the client sends its result and the server prints it; the server's
/// own report is uninitialized stack memory in 6.06 (captured: garbage), so what a
/// client receives must not be trusted. Any 40 bytes decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BwReportMsg {
    /// Message size in bytes (`unsigned long`, BE).
    pub size: u64,
    /// Iterations (times QPs) (`uint64_t`, BE).
    pub iters: u64,
    /// Peak bandwidth (BE `double`) in the report unit (MB/s or Gb/s).
    pub bw_peak: f64,
    /// Average bandwidth (BE `double`).
    pub bw_avg: f64,
    /// Message rate in Mpps (BE `double`).
    pub msg_rate: f64,
}

const BW_REPORT: &str = "bw report";

impl BwReportMsg {
    /// The five messages, in exchange order.
    pub fn fields(&self) -> [[u8; BW_REPORT_FIELD_LEN]; 5] {
        [
            self.size.to_be_bytes(),
            self.iters.to_be_bytes(),
            self.bw_peak.to_bits().to_be_bytes(),
            self.bw_avg.to_bits().to_be_bytes(),
            self.msg_rate.to_bits().to_be_bytes(),
        ]
    }

    /// The five messages, concatenated.
    pub fn encode(&self) -> [u8; BW_REPORT_LEN] {
        let mut out = [0u8; BW_REPORT_LEN];
        for (i, f) in self.fields().iter().enumerate() {
            out[i * 8..(i + 1) * 8].copy_from_slice(f);
        }
        out
    }

    /// From the five received messages.
    pub fn from_fields(f: &[[u8; BW_REPORT_FIELD_LEN]; 5]) -> BwReportMsg {
        BwReportMsg {
            size: u64::from_be_bytes(f[0]),
            iters: u64::from_be_bytes(f[1]),
            bw_peak: f64::from_bits(u64::from_be_bytes(f[2])),
            bw_avg: f64::from_bits(u64::from_be_bytes(f[3])),
            msg_rate: f64::from_bits(u64::from_be_bytes(f[4])),
        }
    }

    /// Parses the five messages, concatenated (40 bytes).
    pub fn parse(bytes: &[u8]) -> Result<BwReportMsg, WireError> {
        if bytes.len() != BW_REPORT_LEN {
            return Err(WireError::Length {
                msg: BW_REPORT,
                expected: "40",
                got: bytes.len(),
            });
        }
        let mut f = [[0u8; 8]; 5];
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            f[i].copy_from_slice(chunk);
        }
        Ok(Self::from_fields(&f))
    }

    /// Bitwise equality (NaNs included), for round-trip checks.
    pub fn bits_eq(&self, other: &BwReportMsg) -> bool {
        self.encode() == other.encode()
    }
}

/// `ctx_close_connection`: after the closing keys exchange each side writes this
/// (`write(fd, "done", sizeof "done")`) without reading the peer's, then closes.
pub const DONE_MSG: &[u8; 5] = b"done\0";

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from Debian's ib_write_bw (client keys, Soft-RoCE, `-x 1`).
    const CAPTURED_KEYS_GID: &[u8] = b"0000:0001:000011:1794de:00000363:000056037ecc8000:00:00:00:00:00:00:00:00:00:00:ff:ff:c6:12:00:01:00000000:\0";

    #[test]
    fn raw_keys_are_struct_pingpong_dest_big_endian() {
        let k = KeyMsg {
            lid: 0x12,
            out_reads: 1,
            qpn: 0x11,
            psn: 0x1794de,
            rkey: 0x363,
            vaddr: 0x5603_7ecc_8000,
            gid: Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1]),
            srqn: 0,
        };
        let b = k.encode_raw(Some(1));
        assert_eq!(b.len(), KEY_RAW_LEN);
        assert_eq!(&b[0..8], &[0, 0, 0, 0x12, 0, 0, 0, 1]);
        assert_eq!(&b[8..12], &[0, 0, 0, 0x11]);
        assert_eq!(&b[20..24], &[0; 4], "padding before vaddr");
        assert_eq!(&b[24..32], &0x5603_7ecc_8000u64.to_be_bytes());
        assert_eq!(&b[52..56], &[0, 0, 0, 1], "gid_index");
        assert_eq!(KeyMsg::parse_raw(&b, true).unwrap(), k);
        let no_gid = KeyMsg::parse_raw(&b, false).unwrap();
        assert_eq!(no_gid.gid, None);
        assert_eq!(KeyMsg { gid: None, ..k }.encode_raw(None)[52..], [0xff; 4]);
        assert!(KeyMsg::parse_raw(&b[..47], true).is_err(), "short message");
    }

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

    #[test]
    fn mtu_captured() {
        assert_eq!(parse_mtu(b"3\0").unwrap(), Mtu::Mtu1024);
        assert_eq!(encode_mtu(Mtu::Mtu1024), *b"3\0");
        assert_eq!(
            Mtu::Mtu4096.min(Mtu::Mtu1024),
            Mtu::Mtu1024,
            "ordered by size"
        );
        assert!(parse_mtu(b"6\0").is_err());
        assert!(parse_mtu(b"0\0").is_err());
        assert!(parse_mtu(b"3x").is_err());
        assert!(parse_mtu(b"3\0\0\0").is_err());
    }

    #[test]
    fn keys_captured_gid_form() {
        assert_eq!(CAPTURED_KEYS_GID.len(), KEY_MSG_GID_LEN);
        let k = KeyMsg::parse(CAPTURED_KEYS_GID).unwrap();
        assert_eq!(k.lid, 0);
        assert_eq!(k.out_reads, 1);
        assert_eq!(k.qpn, 0x11);
        assert_eq!(k.psn, 0x1794de);
        assert_eq!(k.rkey, 0x363);
        assert_eq!(k.vaddr, 0x56037ecc8000);
        assert_eq!(
            k.gid,
            Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1])
        );
        assert_eq!(k.srqn, 0);
        assert_eq!(k.encode().unwrap(), CAPTURED_KEYS_GID);
    }

    #[test]
    fn keys_short_form() {
        let k = KeyMsg {
            lid: 0x1a,
            out_reads: 16,
            qpn: 0xabcdef,
            psn: 0x12,
            rkey: 0xdeadbeef,
            vaddr: 0x7f00_1234_5000,
            gid: None,
            srqn: 7,
        };
        let w = k.encode().unwrap();
        assert_eq!(
            w,
            b"001a:0010:abcdef:000012:deadbeef:00007f0012345000:00000007\0"
        );
        assert_eq!(KeyMsg::parse(&w).unwrap(), k);
        assert!(KeyMsg::parse_form(&w, true).is_err());
    }

    #[test]
    fn keys_reject() {
        let mut w = CAPTURED_KEYS_GID.to_vec();
        w[0] = b'A';
        assert!(matches!(
            KeyMsg::parse(&w),
            Err(WireError::Field { field: "lid", .. })
        ));
        let mut w = CAPTURED_KEYS_GID.to_vec();
        w[106] = b'x';
        assert!(matches!(
            KeyMsg::parse(&w),
            Err(WireError::Field { field: "srqn", .. })
        ));
        let mut w = CAPTURED_KEYS_GID.to_vec();
        w[107] = b'\n';
        assert!(KeyMsg::parse(&w).is_err());
        assert!(KeyMsg::parse(&CAPTURED_KEYS_GID[..100]).is_err());
        let k = KeyMsg::parse(CAPTURED_KEYS_GID).unwrap();
        assert!(KeyMsg { qpn: 1 << 24, ..k }.encode().is_err());
        assert!(KeyMsg { psn: 1 << 24, ..k }.encode().is_err());
    }

    #[test]
    fn bw_report_captured() {
        // The client's report of the captured ib_write_bw run (65536 B, 200 iters).
        let hex =
            "0000000000010000 00000000000000c8 404139feb9375539 40409e39270961e1 3f416ce05bc9f0c5";
        let bytes: Vec<u8> = hex
            .split(' ')
            .flat_map(|w| u64::from_str_radix(w, 16).unwrap().to_be_bytes())
            .collect();
        let r = BwReportMsg::parse(&bytes).unwrap();
        assert_eq!(r.size, 65536);
        assert_eq!(r.iters, 200);
        assert_eq!(crate::perftest::cfmt::float(r.bw_peak, 2), "34.45");
        assert_eq!(crate::perftest::cfmt::float(r.bw_avg, 2), "33.24");
        assert_eq!(crate::perftest::cfmt::float(r.msg_rate, 6), "0.000532");
        assert_eq!(r.encode().to_vec(), bytes);
        assert!(BwReportMsg::parse(&bytes[..39]).is_err());
    }
}

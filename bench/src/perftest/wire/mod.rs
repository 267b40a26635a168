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

mod bw_report;
mod error;
mod keys;
mod mtu;
mod sys_data;
mod version;

pub use bw_report::{BwReportMsg, BW_REPORT_FIELD_LEN, BW_REPORT_LEN};
pub use error::WireError;
pub use keys::{KeyMsg, KEY_MSG_GID_LEN, KEY_MSG_LEN, KEY_RAW_LEN, KEY_RAW_READ_LEN};
pub use mtu::{encode_mtu, parse_mtu, MTU_MSG_LEN};
pub use sys_data::{SysData, SYS_DATA_FIELD_LEN, SYS_DATA_LEN};
pub use version::{
    VersionMsg, BW_ITERS64_MIN_VERSION, MIN_COMPATIBLE_VERSION, MTU_MSG2_MIN_VERSION,
    NEGOTIATION_MIN_VERSION, PERFTEST_VERSION, RDMA_PERF_MARKER, SYS_DATA_MIN_VERSION,
    VERSION_MSG_LEN,
};

/// `ctx_close_connection`: after the closing keys exchange each side writes this
/// (`write(fd, "done", sizeof "done")`) without reading the peer's, then closes.
pub const DONE_MSG: &[u8; 5] = b"done\0";

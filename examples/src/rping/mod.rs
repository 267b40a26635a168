//! rping's protocol, as rdmacm-utils' `rping` speaks it (so either side may be the C tool).
//!
//! After the RDMA CM connection is up, each ping is four steps driven by SENDs of one 16-byte
//! [`RdmaInfo`] message:
//!
//! 1. the client fills its *start* buffer with [`fill_ping`] and sends its address, rkey and
//!    size;
//! 2. the server RDMA READs that many bytes into its own buffer and sends a "go ahead";
//! 3. the client sends the address, rkey and size of its *sink* buffer;
//! 4. the server RDMA WRITEs the string it read (up to and including its NUL) into the sink
//!    and sends another "go ahead"; with `-V` the client compares sink and start buffers.
//!
//! A "go ahead" is any 16-byte message: the C server sends a zeroed one, and the client only
//! checks its length.

mod pattern;
mod wire;

pub use pattern::{fill_ping, next_start, text_of, FIRST_START, MAX_SIZE, MIN_SIZE};
pub use wire::{BogusMessage, RdmaInfo, INFO_LEN};

/// The check of the `rping_info` fuzz target (`fuzz/fuzz_targets/rping_info.rs`), shared with
/// the corpus replay test: decoding never panics, and what it accepts encodes back to the
/// same bytes. Built only with `--cfg fuzzing` (cargo-fuzz, `fuzz/.cargo/config.toml`).
#[cfg(fuzzing)]
pub fn fuzz_check_info(data: &[u8]) {
    if let Ok(info) = RdmaInfo::decode(data) {
        assert_eq!(
            info.encode().as_slice(),
            data,
            "rping info does not round-trip"
        );
    }
}

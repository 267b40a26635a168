//! perftest's handshake over the out-of-band [link](super::transport): a [`Channel`] that
//! exchanges each perftest message, and the sequences of each test, in perftest's order.
//!
//! # Sequences (perftest 6.06, as captured)
//!
//! `P` = preamble ([`Channel::preamble`]: `X16` version, `X4` page size, `X4` cache
//! line, `X2` MTU); `K` = one keys exchange (59 or 108 bytes); `n` = number of QPs;
//! `R` = the BW report (`X8` × 5); `D` = `"done\0"` written by both sides, unread.
//!
//! | test | before the run | after the run |
//! |---|---|---|
//! | `ib_write_bw` | `P K×n K×n` *connect* `K` | client: `K R K D`; server (waits for the client): `K R K D`, prints the client's `R` |
//! | `ib_write_lat` | `P K K×n` *connect* `K×n K` | nothing (both print their own result and close) |
//! | `ib_send_bw` | `P K×n` *connect* `K K×n`, then per run: *post receives* `K` | `K D` (with `-a`: `K` after each size, then `K D`) |
//! | `ib_send_lat` | `P K×n` *connect* `K K×n`, then per run: *post receives* `K` | `K D` |
//!
//! The read tests follow the write tests' sequences.
//!
//! The `K`s are symmetric and both sides send the same local keys each time, so the
//! only ordering that matters is where each side does its QP work: *connect* (to
//! RTR/RTS) between the first `K` and the `K` that follows it as "after RTR", and, in
//! the send tests, the server's receive posting before the `K` that starts a run.
//! [`setup`] takes the *connect* step as a closure; [`send_pre_run`] is the
//! `K` before each send run.

mod error;
mod messages;
mod sequence;

pub use error::{ChannelError, QpCountMismatch, SeqError};
pub use messages::{Agreed, Channel, Preamble};
pub use sequence::{
    send_bw_post_size, send_finish, send_pre_run, setup, write_bw_client_finish,
    write_bw_server_finish,
};

#[cfg(test)]
mod tests;

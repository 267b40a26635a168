//! Out-of-band endpoint exchange over TCP.
//!
//! Before two reliable-connected queue pairs can talk, each side must learn the
//! other's address (LID, QP number, starting PSN, GID). RDMA itself cannot carry
//! that first message, so it travels over an ordinary TCP connection. This crate
//! speaks two formats over such a connection:
//!
//! * the **`ibv_rc_pingpong` format** ([`PingpongDest`]), byte-compatible with
//!   rdma-core's `libibverbs/examples/rc_pingpong.c`, so a Rust program can pair
//!   with the C tool in either role;
//! * the **`RDMA-EP/1` line** ([`Endpoint`]), a richer text line for our own
//!   tools that also carries the path MTU and, optionally, a remote buffer
//!   ([`RemoteBuf`](rdma_verbs::RemoteBuf): address, rkey, length) for one-sided RDMA
//!   operations.
//!
//! # The `ibv_rc_pingpong` wire format
//!
//! One message is exactly [`PINGPONG_MSG_LEN`] = 52 bytes, always sent whole:
//! the C tool formats `sprintf(msg, "%04x:%06x:%06x:%s", lid, qpn, psn, wgid)`
//! into `char msg[sizeof "0000:000000:000000:00000000000000000000000000000000"]`
//! and writes `sizeof msg` bytes, i.e. 51 characters and the terminating NUL:
//!
//! ```text
//! 0000:000011:abcdef:00000000000000000000ffffc6120001\0
//! lid  qpn    psn    gid (32 hex digits)
//! ```
//!
//! The GID is the 16 raw GID bytes in order, as lowercase hex: rdma-core's
//! `gid_to_wire_gid` prints each 4-byte word as `%08x` of `htobe32(word)`, which
//! on any host yields the bytes in memory order. So `::ffff:198.18.0.1` travels
//! as `00000000000000000000ffffc6120001`.
//!
//! After the two addresses, the client sends `"done"` with its NUL
//! (`write(sockfd, "done", sizeof "done")`, 5 bytes, [`DONE_MSG`]); the C server
//! reads it and checks that 5 bytes arrived.
//!
//! # The `RDMA-EP/1` line
//!
//! ```text
//! RDMA-EP/1 lid=0x0 qpn=0x11 psn=0xabcdef gid=00000000000000000000ffffc6120001 mtu=3 addr=0x7f0000001000 rkey=0x1234 len=0x1000\n
//! ```
//!
//! The magic `RDMA-EP/1`, then `key=value` fields separated by single spaces, in
//! any order, then one newline; at most [`ENDPOINT_MAX_LEN`] bytes in all. Numbers
//! are `0x`-prefixed hex (1 to 16 digits); `gid` is 32 hex digits as in the
//! pingpong format; `mtu` is the `ibv_mtu` enum value `1` (256 bytes) to `5`
//! (4096 bytes). `lid`, `qpn`, `psn`, `gid` and `mtu` are required; `addr`,
//! `rkey` and `len` describe the peer's buffer and come all together or not at
//! all. Unknown, duplicated or missing keys are errors.
//!
//! # Sequences
//!
//! The roles follow `ibv_rc_pingpong`. The server must be able to connect its
//! QP between receiving the client's address and replying, as the C server
//! does (the C *client* only connects its QP after the whole exchange):
//!
//! | client ([`OobStream::connect`])  | server ([`OobListener::accept`])            |
//! |----------------------------------|---------------------------------------------|
//! | `send_pingpong(&mine)`           | `let peer = recv_pingpong()?`               |
//! |                                  | *connect the QP to `peer` (RTR, RTS)*       |
//! | `let peer = recv_pingpong()?`    | `send_pingpong(&mine)`                      |
//! | `send_done()`                    | `recv_done()`                               |
//! | *connect the QP to `peer`*       |                                             |
//!
//! The `RDMA-EP/1` exchange uses the same order with
//! [`send_endpoint`](OobStream::send_endpoint) and
//! [`recv_endpoint`](OobStream::recv_endpoint) in place of the pingpong calls.
//!
//! ```no_run
//! use std::time::Duration;
//! use rdma_exchange::{OobListener, OobStream, PingpongDest, DEFAULT_PORT};
//! use rdma_verbs::gid::Gid;
//!
//! # fn main() -> Result<(), rdma_exchange::ExchangeError> {
//! let mine = PingpongDest { lid: 0, qpn: 0x11, psn: 0xabcdef, gid: Gid::ZERO };
//! // Server side:
//! let listener = OobListener::bind(DEFAULT_PORT)?;
//! let mut stream = listener.accept(Duration::from_secs(60))?;
//! let peer = stream.recv_pingpong()?;
//! // ... move the QP to RTR/RTS towards `peer` here ...
//! stream.send_pingpong(&mine)?;
//! stream.recv_done()?;
//!
//! // Client side:
//! let mut stream = OobStream::connect("server-host", DEFAULT_PORT, Duration::from_secs(10))?;
//! stream.send_pingpong(&mine)?;
//! let peer = stream.recv_pingpong()?;
//! stream.send_done()?;
//! // ... move the QP to RTR/RTS towards `peer` here ...
//! # let _ = peer;
//! # Ok(())
//! # }
//! ```
//!
//! # Networking details
//!
//! [`OobStream::connect`] resolves the host (IPv4 and IPv6) and tries every
//! address in turn, like the C client's `getaddrinfo(AF_UNSPEC)` loop: with the
//! C server bound to IPv4 only and `localhost` resolving to `::1` first, the
//! first attempt is refused and the second one succeeds. [`OobListener::bind`]
//! listens on `[::]` (which also accepts IPv4 unless the system makes IPv6
//! sockets IPv6-only, in which case it listens on `0.0.0.0` as well) and falls
//! back to `0.0.0.0` where IPv6 is unavailable.
//!
//! Every step is bounded by a timeout: connecting (per address tried), accepting,
//! and each message sent or received (the timeout covers the whole message, not
//! each read). Name resolution uses the system resolver, which has its own
//! timeouts. Received messages may arrive in any number of TCP segments; each
//! sent message is handed to the kernel in one `write` call, as the C tool's
//! single `read` expects.

#![deny(missing_docs)]

mod endpoint;
mod error;
mod hex;
mod pingpong;
mod stream;

#[cfg(test)]
mod test_fixtures;

/// Checks for the fuzz targets and their corpus replay: built only for them (`--cfg
/// fuzzing`, which cargo-fuzz and `fuzz/.cargo/config.toml` set) and for the unit tests.
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod fuzzing;

pub use endpoint::Endpoint;
pub use error::{ExchangeError, ParseError, Result};
pub use pingpong::PingpongDest;
pub use stream::{OobListener, OobStream};

/// The TCP port `ibv_rc_pingpong` uses when none is given (`-p`).
pub const DEFAULT_PORT: u16 = 18515;

/// Length of one `ibv_rc_pingpong` address message: 51 characters and a NUL.
pub const PINGPONG_MSG_LEN: usize = 52;

/// The message that ends an exchange: `"done"` with its NUL, as the C client sends it.
pub const DONE_MSG: &[u8; 5] = b"done\0";

/// The maximum length of an `RDMA-EP/1` line, newline included.
pub const ENDPOINT_MAX_LEN: usize = 256;

/// The magic and version that starts an `RDMA-EP/1` line.
pub const ENDPOINT_MAGIC: &str = "RDMA-EP/1";

/// The largest QP number or PSN: both are 24-bit quantities.
pub const MAX_24_BIT: u32 = 0x00ff_ffff;

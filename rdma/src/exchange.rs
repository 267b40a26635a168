//! Out-of-band endpoint exchange over TCP.
//!
//! Before two reliable-connected queue pairs can talk, each side must learn the
//! other's address (LID, QP number, starting PSN, GID). RDMA itself cannot carry
//! that first message, so it travels over an ordinary TCP connection. This module
//! speaks two formats over such a connection:
//!
//! * the **`ibv_rc_pingpong` format** ([`PingpongDest`]), byte-compatible with
//!   rdma-core's `libibverbs/examples/rc_pingpong.c`, so a Rust program can pair
//!   with the C tool in either role;
//! * the **`RDMA-EP/1` line** ([`Endpoint`]), a richer text line for our own
//!   tools that also carries the path MTU and, optionally, a remote buffer
//!   (address, rkey, length) for one-sided RDMA operations.
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
//! use rdma::exchange::{OobListener, OobStream, PingpongDest, DEFAULT_PORT};
//! use rdma::gid::Gid;
//!
//! # fn main() -> Result<(), rdma::exchange::ExchangeError> {
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

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::gid::Gid;

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

const HEX: &[u8; 16] = b"0123456789abcdef";

// ---------------------------------------------------------------------------
// Parse errors
// ---------------------------------------------------------------------------

/// Why a received address message was rejected (or a local one is unfit to send).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The message ended in the middle of a field.
    #[error("message ends after {len} bytes, inside the {field} field")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// How many bytes the message has.
        len: usize,
    },
    /// A byte inside a hex field is not a hex digit.
    #[error("{field}: byte {pos} is {}, not a hex digit", show_byte(.found))]
    NotHex {
        /// The field being read.
        field: &'static str,
        /// Offset of the offending byte in the message.
        pos: usize,
        /// The offending byte.
        found: u8,
    },
    /// The separator `:` after a field is missing.
    #[error("expected ':' after {field} at byte {pos}, found {}", show_byte(.found))]
    BadSeparator {
        /// The field the separator should follow.
        field: &'static str,
        /// Offset of the offending byte in the message.
        pos: usize,
        /// The byte found instead.
        found: u8,
    },
    /// The NUL that ends a pingpong message is missing.
    #[error("expected the NUL terminator after gid at byte {pos}, found {}", show_byte(.found))]
    MissingNul {
        /// Offset of the offending byte in the message.
        pos: usize,
        /// The byte found instead.
        found: u8,
    },
    /// A fixed-width field has the wrong number of digits.
    #[error("{field}: expected {expected} hex digits, found {found}")]
    BadWidth {
        /// The field being read.
        field: &'static str,
        /// The width the format requires.
        expected: usize,
        /// The number of digits present.
        found: usize,
    },
    /// A number does not fit its field (for example a QP number above 24 bits).
    #[error("{field}: value {value} exceeds the maximum {max:#x}")]
    OutOfRange {
        /// The field being read.
        field: &'static str,
        /// The value as written (possibly shortened).
        value: String,
        /// The largest value the field allows.
        max: u64,
    },
    /// Bytes follow the NUL that ends a pingpong message.
    #[error("{count} unexpected bytes after the NUL terminator")]
    TrailingBytes {
        /// How many extra bytes there are.
        count: usize,
    },
    /// An `RDMA-EP/1` message is longer than [`ENDPOINT_MAX_LEN`].
    #[error("endpoint message is longer than the maximum of {max} bytes")]
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// An `RDMA-EP/1` message does not end with a newline.
    #[error("endpoint message does not end with a newline")]
    MissingNewline,
    /// An `RDMA-EP/1` message contains a byte other than printable ASCII.
    #[error("byte {pos} is {}: only printable ASCII may precede the final newline", show_byte(.found))]
    InvalidByte {
        /// Offset of the offending byte in the message.
        pos: usize,
        /// The offending byte.
        found: u8,
    },
    /// The message does not start with [`ENDPOINT_MAGIC`].
    #[error("expected the prefix {ENDPOINT_MAGIC:?}, found {found:?}")]
    BadMagic {
        /// What the message starts with (possibly shortened).
        found: String,
    },
    /// The message is an `RDMA-EP` message of another version.
    #[error(
        "unsupported endpoint message version {found:?} (this side speaks {ENDPOINT_MAGIC:?})"
    )]
    UnsupportedVersion {
        /// The magic and version found (possibly shortened).
        found: String,
    },
    /// Two spaces in a row, or a space before the newline.
    #[error("empty field at byte {pos} (fields are separated by exactly one space)")]
    EmptyField {
        /// Offset of the empty field in the message.
        pos: usize,
    },
    /// A field is not of the form `key=value`.
    #[error("field {token:?} is not of the form key=value")]
    MissingEquals {
        /// The field (possibly shortened).
        token: String,
    },
    /// A key this version does not know.
    #[error("unknown key {key:?}")]
    UnknownKey {
        /// The key (possibly shortened).
        key: String,
    },
    /// A key given twice.
    #[error("duplicate key {key:?}")]
    DuplicateKey {
        /// The key.
        key: &'static str,
    },
    /// A required key is absent.
    #[error("missing key {key:?}")]
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// A value is not a well-formed number.
    #[error("{field}: {value:?} is not a valid value: {reason}")]
    BadNumber {
        /// The field being read.
        field: &'static str,
        /// The value as written (possibly shortened).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The MTU is not an `ibv_mtu` value.
    #[error("mtu: {value:?} is not an ibv_mtu value (1 = 256 bytes .. 5 = 4096 bytes)")]
    BadMtu {
        /// The value as written (possibly shortened).
        value: String,
    },
    /// Only some of `addr`, `rkey` and `len` are present.
    #[error(
        "remote buffer is incomplete: {missing:?} is missing (addr, rkey and len come together)"
    )]
    PartialRemoteBuffer {
        /// The first key missing.
        missing: &'static str,
    },
}

/// Shows a byte in an error message: printable ASCII quoted, anything else in hex.
fn show_byte(b: &u8) -> String {
    match *b {
        0 => "NUL".to_string(),
        b if b.is_ascii_graphic() || b == b' ' => format!("{:?}", b as char),
        b => format!("0x{b:02x}"),
    }
}

/// Shortens peer-supplied text for an error message.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        let mut out: String = s.chars().take(MAX).collect();
        out.push_str("...");
        out
    } else {
        s.to_string()
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Value of a run of hex digits, `None` if it does not fit in a `u64`.
fn hex_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &b| {
        let d = hex_val(b)?;
        acc.checked_mul(16)?.checked_add(u64::from(d))
    })
}

/// Decodes exactly 32 hex digits into a GID.
fn hex_gid(digits: &[u8]) -> Option<Gid> {
    if digits.len() != 32 {
        return None;
    }
    let mut raw = [0u8; 16];
    for (byte, pair) in raw.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = (hex_val(pair[0])?, hex_val(pair[1])?);
        *byte = (hi << 4) | lo;
    }
    Some(Gid(raw))
}

/// Writes the GID as 32 lowercase hex digits, the bytes in order (the wire GID).
fn gid_hex_into(gid: &Gid, out: &mut [u8]) {
    for (pair, &byte) in out.chunks_exact_mut(2).zip(gid.0.iter()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
}

fn gid_hex(gid: &Gid) -> String {
    let mut buf = [0u8; 32];
    gid_hex_into(gid, &mut buf);
    buf.iter().map(|&b| char::from(b)).collect()
}

/// Writes `value` as exactly `out.len()` lowercase hex digits (high digits dropped).
fn hex_fixed_into(value: u64, out: &mut [u8]) {
    let mut v = value;
    for slot in out.iter_mut().rev() {
        *slot = HEX[(v & 0xf) as usize];
        v >>= 4;
    }
}

fn check_24(field: &'static str, value: u32) -> Result<(), ParseError> {
    if value > MAX_24_BIT {
        return Err(ParseError::OutOfRange {
            field,
            value: format!("{value:#x}"),
            max: u64::from(MAX_24_BIT),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ibv_rc_pingpong message
// ---------------------------------------------------------------------------

/// A queue pair's address as `ibv_rc_pingpong` exchanges it (`struct pingpong_dest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PingpongDest {
    /// Local identifier of the port (0 on RoCE, where the GID addresses the port).
    pub lid: u16,
    /// Queue pair number (24 bits).
    pub qpn: u32,
    /// Starting packet sequence number (24 bits).
    pub psn: u32,
    /// Port GID; all-zero when the C tool runs without `-g` (InfiniBand, LID routed).
    pub gid: Gid,
}

/// Numeric fields of the pingpong message: (name, width in hex digits, maximum).
const PP_LID: (&str, usize, u64) = ("lid", 4, 0xffff);
const PP_QPN: (&str, usize, u64) = ("qpn", 6, MAX_24_BIT as u64);
const PP_PSN: (&str, usize, u64) = ("psn", 6, MAX_24_BIT as u64);

impl PingpongDest {
    /// Formats the 52-byte message exactly as the C tool's
    /// `sprintf("%04x:%06x:%06x:%s")` does, NUL included.
    ///
    /// `qpn` and `psn` are 24-bit fields: higher bits are dropped here (the C tool
    /// would overflow its buffer instead). [`validate`](Self::validate) reports such
    /// values, and [`OobStream::send_pingpong`] refuses to send them.
    pub fn to_wire(&self) -> [u8; PINGPONG_MSG_LEN] {
        let mut msg = [0u8; PINGPONG_MSG_LEN];
        hex_fixed_into(u64::from(self.lid), &mut msg[0..4]);
        msg[4] = b':';
        hex_fixed_into(u64::from(self.qpn & MAX_24_BIT), &mut msg[5..11]);
        msg[11] = b':';
        hex_fixed_into(u64::from(self.psn & MAX_24_BIT), &mut msg[12..18]);
        msg[18] = b':';
        gid_hex_into(&self.gid, &mut msg[19..51]);
        msg[51] = 0;
        msg
    }

    /// Checks that `qpn` and `psn` fit in 24 bits, so that [`to_wire`](Self::to_wire)
    /// loses nothing.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_24("qpn", self.qpn)?;
        check_24("psn", self.psn)
    }

    /// Parses a message in the C tool's format.
    ///
    /// Strict: exactly `llll:qqqqqq:pppppp:` followed by 32 GID digits and a NUL,
    /// 52 bytes in all. Hex digits may be upper or lower case (the C tool's
    /// `sscanf("%x")` reads both; it writes lower case). Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let (lid, pos) = pp_field(bytes, 0, PP_LID, b':')?;
        let (qpn, pos) = pp_field(bytes, pos + 1, PP_QPN, b':')?;
        let (psn, pos) = pp_field(bytes, pos + 1, PP_PSN, b':')?;
        let (gid_digits, end) = pp_digits(bytes, pos + 1, ("gid", 32, None), 0)?;
        let extra = bytes.len().saturating_sub(end + 1);
        if extra > 0 {
            return Err(ParseError::TrailingBytes { count: extra });
        }
        let gid = hex_gid(gid_digits).ok_or(ParseError::BadWidth {
            field: "gid",
            expected: 32,
            found: gid_digits.len(),
        })?;
        // Widths were checked, so the values fit their types.
        let as_u32 = |field: &'static str, v: u64| {
            u32::try_from(v).map_err(|_| ParseError::OutOfRange {
                field,
                value: format!("{v:#x}"),
                max: u64::from(MAX_24_BIT),
            })
        };
        Ok(PingpongDest {
            lid: u16::try_from(lid).map_err(|_| ParseError::OutOfRange {
                field: "lid",
                value: format!("{lid:#x}"),
                max: 0xffff,
            })?,
            qpn: as_u32("qpn", qpn)?,
            psn: as_u32("psn", psn)?,
            gid,
        })
    }
}

/// Reads a fixed-width numeric field; returns its value and the terminator's offset.
fn pp_field(
    bytes: &[u8],
    start: usize,
    (field, width, max): (&'static str, usize, u64),
    term: u8,
) -> Result<(u64, usize), ParseError> {
    let (digits, end) = pp_digits(bytes, start, (field, width, Some(max)), term)?;
    let value = hex_u64(digits).ok_or(ParseError::BadWidth {
        field,
        expected: width,
        found: digits.len(),
    })?;
    Ok((value, end))
}

/// Reads a run of exactly `width` hex digits at `start` followed by `term`.
/// Returns the digits and the offset of the terminator.
fn pp_digits<'a>(
    bytes: &'a [u8],
    start: usize,
    (field, width, max): (&'static str, usize, Option<u64>),
    term: u8,
) -> Result<(&'a [u8], usize), ParseError> {
    let mut pos = start;
    while bytes.get(pos).is_some_and(|b| b.is_ascii_hexdigit()) {
        pos += 1;
    }
    let digits = bytes.get(start..pos).unwrap_or(&[]);
    if digits.len() > width {
        if let Some(max) = max {
            if !hex_u64(digits).is_some_and(|v| v <= max) {
                let text: String = digits.iter().map(|&b| char::from(b)).collect();
                return Err(ParseError::OutOfRange {
                    field,
                    value: format!("0x{}", clip(&text)),
                    max,
                });
            }
        }
        return Err(ParseError::BadWidth {
            field,
            expected: width,
            found: digits.len(),
        });
    }
    match bytes.get(pos) {
        None => Err(ParseError::Truncated {
            field,
            len: bytes.len(),
        }),
        Some(&b) if b == term => {
            if digits.len() == width {
                Ok((digits, pos))
            } else {
                Err(ParseError::BadWidth {
                    field,
                    expected: width,
                    found: digits.len(),
                })
            }
        }
        Some(&b) if digits.len() < width => Err(ParseError::NotHex {
            field,
            pos,
            found: b,
        }),
        Some(&b) if term == 0 => Err(ParseError::MissingNul { pos, found: b }),
        Some(&b) => Err(ParseError::BadSeparator {
            field,
            pos,
            found: b,
        }),
    }
}

impl fmt::Display for PingpongDest {
    /// Formats like the C tool's "local address:" line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LID {:#06x}, QPN {:#08x}, PSN {:#08x}, GID {}",
            self.lid, self.qpn, self.psn, self.gid
        )
    }
}

// ---------------------------------------------------------------------------
// RDMA-EP/1 line
// ---------------------------------------------------------------------------

/// A buffer the peer exposes for one-sided operations (RDMA read/write, atomics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RemoteBuffer {
    /// Virtual address of the buffer in the peer's address space.
    pub addr: u64,
    /// Remote key of the memory region covering it.
    pub rkey: u32,
    /// Length of the buffer in bytes.
    pub len: u64,
}

/// A queue pair's address with the extras our own tools need: the `RDMA-EP/1` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Local identifier of the port (0 on RoCE).
    pub lid: u16,
    /// Queue pair number (24 bits).
    pub qpn: u32,
    /// Starting packet sequence number (24 bits).
    pub psn: u32,
    /// Port GID (all-zero when unused).
    pub gid: Gid,
    /// Path MTU as an `ibv_mtu` enum value: 1 = 256, 2 = 512, 3 = 1024, 4 = 2048, 5 = 4096 bytes.
    pub mtu: u8,
    /// The buffer the peer may access, if any.
    pub remote_buffer: Option<RemoteBuffer>,
}

const EP_KEYS: [&str; 8] = ["lid", "qpn", "psn", "gid", "mtu", "addr", "rkey", "len"];

impl Endpoint {
    /// Checks that `qpn` and `psn` fit in 24 bits and that `mtu` is 1..=5.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_24("qpn", self.qpn)?;
        check_24("psn", self.psn)?;
        if !(1..=5).contains(&self.mtu) {
            return Err(ParseError::BadMtu {
                value: self.mtu.to_string(),
            });
        }
        Ok(())
    }

    /// Formats the `RDMA-EP/1` line, newline included (at most 153 bytes).
    ///
    /// Out-of-range values (see [`validate`](Self::validate)) are written as they
    /// are, so the peer's parser rejects them.
    pub fn to_line(&self) -> String {
        let mut line = format!(
            "{ENDPOINT_MAGIC} lid={:#x} qpn={:#x} psn={:#x} gid={} mtu={}",
            self.lid,
            self.qpn,
            self.psn,
            gid_hex(&self.gid),
            self.mtu
        );
        if let Some(b) = &self.remote_buffer {
            line.push_str(&format!(
                " addr={:#x} rkey={:#x} len={:#x}",
                b.addr, b.rkey, b.len
            ));
        }
        line.push('\n');
        line
    }

    /// Parses an `RDMA-EP/1` line (newline included). Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() > ENDPOINT_MAX_LEN {
            return Err(ParseError::TooLong {
                max: ENDPOINT_MAX_LEN,
            });
        }
        let body = match bytes.split_last() {
            Some((b'\n', body)) => body,
            _ => return Err(ParseError::MissingNewline),
        };
        if let Some(pos) = body.iter().position(|&b| !(b' '..=b'~').contains(&b)) {
            return Err(ParseError::InvalidByte {
                pos,
                found: body[pos],
            });
        }
        // Printable ASCII only, so one char per byte.
        let text: String = body.iter().map(|&b| char::from(b)).collect();

        let mut tokens = text.split(' ');
        let magic = tokens.next().unwrap_or("");
        if magic != ENDPOINT_MAGIC {
            return Err(if magic.starts_with("RDMA-EP/") {
                ParseError::UnsupportedVersion { found: clip(magic) }
            } else {
                ParseError::BadMagic { found: clip(magic) }
            });
        }

        let mut values: [Option<&str>; 8] = [None; 8];
        let mut pos = magic.len() + 1;
        for token in tokens {
            if token.is_empty() {
                return Err(ParseError::EmptyField { pos });
            }
            let (key, value) = token
                .split_once('=')
                .ok_or_else(|| ParseError::MissingEquals { token: clip(token) })?;
            let idx = EP_KEYS
                .iter()
                .position(|k| *k == key)
                .ok_or_else(|| ParseError::UnknownKey { key: clip(key) })?;
            if values[idx].is_some() {
                return Err(ParseError::DuplicateKey { key: EP_KEYS[idx] });
            }
            values[idx] = Some(value);
            pos += token.len() + 1;
        }
        let [lid, qpn, psn, gid, mtu, addr, rkey, len] = values;

        let lid = lid.ok_or(ParseError::MissingKey { key: "lid" })?;
        let qpn = qpn.ok_or(ParseError::MissingKey { key: "qpn" })?;
        let psn = psn.ok_or(ParseError::MissingKey { key: "psn" })?;
        let gid = gid.ok_or(ParseError::MissingKey { key: "gid" })?;
        let mtu = mtu.ok_or(ParseError::MissingKey { key: "mtu" })?;

        let lid = ep_number("lid", lid, 0xffff)? as u16;
        let qpn = ep_number("qpn", qpn, u64::from(MAX_24_BIT))? as u32;
        let psn = ep_number("psn", psn, u64::from(MAX_24_BIT))? as u32;
        let gid = ep_gid(gid)?;
        let mtu = match mtu.as_bytes() {
            [d @ b'1'..=b'5'] => d - b'0',
            _ => return Err(ParseError::BadMtu { value: clip(mtu) }),
        };
        let remote_buffer = match (addr, rkey, len) {
            (None, None, None) => None,
            (Some(addr), Some(rkey), Some(len)) => Some(RemoteBuffer {
                addr: ep_number("addr", addr, u64::MAX)?,
                rkey: ep_number("rkey", rkey, u64::from(u32::MAX))? as u32,
                len: ep_number("len", len, u64::MAX)?,
            }),
            (addr, rkey, _) => {
                let missing = if addr.is_none() {
                    "addr"
                } else if rkey.is_none() {
                    "rkey"
                } else {
                    "len"
                };
                return Err(ParseError::PartialRemoteBuffer { missing });
            }
        };
        Ok(Endpoint {
            lid,
            qpn,
            psn,
            gid,
            mtu,
            remote_buffer,
        })
    }
}

/// Parses a `0x`-prefixed hex number of 1 to 16 digits no greater than `max`.
fn ep_number(field: &'static str, value: &str, max: u64) -> Result<u64, ParseError> {
    let bad = |reason| ParseError::BadNumber {
        field,
        value: clip(value),
        reason,
    };
    let digits = value
        .strip_prefix("0x")
        .ok_or_else(|| bad("expected 0x followed by hex digits"))?;
    if digits.is_empty() {
        return Err(bad("no digits after 0x"));
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("not a hex number"));
    }
    if digits.len() > 16 {
        return Err(bad("more than 16 hex digits"));
    }
    let v = hex_u64(digits.as_bytes()).ok_or_else(|| bad("not a hex number"))?;
    if v > max {
        return Err(ParseError::OutOfRange {
            field,
            value: clip(value),
            max,
        });
    }
    Ok(v)
}

fn ep_gid(value: &str) -> Result<Gid, ParseError> {
    let bad = |reason| ParseError::BadNumber {
        field: "gid",
        value: clip(value),
        reason,
    };
    if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("not a hex number"));
    }
    hex_gid(value.as_bytes()).ok_or_else(|| bad("expected exactly 32 hex digits"))
}

impl From<&Endpoint> for PingpongDest {
    /// The queue-pair address part of an endpoint.
    fn from(e: &Endpoint) -> Self {
        PingpongDest {
            lid: e.lid,
            qpn: e.qpn,
            psn: e.psn,
            gid: e.gid,
        }
    }
}

// ---------------------------------------------------------------------------
// TCP transport
// ---------------------------------------------------------------------------

/// Why an out-of-band exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The host name could not be resolved.
    #[error("cannot resolve {target}: {source}")]
    Resolve {
        /// `host:port` as given.
        target: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// No address of the host accepted the connection.
    #[error("cannot connect to {target}: {tried}")]
    Connect {
        /// `host:port` as given.
        target: String,
        /// Each address tried and its error.
        tried: String,
        /// The error of the last address tried.
        #[source]
        source: io::Error,
    },
    /// The listening socket could not be set up.
    #[error("cannot listen on TCP port {port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// The error (of the IPv4 fallback if IPv6 failed too).
        #[source]
        source: io::Error,
    },
    /// A step did not finish within the timeout.
    #[error("timed out after {timeout:?} during {step} ({received} bytes received)")]
    Timeout {
        /// What was being done.
        step: &'static str,
        /// The timeout in force.
        timeout: Duration,
        /// Bytes of the message that had arrived.
        received: usize,
    },
    /// The peer closed the connection before the whole message arrived.
    #[error("peer closed the connection during {step} after {received} bytes")]
    PeerClosed {
        /// What was being received.
        step: &'static str,
        /// Bytes of the message that had arrived.
        received: usize,
    },
    /// A socket operation failed.
    #[error("I/O error during {step}: {source}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The peer sent a malformed message.
    #[error("invalid {what} from peer: {source}")]
    Parse {
        /// Which message.
        what: &'static str,
        /// What is wrong with it.
        #[source]
        source: ParseError,
    },
    /// The message to send has out-of-range values.
    #[error("refusing to send an invalid {what}: {source}")]
    InvalidLocal {
        /// Which message.
        what: &'static str,
        /// What is wrong with it.
        #[source]
        source: ParseError,
    },
    /// The peer sent something other than [`DONE_MSG`].
    #[error("expected \"done\\0\" from peer, got {got}")]
    UnexpectedDone {
        /// What arrived, escaped.
        got: String,
    },
}

/// Shorthand for results of this module.
pub type Result<T, E = ExchangeError> = std::result::Result<T, E>;

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Time left until `deadline`: `None` for no deadline, `Some(ZERO)` once passed.
fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// A TCP listener for the server side of an exchange.
#[derive(Debug)]
pub struct OobListener {
    listeners: Vec<TcpListener>,
    port: u16,
}

impl OobListener {
    /// Listens on `port` (0 for an ephemeral port) on all addresses: `[::]`,
    /// plus `0.0.0.0` where `[::]` does not take IPv4, or `0.0.0.0` alone where
    /// IPv6 is unavailable.
    pub fn bind(port: u16) -> Result<Self> {
        match TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)) {
            Ok(v6) => {
                let port = v6
                    .local_addr()
                    .map_err(|source| ExchangeError::Bind { port, source })?
                    .port();
                let mut listeners = vec![v6];
                // Succeeds only where [::] is IPv6-only (net.ipv6.bindv6only = 1):
                // otherwise the dual-stack socket already holds the IPv4 port.
                if let Ok(v4) = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)) {
                    listeners.push(v4);
                }
                Self::from_listeners(listeners, port)
            }
            Err(_) => {
                let v4 = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
                    .map_err(|source| ExchangeError::Bind { port, source })?;
                let port = v4
                    .local_addr()
                    .map_err(|source| ExchangeError::Bind { port, source })?
                    .port();
                Self::from_listeners(vec![v4], port)
            }
        }
    }

    /// Listens on one given address only (for example `127.0.0.1:0` in tests).
    pub fn bind_addr(addr: SocketAddr) -> Result<Self> {
        let l = TcpListener::bind(addr).map_err(|source| ExchangeError::Bind {
            port: addr.port(),
            source,
        })?;
        let port = l
            .local_addr()
            .map_err(|source| ExchangeError::Bind {
                port: addr.port(),
                source,
            })?
            .port();
        Self::from_listeners(vec![l], port)
    }

    fn from_listeners(listeners: Vec<TcpListener>, port: u16) -> Result<Self> {
        for l in &listeners {
            l.set_nonblocking(true)
                .map_err(|source| ExchangeError::Bind { port, source })?;
        }
        Ok(OobListener { listeners, port })
    }

    /// The port listened on (useful after binding port 0).
    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// Waits up to `timeout` for one client. The returned stream uses the same
    /// `timeout` for each later step until [`OobStream::set_timeout`] changes it.
    pub fn accept(&self, timeout: Duration) -> Result<OobStream> {
        const STEP: &str = "accept";
        let deadline = Instant::now().checked_add(timeout);
        loop {
            for l in &self.listeners {
                match l.accept() {
                    Ok((stream, _)) => {
                        stream
                            .set_nonblocking(false)
                            .map_err(|source| ExchangeError::Io { step: STEP, source })?;
                        return OobStream::from_tcp(stream, timeout);
                    }
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            || e.kind() == io::ErrorKind::Interrupted
                            || e.kind() == io::ErrorKind::ConnectionAborted => {}
                    Err(source) => return Err(ExchangeError::Io { step: STEP, source }),
                }
            }
            let wait = match remaining(deadline) {
                Some(left) if left.is_zero() => {
                    return Err(ExchangeError::Timeout {
                        step: STEP,
                        timeout,
                        received: 0,
                    })
                }
                Some(left) => left.min(Duration::from_millis(10)),
                None => Duration::from_millis(10),
            };
            std::thread::sleep(wait);
        }
    }
}

/// A connected TCP stream carrying exchange messages, with a per-step timeout.
#[derive(Debug)]
pub struct OobStream {
    stream: TcpStream,
    timeout: Duration,
    /// Bytes received past the end of the last line read.
    pending: Vec<u8>,
}

const STEP_PP_SEND: &str = "send pingpong address (52 bytes)";
const STEP_PP_RECV: &str = "receive pingpong address (52 bytes)";
const STEP_DONE_SEND: &str = "send \"done\" (5 bytes)";
const STEP_DONE_RECV: &str = "receive \"done\" (5 bytes)";
const STEP_EP_SEND: &str = "send endpoint line";
const STEP_EP_RECV: &str = "receive endpoint line (up to 256 bytes)";
const STEP_SEND: &str = "send message";
const STEP_RECV: &str = "receive message";

impl OobStream {
    /// Connects to `host:port` as the client. The host is resolved to all its
    /// IPv4 and IPv6 addresses, tried in order, each for up to `timeout`; the
    /// stream then uses `timeout` for each step. `host` may be a name, an IPv4
    /// address, or an IPv6 address with or without brackets.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let target = if bare.contains(':') {
            format!("[{bare}]:{port}")
        } else {
            format!("{bare}:{port}")
        };
        let addrs: Vec<SocketAddr> = match (bare, port).to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(source) => return Err(ExchangeError::Resolve { target, source }),
        };
        if addrs.is_empty() {
            return Err(ExchangeError::Resolve {
                target,
                source: io::Error::new(io::ErrorKind::NotFound, "no addresses found"),
            });
        }
        let mut tried = Vec::new();
        let mut last = None;
        for addr in addrs {
            let attempt = if timeout.is_zero() {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connect timeout is zero",
                ))
            } else {
                TcpStream::connect_timeout(&addr, timeout)
            };
            match attempt {
                Ok(stream) => return Self::from_tcp(stream, timeout),
                Err(e) => {
                    tried.push(format!("{addr}: {e}"));
                    last = Some(e);
                }
            }
        }
        Err(ExchangeError::Connect {
            target,
            tried: tried.join("; "),
            source: last.unwrap_or_else(|| io::Error::other("no address tried")),
        })
    }

    /// Wraps an already connected (blocking) TCP stream.
    pub fn from_tcp(stream: TcpStream, timeout: Duration) -> Result<Self> {
        // Latency matters more than batching for these few small messages.
        stream
            .set_nodelay(true)
            .map_err(|source| ExchangeError::Io {
                step: "configure socket",
                source,
            })?;
        Ok(OobStream {
            stream,
            timeout,
            pending: Vec::new(),
        })
    }

    /// Sets the timeout of each later step (one whole message sent or received).
    /// A zero timeout makes every step that has to wait time out at once.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The timeout of each step.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The peer's socket address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Sends our address in the `ibv_rc_pingpong` format (52 bytes, one write).
    pub fn send_pingpong(&mut self, dest: &PingpongDest) -> Result<()> {
        dest.validate()
            .map_err(|source| ExchangeError::InvalidLocal {
                what: "pingpong address",
                source,
            })?;
        self.write_message(&dest.to_wire(), STEP_PP_SEND)
    }

    /// Receives the peer's address in the `ibv_rc_pingpong` format.
    pub fn recv_pingpong(&mut self) -> Result<PingpongDest> {
        let mut msg = [0u8; PINGPONG_MSG_LEN];
        self.read_exact_step(&mut msg, STEP_PP_RECV)?;
        PingpongDest::parse(&msg).map_err(|source| ExchangeError::Parse {
            what: "pingpong address",
            source,
        })
    }

    /// Sends [`DONE_MSG`], the client's last message.
    pub fn send_done(&mut self) -> Result<()> {
        self.write_message(DONE_MSG, STEP_DONE_SEND)
    }

    /// Receives [`DONE_MSG`], the server's last step.
    pub fn recv_done(&mut self) -> Result<()> {
        let mut msg = [0u8; DONE_MSG.len()];
        self.read_exact_step(&mut msg, STEP_DONE_RECV)?;
        if &msg != DONE_MSG {
            return Err(ExchangeError::UnexpectedDone {
                got: msg.escape_ascii().to_string(),
            });
        }
        Ok(())
    }

    /// Sends an `RDMA-EP/1` line (one write).
    pub fn send_endpoint(&mut self, endpoint: &Endpoint) -> Result<()> {
        endpoint
            .validate()
            .map_err(|source| ExchangeError::InvalidLocal {
                what: "endpoint",
                source,
            })?;
        self.write_message(endpoint.to_line().as_bytes(), STEP_EP_SEND)
    }

    /// Receives an `RDMA-EP/1` line.
    pub fn recv_endpoint(&mut self) -> Result<Endpoint> {
        let line = self.read_line(ENDPOINT_MAX_LEN, STEP_EP_RECV)?;
        Endpoint::parse(&line).map_err(|source| ExchangeError::Parse {
            what: "endpoint",
            source,
        })
    }

    /// Sends a message of any format in one write call.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.write_message(bytes, STEP_SEND)
    }

    /// Receives exactly `buf.len()` bytes, however they are split into segments.
    pub fn recv_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.read_exact_step(buf, STEP_RECV)
    }

    fn deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(self.timeout)
    }

    fn write_message(&mut self, bytes: &[u8], step: &'static str) -> Result<()> {
        let timeout = self.timeout;
        let left = remaining(self.deadline());
        if left.is_some_and(|d| d.is_zero()) {
            return Err(ExchangeError::Timeout {
                step,
                timeout,
                received: 0,
            });
        }
        self.stream
            .set_write_timeout(left)
            .map_err(|source| ExchangeError::Io { step, source })?;
        // write_all issues a single write() for a message this small; it only
        // loops if the kernel takes part of it.
        self.stream.write_all(bytes).map_err(|source| {
            if is_timeout(&source) {
                ExchangeError::Timeout {
                    step,
                    timeout,
                    received: 0,
                }
            } else {
                ExchangeError::Io { step, source }
            }
        })
    }

    /// One `read` into `buf` (not empty), bounded by `deadline`.
    fn read_some(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        step: &'static str,
        received: usize,
    ) -> Result<usize> {
        let timeout = self.timeout;
        let timed_out = || ExchangeError::Timeout {
            step,
            timeout,
            received,
        };
        loop {
            let left = remaining(deadline);
            if left.is_some_and(|d| d.is_zero()) {
                return Err(timed_out());
            }
            self.stream
                .set_read_timeout(left)
                .map_err(|source| ExchangeError::Io { step, source })?;
            match self.stream.read(buf) {
                Ok(0) => return Err(ExchangeError::PeerClosed { step, received }),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Loop: the deadline check above ends it (timer granularity aside).
                Err(e) if is_timeout(&e) && deadline.is_some() => {}
                Err(e) if is_timeout(&e) => return Err(timed_out()),
                Err(source) => return Err(ExchangeError::Io { step, source }),
            }
        }
    }

    fn read_exact_step(&mut self, buf: &mut [u8], step: &'static str) -> Result<()> {
        let deadline = self.deadline();
        let from_pending = self.pending.len().min(buf.len());
        buf[..from_pending].copy_from_slice(&self.pending[..from_pending]);
        self.pending.drain(..from_pending);
        let mut filled = from_pending;
        while filled < buf.len() {
            filled += self.read_some(&mut buf[filled..], deadline, step, filled)?;
        }
        Ok(())
    }

    /// Reads up to and including a newline, at most `max` bytes. Bytes past the
    /// newline stay buffered for the next read.
    fn read_line(&mut self, max: usize, step: &'static str) -> Result<Vec<u8>> {
        let deadline = self.deadline();
        let mut chunk = [0u8; ENDPOINT_MAX_LEN];
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                if i >= max {
                    return Err(ExchangeError::Parse {
                        what: "endpoint",
                        source: ParseError::TooLong { max },
                    });
                }
                return Ok(self.pending.drain(..=i).collect());
            }
            if self.pending.len() >= max {
                return Err(ExchangeError::Parse {
                    what: "endpoint",
                    source: ParseError::TooLong { max },
                });
            }
            let want = (max - self.pending.len()).min(chunk.len());
            let received = self.pending.len();
            let n = self.read_some(&mut chunk[..want], deadline, step, received)?;
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }
}

// ---------------------------------------------------------------------------
// Fuzzing support
// ---------------------------------------------------------------------------

/// Checks shared by the fuzz targets (`fuzz/`) and the corpus replay test
/// (`tests/fuzz_corpus.rs`). Each function panics if an invariant fails.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Parses `data` as a pingpong message; a message that parses must be the
    /// canonical (lowercase) form of its value and round-trip. Also round-trips a
    /// value built from the raw bytes.
    pub fn check_pingpong(data: &[u8]) {
        match PingpongDest::parse(data) {
            Ok(d) => {
                assert_eq!(d.validate(), Ok(()), "parsed value out of range: {d:?}");
                let wire = d.to_wire();
                assert_eq!(
                    wire[..],
                    data.to_ascii_lowercase()[..],
                    "accepted a non-canonical message"
                );
                assert_eq!(
                    PingpongDest::parse(&wire),
                    Ok(d),
                    "round trip changed {d:?}"
                );
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
        if let Some(d) = pingpong_from_raw(data) {
            assert_eq!(PingpongDest::parse(&d.to_wire()), Ok(d), "to_wire of {d:?}");
        }
    }

    /// Parses `data` as an `RDMA-EP/1` line; a line that parses must round-trip
    /// through [`Endpoint::to_line`]. Also round-trips a value built from the raw bytes.
    pub fn check_endpoint(data: &[u8]) {
        match Endpoint::parse(data) {
            Ok(e) => {
                assert_eq!(e.validate(), Ok(()), "parsed value out of range: {e:?}");
                let line = e.to_line();
                assert!(line.len() <= ENDPOINT_MAX_LEN, "line too long: {line:?}");
                assert_eq!(
                    Endpoint::parse(line.as_bytes()),
                    Ok(e),
                    "round trip of {line:?}"
                );
            }
            Err(err) => assert!(!err.to_string().is_empty()),
        }
        if let Some(e) = endpoint_from_raw(data) {
            let line = e.to_line();
            assert!(line.len() <= ENDPOINT_MAX_LEN, "line too long: {line:?}");
            assert_eq!(
                Endpoint::parse(line.as_bytes()),
                Ok(e),
                "round trip of {line:?}"
            );
        }
    }

    fn take<const N: usize>(data: &mut &[u8]) -> Option<[u8; N]> {
        let (head, rest) = data.split_first_chunk::<N>()?;
        *data = rest;
        Some(*head)
    }

    fn pingpong_from_raw(mut data: &[u8]) -> Option<PingpongDest> {
        let d = &mut data;
        Some(PingpongDest {
            lid: u16::from_le_bytes(take(d)?),
            qpn: u32::from_le_bytes(take(d)?) & MAX_24_BIT,
            psn: u32::from_le_bytes(take(d)?) & MAX_24_BIT,
            gid: Gid(take(d)?),
        })
    }

    fn endpoint_from_raw(data: &[u8]) -> Option<Endpoint> {
        let mut rest = data.get(26..)?;
        let r = &mut rest;
        let dest = pingpong_from_raw(data)?;
        let mtu = take::<1>(r)?[0] % 5 + 1;
        let remote_buffer = match take::<1>(r)?[0] & 1 {
            0 => None,
            _ => Some(RemoteBuffer {
                addr: u64::from_le_bytes(take(r)?),
                rkey: u32::from_le_bytes(take(r)?),
                len: u64::from_le_bytes(take(r)?),
            }),
        };
        Some(Endpoint {
            lid: dest.lid,
            qpn: dest.qpn,
            psn: dest.psn,
            gid: dest.gid,
            mtu,
            remote_buffer,
        })
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::thread;

    /// `::ffff:198.18.0.1`
    const MAPPED: Gid = Gid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1]);
    const T: Duration = Duration::from_secs(5);

    fn dest() -> PingpongDest {
        PingpongDest {
            lid: 0,
            qpn: 0x11,
            psn: 0xabcdef,
            gid: MAPPED,
        }
    }

    /// What the C tool's `sprintf("%04x:%06x:%06x:%s", ...)` produces, NUL included,
    /// with the GID built the way `gid_to_wire_gid` does it: each 4-byte word read
    /// in host order, `htobe32`, printed `%08x`.
    fn c_sprintf(lid: u16, qpn: u32, psn: u32, gid: &Gid) -> Vec<u8> {
        let mut wgid = String::new();
        for word in gid.0.chunks_exact(4) {
            let host_word = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
            wgid.push_str(&format!("{:08x}", host_word.to_be()));
        }
        let mut msg = format!("{lid:04x}:{qpn:06x}:{psn:06x}:{wgid}").into_bytes();
        msg.push(0);
        msg
    }

    fn pp(s: &str) -> Result<PingpongDest, ParseError> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        PingpongDest::parse(&v)
    }

    const GOOD_PP: &str = "0000:000011:abcdef:00000000000000000000ffffc6120001";

    #[test]
    fn pingpong_known_c_string() {
        let expected = b"0000:000011:abcdef:00000000000000000000ffffc6120001\0";
        assert_eq!(expected.len(), PINGPONG_MSG_LEN);
        assert_eq!(c_sprintf(0, 0x11, 0xabcdef, &MAPPED), expected.to_vec());
        assert_eq!(&dest().to_wire(), expected);
        assert_eq!(PingpongDest::parse(expected), Ok(dest()));
        assert_eq!(MAPPED.to_string(), "::ffff:198.18.0.1");
    }

    #[test]
    fn pingpong_matches_c_for_various_values() {
        let gids = [
            Gid::ZERO,
            MAPPED,
            Gid([
                0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55,
            ]),
            Gid([0xff; 16]),
            Gid(core::array::from_fn(|i| i as u8)),
        ];
        for (i, gid) in gids.iter().enumerate() {
            let d = PingpongDest {
                lid: [0, 1, 0x1a, 0xbeef, 0xffff][i],
                qpn: [0, 0x11, 0x123456, 0xffffff, 0xabc][i],
                psn: [0xffffff, 0, 0x654321, 1, 0xabcdef][i],
                gid: *gid,
            };
            let wire = d.to_wire();
            assert_eq!(wire.to_vec(), c_sprintf(d.lid, d.qpn, d.psn, &d.gid));
            assert_eq!(PingpongDest::parse(&wire), Ok(d));
        }
    }

    #[test]
    fn pingpong_accepts_uppercase() {
        let upper = "0ABC:00001F:ABCDEF:FE800000000000000211223344556677";
        let d = pp(upper).unwrap();
        assert_eq!(d.lid, 0xabc);
        assert_eq!(d.qpn, 0x1f);
        assert_eq!(d.gid.0[0], 0xfe);
        assert_eq!(d.to_wire()[..51], upper.to_ascii_lowercase().as_bytes()[..]);
    }

    #[test]
    fn pingpong_to_wire_masks_and_validate_reports() {
        let d = PingpongDest {
            qpn: 0x1000011,
            ..dest()
        };
        assert_eq!(PingpongDest::parse(&d.to_wire()).unwrap().qpn, 0x11);
        assert!(matches!(
            d.validate(),
            Err(ParseError::OutOfRange { field: "qpn", .. })
        ));
        let d = PingpongDest {
            psn: u32::MAX,
            ..dest()
        };
        assert!(matches!(
            d.validate(),
            Err(ParseError::OutOfRange { field: "psn", .. })
        ));
        assert_eq!(dest().validate(), Ok(()));
    }

    #[test]
    fn pingpong_rejections() {
        use ParseError::*;
        // Empty and truncated input.
        assert_eq!(
            PingpongDest::parse(b""),
            Err(Truncated {
                field: "lid",
                len: 0
            })
        );
        assert_eq!(
            PingpongDest::parse(&GOOD_PP.as_bytes()[..30]),
            Err(Truncated {
                field: "gid",
                len: 30
            })
        );
        // Missing NUL: the 51 characters alone.
        assert_eq!(
            PingpongDest::parse(GOOD_PP.as_bytes()),
            Err(Truncated {
                field: "gid",
                len: 51
            })
        );
        // Garbage instead of the NUL.
        let mut bad = GOOD_PP.as_bytes().to_vec();
        bad.push(b'x');
        assert_eq!(
            PingpongDest::parse(&bad),
            Err(MissingNul {
                pos: 51,
                found: b'x'
            })
        );
        // Garbage after the NUL.
        let mut bad = dest().to_wire().to_vec();
        bad.extend_from_slice(b"zz");
        assert_eq!(PingpongDest::parse(&bad), Err(TrailingBytes { count: 2 }));
        // Non-hex digits.
        assert_eq!(
            pp("00g0:000011:abcdef:00000000000000000000ffffc6120001"),
            Err(NotHex {
                field: "lid",
                pos: 2,
                found: b'g'
            })
        );
        assert_eq!(
            pp("0000:000011:abcdef:0000000000000000000 ffffc6120001"),
            Err(NotHex {
                field: "gid",
                pos: 38,
                found: b' '
            })
        );
        assert_eq!(
            pp("0000:-00011:abcdef:00000000000000000000ffffc6120001"),
            Err(NotHex {
                field: "qpn",
                pos: 5,
                found: b'-'
            })
        );
        // Wrong separators.
        assert_eq!(
            pp("0000-000011:abcdef:00000000000000000000ffffc6120001"),
            Err(BadSeparator {
                field: "lid",
                pos: 4,
                found: b'-'
            })
        );
        assert_eq!(
            pp("0000:000011;abcdef:00000000000000000000ffffc6120001"),
            Err(BadSeparator {
                field: "qpn",
                pos: 11,
                found: b';'
            })
        );
        // Out of range: a 7-digit QPN or PSN, a 5-digit LID.
        assert_eq!(
            pp("0000:1000000:abcdef:00000000000000000000ffffc612000"),
            Err(OutOfRange {
                field: "qpn",
                value: "0x1000000".into(),
                max: 0xffffff
            })
        );
        assert_eq!(
            pp("0000:000011:fabcdef:00000000000000000000ffffc612000"),
            Err(OutOfRange {
                field: "psn",
                value: "0xfabcdef".into(),
                max: 0xffffff
            })
        );
        assert_eq!(
            pp("10000:00011:abcdef:00000000000000000000ffffc6120001"),
            Err(OutOfRange {
                field: "lid",
                value: "0x10000".into(),
                max: 0xffff
            })
        );
        // Wrong widths: too few digits, or a padded value that still fits.
        assert_eq!(
            pp("000:0000011:abcdef:00000000000000000000ffffc6120001"),
            Err(BadWidth {
                field: "lid",
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            pp("0000:0000011:abcdef:0000000000000000000ffffc6120001"),
            Err(BadWidth {
                field: "qpn",
                expected: 6,
                found: 7
            })
        );
        assert_eq!(
            pp("0000:000011:abcdef:00000000000000000000ffffc612000"),
            Err(BadWidth {
                field: "gid",
                expected: 32,
                found: 31
            })
        );
        assert_eq!(
            pp("0000:000011:abcdef:00000000000000000000ffffc61200012"),
            Err(BadWidth {
                field: "gid",
                expected: 32,
                found: 33
            })
        );
        // Error messages name the field and the problem.
        let msg = pp("0000:1000000:abcdef:00000000000000000000ffffc612000")
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "qpn: value 0x1000000 exceeds the maximum 0xffffff");
        let msg = PingpongDest::parse(GOOD_PP.as_bytes())
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "message ends after 51 bytes, inside the gid field");
    }

    #[test]
    fn pingpong_parse_never_panics_on_prefixes_and_mutations() {
        let wire = dest().to_wire();
        for len in 0..=wire.len() {
            let _ = PingpongDest::parse(&wire[..len]);
        }
        for i in 0..wire.len() {
            for b in [0u8, b':', b'g', b'F', 0xff, b'\n'] {
                let mut m = wire;
                m[i] = b;
                fuzzing::check_pingpong(&m);
            }
        }
    }

    fn endpoint() -> Endpoint {
        Endpoint {
            lid: 0,
            qpn: 0x11,
            psn: 0xabcdef,
            gid: MAPPED,
            mtu: 3,
            remote_buffer: Some(RemoteBuffer {
                addr: 0x7f00_0000_1000,
                rkey: 0x1234,
                len: 0x1000,
            }),
        }
    }

    const GOOD_EP: &str = "RDMA-EP/1 lid=0x0 qpn=0x11 psn=0xabcdef gid=00000000000000000000ffffc6120001 mtu=3 addr=0x7f0000001000 rkey=0x1234 len=0x1000\n";

    fn ep(s: &str) -> Result<Endpoint, ParseError> {
        Endpoint::parse(s.as_bytes())
    }

    #[test]
    fn endpoint_round_trip_and_known_line() {
        assert_eq!(endpoint().to_line(), GOOD_EP);
        assert_eq!(ep(GOOD_EP), Ok(endpoint()));
        let bare = Endpoint {
            remote_buffer: None,
            ..endpoint()
        };
        assert_eq!(ep(&bare.to_line()), Ok(bare));
        let max = Endpoint {
            lid: u16::MAX,
            qpn: MAX_24_BIT,
            psn: MAX_24_BIT,
            gid: Gid([0xff; 16]),
            mtu: 5,
            remote_buffer: Some(RemoteBuffer {
                addr: u64::MAX,
                rkey: u32::MAX,
                len: u64::MAX,
            }),
        };
        let line = max.to_line();
        assert_eq!(line.len(), 153);
        assert_eq!(ep(&line), Ok(max));
        // Any key order, leading zeros and upper-case digits are accepted.
        let shuffled = "RDMA-EP/1 len=0x1000 mtu=3 gid=00000000000000000000FFFFC6120001 rkey=0x00001234 psn=0xABCDEF addr=0x7f0000001000 qpn=0x000011 lid=0x0000\n";
        assert_eq!(ep(shuffled), Ok(endpoint()));
        assert_eq!(PingpongDest::from(&endpoint()), dest());
    }

    #[test]
    fn endpoint_rejections() {
        use ParseError::*;
        let too_long = format!("{}{}\n", GOOD_EP.trim_end(), " ".repeat(200));
        assert_eq!(ep(&too_long), Err(TooLong { max: 256 }));
        assert_eq!(ep(GOOD_EP.trim_end()), Err(MissingNewline));
        assert_eq!(ep(""), Err(MissingNewline));
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu=3\r")),
            Err(InvalidByte {
                pos: 82,
                found: b'\r'
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("lid", "l\u{e9}d")),
            Err(InvalidByte {
                pos: 11,
                found: 0xc3
            })
        );
        assert_eq!(
            ep("\n"),
            Err(BadMagic {
                found: String::new()
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("RDMA-EP/1", "RDMA-XP/1")),
            Err(BadMagic {
                found: "RDMA-XP/1".into()
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("RDMA-EP/1", "RDMA-EP/2")),
            Err(UnsupportedVersion {
                found: "RDMA-EP/2".into()
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace(" qpn", "  qpn")),
            Err(EmptyField { pos: 18 })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("\n", " \n")),
            Err(EmptyField { pos: 126 })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu")),
            Err(MissingEquals {
                token: "mtu".into()
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu=3 sl=0x0")),
            Err(UnknownKey { key: "sl".into() })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu=3 qpn=0x12")),
            Err(DuplicateKey { key: "qpn" })
        );
        assert_eq!(
            ep(&GOOD_EP.replace(" psn=0xabcdef", "")),
            Err(MissingKey { key: "psn" })
        );
        assert_eq!(
            ep(&GOOD_EP.replace(" rkey=0x1234", "")),
            Err(PartialRemoteBuffer { missing: "rkey" })
        );
        assert_eq!(
            ep(&GOOD_EP.replace(" addr=0x7f0000001000", "")),
            Err(PartialRemoteBuffer { missing: "addr" })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("qpn=0x11", "qpn=17")),
            Err(BadNumber {
                field: "qpn",
                value: "17".into(),
                reason: "expected 0x followed by hex digits"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("qpn=0x11", "qpn=0x")),
            Err(BadNumber {
                field: "qpn",
                value: "0x".into(),
                reason: "no digits after 0x"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("qpn=0x11", "qpn=0x1g")),
            Err(BadNumber {
                field: "qpn",
                value: "0x1g".into(),
                reason: "not a hex number"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("len=0x1000", "len=0x00000000000000001")),
            Err(BadNumber {
                field: "len",
                value: "0x00000000000000001".into(),
                reason: "more than 16 hex digits"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("qpn=0x11", "qpn=0x1000000")),
            Err(OutOfRange {
                field: "qpn",
                value: "0x1000000".into(),
                max: 0xffffff
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("lid=0x0", "lid=0x10000")),
            Err(OutOfRange {
                field: "lid",
                value: "0x10000".into(),
                max: 0xffff
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("rkey=0x1234", "rkey=0x100000000")),
            Err(OutOfRange {
                field: "rkey",
                value: "0x100000000".into(),
                max: 0xffff_ffff
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("ffffc6120001", "ffffc612000")),
            Err(BadNumber {
                field: "gid",
                value: "00000000000000000000ffffc612000".into(),
                reason: "expected exactly 32 hex digits"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("gid=0000", "gid=::00")),
            Err(BadNumber {
                field: "gid",
                value: "::000000000000000000ffffc6120001".into(),
                reason: "not a hex number"
            })
        );
        for bad in ["mtu=0", "mtu=6", "mtu=03", "mtu=", "mtu=x"] {
            assert!(
                matches!(ep(&GOOD_EP.replace("mtu=3", bad)), Err(BadMtu { .. })),
                "{bad}"
            );
        }
        // Long peer-supplied text is shortened in errors.
        let long_key = format!("RDMA-EP/1 {}=1\n", "k".repeat(100));
        match ep(&long_key) {
            Err(UnknownKey { key }) => assert_eq!(key.len(), 43),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu=6"))
                .unwrap_err()
                .to_string(),
            "mtu: \"6\" is not an ibv_mtu value (1 = 256 bytes .. 5 = 4096 bytes)"
        );
    }

    #[test]
    fn endpoint_validate() {
        assert_eq!(endpoint().validate(), Ok(()));
        let e = Endpoint {
            mtu: 0,
            ..endpoint()
        };
        assert!(matches!(e.validate(), Err(ParseError::BadMtu { .. })));
        // An invalid value is written as is and rejected by the peer.
        assert!(matches!(ep(&e.to_line()), Err(ParseError::BadMtu { .. })));
        let e = Endpoint {
            psn: 0x100_0000,
            ..endpoint()
        };
        assert!(matches!(
            e.validate(),
            Err(ParseError::OutOfRange { field: "psn", .. })
        ));
    }

    fn loopback_listener() -> OobListener {
        OobListener::bind_addr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))).unwrap()
    }

    #[test]
    fn tcp_exchange_between_threads() {
        let listener = OobListener::bind(0).unwrap();
        let port = listener.local_port();
        assert_ne!(port, 0);
        let server_dest = PingpongDest {
            lid: 7,
            qpn: 0x222,
            psn: 0x333,
            gid: Gid::ZERO,
        };
        let server_ep = Endpoint {
            remote_buffer: None,
            ..endpoint()
        };
        let server = thread::spawn(move || {
            let mut s = listener.accept(T).unwrap();
            let client = s.recv_pingpong().unwrap();
            // (the caller would connect its QP here)
            s.send_pingpong(&server_dest).unwrap();
            s.recv_done().unwrap();
            let client_ep = s.recv_endpoint().unwrap();
            s.send_endpoint(&server_ep).unwrap();
            s.recv_done().unwrap();
            (client, client_ep)
        });
        let mut c = OobStream::connect("127.0.0.1", port, T).unwrap();
        c.send_pingpong(&dest()).unwrap();
        assert_eq!(c.recv_pingpong().unwrap(), server_dest);
        c.send_done().unwrap();
        c.send_endpoint(&endpoint()).unwrap();
        assert_eq!(c.recv_endpoint().unwrap(), server_ep);
        c.send_done().unwrap();
        let (client, client_ep) = server.join().unwrap();
        assert_eq!(client, dest());
        assert_eq!(client_ep, endpoint());
    }

    #[test]
    fn tcp_connect_by_name_and_ipv6() {
        let listener = OobListener::bind(0).unwrap();
        let port = listener.local_port();
        let mut hosts = vec!["localhost", "127.0.0.1"];
        // IPv6 loopback is not configured everywhere (e.g. some sandboxes).
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            hosts.push("::1");
            hosts.push("[::1]");
        }
        let count = hosts.len();
        let server = thread::spawn(move || {
            for _ in 0..count {
                let mut s = listener.accept(T).unwrap();
                s.send_done().unwrap();
            }
            count
        });
        for host in &hosts {
            let mut c = OobStream::connect(host, port, T).unwrap();
            c.recv_done().unwrap();
        }
        assert_eq!(server.join().unwrap(), hosts.len());
    }

    /// Plays the C client byte for byte against our server.
    #[test]
    fn tcp_c_client_against_rust_server() {
        let listener = loopback_listener();
        let port = listener.local_port();
        let server = thread::spawn(move || {
            let mut s = listener.accept(T).unwrap();
            let client = s.recv_pingpong().unwrap();
            s.send_pingpong(&dest()).unwrap();
            s.recv_done().unwrap();
            client
        });
        let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mine = c_sprintf(0x1a, 0x123456, 0x000001, &Gid::ZERO);
        assert_eq!(raw.write(&mine).unwrap(), PINGPONG_MSG_LEN);
        let mut msg = [0u8; PINGPONG_MSG_LEN];
        raw.read_exact(&mut msg).unwrap();
        assert_eq!(msg.to_vec(), c_sprintf(0, 0x11, 0xabcdef, &MAPPED));
        assert_eq!(raw.write(b"done\0").unwrap(), 5);
        let got = server.join().unwrap();
        assert_eq!((got.lid, got.qpn, got.psn), (0x1a, 0x123456, 1));
    }

    /// Plays the C server byte for byte against our client: one read of up to
    /// 52 bytes for "done" must return exactly 5.
    #[test]
    fn tcp_rust_client_against_c_server() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut msg = [0u8; PINGPONG_MSG_LEN];
            s.read_exact(&mut msg).unwrap();
            s.write_all(&c_sprintf(0xbeef, 0xffffff, 0, &MAPPED))
                .unwrap();
            let mut done = [0u8; PINGPONG_MSG_LEN];
            let mut n = 0;
            while n < 5 {
                let r = s.read(&mut done[n..]).unwrap();
                assert_ne!(r, 0);
                n += r;
            }
            assert_eq!(&done[..n], b"done\0");
            msg
        });
        let mut c = OobStream::connect("127.0.0.1", port, T).unwrap();
        c.send_pingpong(&dest()).unwrap();
        let peer = c.recv_pingpong().unwrap();
        assert_eq!(
            peer,
            PingpongDest {
                lid: 0xbeef,
                qpn: 0xffffff,
                psn: 0,
                gid: MAPPED
            }
        );
        c.send_done().unwrap();
        drop(c);
        assert_eq!(server.join().unwrap(), dest().to_wire());
    }

    #[test]
    fn tcp_split_segments_and_coalesced_messages() {
        let listener = loopback_listener();
        let port = listener.local_port();
        let server = thread::spawn(move || {
            let mut s = listener.accept(T).unwrap();
            let a = s.recv_pingpong().unwrap();
            let b = s.recv_endpoint().unwrap();
            let c = s.recv_endpoint().unwrap();
            s.recv_done().unwrap();
            (a, b, c)
        });
        let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
        raw.set_nodelay(true).unwrap();
        let wire = dest().to_wire();
        raw.write_all(&wire[..10]).unwrap();
        thread::sleep(Duration::from_millis(30));
        raw.write_all(&wire[10..]).unwrap();
        // Two lines and "done" in one segment.
        let mut burst = endpoint().to_line().into_bytes();
        burst.extend_from_slice(GOOD_EP.as_bytes());
        burst.extend_from_slice(DONE_MSG);
        raw.write_all(&burst).unwrap();
        let (a, b, c) = server.join().unwrap();
        assert_eq!(a, dest());
        assert_eq!(b, endpoint());
        assert_eq!(c, endpoint());
    }

    #[test]
    fn tcp_connect_to_closed_port() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        match OobStream::connect("127.0.0.1", port, T) {
            Err(ExchangeError::Connect { target, tried, .. }) => {
                assert_eq!(target, format!("127.0.0.1:{port}"));
                assert!(tried.starts_with(&format!("127.0.0.1:{port}: ")), "{tried}");
            }
            other => panic!("{other:?}"),
        }
        let err = OobStream::connect("127.0.0.1", port, T).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
            "{err}"
        );
    }

    #[test]
    fn tcp_resolve_failure() {
        assert!(matches!(
            // A NUL makes the lookup fail at once, without asking any resolver.
            OobStream::connect("bad\0host", 1, T),
            Err(ExchangeError::Resolve { .. })
        ));
    }

    #[test]
    fn tcp_silent_peer_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let peer = thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            thread::sleep(Duration::from_millis(1500));
            drop(s);
        });
        let timeout = Duration::from_millis(200);
        let mut c = OobStream::connect("127.0.0.1", port, timeout).unwrap();
        let start = Instant::now();
        let err = c.recv_pingpong().unwrap_err();
        let elapsed = start.elapsed();
        match err {
            ExchangeError::Timeout {
                step,
                timeout: t,
                received: 0,
            } => {
                assert_eq!(step, STEP_PP_RECV);
                assert_eq!(t, timeout);
            }
            other => panic!("{other:?}"),
        }
        assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
        // The other receive kinds time out too.
        assert!(matches!(
            c.recv_endpoint(),
            Err(ExchangeError::Timeout { .. })
        ));
        assert!(matches!(c.recv_done(), Err(ExchangeError::Timeout { .. })));
        peer.join().unwrap();
    }

    #[test]
    fn tcp_accept_times_out() {
        let listener = loopback_listener();
        let start = Instant::now();
        let err = listener.accept(Duration::from_millis(100)).unwrap_err();
        assert!(
            matches!(err, ExchangeError::Timeout { step: "accept", .. }),
            "{err:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn tcp_peer_closes_early() {
        let listener = loopback_listener();
        let port = listener.local_port();
        let peer = thread::spawn(move || {
            let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
            raw.write_all(&dest().to_wire()[..10]).unwrap();
        });
        let mut s = listener.accept(T).unwrap();
        peer.join().unwrap();
        let err = s.recv_pingpong().unwrap_err();
        assert!(
            matches!(
                err,
                ExchangeError::PeerClosed {
                    received: 10,
                    step: STEP_PP_RECV
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "peer closed the connection during receive pingpong address (52 bytes) after 10 bytes"
        );
    }

    #[test]
    fn tcp_bad_messages_from_peer() {
        let listener = loopback_listener();
        let port = listener.local_port();
        let peer = thread::spawn(move || {
            let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut bad = dest().to_wire();
            bad[4] = b'-';
            raw.write_all(&bad).unwrap();
            raw.write_all(b"DONE\0").unwrap();
            raw.write_all(&[b'x'; 300]).unwrap();
            raw
        });
        let mut s = listener.accept(T).unwrap();
        let raw = peer.join().unwrap();
        assert!(matches!(
            s.recv_pingpong(),
            Err(ExchangeError::Parse {
                source: ParseError::BadSeparator { field: "lid", .. },
                ..
            })
        ));
        match s.recv_done() {
            Err(ExchangeError::UnexpectedDone { got }) => assert_eq!(got, "DONE\\x00"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.recv_endpoint(),
            Err(ExchangeError::Parse {
                source: ParseError::TooLong { max: 256 },
                ..
            })
        ));
        drop(raw);
    }

    #[test]
    fn send_refuses_invalid_values() {
        let listener = loopback_listener();
        let port = listener.local_port();
        let mut c = OobStream::connect("127.0.0.1", port, T).unwrap();
        let bad = PingpongDest {
            qpn: 0x100_0000,
            ..dest()
        };
        assert!(matches!(
            c.send_pingpong(&bad),
            Err(ExchangeError::InvalidLocal { .. })
        ));
        let bad = Endpoint {
            mtu: 9,
            ..endpoint()
        };
        assert!(matches!(
            c.send_endpoint(&bad),
            Err(ExchangeError::InvalidLocal { .. })
        ));
    }

    #[test]
    fn generic_helpers_and_zero_timeout() {
        let listener = loopback_listener();
        let port = listener.local_port();
        let mut c = OobStream::connect("127.0.0.1", port, T).unwrap();
        let mut s = listener.accept(T).unwrap();
        c.send_bytes(b"hello world").unwrap();
        let mut buf = [0u8; 11];
        s.recv_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello world");
        s.recv_exact(&mut []).unwrap();
        s.set_timeout(Duration::ZERO);
        assert_eq!(s.timeout(), Duration::ZERO);
        assert!(matches!(
            s.recv_exact(&mut buf),
            Err(ExchangeError::Timeout { .. })
        ));
        assert!(s.peer_addr().unwrap().ip().is_loopback());
        assert!(matches!(
            OobStream::connect("127.0.0.1", port, Duration::ZERO),
            Err(ExchangeError::Connect { .. })
        ));
        // A huge timeout means no deadline rather than an overflow.
        s.set_timeout(Duration::MAX);
        c.send_bytes(b"x").unwrap();
        s.recv_exact(&mut buf[..1]).unwrap();
    }

    #[test]
    fn error_messages_are_readable() {
        let e = ExchangeError::Timeout {
            step: STEP_DONE_RECV,
            timeout: Duration::from_millis(200),
            received: 0,
        };
        assert_eq!(
            e.to_string(),
            "timed out after 200ms during receive \"done\" (5 bytes) (0 bytes received)"
        );
        let e = ParseError::NotHex {
            field: "lid",
            pos: 2,
            found: 0x07,
        };
        assert_eq!(e.to_string(), "lid: byte 2 is 0x07, not a hex digit");
        let e = ParseError::MissingNul {
            pos: 51,
            found: b'x',
        };
        assert_eq!(
            e.to_string(),
            "expected the NUL terminator after gid at byte 51, found 'x'"
        );
    }
}

//! Errors of the exchange: a malformed message ([`ParseError`]) and a failed
//! exchange ([`ExchangeError`]).

use std::io;
use std::time::Duration;

use super::{ENDPOINT_MAGIC, MAX_24_BIT};

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
    /// An `RDMA-EP/1` message is longer than [`ENDPOINT_MAX_LEN`](super::ENDPOINT_MAX_LEN).
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
pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        let mut out: String = s.chars().take(MAX).collect();
        out.push_str("...");
        out
    } else {
        s.to_string()
    }
}

pub(super) fn check_24(field: &'static str, value: u32) -> Result<(), ParseError> {
    if value > MAX_24_BIT {
        return Err(ParseError::OutOfRange {
            field,
            value: format!("{value:#x}"),
            max: u64::from(MAX_24_BIT),
        });
    }
    Ok(())
}

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
    /// The peer sent something other than [`DONE_MSG`](super::DONE_MSG).
    #[error("expected \"done\\0\" from peer, got {got}")]
    UnexpectedDone {
        /// What arrived, escaped.
        got: String,
    },
}

/// Shorthand for results of this module.
pub type Result<T, E = ExchangeError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::STEP_DONE_RECV;

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

//! Why a handshake failed: [`ChannelError`] for an exchange, [`SeqError`] for a sequence
//! with the caller's QP work inside it.

use thiserror::Error;

use crate::perftest::transport::LinkError;
use crate::perftest::wire::WireError;

/// Why an out-of-band exchange failed.
#[derive(Debug, Error)]
pub enum ChannelError {
    /// The link failed: connecting, a deadline, the peer gone, a socket or CM error.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The peer's message is malformed.
    #[error("malformed message from the peer")]
    Wire(#[from] WireError),
    /// The peer's version is older than 5.70 (perftest's message).
    #[error(
        "Current implementation is not compatible with versions older than 5.70 (remote: {0})"
    )]
    Incompatible(String),
}

/// A failure of a sequence: the channel's, or the caller's QP work.
#[derive(Debug, Error)]
pub enum SeqError<E> {
    /// The exchange failed.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The caller's step (e.g. connecting the QPs) failed.
    #[error("QP setup failed")]
    Qp(#[source] E),
}

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
    /// The peer's keys show another QP count (`-q`) than this side's: perftest compares no
    /// options, but it repeats its first QP's keys in every sync exchange.
    #[error("{0}")]
    QpCount(QpCountMismatch),
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

/// How the peer's QP count differs from this side's `-q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QpCountMismatch {
    /// The peer's keys repeated its first QP after `theirs` QPs: it runs with `-q theirs`.
    Fewer {
        /// This side's `-q`.
        ours: usize,
        /// The peer's QP count.
        theirs: usize,
    },
    /// A keys exchange named another QP (`got`) where the peer's QP `expected` was due:
    /// it has more QPs.
    More {
        /// This side's `-q`.
        ours: usize,
        /// The QP number the peer sent.
        got: u32,
        /// The QP number that was due.
        expected: u32,
    },
}

impl std::fmt::Display for QpCountMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            QpCountMismatch::Fewer { ours, theirs } => write!(
                f,
                "the peer runs with -q {theirs} (its keys repeat its first QP after {theirs}), this side with -q {ours}: run both sides with the same -q"
            ),
            QpCountMismatch::More {
                ours,
                got,
                expected,
            } => write!(
                f,
                "the peer runs with more QPs than this side's -q {ours} (its keys named QP {got:#x} where its QP {expected:#x} was due): run both sides with the same -q"
            ),
        }
    }
}

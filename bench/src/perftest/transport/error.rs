//! Why the out-of-band link failed: [`LinkError`].

use std::io::ErrorKind;
use std::time::Duration;

use thiserror::Error;

/// Why connecting, sending or receiving on the out-of-band link failed.
#[derive(Debug, Error)]
pub enum LinkError {
    /// The client could not connect (perftest's message).
    #[error("Couldn't connect to {host}:{port}")]
    Connect {
        /// Host as given.
        host: String,
        /// Port.
        port: u16,
        /// The last connection error, if any address was tried.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The server could not bind or listen (perftest's message).
    #[error("Couldn't listen to port {port}")]
    Listen {
        /// Port.
        port: u16,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No client connected in time, or `accept` failed.
    #[error("accept() failed")]
    Accept(#[source] std::io::Error),
    /// The peer did not answer within the deadline.
    #[error("timed out after {timeout:?} waiting for the peer's {what}")]
    Timeout {
        /// The message being exchanged.
        what: &'static str,
        /// The deadline.
        timeout: Duration,
    },
    /// The peer closed (or reset) the connection.
    #[error("the peer closed the connection during the {what} exchange")]
    Closed {
        /// The message being exchanged.
        what: &'static str,
    },
    /// Another socket error.
    #[error("socket error during the {what} exchange")]
    Io {
        /// The message being exchanged.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Setting up or using the rdma_cm connection failed (`-R`; the CM error names the
    /// peer and what happened).
    #[error("rdma_cm out-of-band connection failed")]
    Cm(#[from] rdma_verbs::Error),
    /// The rdma_cm out-of-band QP failed during an exchange.
    #[error("the rdma_cm out-of-band QP failed during the {what} exchange: {detail}")]
    CmQp {
        /// The message being exchanged.
        what: &'static str,
        /// What went wrong.
        detail: String,
    },
}

impl LinkError {
    /// A socket error during the `what` exchange: [`Closed`](LinkError::Closed) when the
    /// peer went away, [`Io`](LinkError::Io) otherwise.
    pub(super) fn io(what: &'static str, e: std::io::Error) -> LinkError {
        match e.kind() {
            ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe => LinkError::Closed { what },
            _ => LinkError::Io { what, source: e },
        }
    }
}

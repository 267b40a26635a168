//! The out-of-band link to the peer: one TCP connection, or with `-R` an RC QP connected
//! with rdma_cm ([`cm`]), over which perftest's fixed-size messages go, each
//! bounded by a deadline. What the messages are and in which order they go is the
//! [handshake](super::handshake)'s business; the link only moves bytes.
//!
//! # Exchanges
//!
//! Every exchange `X(n)` is symmetric: the client writes its `n` bytes then reads the
//! server's `n`; the server reads then writes. Each message goes out in one `write` (one
//! SEND over rdma_cm). Reads are exact and have a deadline: a peer that disappears ends
//! the exchange with [`LinkError::Closed`] (connection closed or reset) or
//! [`LinkError::Timeout`], never a hang.

pub mod cm;
mod error;
mod tcp;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use cm::CmLink;
pub use error::LinkError;
use tcp::TcpLink;

/// perftest's default TCP port (`-p`).
pub const DEFAULT_PORT: u16 = 18515;

/// Default deadline of one exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Connects; writes first in every exchange.
    Client,
    /// Listens and accepts once; reads first in every exchange.
    Server,
}

/// What carries the bytes.
#[derive(Debug)]
enum Carrier {
    /// perftest's default: one TCP connection.
    Tcp(TcpLink),
    /// `-R`: an RC QP connected with rdma_cm.
    Cm(Box<CmLink>),
}

/// One connection to the peer (TCP, or rdma_cm with `-R`), in a [`Role`], with the
/// deadline of one exchange.
#[derive(Debug)]
pub struct Link {
    carrier: Carrier,
    role: Role,
    timeout: Duration,
}

impl Link {
    /// Client: connects once to `host:port` (each resolved address in turn, each within
    /// `timeout`), like perftest but with a deadline.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Link, LinkError> {
        let tcp = TcpLink::connect(host, port, timeout)?;
        Ok(Link::new(Carrier::Tcp(tcp), Role::Client, timeout))
    }

    /// Server: binds `0.0.0.0:port` (with `SO_REUSEADDR`, like perftest), accepts one
    /// connection (waiting at most `accept_timeout`, forever if `None`), closes the
    /// listener. `timeout` is the deadline of each later exchange.
    pub fn accept(
        port: u16,
        accept_timeout: Option<Duration>,
        timeout: Duration,
    ) -> Result<Link, LinkError> {
        let listener = Self::listen(port)?;
        Self::accept_on(&listener, accept_timeout, timeout)
    }

    /// Server, first half: binds and listens on `0.0.0.0:port` (port 0: any free
    /// port, see [`TcpListener::local_addr`]).
    pub fn listen(port: u16) -> Result<TcpListener, LinkError> {
        TcpLink::listen(port)
    }

    /// Server, second half: accepts one connection on `listener`.
    pub fn accept_on(
        listener: &TcpListener,
        accept_timeout: Option<Duration>,
        timeout: Duration,
    ) -> Result<Link, LinkError> {
        let tcp = TcpLink::accept_on(listener, accept_timeout)?;
        Ok(Link::new(Carrier::Tcp(tcp), Role::Server, timeout))
    }

    /// Wraps a connected stream.
    pub fn from_stream(stream: TcpStream, role: Role, timeout: Duration) -> Link {
        Link::new(Carrier::Tcp(TcpLink::new(stream)), role, timeout)
    }

    /// Client with `-R`: connects the out-of-band QP with rdma_cm to `host:port`
    /// ([`CmLink::connect`]).
    pub fn connect_cm(host: &str, port: u16, timeout: Duration) -> Result<Link, LinkError> {
        let cm = CmLink::connect(host, port, timeout)?;
        Ok(Link::new(Carrier::Cm(Box::new(cm)), Role::Client, timeout))
    }

    /// Server with `-R`: accepts the out-of-band QP's rdma_cm connection on `port`
    /// ([`CmLink::accept`]; forever if `accept_timeout` is `None`).
    pub fn accept_cm(
        port: u16,
        accept_timeout: Option<Duration>,
        timeout: Duration,
    ) -> Result<Link, LinkError> {
        let cm = CmLink::accept(port, accept_timeout, timeout)?;
        Ok(Link::new(Carrier::Cm(Box::new(cm)), Role::Server, timeout))
    }

    fn new(carrier: Carrier, role: Role, timeout: Duration) -> Link {
        Link {
            carrier,
            role,
            timeout,
        }
    }

    /// True when the link is rdma_cm's (`-R`).
    pub fn is_cm(&self) -> bool {
        matches!(self.carrier, Carrier::Cm(_))
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The deadline of one exchange.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the deadline of one exchange.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.carrier {
            Carrier::Tcp(tcp) => tcp.peer_addr(),
            Carrier::Cm(cm) => cm.peer_addr().ok_or_else(|| {
                std::io::Error::new(ErrorKind::NotConnected, "the rdma_cm id has no peer")
            }),
        }
    }

    /// `X(n)` with `n = mine.len()`: sends `mine`, returns the peer's `n` bytes.
    /// `what` names the message in errors.
    pub fn exchange(&mut self, what: &'static str, mine: &[u8]) -> Result<Vec<u8>, LinkError> {
        let timeout = self.timeout;
        self.exchange_within(what, mine, timeout)
    }

    /// [`exchange`](Self::exchange) with its own deadline (e.g. while the peer runs).
    pub fn exchange_within(
        &mut self,
        what: &'static str,
        mine: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, LinkError> {
        let mut theirs = vec![0u8; mine.len()];
        match self.role {
            Role::Client => {
                self.send(what, mine, timeout)?;
                self.recv(what, &mut theirs, timeout)?;
            }
            Role::Server => {
                self.recv(what, &mut theirs, timeout)?;
                self.send(what, mine, timeout)?;
            }
        }
        Ok(theirs)
    }

    /// Sends `msg` without waiting for the peer's (perftest's last message, `"done"`).
    pub fn send_only(&mut self, what: &'static str, msg: &[u8]) -> Result<(), LinkError> {
        let timeout = self.timeout;
        self.send(what, msg, timeout)
    }

    /// Closes the link after our last message. Over TCP: shuts our sending side down, then
    /// reads and drops the peer's last `peer_len` bytes for up to `linger`, so that closing
    /// does not reset the connection before they arrive (errors are ignored). Over rdma_cm:
    /// dropping the link disconnects it.
    pub fn close(mut self, what: &'static str, peer_len: usize, linger: Duration) {
        if let Carrier::Tcp(tcp) = &self.carrier {
            tcp.shutdown_write();
            let mut sink = vec![0u8; peer_len];
            let _ = self.recv(what, &mut sink, self.timeout.min(linger));
        }
    }

    fn send(&mut self, what: &'static str, msg: &[u8], timeout: Duration) -> Result<(), LinkError> {
        match &mut self.carrier {
            Carrier::Tcp(tcp) => tcp.send(what, msg, timeout),
            Carrier::Cm(cm) => cm.send(what, msg, timeout),
        }
    }

    fn recv(
        &mut self,
        what: &'static str,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(), LinkError> {
        match &mut self.carrier {
            Carrier::Tcp(tcp) => tcp.recv_exact(what, buf, timeout),
            Carrier::Cm(cm) => {
                // One message per exchange; perftest copies `n` bytes out of its buffer.
                let msg = cm.recv(what, timeout)?;
                if msg.len() < buf.len() {
                    return Err(LinkError::CmQp {
                        what,
                        detail: format!("{} bytes received, {} expected", msg.len(), buf.len()),
                    });
                }
                buf.copy_from_slice(&msg[..buf.len()]);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;

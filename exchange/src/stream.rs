//! The TCP transport: [`OobListener`] (server side) and [`OobStream`] (a connected
//! stream with a per-step timeout).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{
    Endpoint, ExchangeError, ParseError, PingpongDest, Result, DONE_MSG, ENDPOINT_MAX_LEN,
    PINGPONG_MSG_LEN,
};

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

pub(super) const STEP_PP_SEND: &str = "send pingpong address (52 bytes)";
pub(super) const STEP_PP_RECV: &str = "receive pingpong address (52 bytes)";
pub(super) const STEP_DONE_SEND: &str = "send \"done\" (5 bytes)";
pub(super) const STEP_DONE_RECV: &str = "receive \"done\" (5 bytes)";
pub(super) const STEP_EP_SEND: &str = "send endpoint line";
pub(super) const STEP_EP_RECV: &str = "receive endpoint line (up to 256 bytes)";
pub(super) const STEP_SEND: &str = "send message";
pub(super) const STEP_RECV: &str = "receive message";

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

#[cfg(test)]
mod tests;

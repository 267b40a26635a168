//! The out-of-band link over TCP (perftest's default): one connection, each message one
//! `write`, each read exact and bounded by a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::error::LinkError;

/// One connected TCP stream.
#[derive(Debug)]
pub struct TcpLink {
    stream: TcpStream,
}

impl TcpLink {
    /// Client: connects once to `host:port` (each resolved address in turn, each within
    /// `timeout`).
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpLink, LinkError> {
        let fail = |source| LinkError::Connect {
            host: host.to_string(),
            port,
            source,
        };
        let addrs = (host, port).to_socket_addrs().map_err(|e| fail(Some(e)))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => return Ok(TcpLink::new(stream)),
                Err(e) => last = Some(e),
            }
        }
        Err(fail(last))
    }

    /// Server, first half: binds and listens on `0.0.0.0:port` (with `SO_REUSEADDR`, like
    /// perftest; port 0: any free port, see [`TcpListener::local_addr`]).
    pub fn listen(port: u16) -> Result<TcpListener, LinkError> {
        TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
            .map_err(|source| LinkError::Listen { port, source })
    }

    /// Server, second half: accepts one connection on `listener`, waiting at most
    /// `accept_timeout` (forever if `None`).
    pub fn accept_on(
        listener: &TcpListener,
        accept_timeout: Option<Duration>,
    ) -> Result<TcpLink, LinkError> {
        if let Some(t) = accept_timeout {
            wait_readable(listener, t)?;
        }
        let (stream, _) = listener.accept().map_err(LinkError::Accept)?;
        Ok(TcpLink::new(stream))
    }

    /// Wraps a connected stream.
    pub fn new(stream: TcpStream) -> TcpLink {
        // Small request/response messages: do not let Nagle delay them. The bytes on
        // the wire are the same.
        let _ = stream.set_nodelay(true);
        TcpLink { stream }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Writes `msg` in one `write` (`write_all` only loops on a short write), within
    /// `timeout`.
    pub fn send(
        &mut self,
        what: &'static str,
        msg: &[u8],
        timeout: Duration,
    ) -> Result<(), LinkError> {
        self.stream
            .set_write_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| LinkError::io(what, e))?;
        self.stream.write_all(msg).map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => LinkError::Timeout { what, timeout },
            _ => LinkError::io(what, e),
        })
    }

    /// Reads exactly `buf.len()` bytes within `timeout`.
    pub fn recv_exact(
        &mut self,
        what: &'static str,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(), LinkError> {
        let deadline = Instant::now() + timeout;
        let mut got = 0;
        while got < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LinkError::Timeout { what, timeout });
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| LinkError::io(what, e))?;
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => return Err(LinkError::Closed { what }),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(LinkError::io(what, e)),
            }
        }
        Ok(())
    }

    /// Shuts the sending side down: the peer reads end of file after our last message.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Waits until `listener` has a connection to accept, at most `t`.
fn wait_readable(listener: &TcpListener, t: Duration) -> Result<(), LinkError> {
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = Instant::now() + t;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `pfd` is a valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r > 0 {
            return Ok(());
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(LinkError::Accept(e));
        }
        if left.is_zero() {
            return Err(LinkError::Accept(std::io::Error::new(
                ErrorKind::TimedOut,
                format!("no client connected within {t:?}"),
            )));
        }
    }
}

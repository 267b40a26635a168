//! A blocking perftest out-of-band [`Channel`] over TCP, and the handshake
//! sequences of each test.
//!
//! # Exchanges
//!
//! Every exchange `X(n)` is symmetric: the client writes its `n` bytes then reads the
//! server's `n`; the server reads then writes. Each message goes out in one `write`.
//! Reads are exact and have a deadline: a peer that disappears ends the exchange
//! with [`ChannelError::Closed`] (connection closed or reset) or
//! [`ChannelError::Timeout`], never a hang.
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
//! The `K`s are symmetric and both sides send the same local keys each time, so the
//! only ordering that matters is where each side does its QP work: *connect* (to
//! RTR/RTS) between the first `K` and the `K` that follows it as "after RTR", and, in
//! the send tests, the server's receive posting before the `K` that starts a run.
//! [`setup`] takes the *connect* step as a closure; [`send_pre_run`] is the
//! `K` before each send run.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::cm_link::CmLink;
use super::test::{PerfTest, Verb};
use super::wire::{
    encode_mtu, parse_mtu, BwReportMsg, KeyMsg, SysData, VersionMsg, WireError,
    BW_REPORT_FIELD_LEN, DONE_MSG, MTU_MSG_LEN, SYS_DATA_FIELD_LEN,
};
use rdma_verbs::Mtu;

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

/// Why an out-of-band operation failed.
#[derive(Debug, Error)]
pub enum ChannelError {
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
    /// The peer's message is malformed.
    #[error("malformed message from the peer")]
    Wire(#[from] WireError),
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

/// What a side announces before the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preamble {
    /// The version string ([`VersionMsg::ours`]).
    pub version: VersionMsg,
    /// Page and cache line size ([`SysData::local`]).
    pub sys: SysData,
    /// The port's active MTU (or `-m`).
    pub mtu: Mtu,
}

impl Preamble {
    /// Our version, this host's system data and `mtu`.
    pub fn local(mtu: Mtu) -> Preamble {
        Preamble {
            version: VersionMsg::ours(),
            sys: SysData::local(),
            mtu,
        }
    }
}

/// What both sides agreed on in the preamble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    /// The peer's version.
    pub remote_version: VersionMsg,
    /// The maximum of both sides' page and cache line sizes.
    pub sys: SysData,
    /// The minimum of both MTUs: the path MTU to use (and to print in the banner).
    pub mtu: Mtu,
}

/// The transport under a [`Channel`].
#[derive(Debug)]
enum Link {
    /// perftest's default: one TCP connection.
    Tcp(TcpStream),
    /// `-R`: an RC QP connected with rdma_cm ([`CmLink`]).
    Cm(Box<CmLink>),
}

/// One connection to the peer (TCP, or rdma_cm with `-R`), in a [`Role`].
#[derive(Debug)]
pub struct Channel {
    link: Link,
    role: Role,
    timeout: Duration,
    /// The GID index sent in the raw keys over rdma_cm (`-R`).
    gid_index: Option<u32>,
}

fn io_err(what: &'static str, e: std::io::Error) -> ChannelError {
    match e.kind() {
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => ChannelError::Closed { what },
        _ => ChannelError::Io { what, source: e },
    }
}

impl Channel {
    /// Client: connects once to `host:port` (each resolved address in turn, each
    /// within `timeout`), like perftest but with a deadline.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Channel, ChannelError> {
        let fail = |source| ChannelError::Connect {
            host: host.to_string(),
            port,
            source,
        };
        let addrs = (host, port).to_socket_addrs().map_err(|e| fail(Some(e)))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => return Ok(Self::from_stream(stream, Role::Client, timeout)),
                Err(e) => last = Some(e),
            }
        }
        Err(fail(last))
    }

    /// Server: binds `0.0.0.0:port` (with `SO_REUSEADDR`, like perftest), accepts one
    /// connection (waiting at most `accept_timeout`, forever if `None`), closes the
    /// listener. `timeout` is the deadline of each later exchange.
    pub fn accept(
        port: u16,
        accept_timeout: Option<Duration>,
        timeout: Duration,
    ) -> Result<Channel, ChannelError> {
        let listener = Self::listen(port)?;
        Self::accept_on(&listener, accept_timeout, timeout)
    }

    /// Server, first half: binds and listens on `0.0.0.0:port` (port 0: any free
    /// port, see [`TcpListener::local_addr`]).
    pub fn listen(port: u16) -> Result<TcpListener, ChannelError> {
        TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
            .map_err(|source| ChannelError::Listen { port, source })
    }

    /// Server, second half: accepts one connection on `listener`.
    pub fn accept_on(
        listener: &TcpListener,
        accept_timeout: Option<Duration>,
        timeout: Duration,
    ) -> Result<Channel, ChannelError> {
        if let Some(t) = accept_timeout {
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
                    break;
                }
                if r < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() == ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(ChannelError::Accept(e));
                }
                if left.is_zero() {
                    return Err(ChannelError::Accept(std::io::Error::new(
                        ErrorKind::TimedOut,
                        format!("no client connected within {t:?}"),
                    )));
                }
            }
        }
        let (stream, _) = listener.accept().map_err(ChannelError::Accept)?;
        Ok(Self::from_stream(stream, Role::Server, timeout))
    }

    /// Wraps a connected stream.
    pub fn from_stream(stream: TcpStream, role: Role, timeout: Duration) -> Channel {
        // Small request/response messages: do not let Nagle delay them. The bytes on
        // the wire are the same.
        let _ = stream.set_nodelay(true);
        Channel {
            link: Link::Tcp(stream),
            role,
            timeout,
            gid_index: None,
        }
    }

    /// Client with `-R`: connects the out-of-band QP with rdma_cm to `host:port`
    /// ([`CmLink::connect`]).
    pub fn connect_cm(host: &str, port: u16, timeout: Duration) -> Result<Channel, ChannelError> {
        let link = CmLink::connect(host, port, timeout)?;
        Ok(Channel {
            link: Link::Cm(Box::new(link)),
            role: Role::Client,
            timeout,
            gid_index: None,
        })
    }

    /// Server with `-R`: accepts the out-of-band QP's rdma_cm connection on `port`
    /// ([`CmLink::accept`]; forever if `accept_timeout` is `None`).
    pub fn accept_cm(
        port: u16,
        accept_timeout: Option<Duration>,
        timeout: Duration,
    ) -> Result<Channel, ChannelError> {
        let link = CmLink::accept(port, accept_timeout, timeout)?;
        Ok(Channel {
            link: Link::Cm(Box::new(link)),
            role: Role::Server,
            timeout,
            gid_index: None,
        })
    }

    /// Sets the GID index the raw keys carry over rdma_cm (`-R`; perftest's
    /// `my_dest->gid_index`, which the peer does not read).
    pub fn set_gid_index(&mut self, gid_index: Option<u32>) {
        self.gid_index = gid_index;
    }

    /// True when the exchange runs over rdma_cm (`-R`).
    pub fn is_cm(&self) -> bool {
        matches!(self.link, Link::Cm(_))
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
        match &self.link {
            Link::Tcp(stream) => stream.peer_addr(),
            Link::Cm(link) => link.peer_addr().ok_or_else(|| {
                std::io::Error::new(ErrorKind::NotConnected, "the rdma_cm id has no peer")
            }),
        }
    }

    fn write_msg(
        &mut self,
        what: &'static str,
        msg: &[u8],
        timeout: Duration,
    ) -> Result<(), ChannelError> {
        let stream = match &mut self.link {
            Link::Tcp(stream) => stream,
            Link::Cm(link) => return link.send(what, msg, timeout),
        };
        stream
            .set_write_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| io_err(what, e))?;
        // One write for the whole message; write_all only loops on a short write.
        stream.write_all(msg).map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => ChannelError::Timeout { what, timeout },
            _ => io_err(what, e),
        })
    }

    fn read_msg(
        &mut self,
        what: &'static str,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(), ChannelError> {
        let stream = match &mut self.link {
            Link::Tcp(stream) => stream,
            Link::Cm(link) => {
                // One message per exchange; perftest copies `n` bytes out of its buffer.
                let msg = link.recv(what, timeout)?;
                if msg.len() < buf.len() {
                    return Err(ChannelError::CmQp {
                        what,
                        detail: format!("{} bytes received, {} expected", msg.len(), buf.len()),
                    });
                }
                buf.copy_from_slice(&msg[..buf.len()]);
                return Ok(());
            }
        };
        let deadline = Instant::now() + timeout;
        let mut got = 0;
        while got < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ChannelError::Timeout { what, timeout });
            }
            stream
                .set_read_timeout(Some(left))
                .map_err(|e| io_err(what, e))?;
            match stream.read(&mut buf[got..]) {
                Ok(0) => return Err(ChannelError::Closed { what }),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(io_err(what, e)),
            }
        }
        Ok(())
    }

    /// `X(n)` with `n = mine.len()`: sends `mine`, returns the peer's `n` bytes.
    /// `what` names the message in errors.
    pub fn exchange(&mut self, what: &'static str, mine: &[u8]) -> Result<Vec<u8>, ChannelError> {
        let timeout = self.timeout;
        self.exchange_within(what, mine, timeout)
    }

    /// [`exchange`](Self::exchange) with its own deadline (e.g. while the peer runs).
    pub fn exchange_within(
        &mut self,
        what: &'static str,
        mine: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ChannelError> {
        let mut theirs = vec![0u8; mine.len()];
        match self.role {
            Role::Client => {
                self.write_msg(what, mine, timeout)?;
                self.read_msg(what, &mut theirs, timeout)?;
            }
            Role::Server => {
                self.read_msg(what, &mut theirs, timeout)?;
                self.write_msg(what, mine, timeout)?;
            }
        }
        Ok(theirs)
    }

    /// `exchange_versions` (16 bytes).
    pub fn exchange_version(&mut self, mine: &VersionMsg) -> Result<VersionMsg, ChannelError> {
        let theirs = self.exchange("version", &mine.encode())?;
        Ok(VersionMsg::parse(&theirs)?)
    }

    /// rdma-perf's own options exchange ([`peer`](super::peer)); only between two rdma-perf
    /// peers (both version messages carry the marker), right after the preamble.
    pub fn exchange_peer_params(
        &mut self,
        mine: &super::peer::PeerParams,
    ) -> Result<super::peer::PeerParams, ChannelError> {
        let theirs = self.exchange("rdma-perf options", &mine.encode()?)?;
        Ok(super::peer::PeerParams::parse(&theirs)?)
    }

    /// `check_sys_data`: two 4-byte exchanges; returns the peer's values (merge them
    /// with [`SysData::merge`]).
    pub fn exchange_sys_data(&mut self, mine: &SysData) -> Result<SysData, ChannelError> {
        let a = self.exchange("page size", &mine.encode_cycle_buffer())?;
        let cycle_buffer = SysData::parse_field("cycle_buffer", &a)?;
        let b = self.exchange("cache line size", &mine.encode_cache_line_size())?;
        let cache_line_size = SysData::parse_field("cache_line_size", &b)?;
        debug_assert_eq!(a.len() + b.len(), 2 * SYS_DATA_FIELD_LEN);
        Ok(SysData {
            cycle_buffer,
            cache_line_size,
        })
    }

    /// `check_mtu`: one 2-byte exchange; returns the peer's MTU.
    pub fn exchange_mtu(&mut self, mine: Mtu) -> Result<Mtu, ChannelError> {
        let theirs = self.exchange("mtu", &encode_mtu(mine))?;
        debug_assert_eq!(theirs.len(), MTU_MSG_LEN);
        Ok(parse_mtu(&theirs)?)
    }

    /// Everything before the keys: version, compatibility check (remote >= 5.70, so
    /// every later version gate is open), system data, MTU.
    pub fn preamble(&mut self, local: &Preamble) -> Result<Agreed, ChannelError> {
        let remote_version = self.exchange_version(&local.version)?;
        if !remote_version.is_compatible() {
            return Err(ChannelError::Incompatible(
                remote_version.as_str().to_string(),
            ));
        }
        let sys = local.sys.merge(&self.exchange_sys_data(&local.sys)?);
        let mtu = local.mtu.min(self.exchange_mtu(local.mtu)?);
        Ok(Agreed {
            remote_version,
            sys,
            mtu,
        })
    }

    /// `ctx_hand_shake`: one keys exchange. The peer's message must have the form of
    /// ours (with a GID or without), as perftest reads the form it writes.
    pub fn exchange_keys(&mut self, mine: &KeyMsg) -> Result<KeyMsg, ChannelError> {
        let timeout = self.timeout;
        self.exchange_keys_within(mine, timeout)
    }

    /// [`exchange_keys`](Self::exchange_keys) with its own deadline, for the
    /// handshakes that wait for the peer's run.
    pub fn exchange_keys_within(
        &mut self,
        mine: &KeyMsg,
        timeout: Duration,
    ) -> Result<KeyMsg, ChannelError> {
        if self.is_cm() {
            let theirs = self.exchange_within("keys", &mine.encode_raw(self.gid_index), timeout)?;
            return Ok(KeyMsg::parse_raw(&theirs, mine.gid.is_some())?);
        }
        let theirs = self.exchange_within("keys", &mine.encode()?, timeout)?;
        Ok(KeyMsg::parse_form(&theirs, mine.gid.is_some())?)
    }

    /// `xchg_bw_reports`: five 8-byte exchanges; returns the peer's report.
    pub fn exchange_bw_report(&mut self, mine: &BwReportMsg) -> Result<BwReportMsg, ChannelError> {
        const NAMES: [&str; 5] = [
            "report size",
            "report iterations",
            "report peak",
            "report average",
            "report message rate",
        ];
        let mut theirs = [[0u8; BW_REPORT_FIELD_LEN]; 5];
        for (i, field) in mine.fields().iter().enumerate() {
            let got = self.exchange(NAMES[i], field)?;
            theirs[i].copy_from_slice(&got);
        }
        Ok(BwReportMsg::from_fields(&theirs))
    }

    /// `ctx_close_connection`: a keys exchange, then `"done\0"` written without
    /// waiting for the peer's; then the connection is closed (the peer's `"done"` is
    /// drained for up to a second first, so that closing does not reset it).
    ///
    /// Over rdma_cm (`-R`) only the keys exchange: the connection is then dropped, which
    /// disconnects it.
    pub fn close_connection(mut self, mine: &KeyMsg) -> Result<(), ChannelError> {
        self.exchange_keys(mine)?;
        if self.is_cm() {
            return Ok(());
        }
        let timeout = self.timeout;
        self.write_msg("done", DONE_MSG, timeout)?;
        if let Link::Tcp(stream) = &self.link {
            let _ = stream.shutdown(Shutdown::Write);
        }
        let mut sink = [0u8; DONE_MSG.len()];
        let _ = self.read_msg("done", &mut sink, timeout.min(Duration::from_secs(1)));
        Ok(())
    }
}

/// The keys exchanges from after the [preamble](Channel::preamble) up to the run,
/// for `test` (the read tests follow the write tests' sequences), with `mine` = one
/// [`KeyMsg`] per QP. `connect` is called once with the peer's keys (one per QP) at the
/// point where perftest connects its QPs (to RTR and, for a sender, RTS); the exchange
/// that follows it is perftest's "after RTR" handshake. Returns the peer's keys.
///
/// For the send tests, also call [`send_pre_run`] before each run (after the server
/// has posted its receives).
pub fn setup<E>(
    chan: &mut Channel,
    test: PerfTest,
    mine: &[KeyMsg],
    connect: impl FnOnce(&[KeyMsg]) -> Result<(), E>,
) -> Result<Vec<KeyMsg>, SeqError<E>> {
    let first = mine.first().ok_or_else(|| {
        ChannelError::from(WireError::Field {
            msg: "keys",
            field: "qps",
            problem: "no QP to exchange".to_string(),
        })
    })?;
    let mut remote = Vec::with_capacity(mine.len());
    match test.verb() {
        Verb::Write | Verb::Read => {
            // 6.06 write tests: K×n, then K×n (perftest prints the remote keys
            // here), connect, then the "after RTR" K.
            if !test.is_bw() {
                chan.exchange_keys(first)?;
            } else {
                for m in mine {
                    chan.exchange_keys(m)?;
                }
            }
            for m in mine {
                remote.push(chan.exchange_keys(m)?);
            }
            connect(&remote).map_err(SeqError::Qp)?;
            if !test.is_bw() {
                // 6.06 ib_write_lat exchanges the keys once more per QP after
                // connecting (captured with strace: four 108-byte K with one QP).
                for m in mine {
                    chan.exchange_keys(m)?;
                }
            }
            chan.exchange_keys(first)?;
        }
        Verb::Send => {
            // Send tests: K×n, connect, the "after RTR" K, then K×n (printed).
            for m in mine {
                remote.push(chan.exchange_keys(m)?);
            }
            connect(&remote).map_err(SeqError::Qp)?;
            chan.exchange_keys(first)?;
            for (i, m) in mine.iter().enumerate() {
                remote[i] = chan.exchange_keys(m)?;
            }
        }
    }
    Ok(remote)
}

/// Send tests: the keys exchange before each run (each message size with `-a`).
/// The server must have posted its receives before calling it: the client starts
/// sending as soon as it returns.
pub fn send_pre_run(chan: &mut Channel, mine: &KeyMsg) -> Result<(), ChannelError> {
    chan.exchange_keys(mine).map(|_| ())
}

/// `ib_send_bw -a`: the keys exchange after each size (`run_wait`: the deadline,
/// which must cover the peer's run).
pub fn send_bw_post_size(
    chan: &mut Channel,
    mine: &KeyMsg,
    run_wait: Duration,
) -> Result<(), ChannelError> {
    chan.exchange_keys_within(mine, run_wait).map(|_| ())
}

/// Unidirectional `ib_write_bw`, client, after its run(s): the keys exchange, the
/// BW report of the last size (the server prints it), the closing handshake. The
/// server's report is garbage in perftest 6.06 and is not returned.
pub fn write_bw_client_finish(
    mut chan: Channel,
    mine: &KeyMsg,
    report: &BwReportMsg,
) -> Result<(), ChannelError> {
    chan.exchange_keys(mine)?;
    chan.exchange_bw_report(report)?;
    chan.close_connection(mine)
}

/// Unidirectional `ib_write_bw`, server: waits (up to `run_wait`) for the client
/// to finish its run(s), takes its BW report (sending zeros for ours), closes.
/// Returns the client's report, which the server prints as its result row.
pub fn write_bw_server_finish(
    mut chan: Channel,
    mine: &KeyMsg,
    run_wait: Duration,
) -> Result<BwReportMsg, ChannelError> {
    chan.exchange_keys_within(mine, run_wait)?;
    let zeros = BwReportMsg {
        size: 0,
        iters: 0,
        bw_peak: 0.0,
        bw_avg: 0.0,
        msg_rate: 0.0,
    };
    let theirs = chan.exchange_bw_report(&zeros)?;
    chan.close_connection(mine)?;
    Ok(theirs)
}

/// Send tests, after the last run (`run_wait`: the deadline, which must cover the
/// peer's run): the closing handshake (`K D`).
pub fn send_finish(
    mut chan: Channel,
    mine: &KeyMsg,
    run_wait: Duration,
) -> Result<(), ChannelError> {
    chan.set_timeout(run_wait);
    chan.close_connection(mine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn key(qpn: u32) -> KeyMsg {
        KeyMsg {
            lid: 0,
            out_reads: 1,
            qpn,
            psn: 0x1234,
            rkey: 0x55,
            vaddr: 0x7f00_0000_1000,
            gid: Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1]),
            srqn: 0,
        }
    }

    fn pair() -> (Channel, Channel) {
        let l = Channel::listen(0).unwrap();
        let port = l.local_addr().unwrap().port();
        let c = thread::spawn(move || {
            Channel::connect("127.0.0.1", port, Duration::from_secs(5)).unwrap()
        });
        let s =
            Channel::accept_on(&l, Some(Duration::from_secs(5)), Duration::from_secs(5)).unwrap();
        (c.join().unwrap(), s)
    }

    #[test]
    fn write_bw_full_sequence_between_two_channels() {
        let (mut c, mut s) = pair();
        let srv = thread::spawn(move || {
            let agreed = s.preamble(&Preamble::local(Mtu::Mtu4096)).unwrap();
            assert_eq!(agreed.mtu, Mtu::Mtu1024);
            let mut seen = None;
            let remote = setup(&mut s, PerfTest::WriteBw, &[key(0x12)], |r| {
                seen = Some(r[0].qpn);
                Ok::<(), ()>(())
            })
            .unwrap();
            assert_eq!(seen, Some(0x11));
            assert_eq!(remote[0].qpn, 0x11);
            write_bw_server_finish(s, &key(0x12), Duration::from_secs(5)).unwrap()
        });
        let agreed = c.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap();
        assert_eq!(agreed.remote_version.as_str(), "6.06");
        let remote = setup(
            &mut c,
            PerfTest::WriteBw,
            &[key(0x11)],
            |_| Ok::<(), ()>(()),
        )
        .unwrap();
        assert_eq!(remote[0].qpn, 0x12);
        let rep = BwReportMsg {
            size: 65536,
            iters: 200,
            bw_peak: 34.45,
            bw_avg: 33.24,
            msg_rate: 0.000532,
        };
        write_bw_client_finish(c, &key(0x11), &rep).unwrap();
        assert_eq!(srv.join().unwrap(), rep);
    }

    #[test]
    fn write_lat_setup_is_four_key_exchanges_with_one_qp() {
        // What 6.06 ib_write_lat does with one QP (strace): four 108-byte exchanges.
        let (mut c, mut s) = pair();
        let srv = thread::spawn(move || {
            s.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap();
            for _ in 0..4 {
                s.exchange_keys(&key(0x14)).unwrap();
            }
            s.set_timeout(Duration::from_millis(300));
            // Nothing more before the run.
            assert!(s.exchange_keys(&key(0x14)).is_err());
        });
        c.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap();
        let remote = setup(&mut c, PerfTest::WriteLat, &[key(0x13)], |_| {
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(remote[0].qpn, 0x14);
        srv.join().unwrap();
    }

    #[test]
    fn vanished_peer_is_an_error_not_a_hang() {
        let (mut c, s) = pair();
        drop(s);
        let start = Instant::now();
        let err = c.exchange_keys(&key(1)).unwrap_err();
        assert!(
            matches!(err, ChannelError::Closed { .. }),
            "unexpected error: {err}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn silent_peer_times_out() {
        let (mut c, _s) = pair();
        c.set_timeout(Duration::from_millis(200));
        let start = Instant::now();
        let err = c.exchange_keys(&key(1)).unwrap_err();
        assert!(
            matches!(err, ChannelError::Timeout { what: "keys", .. }),
            "{err}"
        );
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn connect_error_names_host_and_port() {
        let l = Channel::listen(0).unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let err = Channel::connect("127.0.0.1", port, Duration::from_secs(2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Couldn't connect to 127.0.0.1:{port}")
        );
    }

    #[test]
    fn accept_times_out() {
        let l = Channel::listen(0).unwrap();
        let err =
            Channel::accept_on(&l, Some(Duration::from_millis(100)), DEFAULT_TIMEOUT).unwrap_err();
        assert!(matches!(err, ChannelError::Accept(_)));
    }

    #[test]
    fn incompatible_version_is_refused() {
        let (mut c, mut s) = pair();
        let srv = thread::spawn(move || {
            s.exchange("version", &VersionMsg::new("5.60").unwrap().encode())
        });
        let err = c.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap_err();
        assert!(matches!(err, ChannelError::Incompatible(ref v) if v == "5.60"));
        srv.join().unwrap().unwrap();
    }

    #[test]
    fn key_form_mismatch_is_an_error() {
        let (mut c, mut s) = pair();
        let srv = thread::spawn(move || {
            let short = KeyMsg {
                gid: None,
                ..key(2)
            };
            // The server sends 59 bytes but reads 108: it will time out or see EOF.
            s.set_timeout(Duration::from_millis(300));
            let _ = s.exchange("keys", &short.encode().unwrap());
        });
        c.set_timeout(Duration::from_millis(300));
        assert!(c.exchange_keys(&key(1)).is_err());
        srv.join().unwrap();
    }
}

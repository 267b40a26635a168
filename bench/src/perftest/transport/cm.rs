//! The out-of-band link over rdma_cm (what `-R` implies in perftest 6.06: `Data ex. method :
//! rdma_cm`): one RC QP connected with rdma_cm on the `-p` port, each message one SEND into
//! the peer's single posted receive.
//!
//! perftest's side (`create_comm_struct`, `rdma_client_connect`, `rdma_server_connect`,
//! `rdma_write_data`, `rdma_read_data`): a QP with one send and one receive, one receive
//! posted before connecting (and again after each message is read), connection parameters
//! with no RDMA reads, 7 retries, 7 RNR retries and no private data. The server accepts the
//! first request and destroys its listening id, so the port is free again for the test QPs.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use rdma_verbs::cm::{CmId, ConnParam, ConnectRequest, ConnectedId, Connection, Listener};
use rdma_verbs::{
    Access, CompletionQueue, MemoryRegion, ProtectionDomain, QpCaps, QueuePair, RecvWr, SendWr,
    WorkCompletion,
};

use super::error::LinkError;

/// The largest message either side sends (perftest's receive is `sizeof(struct
/// pingpong_dest)` = 56 bytes; rdma-perf's own options message is longer).
const RECV_LEN: usize = 4096;

/// perftest's address and route resolution timeout (2000 ms).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_millis(2000);

/// The connection parameters of perftest's out-of-band QP (and of the test QPs of the write
/// and send tests): no RDMA reads, 7 retries, 7 RNR retries, no private data.
pub fn plain_param() -> ConnParam {
    ConnParam {
        private_data: Vec::new(),
        responder_resources: 0,
        initiator_depth: 0,
        flow_control: false,
        retry_count: 7,
        rnr_retry_count: 7,
    }
}

/// The IPv4 address of `host:port` (perftest resolves with `AF_INET` only).
pub fn resolve_v4(host: &str, port: u16) -> Result<SocketAddr, LinkError> {
    let fail = |source| LinkError::Connect {
        host: host.to_string(),
        port,
        source,
    };
    let addrs = (host, port).to_socket_addrs().map_err(|e| fail(Some(e)))?;
    let mut addrs: Vec<SocketAddr> = addrs.collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs.into_iter().next().ok_or_else(|| fail(None))
}

/// Waits for one connect request on `listener`: at most `timeout`, or forever when `None`
/// (like perftest's server, which waits for its client without a deadline).
pub fn wait_request(
    listener: &mut Listener,
    timeout: Option<Duration>,
) -> Result<ConnectRequest, rdma_verbs::Error> {
    const SLICE: Duration = Duration::from_secs(3600);
    loop {
        match listener.get_request(timeout.unwrap_or(SLICE)) {
            Err(e) if timeout.is_none() && is_timeout(&e) => continue,
            r => return r,
        }
    }
}

fn is_timeout(e: &rdma_verbs::Error) -> bool {
    matches!(e, rdma_verbs::Error::Cm(c) if matches!(c.kind, rdma_verbs::cm::CmErrorKind::Timeout { .. }))
}

/// The out-of-band QP and what it needs. Fields drop in order: the QP before its id (which
/// disconnects), then the CQs and buffers.
pub struct CmLink {
    qp: QueuePair,
    id: ConnectedId,
    send_cq: CompletionQueue,
    recv_cq: CompletionQueue,
    /// The send buffer while no send is posted.
    send_buf: Option<MemoryRegion>,
    _pd: ProtectionDomain,
}

impl std::fmt::Debug for CmLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmLink")
            .field("qpn", &self.qp.qpn())
            .field("peer", &self.id.peer_addr())
            .finish()
    }
}

/// PD, CQs, buffers and a QP in INIT with one receive posted, on `ctx`.
struct Parts {
    rest: Rest,
    qp: QueuePair,
}

/// What a [`CmLink`] holds besides its connection.
struct Rest {
    pd: ProtectionDomain,
    send_cq: CompletionQueue,
    recv_cq: CompletionQueue,
    send_buf: MemoryRegion,
}

impl Rest {
    /// The link of `conn`, the connection made of this QP's parts.
    fn link(self, conn: Connection) -> CmLink {
        let (qp, id) = conn.into_parts();
        CmLink {
            qp,
            id,
            send_cq: self.send_cq,
            recv_cq: self.recv_cq,
            send_buf: Some(self.send_buf),
            _pd: self.pd,
        }
    }
}

fn parts(ctx: &rdma_verbs::Context) -> Result<Parts, rdma_verbs::Error> {
    let pd = ProtectionDomain::new(ctx)?;
    let send_cq = CompletionQueue::new(ctx, 2)?;
    let recv_cq = CompletionQueue::new(ctx, 2)?;
    let qp = QueuePair::builder(&pd, &send_cq, &recv_cq)
        .caps(QpCaps {
            max_send_wr: 1,
            max_recv_wr: 1,
            ..QpCaps::default()
        })
        .build()?;
    let send_buf = MemoryRegion::new(&pd, RECV_LEN, Access::LOCAL_WRITE)?;
    Ok(Parts {
        rest: Rest {
            pd,
            send_cq,
            recv_cq,
            send_buf,
        },
        qp,
    })
}

fn post_first_recv(p: &mut Parts) -> Result<(), rdma_verbs::Error> {
    let buf = MemoryRegion::new(&p.rest.pd, RECV_LEN, Access::LOCAL_WRITE)?;
    p.qp.post_recv(RecvWr::recv(buf)).map_err(|e| e.error)
}

impl CmLink {
    /// Client: resolves `host:port`, connects one QP (perftest's `rdma_client_connect`;
    /// perftest does not retry it either), waiting at most `timeout` for the answer.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<CmLink, LinkError> {
        let dst = resolve_v4(host, port)?;
        let mut id = CmId::new()?;
        id.resolve_addr(None, dst, RESOLVE_TIMEOUT)?;
        id.resolve_route(RESOLVE_TIMEOUT)?;
        let ctx = id.context()?;
        let mut p = parts(&ctx)?;
        id.init_qp(&mut p.qp)?;
        post_first_recv(&mut p)?;
        let conn = id.connect(p.qp, &plain_param(), timeout)?;
        Ok(p.rest.link(conn))
    }

    /// Server: listens on `0.0.0.0:port`, accepts the first request (waiting at most
    /// `accept_timeout`, forever if `None`), then closes the listener (perftest's
    /// `rdma_server_connect`). `timeout` bounds the accept's handshake.
    pub fn accept(
        port: u16,
        accept_timeout: Option<Duration>,
        timeout: Duration,
    ) -> Result<CmLink, LinkError> {
        let mut listener = Listener::bind(SocketAddr::from(([0, 0, 0, 0], port)), 1)?;
        let req = wait_request(&mut listener, accept_timeout)?;
        drop(listener);
        let ctx = req.context()?;
        let mut p = parts(&ctx)?;
        req.init_qp(&mut p.qp)?;
        post_first_recv(&mut p)?;
        let conn = req.accept(p.qp, &plain_param(), timeout)?;
        Ok(p.rest.link(conn))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.id.peer_addr()
    }

    /// Sends `msg` as one SEND and waits (at most `timeout`) for its completion.
    pub fn send(
        &mut self,
        what: &'static str,
        msg: &[u8],
        timeout: Duration,
    ) -> Result<(), LinkError> {
        let mut buf = self
            .send_buf
            .take()
            .ok_or_else(|| qp_err(what, "a send is already outstanding"))?;
        if msg.len() > buf.len() || !buf.write_at(0, msg) {
            self.send_buf = Some(buf);
            return Err(qp_err(
                what,
                format!("{} bytes is more than one message holds", msg.len()),
            ));
        }
        if let Err(e) = self.qp.post_send(SendWr::send(buf).range(0, msg.len())) {
            self.send_buf = e.returned.into_iter().next();
            return Err(LinkError::Cm(e.error));
        }
        let wc = poll_one(&self.send_cq, what, timeout)?;
        let c = self.qp.complete(&wc)?;
        self.send_buf = c.buf;
        if !wc.is_ok() {
            return Err(completion_err(what, &wc));
        }
        Ok(())
    }

    /// Waits (at most `timeout`) for the peer's next message, reposts the receive and
    /// returns the message.
    pub fn recv(&mut self, what: &'static str, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        let wc = poll_one(&self.recv_cq, what, timeout)?;
        let c = self.qp.complete(&wc)?;
        if !wc.is_ok() {
            return Err(completion_err(what, &wc));
        }
        let buf = c
            .buf
            .ok_or_else(|| qp_err(what, "the receive buffer was not handed back"))?;
        let len = (c.byte_len as usize).min(buf.len());
        let mut msg = vec![0u8; len];
        if !buf.read_at(0, &mut msg) {
            return Err(qp_err(what, "the receive buffer cannot be read"));
        }
        self.qp
            .post_recv(RecvWr::recv(buf))
            .map_err(|e| LinkError::Cm(e.error))?;
        Ok(msg)
    }
}

fn qp_err(what: &'static str, detail: impl Into<String>) -> LinkError {
    LinkError::CmQp {
        what,
        detail: detail.into(),
    }
}

fn completion_err(what: &'static str, wc: &WorkCompletion) -> LinkError {
    // A flushed or retried-out completion is the peer going away.
    match wc.status() {
        rdma_verbs::WcStatus::WrFlush
        | rdma_verbs::WcStatus::RetryExceeded
        | rdma_verbs::WcStatus::RnrRetryExceeded => LinkError::Closed { what },
        s => qp_err(what, format!("completion status {}", s.as_str())),
    }
}

/// Polls `cq` for one completion until `timeout`: spins briefly, then sleeps between polls
/// (the peer may be running its test for a long time).
fn poll_one(
    cq: &CompletionQueue,
    what: &'static str,
    timeout: Duration,
) -> Result<WorkCompletion, LinkError> {
    let deadline = Instant::now() + timeout;
    let mut wcs = [WorkCompletion::default(); 1];
    let mut empty = 0u32;
    loop {
        if let Some(wc) = cq.poll(&mut wcs)?.first() {
            return Ok(*wc);
        }
        if Instant::now() >= deadline {
            return Err(LinkError::Timeout { what, timeout });
        }
        empty = empty.saturating_add(1);
        if empty > 10_000 {
            std::thread::sleep(Duration::from_micros(200));
        } else {
            std::hint::spin_loop();
        }
    }
}

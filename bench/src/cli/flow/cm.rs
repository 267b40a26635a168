//! `-R`: the test QPs connected with rdma_cm, as perftest 6.06's `create_rdma_cm_connection`
//! does it (after the preamble, before the keys):
//!
//! 1. one keys exchange of zeroed keys (perftest's `my_dest[0]` is not filled in yet);
//! 2. the server listens on `0.0.0.0:<-p port>` (the out-of-band connection's listener is
//!    gone by then) with a backlog of `-q`, accepts `-q` requests, then closes the listener;
//!    the client connects `-q` ids to `<host>:<-p port>`, retrying while nobody listens yet
//!    (perftest: 10 tries, 100 ms apart; here until `--timeout`);
//! 3. one more keys exchange of zeroed keys.
//!
//! Connection parameters: no private data, 7 retries, 7 RNR retries; for the READ tests
//! `responder_resources` and `initiator_depth` are the outstanding reads (the server clamps
//! them to the client's offer), 0 otherwise. The server sets the QPs' RNR timer to 12 after
//! accepting, as perftest does. The QPs are the session's own (one PD and CQs on the `-d`
//! device, which the address must resolve to); the CM moves them to RTS.

use super::out::Res;
use crate::cli::params::Params;
use rdma_bench::perftest::handshake::Channel;
use rdma_bench::perftest::transport::cm::{plain_param, resolve_v4, RESOLVE_TIMEOUT};
use rdma_bench::perftest::wire::KeyMsg;
use rdma_verbs::cm::{CmErrorKind, CmId, ConnParam, ConnectedId, Listener};
use rdma_verbs::{QpAttr, QueuePair};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// perftest's delay between two connection attempts of the client.
const RETRY_DELAY: Duration = Duration::from_millis(100);

/// perftest's `MIN_RNR_TIMER`, set on the server's QPs after accepting.
const MIN_RNR_TIMER: u8 = 12;

/// The rdma_cm ids of the connected test QPs: dropping them disconnects the QPs, so they
/// live as long as the session (and drop after its QPs).
pub struct CmQps {
    _ids: Vec<ConnectedId>,
}

/// Connects `n` QPs made by `make_qp` with rdma_cm, inside the two zeroed keys exchanges.
/// `out_reads` is nonzero for the READ tests only; `with_gid` picks the keys' form.
pub fn connect_qps(
    chan: &mut Channel,
    p: &Params,
    n: usize,
    out_reads: u8,
    with_gid: bool,
    mut make_qp: impl FnMut() -> Res<QueuePair>,
) -> Res<(Vec<QueuePair>, CmQps)> {
    let zero = KeyMsg {
        lid: 0,
        out_reads: 0,
        qpn: 0,
        psn: 0,
        rkey: 0,
        vaddr: 0,
        gid: with_gid.then_some([0; 16]),
        srqn: 0,
    };
    chan.exchange_keys(&zero)?;
    let mut qps = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    match &p.host {
        Some(host) => {
            let dst = resolve_v4(host, p.port)?;
            let mut param = plain_param();
            param.responder_resources = out_reads;
            param.initiator_depth = out_reads;
            let deadline = Instant::now() + p.timeout;
            for _ in 0..n {
                let (qp, id) = connect_one(dst, &param, p.timeout, deadline, &mut make_qp)?;
                qps.push(qp);
                ids.push(id);
            }
        }
        None => {
            let backlog = u16::try_from(n).unwrap_or(u16::MAX);
            let mut listener = Listener::bind(SocketAddr::from(([0, 0, 0, 0], p.port)), backlog)?;
            for _ in 0..n {
                let req = listener.get_request(p.timeout)?;
                let offer = req.param();
                let mut param = plain_param();
                param.responder_resources = out_reads.min(offer.initiator_depth);
                param.initiator_depth = out_reads.min(offer.responder_resources);
                let qp = make_qp()?;
                let (mut qp, id) = req.accept(qp, &param, p.timeout)?.into_parts();
                qp.modify(&QpAttr::new().min_rnr_timer(MIN_RNR_TIMER))?;
                qps.push(qp);
                ids.push(id);
            }
        }
    }
    chan.exchange_keys(&zero)?;
    Ok((qps, CmQps { _ids: ids }))
}

/// The client's connection of one QP: resolve, route, connect; again after
/// [`RETRY_DELAY`] while the server does not listen yet, until `deadline`.
fn connect_one(
    dst: SocketAddr,
    param: &ConnParam,
    timeout: Duration,
    deadline: Instant,
    make_qp: &mut impl FnMut() -> Res<QueuePair>,
) -> Res<(QueuePair, ConnectedId)> {
    loop {
        let mut id = CmId::new()?;
        id.resolve_addr(None, dst, RESOLVE_TIMEOUT)?;
        id.resolve_route(RESOLVE_TIMEOUT)?;
        let qp = make_qp()?;
        match id.connect(qp, param, timeout) {
            Ok(conn) => return Ok(conn.into_parts()),
            Err(rdma_verbs::Error::Cm(e))
                if matches!(
                    e.kind,
                    CmErrorKind::Rejected { .. } | CmErrorKind::Unreachable { .. }
                ) && Instant::now() + RETRY_DELAY < deadline =>
            {
                std::thread::sleep(RETRY_DELAY);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

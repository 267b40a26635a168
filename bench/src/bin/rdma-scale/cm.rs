//! `--via cm`: one rdma_cm connection per QP, as `rdma-perf -R` makes them (no private
//! data, 7 retries, 7 RNR retries). The server listens on `0.0.0.0:port` with a backlog of
//! N and accepts N requests; the client resolves the address and the route and connects,
//! one QP after the other. Each id has an event channel (a descriptor) of its own.
//!
//! `connect` is the whole of it: resolving, connecting, accepting.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rdma_bench::perftest::transport::cm::{plain_param, resolve_v4, RESOLVE_TIMEOUT};
use rdma_verbs::cm::{CmErrorKind, CmId, Listener};

use crate::{Device, Doing, Failure, Held, Made};

/// Delay between two connection attempts while the server does not listen yet.
const RETRY_DELAY: Duration = Duration::from_millis(100);

/// The server: accepts `made.len()` connections on `port`.
pub(crate) fn serve(
    made: Vec<Made>,
    port: u16,
    timeout: Duration,
) -> Result<(Held, Option<f64>, f64), Failure> {
    let n = made.len();
    let backlog = u16::try_from(n).unwrap_or(u16::MAX);
    let mut listener = Listener::bind(SocketAddr::from(([0, 0, 0, 0], port)), backlog)
        .doing(format!("listening with rdma_cm on port {port}"))?;
    eprintln!("rdma-scale: listening with rdma_cm on port {port} for {n} QPs");
    let mut held = Vec::with_capacity(n);
    let mut t = None;
    for (i, m) in made.into_iter().enumerate() {
        let req = listener
            .get_request(timeout)
            .doing(format!("waiting for connect request {i} of {n}"))?;
        // The clock starts with the first request: before it, the client was not there yet.
        t.get_or_insert_with(Instant::now);
        let (qp, cq) = m.into_parts();
        let conn = req
            .accept(qp, &plain_param(), timeout)
            .doing(format!("accepting connection {i}"))?;
        held.push((conn, cq));
    }
    let connect_s = t.map_or(0.0, |t| t.elapsed().as_secs_f64());
    Ok((Box::new((held, listener)), None, connect_s))
}

/// The client: connects `made.len()` ids to `host:port`.
pub(crate) fn connect(
    dev: &Device,
    made: Vec<Made>,
    depth: u32,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(Held, Option<f64>, f64), Failure> {
    let n = made.len();
    let dst = resolve_v4(host, port).doing("resolving the server's address")?;
    let deadline = Instant::now() + timeout;
    let t = Instant::now();
    let mut held = Vec::with_capacity(n);
    for (i, m) in made.into_iter().enumerate() {
        let (first, cq) = m.into_parts();
        let mut qp = Some(first);
        let conn = loop {
            // A failed connect destroys its QP: a retry gets a new one.
            let qp = match qp.take() {
                Some(qp) => qp,
                None => crate::new_qp(dev, &cq, depth).doing(format!("creating QP {i} again"))?,
            };
            let mut id = CmId::new().doing(format!("creating rdma_cm id {i}"))?;
            id.resolve_addr(None, dst, RESOLVE_TIMEOUT)
                .doing(format!("resolving {dst} for QP {i}"))?;
            id.resolve_route(RESOLVE_TIMEOUT)
                .doing(format!("resolving the route to {dst} for QP {i}"))?;
            match id.connect(qp, &plain_param(), timeout) {
                Ok(conn) => break conn,
                Err(rdma_verbs::Error::Cm(e))
                    if matches!(
                        e.kind,
                        CmErrorKind::Rejected { .. } | CmErrorKind::Unreachable { .. }
                    ) && Instant::now() + RETRY_DELAY < deadline =>
                {
                    std::thread::sleep(RETRY_DELAY);
                }
                Err(e) => return Err(Failure(format!("connecting QP {i} of {n} to {dst}: {e}"))),
            }
        };
        held.push((conn, cq));
    }
    Ok((Box::new(held), None, t.elapsed().as_secs_f64()))
}

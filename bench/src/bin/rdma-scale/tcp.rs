//! `--via tcp`: every QP's `RDMA-EP/1` endpoint over one TCP connection, in the order of
//! `ibv_rc_pingpong` (the client sends all of its endpoints, the server connects every QP
//! and answers with its own, the client connects its QPs and says done).
//!
//! Times: `exchange` is the TCP part (for the client it includes the server's connecting,
//! which happens before the server answers); `connect` is this side's RTR/RTS `modify` calls.

use std::time::{Duration, Instant};

use rdma_exchange::{Endpoint, OobListener, OobStream};
use rdma_verbs::{Access, CompletionQueue, ConnectOptions, Mtu, QueuePair, RemoteQp};

use crate::{Device, Doing, Failure, Held, Made};

/// A PSN per QP that differs between runs.
fn psn(i: usize) -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (t ^ std::process::id()).wrapping_add(i as u32 * 0x9e37) & 0xff_ffff
}

fn endpoint(dev: &Device, qp: &QueuePair, psn: u32) -> Endpoint {
    Endpoint {
        lid: dev.lid,
        qpn: qp.qpn(),
        psn,
        gid: dev.gid,
        mtu: dev.mtu.to_raw() as u8,
        remote_buffer: None,
    }
}

/// Moves QP `i` to RTS towards `peer`.
fn rts(
    dev: &Device,
    qp: QueuePair,
    psn: u32,
    peer: &Endpoint,
    i: usize,
) -> Result<QueuePair, Failure> {
    let peer_mtu = Mtu::from_raw(u32::from(peer.mtu)).ok_or_else(|| {
        Failure(format!(
            "the peer sent an invalid MTU {} for QP {i}",
            peer.mtu
        ))
    })?;
    let opts = ConnectOptions {
        port: dev.port,
        gid_index: dev.gid_index,
        mtu: dev.mtu.min(peer_mtu),
        psn,
        access: Access::NONE,
        ..ConnectOptions::default()
    };
    let remote = RemoteQp {
        qpn: peer.qpn,
        psn: peer.psn,
        lid: peer.lid,
        gid: (!peer.gid.is_zero()).then_some(peer.gid),
    };
    qp.connect(&remote, &opts)
        .doing(format!("connecting QP {i}"))
}

/// Connects every QP in `made` to the endpoints in `peers`; returns them and the seconds.
fn rts_all(
    dev: &Device,
    made: Vec<Made>,
    psns: &[u32],
    peers: &[Endpoint],
) -> Result<(Vec<(QueuePair, CompletionQueue)>, f64), Failure> {
    let t = Instant::now();
    let mut held = Vec::with_capacity(made.len());
    for (i, (m, peer)) in made.into_iter().zip(peers).enumerate() {
        let (qp, cq) = m.into_parts();
        held.push((rts(dev, qp, psns[i], peer, i)?, cq));
    }
    Ok((held, t.elapsed().as_secs_f64()))
}

/// The server: listens on `port`, takes one client.
pub(crate) fn serve(
    dev: &Device,
    made: Vec<Made>,
    port: u16,
    timeout: Duration,
) -> Result<(Held, Option<f64>, f64), Failure> {
    let n = made.len();
    let psns: Vec<u32> = (0..n).map(psn).collect();
    let listener = OobListener::bind(port).doing(format!("listening on TCP port {port}"))?;
    eprintln!("rdma-scale: listening on TCP port {port} for {n} QPs");
    let mut stream = listener.accept(timeout).doing("waiting for the client")?;
    let t = Instant::now();
    let mut peers = Vec::with_capacity(n);
    for i in 0..n {
        peers.push(stream.recv_endpoint().doing(format!(
            "reading the client's endpoint {i} (do both sides use the same --qps?)"
        ))?);
    }
    let mut exchange = t.elapsed().as_secs_f64();
    let (held, connect_s) = rts_all(dev, made, &psns, &peers)?;
    let t = Instant::now();
    for ((qp, _), &psn) in held.iter().zip(&psns) {
        stream
            .send_endpoint(&endpoint(dev, qp, psn))
            .doing("sending our endpoints")?;
    }
    stream.recv_done().doing("waiting for the client's done")?;
    exchange += t.elapsed().as_secs_f64();
    Ok((Box::new(held), Some(exchange), connect_s))
}

/// The client: connects to `host:port`.
pub(crate) fn connect(
    dev: &Device,
    made: Vec<Made>,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(Held, Option<f64>, f64), Failure> {
    let n = made.len();
    let psns: Vec<u32> = (0..n).map(psn).collect();
    let mut stream = OobStream::connect(host, port, timeout)
        .doing(format!("connecting to {host} TCP port {port}"))?;
    let t = Instant::now();
    for (m, &psn) in made.iter().zip(&psns) {
        stream
            .send_endpoint(&endpoint(dev, &m.qp, psn))
            .doing("sending our endpoints")?;
    }
    let mut peers = Vec::with_capacity(n);
    for i in 0..n {
        peers.push(stream.recv_endpoint().doing(format!(
            "reading the server's endpoint {i} (do both sides use the same --qps?)"
        ))?);
    }
    let exchange = t.elapsed().as_secs_f64();
    let (held, connect_s) = rts_all(dev, made, &psns, &peers)?;
    stream.send_done().doing("sending done")?;
    Ok((Box::new(held), Some(exchange), connect_s))
}

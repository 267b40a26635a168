//! `send_bw` and `send_lat` with `-c UD`: the same handshakes, rows and order as the RC SEND
//! tests of [`bw`](super::bw) and [`lat`](super::lat), over the session's [`UdQueuePair`]s:
//! QP `i` sends to its peer (the remote QP `i`) and receives into a sink of its own.
//!
//! [`UdQueuePair`]: rdma_verbs::ud::UdQueuePair

use super::additions::CpuWindow;
use super::bw::{print_row, recv_config, requester_row, run_wait, send_duplex_row, stats, windows};
use super::lat::{header, send_lat_config, LatPrint, LatRows};
use super::out::{out, Res};
use super::session::Session;
use crate::cli::params::Params;
use rdma_bench::perftest::handshake::{send_bw_post_size, send_finish, send_pre_run};
use rdma_bench::perftest::stats::BwResult;
use rdma_bench::perftest::transport::Role;
use rdma_bench::run::{
    ud_bw_receiver, ud_bw_requester, ud_post_receives, ud_send_lat, BwConfig, Clock, LatRole,
    Receiving, UdSend,
};
use rdma_verbs::{Access, MemoryRegion, Sink};
use std::sync::atomic::AtomicU64;

/// `send_bw -c UD`: sender, receiver, or both with `-b`.
pub fn send_bw(s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    match (s.role, p.bidirectional) {
        (_, true) => duplex(s, p, progress),
        (Role::Client, false) => client(s, p, progress),
        (Role::Server, false) => server(s, p, progress),
    }
}

/// What each QP sends: a shared source as large as the largest message, to its peer.
fn sends(s: &mut Session, p: &Params) -> Res<Vec<UdSend>> {
    let len = usize::try_from(p.max_size())?;
    let mut out = Vec::with_capacity(s.ud.len());
    for (qp, peer) in s.ud.iter_mut().zip(&s.ud_peers) {
        let peer = peer.ok_or("a sending UD QP has no peer")?;
        let src = qp.share(MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?);
        out.push(UdSend { peer, src });
    }
    Ok(out)
}

/// One sink per QP, as large as the largest message (the header has a slot of the QP's).
fn sinks(s: &mut Session, p: &Params) -> Res<Vec<Sink>> {
    let len = usize::try_from(p.max_size())?;
    let mut sinks = Vec::with_capacity(s.ud.len());
    for qp in &mut s.ud {
        sinks.push(qp.sink(MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?));
    }
    Ok(sinks)
}

/// Before each size: the receives posted into each QP's sink, then the keys exchange that
/// tells the peer it may send.
fn arm(s: &mut Session, sinks: &[Sink], p: &Params, size: u64) -> Res<()> {
    for (qp, &sink) in s.ud.iter_mut().zip(sinks) {
        ud_post_receives(qp, sink, size, p.receives_ahead())?;
    }
    send_pre_run(&mut s.chan, &s.mine[0])?;
    Ok(())
}

/// Runs one size of the requester loop and computes this side's row.
fn measure(
    s: &mut Session,
    sends: &[UdSend],
    recv: Option<Receiving<'_>>,
    p: &Params,
    size: u64,
    progress: &AtomicU64,
) -> Res<BwResult> {
    let cfg = BwConfig {
        span: p.span(),
        size,
        tx_depth: p.tx_depth,
        cq_mod: p.cq_mod,
        timeout: p.timeout,
        inline: size <= u64::from(p.inline_size),
        // Params refuses -l with UD.
        post_list: 1,
        events: p.x.events,
    };
    let clock = Clock::new();
    let mut smp = ud_bw_requester(&mut s.ud, sends, &s.send_cq, recv, &cfg, &clock, progress)?;
    Ok(requester_row(&mut smp, p, size)?)
}

/// The sender: before each size the receiver has posted its receives (a keys exchange
/// tells), after each (with `-a`) another exchange; it prints its own rows.
fn client(mut s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    let sends = sends(&mut s, p)?;
    let wait = run_wait(p);
    let mut rows = Vec::with_capacity(p.sizes.len());
    for &size in &p.sizes {
        send_pre_run(&mut s.chan, &s.mine[0])?;
        let row = windows(&mut s, p, |s| measure(s, &sends, None, p, size, progress))?;
        rows.push(row);
        if p.all {
            send_bw_post_size(&mut s.chan, &s.mine[0], wait)?;
        }
    }
    send_finish(s.chan, &s.mine[0], wait)?;
    Ok(rows)
}

/// The receiver: posts the receives, counts the datagrams and prints its own rows (no
/// peak, as perftest).
fn server(mut s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    let sinks = sinks(&mut s, p)?;
    let wait = run_wait(p);
    let mut rows = Vec::with_capacity(p.sizes.len());
    for &size in &p.sizes {
        arm(&mut s, &sinks, p, size)?;
        let cfg = recv_config(p, size);
        let clock = Clock::new();
        // With --run_infinitely the receives stay posted from one window to the next.
        let row = windows(&mut s, p, |s| {
            let r = ud_bw_receiver(&mut s.ud, &sinks, &s.recv_cq, &cfg, &clock, progress)?;
            Ok(stats(p, size, &[r.first], &[r.last], r.iters, true)?)
        })?;
        rows.push(row);
        if p.all {
            send_bw_post_size(&mut s.chan, &s.mine[0], wait)?;
        }
    }
    send_finish(s.chan, &s.mine[0], wait)?;
    Ok(rows)
}

/// `-b`: both sides post receives, line up, then send and receive at once (the server
/// starts sending when the client's first datagram arrives); both print the sum of the
/// exchanged reports (of iteration runs; a `-D` row counts both directions itself, and no
/// report is exchanged, as perftest 6.06 does).
fn duplex(mut s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    let sends = sends(&mut s, p)?;
    let sinks = sinks(&mut s, p)?;
    let wait = run_wait(p);
    let rx_depth = p.receives_ahead();
    let recv_cq = s.recv_cq.clone();
    let mut rows = Vec::with_capacity(p.sizes.len());
    for &size in &p.sizes {
        let window = CpuWindow::start(p)?;
        arm(&mut s, &sinks, p, size)?;
        let recv = Receiving {
            cq: &recv_cq,
            sinks: &sinks,
            rx_depth,
            wait_first: s.role == Role::Server,
        };
        let mine = measure(&mut s, &sends, Some(recv), p, size, progress)?;
        let row = send_duplex_row(&mut s, p, mine)?;
        print_row(&mut s.counters, p, &row, window.finish()?)?;
        rows.push(row);
        if p.all {
            send_bw_post_size(&mut s.chan, &s.mine[0], wait)?;
        }
    }
    send_finish(s.chan, &s.mine[0], wait)?;
    Ok(rows)
}

/// `send_lat -c UD`: the client sends first; before each size the receives are posted and
/// a keys exchange lines the sides up; a closing handshake at the end.
pub fn send_lat(mut s: Session, p: &Params, role: LatRole, pr: &mut LatPrint) -> Res<LatRows> {
    out(&header(p));
    let len = usize::try_from(p.max_size())?;
    let peer = s
        .ud_peers
        .first()
        .copied()
        .flatten()
        .ok_or("the UD QP has no peer")?;
    let qp = s.ud.first_mut().ok_or("no UD QP")?;
    let src = qp.share(MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?);
    let sink = qp.sink(MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?);
    let rx_depth = p.receives_ahead();
    let mut rows = LatRows::new(p);
    for &size in &p.sizes {
        ud_post_receives(&mut s.ud[0], sink, size, rx_depth)?;
        send_pre_run(&mut s.chan, &s.mine[0])?;
        let cfg = send_lat_config(p, size, role);
        let clock = Clock::new();
        let run = ud_send_lat(
            &mut s.ud[0],
            peer,
            &s.send_cq,
            &s.recv_cq,
            src,
            sink,
            &cfg,
            &clock,
        )?;
        rows.push(&run, p, size, 2, pr)?;
    }
    send_finish(s.chan, &s.mine[0], super::lat::run_wait(p))?;
    Ok(rows)
}

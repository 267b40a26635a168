//! The bandwidth loops of `send_bw -c UD`: perftest's `run_iter_bw` (and `run_iter_bi` with
//! `-b`) and `run_iter_bw_server` over [`UdQueuePair`]s, step for step as the RC loops of
//! [`bw_requester`](super::bw_requester) and [`bw_receiver`](super::bw_receiver), with each
//! SEND addressed to the QP's [`Peer`] and each receive taking its 40-byte header in the
//! QP's own slot. Separate functions, so the RC loops' code stays as it is.

use super::bw::{BwConfig, BwSamples, Receiving, MAX_INLINE};
use super::clock::Clock;
use super::error::{qp_index, RunError};
use super::recv::{RecvConfig, RecvSamples};
use super::span::{Phase, Phases, Span};
use super::stall::{Idle, Stall};
use rdma_verbs::ud::{Peer, UdQueuePair};
use rdma_verbs::{CompletionQueue, RecvWr, SendWr, Shared, Sink, WorkCompletion};
use std::sync::atomic::{AtomicU64, Ordering};

/// What every SEND of one UD QP is: the first `size` bytes of `src` to `peer`.
#[derive(Clone, Copy, Debug)]
pub struct UdSend {
    /// The destination: the peer's QP of the same index.
    pub peer: Peer,
    /// The bytes sent (the first `size`).
    pub src: Shared,
}

/// Posts `count` receives of `size` bytes into `sink` (the payload from its first byte;
/// the header goes to the QP's slot), wr_ids 0 to `count - 1`.
pub fn ud_post_receives(
    qp: &mut UdQueuePair,
    sink: Sink,
    size: u64,
    count: u64,
) -> Result<(), RunError> {
    for i in 0..count {
        qp.post_recv(RecvWr::recv_to_sink(sink).range(0, size as usize).wr_id(i))?;
    }
    Ok(())
}

/// The SEND of message `wr_id` of `op`, inline when `inline` holds its bytes.
#[inline(always)]
fn send_wr(
    op: UdSend,
    size: usize,
    inline: Option<&[u8]>,
    wr_id: u64,
    signaled: bool,
) -> SendWr<'_> {
    match inline {
        Some(data) => SendWr::send(data),
        None => SendWr::send(op.src).range(0, size),
    }
    .wr_id(wr_id)
    .signaled(signaled)
}

/// Runs the requester loop over UD `qps` (QP `i` sends `sends[i]`) and returns the
/// timestamps, as [`bw_requester`](super::bw_requester) does for connected QPs. With `recv`
/// it also receives the peer's SENDs into `recv.sinks` (`-b`); a duration run then counts
/// the messages received in the sample too, as perftest's `run_iter_bi` does.
pub fn ud_bw_requester(
    qps: &mut [UdQueuePair],
    sends: &[UdSend],
    cq: &CompletionQueue,
    recv: Option<Receiving<'_>>,
    cfg: &BwConfig,
    clock: &Clock,
    progress: &AtomicU64,
) -> Result<BwSamples, RunError> {
    let n = qps.len();
    if n == 0 || sends.len() != n || recv.is_some_and(|r| r.sinks.len() != n) {
        return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
            "{} UD QPs, {} sends and {} sinks",
            n,
            sends.len(),
            recv.map_or(n, |r| r.sinks.len())
        ))));
    }
    let (iters, mut phases) = match cfg.span {
        Span::Iters(i) => (i, None),
        Span::Duration { total, margin } => {
            (u64::MAX, Some(Phases::new(clock.now(), total, margin)))
        }
    };
    let total = if phases.is_some() {
        1
    } else {
        iters.saturating_mul(n as u64)
    };
    let mut s = BwSamples {
        posted: vec![0; total as usize],
        completed: vec![0; total as usize],
        iters: 0,
    };
    let qpns: Vec<u32> = qps.iter().map(UdQueuePair::qpn).collect();
    let mut scnt = vec![0u64; n];
    let mut ccnt = vec![0u64; n];
    let cq_mod = u64::from(cfg.cq_mod.max(1));
    let depth = u64::from(cfg.tx_depth.max(1));
    let size = cfg.size as usize;
    if cfg.inline && size > MAX_INLINE {
        return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
            "inline messages are at most {MAX_INLINE} bytes here, asked {size}"
        ))));
    }
    let inline_buf = [0u8; MAX_INLINE];
    let inline = cfg.inline.then(|| &inline_buf[..size]);
    let mut wcs = [WorkCompletion::default(); 16];
    let (mut totscnt, mut totccnt) = (0u64, 0u64);
    let mut stall = Stall::sleeping_on(cfg.timeout, cfg.events.then_some(cq));
    let mut posting = true;
    let mut flushed = vec![false; n];
    let mut cooling = false;
    let mut rcnt = vec![0u64; if recv.is_some() { n } else { 0 }];
    let mut totrcnt = if recv.is_some() { 0 } else { u64::MAX };
    let mut rwcs = [WorkCompletion::default(); 16];
    let mut waiting_first = recv.is_some_and(|r| r.wait_first);
    if let Some(ph) = &phases {
        s.posted[0] = ph.sample_start;
    }
    // In the sample of a duration run (perftest's SAMPLE_STATE).
    let mut in_sample = false;
    loop {
        if let Some(ph) = phases.as_mut() {
            let phase = ph.update(clock.now());
            in_sample = phase == Phase::Sample;
            match phase {
                Phase::End => posting = false,
                Phase::StopSample => cooling = true,
                _ => {}
            }
            if !posting && totscnt == totccnt {
                break;
            }
        } else if totccnt >= total && totrcnt >= total {
            break;
        }
        let mut received = false;
        if let Some(r) = recv {
            for wc in r.cq.poll(&mut rwcs)? {
                let i = qp_index(&qpns, wc)?;
                qps[i].complete(wc)?.result()?;
                rcnt[i] += 1;
                totrcnt += 1;
                if in_sample {
                    // perftest's run_iter_bi counts the messages received in the sample
                    // with those sent: a -D -b row is both directions, no report exchanged.
                    s.iters += 1;
                }
                if phases.is_some() || rcnt[i] + r.rx_depth <= iters {
                    qps[i].post_recv(
                        RecvWr::recv_to_sink(r.sinks[i])
                            .range(0, size)
                            .wr_id(rcnt[i]),
                    )?;
                }
                received = true;
                waiting_first = false;
            }
        }
        if posting && !waiting_first {
            for i in 0..n {
                while scnt[i] < iters && scnt[i] - ccnt[i] < depth {
                    let signaled =
                        cooling || scnt[i] % cq_mod == cq_mod - 1 || scnt[i] == iters - 1;
                    if phases.is_none() {
                        s.posted[totscnt as usize] = clock.now();
                    }
                    let op = sends[i];
                    qps[i].post_send(op.peer, send_wr(op, size, inline, scnt[i], signaled))?;
                    scnt[i] += 1;
                    totscnt += 1;
                }
            }
        }
        let got = cq.poll(&mut wcs)?;
        if got.is_empty() {
            if received {
                stall.progress();
                continue;
            }
            let idle = stall.idle()?;
            if idle == Idle::TimedOut {
                return Err(RunError::Timeout {
                    what: if recv.is_some() {
                        "waiting for completions of UD sends or of the peer's sends (a lost \
                         datagram is never resent)"
                    } else {
                        "waiting for UD send-queue completions"
                    },
                    iteration: totccnt,
                    after: cfg.timeout,
                });
            }
            if !posting && idle == Idle::Check {
                // Duration run over: one more signaled message per QP retires the
                // unsignaled ones behind the last signaled one.
                for i in 0..n {
                    if !flushed[i] && scnt[i] > ccnt[i] && scnt[i] - ccnt[i] < depth {
                        let op = sends[i];
                        qps[i].post_send(op.peer, send_wr(op, size, inline, scnt[i], true))?;
                        flushed[i] = true;
                        scnt[i] += 1;
                        totscnt += 1;
                    }
                }
            }
            continue;
        }
        let t = clock.now();
        let sampling = phases.as_mut().map(|p| p.update(t) == Phase::Sample);
        for wc in got {
            let i = qp_index(&qpns, wc)?;
            let c = qps[i].complete(wc)?;
            c.result()?;
            let done = c.wr_id + 1 - ccnt[i];
            ccnt[i] = c.wr_id + 1;
            totccnt += done;
            match sampling {
                None => s.completed[(totccnt - 1) as usize] = t,
                Some(true) => s.iters += done,
                Some(false) => {}
            }
        }
        progress.store(totccnt, Ordering::Relaxed);
        stall.progress();
    }
    match &phases {
        Some(ph) => {
            s.posted[0] = ph.sample_start;
            s.completed[0] = ph.sample_end;
        }
        None => s.iters = total,
    }
    Ok(s)
}

/// Receives `iters` datagrams on each UD QP (reposting into the QP's sink while more are
/// due) and returns the timing, as [`bw_receiver`](super::bw_receiver) does for connected
/// QPs. A datagram lost on the way never comes: the run then ends by its timeout.
pub fn ud_bw_receiver(
    qps: &mut [UdQueuePair],
    sinks: &[Sink],
    cq: &CompletionQueue,
    cfg: &RecvConfig,
    clock: &Clock,
    progress: &AtomicU64,
) -> Result<RecvSamples, RunError> {
    let n = qps.len();
    if n == 0 || sinks.len() != n {
        return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
            "{} UD QPs and {} sinks",
            n,
            sinks.len()
        ))));
    }
    let qpns: Vec<u32> = qps.iter().map(UdQueuePair::qpn).collect();
    let mut rcnt = vec![0u64; n];
    let iters = match cfg.span {
        Span::Iters(i) => i,
        Span::Duration { .. } => u64::MAX,
    };
    let total = iters.saturating_mul(n as u64);
    let mut wcs = [WorkCompletion::default(); 16];
    let mut out = RecvSamples::default();
    let mut phases: Option<Phases> = None;
    let mut tot = 0u64;
    let mut stall = Stall::sleeping_on(cfg.timeout, cfg.events.then_some(cq));
    while tot < total {
        let got = cq.poll(&mut wcs)?;
        if got.is_empty() {
            if let Some(ph) = phases.as_mut() {
                if ph.update(clock.now()) == Phase::End {
                    break;
                }
            }
            if stall.idle()? == Idle::TimedOut {
                return Err(RunError::Timeout {
                    what: "waiting for the peer's UD SENDs (a lost datagram is never resent)",
                    iteration: tot,
                    after: cfg.timeout,
                });
            }
            continue;
        }
        let t = clock.now();
        if tot == 0 {
            out.first = t;
            if let Span::Duration { total, margin } = cfg.span {
                phases = Some(Phases::new(t, total, margin));
            }
        }
        let sampling = phases.as_mut().map(|p| p.update(t));
        for wc in got {
            let i = qp_index(&qpns, wc)?;
            qps[i].complete(wc)?.result()?;
            rcnt[i] += 1;
            tot += 1;
            if sampling == Some(Phase::Sample) {
                out.iters += 1;
            }
            if phases.is_some() || rcnt[i] + cfg.rx_depth <= iters {
                qps[i].post_recv(
                    RecvWr::recv_to_sink(sinks[i])
                        .range(0, cfg.size as usize)
                        .wr_id(rcnt[i]),
                )?;
            }
        }
        if sampling == Some(Phase::End) {
            break;
        }
        progress.store(tot, Ordering::Relaxed);
        stall.progress();
    }
    match phases {
        Some(ph) => {
            out.first = ph.sample_start;
            out.last = ph.sample_end;
        }
        None => {
            out.last = clock.now();
            out.iters = total;
        }
    }
    Ok(out)
}

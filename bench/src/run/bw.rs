//! The requester side of a bandwidth run (perftest `run_iter_bw`): RDMA WRITEs, SENDs, RDMA
//! READs or atomics over one or more QPs that share a send CQ, one request per post or a
//! post list (`-l`) per doorbell.

use super::clock::Clock;
use super::error::{qp_index, RunError};
use super::span::{Phase, Phases, Span};
use super::stall::{Idle, Stall};
use crate::perftest::atomic::AtomicType;
use rdma_verbs::prepared::{Run, SendChain};
use rdma_verbs::{
    CompletionQueue, QueuePair, RecvWr, RemoteBuf, SendWr, Shared, Sink, WorkCompletion,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What every work request of one QP does.
#[derive(Clone, Copy, Debug)]
pub enum BwOp {
    /// RDMA WRITE of the shared source to `remote`.
    Write {
        /// The bytes written (the first `size`).
        src: Shared,
        /// The peer's buffer.
        remote: RemoteBuf,
    },
    /// SEND of the shared source (the peer must have receives posted).
    Send {
        /// The bytes sent (the first `size`).
        src: Shared,
    },
    /// RDMA READ of `remote` into the sink.
    Read {
        /// Where the bytes land (the first `size`).
        sink: Sink,
        /// The peer's buffer.
        remote: RemoteBuf,
    },
    /// An atomic on the first 8 bytes of `remote` ([`atomic_wr`]), the value before landing
    /// in the first 8 bytes of the sink.
    Atomic {
        /// Where the values before land.
        sink: Sink,
        /// The peer's buffer (8-byte aligned, registered for atomics).
        remote: RemoteBuf,
        /// Fetch-and-add or compare-and-swap.
        kind: AtomicType,
    },
}

/// perftest's atomic work request: fetch-and-add of 1 (`ATOMIC_ADD_VALUE`), or
/// compare-and-swap of 0 with 0 (`ATOMIC_SWAP_VALUE`, the compare value left 0), on the first
/// 8 bytes of `remote`, the value before landing in the first 8 bytes of `sink`.
#[inline(always)]
pub fn atomic_wr<'a>(sink: Sink, remote: RemoteBuf, kind: AtomicType) -> SendWr<'a> {
    match kind {
        AtomicType::FetchAndAdd => SendWr::fetch_add_to_sink(sink, remote, 1),
        AtomicType::CmpAndSwap => SendWr::compare_swap_to_sink(sink, remote, 0, 0),
    }
    .range(0, 8)
}

impl BwOp {
    /// The work request for `size` bytes; with `inline` (the first `size` bytes to send), a
    /// WRITE or SEND carries its data in the request instead of reading the shared source.
    #[inline(always)]
    fn wr(self, size: usize, inline: Option<&[u8]>) -> SendWr<'_> {
        match (self, inline) {
            (BwOp::Write { remote, .. }, Some(data)) => SendWr::write(data, remote),
            (BwOp::Send { .. }, Some(data)) => SendWr::send(data),
            (BwOp::Write { src, remote }, None) => SendWr::write(src, remote).range(0, size),
            (BwOp::Send { src }, None) => SendWr::send(src).range(0, size),
            (BwOp::Read { sink, remote }, _) => SendWr::read_to_sink(sink, remote).range(0, size),
            (BwOp::Atomic { sink, remote, kind }, _) => atomic_wr(sink, remote, kind),
        }
    }
}

/// Largest inline message the loops build (on the stack).
pub const MAX_INLINE: usize = 1024;

/// Parameters of a bandwidth run.
#[derive(Clone, Copy, Debug)]
pub struct BwConfig {
    /// How long it lasts.
    pub span: Span,
    /// Bytes per message.
    pub size: u64,
    /// Most messages outstanding per QP (perftest `-t`).
    pub tx_depth: u32,
    /// Every `cq_mod`-th message of a QP is signaled (perftest `-Q`), and the last one.
    pub cq_mod: u32,
    /// Give up when no completion arrives for this long.
    pub timeout: Duration,
    /// Send WRITEs and SENDs inline (perftest `-I` at least `size`; at most [`MAX_INLINE`]
    /// bytes, and the QP must allow it).
    pub inline: bool,
    /// Requests per post (perftest `-l`): a chain of this many, the last one signaled (so
    /// `cq_mod` is then unused); 1 posts one at a time. An iterations run must be a multiple
    /// of it, and the TX depth at least it.
    pub post_list: u32,
    /// Sleep on the send CQ's completion channel while idle (`-e`; the CQ must have one).
    pub events: bool,
}

/// Timestamps of a bandwidth run, in [`Clock`] nanoseconds, laid out as perftest's
/// `tposted`/`tcompleted` so that [`bandwidth`](crate::perftest::stats::bandwidth) reads them
/// the same way.
///
/// Iterations: `posted[k]` is the post time of the `k`-th message (all QPs, posting order);
/// `completed[k - 1]` is set when the completions seen add up to `k` messages (the signaled
/// ones; 0 elsewhere). Duration: `posted[0]`/`completed[0]` are the start and end of the
/// sample and `iters` the messages completed in it.
#[derive(Clone, Debug, Default)]
pub struct BwSamples {
    /// Post times.
    pub posted: Vec<u64>,
    /// Completion times.
    pub completed: Vec<u64>,
    /// Messages counted (iterations: all of them, over every QP).
    pub iters: u64,
}

/// The receiving half of a bidirectional SEND run (perftest `run_iter_bi`): the peer's SENDs
/// land in one sink per QP, and each receive is reposted while more are due. The receives must
/// have been posted ([`post_receives`](super::post_receives)) before the run.
#[derive(Clone, Copy, Debug)]
pub struct Receiving<'a> {
    /// Where the QPs' receive completions arrive (not the send CQ).
    pub cq: &'a CompletionQueue,
    /// `sinks[i]` belongs to QP `i`.
    pub sinks: &'a [Sink],
    /// Receives kept posted per QP.
    pub rx_depth: u64,
    /// Post nothing before the first message has arrived (perftest's server does this, so that
    /// it does not start before the client).
    pub wait_first: bool,
}

/// Runs the requester loop over `qps` (each with its `ops` entry) and returns the
/// timestamps. Send completions of every QP must arrive on `cq`; with `recv`, the loop also
/// receives the peer's SENDs (a bidirectional SEND run) and ends when both directions are
/// done. `progress` is set to the number of messages completed so far (relaxed stores, for a
/// progress display).
pub fn bw_requester(
    qps: &mut [QueuePair],
    ops: &[BwOp],
    cq: &CompletionQueue,
    recv: Option<Receiving<'_>>,
    cfg: &BwConfig,
    clock: &Clock,
    progress: &AtomicU64,
) -> Result<BwSamples, RunError> {
    let n = qps.len();
    if n == 0 || ops.len() != n || recv.is_some_and(|r| r.sinks.len() != n) {
        return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
            "{} QPs, {} operations and {} sinks",
            n,
            ops.len(),
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
    let qpns: Vec<u32> = qps.iter().map(QueuePair::qpn).collect();
    let mut scnt = vec![0u64; n];
    let mut ccnt = vec![0u64; n];
    let cq_mod = u64::from(cfg.cq_mod.max(1));
    let depth = u64::from(cfg.tx_depth.max(1));
    let list = u64::from(cfg.post_list.max(1));
    if list > depth || (phases.is_none() && iters % list != 0) {
        return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
            "a post list of {list}: the TX depth ({depth}) and the iterations ({iters}) must \
             hold whole lists"
        ))));
    }
    let size = cfg.size as usize;
    if cfg.inline && size > MAX_INLINE {
        return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
            "inline messages are at most {MAX_INLINE} bytes here, asked {size}"
        ))));
    }
    let inline_buf = [0u8; MAX_INLINE];
    let inline = cfg.inline.then(|| &inline_buf[..size]);
    // Every QP's requests are the same each time: a run per QP, and its send (and receive)
    // template checked once, before the clock starts. A post then only checks for room.
    let runs: Vec<Run<'_>> = qps.iter_mut().map(QueuePair::run).collect();
    let mut sends = runs
        .iter()
        .zip(ops)
        .map(|(run, op)| run.prepare(op.wr(size, inline)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut chains: Vec<SendChain<'_>> = if list > 1 {
        runs.iter()
            .zip(ops)
            .map(|(run, op)| run.prepare_chain(op.wr(size, inline), list as usize))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let mut recvs = match recv {
        Some(r) => runs
            .iter()
            .zip(r.sinks)
            .map(|(run, &sink)| run.prepare_recv(RecvWr::recv_to_sink(sink).range(0, size)))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let mut wcs = [WorkCompletion::default(); 16];
    let (mut totscnt, mut totccnt) = (0u64, 0u64);
    let mut stall = Stall::sleeping_on(cfg.timeout, cfg.events.then_some(cq));
    let mut posting = true;
    let mut flushed = vec![false; n];
    // In the cool-down of a duration run every message is signaled, so that nothing
    // unsignaled is left behind the last completion when posting stops.
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
                runs[i].complete(wc)?.result()?;
                rcnt[i] += 1;
                totrcnt += 1;
                if in_sample {
                    // perftest's run_iter_bi counts the messages received in the sample
                    // with those sent: a -D -b row is both directions, no report exchanged.
                    s.iters += 1;
                }
                if phases.is_some() || rcnt[i] + r.rx_depth <= iters {
                    recvs[i].post(rcnt[i])?;
                }
                received = true;
                waiting_first = false;
            }
        }
        if posting && !waiting_first && list > 1 {
            for i in 0..n {
                while scnt[i] < iters && scnt[i] - ccnt[i] + list <= depth {
                    if phases.is_none() {
                        s.posted[totscnt as usize] = clock.now();
                    }
                    chains[i].post(scnt[i], true)?;
                    scnt[i] += list;
                    totscnt += list;
                }
            }
        } else if posting && !waiting_first {
            for i in 0..n {
                while scnt[i] < iters && scnt[i] - ccnt[i] < depth {
                    let signaled =
                        cooling || scnt[i] % cq_mod == cq_mod - 1 || scnt[i] == iters - 1;
                    if phases.is_none() {
                        s.posted[totscnt as usize] = clock.now();
                    }
                    sends[i].post(scnt[i], signaled)?;
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
                        "waiting for completions of sends or of the peer's sends"
                    } else {
                        "waiting for send-queue completions"
                    },
                    iteration: totccnt,
                    after: cfg.timeout,
                });
            }
            if !posting && idle == Idle::Check && list == 1 {
                // Duration run over: unsignaled messages behind the last signaled one never
                // complete on their own; one more signaled message per QP retires them. (The
                // last request of every post list is signaled.)
                for i in 0..n {
                    if !flushed[i] && scnt[i] > ccnt[i] && scnt[i] - ccnt[i] < depth {
                        sends[i].post(scnt[i], true)?;
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
            let c = runs[i].complete(wc)?;
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

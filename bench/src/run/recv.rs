//! The receiving side of the SEND tests: receives posted into a [`Sink`] ahead of the run
//! (perftest `ctx_set_recv_wqes`) and the server loop of `ib_send_bw`
//! (perftest `run_iter_bw_server`).

use super::clock::Clock;
use super::error::{qp_index, RunError};
use super::span::{Phase, Phases, Span};
use super::stall::{Idle, Stall};
use rdma_verbs::{CompletionQueue, QueuePair, RecvWr, Sink, WorkCompletion};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Posts `count` receives of `size` bytes into `sink` (all at its start, as perftest does when
/// the size exceeds half its cycle buffer: the data is not looked at).
pub fn post_receives(
    qp: &mut QueuePair,
    sink: Sink,
    size: u64,
    count: u64,
) -> Result<(), RunError> {
    for i in 0..count {
        qp.post_recv(RecvWr::recv_to_sink(sink).range(0, size as usize).wr_id(i))?;
    }
    Ok(())
}

/// Parameters of the receiving loop.
#[derive(Clone, Copy, Debug)]
pub struct RecvConfig {
    /// How long it lasts (a duration run starts at the first message).
    pub span: Span,
    /// Bytes per message.
    pub size: u64,
    /// Receives kept posted per QP (already posted with [`post_receives`] before the run).
    pub rx_depth: u64,
    /// Give up when no message arrives for this long.
    pub timeout: Duration,
    /// Sleep on the CQ's completion channel while idle (`-e`; the CQ must have one).
    pub events: bool,
}

/// What the receiving loop measured, in [`Clock`] nanoseconds: perftest's `tposted[0]`
/// (first message, or start of the sample) and `tcompleted[0]` (last message, or end of the
/// sample), and the messages counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecvSamples {
    /// Start.
    pub first: u64,
    /// End.
    pub last: u64,
    /// Messages counted.
    pub iters: u64,
}

/// Receives `iters` messages on each QP (reposting into the QP's sink while more are due) and
/// returns the timing. `sinks[i]` belongs to `qps[i]`; receive completions of every QP must
/// arrive on `cq`.
pub fn bw_receiver(
    qps: &mut [QueuePair],
    sinks: &[Sink],
    cq: &CompletionQueue,
    cfg: &RecvConfig,
    clock: &Clock,
    progress: &AtomicU64,
) -> Result<RecvSamples, RunError> {
    let n = qps.len();
    if n == 0 || sinks.len() != n {
        return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
            "{} QPs and {} sinks",
            n,
            sinks.len()
        ))));
    }
    let qpns: Vec<u32> = qps.iter().map(QueuePair::qpn).collect();
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
                    what: "waiting for the peer's SENDs",
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
            let c = qps[i].complete(wc)?;
            c.result()?;
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

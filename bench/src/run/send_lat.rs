//! SEND latency, both sides (perftest `run_iter_lat_send`): the client sends first; each side
//! waits for the peer's message, reposts the receive while more are due, then sends its own
//! and waits for that send's completion.

use super::bw::MAX_INLINE;
use super::clock::Clock;
use super::error::RunError;
use super::span::{LatRun, LatSpan, Span};
use super::stall::wait_completion;
use super::write_lat::LatRole;
use rdma_verbs::{CompletionQueue, QueuePair, RecvWr, SendWr, Shared, Sink, WorkCompletion};
use std::time::Duration;

/// Parameters of a SEND latency run.
#[derive(Clone, Copy, Debug)]
pub struct SendLatConfig {
    /// Round trips, or a duration.
    pub span: Span,
    /// Bytes per message.
    pub size: u64,
    /// Receives posted ahead (with [`post_receives`](super::post_receives)) before the run.
    pub rx_depth: u64,
    /// Give up when nothing arrives for this long.
    pub timeout: Duration,
    /// This side's role: the client sends first.
    pub role: LatRole,
    /// Send inline (at most [`MAX_INLINE`](super::MAX_INLINE) bytes; the QP must allow it).
    pub inline: bool,
    /// Sleep on the CQs' completion channels while waiting (`-e`; the CQs must have one).
    pub events: bool,
}

/// Runs the SEND ping-pong and returns what it measured ([`LatRun`]: the post time of every
/// send, perftest's `tposted`, or the round trips of a duration run's sample). Sends go from `src`, receives land in `sink`; the
/// QP's send completions arrive on `send_cq` and its receive completions on `recv_cq`.
#[allow(clippy::too_many_arguments)]
pub fn send_lat(
    qp: &mut QueuePair,
    send_cq: &CompletionQueue,
    recv_cq: &CompletionQueue,
    src: Shared,
    sink: Sink,
    cfg: &SendLatConfig,
    clock: &Clock,
) -> Result<LatRun, RunError> {
    let size = cfg.size as usize;
    if cfg.inline && size > MAX_INLINE {
        return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
            "inline messages are at most {} bytes here, asked {size}",
            MAX_INLINE
        ))));
    }
    let inline_buf = [0u8; MAX_INLINE];
    let mut span = LatSpan::new(cfg.span, clock.now());
    let iters = span.iters();
    let mut wcs = [WorkCompletion::default(); 1];
    // The send and the receive, each checked once (before the clock matters) and posted
    // again and again.
    let run = qp.run();
    let mut send = run.prepare(if cfg.inline {
        SendWr::send(&inline_buf[..size])
    } else {
        SendWr::send(src).range(0, size)
    })?;
    let mut recv = run.prepare_recv(RecvWr::recv_to_sink(sink).range(0, size))?;
    let done = |wc: &WorkCompletion| run.complete(wc);
    let (mut scnt, mut rcnt) = (0u64, 0u64);
    while (scnt < iters || rcnt < iters) && !span.over() {
        if rcnt < iters && !(scnt < 1 && cfg.role == LatRole::Client) {
            let what = "waiting for the peer's SEND";
            let t = (cfg.timeout, cfg.events);
            if wait_completion(done, recv_cq, &mut wcs, what, rcnt, t, &mut span, clock)?.is_none()
            {
                break;
            }
            rcnt += 1;
            span.done(|| clock.now());
            if iters == u64::MAX || rcnt + cfg.rx_depth <= iters {
                recv.post(rcnt)?;
            }
        }
        if scnt < iters {
            span.posted(scnt, || clock.now());
            send.post(scnt, true)?;
            scnt += 1;
            let what = "waiting for a SEND completion";
            let t = (cfg.timeout, cfg.events);
            if wait_completion(done, send_cq, &mut wcs, what, scnt, t, &mut span, clock)?.is_none()
            {
                break;
            }
        }
    }
    Ok(span.finish())
}

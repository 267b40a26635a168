//! SEND latency, both sides (perftest `run_iter_lat_send`): the client sends first; each side
//! waits for the peer's message, reposts the receive while more are due, then sends its own
//! and waits for that send's completion.

use super::stall::{Idle, Stall};
use super::{Clock, LatRole, RunError};
use rdma::{CompletionQueue, Pinned, QueuePair, SendWr, Sink, WorkCompletion};
use std::time::Duration;

/// Parameters of a SEND latency run.
#[derive(Clone, Copy, Debug)]
pub struct SendLatConfig {
    /// Round trips.
    pub iters: u64,
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
}

/// Runs the SEND ping-pong and returns the post time of every send in [`Clock`]
/// nanoseconds (perftest's `tposted`). Sends go from `src`, receives land in `sink`; the
/// QP's send completions arrive on `send_cq` and its receive completions on `recv_cq`.
#[allow(clippy::too_many_arguments)]
pub fn send_lat(
    qp: &mut QueuePair,
    send_cq: &CompletionQueue,
    recv_cq: &CompletionQueue,
    src: Pinned,
    sink: Sink,
    cfg: &SendLatConfig,
    clock: &Clock,
) -> Result<Vec<u64>, RunError> {
    let size = cfg.size as usize;
    if cfg.inline && size > super::MAX_INLINE {
        return Err(RunError::Verb(rdma::Error::InvalidArgument(format!(
            "inline messages are at most {} bytes here, asked {size}",
            super::MAX_INLINE
        ))));
    }
    let inline_buf = [0u8; super::MAX_INLINE];
    let mut posted = vec![0u64; cfg.iters as usize];
    let mut wcs = [WorkCompletion::default(); 1];
    let (mut scnt, mut rcnt) = (0u64, 0u64);
    while scnt < cfg.iters || rcnt < cfg.iters {
        if rcnt < cfg.iters && !(scnt < 1 && cfg.role == LatRole::Client) {
            wait_one(
                qp,
                recv_cq,
                &mut wcs,
                "waiting for the peer's SEND",
                rcnt,
                cfg,
            )?;
            rcnt += 1;
            if rcnt + cfg.rx_depth <= cfg.iters {
                qp.post_recv_sink(sink, 0, size, rcnt)?;
            }
        }
        if scnt < cfg.iters {
            posted[scnt as usize] = clock.now();
            let wr = if cfg.inline {
                SendWr::send(&inline_buf[..size])
            } else {
                SendWr::send(src).range(0, size)
            };
            qp.post_send(wr.wr_id(scnt))?;
            scnt += 1;
            wait_one(
                qp,
                send_cq,
                &mut wcs,
                "waiting for a SEND completion",
                scnt,
                cfg,
            )?;
        }
    }
    Ok(posted)
}

/// Spins until one completion arrives on `cq`, hands it to the QP and checks its status.
#[inline]
fn wait_one(
    qp: &mut QueuePair,
    cq: &CompletionQueue,
    wcs: &mut [WorkCompletion; 1],
    what: &'static str,
    iteration: u64,
    cfg: &SendLatConfig,
) -> Result<(), RunError> {
    let mut stall = Stall::new(cfg.timeout);
    loop {
        if let Some(wc) = cq.poll(wcs)?.first() {
            qp.complete(wc)?.result()?;
            return Ok(());
        }
        if stall.idle() == Idle::TimedOut {
            return Err(RunError::Timeout {
                what,
                iteration,
                after: cfg.timeout,
            });
        }
    }
}

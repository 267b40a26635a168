//! SEND latency over UD, both sides (perftest `run_iter_lat_send` with `-c UD`): as
//! [`send_lat`](fn@super::send_lat), with each SEND addressed to the peer and each receive
//! taking its 40-byte header in the QP's own slot.

use super::bw::MAX_INLINE;
use super::clock::Clock;
use super::error::RunError;
use super::send_lat::SendLatConfig;
use super::span::{LatRun, LatSpan};
use super::stall::{Idle, Stall};
use super::write_lat::LatRole;
use rdma_verbs::ud::{Peer, UdQueuePair};
use rdma_verbs::{CompletionQueue, RecvWr, SendWr, Shared, Sink, WorkCompletion};

/// Spins until one completion of `qp` arrives on `cq` and checks it. `false`: a duration
/// run ended while waiting.
#[allow(clippy::too_many_arguments)]
#[inline]
fn wait_one(
    qp: &mut UdQueuePair,
    cq: &CompletionQueue,
    wcs: &mut [WorkCompletion; 1],
    what: &'static str,
    iteration: u64,
    cfg: &SendLatConfig,
    span: &mut LatSpan,
    clock: &Clock,
) -> Result<bool, RunError> {
    let mut stall = Stall::sleeping_on(cfg.timeout, cfg.events.then_some(cq));
    loop {
        if let Some(wc) = cq.poll(wcs)?.first() {
            qp.complete(wc)?.result()?;
            return Ok(true);
        }
        match stall.idle()? {
            Idle::Spin => {}
            Idle::Check => {
                if span.check(clock.now()) {
                    return Ok(false);
                }
            }
            Idle::TimedOut => {
                return Err(RunError::Timeout {
                    what,
                    iteration,
                    after: cfg.timeout,
                })
            }
        }
    }
}

/// Runs the UD SEND ping-pong with `to` (the peer's QP) and returns what it measured, as
/// [`send_lat`](fn@super::send_lat) does. Sends go from `src` (or inline), receives land in
/// `sink`; the receives must have been posted ahead
/// ([`ud_post_receives`](super::ud_post_receives)).
#[allow(clippy::too_many_arguments)]
pub fn ud_send_lat(
    qp: &mut UdQueuePair,
    to: Peer,
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
            "inline messages are at most {MAX_INLINE} bytes here, asked {size}"
        ))));
    }
    let inline_buf = [0u8; MAX_INLINE];
    let mut span = LatSpan::new(cfg.span, clock.now());
    let iters = span.iters();
    let mut wcs = [WorkCompletion::default(); 1];
    let (mut scnt, mut rcnt) = (0u64, 0u64);
    while (scnt < iters || rcnt < iters) && !span.over() {
        if rcnt < iters && !(scnt < 1 && cfg.role == LatRole::Client) {
            let what = "waiting for the peer's UD SEND (a lost datagram is never resent)";
            if !wait_one(qp, recv_cq, &mut wcs, what, rcnt, cfg, &mut span, clock)? {
                break;
            }
            rcnt += 1;
            span.done(|| clock.now());
            if iters == u64::MAX || rcnt + cfg.rx_depth <= iters {
                qp.post_recv(RecvWr::recv_to_sink(sink).range(0, size).wr_id(rcnt))?;
            }
        }
        if scnt < iters {
            span.posted(scnt, || clock.now());
            let wr = if cfg.inline {
                SendWr::send(&inline_buf[..size])
            } else {
                SendWr::send(src).range(0, size)
            };
            qp.post_send(to, wr.wr_id(scnt).signaled(true))?;
            scnt += 1;
            let what = "waiting for a UD SEND completion";
            if !wait_one(qp, send_cq, &mut wcs, what, scnt, cfg, &mut span, clock)? {
                break;
            }
        }
    }
    Ok(span.finish())
}

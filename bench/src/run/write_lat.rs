//! RDMA WRITE latency, both sides (perftest `run_iter_lat_write`): each side waits until the
//! peer's write has set the last byte of its target to the iteration number, then writes its
//! own. The server writes first.

use super::bw::MAX_INLINE;
use super::clock::Clock;
use super::error::RunError;
use super::span::{LatRun, LatSpan, Span};
use super::stall::{wait_completion, Idle, Stall};
use rdma_verbs::{CompletionQueue, MemoryRegion, QueuePair, RemoteBuf, SendWr, WorkCompletion};
use std::time::Duration;

/// Which side of the ping-pong this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatRole {
    /// Writes first.
    Server,
    /// Waits for the first write.
    Client,
}

/// Where the outgoing bytes come from.
#[derive(Debug)]
pub enum LatSource {
    /// Inline data (sizes up to the QP's max inline): copied into each work request.
    Inline,
    /// A registered buffer of at least `size` bytes, owned by the QP while a write is in flight.
    Buffer(MemoryRegion),
}

/// Parameters of a latency run.
#[derive(Clone, Copy, Debug)]
pub struct LatConfig {
    /// Round trips, or a duration.
    pub span: Span,
    /// Bytes per write (at least 1; the last byte carries the iteration number).
    pub size: u64,
    /// Give up when the peer's write does not arrive for this long.
    pub timeout: Duration,
    /// This side's role.
    pub role: LatRole,
}

/// Runs the write ping-pong and returns what it measured ([`LatRun`]: the post time of every
/// write, perftest's `tposted`, or the round trips of a duration run's sample); `target` is the
/// local buffer the peer writes into (its last byte is polled with volatile reads), `remote`
/// the peer's.
pub fn write_lat(
    qp: &mut QueuePair,
    cq: &CompletionQueue,
    target: &MemoryRegion,
    source: LatSource,
    remote: RemoteBuf,
    cfg: &LatConfig,
    clock: &Clock,
) -> Result<LatRun, RunError> {
    let size = cfg.size.max(1) as usize;
    // Buffer mode: the buffer is here between writes and owned by the QP during one.
    let (inline_mode, mut buf) = match source {
        LatSource::Inline if size <= MAX_INLINE => (true, None),
        LatSource::Inline => {
            return Err(RunError::Verb(rdma_verbs::Error::InvalidArgument(format!(
                "inline writes are at most {MAX_INLINE} bytes here, asked {size}"
            ))))
        }
        LatSource::Buffer(b) => (false, Some(b)),
    };
    let mut span = LatSpan::new(cfg.span, clock.now());
    let iters = span.iters();
    let mut inline = [0u8; MAX_INLINE];
    let mut wcs = [WorkCompletion::default(); 1];
    let flag = size - 1;
    let (mut scnt, mut rcnt, mut ccnt) = (0u64, 0u64, 0u64);
    while (scnt < iters || ccnt < iters || rcnt < iters) && !span.over() {
        if rcnt < iters && !(scnt < 1 && cfg.role == LatRole::Server) {
            rcnt += 1;
            if !wait_for(target, flag, rcnt as u8, rcnt, cfg, &mut span, clock)? {
                break;
            }
        }
        if scnt < iters {
            span.posted(scnt, || clock.now());
            scnt += 1;
            let mark = scnt as u8;
            let wr = if inline_mode {
                inline[flag] = mark;
                SendWr::write(&inline[..size], remote)
            } else {
                // Every write is signaled and completed below before the next one, so the
                // buffer is always back here by now.
                let mut b = buf
                    .take()
                    .expect("the buffer came back with the last completion");
                b.write_at(flag, &[mark]);
                SendWr::write(b, remote).range(0, size)
            };
            qp.post_send(wr.wr_id(scnt))?;
        }
        if ccnt < iters {
            let what = "waiting for an RDMA WRITE completion";
            let Some(c) = wait_completion(
                |wc| qp.complete(wc),
                cq,
                &mut wcs,
                what,
                ccnt,
                (cfg.timeout, false),
                &mut span,
                clock,
            )?
            else {
                break;
            };
            if c.buf.is_some() {
                buf = c.buf;
            }
            ccnt += 1;
            span.done(|| clock.now());
        }
    }
    Ok(span.finish())
}

/// Spins until the byte at `offset` of `target` equals `want`; returns false when a duration
/// run ends while waiting.
///
/// A bare spin, as perftest's: no `spin_loop` hint. A `pause` adds its own delay to every
/// detection (about 140 cycles on recent Intel cores), and under QEMU's TCG it leaves the
/// vCPU's execution loop each time.
#[inline]
fn wait_for(
    target: &MemoryRegion,
    offset: usize,
    want: u8,
    iteration: u64,
    cfg: &LatConfig,
    span: &mut LatSpan,
    clock: &Clock,
) -> Result<bool, RunError> {
    let mut stall = Stall::new(cfg.timeout);
    while target.load(offset) != Some(want) {
        match stall.idle()? {
            Idle::Spin => {}
            Idle::Check => {
                if span.check(clock.now()) {
                    return Ok(false);
                }
            }
            Idle::TimedOut => {
                return Err(RunError::Timeout {
                    what: "waiting for the peer's RDMA WRITE",
                    iteration,
                    after: cfg.timeout,
                })
            }
        }
    }
    Ok(true)
}

//! RDMA READ and atomic latency, the client (perftest `run_iter_lat`): one signaled READ (or
//! atomic) at a time, each waited for. The server only keeps its buffer registered.

use super::bw::atomic_wr;
use super::clock::Clock;
use super::error::RunError;
use super::span::{LatRun, LatSpan, Span};
use super::stall::wait_completion;
use crate::perftest::atomic::AtomicType;
use rdma_verbs::{CompletionQueue, QueuePair, RemoteBuf, SendWr, Sink, WorkCompletion};
use std::time::Duration;

/// Parameters of a READ latency run.
#[derive(Clone, Copy, Debug)]
pub struct ReadLatConfig {
    /// Round trips, or a duration.
    pub span: Span,
    /// Bytes per READ.
    pub size: u64,
    /// Give up when a READ does not complete for this long.
    pub timeout: Duration,
    /// Post this atomic ([`atomic_wr`](super::atomic_wr), 8 bytes) instead of a READ.
    pub atomic: Option<AtomicType>,
    /// Sleep on the CQ's completion channel while waiting (`-e`; the CQ must have one).
    pub events: bool,
}

/// Reads `size` bytes of `remote` into `sink` again and again and returns what it measured
/// ([`LatRun`]: the post time of every READ, perftest's `tposted`, or the round trips of a
/// duration run's sample; a READ is a round trip, so the statistics do not halve it).
/// Completions must arrive on `cq`.
pub fn read_lat(
    qp: &mut QueuePair,
    cq: &CompletionQueue,
    sink: Sink,
    remote: RemoteBuf,
    cfg: &ReadLatConfig,
    clock: &Clock,
) -> Result<LatRun, RunError> {
    let mut span = LatSpan::new(cfg.span, clock.now());
    let mut wcs = [WorkCompletion::default(); 1];
    // One READ, checked once (before the clock matters) and posted again and again.
    let run = qp.run();
    let wr = match cfg.atomic {
        Some(kind) => atomic_wr(sink, remote, kind),
        None => SendWr::read_to_sink(sink, remote).range(0, cfg.size as usize),
    };
    let mut read = run.prepare(wr)?;
    let done = |wc: &WorkCompletion| run.complete(wc);
    let mut i = 0u64;
    while i < span.iters() && !span.over() {
        span.posted(i, || clock.now());
        read.post(i, true)?;
        let what = if cfg.atomic.is_some() {
            "waiting for an atomic completion"
        } else {
            "waiting for an RDMA READ completion"
        };
        let wait = (cfg.timeout, cfg.events);
        if wait_completion(done, cq, &mut wcs, what, i, wait, &mut span, clock)?.is_none() {
            break;
        }
        span.done(|| clock.now());
        i += 1;
    }
    Ok(span.finish())
}

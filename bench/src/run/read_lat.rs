//! RDMA READ latency, the client (perftest `run_iter_lat`): one signaled READ at a time, each
//! waited for. The server only keeps its buffer registered.

use super::stall::{Idle, Stall};
use super::{Clock, RunError};
use rdma::{CompletionQueue, QueuePair, RemoteBuf, SendWr, Sink, WorkCompletion};
use std::time::Duration;

/// Reads `size` bytes of `remote` into `sink` `iters` times and returns the post time of
/// every READ in [`Clock`] nanoseconds (perftest's `tposted`; a READ is a round trip, so
/// the statistics do not halve it). Completions must arrive on `cq`.
#[allow(clippy::too_many_arguments)]
pub fn read_lat(
    qp: &mut QueuePair,
    cq: &CompletionQueue,
    sink: Sink,
    remote: RemoteBuf,
    iters: u64,
    size: u64,
    timeout: Duration,
    clock: &Clock,
) -> Result<Vec<u64>, RunError> {
    let mut posted = vec![0u64; iters as usize];
    let mut wcs = [WorkCompletion::default(); 1];
    for (i, slot) in posted.iter_mut().enumerate() {
        *slot = clock.now();
        qp.post_send(
            SendWr::read_to_sink(sink, remote)
                .range(0, size as usize)
                .wr_id(i as u64),
        )?;
        let mut stall = Stall::new(timeout);
        loop {
            if let Some(wc) = cq.poll(&mut wcs)?.first() {
                qp.complete(wc)?.result()?;
                break;
            }
            if stall.idle() == Idle::TimedOut {
                return Err(RunError::Timeout {
                    what: "waiting for an RDMA READ completion",
                    iteration: i as u64,
                    after: timeout,
                });
            }
        }
    }
    Ok(posted)
}

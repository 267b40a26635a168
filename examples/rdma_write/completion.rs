//! Waiting for a completion, with a timeout and advice on the likely errors.

use std::thread;
use std::time::{Duration, Instant};

use rdma_verbs::{Completion, CompletionQueue, QueuePair, WcStatus, WorkCompletion};

use crate::output::Failure;

/// Polls `cq` until one completion of `qp` arrives or `timeout` passes, and hands it to the
/// QP. A completion with an error status is a failure naming `what` and the status. Spins
/// (yielding the CPU) for the first millisecond, then sleeps briefly between polls.
pub(crate) fn wait_completion(
    cq: &CompletionQueue,
    qp: &mut QueuePair,
    timeout: Duration,
    what: &str,
) -> Result<Completion, Failure> {
    let mut wcs = [WorkCompletion::default(); 1];
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        if let Some(wc) = cq.poll(&mut wcs)?.first() {
            let done = qp.complete(wc)?;
            if let Err(e) = done.result() {
                return Err(Failure(format!(
                    "{what} did not complete: {e}{}",
                    hint(e.status)
                )));
            }
            return Ok(done);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Failure(format!(
                "timed out after {}s waiting for {what}",
                timeout.as_secs()
            )));
        }
        if now - start < Duration::from_millis(1) {
            thread::yield_now();
        } else {
            thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Advice for the completion errors a user of this tool is likely to meet.
fn hint(status: WcStatus) -> &'static str {
    match status {
        WcStatus::RetryExceeded => " (the peer does not answer: did it exit?)",
        WcStatus::RemoteAccess => {
            " (the peer refused the access: a wrong rkey or range, or the peer exited)"
        }
        WcStatus::RnrRetryExceeded => " (the peer had no receive posted)",
        _ => "",
    }
}

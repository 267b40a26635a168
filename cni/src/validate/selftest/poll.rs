//! Waiting for completions against the validation's deadline.

use super::failure::{Failure, TIMEOUT_FIX};
use crate::validate::report::Cause;
use rdma_verbs::{Completion, CompletionQueue, QueuePair, WcStatus, WorkCompletion};
use std::time::Instant;

/// The validation's start and deadline.
#[derive(Clone, Copy)]
pub(super) struct Budget {
    pub(super) started: Instant,
    pub(super) deadline: Instant,
}

impl Budget {
    /// A stage may start only before the deadline.
    pub(super) fn start(&self, stage: &str) -> Result<(), Failure> {
        if Instant::now() < self.deadline {
            return Ok(());
        }
        Err(Failure::new(
            Cause::Timeout,
            format!(
                "self-test timed out after {:.1} s: the budget ran out before {stage} started",
                self.started.elapsed().as_secs_f64()
            ),
            TIMEOUT_FIX,
        ))
    }
}

/// Polls `cq` for one completion of `qp` until the deadline; a completion with an error
/// status is a [`Cause::Completion`] failure.
pub(super) fn poll_one(
    cq: &CompletionQueue,
    qp: &mut QueuePair,
    budget: Budget,
    stage: &str,
    what: &str,
) -> Result<Completion, Failure> {
    let mut wc = [WorkCompletion::default(); 1];
    let mut spins = 0u32;
    loop {
        let got = cq.poll(&mut wc).map_err(|e| {
            Failure::new(
                Cause::Resources,
                format!("{stage}: polling the completion queue failed: {e}"),
                "check the driver (dmesg)",
            )
        })?;
        if let Some(wc) = got.first() {
            let c = qp.complete(wc).map_err(|e| {
                Failure::new(
                    Cause::Completion,
                    format!("{stage}: {e}"),
                    "internal error of the self-test: report it",
                )
            })?;
            return completed_ok(c, stage);
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(64) {
            if Instant::now() >= budget.deadline {
                return Err(Failure::new(
                    Cause::Timeout,
                    format!(
                        "self-test timed out after {:.1} s: {stage} did not complete (waiting for \
                         {what})",
                        budget.started.elapsed().as_secs_f64()
                    ),
                    TIMEOUT_FIX,
                ));
            }
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

fn completed_ok(c: Completion, stage: &str) -> Result<Completion, Failure> {
    if c.is_ok() {
        return Ok(c);
    }
    let fix = match c.status {
        WcStatus::RetryExceeded => {
            "the port did not answer itself: check the link, the GID/LID, and that the \
             subnet manager has the port in the partition (pkey)"
        }
        WcStatus::WrFlush => "the QP went to the error state after an earlier failure (dmesg)",
        _ => "the device failed a valid request: check its firmware and driver (dmesg)",
    };
    Err(Failure::new(
        Cause::Completion,
        format!(
            "{stage} completed with status {} (vendor error {:#x}) on QP {:#x}",
            c.status.as_str(),
            c.vendor_err,
            c.qp_num
        ),
        fix,
    ))
}

//! Noticing that a run stopped making progress, without reading the clock while it does.
//!
//! The loops spin on a CQ or a memory byte. A vanished peer must end the run with an error
//! within the time budget, but reading the clock on every poll would cost more than the poll
//! (and in a VM without a usable TSC, `clock_gettime` is a trap of microseconds). So the clock
//! is read only every [`CHECK_EVERY`] idle polls, and the budget runs from the first such read.

use super::clock::Clock;
use super::error::RunError;
use super::span::LatSpan;
use rdma_verbs::{Completion, CompletionQueue, WorkCompletion};
use std::time::{Duration, Instant};

/// Idle polls between two looks at the clock.
pub(crate) const CHECK_EVERY: u32 = 4096;

/// The idle state of a loop.
#[derive(Debug)]
pub(crate) struct Stall {
    idle: u32,
    since: Option<Instant>,
    timeout: Duration,
}

/// What one more idle poll means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idle {
    /// Keep spinning.
    Spin,
    /// A checkpoint (every [`CHECK_EVERY`] idle polls) within the budget.
    Check,
    /// No progress for longer than the budget.
    TimedOut,
}

impl Stall {
    /// A loop that gives up after `timeout` without progress.
    pub(crate) fn new(timeout: Duration) -> Stall {
        Stall {
            idle: 0,
            since: None,
            timeout,
        }
    }

    /// Something happened.
    #[inline(always)]
    pub(crate) fn progress(&mut self) {
        self.idle = 0;
        self.since = None;
    }

    /// Nothing happened in this poll.
    #[inline(always)]
    pub(crate) fn idle(&mut self) -> Idle {
        self.idle = self.idle.wrapping_add(1);
        if !self.idle.is_multiple_of(CHECK_EVERY) {
            return Idle::Spin;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() > self.timeout {
            Idle::TimedOut
        } else {
            Idle::Check
        }
    }
}

/// Spins until one completion arrives on `cq`, hands it to `complete` (the QP's
/// [`complete`](rdma_verbs::QueuePair::complete), or its run's) and checks its status. Returns `None`
/// when a duration run ends while waiting; a timeout is an error naming `what`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn wait_completion(
    mut complete: impl FnMut(&WorkCompletion) -> rdma_verbs::Result<Completion>,
    cq: &CompletionQueue,
    wcs: &mut [WorkCompletion; 1],
    what: &'static str,
    iteration: u64,
    timeout: Duration,
    span: &mut LatSpan,
    clock: &Clock,
) -> Result<Option<Completion>, RunError> {
    let mut stall = Stall::new(timeout);
    loop {
        if let Some(wc) = cq.poll(wcs)?.first() {
            let c = complete(wc)?;
            c.result()?;
            return Ok(Some(c));
        }
        match stall.idle() {
            Idle::Spin => {}
            Idle::Check => {
                if span.check(clock.now()) {
                    return Ok(None);
                }
            }
            Idle::TimedOut => {
                return Err(RunError::Timeout {
                    what,
                    iteration,
                    after: timeout,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_out_only_after_the_budget_and_progress_resets_it() {
        let mut s = Stall::new(Duration::from_millis(30));
        for _ in 1..CHECK_EVERY {
            assert_eq!(s.idle(), Idle::Spin);
        }
        assert_eq!(
            s.idle(),
            Idle::Check,
            "the first checkpoint starts the budget"
        );
        std::thread::sleep(Duration::from_millis(40));
        let mut got = Idle::Spin;
        for _ in 0..CHECK_EVERY {
            got = s.idle();
        }
        assert_eq!(got, Idle::TimedOut);
        s.progress();
        for _ in 0..CHECK_EVERY {
            got = s.idle();
        }
        assert_eq!(got, Idle::Check, "progress restarts the budget");
    }
}

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

/// Longest sleep on a completion channel before the loop looks at the clock (`-e`).
const SLEEP_SLICE: Duration = Duration::from_millis(50);

/// The idle state of a loop.
#[derive(Debug)]
pub(crate) struct Stall<'c> {
    idle: u32,
    since: Option<Instant>,
    timeout: Duration,
    /// `-e`: sleep on this CQ's channel instead of spinning (perftest `ctx_notify_events`).
    events: Option<&'c CompletionQueue>,
    /// The CQ is armed (`ibv_req_notify_cq`) and its event not yet taken.
    armed: bool,
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

impl<'c> Stall<'c> {
    /// A loop that spins, and gives up after `timeout` without progress.
    pub(crate) fn new(timeout: Duration) -> Stall<'c> {
        Stall::sleeping_on(timeout, None)
    }

    /// A loop that gives up after `timeout` without progress and, with `events`, sleeps on
    /// that CQ's completion channel while idle instead of spinning.
    pub(crate) fn sleeping_on(timeout: Duration, events: Option<&'c CompletionQueue>) -> Stall<'c> {
        Stall {
            idle: 0,
            since: None,
            timeout,
            events,
            armed: false,
        }
    }

    /// Something happened.
    #[inline(always)]
    pub(crate) fn progress(&mut self) {
        self.idle = 0;
        self.since = None;
    }

    /// Nothing happened in this poll. Sleeping on events, the first idle poll arms the CQ
    /// and returns [`Idle::Spin`] (poll once more: a completion may have come before the
    /// arming); the next sleeps until the event or for at most 50 ms, then looks at the
    /// clock.
    #[inline(always)]
    pub(crate) fn idle(&mut self) -> Result<Idle, RunError> {
        if let Some(cq) = self.events {
            if !self.armed {
                cq.req_notify(false)?;
                self.armed = true;
                return Ok(Idle::Spin);
            }
            if cq.wait_event(SLEEP_SLICE)? {
                self.armed = false;
            }
            return Ok(self.look_at_clock());
        }
        self.idle = self.idle.wrapping_add(1);
        if !self.idle.is_multiple_of(CHECK_EVERY) {
            return Ok(Idle::Spin);
        }
        Ok(self.look_at_clock())
    }

    /// A checkpoint: within the budget or not.
    fn look_at_clock(&mut self) -> Idle {
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
/// With `events`, it sleeps on the CQ's channel while waiting.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn wait_completion(
    mut complete: impl FnMut(&WorkCompletion) -> rdma_verbs::Result<Completion>,
    cq: &CompletionQueue,
    wcs: &mut [WorkCompletion; 1],
    what: &'static str,
    iteration: u64,
    (timeout, events): (Duration, bool),
    span: &mut LatSpan,
    clock: &Clock,
) -> Result<Option<Completion>, RunError> {
    let mut stall = Stall::sleeping_on(timeout, events.then_some(cq));
    loop {
        if let Some(wc) = cq.poll(wcs)?.first() {
            let c = complete(wc)?;
            c.result()?;
            return Ok(Some(c));
        }
        match stall.idle()? {
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
            assert_eq!(s.idle().unwrap(), Idle::Spin);
        }
        assert_eq!(
            s.idle().unwrap(),
            Idle::Check,
            "the first checkpoint starts the budget"
        );
        std::thread::sleep(Duration::from_millis(40));
        let mut got = Idle::Spin;
        for _ in 0..CHECK_EVERY {
            got = s.idle().unwrap();
        }
        assert_eq!(got, Idle::TimedOut);
        s.progress();
        for _ in 0..CHECK_EVERY {
            got = s.idle().unwrap();
        }
        assert_eq!(got, Idle::Check, "progress restarts the budget");
    }
}

//! Waiting for completions on tokio (feature `tokio`): [`AsyncCq`].
//!
//! Posting stays what it is — synchronous, on `&mut QueuePair`, no allocation, no lock. Only
//! *waiting* becomes `async`: [`AsyncCq::poll`] returns as soon as the CQ holds at least one
//! completion, filling the caller's slice, and otherwise lets the task sleep (or yield) until
//! one arrives. The completion channel's descriptor is registered with tokio's reactor
//! ([`AsyncFd`]), so one runtime thread can serve any number of CQs.
//!
//! ```no_run
//! # async fn demo(cq: rdma_verbs::CompletionQueue, mut qp: rdma_verbs::QueuePair)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! use rdma_verbs::{AsyncCq, WaitMode, WorkCompletion};
//! // `cq` was built with `CompletionQueue::builder(&ctx, 256).with_channel()`.
//! let mut acq = AsyncCq::new(cq, WaitMode::Event)?;
//! let mut wcs = [WorkCompletion::default(); 16];
//! for wc in acq.poll(&mut wcs).await? {
//!     let done = qp.complete(wc)?; // hands back the buffer the request owned
//!     done.result()?;
//! }
//! # Ok(()) }
//! ```
//!
//! # Modes, and when each wins
//!
//! - [`WaitMode::BusyPoll`]: poll, and if the CQ is empty `yield_now` and poll again. Lowest
//!   latency (no interrupt, no system call, no reactor round trip between the completion and
//!   the task seeing it), but the task never sleeps: it keeps a runtime thread, and a core,
//!   busy while it waits. Wins for latency-bound ping-pong with a core to spare per worker.
//! - [`WaitMode::Event`]: arm the CQ, sleep until the channel is readable. The task costs
//!   nothing while idle and thousands of waiting CQs share one thread, but each wake pays an
//!   interrupt, a reactor wake-up and a system call or two (`ibv_get_cq_event`, and arming,
//!   which is a system call on some providers). Wins for many mostly-idle connections, for
//!   throughput work where many completions arrive per wake, and wherever cores are shared.
//! - [`WaitMode::Adaptive`]: busy-poll a bounded number of empty polls, then fall back to
//!   events: near busy-poll latency for traffic that keeps coming, idle-friendly otherwise.
//!
//! `bench/benches/device_async.rs` measures the three against a synchronous busy poll.
//!
//! # Cancellation safety
//!
//! Dropping a [`poll`](AsyncCq::poll) future at any point — a `select!` that took another
//! branch, a `timeout`, an aborted task — loses nothing and frees nothing the device uses:
//!
//! - **No buffer is ever owned by a future.** Buffers of outstanding work requests are owned by
//!   their [`QueuePair`](crate::QueuePair) (see the crate documentation), and dropping a QP
//!   destroys it before it frees them. An aborted task that owned a QP therefore tears it
//!   down in the safe order; a task that is merely cancelled leaves the QP and its buffers
//!   where they were.
//! - **No completion is ever held by a future.** Completions stay in the CQ until a `poll`
//!   that returns them: the `.await`s inside `poll` (a busy spin's yield, the wait for
//!   readability) are reached only after a poll found the CQ empty, and a poll that finds
//!   completions returns them at once without awaiting. So a dropped future has taken none;
//!   the next `poll` gets them.
//! - **The wake-up state stays true at every `.await`.** The `armed` flag, and the events
//!   taken from the channel, change only in synchronous stretches between awaits. The
//!   invariant "`armed` ⇒ the CQ is armed or an event waits on the channel" holds at the
//!   await point, so a later `poll` that trusts the flag and sleeps is woken by the next
//!   completion. Events are acknowledged in bulk; any not yet acknowledged are counted in the
//!   CQ, which acknowledges them before it is destroyed.
//!
//! Exactly one [`AsyncCq`] drives a channel at a time (a second one is refused), and while it
//! does, [`CompletionQueue::req_notify`] and [`CompletionQueue::get_event`] refuse too: both
//! would steal the wake-ups the flag above accounts for. Polling the CQ directly
//! ([`CompletionQueue::poll`]) stays allowed.
//!
//! # Costs
//!
//! A wait that finds a completion at once is one `ibv_poll_cq`. Nothing on the waiting path
//! allocates or takes a lock of this crate: the reactor's waiter lives inside the future,
//! events are acknowledged (`ibv_ack_cq_events`, which locks a mutex) once per
//! [`ACK_BATCH`](AsyncCq::ACK_BATCH) events. The device test `async_cq` proves zero
//! allocations per wait with a counting allocator.

use crate::completion::WorkCompletion;
use crate::cq::CompletionQueue;
use crate::error::{Error, Result};
use std::fmt;
use std::os::fd::{AsRawFd, RawFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// How [`AsyncCq::poll`] waits while the CQ is empty. See the [module
/// documentation](self#modes-and-when-each-wins) for when each wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// Arm the CQ and sleep until its channel reports a completion event: idle-friendly, an
    /// interrupt and a system call per wake.
    Event,
    /// Poll again after every `tokio::task::yield_now`: lowest latency, keeps a core busy.
    BusyPoll,
    /// Busy-poll up to `spins` empty polls per wait, then wait for an event.
    Adaptive {
        /// Empty polls (each followed by a yield) before falling back to events.
        spins: u32,
    },
}

/// The channel's descriptor as the reactor sees it. It does not own the descriptor: the
/// channel, kept alive by the [`CompletionQueue`] in [`Driver`], closes it.
struct ChannelFd(RawFd);

impl AsRawFd for ChannelFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// The CQ, with the claim on its channel released when dropped (after the reactor let go of
/// the descriptor: [`AsyncCq`] declares its `fd` first).
struct Driver(CompletionQueue);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.release_from_async();
    }
}

/// A completion queue awaited on tokio: the CQ's completion channel registered with the
/// runtime's reactor, and the state of its wake-ups. See the [module documentation](self).
pub struct AsyncCq {
    /// Declared before `driver`: deregistered from the reactor before the descriptor can close.
    fd: AsyncFd<ChannelFd>,
    driver: Driver,
    mode: WaitMode,
    /// True when the CQ was armed and no event has been taken since (so the CQ is still armed,
    /// or an event waits on the channel).
    armed: bool,
    /// Events taken and not yet acknowledged by this waiter.
    unacked: u32,
}

impl AsyncCq {
    /// Events taken from the channel between two `ibv_ack_cq_events` calls.
    pub const ACK_BATCH: u32 = 64;

    /// Drives `cq` from tokio, waiting in `mode`. Must be called inside a tokio runtime with
    /// I/O enabled. Makes the channel non-blocking (it stays so).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `cq` has no completion channel (build it with
    /// `.with_channel()`), another `AsyncCq` drives it already, or there is no tokio runtime;
    /// [`Error::Verb`] when the descriptor cannot be made non-blocking or registered.
    pub fn new(cq: CompletionQueue, mode: WaitMode) -> Result<Self> {
        let fd = cq.require_channel().map_err(|_| {
            Error::InvalidArgument(
                "AsyncCq needs a CQ with a completion channel: build it with \
                 CompletionQueue::builder(..).with_channel()"
                    .into(),
            )
        })?;
        let fd = fd.fd();
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::InvalidArgument(
                "AsyncCq::new must be called inside a tokio runtime (with I/O enabled)".into(),
            ));
        }
        if !cq.claim_for_async() {
            return Err(Error::InvalidArgument(
                "this CQ's channel is already driven by another AsyncCq".into(),
            ));
        }
        // From here on, dropping `driver` on an error path releases the claim.
        let driver = Driver(cq);
        driver.0.require_channel()?.set_nonblocking(true)?;
        // The registration must end before the descriptor closes: `driver`'s CQ owns it and
        // keeps it open while any clone lives, and `AsyncCq` declares `fd` before `driver`.
        // SAFETY: `fd` is open until the registration ends (above); `ChannelFd` returns it only.
        let fd = unsafe { AsyncFd::register_with_interest(ChannelFd(fd), Interest::READABLE) }
            .map_err(|e| Error::Verb {
                verb: "epoll_ctl (registering the completion channel with tokio)",
                source: e.into(),
            })?;
        Ok(AsyncCq {
            fd,
            driver,
            mode,
            armed: false,
            unacked: 0,
        })
    }

    /// The CQ (for direct, non-blocking [`CompletionQueue::poll`]s).
    pub fn cq(&self) -> &CompletionQueue {
        &self.driver.0
    }

    /// The current wait mode.
    pub fn mode(&self) -> WaitMode {
        self.mode
    }

    /// Changes the wait mode (takes effect at the next [`poll`](Self::poll)).
    pub fn set_mode(&mut self, mode: WaitMode) {
        self.mode = mode;
    }

    /// Waits until the CQ holds at least one completion, polls up to `wc.len()` of them into
    /// `wc` and returns the filled prefix (never empty). Cancellation safe: a dropped future
    /// has taken no completion (see the [module documentation](self#cancellation-safety)).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty `wc` (it could never be filled); a verb error
    /// of `ibv_poll_cq`, `ibv_req_notify_cq` or `ibv_get_cq_event`, or the reactor's.
    pub async fn poll<'a>(&mut self, wc: &'a mut [WorkCompletion]) -> Result<&'a [WorkCompletion]> {
        if wc.is_empty() {
            return Err(Error::InvalidArgument(
                "AsyncCq::poll needs room for at least one completion".into(),
            ));
        }
        // Empty polls left before sleeping on events; `None`: never sleep.
        let mut spins = match self.mode {
            WaitMode::Event => Some(0),
            WaitMode::BusyPoll => None,
            WaitMode::Adaptive { spins } => Some(spins),
        };
        loop {
            let n = self.driver.0.poll(wc)?.len();
            if n > 0 {
                return Ok(&wc[..n]);
            }
            match spins {
                None => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Some(left @ 1..) => {
                    spins = Some(left - 1);
                    tokio::task::yield_now().await;
                    continue;
                }
                Some(0) => {}
            }
            if !self.armed {
                // Arm, then poll once more: a completion that arrived between the empty poll
                // and arming made no event, and sleeping now would miss it.
                self.driver.0.arm(false)?;
                self.armed = true;
                continue;
            }
            self.wait_event().await?;
        }
    }

    /// Sleeps until the channel is readable, then takes every pending event. Its one `.await`
    /// is the sleep: everything after it is synchronous.
    async fn wait_event(&mut self) -> Result<()> {
        let mut ready = self.fd.readable().await.map_err(|source| Error::Verb {
            verb: "epoll_wait (tokio AsyncFd::readable on the completion channel)",
            source,
        })?;
        // Whatever follows, the CQ may have fired: it is armed again before the next sleep.
        self.armed = false;
        let cq = &self.driver.0;
        while cq.take_event()? {
            self.unacked += 1;
        }
        // The channel said WouldBlock: no event is pending. Readiness that arrives after this
        // point has a newer tick, which `clear_ready` leaves alone.
        ready.clear_ready();
        if self.unacked >= Self::ACK_BATCH {
            cq.ack_events();
            self.unacked = 0;
        }
        Ok(())
    }
}

impl fmt::Debug for AsyncCq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncCq")
            .field("cq", &self.driver.0)
            .field("mode", &self.mode)
            .field("armed", &self.armed)
            .finish()
    }
}

//! Completion queues and their completion channels.

use crate::completion::WorkCompletion;
use crate::context::{Context, ContextInner};
use crate::error::{check, Error, Result};
use crate::sys;
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// A completion channel (`struct ibv_comp_channel`): the file descriptor that becomes readable
/// when a CQ that asked for notification gets a completion. Each channel here belongs to one
/// CQ (see [`CqBuilder::with_channel`]), which is what makes acknowledging events automatic.
pub struct CompletionChannel {
    raw: NonNull<sys::ibv_comp_channel>,
}

impl CompletionChannel {
    fn new(ctx: &Context) -> Result<Self> {
        // SAFETY: the context is live; the channel is destroyed in Drop after its CQ.
        let raw = unsafe { sys::ibv_create_comp_channel(ctx.as_raw()) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last_os("ibv_create_comp_channel"))?;
        Ok(CompletionChannel { raw })
    }

    /// The file descriptor, for `poll`/`epoll`/an async reactor.
    pub fn fd(&self) -> RawFd {
        // SAFETY: the channel is live; fd is a plain field.
        unsafe { (*self.raw.as_ptr()).fd }
    }

    /// Makes [`CompletionQueue::get_event`] return `Ok(false)` instead of blocking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        let fd = self.fd();
        // SAFETY: fcntl on a descriptor this channel owns.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(Error::last_os("fcntl(F_GETFL)"));
        }
        let flags = if nonblocking {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
            return Err(Error::last_os("fcntl(F_SETFL)"));
        }
        Ok(())
    }
}

impl AsRawFd for CompletionChannel {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

impl Drop for CompletionChannel {
    fn drop(&mut self) {
        // SAFETY: the CQ using this channel was destroyed first (CqInner's field order), once.
        unsafe { sys::ibv_destroy_comp_channel(self.raw.as_ptr()) };
    }
}

// SAFETY: the channel is a file descriptor wrapper; libibverbs allows use from any thread.
unsafe impl Send for CompletionChannel {}
// SAFETY: as above.
unsafe impl Sync for CompletionChannel {}

pub(crate) struct CqInner {
    pub(crate) raw: NonNull<sys::ibv_cq>,
    /// The extended CQ (`raw` is its first part), for CQs built extended.
    pub(crate) ex: Option<crate::cq_ex::ExCq>,
    /// Events received with get_event and not yet acknowledged.
    unacked: AtomicU32,
    /// True while an `AsyncCq` (feature `tokio`) waits on the channel: it alone may arm the
    /// CQ and take events, so [`CompletionQueue::req_notify`] and
    /// [`CompletionQueue::get_event`] refuse.
    async_owned: AtomicBool,
    depth: u32,
    channel: Option<CompletionChannel>,
    /// `ibv_destroy_cq`, or what [`CompletionQueue::from_raw_parts`] was given.
    destroy: sys::DestroyFn<sys::ibv_cq>,
    _ctx: Arc<ContextInner>,
}

// SAFETY: CQ verbs are thread safe in libibverbs (providers lock internally).
unsafe impl Send for CqInner {}
// SAFETY: as above.
unsafe impl Sync for CqInner {}

impl Drop for CqInner {
    fn drop(&mut self) {
        let n = *self.unacked.get_mut();
        // SAFETY: the CQ is live and no QP uses it (QPs hold an Arc). ibv_destroy_cq waits for
        // every event to be acknowledged, so the outstanding ones are acked first.
        unsafe {
            if n > 0 {
                sys::ibv_ack_cq_events(self.raw.as_ptr(), n);
            }
            (self.destroy)(self.raw.as_ptr());
        }
        // `channel` is dropped after this, i.e. after the CQ is gone.
    }
}

/// A completion queue (`struct ibv_cq`). Cheap to clone; QPs using it keep it alive.
#[derive(Clone)]
pub struct CompletionQueue {
    pub(crate) inner: Arc<CqInner>,
}

/// Options for [`CompletionQueue::builder`].
#[derive(Debug)]
pub struct CqBuilder<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) depth: u32,
    channel: bool,
    pub(crate) comp_vector: i32,
    /// The `wc_flags` of an extended CQ (`ibv_create_cq_ex`); `None`: `ibv_create_cq`.
    pub(crate) wc_flags: Option<u64>,
}

impl CqBuilder<'_> {
    /// Give the CQ its own completion channel, for event-driven waiting.
    pub fn with_channel(mut self) -> Self {
        self.channel = true;
        self
    }

    /// The completion vector (interrupt) to use; default 0.
    pub fn comp_vector(mut self, v: i32) -> Self {
        self.comp_vector = v;
        self
    }

    /// Creates the CQ (`ibv_create_cq`).
    pub fn build(self) -> Result<CompletionQueue> {
        if self.depth == 0 || self.depth > i32::MAX as u32 {
            return Err(Error::InvalidArgument(format!(
                "CQ depth {} (must be 1..={})",
                self.depth,
                i32::MAX
            )));
        }
        let channel = if self.channel {
            Some(CompletionChannel::new(self.ctx)?)
        } else {
            None
        };
        let ch_raw = channel.as_ref().map_or(ptr::null_mut(), |c| c.raw.as_ptr());
        if let Some(wc_flags) = self.wc_flags {
            let (raw, ex) = self.create_ex(ch_raw, wc_flags)?;
            // SAFETY: a fresh extended CQ of this context, using `channel`; ibv_destroy_cq of
            // its ibv_cq undoes it.
            let mut cq =
                unsafe { CompletionQueue::wrap(raw, self.ctx, channel, sys::ibv_destroy_cq) };
            Arc::get_mut(&mut cq.inner).expect("a fresh CQ").ex = Some(ex);
            return Ok(cq);
        }
        // SAFETY: the context is live; the channel (if any) outlives the CQ (dropped after it).
        let raw = unsafe {
            sys::ibv_create_cq(
                self.ctx.as_raw(),
                self.depth as i32,
                ptr::null_mut(),
                ch_raw,
                self.comp_vector,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last_os("ibv_create_cq"))?;
        // SAFETY: a fresh CQ of this context, using `channel`; ibv_destroy_cq undoes it.
        Ok(unsafe { CompletionQueue::wrap(raw, self.ctx, channel, sys::ibv_destroy_cq) })
    }
}

impl CompletionQueue {
    /// Wraps a CQ of `ctx` this crate did not create (polled: no channel); `destroy` frees
    /// it after the last handle (and every QP using it) is gone. Its depth is `raw->cqe`.
    ///
    /// # Safety
    /// `raw` is a live `ibv_cq` of `ctx` that nothing else destroys, and polling it with
    /// [`sys::ibv_poll_cq`] is valid. `destroy` may be called from any thread, once.
    pub unsafe fn from_raw_parts(
        raw: NonNull<sys::ibv_cq>,
        ctx: &Context,
        destroy: sys::DestroyFn<sys::ibv_cq>,
    ) -> Self {
        // SAFETY: forwarded from this function's contract; no channel.
        unsafe { Self::wrap(raw, ctx, None, destroy) }
    }

    /// The handle of `raw`, notifying through `channel`; its depth is `raw->cqe` (what the
    /// provider actually allocated).
    ///
    /// # Safety
    /// `raw` is a live CQ of `ctx`, made with `channel` (if any), that `destroy` frees once.
    unsafe fn wrap(
        raw: NonNull<sys::ibv_cq>,
        ctx: &Context,
        channel: Option<CompletionChannel>,
        destroy: sys::DestroyFn<sys::ibv_cq>,
    ) -> Self {
        // SAFETY: per the caller, a live CQ; cqe is a plain field.
        let depth = unsafe { (*raw.as_ptr()).cqe }.max(0) as u32;
        CompletionQueue {
            inner: Arc::new(CqInner {
                raw,
                ex: None,
                unacked: AtomicU32::new(0),
                async_owned: AtomicBool::new(false),
                depth,
                channel,
                destroy,
                _ctx: ctx.inner.clone(),
            }),
        }
    }

    /// Creates a CQ with room for at least `depth` completions, polled (no channel).
    pub fn new(ctx: &Context, depth: u32) -> Result<Self> {
        Self::builder(ctx, depth).build()
    }

    /// A builder for more options (completion channel, vector).
    pub fn builder(ctx: &Context, depth: u32) -> CqBuilder<'_> {
        CqBuilder {
            ctx,
            depth,
            channel: false,
            comp_vector: 0,
            wc_flags: None,
        }
    }

    /// The number of entries the provider allocated (at least the depth asked for).
    pub fn depth(&self) -> u32 {
        self.inner.depth
    }

    /// The raw CQ pointer (valid while this CQ lives).
    pub fn as_raw(&self) -> *mut sys::ibv_cq {
        self.inner.raw.as_ptr()
    }

    /// Polls up to `wc.len()` completions into `wc` and returns the filled prefix
    /// (empty when the CQ is empty). One provider call, no allocation.
    #[inline(always)]
    pub fn poll<'a>(&self, wc: &'a mut [WorkCompletion]) -> Result<&'a [WorkCompletion]> {
        let n = wc.len().min(i32::MAX as usize) as i32;
        // SAFETY: the CQ is live; WorkCompletion is repr(transparent) over ibv_wc, so the slice
        // is `n` writable ibv_wc.
        let got = unsafe { sys::ibv_poll_cq(self.as_raw(), n, wc.as_mut_ptr().cast()) };
        if got < 0 {
            return Err(Error::from_ret("ibv_poll_cq", got));
        }
        Ok(&wc[..got as usize])
    }

    /// Asks for an event on the channel at the next completion (`ibv_req_notify_cq`); with
    /// `solicited_only`, only for solicited ones. Needs a channel not driven by an `AsyncCq`.
    pub fn req_notify(&self, solicited_only: bool) -> Result<()> {
        self.require_own_channel()?;
        self.arm(solicited_only)
    }

    /// `ibv_req_notify_cq` on a CQ known to have a channel.
    pub(crate) fn arm(&self, solicited_only: bool) -> Result<()> {
        // SAFETY: the CQ is live.
        let ret = unsafe { sys::ibv_req_notify_cq(self.as_raw(), solicited_only as i32) };
        check("ibv_req_notify_cq", ret)
    }

    /// Waits for the next event on this CQ's channel (`ibv_get_cq_event`). Returns `Ok(false)`
    /// when the channel is non-blocking and no event is pending. Events are acknowledged
    /// in bulk by [`ack_events`](Self::ack_events) or when the CQ is dropped. Needs a channel
    /// not driven by an `AsyncCq`.
    pub fn get_event(&self) -> Result<bool> {
        self.require_own_channel()?;
        self.take_event()
    }

    /// Waits at most `timeout` for the next event on this CQ's channel and takes it
    /// (`poll(2)` on the channel, then `ibv_get_cq_event`). Returns `Ok(false)` when none
    /// came in time. Arm the CQ first ([`req_notify`](Self::req_notify)). Needs a channel not
    /// driven by an `AsyncCq`.
    pub fn wait_event(&self, timeout: std::time::Duration) -> Result<bool> {
        self.require_own_channel()?;
        let fd = self.require_channel()?.fd();
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `pfd` is one writable pollfd for the call; the descriptor is the channel's,
        // open while `self` lives.
        let ret = unsafe { libc::poll(&mut pfd, 1, ms) };
        if ret < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(Error::Verb {
                verb: "poll",
                source: err,
            });
        }
        if ret == 0 {
            return Ok(false);
        }
        self.take_event()
    }

    /// `ibv_get_cq_event` on a CQ known to have a channel.
    pub(crate) fn take_event(&self) -> Result<bool> {
        let ch = self.require_channel()?;
        let mut cq = ptr::null_mut();
        let mut cq_ctx = ptr::null_mut();
        // SAFETY: the channel is live and the out-pointers are writable.
        let ret = unsafe { sys::ibv_get_cq_event(ch.raw.as_ptr(), &mut cq, &mut cq_ctx) };
        if ret != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(false);
            }
            return Err(Error::Verb {
                verb: "ibv_get_cq_event",
                source: err,
            });
        }
        debug_assert_eq!(cq, self.as_raw(), "a channel serves exactly one CQ");
        self.inner.unacked.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Acknowledges the events received so far (`ibv_ack_cq_events`; it takes a lock, so do it
    /// in bulk rather than per event).
    pub fn ack_events(&self) {
        let n = self.inner.unacked.swap(0, Ordering::Relaxed);
        if n > 0 {
            // SAFETY: the CQ is live and `n` events were received and not yet acknowledged.
            unsafe { sys::ibv_ack_cq_events(self.as_raw(), n) };
        }
    }

    /// The completion channel, if the CQ has one.
    pub fn channel(&self) -> Option<&CompletionChannel> {
        self.inner.channel.as_ref()
    }

    /// The channel's fd as a borrowed descriptor, if the CQ has a channel.
    pub fn channel_fd(&self) -> Option<BorrowedFd<'_>> {
        // SAFETY: the descriptor is owned by the channel, which lives as long as `self`.
        self.channel()
            .map(|c| unsafe { BorrowedFd::borrow_raw(c.fd()) })
    }

    /// Marks the channel as driven by one `AsyncCq`; false when one already drives it.
    #[cfg(feature = "tokio")]
    pub(crate) fn claim_for_async(&self) -> bool {
        !self.inner.async_owned.swap(true, Ordering::AcqRel)
    }

    /// Undoes [`claim_for_async`](Self::claim_for_async).
    #[cfg(feature = "tokio")]
    pub(crate) fn release_from_async(&self) {
        self.inner.async_owned.store(false, Ordering::Release);
    }

    /// The channel, unless an `AsyncCq` drives it (its waits would miss the events taken
    /// here, or a wake-up armed here).
    fn require_own_channel(&self) -> Result<&CompletionChannel> {
        let ch = self.require_channel()?;
        if self.inner.async_owned.load(Ordering::Acquire) {
            return Err(Error::InvalidArgument(
                "this CQ's channel is driven by an AsyncCq: wait with AsyncCq::poll, not with \
                 req_notify/get_event"
                    .into(),
            ));
        }
        Ok(ch)
    }

    pub(crate) fn require_channel(&self) -> Result<&CompletionChannel> {
        self.channel().ok_or_else(|| {
            Error::InvalidArgument(
                "this CQ has no completion channel (build it with .with_channel())".into(),
            )
        })
    }
}

impl fmt::Debug for CompletionQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionQueue")
            .field("depth", &self.inner.depth)
            .field("channel", &self.inner.channel.as_ref().map(|c| c.fd()))
            .finish()
    }
}

//! Runs: many posts of a few work requests checked once.
//!
//! [`QueuePair::post_send`] checks every request it is given: the buffer it names, its range,
//! its opcode against its buffer, the inline length, the remote length. A data path that
//! posts the same few requests again and again (a benchmark, a stream of writes from one
//! buffer, receives into one sink) pays for those checks on every post. A [`Run`] holds the
//! QP for a while; its [`SendTemplate`]s and [`RecvTemplate`]s are checked once, when they
//! are made, and each post of one only checks that the queue has room: the same one
//! comparison as every post, which also covers the QP's state.
//!
//! Why this is sound:
//! - A template borrows its run, and the run borrows the QP mutably, so a template is posted
//!   on the QP it was checked against, and nothing can take its buffer back
//!   ([`unshare`](QueuePair::unshare), [`unsink`](QueuePair::unsink)) or change the QP while it
//!   exists. The compiler checks both; nothing is checked at run time.
//! - A run's requests do not name their buffer in their ring entries. Instead, making a
//!   template marks its shared slot as used by a run until the run ends; ending it records
//!   the queue's head, and the buffer can be taken back once every request before that head
//!   has completed. A run that is leaked (`mem::forget`) never ends: its slots stay marked,
//!   and cannot be taken back.
//! - Templates never own a buffer, so a run's requests hand none back.
//! - Templates borrow the run shared (so that several can be used at once) and keep the
//!   run's pointer to the QP, through which they post: the run and its templates are neither
//!   `Sync` nor `Send`, no method hands out a reference into the QP, and none runs caller
//!   code while it uses one.

use crate::completion::WorkCompletion;
use crate::error::{Error, Result};
use crate::qp::ring::Held;
use crate::qp::{
    refused, scatter_here, Completion, PostError, QueuePair, RecvWr, SendWr, RUN_OPEN,
};
use crate::sys;
use crate::sys::ibv_send_flags as flag;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};

mod recv;
mod run_qp;
mod send;

use run_qp::RunQp;

pub use recv::RecvTemplate;
pub use send::{SendChain, SendTemplate};

/// A QP held for a run of posts of [`SendTemplate`]s and [`RecvTemplate`]s (see
/// [`QueuePair::run`]). Its requests complete like any others: poll the CQ and hand each
/// completion to [`complete`](Self::complete).
///
/// Ending the run (dropping it, after its templates) records where its requests end, so
/// that the shared buffers and sinks its templates used can be taken back once those have
/// completed.
pub struct Run<'q> {
    /// The QP, borrowed mutably for `'q` (see the module docs for how it is used).
    qp: RunQp,
    /// The heads of the send and receive queues when the run began: its requests are from
    /// there to the heads.
    start: [u64; 2],
    _qp: PhantomData<&'q mut QueuePair>,
}

impl QueuePair {
    /// Begins a run of posts of templates, each checked once (see [`Run`]). The run holds the
    /// QP until it is dropped.
    ///
    /// ```no_run
    /// # fn f(qp: &mut rdma_verbs::QueuePair, cq: &rdma_verbs::CompletionQueue, src: rdma_verbs::Shared,
    /// #      remote: rdma_verbs::RemoteBuf) -> Result<(), Box<dyn std::error::Error>> {
    /// let run = qp.run();
    /// let mut write = run.prepare(rdma_verbs::SendWr::write(src, remote))?;
    /// let mut wcs = [rdma_verbs::WorkCompletion::default(); 16];
    /// for i in 0..1_000_000u64 {
    ///     // One in 64 signaled: each completion makes room for 64 more.
    ///     while run.send_outstanding() >= 128 {
    ///         for wc in cq.poll(&mut wcs)? {
    ///             run.complete(wc)?.result()?;
    ///         }
    ///     }
    ///     write.post(i, i % 64 == 63)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn run(&mut self) -> Run<'_> {
        Run {
            start: [self.sq.head(), self.rq.head()],
            qp: RunQp::new(self),
            _qp: PhantomData,
        }
    }
}

impl<'q> Run<'q> {
    /// Send requests outstanding on the QP (of the run or from before it).
    #[inline]
    pub fn send_outstanding(&self) -> u64 {
        // SAFETY: the run is live; the closure runs no caller code.
        unsafe { self.qp.with(|qp| qp.sq.outstanding()) }
    }

    /// Receives outstanding on the QP (of the run or from before it).
    #[inline]
    pub fn recv_outstanding(&self) -> u64 {
        // SAFETY: as in `send_outstanding`.
        unsafe { self.qp.with(|qp| qp.rq.outstanding()) }
    }

    /// Checks `wr` once and makes a template of it, posted by [`SendTemplate::post`]. Its
    /// `wr_id` and `signaled` are ignored: each post gives its own. A request that owns its
    /// buffer is refused (the buffer is handed back in the error), as is anything
    /// [`QueuePair::post_send`] would refuse but a full or closed queue.
    pub fn prepare<'r>(&'r self, wr: SendWr<'r>) -> Result<SendTemplate<'r>, PostError> {
        let (buf, _, parts) = wr.into_parts();
        if buf.is_some() {
            return Err(refused(buf, || {
                Error::InvalidArgument(
                    "a send template cannot own its buffer: share it (QueuePair::share)".into(),
                )
            }));
        }
        let mut raw = sys::ibv_send_wr::default();
        let mut sge = MaybeUninit::uninit();
        let check = |qp: &mut QueuePair| match qp.check_send(parts, &mut raw, &mut sge) {
            Ok(held) => {
                if let Held::Slot(i) = held {
                    mark(qp, i, 0);
                }
                Ok(())
            }
            Err(f) => Err(refused(None, || qp.send_fault(f))),
        };
        // SAFETY: the run is live; `check` runs no caller code.
        unsafe { self.qp.with(check) }?;
        let sge = if raw.num_sge == 1 {
            // SAFETY: `check_send` wrote the SGE, as it does when it sets `num_sge` to 1.
            Some(unsafe { sge.assume_init() })
        } else {
            None
        };
        Ok(SendTemplate {
            qp: self.qp,
            _run: PhantomData,
            flags: [
                raw.send_flags & !flag::IBV_SEND_SIGNALED,
                raw.send_flags | flag::IBV_SEND_SIGNALED,
            ],
            wr: raw,
            sge: sge.unwrap_or_default(),
        })
    }

    /// Checks `wr` once, as [`prepare`](Self::prepare) does, and makes a chain of `n` copies
    /// of it, posted with one doorbell by [`SendChain::post`]. `n` must be at least 1 and at
    /// most the send queue's depth.
    pub fn prepare_chain<'r>(
        &'r self,
        wr: SendWr<'r>,
        n: usize,
    ) -> Result<SendChain<'r>, PostError> {
        let one = self.prepare(wr)?;
        // SAFETY: the run is live; the closure runs no caller code.
        let depth = unsafe { self.qp.with(|qp| qp.sq.cap()) } as usize;
        if n == 0 || n > depth {
            return Err(PostError::new(
                Error::InvalidArgument(format!(
                    "a chain of {n} requests: the send queue takes 1 to {depth} at once"
                )),
                0,
                Vec::new(),
            ));
        }
        let mut wr = one.wr;
        wr.send_flags = one.flags[0];
        let wrs = Box::into_raw(vec![wr; n].into_boxed_slice()).cast::<sys::ibv_send_wr>();
        let sges = Box::into_raw(vec![one.sge; n].into_boxed_slice()).cast::<sys::ibv_sge>();
        for k in 0..n {
            // SAFETY: `k < n` and `k + 1 <= n`: in (or one past the end of) the arrays just
            // allocated, which nothing else refers to.
            unsafe {
                let w = wrs.add(k);
                (*w).next = if k + 1 < n {
                    wrs.add(k + 1)
                } else {
                    ptr::null_mut()
                };
                (*w).sg_list = sges.add(k);
            }
        }
        Ok(SendChain {
            qp: self.qp,
            _run: PhantomData,
            // SAFETY: `Box::into_raw` never gives NULL.
            wrs: unsafe { NonNull::new_unchecked(wrs) },
            // SAFETY: as above.
            sges: unsafe { NonNull::new_unchecked(sges) },
            n,
            flags: one.flags,
        })
    }

    /// Checks `wr` once and makes a template of it, posted by [`RecvTemplate::post`]. Its
    /// `wr_id` is ignored: each post gives its own. A receive that owns its buffer is refused
    /// (the buffer is handed back in the error), as is anything [`QueuePair::post_recv`]
    /// would refuse but a full or closed queue.
    pub fn prepare_recv(&self, wr: RecvWr<'_>) -> Result<RecvTemplate<'_>, PostError> {
        if wr.scatters() {
            return Err(scatter_here(wr.into_owned()));
        }
        let (buf, local, offset, len, _) = wr.split();
        if buf.is_some() {
            return Err(refused(buf, || {
                Error::InvalidArgument(
                    "a receive template cannot own its buffer: give the QP a sink (QueuePair::sink)"
                        .into(),
                )
            }));
        }
        let check = |qp: &mut QueuePair| match qp.check_recv(local, offset, len) {
            Ok((held, sge)) => {
                if let Held::Slot(i) = held {
                    mark(qp, i, 1);
                }
                Ok(sge)
            }
            Err(f) => Err(refused(None, || qp.recv_fault(f))),
        };
        // SAFETY: the run is live; `check` runs no caller code.
        let sge = unsafe { self.qp.with(check) }?;
        Ok(RecvTemplate {
            qp: self.qp,
            _run: PhantomData,
            wr: sys::ibv_recv_wr {
                num_sge: sge.is_some() as i32,
                ..Default::default()
            },
            sge: sge.unwrap_or_default(),
        })
    }

    /// Hands a completion of this QP back, as [`QueuePair::complete`] does (for a request of
    /// the run or one posted before it).
    #[inline(always)]
    pub fn complete(&self, wc: &WorkCompletion) -> Result<Completion> {
        // SAFETY: the run is live; the closure runs no caller code.
        unsafe { self.qp.with(|qp| qp.complete(wc)) }
    }
}

/// Marks shared slot `i` of `qp` as used by a run on queue `q` (0: send, 1: receive).
fn mark(qp: &mut QueuePair, i: u32, q: usize) {
    if let Some(slot) = qp.slots.get_mut(i as usize) {
        slot.run_until[q] = RUN_OPEN;
    }
}

impl Drop for Run<'_> {
    /// Ends the run: records, in the slots its templates use, where its requests end.
    fn drop(&mut self) {
        let end = |qp: &mut QueuePair| {
            let heads = [qp.sq.head(), qp.rq.head()];
            for slot in &mut qp.slots {
                for (until, head) in slot.run_until.iter_mut().zip(heads) {
                    if *until == RUN_OPEN {
                        *until = head;
                    }
                }
            }
        };
        // SAFETY: the run is live (being dropped, after its templates); `end` runs no caller
        // code.
        unsafe { self.qp.with(end) }
    }
}

impl fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = self.start;
        let counts =
            |qp: &mut QueuePair| (qp.qpn, qp.sq.head() - start[0], qp.rq.head() - start[1]);
        // SAFETY: the run is live; `counts` runs no caller code (the values are copied out
        // before formatting, which may).
        let (qpn, sends, recvs) = unsafe { self.qp.with(counts) };
        f.debug_struct("Run")
            .field("qp", &format_args!("{qpn:#x}"))
            .field("sends", &sends)
            .field("recvs", &recvs)
            .finish()
    }
}

//! Send templates and chains of a [`Run`](super::Run).

use super::run_qp::RunQp;
use super::Run;
use crate::error::{Error, Result};
use crate::qp::{not_posted, posted_before, PostError, QueuePair};
use crate::sys;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// A send-queue work request checked once by [`Run::prepare`] and posted any number of times
/// by [`post`](Self::post). It names a shared source, a sink (RDMA READ), inline bytes or no
/// data; it cannot own a buffer.
pub struct SendTemplate<'r> {
    /// The run's QP (the template borrows the run, which holds it).
    pub(super) qp: RunQp,
    pub(super) _run: PhantomData<&'r Run<'r>>,
    pub(super) wr: sys::ibv_send_wr,
    pub(super) sge: sys::ibv_sge,
    /// The request's flags, unsignaled and signaled: each post picks one.
    pub(super) flags: [u32; 2],
}

/// `n` copies of a send-queue work request, checked once by [`Run::prepare_chain`], linked
/// into a chain and posted any number of times with one doorbell each by
/// [`post`](Self::post). The chain is allocated when it is made (and freed when it is
/// dropped), so posting it rewrites only the requests' `wr_id`s and the last one's flags.
pub struct SendChain<'r> {
    /// The run's QP (the chain borrows the run, which holds it).
    pub(super) qp: RunQp,
    pub(super) _run: PhantomData<&'r Run<'r>>,
    /// `n` requests, linked in order, each with its SGE (if it has data) at the same index
    /// of `sges`. Both arrays are `Box<[_]>`s turned into pointers, so that the links stay
    /// valid wherever the chain moves; freed on drop.
    pub(super) wrs: NonNull<sys::ibv_send_wr>,
    pub(super) sges: NonNull<sys::ibv_sge>,
    pub(super) n: usize,
    /// The last request's flags, unsignaled and signaled (the others are unsignaled).
    pub(super) flags: [u32; 2],
}

impl SendTemplate<'_> {
    /// Posts the request once (`ibv_post_send`) with the caller's `wr_id`, signaled or not.
    /// Checks only that the send queue has room (which also says the QP's state allows
    /// sends). No allocation, no lock of ours.
    #[inline(always)]
    pub fn post(&mut self, wr_id: u64, signaled: bool) -> Result<()> {
        let at = self.qp;
        let post = |qp: &mut QueuePair| {
            if !qp.sq.has_room_for_one() {
                qp.sq
                    .make_room(0, 1)
                    .map_err(|why| qp.no_room(false, why))?;
            }
            self.wr.wr_id = qp.sq.stage_run(wr_id);
            self.wr.send_flags = self.flags[signaled as usize];
            self.wr.sg_list = &mut self.sge;
            let mut bad = ptr::null_mut();
            // `wr` is a single request (`next` is NULL) that `prepare` checked against this
            // QP, the one its run holds. Its SGE, if any, is of a shared source or sink, which
            // stays in the QP until this request completes (the slot's run mark keeps it past
            // the run), or of inline bytes the template borrows, which the provider copies
            // before returning.
            // SAFETY: the QP is live, and `wr` and what its SGE describes are as said above.
            let ret = unsafe { qp.post_send_chain(&mut self.wr, &mut bad) };
            if ret != 0 {
                return Err(Error::from_ret(qp.post_api().send_verb(), ret));
            }
            qp.sq.commit(1);
            Ok(())
        };
        // SAFETY: the template's run is live (it borrows it); `post` runs no caller code.
        unsafe { at.with(post) }
    }
}

impl SendChain<'_> {
    /// Posts the chain once (one `ibv_post_send`): request `k` gets `wr_id` `first_wr_id + k`;
    /// the last is signaled if `signal_last` (and its completion retires the whole chain), the
    /// others never. Checks only that the send queue has room for all of them. No
    /// allocation, no lock of ours. When the provider fails part way, `posted` in the error
    /// says how many were posted (they complete as usual).
    #[inline(always)]
    pub fn post(&mut self, first_wr_id: u64, signal_last: bool) -> Result<(), PostError> {
        let (n, wrs, flags) = (self.n, self.wrs.as_ptr(), self.flags);
        let post = |qp: &mut QueuePair| {
            if !qp.sq.has_room(0, n) {
                if let Err(why) = qp.sq.make_room(0, n) {
                    return Err(PostError::new(qp.no_room(false, why), 0, Vec::new()));
                }
            }
            qp.sq.stage_run_n(n, first_wr_id, |k, nonce| {
                // SAFETY: `k < n`: a request of the chain's allocation, which only this chain
                // refers to.
                unsafe { (*wrs.add(k)).wr_id = nonce };
            });
            // SAFETY: `n >= 1` (`prepare_chain`): the last request of the allocation.
            unsafe { (*wrs.add(n - 1)).send_flags = flags[signal_last as usize] };
            let mut bad = ptr::null_mut();
            // SAFETY: the QP is live; `wrs` is a chain of `n` copies of a request `prepare`
            // checked against this QP, the one the chain's run holds, linked when the chain
            // was made (its allocation has not moved): as in `SendTemplate::post`.
            let ret = unsafe { qp.post_send_chain(wrs, &mut bad) };
            if ret != 0 {
                let posted = posted_before(bad, wrs, n);
                let verb = qp.post_api().send_verb();
                return Err(not_posted(&mut qp.sq, verb, ret, posted, n));
            }
            qp.sq.commit(n);
            Ok(())
        };
        // SAFETY: the chain's run is live (it borrows it); `post` runs no caller code.
        unsafe { self.qp.with(post) }
    }

    /// How many requests the chain posts at once.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false: a chain has at least one request.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Drop for SendChain<'_> {
    fn drop(&mut self) {
        // SAFETY: both arrays were `Box<[_]>`s of `n` elements turned into these pointers by
        // `prepare_chain`, and are freed once, here.
        unsafe {
            drop(Box::from_raw(ptr::slice_from_raw_parts_mut(
                self.wrs.as_ptr(),
                self.n,
            )));
            drop(Box::from_raw(ptr::slice_from_raw_parts_mut(
                self.sges.as_ptr(),
                self.n,
            )));
        }
    }
}

impl fmt::Debug for SendTemplate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendTemplate")
            .field("opcode", &self.wr.opcode)
            .field("flags", &self.flags[0])
            .field("len", &(self.wr.num_sge > 0).then_some(self.sge.length))
            .finish()
    }
}

impl fmt::Debug for SendChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendChain").field("len", &self.n).finish()
    }
}

//! Chains of work requests built on the stack and posted with one doorbell (one provider call).
//! A batch holds `&mut QueuePair` until it is posted or dropped: at most one open batch per QP.
//!
//! A batch has no destructor, on purpose: moving a value that has one into `post` would copy
//! the whole batch (kilobytes of requests). Dropping a batch unposted needs no undoing anyway:
//! its requests were never given to the device, and the QP's ring stages the next post over
//! them (see `ring`). Buffers they owned stay with the QP until requests owning buffers are
//! staged in their ring slots, or the QP is dropped.

use super::post::{not_posted, refused};
use super::post_error::PostError;
use super::recv_wr::RecvWr;
use super::ring::Ring;
use super::send_wr::SendWr;
use super::{PostApi, QueuePair};
use crate::error::Error;
use crate::sys;
use std::mem::MaybeUninit;
use std::ptr;

impl QueuePair {
    /// Starts a chain of up to `N` send-queue requests posted with one `ibv_post_send` (one
    /// doorbell; on a [`PostApi::Extended`](super::PostApi) QP, one `ibv_wr_start` …
    /// `ibv_wr_complete`, which posts all of them or none). The batch borrows the QP mutably until it is posted or dropped, so there is
    /// at most one open batch per QP. A batch dropped unposted posts nothing; buffers its
    /// requests owned are dropped when requests owning buffers are staged in their ring
    /// slots, or with the QP.
    pub fn send_batch<'a, const N: usize>(&mut self) -> SendBatch<'_, 'a, N> {
        SendBatch {
            qp: self,
            len: 0,
            wrs: [MaybeUninit::uninit(); N],
            sges: [MaybeUninit::uninit(); N],
            _inline: std::marker::PhantomData,
        }
    }

    /// Starts a chain of up to `N` receives posted with one `ibv_post_recv`. Dropped unposted,
    /// it posts nothing (its buffers are dropped as a dropped [`SendBatch`]'s).
    pub fn recv_batch<const N: usize>(&mut self) -> RecvBatch<'_, N> {
        RecvBatch {
            qp: self,
            len: 0,
            wrs: [MaybeUninit::uninit(); N],
            sges: [MaybeUninit::uninit(); N],
        }
    }
}

/// A raw work request that can be chained (`ibv_send_wr`, `ibv_recv_wr`), and the verb that
/// posts a chain of them.
trait ChainWr: Sized {
    /// The verb's name for `qp`, for errors.
    fn verb(qp: &QueuePair) -> &'static str;
    /// Points the request at the next one (NULL: the end) and at its SGE.
    fn link(&mut self, next: *mut Self, sge: *mut sys::ibv_sge);
    /// The queue's ring of `qp`.
    fn ring(qp: &mut QueuePair) -> &mut Ring;
    /// Posts the chain at `wr` (`ibv_post_send` or the QP's extended post, `ibv_post_recv`).
    ///
    /// # Safety
    /// `wr` heads a well-formed chain whose memory stays valid as the verb's contract asks
    /// (staged ring entries, shared slots, inline bytes alive for the call).
    unsafe fn post(qp: &QueuePair, wr: *mut Self, bad: &mut *mut Self) -> i32;
}

impl ChainWr for sys::ibv_send_wr {
    fn verb(qp: &QueuePair) -> &'static str {
        qp.post_api().send_verb()
    }
    #[inline(always)]
    fn link(&mut self, next: *mut Self, sge: *mut sys::ibv_sge) {
        self.next = next;
        // Also for a request without data (`num_sge == 0`, so the provider reads no SGE): one
        // store, no branch.
        self.sg_list = sge;
    }
    #[inline(always)]
    fn ring(qp: &mut QueuePair) -> &mut Ring {
        &mut qp.sq
    }
    #[inline(always)]
    unsafe fn post(qp: &QueuePair, wr: *mut Self, bad: &mut *mut Self) -> i32 {
        // SAFETY: the caller's contract.
        unsafe { qp.post_send_chain(wr, bad) }
    }
}

impl ChainWr for sys::ibv_recv_wr {
    fn verb(_: &QueuePair) -> &'static str {
        "ibv_post_recv"
    }
    #[inline(always)]
    fn link(&mut self, next: *mut Self, sge: *mut sys::ibv_sge) {
        self.next = next;
        self.sg_list = sge;
    }
    #[inline(always)]
    fn ring(qp: &mut QueuePair) -> &mut Ring {
        &mut qp.rq
    }
    #[inline(always)]
    unsafe fn post(qp: &QueuePair, wr: *mut Self, bad: &mut *mut Self) -> i32 {
        // SAFETY: the caller's contract; the QP is live.
        unsafe { sys::ibv_post_recv(qp.as_raw(), wr, bad) }
    }
}

/// Links the first `n` requests of a batch into a chain, each with its own SGE, and returns
/// its head. Done at post time, when the batch can no longer move.
///
/// # Safety
/// `1 <= n <= N`, and entries `0..n` of `wrs` are initialized. Their SGEs are not read here;
/// the provider reads those of requests with `num_sge > 0`, which must be initialized.
#[inline(always)]
unsafe fn link_chain<W: ChainWr, const N: usize>(
    wrs: &mut [MaybeUninit<W>; N],
    sges: &mut [MaybeUninit<sys::ibv_sge>; N],
    n: usize,
) -> *mut W {
    let head = wrs.as_mut_ptr().cast::<W>();
    let sge = sges.as_mut_ptr().cast::<sys::ibv_sge>();
    for i in 0..n - 1 {
        // SAFETY: i + 1 < n <= N: both are initialized entries of `wrs`; `sge.add(i)` is an
        // entry of `sges` (only its address is taken).
        unsafe { (*head.add(i)).link(head.add(i + 1), sge.add(i)) };
    }
    // SAFETY: n - 1 < N: the last initialized entry of `wrs`, and an entry of `sges`.
    unsafe { (*head.add(n - 1)).link(ptr::null_mut(), sge.add(n - 1)) };
    head
}

/// How many requests of a failed chain of `n` starting at `head` were posted: those before
/// the one the provider reported in `bad`.
pub(crate) fn posted_before<W>(bad: *mut W, head: *mut W, n: usize) -> usize {
    if bad.is_null() {
        return 0;
    }
    // Address arithmetic only: `bad` points into the chain (or is out of range, then clamped).
    let i = (bad as usize).wrapping_sub(head as usize) / std::mem::size_of::<W>();
    i.min(n)
}

/// Links the first `n` requests of a batch and posts them with one doorbell. On failure,
/// those before the one the provider reported are posted and the rest are taken back with
/// their buffers.
///
/// # Safety
/// As [`link_chain`]'s (for `n >= 1`), and the requests' memory stays valid as
/// [`ChainWr::post`] asks.
#[inline(always)]
unsafe fn post_chain<W: ChainWr, const N: usize>(
    qp: &mut QueuePair,
    wrs: &mut [MaybeUninit<W>; N],
    sges: &mut [MaybeUninit<sys::ibv_sge>; N],
    n: usize,
) -> Result<(), PostError> {
    if n == 0 {
        return Ok(());
    }
    // SAFETY: the caller's contract; the chain does not move during the call.
    let head = unsafe { link_chain(wrs, sges, n) };
    let mut bad = ptr::null_mut();
    // SAFETY: a well-formed chain of `n` requests, memory as the caller promises.
    let ret = unsafe { W::post(qp, head, &mut bad) };
    if ret != 0 {
        let posted = posted_before(bad, head, n);
        let verb = W::verb(qp);
        return Err(not_posted(W::ring(qp), verb, ret, posted, n));
    }
    W::ring(qp).commit(n);
    Ok(())
}

/// A chain of send-queue requests built on the stack and posted with one doorbell.
/// See [`QueuePair::send_batch`].
pub struct SendBatch<'q, 'a, const N: usize> {
    qp: &'q mut QueuePair,
    len: usize,
    wrs: [MaybeUninit<sys::ibv_send_wr>; N],
    sges: [MaybeUninit<sys::ibv_sge>; N],
    _inline: std::marker::PhantomData<&'a [u8]>,
}

impl<'a, const N: usize> SendBatch<'_, 'a, N> {
    /// Adds a request. Fails (handing its buffer back) when the batch or the send queue is
    /// full, or the request is invalid.
    #[inline(always)]
    pub fn push(&mut self, wr: SendWr<'a>) -> Result<(), PostError> {
        let i = self.len;
        if i >= N {
            return Err(refused(wr.into_owned(), || batch_full(N)));
        }
        // The raw request is built in place, where it is posted from, and its SGE (if it has
        // one: the provider reads none of a request with `num_sge == 0`) next to it; `post`
        // links each request to its SGE, where the batch no longer moves. A request that fails
        // to stage is not counted, whatever it left.
        let raw = self.wrs[i].write(sys::ibv_send_wr::default());
        self.qp.stage_send(i, wr, raw, &mut self.sges[i])?;
        self.len += 1;
        Ok(())
    }

    /// Requests in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Links the requests and posts them with one `ibv_post_send`. On failure, the requests
    /// before the failing one are posted (`posted`) and the rest hand their buffers back.
    #[inline(always)]
    pub fn post(mut self) -> Result<(), PostError> {
        if self.qp.post_api == PostApi::Extended {
            // SAFETY: requests 0..len were staged by push (as below).
            return unsafe { self.qp.post_batch_ex(&self.wrs, &self.sges, self.len) };
        }
        // SAFETY: requests 0..len (and the SGEs of those with data) were written by push; their
        // memory is held by staged ring entries, shared slots, or is inline bytes alive for 'a.
        unsafe { post_chain(self.qp, &mut self.wrs, &mut self.sges, self.len) }
    }
}

/// A chain of receives built on the stack and posted with one doorbell.
/// See [`QueuePair::recv_batch`].
pub struct RecvBatch<'q, const N: usize> {
    qp: &'q mut QueuePair,
    len: usize,
    wrs: [MaybeUninit<sys::ibv_recv_wr>; N],
    sges: [MaybeUninit<sys::ibv_sge>; N],
}

impl<const N: usize> RecvBatch<'_, N> {
    /// Adds a receive. Fails (handing its buffer back) when the batch or the receive queue
    /// is full, or the request is invalid.
    #[inline(always)]
    pub fn push(&mut self, wr: RecvWr<'_>) -> Result<(), PostError> {
        let i = self.len;
        if i >= N {
            return Err(refused(wr.into_owned(), || batch_full(N)));
        }
        // Built in place, as a send's: its SGE (if it has one) goes where it is posted from.
        self.qp
            .stage_recv(i, wr, &mut self.wrs[i], &mut self.sges[i])?;
        self.len += 1;
        Ok(())
    }

    /// Requests in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Links and posts the receives with one `ibv_post_recv`.
    #[inline(always)]
    pub fn post(mut self) -> Result<(), PostError> {
        // SAFETY: receives 0..len (and the SGEs of those with one) were written by push; their
        // buffers are owned by staged ring entries or are sinks held by the QP.
        unsafe { post_chain(self.qp, &mut self.wrs, &mut self.sges, self.len) }
    }
}

#[cold]
#[inline(never)]
fn batch_full(n: usize) -> Error {
    Error::InvalidArgument(format!("the batch holds at most {n} requests"))
}

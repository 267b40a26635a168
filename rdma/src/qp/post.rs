//! Posting work requests one at a time. Chains posted with one doorbell are in
//! [`batch`](super::batch), the raw `unsafe` posts in [`raw_post`](super::raw_post).

use super::post_error::PostError;
use super::recv_wr::RecvWr;
use super::ring::{NoRoom, Ring};
use super::send_check::SendParts;
use super::send_wr::SendWr;
use super::slots::SlotKind;
use super::{PostApi, QueuePair};
use crate::error::Error;
use crate::mr::MemoryRegion;
use crate::sys;
use std::mem::MaybeUninit;
use std::ptr;

/// A request refused before it was staged: the error `why` makes, with the request's buffer
/// handed back. (`pub(super)`: batches refuse requests too.)
///
/// The buffer is moved in before the error is made. Were the error made first (it may
/// allocate, so unwind), the buffer would need dropping on that unwinding path, and a value
/// whose address a drop (or any call) receives is kept in memory on every path: the data
/// path wants it in registers. For the same reason callers pass a fresh `Option`
/// (`wr.into_owned()`, `Some(buf)`), not the request itself.
#[cold]
#[inline(never)]
pub(crate) fn refused(buf: Option<MemoryRegion>, why: impl FnOnce() -> Error) -> PostError {
    let returned = buf.into_iter().collect();
    PostError::new(why(), 0, returned)
}

impl QueuePair {
    #[cold]
    #[inline(never)]
    fn send_state_error(&self) -> Error {
        Error::QpState {
            what: "a send",
            qpn: self.qpn,
            state: self.state,
            needs: "RTS",
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn recv_state_error(&self) -> Error {
        if self.srq.is_some() {
            return Error::InvalidArgument(format!(
                "QP {:#x} takes its receives from an SRQ: post them there",
                self.qpn
            ));
        }
        Error::QpState {
            what: "a receive",
            qpn: self.qpn,
            state: self.state,
            needs: "INIT, RTR or RTS",
        }
    }

    /// The error for a queue without room, by why ([`Ring::make_room`](super::ring::Ring)'s
    /// answer).
    #[cold]
    #[inline(never)]
    pub(crate) fn no_room(&self, recv: bool, why: NoRoom) -> Error {
        match why {
            NoRoom::Closed if recv => self.recv_state_error(),
            NoRoom::Closed => self.send_state_error(),
            NoRoom::Full => self.queue_full(recv),
            NoRoom::Exhausted => Error::Verb {
                verb: if recv {
                    "ibv_post_recv"
                } else {
                    "ibv_post_send"
                },
                source: std::io::Error::other("this process used up its 2^61 work request ids"),
            },
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn queue_full(&self, recv: bool) -> Error {
        let (queue, ring) = if recv {
            ("receive queue", &self.rq)
        } else {
            ("send queue", &self.sq)
        };
        Error::QueueFull {
            queue,
            qpn: self.qpn,
            depth: ring.cap(),
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn no_slot(&self, kind: SlotKind, i: u32) -> Error {
        let what = match kind {
            SlotKind::Source => "shared buffer",
            SlotKind::Sink | SlotKind::Free => "sink",
        };
        Error::InvalidArgument(format!("no {what} {i} on QP {:#x}", self.qpn))
    }

    #[cold]
    #[inline(never)]
    pub(super) fn inline_too_long(&self, len: usize) -> Error {
        Error::InvalidArgument(format!(
            "{len} bytes of inline data, QP {:#x} allows {}",
            self.qpn, self.caps.max_inline_data
        ))
    }

    /// Checks `wr` ([`check_send`](Self::check_send)), fills the raw request but its
    /// `sg_list`, writes its SGE (if it has one: `num_sge` says) to `sge`, and stages its ring
    /// entry `offset` places after the head. On error the request's buffer is handed back and
    /// nothing has changed.
    #[inline(always)]
    pub(crate) fn stage_send(
        &mut self,
        offset: usize,
        wr: SendWr<'_>,
        raw: &mut sys::ibv_send_wr,
        sge: &mut MaybeUninit<sys::ibv_sge>,
    ) -> Result<(), PostError> {
        let (buf, wr_id, parts) = wr.into_parts();
        // One comparison: the state allows sends, the queue has room, and the nonce block is
        // far from its end (`make_room` tells which failed, and starts a new block when that
        // was all).
        if !self.sq.has_room(offset, 1) {
            if let Err(why) = self.sq.make_room(offset, 1) {
                return Err(refused(buf, || self.no_room(false, why)));
            }
        }
        let parts = SendParts {
            buf: buf.as_ref(),
            ..parts
        };
        // Which check failed is worked out again off the data path: the fault carries data
        // (lengths, a slot) that the data path then never computes.
        let Ok(held) = self.check_send(parts, raw, sge) else {
            let parts = SendParts { buf: None, ..parts };
            return Err(self.refuse_send(buf, parts));
        };
        // Stage it. An owned buffer moves into the ring; a shared source or sink is named by
        // the entry, which keeps it in the QP while outstanding.
        raw.wr_id = match buf {
            Some(mr) => self.sq.stage_owned(offset, wr_id, mr),
            None => self.sq.stage(offset, wr_id, held),
        };
        Ok(())
    }

    /// Posts one send-queue work request (`ibv_post_send`, or one `ibv_wr_start` …
    /// `ibv_wr_complete` on a [`PostApi::Extended`](super::PostApi) QP). No allocation, no
    /// lock of ours.
    #[inline(always)]
    pub fn post_send(&mut self, wr: SendWr<'_>) -> Result<(), PostError> {
        if !wr.more.is_empty() {
            return self.post_send_gather(wr, None);
        }
        if self.post_api == PostApi::Extended {
            return self.post_send_ex(wr);
        }
        let mut raw = sys::ibv_send_wr::default();
        let mut sge = MaybeUninit::uninit();
        self.stage_send(0, wr, &mut raw, &mut sge)?;
        // Also for a request without data (`num_sge == 0`: the provider reads no SGE).
        raw.sg_list = sge.as_mut_ptr();
        // Never read: a single request failed is the one reported (so not set, a store less).
        let mut bad = MaybeUninit::uninit();
        // SAFETY: the QP is live; `raw` is a complete single request whose SGE points to memory
        // that is owned by the ring entry just staged, shared with this QP, or (inline) copied
        // by the provider before it returns.
        let ret = unsafe { self.post_send_chain(&mut raw, bad.as_mut_ptr()) };
        if ret != 0 {
            let verb = self.post_api().send_verb();
            return Err(not_posted(&mut self.sq, verb, ret, 0, 1));
        }
        self.sq.commit(1);
        Ok(())
    }

    /// Posts one receive work request (`ibv_post_recv`). An owned buffer stays with the QP
    /// until [`complete`](Self::complete) hands it back; a sink's use is released there too.
    /// No allocation, no lock of ours.
    #[inline(always)]
    pub fn post_recv(&mut self, wr: RecvWr<'_>) -> Result<(), PostError> {
        if !wr.more.is_empty() {
            return self.post_recv_scatter(wr, None);
        }
        let mut sge = MaybeUninit::uninit();
        let mut raw = MaybeUninit::uninit();
        let raw = self.stage_recv(0, wr, &mut raw, &mut sge)?;
        let mut bad = ptr::null_mut();
        // The SGE, if any (`num_sge` is 1; with 0 the provider reads none, and `sge` may be
        // uninitialized), describes memory owned by the ring entry just staged, or of a sink
        // held by this QP (which no Rust code can reach, and which the entry, outstanding once
        // committed, keeps in the QP until the request completes or the QP is destroyed).
        // SAFETY: the QP is live, and the SGE is as said just above.
        let ret = unsafe { sys::ibv_post_recv(self.as_raw(), raw, &mut bad) };
        if ret != 0 {
            return Err(not_posted(&mut self.rq, "ibv_post_recv", ret, 0, 1));
        }
        self.rq.commit(1);
        Ok(())
    }
}

/// `verb` failed (`ret`) on `n` requests staged on `ring` (one, or a batch's chain), of which
/// the provider took the first `posted`: those become outstanding, the rest are taken back
/// with their buffers.
#[cold]
#[inline(never)]
pub(crate) fn not_posted(
    ring: &mut Ring,
    verb: &'static str,
    ret: i32,
    posted: usize,
    n: usize,
) -> PostError {
    ring.commit(posted);
    let mut returned = Vec::new();
    ring.unstage_all(n - posted, |buf| returned.push(buf));
    PostError::new(Error::from_ret(verb, ret), posted, returned)
}

#[cold]
#[inline(never)]
pub(crate) fn range_error(offset: usize, len: usize, have: usize) -> Error {
    Error::InvalidArgument(format!(
        "range {offset}..{} does not fit a {have}-byte buffer (or exceeds 4 GiB)",
        offset.saturating_add(len)
    ))
}

//! Posting work requests one at a time. Chains posted with one doorbell are in
//! [`batch`](super::batch), the raw `unsafe` posts in [`raw_post`](super::raw_post).

use super::post_error::PostError;
use super::recv_wr::RecvWr;
use super::ring::{Held, NoRoom, Ring};
use super::send_wr::{LocalRef, SendWr};
use super::slots::SlotKind;
use super::QueuePair;
use crate::error::Error;
use crate::mr::MemoryRegion;
use crate::sys;
use crate::sys::ibv_send_flags as flag;
use crate::sys::ibv_wr_opcode as op;
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
    fn inline_too_long(&self, len: usize) -> Error {
        Error::InvalidArgument(format!(
            "{len} bytes of inline data, QP {:#x} allows {}",
            self.qpn, self.caps.max_inline_data
        ))
    }

    /// Validates `wr`, fills the raw request, and stages its ring entry `offset` places after
    /// the head; returns the request's SGE, if it has one (`num_sge` is set; the caller puts
    /// the SGE where it stays for the post and points `sg_list` at it). On error the request's
    /// buffer is handed back and nothing has changed.
    #[inline(always)]
    pub(super) fn stage_send(
        &mut self,
        offset: usize,
        wr: SendWr<'_>,
        raw: &mut sys::ibv_send_wr,
    ) -> Result<Option<sys::ibv_sge>, PostError> {
        self.check_send::<false>(offset, wr, raw, &mut Held::Nothing)
    }

    /// [`stage_send`](Self::stage_send), or with `TEMPLATE` (for a
    /// [`SendTemplate`](crate::prepared::SendTemplate)): validates `wr` and fills the raw request but its
    /// `wr_id` and `sg_list`, without checking for room or staging anything, and refuses a
    /// request that owns its buffer. Sets `held` to what the request's ring entry holds.
    #[inline(always)]
    pub(crate) fn check_send<const TEMPLATE: bool>(
        &mut self,
        offset: usize,
        wr: SendWr<'_>,
        raw: &mut sys::ibv_send_wr,
        held_out: &mut Held,
    ) -> Result<Option<sys::ibv_sge>, PostError> {
        // Taken apart first: the owned buffer (if any) is the only part with a destructor, so
        // the rest never needs to be in memory (a value that a drop, even one on an unwinding
        // path, gets the address of, stays in memory).
        let SendWr {
            opcode,
            local,
            offset: start,
            len,
            remote,
            imm,
            flags,
            wr_id,
        } = wr;
        let (buf, local) = local.split();
        macro_rules! bail {
            ($e:expr) => {
                return Err(refused(buf, move || $e))
            };
        }
        if TEMPLATE && buf.is_some() {
            bail!(Error::InvalidArgument(
                "a send template cannot own its buffer: share it (QueuePair::share)".into()
            ));
        }
        // One comparison: the state allows sends, the queue has room, and the nonce block is
        // far from its end (`make_room` tells which failed, and starts a new block when that
        // was all). A template is checked for room at each of its posts.
        if !TEMPLATE && !self.sq.has_room(offset, 1) {
            if let Err(why) = self.sq.make_room(offset, 1) {
                bail!(self.no_room(false, why));
            }
        }
        let mut flags = flags | self.sig_flag;
        let signaled = flags & flag::IBV_SEND_SIGNALED != 0;
        // Validation only: nothing changes until the request is known to be good.
        let (held, sge_val) = match local {
            LocalRef::Owned => {
                let Some(mr) = &buf else {
                    unreachable!("split gives an owned local its buffer")
                };
                if !signaled {
                    bail!(Error::InvalidArgument(
                        "an unsignaled work request cannot own a buffer: signal it, or share the \
                         buffer (QueuePair::share)"
                            .into()
                    ));
                }
                let len = len.unwrap_or(mr.len().saturating_sub(start));
                match mr.sge(start, len) {
                    Some(s) => (Held::Owned, Some(s)),
                    None => {
                        let have = mr.len();
                        bail!(range_error(start, len, have))
                    }
                }
            }
            LocalRef::Shared(p) => {
                if opcode == op::IBV_WR_RDMA_READ {
                    bail!(Error::InvalidArgument(
                        "an RDMA READ writes its local buffer: it cannot be a shared read-only one"
                            .into()
                    ));
                }
                let Some(mr) = self.slot(p.0, SlotKind::Source) else {
                    bail!(self.no_slot(SlotKind::Source, p.0));
                };
                let len = len.unwrap_or(mr.len().saturating_sub(start));
                match mr.sge(start, len) {
                    Some(s) => (Held::Slot(p.0), Some(s)),
                    None => {
                        let have = mr.len();
                        bail!(range_error(start, len, have))
                    }
                }
            }
            LocalRef::Sink(k) => {
                if opcode != op::IBV_WR_RDMA_READ {
                    bail!(Error::InvalidArgument(
                        "a sink is the destination of RDMA READs and receives only: the device \
                         may be writing it"
                            .into()
                    ));
                }
                let Some(mr) = self.slot(k.0, SlotKind::Sink) else {
                    bail!(self.no_slot(SlotKind::Sink, k.0));
                };
                let len = len.unwrap_or(mr.len().saturating_sub(start));
                match mr.sge(start, len) {
                    Some(s) => (Held::Slot(k.0), Some(s)),
                    None => {
                        let have = mr.len();
                        bail!(range_error(start, len, have))
                    }
                }
            }
            LocalRef::Inline(data) => {
                let n = data.len();
                if n > self.caps.max_inline_data as usize {
                    bail!(self.inline_too_long(n));
                }
                if opcode == op::IBV_WR_RDMA_READ {
                    bail!(Error::InvalidArgument(
                        "an RDMA READ cannot be inline".into()
                    ));
                }
                flags |= flag::IBV_SEND_INLINE;
                let s = sys::ibv_sge {
                    addr: data.as_ptr() as u64,
                    length: data.len() as u32,
                    lkey: 0,
                };
                (Held::Nothing, (!data.is_empty()).then_some(s))
            }
            LocalRef::Empty => (Held::Nothing, None),
        };
        let local_len = sge_val.map_or(0, |s| s.length as u64);
        let mut opcode = opcode;
        if let Some(remote) = remote {
            let remote_len = remote.len;
            if local_len > remote_len {
                bail!(remote_too_small(local_len, remote_len));
            }
            raw.wr.rdma = sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_1 {
                remote_addr: remote.addr,
                rkey: remote.rkey,
            };
        }
        if let Some(imm) = imm {
            opcode = match opcode {
                op::IBV_WR_SEND => op::IBV_WR_SEND_WITH_IMM,
                op::IBV_WR_RDMA_WRITE => op::IBV_WR_RDMA_WRITE_WITH_IMM,
                _ => bail!(Error::InvalidArgument(
                    "only SEND and RDMA WRITE carry immediate data".into()
                )),
            };
            raw.__bindgen_anon_1.imm_data = imm.to_be();
        }
        // The request is good.
        raw.next = ptr::null_mut();
        raw.opcode = opcode;
        raw.send_flags = flags;
        raw.num_sge = sge_val.is_some() as i32;
        if TEMPLATE {
            // No buffer: refused above.
            *held_out = held;
            return Ok(sge_val);
        }
        // Stage it. An owned buffer moves into the ring; a shared source or sink is named by
        // the entry, which keeps it in the QP while outstanding.
        let nonce = match buf {
            Some(mr) => self.sq.stage_owned(offset, wr_id, mr),
            None => self.sq.stage(offset, wr_id, held),
        };
        raw.wr_id = nonce;
        Ok(sge_val)
    }

    /// Posts one send-queue work request (`ibv_post_send`). No allocation, no lock of ours.
    #[inline(always)]
    pub fn post_send(&mut self, wr: SendWr<'_>) -> Result<(), PostError> {
        let mut raw = sys::ibv_send_wr::default();
        let mut sge = self.stage_send(0, wr, &mut raw)?;
        if let Some(s) = &mut sge {
            raw.sg_list = s;
        }
        let mut bad = ptr::null_mut();
        // SAFETY: the QP is live; `raw` is a complete single request whose SGE points to memory
        // that is owned by the ring entry just staged, shared with this QP, or (inline) copied
        // by the provider before it returns.
        let ret = unsafe { sys::ibv_post_send(self.as_raw(), &mut raw, &mut bad) };
        if ret != 0 {
            return Err(not_posted(&mut self.sq, "ibv_post_send", ret, 0, 1));
        }
        self.sq.commit(1);
        Ok(())
    }

    /// Posts one receive work request (`ibv_post_recv`). An owned buffer stays with the QP
    /// until [`complete`](Self::complete) hands it back; a sink's use is released there too.
    /// No allocation, no lock of ours.
    #[inline(always)]
    pub fn post_recv(&mut self, wr: RecvWr) -> Result<(), PostError> {
        let mut sge = MaybeUninit::uninit();
        let mut raw = MaybeUninit::uninit();
        let raw = self.stage_recv(0, wr, &mut raw, &mut sge)?;
        let mut bad = ptr::null_mut();
        // SAFETY: the QP is live; the SGE, if any (`num_sge` is 1; with 0 the provider reads
        // none, and `sge` may be uninitialized), describes memory owned by the ring entry
        // just staged, or of a sink held by this QP (which no Rust code can reach, and which
        // the entry, outstanding once committed, keeps in the QP until the request completes
        // or the QP is destroyed).
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
fn remote_too_small(local_len: u64, remote_len: u64) -> Error {
    Error::InvalidArgument(format!(
        "{local_len} local bytes do not fit the {remote_len}-byte remote buffer"
    ))
}

#[cold]
#[inline(never)]
pub(crate) fn range_error(offset: usize, len: usize, have: usize) -> Error {
    Error::InvalidArgument(format!(
        "range {offset}..{} does not fit a {have}-byte buffer (or exceeds 4 GiB)",
        offset.saturating_add(len)
    ))
}

//! The check of a send-queue request, apart from staging it: [`QueuePair::check_send`] says
//! whether a [`SendWr`](super::SendWr) may be posted on this QP and fills the raw request; a
//! post then stages it ([`QueuePair::stage_send`]), a template keeps it
//! ([`Run::prepare`](crate::prepared::Run::prepare)).
//!
//! A refusal is a [`SendFault`], plain data: the error (which allocates its message) is made
//! from it only after the request's buffer has moved into the refusal (see `refused` in
//! `post.rs`).

use super::post::{range_error, refused};
use super::post_error::PostError;
use super::ring::Held;
use super::send_wr::LocalRef;
use super::slots::SlotKind;
use super::{QpType, QueuePair};
use crate::error::Error;
use crate::mr::{MemoryRegion, RemoteBuf};
use crate::sys;
use crate::sys::ibv_send_flags as flag;
use crate::sys::ibv_wr_opcode as op;
use std::mem::MaybeUninit;

/// A [`SendWr`](super::SendWr) taken apart, with its owned buffer (if any) borrowed.
#[derive(Clone, Copy)]
pub(crate) struct SendParts<'a, 'b> {
    pub(crate) opcode: u32,
    pub(crate) local: LocalRef<'a>,
    pub(crate) buf: Option<&'b MemoryRegion>,
    pub(crate) start: usize,
    pub(crate) len: Option<usize>,
    pub(crate) remote: Option<RemoteBuf>,
    pub(crate) imm: Option<u32>,
    pub(crate) flags: u32,
    pub(crate) atomic: [u64; 2],
    /// The request has further pieces: only a single post takes those.
    pub(crate) gather: bool,
}

/// Why a send-queue request was refused.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SendFault {
    OwnedUnsignaled,
    Range {
        start: usize,
        len: usize,
        have: usize,
    },
    SharedRead,
    NoSlot(SlotKind, u32),
    SinkNotRead,
    InlineTooLong(usize),
    InlineRead,
    RemoteTooSmall {
        local: u64,
        remote: u64,
    },
    ImmOpcode,
    AtomicLen(usize),
    AtomicAlign(u64),
    NoAtomics,
    /// READ or an atomic on a UC QP.
    NotOnUc(u32),
    /// Further pieces in a batch or a template.
    GatherHere,
}

/// True for the operations that write their local buffer (READ and the atomics).
#[inline(always)]
fn writes_local(opcode: u32) -> bool {
    matches!(
        opcode,
        op::IBV_WR_RDMA_READ | op::IBV_WR_ATOMIC_CMP_AND_SWP | op::IBV_WR_ATOMIC_FETCH_AND_ADD
    )
}

/// True for compare-and-swap and fetch-and-add.
#[inline(always)]
fn is_atomic(opcode: u32) -> bool {
    matches!(
        opcode,
        op::IBV_WR_ATOMIC_CMP_AND_SWP | op::IBV_WR_ATOMIC_FETCH_AND_ADD
    )
}

impl QueuePair {
    /// Checks a request against this QP and fills `raw` but its `wr_id`, `next` and
    /// `sg_list`: every caller passes `ibv_send_wr::default()`, whose `next` is already NULL
    /// (storing it again would cost every post an instruction). When the request has an SGE, writes it to `sge` and sets
    /// `raw.num_sge` to 1; else sets it to 0 and leaves `sge` alone. Returns what the
    /// request's ring entry is to hold. Changes nothing of the QP.
    #[inline(always)]
    pub(crate) fn check_send(
        &self,
        wr: SendParts<'_, '_>,
        raw: &mut sys::ibv_send_wr,
        sge: &mut MaybeUninit<sys::ibv_sge>,
    ) -> Result<Held, SendFault> {
        let SendParts {
            opcode,
            local,
            buf,
            start,
            len,
            remote,
            imm,
            flags,
            atomic,
            gather,
        } = wr;
        if gather {
            return Err(SendFault::GatherHere);
        }
        if writes_local(opcode) && self.qp_type == QpType::Uc {
            return Err(SendFault::NotOnUc(opcode));
        }
        if is_atomic(opcode) && !self.atomics {
            return Err(SendFault::NoAtomics);
        }
        let mut flags = flags | self.sig_flag;
        let signaled = flags & flag::IBV_SEND_SIGNALED != 0;
        let fits = |have: usize| {
            let len = len.unwrap_or(have.saturating_sub(start));
            (len, have)
        };
        let (held, s) = match local {
            LocalRef::Owned => {
                let Some(mr) = buf else {
                    unreachable!("split gives an owned local its buffer")
                };
                if !signaled {
                    return Err(SendFault::OwnedUnsignaled);
                }
                let (len, have) = fits(mr.len());
                if is_atomic(opcode) && len != 8 {
                    return Err(SendFault::AtomicLen(len));
                }
                match mr.sge(start, len) {
                    Some(s) => (Held::Owned, Some(s)),
                    None => return Err(SendFault::Range { start, len, have }),
                }
            }
            LocalRef::Shared(p) => {
                if writes_local(opcode) {
                    return Err(SendFault::SharedRead);
                }
                let Some(slot) = self.slot(p.0, SlotKind::Source) else {
                    return Err(SendFault::NoSlot(SlotKind::Source, p.0));
                };
                let (len, have) = fits(slot.len());
                match slot.sge(start, len) {
                    Some(s) => (Held::Slot(p.0), Some(s)),
                    None => return Err(SendFault::Range { start, len, have }),
                }
            }
            LocalRef::Sink(k) => {
                if !writes_local(opcode) {
                    return Err(SendFault::SinkNotRead);
                }
                let Some(slot) = self.slot(k.0, SlotKind::Sink) else {
                    return Err(SendFault::NoSlot(SlotKind::Sink, k.0));
                };
                let (len, have) = fits(slot.len());
                if is_atomic(opcode) && len != 8 {
                    return Err(SendFault::AtomicLen(len));
                }
                match slot.sge(start, len) {
                    Some(s) => (Held::Slot(k.0), Some(s)),
                    None => return Err(SendFault::Range { start, len, have }),
                }
            }
            LocalRef::Inline(data) => {
                let n = data.len();
                if n > self.caps.max_inline_data as usize {
                    return Err(SendFault::InlineTooLong(n));
                }
                if writes_local(opcode) {
                    return Err(SendFault::InlineRead);
                }
                flags |= flag::IBV_SEND_INLINE;
                let s = sys::ibv_sge {
                    addr: data.as_ptr() as u64,
                    length: n as u32,
                    lkey: 0,
                };
                (Held::Nothing, (n != 0).then_some(s))
            }
            LocalRef::Empty => (Held::Nothing, None),
        };
        let local_len = s.map_or(0, |s| s.length as u64);
        let mut opcode = opcode;
        if let Some(remote) = remote {
            if local_len > remote.len {
                return Err(SendFault::RemoteTooSmall {
                    local: local_len,
                    remote: remote.len,
                });
            }
            if is_atomic(opcode) {
                if remote.addr % 8 != 0 {
                    return Err(SendFault::AtomicAlign(remote.addr));
                }
                raw.wr.atomic = sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_2 {
                    remote_addr: remote.addr,
                    compare_add: atomic[0],
                    swap: atomic[1],
                    rkey: remote.rkey,
                };
            } else {
                raw.wr.rdma = sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_1 {
                    remote_addr: remote.addr,
                    rkey: remote.rkey,
                };
            }
        }
        if let Some(imm) = imm {
            opcode = match opcode {
                op::IBV_WR_SEND => op::IBV_WR_SEND_WITH_IMM,
                op::IBV_WR_RDMA_WRITE => op::IBV_WR_RDMA_WRITE_WITH_IMM,
                _ => return Err(SendFault::ImmOpcode),
            };
            raw.__bindgen_anon_1.imm_data = imm.to_be();
        }
        raw.opcode = opcode;
        raw.send_flags = flags;
        raw.num_sge = match s {
            Some(s) => {
                sge.write(s);
                1
            }
            None => 0,
        };
        Ok(held)
    }

    /// The refusal of a request that [`check_send`](Self::check_send) refused: it checks
    /// `parts` again (with `buf`, the request's buffer) to name the fault, and hands `buf` back.
    #[cold]
    #[inline(never)]
    pub(crate) fn refuse_send(
        &self,
        buf: Option<MemoryRegion>,
        parts: SendParts<'_, '_>,
    ) -> PostError {
        let parts = SendParts {
            buf: buf.as_ref(),
            ..parts
        };
        let mut raw = sys::ibv_send_wr::default();
        let fault = self.check_send(parts, &mut raw, &mut MaybeUninit::uninit());
        let Err(f) = fault else {
            unreachable!("a request refused once is refused again")
        };
        refused(buf, || self.send_fault(f))
    }

    /// The error a [`SendFault`] stands for.
    #[cold]
    #[inline(never)]
    pub(crate) fn send_fault(&self, f: SendFault) -> Error {
        let invalid = |s: &str| Error::InvalidArgument(s.into());
        match f {
            SendFault::OwnedUnsignaled => invalid(
                "an unsignaled work request cannot own a buffer: signal it, or share the buffer \
                 (QueuePair::share)",
            ),
            SendFault::Range { start, len, have } => range_error(start, len, have),
            SendFault::SharedRead => {
                invalid("an RDMA READ writes its local buffer: it cannot be a shared read-only one")
            }
            SendFault::NoSlot(kind, i) => self.no_slot(kind, i),
            SendFault::SinkNotRead => invalid(
                "a sink is the destination of RDMA READs, atomics and receives only: the device \
                 may be writing it",
            ),
            SendFault::InlineTooLong(n) => self.inline_too_long(n),
            SendFault::InlineRead => invalid("an RDMA READ or atomic cannot be inline"),
            SendFault::AtomicLen(len) => Error::InvalidArgument(format!(
                "an atomic's local result is 8 bytes, not {len}: give it 8 (SendWr::range)"
            )),
            SendFault::AtomicAlign(addr) => Error::InvalidArgument(format!(
                "an atomic's remote address must be 8-byte aligned, {addr:#x} is not"
            )),
            SendFault::NotOnUc(opcode) => Error::InvalidArgument(format!(
                "QP {:#x} is UC, which cannot post {}: UC has SEND and RDMA WRITE only (RC has all)",
                self.qpn,
                if opcode == op::IBV_WR_RDMA_READ {
                    "an RDMA READ"
                } else {
                    "an atomic"
                }
            )),
            SendFault::NoAtomics => Error::Unsupported {
                what: "atomic operations (the device's atomic_cap is IBV_ATOMIC_NONE)",
                device: self.pd().context().name().to_string(),
            },
            SendFault::RemoteTooSmall { local, remote } => Error::InvalidArgument(format!(
                "{local} local bytes do not fit the {remote}-byte remote buffer"
            )),
            SendFault::ImmOpcode => invalid("only SEND and RDMA WRITE carry immediate data"),
            SendFault::GatherHere => invalid(
                "a request with further pieces (SendWr::gather) is posted alone: \
                 QueuePair::post_send, not a batch or a template",
            ),
        }
    }
}

//! Send-queue work requests, built by value: [`SendWr`] and its [`Local`] side.

use super::gather::Piece;
use super::send_check::SendParts;
#[cfg(doc)]
use super::QueuePair;
use super::{Shared, Sink};
use crate::mr::{MemoryRegion, RemoteBuf};
use crate::sys::ibv_send_flags as flag;
use crate::sys::ibv_wr_opcode as op;

/// The local side of a send-queue work request.
#[derive(Debug)]
pub enum Local<'a> {
    /// A piece handed to the QP and given back by [`QueuePair::complete`].
    Owned(MemoryRegion),
    /// A read-only buffer shared with the QP ([`QueuePair::share`]).
    Shared(Shared),
    /// Bytes the provider copies into the work request at post time (`IBV_SEND_INLINE`).
    Inline(&'a [u8]),
    /// A write-only target held by the QP ([`QueuePair::sink`]): the destination of an RDMA
    /// READ only.
    Sink(Sink),
    /// No local data (a zero-length send or write with immediate).
    Empty,
}

/// [`Local`] without its buffer: what [`Local::split`] leaves, `Copy` and without a destructor.
#[derive(Clone, Copy)]
pub(crate) enum LocalRef<'a> {
    Owned,
    Shared(Shared),
    Inline(&'a [u8]),
    Sink(Sink),
    Empty,
}

impl<'a> Local<'a> {
    /// The buffer an owned local holds (`Some` exactly for [`Local::Owned`]) and the rest.
    #[inline(always)]
    pub(crate) fn split(self) -> (Option<MemoryRegion>, LocalRef<'a>) {
        match self {
            Local::Owned(mr) => (Some(mr), LocalRef::Owned),
            Local::Shared(p) => (None, LocalRef::Shared(p)),
            Local::Inline(d) => (None, LocalRef::Inline(d)),
            Local::Sink(k) => (None, LocalRef::Sink(k)),
            Local::Empty => (None, LocalRef::Empty),
        }
    }
}

impl From<MemoryRegion> for Local<'_> {
    #[inline]
    fn from(mr: MemoryRegion) -> Self {
        Local::Owned(mr)
    }
}
impl From<Shared> for Local<'_> {
    #[inline]
    fn from(p: Shared) -> Self {
        Local::Shared(p)
    }
}
impl<'a> From<&'a [u8]> for Local<'a> {
    #[inline]
    fn from(b: &'a [u8]) -> Self {
        Local::Inline(b)
    }
}

/// A send-queue work request: SEND, SEND with immediate, RDMA WRITE (with immediate), RDMA
/// READ, or an atomic (compare-and-swap, fetch-and-add). Built by value and moved into [`QueuePair::post_send`] or a
/// [`SendBatch`](crate::SendBatch).
#[derive(Debug)]
pub struct SendWr<'a> {
    pub(crate) opcode: u32,
    pub(crate) local: Local<'a>,
    pub(crate) offset: usize,
    pub(crate) len: Option<usize>,
    pub(crate) remote: Option<RemoteBuf>,
    pub(crate) imm: Option<u32>,
    pub(crate) flags: u32,
    pub(crate) wr_id: u64,
    /// An atomic's operands: compare (or add) and swap.
    pub(crate) atomic: [u64; 2],
    /// Further local pieces ([`gather`](Self::gather)).
    pub(crate) more: &'a [Piece<'a>],
}

impl<'a> SendWr<'a> {
    #[inline]
    fn new(opcode: u32, local: Local<'a>, remote: Option<RemoteBuf>) -> Self {
        SendWr {
            opcode,
            local,
            offset: 0,
            len: None,
            remote,
            imm: None,
            flags: flag::IBV_SEND_SIGNALED,
            wr_id: 0,
            atomic: [0; 2],
            more: &[],
        }
    }

    /// A SEND of `local` to the peer's next receive.
    #[inline]
    pub fn send(local: impl Into<Local<'a>>) -> Self {
        Self::new(op::IBV_WR_SEND, local.into(), None)
    }

    /// An RDMA WRITE of `local` to `remote` (which must be at least as long).
    #[inline]
    pub fn write(local: impl Into<Local<'a>>, remote: RemoteBuf) -> Self {
        Self::new(op::IBV_WR_RDMA_WRITE, local.into(), Some(remote))
    }

    /// An RDMA READ of `remote` into `dst` (the device writes `dst`, so it must be owned).
    #[inline]
    pub fn read(dst: MemoryRegion, remote: RemoteBuf) -> Self {
        Self::new(op::IBV_WR_RDMA_READ, Local::Owned(dst), Some(remote))
    }

    /// An RDMA READ of `remote` into a [`Sink`] of this QP: any number may be outstanding,
    /// signaled or not; the data cannot be looked at until the sink is taken back.
    #[inline]
    pub fn read_to_sink(sink: Sink, remote: RemoteBuf) -> Self {
        Self::new(op::IBV_WR_RDMA_READ, Local::Sink(sink), Some(remote))
    }

    /// An atomic fetch-and-add on the 8 bytes at `remote` (8-byte aligned, registered with
    /// [`Access::REMOTE_ATOMIC`](crate::Access::REMOTE_ATOMIC)): the peer's value becomes
    /// itself plus `add`, and the value before lands in `dst` (8 bytes; use
    /// [`range`](Self::range) for 8 bytes of a larger region), which the QP owns until the
    /// completion hands it back. The peer's memory is in the peer's byte order.
    #[inline]
    pub fn fetch_add(dst: MemoryRegion, remote: RemoteBuf, add: u64) -> Self {
        let mut wr = Self::new(
            op::IBV_WR_ATOMIC_FETCH_AND_ADD,
            Local::Owned(dst),
            Some(remote),
        );
        wr.atomic = [add, 0];
        wr
    }

    /// An atomic compare-and-swap on the 8 bytes at `remote` (as for
    /// [`fetch_add`](Self::fetch_add)): if they equal `compare` they become `swap`. The value
    /// before lands in `dst` either way: the swap happened when it equals `compare`.
    #[inline]
    pub fn compare_swap(dst: MemoryRegion, remote: RemoteBuf, compare: u64, swap: u64) -> Self {
        let mut wr = Self::new(
            op::IBV_WR_ATOMIC_CMP_AND_SWP,
            Local::Owned(dst),
            Some(remote),
        );
        wr.atomic = [compare, swap];
        wr
    }

    /// An atomic fetch-and-add, as [`fetch_add`](Self::fetch_add), whose value before lands in
    /// 8 bytes of a [`Sink`] of this QP (use [`range`](Self::range) to pick them): any number
    /// may be outstanding, signaled or not; the results cannot be looked at until the sink is
    /// taken back.
    #[inline]
    pub fn fetch_add_to_sink(sink: Sink, remote: RemoteBuf, add: u64) -> Self {
        let mut wr = Self::new(
            op::IBV_WR_ATOMIC_FETCH_AND_ADD,
            Local::Sink(sink),
            Some(remote),
        );
        wr.atomic = [add, 0];
        wr
    }

    /// An atomic compare-and-swap, as [`compare_swap`](Self::compare_swap), whose value before
    /// lands in 8 bytes of a [`Sink`] of this QP (as for
    /// [`fetch_add_to_sink`](Self::fetch_add_to_sink)).
    #[inline]
    pub fn compare_swap_to_sink(sink: Sink, remote: RemoteBuf, compare: u64, swap: u64) -> Self {
        let mut wr = Self::new(
            op::IBV_WR_ATOMIC_CMP_AND_SWP,
            Local::Sink(sink),
            Some(remote),
        );
        wr.atomic = [compare, swap];
        wr
    }

    /// Adds immediate data: SEND becomes SEND_WITH_IMM, WRITE becomes WRITE_WITH_IMM (which
    /// consumes a receive on the peer and tells it the write has landed).
    #[inline]
    pub fn imm(mut self, imm: u32) -> Self {
        self.imm = Some(imm);
        self
    }

    /// The caller's id, given back in the completion.
    #[inline]
    pub fn wr_id(mut self, id: u64) -> Self {
        self.wr_id = id;
        self
    }

    /// Whether a completion is generated (default true). Unsignaled requests complete
    /// silently when a later signaled one does; they cannot own a buffer (use
    /// [`Local::Shared`] or [`Local::Inline`]).
    #[inline]
    pub fn signaled(mut self, yes: bool) -> Self {
        if yes {
            self.flags |= flag::IBV_SEND_SIGNALED;
        } else {
            self.flags &= !flag::IBV_SEND_SIGNALED;
        }
        self
    }

    /// Sets the solicited-event bit (wakes a peer waiting with `solicited_only`).
    #[inline]
    pub fn solicited(mut self) -> Self {
        self.flags |= flag::IBV_SEND_SOLICITED;
        self
    }

    /// Waits for earlier RDMA READs to finish before this request starts.
    #[inline]
    pub fn fence(mut self) -> Self {
        self.flags |= flag::IBV_SEND_FENCE;
        self
    }

    /// Uses only `offset..offset+len` of the local buffer (default: all of it).
    #[inline]
    pub fn range(mut self, offset: usize, len: usize) -> Self {
        self.offset = offset;
        self.len = Some(len);
        self
    }

    /// Adds further local pieces after the first (the local side): a SEND or WRITE gathers
    /// them in order, a READ scatters into them. Up to the QP's `max_send_sge` pieces in
    /// all; see [`Piece`] and the [`gather`](crate::gather) module. Posted by
    /// [`QueuePair::post_send`] (and a UD QP's), not by batches or templates.
    #[inline]
    pub fn gather(mut self, more: &'a [Piece<'a>]) -> Self {
        self.more = more;
        self
    }

    /// The request taken apart: the buffer it owns (the only part with a destructor), its
    /// `wr_id`, and the rest as [`SendParts`] (whose `buf` the caller points at the buffer).
    /// Taken apart first, the rest never needs to be in memory: a value that a drop, even one
    /// on an unwinding path, gets the address of, stays in memory.
    #[inline(always)]
    pub(crate) fn into_parts(self) -> (Option<MemoryRegion>, u64, SendParts<'a, 'static>) {
        let SendWr {
            opcode,
            local,
            offset,
            len,
            remote,
            imm,
            flags,
            wr_id,
            atomic,
            more,
        } = self;
        let (buf, local) = local.split();
        let parts = SendParts {
            opcode,
            local,
            buf: None,
            start: offset,
            len,
            remote,
            imm,
            flags,
            atomic,
            gather: !more.is_empty(),
        };
        (buf, wr_id, parts)
    }

    /// The buffer this request owns, handed back when it is not posted.
    #[inline(always)]
    pub(crate) fn into_owned(self) -> Option<MemoryRegion> {
        self.local.split().0
    }
}

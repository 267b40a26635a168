//! Buffers that stay with a queue pair across many work requests: read-only sources
//! ([`Shared`]) and write-only targets ([`Sink`]).
//!
//! Both live in one table of the QP. The ring entry of every work request that uses a slot
//! names it, so taking a buffer back looks for outstanding requests that use it (off the data
//! path: posting stores nothing for the slot), and its kind decides what Rust code may do with
//! it while it is in the table: a shared source is readable (the device only reads it), a sink
//! is not reachable at all (the device may write it at any moment). A handle of one kind never reaches a slot of the other kind,
//! even a stale handle whose slot was freed and reused: every use checks the kind.

use super::QueuePair;
use crate::error::{Error, Result};
use crate::mr::MemoryRegion;
use crate::sys;

/// A read-only buffer given to a queue pair with [`QueuePair::share`]: it can be the source of
/// any number of outstanding sends and writes, signaled or not, because the QP keeps it until
/// [`QueuePair::unshare`] finds no work request using it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shared(pub(crate) u32);

/// A write-only target given to a queue pair with [`QueuePair::sink`]: any number of
/// outstanding receives ([`RecvWr::recv_to_sink`](super::RecvWr::recv_to_sink)) and RDMA READs
/// ([`SendWr::read_to_sink`](super::SendWr::read_to_sink)) may land in it at once, signaled
/// or not. Nothing can read it until [`QueuePair::unsink`] hands it back with no work request
/// using it, so the device's writes never race with Rust code.
///
/// This is what a benchmark receiver or a reader that discards the data needs: many requests
/// in flight over one small buffer, as perftest does, without a buffer per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sink(pub(crate) u32);

/// What a slot of the table holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotKind {
    /// A shared source: readable, only read by the device.
    Source,
    /// A sink: written by the device, unreachable from Rust.
    Sink,
    /// Nothing: the buffer was taken back (the slot is reused by the next share or sink).
    Free,
}

/// A slot of the table. It keeps no count of the requests using it (that would be an
/// increment per post and a decrement per retired request): each request's ring entry names
/// the slot, and [`QueuePair::unshare`] and [`QueuePair::unsink`] look through the outstanding
/// entries of both queues. Posting and retiring do nothing here.
pub(crate) struct BufSlot {
    /// `Free` exactly when `mr` is `None`.
    pub(crate) kind: SlotKind,
    /// `mr`'s address, length and lkey, copied when it came in (it does not change while it
    /// is in the table), so that a post reads them here rather than through the region.
    addr: u64,
    len: usize,
    lkey: u32,
    pub(crate) mr: Option<MemoryRegion>,
    /// Per queue (send, receive): the requests of [runs](crate::prepared::Run) that may use the slot
    /// (their entries do not name it) are all before this sequence number: the queue's head
    /// when the last run using it ended, [`RUN_OPEN`] while one that may use it has not ended
    /// (forever, if it was leaked). 0: none.
    pub(crate) run_until: [u64; 2],
}

/// [`BufSlot::run_until`] while a run that may use the slot has not ended.
pub(crate) const RUN_OPEN: u64 = u64::MAX;

impl BufSlot {
    /// The length of the buffer.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The SGE describing `offset..offset+len` of the buffer, if it fits in it and in a u32
    /// (as [`MemoryRegion`]'s own SGEs).
    #[inline(always)]
    pub(crate) fn sge(&self, offset: usize, len: usize) -> Option<sys::ibv_sge> {
        let fits = offset.checked_add(len).is_some_and(|end| end <= self.len);
        if !fits || len > u32::MAX as usize {
            return None;
        }
        Some(sys::ibv_sge {
            addr: self.addr + offset as u64,
            length: len as u32,
            lkey: self.lkey,
        })
    }
}

impl QueuePair {
    fn add_slot(&mut self, mr: MemoryRegion, kind: SlotKind) -> u32 {
        debug_assert!(kind != SlotKind::Free);
        let slot = BufSlot {
            kind,
            addr: mr.addr(),
            len: mr.len(),
            lkey: mr.lkey(),
            mr: Some(mr),
            run_until: [0; 2],
        };
        if let Some(i) = self.slots.iter().position(|s| s.kind == SlotKind::Free) {
            self.slots[i] = slot;
            return i as u32;
        }
        self.slots.push(slot);
        self.slots.len() as u32 - 1
    }

    fn take_slot(&mut self, i: u32, kind: SlotKind) -> Result<MemoryRegion> {
        let what = match kind {
            SlotKind::Source => "shared buffer",
            SlotKind::Sink | SlotKind::Free => "sink",
        };
        // Staged entries need not be looked at: a batch staging them holds the QP.
        let users = self.sq.slot_uses(i) + self.rq.slot_uses(i);
        let tails = [self.sq.tail(), self.rq.tail()];
        match self.slots.get_mut(i as usize) {
            Some(slot) if slot.kind == kind && slot.mr.is_some() => {
                if slot.run_until[0] > tails[0] || slot.run_until[1] > tails[1] {
                    return Err(Error::InvalidArgument(format!(
                        "{what} {i} may still be used by outstanding work requests of a run{}",
                        if slot.run_until.contains(&RUN_OPEN) {
                            " that was never ended"
                        } else {
                            ""
                        }
                    )));
                }
                if users == 0 {
                    slot.kind = SlotKind::Free;
                    return Ok(slot.mr.take().expect("checked is_some"));
                }
                Err(Error::InvalidArgument(format!(
                    "{what} {i} is still used by {users} outstanding work requests"
                )))
            }
            _ => Err(Error::InvalidArgument(format!(
                "no {what} {i} on QP {:#x}",
                self.qpn
            ))),
        }
    }

    /// Slot `i` if it holds a buffer of `kind`.
    #[inline(always)]
    pub(crate) fn slot(&self, i: u32, kind: SlotKind) -> Option<&BufSlot> {
        debug_assert!(kind != SlotKind::Free);
        self.slots.get(i as usize).filter(|s| s.kind == kind)
    }

    /// The registered memory of slot `i` if it is in use and of `kind`.
    #[inline(always)]
    pub(crate) fn slot_mr(&self, i: u32, kind: SlotKind) -> Option<&MemoryRegion> {
        self.slot(i, kind).and_then(|s| s.mr.as_ref())
    }

    /// Gives the QP a read-only source buffer many requests may share (see [`Shared`]). Its bytes stay readable
    /// through [`shared`](Self::shared).
    pub fn share(&mut self, mr: MemoryRegion) -> Shared {
        Shared(self.add_slot(mr, SlotKind::Source))
    }

    /// A shared buffer, read-only.
    #[inline]
    pub fn shared(&self, p: Shared) -> Option<&MemoryRegion> {
        self.slot_mr(p.0, SlotKind::Source)
    }

    /// Takes a shared buffer back, once no outstanding work request uses it.
    pub fn unshare(&mut self, p: Shared) -> Result<MemoryRegion> {
        self.take_slot(p.0, SlotKind::Source)
    }

    /// Gives the QP a write-only target for receives and RDMA READs (see [`Sink`]). The
    /// buffer must be registered with [`Access::LOCAL_WRITE`](crate::Access::LOCAL_WRITE).
    pub fn sink(&mut self, mr: MemoryRegion) -> Sink {
        Sink(self.add_slot(mr, SlotKind::Sink))
    }

    /// Takes a sink back, once no outstanding work request writes it; its bytes are then
    /// whatever the last request wrote.
    pub fn unsink(&mut self, s: Sink) -> Result<MemoryRegion> {
        self.take_slot(s.0, SlotKind::Sink)
    }

    /// The length of a sink's buffer (`None` for a handle this QP does not hold).
    pub fn sink_len(&self, s: Sink) -> Option<usize> {
        self.slot(s.0, SlotKind::Sink).map(BufSlot::len)
    }
}

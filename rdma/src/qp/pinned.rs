//! Buffers that stay with a queue pair across many work requests: read-only sources
//! ([`Pinned`]) and write-only targets ([`Sink`]).
//!
//! Both live in one table of the QP. Each slot counts the outstanding work requests that use
//! it, and its kind decides what Rust code may do with it while it is in the table: a pinned
//! source is readable (the device only reads it), a sink is not reachable at all (the device
//! may write it at any moment). A handle of one kind never reaches a slot of the other kind,
//! even a stale handle whose slot was freed and reused: every use checks the kind.

use super::QueuePair;
use crate::error::{Error, Result};
use crate::mr::MemoryRegion;

/// A read-only buffer pinned to a queue pair with [`QueuePair::pin`]: it can be the source of
/// any number of outstanding sends and writes, signaled or not, because the QP keeps it until
/// [`QueuePair::unpin`] finds no work request using it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pinned(pub(crate) u32);

/// A write-only target given to a queue pair with [`QueuePair::sink`]: any number of
/// outstanding receives ([`QueuePair::post_recv_sink`]) and RDMA READs
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
    /// A pinned source: readable, only read by the device.
    Source,
    /// A sink: written by the device, unreachable from Rust.
    Sink,
}

pub(crate) struct PinnedSlot {
    pub(crate) mr: Option<MemoryRegion>,
    pub(crate) in_flight: u32,
    pub(crate) kind: SlotKind,
}

impl QueuePair {
    fn add_slot(&mut self, mr: MemoryRegion, kind: SlotKind) -> u32 {
        let slot = PinnedSlot {
            mr: Some(mr),
            in_flight: 0,
            kind,
        };
        if let Some(i) = self.pinned.iter().position(|s| s.mr.is_none()) {
            self.pinned[i] = slot;
            return i as u32;
        }
        self.pinned.push(slot);
        self.pinned.len() as u32 - 1
    }

    fn take_slot(&mut self, i: u32, kind: SlotKind) -> Result<MemoryRegion> {
        let what = match kind {
            SlotKind::Source => "pinned buffer",
            SlotKind::Sink => "sink",
        };
        match self.pinned.get_mut(i as usize) {
            Some(slot) if slot.mr.is_some() && slot.kind == kind && slot.in_flight == 0 => {
                Ok(slot.mr.take().expect("checked is_some"))
            }
            Some(slot) if slot.mr.is_some() && slot.kind == kind => {
                Err(Error::InvalidArgument(format!(
                    "{what} {i} is still used by {} outstanding work requests",
                    slot.in_flight
                )))
            }
            _ => Err(Error::InvalidArgument(format!(
                "no {what} {i} on QP {:#x}",
                self.qpn
            ))),
        }
    }

    /// The registered memory of slot `i` if it is in use and of `kind`, for building an SGE.
    #[inline(always)]
    pub(crate) fn slot_mr(&self, i: u32, kind: SlotKind) -> Option<&MemoryRegion> {
        self.pinned
            .get(i as usize)
            .filter(|s| s.kind == kind)
            .and_then(|s| s.mr.as_ref())
    }

    /// Pins a read-only source buffer to the QP (see [`Pinned`]). Its bytes stay readable
    /// through [`pinned`](Self::pinned).
    pub fn pin(&mut self, mr: MemoryRegion) -> Pinned {
        Pinned(self.add_slot(mr, SlotKind::Source))
    }

    /// A pinned buffer, read-only.
    pub fn pinned(&self, p: Pinned) -> Option<&MemoryRegion> {
        self.slot_mr(p.0, SlotKind::Source)
    }

    /// Takes a pinned buffer back, once no outstanding work request uses it.
    pub fn unpin(&mut self, p: Pinned) -> Result<MemoryRegion> {
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
        self.slot_mr(s.0, SlotKind::Sink).map(MemoryRegion::len)
    }
}

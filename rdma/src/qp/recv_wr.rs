//! Receive work requests, built by value: [`RecvWr`], and the check and staging of one.

use super::gather::Piece;
use super::post::{range_error, refused};
use super::post_error::PostError;
use super::ring::Held;
use super::slots::SlotKind;
use super::{QueuePair, Sink};
use crate::error::Error;
use crate::mr::MemoryRegion;
use crate::sys;
use std::mem::MaybeUninit;

/// Where a receive puts the bytes it takes.
#[derive(Debug)]
pub(super) enum RecvLocal {
    /// A piece handed to the QP and given back by [`QueuePair::complete`].
    Owned(MemoryRegion),
    /// A sink of the QP ([`QueuePair::sink`]).
    Sink(Sink),
    /// Nowhere: the receive takes a message without data (a zero-length SEND, or the
    /// immediate of an RDMA WRITE with immediate).
    Empty,
}

/// [`RecvLocal`] without its buffer: `Copy` and without a destructor.
#[derive(Clone, Copy)]
pub(crate) enum RecvRef {
    Owned,
    Sink(Sink),
    Empty,
}

/// A receive work request: where the next incoming SEND (or WRITE with immediate) lands.
/// Built by value and moved into [`QueuePair::post_recv`], a [`RecvBatch`](crate::RecvBatch)
/// or [`SharedReceiveQueue::post_recv`](crate::SharedReceiveQueue::post_recv).
#[derive(Debug)]
pub struct RecvWr<'a> {
    pub(super) local: RecvLocal,
    pub(super) offset: usize,
    pub(super) len: Option<usize>,
    pub(super) wr_id: u64,
    /// Further pieces ([`scatter`](Self::scatter)).
    pub(crate) more: &'a [Piece<'a>],
}

impl<'a> RecvWr<'a> {
    #[inline]
    fn new(local: RecvLocal) -> Self {
        RecvWr {
            local,
            offset: 0,
            len: None,
            wr_id: 0,
            more: &[],
        }
    }

    /// A receive into `buf`, which the queue owns until the completion hands it back.
    #[inline]
    pub fn recv(buf: MemoryRegion) -> Self {
        Self::new(RecvLocal::Owned(buf))
    }

    /// A receive into a [`Sink`] of the QP: any number may be outstanding at once; the bytes
    /// cannot be looked at until the sink is taken back ([`QueuePair::unsink`]).
    #[inline]
    pub fn recv_to_sink(sink: Sink) -> Self {
        Self::new(RecvLocal::Sink(sink))
    }

    /// A receive without a buffer: it takes a message without data, such as the immediate of
    /// an RDMA WRITE with immediate (the data went where the WRITE pointed).
    #[inline]
    pub fn empty() -> Self {
        Self::new(RecvLocal::Empty)
    }

    /// The caller's id, given back in the completion.
    #[inline]
    pub fn wr_id(mut self, id: u64) -> Self {
        self.wr_id = id;
        self
    }

    /// Receives into `offset..offset+len` of the buffer or sink only (default: all of it).
    #[inline]
    pub fn range(mut self, offset: usize, len: usize) -> Self {
        self.offset = offset;
        self.len = Some(len);
        self
    }

    /// Scatters the message over further pieces after the first (the buffer or sink): ranges
    /// of the same owned buffer ([`Piece::owned`]) or of sinks ([`Piece::sink`]), in order.
    /// Up to the QP's `max_recv_sge` pieces in all. Posted by [`QueuePair::post_recv`] (and
    /// a UD QP's), not by batches, templates or an SRQ.
    #[inline]
    pub fn scatter(mut self, more: &'a [Piece<'a>]) -> Self {
        self.more = more;
        self
    }

    /// The buffer an owned receive holds, borrowed.
    pub(crate) fn owned(&self) -> Option<&MemoryRegion> {
        match &self.local {
            RecvLocal::Owned(mr) => Some(mr),
            _ => None,
        }
    }

    /// True when the receive has further pieces.
    #[inline(always)]
    pub(crate) fn scatters(&self) -> bool {
        !self.more.is_empty()
    }

    /// The buffer an owned receive holds and the rest (of a receive without further pieces).
    #[inline(always)]
    pub(crate) fn split(self) -> (Option<MemoryRegion>, RecvRef, usize, Option<usize>, u64) {
        let RecvWr {
            local,
            offset,
            len,
            wr_id,
            more: _,
        } = self;
        let (buf, local) = match local {
            RecvLocal::Owned(mr) => (Some(mr), RecvRef::Owned),
            RecvLocal::Sink(s) => (None, RecvRef::Sink(s)),
            RecvLocal::Empty => (None, RecvRef::Empty),
        };
        (buf, local, offset, len, wr_id)
    }

    /// The buffer this request owns, handed back when it is not posted.
    #[inline(always)]
    pub(crate) fn into_owned(self) -> Option<MemoryRegion> {
        self.split().0
    }
}

/// Why a receive was refused, as plain data: the error is made from it only after the
/// request's buffer has moved into the refusal (see [`refused`]).
#[derive(Clone, Copy)]
pub(crate) enum RecvFault {
    Range {
        offset: usize,
        len: usize,
        have: usize,
    },
    NoSink(u32),
}

/// The refusal of a receive with further pieces where only a single post takes them.
#[cold]
#[inline(never)]
pub(crate) fn scatter_here(buf: Option<MemoryRegion>) -> PostError {
    refused(buf, || {
        Error::InvalidArgument(
            "a receive with further pieces (RecvWr::scatter) is posted alone: \
             QueuePair::post_recv, not a batch, a template or an SRQ"
                .into(),
        )
    })
}

impl QueuePair {
    /// The ring entry and SGE of a receive that owns no buffer (into a sink, or empty).
    /// Checks only; changes nothing.
    #[inline(always)]
    pub(crate) fn check_recv(
        &self,
        local: RecvRef,
        offset: usize,
        len: Option<usize>,
    ) -> Result<(Held, Option<sys::ibv_sge>), RecvFault> {
        match local {
            RecvRef::Sink(k) => {
                let Some(slot) = self.slot(k.0, SlotKind::Sink) else {
                    return Err(RecvFault::NoSink(k.0));
                };
                let have = slot.len();
                let len = len.unwrap_or(have.saturating_sub(offset));
                match slot.sge(offset, len) {
                    Some(s) => Ok((Held::Slot(k.0), Some(s))),
                    None => Err(RecvFault::Range { offset, len, have }),
                }
            }
            RecvRef::Empty => Ok((Held::Nothing, None)),
            RecvRef::Owned => unreachable!("owned receives are checked where they are staged"),
        }
    }

    /// The error a [`RecvFault`] stands for.
    #[cold]
    #[inline(never)]
    pub(crate) fn recv_fault(&self, f: RecvFault) -> Error {
        match f {
            RecvFault::Range { offset, len, have } => range_error(offset, len, have),
            RecvFault::NoSink(i) => self.no_slot(SlotKind::Sink, i),
        }
    }

    /// Checks `wr` and stages its ring entry `offset` places after the head; writes the raw
    /// request to `raw` (a single one: `next` is NULL; `sg_list` points at `sge`) and its
    /// SGE, if it has one, to `sge`. On error the request's buffer is handed back and nothing
    /// has changed.
    #[inline(always)]
    pub(crate) fn stage_recv<'w>(
        &mut self,
        offset: usize,
        wr: RecvWr<'_>,
        raw: &'w mut MaybeUninit<sys::ibv_recv_wr>,
        sge: &mut MaybeUninit<sys::ibv_sge>,
    ) -> Result<&'w mut sys::ibv_recv_wr, PostError> {
        if wr.scatters() {
            return Err(scatter_here(wr.into_owned()));
        }
        let RecvWr {
            local,
            offset: start,
            len,
            wr_id,
            more: _,
        } = wr;
        // State, room and nonce block in one comparison, as for sends.
        let room = self.rq.has_room(offset, 1);
        // On the variant, not on an `Option` of the buffer: a request built as owned is
        // known to be here, wherever its buffer came from.
        let local = match local {
            RecvLocal::Owned(mut mr) => {
                // The buffer goes through the call and back, rather than living across it,
                // which would keep it in memory.
                if !room {
                    mr = self.make_recv_room(offset, mr)?;
                }
                let have = mr.len();
                let len = len.unwrap_or(have.saturating_sub(start));
                let Some(s) = mr.sge(start, len) else {
                    return Err(refused(Some(mr), move || range_error(start, len, have)));
                };
                sge.write(s);
                let wr_id = self.rq.stage_owned(offset, wr_id, mr);
                return Ok(raw.write(raw_recv(wr_id, sge, 1)));
            }
            RecvLocal::Sink(k) => RecvRef::Sink(k),
            RecvLocal::Empty => RecvRef::Empty,
        };
        if !room {
            self.rq
                .make_room(offset, 1)
                .map_err(|why| refused(None, || self.no_room(true, why)))?;
        }
        let (held, s) = self
            .check_recv(local, start, len)
            .map_err(|f| refused(None, || self.recv_fault(f)))?;
        let num_sge = match s {
            Some(s) => {
                sge.write(s);
                1
            }
            None => 0,
        };
        let wr_id = self.rq.stage(offset, wr_id, held);
        Ok(raw.write(raw_recv(wr_id, sge, num_sge)))
    }

    /// `stage_recv`'s way when `has_room` failed: `buf` back when the receive may be staged
    /// after all, else the error with `buf` handed back.
    #[cold]
    #[inline(never)]
    fn make_recv_room(
        &mut self,
        offset: usize,
        buf: MemoryRegion,
    ) -> Result<MemoryRegion, PostError> {
        match self.rq.make_room(offset, 1) {
            Ok(()) => Ok(buf),
            Err(why) => Err(refused(Some(buf), || self.no_room(true, why))),
        }
    }
}

/// A single raw receive of `num_sge` SGEs at `sge`.
#[inline(always)]
fn raw_recv(wr_id: u64, sge: &mut MaybeUninit<sys::ibv_sge>, num_sge: i32) -> sys::ibv_recv_wr {
    sys::ibv_recv_wr {
        wr_id,
        next: std::ptr::null_mut(),
        sg_list: sge.as_mut_ptr(),
        num_sge,
    }
}

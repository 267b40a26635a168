//! Scatter-gather: a request of several local pieces, one SGE each. A send gathers
//! ([`SendWr::gather`](super::SendWr::gather)), a receive or RDMA READ scatters
//! ([`RecvWr::scatter`](super::RecvWr::scatter), [`SendWr::gather`] on a READ).
//!
//! The first piece is the request's local side as always (an owned buffer, a shared source,
//! a sink, inline bytes); the further [`Piece`]s are ranges of that same owned buffer, of
//! shared sources, of sinks, or more inline bytes. So a request still owns at most one
//! buffer, handed back whole by `complete`: a header and a payload in two places of it, or
//! a payload in it and a header from a shared buffer, go in one request. The pieces' slots are
//! kept in the QP until the request is done, as a run keeps its slots (their mark), so
//! `unshare` and `unsink` refuse meanwhile.
//!
//! Gathers are posted one at a time (`post_send`, `post_recv`, and the UD QP's): batches and
//! templates refuse them, as their SGE storage is one per request.

use super::post::{not_posted, refused};
use super::post_error::PostError;
use super::recv_wr::RecvWr;
use super::send_wr::{Local, SendWr};
use super::slots::SlotKind;
use super::{QueuePair, Shared, Sink};
use crate::error::Error;
use crate::mr::MemoryRegion;
use crate::sys;
use crate::sys::ibv_wr_opcode as op;
use std::mem::MaybeUninit;
use std::ptr;

/// The most pieces one request may have here (the device's `max_sge`, and the QP's
/// `max_send_sge`/`max_recv_sge`, may be lower): the SGEs of a gather are built on the stack.
pub const MAX_PIECES: usize = 32;

/// A further local piece of a request (after its first, the request's local side). See the
/// [module](self) documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// `offset..offset + len` of the buffer the request owns.
    Owned {
        /// Where the piece starts in the buffer.
        offset: usize,
        /// Its length.
        len: usize,
    },
    /// `offset..offset + len` of a shared source (sends and writes).
    Shared {
        /// The source.
        buf: Shared,
        /// Where the piece starts in it.
        offset: usize,
        /// Its length.
        len: usize,
    },
    /// `offset..offset + len` of a sink (receives and READs).
    Sink {
        /// The sink.
        buf: Sink,
        /// Where the piece starts in it.
        offset: usize,
        /// Its length.
        len: usize,
    },
    /// Bytes the provider copies at post time (an inline send: all its pieces are inline).
    Inline(&'a [u8]),
}

impl<'a> Piece<'a> {
    /// `offset..offset + len` of the request's own buffer.
    pub fn owned(offset: usize, len: usize) -> Self {
        Piece::Owned { offset, len }
    }
    /// `offset..offset + len` of the shared source `buf`.
    pub fn shared(buf: Shared, offset: usize, len: usize) -> Self {
        Piece::Shared { buf, offset, len }
    }
    /// `offset..offset + len` of the sink `buf`.
    pub fn sink(buf: Sink, offset: usize, len: usize) -> Self {
        Piece::Sink { buf, offset, len }
    }
    /// Inline bytes.
    pub fn inline(data: &'a [u8]) -> Self {
        Piece::Inline(data)
    }
}

/// Which side a gather is on: a send (the device reads the pieces) or a receive or READ (it
/// writes them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Read,
    Write,
}

impl QueuePair {
    /// The SGEs of `more` (into `out`, which has room), for a request whose own buffer is
    /// `owned`, whose first piece is inline or not, the device reading (`Dir::Read`) or
    /// writing the pieces. Checks only.
    fn piece_sges(
        &self,
        more: &[Piece<'_>],
        owned: Option<&MemoryRegion>,
        inline: bool,
        dir: Dir,
        out: &mut [sys::ibv_sge],
    ) -> Result<(), String> {
        for (k, (p, sge)) in more.iter().zip(out.iter_mut()).enumerate() {
            let k = k + 2;
            let fits = |got: Option<sys::ibv_sge>, have: usize, o: usize, l: usize| {
                got.ok_or_else(|| {
                    format!("piece {k}: range {o}..{} does not fit {have} bytes", o + l)
                })
            };
            if inline != matches!(p, Piece::Inline(_)) {
                return Err(format!(
                    "piece {k}: an inline request has inline pieces only, any other none"
                ));
            }
            *sge = match *p {
                Piece::Owned { offset, len } => {
                    let mr = owned.ok_or_else(|| {
                        format!("piece {k} is of the request's own buffer, and it owns none")
                    })?;
                    fits(mr.sge(offset, len), mr.len(), offset, len)?
                }
                Piece::Shared { buf, offset, len } => {
                    if dir == Dir::Write {
                        return Err(format!(
                            "piece {k}: the device writes this request's pieces: a shared \
                             buffer is read-only"
                        ));
                    }
                    let slot = self
                        .slot(buf.0, SlotKind::Source)
                        .ok_or_else(|| format!("piece {k}: no shared buffer {}", buf.0))?;
                    fits(slot.sge(offset, len), slot.len(), offset, len)?
                }
                Piece::Sink { buf, offset, len } => {
                    if dir == Dir::Read {
                        return Err(format!(
                            "piece {k}: a sink is written by receives and READs only"
                        ));
                    }
                    let slot = self
                        .slot(buf.0, SlotKind::Sink)
                        .ok_or_else(|| format!("piece {k}: no sink {}", buf.0))?;
                    fits(slot.sge(offset, len), slot.len(), offset, len)?
                }
                Piece::Inline(data) => sys::ibv_sge {
                    addr: data.as_ptr() as u64,
                    length: u32::try_from(data.len())
                        .map_err(|_| format!("piece {k}: too long"))?,
                    lkey: 0,
                },
            };
            if sge.length == 0 {
                return Err(format!("piece {k} is empty: leave it out"));
            }
        }
        Ok(())
    }

    /// Keeps the slots of `more`'s shared and sink pieces in the QP until the request with
    /// sequence number `seq` on queue `q` (0 send, 1 receive) is done.
    fn mark_pieces(&mut self, more: &[Piece<'_>], q: usize, seq: u64) {
        for p in more {
            let i = match *p {
                Piece::Shared { buf, .. } => buf.0,
                Piece::Sink { buf, .. } => buf.0,
                Piece::Owned { .. } | Piece::Inline(_) => continue,
            };
            if let Some(slot) = self.slots.get_mut(i as usize) {
                slot.run_until[q] = slot.run_until[q].max(seq + 1);
            }
        }
    }

    /// Posts a send-queue request with further pieces (`ibv_post_send`, whatever the QP's post
    /// API: see below). `ud` is a UD QP's
    /// addressing and largest message; `post_send` and the UD post come here when `wr` has
    /// pieces.
    #[inline(never)]
    pub(crate) fn post_send_gather(
        &mut self,
        wr: SendWr<'_>,
        ud: Option<(sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_3, u32)>,
    ) -> Result<(), PostError> {
        let more = wr.more;
        let n = 1 + more.len();
        let max = (self.caps.max_send_sge as usize).min(MAX_PIECES);
        let dir = match wr.opcode {
            op::IBV_WR_RDMA_READ => Dir::Write,
            op::IBV_WR_ATOMIC_CMP_AND_SWP | op::IBV_WR_ATOMIC_FETCH_AND_ADD => {
                return Err(refused(wr.into_owned(), || {
                    Error::InvalidArgument("an atomic has one 8-byte local piece".into())
                }))
            }
            _ => Dir::Read,
        };
        let mut sges = [sys::ibv_sge::default(); MAX_PIECES];
        let owned = match &wr.local {
            Local::Owned(mr) => Some(mr),
            _ => None,
        };
        let inline = matches!(wr.local, Local::Inline(_));
        let checked = if n > max {
            Err(format!(
                "{n} pieces, QP {:#x} takes at most {max} per send (max_send_sge)",
                self.qpn
            ))
        } else {
            self.piece_sges(more, owned, inline, dir, &mut sges[1..n])
        };
        if let Err(why) = checked {
            return Err(refused(wr.into_owned(), || Error::InvalidArgument(why)));
        }
        let remote = wr.remote;
        let seq = self.sq.seq_at(0);
        let mut raw = sys::ibv_send_wr::default();
        let mut first = MaybeUninit::uninit();
        self.stage_send(0, SendWr { more: &[], ..wr }, &mut raw, &mut first)?;
        let total = if raw.num_sge == 1 {
            // SAFETY: stage_send wrote the request's SGE when it gave it one.
            sges[0] = unsafe { first.assume_init() };
            sges[..n].iter().map(|s| s.length as u64).sum::<u64>()
        } else {
            u64::MAX
        };
        let why = if total == u64::MAX {
            Some("a request with further pieces needs a first one".to_string())
        } else if total > u32::MAX as u64 {
            Some(format!("{total} bytes in one request: at most 4 GiB"))
        } else if remote.is_some_and(|r| total > r.len) {
            Some(format!(
                "{total} local bytes do not fit the {}-byte remote buffer",
                remote.map_or(0, |r| r.len)
            ))
        } else if inline && total > self.caps.max_inline_data as u64 {
            Some(format!(
                "{total} bytes of inline data, QP {:#x} allows {}",
                self.qpn, self.caps.max_inline_data
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(self.unstage_one(Error::InvalidArgument(why)));
        }
        if let Some((addr, max_msg)) = ud {
            if total > max_msg as u64 {
                let e = Error::MessageTooLong {
                    len: total as usize,
                    max: max_msg,
                    qpn: self.qpn,
                };
                return Err(self.unstage_one(e));
            }
            raw.wr.ud = addr;
        }
        raw.sg_list = sges.as_mut_ptr();
        raw.num_sge = n as i32;
        let mut bad = ptr::null_mut();
        // Always `ibv_post_send`, on an extended QP too (mixing the two is valid outside a
        // `ibv_wr_start` section, and none is open across a post): rxe before rdma-core v64
        // sums an `ibv_wr_set_sge_list` as n times the first SGE's length (406cd2ad0) and an
        // `ibv_wr_set_inline_data_list` as 0 (1e8ed0aff), so a gather of unequal pieces
        // would arrive cut or padded.
        // SAFETY: the QP is live; `raw` is one request whose `n` SGEs describe memory owned by
        // the ring entry just staged (its buffer's ranges), slots of this QP (marked below,
        // before completing, which needs `&mut self`, can free them), or inline bytes.
        let ret = unsafe { sys::ibv_post_send(self.as_raw(), &mut raw, &mut bad) };
        if ret != 0 {
            return Err(not_posted(&mut self.sq, "ibv_post_send", ret, 0, 1));
        }
        self.mark_pieces(more, 0, seq);
        self.sq.commit(1);
        Ok(())
    }

    /// Posts a receive with further pieces (`ibv_post_recv`), after `lead` SGEs of the QP's
    /// own (a UD QP's header slot); `post_recv` and the UD post come here when `wr` has
    /// pieces.
    #[inline(never)]
    pub(crate) fn post_recv_scatter(
        &mut self,
        wr: RecvWr<'_>,
        lead: Option<sys::ibv_sge>,
    ) -> Result<(), PostError> {
        let more = wr.more;
        let l = lead.is_some() as usize;
        let n = l + 1 + more.len();
        let max = (self.caps.max_recv_sge as usize + l).min(MAX_PIECES);
        let mut sges = [sys::ibv_sge::default(); MAX_PIECES];
        let owned = wr.owned();
        let checked = if n > max {
            Err(format!(
                "{} pieces, QP {:#x} takes at most {} per receive (max_recv_sge)",
                n - l,
                self.qpn,
                max - l
            ))
        } else {
            self.piece_sges(more, owned, false, Dir::Write, &mut sges[l + 1..n])
        };
        if let Err(why) = checked {
            return Err(refused(wr.into_owned(), || Error::InvalidArgument(why)));
        }
        let seq = self.rq.seq_at(0);
        let mut raw = MaybeUninit::uninit();
        let mut first = MaybeUninit::uninit();
        let raw = self.stage_recv(0, RecvWr { more: &[], ..wr }, &mut raw, &mut first)?;
        if raw.num_sge == 0 {
            let e = Error::InvalidArgument(
                "a receive with further pieces needs a first one (not RecvWr::empty)".into(),
            );
            return Err(refused(None, || e));
        }
        if let Some(lead) = lead {
            sges[0] = lead;
        }
        // SAFETY: stage_recv wrote the request's SGE: it has one (num_sge is 1).
        sges[l] = unsafe { first.assume_init() };
        raw.sg_list = sges.as_mut_ptr();
        raw.num_sge = n as i32;
        let mut bad = ptr::null_mut();
        // SAFETY: the QP is live; the SGEs describe the QP's own lead slot, memory owned by
        // the ring entry just staged (its buffer's ranges) or sinks held by this QP (marked
        // below, before the receive can complete).
        let ret = unsafe { sys::ibv_post_recv(self.as_raw(), raw, &mut bad) };
        if ret != 0 {
            return Err(not_posted(&mut self.rq, "ibv_post_recv", ret, 0, 1));
        }
        self.mark_pieces(more, 1, seq);
        self.rq.commit(1);
        Ok(())
    }

    /// Takes back the one send staged at the head, with its buffer, refusing it with `e`.
    #[cold]
    fn unstage_one(&mut self, e: Error) -> PostError {
        let mut returned = Vec::new();
        self.sq.unstage_all(1, |b| returned.push(b));
        PostError::new(e, 0, returned)
    }
}

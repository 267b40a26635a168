//! Posting work requests one at a time, and the raw `unsafe` posts for experts. Chains posted
//! with one doorbell are in [`batch`](super::batch).

use super::pinned::SlotKind;
use super::ring::{Entry, Held};
use super::{Pinned, QpState, QueuePair, Sink, RECV_BIT};
use crate::error::Error;
use crate::mr::{MemoryRegion, RemoteBuf};
use crate::sys;
use crate::sys::ibv_send_flags as flag;
use crate::sys::ibv_wr_opcode as op;
use std::fmt;
use std::ptr;

/// The local side of a send-queue work request.
#[derive(Debug)]
pub enum Local<'a> {
    /// A piece handed to the QP and given back by [`QueuePair::complete`].
    Owned(MemoryRegion),
    /// A read-only buffer pinned to the QP ([`QueuePair::pin`]).
    Pinned(Pinned),
    /// Bytes the provider copies into the work request at post time (`IBV_SEND_INLINE`).
    Inline(&'a [u8]),
    /// A write-only target held by the QP ([`QueuePair::sink`]): the destination of an RDMA
    /// READ only.
    Sink(Sink),
    /// No local data (a zero-length send or write with immediate).
    Empty,
}

impl From<MemoryRegion> for Local<'_> {
    fn from(mr: MemoryRegion) -> Self {
        Local::Owned(mr)
    }
}
impl From<Pinned> for Local<'_> {
    fn from(p: Pinned) -> Self {
        Local::Pinned(p)
    }
}
impl<'a> From<&'a [u8]> for Local<'a> {
    fn from(b: &'a [u8]) -> Self {
        Local::Inline(b)
    }
}

/// A send-queue work request: SEND, SEND with immediate, RDMA WRITE (with immediate) or
/// RDMA READ. Built by value and moved into [`QueuePair::post_send`] or a
/// [`SendBatch`](crate::SendBatch).
#[derive(Debug)]
pub struct SendWr<'a> {
    opcode: u32,
    local: Local<'a>,
    offset: usize,
    len: Option<usize>,
    remote: Option<RemoteBuf>,
    imm: Option<u32>,
    flags: u32,
    wr_id: u64,
}

impl<'a> SendWr<'a> {
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
        }
    }

    /// A SEND of `local` to the peer's next receive.
    pub fn send(local: impl Into<Local<'a>>) -> Self {
        Self::new(op::IBV_WR_SEND, local.into(), None)
    }

    /// An RDMA WRITE of `local` to `remote` (which must be at least as long).
    pub fn write(local: impl Into<Local<'a>>, remote: RemoteBuf) -> Self {
        Self::new(op::IBV_WR_RDMA_WRITE, local.into(), Some(remote))
    }

    /// An RDMA READ of `remote` into `dst` (the device writes `dst`, so it must be owned).
    pub fn read(dst: MemoryRegion, remote: RemoteBuf) -> Self {
        Self::new(op::IBV_WR_RDMA_READ, Local::Owned(dst), Some(remote))
    }

    /// An RDMA READ of `remote` into a [`Sink`] of this QP: any number may be outstanding,
    /// signaled or not; the data cannot be looked at until the sink is taken back.
    pub fn read_to_sink(sink: Sink, remote: RemoteBuf) -> Self {
        Self::new(op::IBV_WR_RDMA_READ, Local::Sink(sink), Some(remote))
    }

    /// Adds immediate data: SEND becomes SEND_WITH_IMM, WRITE becomes WRITE_WITH_IMM (which
    /// consumes a receive on the peer and tells it the write has landed).
    pub fn imm(mut self, imm: u32) -> Self {
        self.imm = Some(imm);
        self
    }

    /// The caller's id, given back in the completion.
    pub fn wr_id(mut self, id: u64) -> Self {
        self.wr_id = id;
        self
    }

    /// Whether a completion is generated (default true). Unsignaled requests complete
    /// silently when a later signaled one does; they cannot own a buffer (use
    /// [`Local::Pinned`] or [`Local::Inline`]).
    pub fn signaled(mut self, yes: bool) -> Self {
        if yes {
            self.flags |= flag::IBV_SEND_SIGNALED;
        } else {
            self.flags &= !flag::IBV_SEND_SIGNALED;
        }
        self
    }

    /// Sets the solicited-event bit (wakes a peer waiting with `solicited_only`).
    pub fn solicited(mut self) -> Self {
        self.flags |= flag::IBV_SEND_SOLICITED;
        self
    }

    /// Waits for earlier RDMA READs to finish before this request starts.
    pub fn fence(mut self) -> Self {
        self.flags |= flag::IBV_SEND_FENCE;
        self
    }

    /// Uses only `offset..offset+len` of the local buffer (default: all of it).
    pub fn range(mut self, offset: usize, len: usize) -> Self {
        self.offset = offset;
        self.len = Some(len);
        self
    }

    /// The buffer this request owns, handed back when it is not posted.
    pub(super) fn into_returned(self) -> Vec<MemoryRegion> {
        give_back(self.local)
    }

    fn signaled_flag(&self) -> bool {
        self.flags & flag::IBV_SEND_SIGNALED != 0
    }
}

/// A post that failed: the error, how many requests of a batch were posted before it, and the
/// buffers of the requests that were not posted, handed back.
pub struct PostError {
    /// What went wrong.
    pub error: Error,
    /// Requests posted before the failing one (batches; 0 for single posts).
    pub posted: usize,
    /// Owned buffers of the requests that were not posted.
    pub returned: Vec<MemoryRegion>,
}

impl PostError {
    pub(super) fn new(error: Error, posted: usize, returned: Vec<MemoryRegion>) -> Self {
        PostError {
            error,
            posted,
            returned,
        }
    }
}

impl fmt::Debug for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostError")
            .field("error", &self.error)
            .field("posted", &self.posted)
            .field("returned", &self.returned.len())
            .finish()
    }
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for PostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<PostError> for Error {
    fn from(e: PostError) -> Error {
        e.error
    }
}

fn give_back(local: Local<'_>) -> Vec<MemoryRegion> {
    match local {
        Local::Owned(mr) => vec![mr],
        _ => Vec::new(),
    }
}

impl QueuePair {
    fn check_send_state(&self) -> Result<(), Error> {
        if self.state == QpState::Rts || self.state == QpState::Sqd {
            return Ok(());
        }
        Err(Error::QpState {
            what: "a send",
            qpn: self.qpn,
            state: self.state,
            needs: "RTS",
        })
    }

    pub(super) fn check_recv_state(&self) -> Result<(), Error> {
        if self.srq.is_some() {
            return Err(Error::InvalidArgument(format!(
                "QP {:#x} takes its receives from an SRQ: post them there",
                self.qpn
            )));
        }
        match self.state {
            QpState::Init | QpState::Rtr | QpState::Rts | QpState::Sqd => Ok(()),
            state => Err(Error::QpState {
                what: "a receive",
                qpn: self.qpn,
                state,
                needs: "INIT, RTR or RTS",
            }),
        }
    }

    /// Validates `wr`, fills the raw request and SGE, and stages its ring entry `offset`
    /// places after the head. On error the request's buffer is handed back.
    #[inline(always)]
    pub(super) fn stage_send(
        &mut self,
        offset: usize,
        wr: SendWr<'_>,
        raw: &mut sys::ibv_send_wr,
        sge: &mut sys::ibv_sge,
    ) -> Result<(), PostError> {
        macro_rules! bail {
            ($e:expr) => {
                return Err(PostError::new($e, 0, give_back(wr.local)))
            };
        }
        if !self.sq.has_room(offset, 1) {
            bail!(Error::QueueFull {
                queue: "send queue",
                qpn: self.qpn,
                depth: self.sq.cap()
            });
        }
        let signaled = wr.signaled_flag() || self.sig_all;
        let mut flags = wr.flags;
        let (held, sge_val) = match &wr.local {
            Local::Owned(mr) => {
                if !signaled {
                    bail!(Error::InvalidArgument(
                        "an unsignaled work request cannot own a buffer: signal it, or pin the \
                         buffer (QueuePair::pin)"
                            .into()
                    ));
                }
                let len = wr.len.unwrap_or(mr.len().saturating_sub(wr.offset));
                match mr.sge(wr.offset, len) {
                    Some(s) => (None, Some(s)),
                    None => bail!(range_error(wr.offset, len, mr.len())),
                }
            }
            Local::Pinned(p) => {
                if wr.opcode == op::IBV_WR_RDMA_READ {
                    bail!(Error::InvalidArgument(
                        "an RDMA READ writes its local buffer: it cannot be a pinned read-only one"
                            .into()
                    ));
                }
                let Some(mr) = self.pinned(*p) else {
                    bail!(Error::InvalidArgument(format!(
                        "no pinned buffer {} on QP {:#x}",
                        p.0, self.qpn
                    )));
                };
                let len = wr.len.unwrap_or(mr.len().saturating_sub(wr.offset));
                match mr.sge(wr.offset, len) {
                    Some(s) => (Some(Held::Pinned(p.0)), Some(s)),
                    None => bail!(range_error(wr.offset, len, mr.len())),
                }
            }
            Local::Sink(k) => {
                if wr.opcode != op::IBV_WR_RDMA_READ {
                    bail!(Error::InvalidArgument(
                        "a sink is the destination of RDMA READs and receives only: the device \
                         may be writing it"
                            .into()
                    ));
                }
                let Some(mr) = self.slot_mr(k.0, SlotKind::Sink) else {
                    bail!(Error::InvalidArgument(format!(
                        "no sink {} on QP {:#x}",
                        k.0, self.qpn
                    )));
                };
                let len = wr.len.unwrap_or(mr.len().saturating_sub(wr.offset));
                match mr.sge(wr.offset, len) {
                    Some(s) => (Some(Held::Pinned(k.0)), Some(s)),
                    None => bail!(range_error(wr.offset, len, mr.len())),
                }
            }
            Local::Inline(data) => {
                if data.len() > self.caps.max_inline_data as usize {
                    bail!(Error::InvalidArgument(format!(
                        "{} bytes of inline data, QP {:#x} allows {}",
                        data.len(),
                        self.qpn,
                        self.caps.max_inline_data
                    )));
                }
                if wr.opcode == op::IBV_WR_RDMA_READ {
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
                (Some(Held::Nothing), (!data.is_empty()).then_some(s))
            }
            Local::Empty => (Some(Held::Nothing), None),
        };
        let local_len = sge_val.map_or(0, |s| s.length as u64);
        let mut opcode = wr.opcode;
        if let Some(remote) = wr.remote {
            if local_len > remote.len {
                bail!(Error::InvalidArgument(format!(
                    "{local_len} local bytes do not fit the {}-byte remote buffer",
                    remote.len
                )));
            }
            raw.wr.rdma = sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_1 {
                remote_addr: remote.addr,
                rkey: remote.rkey,
            };
        }
        if let Some(imm) = wr.imm {
            opcode = match opcode {
                op::IBV_WR_SEND => op::IBV_WR_SEND_WITH_IMM,
                op::IBV_WR_RDMA_WRITE => op::IBV_WR_RDMA_WRITE_WITH_IMM,
                _ => bail!(Error::InvalidArgument(
                    "only SEND and RDMA WRITE carry immediate data".into()
                )),
            };
            raw.__bindgen_anon_1.imm_data = imm.to_be();
        }
        let held = match held {
            Some(h) => h,
            None => match wr.local {
                Local::Owned(mr) => Held::Owned(mr),
                _ => unreachable!("only owned buffers defer their hold"),
            },
        };
        if let Held::Pinned(i) = held {
            self.pinned[i as usize].in_flight += 1;
        }
        let nonce = self.sq.stage(
            offset,
            Entry {
                user_wr_id: wr.wr_id,
                held,
            },
        );
        raw.wr_id = nonce;
        raw.next = ptr::null_mut();
        raw.opcode = opcode;
        raw.send_flags = if signaled {
            flags | flag::IBV_SEND_SIGNALED
        } else {
            flags
        };
        match sge_val {
            Some(s) => {
                *sge = s;
                raw.sg_list = sge;
                raw.num_sge = 1;
            }
            None => {
                raw.sg_list = ptr::null_mut();
                raw.num_sge = 0;
            }
        }
        Ok(())
    }

    /// Takes back staged send entries `from..to` that were not posted.
    pub(super) fn unstage_sends(&mut self, from: usize, to: usize) -> Vec<MemoryRegion> {
        let mut out = Vec::new();
        for off in from..to {
            match self.sq.unstage(off).held {
                Held::Owned(mr) => out.push(mr),
                Held::Pinned(i) => self.pinned[i as usize].in_flight -= 1,
                Held::Nothing => {}
            }
        }
        out
    }

    /// Posts one send-queue work request (`ibv_post_send`). No allocation, no lock of ours.
    #[inline(always)]
    pub fn post_send(&mut self, wr: SendWr<'_>) -> Result<(), PostError> {
        if let Err(e) = self.check_send_state() {
            return Err(PostError::new(e, 0, give_back(wr.local)));
        }
        let mut raw = sys::ibv_send_wr::default();
        let mut sge = sys::ibv_sge::default();
        self.stage_send(0, wr, &mut raw, &mut sge)?;
        let mut bad = ptr::null_mut();
        // SAFETY: the QP is live; `raw` is a complete single request whose SGE points to memory
        // that is owned by the ring entry just staged, pinned to this QP, or (inline) copied
        // by the provider before it returns.
        let ret = unsafe { sys::ibv_post_send(self.as_raw(), &mut raw, &mut bad) };
        if ret != 0 {
            let returned = self.unstage_sends(0, 1);
            return Err(PostError::new(
                Error::from_ret("ibv_post_send", ret),
                0,
                returned,
            ));
        }
        self.sq.commit(1);
        Ok(())
    }

    /// Posts a receive of up to `buf.len()` bytes into `buf` (`ibv_post_recv`). The QP owns
    /// `buf` until [`complete`](Self::complete) hands it back.
    #[inline(always)]
    pub fn post_recv(&mut self, buf: MemoryRegion, wr_id: u64) -> Result<(), PostError> {
        if let Err(e) = self.check_recv_state() {
            return Err(PostError::new(e, 0, vec![buf]));
        }
        if !self.rq.has_room(0, 1) {
            let e = Error::QueueFull {
                queue: "receive queue",
                qpn: self.qpn,
                depth: self.rq.cap(),
            };
            return Err(PostError::new(e, 0, vec![buf]));
        }
        let Some(mut sge) = buf.sge(0, buf.len()) else {
            let e = range_error(0, buf.len(), buf.len());
            return Err(PostError::new(e, 0, vec![buf]));
        };
        let nonce = self.rq.stage(
            0,
            Entry {
                user_wr_id: wr_id,
                held: Held::Owned(buf),
            },
        );
        let mut raw = sys::ibv_recv_wr {
            wr_id: nonce | RECV_BIT,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
        };
        let mut bad = ptr::null_mut();
        // SAFETY: the QP is live; the SGE describes memory owned by the ring entry just staged,
        // which keeps it until the completion is handed back or the QP is destroyed.
        let ret = unsafe { sys::ibv_post_recv(self.as_raw(), &mut raw, &mut bad) };
        if ret != 0 {
            let returned = match self.rq.unstage(0).held {
                Held::Owned(mr) => vec![mr],
                _ => Vec::new(),
            };
            return Err(PostError::new(
                Error::from_ret("ibv_post_recv", ret),
                0,
                returned,
            ));
        }
        self.rq.commit(1);
        Ok(())
    }

    /// Posts a receive into `offset..offset + len` of a [`Sink`] (`ibv_post_recv`). Any number
    /// of receives may use one sink at once; the bytes received cannot be read until the sink
    /// is taken back with [`unsink`](Self::unsink). The completion still has to be handed to
    /// [`complete`](Self::complete), which releases the sink's use.
    #[inline(always)]
    pub fn post_recv_sink(
        &mut self,
        sink: Sink,
        offset: usize,
        len: usize,
        wr_id: u64,
    ) -> Result<(), Error> {
        self.check_recv_state()?;
        if !self.rq.has_room(0, 1) {
            return Err(Error::QueueFull {
                queue: "receive queue",
                qpn: self.qpn,
                depth: self.rq.cap(),
            });
        }
        let Some(mr) = self.slot_mr(sink.0, SlotKind::Sink) else {
            return Err(Error::InvalidArgument(format!(
                "no sink {} on QP {:#x}",
                sink.0, self.qpn
            )));
        };
        let Some(mut sge) = mr.sge(offset, len) else {
            return Err(range_error(offset, len, mr.len()));
        };
        let nonce = self.rq.stage(
            0,
            Entry {
                user_wr_id: wr_id,
                held: Held::Pinned(sink.0),
            },
        );
        let mut raw = sys::ibv_recv_wr {
            wr_id: nonce | RECV_BIT,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
        };
        let mut bad = ptr::null_mut();
        // SAFETY: the QP is live; the SGE describes memory of a sink held by this QP, which no
        // Rust code can reach and which the QP keeps (counted) until this request completes or
        // the QP is destroyed.
        let ret = unsafe { sys::ibv_post_recv(self.as_raw(), &mut raw, &mut bad) };
        if ret != 0 {
            self.rq.unstage(0);
            return Err(Error::from_ret("ibv_post_recv", ret));
        }
        self.pinned[sink.0 as usize].in_flight += 1;
        self.rq.commit(1);
        Ok(())
    }

    /// Posts raw send requests, bypassing the ownership checks.
    ///
    /// # Safety
    /// - Every SGE of every request in the chain describes memory registered in this QP's PD
    ///   that stays mapped, and that no Rust code reads (if the device writes it, as RDMA READ
    ///   does) or writes, until that request's completion has been polled (or the QP destroyed).
    /// - Inline data and the chain itself need only live for the call.
    /// - `wr_id`s must not have bit 63 or 62 set (the crate's marks); completions of raw
    ///   requests are not to be passed to [`complete`](Self::complete), which rejects them.
    /// - The send queue has room: raw posts are not counted in the safe API's accounting, so
    ///   leave at least as many slots free as raw requests outstanding.
    pub unsafe fn post_send_raw(&mut self, wr: &mut sys::ibv_send_wr) -> Result<(), Error> {
        let mut bad = ptr::null_mut();
        // SAFETY: forwarded from this function's contract; the QP is live.
        let ret = unsafe { sys::ibv_post_send(self.as_raw(), wr, &mut bad) };
        crate::error::check("ibv_post_send", ret)
    }

    /// Posts raw receive requests, bypassing the ownership checks.
    ///
    /// # Safety
    /// As [`post_send_raw`](Self::post_send_raw): every SGE describes registered memory that
    /// stays mapped and untouched by Rust code until the completion has been polled.
    pub unsafe fn post_recv_raw(&mut self, wr: &mut sys::ibv_recv_wr) -> Result<(), Error> {
        let mut bad = ptr::null_mut();
        // SAFETY: forwarded from this function's contract; the QP is live.
        let ret = unsafe { sys::ibv_post_recv(self.as_raw(), wr, &mut bad) };
        crate::error::check("ibv_post_recv", ret)
    }
}

pub(super) fn range_error(offset: usize, len: usize, have: usize) -> Error {
    Error::InvalidArgument(format!(
        "range {offset}..{} does not fit a {have}-byte buffer (or exceeds 4 GiB)",
        offset.saturating_add(len)
    ))
}

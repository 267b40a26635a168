//! Posting work requests: single posts, batches (one doorbell for a chain), and the raw
//! `unsafe` posts for experts.

use super::ring::{Entry, Held};
use super::{Pinned, QpState, QueuePair, RECV_BIT};
use crate::error::Error;
use crate::mr::{MemoryRegion, RemoteBuf};
use crate::sys;
use crate::sys::ibv_send_flags as flag;
use crate::sys::ibv_wr_opcode as op;
use std::fmt;
use std::mem::MaybeUninit;
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
/// RDMA READ. Built by value and moved into [`QueuePair::post_send`] or a [`SendBatch`].
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
    fn new(error: Error, posted: usize, returned: Vec<MemoryRegion>) -> Self {
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

    fn check_recv_state(&self) -> Result<(), Error> {
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
    #[inline]
    fn stage_send(
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
    fn unstage_sends(&mut self, from: usize, to: usize) -> Vec<MemoryRegion> {
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
    #[inline]
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
    #[inline]
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

    /// Starts a chain of up to `N` send-queue requests posted with one `ibv_post_send` (one
    /// doorbell). The batch borrows the QP mutably until it is posted or dropped, so there is
    /// at most one open batch per QP.
    pub fn send_batch<'a, const N: usize>(&mut self) -> SendBatch<'_, 'a, N> {
        SendBatch {
            qp: self,
            len: 0,
            wrs: [MaybeUninit::uninit(); N],
            sges: [MaybeUninit::uninit(); N],
            _inline: std::marker::PhantomData,
        }
    }

    /// Starts a chain of up to `N` receives posted with one `ibv_post_recv`.
    pub fn recv_batch<const N: usize>(&mut self) -> RecvBatch<'_, N> {
        RecvBatch {
            qp: self,
            len: 0,
            wrs: [MaybeUninit::uninit(); N],
            sges: [MaybeUninit::uninit(); N],
        }
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

/// A raw work request that can be chained (`ibv_send_wr`, `ibv_recv_wr`).
trait ChainWr {
    /// Points the request at the next one and at its SGE (when it has data).
    fn link(&mut self, next: *mut Self, sge: *mut sys::ibv_sge);
}

impl ChainWr for sys::ibv_send_wr {
    fn link(&mut self, next: *mut Self, sge: *mut sys::ibv_sge) {
        self.next = next;
        if self.num_sge > 0 {
            self.sg_list = sge;
        }
    }
}

impl ChainWr for sys::ibv_recv_wr {
    fn link(&mut self, next: *mut Self, sge: *mut sys::ibv_sge) {
        self.next = next;
        self.sg_list = sge;
    }
}

/// Links the first `n` requests of a batch into a chain, each with its own SGE, and returns
/// its head. Done at post time, when the batch can no longer move.
///
/// # Safety
/// Entries `0..n` of both arrays are initialized.
unsafe fn link_chain<W: ChainWr, const N: usize>(
    wrs: &mut [MaybeUninit<W>; N],
    sges: &mut [MaybeUninit<sys::ibv_sge>; N],
    n: usize,
) -> *mut W {
    let head = wrs.as_mut_ptr().cast::<W>();
    let sge = sges.as_mut_ptr().cast::<sys::ibv_sge>();
    for i in 0..n {
        let next = if i + 1 < n {
            // SAFETY: i + 1 < n <= N: inside the array.
            unsafe { head.add(i + 1) }
        } else {
            ptr::null_mut()
        };
        // SAFETY: i < n: an initialized entry of each array, per the caller.
        unsafe { (*head.add(i)).link(next, sge.add(i)) };
    }
    head
}

/// How many requests of a failed chain of `n` starting at `head` were posted: those before
/// the one the provider reported in `bad`.
fn posted_before<W>(bad: *mut W, head: *mut W, n: usize) -> usize {
    if bad.is_null() {
        return 0;
    }
    // Address arithmetic only: `bad` points into the chain (or is out of range, then clamped).
    let i = (bad as usize).wrapping_sub(head as usize) / std::mem::size_of::<W>();
    i.min(n)
}

fn range_error(offset: usize, len: usize, have: usize) -> Error {
    Error::InvalidArgument(format!(
        "range {offset}..{} does not fit a {have}-byte buffer (or exceeds 4 GiB)",
        offset.saturating_add(len)
    ))
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
    pub fn push(&mut self, wr: SendWr<'a>) -> Result<(), PostError> {
        if self.len == N {
            let e = Error::InvalidArgument(format!("the batch holds at most {N} requests"));
            return Err(PostError::new(e, 0, give_back(wr.local)));
        }
        let mut raw = sys::ibv_send_wr::default();
        let mut sge = sys::ibv_sge::default();
        self.qp.stage_send(self.len, wr, &mut raw, &mut sge)?;
        self.wrs[self.len].write(raw);
        self.sges[self.len].write(sge);
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
    pub fn post(mut self) -> Result<(), PostError> {
        let n = std::mem::replace(&mut self.len, 0);
        if n == 0 {
            return Ok(());
        }
        // SAFETY: entries 0..n were initialized by push and do not move during the call.
        let wrs = unsafe { link_chain(&mut self.wrs, &mut self.sges, n) };
        let mut bad: *mut sys::ibv_send_wr = ptr::null_mut();
        // SAFETY: a well-formed chain of n requests whose memory is held by staged ring entries
        // (or pinned, or inline and alive for 'a).
        let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), wrs, &mut bad) };
        if ret == 0 {
            self.qp.sq.commit(n);
            return Ok(());
        }
        let posted = posted_before(bad, wrs, n);
        self.qp.sq.commit(posted);
        let returned = self.qp.unstage_sends(0, n - posted);
        Err(PostError::new(
            Error::from_ret("ibv_post_send", ret),
            posted,
            returned,
        ))
    }
}

impl<const N: usize> Drop for SendBatch<'_, '_, N> {
    fn drop(&mut self) {
        // A batch dropped without post: its staged entries were never given to the device.
        let n = std::mem::replace(&mut self.len, 0);
        drop(self.qp.unstage_sends(0, n));
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
    /// Adds a receive into `buf`.
    pub fn push(&mut self, buf: MemoryRegion, wr_id: u64) -> Result<(), PostError> {
        if let Err(e) = self.qp.check_recv_state() {
            return Err(PostError::new(e, 0, vec![buf]));
        }
        if self.len == N || !self.qp.rq.has_room(self.len, 1) {
            let e = if self.len == N {
                Error::InvalidArgument(format!("the batch holds at most {N} requests"))
            } else {
                Error::QueueFull {
                    queue: "receive queue",
                    qpn: self.qp.qpn,
                    depth: self.qp.rq.cap(),
                }
            };
            return Err(PostError::new(e, 0, vec![buf]));
        }
        let Some(sge) = buf.sge(0, buf.len()) else {
            let e = range_error(0, buf.len(), buf.len());
            return Err(PostError::new(e, 0, vec![buf]));
        };
        let nonce = self.qp.rq.stage(
            self.len,
            Entry {
                user_wr_id: wr_id,
                held: Held::Owned(buf),
            },
        );
        self.sges[self.len].write(sge);
        self.wrs[self.len].write(sys::ibv_recv_wr {
            wr_id: nonce | RECV_BIT,
            next: ptr::null_mut(),
            sg_list: ptr::null_mut(),
            num_sge: 1,
        });
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
    pub fn post(mut self) -> Result<(), PostError> {
        let n = std::mem::replace(&mut self.len, 0);
        if n == 0 {
            return Ok(());
        }
        // SAFETY: entries 0..n were initialized by push and do not move during the call.
        let wrs = unsafe { link_chain(&mut self.wrs, &mut self.sges, n) };
        let mut bad: *mut sys::ibv_recv_wr = ptr::null_mut();
        // SAFETY: a well-formed chain whose buffers are owned by staged ring entries.
        let ret = unsafe { sys::ibv_post_recv(self.qp.as_raw(), wrs, &mut bad) };
        if ret == 0 {
            self.qp.rq.commit(n);
            return Ok(());
        }
        let posted = posted_before(bad, wrs, n);
        self.qp.rq.commit(posted);
        let returned = unstage_recvs(self.qp, n - posted);
        Err(PostError::new(
            Error::from_ret("ibv_post_recv", ret),
            posted,
            returned,
        ))
    }
}

fn unstage_recvs(qp: &mut QueuePair, n: usize) -> Vec<MemoryRegion> {
    (0..n)
        .filter_map(|off| match qp.rq.unstage(off).held {
            Held::Owned(mr) => Some(mr),
            _ => None,
        })
        .collect()
}

impl<const N: usize> Drop for RecvBatch<'_, N> {
    fn drop(&mut self) {
        let n = std::mem::replace(&mut self.len, 0);
        drop(unstage_recvs(self.qp, n));
    }
}

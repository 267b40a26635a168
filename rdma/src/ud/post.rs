//! Posting to a UD QP and completing its work: sends addressed to a [`Peer`], receives with a
//! header slot of the QP's own before the caller's buffer.

use super::completion::{Sender, UdCompletion};
use super::peer::Peer;
use super::{UdQueuePair, GRH_LEN};
use crate::completion::WorkCompletion;
use crate::error::{Error, Result};
use crate::qp::{not_posted, refused, Local, PostError, RecvWr, SendWr, RECV_BIT};
use crate::sys;
use crate::sys::ibv_wr_opcode as op;
use std::mem::MaybeUninit;
use std::ptr;

/// The sequence number of the last send posted on `qp`.
fn seq_of_last(qp: &crate::QueuePair) -> u64 {
    qp.sq.seq_at(0) - 1
}

/// Why a UD send was refused before the core's checks.
#[derive(Clone, Copy)]
enum UdFault {
    /// Not a SEND: the opcode.
    NotSend(u32),
    NoPeer(Peer),
    TooLong(usize),
}

impl UdQueuePair {
    /// Posts a SEND (with immediate data or not) of `wr` to `to` (`ibv_post_send` with the
    /// peer's address handle, QP number and Q_Key). The message must fit the path MTU
    /// ([`max_message`](Self::max_message)): a longer one is
    /// [`Error::MessageTooLong`], before it reaches the device. RDMA WRITE, READ and atomics
    /// are refused: UD has SEND only. Otherwise as [`QueuePair::post_send`](crate::QueuePair::post_send):
    /// an owned buffer is the QP's until [`complete`](Self::complete) hands it back. No
    /// allocation, no lock of ours.
    #[inline]
    pub fn post_send(&mut self, to: Peer, wr: SendWr<'_>) -> Result<(), PostError> {
        let opcode = wr.opcode;
        if opcode != op::IBV_WR_SEND {
            return Err(self.refuse(wr, UdFault::NotSend(opcode)));
        }
        let Some(peer) = self.peer_slot(to) else {
            return Err(self.refuse(wr, UdFault::NoPeer(to)));
        };
        let ud = sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_3 {
            ah: peer.ah.as_ref().map_or(ptr::null_mut(), |a| a.as_raw()),
            remote_qpn: peer.qpn,
            remote_qkey: peer.qkey,
        };
        if !wr.more.is_empty() {
            self.qp.post_send_gather(wr, Some((ud, self.max_msg)))?;
            self.peers[to.index as usize].last_send = seq_of_last(&self.qp);
            return Ok(());
        }
        let len = self.send_len(&wr);
        if len > self.max_msg as usize {
            return Err(self.refuse(wr, UdFault::TooLong(len)));
        }
        let seq = self.qp.sq.seq_at(0);
        let mut raw = sys::ibv_send_wr::default();
        let mut sge = MaybeUninit::uninit();
        self.qp.stage_send(0, wr, &mut raw, &mut sge)?;
        raw.sg_list = sge.as_mut_ptr();
        raw.wr.ud = ud;
        let mut bad = ptr::null_mut();
        // The peer table holds the request's address handle until the send queue's tail
        // passes `seq`.
        // SAFETY: the QP is live; `raw`'s SGE is memory owned by the entry just staged, shared
        // with this QP, or inline (copied now); its address handle is held as said above.
        let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), &mut raw, &mut bad) };
        if ret != 0 {
            return Err(not_posted(&mut self.qp.sq, "ibv_post_send", ret, 0, 1));
        }
        self.qp.sq.commit(1);
        self.peers[to.index as usize].last_send = seq;
        Ok(())
    }

    /// Posts a receive (`ibv_post_recv`): the datagram's payload lands in the buffer from its
    /// first byte, its header in a slot of the QP's own (see the [module](super)
    /// documentation). As [`QueuePair::post_recv`](crate::QueuePair::post_recv) otherwise.
    #[inline]
    pub fn post_recv(&mut self, wr: RecvWr<'_>) -> Result<(), PostError> {
        let grh = self.grh_sge(self.qp.rq.seq_at(0));
        if wr.scatters() {
            return self.qp.post_recv_scatter(wr, Some(grh));
        }
        let mut raw = MaybeUninit::uninit();
        let mut sge = MaybeUninit::uninit();
        let raw = self.qp.stage_recv(0, wr, &mut raw, &mut sge)?;
        let mut list = [grh, sys::ibv_sge::default()];
        if raw.num_sge == 1 {
            // SAFETY: stage_recv wrote the request's SGE when it gave it one.
            list[1] = unsafe { sge.assume_init() };
        }
        raw.sg_list = list.as_mut_ptr();
        raw.num_sge += 1;
        let mut bad = ptr::null_mut();
        // The first SGE is this receive's header slot: registered, the QP's for its whole life,
        // read only once the receive completed.
        // SAFETY: the QP is live; the SGEs are the header slot (above) and, if any, memory
        // owned by the ring entry just staged or a sink held by this QP.
        let ret = unsafe { sys::ibv_post_recv(self.qp.as_raw(), raw, &mut bad) };
        if ret != 0 {
            return Err(not_posted(&mut self.qp.rq, "ibv_post_recv", ret, 0, 1));
        }
        self.qp.rq.commit(1);
        Ok(())
    }

    /// Hands a completion polled from one of this QP's CQs back to the QP, which returns the
    /// buffer the work request owned and, for a received datagram, its [`Sender`]
    /// (`byte_len` then counts the payload only). As
    /// [`QueuePair::complete`](crate::QueuePair::complete) otherwise.
    #[inline]
    pub fn complete(&mut self, wc: &WorkCompletion) -> Result<UdCompletion> {
        let (mut c, seq) = self.qp.complete_seq(wc)?;
        if wc.raw_wr_id() & RECV_BIT == 0 || !c.is_ok() {
            return Ok(UdCompletion::plain(c));
        }
        let mut header = [0u8; GRH_LEN];
        let offset = self.qp.rq.slot_index(seq) * GRH_LEN;
        // The receive is done and its slot not posted again (that needs `&mut self`).
        let read = self
            .qp
            .lifelong
            .as_ref()
            .is_some_and(|grh| grh.read_at(offset, &mut header));
        debug_assert!(read, "every receive slot has a header slot");
        c.byte_len = c.byte_len.saturating_sub(GRH_LEN as u32);
        Ok(UdCompletion::with(
            c,
            Some(Sender::new(wc.as_raw(), &header)),
        ))
    }

    /// The length of the message `wr` sends (its range of the local buffer, as the core's
    /// check computes it; 0 when that check will refuse it anyway).
    fn send_len(&self, wr: &SendWr<'_>) -> usize {
        let have = match &wr.local {
            Local::Owned(mr) => mr.len(),
            Local::Shared(p) => self.qp.shared(*p).map_or(0, |mr| mr.len()),
            Local::Inline(data) => return data.len(),
            Local::Sink(_) | Local::Empty => 0,
        };
        wr.len.unwrap_or(have.saturating_sub(wr.offset))
    }

    #[cold]
    #[inline(never)]
    fn refuse(&self, wr: SendWr<'_>, f: UdFault) -> PostError {
        let qpn = self.qp.qpn();
        refused(wr.into_owned(), || match f {
            UdFault::NotSend(opcode) => Error::InvalidArgument(format!(
                "QP {qpn:#x} is UD, which cannot post {}: UD has SEND (with immediate) only \
                 (RC has all)",
                match opcode {
                    op::IBV_WR_RDMA_READ => "an RDMA READ",
                    op::IBV_WR_RDMA_WRITE | op::IBV_WR_RDMA_WRITE_WITH_IMM => "an RDMA WRITE",
                    _ => "an atomic",
                }
            )),
            UdFault::NoPeer(p) => Error::InvalidArgument(format!(
                "no peer {} on UD QP {qpn:#x} (UdQueuePair::add_peer makes one)",
                p.index
            )),
            UdFault::TooLong(len) => Error::MessageTooLong {
                len,
                max: self.max_msg,
                qpn,
            },
        })
    }
}
